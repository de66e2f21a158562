//! A judgements file (`[corpus] judgements`): labels a person added to a corpus's
//! questions, as `ragtune judge` writes them, merged into the questions by id.
//!
//! The rows are those of a questions file (module `questions`): `id`, `question`, and
//! `doc_ids`, `spans` (with their `text`) and `judged` regions. Each row names a question
//! of the corpus by `id`; a row naming none is an error with its line. A span whose
//! quoted `text` is no longer at its offsets (the document was extracted again, by
//! another extractor version, say) is looked for by its text in the same document, so
//! that judgements outlive an extractor change; the label report says how it was found.

use std::collections::HashMap;
use std::path::Path;

use ragtune_core::{CharToByte, DocId, Document, Question};

use crate::error::{CorpusError, Result};
use crate::questions::RawLabel;
use crate::resolve::Unresolved;
use crate::{Loaded, questions};

/// Merge the judgements file at `path` into `loaded`'s questions.
pub(crate) fn merge(loaded: &mut Loaded, path: &Path, unresolved: Unresolved) -> Result<()> {
    let mut raw = questions::read(path)?;
    let docs = &loaded.corpus.docs;
    let index = loaded.corpus.doc_index();
    let mut maps: HashMap<DocId, CharToByte> = HashMap::new();
    for q in &mut raw {
        for (_, label) in &mut q.labels {
            relocate_if_moved(label, docs, &index, &mut maps);
        }
    }
    let lines: HashMap<String, usize> = raw.iter().map(|q| (q.id.clone(), q.line)).collect();
    let (judged, reports) = crate::resolve::resolve(docs, raw, path, unresolved)?;
    let index: HashMap<String, usize> = loaded
        .corpus
        .questions
        .iter()
        .enumerate()
        .map(|(i, q)| (q.id.clone(), i))
        .collect();
    for j in judged {
        let Some(&i) = index.get(&j.id) else {
            return Err(CorpusError::parse(
                path,
                lines[&j.id],
                format!(
                    "question id {:?} is not among the corpus's questions (a judgements file names questions by their ids: was the question removed, or reworded without an `id`?); remove this question's lines or restore the question",
                    j.id
                ),
            ));
        };
        add(&mut loaded.corpus.questions[i], j);
    }
    loaded.labels.extend(reports);
    Ok(())
}

/// A span whose quoted text is not at its offsets becomes that text, looked for in the
/// same document. `maps` keeps each document's offset map for the next label.
fn relocate_if_moved<'d>(
    label: &mut RawLabel,
    docs: &'d [Document],
    index: &HashMap<&str, DocId>,
    maps: &mut HashMap<DocId, CharToByte<'d>>,
) {
    let RawLabel::Span {
        doc_id,
        start,
        end,
        text: Some(text),
    } = label
    else {
        return;
    };
    let Some(&d) = index.get(doc_id.as_str()) else {
        return; // the resolver names the unknown document and the line
    };
    let doc = &docs[d as usize].text;
    let map = maps.entry(d).or_insert_with(|| CharToByte::new(doc));
    let here = match (map.byte(*start), map.byte(*end)) {
        (Some(s), Some(e)) if s < e => doc.get(s..e),
        _ => None,
    };
    if here != Some(text.as_str()) {
        *label = RawLabel::Answer {
            text: std::mem::take(text),
            sources: vec![std::mem::take(doc_id)],
        };
    }
}

/// Add `from`'s labels to `to`.
fn add(to: &mut Question, from: Question) {
    to.relevant_docs.extend(from.relevant_docs);
    to.relevant_docs.sort_unstable();
    to.relevant_docs.dedup();
    // A judgements file that repeats the questions file's labels adds nothing twice.
    to.spans.extend(from.spans);
    to.spans.sort_unstable();
    to.spans.dedup();
    to.alternatives.extend(from.alternatives);
    to.alternatives.sort_unstable();
    to.alternatives.dedup();
    if let Some(regions) = from.judged {
        to.judged.get_or_insert_with(Vec::new).extend(regions);
    }
}
