//! Tidy results tables written to Parquet with polars, and best-setup selection.
//!
//! - `results.parquet`: one row per grid point and `k` ([`ResultRow`]).
//! - `per_question.parquet`: one row per grid point, `k` and question ([`QuestionRow`]).
//!
//! Files are written to a temporary name and renamed into place, so a reader never sees
//! a half-written table.
#![deny(missing_docs)]

pub mod export;
mod intervals;
mod report;
pub mod trec;

use std::path::Path;

pub use intervals::{RowStats, Stats, TableContext, row_stats, row_stats_cached, stats_of};
use polars::prelude::*;
use ragtune_core::FlatSetup;
use ragtune_eval::{
    BestSetup, Costs, Limit, Limits, Metric, MetricValues, Objective, PointRecord, QuestionRow,
    ResultRow, Split, select_order,
};
pub use ragtune_eval::{StatsCache, StatsCounts};
pub use report::{ACCENTS, Missed, ReportInput, StepBar, render as render_report};

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

/// The setup columns of a results row, from the flat form of its setup.
fn setup_columns(records: &[(&PointRecord, &ResultRow)]) -> Vec<Column> {
    let flat: Vec<FlatSetup> = records
        .iter()
        .map(|(p, _)| FlatSetup::from(p.point.clone()))
        .collect();
    macro_rules! c {
        ($name:literal, $f:expr) => {
            col($name, flat.iter().map($f).collect::<Vec<_>>())
        };
    }
    vec![
        c!("chunker", |f| f.chunk.kind.name().to_string()),
        c!("chunk_size", |f| f
            .chunk
            .kind
            .is_sized()
            .then_some(f.chunk.size as u32)),
        c!("chunk_overlap", |f| f
            .chunk
            .kind
            .is_sized()
            .then_some(f.chunk.overlap as u32)),
        c!("chunk_header", |f| Some(
            f.chunk.header().name().to_string()
        )),
        c!("retriever", |f| f.retriever.clone()),
        c!("model", |f| f.model.clone()),
        c!("embedding", |f| f.model.as_ref().map(|_| f
            .embedding
            .clone()
            .unwrap_or_else(|| "standalone".into()))),
        c!("index", |f| f.index.clone()),
        c!("hnsw_ef_search", |f| f.hnsw_ef_search.map(|e| e as u32)),
        c!("vectors", |f| f
            .model
            .as_ref()
            .map(|_| f.vectors.clone().unwrap_or_else(|| "f32".into()))),
        c!("rescore", |f| f
            .model
            .as_ref()
            .map(|_| f.rescore.unwrap_or(0) as u32)),
        c!("fusion", |f| f.fusion.clone()),
        c!("alpha", |f| f.alpha),
        c!("rrf_k", |f| f.rrf_k),
        c!("normalization", |f| f
            .normalization
            .map(|n| n.name().to_string())),
        c!("rerank", |f| Some(
            f.rerank.clone().unwrap_or_else(|| "none".into())
        )),
        c!("rerank_depth", |f| f.rerank_depth.map(|d| d as u32)),
        c!("expand", |f| Some(f.expand.unwrap_or(0) as u32)),
    ]
}

/// One column per [`Metric`], in schema order.
fn metric_columns<'a>(values: impl Iterator<Item = &'a MetricValues> + Clone) -> Vec<Column> {
    Metric::ALL
        .iter()
        .map(|&m| {
            col(
                m.name(),
                values.clone().map(|v| v.get(m)).collect::<Vec<_>>(),
            )
        })
        .collect()
}

/// The interval columns ([`intervals`]) of `rows`, from `stats`; null where a row has none.
fn interval_columns(rows: &[(&PointRecord, &ResultRow)], stats: &Stats) -> Vec<Column> {
    let of: Vec<Option<&RowStats>> = rows.iter().map(|(p, r)| stats_of(stats, p, r)).collect();
    let mut columns = Vec::new();
    for &m in Metric::ALL {
        let ci = |f: fn((f64, f64)) -> f64| {
            of.iter()
                .map(|s| s.and_then(|s| s.interval(m)).map(f))
                .collect::<Vec<_>>()
        };
        columns.push(col(&format!("{}_ci_low", m.name()), ci(|c| c.0)));
        columns.push(col(&format!("{}_ci_high", m.name()), ci(|c| c.1)));
    }
    let diff = |f: fn(&ragtune_eval::PairedDiff) -> f64| {
        of.iter()
            .map(|s| s.and_then(|s| s.vs_best.as_ref()).map(f))
            .collect::<Vec<_>>()
    };
    columns.push(col("vs_best", diff(|d| d.mean)));
    columns.push(col("vs_best_low", diff(|d| d.low)));
    columns.push(col("vs_best_high", diff(|d| d.high)));
    let near: Vec<Option<bool>> = of.iter().map(|s| s.and_then(RowStats::near_best)).collect();
    columns.push(col("near_best", near));
    columns
}

/// The results table: one row per setup and k, with the interval columns from `stats`.
pub fn results_frame(records: &[PointRecord], stats: &Stats) -> PolarsResult<DataFrame> {
    let rows: Vec<(&PointRecord, &ResultRow)> = records
        .iter()
        .flat_map(|p| p.rows.iter().map(move |r| (p, r)))
        .collect();
    macro_rules! c {
        ($name:ident) => {
            col(
                stringify!($name),
                rows.iter()
                    .map(|(_, r)| r.$name.clone())
                    .collect::<Vec<_>>(),
            )
        };
    }
    let mut columns = vec![c!(config_id)];
    columns.extend(setup_columns(&rows));
    let same: Vec<Option<String>> = rows
        .iter()
        .map(|(p, _)| (!p.equivalent.is_empty()).then(|| p.equivalent.join("; ")))
        .collect();
    columns.push(col("equivalent", same));
    // Where a search scored the setup: its last rung (halving) or its stage (staged),
    // and whether that was on a screen rather than on all the data.
    let step = |f: fn(&ragtune_eval::SearchStep) -> Option<u32>| {
        rows.iter()
            .map(|(p, _)| p.search.as_ref().and_then(f))
            .collect::<Vec<Option<u32>>>()
    };
    columns.push(col("rung", step(|s| s.rung)));
    columns.push(col("stage", step(|s| s.stage)));
    let screened: Vec<bool> = rows.iter().map(|(p, _)| !p.on_all_data()).collect();
    columns.push(col("screened", screened));
    let split: Vec<&str> = rows.iter().map(|(_, r)| r.split.name()).collect();
    columns.extend([c!(top_k), col("split", split), c!(n_questions)]);
    columns.extend(metric_columns(rows.iter().map(|(_, r)| &r.metrics)));
    columns.extend(interval_columns(&rows, stats));
    columns.extend([
        c!(context_tokens),
        c!(hnsw_recall_vs_exact),
        c!(n_chunks),
        c!(mean_chunk_tokens),
        c!(overlap_chars_mean),
        c!(overlap_tokens_mean),
        c!(overlap_share),
    ]);
    columns.extend(cost_columns(&rows));
    DataFrame::new(rows.len(), columns)
}

/// The cost columns (docs/grid.md, "Cost columns").
fn cost_columns(rows: &[(&PointRecord, &ResultRow)]) -> Vec<Column> {
    let of = |f: fn(&Costs) -> f64| rows.iter().map(|(_, r)| f(&r.costs)).collect::<Vec<_>>();
    let bytes = |f: fn(&Costs) -> u64| rows.iter().map(|(_, r)| f(&r.costs)).collect::<Vec<_>>();
    vec![
        col("index_seconds", of(|c| c.index_seconds)),
        col("index_bytes", bytes(|c| c.index_bytes)),
        col("vector_bytes", bytes(|c| c.vector_bytes)),
        col("graph_bytes", bytes(|c| c.graph_bytes)),
        col("disk_bytes", bytes(|c| c.disk_bytes)),
        col("query_ms_p50", of(|c| c.query_ms_p50)),
        col("query_ms_p95", of(|c| c.query_ms_p95)),
        col("query_ms_p99", of(|c| c.query_ms_p99)),
        col(
            "rerank_ms_p50",
            rows.iter()
                .map(|(_, r)| r.costs.rerank_ms_p50)
                .collect::<Vec<_>>(),
        ),
    ]
}

/// The per-question table: one row per setup, k and question.
pub fn questions_frame(rows: &[&QuestionRow]) -> PolarsResult<DataFrame> {
    macro_rules! c {
        ($name:ident) => {
            col(
                stringify!($name),
                rows.iter().map(|r| r.$name.clone()).collect::<Vec<_>>(),
            )
        };
    }
    let mut columns = vec![c!(config_id), c!(top_k), c!(question_id)];
    columns.extend(metric_columns(rows.iter().map(|r| &r.metrics)));
    columns.extend([c!(context_tokens), c!(first_relevant_rank)]);
    DataFrame::new(rows.len(), columns)
}

/// `df` as Parquet with the oldest Arrow types and no embedded Arrow schema, so that strings
/// are plain UTF-8 (not string_view) and older Arrow, Spark, Trino, pandas and DuckDB readers
/// open it; zstd pages, one row group per chunk of the frame.
fn parquet_bytes(df: &mut DataFrame) -> PolarsResult<Vec<u8>> {
    df.rechunk_mut();
    let compat = CompatLevel::oldest();
    let schema = df.schema().to_arrow(compat);
    // No embedded Arrow schema: it would name polars' large_utf8, and readers then take the
    // Parquet types (UTF8 strings, plain integers and floats) as every Parquet reader does.
    parquet_file(schema, df.iter_chunks(compat, false), false)
}

/// A Parquet file of `batches` under `schema`: version 1 pages, zstd, one row group per
/// batch. `keep_arrow_schema` embeds the Arrow schema, for types Parquet alone does not
/// say (a fixed-size list).
pub(crate) fn parquet_file(
    schema: polars_arrow::datatypes::ArrowSchema,
    batches: impl IntoIterator<
        Item = polars_arrow::record_batch::RecordBatchT<Box<dyn polars_arrow::array::Array>>,
    >,
    keep_arrow_schema: bool,
) -> PolarsResult<Vec<u8>> {
    use polars::io::parquet::write::get_encodings;
    use polars_parquet::write::{
        CompressionOptions, FileWriter, StatisticsOptions, Version, WriteOptions, row_group_iter,
        to_parquet_schema,
    };
    let options = WriteOptions {
        statistics: StatisticsOptions::default(),
        version: Version::V1,
        compression: CompressionOptions::Zstd(None),
        data_page_size: None,
    };
    let encodings = get_encodings(&schema);
    let fields = to_parquet_schema(&schema)?.fields().to_vec();
    let mut bytes = Vec::new();
    let mut writer = FileWriter::try_new(&mut bytes, schema, options)?;
    for batch in batches {
        let rows = batch.len() as u64;
        writer.write(
            rows,
            row_group_iter(batch, encodings.clone(), fields.clone(), options),
        )?;
    }
    // `None` writes the Arrow schema; an empty list writes none.
    writer.end((!keep_arrow_schema).then(Vec::new))?;
    Ok(bytes)
}

/// Write `df` to `path` as Parquet, atomically ([`ragtune_core::write_atomic`]).
pub fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<()> {
    let bytes = parquet_bytes(df).map_err(|e| ResultsError::Polars {
        path: path.display().to_string(),
        source: e,
    })?;
    ragtune_core::write_atomic(path, &bytes).map_err(|e| ResultsError::Io {
        path: path.display().to_string(),
        source: e,
    })
}

/// Write both tables for `records` into `dir`; `stats` ([`row_stats`]) fills the
/// interval columns.
pub fn write_tables(records: &[PointRecord], stats: &Stats, dir: &Path) -> Result<()> {
    let questions: Vec<&QuestionRow> = records.iter().flat_map(|r| r.questions.iter()).collect();
    let polars = |file: &'static str| {
        move |e| ResultsError::Polars {
            path: dir.join(file).display().to_string(),
            source: e,
        }
    };
    let mut df = results_frame(records, stats).map_err(polars("results.parquet"))?;
    write_parquet(&mut df, &dir.join("results.parquet"))?;
    let mut df = questions_frame(&questions).map_err(polars("per_question.parquet"))?;
    write_parquet(&mut df, &dir.join("per_question.parquet"))
}

/// Rows at the objective's `k` within every `[select]` limit, best first, in the one
/// `[select]` order ([`ragtune_eval::select_order`]: higher objective, then fewer context
/// tokens, then config id).
pub fn ranked<'r>(
    records: &'r [PointRecord],
    objective: Objective,
    limits: &Limits,
) -> Vec<(&'r PointRecord, &'r ResultRow, f64)> {
    select_order(records, objective, limits)
        .into_iter()
        .filter(|j| j.fits)
        .filter_map(|j| Some((j.record, j.row?, j.value?)))
        .collect()
}

/// Per set limit, how many setups exceed it at the objective's k (a setup over two limits
/// counts under both), in [`Limit::ALL`] order.
pub fn excluded_by(
    records: &[PointRecord],
    objective: Objective,
    limits: &Limits,
) -> Vec<(Limit, usize)> {
    Limit::ALL
        .into_iter()
        .filter(|&l| limits.is_set(l))
        .map(|l| {
            let n = records
                .iter()
                .filter_map(|r| ragtune_eval::judged_row(r, objective.k))
                .filter(|row| limits.exceeds(row, l))
                .count();
            (l, n)
        })
        .collect()
}

/// `rec`'s objective on the held-out questions, when questions were held out.
pub fn held_out(rec: &PointRecord, objective: Objective) -> Option<f64> {
    rec.rows
        .iter()
        .find(|r| r.top_k as usize == objective.k && r.split == Split::Test)?
        .metrics
        .get(objective.metric)
}

/// The best setup under the objective, if any row qualifies.
pub fn select_best(
    records: &[PointRecord],
    objective: Objective,
    limits: &Limits,
) -> Option<BestSetup> {
    let (rec, row, value) = *ranked(records, objective, limits).first()?;
    Some(BestSetup {
        search: None,
        config_id: rec.config_id.clone(),
        label: rec.label.clone(),
        objective: objective.to_string(),
        value,
        held_out: held_out(rec, objective),
        context_tokens: row.context_tokens,
        max_context_tokens: limits.max_context_tokens,
        max_p99_ms: limits.max_p99_ms,
        max_index_bytes: limits.max_index_bytes,
        point: rec.point.clone(),
    })
}

#[cfg(test)]
mod tests {
    use ragtune_core::{ChunkSpec, ChunkerKind, Retriever, Setup};
    use ragtune_eval::Costs;

    use super::*;

    fn record(size: usize, recall_at_3: f64, ctx: f64) -> PointRecord {
        let point = Setup {
            chunk: ChunkSpec {
                kind: ChunkerKind::Chars,
                size,
                overlap: 0,
                header: None,
            },
            retriever: Retriever::Bm25,
            rerank: None,
            expand: 0,
        };
        let config_id = point.config_id();
        let rows = [1u32, 3]
            .iter()
            .map(|&k| {
                let mut metrics = MetricValues::default();
                metrics.set(Metric::Recall, Some(if k == 3 { recall_at_3 } else { 0.1 }));
                ResultRow {
                    config_id: config_id.clone(),
                    top_k: k,
                    split: Split::All,
                    n_questions: 1,
                    metrics,
                    context_tokens: ctx * k as f64,
                    hnsw_recall_vs_exact: None,
                    n_chunks: 1,
                    mean_chunk_tokens: ctx,
                    overlap_chars_mean: None,
                    overlap_tokens_mean: None,
                    overlap_share: None,
                    costs: Costs::default(),
                }
            })
            .collect();
        PointRecord {
            equivalent: vec![],
            label: point.label(),
            config_id,
            point,
            rows,
            questions: vec![],
            search: None,
        }
    }

    #[test]
    fn best_is_highest_then_cheapest_within_the_context_limit() {
        let records = [
            record(100, 0.8, 10.0),
            record(200, 0.9, 50.0),
            record(300, 0.9, 40.0),
        ];
        let o: Objective = "recall@3".parse().unwrap();
        // A tie at 0.9 goes to the setup with fewer context tokens.
        let best = select_best(&records, o, &Limits::NONE).unwrap();
        assert_eq!((best.point.chunk.size, best.value), (300, 0.9));
        assert_eq!(best.objective, "recall@3");
        // At most 100 tokens at k = 3 rules out both 0.9 setups (150 and 120 tokens).
        let best = select_best(&records, o, &ctx_limit(100.0)).unwrap();
        assert_eq!(best.point.chunk.size, 100);
        assert!(select_best(&records, o, &ctx_limit(1.0)).is_none());
        let order: Vec<usize> = ranked(&records, o, &Limits::NONE)
            .iter()
            .map(|(r, _, _)| r.point.chunk.size)
            .collect();
        assert_eq!(order, vec![300, 200, 100]);
    }

    fn ctx_limit(m: f64) -> Limits {
        Limits {
            max_context_tokens: Some(m),
            ..Limits::NONE
        }
    }

    fn with_costs(mut r: PointRecord, p99: f64, bytes: u64) -> PointRecord {
        for row in &mut r.rows {
            row.costs.query_ms_p99 = p99;
            row.costs.index_bytes = bytes;
        }
        r
    }

    #[test]
    fn latency_and_memory_limits_exclude_setups_and_are_counted() {
        let records = [
            with_costs(record(100, 0.9, 10.0), 30.0, 1_000),
            with_costs(record(200, 0.8, 10.0), 5.0, 9_000),
            with_costs(record(300, 0.7, 10.0), 5.0, 1_000),
        ];
        let o: Objective = "recall@3".parse().unwrap();
        let limits = Limits {
            max_p99_ms: Some(10.0),
            ..Limits::NONE
        };
        // The best is too slow: the next fits.
        let best = select_best(&records, o, &limits).unwrap();
        assert_eq!(best.point.chunk.size, 200);
        assert_eq!(best.max_p99_ms, Some(10.0));
        let both = Limits {
            max_index_bytes: Some(1_000),
            ..limits
        };
        // 1,000 bytes is within a limit of 1,000: only 9,000 is over it.
        assert_eq!(
            select_best(&records, o, &both).unwrap().point.chunk.size,
            300
        );
        assert_eq!(
            excluded_by(&records, o, &both),
            vec![(Limit::P99Ms, 1), (Limit::IndexBytes, 1)]
        );
        assert!(excluded_by(&records, o, &Limits::NONE).is_empty());
        let order: Vec<usize> = ranked(&records, o, &both)
            .iter()
            .map(|(r, _, _)| r.point.chunk.size)
            .collect();
        assert_eq!(order, vec![300]);
    }

    #[test]
    fn tables_have_one_column_per_metric() {
        let records = [record(100, 0.8, 10.0)];
        let df = results_frame(&records, &Stats::new()).unwrap();
        assert_eq!(df.height(), 2);
        for m in Metric::ALL {
            assert!(df.column(m.name()).is_ok(), "{}", m.name());
        }
        assert_eq!(
            df.column("chunker").unwrap().str().unwrap().get(0),
            Some("chars")
        );
    }
}
