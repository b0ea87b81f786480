//! The rules of guides, without I/O: how a document's blocks become numbered sections, which sections
//! of a new version keep their identity, what a search keeps of its words, and what a suggestion asks
//! the index.

use std::collections::HashSet;

use kommune_platform::pii::contains_personal_id;
use kommune_proto::guides::v1::Audience;

use crate::documents::{Block, Document};

#[cfg(test)]
mod tests;

/// A section as an import makes it, before it has an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionDraft {
    /// `4.2`: as written, or counted from the headings.
    pub number: String,
    /// The heading without its number.
    pub heading: String,
    /// The headings above it and its own, each with its number.
    pub heading_path: Vec<String>,
    /// 1 for a chapter.
    pub level: u8,
    /// Its paragraphs, separated by blank lines.
    pub text: String,
    /// A stable anchor, unique in the guide.
    pub anchor: String,
    /// The page it begins on (PDF).
    pub page: Option<u32>,
}

/// Text an import could not place in a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unplaced {
    /// Its page (PDF).
    pub page: Option<u32>,
    /// Its beginning.
    pub excerpt: String,
    /// Why.
    pub reason: String,
}

/// A document split into sections.
#[derive(Debug, Clone, Default)]
pub struct Split {
    /// The sections in document order.
    pub sections: Vec<SectionDraft>,
    /// What could not be placed.
    pub unplaced: Vec<Unplaced>,
}

/// Why a document cannot be split into sections.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// More sections than a guide may have.
    #[error("has {0} sections; a guide may have at most {SECTIONS_MAX}")]
    TooManySections(usize),
    /// No headings: kommune does not guess sections.
    #[error(
        "has no headings to split it into sections: use the heading styles (Overskrift 1–3) in Word, \
         or bookmarks or numbered headings (1, 1.1, …) in the PDF"
    )]
    NoHeadings,
}

/// The most sections a guide may have.
pub const SECTIONS_MAX: usize = 5_000;

/// How long an unplaced text's excerpt is, in characters.
const EXCERPT_CHARS: usize = 80;

/// Splits blocks into sections: each heading begins one and its paragraphs follow it. Heading levels
/// are counted from the document's highest, and a heading without a number of its own gets one from
/// its place (Word numbers headings automatically, so the number is often not in the text).
pub fn split(blocks: &[Block]) -> Result<Split, SplitError> {
    let top = blocks
        .iter()
        .filter_map(|b| b.heading_level)
        .min()
        .ok_or(SplitError::NoHeadings)?;
    let mut split = Split::default();
    let mut counters: Vec<u32> = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut anchors = HashSet::new();
    let mut paragraphs: Vec<&str> = Vec::new();
    let mut last_unplaced_page = None;
    for block in blocks {
        let Some(level) = block.heading_level else {
            if split.sections.is_empty() {
                // One note per page (or one for a DOCX) is enough to find the text.
                if split.unplaced.is_empty() || last_unplaced_page != block.page {
                    split.unplaced.push(Unplaced {
                        page: block.page,
                        excerpt: excerpt(&block.text),
                        reason: "stands before the first heading".into(),
                    });
                    last_unplaced_page = block.page;
                }
            } else {
                paragraphs.push(&block.text);
            }
            continue;
        };
        finish_text(&mut split.sections, &mut paragraphs);
        let level = level.saturating_sub(top) + 1;
        let depth = usize::from(level);
        let (written, heading) = numbered(&block.text);
        counters.resize(depth, 0);
        match &written {
            Some(number) if number.len() == depth => counters.clone_from(number),
            _ => counters[depth - 1] += 1,
        }
        let number = counters
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(".");
        let heading = if heading.is_empty() {
            block.text.clone()
        } else {
            heading
        };
        path.truncate(depth - 1);
        path.push(format!("{number} {heading}"));
        let anchor = unique_anchor(&mut anchors, &slug(&format!("{number} {heading}")));
        split.sections.push(SectionDraft {
            number,
            heading,
            heading_path: path.clone(),
            level,
            text: String::new(),
            anchor,
            page: block.page,
        });
    }
    finish_text(&mut split.sections, &mut paragraphs);
    if split.sections.len() > SECTIONS_MAX {
        return Err(SplitError::TooManySections(split.sections.len()));
    }
    Ok(split)
}

/// Whether a document holds a personal ID number anywhere, and if so where, in words that never
/// repeat the number or the text around it: a page, or the last heading before it that holds none.
pub fn no_personal_ids(document: &Document) -> Result<(), String> {
    let found = |place: String| {
        format!("holds a personal ID number (CPR) {place}: remove it and upload the file again")
    };
    let mut last_clean_heading: Option<&str> = None;
    for block in &document.blocks {
        if contains_personal_id(&block.text) {
            return Err(found(match (block.page, last_clean_heading) {
                (Some(page), _) => format!("on page {page}"),
                (None, Some(heading)) => format!("under or after the heading \"{heading}\""),
                (None, None) => "before the first heading".to_owned(),
            }));
        }
        if block.heading_level.is_some() {
            last_clean_heading = Some(&block.text);
        }
    }
    if contains_personal_id(&document.other_text) {
        return Err(found(
            "outside the guide's text (in a header, footer, note, comment, tracked change, \
             annotation or the document's properties)"
                .to_owned(),
        ));
    }
    Ok(())
}

fn finish_text(sections: &mut [SectionDraft], paragraphs: &mut Vec<&str>) {
    if let Some(last) = sections.last_mut() {
        last.text = paragraphs.join("\n\n");
    }
    paragraphs.clear();
}

fn excerpt(text: &str) -> String {
    text.chars().take(EXCERPT_CHARS).collect()
}

/// A heading's own number and the rest: "4.2 Manuel tilknytning" → ([4, 2], "Manuel tilknytning").
fn numbered(text: &str) -> (Option<Vec<u32>>, String) {
    let text = text.trim();
    let (first, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let digits = first.trim_end_matches('.');
    let number: Option<Vec<u32>> = digits
        .split('.')
        .map(|part| part.parse::<u32>().ok().filter(|n| *n <= 999))
        .collect();
    match number {
        Some(number) if !digits.is_empty() && !rest.trim().is_empty() => {
            (Some(number), rest.trim().to_owned())
        }
        _ => (None, text.to_owned()),
    }
}

/// An anchor of lowercase ASCII letters, digits and hyphens; Danish and Swedish letters spelt out.
pub fn slug(text: &str) -> String {
    let mut slug = String::new();
    for c in text.to_lowercase().chars() {
        let spelt = match c {
            'æ' | 'ä' => "ae",
            'ø' | 'ö' => "oe",
            'å' => "aa",
            'é' | 'è' => "e",
            'ü' => "u",
            c if c.is_ascii_alphanumeric() => {
                slug.push(c);
                continue;
            }
            _ => "-",
        };
        slug.push_str(spelt);
    }
    let slug: Vec<&str> = slug.split('-').filter(|part| !part.is_empty()).collect();
    let slug = slug.join("-");
    if slug.len() > 80 {
        slug[..80].trim_end_matches('-').to_owned()
    } else {
        slug
    }
}

fn unique_anchor(taken: &mut HashSet<String>, base: &str) -> String {
    let base = if base.is_empty() { "afsnit" } else { base };
    let mut anchor = base.to_owned();
    let mut n = 2;
    while !taken.insert(anchor.clone()) {
        anchor = format!("{base}-{n}");
        n += 1;
    }
    anchor
}

/// A section of the version before, as identity carrying needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Earlier {
    /// Its id.
    pub section_id: String,
    /// Its number.
    pub number: String,
    /// Its heading.
    pub heading: String,
}

/// Which earlier section each new section continues (its id), if any: first where the heading is the
/// same (ignoring case and spacing; renumbered sections keep their id), then, among the sections left,
/// where the number is. Each earlier section is continued at most once.
pub fn carry_identities(earlier: &[Earlier], new: &[SectionDraft]) -> Vec<Option<String>> {
    let mut used = vec![false; earlier.len()];
    let mut kept: Vec<Option<String>> = vec![None; new.len()];
    let mut pass = |same: &dyn Fn(&Earlier, &SectionDraft) -> bool| {
        for (i, section) in new.iter().enumerate() {
            if kept[i].is_some() {
                continue;
            }
            if let Some(j) = (0..earlier.len()).find(|&j| !used[j] && same(&earlier[j], section)) {
                used[j] = true;
                kept[i] = Some(earlier[j].section_id.clone());
            }
        }
    };
    pass(&|e, s| same_words(&e.heading, &s.heading));
    pass(&|e, s| e.number == s.number);
    kept
}

fn same_words(a: &str, b: &str) -> bool {
    normalise(a) == normalise(b)
}

/// Whether `caller` may read a guide written for `audience`: the supplier's own guides are for the
/// suite-wide roles (the supplier, specialists, the consortium, services); every other guide is for
/// every signed-in caller. A guide the caller may not read is as if it did not exist.
pub fn may_read(caller: &kommune_platform::auth::Caller, audience: Audience) -> bool {
    audience != Audience::Supplier || caller.is_suite_wide()
}

/// Lower case with runs of whitespace made one space: how search words are kept and compared.
pub fn normalise(text: &str) -> String {
    text.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The most words of a draft a suggestion asks the index about.
const SUGGESTION_WORDS_MAX: usize = 32;

/// What a suggestion asks the index: the draft's distinct words (no digits-only words, no single
/// letters), the title's weighed double, in the order written; no query syntax survives.
pub fn suggestion_query(title: &str, description: &str) -> String {
    let mut seen = HashSet::new();
    let mut terms = Vec::new();
    for (text, boost) in [(title, "^2"), (description, "")] {
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .map(str::to_lowercase)
            .filter(|w| w.chars().count() > 1 && !w.chars().all(|c| c.is_ascii_digit()))
        {
            if terms.len() == SUGGESTION_WORDS_MAX {
                break;
            }
            if seen.insert(word.clone()) {
                terms.push(format!("{word}{boost}"));
            }
        }
    }
    terms.join(" ")
}

/// The share of suggestions that answered the question; 0 without suggestions.
pub fn deflection_rate(suggestions: i64, answered: i64) -> f64 {
    if suggestions <= 0 {
        0.0
    } else {
        answered as f64 / suggestions as f64
    }
}
