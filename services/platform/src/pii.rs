//! PII guard: finds Danish CPR numbers and Swedish personnummer in free text.
//!
//! GDPR (DOMAIN.md, "Support cases"): a personal ID number must never stand in a
//! free-text field or be sent by mail. This module only *finds* them; callers decide
//! whether to reject, mask or warn. Pure std, no I/O, never panics.
//!
//! # Shapes that are candidates
//! Digits are ASCII digits; a "hyphen" is `-`, `‐`, `‑` or `–` (word processors
//! turn `-` into these).
//! - ten digits in a row: `DDMMYYXXXX` / `YYMMDDXXXX`;
//! - six digits, then a hyphen or one space, then four: `DDMMYY-XXXX`, `DDMMYY XXXX`;
//! - six digits, `+`, four: `YYMMDD+XXXX` (Swedish, aged 100 or more);
//! - six digits, a dot, four: `DDMMYY.XXXX`;
//! - twelve digits in a row, or eight, a hyphen, four: `YYYYMMDDXXXX`, `YYYYMMDD-XXXX`.
//!
//! Text pasted from Word, Outlook or a web page is read as the digits it shows: full-width digits
//! (`０１０１９０`) are digits, a non-breaking, narrow, thin or figure space is a space, and invisible
//! characters (zero-width space and joiners, word joiner, soft hyphen, byte-order mark) are left out,
//! so `010190\u{200B}-1234` and `010190\u{A0}1234` are found like `010190-1234`. Ranges are given
//! in the text as written.
//!
//! # Which kind a candidate is
//! - A ten-digit shape (no separator, hyphen or space) whose first six digits are a
//!   valid `DDMMYY` date is a [`PersonalIdKind::DanishCpr`]: the Danish rule has no
//!   check digit, so it wins even when the number is also a valid Swedish one.
//! - Otherwise it is a [`PersonalIdKind::SwedishPersonnummer`] when the first six
//!   digits are a valid `YYMMDD` date (day + 60 for a samordningsnummer) and the ten
//!   digits pass the Luhn check.
//! - `+` and twelve-digit shapes are Swedish only: valid date (`YYYY` in 1800–2099
//!   for twelve digits) and Luhn over the last ten digits; never Danish.
//! - Two-digit years accept 29 February when `YY % 4 == 0` (2000 was a leap year);
//!   four-digit years use the full Gregorian rule.
//!
//! # When a candidate is not an ID (context rules)
//! - Glued to a word: a letter, digit or `_` right before or after, or a hyphen
//!   between it and a word (`ABC1234567890`, `KOMBITKY-0101901234`, `…1234-A`).
//! - Part of a longer number: a `- . , / : +` between it and another digit
//!   (`12-0101901234`, `0101901234,50`, `010190-1234-5678`).
//! - A phone number: an international prefix right before it (`+…` glued to it,
//!   `+45 `, `(+46) `, `0045 `), or phone grouping: a group of 2–4 digits joined to it
//!   by one space (`010190 1234 56`, `12 0101901234`). A group that belongs to a
//!   date, time, amount or word (`04-06-2021 `, `11:07 `, `B12 `) is not phone
//!   grouping, nor is an ID found just before (`010190 1234 020290 1234` is two IDs).
//!   Groups of phones as such (`12 34 56 78`, `070-123 45 67`, `0101 90 12 34`) never
//!   form a candidate shape in the first place.
//! - An amount: a currency word right before or after, with at most one space
//!   (`kr`, `kr.`, `kroner`, `kronor`, `DKK`, `SEK`, `NOK`, `EUR`, `euro`, `USD`), or a
//!   price ending `,-` / `:-` / `.-` right after it.
//!
//! An ungrouped ten-digit number without a prefix is *not* read as a phone number:
//! DOMAIN.md says any such number with a valid date must be treated as a CPR number.

use std::ops::Range;

/// Which kind of personal identity number was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonalIdKind {
    /// Danish CPR number (`DDMMYY-XXXX`); no check digit since 2007.
    DanishCpr,
    /// Swedish personnummer or samordningsnummer with a valid Luhn check digit.
    SwedishPersonnummer,
}

/// One personal ID number found in a text: its kind and byte range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalIdMatch {
    /// Which kind of number it is.
    pub kind: PersonalIdKind,
    /// Byte range in the searched text, from the first digit to the last.
    pub range: Range<usize>,
}

/// Every personal ID number in `text`, in order.
#[must_use]
pub fn find_personal_ids(text: &str) -> Vec<PersonalIdMatch> {
    match Shown::of(text) {
        None => find_in_plain(text),
        Some(shown) => find_in_plain(&shown.text)
            .into_iter()
            .map(|found| PersonalIdMatch {
                kind: found.kind,
                range: shown.written(&found.range),
            })
            .collect(),
    }
}

/// A text as it shows, where it differs from how it is written (see the module's documentation).
struct Shown {
    /// The text as it shows.
    text: String,
    /// For each byte of `text`, the bytes of the written text it shows.
    written_at: Vec<Range<usize>>,
}

impl Shown {
    /// How `text` shows, when that differs from how it is written.
    fn of(text: &str) -> Option<Self> {
        if text.chars().all(|c| shows_as(c) == Some(c)) {
            return None;
        }
        let mut shown = Self {
            text: String::with_capacity(text.len()),
            written_at: Vec::with_capacity(text.len()),
        };
        for (at, c) in text.char_indices() {
            if let Some(seen) = shows_as(c) {
                shown.text.push(seen);
                let written = at..at + c.len_utf8();
                shown
                    .written_at
                    .extend(std::iter::repeat_n(written, seen.len_utf8()));
            }
        }
        Some(shown)
    }

    /// Where the shown bytes `range` were written.
    fn written(&self, range: &Range<usize>) -> Range<usize> {
        let start = self.written_at.get(range.start).map_or(0, |r| r.start);
        let end = range
            .end
            .checked_sub(1)
            .and_then(|last| self.written_at.get(last))
            .map_or(start, |r| r.end);
        start..end
    }
}

/// The character `c` shows as, or `None` for one that shows nothing.
fn shows_as(c: char) -> Option<char> {
    match c {
        // Full-width digits, as East Asian input methods and some fonts' tables write them.
        '\u{FF10}'..='\u{FF19}' => char::from_u32(c as u32 - 0xFF10 + u32::from(b'0')),
        '\u{A0}' | '\u{2007}' | '\u{2009}' | '\u{202F}' => Some(' '),
        '\u{AD}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' => None,
        c => Some(c),
    }
}

/// Every personal ID number in `text`, which shows as it is written.
fn find_in_plain(text: &str) -> Vec<PersonalIdMatch> {
    let runs = digit_runs(text);
    let mut found: Vec<PersonalIdMatch> = Vec::new();
    let mut i = 0;
    while i < runs.len() {
        let Some((shape, range, used)) = candidate_at(text, &runs, i) else {
            i += 1;
            continue;
        };
        let prev_end = found.last().map(|m| m.range.end);
        let kind = if stands_alone(text, &range, prev_end) {
            classify(shape, &digits_in(text, &range))
        } else {
            None
        };
        match kind {
            Some(kind) => {
                found.push(PersonalIdMatch { kind, range });
                i += used;
            }
            None => i += 1,
        }
    }
    found
}

/// True when `text` holds at least one personal ID number.
#[must_use]
pub fn contains_personal_id(text: &str) -> bool {
    !find_personal_ids(text).is_empty()
}

/// How a candidate was written; decides which rules apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Ten digits, bare or 6+4 with a hyphen or a space: Danish first, then Swedish.
    Ten,
    /// `YYMMDD+XXXX`: Swedish only.
    TenPlus,
    /// Twelve digits, bare or 8+4 with a hyphen: Swedish only.
    Twelve,
}

/// Byte ranges of the maximal runs of ASCII digits (always on char boundaries).
fn digit_runs(text: &str) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, b) in text.bytes().enumerate() {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push(s..text.len());
    }
    runs
}

/// The candidate starting at digit run `i`: its shape, range and how many runs it uses.
fn candidate_at(
    text: &str,
    runs: &[Range<usize>],
    i: usize,
) -> Option<(Shape, Range<usize>, usize)> {
    let run = runs.get(i)?;
    match run.len() {
        10 => Some((Shape::Ten, run.clone(), 1)),
        12 => Some((Shape::Twelve, run.clone(), 1)),
        6 | 8 => {
            let next = runs.get(i + 1)?;
            if next.len() != 4 {
                return None;
            }
            // Exactly one separator character between the two groups.
            let mut sep = text.get(run.end..next.start)?.chars();
            let (Some(c), None) = (sep.next(), sep.next()) else {
                return None;
            };
            let shape = match (run.len(), c) {
                (6, '+') => Shape::TenPlus,
                (6, ' ' | '.') => Shape::Ten,
                (6, c) if is_hyphen(c) => Shape::Ten,
                (8, c) if is_hyphen(c) => Shape::Twelve,
                _ => return None,
            };
            Some((shape, run.start..next.end, 2))
        }
        _ => None,
    }
}

/// The digit values inside `range` (separators skipped).
fn digits_in(text: &str, range: &Range<usize>) -> Vec<u8> {
    text.get(range.clone())
        .unwrap_or_default()
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

/// The kind of ID these digits form in this shape, if any.
fn classify(shape: Shape, d: &[u8]) -> Option<PersonalIdKind> {
    match (shape, d) {
        (Shape::Ten, [d0, d1, m0, m1, y0, y1, ..]) if d.len() == 10 => {
            let year = number(&[*y0, *y1]);
            if is_valid_date(
                number(&[*d0, *d1]),
                number(&[*m0, *m1]),
                year.is_multiple_of(4),
            ) {
                Some(PersonalIdKind::DanishCpr)
            } else {
                swedish_ten(d)
            }
        }
        (Shape::TenPlus, _) if d.len() == 10 => swedish_ten(d),
        (Shape::Twelve, [c0, c1, y0, y1, m0, m1, day0, day1, ..]) if d.len() == 12 => {
            let century = number(&[*c0, *c1]);
            let year = century * 100 + number(&[*y0, *y1]);
            let leap =
                year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
            let ok = (18..=20).contains(&century)
                && is_swedish_day(number(&[*day0, *day1]), number(&[*m0, *m1]), leap)
                && luhn_ok(d.get(2..).unwrap_or_default());
            ok.then_some(PersonalIdKind::SwedishPersonnummer)
        }
        _ => None,
    }
}

/// Swedish rule for the ten-digit form `YYMMDDXXXX`.
fn swedish_ten(d: &[u8]) -> Option<PersonalIdKind> {
    let [y0, y1, m0, m1, d0, d1, ..] = *d else {
        return None;
    };
    let leap = number(&[y0, y1]).is_multiple_of(4);
    let ok =
        d.len() == 10 && is_swedish_day(number(&[d0, d1]), number(&[m0, m1]), leap) && luhn_ok(d);
    ok.then_some(PersonalIdKind::SwedishPersonnummer)
}

/// Decimal value of a few digits.
fn number(d: &[u8]) -> u32 {
    d.iter().fold(0, |acc, &x| acc * 10 + u32::from(x))
}

fn is_valid_date(day: u32, month: u32, leap: bool) -> bool {
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    (1..=days).contains(&day)
}

/// A samordningsnummer adds 60 to the day of birth.
fn is_swedish_day(day: u32, month: u32, leap: bool) -> bool {
    is_valid_date(day, month, leap) || (day > 60 && is_valid_date(day - 60, month, leap))
}

/// Luhn check over the ten-digit form: weights 2,1,2,1,… from the left, the digits of
/// each product summed; the check digit makes the total a multiple of ten.
fn luhn_ok(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let p = u32::from(x) * if i % 2 == 0 { 2 } else { 1 };
            p / 10 + p % 10
        })
        .sum();
    d.len() == 10 && sum.is_multiple_of(10)
}

fn is_hyphen(c: char) -> bool {
    matches!(c, '-' | '\u{2010}' | '\u{2011}' | '\u{2013}')
}

/// Characters that join digit groups into one longer number, date, time or amount.
fn is_joiner(c: char) -> bool {
    is_hyphen(c) || matches!(c, '.' | ',' | '/' | ':' | '+')
}

/// Letters, digits (any script) and `_` make up identifiers.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// True when nothing around `range` says it is a word, a longer number, a phone
/// number or an amount. `prev_end` is the end of the ID found just before, if any.
fn stands_alone(text: &str, range: &Range<usize>, prev_end: Option<usize>) -> bool {
    let before = text.get(..range.start).unwrap_or_default();
    let after = text.get(range.end..).unwrap_or_default();
    !(blocked_before(before, prev_end) || blocked_after(after))
}

fn blocked_before(before: &str, prev_end: Option<usize>) -> bool {
    let mut rev = before.chars().rev();
    let Some(c) = rev.next() else {
        return false;
    };
    if is_word_char(c) || c == '+' {
        // `ABC1234567890`; `+4601019012 34` is an international phone number.
        return true;
    }
    if is_joiner(c) {
        match rev.next() {
            Some(p) if p.is_ascii_digit() => return true,
            Some(p) if is_hyphen(c) && is_word_char(p) => return true,
            _ => {}
        }
    }
    currency_before(before) || phone_group_before(before, prev_end)
}

fn blocked_after(after: &str) -> bool {
    let mut chars = after.chars();
    let Some(c) = chars.next() else {
        return false;
    };
    if is_word_char(c) {
        return true;
    }
    if is_joiner(c) {
        match chars.next() {
            // `0101901234,50`, `010190-1234-5678`, `0101901234.2`.
            Some(n) if n.is_ascii_digit() => return true,
            // `0101901234-A`: part of an identifier.
            Some(n) if is_hyphen(c) && is_word_char(n) => return true,
            // Prices: `1234,-` (Danish), `1234:-` (Swedish).
            Some(n) if matches!(c, ',' | ':' | '.') && is_hyphen(n) => return true,
            _ => {}
        }
    }
    currency_after(after) || phone_group_after(after)
}

/// `DKK 0101901234`, `kr. 0101901234`, `kr.0101901234`.
fn currency_before(before: &str) -> bool {
    let s = before.strip_suffix(' ').unwrap_or(before);
    let s = s.strip_suffix('.').unwrap_or(s);
    // Longest currency word is six letters; read at most seven to bound the work.
    let word: String = s
        .chars()
        .rev()
        .take_while(|c| c.is_alphabetic())
        .take(7)
        .collect();
    let word: String = word.chars().rev().collect();
    is_currency(&word)
}

/// `0101901234 kr`, `0101901234 DKK`.
fn currency_after(after: &str) -> bool {
    let s = after.strip_prefix(' ').unwrap_or(after);
    let word: String = s
        .chars()
        .take_while(|c| c.is_alphabetic())
        .take(7)
        .collect();
    is_currency(&word)
}

fn is_currency(word: &str) -> bool {
    [
        "kr", "kroner", "kronor", "dkk", "sek", "nok", "eur", "euro", "usd",
    ]
    .iter()
    .any(|w| w.eq_ignore_ascii_case(word))
}

/// A phone prefix or phone grouping right before: `+45 `, `(+46) `, `0045 `, `12 `.
fn phone_group_before(before: &str, prev_end: Option<usize>) -> bool {
    let Some(rest) = before.strip_suffix(' ') else {
        return false;
    };
    let (rest, in_parens) = match rest.strip_suffix(')') {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let len = rest
        .bytes()
        .rev()
        .take_while(u8::is_ascii_digit)
        .take(5)
        .count();
    if !(1..=4).contains(&len) {
        return false;
    }
    let group_start = rest.len() - len;
    let group = rest.get(group_start..).unwrap_or_default();
    let lead = rest
        .get(..group_start)
        .unwrap_or_default()
        .chars()
        .next_back();
    if lead == Some('+') || (len == 4 && group.starts_with("00")) {
        return true; // international prefix
    }
    if in_parens || len < 2 || prev_end == Some(rest.len()) {
        return false; // `(12) `, a lone digit, or the tail of the ID found just before
    }
    // A group glued to a date, time or amount (`04-06-2021 `, `11:07 `) or to a word
    // (`B12 `) is not a phone group.
    !lead.is_some_and(|c| is_joiner(c) || is_word_char(c))
}

/// Phone grouping right after: `010190 1234 56`, `0101901234 12`.
fn phone_group_after(after: &str) -> bool {
    let Some(rest) = after.strip_prefix(' ') else {
        return false;
    };
    let len = rest.bytes().take_while(u8::is_ascii_digit).take(5).count();
    if !(2..=4).contains(&len) {
        return false;
    }
    let mut tail = rest.get(len..).unwrap_or_default().chars();
    // A group that starts a time, date or amount (`0101901234 12:00`) or a word (`12A`)
    // is not a phone group.
    match (tail.next(), tail.next()) {
        (Some(j), Some(d)) if is_joiner(j) && d.is_ascii_digit() => false,
        (Some(c), _) => !is_word_char(c),
        (None, _) => true,
    }
}

/// What replaces a text erased on a data subject's request (a case's or change request's title or
/// description), in Danish and English.
pub const ERASED_TEXT: &str = "[slettet / erased]";

/// The longest reason an erasure may give (kept in the audit trail).
pub const ERASURE_REASON_MAX: usize = 500;

/// What a person's own words say after identity anonymised them (comments, review comments).
pub const ERASED_AUTHOR_TEXT: &str = "[removed: the author was anonymised]";

#[cfg(test)]
mod tests;
