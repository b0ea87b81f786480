//! Mail that comes in to the desk's mailbox: what of it becomes a case's title and text, and what a
//! reply adds to a thread (its new words, not the quoted history).

/// The longest title a mail gives a case (as a filed case's title).
const TITLE_MAX: usize = 200;

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

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
