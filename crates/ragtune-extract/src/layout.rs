//! From positioned lines to paragraphs: the part of PDF extraction that needs no PDFium.
//!
//! Lines come in PDFium's reading order, which can put a page's header and footer after
//! its body; the rules below look at positions where order would mislead.
//!
//! 1. **Page furniture.** Among the [`EDGE_LINES`] highest and the [`EDGE_LINES`] lowest
//!    lines of every page, a line whose text, with every run of digits read as one digit,
//!    recurs on more than half of the pages (and on at least two) is a running header,
//!    footer or page number, and is removed everywhere it recurs.
//! 2. **Paragraphs.** A vertical gap between two lines wider than [`PARAGRAPH_GAP`] times the
//!    page's median line height, or a line above the one before it (a new column, or text
//!    out of order), starts a new paragraph. A paragraph that runs over a page break is
//!    joined when the page's last line does not end a sentence and the next page's first
//!    line starts in lower case.
//! 3. **Line-end hyphens and dashes.** A line ending in a hyphen after a letter, followed
//!    by a line starting with a lower-case letter, is joined without a space; the hyphen is
//!    dropped when the joined word occurs elsewhere in the document without it, and kept
//!    otherwise (a compound such as "well-known" broken at its hyphen). Any other line
//!    ending in a hyphen or dash right after a character ("31–" and "24") is joined
//!    without a space, keeping the dash.

use std::collections::{HashMap, HashSet};

/// How many lines at the top and at the bottom of a page can be furniture.
pub const EDGE_LINES: usize = 3;
/// A gap wider than this many median line heights separates paragraphs.
pub const PARAGRAPH_GAP: f32 = 0.6;

/// One line of text with its vertical extent (PDF points, y grows upwards).
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The text.
    pub text: String,
    /// Top edge.
    pub top: f32,
    /// Bottom edge.
    pub bottom: f32,
}

/// The document's text and where each page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Laid {
    /// Paragraphs separated by blank lines.
    pub text: String,
    /// Byte offset of each page's first character.
    pub pages: Vec<usize>,
}

fn furniture_key(line: &str) -> String {
    let mut key = String::with_capacity(line.len());
    for c in line.trim().chars() {
        if c.is_ascii_digit() {
            if !key.ends_with('#') {
                key.push('#');
            }
        } else {
            key.extend(c.to_lowercase());
        }
    }
    key
}

/// The indices of a page's [`EDGE_LINES`] highest and lowest lines.
fn edge_indices(page: &[Line]) -> HashSet<usize> {
    let mut by_top: Vec<usize> = (0..page.len()).collect();
    by_top.sort_by(|&a, &b| page[b].top.total_cmp(&page[a].top));
    let n = page.len();
    let mut out: HashSet<usize> = by_top[..n.min(EDGE_LINES)].iter().copied().collect();
    out.extend(&by_top[n.saturating_sub(EDGE_LINES)..]);
    out
}

/// Remove running headers, footers and page numbers (see the module's rule).
pub fn remove_furniture(pages: &mut [Vec<Line>]) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for page in pages.iter() {
        let keys: HashSet<String> = edge_indices(page)
            .into_iter()
            .map(|i| furniture_key(&page[i].text))
            .collect();
        for k in keys {
            *counts.entry(k).or_default() += 1;
        }
    }
    let n = pages.len();
    let is_furniture = |k: &str| counts.get(k).is_some_and(|&c| c >= 2 && 2 * c > n);
    for page in pages.iter_mut() {
        let drop: HashSet<usize> = edge_indices(page)
            .into_iter()
            .filter(|&i| is_furniture(&furniture_key(&page[i].text)))
            .collect();
        let mut i = 0;
        page.retain(|_| {
            i += 1;
            !drop.contains(&(i - 1))
        });
    }
}

fn median_height(lines: &[Line]) -> f32 {
    let mut h: Vec<f32> = lines.iter().map(|l| (l.top - l.bottom).abs()).collect();
    h.sort_by(f32::total_cmp);
    h.get(h.len() / 2).copied().unwrap_or(0.0)
}

/// A page's paragraphs, each a list of lines.
fn paragraphs(lines: &[Line]) -> Vec<Vec<&str>> {
    let gap = PARAGRAPH_GAP * median_height(lines);
    let mut out: Vec<Vec<&str>> = Vec::new();
    let mut prev: Option<&Line> = None;
    for l in lines {
        let text = l.text.trim();
        if text.is_empty() {
            continue;
        }
        let new_paragraph = prev.is_none_or(|p| p.bottom - l.top > gap || l.top > p.top);
        match out.last_mut() {
            Some(last) if !new_paragraph => last.push(text),
            _ => out.push(vec![text]),
        }
        prev = Some(l);
    }
    out
}

fn ends_with_hyphen_after_letter(s: &str) -> bool {
    let mut rev = s.chars().rev();
    matches!(rev.next(), Some('-' | '\u{2}' | '\u{ad}'))
        && rev.next().is_some_and(char::is_alphabetic)
}

/// A hyphen or dash right after a character (not after a space).
fn ends_with_attached_dash(s: &str) -> bool {
    let mut rev = s.chars().rev();
    matches!(rev.next(), Some('-' | '‐' | '‑' | '–' | '—'))
        && rev.next().is_some_and(|c| !c.is_whitespace())
}

fn starts_lower(s: &str) -> bool {
    s.chars().next().is_some_and(char::is_lowercase)
}

/// Lower-cased words of the document, for deciding whether a line-end hyphen is a break.
fn vocabulary(pages: &[Vec<Line>]) -> HashSet<String> {
    pages
        .iter()
        .flatten()
        .flat_map(|l| l.text.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Append `next` to `out` across a line break: a space, or for a hyphenated word nothing
/// (dropping the hyphen when the joined word is known).
fn join_line(out: &mut String, next: &str, words: &HashSet<String>) {
    if ends_with_hyphen_after_letter(out) && starts_lower(next) {
        out.pop();
        let head = out
            .rsplit(|c: char| !c.is_alphanumeric())
            .next()
            .unwrap_or("");
        let tail = next
            .split(|c: char| !c.is_alphanumeric())
            .next()
            .unwrap_or("");
        if !words.contains(&format!("{head}{tail}").to_lowercase()) {
            out.push('-');
        }
    } else if ends_with_attached_dash(out) {
        // "31–" then "24": no space.
    } else if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(next);
}

fn ends_sentence(s: &str) -> bool {
    s.trim_end()
        .chars()
        .next_back()
        .is_some_and(|c| matches!(c, '.' | '!' | '?' | ':' | ';' | '"' | '”' | ')'))
}

/// Lay out the pages' lines as paragraphs, after removing page furniture.
pub fn lay_out(mut pages: Vec<Vec<Line>>) -> Laid {
    remove_furniture(&mut pages);
    let words = vocabulary(&pages);
    let mut text = String::new();
    let mut starts = Vec::with_capacity(pages.len());
    for page in &pages {
        let paras = paragraphs(page);
        let continues = !text.is_empty()
            && !ends_sentence(&text)
            && paras
                .first()
                .and_then(|p| p.first())
                .is_some_and(|l| starts_lower(l));
        for (i, para) in paras.iter().enumerate() {
            if i == 0 && continues {
                // The page starts where its first line is appended.
                join_line(&mut text, para[0], &words);
                starts.push(text.len() - para[0].len());
                for l in &para[1..] {
                    join_line(&mut text, l, &words);
                }
                continue;
            }
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            if i == 0 {
                starts.push(text.len());
            }
            let mut p = String::new();
            for l in para {
                join_line(&mut p, l, &words);
            }
            text.push_str(&p);
        }
        if paras.is_empty() {
            starts.push(text.len());
        }
    }
    Laid {
        text,
        pages: starts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines 14 points high, 2 apart; a paragraph gap of 14.
    fn page(body: &[&str], n: usize) -> Vec<Line> {
        let mut lines = vec![line(&format!("12/5/26, 3:4{n} PM   My Report"), 800.0)];
        let mut y = 760.0;
        for l in body {
            if l.is_empty() {
                y -= 14.0;
                continue;
            }
            lines.push(line(l, y));
            y -= 16.0;
        }
        lines.push(line(&format!("file:///tmp/report.html   {n}/3"), 20.0));
        lines
    }

    fn line(text: &str, top: f32) -> Line {
        Line {
            text: text.into(),
            top,
            bottom: top - 14.0,
        }
    }

    #[test]
    fn furniture_goes_paragraphs_and_hyphens_join() {
        let pages = vec![
            page(
                &[
                    "First para-",
                    "graph here.",
                    "",
                    "A well-",
                    "known fact and a hyphen-",
                ],
                1,
            ),
            page(
                &[
                    "ated word; then the para-",
                    "graph ends 31–",
                    "24",
                    "",
                    "Second.",
                ],
                2,
            ),
            page(&["Last paragraph, hyphenated."], 3),
        ];
        let laid = lay_out(pages);
        assert_eq!(
            laid.text,
            "First paragraph here.\n\nA well-known fact and a hyphenated word; then the paragraph ends 31–24\n\nSecond.\n\nLast paragraph, hyphenated."
        );
        // Page 2 starts mid-paragraph, at "ated": the continued word's second half.
        let p2 = laid.pages[1];
        assert!(
            laid.text[p2..].starts_with("ated word"),
            "{:?}",
            &laid.text[p2..]
        );
        assert!(laid.text[laid.pages[2]..].starts_with("Last paragraph"));
        assert_eq!(laid.pages[0], 0);
    }

    #[test]
    fn furniture_is_found_by_position_not_order() {
        // PDFium gives the header and footer after the body.
        let mut pages: Vec<Vec<Line>> = (1..=3)
            .map(|n| {
                vec![
                    line(
                        &format!("body {} text", ["one", "two", "three"][n - 1]),
                        700.0,
                    ),
                    line(&format!("Title   {n}"), 800.0),
                    line("file:///x.html", 20.0),
                ]
            })
            .collect();
        remove_furniture(&mut pages);
        assert!(
            pages
                .iter()
                .all(|p| p.len() == 1 && p[0].text.starts_with("body"))
        );
        // A line above the one before starts a paragraph.
        let laid = lay_out(vec![vec![line("low", 100.0), line("high", 700.0)]]);
        assert_eq!(laid.text, "low\n\nhigh");
    }

    #[test]
    fn a_line_on_only_some_pages_stays() {
        let mut pages = vec![
            vec![line("Chapter 1", 800.0), line("body one", 700.0)],
            vec![line("Other top", 800.0), line("body two", 700.0)],
            vec![line("Chapter 3", 800.0), line("body three", 700.0)],
            vec![line("Another", 800.0), line("body four", 700.0)],
        ];
        remove_furniture(&mut pages);
        // "Chapter #" is on two of four pages: not more than half, so it stays.
        assert_eq!(pages[0][0].text, "Chapter 1");
        // "body #"? No: "body one" and "body two" differ in words, not digits.
        assert_eq!(pages.iter().map(Vec::len).sum::<usize>(), 8);
    }
}
