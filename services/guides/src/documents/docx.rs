//! DOCX: the paragraphs of `word/document.xml`, with heading levels from the
//! paragraph styles in `word/styles.xml`.
//!
//! Read by hand from the zip and the XML rather than through a DOCX library:
//! the one at hand drops the text of hyperlinks and can panic.

use std::collections::HashMap;
use std::io::{Cursor, Read, Seek};

use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart, Event};
use zip::ZipArchive;
use zip::result::ZipError;

use super::{Block, Document, DocumentError, Format, normalise};

const DOCUMENT_PART: &str = "word/document.xml";
const STYLES_PART: &str = "word/styles.xml";
/// How many `w:basedOn` links are followed; Word's own chains are a few long,
/// and the bound also ends a cycle.
const MAX_BASED_ON: usize = 16;

/// Reads a DOCX whose XML parts unpack to at most `limit` bytes together.
pub(super) fn read(bytes: &[u8], limit: u64) -> Result<Document, DocumentError> {
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(unreadable)?;
    let mut budget = Budget { limit, left: limit };
    // A zip without the main part is some other kind of file (an XLSX, say).
    let document =
        read_part(&mut archive, DOCUMENT_PART, &mut budget)?.ok_or(DocumentError::UnknownFormat)?;
    let styles = match read_part(&mut archive, STYLES_PART, &mut budget)? {
        Some(xml) => Styles::parse(&xml)?,
        None => Styles::default(),
    };
    let blocks = paragraphs(&document, &styles)?;
    Ok(Document {
        format: Format::Docx,
        pages: 0,
        blocks,
        other_text: every_part_text(&mut archive, &mut budget)?,
    })
}

/// The text of every XML part of the package, the main part's hidden runs included, each text node
/// on its own line (within the same unpacking budget).
fn every_part_text<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    budget: &mut Budget,
) -> Result<String, DocumentError> {
    let names: Vec<String> = archive
        .file_names()
        .filter(|name| name.ends_with(".xml") || name.ends_with(".rels"))
        .map(str::to_owned)
        .collect();
    let mut text = String::new();
    for name in names {
        let Some(xml) = read_part(archive, &name, budget)? else {
            continue;
        };
        let mut reader = Reader::from_reader(xml.as_slice());
        loop {
            match reader.read_event() {
                Ok(Event::Text(t)) => {
                    text.push_str(&String::from_utf8_lossy(t.as_ref()));
                    text.push('\n');
                }
                Ok(Event::CData(t)) => {
                    text.push_str(&String::from_utf8_lossy(t.as_ref()));
                    text.push('\n');
                }
                Ok(Event::Start(e) | Event::Empty(e)) => {
                    // Attribute values hold text too (a comment's author, a property).
                    for attr in e.attributes().flatten() {
                        text.push_str(&String::from_utf8_lossy(&attr.value));
                        text.push('\n');
                    }
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(err) => return Err(unreadable(format!("{name}: {err}"))),
            }
        }
    }
    Ok(text)
}

fn unreadable(reason: impl std::fmt::Display) -> DocumentError {
    DocumentError::unreadable(Format::Docx, reason)
}

/// How many bytes the parts read so far may still unpack to.
struct Budget {
    limit: u64,
    left: u64,
}

/// One part of the package, or `None` when it is missing; counts what it
/// unpacks to against `budget`, trusting no size the zip declares.
fn read_part<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    name: &str,
    budget: &mut Budget,
) -> Result<Option<Vec<u8>>, DocumentError> {
    let mib = budget.limit.div_ceil(1 << 20);
    let too_large = || unreadable(format!("the document unpacks to more than {mib} MiB"));
    let file = match archive.by_name(name) {
        Ok(file) => file,
        Err(ZipError::FileNotFound) => return Ok(None),
        Err(err) => return Err(unreadable(err)),
    };
    if file.size() > budget.left {
        return Err(too_large());
    }
    let mut data = Vec::new();
    // One byte past the budget tells a lying size header from an exact fit.
    file.take(budget.left.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(unreadable)?;
    let used = data.len() as u64;
    if used > budget.left {
        return Err(too_large());
    }
    budget.left -= used;
    Ok(Some(data))
}

/// A reader that reports `<a/>` as a start and an end, so both are handled alike.
fn xml_reader(xml: &[u8]) -> Reader<&[u8]> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().expand_empty_elements = true;
    reader
}

/// The value of the attribute with this local name (`w:val` → `val`).
fn attribute(reader: &Reader<&[u8]>, element: &BytesStart, name: &[u8]) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|attr| attr.key.local_name().as_ref() == name)
        .and_then(|attr| attr.decode_and_unescape_value(reader.decoder()).ok())
        .map(|value| value.into_owned())
}

/// The heading level an outline level gives: `w:outlineLvl` 0 is a top
/// heading, 9 (or anything past 8) is body text.
fn outline_heading(outline: u8) -> Option<u8> {
    (outline <= 8).then_some(outline + 1)
}

/// The heading level a style's name gives. Word keeps the English built-in
/// name ("heading 1") even when the style id is Danish (`Overskrift1`);
/// other programs write the localised name.
fn name_heading(name: &str) -> Option<u8> {
    let name = name.trim().to_lowercase();
    let number = name
        .strip_prefix("heading ")
        .or_else(|| name.strip_prefix("overskrift "))?;
    let level: u8 = number.trim().parse().ok()?;
    (1..=9).contains(&level).then_some(level)
}

/// A paragraph style as declared, before `w:basedOn` is followed.
#[derive(Debug, Default)]
struct Style {
    /// `Some(level)` when the style itself says whether it is a heading
    /// (`Some(None)`: it says body text); `None` to inherit.
    own: Option<Option<u8>>,
    based_on: Option<String>,
}

/// What `w:style` says about itself while it is being read.
#[derive(Debug, Default)]
struct Declaration {
    id: String,
    name: Option<String>,
    outline: Option<u8>,
    based_on: Option<String>,
}

impl Declaration {
    fn into_style(self) -> (String, Style) {
        // "Title"/"Titel" is left a paragraph: a guide's title starts no section.
        let own = match (self.name.as_deref().and_then(name_heading), self.outline) {
            (Some(level), _) => Some(Some(level)),
            (None, Some(outline)) => Some(outline_heading(outline)),
            (None, None) => None,
        };
        let style = Style {
            own,
            based_on: self.based_on,
        };
        (self.id, style)
    }
}

/// The paragraph styles of `word/styles.xml` that make a heading.
#[derive(Debug, Default)]
struct Styles {
    /// Style id → heading level, inheritance already followed.
    headings: HashMap<String, u8>,
    /// The style of a paragraph that names none.
    default: Option<String>,
}

impl Styles {
    fn parse(xml: &[u8]) -> Result<Self, DocumentError> {
        let mut reader = xml_reader(xml);
        let mut declared: HashMap<String, Style> = HashMap::new();
        let mut default = None;
        let mut current: Option<Declaration> = None;
        loop {
            match reader.read_event().map_err(unreadable)? {
                Event::Start(element) => {
                    let value = |name: &[u8]| attribute(&reader, &element, name);
                    match (element.local_name().as_ref(), current.as_mut()) {
                        (b"style", _) => {
                            // No w:type means a paragraph style.
                            let paragraph = value(b"type").is_none_or(|kind| kind == "paragraph");
                            current =
                                value(b"styleId")
                                    .filter(|_| paragraph)
                                    .map(|id| Declaration {
                                        id,
                                        ..Declaration::default()
                                    });
                            if let Some(declaration) = &current
                                && value(b"default").is_some_and(|on| on == "1" || on == "true")
                            {
                                default = Some(declaration.id.clone());
                            }
                        }
                        (b"name", Some(declaration)) => declaration.name = value(b"val"),
                        (b"basedOn", Some(declaration)) => declaration.based_on = value(b"val"),
                        (b"outlineLvl", Some(declaration)) => {
                            declaration.outline = value(b"val").and_then(|v| v.trim().parse().ok());
                        }
                        _ => {}
                    }
                }
                Event::End(element) if element.local_name().as_ref() == b"style" => {
                    if let Some((id, style)) = current.take().map(Declaration::into_style) {
                        declared.insert(id, style);
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        let headings = declared
            .keys()
            .filter_map(|id| inherited_level(&declared, id).map(|level| (id.clone(), level)))
            .collect();
        Ok(Self { headings, default })
    }

    /// The heading level of a paragraph in style `id` (or the default style).
    fn level(&self, id: Option<&str>) -> Option<u8> {
        self.headings.get(id.or(self.default.as_deref())?).copied()
    }
}

/// Follows `w:basedOn` until a style says whether it is a heading.
fn inherited_level(styles: &HashMap<String, Style>, id: &str) -> Option<u8> {
    let mut id = id;
    for _ in 0..MAX_BASED_ON {
        let style = styles.get(id)?;
        if let Some(level) = style.own {
            return level;
        }
        id = style.based_on.as_deref()?;
    }
    None
}

/// The elements that matter while reading `word/document.xml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Paragraph,
    ParagraphProperties,
    Run,
    Text,
    /// A tab, line, page or carriage break: a space in the text.
    Break,
    /// A non-breaking hyphen.
    Hyphen,
    /// Content that is not shown: deleted or moved-away text, field codes,
    /// the fallback copy of alternate content, and recorded former formatting.
    Hidden,
    Other,
}

impl Tag {
    fn of(local_name: &[u8]) -> Self {
        match local_name {
            b"p" => Self::Paragraph,
            b"pPr" => Self::ParagraphProperties,
            b"r" => Self::Run,
            b"t" => Self::Text,
            b"tab" | b"br" | b"cr" => Self::Break,
            b"noBreakHyphen" => Self::Hyphen,
            b"del" | b"moveFrom" | b"delText" | b"instrText" | b"delInstrText" | b"Fallback" => {
                Self::Hidden
            }
            // pPrChange, rPrChange, tblPrChange…: formatting before a tracked change.
            name if name.ends_with(b"PrChange") => Self::Hidden,
            _ => Self::Other,
        }
    }
}

/// A paragraph being read.
#[derive(Debug, Default)]
struct Paragraph {
    text: String,
    style: Option<String>,
    outline: Option<u8>,
}

impl Paragraph {
    fn into_block(self, styles: &Styles) -> Option<Block> {
        let text = normalise(&self.text);
        if text.is_empty() {
            return None;
        }
        // A paragraph's own outline level overrides its style's.
        let heading_level = match self.outline {
            Some(outline) => outline_heading(outline),
            None => styles.level(self.style.as_deref()),
        };
        Some(Block {
            text,
            heading_level,
            page: None,
        })
    }
}

/// Every `w:p` of the body, table cells and text boxes included, in document
/// order; empty ones give no block.
fn paragraphs(xml: &[u8], styles: &Styles) -> Result<Vec<Block>, DocumentError> {
    let mut reader = xml_reader(xml);
    let mut stack: Vec<Tag> = Vec::new();
    // Paragraphs nest: a text box's paragraphs sit inside a run of another.
    let mut open: Vec<Paragraph> = Vec::new();
    let mut hidden = 0usize;
    let mut blocks = Vec::new();
    loop {
        match reader.read_event().map_err(unreadable)? {
            Event::Start(element) => {
                let mut tag = Tag::of(element.local_name().as_ref());
                if tag == Tag::Hidden {
                    hidden += 1;
                } else if hidden > 0 {
                    tag = Tag::Other;
                }
                let parent = stack.last().copied();
                match (tag, parent) {
                    (Tag::Paragraph, _) => open.push(Paragraph::default()),
                    (Tag::Break, Some(Tag::Run)) => push_text(&mut open, " "),
                    (Tag::Hyphen, Some(Tag::Run)) => push_text(&mut open, "-"),
                    (Tag::Other, Some(Tag::ParagraphProperties)) if hidden == 0 => {
                        set_property(&reader, &element, &mut open);
                    }
                    _ => {}
                }
                stack.push(tag);
            }
            Event::End(_) => match stack.pop() {
                Some(Tag::Hidden) => hidden = hidden.saturating_sub(1),
                Some(Tag::Paragraph) => {
                    if let Some(block) = open
                        .pop()
                        .and_then(|paragraph| paragraph.into_block(styles))
                    {
                        blocks.push(block);
                    }
                }
                _ => {}
            },
            Event::Text(text) if in_text(&stack, hidden) => {
                push_text(&mut open, &String::from_utf8_lossy(&text))
            }
            Event::CData(text) if in_text(&stack, hidden) => {
                push_text(&mut open, &String::from_utf8_lossy(&text))
            }
            Event::GeneralRef(reference) if in_text(&stack, hidden) => {
                if let Some(text) = resolve(&reference) {
                    push_text(&mut open, &text);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(blocks)
}

fn in_text(stack: &[Tag], hidden: usize) -> bool {
    hidden == 0 && stack.last() == Some(&Tag::Text)
}

fn push_text(open: &mut [Paragraph], text: &str) {
    if let Some(paragraph) = open.last_mut() {
        paragraph.text.push_str(text);
    }
}

/// Takes the style and outline level from a child of a paragraph's `w:pPr`.
fn set_property(reader: &Reader<&[u8]>, element: &BytesStart, open: &mut [Paragraph]) {
    let Some(paragraph) = open.last_mut() else {
        return;
    };
    match element.local_name().as_ref() {
        b"pStyle" => paragraph.style = attribute(reader, element, b"val"),
        b"outlineLvl" => {
            paragraph.outline =
                attribute(reader, element, b"val").and_then(|v| v.trim().parse().ok());
        }
        _ => {}
    }
}

/// The text of `&amp;`, `&#230;`, `&#xE6;` and the other predefined references;
/// `None` for one a DTD would have to define, which a DOCX has none of.
fn resolve(reference: &BytesRef) -> Option<String> {
    if let Ok(Some(character)) = reference.resolve_char_ref() {
        return Some(character.to_string());
    }
    let name = String::from_utf8_lossy(reference);
    quick_xml::escape::resolve_xml_entity(&name).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use zip::write::SimpleFileOptions;

    use super::*;
    use crate::documents::{self, MAX_UNPACKED};
    use crate::testing::{self, SectionSpec};

    fn paragraph(style: &str, inner: &str) -> String {
        let properties = if style.is_empty() {
            String::new()
        } else {
            format!(r#"<w:pPr><w:pStyle w:val="{style}"/></w:pPr>"#)
        };
        format!("<w:p>{properties}{inner}</w:p>")
    }

    fn run(text: &str) -> String {
        format!(r#"<w:r><w:t xml:space="preserve">{text}</w:t></w:r>"#)
    }

    fn read_body(body: &str, extra_styles: &str) -> Vec<Block> {
        documents::read(&testing::docx_with_body(body, extra_styles))
            .unwrap()
            .blocks
    }

    fn texts(blocks: &[Block]) -> Vec<(&str, Option<u8>)> {
        blocks
            .iter()
            .map(|b| (b.text.as_str(), b.heading_level))
            .collect()
    }

    #[test]
    fn a_long_generated_guide_reads_back_in_order() {
        let sections = testing::sample_sections(8, 5, 6);
        let bytes = testing::docx(&sections);
        let document = documents::read(&bytes).unwrap();
        assert_eq!(document.format, Format::Docx);
        assert_eq!(document.pages, 0);

        let expected: Vec<Block> = sections
            .iter()
            .flat_map(|section| {
                let heading = Block {
                    text: section.heading.clone(),
                    heading_level: Some(section.level),
                    page: None,
                };
                let paragraphs = section.paragraphs.iter().map(|text| Block {
                    text: text.clone(),
                    heading_level: None,
                    page: None,
                });
                std::iter::once(heading).chain(paragraphs)
            })
            .collect();
        assert_eq!(document.headings().count(), 8 + 8 * 5);
        assert_eq!(document.blocks, expected);
        // Tens of pages of text, with the Danish letters intact.
        let words: usize = document
            .blocks
            .iter()
            .map(|b| b.text.split(' ').count())
            .sum();
        assert!(words > 12_000, "{words} words");
        let all: String = document.blocks.iter().map(|b| b.text.as_str()).collect();
        for letter in ['æ', 'ø', 'å'] {
            assert!(all.contains(letter), "{letter}");
        }
    }

    #[test]
    fn text_in_hyperlinks_fields_and_entities_is_kept() {
        let body = [
            paragraph(
                "Overskrift1",
                r#"<w:hyperlink w:anchor="_Toc1"><w:r><w:t>1 Udbetaling &amp; </w:t></w:r><w:r><w:t>tilknytning</w:t></w:r></w:hyperlink>"#,
            ),
            paragraph(
                "",
                &format!(
                    r#"{}<w:ins w:id="1" w:author="A"><w:r><w:t>mod &#230;ndring &#xF8;&lt;&gt;&quot;&apos; </w:t></w:r></w:ins><w:smartTag w:element="x"><w:r><w:t>smart</w:t></w:r></w:smartTag><w:sdt><w:sdtPr><w:alias w:val="felt"/></w:sdtPr><w:sdtContent><w:r><w:t> indhold</w:t></w:r></w:sdtContent></w:sdt><w:fldSimple w:instr=" PAGE "><w:r><w:t> 7</w:t></w:r></w:fldSimple>"#,
                    run("Tekst ")
                ),
            ),
        ]
        .concat();
        assert_eq!(
            texts(&read_body(&body, "")),
            [
                ("1 Udbetaling & tilknytning", Some(1)),
                (r#"Tekst mod ændring ø<>"' smart indhold 7"#, None)
            ]
        );
    }

    #[test]
    fn deleted_text_and_field_codes_are_skipped() {
        let body = paragraph(
            "",
            &format!(
                r#"{}<w:del w:id="2" w:author="A"><w:r><w:delText>slettet </w:delText></w:r></w:del>{}<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> HYPERLINK "x" </w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r>{}<w:r><w:fldChar w:fldCharType="end"/></w:r><w:moveFrom><w:r><w:t>flyttet</w:t></w:r></w:moveFrom>"#,
                run("Behold "),
                run("dette"),
                run(" og link")
            ),
        );
        assert_eq!(
            texts(&read_body(&body, "")),
            [("Behold dette og link", None)]
        );
    }

    #[test]
    fn tabs_and_breaks_become_spaces_but_tab_stops_do_not() {
        let body = r#"<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr><w:r><w:t>a</w:t><w:tab/><w:t>b</w:t><w:br/><w:t>c</w:t><w:br w:type="page"/><w:t>d</w:t><w:cr/><w:t>e</w:t><w:noBreakHyphen/><w:t>f</w:t></w:r></w:p>"#;
        assert_eq!(texts(&read_body(body, "")), [("a b c d e-f", None)]);
    }

    #[test]
    fn empty_paragraphs_give_no_block_and_tables_read_in_order() {
        let body = [
            paragraph("", ""),
            paragraph("", &run("   ")),
            paragraph("", &run("Før")),
            format!(
                "<w:tbl><w:tr><w:tc>{}</w:tc><w:tc>{}</w:tc></w:tr></w:tbl>",
                paragraph("", &run("celle 1")),
                paragraph("", &run("celle 2"))
            ),
            paragraph("", &run("Efter")),
        ]
        .concat();
        assert_eq!(
            texts(&read_body(&body, "")),
            [
                ("Før", None),
                ("celle 1", None),
                ("celle 2", None),
                ("Efter", None)
            ]
        );
    }

    #[test]
    fn heading_levels_come_from_names_outline_levels_and_inheritance() {
        let styles = r#"
            <w:style w:type="paragraph" w:styleId="Egen"><w:name w:val="Min overskrift"/><w:basedOn w:val="Overskrift2"/></w:style>
            <w:style w:type="paragraph" w:styleId="Dybere"><w:name w:val="Dybere"/><w:basedOn w:val="Egen"/></w:style>
            <w:style w:type="paragraph" w:styleId="Kant"><w:name w:val="Kant"/><w:pPr><w:outlineLvl w:val="3"/></w:pPr></w:style>
            <w:style w:type="paragraph" w:styleId="Lokal"><w:name w:val="Overskrift 5"/></w:style>
            <w:style w:type="paragraph" w:styleId="Heading6"><w:name w:val="HEADING 6"/></w:style>
            <w:style w:type="paragraph" w:styleId="Brod"><w:name w:val="Brødtekst"/><w:pPr><w:outlineLvl w:val="9"/></w:pPr><w:basedOn w:val="Overskrift1"/></w:style>
            <w:style w:type="paragraph" w:styleId="A"><w:name w:val="A"/><w:basedOn w:val="B"/></w:style>
            <w:style w:type="paragraph" w:styleId="B"><w:name w:val="B"/><w:basedOn w:val="A"/></w:style>
            <w:style w:type="paragraph" w:styleId="Titel"><w:name w:val="Title"/><w:basedOn w:val="Normal"/></w:style>
            <w:style w:type="character" w:styleId="Overskrift1Tegn"><w:name w:val="heading 1"/></w:style>
        "#;
        let body = [
            paragraph("Titel", &run("Vejledning om ydelser")),
            paragraph("Egen", &run("Arvet")),
            paragraph("Dybere", &run("Arvet i to led")),
            paragraph("Kant", &run("Disposition")),
            paragraph("Lokal", &run("Dansk navn")),
            paragraph("Heading6", &run("Store bogstaver")),
            paragraph("Brod", &run("Brødtekst")),
            paragraph("A", &run("Ring")),
            paragraph("Ukendt", &run("Ukendt stil")),
            paragraph("Overskrift1Tegn", &run("Tegnstil")),
            r#"<w:p><w:pPr><w:outlineLvl w:val="1"/></w:pPr><w:r><w:t>Direkte</w:t></w:r></w:p>"#.to_owned(),
            r#"<w:p><w:pPr><w:pStyle w:val="Overskrift1"/><w:outlineLvl w:val="9"/></w:pPr><w:r><w:t>Slået fra</w:t></w:r></w:p>"#.to_owned(),
            r#"<w:p><w:pPr><w:pStyle w:val="Normal"/><w:pPrChange w:id="3" w:author="A"><w:pPr><w:pStyle w:val="Overskrift1"/></w:pPr></w:pPrChange></w:pPr><w:r><w:t>Tidligere overskrift</w:t></w:r></w:p>"#.to_owned(),
        ]
        .concat();
        assert_eq!(
            texts(&read_body(&body, styles)),
            [
                ("Vejledning om ydelser", None),
                ("Arvet", Some(2)),
                ("Arvet i to led", Some(2)),
                ("Disposition", Some(4)),
                ("Dansk navn", Some(5)),
                ("Store bogstaver", Some(6)),
                ("Brødtekst", None),
                ("Ring", None),
                ("Ukendt stil", None),
                ("Tegnstil", None),
                ("Direkte", Some(2)),
                ("Slået fra", None),
                ("Tidligere overskrift", None),
            ]
        );
    }

    #[test]
    fn the_fallback_copy_of_a_text_box_is_read_once() {
        let text_box = paragraph("", &run("I boksen"));
        let body = format!(
            r#"<w:p><w:r><w:t>Ude </w:t></w:r><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:txbx><w:txbxContent>{text_box}</w:txbxContent></wps:txbx></w:drawing></mc:Choice><mc:Fallback><w:pict><v:textbox><w:txbxContent>{text_box}</w:txbxContent></v:textbox></w:pict></mc:Fallback></mc:AlternateContent></w:r><w:r><w:t>igen</w:t></w:r></w:p>"#
        );
        assert_eq!(
            texts(&read_body(&body, "")),
            [("I boksen", None), ("Ude igen", None)]
        );
    }

    #[test]
    fn a_document_without_headings_is_all_paragraphs() {
        let sections = [SectionSpec {
            level: 1,
            heading: "Ingen overskrift".into(),
            paragraphs: vec!["Første afsnit.".into(), "Andet afsnit.".into()],
        }];
        let body: String = sections[0]
            .paragraphs
            .iter()
            .map(|p| paragraph("Normal", &run(p)))
            .collect();
        let blocks = read_body(&body, "");
        assert_eq!(blocks.len(), 2);
        assert!(
            blocks
                .iter()
                .all(|b| b.heading_level.is_none() && b.page.is_none())
        );
    }

    fn zip_of(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in parts {
            writer
                .start_file(*name, SimpleFileOptions::default())
                .unwrap();
            writer.write_all(data).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn a_zip_that_is_no_word_document_is_unknown() {
        let xlsx = zip_of(&[("xl/workbook.xml", b"<workbook/>")]);
        assert_eq!(documents::read(&xlsx), Err(DocumentError::UnknownFormat));
    }

    #[test]
    fn a_broken_zip_or_xml_is_unreadable() {
        let broken = b"PK\x03\x04 this is not really a zip file".to_vec();
        let err = documents::read(&broken).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot be read as DOCX: "),
            "{err}"
        );

        let mut cut = testing::docx(&testing::sample_sections(1, 1, 1));
        cut.truncate(cut.len() / 2);
        assert!(matches!(
            documents::read(&cut),
            Err(DocumentError::Unreadable(_))
        ));

        let bad_xml = zip_of(&[(DOCUMENT_PART, b"<w:document><w:body><w:p></w:body>")]);
        assert!(matches!(
            documents::read(&bad_xml),
            Err(DocumentError::Unreadable(_))
        ));
    }

    #[test]
    fn a_part_that_unpacks_too_far_is_refused() {
        let body = paragraph("", &run(&"ydelse ".repeat(2000)));
        let bytes = testing::docx_with_body(&body, "");
        assert!(read(&bytes, MAX_UNPACKED).is_ok());
        let err = read(&bytes, 4096).unwrap_err();
        assert!(err.to_string().contains("unpacks to more than"), "{err}");
        // The limit counts every part together: document.xml fits, styles.xml no longer does.
        let document_size = {
            let mut archive = ZipArchive::new(Cursor::new(&bytes[..])).unwrap();
            archive.by_name(DOCUMENT_PART).unwrap().size()
        };
        assert!(read(&bytes, document_size + 10).is_err());
    }

    #[test]
    fn a_zip_bomb_is_refused_without_unpacking_it() {
        // 65 MiB of zeros squeezes into well under 1 MiB.
        let zeros = vec![b' '; 65 << 20];
        let bomb = {
            let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
            let options =
                SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
            writer.start_file(DOCUMENT_PART, options).unwrap();
            writer.write_all(&zeros).unwrap();
            writer.finish().unwrap().into_inner()
        };
        assert!(bomb.len() < 1 << 20);
        let err = documents::read(&bomb).unwrap_err();
        assert!(
            err.to_string().contains("unpacks to more than 64 MiB"),
            "{err}"
        );
    }

    #[test]
    fn style_names_give_levels() {
        assert_eq!(name_heading("heading 1"), Some(1));
        assert_eq!(name_heading("Heading 3"), Some(3));
        assert_eq!(name_heading("Overskrift 2"), Some(2));
        assert_eq!(name_heading("heading 10"), None);
        assert_eq!(name_heading("heading 0"), None);
        assert_eq!(name_heading("Title"), None);
        assert_eq!(name_heading("heading 1 Char"), None);
        assert_eq!(outline_heading(0), Some(1));
        assert_eq!(outline_heading(8), Some(9));
        assert_eq!(outline_heading(9), None);
    }
}
