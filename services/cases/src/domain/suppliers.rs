//! Mail to a system's supplier: its contacts, the numbers a subject carries, and the headers that keep
//! a case's or an incident's mails one thread.

use chrono::{DateTime, Utc};
use kommune_proto::cases::v1::Resolution;
use serde::{Deserialize, Serialize};

/// The most contacts a system has.
pub const MAX_CONTACTS: usize = 10;

/// The longest address a mail system takes (RFC 5321's path limit).
const MAX_ADDRESS: usize = 254;

/// Someone at a system's supplier whom reports are mailed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierContact {
    /// Name or function.
    pub name: String,
    /// E-mail address.
    pub email: String,
}

/// What is wrong with an address, if anything: one `@` between a local part and a domain with a dot,
/// no spaces or angle brackets (it goes into a header as it stands).
pub fn address_problem(address: &str) -> Option<&'static str> {
    let Some((local, domain)) = address.split_once('@') else {
        return Some("must be an e-mail address (name@domain)");
    };
    if address.chars().count() > MAX_ADDRESS {
        return Some("must be at most 254 characters");
    }
    let bad = |c: char| c.is_whitespace() || c.is_control() || "<>,;\"()[]\\".contains(c);
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || address.chars().any(bad)
    {
        return Some("must be an e-mail address (name@domain)");
    }
    None
}

/// What a subject's bracketed number names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbered {
    /// A case, by number.
    Case(i64),
    /// An incident, by number.
    Incident(i64),
}

/// The first case or incident number in a subject (`SAG-000123`, `DRIFT-000012`, bracketed or not,
/// in any case), however replies prefixed it.
pub fn number_in_subject(subject: &str) -> Option<Numbered> {
    let upper = subject.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    let boundary = |at: usize| at >= bytes.len() || !bytes[at].is_ascii_alphanumeric();
    (0..bytes.len()).find_map(|start| {
        if start > 0 && !boundary(start - 1) {
            return None;
        }
        let rest = &bytes[start..];
        let (prefix_len, numbered): (usize, fn(i64) -> Numbered) = if rest.starts_with(b"SAG-") {
            (4, Numbered::Case)
        } else if rest.starts_with(b"DRIFT-") {
            (6, Numbered::Incident)
        } else {
            return None;
        };
        let digits = &rest[prefix_len..];
        let length = digits.iter().take_while(|b| b.is_ascii_digit()).count();
        if length == 0 || !boundary(start + prefix_len + length) {
            return None;
        }
        std::str::from_utf8(&digits[..length])
            .ok()?
            .parse()
            .ok()
            .map(numbered)
    })
}

/// A mail's Message-ID, from its id.
pub fn message_id(mail_id: &str) -> String {
    format!("<{mail_id}@cases.kommune>")
}

/// A report's subject: the number in brackets, then the title.
pub fn report_subject(number: &str, title: &str) -> String {
    format!("[{number}] {title}")
}

/// A resolution's subject: said resolved in Danish and English, then as the report.
pub fn resolution_subject(number: &str, title: &str) -> String {
    format!("Løst / Resolved: [{number}] {title}")
}

/// The text of a case's resolution mail, Danish with English beside.
pub fn case_resolution_text(number: &str, resolution: Resolution) -> String {
    let (da, en) = match resolution {
        Resolution::Fixed => ("fejlen er rettet", "the fault was fixed"),
        Resolution::Answered => ("spørgsmålet er besvaret", "the question was answered"),
        Resolution::ByDesign => (
            "systemet virker som bestilt; en ændring kræver et ændringsønske",
            "the system works as ordered; changing it needs a change request",
        ),
        Resolution::OutsideChain => (
            "fejlen ligger uden for konsortiets kædeansvar",
            "the fault lies outside the consortium's chain responsibility",
        ),
        Resolution::Duplicate => (
            "sagen er lagt sammen med en anden",
            "merged into another case",
        ),
        Resolution::UserError => ("brugerfejl, forklaret", "a user's error, explained"),
        Resolution::Unspecified => ("løst", "resolved"),
    };
    format!("Sagen {number} er løst: {da}.\n\nCase {number} is resolved: {en}.")
}

/// The text of an incident's report mail: the problem, when it began (Copenhagen time) and the
/// supplier's tag, the labels in Danish and English.
pub fn incident_report_text(problem: &str, occurred_at: DateTime<Utc>, tag: &str) -> String {
    let occurred = occurred_at
        .with_timezone(&chrono_tz::Europe::Copenhagen)
        .format("%Y-%m-%d %H:%M");
    format!("{problem}\n\nSiden / Since: {occurred}\nMærkat / Tag: {tag}")
}

/// The headers that place a new mail in a thread whose mails so far had `earlier` as their
/// Message-IDs, oldest first: it answers the latest and refers to them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Threading {
    /// The thread's first Message-ID (the new mail's own when it starts the thread).
    pub thread_message_id: String,
    /// The Message-ID answered, or empty for a first mail.
    pub in_reply_to: String,
    /// Every earlier Message-ID, oldest first.
    pub references: Vec<String>,
}

/// Where a mail with Message-ID `own` goes in a thread of `earlier` mails.
pub fn threading(earlier: &[String], own: &str) -> Threading {
    Threading {
        thread_message_id: earlier.first().map_or(own, String::as_str).to_owned(),
        in_reply_to: earlier.last().cloned().unwrap_or_default(),
        references: earlier.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{case_number, incident_number};

    #[test]
    fn addresses_need_a_local_part_and_a_dotted_domain() {
        assert_eq!(address_problem("drift@leverandor.dk"), None);
        assert_eq!(address_problem("a.b+tag@sub.example.se"), None);
        for bad in [
            "",
            "drift",
            "@leverandor.dk",
            "drift@",
            "drift@localhost",
            "drift@@leverandor.dk",
            "drift@.dk",
            "drift @leverandor.dk",
            "Drift <drift@leverandor.dk>",
            "a@b.dk, c@d.dk",
            "drift@leverandor.dk\r\nBcc: x@y.dk",
        ] {
            assert!(address_problem(bad).is_some(), "{bad:?} was taken");
        }
        let long = format!("{}@leverandor.dk", "a".repeat(250));
        assert!(address_problem(&long).is_some());
    }

    #[test]
    fn a_subject_names_its_case_or_incident_however_prefixed() {
        let subject = report_subject(&case_number(123), "Udbetalinger fejler");
        assert_eq!(subject, "[SAG-000123] Udbetalinger fejler");
        assert_eq!(number_in_subject(&subject), Some(Numbered::Case(123)));
        assert_eq!(
            number_in_subject(&format!(
                "SV: Re: {}",
                resolution_subject(&incident_number(12), "x")
            )),
            Some(Numbered::Incident(12))
        );
        assert_eq!(
            number_in_subject("[Ekstern] Re: [sag-000007] spørgsmål"),
            Some(Numbered::Case(7))
        );
        assert_eq!(
            number_in_subject("Re: Sag SAG-000042 er opdateret: Forkert beløb"),
            Some(Numbered::Case(42))
        );
        for none in [
            "Udbetalinger",
            "[SAG-]",
            "[SAG-12a]",
            "[TICKET-1]",
            "BSAG-1",
            "SAG-x1",
        ] {
            assert_eq!(number_in_subject(none), None, "{none:?}");
        }
    }

    #[test]
    fn a_thread_answers_its_latest_mail_and_refers_to_all() {
        let first = threading(&[], "<a@cases.kommune>");
        assert_eq!(first.thread_message_id, "<a@cases.kommune>");
        assert_eq!(first.in_reply_to, "");
        assert!(first.references.is_empty());
        let earlier = vec![
            "<a@cases.kommune>".to_owned(),
            "<b@cases.kommune>".to_owned(),
        ];
        let third = threading(&earlier, "<c@cases.kommune>");
        assert_eq!(third.thread_message_id, "<a@cases.kommune>");
        assert_eq!(third.in_reply_to, "<b@cases.kommune>");
        assert_eq!(third.references, earlier);
    }
}
