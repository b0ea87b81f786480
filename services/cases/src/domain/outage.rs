//! Outage detection from users' own reports: several people reporting the same cause on the same system
//! within a short window reveal an outage before anyone declares one. Plain functions, no I/O.
//!
//! "Same cause" is text similarity, not equality: two reports are alike when the character trigrams of
//! their normalised title and description overlap enough, which tolerates inflection ("logge", "logget"),
//! word order, extra detail and typos. The overlap is measured against the shorter text (overlap
//! coefficient), so a terse report and a detailed one about the same fault still match. The work per new
//! report is proportional to the reports in its window.

use std::collections::HashSet;
use std::sync::LazyLock;

use chrono::{DateTime, Duration, Utc};

/// How similar two symptoms must be (overlap of character trigrams) to count as the same cause.
pub const SAME_CAUSE_SIMILARITY: f64 = 0.5;

/// Fewer trigrams in common than this is chance however short the texts: a padded word yields as many
/// trigrams as it has letters, so one shared word of four letters or fewer ("fejl", "nede") is not
/// enough, while "login" is.
pub const MIN_SHARED_TRIGRAMS: usize = 5;

/// Words that say nothing about a cause: the function words of Danish, Swedish and English and the
/// courtesies of a support mail. Without them "Kan ikke udskrive" would look like "Kan ikke logge ind".
const FILLER_WORDS: &[&str] = &[
    // Danish
    "af", "alle", "alt", "andre", "at", "bare", "blev", "blive", "bliver", "da", "de", "dem", "den",
    "denne", "der", "det", "dette", "dig", "du", "efter", "eller", "en", "er", "et", "fik", "for",
    "fordi", "fra", "få", "får", "gør", "går", "han", "har", "havde", "hej", "hele", "her",
    "hilsen", "hos", "hun", "hvad", "hver", "hvis", "hvor", "ikke", "ingen", "jeg", "kan", "kl",
    "kun", "kunne", "lige", "man", "med", "meget", "men", "mere", "mig", "min", "mine", "mit",
    "mvh", "må", "nogen", "noget", "nu", "når", "og", "også", "om", "os", "over", "på", "sig",
    "siden", "skal", "skulle", "som", "så", "tak", "til", "under", "var", "ved", "venlig",
    "venlige", "vi", "vil", "ville", "vores", "være", "været", // Swedish
    "alla", "att", "av", "ett", "från", "för", "inte", "jag", "och", "oss", "sedan", "vår", "våra",
    "är", // English
    "all", "an", "and", "any", "are", "as", "be", "can", "cannot", "does", "from", "has", "have",
    "in", "is", "it", "no", "not", "of", "on", "or", "our", "since", "the", "to", "us", "we",
    "with",
];

/// A report's symptom: the set of character trigrams of its normalised words, each packed into a
/// `u64` (three 21-bit chars) and kept sorted, so comparing two symptoms is one merge walk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Symptom(Vec<u64>);

impl Symptom {
    /// The symptom of a report about the system named `system_name`, from its title and description.
    /// Case, punctuation and digits are ignored (error numbers and dates differ between reports of one
    /// outage), so are filler words and the system's own name (every report about it names it); each
    /// word is padded so short words still yield trigrams.
    pub fn of(system_name: &str, title: &str, description: &str) -> Self {
        static FILLER: LazyLock<HashSet<&str>> =
            LazyLock::new(|| FILLER_WORDS.iter().copied().collect());
        let words = |text: &str| -> Vec<String> {
            text.split(|c: char| !c.is_alphabetic())
                .filter(|w| w.chars().nth(1).is_some())
                .map(str::to_lowercase)
                .collect()
        };
        let ignored = words(system_name);
        let mut trigrams = Vec::with_capacity(title.len() + description.len());
        let mut padded = Vec::new();
        for word in [title, description]
            .into_iter()
            .flat_map(words)
            .filter(|w| !FILLER.contains(w.as_str()) && !ignored.contains(w))
        {
            padded.clear();
            padded.push(' ');
            padded.extend(word.chars());
            padded.push(' ');
            trigrams.extend(
                padded
                    .windows(3)
                    .map(|w| (u64::from(w[0]) << 42) | (u64::from(w[1]) << 21) | u64::from(w[2])),
            );
        }
        trigrams.sort_unstable();
        trigrams.dedup();
        Self(trigrams)
    }

    /// The symptom as kept with its case: each trigram as 8 little-endian bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|t| t.to_le_bytes()).collect()
    }

    /// A symptom as kept; `None` when the bytes are not whole trigrams.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let chunks = bytes.chunks_exact(8);
        if !chunks.remainder().is_empty() {
            return None;
        }
        Some(Self(
            chunks
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect(),
        ))
    }

    /// How many trigrams the two symptoms have in common.
    fn shared(&self, other: &Symptom) -> usize {
        let (mut a, mut b, mut shared) = (self.0.iter().peekable(), other.0.iter().peekable(), 0);
        while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
            match x.cmp(y) {
                std::cmp::Ordering::Less => _ = a.next(),
                std::cmp::Ordering::Greater => _ = b.next(),
                std::cmp::Ordering::Equal => {
                    shared += 1;
                    a.next();
                    b.next();
                }
            }
        }
        shared
    }

    /// Similarity in [0, 1]: the share of the smaller symptom's trigrams found in the other; an empty
    /// symptom is like nothing.
    pub fn similarity(&self, other: &Symptom) -> f64 {
        match self.0.len().min(other.0.len()) {
            0 => 0.0,
            smaller => self.shared(other) as f64 / smaller as f64,
        }
    }

    /// Whether the two symptoms point at the same cause: enough of the shorter one found in the other,
    /// and at least [`MIN_SHARED_TRIGRAMS`] of them.
    pub fn same_cause(&self, other: &Symptom) -> bool {
        self.similarity(other) >= SAME_CAUSE_SIMILARITY && self.shared(other) >= MIN_SHARED_TRIGRAMS
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
    /// The open incident it is linked to, if any.
    pub incident_id: Option<String>,
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

/// The cases of a suspected outage when `new`, with the recent reports that share its cause and are not
/// linked to an incident yet, meets the rule; `None` otherwise, and always when the rule asks for no
/// reports (detection off). The new case comes first.
pub fn detect(new: &Report, recent: &[Report], rule: &DetectionRule) -> Option<Vec<String>> {
    outbreak(new, &same_cause_reports(new, recent, rule), rule)
}

/// [`detect`] over the same-cause reports already found.
fn outbreak(new: &Report, alike: &[&Report], rule: &DetectionRule) -> Option<Vec<String>> {
    if rule.reports == 0 {
        return None;
    }
    let unlinked: Vec<&Report> = alike
        .iter()
        .copied()
        .filter(|r| r.incident_id.is_none())
        .collect();
    let reporters: HashSet<&str> = unlinked
        .iter()
        .map(|r| r.reporter_user_id.as_str())
        .chain(std::iter::once(new.reporter_user_id.as_str()))
        .collect();
    let count = unlinked.len() + 1;
    (count >= rule.reports && reporters.len() >= rule.distinct_reporters).then(|| {
        std::iter::once(new.case_id.clone())
            .chain(unlinked.iter().map(|r| r.case_id.clone()))
            .collect()
    })
}

/// An open incident as classification sees it.
#[derive(Debug, Clone)]
pub struct OpenIncident {
    /// The incident.
    pub id: String,
    /// Its affected systems.
    pub system_ids: Vec<String>,
    /// The symptom it was opened for.
    pub symptom: Symptom,
}

/// What a new report leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification {
    /// It shares the cause of this open incident: link it.
    Join(String),
    /// With these cases (the new one first) it reveals an outage: propose an incident linking them.
    Propose(Vec<String>),
    /// An acute filing that matches nothing open: open an incident for it.
    OpenForAcute,
    /// Nothing to link.
    Alone,
}

/// Classifies a new report: first against the open incidents, through the recent same-cause reports
/// already linked to one (the incident most of them share) or the incident's own symptom; then against
/// the unlinked recent reports by the detection rule; an acute filing that matches nothing opens an
/// incident of its own. `recent` holds the system's reports of the window (linked to open incidents or
/// to none), `open` the open incidents.
pub fn classify(
    new: &Report,
    acute: bool,
    open: &[OpenIncident],
    recent: &[Report],
    rule: &DetectionRule,
) -> Classification {
    let alike = same_cause_reports(new, recent, rule);
    let mut votes: Vec<(&str, usize)> = Vec::new();
    for incident in alike.iter().filter_map(|r| r.incident_id.as_deref()) {
        match votes.iter_mut().find(|(id, _)| *id == incident) {
            Some((_, count)) => *count += 1,
            None => votes.push((incident, 1)),
        }
    }
    if let Some((incident, _)) = votes.iter().max_by_key(|(_, count)| *count) {
        return Classification::Join((*incident).to_owned());
    }
    if let Some(incident) = open
        .iter()
        .find(|i| i.system_ids.contains(&new.system_id) && i.symptom.same_cause(&new.symptom))
    {
        return Classification::Join(incident.id.clone());
    }
    match outbreak(new, &alike, rule) {
        Some(cases) => Classification::Propose(cases),
        None if acute => Classification::OpenForAcute,
        None => Classification::Alone,
    }
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
            symptom: Symptom::of("KY", text, ""),
            incident_id: None,
        }
    }

    #[test]
    fn a_symptom_is_kept_and_read_back_whole() {
        let symptom = Symptom::of(
            "KY",
            "Kan ikke logge ind i Kommunernes Ydelsessystem",
            "Fejl 500",
        );
        assert_eq!(Symptom::from_bytes(&symptom.to_bytes()), Some(symptom));
        assert_eq!(Symptom::from_bytes(&[1, 2, 3]), None);
        assert_eq!(Symptom::from_bytes(&[]), Some(Symptom::default()));
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
        let a = Symptom::of("KY", "Kan ikke logge ind i KY", "");
        let b = Symptom::of(
            "KY",
            "Login fejler i KY",
            "Ingen af os kan logge ind siden 9.15",
        );
        let other = Symptom::of(
            "KY",
            "Forkert beløb på udbetaling",
            "efter omregning af ydelsen",
        );
        let near = Symptom::of("KY", "Brevskabelon mangler logo", "");
        assert!(a.same_cause(&b), "{}", a.similarity(&b));
        assert!(!a.same_cause(&other), "{}", a.similarity(&other));
        assert!(!a.same_cause(&near), "{}", a.similarity(&near));
        assert!(!Symptom::of("KY", "", "").same_cause(&Symptom::of("KY", "", "")));
    }

    #[test]
    fn filler_words_and_the_systems_name_do_not_make_a_cause() {
        let login = Symptom::of("KY", "Kan ikke logge ind i KY", "Login-siden svarer ikke");
        let printing = Symptom::of("KY", "Kan ikke udskrive i KY", "Printeren svarer ikke");
        let vague = Symptom::of("KY", "Fejl i KY", "");
        let terse = Symptom::of("KY", "Login fejl", "");
        let detailed = Symptom::of("KY", "Login fejler i KY", "Vi kan ikke logge ind");
        assert!(
            !login.same_cause(&printing),
            "{}",
            login.similarity(&printing)
        );
        assert!(
            !vague.same_cause(&detailed),
            "{}",
            vague.similarity(&detailed)
        );
        assert!(
            terse.same_cause(&detailed),
            "{}",
            terse.similarity(&detailed)
        );
        assert_eq!(
            Symptom::of("KY", "KY", "Kan ikke, vi kan ikke"),
            Symptom::of("KY", "", "")
        );
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

    #[test]
    fn a_report_joins_the_incident_its_alike_reports_are_linked_to() {
        let mut recent: Vec<Report> = (0..3)
            .map(|n| report(n, n as i64, LOGIN_FAILS[n]))
            .collect();
        recent[0].incident_id = Some("incident-a".into());
        recent[1].incident_id = Some("incident-b".into());
        recent[2].incident_id = Some("incident-b".into());
        let new = report(3, 4, LOGIN_FAILS[3]);
        assert_eq!(
            classify(&new, false, &[], &recent, &RULE),
            Classification::Join("incident-b".into())
        );
    }

    #[test]
    fn a_report_joins_an_open_incident_of_its_system_by_symptom_after_the_window() {
        let open = [OpenIncident {
            id: "incident-a".into(),
            system_ids: vec!["portal".into(), "ky".into()],
            symptom: Symptom::of("KY", "KY login fejler", "Ingen kan logge ind"),
        }];
        let new = report(1, 600, LOGIN_FAILS[0]);
        assert_eq!(
            classify(&new, false, &open, &[], &RULE),
            Classification::Join("incident-a".into())
        );
        let elsewhere = Report {
            system_id: "other".into(),
            ..new.clone()
        };
        assert_eq!(
            classify(&elsewhere, false, &open, &[], &RULE),
            Classification::Alone
        );
        let unrelated = report(2, 600, "Forkert beløb på udbetaling");
        assert_eq!(
            classify(&unrelated, true, &open, &[], &RULE),
            Classification::OpenForAcute
        );
    }

    #[test]
    fn enough_unlinked_alike_reports_propose_an_incident_and_detection_can_be_off() {
        let recent: Vec<Report> = (0..4)
            .map(|n| report(n, n as i64, LOGIN_FAILS[n]))
            .collect();
        let new = report(4, 5, LOGIN_FAILS[4]);
        match classify(&new, false, &[], &recent, &RULE) {
            Classification::Propose(cases) => assert_eq!(cases.len(), 5),
            other => panic!("{other:?}"),
        }
        let off = DetectionRule { reports: 0, ..RULE };
        assert_eq!(
            classify(&new, false, &[], &recent, &off),
            Classification::Alone
        );
    }
}
