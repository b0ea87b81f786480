//! Outage detection from users' own reports: several people reporting the same cause on the same system
//! within a short window reveal an outage before anyone declares one. Plain functions, no I/O.
//!
//! "Same cause" is text similarity, not equality: two reports are alike when the character trigrams of
//! their normalised title and description overlap enough, which tolerates inflection ("logge", "logget"),
//! word order, extra detail and typos. The overlap is measured against the shorter text (overlap
//! coefficient), so a terse report and a detailed one about the same fault still match. The work per new report is proportional to the reports in its window.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Duration, Utc};

/// How similar two symptoms must be (overlap of character trigrams) to count as the same cause.
pub const SAME_CAUSE_SIMILARITY: f64 = 0.5;

/// A report's symptom: the set of character trigrams of its normalised words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symptom(BTreeSet<[char; 3]>);

impl Symptom {
    /// The symptom of a report's title and description. Case, punctuation and digits are ignored
    /// (error numbers and dates differ between reports of one outage); each word is padded so short
    /// words still yield trigrams.
    pub fn of(title: &str, description: &str) -> Self {
        let mut trigrams = BTreeSet::new();
        let text = format!("{title} {description}").to_lowercase();
        for word in text
            .split(|c: char| !c.is_alphabetic())
            .filter(|w| w.chars().count() >= 2)
        {
            let padded: Vec<char> = std::iter::once(' ')
                .chain(word.chars())
                .chain(std::iter::once(' '))
                .collect();
            for window in padded.windows(3) {
                trigrams.insert([window[0], window[1], window[2]]);
            }
        }
        Self(trigrams)
    }

    /// Similarity in [0, 1]: the share of the smaller symptom's trigrams found in the other; an empty
    /// symptom is like nothing.
    pub fn similarity(&self, other: &Symptom) -> f64 {
        let smaller = self.0.len().min(other.0.len());
        if smaller == 0 {
            return 0.0;
        }
        self.0.intersection(&other.0).count() as f64 / smaller as f64
    }

    /// Whether the two symptoms point at the same cause.
    pub fn same_cause(&self, other: &Symptom) -> bool {
        self.similarity(other) >= SAME_CAUSE_SIMILARITY
    }
}

/// A filed report as detection sees it.
#[derive(Debug, Clone)]
pub struct Report {
    /// The case.
    pub case_id: String,
    /// The affected system.
    pub system_id: String,
    /// Who reported it.
    pub reporter_user_id: String,
    /// For which municipality.
    pub municipality_id: String,
    /// When it was filed.
    pub filed_at: DateTime<Utc>,
    /// What it says.
    pub symptom: Symptom,
}

/// When reports add up to an outage: at least `reports` same-cause reports on one system within
/// `window`, from at least `distinct_reporters` different people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectionRule {
    /// K: how many reports.
    pub reports: usize,
    /// M: from how many different reporters.
    pub distinct_reporters: usize,
    /// W: within how long.
    pub window: Duration,
}

/// The reports among `recent` that share `new`'s cause: same system, filed within the rule's window
/// before it (and not after), similar symptom.
pub fn same_cause_reports<'a>(
    new: &Report,
    recent: &'a [Report],
    rule: &DetectionRule,
) -> Vec<&'a Report> {
    let since = new.filed_at - rule.window;
    recent
        .iter()
        .filter(|r| {
            r.case_id != new.case_id
                && r.system_id == new.system_id
                && since <= r.filed_at
                && r.filed_at <= new.filed_at
                && r.symptom.same_cause(&new.symptom)
        })
        .collect()
}

/// The cases of a suspected outage when `new`, with the recent reports that share its cause, meets the
/// rule; `None` otherwise. The new case comes first.
pub fn detect(new: &Report, recent: &[Report], rule: &DetectionRule) -> Option<Vec<String>> {
    let alike = same_cause_reports(new, recent, rule);
    let reporters: HashSet<&str> = alike
        .iter()
        .map(|r| r.reporter_user_id.as_str())
        .chain(std::iter::once(new.reporter_user_id.as_str()))
        .collect();
    let count = alike.len() + 1;
    (count >= rule.reports && reporters.len() >= rule.distinct_reporters).then(|| {
        std::iter::once(new.case_id.clone())
            .chain(alike.iter().map(|r| r.case_id.clone()))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default() + Duration::minutes(minute)
    }

    fn report(n: usize, minute: i64, text: &str) -> Report {
        Report {
            case_id: format!("case-{n}"),
            system_id: "ky".into(),
            reporter_user_id: format!("user-{n}"),
            municipality_id: format!("municipality-{}", n % 3),
            filed_at: at(minute),
            symptom: Symptom::of(text, ""),
        }
    }

    const RULE: DetectionRule = DetectionRule {
        reports: 5,
        distinct_reporters: 3,
        window: Duration::minutes(15),
    };

    const LOGIN_FAILS: [&str; 5] = [
        "Kan ikke logge ind i KY",
        "Vi kan ikke logge ind på KY",
        "KY: kan ikke logge ind siden kl. 9",
        "Login fejler, kan ikke logge på KY",
        "Kan ikke logge ind, fejlkode 503",
    ];

    #[test]
    fn wording_differs_but_the_cause_is_the_same() {
        let a = Symptom::of("Kan ikke logge ind i KY", "");
        let b = Symptom::of("Login fejler i KY", "Ingen af os kan logge ind siden 9.15");
        let other = Symptom::of("Forkert beløb på udbetaling", "efter omregning af ydelsen");
        let near = Symptom::of("Brevskabelon mangler logo", "");
        assert!(a.same_cause(&b), "{}", a.similarity(&b));
        assert!(!a.same_cause(&other), "{}", a.similarity(&other));
        assert!(!a.same_cause(&near), "{}", a.similarity(&near));
        assert!(!Symptom::of("", "").same_cause(&Symptom::of("", "")));
    }

    #[test]
    fn a_burst_of_same_cause_reports_is_an_outage() {
        let recent: Vec<Report> = LOGIN_FAILS[..4]
            .iter()
            .enumerate()
            .map(|(n, text)| report(n, n as i64 * 2, text))
            .collect();
        let new = report(4, 9, LOGIN_FAILS[4]);
        let cases = detect(&new, &recent, &RULE).unwrap_or_default();
        assert_eq!(cases.len(), 5, "{cases:?}");
        assert_eq!(cases[0], "case-4");
    }

    #[test]
    fn the_same_count_spread_over_days_is_not() {
        let recent: Vec<Report> = LOGIN_FAILS[..4]
            .iter()
            .enumerate()
            .map(|(n, text)| report(n, n as i64 * 24 * 60, text))
            .collect();
        let new = report(4, 4 * 24 * 60, LOGIN_FAILS[4]);
        assert_eq!(detect(&new, &recent, &RULE), None);
    }

    #[test]
    fn different_causes_or_one_reporter_are_not() {
        let causes = [
            "Forkert beløb på udbetaling",
            "Brevskabelon mangler logo",
            "Kan ikke logge ind i KY",
            "Rapporten over debitorer er tom",
        ];
        let recent: Vec<Report> = causes
            .iter()
            .enumerate()
            .map(|(n, text)| report(n, n as i64, text))
            .collect();
        assert_eq!(detect(&report(4, 5, LOGIN_FAILS[1]), &recent, &RULE), None);

        let one_person: Vec<Report> = LOGIN_FAILS[..4]
            .iter()
            .enumerate()
            .map(|(n, text)| Report {
                reporter_user_id: "user-0".into(),
                ..report(n, n as i64, text)
            })
            .collect();
        let new = Report {
            reporter_user_id: "user-0".into(),
            ..report(4, 5, LOGIN_FAILS[4])
        };
        assert_eq!(detect(&new, &one_person, &RULE), None);
    }

    #[test]
    fn other_systems_and_reports_outside_the_window_do_not_count() {
        let mut recent: Vec<Report> = LOGIN_FAILS[..4]
            .iter()
            .enumerate()
            .map(|(n, text)| report(n, n as i64, text))
            .collect();
        recent[0].system_id = "portal".into();
        recent[1].filed_at = at(-30);
        let new = report(4, 5, LOGIN_FAILS[4]);
        assert_eq!(same_cause_reports(&new, &recent, &RULE).len(), 2);
        assert_eq!(detect(&new, &recent, &RULE), None);
    }
}
