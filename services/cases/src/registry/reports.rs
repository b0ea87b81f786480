//! Queues and reports: the daily stand-up view, the backlog, old cases, monthly counts and SLA alerts.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use kommune_platform::Error;
use kommune_platform::auth::Caller;
use kommune_platform::outbox;
use kommune_platform::paging::Page;
use kommune_proto::cases::v1 as pb;
use kommune_proto::common::v1::PageResponse;

use super::Registry;
use crate::domain::{self, SlaAlert};
use crate::store::{areas, cases, sla_notices};

fn require_supporter(caller: &Caller) -> Result<(), Error> {
    super::require_supporter(caller, "queues and reports")
}

/// How many of each list a queue answers when the request names no page (what it answered before it
/// was paged): the oldest unassigned and the most urgent assigned.
pub const QUEUE_UNPAGED: u64 = kommune_platform::paging::MAX_PAGE_SIZE;

/// How many due cases the SLA sweep reads at a time.
const SWEEP_PAGE: u64 = 500;

/// The SLA alerts of a case at `now`, counting targets due by `soon`.
fn alerts_of(case: &cases::Model, now: DateTime<Utc>, soon: DateTime<Utc>) -> Vec<SlaAlert> {
    domain::sla_alerts(
        *case.state,
        case.response_due,
        case.first_response_at,
        case.resolution_due,
        now,
        soon,
    )
}

impl Registry {
    /// A team's queue, a page of each list: unassigned open cases of its areas (oldest first) and
    /// its open cases by resolution due time, with how many there are in all.
    pub async fn queue(
        &self,
        caller: &Caller,
        team_id: &str,
        unassigned_page: &Page,
        assigned_page: &Page,
    ) -> Result<cases::Queue, Error> {
        require_supporter(caller)?;
        let team_areas: Vec<String> = areas::all(&self.db)
            .await?
            .into_iter()
            .filter(|a| a.team_id == team_id)
            .map(|a| a.id)
            .collect();
        cases::queue(
            &self.db,
            team_id,
            &team_areas,
            unassigned_page,
            assigned_page,
        )
        .await
    }

    /// Open cases counted by area and state.
    pub async fn backlog(&self, caller: &Caller) -> Result<BTreeMap<(String, i32), u64>, Error> {
        require_supporter(caller)?;
        Ok(cases::backlog(&self.db)
            .await?
            .into_iter()
            .map(|(area, state, count)| ((area, state.0 as i32), count as u64))
            .collect())
    }

    /// A page of the open cases created before `before`, oldest first.
    pub async fn old_cases(
        &self,
        caller: &Caller,
        before: DateTime<Utc>,
        page: &Page,
    ) -> Result<(Vec<cases::Model>, PageResponse), Error> {
        require_supporter(caller)?;
        cases::open_filed_before(&self.db, before, page).await
    }

    /// Cases filed per (month, municipality, area) over the Copenhagen months `first..=last`
    /// (year, month), one counting query per month.
    pub async fn monthly_counts(
        &self,
        caller: &Caller,
        first: (i32, u32),
        last: (i32, u32),
    ) -> Result<BTreeMap<(String, String, String), u64>, Error> {
        require_supporter(caller)?;
        let mut counts = BTreeMap::new();
        let (mut year, mut month) = first;
        while (year, month) <= last {
            let (from, until) = domain::month_bounds(year, month)
                .ok_or_else(|| Error::invalid("first_month", "is not a month"))?;
            let name = format!("{year:04}-{month:02}");
            for (municipality, area, count) in cases::filed_counts(&self.db, from, until).await? {
                counts.insert((name.clone(), municipality, area), count as u64);
            }
            (year, month) = if month == 12 {
                (year + 1, 1)
            } else {
                (year, month + 1)
            };
        }
        Ok(counts)
    }

    /// A page of the open cases with a target missed, or due within `within` working time, and
    /// their alerts, most urgent first within the page.
    pub async fn sla_alerts(
        &self,
        caller: &Caller,
        within: Duration,
        page: &Page,
    ) -> Result<(Vec<(cases::Model, SlaAlert)>, PageResponse), Error> {
        require_supporter(caller)?;
        let now = self.clock.now();
        let soon = self.due(now, within)?;
        let due = cases::due_by(&self.db, soon, page.after.as_deref(), page.fetch_limit()).await?;
        let (due, next) = page.finish(due, |c| c.id.clone());
        let mut alerts: Vec<(cases::Model, SlaAlert)> = Vec::new();
        for case in due {
            let found = alerts_of(&case, now, soon);
            alerts.extend(found.into_iter().map(|alert| (case.clone(), alert)));
        }
        alerts.sort_by_key(|(_, alert)| alert.due);
        Ok((alerts, next))
    }
}

impl Registry {
    pub async fn announce_sla_alerts(&self) -> Result<u64, Error> {
        let now = self.clock.now();
        let soon = self.due(now, Duration::hours(1))?;
        let mut announced = 0;
        let mut after: Option<String> = None;
        // Only cases due soon or breached are read, a page at a time, so memory stays flat whatever
        // the backlog.
        loop {
            let due = cases::due_by(&self.db, soon, after.as_deref(), SWEEP_PAGE).await?;
            let Some(last) = due.last() else {
                break;
            };
            after = Some(last.id.clone());
            for case in &due {
                for alert in alerts_of(case, now, soon) {
                    if self.announce(case, &alert, now).await? {
                        announced += 1;
                    }
                }
            }
        }
        if announced > 0 {
            self.outbox.notify_committed();
        }
        Ok(announced)
    }

    /// Records the notice of one alert and announces it, unless it was announced before.
    async fn announce(
        &self,
        case: &cases::Model,
        alert: &SlaAlert,
        now: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let txn = kommune_platform::db::begin(&self.db).await?;
        let notice = sla_notices::Model {
            case_id: case.id.clone(),
            target: alert.target.to_owned(),
            breached: alert.breached,
            created_at: now,
        };
        let first = sla_notices::record(&txn, notice).await?;
        if first {
            let event = pb::CaseSlaAlert {
                case_id: case.id.clone(),
                municipality_id: case.municipality_id.clone(),
                target: alert.target.to_owned(),
                breached: alert.breached,
                due_time: Some(kommune_platform::clock::to_timestamp(alert.due)),
            };
            outbox::publish(&txn, now, &case.id, &event).await?;
        }
        txn.commit().await?;
        Ok(first)
    }
}
