//! indicatif progress bars on stderr, behind the sweep's `Reporter` trait: one bar per
//! stage kind (chunk, embed, hnsw, rank, score), each growing as work is planned.

use std::collections::BTreeMap;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use ragtune_sweep::Reporter;

/// One bar per stage kind on stderr (hidden when stderr is not a terminal).
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<BTreeMap<String, ProgressBar>>,
}

impl Bars {
    pub fn new() -> Self {
        Self {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(BTreeMap::new()),
        }
    }

    fn bar(&self, kind: &str) -> ProgressBar {
        let mut bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        bars.entry(kind.to_string())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new(0));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{msg:8} [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_message(kind.to_string());
                bar
            })
            .clone()
    }
}

impl Reporter for Bars {
    fn add(&self, kind: &str, total: u64) {
        self.bar(kind).inc_length(total);
    }
    fn inc(&self, kind: &str, n: u64) {
        self.bar(kind).inc(n);
    }
    fn warn(&self, message: &str) {
        // Above the bars when they are drawn; plainly on stderr otherwise.
        if self.multi.is_hidden() {
            eprintln!("ragtune: warning: {message}");
        } else {
            let _ = self.multi.println(format!("ragtune: warning: {message}"));
        }
    }
    fn finish(&self) {
        for b in self.bars.lock().unwrap_or_else(|p| p.into_inner()).values() {
            b.finish_and_clear();
        }
    }
}
