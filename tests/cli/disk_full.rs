//! A sweep that runs out of disk exits 2 with the file and the cause, and leaves the store
//! and run folder consistent: rerun with `--resume` once space is free, it finishes with
//! the tables of an uninterrupted run.
//!
//! The disk fills through a file-size limit (`prlimit --fsize`, with SIGXFSZ ignored so
//! that writes fail with EFBIG as they would with ENOSPC): it needs no privileges, and
//! each limit stops the sweep in a different stage.

use crate::util::*;

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn a_full_disk_exits_2_and_the_sweep_resumes_to_the_same_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = root().join("grids/quickstart.toml");
    let reference = tmp.path().join("reference");
    sweep_ok(tmp.path(), &grid, &reference, &tmp.path().join("cache-ref"));
    // 512 B: the first manifest; 4 KiB: the BM25 index; 16 and 64 KiB: stored vectors.
    for limit in [512, 4096, 16384, 65536] {
        let out = tmp.path().join(format!("run{limit}"));
        let cache = tmp.path().join(format!("cache{limit}"));
        let sweep = format!(
            "{} sweep {} --out {} --cache-dir {}",
            env!("CARGO_BIN_EXE_ragtune"),
            grid.display(),
            out.display(),
            cache.display()
        );
        let r = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "trap '' XFSZ; exec prlimit --fsize={limit} {sweep}"
            ))
            .current_dir(tmp.path())
            .env("RAGTUNE_MODELS_DIR", root().join("models"))
            .output()
            .expect("sh runs");
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(
            !stderr.contains("prlimit: "),
            "prlimit (util-linux) is needed: {stderr}"
        );
        assert_eq!(r.status.code(), Some(2), "limit {limit}: {stderr}");
        let errors: Vec<_> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "limit {limit}: {stderr}");
        assert!(
            errors[0].contains("File too large"),
            "limit {limit}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "limit {limit}: {stderr}");
        assert!(!out.join("results.parquet").exists(), "limit {limit}");
        let (o, c) = (out.to_str().unwrap(), cache.to_str().unwrap());
        let args = [
            "sweep",
            grid.to_str().unwrap(),
            "--out",
            o,
            "--cache-dir",
            c,
        ];
        ragtune_ok(tmp.path(), &[&args[..], &["--resume"]].concat());
        python_ok("same_tables.py", &[reference.to_str().unwrap(), o]);
    }
}
