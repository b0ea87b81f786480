//! Generated guides for tests and benchmarks: DOCX and PDF files whose
//! headings and paragraphs are known, so what is read back can be checked.
//!
//! The files are built as Word and common PDF producers build them (Danish
//! heading style ids, Helvetica in WinAnsiEncoding, bookmarks), not as the
//! reader expects them. Generating them cannot fail on valid input: a failure
//! inside a library panics, which is what a test or benchmark wants.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Cursor, Write as _};
use std::sync::Arc;

use lopdf::content::{Content, Operation};
use lopdf::encryption::crypt_filters::{Aes128CryptFilter, CryptFilter};
use lopdf::{
    Bookmark, Dictionary, Encoding, EncryptionState, EncryptionVersion, Object, ObjectId,
    Permissions, Stream, dictionary,
};
use zip::write::SimpleFileOptions;

/// One heading and the paragraphs under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionSpec {
    /// 1 for a top heading; DOCX styles exist for 1 to 6. 0 (or an empty
    /// heading) writes the paragraphs with no heading, as text before the first.
    pub level: u8,
    /// The heading as shown, e.g. "4.2 Manuel tilknytning".
    pub heading: String,
    /// Paragraph texts: single spaces, no line breaks.
    pub paragraphs: Vec<String>,
}

impl SectionSpec {
    fn has_heading(&self) -> bool {
        self.level > 0 && !self.heading.trim().is_empty()
    }
}

const TOPICS: [&str; 10] = [
    "Udbetaling af ydelse",
    "Tilknytning til arbejdsmarkedet",
    "Ansøgning og dokumentation",
    "Beregning af hjælpens størrelse",
    "Børne- og ungeydelse",
    "Særlige forhold for selvstændige",
    "Ophold i udlandet",
    "Klage og genoptagelse",
    "Tilbagebetaling og modregning",
    "Øvrige bestemmelser",
];
const SUBTOPICS: [&str; 10] = [
    "Manuel tilknytning",
    "Frister og varsler",
    "Ændringer i forholdene",
    "Dokumentation fra arbejdsgiver",
    "Betingelser for udbetaling",
    "Særlig støtte",
    "Partshøring før afgørelse",
    "Sagsbehandlingstid",
    "Beløbsgrænser for året",
    "Samarbejde med jobcentret",
];
const SUBJECTS: [&str; 8] = [
    "Borgeren",
    "Kommunen",
    "Jobcentret",
    "Sagsbehandleren",
    "Modtageren af ydelsen",
    "Arbejdsgiveren",
    "Udbetaling Danmark",
    "Ægtefællen",
];
const VERBS: [&str; 8] = [
    "skal vurdere",
    "kan udbetale",
    "må ikke nedsætte",
    "skal registrere",
    "bør undersøge",
    "skal oplyse om",
    "kan genoptage",
    "får besked om",
];
const OBJECTS: [&str; 8] = [
    "ydelsen",
    "tilknytningen til arbejdsmarkedet",
    "den månedlige udbetaling",
    "ansøgningen om hjælp",
    "dokumentationen for ophold",
    "beløbet før skat",
    "særlig støtte til børn",
    "de økonomiske forhold",
];
const QUALIFIERS: [&str; 10] = [
    "inden for fire uger",
    "efter en konkret og individuel vurdering",
    "når betingelserne er opfyldt",
    "på baggrund af oplysningerne i sagen",
    "så længe forholdene er uændrede",
    "jf. § 11 i loven",
    "før første udbetaling",
    "uden ugrundet ophold",
    "hvis borgeren bor på Ærø eller i Søborg",
    "med virkning fra den første i måneden",
];

/// A small deterministic generator (SplitMix64), so the same arguments give the same text.
struct Words(u64);

impl Words {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        let len = words.len().max(1) as u64;
        words
            .get((self.next() % len) as usize)
            .copied()
            .unwrap_or_default()
    }

    fn sentence(&mut self) -> String {
        let subject = self.pick(&SUBJECTS);
        let verb = self.pick(&VERBS);
        let object = self.pick(&OBJECTS);
        let qualifier = self.pick(&QUALIFIERS);
        format!("{subject} {verb} {object} {qualifier}.")
    }

    fn paragraph(&mut self) -> String {
        let sentences = 4 + (self.next() % 4) as usize;
        (0..sentences)
            .map(|_| self.sentence())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `n_top` numbered top sections ("1 Udbetaling af ydelse") each with
/// `per_top` subsections ("1.1 Manuel tilknytning"), every section with
/// `paragraphs` paragraphs of Danish-looking text about benefits.
pub fn sample_sections(n_top: usize, per_top: usize, paragraphs: usize) -> Vec<SectionSpec> {
    let mut words = Words(0x006B_6F6D_6D75_6E65);
    let mut sections = Vec::with_capacity(n_top * (per_top + 1));
    let section = |level: u8, heading: String, words: &mut Words| SectionSpec {
        level,
        heading,
        paragraphs: (0..paragraphs).map(|_| words.paragraph()).collect(),
    };
    for top in 1..=n_top {
        let topic = TOPICS[(top - 1) % TOPICS.len()];
        sections.push(section(1, format!("{top} {topic}"), &mut words));
        for sub in 1..=per_top {
            let subtopic = SUBTOPICS[(top + sub - 2) % SUBTOPICS.len()];
            sections.push(section(2, format!("{top}.{sub} {subtopic}"), &mut words));
        }
    }
    sections
}

// ---------------------------------------------------------------- DOCX

const W_NAMESPACES: &str = concat!(
    r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" "#,
    r#"xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" "#,
    r#"xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" "#,
    r#"xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" "#,
    r#"xmlns:v="urn:schemas-microsoft-com:vml" "#,
    r#"mc:Ignorable="wps""#,
);

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/></Types>"#;

const PACKAGE_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#;

const DOCUMENT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"#;

/// A4 with 2.5 cm margins, as a Danish Word writes it.
const SECTION_PROPERTIES: &str = r#"<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="1701" w:right="1134" w:bottom="1701" w:left="1134" w:header="708" w:footer="708" w:gutter="0"/></w:sectPr>"#;

/// Escapes the five XML special characters.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The style id Word gives heading `level` in a Danish installation.
fn heading_style(level: u8) -> String {
    format!("Overskrift{}", level.clamp(1, 6))
}

/// `styles.xml` with "Normal", "Title" and the heading styles 1–6 as Word
/// writes them (Danish ids, English names), then `extra` style elements.
fn styles_xml(extra: &str) -> String {
    let mut xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles {W_NAMESPACES}><w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii="Calibri" w:hAnsi="Calibri"/><w:sz w:val="22"/><w:lang w:val="da-DK"/></w:rPr></w:rPrDefault></w:docDefaults><w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/><w:qFormat/><w:pPr><w:spacing w:after="160" w:line="259" w:lineRule="auto"/></w:pPr></w:style><w:style w:type="paragraph" w:styleId="Titel"><w:name w:val="Title"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:rPr><w:sz w:val="56"/></w:rPr></w:style>"#
    );
    for level in 1..=6u8 {
        let size = 36 - 4 * u32::from(level);
        let _ = write!(
            xml,
            r#"<w:style w:type="paragraph" w:styleId="{id}"><w:name w:val="heading {level}"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:link w:val="{id}Tegn"/><w:uiPriority w:val="9"/><w:qFormat/><w:pPr><w:keepNext/><w:keepLines/><w:spacing w:before="240" w:after="0"/><w:outlineLvl w:val="{outline}"/></w:pPr><w:rPr><w:b/><w:sz w:val="{size}"/></w:rPr></w:style><w:style w:type="character" w:customStyle="1" w:styleId="{id}Tegn"><w:name w:val="Overskrift {level} Tegn"/><w:link w:val="{id}"/><w:rPr><w:b/></w:rPr></w:style>"#,
            id = heading_style(level),
            outline = level - 1,
        );
    }
    xml.push_str(extra);
    xml.push_str("</w:styles>");
    xml
}

/// One paragraph in `style` (or the default), its text in two runs as Word
/// splits text it has seen edited.
fn docx_paragraph(out: &mut String, style: Option<&str>, text: &str) {
    out.push_str("<w:p>");
    if let Some(style) = style {
        let _ = write!(out, r#"<w:pPr><w:pStyle w:val="{style}"/></w:pPr>"#);
    }
    let split = text
        .char_indices()
        .find(|&(at, c)| at >= 20 && c == ' ')
        .map_or(text.len(), |(at, _)| at);
    let (head, tail) = text.split_at(split);
    for part in [head, tail].into_iter().filter(|part| !part.is_empty()) {
        let _ = write!(
            out,
            r#"<w:r><w:rPr><w:lang w:val="da-DK"/></w:rPr><w:t xml:space="preserve">{}</w:t></w:r>"#,
            escape(part)
        );
    }
    out.push_str("</w:p>");
}

/// A DOCX of the sections: headings in the styles `Overskrift1`… named
/// "heading 1"… as Word writes them, paragraphs in "Normal". The same
/// sections give the same bytes.
pub fn docx(sections: &[SectionSpec]) -> Vec<u8> {
    let mut body = String::new();
    for section in sections {
        if section.has_heading() {
            let style = heading_style(section.level);
            docx_paragraph(&mut body, Some(&style), &section.heading);
        }
        for paragraph in &section.paragraphs {
            docx_paragraph(&mut body, None, paragraph);
        }
    }
    docx_with_body(&body, "")
}

/// A DOCX around hand-written XML, for tests of what [`docx`] does not make:
/// `body` goes inside `w:body` (namespaces w, r, mc, wps and v are declared),
/// `extra_styles` after the styles [`docx`] uses.
///
/// # Panics
///
/// If the zip writer fails, which it does not in memory.
pub fn docx_with_body(body: &str, extra_styles: &str) -> Vec<u8> {
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document {W_NAMESPACES}><w:body>{body}{SECTION_PROPERTIES}</w:body></w:document>"#
    );
    let styles = styles_xml(extra_styles);
    let parts: [(&str, &str); 5] = [
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", PACKAGE_RELS),
        ("word/document.xml", &document),
        ("word/_rels/document.xml.rels", DOCUMENT_RELS),
        ("word/styles.xml", &styles),
    ];
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    // A fixed time, so that the same guide gives the same bytes.
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for (name, data) in parts {
        writer
            .start_file(name, options)
            .and_then(|()| writer.write_all(data.as_bytes()).map_err(Into::into))
            .unwrap_or_else(|err| panic!("writing {name} into the DOCX: {err}"));
    }
    writer
        .finish()
        .unwrap_or_else(|err| panic!("finishing the DOCX: {err}"))
        .into_inner()
}

// ---------------------------------------------------------------- PDF

const PAGE_WIDTH: i64 = 595;
const PAGE_HEIGHT: i64 = 842;
const MARGIN: i64 = 56;
/// Lines on a page, body or heading alike.
const LINES_PER_PAGE: usize = 40;
const LEADING: i64 = 18;
/// Characters on a body line: 11 pt Helvetica in the text width.
const CHARS_PER_LINE: usize = 90;

/// Lays text out line by line on A4 pages.
struct PdfWriter {
    doc: lopdf::Document,
    pages_id: ObjectId,
    page_ids: Vec<ObjectId>,
    page_id: ObjectId,
    operations: Vec<Operation>,
    line: usize,
    /// Open bookmarks by level, for nesting the next one.
    bookmarks: Vec<(u8, u32)>,
}

impl PdfWriter {
    fn new() -> Self {
        let mut doc = lopdf::Document::with_version("1.7");
        let pages_id = doc.new_object_id();
        let page_id = doc.new_object_id();
        Self {
            doc,
            pages_id,
            page_ids: Vec::new(),
            page_id,
            operations: Vec::new(),
            line: 0,
            bookmarks: Vec::new(),
        }
    }

    /// Writes one line; `font` is "F1" (regular) or "F2" (bold).
    fn line(&mut self, font: &str, size: i64, text: &str) {
        if self.line >= LINES_PER_PAGE {
            self.new_page();
        }
        let y = PAGE_HEIGHT - MARGIN - LEADING * (self.line as i64 + 1);
        let encoded =
            lopdf::Document::encode_text(&Encoding::SimpleEncoding(b"WinAnsiEncoding"), text);
        self.operations.extend([
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec![font.into(), size.into()]),
            Operation::new("Td", vec![MARGIN.into(), y.into()]),
            Operation::new("Tj", vec![Object::string_literal(encoded)]),
            Operation::new("ET", vec![]),
        ]);
        self.line += 1;
    }

    fn skip_line(&mut self) {
        self.line += 1;
    }

    fn heading(&mut self, level: u8, text: &str, bookmark: bool) {
        // Keep a heading with at least two lines of its text.
        if self.line > 0 && self.line + 4 > LINES_PER_PAGE {
            self.new_page();
        } else if self.line > 0 {
            self.skip_line();
        }
        let size = match level {
            1 => 16,
            2 => 13,
            _ => 12,
        };
        for line in wrap(text, CHARS_PER_LINE * 11 / size as usize) {
            self.line("F2", size, &line);
        }
        if bookmark {
            self.bookmark(level, text);
        }
    }

    fn bookmark(&mut self, level: u8, title: &str) {
        while self
            .bookmarks
            .last()
            .is_some_and(|&(open, _)| open >= level)
        {
            self.bookmarks.pop();
        }
        let parent = self.bookmarks.last().map(|&(_, id)| id);
        let mark = Bookmark::new(title.to_owned(), [0.0, 0.0, 0.0], 0, self.page_id);
        let id = self.doc.add_bookmark(mark, parent);
        self.bookmarks.push((level, id));
    }

    fn paragraph(&mut self, text: &str) {
        for line in wrap(text, CHARS_PER_LINE) {
            self.line("F1", 11, &line);
        }
        self.skip_line();
    }

    fn new_page(&mut self) {
        let content = Content {
            operations: std::mem::take(&mut self.operations),
        };
        let data = content
            .encode()
            .unwrap_or_else(|err| panic!("encoding a page's content: {err}"));
        let content_id = self.doc.add_object(Stream::new(Dictionary::new(), data));
        let page = dictionary! {
            "Type" => "Page",
            "Parent" => self.pages_id,
            "Contents" => content_id,
        };
        self.doc
            .objects
            .insert(self.page_id, Object::Dictionary(page));
        self.page_ids.push(self.page_id);
        self.page_id = self.doc.new_object_id();
        self.line = 0;
    }

    fn finish(mut self, outline: bool) -> lopdf::Document {
        // The id then saved for a next page stays unused: a free xref entry.
        self.new_page();
        let font = |name: &str| {
            dictionary! {
                "Type" => "Font",
                "Subtype" => "Type1",
                "BaseFont" => name,
                "Encoding" => "WinAnsiEncoding",
            }
        };
        let regular = self.doc.add_object(font("Helvetica"));
        let bold = self.doc.add_object(font("Helvetica-Bold"));
        let pages = dictionary! {
            "Type" => "Pages",
            "Kids" => self.page_ids.iter().map(|&id| Object::Reference(id)).collect::<Vec<_>>(),
            "Count" => i64::try_from(self.page_ids.len()).unwrap_or(i64::MAX),
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => regular, "F2" => bold } },
            "MediaBox" => vec![0.into(), 0.into(), PAGE_WIDTH.into(), PAGE_HEIGHT.into()],
        };
        self.doc
            .objects
            .insert(self.pages_id, Object::Dictionary(pages));
        let mut catalog = dictionary! { "Type" => "Catalog", "Pages" => self.pages_id };
        if outline && let Some(outline_id) = self.doc.build_outline() {
            catalog.set("Outlines", outline_id);
            catalog.set("PageMode", "UseOutlines");
        }
        let catalog_id = self.doc.add_object(catalog);
        self.doc.trailer.set("Root", catalog_id);
        // Encryption keys are derived from the file identifier.
        let id = Object::string_literal(b"kommune-guides-1".to_vec());
        self.doc.trailer.set("ID", vec![id.clone(), id]);
        self.doc.compress();
        self.doc
    }
}

/// Breaks text into lines of at most `width` characters at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn save(mut doc: lopdf::Document) -> Vec<u8> {
    let mut out = Vec::new();
    doc.save_to(&mut out)
        .unwrap_or_else(|err| panic!("saving the PDF: {err}"));
    out
}

/// The PDF with a document-information entry (`Title`, `Author`, …) set to `value`.
///
/// # Panics
///
/// If `pdf` is not a PDF lopdf reads.
pub fn pdf_with_information(pdf: &[u8], key: &str, value: &str) -> Vec<u8> {
    let mut doc = lopdf::Document::load_mem(pdf).unwrap_or_else(|err| panic!("reading: {err}"));
    let info = doc.add_object(dictionary! { key => Object::string_literal(value) });
    doc.trailer.set("Info", info);
    save(doc)
}

/// The DOCX with one more part, e.g. a footer (`word/footer1.xml`) or the core properties.
///
/// # Panics
///
/// If `docx` is not a zip.
pub fn docx_with_part(docx: &[u8], name: &str, xml: &str) -> Vec<u8> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(docx)).unwrap_or_else(|err| panic!("reading: {err}"));
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let file = archive
            .by_index_raw(i)
            .unwrap_or_else(|err| panic!("reading part {i}: {err}"));
        writer
            .raw_copy_file(file)
            .unwrap_or_else(|err| panic!("copying part {i}: {err}"));
    }
    writer
        .start_file(name, SimpleFileOptions::default())
        .and_then(|()| writer.write_all(xml.as_bytes()).map_err(Into::into))
        .unwrap_or_else(|err| panic!("writing {name}: {err}"));
    writer
        .finish()
        .unwrap_or_else(|err| panic!("finishing the DOCX: {err}"))
        .into_inner()
}

fn layout(sections: &[SectionSpec], with_outline: bool) -> lopdf::Document {
    let mut writer = PdfWriter::new();
    for section in sections {
        if section.has_heading() {
            writer.heading(section.level, &section.heading, with_outline);
        }
        for paragraph in &section.paragraphs {
            writer.paragraph(paragraph);
        }
    }
    writer.finish(with_outline)
}

/// A PDF of the sections on A4 pages of 40 lines in Helvetica (WinAnsi, so
/// æ ø å are real letters), headings larger and bold. With `with_outline`, a
/// bookmark per heading, nested by level, points at its page. No sections
/// give one blank page.
pub fn pdf(sections: &[SectionSpec], with_outline: bool) -> Vec<u8> {
    save(layout(sections, with_outline))
}

/// A one-page guide that opens only with the user password "hemmelig" (AES-128).
///
/// # Panics
///
/// If lopdf cannot encrypt it, which it can.
pub fn encrypted_pdf() -> Vec<u8> {
    let mut doc = layout(&sample_sections(1, 1, 1), true);
    let filter: Arc<dyn CryptFilter> = Arc::new(Aes128CryptFilter);
    let version = EncryptionVersion::V4 {
        document: &doc,
        encrypt_metadata: true,
        crypt_filters: BTreeMap::from([(b"StdCF".to_vec(), filter)]),
        stream_filter: b"StdCF".to_vec(),
        string_filter: b"StdCF".to_vec(),
        owner_password: "ejer",
        user_password: "hemmelig",
        permissions: Permissions::all(),
    };
    let state = EncryptionState::try_from(version)
        .unwrap_or_else(|err| panic!("preparing encryption: {err}"));
    doc.encrypt(&state)
        .unwrap_or_else(|err| panic!("encrypting the PDF: {err}"));
    save(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_text_is_deterministic_and_numbered() {
        let sections = sample_sections(3, 2, 2);
        assert_eq!(sections, sample_sections(3, 2, 2));
        let headings: Vec<(u8, &str)> = sections
            .iter()
            .map(|s| (s.level, s.heading.as_str()))
            .collect();
        assert_eq!(
            headings,
            [
                (1, "1 Udbetaling af ydelse"),
                (2, "1.1 Manuel tilknytning"),
                (2, "1.2 Frister og varsler"),
                (1, "2 Tilknytning til arbejdsmarkedet"),
                (2, "2.1 Frister og varsler"),
                (2, "2.2 Ændringer i forholdene"),
                (1, "3 Ansøgning og dokumentation"),
                (2, "3.1 Ændringer i forholdene"),
                (2, "3.2 Dokumentation fra arbejdsgiver"),
            ]
        );
        assert!(
            sections
                .iter()
                .all(|s| s.paragraphs.len() == 2 && s.paragraphs.iter().all(|p| p.ends_with('.')))
        );
    }

    #[test]
    fn the_same_sections_give_the_same_files() {
        let sections = sample_sections(2, 2, 2);
        assert_eq!(docx(&sections), docx(&sections));
        assert_eq!(pdf(&sections, true), pdf(&sections, true));
    }

    #[test]
    fn a_section_without_heading_writes_text_only() {
        let sections = [
            SectionSpec {
                level: 0,
                heading: String::new(),
                paragraphs: vec!["Forside: Vejledning til ydelser.".into()],
            },
            SectionSpec {
                level: 1,
                heading: "1 Indledning".into(),
                paragraphs: vec!["Tekst.".into()],
            },
        ];
        let expected = [
            ("Forside: Vejledning til ydelser.", None),
            ("1 Indledning", Some(1)),
            ("Tekst.", None),
        ];
        for bytes in [docx(&sections), pdf(&sections, true), pdf(&sections, false)] {
            let document = crate::documents::read(&bytes).unwrap();
            let blocks: Vec<(&str, Option<u8>)> = document
                .blocks
                .iter()
                .map(|b| (b.text.as_str(), b.heading_level))
                .collect();
            assert_eq!(blocks, expected);
        }
    }

    #[test]
    fn wrapping_keeps_words_whole() {
        assert_eq!(wrap("aa bb cc dd", 5), ["aa bb", "cc dd"]);
        assert_eq!(
            wrap("ordet-der-er-for-langt kort", 5),
            ["ordet-der-er-for-langt", "kort"]
        );
        assert!(wrap("  ", 5).is_empty());
    }

    #[test]
    fn escaping_covers_the_special_characters() {
        assert_eq!(escape(r#"a&b<c>"d'"#), "a&amp;b&lt;c&gt;&quot;d&apos;");
    }

    #[test]
    fn the_docx_is_a_package_with_its_parts() {
        let bytes = docx(&sample_sections(1, 1, 1));
        let archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut names: Vec<&str> = archive.file_names().collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "[Content_Types].xml",
                "_rels/.rels",
                "word/_rels/document.xml.rels",
                "word/document.xml",
                "word/styles.xml"
            ]
        );
    }

    #[test]
    fn the_pdf_has_many_pages_and_an_outline() {
        let sections = sample_sections(8, 5, 6);
        let bytes = pdf(&sections, true);
        let doc = lopdf::Document::load_mem(&bytes).unwrap();
        assert!(
            doc.get_pages().len() >= 30,
            "{} pages",
            doc.get_pages().len()
        );
        let toc = doc.get_toc().unwrap();
        assert_eq!(toc.toc.len(), 8 + 8 * 5);
        assert_eq!((toc.toc[0].level, toc.toc[1].level), (1, 2));
        let titles: Vec<&str> = toc.toc.iter().map(|entry| entry.title.as_str()).collect();
        let headings: Vec<&str> = sections.iter().map(|s| s.heading.as_str()).collect();
        assert_eq!(titles, headings);
    }
}
