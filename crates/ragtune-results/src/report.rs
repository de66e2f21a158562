//! `report.html`: one self-contained page per run. Plots are inline SVG; the page fetches
//! no script, font or style from anywhere, so it opens offline and in CI artefacts.
//!
//! 1. The objective per setup, with its 95% interval (top setups).
//! 2. Recall at every k for the top setups.
//! 3. The cost frontiers: the objective against context tokens, against p99 query latency
//!    and against index memory, Pareto-optimal setups highlighted and listed.
//! 4. A chunking × retriever heatmap of the best objective in each cell.
//! 5. The per-question win/loss matrix of the top setups.
//! 6. The run's facts (corpus, models, device, cache hits, stage times).
//! 7. Questions the best setup misses at the objective's k, with where their labelled
//!    answers lie ("file, p. N" for documents with pages).
//!
//! Each plot's frame carries an accent rule of its own colour ([`ACCENTS`]), so a
//! screenshot shows which plots rendered.

use std::collections::BTreeMap;
use std::fmt::Write;

use ragtune_eval::{Limits, Metric, Objective, PointRecord, ResultRow, judged_row};

use crate::{Stats, stats_of};

/// Rows at the objective's k, best first ([`crate::ranked`]).
type Ranked<'r> = [(&'r PointRecord, &'r ResultRow, f64)];

/// The accent colour of each plot, in page order (an RGB hex triple).
pub const ACCENTS: [&str; 8] = [
    "#d62728", "#2ca02c", "#9467bd", "#8c6d31", "#e7ba52", "#ff7f0e", "#17becf", "#7b4173",
];

const SERIES: [&str; 6] = [
    "#1f77b4", "#e377c2", "#8c564b", "#bcbd22", "#7f7f7f", "#393b79",
];
const TOP: usize = 25;
const TOP_CURVES: usize = 5;
const TOP_MATRIX: usize = 6;

/// What the report shows.
pub struct ReportInput<'a> {
    /// The grid's name.
    pub title: &'a str,
    /// The sweep's objective.
    pub objective: Objective,
    /// `[select]`'s limits.
    pub limits: Limits,
    /// Every scored setup.
    pub records: &'a [PointRecord],
    /// Their interval statistics ([`crate::row_stats`]).
    pub stats: &'a Stats,
    /// The run's facts, as label and value.
    pub facts: Vec<(String, String)>,
    /// A `[search]`'s rungs or stages, in order (empty for a full grid).
    pub steps: Vec<StepBar>,
    /// Questions the best setup misses, with where their answers are (at most a few).
    pub missed: Vec<Missed>,
    /// How many questions it misses in all.
    pub missed_total: usize,
}

/// A question the best setup misses, and where its labelled answers are.
#[derive(Debug, Clone, PartialEq)]
pub struct Missed {
    /// The question's id.
    pub id: String,
    /// The question.
    pub text: String,
    /// Where its answers lie: "file, p. 3", or the document for a document label.
    pub gold: Vec<String>,
}

/// The table of missed questions, when there are any.
fn missed_table(input: &ReportInput) -> String {
    if input.missed.is_empty() {
        return String::new();
    }
    let mut rows = String::new();
    for m in &input.missed {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&m.id),
            esc(&m.text),
            esc(&m.gold.join("; "))
        );
    }
    format!(
        "<section><h2>Questions the best setup misses ({} of {} shown)</h2>\
         <table class=\"missed\"><tr><th>question</th><th>text</th><th>answer at</th></tr>{rows}</table>\
         <p class=\"note\">A question is missed when its objective is 0 at the objective's k. `ragtune explain --question ID` traces one.</p></section>",
        input.missed.len(),
        input.missed_total
    )
}

/// One rung or stage of a search, as the report draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepBar {
    /// `rung 0`, `stage 1 (retriever+model+index)`.
    pub label: String,
    /// Setups scored.
    pub setups: usize,
    /// Setups passed on.
    pub kept: usize,
    /// What it scored on, in words.
    pub data: String,
}

/// The search's rungs or stages: setups scored (light) and passed on (dark) per step.
fn search_plot(input: &ReportInput) -> String {
    if input.steps.is_empty() {
        return String::new();
    }
    let max = input
        .steps
        .iter()
        .map(|s| s.setups)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let (w, row) = (900.0, 30.0);
    let h = 30.0 + row * input.steps.len() as f64;
    let (x0, x1) = (210.0, 560.0);
    let mut body = String::new();
    for (i, s) in input.steps.iter().enumerate() {
        let y = 22.0 + row * i as f64;
        let scale = |n: usize| (x1 - x0) * n as f64 / max;
        let _ = write!(
            body,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{}</text>\
             <rect x=\"{x0}\" y=\"{y}\" width=\"{:.1}\" height=\"18\" fill=\"{}\" opacity=\"0.3\"/>\
             <rect x=\"{x0}\" y=\"{y}\" width=\"{:.1}\" height=\"18\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"11\">{} scored, {} kept; {}</text>",
            x0 - 8.0,
            y + 13.0,
            esc(&s.label),
            scale(s.setups).max(1.0),
            ACCENTS[7],
            scale(s.kept).max(1.0),
            ACCENTS[7],
            x1 + 8.0,
            y + 13.0,
            s.setups,
            s.kept,
            esc(&s.data)
        );
    }
    let note = "<p class=\"note\">Light: setups scored at each step; dark: setups passed on. A halving rung ranks by the lower bound of the objective's 95% interval on its screen; only the last rung's setups, scored on all the data, compete for best.</p>";
    frame(
        7,
        "search",
        "The search: setups per step",
        w,
        h,
        &body,
        note,
    )
}

/// XML-escaped text.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An SVG frame of `w`×`h` with the plot's accent rule, around `body`.
fn frame(i: usize, id: &str, title: &str, w: f64, h: f64, body: &str, note: &str) -> String {
    format!(
        "<figure id=\"{id}\"><figcaption>{}</figcaption>\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\">\
         <rect x=\"0\" y=\"0\" width=\"{w}\" height=\"6\" fill=\"{}\"/>{body}</svg>{note}</figure>\n",
        esc(title),
        ACCENTS[i]
    )
}

/// A horizontal axis from `lo` to `hi` mapped onto `[x0, x1]` at height `y`, with ticks.
fn x_axis(out: &mut String, (lo, hi): (f64, f64), (x0, x1): (f64, f64), y: f64) {
    let _ = write!(
        out,
        "<line x1=\"{x0}\" y1=\"{y}\" x2=\"{x1}\" y2=\"{y}\" stroke=\"#444\"/>"
    );
    for t in 0..=4 {
        let v = lo + (hi - lo) * t as f64 / 4.0;
        let x = x0 + (x1 - x0) * t as f64 / 4.0;
        let _ = write!(
            out,
            "<line x1=\"{x}\" y1=\"{y}\" x2=\"{x}\" y2=\"{}\" stroke=\"#444\"/>\
             <text x=\"{x}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            y + 4.0,
            y + 16.0,
            tick(v)
        );
    }
}

/// A value range from `floor(min, 0.1)` to 1 that holds `values`: scores near the top of
/// [0, 1] stay readable.
fn unit_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let lo = values.fold(1.0f64, f64::min);
    (((lo * 10.0).floor() / 10.0).clamp(0.0, 0.9), 1.0)
}

/// A vertical axis from `lo` to `hi` mapped onto `[y0, y1]` (bottom, top) at `x`.
fn y_axis(out: &mut String, (lo, hi): (f64, f64), (y0, y1): (f64, f64), (x, x_end): (f64, f64)) {
    for t in 0..=4 {
        let v = lo + (hi - lo) * t as f64 / 4.0;
        let y = y0 - (y0 - y1) * t as f64 / 4.0;
        let _ = write!(
            out,
            "<line x1=\"{x}\" y1=\"{y}\" x2=\"{x_end}\" y2=\"{y}\" stroke=\"#eee\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{v:.2}</text>",
            x - 6.0,
            y + 4.0
        );
    }
}

fn tick(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Plot 1: the objective per setup with interval bars, best first.
fn objective_plot(input: &ReportInput, ranked: &Ranked) -> String {
    let o = input.objective;
    let shown = &ranked[..ranked.len().min(TOP)];
    let (w, row_h, left) = (980.0, 18.0, 560.0);
    let h = 40.0 + row_h * shown.len() as f64 + 30.0;
    let ci = |rec: &PointRecord, row: &ResultRow| {
        stats_of(input.stats, rec, row).and_then(|s| s.interval(o.metric))
    };
    let range = unit_range(
        shown
            .iter()
            .map(|(rec, row, v)| ci(rec, row).map_or(*v, |c| c.0)),
    );
    let x =
        |v: f64| left + (w - left - 30.0) * ((v - range.0) / (range.1 - range.0)).clamp(0.0, 1.0);
    let mut body = String::new();
    for (n, (rec, row, v)) in shown.iter().enumerate() {
        let y = 30.0 + row_h * n as f64 + row_h / 2.0;
        let s = stats_of(input.stats, rec, row);
        let near = s.and_then(|s| s.near_best()).unwrap_or(false);
        if let Some((lo, hi)) = ci(rec, row) {
            let _ = write!(
                body,
                "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#555\" stroke-width=\"2\"/>",
                x(lo),
                x(hi)
            );
        }
        let _ = write!(
            body,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text>\
             <circle cx=\"{}\" cy=\"{y}\" r=\"4\" fill=\"{}\"><title>{} = {v:.3}</title></circle>",
            left - 8.0,
            y + 4.0,
            esc(&rec.label),
            x(*v),
            if near { "#1f77b4" } else { "#aaa" },
            esc(&rec.label)
        );
    }
    x_axis(&mut body, range, (left, w - 30.0), h - 30.0);
    let note = format!(
        "<p class=\"note\">{} of {} setups shown, best first; bars are 95% intervals over questions; blue dots are not significantly worse than the best.</p>",
        shown.len(),
        ranked.len()
    );
    frame(
        0,
        "objective",
        &format!("{o} per setup"),
        w,
        h,
        &body,
        &note,
    )
}

/// The recall metric of the objective's family: span recall for span objectives.
fn recall_metric(o: Objective) -> Metric {
    if o.metric.name().starts_with("span_") {
        Metric::SpanRecall
    } else {
        Metric::Recall
    }
}

/// Plot 2: recall at every k for the top setups.
fn recall_plot(input: &ReportInput, ranked: &Ranked) -> String {
    let m = recall_metric(input.objective);
    let top: Vec<&PointRecord> = ranked.iter().take(TOP_CURVES).map(|r| r.0).collect();
    let ks: Vec<u32> = top
        .first()
        .map(|r| {
            let mut ks: Vec<u32> = r.rows.iter().map(|row| row.top_k).collect();
            ks.sort_unstable();
            ks.dedup();
            ks
        })
        .unwrap_or_default();
    let (w, h, x0, x1, y0, y1) = (980.0, 320.0, 60.0, 560.0, 290.0, 30.0);
    let kmax = ks.iter().copied().max().unwrap_or(1).max(1) as f64;
    let px = |k: u32| x0 + (x1 - x0) * (k as f64 / kmax);
    let range = unit_range(
        top.iter()
            .flat_map(|r| r.rows.iter().filter_map(|row| row.metrics.get(m))),
    );
    let py = |v: f64| y0 - (y0 - y1) * ((v - range.0) / (range.1 - range.0)).clamp(0.0, 1.0);
    let mut body = String::new();
    y_axis(&mut body, range, (y0, y1), (x0, x1));
    let _ = write!(
        body,
        "<line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\" stroke=\"#444\"/>"
    );
    for &k in &ks {
        let _ = write!(
            body,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">k={k}</text>",
            px(k),
            y0 + 16.0
        );
    }
    for (n, rec) in top.iter().enumerate() {
        let pts: Vec<String> = ks
            .iter()
            .filter_map(|&k| {
                let v = judged_row(rec, k as usize)?.metrics.get(m)?;
                Some(format!("{:.1},{:.1}", px(k), py(v)))
            })
            .collect();
        let color = SERIES[n % SERIES.len()];
        let _ = write!(
            body,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>\
             <rect x=\"580\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{color}\"/>\
             <text x=\"598\" y=\"{}\" font-size=\"11\">{}</text>",
            pts.join(" "),
            40.0 + 18.0 * n as f64,
            50.0 + 18.0 * n as f64,
            esc(&rec.label)
        );
    }
    let title = format!("{}@k of the top {} setups", m.name(), top.len());
    frame(1, "recall", &title, w, h, &body, "")
}

/// Setups on a cost frontier: no other setup has a higher objective for at most the same
/// cost. Sorted by cost.
fn pareto<'r>(points: &[(&'r PointRecord, f64, f64)]) -> Vec<(&'r PointRecord, f64, f64)> {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a.1.total_cmp(&b.1).then(b.2.total_cmp(&a.2)));
    let mut best = f64::NEG_INFINITY;
    sorted
        .into_iter()
        .filter(|p| {
            let keep = p.2 > best;
            best = best.max(p.2);
            keep
        })
        .collect()
}

/// What a cost frontier puts on its horizontal axis.
#[derive(Debug, Clone, Copy)]
enum CostAxis {
    /// Mean context tokens at the objective's k.
    ContextTokens,
    /// `query_ms_p99`.
    P99Ms,
    /// `index_bytes`, drawn in MB.
    IndexMb,
}

impl CostAxis {
    fn of(self, row: &ResultRow) -> f64 {
        match self {
            CostAxis::ContextTokens => row.context_tokens,
            CostAxis::P99Ms => row.costs.query_ms_p99,
            CostAxis::IndexMb => row.costs.index_bytes as f64 / 1e6,
        }
    }
    /// Accent index, element id, what the axis shows, its column's unit, and its limit.
    fn parts(
        self,
        limits: &Limits,
    ) -> (usize, &'static str, &'static str, &'static str, Option<f64>) {
        match self {
            CostAxis::ContextTokens => (
                2,
                "frontier",
                "mean context tokens",
                "context tokens",
                limits.max_context_tokens,
            ),
            CostAxis::P99Ms => (
                3,
                "frontier-latency",
                "p99 query latency",
                "p99 ms",
                limits.max_p99_ms,
            ),
            CostAxis::IndexMb => (
                4,
                "frontier-memory",
                "index memory",
                "index MB",
                limits.max_index_bytes.map(|b| b as f64 / 1e6),
            ),
        }
    }
}

/// Plot 3: the objective against a cost, with the Pareto frontier listed and the cost's
/// `[select]` limit, when set, drawn as a dashed line.
fn frontier_plot(input: &ReportInput, axis: CostAxis) -> String {
    let o = input.objective;
    let (accent, id, shows, unit, limit) = axis.parts(&input.limits);
    let points: Vec<(&PointRecord, f64, f64)> = input
        .records
        .iter()
        .filter_map(|r| {
            let row = judged_row(r, o.k)?;
            Some((r, axis.of(row), row.metrics.get(o.metric)?))
        })
        .collect();
    let front = pareto(&points);
    let xmax = points.iter().map(|p| p.1).chain(limit).fold(1e-9, f64::max);
    let (w, h, x0, x1, y0, y1) = (980.0, 340.0, 60.0, 940.0, 300.0, 30.0);
    let px = |v: f64| x0 + (x1 - x0) * (v / xmax);
    let range = unit_range(points.iter().map(|p| p.2));
    let py = |v: f64| y0 - (y0 - y1) * ((v - range.0) / (range.1 - range.0)).clamp(0.0, 1.0);
    let mut body = String::new();
    y_axis(&mut body, range, (y0, y1), (x0, x1));
    x_axis(&mut body, (0.0, xmax), (x0, x1), y0);
    if let Some(m) = limit {
        let _ = write!(
            body,
            "<line x1=\"{x:.1}\" y1=\"{y1}\" x2=\"{x:.1}\" y2=\"{y0}\" stroke=\"#d62728\" stroke-dasharray=\"4 3\"><title>limit {m}</title></line>",
            x = px(m)
        );
    }
    for (r, x, y) in &points {
        let _ = write!(
            body,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#bbb\"><title>{}</title></circle>",
            px(*x),
            py(*y),
            esc(&r.label)
        );
    }
    front_line(&mut body, &front, &px, &py);
    let mut note =
        format!("<table><tr><th>{unit}</th><th>objective</th><th>setup (Pareto-optimal)</th></tr>");
    for (r, x, y) in &front {
        let _ = write!(
            note,
            "<tr><td>{}</td><td>{y:.3}</td><td>{}</td></tr>",
            tick(*x),
            esc(&r.label)
        );
    }
    note.push_str("</table>");
    let title = format!("Cost frontier: {o} against {shows} at k = {}", o.k);
    frame(accent, id, &title, w, h, &body, &note)
}

/// The frontier as a line through its setups.
fn front_line(
    body: &mut String,
    front: &[(&PointRecord, f64, f64)],
    px: &dyn Fn(f64) -> f64,
    py: &dyn Fn(f64) -> f64,
) {
    let line: Vec<String> = front
        .iter()
        .map(|(_, x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
        .collect();
    let _ = write!(
        body,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#9467bd\" stroke-width=\"2\"/>",
        line.join(" ")
    );
    for (_, x, y) in front {
        let _ = write!(
            body,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"5\" fill=\"#9467bd\"/>",
            px(*x),
            py(*y)
        );
    }
}

/// `(chunking, retriever)` of a setup label such as `chars/300/0 hybrid rrf(k=60) …`.
fn split_label(label: &str) -> (&str, &str) {
    label.split_once(' ').unwrap_or((label, ""))
}

/// Plot 4: the best objective for each chunking (rows) and retriever (columns).
fn heatmap_plot(input: &ReportInput) -> String {
    let o = input.objective;
    let mut cells: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    for r in input.records {
        let Some(v) = judged_row(r, o.k).and_then(|row| row.metrics.get(o.metric)) else {
            continue;
        };
        let key = split_label(&r.label);
        let e = cells.entry(key).or_insert(v);
        *e = e.max(v);
    }
    let rows: Vec<&str> = cells
        .keys()
        .map(|k| k.0)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let cols: Vec<&str> = cells
        .keys()
        .map(|k| k.1)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let (cw, ch, left, top) = (64.0, 20.0, 170.0, 34.0);
    let w = (left + cw * cols.len() as f64 + 20.0).max(400.0);
    let h = top + ch * rows.len() as f64 + 20.0;
    let (lo, hi) = cells
        .values()
        .fold((1.0f64, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
    let mut body = String::new();
    for j in 0..cols.len() {
        let x = left + cw * j as f64 + cw / 2.0;
        let _ = write!(
            body,
            "<text x=\"{x}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            top - 6.0,
            j + 1
        );
    }
    for (i, row) in rows.iter().enumerate() {
        let y = top + ch * i as f64;
        let _ = write!(
            body,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            left - 6.0,
            y + 14.0,
            esc(row)
        );
        for (j, col) in cols.iter().enumerate() {
            let x = left + cw * j as f64;
            let Some(v) = cells.get(&(*row, *col)) else {
                continue;
            };
            let t = if hi > lo { (v - lo) / (hi - lo) } else { 1.0 };
            let shade = (235.0 - 175.0 * t) as u8;
            let _ = write!(
                body,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"{}\" fill=\"rgb({shade},{shade},255)\"><title>{} {}: {v:.3}</title></rect>\
                 <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{v:.2}</text>",
                cw - 2.0,
                ch - 2.0,
                esc(row),
                esc(col),
                x + cw / 2.0,
                y + 14.0
            );
        }
    }
    let mut note = String::from("<ol class=\"cols\">");
    for c in &cols {
        let _ = write!(note, "<li>{}</li>", esc(c));
    }
    note.push_str("</ol><p class=\"note\">Column numbers are the retrievers listed above; each cell is the best setup in it.</p>");
    let title = format!("Best {o} by chunking (rows) and retriever (columns)");
    frame(5, "heatmap", &title, w, h, &body, &note)
}

/// Plot 5: for the top setups, row A against column B: questions A wins minus questions B
/// wins on the objective.
fn winloss_plot(input: &ReportInput, ranked: &Ranked) -> String {
    let o = input.objective;
    let top: Vec<&PointRecord> = ranked.iter().take(TOP_MATRIX).map(|r| r.0).collect();
    let values: Vec<BTreeMap<&str, f64>> = top
        .iter()
        .map(|r| {
            r.questions
                .iter()
                .filter(|q| q.top_k as usize == o.k)
                .filter_map(|q| Some((q.question_id.as_str(), q.metrics.get(o.metric)?)))
                .collect()
        })
        .collect();
    let (cell, left, top_y) = (56.0, 40.0, 30.0);
    let n = top.len() as f64;
    let (w, h) = (left + cell * n + 20.0 + 500.0, top_y + cell * n + 20.0);
    let mut body = String::new();
    for (i, a) in values.iter().enumerate() {
        for (j, b) in values.iter().enumerate() {
            let (mut win, mut loss) = (0, 0);
            for (q, x) in a {
                match b.get(q) {
                    Some(y) if x > y => win += 1,
                    Some(y) if x < y => loss += 1,
                    _ => {}
                }
            }
            let (x, y) = (left + cell * j as f64, top_y + cell * i as f64);
            let fill = match (i == j, win.cmp(&loss)) {
                (true, _) => "#eee",
                (_, std::cmp::Ordering::Greater) => "#b7e4b0",
                (_, std::cmp::Ordering::Less) => "#f4b6b6",
                _ => "#f5f5dc",
            };
            let _ = write!(
                body,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"{}\" fill=\"{fill}\"/>\
                 <text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{win}–{loss}</text>",
                cell - 2.0,
                cell - 2.0,
                x + cell / 2.0,
                y + cell / 2.0 + 4.0
            );
        }
        let _ = write!(
            body,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\">{}. {}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            left + cell * n + 12.0,
            top_y + cell * i as f64 + cell / 2.0 + 4.0,
            i + 1,
            esc(&top[i].label),
            left - 6.0,
            top_y + cell * i as f64 + cell / 2.0 + 4.0,
            i + 1
        );
    }
    let note = "<p class=\"note\">Cell (row A, column B): questions where A scores higher than B – questions where B scores higher, over the questions both were asked. Green: A wins more.</p>";
    let title = format!(
        "Per-question wins and losses of the top {} setups on {o}",
        top.len()
    );
    frame(6, "winloss", &title, w, h, &body, note)
}

/// The whole page.
pub fn render(input: &ReportInput) -> String {
    let ranked = crate::ranked(input.records, input.objective, &input.limits);
    let mut facts = String::from("<table class=\"facts\">");
    for (k, v) in &input.facts {
        let _ = write!(facts, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    facts.push_str("</table>");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>ragtune report: {t}</title><style>\
         body{{font-family:sans-serif;margin:24px;color:#222;max-width:1040px}}\
         figure{{margin:0 0 28px 0}}figcaption{{font-weight:bold;margin:6px 0}}\
         table{{border-collapse:collapse;font-size:13px}}td,th{{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}}\
         .note{{font-size:12px;color:#555}}ol.cols{{font-size:12px}}\
         </style></head><body><h1>ragtune report: {t}</h1>{facts}\n{}{}{}{}{}{}{}{}{}</body></html>\n",
        objective_plot(input, &ranked),
        recall_plot(input, &ranked),
        frontier_plot(input, CostAxis::ContextTokens),
        frontier_plot(input, CostAxis::P99Ms),
        frontier_plot(input, CostAxis::IndexMb),
        heatmap_plot(input),
        winloss_plot(input, &ranked),
        search_plot(input),
        missed_table(input),
        t = esc(input.title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_label_parts() {
        assert_eq!(esc("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
        assert_eq!(
            split_label("chars/300/0 hybrid rrf(k=60) m exact"),
            ("chars/300/0", "hybrid rrf(k=60) m exact")
        );
        assert_eq!(unit_range([0.93, 0.99].into_iter()), (0.9, 1.0));
        assert_eq!(unit_range([0.05].into_iter()), (0.0, 1.0));
    }

    #[test]
    fn the_frontier_keeps_only_setups_no_cheaper_one_beats() {
        let r = PointRecord {
            config_id: "x".into(),
            equivalent: vec![],
            label: "x".into(),
            point: ragtune_core::Setup {
                chunk: ragtune_core::ChunkSpec {
                    kind: ragtune_core::ChunkerKind::Chars,
                    size: 10,
                    overlap: 0,
                    header: None,
                },
                retriever: ragtune_core::Retriever::Bm25,
                rerank: None,
                expand: 0,
            },
            rows: vec![],
            questions: vec![],
            search: None,
        };
        // (context tokens, objective): (50, 0.6) is beaten by the cheaper (40, 0.7);
        // (40, 0.5) by (40, 0.7) at the same cost.
        let pts = [
            (&r, 100.0, 0.9),
            (&r, 50.0, 0.6),
            (&r, 40.0, 0.7),
            (&r, 10.0, 0.3),
            (&r, 40.0, 0.5),
        ];
        let front: Vec<(f64, f64)> = pareto(&pts).iter().map(|p| (p.1, p.2)).collect();
        assert_eq!(front, vec![(10.0, 0.3), (40.0, 0.7), (100.0, 0.9)]);
    }
}
