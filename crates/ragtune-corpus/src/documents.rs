//! A `dir` corpus: a safe walk of the folder, and each file read as text or through an
//! [`Extract`]or (PDF, HTML, Word).

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use ragtune_core::Document;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{CorpusError, Result};

/// The kinds of file a `dir` corpus reads, by extension (case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocKind {
    /// `.txt`
    Text,
    /// `.md`
    Markdown,
    /// `.pdf`
    Pdf,
    /// `.html` or `.htm`
    Html,
    /// `.docx`
    Docx,
}

impl DocKind {
    /// The kind a file name's extension gives, if ragtune reads it.
    pub fn of(path: &Path) -> Option<DocKind> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "txt" => DocKind::Text,
            "md" => DocKind::Markdown,
            "pdf" => DocKind::Pdf,
            "html" | "htm" => DocKind::Html,
            "docx" => DocKind::Docx,
            _ => return None,
        })
    }

    /// Whether the text has to be extracted (not read as UTF-8).
    pub fn is_extracted(self) -> bool {
        !matches!(self, DocKind::Text | DocKind::Markdown)
    }

    /// The lower-case name used in keys and messages.
    pub fn name(self) -> &'static str {
        match self {
            DocKind::Text => "txt",
            DocKind::Markdown => "md",
            DocKind::Pdf => "pdf",
            DocKind::Html => "html",
            DocKind::Docx => "docx",
        }
    }
}

/// A document's extracted text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extracted {
    /// The text (headings as markdown headings where the format has them).
    pub text: String,
    /// Byte offsets where each page starts (PDF), else empty.
    pub pages: Vec<usize>,
}

/// Turns a PDF, HTML or Word file into text. Implemented by ragtune-extract (and a cache
/// in front of it); the corpus crate only calls it.
pub trait Extract: Sync {
    /// The text of the file at `path`, or why there is none.
    fn extract(&self, path: &Path, kind: DocKind)
    -> std::result::Result<Extracted, ExtractFailure>;
}

/// Why a file gave no text: the file itself (skippable under `on_error = "skip"`), or the
/// machine (no libpdfium, a store that cannot be written), which stops the load whatever
/// `on_error` says, since every file would fail the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtractFailure {
    /// Damaged, encrypted, empty, without a text layer: one line, naming no path.
    Document(String),
    /// Not the file's fault: one line.
    Environment(String),
}

/// No extractor: PDF, HTML and Word files are errors.
pub struct NoExtract;

impl Extract for NoExtract {
    fn extract(&self, _: &Path, kind: DocKind) -> std::result::Result<Extracted, ExtractFailure> {
        Err(ExtractFailure::Environment(format!(
            "reading .{} files needs the document extractor, which this command does not load",
            kind.name()
        )))
    }
}

/// A file the corpus did not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// Relative to the corpus folder.
    pub path: String,
    /// Why.
    pub reason: SkipReason,
    /// Details (the extractor's message), where there are any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// Why a file was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Its extension is not one ragtune reads.
    Extension,
    /// Not a regular file (a FIFO, socket or device): never opened.
    NotAFile,
    /// A symbolic link back to a folder already walked.
    SymlinkLoop,
    /// A hidden file or folder (its name starts with a dot: `.git`, `.DS_Store`); a
    /// hidden folder is not walked.
    Hidden,
    /// Unreadable, damaged, encrypted or empty, under `on_error = "skip"`.
    Unreadable,
}

/// What a `[corpus]` does with a file it cannot read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Stop with an error naming the file (the default).
    #[default]
    Fail,
    /// Skip it and list it in the run's manifest.
    Skip,
}

/// The walk's result: files to read (sorted) and files passed over.
struct Walk {
    files: Vec<(PathBuf, DocKind)>,
    skipped: Vec<Skipped>,
    seen_dirs: HashSet<PathBuf>,
    on_error: OnError,
}

fn rel_id(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

impl Walk {
    fn skip(&mut self, root: &Path, path: &Path, reason: SkipReason) {
        self.skipped.push(Skipped {
            path: rel_id(root, path),
            reason,
            detail: String::new(),
        });
    }

    /// Walk `dir`, following symbolic links to files and folders but never into a folder
    /// already walked, and never opening anything that is not a regular file.
    fn dir(&mut self, root: &Path, dir: &Path) -> Result<()> {
        let canonical = dir.canonicalize().map_err(|e| CorpusError::io(dir, e))?;
        if !self.seen_dirs.insert(canonical) {
            self.skip(root, dir, SkipReason::SymlinkLoop);
            return Ok(());
        }
        let mut entries = fs::read_dir(dir)
            .map_err(|e| CorpusError::io(dir, e))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| CorpusError::io(dir, e))?;
        entries.sort();
        for path in entries {
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                self.skip(root, &path, SkipReason::Hidden);
                continue;
            }
            // Follows a symbolic link; a dangling one cannot be read.
            let meta = match fs::metadata(&path) {
                Ok(m) => m,
                Err(e) if self.on_error == OnError::Skip => {
                    self.skipped.push(Skipped {
                        path: rel_id(root, &path),
                        reason: SkipReason::Unreadable,
                        detail: e.to_string(),
                    });
                    continue;
                }
                Err(e) => return Err(CorpusError::io(&path, e)),
            };
            if meta.is_dir() {
                self.dir(root, &path)?;
            } else if !meta.is_file() {
                self.skip(root, &path, SkipReason::NotAFile);
            } else if let Some(kind) = DocKind::of(&path) {
                self.files.push((path, kind));
            } else {
                self.skip(root, &path, SkipReason::Extension);
            }
        }
        Ok(())
    }
}

/// The documents of a `dir` corpus, and the files skipped.
pub(crate) fn read_dir_docs(
    root: &Path,
    extract: &dyn Extract,
    on_error: OnError,
) -> Result<(Vec<Document>, Vec<Skipped>)> {
    let mut walk = Walk {
        files: Vec::new(),
        skipped: Vec::new(),
        seen_dirs: HashSet::new(),
        on_error,
    };
    walk.dir(root, root)?;
    walk.files.sort();
    let read: Vec<std::result::Result<Document, (PathBuf, ExtractFailure)>> = walk
        .files
        .par_iter()
        .map(|(path, kind)| read_one(root, path, *kind, extract).map_err(|e| (path.clone(), e)))
        .collect();
    let mut docs = Vec::with_capacity(read.len());
    let mut failed: Vec<(PathBuf, String)> = Vec::new();
    for r in read {
        match r {
            Ok(d) => docs.push(d),
            Err((path, ExtractFailure::Environment(message))) => {
                return Err(CorpusError::Document { path, message });
            }
            Err((path, ExtractFailure::Document(message))) => failed.push((path, message)),
        }
    }
    match (failed.first(), on_error) {
        (Some((path, message)), OnError::Fail) => {
            let message = if failed.len() == 1 {
                message.clone()
            } else {
                let others: Vec<String> = failed[1..]
                    .iter()
                    .take(4)
                    .map(|(p, m)| format!("\n  {}: {m}", p.display()))
                    .collect();
                format!(
                    "{message}\n{} more files cannot be read:{}\n`on_error = \"skip\"` in [corpus] skips them (they are listed in the manifest)",
                    failed.len() - 1,
                    others.concat()
                )
            };
            return Err(CorpusError::Document {
                path: path.clone(),
                message,
            });
        }
        _ => walk
            .skipped
            .extend(failed.into_iter().map(|(path, detail)| Skipped {
                path: rel_id(root, &path),
                reason: SkipReason::Unreadable,
                detail,
            })),
    }
    if docs.is_empty() {
        return Err(CorpusError::Missing {
            path: root.to_path_buf(),
            what: "no readable .txt, .md, .pdf, .html, .htm or .docx files found".into(),
        });
    }
    Ok((docs, walk.skipped))
}

fn read_one(
    root: &Path,
    path: &Path,
    kind: DocKind,
    extract: &dyn Extract,
) -> std::result::Result<Document, ExtractFailure> {
    let Extracted { text, pages } = if kind.is_extracted() {
        let x = extract.extract(path, kind)?;
        if x.text.trim().is_empty() {
            return Err(ExtractFailure::Document("the file holds no text".into()));
        }
        x
    } else {
        let bytes = fs::read(path).map_err(|e| ExtractFailure::Document(e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            ExtractFailure::Document(format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ))
        })?;
        Extracted {
            text,
            pages: Vec::new(),
        }
    };
    Ok(Document {
        id: rel_id(root, path),
        title: None,
        text,
        pages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Upper;
    impl Extract for Upper {
        fn extract(
            &self,
            path: &Path,
            kind: DocKind,
        ) -> std::result::Result<Extracted, ExtractFailure> {
            let t =
                fs::read_to_string(path).map_err(|e| ExtractFailure::Document(e.to_string()))?;
            if t.is_empty() {
                return Err(ExtractFailure::Document("damaged".into()));
            }
            Ok(Extracted {
                text: format!("{}:{}", kind.name(), t.to_uppercase()),
                pages: vec![0],
            })
        }
    }

    #[test]
    fn kinds_come_from_extensions_in_any_case() {
        assert_eq!(DocKind::of(Path::new("a/B.PDF")), Some(DocKind::Pdf));
        assert_eq!(DocKind::of(Path::new("x.htm")), Some(DocKind::Html));
        assert_eq!(DocKind::of(Path::new("x.doc")), None);
        assert_eq!(DocKind::of(Path::new("README")), None);
    }

    #[test]
    fn walk_reads_extracts_and_lists_what_it_skips() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::create_dir(root.join("sub")).unwrap();
        fs::write(root.join("a.txt"), "plain").unwrap();
        fs::write(root.join("sub/b.html"), "page").unwrap();
        fs::write(root.join("c.png"), "img").unwrap();
        fs::create_dir(root.join(".git")).unwrap();
        fs::write(root.join(".git/HEAD.txt"), "never read").unwrap();
        fs::write(root.join("d.pdf"), "").unwrap();
        std::os::unix::fs::symlink(".", root.join("sub/loop")).unwrap();
        let fifo = root.join("pipe.txt");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        let err = read_dir_docs(root, &Upper, OnError::Fail).unwrap_err();
        assert!(err.to_string().contains("d.pdf: damaged"), "{err}");
        let (docs, skipped) = read_dir_docs(root, &Upper, OnError::Skip).unwrap();
        let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["a.txt", "sub/b.html"]);
        assert_eq!(docs[1].text, "html:PAGE");
        assert_eq!(docs[1].pages, vec![0]);
        let mut why: Vec<(&str, SkipReason)> = skipped
            .iter()
            .map(|s| (s.path.as_str(), s.reason))
            .collect();
        why.sort();
        let mut want = vec![
            (".git", SkipReason::Hidden),
            ("c.png", SkipReason::Extension),
            ("d.pdf", SkipReason::Unreadable),
            ("sub/loop", SkipReason::SymlinkLoop),
        ];
        if made.is_ok_and(|s| s.success()) {
            want.push(("pipe.txt", SkipReason::NotAFile));
            want.sort();
        }
        assert_eq!(why, want);
    }

    #[test]
    fn without_an_extractor_a_pdf_says_what_is_missing_even_under_skip() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("a.pdf"), "%PDF").unwrap();
        fs::write(d.path().join("b.txt"), "text").unwrap();
        // The machine's fault, not the file's: skipping would drop every PDF unnoticed.
        for policy in [OnError::Fail, OnError::Skip] {
            let err = read_dir_docs(d.path(), &NoExtract, policy).unwrap_err();
            assert!(
                err.to_string().contains("needs the document extractor"),
                "{err}"
            );
        }
    }
}
