//! The 42-week release timeline of change requests ("ændringsønsker").
//!
//! The consortium plans each release of the shared system by counting ISO weeks back from the
//! release (week 0):
//!
//! | weeks before | phase | activity |
//! | --- | --- | --- |
//! | 42–35 | [`Phase::Selection`] | change requests selected, material prepared |
//! | 34–31 | [`Phase::NeedsAnalysis`] | analysis, writing the needs description |
//! | 30–29 | [`Phase::NeedsReview`] | needs description in review |
//! | 28 | [`Phase::RequirementsSpecification`] | requirements specification to the supplier |
//! | 27 | [`Phase::SolutionDescription`] | solution description, reviewed |
//! | 26–21 | [`Phase::SupplierAnalysis`] | analysis at the supplier |
//! | 20–15 | [`Phase::Design`] | design |
//! | 14–9 | [`Phase::Build`] | build; test preparation |
//! | 8–3 | [`Phase::TestExecution`] | test execution; bug fixing |
//! | 2–1 | [`Phase::AcceptanceTest`] | acceptance test ("overtagelsesprøve") |
//! | 0 | [`Phase::Release`] | release |
//!
//! # Definitions
//!
//! - **Week 0** is the ISO week (Monday–Sunday) that contains the release date. A release on any
//!   weekday of the same ISO week therefore gives the same timeline (only the release date
//!   differs).
//! - **N weeks before release** is the ISO week whose Monday lies exactly `7 · N` days before week
//!   0's Monday.
//! - A **phase** spans from the Monday of its earliest week (the largest N) to the Sunday of its
//!   latest week (the smallest N), both days included.
//!
//! Weeks are counted in days, never as week numbers modulo 52, so years with 53 ISO weeks (such as
//! 2020 and 2026) and timelines that cross New Year come out right by construction. The phases
//! cover the 43 weeks from week 42 to week 0 without gaps or overlaps: each phase starts the day
//! after the previous one ends.

use chrono::{Datelike, Days, IsoWeek, NaiveDate};

/// Days in a week, as chrono's day count.
const DAYS_PER_WEEK: u64 = 7;

/// A phase of the release timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Weeks 42–35 before release: change requests are selected and material prepared.
    Selection,
    /// Weeks 34–31: analysis and writing of the needs description.
    NeedsAnalysis,
    /// Weeks 30–29: the needs description is in review.
    NeedsReview,
    /// Week 28: the requirements specification goes to the supplier.
    RequirementsSpecification,
    /// Week 27: the supplier writes the solution description and the consortium reviews it.
    SolutionDescription,
    /// Weeks 26–21: analysis at the supplier.
    SupplierAnalysis,
    /// Weeks 20–15: design.
    Design,
    /// Weeks 14–9: build of the solution and test preparation.
    Build,
    /// Weeks 8–3: test execution and bug fixing.
    TestExecution,
    /// Weeks 2–1: the acceptance test ("overtagelsesprøve").
    AcceptanceTest,
    /// Week 0: the release itself.
    Release,
}

impl Phase {
    /// Every phase in timeline order (earliest first).
    pub const ALL: [Phase; 11] = [
        Phase::Selection,
        Phase::NeedsAnalysis,
        Phase::NeedsReview,
        Phase::RequirementsSpecification,
        Phase::SolutionDescription,
        Phase::SupplierAnalysis,
        Phase::Design,
        Phase::Build,
        Phase::TestExecution,
        Phase::AcceptanceTest,
        Phase::Release,
    ];

    /// The weeks before release it spans, as (earliest, latest) counts, e.g. Selection = (42, 35).
    ///
    /// The earliest count is the larger number; for a one-week phase both are equal (e.g.
    /// [`Phase::Release`] = (0, 0)).
    pub fn weeks_before(self) -> (u32, u32) {
        match self {
            Phase::Selection => (42, 35),
            Phase::NeedsAnalysis => (34, 31),
            Phase::NeedsReview => (30, 29),
            Phase::RequirementsSpecification => (28, 28),
            Phase::SolutionDescription => (27, 27),
            Phase::SupplierAnalysis => (26, 21),
            Phase::Design => (20, 15),
            Phase::Build => (14, 9),
            Phase::TestExecution => (8, 3),
            Phase::AcceptanceTest => (2, 1),
            Phase::Release => (0, 0),
        }
    }

    /// A short English name, e.g. "selection".
    pub fn name(self) -> &'static str {
        match self {
            Phase::Selection => "selection",
            Phase::NeedsAnalysis => "needs analysis",
            Phase::NeedsReview => "needs review",
            Phase::RequirementsSpecification => "requirements specification",
            Phase::SolutionDescription => "solution description",
            Phase::SupplierAnalysis => "supplier analysis",
            Phase::Design => "design",
            Phase::Build => "build",
            Phase::TestExecution => "test execution",
            Phase::AcceptanceTest => "acceptance test",
            Phase::Release => "release",
        }
    }

    /// The position of the phase in [`Phase::ALL`] (0 for selection … 10 for release).
    fn index(self) -> usize {
        match self {
            Phase::Selection => 0,
            Phase::NeedsAnalysis => 1,
            Phase::NeedsReview => 2,
            Phase::RequirementsSpecification => 3,
            Phase::SolutionDescription => 4,
            Phase::SupplierAnalysis => 5,
            Phase::Design => 6,
            Phase::Build => 7,
            Phase::TestExecution => 8,
            Phase::AcceptanceTest => 9,
            Phase::Release => 10,
        }
    }
}

/// One phase with its dates and ISO weeks.
///
/// `first_day` is the Monday of the phase's earliest week and `last_day` the Sunday of its latest
/// week, both included; `first_week` and `last_week` are their ISO weeks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhaseSpan {
    /// The phase.
    pub phase: Phase,
    /// The Monday the phase starts on (included).
    pub first_day: NaiveDate,
    /// The Sunday the phase ends on (included).
    pub last_day: NaiveDate,
    /// The ISO week of `first_day`.
    pub first_week: IsoWeek,
    /// The ISO week of `last_day`.
    pub last_week: IsoWeek,
}

impl PhaseSpan {
    /// Whether `date` lies within the phase, first and last day included.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.first_day <= date && date <= self.last_day
    }

    /// The span of `phase` for a timeline whose week 0 starts on `week0_monday`; None if a date
    /// falls outside chrono's range.
    fn compute(phase: Phase, week0_monday: NaiveDate) -> Option<Self> {
        let (earliest, latest) = phase.weeks_before();
        let first_day = monday_weeks_before(week0_monday, earliest)?;
        let last_day = monday_weeks_before(week0_monday, latest)?
            .checked_add_days(Days::new(DAYS_PER_WEEK - 1))?;
        Some(PhaseSpan {
            phase,
            first_day,
            last_day,
            first_week: first_day.iso_week(),
            last_week: last_day.iso_week(),
        })
    }
}

/// The Monday `weeks` weeks (of seven days) before `week0_monday`; None outside chrono's range.
fn monday_weeks_before(week0_monday: NaiveDate, weeks: u32) -> Option<NaiveDate> {
    week0_monday.checked_sub_days(Days::new(DAYS_PER_WEEK * u64::from(weeks)))
}

/// A release's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// The release date as given (any weekday of week 0).
    release_date: NaiveDate,
    /// One span per phase, in the order of [`Phase::ALL`].
    spans: [PhaseSpan; 11],
}

impl Timeline {
    /// The timeline of a release on `release_date`; None only if the dates fall outside chrono's
    /// range.
    ///
    /// Week 0 is the ISO week containing `release_date`, so the timeline runs from the Monday 42
    /// weeks before that week's Monday to that week's Sunday.
    pub fn new(release_date: NaiveDate) -> Option<Self> {
        let week0_monday = release_date.checked_sub_days(Days::new(u64::from(
            release_date.weekday().num_days_from_monday(),
        )))?;
        let spans: Vec<PhaseSpan> = Phase::ALL
            .iter()
            .map(|&phase| PhaseSpan::compute(phase, week0_monday))
            .collect::<Option<_>>()?;
        let spans: [PhaseSpan; 11] = spans.try_into().ok()?;
        Some(Timeline {
            release_date,
            spans,
        })
    }

    /// The release date.
    pub fn release_date(&self) -> NaiveDate {
        self.release_date
    }

    /// Every phase with its dates, earliest first.
    pub fn spans(&self) -> &[PhaseSpan] {
        &self.spans
    }

    /// The span of one phase.
    pub fn span(&self, phase: Phase) -> PhaseSpan {
        // `index` is below 11 for every phase, and `spans` has exactly 11 entries.
        self.spans[phase.index()]
    }

    /// Which phase the release is in on `date`; None before the timeline starts (before week 42's
    /// Monday) or after week 0's Sunday.
    pub fn phase_on(&self, date: NaiveDate) -> Option<Phase> {
        self.spans
            .iter()
            .find(|span| span.contains(date))
            .map(|span| span.phase)
    }

    /// Whether change requests may join the release on `date`: inside the selection window, first
    /// and last day included.
    ///
    /// The selection window is [`Phase::Selection`]: weeks 42–35 before release.
    pub fn selection_open_on(&self, date: NaiveDate) -> bool {
        self.span(Phase::Selection).contains(date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    /// A date from year, month and day (test input, known to be valid).
    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    /// An ISO week as (ISO year, week number), for comparisons.
    fn yw(week: IsoWeek) -> (i32, u32) {
        (week.year(), week.week())
    }

    fn timeline(release: NaiveDate) -> Timeline {
        Timeline::new(release).unwrap()
    }

    /// An ISO week written as "YYYY-Www", e.g. "2026-W53".
    fn week_str(week: IsoWeek) -> String {
        format!("{}-W{:02}", week.year(), week.week())
    }

    /// Asserts every phase's dates and ISO weeks against a hand-computed table, in timeline order:
    /// (phase, first day, last day, first ISO week, last ISO week), dates as "YYYY-MM-DD".
    fn assert_table(timeline: &Timeline, expected: &[(Phase, &str, &str, &str, &str)]) {
        assert_eq!(timeline.spans().len(), expected.len());
        for (span, &(phase, first, last, first_week, last_week)) in
            timeline.spans().iter().zip(expected)
        {
            let name = phase.name();
            assert_eq!(span.phase, phase);
            assert_eq!(
                span.first_day,
                first.parse().unwrap(),
                "first day of {name}"
            );
            assert_eq!(span.last_day, last.parse().unwrap(), "last day of {name}");
            assert_eq!(
                week_str(span.first_week),
                first_week,
                "first week of {name}"
            );
            assert_eq!(week_str(span.last_week), last_week, "last week of {name}");
            assert_eq!(timeline.span(phase), *span);
        }
    }

    #[test]
    fn phase_table() {
        assert_eq!(Phase::ALL.len(), 11);
        let weeks: Vec<(u32, u32)> = Phase::ALL.iter().map(|p| p.weeks_before()).collect();
        assert_eq!(
            weeks,
            [
                (42, 35),
                (34, 31),
                (30, 29),
                (28, 28),
                (27, 27),
                (26, 21),
                (20, 15),
                (14, 9),
                (8, 3),
                (2, 1),
                (0, 0)
            ]
        );
        // In order, contiguous in week counts, index matches position.
        for (i, pair) in Phase::ALL.windows(2).enumerate() {
            assert!(pair[0] < pair[1]);
            assert_eq!(pair[0].weeks_before().1, pair[1].weeks_before().0 + 1);
            assert_eq!(pair[0].index(), i);
        }
        assert_eq!(Phase::Release.index(), 10);
        assert_eq!(Phase::Selection.name(), "selection");
        assert_eq!(Phase::AcceptanceTest.name(), "acceptance test");
        let mut names: Vec<&str> = Phase::ALL.iter().map(|p| p.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 11);
    }

    #[test]
    fn release_2025_06_12() {
        use Phase::*;
        let release = date(2025, 6, 12);
        assert_eq!(release.weekday(), Weekday::Thu);
        let t = timeline(release);
        assert_eq!(t.release_date(), release);
        // Computed by hand: week 0 is 2025-W24 (Monday 9 June); week N starts 7·N days earlier.
        // 294 days before 2025-06-09 is Monday 2024-08-19 (2024-W34).
        #[rustfmt::skip]
        let expected = [
            (Selection, "2024-08-19", "2024-10-13", "2024-W34", "2024-W41"),
            (NeedsAnalysis, "2024-10-14", "2024-11-10", "2024-W42", "2024-W45"),
            (NeedsReview, "2024-11-11", "2024-11-24", "2024-W46", "2024-W47"),
            (RequirementsSpecification, "2024-11-25", "2024-12-01", "2024-W48", "2024-W48"),
            (SolutionDescription, "2024-12-02", "2024-12-08", "2024-W49", "2024-W49"),
            (SupplierAnalysis, "2024-12-09", "2025-01-19", "2024-W50", "2025-W03"),
            (Design, "2025-01-20", "2025-03-02", "2025-W04", "2025-W09"),
            (Build, "2025-03-03", "2025-04-13", "2025-W10", "2025-W15"),
            (TestExecution, "2025-04-14", "2025-05-25", "2025-W16", "2025-W21"),
            (AcceptanceTest, "2025-05-26", "2025-06-08", "2025-W22", "2025-W23"),
            (Release, "2025-06-09", "2025-06-15", "2025-W24", "2025-W24"),
        ];
        assert_table(&t, &expected);
        let selection = t.span(Phase::Selection);
        assert_eq!(selection.first_day.weekday(), Weekday::Mon);
        assert_eq!(selection.last_day.weekday(), Weekday::Sun);
    }

    #[test]
    fn timeline_across_new_year() {
        use Phase::*;
        // Release Thursday 2026-03-05 (2026-W10): selection lies in 2025, and the build phase
        // starts in 2025-W48 and ends in 2026-W01, whose Sunday is 2026-01-04.
        let t = timeline(date(2026, 3, 5));
        #[rustfmt::skip]
        let expected = [
            (Selection, "2025-05-12", "2025-07-06", "2025-W20", "2025-W27"),
            (NeedsAnalysis, "2025-07-07", "2025-08-03", "2025-W28", "2025-W31"),
            (NeedsReview, "2025-08-04", "2025-08-17", "2025-W32", "2025-W33"),
            (RequirementsSpecification, "2025-08-18", "2025-08-24", "2025-W34", "2025-W34"),
            (SolutionDescription, "2025-08-25", "2025-08-31", "2025-W35", "2025-W35"),
            (SupplierAnalysis, "2025-09-01", "2025-10-12", "2025-W36", "2025-W41"),
            (Design, "2025-10-13", "2025-11-23", "2025-W42", "2025-W47"),
            (Build, "2025-11-24", "2026-01-04", "2025-W48", "2026-W01"),
            (TestExecution, "2026-01-05", "2026-02-15", "2026-W02", "2026-W07"),
            (AcceptanceTest, "2026-02-16", "2026-03-01", "2026-W08", "2026-W09"),
            (Release, "2026-03-02", "2026-03-08", "2026-W10", "2026-W10"),
        ];
        assert_table(&t, &expected);
        assert_eq!(t.phase_on(date(2025, 12, 31)), Some(Phase::Build));
        assert_eq!(t.phase_on(date(2026, 1, 1)), Some(Phase::Build));
    }

    #[test]
    fn timeline_through_53_week_year_2026() {
        use Phase::*;
        // 2026 has 53 ISO weeks: 2026-W53 is 2026-12-28..2027-01-03.
        assert_eq!(yw(date(2026, 12, 28).iso_week()), (2026, 53));
        assert_eq!(yw(date(2027, 1, 3).iso_week()), (2026, 53));
        assert_eq!(yw(date(2027, 1, 4).iso_week()), (2027, 1));
        // Release Thursday 2027-04-15 (2027-W15): 2026-W53 is 15 weeks before, the last week of
        // design; build starts in 2027-W01.
        let t = timeline(date(2027, 4, 15));
        #[rustfmt::skip]
        let expected = [
            (Selection, "2026-06-22", "2026-08-16", "2026-W26", "2026-W33"),
            (NeedsAnalysis, "2026-08-17", "2026-09-13", "2026-W34", "2026-W37"),
            (NeedsReview, "2026-09-14", "2026-09-27", "2026-W38", "2026-W39"),
            (RequirementsSpecification, "2026-09-28", "2026-10-04", "2026-W40", "2026-W40"),
            (SolutionDescription, "2026-10-05", "2026-10-11", "2026-W41", "2026-W41"),
            (SupplierAnalysis, "2026-10-12", "2026-11-22", "2026-W42", "2026-W47"),
            (Design, "2026-11-23", "2027-01-03", "2026-W48", "2026-W53"),
            (Build, "2027-01-04", "2027-02-14", "2027-W01", "2027-W06"),
            (TestExecution, "2027-02-15", "2027-03-28", "2027-W07", "2027-W12"),
            (AcceptanceTest, "2027-03-29", "2027-04-11", "2027-W13", "2027-W14"),
            (Release, "2027-04-12", "2027-04-18", "2027-W15", "2027-W15"),
        ];
        assert_table(&t, &expected);
        assert_eq!(t.phase_on(date(2026, 12, 31)), Some(Phase::Design));
        assert_eq!(t.phase_on(date(2027, 1, 3)), Some(Phase::Design));
        assert_eq!(t.phase_on(date(2027, 1, 4)), Some(Phase::Build));
    }

    #[test]
    fn timeline_through_53_week_year_2020() {
        // 2020-W53 is 2020-12-28..2021-01-03. Release Thursday 2021-06-10 (2021-W23): 2020-W53
        // is 23 weeks before, inside supplier analysis (weeks 26–21).
        assert_eq!(yw(date(2020, 12, 28).iso_week()), (2020, 53));
        let t = timeline(date(2021, 6, 10));
        let analysis = t.span(Phase::SupplierAnalysis);
        assert_eq!(analysis.first_day, date(2020, 12, 7));
        assert_eq!(analysis.last_day, date(2021, 1, 17));
        assert_eq!(yw(analysis.first_week), (2020, 50));
        assert_eq!(yw(analysis.last_week), (2021, 2));
        assert_eq!(
            t.phase_on(date(2020, 12, 28)),
            Some(Phase::SupplierAnalysis)
        );
        assert_eq!(t.span(Phase::Selection).first_day, date(2020, 8, 17));
        assert_eq!(yw(t.span(Phase::Selection).first_week), (2020, 34));
        assert_eq!(t.span(Phase::Release).first_day, date(2021, 6, 7));
    }

    #[test]
    fn phases_contiguous_for_every_release_day_2019_to_2030() {
        let mut release = date(2019, 1, 1);
        let end = date(2030, 12, 31);
        let mut count = 0;
        while release <= end {
            let t = timeline(release);
            let spans = t.spans();
            assert_eq!(spans.len(), 11);
            // Week 0 contains the release date.
            let week0 = t.span(Phase::Release);
            assert!(week0.contains(release), "{release}");
            assert_eq!(week0.first_week, release.iso_week());
            assert_eq!(week0.last_week, release.iso_week());
            // Week 42's Monday is 294 days before week 0's Monday; the timeline is 43 weeks long.
            assert_eq!((week0.first_day - spans[0].first_day).num_days(), 42 * 7);
            assert_eq!((week0.last_day - spans[0].first_day).num_days(), 43 * 7 - 1);
            for (span, phase) in spans.iter().zip(Phase::ALL) {
                assert_eq!(span.phase, phase);
                assert_eq!(span.first_day.weekday(), Weekday::Mon);
                assert_eq!(span.last_day.weekday(), Weekday::Sun);
                assert_eq!(span.first_week, span.first_day.iso_week());
                assert_eq!(span.last_week, span.last_day.iso_week());
                let (earliest, latest) = phase.weeks_before();
                let weeks = i64::from(earliest - latest + 1);
                assert_eq!((span.last_day - span.first_day).num_days() + 1, weeks * 7);
                let n = i64::from(earliest);
                assert_eq!((week0.first_day - span.first_day).num_days(), n * 7);
                assert_eq!(t.phase_on(span.first_day), Some(phase));
                assert_eq!(t.phase_on(span.last_day), Some(phase));
            }
            for pair in spans.windows(2) {
                assert_eq!(
                    pair[0].last_day.succ_opt(),
                    Some(pair[1].first_day),
                    "{release}"
                );
            }
            release = release.succ_opt().unwrap();
            count += 1;
        }
        assert_eq!(count, 4383);
    }

    #[test]
    fn phase_on_boundaries() {
        let t = timeline(date(2025, 6, 12));
        let boundaries = [
            (Phase::Selection, date(2024, 8, 19), date(2024, 10, 13)),
            (Phase::NeedsAnalysis, date(2024, 10, 14), date(2024, 11, 10)),
            (Phase::NeedsReview, date(2024, 11, 11), date(2024, 11, 24)),
            (
                Phase::RequirementsSpecification,
                date(2024, 11, 25),
                date(2024, 12, 1),
            ),
            (
                Phase::SolutionDescription,
                date(2024, 12, 2),
                date(2024, 12, 8),
            ),
            (
                Phase::SupplierAnalysis,
                date(2024, 12, 9),
                date(2025, 1, 19),
            ),
            (Phase::Design, date(2025, 1, 20), date(2025, 3, 2)),
            (Phase::Build, date(2025, 3, 3), date(2025, 4, 13)),
            (Phase::TestExecution, date(2025, 4, 14), date(2025, 5, 25)),
            (Phase::AcceptanceTest, date(2025, 5, 26), date(2025, 6, 8)),
            (Phase::Release, date(2025, 6, 9), date(2025, 6, 15)),
        ];
        for (phase, first, last) in boundaries {
            assert_eq!(t.phase_on(first), Some(phase), "{first}");
            assert_eq!(t.phase_on(last), Some(phase), "{last}");
        }
        // Before week 42's Monday and after week 0's Sunday.
        assert_eq!(t.phase_on(date(2024, 8, 18)), None);
        assert_eq!(t.phase_on(date(2025, 6, 16)), None);
        assert_eq!(t.phase_on(date(2000, 1, 1)), None);
        assert_eq!(t.phase_on(date(2030, 1, 1)), None);
        assert_eq!(t.phase_on(date(2025, 6, 12)), Some(Phase::Release));
    }

    #[test]
    fn selection_window() {
        let t = timeline(date(2025, 6, 12));
        assert!(!t.selection_open_on(date(2024, 8, 18)));
        assert!(t.selection_open_on(date(2024, 8, 19)));
        assert!(t.selection_open_on(date(2024, 9, 15)));
        assert!(t.selection_open_on(date(2024, 10, 13)));
        assert!(!t.selection_open_on(date(2024, 10, 14)));
        assert!(!t.selection_open_on(date(2025, 6, 12)));
    }

    #[test]
    fn weekday_of_release_does_not_move_week_0() {
        let monday = timeline(date(2025, 6, 9));
        let thursday = timeline(date(2025, 6, 12));
        let sunday = timeline(date(2025, 6, 15));
        assert_eq!(monday.spans(), thursday.spans());
        assert_eq!(sunday.spans(), thursday.spans());
        assert_eq!(monday.release_date(), date(2025, 6, 9));
        assert_eq!(sunday.release_date(), date(2025, 6, 15));
        assert_ne!(monday, sunday);
        for t in [&monday, &sunday] {
            let week0 = t.span(Phase::Release);
            assert_eq!(week0.first_day, date(2025, 6, 9));
            assert_eq!(week0.last_day, date(2025, 6, 15));
            assert_eq!(t.span(Phase::Selection).first_day, date(2024, 8, 19));
        }
        // The next Monday starts a new week 0, one week later.
        let next = timeline(date(2025, 6, 16));
        assert_eq!(next.span(Phase::Release).first_day, date(2025, 6, 16));
        assert_eq!(next.span(Phase::Selection).first_day, date(2024, 8, 26));
        // Same for a Sunday release that is also New Year's Day week: 2027-01-03 is in 2026-W53.
        let sunday_w53 = timeline(date(2027, 1, 3));
        let monday_w53 = timeline(date(2026, 12, 28));
        assert_eq!(sunday_w53.spans(), monday_w53.spans());
        assert_eq!(yw(sunday_w53.span(Phase::Release).first_week), (2026, 53));
    }

    #[test]
    fn out_of_range_dates_give_none() {
        assert_eq!(Timeline::new(NaiveDate::MIN), None);
        // Just far enough from the start of chrono's range to fit 43 weeks.
        let first_possible = NaiveDate::MIN
            .checked_add_days(Days::new(42 * 7 + 7))
            .unwrap();
        assert!(Timeline::new(first_possible).is_some());
        // NaiveDate::MAX: week 0's Sunday exists only if MAX is a Sunday.
        let at_max = Timeline::new(NaiveDate::MAX);
        assert_eq!(at_max.is_some(), NaiveDate::MAX.weekday() == Weekday::Sun);
        let safe_max = NaiveDate::MAX.checked_sub_days(Days::new(7)).unwrap();
        assert!(Timeline::new(safe_max).is_some());
    }
}
