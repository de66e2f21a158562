//! Compact binary payloads for the stage store: little-endian, length-prefixed, and
//! checked on decode (a payload that does not parse exactly is treated as damaged).

use ragtune_core::{
    Chunk, ChunkHeader, ChunkSet, Hit, Ranking, f32s_from_le_bytes, f32s_to_le_bytes,
};
use ragtune_eval::Costs;

#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_at_checked(N)?;
        self.0 = rest;
        head.try_into().ok()
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }
    fn f64(&mut self) -> Option<f64> {
        self.take().map(f64::from_le_bytes)
    }
    fn f32(&mut self) -> Option<f32> {
        self.take().map(f32::from_le_bytes)
    }
    fn len(&mut self, item_bytes: usize) -> Option<usize> {
        let n = self.u64()? as usize;
        // A length the rest of the payload cannot hold is damage, not an allocation.
        (n.checked_mul(item_bytes)? <= self.0.len()).then_some(n)
    }
}

/// One component's rankings of a question set, with what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRankings {
    /// Index build cost and size (latencies are per sampled question, below).
    pub costs: Costs,
    /// Milliseconds per question of the latency sample (`ragtune_eval::latency_sample`),
    /// in sample order: one query at a time, its embedding included for vector
    /// components.
    pub ms: Vec<f64>,
    /// One ranking per question.
    pub rankings: Vec<Ranking>,
}

/// Encode rankings.
pub fn encode_rankings(r: &StoredRankings) -> Vec<u8> {
    let mut w = Writer::default();
    w.f64(r.costs.index_seconds);
    w.u64(r.costs.index_bytes);
    w.u64(r.costs.vector_bytes);
    w.u64(r.costs.graph_bytes);
    w.u64(r.costs.disk_bytes);
    w.u64(r.rankings.len() as u64);
    for ranking in &r.rankings {
        w.u64(ranking.hits.len() as u64);
        for h in &ranking.hits {
            w.u32(h.chunk);
            w.f32(h.score);
        }
    }
    w.u64(r.ms.len() as u64);
    for &ms in &r.ms {
        w.f64(ms);
    }
    w.0
}

/// Decode rankings; `None` unless the payload parses exactly.
pub fn decode_rankings(bytes: &[u8]) -> Option<StoredRankings> {
    let mut r = Reader(bytes);
    let costs = Costs {
        index_seconds: r.f64()?,
        index_bytes: r.u64()?,
        vector_bytes: r.u64()?,
        graph_bytes: r.u64()?,
        disk_bytes: r.u64()?,
        ..Costs::default()
    };
    let n = r.len(8)?;
    let mut rankings = Vec::with_capacity(n);
    for _ in 0..n {
        let hits = r.len(8)?;
        let mut v = Vec::with_capacity(hits);
        for _ in 0..hits {
            v.push(Hit {
                chunk: r.u32()?,
                score: r.f32()?,
            });
        }
        rankings.push(Ranking { hits: v });
    }
    let n = r.len(8)?;
    let ms = (0..n).map(|_| r.f64()).collect::<Option<Vec<f64>>>()?;
    r.0.is_empty().then_some(StoredRankings {
        costs,
        ms,
        rankings,
    })
}

/// A header's code in a stored chunk set: 0 and 1 are what the flag "title in front"
/// was before headers had names, so older entries read back unchanged.
fn header_code(h: ChunkHeader) -> u32 {
    match h {
        ChunkHeader::None => 0,
        ChunkHeader::Title => 1,
        ChunkHeader::Path => 2,
    }
}

/// Encode a chunk set and its token counts. A path header's paths are not stored: they
/// are found again from the corpus ([`ChunkSet::with_header`]).
pub fn encode_chunks(set: &ChunkSet, counts: &[u32]) -> Vec<u8> {
    let mut w = Writer::default();
    w.u32(header_code(set.header));
    w.u64(set.chunks.len() as u64);
    for (c, &n) in set.chunks.iter().zip(counts) {
        w.u32(c.doc);
        w.u64(c.start as u64);
        w.u64(c.end as u64);
        w.u32(n);
    }
    w.0
}

/// Decode a chunk set; `None` unless the payload parses exactly and every chunk lies in
/// a document of `doc_lens` (byte lengths).
pub fn decode_chunks(bytes: &[u8], doc_lens: &[usize]) -> Option<(ChunkSet, Vec<u32>)> {
    let mut r = Reader(bytes);
    let header = match r.u32()? {
        0 => ChunkHeader::None,
        1 => ChunkHeader::Title,
        2 => ChunkHeader::Path,
        _ => return None,
    };
    let n = r.len(24)?;
    let (mut chunks, mut counts) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let c = Chunk {
            doc: r.u32()?,
            start: r.u64()? as usize,
            end: r.u64()? as usize,
        };
        if c.start > c.end || c.end > *doc_lens.get(c.doc as usize)? {
            return None;
        }
        chunks.push(c);
        counts.push(r.u32()?);
    }
    r.0.is_empty().then_some((
        ChunkSet {
            chunks,
            header,
            ..ChunkSet::default()
        },
        counts,
    ))
}

/// What identifies a chunk set's content: its byte ranges and whether titles are
/// prefixed. Two chunkings with equal fingerprints are the same chunk set.
pub fn fingerprint(set: &ChunkSet) -> String {
    let mut h = ragtune_core::ContentHasher::new();
    h.field([header_code(set.header) as u8]);
    let mut w = Writer::default();
    for c in &set.chunks {
        w.u32(c.doc);
        w.u64(c.start as u64);
        w.u64(c.end as u64);
    }
    h.field(&w.0);
    h.finish_hex()
}

/// Encode an extracted text: the page count and page starts (u64 each), then the text.
pub fn encode_text(text: &str, pages: &[usize]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 * (pages.len() + 1) + text.len());
    out.extend_from_slice(&(pages.len() as u64).to_le_bytes());
    for &p in pages {
        out.extend_from_slice(&(p as u64).to_le_bytes());
    }
    out.extend_from_slice(text.as_bytes());
    out
}

/// Decode [`encode_text`]; `None` unless the pages ascend, lie on character boundaries
/// of the text and the text is UTF-8.
pub fn decode_text(bytes: &[u8]) -> Option<(String, Vec<usize>)> {
    let word = |i: usize| -> Option<usize> {
        let b = bytes.get(8 * i..8 * i + 8)?;
        usize::try_from(u64::from_le_bytes(b.try_into().ok()?)).ok()
    };
    let n = word(0)?;
    let head = n.checked_add(1)?.checked_mul(8)?;
    if head > bytes.len() {
        return None;
    }
    let pages: Vec<usize> = (1..=n).map(word).collect::<Option<_>>()?;
    let text = std::str::from_utf8(&bytes[head..]).ok()?.to_string();
    let ok =
        pages.windows(2).all(|w| w[0] <= w[1]) && pages.iter().all(|&p| text.is_char_boundary(p));
    ok.then_some((text, pages))
}

/// Encode vectors.
pub fn encode_vectors(data: &[f32]) -> Vec<u8> {
    f32s_to_le_bytes(data)
}

/// Decode `n` vectors of `dim`; `None` for a wrong length or a non-finite value.
pub fn decode_vectors(bytes: &[u8], n: usize, dim: usize) -> Option<Vec<f32>> {
    if bytes.len() != n * dim * 4 {
        return None;
    }
    let v = f32s_from_le_bytes(bytes)?;
    v.iter().all(|x| x.is_finite()).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_round_trip_and_refuse_bad_pages() {
        let b = encode_text("héllo\n\nworld", &[0, 8]);
        assert_eq!(
            decode_text(&b),
            Some(("héllo\n\nworld".to_string(), vec![0, 8]))
        );
        assert_eq!(
            decode_text(&encode_text("x", &[])),
            Some(("x".into(), vec![]))
        );
        // Inside "é", descending, past the end, truncated.
        assert_eq!(decode_text(&encode_text("héllo", &[2])), None);
        assert_eq!(decode_text(&encode_text("hello", &[3, 1])), None);
        assert_eq!(decode_text(&encode_text("hello", &[9])), None);
        assert_eq!(decode_text(&b[..12]), None);
        assert_eq!(decode_text(&[0xff; 8]), None);
    }

    #[test]
    fn rankings_round_trip_bit_exact_and_reject_trailing_bytes() {
        let r = StoredRankings {
            costs: Costs {
                index_seconds: 0.125,
                index_bytes: 99,
                vector_bytes: 60,
                graph_bytes: 39,
                disk_bytes: 7,
                ..Costs::default()
            },
            ms: vec![0.1 + 0.2, 3.0, 4.5],
            rankings: vec![
                Ranking {
                    hits: vec![
                        Hit {
                            chunk: 3,
                            score: 0.5,
                        },
                        Hit {
                            chunk: 1,
                            score: -1.0,
                        },
                    ],
                },
                Ranking::default(),
            ],
        };
        let bytes = encode_rankings(&r);
        assert_eq!(decode_rankings(&bytes).unwrap(), r);
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_rankings(&longer).is_none());
        assert!(decode_rankings(&bytes[..bytes.len() - 1]).is_none());
        // A huge declared length is damage, not an allocation.
        let mut huge = bytes.clone();
        huge[40..48].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode_rankings(&huge).is_none());
    }

    #[test]
    fn chunks_round_trip_and_out_of_document_ranges_are_damage() {
        let set = ChunkSet {
            chunks: vec![
                Chunk {
                    doc: 0,
                    start: 0,
                    end: 4,
                },
                Chunk {
                    doc: 1,
                    start: 2,
                    end: 9,
                },
            ],
            ..ChunkSet::default()
        };
        let bytes = encode_chunks(&set, &[1, 2]);
        let (back, counts) = decode_chunks(&bytes, &[4, 9]).unwrap();
        assert_eq!((back.chunks, counts), (set.chunks.clone(), vec![1, 2]));
        assert!(decode_chunks(&bytes, &[4, 8]).is_none());
        // Headers keep their codes (0 and 1 are the old "title in front" flag); 3 is none.
        let mut prints = std::collections::BTreeSet::new();
        for h in [ChunkHeader::None, ChunkHeader::Title, ChunkHeader::Path] {
            let with = ChunkSet {
                header: h,
                ..set.clone()
            };
            let bytes = encode_chunks(&with, &[1, 2]);
            assert_eq!(bytes[..4], header_code(h).to_le_bytes());
            assert_eq!(decode_chunks(&bytes, &[4, 9]).unwrap().0.header, h);
            prints.insert(fingerprint(&with));
        }
        assert_eq!(prints.len(), 3, "each header is another chunk set");
        let mut three = bytes.clone();
        three[0] = 3;
        assert!(decode_chunks(&three, &[4, 9]).is_none());
        assert!(decode_vectors(&encode_vectors(&[1.0, f32::NAN]), 1, 2).is_none());
        assert_eq!(
            decode_vectors(&encode_vectors(&[1.0, 2.0]), 1, 2),
            Some(vec![1.0, 2.0])
        );
    }
}
