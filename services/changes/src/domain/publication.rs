//! The published change-request list: its columns' formats and its search. No I/O here.

use chrono::{DateTime, Utc};

/// The published columns, in their order.
pub const COLUMNS: [&str; 10] = [
    "Changetheme",
    "Subtheme",
    "Case Id",
    "Title",
    "Description",
    "Workaround",
    "Status",
    "Municipality name",
    "Created",
    "Related cases",
];

/// The "Created" column: Copenhagen time written `04-06-2021 11:07`.
pub fn created_cell(created: DateTime<Utc>) -> String {
    created
        .with_timezone(&chrono_tz::Europe::Copenhagen)
        .format("%d-%m-%Y %H:%M")
        .to_string()
}

/// Reads a "Created" cell back: Copenhagen time written `04-06-2021 11:07`. In the hour that the
/// clocks turn back the earlier of the two moments is taken; a time the clocks skip is no time.
pub fn parse_created_cell(cell: &str) -> Option<DateTime<Utc>> {
    use chrono::TimeZone;
    let local = chrono::NaiveDateTime::parse_from_str(cell.trim(), "%d-%m-%Y %H:%M").ok()?;
    chrono_tz::Europe::Copenhagen
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.to_utc())
}

/// The "Status" column: `10 - New`.
pub fn status_cell(code: i32, name: &str) -> String {
    format!("{code} - {name}")
}

/// The "Related cases" column: the related cases as given, comma-separated.
pub fn related_cell(related: &[String]) -> String {
    related.join(", ")
}

/// What search looks in: title and description, lowercased (so search is case-insensitive on SQLite
/// and PostgreSQL alike, Danish letters included).
pub fn search_text(title: &str, description: &str) -> String {
    format!("{title}\n{description}").to_lowercase()
}

/// The words of a search, lowercased; each must occur in a row's search text. Characters that are
/// wildcards in SQL `LIKE` are dropped, so a word matches only itself.
pub fn search_terms(query: &str) -> Vec<String> {
    query
        .split_whitespace()
        .map(|word| {
            word.chars()
                .filter(|c| !matches!(c, '%' | '_' | '\\'))
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|word| !word.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_written_as_published() {
        let created = DateTime::parse_from_rfc3339("2021-06-04T09:07:00Z")
            .unwrap_or_default()
            .to_utc();
        assert_eq!(
            created_cell(created),
            "04-06-2021 11:07",
            "Copenhagen summer time"
        );
        let winter = DateTime::parse_from_rfc3339("2021-12-04T09:07:00Z")
            .unwrap_or_default()
            .to_utc();
        assert_eq!(created_cell(winter), "04-12-2021 10:07");
        assert_eq!(parse_created_cell(" 04-06-2021 11:07 "), Some(created));
        assert_eq!(parse_created_cell("04-12-2021 10:07"), Some(winter));
        assert_eq!(
            parse_created_cell("28-03-2021 02:30"),
            None,
            "skipped by summer time"
        );
        assert_eq!(parse_created_cell("2021-06-04 11:07"), None);
        assert_eq!(status_cell(10, "New"), "10 - New");
        assert_eq!(
            related_cell(&[
                "72149:#KOMBITKY-72149".into(),
                "72150:#KOMBITKY-72150".into()
            ]),
            "72149:#KOMBITKY-72149, 72150:#KOMBITKY-72150"
        );
    }

    #[test]
    fn search_is_by_lowercased_words_without_wildcards() {
        assert_eq!(
            search_terms("  Omregning  AFSLAG_%x "),
            ["omregning", "afslagx"]
        );
        assert!(search_terms(" %_ ").is_empty());
        assert_eq!(search_text("Ydelse ÆØÅ", "Beløb"), "ydelse æøå\nbeløb");
    }
}
