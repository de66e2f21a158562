//! `ragtune explain`: one question's retrieval step by step, or a diff of two setups.

use std::io::Write;

use ragtune_core::{Chunk, Span};
use ragtune_eval::Metric;
use ragtune_sweep::{Engine, Grid, RunDir, chunk_is_relevant, read_point};

use super::query::one_line;
use crate::UserError;
use crate::cli::ExplainArgs;

pub fn run(args: ExplainArgs) -> anyhow::Result<()> {
    if let Some(pair) = &args.diff {
        return diff(&args, &pair[0], &pair[1]);
    }
    let qid = args
        .question
        .as_deref()
        .expect("clap requires --question without --diff");
    let opts = super::sweep_options(&args.engine);
    let engine = Engine::open(&args.run, args.config.as_deref(), &opts)?;
    let q = engine
        .question(qid)
        .ok_or_else(|| {
            UserError(format!(
                "{}: no question with id {qid:?} in this run's corpus",
                args.run.display()
            ))
        })?
        .clone();
    let trace = engine.trace(&q.text, engine.depth)?;
    let corpus = &engine.corpus;
    let set = &engine.set;
    let chunk_of = |i: u32| set.chunks[i as usize];
    let doc_id = |c: &Chunk| corpus.docs[c.doc as usize].id.as_str();
    let mark = |c: &Chunk| if chunk_is_relevant(&q, c) { "✓" } else { " " };
    let n = args.top;
    // "  rank. ✓ score  chunk N doc [start, end)": one format for every list.
    let hit_line = |i: usize, chunk: u32, score: f64| {
        let c = chunk_of(chunk);
        let (mark, doc) = (mark(&c), doc_id(&c));
        format!(
            "  {:>3}. {mark} {score:>9.4}  chunk {chunk} {doc} [{}, {})",
            i + 1,
            c.start,
            c.end
        )
    };
    let mut out = std::io::stdout().lock();

    writeln!(out, "question {}: {}", q.id, q.text)?;
    writeln!(
        out,
        "setup    {} ({})",
        engine.config_id,
        engine.point.label()
    )?;
    writeln!(
        out,
        "depth    {} per retriever; ✓ marks a chunk that holds gold text\n",
        engine.depth
    )?;

    for (name, ranking) in [("BM25", &trace.bm25), ("vector", &trace.vector)] {
        let Some(r) = ranking else { continue };
        writeln!(out, "{name} top {}:", n.min(r.hits.len()))?;
        for (i, h) in r.hits.iter().take(n).enumerate() {
            let text = one_line(set.text(corpus, h.chunk as usize), 70);
            writeln!(out, "{}  {text}", hit_line(i, h.chunk, h.score as f64))?;
        }
        if r.hits.is_empty() {
            writeln!(out, "  (nothing retrieved)")?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "final list ({}) top {}:",
        engine.point.retriever.name(),
        n.min(trace.fused.len())
    )?;
    for (i, h) in trace.fused.iter().take(n).enumerate() {
        let comp = |x: Option<(usize, f32)>| {
            x.map_or("  -  ".to_string(), |(r, s)| format!("#{r} ({s:.3})"))
        };
        let (b, v) = (comp(h.bm25), comp(h.vector));
        writeln!(
            out,
            "{}  bm25 {b}  vector {v}",
            hit_line(i, h.chunk, h.score)
        )?;
    }

    writeln!(out, "\ngold labels:")?;
    let rank_in = |pred: &dyn Fn(&Chunk) -> bool| {
        trace
            .fused
            .iter()
            .position(|h| pred(&chunk_of(h.chunk)))
            .map(|p| p + 1)
    };
    let found = |r: Option<usize>| {
        r.map_or(format!("not in the top {}", engine.depth), |r| {
            format!("found at rank {r}")
        })
    };
    for s in &q.spans {
        let Span { doc, start, end } = *s;
        let text = &corpus.docs[doc as usize].text[start..end];
        let overlaps = |c: &Chunk| c.doc == doc && c.start < end && start < c.end;
        writeln!(
            out,
            "  span {} [{start}, {end}) \"{}\": {}",
            corpus.docs[doc as usize].id,
            one_line(text, 60),
            found(rank_in(&overlaps))
        )?;
        let holders: Vec<(usize, &Chunk)> = set
            .chunks
            .iter()
            .enumerate()
            .filter(|(_, c)| overlaps(c))
            .collect();
        if let Some((i, c)) = holders
            .iter()
            .find(|(_, c)| c.start <= start && end <= c.end)
        {
            writeln!(out, "    held whole by chunk {i} [{}, {})", c.start, c.end)?;
        } else {
            let parts: Vec<String> = holders
                .iter()
                .map(|(i, c)| {
                    let covered = end.min(c.end) - start.max(c.start);
                    format!(
                        "chunk {i} [{}, {}) holds {:.0}%",
                        c.start,
                        c.end,
                        100.0 * covered as f64 / (end - start).max(1) as f64
                    )
                })
                .collect();
            writeln!(
                out,
                "    cut across {} chunks: {}",
                holders.len(),
                parts.join("; ")
            )?;
        }
    }
    let direct: Vec<_> = q
        .relevant_docs
        .iter()
        .filter(|d| !q.spans.iter().any(|s| s.doc == **d))
        .collect();
    for &&d in &direct {
        writeln!(
            out,
            "  document {}: {}",
            corpus.docs[d as usize].id,
            found(rank_in(&|c: &Chunk| c.doc == d))
        )?;
    }

    if let Ok(rec) = read_point(&RunDir::open(&args.run)?, &engine.config_id) {
        writeln!(out, "\nscores for this question:")?;
        for r in rec.questions.iter().filter(|r| r.question_id == q.id) {
            // Every metric that applies to this question, in schema order.
            let values: Vec<String> = Metric::ALL
                .iter()
                .filter_map(|&m| Some(format!("{} {:.3}", m.name(), r.metrics.get(m)?)))
                .collect();
            writeln!(
                out,
                "  k={:<3} {}  context_tokens {}",
                r.top_k,
                values.join("  "),
                r.context_tokens
            )?;
        }
    }
    Ok(())
}

/// Questions one setup finds at the objective's k and the other misses.
fn diff(args: &ExplainArgs, a: &str, b: &str) -> anyhow::Result<()> {
    let run = RunDir::open(&args.run)?;
    let manifest = run.read_manifest()?;
    let grid = Grid::parse(&manifest.grid_path, manifest.grid_text.clone())?;
    let k = grid.objective.k as u32;
    let (ra, rb) = (read_point(&run, a)?, read_point(&run, b)?);
    let found = |rec: &ragtune_sweep::PointRecord| -> std::collections::BTreeMap<String, bool> {
        rec.questions
            .iter()
            .filter(|r| r.top_k == k)
            .map(|r| {
                (
                    r.question_id.clone(),
                    r.first_relevant_rank.is_some_and(|rank| rank <= k),
                )
            })
            .collect()
    };
    let (fa, fb) = (found(&ra), found(&rb));
    let corpus = ragtune_corpus::load(&manifest.corpus)?;
    let text = |id: &str| {
        corpus
            .questions
            .iter()
            .find(|q| q.id == id)
            .map_or("", |q| q.text.as_str())
            .to_string()
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "A = {} ({})\nB = {} ({})\nfound = a relevant chunk within the top {k} (the objective's k)\n",
        ra.config_id, ra.label, rb.config_id, rb.label
    )?;
    for (name, x, y) in [
        ("A finds, B misses", &fa, &fb),
        ("B finds, A misses", &fb, &fa),
    ] {
        let ids: Vec<&String> = x
            .iter()
            .filter(|(id, f)| **f && !y.get(*id).copied().unwrap_or(false))
            .map(|(id, _)| id)
            .collect();
        writeln!(out, "{name}: {}", ids.len())?;
        for id in ids {
            writeln!(out, "  {id}: {}", one_line(&text(id), 100))?;
        }
    }
    let both = fa
        .iter()
        .filter(|(id, f)| **f && fb.get(*id).copied().unwrap_or(false))
        .count();
    writeln!(
        out,
        "both find: {both}; neither: {}",
        fa.len()
            - both
            - fa.iter()
                .filter(|(id, f)| **f != fb.get(*id).copied().unwrap_or(false))
                .count()
    )?;
    Ok(())
}
