//! What the status page says about each system: its state now, from the active operational messages,
//! and its last days as bars, from the messages active on each day. Plain functions, no I/O.

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Europe::Copenhagen;

/// How a system is doing, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SystemState {
    /// No active message names it.
    Operational,
    /// A message names it whose fault is sporadic or not yet judged.
    Disturbed,
    /// A message names it whose fault is general: an outage.
    Outage,
}

impl SystemState {
    /// Its name in the pages' texts and styles: `operational`, `disturbed`, `outage`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Operational => "operational",
            Self::Disturbed => "disturbed",
            Self::Outage => "outage",
        }
    }
}

/// What the status page needs of one operational message.
#[derive(Debug, Clone)]
pub struct Fault<'a> {
    /// The systems it names.
    pub system_ids: &'a [String],
    /// True when the fault is general (an outage); otherwise a disturbance.
    pub general: bool,
    /// When it began.
    pub start: DateTime<Utc>,
    /// When it was resolved; `None` while active.
    pub resolved: Option<DateTime<Utc>>,
}

impl Fault<'_> {
    /// What the fault makes of the systems it names.
    pub fn state(&self) -> SystemState {
        if self.general {
            SystemState::Outage
        } else {
            SystemState::Disturbed
        }
    }

    fn names(&self, system_id: &str) -> bool {
        self.system_ids.iter().any(|id| id == system_id)
    }
}

/// The state of `system_id` now: the worst of the active faults that name it.
pub fn state_now(system_id: &str, faults: &[Fault<'_>]) -> SystemState {
    faults
        .iter()
        .filter(|fault| fault.resolved.is_none() && fault.names(system_id))
        .map(Fault::state)
        .max()
        .unwrap_or(SystemState::Operational)
}

/// The worst of `states`; operational when there are none.
pub fn worst(states: impl IntoIterator<Item = SystemState>) -> SystemState {
    states.into_iter().max().unwrap_or(SystemState::Operational)
}

/// One day of a system's bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    /// The day, in Copenhagen.
    pub date: NaiveDate,
    /// The worst fault of any part of the day.
    pub state: SystemState,
}

/// The last `days` days of `system_id` up to `now` (oldest first, today last, Copenhagen days): each the
/// worst state of the faults naming it that were active at any time that day.
pub fn bars(system_id: &str, faults: &[Fault<'_>], now: DateTime<Utc>, days: u32) -> Vec<Day> {
    let today = now.with_timezone(&Copenhagen).date_naive();
    let first = today - Days::new(u64::from(days.saturating_sub(1)));
    let mut bar: Vec<Day> = first
        .iter_days()
        .take(days as usize)
        .map(|date| Day {
            date,
            state: SystemState::Operational,
        })
        .collect();
    for fault in faults.iter().filter(|fault| fault.names(system_id)) {
        let from = fault.start.with_timezone(&Copenhagen).date_naive();
        let to = fault
            .resolved
            .unwrap_or(now)
            .with_timezone(&Copenhagen)
            .date_naive();
        for day in bar
            .iter_mut()
            .filter(|day| from <= day.date && day.date <= to)
        {
            day.state = day.state.max(fault.state());
        }
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap_or_default()
    }

    #[test]
    fn a_system_is_as_bad_as_its_worst_active_fault() {
        let ky = vec!["ky".to_owned()];
        let both = vec!["ky".to_owned(), "portal".to_owned()];
        let sporadic = Fault {
            system_ids: &ky,
            general: false,
            start: at("2026-12-01T08:00:00Z"),
            resolved: None,
        };
        let general_but_resolved = Fault {
            system_ids: &both,
            general: true,
            start: at("2026-12-01T08:00:00Z"),
            resolved: Some(at("2026-12-01T09:00:00Z")),
        };
        let general = Fault {
            system_ids: &both,
            general: true,
            start: at("2026-12-02T08:00:00Z"),
            resolved: None,
        };
        assert_eq!(state_now("ky", &[]), SystemState::Operational);
        let faults = [sporadic.clone(), general_but_resolved.clone()];
        assert_eq!(state_now("ky", &faults), SystemState::Disturbed);
        assert_eq!(state_now("portal", &faults), SystemState::Operational);
        let faults = [sporadic, general_but_resolved, general];
        assert_eq!(state_now("ky", &faults), SystemState::Outage);
        assert_eq!(state_now("portal", &faults), SystemState::Outage);
        assert_eq!(state_now("other", &faults), SystemState::Operational);
        assert_eq!(
            worst([SystemState::Disturbed, SystemState::Operational]),
            SystemState::Disturbed
        );
        assert_eq!(worst([]), SystemState::Operational);
    }

    #[test]
    fn each_day_of_the_bar_shows_the_worst_fault_of_that_copenhagen_day() {
        let ky = vec!["ky".to_owned()];
        let now = at("2026-12-05T10:00:00Z");
        let faults = [
            // Late on 30 November in Copenhagen (23:30 UTC is 00:30 on 1 December there).
            Fault {
                system_ids: &ky,
                general: false,
                start: at("2026-11-30T23:30:00Z"),
                resolved: Some(at("2026-12-02T07:00:00Z")),
            },
            Fault {
                system_ids: &ky,
                general: true,
                start: at("2026-12-02T06:00:00Z"),
                resolved: Some(at("2026-12-02T08:00:00Z")),
            },
            // Still active: runs until today.
            Fault {
                system_ids: &ky,
                general: false,
                start: at("2026-12-04T12:00:00Z"),
                resolved: None,
            },
        ];
        let bar = bars("ky", &faults, now, 7);
        let states: Vec<(String, SystemState)> = bar
            .iter()
            .map(|day| (day.date.to_string(), day.state))
            .collect();
        use SystemState::*;
        assert_eq!(
            states,
            [
                ("2026-11-29".to_owned(), Operational),
                ("2026-11-30".to_owned(), Operational),
                ("2026-12-01".to_owned(), Disturbed),
                ("2026-12-02".to_owned(), Outage),
                ("2026-12-03".to_owned(), Operational),
                ("2026-12-04".to_owned(), Disturbed),
                ("2026-12-05".to_owned(), Disturbed),
            ]
        );
        assert_eq!(bars("ky", &[], now, 90).len(), 90);
        assert!(
            bars("other", &faults, now, 7)
                .iter()
                .all(|d| d.state == Operational)
        );
    }
}
