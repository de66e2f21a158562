use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn datasets() -> PathBuf {
    let d = root().join("../shared/datasets");
    assert!(
        d.is_dir(),
        "the shared datasets are expected at {}",
        d.display()
    );
    d
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

fn finish(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The real binary, to run in `cwd` with the bundled models.
pub fn command(cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ragtune"));
    c.current_dir(cwd)
        .env("RAGTUNE_MODELS_DIR", root().join("models"));
    c
}

/// `sweep GRID --out OUT --cache-dir CACHE`.
pub fn sweep_args(grid: &Path, out: &Path, cache: &Path) -> Vec<String> {
    let p = |p: &Path| p.to_str().unwrap().to_string();
    let (grid, out, cache) = (p(grid), p(out), p(cache));
    ["sweep", &grid, "--out", &out, "--cache-dir", &cache]
        .map(String::from)
        .to_vec()
}

/// Run the real binary in `cwd`.
pub fn ragtune(cwd: &Path, args: &[&str]) -> Run {
    let out = command(cwd)
        .args(args)
        .output()
        .expect("the ragtune binary runs");
    finish(out)
}

/// Like [`ragtune`], asserting success.
pub fn ragtune_ok(cwd: &Path, args: &[&str]) -> Run {
    let r = ragtune(cwd, args);
    assert_eq!(
        r.code, 0,
        "ragtune {args:?} failed:\n{}\n{}",
        r.stdout, r.stderr
    );
    r
}

pub fn python() -> String {
    std::env::var("RAGTUNE_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Run a Python script of the test suite, asserting success; returns stdout.
pub fn python_ok(script: &str, args: &[&str]) -> String {
    let out = Command::new(python())
        .arg(root().join("tests/cli").join(script))
        .args(args)
        .output()
        .expect("python runs (set RAGTUNE_PYTHON, see scripts/test.sh)");
    let r = finish(out);
    assert_eq!(
        r.code, 0,
        "{script} {args:?} failed:\n{}\n{}",
        r.stdout, r.stderr
    );
    r.stdout
}

/// Write a grid file into `dir`.
pub fn grid(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Write `dir/file`: a grid called `name` over the bundled quickstart corpus (its docs and
/// labelled questions), with `tables` (`[grid]` and what follows) after the corpus.
pub fn quickstart_grid(dir: &Path, file: &str, name: &str, tables: &str) -> PathBuf {
    let qs = root().join("corpora/quickstart");
    let corpus = format!(
        "format = \"dir\"\npath = \"{}\"\nquestions = \"{}\"",
        qs.join("docs").display(),
        qs.join("questions.jsonl").display()
    );
    corpus_grid(dir, file, name, &corpus, tables)
}

/// Write `dir/file`: a grid called `name` over the Chroma chunking corpora named in
/// `include` (from ../shared/datasets), with `tables` (`[grid]` and what follows).
pub fn chroma_grid(dir: &Path, file: &str, name: &str, include: &[&str], tables: &str) -> PathBuf {
    let corpus = format!(
        "format = \"chroma\"\npath = \"{}\"\ninclude = {include:?}",
        datasets().join("chroma-chunking").display()
    );
    corpus_grid(dir, file, name, &corpus, tables)
}

/// Write `dir/file`: `name`, the `[corpus]` table's `corpus` lines, then `tables`.
fn corpus_grid(dir: &Path, file: &str, name: &str, corpus: &str, tables: &str) -> PathBuf {
    let text = format!(
        "name = \"{name}\"\n[corpus]\n{corpus}\n{}",
        tables.trim_start_matches('\n')
    );
    grid(dir, file, &text)
}

/// Copy the folder `from` to `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A run folder's point records (`points/*.json`), in config-id order.
pub fn read_points(run: &Path) -> Vec<serde_json::Value> {
    let mut points: Vec<serde_json::Value> = std::fs::read_dir(run.join("points"))
        .unwrap()
        .map(|e| read_json(&e.unwrap().path()))
        .collect();
    points.sort_by_key(|p| p["config_id"].as_str().unwrap().to_string());
    points
}

/// The element of JSON array `array` whose `key` equals `value` (a manifest's embedding
/// record, stage or model, a report's row), failing the test with the array when none
/// does.
pub fn entry<'a>(array: &'a serde_json::Value, key: &str, value: &str) -> &'a serde_json::Value {
    array
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {array}"))
        .iter()
        .find(|e| e[key] == value)
        .unwrap_or_else(|| panic!("no element with {key} = {value:?} in {array}"))
}

/// `ragtune sweep GRID --out OUT --cache-dir CACHE` in `cwd`, asserting success.
pub fn sweep_ok(cwd: &Path, grid: &Path, out: &Path, cache: &Path) -> Run {
    let args = sweep_args(grid, out, cache);
    ragtune_ok(cwd, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Run inline Python `code` with `args`, asserting success.
pub fn python_inline_ok(code: &str, args: &[&str]) {
    let out = Command::new(python())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A spawned server (stderr piped) and the `http://…` address it says it listens on, read
/// from its stderr, which is then drained so that the server never blocks on a full pipe.
pub fn listening(child: std::process::Child) -> (std::process::Child, String) {
    let (child, base, _) = listening_after(child);
    (child, base)
}

/// [`listening`], with the lines the server wrote before its address.
pub fn listening_after(
    mut child: std::process::Child,
) -> (std::process::Child, String, Vec<String>) {
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut before = Vec::new();
    let base = loop {
        let line = lines
            .next()
            .expect("the server exited before listening")
            .unwrap();
        if let Some(i) = line.find("http://") {
            break line[i..].split_whitespace().next().unwrap().to_string();
        }
        before.push(line);
    };
    std::thread::spawn(move || for _ in lines {});
    (child, base, before)
}
