//! The bytes of one store entry, bound to the stage and key it is stored under.
//!
//! - A **file entry** is `RTS2`, the binding's length (u32 LE), the binding, the
//!   payload's length (u64 LE), the sha256 of binding and payload together, then the
//!   payload.
//! - A **folder entry**'s `CHECKSUMS` starts with the binding on a line of its own, then
//!   one `name length sha256` line per file, sorted.
//!
//! The binding is `ragtune-store 2 <stage> <key>`. It sits inside the checked content, so
//! an entry copied over another key's (a bad sync, a restored backup) is damaged there,
//! not silently another stage's result. Entries of the first format (`RTS1`, and
//! `CHECKSUMS` without a binding line) are recognised as outdated: recomputed and
//! replaced, never counted as damaged.

use std::path::Path;

use ragtune_core::sha256_hex;

use crate::stage::Stage;

/// The entry format this build writes.
pub const FORMAT: u32 = 2;
const MAGIC_V1: &[u8; 4] = b"RTS1";
const MAGIC: &[u8; 4] = b"RTS2";
/// The checksum file of a folder entry.
pub const CHECKSUMS: &str = "CHECKSUMS";
/// Bindings are short (a stage name and a 64-hex key); anything longer is damage, and is
/// refused before it is used as a length.
const MAX_BINDING: usize = 1024;

/// What an entry's bytes say against the stage and key they were read under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<T> {
    /// Intact, and written under this stage and key.
    Good(T),
    /// Written by an older format: recompute and replace it, it is not damage.
    Outdated,
    /// Unusable: why, in words.
    Damaged(String),
}

impl<T> Verdict<T> {
    /// The good value mapped by `f`; the other verdicts as they are.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Verdict<U> {
        match self {
            Verdict::Good(x) => Verdict::Good(f(x)),
            Verdict::Outdated => Verdict::Outdated,
            Verdict::Damaged(why) => Verdict::Damaged(why),
        }
    }
}

/// The line that binds an entry to where it is stored.
pub fn binding(stage: Stage, key: &str) -> String {
    format!("ragtune-store {FORMAT} {} {key}", stage.name())
}

/// The bytes of file entry `key` of `stage` holding `payload`.
pub fn encode(stage: Stage, key: &str, payload: &[u8]) -> Vec<u8> {
    let b = binding(stage, key);
    let mut checked = Vec::with_capacity(b.len() + payload.len());
    checked.extend_from_slice(b.as_bytes());
    checked.extend_from_slice(payload);
    let mut out = Vec::with_capacity(4 + 4 + b.len() + 8 + 32 + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b.as_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&ragtune_core::sha256(&checked));
    out.extend_from_slice(payload);
    out
}

/// A first-format file entry (`RTS1`, length, sha256 of the payload, payload): outdated
/// when intact, damaged when not (a flip that made `RTS2` read `RTS1` is damage).
fn first_format_file(bytes: &[u8]) -> Verdict<&[u8]> {
    let intact = bytes.len() >= 44 && {
        let (len, hash, payload) = (&bytes[4..12], &bytes[12..44], &bytes[44..]);
        u64::from_le_bytes(len.try_into().expect("8 bytes")) == payload.len() as u64
            && ragtune_core::sha256(payload).as_slice() == hash
    };
    if intact {
        Verdict::Outdated
    } else {
        Verdict::Damaged("a damaged entry of the first format".into())
    }
}

/// `b` split after `n` bytes, if it holds that many.
fn field(b: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (b.len() >= n).then(|| b.split_at(n))
}

/// The payload of file entry bytes read as `key` of `stage`.
pub fn verify_file<'b>(bytes: &'b [u8], stage: Stage, key: &str) -> Verdict<&'b [u8]> {
    if bytes.starts_with(MAGIC_V1) {
        return first_format_file(bytes);
    }
    let Some(rest) = bytes.strip_prefix(MAGIC) else {
        return Verdict::Damaged("not a store entry".into());
    };
    let Some((blen, rest)) = field(rest, 4) else {
        return Verdict::Damaged("truncated header".into());
    };
    let blen = u32::from_le_bytes(blen.try_into().expect("4 bytes")) as usize;
    if blen > MAX_BINDING {
        return Verdict::Damaged("impossible binding length".into());
    }
    let Some((bound, rest)) = field(rest, blen) else {
        return Verdict::Damaged("truncated binding".into());
    };
    let Some((plen, rest)) = field(rest, 8) else {
        return Verdict::Damaged("truncated header".into());
    };
    let Some((hash, payload)) = field(rest, 32) else {
        return Verdict::Damaged("truncated header".into());
    };
    if u64::from_le_bytes(plen.try_into().expect("8 bytes")) != payload.len() as u64 {
        return Verdict::Damaged(format!(
            "payload of {} bytes, header says otherwise",
            payload.len()
        ));
    }
    let mut checked = Vec::with_capacity(bound.len() + payload.len());
    checked.extend_from_slice(bound);
    checked.extend_from_slice(payload);
    if ragtune_core::sha256(&checked).as_slice() != hash {
        return Verdict::Damaged("checksum mismatch".into());
    }
    let want = binding(stage, key);
    if bound != want.as_bytes() {
        let got = String::from_utf8_lossy(bound);
        return Verdict::Damaged(format!("holds another entry ({got})"));
    }
    Verdict::Good(payload)
}

/// The `name length sha256` lines of the files in `dir` (not `CHECKSUMS`), sorted.
fn file_lines(dir: &Path) -> std::io::Result<Vec<String>> {
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
    Ok(lines)
}

/// The `CHECKSUMS` text that seals folder `dir` as `key` of `stage`.
pub fn seal(dir: &Path, stage: Stage, key: &str) -> std::io::Result<String> {
    let mut lines = vec![binding(stage, key)];
    lines.extend(file_lines(dir)?);
    Ok(lines.join("\n") + "\n")
}

/// Whether folder `dir` is intact and sealed as `key` of `stage`. Every file is read and
/// hashed: call it once, when the folder is opened.
pub fn verify_dir(dir: &Path, stage: Stage, key: &str) -> Verdict<()> {
    let sums = match std::fs::read_to_string(dir.join(CHECKSUMS)) {
        Ok(s) => s,
        Err(e) => return Verdict::Damaged(format!("{CHECKSUMS}: {e}")),
    };
    let mut lines = sums.lines();
    let first = lines.next().unwrap_or_default();
    if !first.starts_with("ragtune-store ") {
        return first_format_dir(dir, &sums);
    }
    if first != binding(stage, key) {
        return Verdict::Damaged(format!("holds another entry ({first})"));
    }
    let listed: Vec<&str> = lines.collect();
    match file_lines(dir) {
        Ok(files) if files == listed => Verdict::Good(()),
        Ok(_) => Verdict::Damaged("a file differs from its checksum".into()),
        Err(e) => Verdict::Damaged(e.to_string()),
    }
}

/// A folder sealed by the first format (`CHECKSUMS` of file lines alone): outdated when
/// every file matches its line, damaged when not.
fn first_format_dir(dir: &Path, sums: &str) -> Verdict<()> {
    match file_lines(dir) {
        Ok(files) if !files.is_empty() && files.iter().map(String::as_str).eq(sums.lines()) => {
            Verdict::Outdated
        }
        Ok(_) => Verdict::Damaged("a damaged folder of the first format".into()),
        Err(e) => Verdict::Damaged(e.to_string()),
    }
}

/// Re-seal folder `dir`, intact in the first format, as `key` of `stage`. For a run
/// folder's copy of a graph, whose folder name is its key: it stays what was scored.
pub fn reseal(dir: &Path, stage: Stage, key: &str) -> std::io::Result<()> {
    let sums = seal(dir, stage, key)?;
    ragtune_core::write_atomic(&dir.join(CHECKSUMS), sums.as_bytes())
}

/// Whether the entry at `path` (a file, or a folder with `CHECKSUMS`) was written by an
/// older format, judged by its first bytes alone (for `cache gc`).
pub fn is_outdated(path: &Path) -> bool {
    use std::io::Read;
    let file = if path.is_dir() {
        path.join(CHECKSUMS)
    } else {
        path.to_path_buf()
    };
    let mut head = [0u8; 14];
    let Ok(n) = std::fs::File::open(&file).and_then(|mut f| f.read(&mut head)) else {
        return false;
    };
    if path.is_dir() {
        n > 0 && !head[..n].starts_with(b"ragtune-store ")
    } else {
        head[..n].starts_with(MAGIC_V1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_entry_reads_back_only_under_its_own_stage_and_key() {
        let bytes = encode(Stage::Chunks, "ab12", b"payload");
        assert_eq!(
            verify_file(&bytes, Stage::Chunks, "ab12"),
            Verdict::Good(&b"payload"[..])
        );
        for (stage, key) in [(Stage::Chunks, "ab13"), (Stage::Vectors, "ab12")] {
            let Verdict::Damaged(why) = verify_file(&bytes, stage, key) else {
                panic!("read under {stage:?} {key}");
            };
            assert!(why.contains("holds another entry"), "{why}");
        }
        // Every byte matters: a flip anywhere is damage, never another payload.
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(
                matches!(verify_file(&b, Stage::Chunks, "ab12"), Verdict::Damaged(_)),
                "flip at {i}"
            );
        }
        // Truncated anywhere, or with an absurd binding length: damage, no panic.
        for n in 0..bytes.len() {
            assert!(matches!(
                verify_file(&bytes[..n], Stage::Chunks, "ab12"),
                Verdict::Damaged(_)
            ));
        }
        let mut huge = bytes.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            verify_file(&huge, Stage::Chunks, "ab12"),
            Verdict::Damaged(_)
        ));
    }

    #[test]
    fn the_first_format_is_outdated_not_damaged() {
        let mut v1 = b"RTS1".to_vec();
        v1.extend_from_slice(&7u64.to_le_bytes());
        v1.extend_from_slice(&ragtune_core::sha256(b"payload"));
        v1.extend_from_slice(b"payload");
        assert_eq!(verify_file(&v1, Stage::Chunks, "k"), Verdict::Outdated);
        // A flip that turns a new entry's magic into the old one's is damage, not age.
        let mut flipped = encode(Stage::Chunks, "k", b"payload");
        flipped[3] = b'1';
        assert!(matches!(
            verify_file(&flipped, Stage::Chunks, "k"),
            Verdict::Damaged(_)
        ));
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a"), b"one").unwrap();
        let p = d.path().join("v1");
        std::fs::write(&p, &v1).unwrap();
        assert!(is_outdated(&p));
        std::fs::write(&p, encode(Stage::Chunks, "k", b"x")).unwrap();
        assert!(!is_outdated(&p));
    }

    #[test]
    fn a_folder_is_bound_to_its_key_and_every_file_checked() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a"), b"one").unwrap();
        let sums = seal(d.path(), Stage::Hnsw, "k1").unwrap();
        std::fs::write(d.path().join(CHECKSUMS), &sums).unwrap();
        assert_eq!(verify_dir(d.path(), Stage::Hnsw, "k1"), Verdict::Good(()));
        assert!(matches!(
            verify_dir(d.path(), Stage::Hnsw, "k2"),
            Verdict::Damaged(_)
        ));
        assert!(matches!(
            verify_dir(d.path(), Stage::Bm25, "k1"),
            Verdict::Damaged(_)
        ));
        std::fs::write(d.path().join("a"), b"onf").unwrap();
        assert!(matches!(
            verify_dir(d.path(), Stage::Hnsw, "k1"),
            Verdict::Damaged(_)
        ));
        // A first-format CHECKSUMS has no binding line: outdated when its files match it,
        // damaged when they do not, and re-sealed it reads back bound.
        std::fs::write(d.path().join(CHECKSUMS), "a 3 abc\n").unwrap();
        assert!(matches!(
            verify_dir(d.path(), Stage::Hnsw, "k1"),
            Verdict::Damaged(_)
        ));
        let v1 = file_lines(d.path()).unwrap().join("\n") + "\n";
        std::fs::write(d.path().join(CHECKSUMS), v1).unwrap();
        assert_eq!(verify_dir(d.path(), Stage::Hnsw, "k1"), Verdict::Outdated);
        assert!(is_outdated(d.path()));
        reseal(d.path(), Stage::Hnsw, "k1").unwrap();
        assert_eq!(verify_dir(d.path(), Stage::Hnsw, "k1"), Verdict::Good(()));
    }
}
