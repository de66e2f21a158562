//! TREC run and qrels files, so that trec_eval (or pytrec_eval, ranx) can check ragtune's
//! document-level numbers independently.
//!
//! The run exported for a setup at `k` lists, per question, the documents of its top-`k`
//! chunks in first-chunk order ([`ragtune_eval::docs_at_k`]), ranked 1, 2, … with scores
//! `k + 1 − rank`. trec_eval sorts by score, so strictly decreasing scores make it read
//! exactly ragtune's order; with a cut-off of `k`, its `P_k`, `recall_k`, `ndcg_cut_k` and
//! `recip_rank` then measure exactly ragtune's precision, recall, nDCG and MRR at `k`.
//!
//! qrels list every relevant document with relevance 1. For span labels these are the
//! documents holding a gold span.

use std::fmt::Write;

use ragtune_core::Corpus;
use ragtune_eval::RankingsRecord;

/// Why an export is impossible.
#[derive(Debug, thiserror::Error)]
pub enum TrecError {
    /// TREC files are whitespace-separated, so ids must not contain whitespace.
    #[error("{what} id {id:?} contains whitespace, which the TREC format cannot represent")]
    Whitespace {
        /// `question` or `document`.
        what: &'static str,
        /// The id.
        id: String,
    },
    /// `k` outside 1..=depth.
    #[error("k = {k} must lie between 1 and the run's ranking depth {depth}")]
    K {
        /// Asked.
        k: usize,
        /// Stored depth.
        depth: usize,
    },
}

fn check(what: &'static str, id: &str) -> Result<(), TrecError> {
    if id.is_empty() || id.chars().any(char::is_whitespace) {
        return Err(TrecError::Whitespace {
            what,
            id: id.to_string(),
        });
    }
    Ok(())
}

/// The run file (`qid Q0 docid rank score tag` lines) for `record` cut at `k` chunks.
pub fn run_file(record: &RankingsRecord, k: usize) -> Result<String, TrecError> {
    if k == 0 || k > record.depth {
        return Err(TrecError::K {
            k,
            depth: record.depth,
        });
    }
    let mut out = String::new();
    for q in &record.questions {
        check("question", &q.id)?;
        let cut: Vec<u32> = q.docs.iter().take(k).copied().collect();
        for (i, d) in ragtune_eval::docs_at_k(&cut).into_iter().enumerate() {
            let doc = &record.doc_ids[d as usize];
            check("document", doc)?;
            let _ = writeln!(
                out,
                "{} Q0 {} {} {} {}",
                q.id,
                doc,
                i + 1,
                k - i,
                record.config_id
            );
        }
    }
    Ok(out)
}

/// The qrels file (`qid 0 docid 1` lines) for every question of `corpus`.
pub fn qrels_file(corpus: &Corpus) -> Result<String, TrecError> {
    let mut out = String::new();
    for q in &corpus.questions {
        check("question", &q.id)?;
        for &d in &q.relevant_docs {
            let doc = &corpus.docs[d as usize].id;
            check("document", doc)?;
            let _ = writeln!(out, "{} 0 {} 1", q.id, doc);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use ragtune_core::{Document, Question};
    use ragtune_eval::QuestionRanking;

    use super::*;

    fn record() -> RankingsRecord {
        RankingsRecord {
            config_id: "cfg".into(),
            depth: 4,
            doc_ids: vec!["A".into(), "B".into(), "C".into()],
            questions: vec![
                QuestionRanking {
                    id: "q1".into(),
                    chunks: vec![7, 3, 9, 1],
                    docs: vec![1, 1, 0, 2],
                    scores: vec![4.0, 3.0, 2.0, 1.0],
                },
                QuestionRanking {
                    id: "q2".into(),
                    chunks: vec![],
                    docs: vec![],
                    scores: vec![],
                },
            ],
        }
    }

    #[test]
    fn run_lists_documents_in_first_chunk_order_with_decreasing_scores() {
        assert_eq!(
            run_file(&record(), 3).unwrap(),
            "q1 Q0 B 1 3 cfg\nq1 Q0 A 2 2 cfg\n"
        );
        assert_eq!(run_file(&record(), 1).unwrap(), "q1 Q0 B 1 1 cfg\n");
        assert!(matches!(
            run_file(&record(), 5),
            Err(TrecError::K { k: 5, depth: 4 })
        ));
        assert!(matches!(run_file(&record(), 0), Err(TrecError::K { .. })));
    }

    #[test]
    fn qrels_and_whitespace() {
        let mut corpus = Corpus {
            docs: vec![
                Document {
                    id: "A".into(),
                    title: None,
                    text: "x".into(),
                    pages: Vec::new(),
                },
                Document {
                    id: "B b".into(),
                    title: None,
                    text: "y".into(),
                    pages: Vec::new(),
                },
            ],
            questions: vec![Question {
                id: "q1".into(),
                text: "?".into(),
                relevant_docs: vec![0],
                spans: vec![],
                alternatives: Vec::new(),
                judged: None,
            }],
        };
        assert_eq!(qrels_file(&corpus).unwrap(), "q1 0 A 1\n");
        corpus.questions[0].relevant_docs = vec![0, 1];
        assert!(
            qrels_file(&corpus)
                .unwrap_err()
                .to_string()
                .contains("\"B b\"")
        );
    }
}
