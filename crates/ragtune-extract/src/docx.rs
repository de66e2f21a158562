//! Word (`.docx`): the paragraphs of `word/document.xml` in order, headings as markdown
//! headings. A paragraph is a heading when its style is named `Title` (level 1) or
//! `heading N` (level N) in `word/styles.xml`, or, without that file, when its style id is
//! `Title` or `HeadingN`. Tabs and line breaks inside a paragraph become spaces.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::ExtractError;

fn not_docx(why: impl std::fmt::Display) -> ExtractError {
    ExtractError::Damaged(format!(
        "not a Word (.docx) file, or a damaged or encrypted one: {why}"
    ))
}

fn member(
    zip: &mut zip::ZipArchive<Cursor<&[u8]>>,
    name: &str,
) -> Result<Option<String>, ExtractError> {
    let mut f = match zip.by_name(name) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(not_docx(e)),
    };
    let mut s = String::new();
    f.read_to_string(&mut s).map_err(not_docx)?;
    Ok(Some(s))
}

fn attr(e: &BytesStart, key: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == key)
        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
}

/// The heading level a style name gives, if it is a heading.
fn level_of_name(name: &str) -> Option<usize> {
    let n = name.trim().to_ascii_lowercase();
    if n == "title" {
        return Some(1);
    }
    let l: usize = n.strip_prefix("heading")?.trim().parse().ok()?;
    (1..=6).contains(&l).then_some(l)
}

/// Heading level per style id, from `word/styles.xml`.
fn heading_styles(xml: &str) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    let mut reader = Reader::from_str(xml);
    let mut current: Option<String> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if e.name().as_ref() == b"w:style" => {
                current = attr(&e, b"w:styleId");
            }
            Ok(Event::Empty(e)) if e.name().as_ref() == b"w:name" => {
                if let (Some(id), Some(level)) = (
                    &current,
                    attr(&e, b"w:val").as_deref().and_then(level_of_name),
                ) {
                    out.insert(id.clone(), level);
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    out
}

/// The text of a `.docx` held in `bytes`.
pub(crate) fn extract(bytes: &[u8]) -> Result<String, ExtractError> {
    if bytes.is_empty() {
        return Err(ExtractError::Empty);
    }
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(not_docx)?;
    let doc = member(&mut zip, "word/document.xml")?
        .ok_or_else(|| not_docx("it has no word/document.xml"))?;
    let styles = match member(&mut zip, "word/styles.xml")? {
        Some(s) => heading_styles(&s),
        None => HashMap::new(),
    };
    let level = |id: &str| {
        styles
            .get(id)
            .copied()
            .or_else(|| level_of_name(&id.replace("Heading", "heading ")))
    };
    paragraphs(&doc, level)
}

/// The text an entity or character reference stands for (`&amp;`, `&#160;`, `&#xA0;`).
fn reference(name: &str) -> String {
    let named = match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => "",
    };
    let code = match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => name.strip_prefix('#').and_then(|d| d.parse().ok()),
    };
    code.and_then(char::from_u32)
        .map_or_else(|| named.to_string(), String::from)
}

/// One paragraph being read: its text and style. Paragraphs nest (a text box's
/// paragraphs inside a run of the outer one), so they are kept on a stack.
#[derive(Default)]
struct Para {
    text: String,
    style: Option<String>,
}

fn paragraphs(xml: &str, level: impl Fn(&str) -> Option<usize>) -> Result<String, ExtractError> {
    let mut reader = Reader::from_str(xml);
    let mut out: Vec<String> = Vec::new();
    let mut stack: Vec<Para> = Vec::new();
    // Inside `mc:Fallback` (the same content again, for older readers): skipped.
    let (mut in_text, mut fallback) = (false, 0usize);
    loop {
        let event = reader.read_event().map_err(not_docx)?;
        match &event {
            Event::Start(e) if e.name().as_ref() == b"mc:Fallback" => fallback += 1,
            Event::End(e) if e.name().as_ref() == b"mc:Fallback" => {
                fallback = fallback.saturating_sub(1)
            }
            Event::Eof => break,
            _ => {}
        }
        if fallback > 0 {
            continue;
        }
        let cur = stack.last_mut();
        match event {
            Event::Start(e) if e.name().as_ref() == b"w:p" => stack.push(Para::default()),
            Event::Start(e) | Event::Empty(e)
                if matches!(e.name().as_ref(), b"w:tab" | b"w:br" | b"w:cr") =>
            {
                cur.into_iter().for_each(|p| p.text.push(' '));
            }
            Event::Empty(e) if matches!(e.name().as_ref(), b"w:noBreakHyphen") => {
                cur.into_iter().for_each(|p| p.text.push('-'));
            }
            Event::Empty(e) if e.name().as_ref() == b"w:pStyle" => {
                cur.into_iter().for_each(|p| p.style = attr(&e, b"w:val"));
            }
            Event::Start(e) if e.name().as_ref() == b"w:t" => in_text = true,
            Event::End(e) if e.name().as_ref() == b"w:t" => in_text = false,
            Event::Text(t) if in_text => {
                let t = t.decode().map_err(not_docx)?;
                cur.into_iter().for_each(|p| p.text.push_str(&t));
            }
            Event::GeneralRef(r) if in_text => {
                let r = reference(&r.decode().map_err(not_docx)?);
                cur.into_iter().for_each(|p| p.text.push_str(&r));
            }
            Event::End(e) if e.name().as_ref() == b"w:p" => {
                let Some(p) = stack.pop() else { continue };
                let t = p.text.split_whitespace().collect::<Vec<_>>().join(" ");
                if !t.is_empty() {
                    match p.style.as_deref().and_then(&level) {
                        Some(l) => out.push(format!("{} {t}", "#".repeat(l))),
                        None => out.push(t),
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out.join("\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_and_headings_in_order() {
        let xml = r#"<w:document><w:body>
<w:p><w:pPr><w:pStyle w:val="Title"/></w:pPr><w:r><w:t>Guide</w:t></w:r></w:p>
<w:p><w:r><w:t xml:space="preserve">Fish &amp; </w:t></w:r><w:r><w:t>chips</w:t><w:tab/><w:t>now</w:t></w:r></w:p>
<w:p/>
<w:p><w:pPr><w:pStyle w:val="Heading2"/></w:pPr><w:r><w:t>Part</w:t></w:r></w:p>
<w:tbl><w:tr><w:tc><w:p><w:r><w:t>cell</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
</w:body></w:document>"#;
        let level = |id: &str| level_of_name(&id.replace("Heading", "heading "));
        assert_eq!(
            paragraphs(xml, level).unwrap(),
            "# Guide\n\nFish & chips now\n\n## Part\n\ncell"
        );
    }

    #[test]
    fn text_boxes_keep_the_outer_paragraph_and_are_read_once() {
        let xml = r#"<w:document><w:body><w:p><w:r><w:t>before</w:t></w:r><w:r><mc:AlternateContent>
<mc:Choice><w:txbxContent><w:p><w:r><w:t>box</w:t></w:r></w:p></w:txbxContent></mc:Choice>
<mc:Fallback><w:txbxContent><w:p><w:r><w:t>box</w:t></w:r></w:p></w:txbxContent></mc:Fallback>
</mc:AlternateContent></w:r><w:r><w:t xml:space="preserve"> after&#160;all</w:t></w:r></w:p></w:body></w:document>"#;
        assert_eq!(
            paragraphs(xml, |_| None).unwrap(),
            "box\n\nbefore after all"
        );
    }

    #[test]
    fn styles_are_read_by_name() {
        let xml = r#"<w:styles><w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/></w:style>
<w:style w:styleId="Normal"><w:name w:val="Normal"/></w:style></w:styles>"#;
        let s = heading_styles(xml);
        assert_eq!(s.get("berschrift1"), Some(&1));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn not_a_zip_is_named() {
        let e = extract(b"plain text").unwrap_err().to_string();
        assert!(e.contains("not a Word (.docx) file"), "{e}");
        assert_eq!(
            extract(b"").unwrap_err().to_string(),
            ExtractError::Empty.to_string()
        );
    }
}
