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

/// Where a feed links: each entry to its page, the feed to itself (each absent when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    /// Prefix of an entry's page; the message id follows.
    pub entry_prefix: String,
    /// The feed's own URL.
    pub feed: String,
}

/// Whether `url` may be a feed's link: an absolute http or https URL.
pub fn is_link(url: &str) -> bool {
    url.parse::<http::Uri>()
        .is_ok_and(|uri| matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some())
}

/// The feed document of `entries` (newest change first), generated at `now`, linking as `links` say.
pub fn feed(entries: &[Entry], language: Language, now: DateTime<Utc>, links: &Links) -> String {
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
    if !links.feed.is_empty() {
        document.push_str(&format!(
            "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n",
            escape(&links.feed)
        ));
    }
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
        let link = if links.entry_prefix.is_empty() {
            String::new()
        } else {
            format!(
                "    <link rel=\"alternate\" type=\"text/html\" href=\"{}{}\"/>\n",
                escape(&links.entry_prefix),
                escape(&entry.id)
            )
        };
        document.push_str(&format!(
            "  <entry>\n    <id>urn:kommune:operational-message:{}</id>\n    <title>{}</title>\n{link}    <published>{}</published>\n    <updated>{}</updated>\n    <author><name>kommune</name></author>\n    <content type=\"text\">{}</content>\n{}  </entry>\n",
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
        let da = feed(
            std::slice::from_ref(&entry),
            Language::Danish,
            at,
            &Links::default(),
        );
        assert!(da.starts_with("<?xml"));
        assert!(da.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"da\">"));
        assert!(da.contains("<title>Løst: Fejl i KY &amp; portal</title>"));
        assert!(da.contains("<content type=\"text\">Login &lt;fejler&gt;</content>"));
        assert!(da.contains("<category term=\"KY\"/>"));
        assert!(da.contains("<updated>2025-06-15T15:06:40Z</updated>"));
        assert!(!da.contains("<link"), "no links unless asked for");
        let links = Links {
            entry_prefix: "https://drift.example.dk/en/driftsbeskeder/".into(),
            feed: "https://drift.example.dk/feed.atom?a=1&b=2".into(),
        };
        let en = feed(&[entry], Language::English, at, &links);
        assert!(en.contains("<title>Resolved: Fault in KY</title>"));
        assert!(en.contains(r#"<link rel="alternate" type="text/html" href="https://drift.example.dk/en/driftsbeskeder/0197"/>"#));
        assert!(en.contains(r#"<link rel="self" type="application/atom+xml" href="https://drift.example.dk/feed.atom?a=1&amp;b=2"/>"#));
        assert!(feed(&[], Language::Danish, at, &Links::default()).contains("</feed>"));
    }

    #[test]
    fn links_are_absolute_http_urls() {
        assert!(is_link("https://drift.example.dk/driftsbeskeder/"));
        assert!(is_link("http://127.0.0.1:8080/feed.atom"));
        for bad in [
            "",
            "/driftsbeskeder/",
            "javascript:alert(1)",
            "ftp://x/",
            "https://",
        ] {
            assert!(!is_link(bad), "{bad}");
        }
    }
}
