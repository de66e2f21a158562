//! The stage store: every stage result worth keeping, content-addressed on disk.
//!
//! Layout under the cache folder: `<stage>/<key[0..2]>/<key>` for a file entry and
//! `<stage>/<key[0..2]>/<key>.d/` for a folder entry (a tantivy index, an HNSW dump).
//!
//! - A **file entry** is `RTS1`, the payload length (u64 LE), the payload's sha256, then
//!   the payload. It is written to a temporary file, synced, and renamed into place.
//! - A **folder entry** is built in a temporary folder, gets a `CHECKSUMS` file (name,
//!   length and sha256 of every file), and is renamed into place.
//!
//! Every read checks the length and the hash. A damaged entry is reported once, removed,
//! counted as corrupt, and recomputed by the caller: it is never used. A read refreshes
//! the entry's modification time, which `ragtune cache gc` takes as its last use.
//!
//! Two processes writing the same key write the same bytes, and a rename is atomic, so
//! concurrent sweeps sharing one store never see a torn entry.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use ragtune_core::sha256_hex;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

/// The kinds of stage result the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// A chunk set with its token counts.
    Chunks,
    /// A tantivy BM25 index (folder).
    Bm25,
    /// One text's embedding under one model (the embedding cache).
    Embed,
    /// The embedding matrix of one chunk set under one model.
    Vectors,
    /// An HNSW graph (folder).
    Hnsw,
    /// One component's rankings of a question set, with per-question latency.
    Rankings,
    /// One document's token vectors under one model and late-chunking window.
    Tokens,
}

impl Stage {
    /// Every stored stage.
    pub const ALL: [Stage; 7] = [
        Stage::Chunks,
        Stage::Bm25,
        Stage::Embed,
        Stage::Tokens,
        Stage::Vectors,
        Stage::Hnsw,
        Stage::Rankings,
    ];
    /// Folder name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Chunks => "chunks",
            Stage::Bm25 => "bm25",
            Stage::Embed => "embed",
            Stage::Vectors => "vectors",
            Stage::Hnsw => "hnsw",
            Stage::Rankings => "rankings",
            Stage::Tokens => "tokens",
        }
    }
}

const MAGIC: &[u8; 4] = b"RTS1";
const HEADER: usize = 4 + 8 + 32;
const CHECKSUMS: &str = "CHECKSUMS";
const STATS: &str = "stats.json";
const STATS_LOCK: &str = "stats.lock";

/// The running totals of reads, misses, damage and writes per stage (`stats.json`).
pub fn history(root: &Path) -> BTreeMap<String, StoreCounts> {
    std::fs::read(root.join(STATS))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Reads, writes and damage seen by one process, per stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreCounts {
    /// Entries read back and verified.
    pub hits: u64,
    /// Entries looked for and not found.
    pub misses: u64,
    /// Entries found damaged (then removed and recomputed).
    pub corrupt: u64,
    /// Entries written.
    pub writes: u64,
}

/// The store.
#[derive(Debug)]
pub struct StageStore {
    root: PathBuf,
    counts: Mutex<BTreeMap<Stage, StoreCounts>>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::io(path, e)
}

use ragtune_core::temp_path as temp_name;

/// Write `bytes` to `path` atomically ([`ragtune_core::write_atomic`]), with the path in
/// the error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    ragtune_core::write_atomic(path, bytes).map_err(|e| StoreError::io(path, e))
}

/// The payload of a file entry, if its header, length and hash check out.
fn verify_file(bytes: &[u8]) -> Option<&[u8]> {
    if bytes.len() < HEADER || &bytes[..4] != MAGIC {
        return None;
    }
    let len = u64::from_le_bytes(bytes[4..12].try_into().ok()?) as usize;
    let payload = &bytes[HEADER..];
    if payload.len() != len || sha256_hex(payload) != hex_of(&bytes[12..HEADER]) {
        return None;
    }
    Some(payload)
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `CHECKSUMS` of a folder: one `name length sha256` line per file, sorted.
fn checksums(dir: &Path) -> std::io::Result<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == CHECKSUMS || !entry.file_type()?.is_file() {
            continue;
        }
        let bytes = std::fs::read(entry.path())?;
        lines.push(format!("{name} {} {}", bytes.len(), sha256_hex(&bytes)));
    }
    lines.sort();
    Ok(lines.join("\n") + "\n")
}

fn touch(path: &Path) {
    if let Ok(f) = std::fs::File::options().append(true).open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

impl StageStore {
    /// Use (and create) the store at `root`.
    pub fn open(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(io(root))?;
        Ok(Self {
            root: root.to_path_buf(),
            counts: Mutex::new(BTreeMap::new()),
        })
    }

    /// The store's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Add this process's counts to the store's running totals (`stats.json`), which
    /// `ragtune cache stats` reports. The read, add and write happen under an exclusive
    /// lock on `stats.lock`, so that shards finishing at the same instant each add theirs.
    pub fn save_counts(&self) -> Result<()> {
        let lock_path = self.root.join(STATS_LOCK);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        lock.lock().map_err(io(&lock_path))?;
        let mut totals = history(&self.root);
        for (stage, c) in self.counts() {
            let t = totals.entry(stage.name().to_string()).or_default();
            t.hits += c.hits;
            t.misses += c.misses;
            t.corrupt += c.corrupt;
            t.writes += c.writes;
        }
        let bytes = serde_json::to_vec_pretty(&totals).expect("counts serialise");
        write_atomic(&self.root.join(STATS), &bytes)
    }

    fn count(&self, stage: Stage, f: impl FnOnce(&mut StoreCounts)) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        f(c.entry(stage).or_default());
    }

    /// What this process read, missed, found damaged and wrote, per stage.
    pub fn counts(&self) -> BTreeMap<Stage, StoreCounts> {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn path(&self, stage: Stage, key: &str) -> PathBuf {
        self.root
            .join(stage.name())
            .join(&key[..2.min(key.len())])
            .join(key)
    }

    fn damaged(&self, stage: Stage, path: &Path) {
        tracing::warn!(
            "stage store: damaged {} entry {} is recomputed, not used",
            stage.name(),
            path.display()
        );
        let _ = std::fs::remove_file(path);
        let _ = std::fs::remove_dir_all(path);
        self.count(stage, |c| c.corrupt += 1);
    }

    /// Whether entry `key` is present (its contents are checked when it is read).
    pub fn contains(&self, stage: Stage, key: &str) -> bool {
        self.path(stage, key).is_file()
            || self
                .path(stage, &format!("{key}.d"))
                .join(CHECKSUMS)
                .is_file()
    }

    /// The verified payload of file entry `key`, or `None` (missing or damaged).
    pub fn get(&self, stage: Stage, key: &str) -> Option<Vec<u8>> {
        let path = self.path(stage, key);
        let Ok(bytes) = std::fs::read(&path) else {
            self.count(stage, |c| c.misses += 1);
            return None;
        };
        match verify_file(&bytes) {
            Some(payload) => {
                touch(&path);
                self.count(stage, |c| c.hits += 1);
                Some(payload.to_vec())
            }
            None => {
                self.damaged(stage, &path);
                None
            }
        }
    }

    /// Store `payload` as file entry `key`.
    pub fn put(&self, stage: Stage, key: &str, payload: &[u8]) -> Result<()> {
        let path = self.path(stage, key);
        let dir = path.parent().expect("entries have a parent");
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut bytes = Vec::with_capacity(HEADER + payload.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&ragtune_core::sha256(payload));
        bytes.extend_from_slice(payload);
        write_atomic(&path, &bytes)?;
        self.count(stage, |c| c.writes += 1);
        Ok(())
    }

    /// The verified folder entry `key`, or `None` (missing or damaged).
    pub fn get_dir(&self, stage: Stage, key: &str) -> Option<PathBuf> {
        let dir = self.path(stage, &format!("{key}.d"));
        let Ok(want) = std::fs::read_to_string(dir.join(CHECKSUMS)) else {
            self.count(stage, |c| c.misses += 1);
            return None;
        };
        match checksums(&dir) {
            Ok(got) if got == want => {
                touch(&dir.join(CHECKSUMS));
                self.count(stage, |c| c.hits += 1);
                Some(dir)
            }
            _ => {
                self.damaged(stage, &dir);
                None
            }
        }
    }

    /// Build folder entry `key` with `fill` (given an empty temporary folder), seal it
    /// with its checksums and move it into place. Returns the entry's folder.
    pub fn put_dir<E: From<StoreError>>(
        &self,
        stage: Stage,
        key: &str,
        fill: impl FnOnce(&Path) -> Result<(), E>,
    ) -> Result<PathBuf, E> {
        let dir = self.path(stage, &format!("{key}.d"));
        let parent = dir.parent().expect("entries have a parent");
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        let tmp = temp_name(parent, key);
        std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        let sealed = fill(&tmp).and_then(|()| {
            let sums = checksums(&tmp).map_err(io(&tmp))?;
            Ok(write_atomic(&tmp.join(CHECKSUMS), sums.as_bytes())?)
        });
        if let Err(e) = sealed {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        // Another writer may have sealed the same entry first: keep theirs.
        if std::fs::rename(&tmp, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
            if !dir.join(CHECKSUMS).is_file() {
                return Err(StoreError::Placement { path: dir }.into());
            }
        }
        self.count(stage, |c| c.writes += 1);
        Ok(dir)
    }
}

/// One stored entry, for `cache stats` and `cache gc`.
#[derive(Debug, Clone)]
struct Entry {
    stage: Option<Stage>,
    path: PathBuf,
    bytes: u64,
    used: SystemTime,
}

fn entry_of(path: PathBuf, stage: Option<Stage>) -> std::io::Result<Entry> {
    let meta = std::fs::metadata(&path)?;
    if meta.is_dir() {
        let mut bytes = 0;
        for f in std::fs::read_dir(&path)? {
            bytes += f?.metadata()?.len();
        }
        let used = std::fs::metadata(path.join(CHECKSUMS))
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(Entry {
            stage,
            path,
            bytes,
            used,
        })
    } else {
        Ok(Entry {
            stage,
            bytes: meta.len(),
            used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            path,
        })
    }
}

fn entries(root: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    if !root.is_dir() {
        return Ok(out);
    }
    for top in std::fs::read_dir(root).map_err(io(root))? {
        let top = top.map_err(io(root))?.path();
        if !top.is_dir() {
            continue;
        }
        let name = top.file_name().map(|n| n.to_string_lossy().into_owned());
        let stage = Stage::ALL
            .into_iter()
            .find(|s| Some(s.name()) == name.as_deref());
        for shard in std::fs::read_dir(&top).map_err(io(&top))? {
            let shard = shard.map_err(io(&top))?.path();
            if !shard.is_dir() {
                out.push(entry_of(shard.clone(), stage).map_err(io(&shard))?);
                continue;
            }
            for e in std::fs::read_dir(&shard).map_err(io(&shard))? {
                let p = e.map_err(io(&shard))?.path();
                out.push(entry_of(p.clone(), stage).map_err(io(&p))?);
            }
        }
    }
    Ok(out)
}

/// Size and count of one stage's entries on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StageUsage {
    /// Stage folder name (`other` for anything else under the cache folder).
    pub stage: String,
    /// Entries.
    pub entries: u64,
    /// Bytes.
    pub bytes: u64,
}

/// What the store at `root` holds, per stage.
pub fn usage(root: &Path) -> Result<Vec<StageUsage>> {
    let mut by: BTreeMap<String, StageUsage> = BTreeMap::new();
    for e in entries(root)? {
        let name = e.stage.map_or("other", |s| s.name()).to_string();
        let u = by.entry(name.clone()).or_insert_with(|| StageUsage {
            stage: name,
            ..Default::default()
        });
        u.entries += 1;
        u.bytes += e.bytes;
    }
    Ok(by.into_values().collect())
}

/// What `gc` removed and kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// Entries removed.
    pub removed: u64,
    /// Bytes removed.
    pub removed_bytes: u64,
    /// Bytes kept.
    pub kept_bytes: u64,
}

/// Remove the least recently used entries until the store holds at most `max_bytes`.
/// Temporary files left by killed writers are removed first.
pub fn gc(root: &Path, max_bytes: u64) -> Result<GcReport> {
    let mut all = entries(root)?;
    all.sort_by_key(|e| e.used);
    let mut total: u64 = all.iter().map(|e| e.bytes).sum();
    let mut report = GcReport::default();
    for e in &all {
        let stale_temp = e
            .path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains(".tmp-"));
        if total <= max_bytes && !stale_temp {
            continue;
        }
        let removed = if e.path.is_dir() {
            std::fs::remove_dir_all(&e.path)
        } else {
            std::fs::remove_file(&e.path)
        };
        if removed.is_ok() {
            total -= e.bytes;
            report.removed += 1;
            report.removed_bytes += e.bytes;
        }
    }
    report.kept_bytes = total;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_saved_at_once_by_many_stores_all_add_up() {
        // Shards share a store and may finish together: each one's read, add and write
        // of stats.json must see the others'.
        let d = tempfile::tempdir().unwrap();
        let root = d.path().to_path_buf();
        std::thread::scope(|sc| {
            for t in 0..8u64 {
                let root = &root;
                sc.spawn(move || {
                    for round in 0..5 {
                        let s = StageStore::open(root).unwrap();
                        for i in 0..=t {
                            assert!(s.get(Stage::Chunks, &format!("{t}-{round}-{i}")).is_none());
                        }
                        s.save_counts().unwrap();
                    }
                });
            }
        });
        // Thread t missed t + 1 keys in each of 5 rounds: 5 × (1 + … + 8) = 180.
        assert_eq!(history(&root)["chunks"].misses, 180);
    }

    #[test]
    fn file_entries_round_trip_and_damage_is_never_used() {
        let d = tempfile::tempdir().unwrap();
        let s = StageStore::open(d.path()).unwrap();
        assert!(s.get(Stage::Chunks, "abcd").is_none());
        s.put(Stage::Chunks, "abcd", b"hello").unwrap();
        assert_eq!(s.get(Stage::Chunks, "abcd").unwrap(), b"hello");
        // Flip one payload byte: same length, wrong hash.
        let p = d.path().join("chunks/ab/abcd");
        let mut bytes = std::fs::read(&p).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x20;
        std::fs::write(&p, &bytes).unwrap();
        assert!(s.get(Stage::Chunks, "abcd").is_none());
        assert!(!p.exists(), "a damaged entry is removed");
        // Truncated.
        s.put(Stage::Chunks, "abcd", b"hello").unwrap();
        std::fs::write(&p, &std::fs::read(&p).unwrap()[..20]).unwrap();
        assert!(s.get(Stage::Chunks, "abcd").is_none());
        let c = s.counts()[&Stage::Chunks];
        assert_eq!((c.hits, c.misses, c.corrupt, c.writes), (1, 1, 2, 2));
    }

    #[test]
    fn folder_entries_are_sealed_and_checked() {
        let d = tempfile::tempdir().unwrap();
        let s = StageStore::open(d.path()).unwrap();
        let dir = s
            .put_dir(Stage::Bm25, "k1", |tmp| {
                std::fs::write(tmp.join("a"), b"one").unwrap();
                std::fs::write(tmp.join("b"), b"two").unwrap();
                Ok::<(), StoreError>(())
            })
            .unwrap();
        assert_eq!(s.get_dir(Stage::Bm25, "k1"), Some(dir.clone()));
        std::fs::write(dir.join("b"), b"tw0").unwrap();
        assert!(s.get_dir(Stage::Bm25, "k1").is_none());
        assert!(!dir.exists());
        // A failing build leaves nothing behind.
        let failed = s.put_dir(Stage::Bm25, "k2", |_| {
            Err(StoreError::Placement { path: "x".into() })
        });
        assert!(failed.is_err());
        assert_eq!(
            usage(d.path())
                .unwrap()
                .iter()
                .map(|u| u.entries)
                .sum::<u64>(),
            0
        );
    }

    #[test]
    fn gc_removes_least_recently_used_first() {
        let d = tempfile::tempdir().unwrap();
        let s = StageStore::open(d.path()).unwrap();
        for (i, key) in ["aa01", "aa02", "aa03"].iter().enumerate() {
            s.put(Stage::Rankings, key, &[i as u8; 1000]).unwrap();
            let p = d.path().join("rankings/aa").join(key);
            let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000 + i as u64);
            std::fs::File::options()
                .append(true)
                .open(&p)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        // Reading aa01 makes it the most recently used.
        assert!(s.get(Stage::Rankings, "aa01").is_some());
        let r = gc(d.path(), 2200).unwrap();
        assert_eq!(r.removed, 1);
        assert!(s.get(Stage::Rankings, "aa02").is_none(), "the oldest went");
        assert!(s.get(Stage::Rankings, "aa01").is_some());
        assert!(s.get(Stage::Rankings, "aa03").is_some());
        let u = usage(d.path()).unwrap();
        assert_eq!(u[0].stage, "rankings");
        assert_eq!(u[0].entries, 2);
    }
}
