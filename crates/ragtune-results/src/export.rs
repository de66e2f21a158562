//! `ragtune export index`: a setup's chunks (and vectors) as Parquet that vector databases
//! load. The vector column is a fixed-size list of float32, and the Arrow schema is kept
//! in the file so that Arrow readers (pyarrow, LanceDB) see it as one.

use std::path::Path;

use polars::prelude::PolarsResult;
use polars_arrow::array::{Array, FixedSizeListArray, PrimitiveArray, Utf8Array};
use polars_arrow::datatypes::{ArrowDataType, ArrowSchema, Field};
use polars_arrow::record_batch::RecordBatchT;

use crate::{Result, ResultsError};

/// One chunk of the exported index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRow {
    /// The chunk's index in the setup's chunk set (the id ragtune's rankings name).
    pub id: u32,
    /// Its document.
    pub doc_id: String,
    /// First byte in the document.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// First page (PDF).
    pub first_page: Option<u32>,
    /// Last page (PDF).
    pub last_page: Option<u32>,
    /// The chunk's text.
    pub text: String,
    /// The text as BM25 indexed it and the model embedded it: the chunk's header (a title
    /// or heading path), a newline, then its text; `text` when it has no header.
    pub indexed_text: String,
}

/// A chunk column (`id`, `doc_id`, …) of `rows`.
fn columns(rows: &[IndexRow]) -> Vec<(&'static str, Box<dyn Array>)> {
    let u64s = |f: fn(&IndexRow) -> u64| PrimitiveArray::from_vec(rows.iter().map(f).collect());
    let pages = |f: fn(&IndexRow) -> Option<u32>| {
        PrimitiveArray::from(rows.iter().map(f).collect::<Vec<_>>())
    };
    vec![
        (
            "id",
            PrimitiveArray::from_vec(rows.iter().map(|r| r.id).collect()).boxed(),
        ),
        (
            "doc_id",
            Utf8Array::<i64>::from_iter_values(rows.iter().map(|r| &r.doc_id)).boxed(),
        ),
        ("start", u64s(|r| r.start).boxed()),
        ("end", u64s(|r| r.end).boxed()),
        ("first_page", pages(|r| r.first_page).boxed()),
        ("last_page", pages(|r| r.last_page).boxed()),
        (
            "text",
            Utf8Array::<i64>::from_iter_values(rows.iter().map(|r| &r.text)).boxed(),
        ),
        (
            "indexed_text",
            Utf8Array::<i64>::from_iter_values(rows.iter().map(|r| &r.indexed_text)).boxed(),
        ),
    ]
}

/// Column `vector`: `n` rows of `dim` float32 values from row-major `flat`.
fn vector_column(flat: &[f32], dim: usize, n: usize) -> PolarsResult<Box<dyn Array>> {
    let item = Field::new("item".into(), ArrowDataType::Float32, false);
    let dtype = ArrowDataType::FixedSizeList(Box::new(item), dim);
    let values = PrimitiveArray::from_vec(flat.to_vec()).boxed();
    Ok(FixedSizeListArray::try_new(dtype, n, values, None)?.boxed())
}

/// `cols` as the bytes of a Parquet file of `n` rows in one row group, with the Arrow
/// schema kept in the file: it is what says `vector` is fixed-size.
fn parquet(cols: Vec<(&'static str, Box<dyn Array>)>, n: usize) -> PolarsResult<Vec<u8>> {
    let schema: ArrowSchema = cols
        .iter()
        .map(|(name, a)| Field::new((*name).into(), a.dtype().clone(), a.null_count() > 0))
        .collect();
    let arrays: Vec<Box<dyn Array>> = cols.into_iter().map(|(_, a)| a).collect();
    let batch = RecordBatchT::try_new(n, std::sync::Arc::new(schema.clone()), arrays)?;
    crate::parquet_file(schema, [batch], true)
}

fn write(path: &Path, bytes: PolarsResult<Vec<u8>>) -> Result<()> {
    let bytes = bytes.map_err(|e| ResultsError::Polars {
        path: path.display().to_string(),
        source: e,
    })?;
    ragtune_core::write_atomic(path, &bytes).map_err(|e| ResultsError::Io {
        path: path.display().to_string(),
        source: e,
    })
}

/// Write `rows` to `path` as Parquet, with `vectors` (row-major, `dim` wide) as column
/// `vector` when the setup has them.
pub fn write_index(rows: &[IndexRow], vectors: Option<(&[f32], usize)>, path: &Path) -> Result<()> {
    let bytes = (|| {
        let mut cols = columns(rows);
        if let Some((flat, dim)) = vectors {
            cols.push(("vector", vector_column(flat, dim, rows.len())?));
        }
        parquet(cols, rows.len())
    })();
    write(path, bytes)
}

/// Write the run's questions with their query vectors: `id`, `question`, `vector`.
pub fn write_queries(
    ids: &[String],
    texts: &[String],
    flat: &[f32],
    dim: usize,
    path: &Path,
) -> Result<()> {
    let bytes = (|| {
        let cols = vec![
            ("id", Utf8Array::<i64>::from_iter_values(ids.iter()).boxed()),
            (
                "question",
                Utf8Array::<i64>::from_iter_values(texts.iter()).boxed(),
            ),
            ("vector", vector_column(flat, dim, ids.len())?),
        ];
        parquet(cols, ids.len())
    })();
    write(path, bytes)
}
