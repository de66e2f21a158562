use std::borrow::Cow;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::hash::ContentHasher;

/// Index of a document in [`Corpus::docs`].
pub type DocId = u32;

/// One source document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// The id the source format gives it (a relative path, a JSONL id, a title…).
    pub id: String,
    /// Optional title; whole-document mode puts it in front of the text, as BEIR does.
    pub title: Option<String>,
    /// The full text. Every offset in ragtune is a byte offset into this string.
    pub text: String,
    /// Where each page starts (a byte offset into `text`, ascending, the first 0), for
    /// documents with pages (PDF); empty for the rest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<usize>,
}

impl Document {
    /// The 1-based pages that bytes `[start, end)` lie on, first and last; `None` for a
    /// document without pages.
    pub fn page_range(&self, start: usize, end: usize) -> Option<(u32, u32)> {
        if self.pages.is_empty() {
            return None;
        }
        let page = |b: usize| self.pages.partition_point(|&p| p <= b).max(1) as u32;
        let first = page(start);
        Some((first, page(end.saturating_sub(1).max(start)).max(first)))
    }
}

/// `"p. 3"` or `"pp. 3–4"` for a page range.
pub fn format_pages((first, last): (u32, u32)) -> String {
    if first == last {
        format!("p. {first}")
    } else {
        format!("pp. {first}–{last}")
    }
}

/// A labelled excerpt: the bytes `[start, end)` of document `doc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    /// The document holding the excerpt.
    pub doc: DocId,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    /// True when the span covers no bytes.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// A question with its labels.
///
/// `relevant_docs` is the union of the documents labelled directly and the documents
/// that hold a gold span, sorted and deduplicated: document-level metrics use it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// Id from the source (or a row number where the source has none).
    pub id: String,
    /// The question text.
    pub text: String,
    /// Relevant documents (sorted, unique).
    pub relevant_docs: Vec<DocId>,
    /// Gold spans, as given (possibly overlapping).
    pub spans: Vec<Span>,
    /// Labels found at several places (an answer text that occurs more than once): each
    /// entry is one label's alternative spans, and the label counts as found when any one
    /// of them is covered (span metrics take the best alternative).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<Vec<Span>>,
    /// Where a person looked, for pooled labels: every gold span and every region judged
    /// not relevant. A chunk is judged when all its bytes lie in these regions. `None` for
    /// complete labels, where every chunk counts as judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged: Option<Vec<Span>>,
}

impl Question {
    /// Every gold span, direct or alternative: what a chunk must overlap to be relevant.
    pub fn all_spans(&self) -> impl Iterator<Item = &Span> {
        self.spans.iter().chain(self.alternatives.iter().flatten())
    }

    /// Whether the question has any span label.
    pub fn has_spans(&self) -> bool {
        self.all_spans().next().is_some()
    }

    /// Whether the question has any label at all (an unlabelled one is ranked, not scored).
    pub fn is_labelled(&self) -> bool {
        !self.relevant_docs.is_empty() || self.has_spans()
    }
}

/// Documents plus labelled questions.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Corpus {
    /// The documents, in a stable order.
    pub docs: Vec<Document>,
    /// The questions, in a stable order.
    pub questions: Vec<Question>,
}

impl Corpus {
    /// Map from document id to its index.
    pub fn doc_index(&self) -> HashMap<&str, DocId> {
        self.docs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.as_str(), i as DocId))
            .collect()
    }

    /// Hash of every document (id, title, text) and every label, in order.
    /// Two corpora with equal fingerprints give identical sweeps.
    pub fn fingerprint(&self) -> String {
        let mut h = ContentHasher::new();
        h.field(b"ragtune-corpus-v1");
        self.hash_docs(&mut h);
        for q in &self.questions {
            h.field(&q.id).field(&q.text);
            for d in &q.relevant_docs {
                h.field(d.to_le_bytes());
            }
            for s in &q.spans {
                hash_span(&mut h, s);
            }
            // Only where present, so that fingerprints of corpora without them stay put.
            for (i, alts) in q.alternatives.iter().enumerate() {
                h.field(b"alternatives").field(i.to_le_bytes());
                alts.iter().for_each(|s| hash_span(&mut h, s));
            }
            if let Some(judged) = &q.judged {
                h.field(b"judged");
                judged.iter().for_each(|s| hash_span(&mut h, s));
            }
        }
        h.finish_hex()
    }

    fn hash_docs(&self, h: &mut ContentHasher) {
        for d in &self.docs {
            h.field(&d.id)
                .field(d.title.as_deref().unwrap_or("\u{0}"))
                .field(&d.text);
            if !d.pages.is_empty() {
                h.field(b"pages");
                d.pages.iter().for_each(|p| _ = h.field(p.to_le_bytes()));
            }
        }
    }

    /// Hash of the documents alone (id, title, text): what chunk sets depend on.
    pub fn docs_fingerprint(&self) -> String {
        let mut h = ContentHasher::new();
        h.field(b"ragtune-docs-v1");
        self.hash_docs(&mut h);
        h.finish_hex()
    }

    /// Hash of the question texts, in order: what rankings depend on (labels are not).
    pub fn questions_fingerprint(&self) -> String {
        let mut h = ContentHasher::new();
        h.field(b"ragtune-questions-v1");
        for q in &self.questions {
            h.field(&q.text);
        }
        h.finish_hex()
    }

    /// Total bytes of document text.
    pub fn total_bytes(&self) -> usize {
        self.docs.iter().map(|d| d.text.len()).sum()
    }
}

fn hash_span(h: &mut ContentHasher, s: &Span) {
    h.field(s.doc.to_le_bytes())
        .field(s.start.to_le_bytes())
        .field(s.end.to_le_bytes());
}

/// A chunk: bytes `[start, end)` of document `doc`; chunks order by document, then place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Chunk {
    /// Source document.
    pub doc: DocId,
    /// First byte in the document.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Chunk {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    /// True when the chunk is empty.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// What goes in front of a chunk's text where it is indexed and embedded
/// (`chunk_header` in a grid); spans still point into the document.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ChunkHeader {
    /// The chunk's text alone.
    #[default]
    None,
    /// The document's title, a newline, then the text (BEIR's convention for whole
    /// documents).
    Title,
    /// The title and the markdown headings the chunk sits under, joined by ` > `, a
    /// newline, then the text.
    Path,
}

impl ChunkHeader {
    /// Grid name.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Title => "title",
            Self::Path => "path",
        }
    }
}

/// All chunks of a corpus under one chunking setup, in document order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChunkSet {
    /// The chunks.
    pub chunks: Vec<Chunk>,
    /// What goes in front of each chunk's text where it is indexed.
    pub header: ChunkHeader,
    /// Each chunk's heading path, for [`ChunkHeader::Path`] ([`Self::with_header`]).
    #[serde(skip)]
    pub paths: Vec<String>,
    /// For a subset of a chunk set (a halving screen's), each chunk's place in the whole
    /// set; empty for a whole set. Neighbours are chunks next to each other there.
    #[serde(skip)]
    pub places: Vec<u32>,
}

impl ChunkSet {
    /// The chunk's bytes in its document.
    pub fn text<'c>(&self, corpus: &'c Corpus, i: usize) -> &'c str {
        let c = self.chunks[i];
        &corpus.docs[c.doc as usize].text[c.start..c.end]
    }

    /// These chunks with `header` in front, their heading paths found for
    /// [`ChunkHeader::Path`].
    pub fn with_header(mut self, header: ChunkHeader, corpus: &Corpus) -> Self {
        self.header = header;
        self.paths = match header {
            ChunkHeader::Path => crate::headings::paths(
                |d| {
                    let doc = &corpus.docs[d as usize];
                    (doc.title.as_deref(), doc.text.as_str())
                },
                self.chunks.iter().map(|c| (c.doc, c.start)),
            ),
            _ => Vec::new(),
        };
        self
    }

    /// The text that retrievers index and embed for chunk `i`: its header, if any, a
    /// newline, then its text.
    pub fn index_text<'c>(&self, corpus: &'c Corpus, i: usize) -> Cow<'c, str> {
        let text = self.text(corpus, i);
        let title = corpus.docs[self.chunks[i].doc as usize].title.as_deref();
        let header = match self.header {
            ChunkHeader::None => None,
            ChunkHeader::Title => title,
            ChunkHeader::Path => self.paths.get(i).map(String::as_str).or(title),
        };
        match header {
            Some(h) if !h.is_empty() => Cow::Owned(format!("{h}\n{text}")),
            _ => Cow::Borrowed(text),
        }
    }

    /// Chunk `i` and up to `e` neighbours on each side in the same document (chunk sets
    /// are in document order), as indices.
    pub fn neighbours(&self, i: usize, e: usize) -> std::ops::RangeInclusive<usize> {
        // Chunks a and a + 1 are neighbours when they share a document and, in a subset,
        // were next to each other in the whole set.
        let next = |a: usize| {
            self.chunks[a].doc == self.chunks[a + 1].doc
                && (self.places.is_empty() || self.places[a] + 1 == self.places[a + 1])
        };
        let mut first = i;
        while first > 0 && i - first < e && next(first - 1) {
            first -= 1;
        }
        let mut last = i;
        while last + 1 < self.chunks.len() && last - i < e && next(last) {
            last += 1;
        }
        first..=last
    }

    /// The passage chunk `i` expands to with `e` neighbours on each side: its document's
    /// bytes from the first neighbour's start to the last one's end.
    pub fn expanded(&self, i: usize, e: usize) -> Chunk {
        self.covering(self.neighbours(i, e))
            .expect("a chunk is its own neighbour")
    }

    /// The bytes chunks `of` (of one document) cover together, from the earliest start
    /// to the latest end; `None` for no chunk.
    pub fn covering(&self, of: impl IntoIterator<Item = usize>) -> Option<Chunk> {
        of.into_iter().map(|c| self.chunks[c]).reduce(|a, b| Chunk {
            doc: a.doc,
            start: a.start.min(b.start),
            end: a.end.max(b.end),
        })
    }

    /// Number of chunks.
    pub fn len(&self) -> usize {
        self.chunks.len()
    }
    /// True when there are no chunks.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> Corpus {
        Corpus {
            docs: vec![Document {
                id: "a".into(),
                title: Some("T".into()),
                text: "hello world".into(),
                pages: Vec::new(),
            }],
            questions: vec![Question {
                id: "q".into(),
                text: "hi?".into(),
                relevant_docs: vec![0],
                spans: vec![Span {
                    doc: 0,
                    start: 6,
                    end: 11,
                }],
                alternatives: Vec::new(),
                judged: None,
            }],
        }
    }

    #[test]
    fn fingerprint_changes_with_labels() {
        let a = corpus();
        let mut b = corpus();
        b.questions[0].spans[0].start = 5;
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), corpus().fingerprint());
    }

    #[test]
    fn page_ranges_are_one_based_and_inclusive() {
        let d = Document {
            text: "aaaa\n\nbbbb\n\ncc".into(),
            pages: vec![0, 6, 12],
            ..Document::default()
        };
        assert_eq!(d.page_range(0, 4), Some((1, 1)));
        assert_eq!(d.page_range(6, 10), Some((2, 2)));
        assert_eq!(d.page_range(2, 8), Some((1, 2)));
        assert_eq!(d.page_range(12, 14), Some((3, 3)));
        // A range ending exactly where page 2 starts does not reach page 2.
        assert_eq!(d.page_range(0, 6), Some((1, 1)));
        assert_eq!(Document::default().page_range(0, 1), None);
        assert_eq!(format_pages((2, 2)), "p. 2");
        assert_eq!(format_pages((2, 3)), "pp. 2–3");
    }

    #[test]
    fn alternatives_change_the_fingerprint() {
        let a = corpus();
        let mut b = corpus();
        b.questions[0].alternatives = vec![vec![Span {
            doc: 0,
            start: 0,
            end: 5,
        }]];
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert!(b.questions[0].has_spans());
        assert_eq!(b.questions[0].all_spans().count(), 2);
    }

    /// Hand-worked: chunks 0–2 of document 0 and 3–4 of document 1; neighbours stop at
    /// a document's edge, and a passage runs from its first chunk's start to its last end.
    #[test]
    fn neighbours_stay_in_their_document() {
        let c = |doc, start, end| Chunk { doc, start, end };
        let set = ChunkSet {
            chunks: vec![c(0, 0, 4), c(0, 4, 9), c(0, 9, 12), c(1, 0, 5), c(1, 5, 8)],
            ..ChunkSet::default()
        };
        assert_eq!(set.neighbours(1, 0), 1..=1);
        assert_eq!(set.neighbours(1, 1), 0..=2);
        assert_eq!(set.neighbours(2, 2), 0..=2);
        assert_eq!(set.neighbours(3, 1), 3..=4);
        assert_eq!(set.neighbours(4, 5), 3..=4);
        assert_eq!(set.expanded(0, 1), c(0, 0, 9));
        assert_eq!(set.expanded(3, 2), c(1, 0, 8));
        assert_eq!(set.expanded(2, 0), c(0, 9, 12));
        // A screen kept chunks 0, 2 and 3 of the whole set: 0 and 2 are not neighbours.
        let screened = ChunkSet {
            chunks: vec![c(0, 0, 4), c(0, 9, 12), c(1, 0, 5)],
            places: vec![0, 2, 3],
            ..ChunkSet::default()
        };
        assert_eq!(screened.neighbours(0, 2), 0..=0);
        assert_eq!(screened.neighbours(1, 2), 1..=1);
    }

    #[test]
    fn index_text_prefixes_title_only_when_asked() {
        let c = corpus();
        let mut set = ChunkSet {
            chunks: vec![Chunk {
                doc: 0,
                start: 0,
                end: 5,
            }],
            ..ChunkSet::default()
        };
        assert_eq!(set.index_text(&c, 0), "hello");
        set.header = ChunkHeader::Title;
        assert_eq!(set.index_text(&c, 0), "T\nhello");
    }
}
