//! Text out of PDF, HTML and Word files, for `dir` corpora.
//!
//! - **PDF** through PDFium (`pdfium-render`), bound at run time to the `libpdfium` that
//!   `models/fetch.sh` takes from the `pypdfium2` wheel; running headers, footers and page
//!   numbers are removed, line-end hyphenation joined and paragraphs kept ([`layout`]), and
//!   each page's start is kept so that chunks know their pages.
//! - **HTML**: the main text, headings as markdown headings (module `html`).
//! - **Word** (`.docx`): paragraphs and headings in order (module `docx`).
//!
//! A file without text, damaged or encrypted, is an [`ExtractError`] saying which.
#![deny(missing_docs)]

mod docx;
mod html;
pub mod layout;
mod pdf;

use std::path::{Path, PathBuf};

use ragtune_corpus::{DocKind, Extracted};

/// The extractor's version: part of every stored extraction's key, raised whenever any
/// format's output changes.
pub const VERSION: &str = "ragtune-extract-1";

/// Why a file gave no text.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The file is empty, or a PDF with no pages.
    #[error("the file is empty")]
    Empty,
    /// A PDF whose pages hold no text (scanned images).
    #[error("no text layer; OCR is not supported")]
    NoTextLayer,
    /// A PDF that needs a password.
    #[error("the PDF is encrypted (it needs a password); decrypt it first")]
    Encrypted,
    /// Not the format its name says, or damaged.
    #[error("{0}")]
    Damaged(String),
    /// libpdfium could not be loaded.
    #[error("cannot load libpdfium from {}: {why}; run models/fetch.sh, or set RAGTUNE_PDFIUM to the library", path.display())]
    NoPdfium {
        /// Where it was looked for.
        path: PathBuf,
        /// The loader's message.
        why: String,
    },
    /// The text is not UTF-8 (HTML).
    #[error("not UTF-8 text (invalid byte at offset {0})")]
    NotUtf8(usize),
}

/// Extracts text, knowing where libpdfium is.
#[derive(Debug, Clone)]
pub struct Extractor {
    pdfium: PathBuf,
}

impl Extractor {
    /// An extractor that loads libpdfium from `pdfium` when it first meets a PDF.
    pub fn new(pdfium: impl Into<PathBuf>) -> Self {
        Self {
            pdfium: pdfium.into(),
        }
    }

    /// Where libpdfium is: `RAGTUNE_PDFIUM`, else `models_dir/pdfium/libpdfium.so`.
    pub fn default_library(models_dir: &Path) -> PathBuf {
        std::env::var_os("RAGTUNE_PDFIUM")
            .map(PathBuf::from)
            .unwrap_or_else(|| models_dir.join("pdfium").join("libpdfium.so"))
    }

    /// The text of a file of `kind` held in `bytes`.
    pub fn extract(&self, bytes: &[u8], kind: DocKind) -> Result<Extracted, ExtractError> {
        let plain = |text| Extracted {
            text,
            pages: Vec::new(),
        };
        match kind {
            DocKind::Pdf => pdf::extract(&self.pdfium, bytes),
            DocKind::Html => {
                let s = std::str::from_utf8(bytes)
                    .map_err(|e| ExtractError::NotUtf8(e.valid_up_to()))?;
                Ok(plain(html::extract(s)))
            }
            DocKind::Docx => Ok(plain(docx::extract(bytes)?)),
            DocKind::Text | DocKind::Markdown => {
                let s = std::str::from_utf8(bytes)
                    .map_err(|e| ExtractError::NotUtf8(e.valid_up_to()))?;
                Ok(plain(s.to_string()))
            }
        }
    }
}
