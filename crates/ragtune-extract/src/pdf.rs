//! PDF through PDFium: each page's characters become positioned lines, which
//! [`crate::layout`] turns into paragraphs without page furniture.

use std::path::Path;
use std::sync::OnceLock;

use pdfium_render::prelude::*;
use ragtune_corpus::Extracted;

use crate::ExtractError;
use crate::layout::{Line, lay_out};

/// PDFium is bound once per process (its bindings are global), from the first library
/// path asked for.
static PDFIUM: OnceLock<Result<Pdfium, String>> = OnceLock::new();

fn pdfium(lib: &Path) -> Result<&'static Pdfium, ExtractError> {
    PDFIUM
        .get_or_init(|| {
            Pdfium::bind_to_library(lib)
                .map(Pdfium::new)
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|why| ExtractError::NoPdfium {
            path: lib.to_path_buf(),
            why: why.clone(),
        })
}

fn load_error(e: PdfiumError) -> ExtractError {
    match e {
        PdfiumError::PdfiumLibraryInternalError(
            PdfiumInternalError::PasswordError | PdfiumInternalError::SecurityError,
        ) => ExtractError::Encrypted,
        PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::FormatError) => {
            ExtractError::Damaged("not a PDF, or a damaged one".into())
        }
        other => ExtractError::Damaged(other.to_string()),
    }
}

/// The text of a PDF held in `bytes`, read with the libpdfium at `lib`.
pub(crate) fn extract(lib: &Path, bytes: &[u8]) -> Result<Extracted, ExtractError> {
    if bytes.is_empty() {
        return Err(ExtractError::Empty);
    }
    let pdfium = pdfium(lib)?;
    let doc = pdfium
        .load_pdf_from_byte_slice(bytes, None)
        .map_err(load_error)?;
    let mut pages = Vec::new();
    for page in doc.pages().iter() {
        let text = page
            .text()
            .map_err(|e| ExtractError::Damaged(e.to_string()))?;
        pages.push(page_lines(&text));
    }
    if pages.is_empty() {
        return Err(ExtractError::Empty);
    }
    if pages.iter().flatten().all(|l| l.text.trim().is_empty()) {
        return Err(ExtractError::NoTextLayer);
    }
    let laid = lay_out(pages);
    if laid.text.trim().is_empty() {
        return Err(ExtractError::NoTextLayer);
    }
    Ok(Extracted {
        text: laid.text,
        pages: laid.pages,
    })
}

/// A page's lines in PDFium's order: its characters, broken where PDFium marks a line
/// end (a generated line break, or its line-end hyphen mark U+0002 or U+FFFE, which
/// becomes a hyphen); each line placed by its first visible character's loose bounds.
fn page_lines(text: &PdfPageText) -> Vec<Line> {
    let chars = text.chars();
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut pos: Option<(f32, f32)> = None;
    let mut flush = |cur: &mut String, pos: &mut Option<(f32, f32)>| {
        if let Some((top, bottom)) = pos.take() {
            lines.push(Line {
                text: std::mem::take(cur),
                top,
                bottom,
            });
        }
        cur.clear();
    };
    for i in 0..chars.len() {
        let Ok(ch) = chars.get(i) else { continue };
        match ch.unicode_char().unwrap_or('\u{fffd}') {
            '\n' => flush(&mut cur, &mut pos),
            '\u{2}' | '\u{fffe}' => {
                cur.push('-');
                flush(&mut cur, &mut pos);
            }
            '\t' | '\r' => cur.push(' '),
            '\u{feff}' => {}
            c if c.is_control() => {}
            c => {
                if pos.is_none()
                    && !c.is_whitespace()
                    && let Ok(b) = ch.loose_bounds()
                {
                    pos = Some((b.top().value, b.bottom().value));
                }
                cur.push(c);
            }
        }
    }
    flush(&mut cur, &mut pos);
    lines
}
