//! The stage store: every stage result worth keeping, content-addressed on disk.
//!
//! Layout under the cache folder: `<stage>/<key[0..2]>/<key>` for a file entry and
//! `<stage>/<key[0..2]>/<key>.d/` for a folder entry (a tantivy index, an HNSW dump).
//!
//! - A **file entry** (see [`crate::entry`] for its bytes) is written to a temporary file,
//!   synced, and renamed into place.
//! - A **folder entry** is built in a temporary folder, sealed with a `CHECKSUMS` file
//!   (the binding to its stage and key, then the name, length and sha256 of every file),
//!   and renamed into place.
//!
//! Every read checks the length, the hash and that the entry was written under the stage
//! and key it is read as. A damaged entry is reported once, removed, counted as corrupt,
//! and recomputed by the caller: it is never used. An entry of an older format is removed
//! and recomputed too, counted as outdated, not as damage. A read refreshes the entry's
//! modification time, which `ragtune cache gc` takes as its last use.
//!
//! Two processes writing the same key write the same bytes, and a rename is atomic, so
//! concurrent sweeps sharing one store never see a torn entry; a writer whose rename
//! loses the race verifies the winner's entry instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::entry::{self, CHECKSUMS, Verdict};
pub use crate::stage::Stage;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

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
    /// Entries of an older format found (then removed and recomputed; not damage).
    #[serde(default)]
    pub outdated: u64,
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
            t.outdated += c.outdated;
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

    fn damaged(&self, stage: Stage, path: &Path, why: &str) {
        tracing::warn!(
            "stage store: damaged {} entry {} ({why}) is recomputed, not used",
            stage.name(),
            path.display()
        );
        remove(path);
        self.count(stage, |c| c.corrupt += 1);
    }

    fn outdated(&self, stage: Stage, path: &Path) {
        remove(path);
        self.count(stage, |c| c.outdated += 1);
    }

    /// Count what `verdict` says of the entry at `path`: a hit, or the entry removed as
    /// outdated or damaged.
    fn judge<T>(&self, stage: Stage, path: &Path, verdict: Verdict<T>) -> Option<T> {
        match verdict {
            Verdict::Good(x) => {
                self.count(stage, |c| c.hits += 1);
                Some(x)
            }
            Verdict::Outdated => {
                self.outdated(stage, path);
                None
            }
            Verdict::Damaged(why) => {
                self.damaged(stage, path, &why);
                None
            }
        }
    }

    /// Whether entry `key` is present (its contents are checked when it is read).
    pub fn contains(&self, stage: Stage, key: &str) -> bool {
        let file = self.path(stage, key);
        let dir = self.path(stage, &format!("{key}.d"));
        // An entry of an older format will be recomputed: it is not held.
        (file.is_file() && !entry::is_outdated(&file))
            || (dir.join(CHECKSUMS).is_file() && !entry::is_outdated(&dir))
    }

    /// The verified payload of file entry `key`, or `None` (missing or damaged).
    pub fn get(&self, stage: Stage, key: &str) -> Option<Vec<u8>> {
        let path = self.path(stage, key);
        let Ok(bytes) = std::fs::read(&path) else {
            self.count(stage, |c| c.misses += 1);
            return None;
        };
        let payload = self.judge(stage, &path, entry::verify_file(&bytes, stage, key))?;
        touch(&path);
        Some(payload.to_vec())
    }

    /// File entry `key`, verified in full once, then held open to be read by ranges
    /// ([`EntryRanges`]): what is read later is what was verified, even if the entry is
    /// replaced meanwhile. `None` when missing or damaged, as for [`Self::get`].
    pub fn open_ranges(&self, stage: Stage, key: &str) -> Option<EntryRanges> {
        let path = self.path(stage, key);
        let Ok(file) = std::fs::File::open(&path) else {
            self.count(stage, |c| c.misses += 1);
            return None;
        };
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut &file, &mut bytes).ok()?;
        let verdict = entry::verify_file(&bytes, stage, key)
            .map(|p| (p.as_ptr() as usize - bytes.as_ptr() as usize, p.len()));
        let (start, len) = self.judge(stage, &path, verdict)?;
        touch(&path);
        Some(EntryRanges {
            file,
            start: start as u64,
            len: len as u64,
            path,
        })
    }

    /// Store `payload` as file entry `key`.
    pub fn put(&self, stage: Stage, key: &str, payload: &[u8]) -> Result<()> {
        let path = self.path(stage, key);
        let dir = path.parent().expect("entries have a parent");
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        write_atomic(&path, &entry::encode(stage, key, payload))?;
        self.count(stage, |c| c.writes += 1);
        Ok(())
    }

    /// The verified folder entry `key`, or `None` (missing or damaged).
    pub fn get_dir(&self, stage: Stage, key: &str) -> Option<PathBuf> {
        let dir = self.path(stage, &format!("{key}.d"));
        if !dir.join(CHECKSUMS).is_file() {
            self.count(stage, |c| c.misses += 1);
            return None;
        }
        self.judge(stage, &dir, entry::verify_dir(&dir, stage, key))?;
        touch(&dir.join(CHECKSUMS));
        Some(dir)
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
            let sums = entry::seal(&tmp, stage, key).map_err(io(&tmp))?;
            Ok(write_atomic(&tmp.join(CHECKSUMS), sums.as_bytes())?)
        });
        if let Err(e) = sealed {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        place_dir(&tmp, &dir, stage, key)?;
        self.count(stage, |c| c.writes += 1);
        Ok(dir)
    }
}

/// A verified file entry's payload, read by ranges ([`StageStore::open_ranges`]).
#[derive(Debug)]
pub struct EntryRanges {
    file: std::fs::File,
    start: u64,
    len: u64,
    path: PathBuf,
}

impl EntryRanges {
    /// The payload's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for an empty payload.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fill `buf` from payload offset `offset`.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|e| e > self.len) {
            return Err(StoreError::io(
                &self.path,
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("bytes {offset}.. of a {}-byte payload", self.len),
                ),
            ));
        }
        std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, self.start + offset)
            .map_err(|e| StoreError::io(&self.path, e))
    }
}

/// Remove an entry, file or folder.
fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_dir_all(path);
}

/// Move sealed folder `tmp` to `dir`. A rename that finds `dir` there lost a race with
/// another writer of the same key (EEXIST, ENOTEMPTY): the winner's entry is kept when it
/// verifies, and replaced by ours when it does not (a damaged or outdated leftover).
pub fn place_dir(tmp: &Path, dir: &Path, stage: Stage, key: &str) -> Result<()> {
    for _ in 0..3 {
        if std::fs::rename(tmp, dir).is_ok() {
            return Ok(());
        }
        if matches!(entry::verify_dir(dir, stage, key), Verdict::Good(())) {
            let _ = std::fs::remove_dir_all(tmp);
            return Ok(());
        }
        if dir.exists() {
            remove(dir);
        }
    }
    let _ = std::fs::remove_dir_all(tmp);
    Err(StoreError::Placement {
        path: dir.to_path_buf(),
    })
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// Entries removed.
    pub removed: u64,
    /// Of those, entries of an older format (removed whatever the size limit).
    pub outdated: u64,
    /// Bytes removed.
    pub removed_bytes: u64,
    /// Bytes kept.
    pub kept_bytes: u64,
    /// Entries that should have gone and could not be removed, each with why.
    pub failed: Vec<String>,
}

impl GcReport {
    /// Whether the store now holds at most what was asked, with nothing left that should
    /// have gone.
    pub fn complete(&self, max_bytes: u64) -> bool {
        self.failed.is_empty() && self.kept_bytes <= max_bytes
    }
}

/// Remove the least recently used entries until the store holds at most `max_bytes`.
/// Temporary files left by killed writers and entries of an older format are removed
/// first, whatever the limit. An entry that cannot be removed is reported, not skipped
/// in silence.
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
        let outdated = e.stage.is_some() && !stale_temp && entry::is_outdated(&e.path);
        if total <= max_bytes && !stale_temp && !outdated {
            continue;
        }
        let removed = if e.path.is_dir() {
            std::fs::remove_dir_all(&e.path)
        } else {
            std::fs::remove_file(&e.path)
        };
        match removed {
            Ok(()) => {
                total -= e.bytes;
                report.removed += 1;
                report.outdated += u64::from(outdated);
                report.removed_bytes += e.bytes;
            }
            Err(err) => report.failed.push(format!("{}: {err}", e.path.display())),
        }
    }
    report.kept_bytes = total;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Write entry `key` of `stage` holding `what`, as a file or a folder.
    fn put_any(s: &StageStore, stage: Stage, key: &str, what: &[u8]) {
        if stage.is_folder() {
            s.put_dir(stage, key, |tmp| {
                std::fs::write(tmp.join("data"), what).unwrap();
                Ok::<(), StoreError>(())
            })
            .unwrap();
        } else {
            s.put(stage, key, what).unwrap();
        }
    }

    /// Read entry `key` of `stage` back: the payload, or the folder's data file.
    fn get_any(s: &StageStore, stage: Stage, key: &str) -> Option<Vec<u8>> {
        if stage.is_folder() {
            s.get_dir(stage, key)
                .map(|d| std::fs::read(d.join("data")).unwrap())
        } else {
            s.get(stage, key)
        }
    }

    #[test]
    fn an_entry_copied_over_another_key_of_any_stage_is_damage_never_used() {
        // Every kind the store keeps, from its own list: kinds added later are covered.
        for stage in Stage::ALL {
            let d = tempfile::tempdir().unwrap();
            let s = StageStore::open(d.path()).unwrap();
            put_any(&s, stage, "aa01", b"first");
            put_any(&s, stage, "aa02", b"second");
            // A bad sync: entry aa01's bytes land under aa02's name, as a valid entry.
            let suffix = if stage.is_folder() { ".d" } else { "" };
            let one = s.path(stage, &format!("aa01{suffix}"));
            let two = s.path(stage, &format!("aa02{suffix}"));
            if stage.is_folder() {
                std::fs::remove_dir_all(&two).unwrap();
                std::fs::create_dir(&two).unwrap();
                for f in std::fs::read_dir(&one).unwrap() {
                    let f = f.unwrap().path();
                    std::fs::copy(&f, two.join(f.file_name().unwrap())).unwrap();
                }
            } else {
                std::fs::copy(&one, &two).unwrap();
            }
            assert_eq!(
                get_any(&s, stage, "aa02"),
                None,
                "{stage:?}: another key's bytes used"
            );
            assert!(!two.exists(), "{stage:?}: the damaged entry is removed");
            assert_eq!(get_any(&s, stage, "aa01").as_deref(), Some(&b"first"[..]));
            let c = s.counts()[&stage];
            assert_eq!((c.corrupt, c.hits, c.outdated), (1, 1, 0), "{stage:?}");
        }
    }

    /// A ranged entry is verified whole when opened (damage found then, never used),
    /// then reads exactly the payload's bytes, and refuses ranges past its end.
    #[test]
    fn ranges_read_a_verified_payload_and_nothing_past_it() {
        let d = tempfile::tempdir().unwrap();
        let s = StageStore::open(d.path()).unwrap();
        s.put(Stage::Vectors, "cc01", b"0123456789").unwrap();
        let r = s.open_ranges(Stage::Vectors, "cc01").unwrap();
        let mut buf = [0u8; 4];
        r.read_at(3, &mut buf).unwrap();
        assert_eq!(&buf, b"3456");
        r.read_at(6, &mut buf).unwrap();
        assert_eq!(&buf, b"6789");
        assert!(r.read_at(7, &mut buf).is_err());
        assert!(r.read_at(u64::MAX, &mut buf).is_err());
        assert_eq!(r.len(), 10);
        let path = s.path(Stage::Vectors, "cc01");
        let mut bytes = std::fs::read(&path).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert!(s.open_ranges(Stage::Vectors, "cc01").is_none());
        assert!(!path.exists(), "the damaged entry is removed");
        assert!(s.open_ranges(Stage::Vectors, "cc02").is_none());
        let c = s.counts()[&Stage::Vectors];
        assert_eq!((c.hits, c.corrupt, c.misses), (1, 1, 1));
    }

    #[test]
    fn an_entry_of_the_first_format_is_outdated_removed_and_collected() {
        let d = tempfile::tempdir().unwrap();
        let s = StageStore::open(d.path()).unwrap();
        s.put(Stage::Chunks, "bb01", b"new").unwrap();
        let old = s.path(Stage::Chunks, "bb02");
        let mut v1 = b"RTS1".to_vec();
        v1.extend_from_slice(&3u64.to_le_bytes());
        v1.extend_from_slice(&ragtune_core::sha256(b"old"));
        v1.extend_from_slice(b"old");
        std::fs::write(&old, &v1).unwrap();
        let report = gc(d.path(), u64::MAX).unwrap();
        assert_eq!((report.removed, report.outdated), (1, 1), "{report:?}");
        assert!(!old.exists() && s.get(Stage::Chunks, "bb01").is_some());
        std::fs::write(&old, &v1).unwrap();
        assert_eq!(s.get(Stage::Chunks, "bb02"), None);
        let c = s.counts()[&Stage::Chunks];
        assert_eq!((c.outdated, c.corrupt), (1, 0), "outdated is not damage");
        assert!(!old.exists());
    }

    #[test]
    fn a_writer_that_loses_the_rename_race_keeps_the_winners_entry() {
        let d = tempfile::tempdir().unwrap();
        let s = StageStore::open(d.path()).unwrap();
        let fill = |tmp: &Path| {
            std::fs::write(tmp.join("data"), b"same").unwrap();
            Ok::<(), StoreError>(())
        };
        let first = s.put_dir(Stage::Hnsw, "cc01", fill).unwrap();
        // The second writer's rename finds the folder there (ENOTEMPTY): not an error.
        let second = s.put_dir(Stage::Hnsw, "cc01", fill).unwrap();
        assert_eq!(first, second);
        assert!(s.get_dir(Stage::Hnsw, "cc01").is_some());
        // A damaged leftover in the way is replaced, not kept.
        std::fs::write(first.join("data"), b"diff").unwrap();
        s.put_dir(Stage::Hnsw, "cc01", fill).unwrap();
        assert_eq!(std::fs::read(first.join("data")).unwrap(), b"same");
        let leftovers = std::fs::read_dir(first.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary folder survives");
    }

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
