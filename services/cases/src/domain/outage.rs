//! Outage detection from users' own reports: several people reporting the same cause on the same system
//! within a short window reveal an outage before anyone declares one. Plain functions, no I/O.
//!
//! "Same cause" is text similarity, not equality: two reports are alike when the character trigrams of
//! their normalised title and description overlap enough, which tolerates inflection ("logge", "logget"),
//! word order, extra detail and typos. The overlap is measured against the shorter text (overlap
//! coefficient), so a terse report and a detailed one about the same fault still match. The work per new
//! report is proportional to the trigrams it shares with the reports in its window (an index from
//! trigram to report), not to the window's size.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
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

    /// Whether the two symptoms point at the same cause: at least [`SAME_CAUSE_SIMILARITY`] of the
    /// shorter one's trigrams found in the other, and at least [`MIN_SHARED_TRIGRAMS`] of them.
    ///
    /// One merge of the two sorted lists that stops as soon as the answer is known: most reports of a
    /// window are unrelated and are told apart in about half a pass.
    pub fn same_cause(&self, other: &Symptom) -> bool {
        let (a, b) = (&self.0, &other.0);
        let smaller = a.len().min(b.len());
        let needed =
            MIN_SHARED_TRIGRAMS.max((SAME_CAUSE_SIMILARITY * smaller as f64).ceil() as usize);
        let (mut i, mut j, mut shared) = (0, 0, 0);
        while shared < needed {
            if shared + (a.len() - i).min(b.len() - j) < needed {
                return false;
            }
            match a[i].cmp(&b[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    shared += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        true
    }

    /// The share of the smaller symptom's trigrams found in the other: how alike two texts are, to rank
    /// those that [`Symptom::same_cause`] finds alike.
    pub fn similarity(&self, other: &Symptom) -> f64 {
        let shared = self
            .0
            .iter()
            .filter(|t| other.0.binary_search(t).is_ok())
            .count();
        shared as f64 / self.0.len().min(other.0.len()).max(1) as f64
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
    recent
        .iter()
        .filter(|r| shares_cause(new, r, rule))
        .collect()
}

/// Whether `earlier` shares `new`'s cause: same system, filed within the rule's window before it (and
/// not after), similar symptom.
fn shares_cause(new: &Report, earlier: &Report, rule: &DetectionRule) -> bool {
    earlier.case_id != new.case_id
        && earlier.system_id == new.system_id
        && new.filed_at - rule.window <= earlier.filed_at
        && earlier.filed_at <= new.filed_at
        && earlier.symptom.same_cause(&new.symptom)
}

/// One system's reports of the recent past as a replica keeps them between filings, so that a filing
/// compares its symptom with the window in memory and reads from the database only the reports filed
/// since the last look. What a report says never changes, so it is kept; what it is linked to does,
/// so [`RecentReports::same_cause`] hands out reports whose links the caller reads afresh.
///
/// Reports are known "through" a case number: filings take numbers in the order they commit, so the
/// reports numbered above it are exactly the ones not seen yet, whichever replica filed them.
#[derive(Debug, Default)]
pub struct RecentReports {
    /// Oldest first.
    reports: VecDeque<Report>,
    /// The position of the oldest kept report among every report ever kept (positions only grow).
    first: u64,
    /// For each trigram, the positions of the kept reports whose symptom holds it, oldest first: a
    /// filing counts shared trigrams with the reports that hold any of its own, so an unrelated report
    /// costs nothing however full the window.
    postings: HashMap<u64, VecDeque<u64>>,
    /// Every report numbered up to this one is known.
    through: i64,
    /// Reports filed before this are not kept; `None` until the first look.
    since: Option<DateTime<Utc>>,
}

impl RecentReports {
    /// At most this many reports are kept per system: a window holding more is one outage's flood,
    /// whose incident its newest reports lead to, and memory stays bounded whatever the flood.
    pub const CAPACITY: usize = 20_000;

    /// The case number after which reports must be read to know the window from `since` on; `None`
    /// when the whole window must be read (first look, or a window reaching further back than kept).
    pub fn known_through(&self, since: DateTime<Utc>) -> Option<i64> {
        self.since
            .filter(|kept| *kept <= since)
            .map(|_| self.through)
    }

    /// Adds the reports read after `after` ([`Self::known_through`]; `None`: the whole window, which
    /// replaces what was kept) up to case number `through`, oldest first, and forgets those filed
    /// before `since`.
    pub fn update(
        &mut self,
        since: DateTime<Utc>,
        after: Option<i64>,
        through: i64,
        read: impl IntoIterator<Item = Report>,
    ) {
        if after.is_none() {
            self.first += self.reports.len() as u64;
            self.reports.clear();
            self.postings.clear();
        }
        for report in read {
            let position = self.first + self.reports.len() as u64;
            for trigram in &report.symptom.0 {
                self.postings
                    .entry(*trigram)
                    .or_default()
                    .push_back(position);
            }
            self.reports.push_back(report);
        }
        self.through = self.through.max(through);
        while self
            .reports
            .front()
            .is_some_and(|oldest| oldest.filed_at < since)
            || self.reports.len() > Self::CAPACITY
        {
            self.forget_oldest();
        }
        self.since = Some(since);
    }

    /// Drops the oldest report, which is first in each of its trigrams' postings.
    fn forget_oldest(&mut self) {
        let Some(oldest) = self.reports.pop_front() else {
            return;
        };
        for trigram in &oldest.symptom.0 {
            if let Entry::Occupied(mut positions) = self.postings.entry(*trigram) {
                positions.get_mut().pop_front();
                if positions.get().is_empty() {
                    positions.remove();
                }
            }
        }
        self.first += 1;
    }

    /// The newest `at_most` kept reports that share `new`'s cause, newest first.
    ///
    /// Looked for among the newest few reports first, then among twice as many, and so on: in an
    /// outage's flood the newest reports already hold enough, and an unrelated report shares few
    /// trigrams with any, so neither pays for the whole window.
    pub fn same_cause(&self, new: &Report, rule: &DetectionRule, at_most: usize) -> Vec<Report> {
        let kept = self.reports.len();
        let mut newest = at_most.saturating_mul(4).clamp(1, kept.max(1));
        loop {
            let found = self.same_cause_among(newest, new, rule, at_most);
            if found.len() >= at_most || newest >= kept {
                return found;
            }
            newest = newest.saturating_mul(2).min(kept);
        }
    }

    /// [`Self::same_cause`] among the `newest` kept reports. Only reports with at least
    /// [`MIN_SHARED_TRIGRAMS`] trigrams in common, counted from the postings, are compared.
    fn same_cause_among(
        &self,
        newest: usize,
        new: &Report,
        rule: &DetectionRule,
        at_most: usize,
    ) -> Vec<Report> {
        let skipped = self.reports.len().saturating_sub(newest);
        let lowest = self.first + skipped as u64;
        let mut shared = vec![0u32; self.reports.len() - skipped];
        for trigram in &new.symptom.0 {
            if let Some(positions) = self.postings.get(trigram) {
                let from = positions.partition_point(|p| *p < lowest);
                for position in positions.range(from..) {
                    shared[(position - lowest) as usize] += 1;
                }
            }
        }
        shared
            .iter()
            .zip(self.reports.range(skipped..))
            .rev()
            .filter(|(count, _)| **count as usize >= MIN_SHARED_TRIGRAMS)
            .map(|(_, report)| report)
            .filter(|r| shares_cause(new, r, rule))
            .take(at_most)
            .cloned()
            .collect()
    }

    /// How many reports are kept.
    pub fn len(&self) -> usize {
        self.reports.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.reports.is_empty()
    }
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

    #[test]
    fn recent_reports_are_read_once_and_forgotten_when_out_of_the_window() {
        let mut window = RecentReports::default();
        let since = at(0);
        assert_eq!(
            window.known_through(since),
            None,
            "the first look reads all"
        );
        window.update(
            since,
            None,
            3,
            (1..=3).map(|n| report(n, n as i64, LOGIN_FAILS[n])),
        );
        assert_eq!(window.known_through(since), Some(3));
        assert_eq!(
            window.known_through(at(-1)),
            None,
            "a longer window reads all"
        );
        window.update(at(2), Some(3), 5, [report(5, 4, LOGIN_FAILS[4])]);
        assert_eq!(
            window.len(),
            3,
            "the report of minute 1 is out of the window"
        );
        assert_eq!(window.known_through(at(2)), Some(5));

        let new = report(9, 5, LOGIN_FAILS[0]);
        let alike: Vec<String> = window
            .same_cause(&new, &RULE, 2)
            .into_iter()
            .map(|r| r.case_id)
            .collect();
        assert_eq!(alike, ["case-5", "case-3"], "the newest first, at most two");
        let unrelated = report(10, 5, "Forkert beløb på udbetaling");
        assert!(window.same_cause(&unrelated, &RULE, 10).is_empty());

        window.update(at(2), None, 6, [report(6, 5, LOGIN_FAILS[1])]);
        assert_eq!(
            window.len(),
            1,
            "reading the whole window replaces what was kept"
        );
    }

    #[test]
    fn the_trigram_index_finds_what_comparing_every_report_finds() {
        let texts = [
            LOGIN_FAILS[0],
            "Forkert beløb på udbetaling",
            LOGIN_FAILS[3],
            "Udbetalingen har forkert beløb",
            "Printeren udskriver ikke",
            LOGIN_FAILS[1],
            "Kan ikke udskrive breve",
        ];
        let reports: Vec<Report> = (0..60)
            .map(|n| report(n, n as i64 / 4, texts[n % texts.len()]))
            .collect();
        let mut window = RecentReports::default();
        // Filed in batches, with the oldest leaving the window as time goes on.
        for (batch, chunk) in reports.chunks(7).enumerate() {
            let since = at(batch as i64 * 2 - 5);
            window.update(since, Some(0), 0, chunk.iter().cloned());
            let filed = (batch * 7 + chunk.len()).min(reports.len());
            let kept: Vec<&Report> = reports[..filed]
                .iter()
                .filter(|r| r.filed_at >= since)
                .collect();
            assert_eq!(window.len(), kept.len());
            for text in texts {
                let new = report(1_000, batch as i64 * 2, text);
                let found: Vec<String> = window
                    .same_cause(&new, &RULE, usize::MAX)
                    .into_iter()
                    .map(|r| r.case_id)
                    .collect();
                let compared: Vec<String> = kept
                    .iter()
                    .rev()
                    .filter(|r| shares_cause(&new, r, &RULE))
                    .map(|r| r.case_id.clone())
                    .collect();
                assert_eq!(found, compared, "{text:?} in batch {batch}");
                // Looked for among the newest first, widening until two are found.
                let newest_two: Vec<String> = window
                    .same_cause(&new, &RULE, 2)
                    .into_iter()
                    .map(|r| r.case_id)
                    .collect();
                assert_eq!(newest_two, compared[..compared.len().min(2)]);
            }
        }
        window.update(at(100), None, 0, []);
        assert!(window.is_empty() && window.postings.is_empty());
    }

    #[test]
    fn recent_reports_keep_at_most_their_capacity() {
        let mut window = RecentReports::default();
        let flood = (0..RecentReports::CAPACITY + 10).map(|n| report(n, 1, LOGIN_FAILS[0]));
        window.update(at(0), None, 1, flood);
        assert_eq!(window.len(), RecentReports::CAPACITY);
        let newest = window.same_cause(&report(usize::MAX, 2, LOGIN_FAILS[0]), &RULE, 1);
        assert_eq!(
            newest[0].case_id,
            format!("case-{}", RecentReports::CAPACITY + 9)
        );
    }
}
