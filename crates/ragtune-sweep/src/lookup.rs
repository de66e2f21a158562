//! Run-folder lookups shared by the sweep, serving and the CLI: which setup a config id
//! or best.toml names, and its stored point.

use std::path::Path;

use ragtune_core::Setup;
use ragtune_eval::{BestSetup, PointRecord};
use ragtune_grid::Grid;

use crate::error::{Result, SweepError};
use crate::record::{Recorded, RunDir};

pub(crate) fn run_err(path: &Path, message: impl Into<String>) -> SweepError {
    SweepError::Run {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The setup named by `config`: `None` → the run's best.toml; a file → a best.toml; else a
/// config id of the run.
pub fn resolve_point(run: &RunDir, config: Option<&str>) -> Result<Setup> {
    let from_best = |path: &Path| -> Result<Setup> {
        let text = std::fs::read_to_string(path).map_err(|e| SweepError::io(path, e))?;
        let best: BestSetup =
            toml::from_str(&text).map_err(|e| run_err(path, e.message().to_string()))?;
        // The id and the [point] table must name one setup: which one would be served
        // is otherwise a guess.
        let of_point = best.point.config_id();
        if best.config_id != of_point {
            return Err(run_err(
                path,
                format!(
                    "config_id = {:?} does not match its [point] table, which is setup {of_point} ({}); correct one of them",
                    best.config_id,
                    best.point.label()
                ),
            ));
        }
        Ok(best.point)
    };
    match config {
        None => {
            let p = run.path().join("best.toml");
            if !p.is_file() {
                return Err(run_err(
                    &p,
                    "missing: the sweep chose no best setup; pass --config CONFIG_ID",
                ));
            }
            from_best(&p)
        }
        Some(c) if Path::new(c).is_file() => from_best(Path::new(c)),
        Some(id) => Ok(read_point(run, &listed_id(run, id)?)?.point),
    }
}

/// The id setup `id` is listed under in the run: `id` itself, or, for a setup whose chunk
/// set came out identical to another setup's (the sweep scores those once, under the
/// first), that setup's id, with a warning. Unknown ids fail as [`read_point`] does.
pub fn listed_id(run: &RunDir, id: &str) -> Result<String> {
    if point_path(run, id).is_some() {
        return Ok(id.to_string());
    }
    let missing = unknown_id(run, id)?;
    let label = run
        .read_manifest()
        .ok()
        .and_then(|m| Grid::parse_recorded(&m.grid_path, m.grid_text).ok())
        .and_then(|g| g.points.into_iter().find(|p| p.config_id() == id))
        .map(|p| p.label());
    let Some(label) = label else {
        return Err(missing);
    };
    match run
        .read_points()?
        .into_iter()
        .find(|p| p.equivalent.contains(&label))
    {
        Some(twin) => {
            tracing::warn!(
                "{id} ({label}) made the same chunk set as {} ({}): using that setup, whose results are its results",
                twin.config_id,
                twin.label
            );
            Ok(twin.config_id)
        }
        None => Err(missing),
    }
}

/// `points/<id>.json`, when the run has it.
fn point_path(run: &RunDir, id: &str) -> Option<std::path::PathBuf> {
    let path = run.path().join("points").join(format!("{id}.json"));
    (path.is_file() && !id.contains('/')).then_some(path)
}

/// The error for an id the run has no point for, listing some valid ids.
fn unknown_id(run: &RunDir, id: &str) -> Result<SweepError> {
    let ids: Vec<String> = run.config_ids()?.into_iter().take(5).collect();
    Ok(run_err(
        run.path(),
        format!(
            "no setup with config id {id:?} in this run (some ids: {})",
            ids.join(", ")
        ),
    ))
}

/// Read `points/<id>.json`, listing some valid ids when it is missing.
pub fn read_point(run: &RunDir, id: &str) -> Result<PointRecord> {
    read_point_in(run, id, &run.recorded())
}

/// [`read_point`] against `recorded`, what the run recorded of its files, read once by a
/// caller that reads many points (the manifest is not parsed again for each).
pub(crate) fn read_point_in(run: &RunDir, id: &str, recorded: &Recorded) -> Result<PointRecord> {
    let Some(path) = point_path(run, id) else {
        return Err(unknown_id(run, id)?);
    };
    let bytes = run.read_checked(&path, recorded)?;
    serde_json::from_slice(&bytes).map_err(|e| run_err(&path, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_best_toml_whose_id_is_not_its_point_is_refused_naming_both() {
        let d = tempfile::tempdir().unwrap();
        let run = RunDir::create(&d.path().join("run")).unwrap();
        let point = Setup {
            chunk: ragtune_core::ChunkSpec {
                kind: ragtune_core::ChunkerKind::Chars,
                size: 100,
                overlap: 0,
                header: None,
            },
            retriever: ragtune_core::Retriever::Bm25,
            rerank: None,
            expand: 0,
        };
        let best = |id: &str| {
            format!(
                "config_id = \"{id}\"\nlabel = \"x\"\nobjective = \"recall@1\"\nvalue = 1.0\ncontext_tokens = 1.0\n\n[point]\nretriever = \"bm25\"\n\n[point.chunk]\nkind = \"chars\"\nsize = 100\noverlap = 0\n"
            )
        };
        let path = run.path().join("best.toml");
        std::fs::write(&path, best(&point.config_id())).unwrap();
        assert_eq!(resolve_point(&run, None).unwrap(), point);
        std::fs::write(&path, best("0123456789ab")).unwrap();
        let msg = resolve_point(&run, None).unwrap_err().to_string();
        assert!(
            msg.contains("0123456789ab") && msg.contains(&point.config_id()),
            "{msg}"
        );
    }
}
