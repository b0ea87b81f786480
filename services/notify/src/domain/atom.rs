//! The Atom feed (RFC 4287) of operational messages.

use chrono::{DateTime, SecondsFormat, Utc};
use kommune_proto::notify::v1::Language;

use super::templates::{MessageTexts, escape};

/// One operational message as the feed shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The message's id.
    pub id: String,
    /// Its texts.
    pub texts: MessageTexts,
    /// The affected systems' names.
    pub systems: Vec<String>,
    /// Resolved.
    pub resolved: bool,
    /// First published.
    pub published: DateTime<Utc>,
    /// Last changed.
    pub updated: DateTime<Utc>,
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The feed document of `entries` (newest change first), generated at `now`.
pub fn feed(entries: &[Entry], language: Language, now: DateTime<Utc>) -> String {
    let english = language == Language::English;
    let title = if english {
        "kommune operational messages"
    } else {
        "kommune driftsbeskeder"
    };
    let updated = entries.iter().map(|e| e.updated).max().unwrap_or(now);
    let mut document = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"{}\">\n  <id>urn:kommune:operational-messages</id>\n  <title>{title}</title>\n  <updated>{}</updated>\n",
        if english { "en" } else { "da" },
        instant(updated)
    );
    for entry in entries {
        let (headline, text, workaround, resolution) = entry.texts.in_language(language);
        let mut summary = text.to_owned();
        if !workaround.is_empty() {
            summary.push_str(if english {
                "\nWorkaround: "
            } else {
                "\nMidlertidig løsning: "
            });
            summary.push_str(workaround);
        }
        if !resolution.is_empty() {
            summary.push('\n');
            summary.push_str(resolution);
        }
        let prefix = match (entry.resolved, english) {
            (true, true) => "Resolved: ",
            (true, false) => "Løst: ",
            _ => "",
        };
        document.push_str(&format!(
            "  <entry>\n    <id>urn:kommune:operational-message:{}</id>\n    <title>{}</title>\n    <published>{}</published>\n    <updated>{}</updated>\n    <author><name>kommune</name></author>\n    <content type=\"text\">{}</content>\n{}  </entry>\n",
            escape(&entry.id),
            escape(&format!("{prefix}{headline}")),
            instant(entry.published),
            instant(entry.updated),
            escape(&summary),
            entry
                .systems
                .iter()
                .map(|s| format!("    <category term=\"{}\"/>\n", escape(s)))
                .collect::<String>()
        ));
    }
    document.push_str("</feed>\n");
    document
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_is_atom_with_escaped_texts_and_the_language_asked_for() {
        let at = DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default();
        let entry = Entry {
            id: "0197".into(),
            texts: MessageTexts {
                title_da: "Fejl i KY & portal".into(),
                text_da: "Login <fejler>".into(),
                title_en: "Fault in KY".into(),
                text_en: "Login fails".into(),
                ..Default::default()
            },
            systems: vec!["KY".into()],
            resolved: true,
            published: at,
            updated: at,
        };
        let da = feed(std::slice::from_ref(&entry), Language::Danish, at);
        assert!(da.starts_with("<?xml"));
        assert!(da.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"da\">"));
        assert!(da.contains("<title>Løst: Fejl i KY &amp; portal</title>"));
        assert!(da.contains("<content type=\"text\">Login &lt;fejler&gt;</content>"));
        assert!(da.contains("<category term=\"KY\"/>"));
        assert!(da.contains("<updated>2025-06-15T15:06:40Z</updated>"));
        let en = feed(&[entry], Language::English, at);
        assert!(en.contains("<title>Resolved: Fault in KY</title>"));
        assert!(feed(&[], Language::Danish, at).contains("</feed>"));
    }
}
