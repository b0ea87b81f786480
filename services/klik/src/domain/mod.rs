//! klik's rules as plain types and functions: task dates from go-live, frozen zones, publication, the
//! package completion rule and progress. No I/O here.
//!
//! Dates: a template gives a task's end relative to go-live (days or months; negative is before) and a
//! duration in calendar days; the start is the end minus the duration. Month offsets land on the same day
//! of the month, or on the month's last day when that day does not exist (31 January + 1 month =
//! 28/29 February).

use chrono::{Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use kommune_platform::db::Named;
use kommune_proto::klik::v1::{Phase, Priority, Theme};

/// The content of a task description (a template version), validated; stored as JSON, with theme,
/// phase and priority by their proto names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskContent {
    /// Title.
    pub title: String,
    /// Theme.
    pub theme: Named<Theme>,
    /// Phase.
    pub phase: Named<Phase>,
    /// Priority.
    pub priority: Named<Priority>,
    /// Published to all municipalities at once.
    pub k98: bool,
    /// An STS/infrastructure task.
    pub sts_infrastructure: bool,
    /// Goal.
    pub goal: String,
    /// Description.
    pub description: String,
    /// Method.
    pub method: String,
    /// Result.
    pub result: String,
    /// Recommended performer.
    pub recommended_performer: String,
    /// Quality criteria.
    pub quality_criteria: String,
    /// Involved parties.
    pub involved_parties: String,
    /// When the task falls relative to go-live.
    pub schedule: Schedule,
}

/// A task's end relative to go-live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndOffset {
    /// Calendar days after go-live (negative: before).
    Days(i32),
    /// Calendar months after go-live (negative: before).
    Months(i32),
}

/// When a task falls, relative to go-live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Schedule {
    /// The end relative to go-live; `None` leaves the task undated.
    pub end_offset: Option<EndOffset>,
    /// Calendar days from start to end.
    pub duration_days: u32,
    /// Days before the start from which the dates no longer move.
    pub frozen_zone_days: Option<u32>,
}

/// A task's first day and deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dates {
    /// First day.
    pub start: NaiveDate,
    /// Deadline (last day).
    pub end: NaiveDate,
}

fn shift_days(date: NaiveDate, days: i64) -> Option<NaiveDate> {
    if days >= 0 {
        date.checked_add_days(Days::new(days as u64))
    } else {
        date.checked_sub_days(Days::new(days.unsigned_abs()))
    }
}

fn shift_months(date: NaiveDate, months: i32) -> Option<NaiveDate> {
    if months >= 0 {
        date.checked_add_months(Months::new(months as u32))
    } else {
        date.checked_sub_months(Months::new(months.unsigned_abs()))
    }
}

impl Schedule {
    /// The task's dates for a municipality going live on `go_live`; `None` when the template gives no
    /// end (or the dates fall outside the calendar).
    pub fn dates(&self, go_live: NaiveDate) -> Option<Dates> {
        let end = match self.end_offset? {
            EndOffset::Days(days) => shift_days(go_live, i64::from(days))?,
            EndOffset::Months(months) => shift_months(go_live, months)?,
        };
        let start = shift_days(end, -i64::from(self.duration_days))?;
        Some(Dates { start, end })
    }

    /// Whether dates already set are inside the task's own frozen zone on `today`, and may not move.
    pub fn is_frozen(&self, current: Option<Dates>, today: NaiveDate) -> bool {
        match (current, self.frozen_zone_days) {
            (Some(dates), Some(days)) => {
                shift_days(dates.start, -i64::from(days)).is_none_or(|from| today >= from)
            }
            _ => false,
        }
    }

    /// The dates after the municipality's go-live moved: recomputed, unless the task is done or its
    /// dates are frozen.
    pub fn rescheduled(
        &self,
        current: Option<Dates>,
        go_live: NaiveDate,
        today: NaiveDate,
        done: bool,
    ) -> Option<Dates> {
        if done || self.is_frozen(current, today) {
            current
        } else {
            self.dates(go_live)
        }
    }
}

/// Whether `today` lies inside a project's frozen zone before a wave going live on `go_live`, where
/// enrolment and wave changes are refused.
pub fn in_frozen_zone(go_live: NaiveDate, frozen_zone_days: u32, today: NaiveDate) -> bool {
    shift_days(go_live, -i64::from(frozen_zone_days)).is_none_or(|from| today >= from)
}

/// Whether a municipality is due a task of a published template: K98 tasks go to every municipality at
/// once, the others when the municipality's wave is published.
pub fn is_due(k98: bool, wave_published: bool) -> bool {
    k98 || wave_published
}

/// Why a task may not be completed yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the task's package still has {open_items} open item(s); resolve them first")]
pub struct ItemsOpen {
    /// How many of its package's items are open.
    pub open_items: u64,
}

/// A task tied to a package may be completed only when no item is open.
pub fn may_complete(open_items: u64) -> Result<(), ItemsOpen> {
    if open_items == 0 {
        Ok(())
    } else {
        Err(ItemsOpen { open_items })
    }
}

/// Whether a task is past its deadline and not done.
pub fn is_overdue(end: Option<NaiveDate>, done: bool, today: NaiveDate) -> bool {
    !done && end.is_some_and(|end| end < today)
}

/// Counts of tasks and open package items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Tasks in scope.
    pub tasks: u64,
    /// Done.
    pub done: u64,
    /// Not done.
    pub open: u64,
    /// Past the deadline and not done.
    pub overdue: u64,
    /// Package items still open.
    pub open_items: u64,
}

impl Progress {
    /// Adds one task.
    pub fn count(&mut self, done: bool, end: Option<NaiveDate>, open_items: u64, today: NaiveDate) {
        self.tasks += 1;
        if done {
            self.done += 1;
        } else {
            self.open += 1;
        }
        if is_overdue(end, done, today) {
            self.overdue += 1;
        }
        self.open_items += open_items;
    }
}

/// The most items one bulk load may carry.
pub const MAX_ITEMS_PER_LOAD: usize = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn schedule(end_offset: EndOffset, duration_days: u32) -> Schedule {
        Schedule {
            end_offset: Some(end_offset),
            duration_days,
            frozen_zone_days: None,
        }
    }

    #[test]
    fn dates_follow_go_live() {
        let s = schedule(EndOffset::Days(-14), 15);
        assert_eq!(
            s.dates(day("2025-04-14")),
            Some(Dates {
                start: day("2025-03-16"),
                end: day("2025-03-31")
            })
        );
        let after = schedule(EndOffset::Days(30), 0);
        assert_eq!(
            after.dates(day("2025-04-14")),
            Some(Dates {
                start: day("2025-05-14"),
                end: day("2025-05-14")
            })
        );
        assert_eq!(Schedule::default().dates(day("2025-04-14")), None);
    }

    #[test]
    fn month_offsets_clamp_to_the_end_of_short_months() {
        let s = schedule(EndOffset::Months(1), 10);
        assert_eq!(
            s.dates(day("2024-01-31")).map(|d| d.end),
            Some(day("2024-02-29"))
        );
        assert_eq!(
            s.dates(day("2025-01-31")).map(|d| d.end),
            Some(day("2025-02-28"))
        );
        assert_eq!(
            s.dates(day("2025-01-31")).map(|d| d.start),
            Some(day("2025-02-18"))
        );
        let before = schedule(EndOffset::Months(-1), 0);
        assert_eq!(
            before.dates(day("2025-03-31")).map(|d| d.end),
            Some(day("2025-02-28"))
        );
        assert_eq!(
            before.dates(day("2025-06-01")).map(|d| d.end),
            Some(day("2025-05-01"))
        );
        // Across a year end.
        assert_eq!(
            schedule(EndOffset::Months(-2), 0)
                .dates(day("2025-01-15"))
                .map(|d| d.end),
            Some(day("2024-11-15"))
        );
    }

    #[test]
    fn frozen_dates_stay_when_go_live_moves() {
        let s = Schedule {
            end_offset: Some(EndOffset::Days(-7)),
            duration_days: 14,
            frozen_zone_days: Some(10),
        };
        let current = s.dates(day("2025-06-01")); // 2025-05-11 .. 2025-05-25
        assert_eq!(current.map(|d| d.start), Some(day("2025-05-11")));
        // Ten days before the start the dates freeze.
        assert!(!s.is_frozen(current, day("2025-04-30")));
        assert!(s.is_frozen(current, day("2025-05-01")));
        let moved = s.rescheduled(current, day("2025-09-01"), day("2025-04-30"), false);
        assert_eq!(moved.map(|d| d.end), Some(day("2025-08-25")));
        assert_eq!(
            s.rescheduled(current, day("2025-09-01"), day("2025-05-01"), false),
            current
        );
        assert_eq!(
            s.rescheduled(current, day("2025-09-01"), day("2025-04-01"), true),
            current
        );
        // Without a frozen zone, and for undated tasks, dates always follow.
        let free = Schedule {
            frozen_zone_days: None,
            ..s
        };
        assert_eq!(
            free.rescheduled(current, day("2025-09-01"), day("2025-05-20"), false)
                .map(|d| d.end),
            Some(day("2025-08-25"))
        );
        assert_eq!(
            s.rescheduled(None, day("2025-09-01"), day("2025-05-20"), false)
                .map(|d| d.end),
            Some(day("2025-08-25"))
        );
    }

    #[test]
    fn a_projects_frozen_zone_closes_before_go_live() {
        assert!(!in_frozen_zone(day("2025-06-01"), 30, day("2025-05-01")));
        assert!(in_frozen_zone(day("2025-06-01"), 30, day("2025-05-02")));
        assert!(in_frozen_zone(day("2025-06-01"), 0, day("2025-06-01")));
        assert!(!in_frozen_zone(day("2025-06-01"), 0, day("2025-05-31")));
    }

    #[test]
    fn completion_needs_an_empty_package_and_progress_counts() {
        assert!(may_complete(0).is_ok());
        assert_eq!(
            may_complete(3).unwrap_err().to_string(),
            "the task's package still has 3 open item(s); resolve them first"
        );
        let today = day("2025-06-01");
        let mut p = Progress::default();
        p.count(true, Some(day("2025-05-01")), 0, today);
        p.count(false, Some(day("2025-05-31")), 4, today);
        p.count(false, Some(day("2025-06-01")), 0, today);
        p.count(false, None, 0, today);
        assert_eq!(
            p,
            Progress {
                tasks: 4,
                done: 1,
                open: 3,
                overdue: 1,
                open_items: 4
            }
        );
        assert!(is_due(true, false) && is_due(false, true) && !is_due(false, false));
    }
}
