//! `ragtune labels check GRID [--json]`: how every label of a questions file resolved.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;

use ragtune_core::{CharToByte, Document, format_pages};
use ragtune_corpus::locate::Place;
use ragtune_corpus::{LabelReport, Resolution, Unresolved};
use ragtune_grid::Grid;
use serde::Serialize;

use crate::cli::{LabelsArgs, LabelsCommand};

pub fn run(args: LabelsArgs) -> anyhow::Result<ExitCode> {
    let LabelsCommand::Check {
        grid,
        json,
        max_points,
        engine,
    } = args.command;
    let grid = Grid::load_limited(&grid, max_points)?;
    let opts = super::sweep_options(&engine)?;
    let store = opts.store()?;
    let texts = ragtune_sweep::Texts::new(&opts.models_dir, store.as_ref());
    // Every label is reported, so nothing may stop at the first answer not found.
    let mut spec = grid.corpus.clone();
    spec.unresolved = Unresolved::Report;
    let loaded = ragtune_corpus::load_with(&spec, &texts).map_err(|source| {
        ragtune_sweep::SweepError::GridCorpus {
            grid: grid.path.clone(),
            source,
        }
    })?;
    if let Some(s) = &store {
        s.save_counts()?;
    }
    let report = Report::new(&loaded.corpus.docs, &loaded.labels, &grid);
    let mut out = std::io::stdout().lock();
    if json {
        super::print_json(&mut out, &report)?;
    } else {
        report.print(&mut out)?;
    }
    Ok(if report.summary.not_found > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Byte offsets to code points, per document, indexed when first needed
/// ([`CharToByte::char_offset`]).
struct CodePoints<'a> {
    docs: &'a [Document],
    maps: Vec<std::cell::OnceCell<CharToByte<'a>>>,
}

impl<'a> CodePoints<'a> {
    fn new(docs: &'a [Document]) -> Self {
        Self {
            docs,
            maps: docs.iter().map(|_| Default::default()).collect(),
        }
    }

    fn of(&self, doc: u32, byte: usize) -> usize {
        let d = doc as usize;
        self.maps[d]
            .get_or_init(|| CharToByte::new(&self.docs[d].text))
            .char_offset(byte)
    }
}

#[derive(Serialize)]
struct PlaceOut {
    document: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pages: Option<String>,
    start: usize,
    end: usize,
    similarity: f64,
    text: String,
}

#[derive(Serialize)]
struct LabelOut {
    question: String,
    line: usize,
    label: String,
    resolution: Resolution,
    /// Places found (alternatives), or for an answer not found the nearest text.
    places: Vec<PlaceOut>,
}

#[derive(Serialize, Default)]
struct Summary {
    questions: usize,
    labels: usize,
    exact: usize,
    normalised: usize,
    fuzzy: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    lowest_fuzzy_similarity: Option<f64>,
    ambiguous: usize,
    not_found: usize,
    documents: usize,
    spans: usize,
}

#[derive(Serialize)]
struct Report {
    grid: String,
    questions_file: Option<String>,
    offsets: &'static str,
    labels: Vec<LabelOut>,
    summary: Summary,
}

fn place_out(cp: &CodePoints, p: &Place) -> PlaceOut {
    let doc = &cp.docs[p.doc as usize];
    PlaceOut {
        document: doc.id.clone(),
        pages: doc.page_range(p.start, p.end).map(format_pages),
        start: cp.of(p.doc, p.start),
        end: cp.of(p.doc, p.end),
        similarity: (p.score * 1e4).round() / 1e4,
        text: super::query::one_line(&doc.text[p.start..p.end], 80),
    }
}

impl Report {
    fn new(docs: &[Document], labels: &[LabelReport], grid: &Grid) -> Self {
        let cp = CodePoints::new(docs);
        let mut s = Summary {
            labels: labels.len(),
            ..Summary::default()
        };
        let mut questions = BTreeSet::new();
        for l in labels {
            questions.insert(l.question.as_str());
            match l.resolution {
                Resolution::Exact => s.exact += 1,
                Resolution::Normalised => s.normalised += 1,
                Resolution::Fuzzy => {
                    s.fuzzy += 1;
                    let best = l.places.first().map_or(0.0, |p| p.score);
                    s.lowest_fuzzy_similarity =
                        Some(s.lowest_fuzzy_similarity.map_or(best, |m: f64| m.min(best)));
                }
                Resolution::NotFound => s.not_found += 1,
                Resolution::Document => s.documents += 1,
                Resolution::Span => s.spans += 1,
            }
            s.ambiguous += usize::from(l.is_ambiguous());
        }
        s.questions = questions.len();
        let labels = labels
            .iter()
            .map(|l| LabelOut {
                question: l.question.clone(),
                line: l.line,
                label: l.label.clone(),
                resolution: l.resolution,
                places: l.places.iter().map(|p| place_out(&cp, p)).collect(),
            })
            .collect();
        Report {
            grid: grid.path.display().to_string(),
            questions_file: grid
                .corpus
                .questions
                .as_ref()
                .map(|p| p.display().to_string()),
            offsets: "Unicode code points, end exclusive",
            labels,
            summary: s,
        }
    }

    fn print(&self, out: &mut impl Write) -> std::io::Result<()> {
        let Some(file) = &self.questions_file else {
            writeln!(
                out,
                "{}: this corpus has no questions file; its labels were checked as it loaded",
                self.grid
            )?;
            return Ok(());
        };
        writeln!(out, "labels of {file} (offsets in Unicode code points)")?;
        let mut last = "";
        for l in &self.labels {
            if l.question != last {
                writeln!(out, "\nquestion {} (line {})", l.question, l.line)?;
                last = &l.question;
            }
            print_label(out, l)?;
        }
        self.print_summary(out)
    }

    fn print_summary(&self, out: &mut impl Write) -> std::io::Result<()> {
        let s = &self.summary;
        let fuzzy = s
            .lowest_fuzzy_similarity
            .map_or(String::new(), |m| format!(" (lowest similarity {m:.2})"));
        writeln!(
            out,
            "\n{} labels of {} questions: {} exact, {} normalised, {} fuzzy{fuzzy}, {} not found; {} ambiguous (found at several places, any one counts); {} documents, {} spans",
            s.labels,
            s.questions,
            s.exact,
            s.normalised,
            s.fuzzy,
            s.not_found,
            s.ambiguous,
            s.documents,
            s.spans
        )
    }
}

fn where_(p: &PlaceOut) -> String {
    let pages = p
        .pages
        .as_ref()
        .map_or(String::new(), |pg| format!(" {pg}"));
    format!("{}{pages} [{}, {})", p.document, p.start, p.end)
}

fn print_label(out: &mut impl Write, l: &LabelOut) -> std::io::Result<()> {
    let label = super::query::one_line(&l.label, 60);
    match l.resolution {
        Resolution::Document => writeln!(out, "  document {label:?}"),
        Resolution::Span => writeln!(out, "  span in {label:?}"),
        Resolution::NotFound => {
            writeln!(out, "  answer {label:?}: NOT FOUND")?;
            for p in &l.places {
                writeln!(
                    out,
                    "    nearest: {}, similarity {:.2}: {:?}",
                    where_(p),
                    p.similarity,
                    p.text
                )?;
            }
            Ok(())
        }
        r => {
            let how = match r {
                Resolution::Exact => "exact".to_string(),
                Resolution::Normalised => "normalised".to_string(),
                _ => format!(
                    "fuzzy, similarity {:.2}",
                    l.places.first().map_or(0.0, |p| p.similarity)
                ),
            };
            let n = l.places.len();
            let first = l.places.first().map(where_).unwrap_or_default();
            if n == 1 {
                writeln!(out, "  answer {label:?}: {how} at {first}")
            } else {
                writeln!(
                    out,
                    "  answer {label:?}: {how}, ambiguous: {n} places, first {first}"
                )
            }
        }
    }
}
