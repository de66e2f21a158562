//! Heading paths: the markdown headings a chunk sits under (HTML and Word documents are
//! extracted with their headings written as markdown), for `chunk_header = "path"`.
//!
//! A heading is an ATX line: one to six `#`, then a space or the line's end, outside
//! fenced code blocks (lines opening with three backticks or tildes toggle a fence). A
//! chunk's path is the document's title (when it has one), then each heading in force
//! where the chunk starts, outermost first: a heading of level n closes every open
//! heading of level n or deeper. A heading the chunk starts with is its own text, not its
//! path.

/// How path elements are joined.
pub const PATH_SEPARATOR: &str = " > ";

/// `(line start, level, text)` of every heading of `text`, in order.
fn headings(text: &str) -> Vec<(usize, usize, &str)> {
    let mut out = Vec::new();
    let (mut at, mut fenced) = (0, false);
    for line in text.split_inclusive('\n') {
        let start = at;
        at += line.len();
        let t = line.trim_end_matches(['\n', '\r']);
        let lead = t.trim_start_matches(' ');
        if t.len() - lead.len() <= 3 && (lead.starts_with("```") || lead.starts_with("~~~")) {
            fenced = !fenced;
            continue;
        }
        if fenced || t.len() - lead.len() > 3 {
            continue;
        }
        let level = lead.bytes().take_while(|&b| b == b'#').count();
        let rest = &lead[level..];
        if (1..=6).contains(&level) && (rest.is_empty() || rest.starts_with([' ', '\t'])) {
            let name = rest.trim();
            // A closing run of `#` counts only after a space (`# C#` is about C#).
            let bare = name.trim_end_matches('#');
            let name = if bare.is_empty() || bare.ends_with([' ', '\t']) {
                bare.trim_end()
            } else {
                name
            };
            // Where the `#` stands: a chunk starting there starts with the heading.
            out.push((start + (t.len() - lead.len()), level, name));
        }
    }
    out
}

/// The heading path of each chunk, given as (document, start) in document order;
/// `doc(d)` is document `d`'s title and text.
pub fn paths<'a>(
    doc: impl Fn(u32) -> (Option<&'a str>, &'a str),
    chunks: impl Iterator<Item = (u32, usize)>,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<(u32, Vec<(usize, String)>)> = None;
    for (d, start) in chunks {
        if current.as_ref().is_none_or(|(at, _)| *at != d) {
            let (title, text) = doc(d);
            current = Some((d, snapshots(title, text)));
        }
        let (_, snaps) = current.as_ref().expect("set above");
        // The last snapshot in force where the chunk starts (the title's always is).
        let i = snaps.partition_point(|(from, _)| *from <= start);
        out.push(snaps[i.saturating_sub(1)].1.clone());
    }
    out
}

/// The path in force from each offset of document `d`: the title alone from 0, then each
/// heading's path from the byte after its line starts (a chunk that starts at a heading
/// is that heading, not under it).
fn snapshots(title: Option<&str>, text: &str) -> Vec<(usize, String)> {
    let title = title.filter(|t| !t.is_empty());
    let mut open: Vec<(usize, &str)> = Vec::new();
    let join = |open: &[(usize, &str)]| {
        title
            .into_iter()
            .chain(open.iter().map(|(_, t)| *t))
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(PATH_SEPARATOR)
    };
    let mut snaps = vec![(0, join(&open))];
    for (start, level, name) in headings(text) {
        open.retain(|(l, _)| *l < level);
        open.push((level, name));
        snaps.push((start + 1, join(&open)));
    }
    snaps
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paths of the chunks starting at each of `needles` in one document.
    fn of(title: Option<&str>, text: &str, needles: &[&str]) -> Vec<String> {
        let starts: Vec<(u32, usize)> =
            needles.iter().map(|n| (0, text.find(n).unwrap())).collect();
        paths(|_| (title, text), starts.into_iter())
    }

    /// Hand-worked: a title, nested headings, a deeper one closed by a shallower one, a
    /// `#` inside a code fence, and a chunk that starts with its own heading.
    #[test]
    fn paths_follow_the_open_headings() {
        let text = "intro\n# A\nalpha\n## B\nbeta\n```\n# not a heading\n```\ngamma\n# C #\ndelta\n###### F\nphi\n####### seven\n  # C#\nsharp\n";
        let needles = [
            "intro", "alpha", "beta", "gamma", "# C", "delta", "phi", "# C#", "sharp",
        ];
        assert_eq!(
            of(Some("Guide"), text, &needles),
            vec![
                "Guide",
                "Guide > A",
                "Guide > A > B",
                "Guide > A > B",
                "Guide > A > B",
                "Guide > C",
                "Guide > C > F",
                "Guide > C > F",
                "Guide > C#",
            ]
        );
        assert_eq!(
            of(None, "# Top\ntext\n", &["text", "# Top"]),
            vec!["Top", ""]
        );
    }
}
