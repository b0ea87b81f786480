//! Contacts per implementation wave: how many cases each wave's municipalities filed, waves and their
//! municipalities from fewest to most. Plain data in, plain data out; the counts come from the
//! database and the waves from klik.

use std::collections::HashMap;

/// A wave as klik has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wave {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its go-live date, `YYYY-MM-DD`.
    pub go_live: String,
}

/// One wave's contacts.
#[derive(Debug, Clone, PartialEq)]
pub struct WaveContacts {
    /// The wave.
    pub wave: Wave,
    /// Cases filed by its municipalities.
    pub cases: u64,
    /// Cases per enrolled municipality (0 without any).
    pub per_municipality: f64,
    /// Its municipalities and their cases, fewest first (by id among equals).
    pub municipalities: Vec<(String, u64)>,
}

/// Each wave's contacts, from `enrolments` (municipality, wave) and the cases each municipality filed;
/// waves by cases per municipality, fewest first (by go-live, then name among equals). A municipality
/// enrolled in no listed wave is left out.
pub fn contacts_per_wave(
    waves: Vec<Wave>,
    enrolments: &[(String, String)],
    filed: &HashMap<String, u64>,
) -> Vec<WaveContacts> {
    let mut contacts: Vec<WaveContacts> = waves
        .into_iter()
        .map(|wave| {
            let mut municipalities: Vec<(String, u64)> = enrolments
                .iter()
                .filter(|(_, enrolled_in)| *enrolled_in == wave.id)
                .map(|(municipality, _)| {
                    (
                        municipality.clone(),
                        filed.get(municipality).copied().unwrap_or(0),
                    )
                })
                .collect();
            municipalities.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            let cases: u64 = municipalities.iter().map(|(_, n)| n).sum();
            let per_municipality = if municipalities.is_empty() {
                0.0
            } else {
                cases as f64 / municipalities.len() as f64
            };
            WaveContacts {
                wave,
                cases,
                per_municipality,
                municipalities,
            }
        })
        .collect();
    contacts.sort_by(|a, b| {
        a.per_municipality
            .total_cmp(&b.per_municipality)
            .then_with(|| a.wave.go_live.cmp(&b.wave.go_live))
            .then_with(|| a.wave.name.cmp(&b.wave.name))
    });
    contacts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wave(id: &str, go_live: &str) -> Wave {
        Wave {
            id: id.into(),
            name: format!("{id} wave"),
            go_live: go_live.into(),
        }
    }

    #[test]
    fn waves_and_their_municipalities_come_fewest_contacts_first() {
        let enrolments: Vec<(String, String)> = [
            ("aarhus", "first"),
            ("odense", "first"),
            ("aalborg", "second"),
            ("vejle", "second"),
            ("esbjerg", "second"),
        ]
        .into_iter()
        .map(|(m, w)| (m.to_owned(), w.to_owned()))
        .collect();
        let filed: HashMap<String, u64> =
            [("aarhus", 9), ("odense", 3), ("aalborg", 2), ("vejle", 2)]
                .into_iter()
                .map(|(m, n)| (m.to_owned(), n))
                .collect();
        let waves = vec![
            wave("first", "2025-03-01"),
            wave("second", "2025-09-01"),
            wave("third", "2026-03-01"),
        ];
        let contacts = contacts_per_wave(waves, &enrolments, &filed);
        let summary: Vec<(&str, u64, f64)> = contacts
            .iter()
            .map(|c| (c.wave.id.as_str(), c.cases, c.per_municipality))
            .collect();
        assert_eq!(
            summary,
            [
                ("third", 0, 0.0),
                ("second", 4, 4.0 / 3.0),
                ("first", 12, 6.0)
            ]
        );
        let second: Vec<(&str, u64)> = contacts[1]
            .municipalities
            .iter()
            .map(|(m, n)| (m.as_str(), *n))
            .collect();
        assert_eq!(second, [("esbjerg", 0), ("aalborg", 2), ("vejle", 2)]);
    }
}
