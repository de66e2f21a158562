//! A content-addressed embedding cache on disk.
//!
//! Layout: `<root>/<namespace>/<key[0..2]>/<key>.f32`, where `namespace` hashes the model
//! file's sha256, the pooling, the maximum tokens, normalisation and the tokenizer, and
//! `key` is the sha256 of the namespace and the text. Each entry is `dim` little-endian
//! f32 values. Entries are written to a temporary file and renamed into place, so
//! concurrent runs and crashes never leave a torn entry.

use std::io::Write;
use std::path::{Path, PathBuf};

use ragtune_core::{ContentHasher, f32s_from_le_bytes, f32s_to_le_bytes};

use crate::error::{EmbedError, Result};

/// The cache root.
#[derive(Debug, Clone)]
pub struct EmbeddingCache {
    root: PathBuf,
}

impl EmbeddingCache {
    /// Use (and create) `root`.
    pub fn open(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|e| EmbedError::Cache {
            path: root.to_path_buf(),
            source: e,
        })?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The entry key for `text` under `namespace`.
    pub fn key(namespace: &str, text: &str) -> String {
        let mut h = ContentHasher::new();
        h.field(namespace).field(text);
        h.finish_hex()
    }

    fn path(&self, namespace: &str, key: &str) -> PathBuf {
        self.root
            .join(namespace)
            .join(&key[..2])
            .join(format!("{key}.f32"))
    }

    /// The cached vector, if present and of the right length.
    pub fn get(&self, namespace: &str, key: &str, dim: usize) -> Option<Vec<f32>> {
        let bytes = std::fs::read(self.path(namespace, key)).ok()?;
        if bytes.len() != dim * 4 {
            return None;
        }
        f32s_from_le_bytes(&bytes)
    }

    /// Store a vector atomically.
    pub fn put(&self, namespace: &str, key: &str, vector: &[f32]) -> Result<()> {
        let path = self.path(namespace, key);
        let dir = path.parent().expect("entry has a parent");
        let err = |e| EmbedError::Cache {
            path: path.clone(),
            source: e,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let mut tmp = tempfile_in(dir).map_err(err)?;
        let bytes = f32s_to_le_bytes(vector);
        tmp.1.write_all(&bytes).map_err(err)?;
        drop(tmp.1);
        std::fs::rename(&tmp.0, &path).map_err(err)?;
        Ok(())
    }
}

/// A uniquely named temporary file in `dir`.
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        ".tmp-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let p = dir.join(name);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p)?;
    Ok((p, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_dim() {
        let d = tempfile::tempdir().unwrap();
        let c = EmbeddingCache::open(d.path()).unwrap();
        let k = EmbeddingCache::key("ns", "hello");
        assert_ne!(k, EmbeddingCache::key("ns2", "hello"));
        assert!(c.get("ns", &k, 3).is_none());
        c.put("ns", &k, &[1.0, -2.5, 3.25]).unwrap();
        assert_eq!(c.get("ns", &k, 3), Some(vec![1.0, -2.5, 3.25]));
        assert!(
            c.get("ns", &k, 4).is_none(),
            "a wrong length is a miss, not garbage"
        );
    }
}
