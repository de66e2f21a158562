//! Tidy results tables written to Parquet with polars, and best-setup selection.
//!
//! - `results.parquet`: one row per grid point and `k` ([`ResultRow`]).
//! - `per_question.parquet`: one row per grid point, `k` and question ([`QuestionRow`]).
//!
//! Files are written to a temporary name and renamed into place, so a reader never sees
//! a half-written table.
#![deny(missing_docs)]

pub mod trec;

use std::path::Path;

use polars::prelude::*;
use ragtune_sweep::{BestSetup, PointRecord, QuestionRow, ResultRow};

/// Results failures.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// polars failed to build or write a table.
    #[error("{path}: {source}")]
    Polars {
        /// The file.
        path: String,
        /// Cause.
        source: PolarsError,
    },
    /// Filesystem trouble.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// Result alias.
pub type Result<T, E = ResultsError> = std::result::Result<T, E>;

fn col<T, P>(name: &str, values: T) -> Column
where
    Series: NamedFrom<T, P>,
    P: ?Sized,
{
    Column::new(name.into(), values)
}

/// The results table.
pub fn results_frame(rows: &[ResultRow]) -> PolarsResult<DataFrame> {
    macro_rules! c {
        ($name:ident) => {
            col(
                stringify!($name),
                rows.iter().map(|r| r.$name.clone()).collect::<Vec<_>>(),
            )
        };
    }
    DataFrame::new(
        rows.len(),
        vec![
            c!(config_id),
            c!(chunker),
            c!(chunk_size),
            c!(chunk_overlap),
            c!(retriever),
            c!(model),
            c!(index),
            c!(hnsw_ef_search),
            c!(fusion),
            c!(alpha),
            c!(rrf_k),
            c!(normalization),
            c!(top_k),
            c!(n_questions),
            c!(recall),
            c!(precision),
            c!(mrr),
            c!(ndcg),
            c!(hit_rate),
            c!(span_recall),
            c!(span_precision),
            c!(span_iou),
            c!(context_tokens),
            c!(hnsw_recall_vs_exact),
            c!(n_chunks),
            c!(mean_chunk_tokens),
            c!(index_seconds),
            c!(index_bytes),
            c!(query_ms_p50),
            c!(query_ms_p95),
        ],
    )
}

/// The per-question table.
pub fn questions_frame(rows: &[QuestionRow]) -> PolarsResult<DataFrame> {
    macro_rules! c {
        ($name:ident) => {
            col(
                stringify!($name),
                rows.iter().map(|r| r.$name.clone()).collect::<Vec<_>>(),
            )
        };
    }
    DataFrame::new(
        rows.len(),
        vec![
            c!(config_id),
            c!(top_k),
            c!(question_id),
            c!(recall),
            c!(precision),
            c!(mrr),
            c!(ndcg),
            c!(hit_rate),
            c!(span_recall),
            c!(span_precision),
            c!(span_iou),
            c!(context_tokens),
            c!(first_relevant_rank),
        ],
    )
}

/// Write `df` to `path` as Parquet, atomically.
pub fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let io = |e| ResultsError::Io {
        path: path.display().to_string(),
        source: e,
    };
    let file = std::fs::File::create(&tmp).map_err(io)?;
    let written = ParquetWriter::new(&file).finish(df);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(ResultsError::Polars {
            path: path.display().to_string(),
            source: e,
        });
    }
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Write both tables for `records` into `dir`.
pub fn write_tables(records: &[PointRecord], dir: &Path) -> Result<()> {
    let rows: Vec<ResultRow> = records
        .iter()
        .flat_map(|r| r.rows.iter().cloned())
        .collect();
    let questions: Vec<QuestionRow> = records
        .iter()
        .flat_map(|r| r.questions.iter().cloned())
        .collect();
    let polars = |file: &'static str| {
        move |e| ResultsError::Polars {
            path: dir.join(file).display().to_string(),
            source: e,
        }
    };
    let mut df = results_frame(&rows).map_err(polars("results.parquet"))?;
    write_parquet(&mut df, &dir.join("results.parquet"))?;
    let mut df = questions_frame(&questions).map_err(polars("per_question.parquet"))?;
    write_parquet(&mut df, &dir.join("per_question.parquet"))
}

/// The value of metric `name` in `row` (one of [`ragtune_sweep::METRICS`]).
pub fn metric(row: &ResultRow, name: &str) -> Option<f64> {
    match name {
        "recall" => row.recall,
        "precision" => row.precision,
        "mrr" => row.mrr,
        "ndcg" => row.ndcg,
        "hit_rate" => row.hit_rate,
        "span_recall" => row.span_recall,
        "span_precision" => row.span_precision,
        "span_iou" => row.span_iou,
        _ => None,
    }
}

/// Rows at the objective's `k` that satisfy the context limit, best first: higher
/// objective, then fewer context tokens, then config id (so the choice is deterministic).
pub fn ranked<'a>(
    records: &'a [PointRecord],
    objective: (&str, usize),
    max_context_tokens: Option<f64>,
) -> Vec<(&'a PointRecord, &'a ResultRow, f64)> {
    let (name, k) = objective;
    let mut out: Vec<(&PointRecord, &ResultRow, f64)> = records
        .iter()
        .filter_map(|rec| {
            let row = rec.rows.iter().find(|r| r.top_k as usize == k)?;
            let v = metric(row, name)?;
            let fits = max_context_tokens.is_none_or(|m| row.context_tokens <= m);
            fits.then_some((rec, row, v))
        })
        .collect();
    out.sort_by(|a, b| {
        b.2.total_cmp(&a.2)
            .then(a.1.context_tokens.total_cmp(&b.1.context_tokens))
            .then(a.0.config_id.cmp(&b.0.config_id))
    });
    out
}

/// The best setup under the objective, if any row qualifies.
pub fn select_best(
    records: &[PointRecord],
    objective: (&str, usize),
    max_context_tokens: Option<f64>,
) -> Option<BestSetup> {
    let (rec, row, value) = *ranked(records, objective, max_context_tokens).first()?;
    Some(BestSetup {
        config_id: rec.config_id.clone(),
        label: rec.label.clone(),
        objective: format!("{}@{}", objective.0, objective.1),
        value,
        context_tokens: row.context_tokens,
        max_context_tokens,
        point: rec.point.clone(),
    })
}
