//! Extracted text as a stored stage: a PDF, HTML or Word file is extracted once per
//! content, extractor version and (for PDFs) libpdfium, then read from the store, and the run folder keeps a
//! copy of every text it used, so that serving, `explain` and `export` read a run's
//! documents after `cache gc` and on a machine without libpdfium.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ragtune_corpus::{DocKind, Extract, ExtractFailure, Extracted};
use ragtune_extract::Extractor;
use ragtune_store::codec::{decode_text, encode_text};
use ragtune_store::entry::{self, Verdict};
use ragtune_store::{Stage, StageStore};
use serde::{Deserialize, Serialize};

/// The run folder's copy of its documents' extracted texts.
pub const TEXTS_DIR: &str = "texts";

/// Where a sweep's extracted texts came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextCounts {
    /// Extracted now.
    pub extracted: u64,
    /// Read from the stage store.
    pub stored: u64,
    /// Read from the run folder's copy.
    pub from_run: u64,
}

/// An [`Extract`] that reads the run folder's copy, then the store, and extracts only
/// what neither holds.
pub struct Texts<'a> {
    extractor: Extractor,
    /// The libpdfium file, whose content is part of a stored PDF text's key.
    pdfium: PathBuf,
    pdfium_id: std::sync::OnceLock<String>,
    store: Option<&'a StageStore>,
    run: Option<PathBuf>,
    write_run: bool,
    counts: [AtomicU64; 3],
}

/// The key of a file's extracted text: its content, its kind and the extractor's version.
pub fn text_key(bytes: &[u8], kind: DocKind) -> String {
    let mut h = ragtune_core::ContentHasher::new();
    h.field(ragtune_extract::VERSION)
        .field(kind.name())
        .field(ragtune_core::sha256(bytes));
    h.finish_hex()
}

impl<'a> Texts<'a> {
    /// Texts from `store` (if any), extracting with the libpdfium that `models_dir` holds.
    pub fn new(models_dir: &Path, store: Option<&'a StageStore>) -> Self {
        let pdfium = Extractor::default_library(models_dir);
        Self {
            extractor: Extractor::new(&pdfium),
            pdfium,
            pdfium_id: std::sync::OnceLock::new(),
            store,
            run: None,
            write_run: false,
            counts: Default::default(),
        }
    }

    /// Read the copy in run folder `run` first, and when `write` keep a copy there of
    /// every text read.
    pub fn with_run(mut self, run: &Path, write: bool) -> Self {
        self.run = Some(run.join(TEXTS_DIR));
        self.write_run = write;
        self
    }

    /// Where the texts came from so far.
    pub fn counts(&self) -> TextCounts {
        let c = |i: usize| self.counts[i].load(Ordering::Relaxed);
        TextCounts {
            extracted: c(0),
            stored: c(1),
            from_run: c(2),
        }
    }

    /// The store's key: the text key and, for a PDF, the libpdfium that extracts it (a
    /// different PDFium build may read a file differently). The run folder's copy is
    /// found by the text key alone, so that a run is read back without libpdfium.
    fn store_key(&self, key: &str, kind: DocKind) -> String {
        if kind != DocKind::Pdf {
            return key.to_string();
        }
        let lib = self.pdfium_id.get_or_init(|| {
            std::fs::read(&self.pdfium)
                .map_or_else(|_| "absent".into(), |b| ragtune_core::sha256_hex(&b))
        });
        let mut h = ragtune_core::ContentHasher::new();
        h.field(key).field(lib);
        h.finish_hex()
    }

    fn run_copy(&self, key: &str) -> Option<Extracted> {
        let bytes = std::fs::read(self.run.as_ref()?.join(key)).ok()?;
        match entry::verify_file(&bytes, Stage::Text, key) {
            Verdict::Good(payload) => decoded(payload),
            _ => None,
        }
    }

    fn keep(&self, key: &str, payload: &[u8]) -> Result<(), ExtractFailure> {
        let (Some(dir), true) = (&self.run, self.write_run) else {
            return Ok(());
        };
        let path = dir.join(key);
        if path.is_file() {
            return Ok(());
        }
        let env = |p: &Path, e: std::io::Error| {
            ExtractFailure::Environment(format!("{}: {e}", p.display()))
        };
        std::fs::create_dir_all(dir).map_err(|e| env(dir, e))?;
        ragtune_core::write_atomic(&path, &entry::encode(Stage::Text, key, payload))
            .map_err(|e| env(&path, e))
    }
}

fn decoded(payload: &[u8]) -> Option<Extracted> {
    decode_text(payload).map(|(text, pages)| Extracted { text, pages })
}

impl Extract for Texts<'_> {
    fn extract(&self, path: &Path, kind: DocKind) -> Result<Extracted, ExtractFailure> {
        let bytes = std::fs::read(path).map_err(|e| ExtractFailure::Document(e.to_string()))?;
        let key = text_key(&bytes, kind);
        if let Some(x) = self.run_copy(&key) {
            self.counts[2].fetch_add(1, Ordering::Relaxed);
            return Ok(x);
        }
        let skey = self.store_key(&key, kind);
        let stored = self.store.and_then(|s| s.get(Stage::Text, &skey));
        if let Some((payload, x)) = stored.and_then(|p| decoded(&p).map(|x| (p, x))) {
            self.counts[1].fetch_add(1, Ordering::Relaxed);
            // The stored payload, as verified: not decoded and encoded again.
            self.keep(&key, &payload)?;
            return Ok(x);
        }
        let x = self.extractor.extract(&bytes, kind).map_err(|e| match e {
            ragtune_extract::ExtractError::NoPdfium { .. } => {
                ExtractFailure::Environment(e.to_string())
            }
            _ => ExtractFailure::Document(e.to_string()),
        })?;
        self.counts[0].fetch_add(1, Ordering::Relaxed);
        let payload = encode_text(&x.text, &x.pages);
        if let Some(s) = self.store {
            s.put(Stage::Text, &skey, &payload)
                .map_err(|e| ExtractFailure::Environment(e.to_string()))?;
        }
        self.keep(&key, &payload)?;
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_extracted_once_then_read_from_the_store_or_the_run() {
        let d = tempfile::tempdir().unwrap();
        let store = StageStore::open(&d.path().join("store")).unwrap();
        let page = d.path().join("a.html");
        std::fs::write(&page, "<main><h1>T</h1><p>Body</p></main>").unwrap();
        let run = d.path().join("run");
        let t = Texts::new(d.path(), Some(&store)).with_run(&run, true);
        let x = t.extract(&page, DocKind::Html).unwrap();
        assert_eq!(x.text, "# T\n\nBody");
        let again = Texts::new(d.path(), Some(&store)).with_run(&d.path().join("run2"), true);
        assert_eq!(again.extract(&page, DocKind::Html).unwrap(), x);
        assert_eq!((t.counts().extracted, again.counts().stored), (1, 1));
        // Without the store, the run's copy serves.
        let served = Texts::new(d.path(), None).with_run(&run, false);
        assert_eq!(served.extract(&page, DocKind::Html).unwrap(), x);
        assert_eq!(served.counts().from_run, 1);
        // A damaged copy is not used: it is extracted again.
        let key = text_key(&std::fs::read(&page).unwrap(), DocKind::Html);
        std::fs::write(run.join(TEXTS_DIR).join(&key), b"junk").unwrap();
        assert_eq!(served.extract(&page, DocKind::Html).unwrap(), x);
        assert_eq!(served.counts().extracted, 1);
    }
}
