//! PDF: the text of each page line by line, with headings from the outline
//! (bookmarks) or, where there is none, from numbered lines.
//!
//! A PDF keeps no paragraphs or headings, only text placed on pages, so both
//! are reconstructed: lines that do not end a sentence are joined, and a
//! heading is a line the outline names or one numbered like "4.2 Frister".

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::LazyLock;

use lopdf::{Dictionary, LoadOptions, Object, ObjectId};
use regex::Regex;

use super::{Block, Document, DocumentError, Format, normalise};

/// Longest line taken for a numbered heading, in characters.
const MAX_HEADING_CHARS: usize = 120;
/// Deepest heading level given out.
const MAX_LEVEL: u8 = 9;
/// Most pages read; a guide has hundreds at most.
const MAX_PAGES: usize = 5_000;
/// Most outline items or name tree nodes visited, whose links a crafted file
/// can make go round.
const MAX_NODES: usize = 10_000;

/// Reads a PDF whose streams each decompress to at most `limit` bytes.
pub(super) fn read(bytes: &[u8], limit: u64) -> Result<Document, DocumentError> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let options = LoadOptions {
        max_decompressed_size: Some(limit),
        ..LoadOptions::default()
    };
    let pdf = lopdf::Document::load_mem_with_options(bytes, options).map_err(load_error)?;
    // Without the password lopdf loads nothing but the trailer, which still names /Encrypt.
    if pdf.trailer.has(b"Encrypt") {
        return Err(DocumentError::Encrypted);
    }
    let pages = pdf.get_pages();
    if pages.is_empty() {
        return Err(unreadable("it has no pages"));
    }
    if pages.len() > MAX_PAGES {
        return Err(unreadable(format!("it has more than {MAX_PAGES} pages")));
    }
    let (mut lines, failure) = text_lines(&pdf, &pages, limit)?;
    if lines.is_empty() {
        return Err(failure.map_or(DocumentError::NoText, unreadable));
    }
    let outline = outline(&pdf, &pages);
    if outline.is_empty() {
        mark_numbered_headings(&mut lines);
    } else {
        lines = mark_outline_headings(lines, &outline);
    }
    Ok(Document {
        format: Format::Pdf,
        pages: u32::try_from(pages.len()).unwrap_or(u32::MAX),
        blocks: into_blocks(lines),
        other_text: information_and_annotations(&pdf, &pages),
    })
}

/// The document information's strings (title, author, subject, keywords…) and every annotation's
/// text (comments, form fields' values), one per line.
fn information_and_annotations(
    pdf: &lopdf::Document,
    pages: &std::collections::BTreeMap<u32, lopdf::ObjectId>,
) -> String {
    let mut text = String::new();
    let mut strings_of = |dictionary: &lopdf::Dictionary| {
        for (_, value) in dictionary.iter() {
            if let Ok(bytes) = value.as_str() {
                text.push_str(
                    &lopdf::decode_text_string(value)
                        .unwrap_or_else(|_| String::from_utf8_lossy(bytes).into_owned()),
                );
                text.push('\n');
            }
        }
    };
    if let Ok(info) = pdf
        .trailer
        .get(b"Info")
        .and_then(|info| pdf.dereference(info))
        .and_then(|(_, info)| info.as_dict())
    {
        strings_of(info);
    }
    for page in pages.values() {
        let Ok(annotations) = pdf.get_page_annotations(*page) else {
            continue;
        };
        for annotation in annotations {
            strings_of(annotation);
        }
    }
    text
}

fn unreadable(reason: impl std::fmt::Display) -> DocumentError {
    DocumentError::unreadable(Format::Pdf, reason)
}

fn load_error(error: lopdf::Error) -> DocumentError {
    match error {
        lopdf::Error::InvalidPassword
        | lopdf::Error::Decryption(_)
        | lopdf::Error::UnsupportedSecurityHandler(_) => DocumentError::Encrypted,
        other => unreadable(other),
    }
}

/// One line of text as extracted, and whether it was found to be a heading.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    page: u32,
    text: String,
    level: Option<u8>,
}

impl Line {
    fn new(page: u32, text: String) -> Self {
        Self {
            page,
            text,
            level: None,
        }
    }
}

/// The non-empty lines of every page, and the first error met extracting them.
fn text_lines(
    pdf: &lopdf::Document,
    pages: &BTreeMap<u32, ObjectId>,
    limit: usize,
) -> Result<(Vec<Line>, Option<lopdf::Error>), DocumentError> {
    let mut lines = Vec::new();
    let mut failure = None;
    let mut total = 0usize;
    // Pages showing the same content streams are extracted once: a crafted
    // file can have thousands of pages share one stream that inflates to the limit.
    let mut by_content: HashMap<Vec<ObjectId>, String> = HashMap::new();
    for (&page, &id) in pages {
        let contents = pdf.get_page_contents(id);
        let text = match by_content.get(&contents) {
            Some(text) => text.clone(),
            None => {
                let (text, error) = page_text(pdf, page, limit);
                failure = failure.or(error);
                by_content.insert(contents, text.clone());
                text
            }
        };
        total = total.saturating_add(text.len());
        if total > limit {
            let mib = limit.div_ceil(1 << 20);
            return Err(unreadable(format!("it holds more than {mib} MiB of text")));
        }
        let page_lines = text.lines().map(normalise).filter(|line| !line.is_empty());
        lines.extend(page_lines.map(|line| Line::new(page, line)));
    }
    Ok((lines, failure))
}

/// The text of one page, and the first error met extracting it.
fn page_text(pdf: &lopdf::Document, page: u32, limit: usize) -> (String, Option<lopdf::Error>) {
    let mut text = String::new();
    let mut failure = None;
    // A font whose encoding cannot be read spoils its own text only.
    for chunk in pdf.extract_text_chunks_with_limit(&[page], limit) {
        match chunk {
            Ok(chunk) => text.push_str(&chunk),
            Err(error) => failure = failure.or(Some(error)),
        }
    }
    (text, failure)
}

/// One outline entry: a heading the author marked, and the page it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    level: u8,
    title: String,
    page: u32,
}

/// The outline in order; empty when the PDF has none or it cannot be read.
///
/// Walked here rather than with lopdf's `get_toc`, which loops without end
/// (taking memory as it goes) on an outline whose links go round.
fn outline(pdf: &lopdf::Document, pages: &BTreeMap<u32, ObjectId>) -> Vec<Entry> {
    let first = pdf
        .catalog()
        .and_then(|catalog| catalog.get_deref(b"Outlines", pdf))
        .and_then(Object::as_dict)
        .and_then(|outlines| outlines.get(b"First"))
        .and_then(Object::as_reference);
    let Ok(first) = first else {
        return Vec::new();
    };
    let page_numbers: HashMap<ObjectId, u32> =
        pages.iter().map(|(&number, &id)| (id, number)).collect();
    let mut targets = Targets::new(pdf);
    let mut entries = Vec::new();
    let mut seen = HashSet::new();
    // Depth first, children before the next sibling; items are indirect objects.
    let mut stack = vec![(first, 1usize)];
    while let Some((id, level)) = stack.pop() {
        if seen.len() >= MAX_NODES {
            break;
        }
        if !seen.insert(id) {
            continue;
        }
        let Ok(item) = pdf.get_dictionary(id) else {
            continue;
        };
        if let Ok(next) = item.get(b"Next").and_then(Object::as_reference) {
            stack.push((next, level));
        }
        if let Ok(child) = item.get(b"First").and_then(Object::as_reference) {
            stack.push((child, level + 1));
        }
        let title = item
            .get_deref(b"Title", pdf)
            .ok()
            .and_then(text_string)
            .map(|title| normalise(&title));
        let page = targets
            .page(item)
            .and_then(|page| page_numbers.get(&page).copied());
        if let (Some(title), Some(page)) = (title, page)
            && !title.is_empty()
        {
            let level = u8::try_from(level).unwrap_or(MAX_LEVEL).min(MAX_LEVEL);
            entries.push(Entry { level, title, page });
        }
    }
    entries
}

/// A text string: UTF-16 or UTF-8 behind a byte order mark; without one it
/// should be PDFDocEncoding, but many producers write UTF-8, kept when valid.
fn text_string(object: &Object) -> Option<String> {
    let bytes = object.as_str().ok()?;
    let marked = bytes.starts_with(b"\xFE\xFF") || bytes.starts_with(b"\xEF\xBB\xBF");
    match std::str::from_utf8(bytes) {
        Ok(text) if !marked => Some(text.to_owned()),
        _ => lopdf::decode_text_string(object).ok(),
    }
}

/// Finds the page an outline item goes to, looking named destinations up
/// the first time one is needed.
struct Targets<'a> {
    pdf: &'a lopdf::Document,
    named: Option<HashMap<Vec<u8>, ObjectId>>,
}

impl<'a> Targets<'a> {
    fn new(pdf: &'a lopdf::Document) -> Self {
        Self { pdf, named: None }
    }

    /// The page object of the item's `/Dest`, or of its `/A` action's `/D` when a GoTo.
    fn page(&mut self, item: &Dictionary) -> Option<ObjectId> {
        let pdf = self.pdf;
        let destination = match item.get_deref(b"Dest", pdf) {
            Ok(destination) => destination,
            Err(_) => {
                let action = item.get_deref(b"A", pdf).and_then(Object::as_dict).ok()?;
                if action.get(b"S").and_then(Object::as_name).ok()? != b"GoTo".as_slice() {
                    return None;
                }
                action.get_deref(b"D", pdf).ok()?
            }
        };
        match destination {
            Object::String(name, _) | Object::Name(name) => {
                let named = self.named.get_or_insert_with(|| named_destinations(pdf));
                named.get(name).copied()
            }
            other => explicit_page(pdf, other),
        }
    }
}

/// The page of an explicit destination `[page /Fit …]`, or of a dictionary holding one as `/D`.
fn explicit_page(pdf: &lopdf::Document, destination: &Object) -> Option<ObjectId> {
    let (_, destination) = pdf.dereference(destination).ok()?;
    let array = match destination {
        Object::Dictionary(dictionary) => dictionary
            .get_deref(b"D", pdf)
            .and_then(Object::as_array)
            .ok()?,
        other => other.as_array().ok()?,
    };
    array.first()?.as_reference().ok()
}

/// Every named destination's page: the catalog's `/Dests` (PDF 1.1) and the
/// `/Names /Dests` name tree, walked within the same bounds as the outline.
fn named_destinations(pdf: &lopdf::Document) -> HashMap<Vec<u8>, ObjectId> {
    let mut named = HashMap::new();
    let Ok(catalog) = pdf.catalog() else {
        return named;
    };
    if let Ok(dests) = catalog.get_deref(b"Dests", pdf).and_then(Object::as_dict) {
        for (name, destination) in dests.iter() {
            if let Some(page) = explicit_page(pdf, destination) {
                named.insert(name.clone(), page);
            }
        }
    }
    let root = catalog
        .get_deref(b"Names", pdf)
        .and_then(Object::as_dict)
        .and_then(|names| names.get(b"Dests"));
    let mut stack: Vec<&Object> = root.into_iter().collect();
    let mut seen = HashSet::new();
    let mut visited = 0;
    while let Some(node) = stack.pop() {
        visited += 1;
        if visited > MAX_NODES {
            break;
        }
        let Ok((id, node)) = pdf.dereference(node) else {
            continue;
        };
        if id.is_some_and(|id| !seen.insert(id)) {
            continue;
        }
        let Ok(node) = node.as_dict() else {
            continue;
        };
        if let Ok(kids) = node.get_deref(b"Kids", pdf).and_then(Object::as_array) {
            stack.extend(kids);
        }
        if let Ok(names) = node.get_deref(b"Names", pdf).and_then(Object::as_array) {
            for pair in names.chunks_exact(2) {
                if let (Ok(name), Some(page)) = (pair[0].as_str(), explicit_page(pdf, &pair[1])) {
                    named.insert(name.to_vec(), page);
                }
            }
        }
    }
    named
}

/// How many lines the search for outline titles not shown as a line of their
/// own may look at in all, so that a crafted outline of thousands of titles
/// over a page of millions of lines ends in good time.
const MAX_SCANNED: usize = 20_000_000;

/// Marks, for each outline entry, the first unmarked line on its page that
/// shows its title (after the previous entry's line when on the same page);
/// a title not found is put in as a line of its own at that place.
fn mark_outline_headings(mut lines: Vec<Line>, entries: &[Entry]) -> Vec<Line> {
    let index = TitleIndex::new(&lines);
    let mut budget = MAX_SCANNED;
    // Lines are only marked while searching, so indices and page order hold;
    // what is added is put in by one pass at the end rather than by shifting
    // a long Vec for every entry.
    let mut before: HashMap<usize, Vec<Line>> = HashMap::new();
    let mut after: HashMap<usize, Line> = HashMap::new();
    // Index just past the last heading placed.
    let mut cursor = 0;
    for entry in entries {
        let start = lines.partition_point(|line| line.page < entry.page);
        let end = lines.partition_point(|line| line.page <= entry.page);
        let from = if (start..=end).contains(&cursor) {
            cursor
        } else {
            start
        };
        let found = index
            .find(&lines, start, from, end, &entry.title)
            .map(|at| (at, 1))
            .or_else(|| find_prefixed(&lines, start, from, end, &entry.title, &mut budget));
        let Some((at, span)) = found else {
            let mut heading = Line::new(entry.page, entry.title.clone());
            heading.level = Some(entry.level);
            before.entry(from).or_default().push(heading);
            cursor = from;
            continue;
        };
        let line = &mut lines[at];
        let rest = line
            .text
            .strip_prefix(&entry.title)
            .map(str::trim)
            .unwrap_or_default();
        // The line keeps its own text (a number the title lacks, say)
        // unless it holds more, or less, than the title.
        if span > 1 || !rest.is_empty() {
            if span == 1 {
                after.insert(at, Line::new(line.page, rest.to_owned()));
            }
            line.text.clone_from(&entry.title);
        }
        line.level = Some(entry.level);
        // A wrapped title's further lines are emptied, and so dropped below.
        for wrapped in &mut lines[at + 1..at + span] {
            wrapped.text.clear();
        }
        cursor = at + span;
    }
    let count = lines.len();
    let mut out = Vec::with_capacity(count + before.len() + after.len());
    for (at, line) in lines.into_iter().enumerate() {
        out.extend(before.remove(&at).into_iter().flatten());
        if !line.text.is_empty() {
            out.push(line);
        }
        out.extend(after.remove(&at));
    }
    out.extend(before.remove(&count).into_iter().flatten());
    out
}

/// Whether a line may still become a heading.
fn unmarked(line: &Line) -> bool {
    line.level.is_none() && !line.text.is_empty()
}

/// The lines by their text, and by their text after a section number
/// ("1.2 Frister" under "Frister" too), for finding a title shown as a line.
struct TitleIndex(HashMap<String, Vec<usize>>);

impl TitleIndex {
    fn new(lines: &[Line]) -> Self {
        let mut index: HashMap<String, Vec<usize>> = HashMap::new();
        for (at, line) in lines.iter().enumerate() {
            index.entry(line.text.clone()).or_default().push(at);
            if let Some(number) = NUMBERED.find(&line.text) {
                index
                    .entry(line.text[number.end()..].to_owned())
                    .or_default()
                    .push(at);
            }
        }
        Self(index)
    }

    /// The first unmarked line in `from..to`, else in `start..from`, that shows `title`.
    fn find(
        &self,
        lines: &[Line],
        start: usize,
        from: usize,
        to: usize,
        title: &str,
    ) -> Option<usize> {
        let at = self.0.get(title)?;
        let first_in = |range: std::ops::Range<usize>| {
            let skip = at.partition_point(|&i| i < range.start);
            at[skip..]
                .iter()
                .take_while(|&&i| i < range.end)
                .find(|&&i| unmarked(&lines[i]))
                .copied()
        };
        first_in(from..to).or_else(|| first_in(start..from))
    }
}

/// Where in `lines[start..to]` (looking from `from` first) a line starts with
/// the title, or the title starts there and wraps onto following lines: the
/// first line and how many lines the title takes.
fn find_prefixed(
    lines: &[Line],
    start: usize,
    from: usize,
    to: usize,
    title: &str,
    budget: &mut usize,
) -> Option<(usize, usize)> {
    for at in (from..to).chain(start..from) {
        *budget = budget.checked_sub(1)?;
        if let Some(span) = prefixed_span(&lines[at..to], title) {
            return Some((at, span));
        }
    }
    None
}

/// How many of the first lines show `title`: one when the first starts with
/// it, more when the title wraps.
fn prefixed_span(lines: &[Line], title: &str) -> Option<usize> {
    const MAX_WRAPPED: usize = 3;
    let first = lines.first().filter(|line| unmarked(line))?;
    if starts_with_words(&first.text, title) {
        return Some(1);
    }
    if !starts_with_words(title, &first.text) {
        return None;
    }
    let mut shown = first.text.clone();
    for (count, line) in lines.iter().enumerate().skip(1).take(MAX_WRAPPED - 1) {
        if !unmarked(line) || !starts_with_words(title, &shown) {
            return None;
        }
        shown.push(' ');
        shown.push_str(&line.text);
        if shown == title {
            return Some(count + 1);
        }
    }
    None
}

/// Whether `text` starts with `prefix` followed by a word boundary.
fn starts_with_words(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

/// A line starting with a section number: "4", "4.2", "4.2." then a space.
static NUMBERED: LazyLock<Regex> = LazyLock::new(|| {
    #[expect(
        clippy::expect_used,
        reason = "a constant pattern, exercised by the tests"
    )]
    Regex::new(r"^(\d{1,9}(?:\.\d{1,9})*)\.?\s+").expect("valid pattern")
});

/// Without an outline: marks numbered lines as headings of as many levels as
/// the number has parts, when each number follows on from the one before
/// (1, 1.1, 1.2, 2 …), so that a wrapped line starting "3 kr." is not taken.
fn mark_numbered_headings(lines: &mut [Line]) {
    let mut previous: Option<Vec<u32>> = None;
    for line in lines {
        let Some(number) = heading_number(&line.text) else {
            continue;
        };
        if follows(previous.as_deref(), &number) {
            line.level = Some(
                u8::try_from(number.len())
                    .unwrap_or(MAX_LEVEL)
                    .min(MAX_LEVEL),
            );
            previous = Some(number);
        }
    }
}

/// The section number of a line shaped like a numbered heading: short, not
/// ending like a sentence or a clause, the text after the number starting with
/// neither a small letter nor a digit, and no dot leaders or page number
/// (up to three digits: a year is kept) of a table of contents at its end.
fn heading_number(text: &str) -> Option<Vec<u32>> {
    let found = NUMBERED.captures(text)?;
    let rest = text.get(found.get(0)?.end()..)?;
    let first = rest.chars().next()?;
    let table_of_contents = rest.contains("..")
        || rest.contains('…')
        || rest
            .rsplit_once(' ')
            .is_some_and(|(_, last)| last.len() <= 3 && last.chars().all(|c| c.is_ascii_digit()));
    if text.chars().count() > MAX_HEADING_CHARS
        || text.ends_with(['.', ',', ':', ';'])
        || first.is_lowercase()
        || first.is_ascii_digit()
        || table_of_contents
    {
        return None;
    }
    let number = found
        .get(1)?
        .as_str()
        .split('.')
        .map(|part| part.parse().ok())
        .collect::<Option<Vec<u32>>>()?;
    (number.first().is_some_and(|&top| top <= 99) && number.len() <= usize::from(MAX_LEVEL))
        .then_some(number)
}

/// Whether `next` can be the heading number after `previous`: the first
/// sub-number (1.1 after 1), or the next number at this or a higher level
/// (1.3 or 2 after 1.2). One skipped number is forgiven, as a heading may be
/// lost to the text layer.
fn follows(previous: Option<&[u32]>, next: &[u32]) -> bool {
    let Some(previous) = previous else {
        return next.iter().all(|&part| part <= 1);
    };
    let Some((&last, parents)) = next.split_last() else {
        return false;
    };
    let step = |before: u32| (before.saturating_add(1)..=before.saturating_add(2)).contains(&last);
    if next.len() == previous.len() + 1 && parents == previous {
        return (1..=2).contains(&last);
    }
    next.len() <= previous.len()
        && parents == &previous[..parents.len()]
        && step(previous[parents.len()])
}

/// Turns lines into blocks, joining a line to the paragraph before it on the
/// same page when that one does not end a sentence and the line starts no
/// list item. Headings stay blocks of their own.
fn into_blocks(lines: Vec<Line>) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    for line in lines {
        if line.level.is_none()
            && !starts_item(&line.text)
            && let Some(last) = blocks.last_mut()
            && last.heading_level.is_none()
            && last.page == Some(line.page)
            && !last.text.ends_with(['.', '!', '?', ':'])
        {
            last.text.push(' ');
            last.text.push_str(&line.text);
            continue;
        }
        blocks.push(Block {
            text: line.text,
            heading_level: line.level,
            page: Some(line.page),
        });
    }
    blocks
}

/// Whether a line starts a list item: a bullet (Word's Symbol-font bullet
/// comes out as U+F0B7), or "1)" / "a)".
fn starts_item(text: &str) -> bool {
    const BULLETS: [char; 8] = ['•', '◦', '▪', '■', '–', '-', '*', '\u{f0b7}'];
    if text.starts_with(BULLETS) {
        return true;
    }
    let marker = text.split(' ').next().unwrap_or_default();
    marker.len() <= 4
        && marker.strip_suffix(')').is_some_and(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        })
}

#[cfg(test)]
mod tests {
    use lopdf::dictionary;

    use super::*;
    use crate::documents::{self, MAX_UNPACKED};
    use crate::testing::{self, SectionSpec};

    fn lines(page: u32, texts: &[&str]) -> Vec<Line> {
        texts
            .iter()
            .map(|text| Line::new(page, (*text).to_owned()))
            .collect()
    }

    fn headings(document: &Document) -> Vec<(u8, String, u32)> {
        document
            .headings()
            .map(|b| {
                (
                    b.heading_level.unwrap_or(0),
                    b.text.clone(),
                    b.page.unwrap_or(0),
                )
            })
            .collect()
    }

    fn expected_headings(sections: &[SectionSpec]) -> Vec<(u8, String)> {
        sections
            .iter()
            .map(|s| (s.level, s.heading.clone()))
            .collect()
    }

    /// Each section's paragraphs, as one text, to compare with how the PDF joined them.
    fn section_texts(document: &Document) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for block in &document.blocks {
            if block.is_heading() {
                out.push(String::new());
            } else if let Some(last) = out.last_mut() {
                if !last.is_empty() {
                    last.push(' ');
                }
                last.push_str(&block.text);
            }
        }
        out
    }

    fn check_guide(with_outline: bool) {
        let sections = testing::sample_sections(4, 3, 5);
        let bytes = testing::pdf(&sections, with_outline);
        let document = documents::read(&bytes).unwrap();
        assert_eq!(document.format, Format::Pdf);
        assert!(document.pages >= 10, "{} pages", document.pages);

        let found = headings(&document);
        let levels_and_titles: Vec<(u8, String)> =
            found.iter().map(|(l, t, _)| (*l, t.clone())).collect();
        assert_eq!(levels_and_titles, expected_headings(&sections));
        // Pages rise, start at 1 and end on the last page.
        assert!(found.windows(2).all(|w| w[0].2 <= w[1].2));
        assert_eq!(found[0].2, 1);
        assert!(found.last().unwrap().2 > 1);
        assert!(
            document
                .blocks
                .iter()
                .all(|b| b.page.is_some_and(|p| p >= 1 && p <= document.pages))
        );

        let expected: Vec<String> = sections.iter().map(|s| s.paragraphs.join(" ")).collect();
        assert_eq!(section_texts(&document), expected);
        // Joined lines make paragraphs, not one block per line.
        let paragraphs = document.blocks.len() - found.len();
        assert!(paragraphs <= sections.iter().map(|s| s.paragraphs.len()).sum::<usize>() * 2);
    }

    #[test]
    fn a_pdf_with_an_outline_gives_its_headings_with_pages() {
        check_guide(true);
    }

    #[test]
    fn a_pdf_without_an_outline_gives_its_numbered_headings() {
        check_guide(false);
    }

    #[test]
    fn outline_pages_are_those_the_bookmarks_point_at() {
        let sections = testing::sample_sections(3, 2, 12);
        let with = documents::read(&testing::pdf(&sections, true)).unwrap();
        let without = documents::read(&testing::pdf(&sections, false)).unwrap();
        assert_eq!(headings(&with), headings(&without));
        assert_eq!(with.pages, without.pages);
    }

    /// A generated guide with an outline, opened for changing.
    fn outlined(sections: &[SectionSpec]) -> (lopdf::Document, Vec<ObjectId>) {
        let doc = lopdf::Document::load_mem(&testing::pdf(sections, true)).unwrap();
        let outlines = doc
            .catalog()
            .unwrap()
            .get(b"Outlines")
            .unwrap()
            .as_reference()
            .unwrap();
        let mut items = Vec::new();
        let mut next = doc
            .get_dictionary(outlines)
            .unwrap()
            .get(b"First")
            .ok()
            .cloned();
        while let Some(Object::Reference(id)) = next {
            items.push(id);
            next = doc.get_dictionary(id).unwrap().get(b"Next").ok().cloned();
        }
        (doc, items)
    }

    fn saved(mut doc: lopdf::Document) -> Vec<u8> {
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    #[test]
    fn an_outline_that_goes_round_ends() {
        let sections = testing::sample_sections(3, 1, 1);
        let (mut doc, top) = outlined(&sections);
        let (first, last) = (top[0], *top.last().unwrap());
        doc.get_dictionary_mut(last).unwrap().set("Next", first);
        // And a child whose child is its own parent.
        let child = doc
            .get_dictionary(first)
            .unwrap()
            .get(b"First")
            .unwrap()
            .as_reference()
            .unwrap();
        doc.get_dictionary_mut(child).unwrap().set("First", first);
        let document = documents::read(&saved(doc)).unwrap();
        let found: Vec<(u8, String)> = headings(&document)
            .into_iter()
            .map(|(l, t, _)| (l, t))
            .collect();
        assert_eq!(found, expected_headings(&sections));
    }

    #[test]
    fn named_destinations_lead_to_their_pages() {
        let sections = testing::sample_sections(2, 0, 40);
        let (mut doc, top) = outlined(&sections);
        let pages = doc.get_pages();
        let second_page = *pages.values().nth(1).unwrap();
        let third_page = *pages.values().nth(2).unwrap();
        let fit = |page: ObjectId| Object::Array(vec![page.into(), "Fit".into()]);
        // The first item by a name in the name tree, the second by a PDF 1.1 name.
        let mut first = doc.get_dictionary(top[0]).unwrap().clone();
        first.remove(b"A");
        first.set("Dest", Object::string_literal("kapitel-1"));
        doc.objects.insert(top[0], Object::Dictionary(first));
        let mut second = doc.get_dictionary(top[1]).unwrap().clone();
        second.remove(b"A");
        second.set("Dest", Object::Name(b"kapitel-2".to_vec()));
        doc.objects.insert(top[1], Object::Dictionary(second));
        let leaf = doc.add_object(dictionary! {
            "Names" => vec![Object::string_literal("kapitel-1"), fit(second_page)],
        });
        let catalog = doc.catalog_mut().unwrap();
        catalog.set(
            "Names",
            dictionary! { "Dests" => dictionary! { "Kids" => vec![leaf.into()] } },
        );
        catalog.set(
            "Dests",
            dictionary! { "kapitel-2" => dictionary! { "D" => fit(third_page) } },
        );

        let document = documents::read(&saved(doc)).unwrap();
        let found: Vec<(String, u32)> = headings(&document)
            .into_iter()
            .map(|(_, t, p)| (t, p))
            .collect();
        // Not on the page named: put in at the start of it.
        assert_eq!(
            found,
            [
                (sections[0].heading.clone(), 2),
                (sections[1].heading.clone(), 3)
            ]
        );
        assert_eq!(
            document.blocks.iter().position(|b| b.page == Some(2)),
            document.blocks.iter().position(|b| b.is_heading())
        );
    }

    #[test]
    fn pages_sharing_content_are_read_alike() {
        let sections = testing::sample_sections(1, 0, 1);
        let mut doc = lopdf::Document::load_mem(&testing::pdf(&sections, false)).unwrap();
        let page = *doc.get_pages().values().next().unwrap();
        let copy = doc.get_dictionary(page).unwrap().clone();
        let kids: Vec<Object> = (0..300)
            .map(|_| doc.add_object(copy.clone()).into())
            .collect();
        let pages_id = doc
            .catalog()
            .unwrap()
            .get(b"Pages")
            .unwrap()
            .as_reference()
            .unwrap();
        let pages = doc.get_dictionary_mut(pages_id).unwrap();
        pages.set("Kids", kids);
        pages.set("Count", 300);
        let document = documents::read(&saved(doc)).unwrap();
        assert_eq!(document.pages, 300);
        // The number repeats, so only the first is taken for a heading.
        assert_eq!(document.headings().count(), 1);
        let shown = document
            .blocks
            .iter()
            .filter(|b| b.text.starts_with(&sections[0].heading))
            .count();
        assert_eq!(shown, 300);
        assert_eq!(document.blocks.last().unwrap().page, Some(300));
    }

    #[test]
    fn an_encrypted_pdf_is_named_so() {
        assert_eq!(
            documents::read(&testing::encrypted_pdf()),
            Err(DocumentError::Encrypted)
        );
    }

    #[test]
    fn a_pdf_without_text_holds_no_text() {
        let blank = testing::pdf(&[], false);
        assert_eq!(documents::read(&blank), Err(DocumentError::NoText));
    }

    #[test]
    fn a_broken_pdf_is_unreadable() {
        let err = documents::read(b"%PDF-1.7\n this is no PDF at all \x00\xff\n%%EOF").unwrap_err();
        assert!(
            err.to_string().starts_with("cannot be read as PDF: "),
            "{err}"
        );

        let good = testing::pdf(&testing::sample_sections(1, 1, 2), true);
        for cut in [16, good.len() / 3, good.len() / 2, good.len() - 40] {
            match documents::read(&good[..cut]) {
                Ok(_) | Err(DocumentError::Unreadable(_) | DocumentError::NoText) => {}
                Err(other) => panic!("cut at {cut}: {other}"),
            }
        }
        // Flipped bytes all through the file: any answer but a panic will do.
        for step in [7, 31, 101] {
            let mut damaged = good.clone();
            for i in (64..damaged.len()).step_by(step) {
                damaged[i] ^= 0x5a;
            }
            let _ = documents::read(&damaged);
        }
    }

    #[test]
    fn a_stream_past_the_limit_is_not_unpacked() {
        let bytes = testing::pdf(&testing::sample_sections(1, 1, 3), false);
        assert!(read(&bytes, MAX_UNPACKED).is_ok());
        assert!(matches!(
            read(&bytes, 16),
            Err(DocumentError::Unreadable(_))
        ));
    }

    #[test]
    fn numbered_lines_that_follow_on_are_headings() {
        let mut found = lines(
            1,
            &[
                "Indholdsfortegnelse",
                "1 Indledning .......... 3",
                "1 Indledning",
                "Ydelsen udbetales med",
                "3 kr. pr. måned til den enkelte.",
                "2025 blev reglerne ændret",
                "1.1 Formål",
                "12 måneder efter ansøgningen",
                "1.2 Målgruppe:",
                "1.2. Målgruppe",
                "1.2.1 Børn og unge",
                "7 Helt andet",
                "2 Udbetaling",
                "2.1 Beregning af ydelse 12",
                "2.1 Beregning af ydelse for 2025",
                "2.2 1 250 kr. i alt",
                "3. Tilknytning",
            ],
        );
        mark_numbered_headings(&mut found);
        let marked: Vec<(&str, u8)> = found
            .iter()
            .filter_map(|l| l.level.map(|level| (l.text.as_str(), level)))
            .collect();
        assert_eq!(
            marked,
            [
                ("1 Indledning", 1),
                ("1.1 Formål", 2),
                ("1.2. Målgruppe", 2),
                ("1.2.1 Børn og unge", 3),
                ("2 Udbetaling", 1),
                ("2.1 Beregning af ydelse for 2025", 2),
                ("3. Tilknytning", 1),
            ]
        );
    }

    #[test]
    fn heading_numbers_follow_on() {
        assert!(follows(None, &[1]));
        assert!(follows(None, &[1, 1]));
        assert!(!follows(None, &[4]));
        assert!(follows(Some(&[1]), &[1, 1]));
        assert!(follows(Some(&[1]), &[2]));
        assert!(follows(Some(&[1]), &[3]));
        assert!(!follows(Some(&[1]), &[4]));
        assert!(!follows(Some(&[1]), &[1]));
        assert!(follows(Some(&[1, 2]), &[1, 3]));
        assert!(follows(Some(&[1, 2, 3]), &[2]));
        assert!(!follows(Some(&[1, 2]), &[1, 2, 5]));
        assert!(!follows(Some(&[1, 2]), &[2, 3]));
        assert!(!follows(Some(&[u32::MAX]), &[0]));
    }

    #[test]
    fn outline_titles_find_their_lines() {
        let mut found = lines(1, &["Forside"]);
        found.extend(lines(
            2,
            &[
                "Indledning til ydelsen er her",
                "1 Indledning",
                "Tekst om indledningen.",
                "2.1 Frister for klage og",
                "genoptagelse",
                "Teksten.",
            ],
        ));
        found.extend(lines(
            3,
            &["Udbetaling Brødtekst i samme linje.", "Mere tekst."],
        ));
        found.extend(lines(4, &["Kun tekst."]));
        let entries = [
            Entry {
                level: 1,
                title: "Indledning".into(),
                page: 2,
            },
            Entry {
                level: 2,
                title: "2.1 Frister for klage og genoptagelse".into(),
                page: 2,
            },
            Entry {
                level: 1,
                title: "Udbetaling".into(),
                page: 3,
            },
            Entry {
                level: 2,
                title: "Mangler".into(),
                page: 4,
            },
            Entry {
                level: 2,
                title: "Tom side".into(),
                page: 5,
            },
        ];
        let found = mark_outline_headings(found, &entries);
        let got: Vec<(u32, &str, Option<u8>)> = found
            .iter()
            .map(|l| (l.page, l.text.as_str(), l.level))
            .collect();
        assert_eq!(
            got,
            [
                (1, "Forside", None),
                (2, "Indledning til ydelsen er her", None),
                (2, "1 Indledning", Some(1)),
                (2, "Tekst om indledningen.", None),
                (2, "2.1 Frister for klage og genoptagelse", Some(2)),
                (2, "Teksten.", None),
                (3, "Udbetaling", Some(1)),
                (3, "Brødtekst i samme linje.", None),
                (3, "Mere tekst.", None),
                (4, "Mangler", Some(2)),
                (4, "Kun tekst.", None),
                (5, "Tom side", Some(2)),
            ]
        );
    }

    #[test]
    fn lines_join_into_paragraphs_on_a_page() {
        let mut all = lines(
            1,
            &[
                "1 Overskrift",
                "En sætning der",
                "fortsætter her.",
                "Ny sætning:",
                "• punkt et",
                "og mere",
                "a) punkt to",
            ],
        );
        all[0].level = Some(1);
        all.extend(lines(2, &["uden punktum"]));
        let blocks = into_blocks(all);
        let texts: Vec<&str> = blocks.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "1 Overskrift",
                "En sætning der fortsætter her.",
                "Ny sætning:",
                "• punkt et og mere",
                "a) punkt to",
                "uden punktum"
            ]
        );
        assert_eq!(blocks[5].page, Some(2));
    }
}
