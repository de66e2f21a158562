//! `ragtune report`: one self-contained page, opened in real headless Chromium, with every
//! plot rendered.

use crate::util::*;

/// Chromium from `RAGTUNE_CHROMIUM`, else `chromium` on the PATH (scripts/test.sh installs
/// Debian's package).
fn chromium() -> String {
    std::env::var("RAGTUNE_CHROMIUM").unwrap_or_else(|_| "chromium".into())
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv, Chromium and ../shared/datasets; run scripts/test.sh"]
fn the_quickstart_report_is_self_contained_and_every_plot_renders() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    // The quickstart searched by halving, so that the search plot is drawn as well.
    let text = std::fs::read_to_string(root().join("grids/quickstart.toml"))
        .unwrap()
        .replace("../corpora", &root().join("corpora").display().to_string());
    let grid = grid(
        tmp.path(),
        "qs.toml",
        &format!("{text}\n[search]\nstrategy = \"halving\"\nmin_questions = 20\n"),
    );
    sweep_ok(tmp.path(), &grid, &run, &tmp.path().join("cache"));
    ragtune_ok(tmp.path(), &["report", "--run", run.to_str().unwrap()]);
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    // Self-contained: nothing is fetched, nothing runs.
    for banned in ["<script", "src=", "href=", "@import", "url("] {
        assert!(!html.contains(banned), "report.html holds {banned:?}");
    }
    assert_eq!(
        html.matches("<svg").count(),
        8,
        "seven plots (three cost frontiers) and the search's"
    );
    let shot = tmp.path().join("report.png");
    let out = std::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1100,4600",
            &format!("--screenshot={}", shot.display()),
            &format!("file://{}", run.join("report.html").display()),
        ])
        .output()
        .expect(
            "Chromium runs (scripts/test.sh installs Debian's chromium; or set RAGTUNE_CHROMIUM)",
        );
    assert!(
        shot.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Each plot's accent rule is a colour of its own: all eight must be on the screenshot.
    let accents = ragtune_results_accents();
    assert_eq!(accents.len(), 8, "{accents:?}");
    python_ok(
        "screenshot_colors.py",
        &[shot.to_str().unwrap(), &accents.join(",")],
    );
}

/// The plots' accent colours, as the report module declares them.
fn ragtune_results_accents() -> Vec<String> {
    let src = std::fs::read_to_string(root().join("crates/ragtune-results/src/report.rs")).unwrap();
    let start = src.find("pub const ACCENTS").unwrap();
    let decl = &src[start..start + src[start..].find("];").unwrap()];
    decl.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}
