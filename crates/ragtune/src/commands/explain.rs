//! `ragtune explain`: one question's retrieval step by step, or a diff of two setups.

use std::io::Write;

use ragtune_core::{Chunk, Question, Span};
use ragtune_eval::Metric;
use ragtune_grid::Grid;
use ragtune_retrieve::Trace;
use ragtune_serve::Engine;
use ragtune_sweep::{PointRecord, RunDir, chunk_is_relevant, listed_id, read_point};

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
    let opts = super::sweep_options(&args.engine)?;
    let engine = Engine::open(&args.run, args.config.as_deref(), &opts)?;
    let q = engine
        .question(qid)
        .ok_or_else(|| {
            let some: Vec<&str> = engine
                .corpus
                .questions
                .iter()
                .take(5)
                .map(|q| q.id.as_str())
                .collect();
            UserError(format!(
                "{}: no question with id {qid:?} in this run's corpus (some ids: {})",
                args.run.display(),
                some.join(", ")
            ))
        })?
        .clone();
    let trace = engine.trace(&q.text, engine.depth)?;
    let ex = Explain {
        engine: &engine,
        q: &q,
        trace: &trace,
        top: args.top,
    };
    let mut out = std::io::stdout().lock();
    ex.header(&mut out)?;
    ex.components(&mut out)?;
    ex.final_list(&mut out)?;
    ex.gold(&mut out)?;
    if let Ok(rec) = read_point(&RunDir::open(&args.run)?, &engine.config_id) {
        scores(&mut out, &rec, &q.id)?;
    }
    Ok(())
}

/// One question's trace through one setup.
struct Explain<'a> {
    engine: &'a Engine,
    q: &'a Question,
    trace: &'a Trace,
    top: usize,
}

impl Explain<'_> {
    fn chunk(&self, i: u32) -> Chunk {
        self.engine.set.chunks[i as usize]
    }

    /// "  rank. ✓ score  chunk N doc [start, end)": one format for every list.
    fn hit_line(&self, i: usize, chunk: u32, score: f64) -> String {
        let c = self.chunk(chunk);
        // With neighbours, a hit is relevant by its passage, as the sweep scored it.
        let passage = (self.engine.set).expanded(chunk as usize, self.engine.point.expand);
        let mark = if chunk_is_relevant(self.q, &passage) {
            "✓"
        } else {
            " "
        };
        format!(
            "  {:>3}. {mark} {score:>9.4}  chunk {chunk} {}",
            i + 1,
            self.place(c.doc, c.start, c.end)
        )
    }

    /// "doc [start, end)", or "doc, p. 3 [start, end)" for a document with pages.
    fn place(&self, doc: u32, start: usize, end: usize) -> String {
        let d = &self.engine.corpus.docs[doc as usize];
        let pages = d.page_range(start, end).map_or(String::new(), |p| {
            format!(", {}", ragtune_core::format_pages(p))
        });
        format!("{}{pages} [{start}, {end})", d.id)
    }

    fn header(&self, out: &mut impl Write) -> std::io::Result<()> {
        let e = self.engine;
        writeln!(out, "question {}: {}", self.q.id, self.q.text)?;
        writeln!(out, "setup    {} ({})", e.config_id, e.point.label())?;
        writeln!(
            out,
            "depth    {} per retriever; ✓ marks a chunk that holds gold text\n",
            e.depth
        )
    }

    fn components(&self, out: &mut impl Write) -> std::io::Result<()> {
        let (n, e) = (self.top, self.engine);
        for (name, ranking) in [("BM25", &self.trace.bm25), ("vector", &self.trace.vector)] {
            let Some(r) = ranking else { continue };
            writeln!(out, "{name} top {}:", n.min(r.hits.len()))?;
            for (i, h) in r.hits.iter().take(n).enumerate() {
                let text = one_line(e.set.text(&e.corpus, h.chunk as usize), 70);
                writeln!(out, "{}  {text}", self.hit_line(i, h.chunk, h.score as f64))?;
            }
            if r.hits.is_empty() {
                writeln!(out, "  (nothing retrieved)")?;
            }
            writeln!(out)?;
        }
        Ok(())
    }

    fn final_list(&self, out: &mut impl Write) -> std::io::Result<()> {
        let fused = &self.trace.fused;
        let rerank = (self.engine.point.rerank.as_ref()).map_or(String::new(), |r| {
            format!(", reranked by {} over its top {}", r.by.spelling(), r.depth)
        });
        writeln!(
            out,
            "final list ({}{rerank}) top {}:",
            self.engine.point.retriever.name(),
            self.top.min(fused.len())
        )?;
        for (i, h) in fused.iter().take(self.top).enumerate() {
            let comp = |x: Option<(usize, f32)>| {
                x.map_or("  -  ".to_string(), |(r, s)| format!("#{r} ({s:.3})"))
            };
            let (b, v) = (comp(h.bm25), comp(h.vector));
            let first = (self.trace.first_stage.as_ref())
                .and_then(|f| f.iter().position(|x| x.chunk == h.chunk))
                .map_or(String::new(), |r| format!("  first stage #{}", r + 1));
            writeln!(
                out,
                "{}  bm25 {b}  vector {v}{first}",
                self.hit_line(i, h.chunk, h.score)
            )?;
        }
        Ok(())
    }

    /// 1-based rank of the first chunk in the final list that satisfies `pred`.
    fn rank_in(&self, pred: &dyn Fn(&Chunk) -> bool) -> String {
        let r = self
            .trace
            .fused
            .iter()
            .position(|h| pred(&self.chunk(h.chunk)))
            .map(|p| p + 1);
        r.map_or(format!("not in the top {}", self.engine.depth), |r| {
            format!("found at rank {r}")
        })
    }

    fn gold(&self, out: &mut impl Write) -> std::io::Result<()> {
        let corpus = &self.engine.corpus;
        writeln!(out, "\ngold labels:")?;
        for s in &self.q.spans {
            let Span { doc, start, end } = *s;
            let text = &corpus.docs[doc as usize].text[start..end];
            let overlaps = |c: &Chunk| c.doc == doc && c.start < end && start < c.end;
            writeln!(
                out,
                "  span {} \"{}\": {}",
                self.place(doc, start, end),
                one_line(text, 60),
                self.rank_in(&overlaps)
            )?;
            writeln!(out, "    {}", self.holders(s))?;
        }
        self.alternatives(out)?;
        for &d in &self.q.relevant_docs {
            if self.q.all_spans().any(|s| s.doc == d) {
                continue;
            }
            let found = self.rank_in(&|c: &Chunk| c.doc == d);
            writeln!(out, "  document {}: {found}", corpus.docs[d as usize].id)?;
        }
        Ok(())
    }

    /// Labels found at several places: the best rank of any of them, and the first few.
    fn alternatives(&self, out: &mut impl Write) -> std::io::Result<()> {
        const SHOWN: usize = 3;
        let corpus = &self.engine.corpus;
        for alts in &self.q.alternatives {
            let any = |c: &Chunk| {
                alts.iter()
                    .any(|s| c.doc == s.doc && c.start < s.end && s.start < c.end)
            };
            let first = &alts[0];
            let text = &corpus.docs[first.doc as usize].text[first.start..first.end];
            writeln!(
                out,
                "  answer \"{}\" at {} places (any one counts): {}",
                one_line(text, 60),
                alts.len(),
                self.rank_in(&any)
            )?;
            for s in alts.iter().take(SHOWN) {
                writeln!(out, "    {}", self.place(s.doc, s.start, s.end))?;
            }
            if alts.len() > SHOWN {
                writeln!(out, "    … and {} more", alts.len() - SHOWN)?;
            }
        }
        Ok(())
    }

    /// Which chunks of the setup hold a gold span: one whole, or several in parts.
    fn holders(&self, s: &Span) -> String {
        let Span { doc, start, end } = *s;
        let holders: Vec<(usize, &Chunk)> = self
            .engine
            .set
            .chunks
            .iter()
            .enumerate()
            .filter(|(_, c)| c.doc == doc && c.start < end && start < c.end)
            .collect();
        if let Some((i, c)) = holders
            .iter()
            .find(|(_, c)| c.start <= start && end <= c.end)
        {
            return format!("held whole by chunk {i} [{}, {})", c.start, c.end);
        }
        let parts: Vec<String> = holders
            .iter()
            .map(|(i, c)| {
                let covered = end.min(c.end) - start.max(c.start);
                let share = 100.0 * covered as f64 / (end - start).max(1) as f64;
                format!("chunk {i} [{}, {}) holds {share:.0}%", c.start, c.end)
            })
            .collect();
        format!("cut across {} chunks: {}", holders.len(), parts.join("; "))
    }
}

/// The stored per-question scores: every metric that applies, in schema order.
fn scores(out: &mut impl Write, rec: &PointRecord, qid: &str) -> std::io::Result<()> {
    writeln!(out, "\nscores for this question:")?;
    for r in rec.questions.iter().filter(|r| r.question_id == qid) {
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
    Ok(())
}

/// Questions one setup finds at the objective's k and the other misses.
fn diff(args: &ExplainArgs, a: &str, b: &str) -> anyhow::Result<()> {
    let run = RunDir::open(&args.run)?;
    let manifest = run.finished()?;
    let grid = Grid::parse_recorded(&manifest.grid_path, manifest.grid_text.clone())?;
    let k = grid.objective.k as u32;
    let (ra, rb) = (
        read_point(&run, &listed_id(&run, a)?)?,
        read_point(&run, &listed_id(&run, b)?)?,
    );
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
    let corpus = manifest.load_corpus(&super::run_texts(&run))?;
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
