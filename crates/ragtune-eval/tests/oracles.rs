//! Span metrics against the hand-worked fixture tests/data/span_oracles.json.

use ragtune_core::{CharToByte, Chunk, Span};
use ragtune_eval::span_metrics;

#[derive(serde::Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    docs: Vec<String>,
    gold: Vec<[usize; 3]>,
    chunks: Vec<[usize; 3]>,
    recall: [u32; 2],
    precision: [u32; 2],
    iou: [u32; 2],
}

#[test]
fn span_metrics_match_the_hand_worked_oracles() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/span_oracles.json"
    );
    let fixture: Fixture = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(fixture.cases.len() >= 9);
    for case in &fixture.cases {
        let maps: Vec<CharToByte> = case.docs.iter().map(|d| CharToByte::new(d)).collect();
        let bytes =
            |[d, s, e]: [usize; 3]| (d as u32, maps[d].byte(s).unwrap(), maps[d].byte(e).unwrap());
        let gold: Vec<Span> = case
            .gold
            .iter()
            .map(|&g| bytes(g))
            .map(|(doc, start, end)| Span { doc, start, end })
            .collect();
        let chunks: Vec<Chunk> = case
            .chunks
            .iter()
            .map(|&c| bytes(c))
            .map(|(doc, start, end)| Chunk { doc, start, end })
            .collect();
        let m = span_metrics(&chunks, &gold)
            .unwrap_or_else(|| panic!("{}: no span metrics", case.name));
        let f = |[n, d]: [u32; 2]| n as f64 / d as f64;
        for (what, got, want) in [
            ("recall", m.recall, case.recall),
            ("precision", m.precision, case.precision),
            ("iou", m.iou, case.iou),
        ] {
            assert!(
                (got - f(want)).abs() < 1e-12,
                "{}: {what} = {got}, expected {}/{}",
                case.name,
                want[0],
                want[1]
            );
        }
    }
}
