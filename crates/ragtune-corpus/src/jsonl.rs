//! JSON Lines: one JSON value per non-blank line, each error naming its line.

use std::path::Path;

use serde::Deserialize;

use crate::error::{CorpusError, Result, json_line_error};

/// Parse each non-blank line of the JSONL file at `path`, keeping 1-based line numbers.
pub(crate) fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<(usize, T)>> {
    let text = std::fs::read_to_string(path).map_err(|e| CorpusError::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(line)
            .map_err(|e| CorpusError::parse(path, i + 1, json_line_error(&e)))?;
        out.push((i + 1, value));
    }
    Ok(out)
}
