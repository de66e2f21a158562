//! HTML: the main text, headings as markdown headings.
//!
//! The root is the first `main`, else the first `article`, else `body`. Dropped with
//! everything inside: `script`, `style`, `noscript`, `template`, `head`, `nav`, `aside`,
//! any element with `role="navigation"` or `hidden`, and `header` and `footer` unless they
//! lie inside an `article` (where they hold the article's own title or byline). Block
//! elements end a paragraph; `h1`–`h6` become `#`–`######` lines; list items start with
//! `- `; `pre` keeps its whitespace; elsewhere every run of whitespace is one space.

use scraper::{ElementRef, Html, Node, Selector};

const DROPPED: [&str; 10] = [
    "script", "style", "noscript", "template", "head", "nav", "aside", "svg", "iframe", "title",
];
const BLOCKS: [&str; 28] = [
    "p",
    "div",
    "section",
    "article",
    "main",
    "body",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "table",
    "tr",
    "thead",
    "tbody",
    "tfoot",
    "blockquote",
    "figure",
    "figcaption",
    "form",
    "fieldset",
    "address",
    "details",
    "summary",
    "hr",
    "header",
    "footer",
];

/// Paragraphs collected so far and the inline text of the current one.
#[derive(Default)]
struct Out {
    paragraphs: Vec<String>,
    inline: String,
}

impl Out {
    fn text(&mut self, t: &str) {
        for (i, word) in t.split_whitespace().enumerate() {
            let starts_with_space = i > 0 || t.starts_with(char::is_whitespace);
            if starts_with_space && !self.inline.is_empty() && !self.inline.ends_with(' ') {
                self.inline.push(' ');
            }
            self.inline.push_str(word);
        }
        if t.ends_with(char::is_whitespace)
            && !self.inline.is_empty()
            && !self.inline.ends_with(' ')
        {
            self.inline.push(' ');
        }
    }

    fn flush(&mut self) {
        let p = self.inline.trim();
        if !p.is_empty() {
            self.paragraphs.push(p.to_string());
        }
        self.inline.clear();
    }
}

fn dropped(el: &ElementRef, in_article: bool) -> bool {
    let e = el.value();
    let name = e.name();
    DROPPED.contains(&name)
        || (!in_article && matches!(name, "header" | "footer"))
        || e.attr("role") == Some("navigation")
        || e.attr("hidden").is_some()
}

fn inner_text(el: &ElementRef) -> String {
    let mut out = Out::default();
    for t in el.text() {
        out.text(t);
    }
    out.inline.trim().to_string()
}

fn walk(el: ElementRef, out: &mut Out, in_article: bool) {
    let in_article = in_article || el.value().name() == "article";
    for child in el.children() {
        match child.value() {
            Node::Text(t) => out.text(t),
            Node::Element(_) => {
                let Some(c) = ElementRef::wrap(child) else {
                    continue;
                };
                element(c, out, in_article);
            }
            _ => {}
        }
    }
}

fn element(c: ElementRef, out: &mut Out, in_article: bool) {
    if dropped(&c, in_article) {
        return;
    }
    let name = c.value().name();
    if let Some(level) = name.strip_prefix('h').and_then(|l| l.parse::<usize>().ok())
        && (1..=6).contains(&level)
    {
        out.flush();
        let t = inner_text(&c);
        if !t.is_empty() {
            out.paragraphs.push(format!("{} {t}", "#".repeat(level)));
        }
        return;
    }
    match name {
        "br" => out.flush(),
        "pre" => {
            out.flush();
            let t: String = c.text().collect();
            if !t.trim().is_empty() {
                out.paragraphs.push(t.trim_matches('\n').to_string());
            }
        }
        "li" => {
            out.flush();
            out.inline.push_str("- ");
            walk(c, out, in_article);
            out.flush();
        }
        "td" | "th" => {
            out.text(" ");
            walk(c, out, in_article);
            out.text(" ");
        }
        _ if BLOCKS.contains(&name) => {
            out.flush();
            walk(c, out, in_article);
            out.flush();
        }
        _ => walk(c, out, in_article),
    }
}

/// The main text of an HTML page, paragraphs separated by blank lines.
pub(crate) fn extract(html: &str) -> String {
    let doc = Html::parse_document(html);
    let pick = |sel: &str| {
        Selector::parse(sel)
            .ok()
            .and_then(|s| doc.select(&s).next())
    };
    let root = pick("main")
        .or_else(|| pick("article"))
        .or_else(|| pick("body"))
        .unwrap_or_else(|| doc.root_element());
    let mut out = Out::default();
    element(root, &mut out, false);
    out.flush();
    out.paragraphs.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<!doctype html><html><head><title>T</title>
<style>p { color: red }</style><script>var x = "script text";</script></head>
<body><header>Site name</header><nav><a href="/">Home</a></nav>
<div role="navigation">Crumbs</div>
<main><article><header><h1>The   Title</h1></header>
<p>First &amp; <b>bold</b>
paragraph.</p><h2>Part two</h2><ul><li>one</li><li>two</li></ul>
<pre>  code
  block</pre><p hidden>secret</p><aside>Related</aside>
<table><tr><td>a</td><td>b</td></tr></table></article></main>
<footer>Copyright</footer><script>more()</script></body></html>"#;

    #[test]
    fn main_text_with_markdown_headings() {
        assert_eq!(
            extract(PAGE),
            "# The Title\n\nFirst & bold paragraph.\n\n## Part two\n\n- one\n\n- two\n\n  code\n  block\n\na b"
        );
    }

    #[test]
    fn without_main_the_body_minus_its_furniture() {
        let html = "<body><header>H</header><p>Text <i>here</i></p><footer>F</footer></body>";
        assert_eq!(extract(html), "Text here");
        assert_eq!(extract("plain words"), "plain words");
    }
}
