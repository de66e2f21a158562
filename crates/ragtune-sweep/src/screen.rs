//! A halving rung's screen: a deterministic sample of the questions and of the corpus text
//! they are scored against.
//!
//! The corpus is cut into regions once: whole documents when the labels are documents,
//! and for span labels windows of about `region_chars` bytes ending at a paragraph break
//! (Chroma's corpus is 5 documents, SQuAD's 48 articles: sampling documents would keep
//! them all). A screen keeps the regions that hold its questions' gold, plus random
//! regions as distractors, up to its share of the corpus.
//!
//! The documents themselves are never cut: every chunking chunks whole documents exactly
//! as on the full corpus, and a screen keeps the chunks that overlap its regions. So a
//! chunk scored on a screen is the very chunk of the full run, and its embedding is
//! computed once for every rung (the embedding cache is keyed by text).

use std::collections::BTreeSet;

use ragtune_core::{Chunk, ChunkSet, ContentHasher, Corpus, DocId};

/// One region: bytes `[start, end)` of document `doc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Region {
    /// Document.
    pub doc: DocId,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// What a screen samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScreenParams {
    /// The rung's share of the questions and of the corpus.
    pub fraction: f64,
    /// The fewest questions.
    pub min_questions: usize,
    /// The smallest share of the corpus.
    pub min_docs_fraction: f64,
    /// Region size for span labels, in bytes.
    pub region_chars: usize,
    /// Seed of both samples.
    pub seed: u64,
}

/// One rung's sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Screen {
    /// Per document, its selected regions as sorted, disjoint byte ranges.
    pub regions: Vec<Vec<(usize, usize)>>,
    /// Per document, the gold spans of the screen's questions, sorted.
    pub gold: Vec<Vec<(usize, usize)>>,
    /// The questions kept, as indexes in corpus order.
    pub questions: Vec<usize>,
    /// Bytes of text selected.
    pub bytes: usize,
    /// Bytes of text in the corpus.
    pub total_bytes: usize,
    /// The screen's identity in stage keys.
    pub key: String,
}

/// The corpus cut into regions: whole documents, or for span labels paragraph-aligned
/// windows of about `region_chars` bytes.
pub fn regions(corpus: &Corpus, region_chars: usize) -> Vec<Region> {
    let by_span = corpus.questions.iter().any(|q| q.has_spans());
    let mut out = Vec::new();
    for (d, doc) in corpus.docs.iter().enumerate() {
        let text = doc.text.as_str();
        if !by_span || text.len() <= region_chars {
            out.push(Region {
                doc: d as DocId,
                start: 0,
                end: text.len(),
            });
            continue;
        }
        let mut start = 0;
        while start < text.len() {
            let end = region_end(text, start, region_chars);
            out.push(Region {
                doc: d as DocId,
                start,
                end,
            });
            start = end;
        }
    }
    out
}

/// Where a region that starts at `start` ends: the first paragraph break (else line
/// break) within half a region past `start + size`, else a character boundary there.
fn region_end(text: &str, start: usize, size: usize) -> usize {
    let target = start + size;
    if target >= text.len() {
        return text.len();
    }
    let target = ceil_char(text, target);
    let limit = ceil_char(text, (target + size / 2).min(text.len()));
    let window = &text[target..limit];
    let cut = window
        .find("\n\n")
        .map(|i| i + 2)
        .or_else(|| window.find('\n').map(|i| i + 1));
    cut.map_or(target, |i| target + i)
}

fn ceil_char(text: &str, mut i: usize) -> usize {
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i.min(text.len())
}

fn rank(seed: u64, what: &str, id: &str) -> String {
    let mut h = ContentHasher::new();
    h.field(seed.to_le_bytes()).field(what).field(id);
    h.finish_hex()
}

/// The regions holding question `q`'s gold: those overlapping a gold span, and for a
/// relevant document without spans every region of it.
fn gold_regions(corpus: &Corpus, regions: &[Region], q: usize) -> Vec<usize> {
    let q = &corpus.questions[q];
    let mut out = BTreeSet::new();
    for (i, r) in regions.iter().enumerate() {
        let by_span = q
            .all_spans()
            .any(|s| s.doc == r.doc && s.start < r.end && r.start < s.end.max(s.start + 1));
        let by_doc = q.relevant_docs.contains(&r.doc) && !q.all_spans().any(|s| s.doc == r.doc);
        if by_span || by_doc {
            out.insert(i);
        }
    }
    out.into_iter().collect()
}

/// The screen for `p`: questions in a seeded order, each taken with its gold regions
/// while those stay within three quarters of the rung's share of the corpus (or while
/// fewer than `min_questions` are taken), then seeded random regions as distractors up
/// to the share. Questions whose gold lies in regions already taken cost nothing, so on
/// a corpus with many questions per region the screen holds many questions.
pub fn screen(corpus: &Corpus, regions: &[Region], p: &ScreenParams) -> Screen {
    let total: usize = regions.iter().map(|r| r.end - r.start).sum();
    let share = p.fraction.max(p.min_docs_fraction).min(1.0);
    let target = (share * total as f64).ceil() as usize;
    let n = corpus.questions.len();
    let want = ((p.fraction * n as f64).ceil() as usize)
        .max(p.min_questions)
        .min(n);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_cached_key(|&i| rank(p.seed, "question", &corpus.questions[i].id));
    let mut chosen: BTreeSet<usize> = BTreeSet::new();
    let mut bytes = 0usize;
    let mut questions = Vec::new();
    let len = |i: &usize| regions[*i].end - regions[*i].start;
    for q in order {
        if questions.len() >= want {
            break;
        }
        let gold = gold_regions(corpus, regions, q);
        let new: Vec<usize> = gold.into_iter().filter(|g| !chosen.contains(g)).collect();
        let extra: usize = new.iter().map(len).sum();
        if bytes + extra <= target * 3 / 4 || questions.len() < p.min_questions {
            bytes += extra;
            chosen.extend(new);
            questions.push(q);
        }
    }
    let mut others: Vec<usize> = (0..regions.len()).filter(|i| !chosen.contains(i)).collect();
    others.sort_by_cached_key(|&i| {
        let r = regions[i];
        rank(
            p.seed,
            "region",
            &format!("{}:{}", corpus.docs[r.doc as usize].id, r.start),
        )
    });
    for i in others {
        if bytes >= target {
            break;
        }
        bytes += len(&i);
        chosen.insert(i);
    }
    questions.sort_unstable();
    finish(corpus, regions, chosen, questions, bytes, total)
}

/// Per document, the sorted gold spans of `questions`.
fn gold_spans(corpus: &Corpus, questions: &[usize]) -> Vec<Vec<(usize, usize)>> {
    let mut gold: Vec<Vec<(usize, usize)>> = vec![Vec::new(); corpus.docs.len()];
    for &q in questions {
        for s in corpus.questions[q].all_spans() {
            gold[s.doc as usize].push((s.start, s.end));
        }
    }
    for g in &mut gold {
        g.sort_unstable();
        g.dedup();
    }
    gold
}

fn finish(
    corpus: &Corpus,
    regions: &[Region],
    chosen: BTreeSet<usize>,
    questions: Vec<usize>,
    bytes: usize,
    total: usize,
) -> Screen {
    let mut per_doc: Vec<Vec<(usize, usize)>> = vec![Vec::new(); corpus.docs.len()];
    let mut h = ContentHasher::new();
    h.field(b"ragtune-screen-v1");
    for i in chosen {
        let r = regions[i];
        per_doc[r.doc as usize].push((r.start, r.end));
        h.field(r.doc.to_le_bytes())
            .field(r.start.to_le_bytes())
            .field(r.end.to_le_bytes());
    }
    for d in &mut per_doc {
        d.sort_unstable();
    }
    let gold = gold_spans(corpus, &questions);
    for (d, spans) in gold.iter().enumerate() {
        for (start, end) in spans {
            h.field((d as u64).to_le_bytes())
                .field(start.to_le_bytes())
                .field(end.to_le_bytes());
        }
    }
    Screen {
        regions: per_doc,
        gold,
        questions,
        bytes,
        total_bytes: total,
        key: h.finish_hex()[..32].to_string(),
    }
}

impl Screen {
    /// Whether the screen keeps `chunk`: it starts in a selected region (so each chunk
    /// is kept once, by the region it starts in, and a region's edges do not pull in its
    /// neighbours' chunks), or it overlaps a gold span of the screen's questions (so the
    /// chunk holding an answer is kept wherever it starts).
    pub fn keeps(&self, chunk: &Chunk) -> bool {
        let d = chunk.doc as usize;
        let rs = &self.regions[d];
        // The first region that ends after the chunk starts.
        let i = rs.partition_point(|&(_, end)| end <= chunk.start);
        let starts_in = rs.get(i).is_some_and(|&(start, _)| start <= chunk.start);
        starts_in
            || self.gold[d]
                .iter()
                .any(|&(s, e)| s < chunk.end && chunk.start < e.max(s + 1))
    }

    /// The chunks of `set` this screen keeps, with their token counts.
    /// Each kept chunk remembers its place in the whole set, so that neighbours are
    /// never taken across a chunk the screen dropped.
    pub fn apply(&self, set: ChunkSet, counts: Vec<u32>) -> (ChunkSet, Vec<u32>) {
        let mut places = Vec::new();
        let (chunks, counts): (Vec<Chunk>, Vec<u32>) = (set.chunks.into_iter().zip(counts))
            .enumerate()
            .filter(|(_, (c, _))| self.keeps(c))
            .map(|(i, kept)| {
                places.push(i as u32);
                kept
            })
            .unzip();
        (
            ChunkSet {
                chunks,
                header: set.header,
                paths: Vec::new(),
                places,
            },
            counts,
        )
    }

    /// The corpus with only this screen's questions.
    pub fn corpus(&self, corpus: &Corpus) -> Corpus {
        Corpus {
            docs: corpus.docs.clone(),
            questions: self
                .questions
                .iter()
                .map(|&i| corpus.questions[i].clone())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use ragtune_core::{Document, Question, Span};

    use super::*;

    /// Two documents of short paragraphs, one question per paragraph with its gold span.
    fn corpus() -> Corpus {
        let mut docs = Vec::new();
        let mut questions = Vec::new();
        for d in 0..2 {
            let mut text = String::new();
            for p in 0..40 {
                let start = text.len();
                text.push_str(&format!("Paragraph {p} of document {d} says fact {d}-{p}."));
                let end = text.len();
                questions.push(Question {
                    id: format!("q{d}-{p}"),
                    text: format!("what is fact {d}-{p}"),
                    relevant_docs: vec![d],
                    spans: vec![Span { doc: d, start, end }],
                    alternatives: Vec::new(),
                    judged: None,
                });
                text.push_str("\n\n");
            }
            docs.push(Document {
                id: format!("doc{d}"),
                title: None,
                text,
                pages: Vec::new(),
            });
        }
        Corpus { docs, questions }
    }

    fn params(fraction: f64, seed: u64) -> ScreenParams {
        ScreenParams {
            fraction,
            min_questions: 5,
            min_docs_fraction: 0.1,
            region_chars: 200,
            seed,
        }
    }

    #[test]
    fn regions_partition_each_document_at_paragraph_breaks() {
        let c = corpus();
        let rs = regions(&c, 200);
        for (d, doc) in c.docs.iter().enumerate() {
            let mine: Vec<&Region> = rs.iter().filter(|r| r.doc as usize == d).collect();
            assert_eq!(mine[0].start, 0);
            assert_eq!(mine.last().unwrap().end, doc.text.len());
            for w in mine.windows(2) {
                assert_eq!(w[0].end, w[1].start, "contiguous");
                assert!(
                    doc.text[..w[0].end].ends_with("\n\n"),
                    "ends at a paragraph break"
                );
                assert!(w[0].end - w[0].start >= 200);
            }
        }
        // Document labels alone: whole documents.
        let mut c = corpus();
        c.questions.iter_mut().for_each(|q| q.spans.clear());
        assert_eq!(regions(&c, 200).len(), 2);
    }

    #[test]
    fn a_screen_is_seeded_holds_its_questions_gold_and_its_share() {
        let c = corpus();
        let rs = regions(&c, 200);
        let a = screen(&c, &rs, &params(0.25, 7));
        assert_eq!(a, screen(&c, &rs, &params(0.25, 7)), "deterministic");
        assert_ne!(
            a.key,
            screen(&c, &rs, &params(0.25, 8)).key,
            "the seed matters"
        );
        assert!(a.questions.len() >= 5);
        assert!(a.bytes as f64 >= 0.25 * a.total_bytes as f64);
        assert!(a.bytes < a.total_bytes);
        for &q in &a.questions {
            for s in &c.questions[q].spans {
                let chunk = Chunk {
                    doc: s.doc,
                    start: s.start,
                    end: s.end,
                };
                assert!(a.keeps(&chunk), "gold of a kept question is on the screen");
            }
        }
        // A larger share holds at least as much text.
        let b = screen(&c, &rs, &params(0.75, 7));
        assert!(b.bytes >= a.bytes && b.questions.len() >= a.questions.len());
    }

    #[test]
    fn a_screen_keeps_the_chunks_starting_in_its_regions_and_those_holding_gold() {
        let s = Screen {
            regions: vec![vec![(10, 20), (40, 50)]],
            gold: vec![vec![(25, 27)]],
            questions: vec![],
            bytes: 20,
            total_bytes: 60,
            key: String::new(),
        };
        let keeps = |start, end| s.keeps(&Chunk { doc: 0, start, end });
        // Starts in a region.
        assert!(keeps(10, 11) && keeps(19, 60) && keeps(40, 41) && keeps(45, 60));
        // Overlaps the gold span (25, 27), wherever it starts.
        assert!(keeps(0, 26) && keeps(26, 30) && keeps(20, 40));
        // Neither: it only ends in a region, lies between regions, or after them.
        assert!(!keeps(0, 15) && !keeps(28, 45) && !keeps(50, 60) && !keeps(0, 10));
        let chunk = |start, end| Chunk { doc: 0, start, end };
        let set = ChunkSet {
            chunks: vec![chunk(0, 10), chunk(10, 30), chunk(30, 38), chunk(38, 60)],
            ..ChunkSet::default()
        };
        let (kept, counts) = s.apply(set, vec![1, 2, 3, 4]);
        assert_eq!(kept.chunks, [chunk(10, 30)]);
        assert_eq!(counts, [2]);
    }
}
