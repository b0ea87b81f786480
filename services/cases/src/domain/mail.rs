//! Mail that comes in to the desk's mailbox: what of it becomes a case's title and text, what a reply
//! adds to a thread (its new words, not the quoted history), which attachments a case takes, and
//! whether a person's words in it hold a personal ID number.

use kommune_platform::pii;

/// A mail as the mailbox read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundMail {
    /// Its Message-ID, in angle brackets.
    pub message_id: String,
    /// The sender's address, lower-cased.
    pub from: String,
    /// The subject.
    pub subject: String,
    /// The text (a plain-text rendering when it came as HTML only).
    pub text: String,
    /// The Message-IDs it answers: In-Reply-To, then References latest first.
    pub replies_to: Vec<String>,
    /// Its attachments.
    pub attachments: Vec<MailAttachment>,
    /// Larger than the mailbox takes: read by its headers alone, refused back to its sender.
    pub oversized: bool,
}

/// An attachment of an inbound mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailAttachment {
    /// File name.
    pub file_name: String,
    /// MIME type, lower-cased, without parameters.
    pub content_type: String,
    /// The bytes.
    pub content: Vec<u8>,
}

impl InboundMail {
    /// Whether a person's words in it hold a personal ID number: the subject, the text, the
    /// attachments' names and any plain-text attachment.
    pub fn holds_personal_id(&self) -> bool {
        pii::contains_personal_id(&self.subject)
            || pii::contains_personal_id(&self.text)
            || self.attachments.iter().any(|a| {
                pii::contains_personal_id(&a.file_name)
                    || (a.content_type.starts_with("text/")
                        && pii::contains_personal_id(&String::from_utf8_lossy(&a.content)))
            })
    }

    /// The attachments a case takes (of the types and sizes any attachment may have), and a line
    /// naming each one left out and why, Danish with English beside.
    pub fn usable_attachments(&self) -> (Vec<MailAttachment>, Vec<String>) {
        let mut usable = Vec::new();
        let mut left_out = Vec::new();
        for attachment in &self.attachments {
            match super::check_attachment(&attachment.content_type, attachment.content.len()) {
                Ok(()) => usable.push(attachment.clone()),
                Err((_, why)) => left_out.push(format!(
                    "Vedhæftet fil udeladt / attachment left out: {} ({}, {} bytes: {why})",
                    attachment.file_name,
                    attachment.content_type,
                    attachment.content.len()
                )),
            }
        }
        (usable, left_out)
    }
}

/// The longest title a mail gives a case (as a filed case's title).
const TITLE_MAX: usize = 200;

/// The longest text a mail gives a case or a comment (as any case's text).
const TEXT_MAX: usize = 20_000;

/// A mail's text as a case or comment keeps it: at most 20,000 characters, saying so when cut.
pub fn kept_text(text: &str) -> String {
    const CUT: &str = "\n[… afkortet / cut]";
    if text.chars().count() <= TEXT_MAX {
        return text.trim().to_owned();
    }
    let kept: String = text.chars().take(TEXT_MAX - CUT.chars().count()).collect();
    format!("{kept}{CUT}")
}

/// The prefixes mail programs put before a reply's or forward's subject, in the languages the desk
/// meets (Danish, Swedish, Norwegian, German, English).
const PREFIXES: [&str; 8] = ["re", "sv", "vs", "aw", "fw", "fwd", "wg", "vb"];

/// A case's title from a mail's subject: the reply and forward prefixes taken off, at most 200
/// characters; "(uden emne / no subject)" when nothing is left.
pub fn title_from_subject(subject: &str) -> String {
    let mut rest = subject.trim();
    loop {
        let stripped = rest.split_once(':').and_then(|(prefix, after)| {
            let prefix = prefix.trim().to_ascii_lowercase();
            PREFIXES
                .contains(&prefix.as_str())
                .then_some(after.trim_start())
        });
        match stripped {
            Some(after) => rest = after,
            None => break,
        }
    }
    let title: String = rest.chars().take(TITLE_MAX).collect();
    if title.trim().is_empty() {
        "(uden emne / no subject)".to_owned()
    } else {
        title.trim().to_owned()
    }
}

/// What a reply adds: its text above the quoted mail it answers. The quote starts at the first line
/// quoted with `>`, at an attribution line ("Den … skrev:", "On … wrote:"), or at a forwarded or
/// original message's header line; trailing blank lines go.
pub fn reply_text(body: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for line in body.lines() {
        let trimmed = line.trim();
        let lower = trimmed.to_lowercase();
        let attribution = lower.ends_with(':')
            && [("den ", " skrev"), ("on ", " wrote"), ("am ", " schrieb")]
                .iter()
                .any(|(opening, verb)| lower.starts_with(opening) && lower.contains(verb));
        let header = lower.starts_with("-----original message")
            || lower.starts_with("-----oprindelig meddelelse")
            || lower.starts_with("-----ursprungligt meddelande")
            || lower.starts_with("---------- forwarded message");
        if trimmed.starts_with('>') || attribution || header {
            break;
        }
        kept.push(line);
    }
    kept.join("\n").trim().to_owned()
}

/// What a reply adds ([`reply_text`]), or the whole text when nothing stands above a quote.
pub fn reply_text_or_all(body: &str) -> String {
    let reply = reply_text(body);
    kept_text(if reply.is_empty() { body } else { &reply })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attachment(file_name: &str, content_type: &str, content: &[u8]) -> MailAttachment {
        MailAttachment {
            file_name: file_name.into(),
            content_type: content_type.into(),
            content: content.to_vec(),
        }
    }

    #[test]
    fn a_personal_id_number_anywhere_a_person_wrote_is_found() {
        let clean = InboundMail {
            subject: "Udbetaling".into(),
            text: "Beløbet er forkert".into(),
            attachments: vec![attachment("skærm.png", "image/png", b"010190-1234")],
            ..Default::default()
        };
        assert!(
            !clean.holds_personal_id(),
            "an image's bytes are not read as text"
        );
        for mail in [
            InboundMail {
                subject: "Borger 010190-1234".into(),
                ..clean.clone()
            },
            InboundMail {
                text: "cpr 0101901234".into(),
                ..clean.clone()
            },
            InboundMail {
                attachments: vec![attachment("010190-1234.pdf", "application/pdf", b"x")],
                ..clean.clone()
            },
            InboundMail {
                attachments: vec![attachment("note.txt", "text/plain", b"borger 010190-1234")],
                ..clean.clone()
            },
        ] {
            assert!(mail.holds_personal_id(), "{mail:?}");
        }
    }

    #[test]
    fn a_case_takes_the_attachments_any_case_may_have_and_names_the_rest() {
        let mail = InboundMail {
            attachments: vec![
                attachment("skærm.png", "image/png", b"png"),
                attachment("makro.xlsm", "application/vnd.ms-excel", b"x"),
                attachment("tom.txt", "text/plain", b""),
            ],
            ..Default::default()
        };
        let (usable, left_out) = mail.usable_attachments();
        assert_eq!(usable.len(), 1);
        assert_eq!(usable[0].file_name, "skærm.png");
        assert_eq!(left_out.len(), 2);
        assert!(left_out[0].contains("makro.xlsm") && left_out[0].contains("attachment left out"));
    }

    #[test]
    fn a_subject_loses_its_reply_prefixes_and_keeps_its_words() {
        assert_eq!(
            title_from_subject("Udbetaling mangler"),
            "Udbetaling mangler"
        );
        assert_eq!(
            title_from_subject("SV: Re: VS:  [SAG-000012] Udbetaling mangler "),
            "[SAG-000012] Udbetaling mangler"
        );
        assert_eq!(title_from_subject("Fwd: AW: Frage: Beløb"), "Frage: Beløb");
        assert_eq!(
            title_from_subject("Spørgsmål: omregning"),
            "Spørgsmål: omregning"
        );
        assert_eq!(title_from_subject("  "), "(uden emne / no subject)");
        assert_eq!(title_from_subject("Re:"), "(uden emne / no subject)");
        assert_eq!(title_from_subject(&"ø".repeat(300)).chars().count(), 200);
    }

    #[test]
    fn a_long_text_is_cut_to_what_a_case_holds_and_says_so() {
        assert_eq!(kept_text(" kort \n"), "kort");
        let long = kept_text(&"æ".repeat(30_000));
        assert_eq!(long.chars().count(), 20_000);
        assert!(long.ends_with("afkortet / cut]"));
    }

    #[test]
    fn a_reply_keeps_its_new_words_above_the_quote() {
        let danish = "Tak, det virker nu.\n\nHilsen Mette\n\nDen 7. dec. 2026 kl. 10.02 skrev support@kommune.dk:\n> Vi har rettet fejlen.";
        assert_eq!(reply_text(danish), "Tak, det virker nu.\n\nHilsen Mette");
        let english =
            "Fixed on our side.\r\nOn Mon, 7 Dec 2026 at 10:02, desk@kommune.dk wrote:\r\n> old";
        assert_eq!(reply_text(english), "Fixed on our side.");
        let outlook = "Vi kigger på det.\n\n-----Original Message-----\nFrom: desk";
        assert_eq!(reply_text(outlook), "Vi kigger på det.");
        let quoted_only = "> nothing new";
        assert_eq!(reply_text(quoted_only), "");
        assert_eq!(reply_text("Ingen citat"), "Ingen citat");
        assert_eq!(reply_text_or_all(quoted_only), "> nothing new");
    }
}
