//! Queues and reports: the daily stand-up view, the backlog, old cases, monthly counts and SLA alerts.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};

use kommune_platform::Error;
use kommune_platform::auth::Caller;
use kommune_platform::outbox;
use kommune_platform::paging::Page;
use kommune_proto::cases::v1 as pb;
use kommune_proto::common::v1::PageResponse;

use super::Registry;
use crate::domain::waves::{Wave, WaveContacts, contacts_per_wave};
use crate::domain::{self, SlaAlert};
use crate::store::queues::{self, Counted, Load};
use crate::store::{areas, cases, filings, sla_notices, teams};

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

/// An open case as a queue shows it.
#[derive(Debug, Clone)]
pub struct QueuedCase {
    /// The case.
    pub case: cases::Model,
    /// Whole days since filing.
    pub age_days: i64,
    /// How it stands against its SLA.
    pub sla: pb::SlaState,
}

/// A page of queued cases and how many there are in all.
#[derive(Debug, Clone, Default)]
pub struct QueuedPage {
    /// The page.
    pub cases: Vec<QueuedCase>,
    /// How many there are in all.
    pub total: u64,
    /// The next page.
    pub next: PageResponse,
}

/// A team's morning stand-up.
#[derive(Debug, Clone)]
pub struct Standup {
    /// Open cases nobody handles: untriaged ones of its areas, its own without a handler.
    pub unhandled: QueuedPage,
    /// Each member's (and other handler's) load.
    pub handlers: Vec<Load>,
    /// Its handled open cases, by handler.
    pub handled: QueuedPage,
    /// Its cases awaiting the municipality.
    pub awaiting: QueuedPage,
    /// Its cases that missed a target since `since`.
    pub breached: QueuedPage,
    /// The start of the previous working day.
    pub since: DateTime<Utc>,
}

/// The pages a stand-up is asked for.
#[derive(Debug, Clone)]
pub struct StandupPages {
    /// Of the unhandled cases.
    pub unhandled: Page,
    /// Of the handled cases.
    pub handled: Page,
    /// Of the cases awaiting the municipality.
    pub awaiting: Page,
    /// Of the breached cases.
    pub breached: Page,
}

impl Registry {
    /// Cases with their age and SLA state now.
    fn queued(
        &self,
        cases: Vec<cases::Model>,
        total: u64,
        next: PageResponse,
    ) -> Result<QueuedPage, Error> {
        let now = self.clock.now();
        let soon = self.due(now, domain::due_soon_within())?;
        let cases = cases
            .into_iter()
            .map(|case| QueuedCase {
                age_days: domain::age_days(case.created_at, now),
                sla: domain::sla_state(
                    *case.state,
                    case.response_due,
                    case.first_response_at,
                    case.resolution_due,
                    now,
                    soon,
                ),
                case,
            })
            .collect();
        Ok(QueuedPage { cases, total, next })
    }

    fn queued_counted(&self, counted: Counted) -> Result<QueuedPage, Error> {
        self.queued(counted.cases, counted.total, counted.next)
    }

    /// A page of a handler's open cases (the caller's own when `handler` is `None`): a handler reads
    /// their own, the supplier's support and the consortium anyone's.
    pub async fn handler_cases(
        &self,
        caller: &Caller,
        handler: Option<&str>,
        page: &Page,
    ) -> Result<QueuedPage, Error> {
        require_supporter(caller)?;
        let me = caller
            .subject
            .strip_prefix(kommune_platform::auth::USER_SUBJECT_PREFIX);
        let handler = handler.or(me).ok_or_else(|| {
            Error::invalid("handler_user_id", "is required when the caller is no user")
        })?;
        self.queued_counted(queues::of_handler(&self.db, handler, page).await?)
    }

    /// A team's stand-up, a page of each list.
    pub async fn standup(
        &self,
        caller: &Caller,
        team_id: &str,
        pages: &StandupPages,
    ) -> Result<Standup, Error> {
        require_supporter(caller)?;
        let team = teams::find(&self.db, team_id)
            .await?
            .ok_or_else(|| Error::not_found_field("team", team_id, "team_id"))?;
        let team_areas: Vec<String> = areas::all(&self.db)
            .await?
            .into_iter()
            .filter(|a| a.team_id == team_id)
            .map(|a| a.id)
            .collect();
        let now = self.clock.now();
        let since = self
            .policy
            .calendar
            .previous_working_day_start(now)
            .ok_or_else(|| Error::internal("no working day in the past year"))?;
        let unhandled = queues::unhandled(&self.db, team_id, &team_areas, &pages.unhandled).await?;
        // Every member, with nothing to do or not, then anyone else still handling the team's cases.
        let mut handlers: Vec<Load> = queues::loads(&self.db, team_id, now).await?;
        for member in team.members() {
            if !handlers.iter().any(|load| load.handler_user_id == member) {
                handlers.push(Load {
                    handler_user_id: member,
                    open: 0,
                    breached: 0,
                    awaiting: 0,
                    oldest: None,
                });
            }
        }
        handlers.sort_by(|a, b| a.handler_user_id.cmp(&b.handler_user_id));
        let (handled, handled_next) = queues::handled(&self.db, team_id, &pages.handled).await?;
        let handled_total = handlers.iter().map(|load| load.open).sum();
        let awaiting = queues::awaiting_municipality(&self.db, team_id, &pages.awaiting).await?;
        let breached =
            queues::breached_since(&self.db, team_id, &team_areas, since, &pages.breached).await?;
        Ok(Standup {
            unhandled: self.queued_counted(unhandled)?,
            handlers,
            handled: self.queued(handled, handled_total, handled_next)?,
            awaiting: self.queued_counted(awaiting)?,
            breached: self.queued_counted(breached)?,
            since,
        })
    }

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

    /// Open cases (filed before `created_before`, when given) counted by state and as `by` says:
    /// (municipality, area, state) → count, empty where not counted by it.
    pub async fn backlog(
        &self,
        caller: &Caller,
        by: cases::BacklogBy,
        created_before: Option<DateTime<Utc>>,
    ) -> Result<BTreeMap<(String, String, i32), u64>, Error> {
        require_supporter(caller)?;
        Ok(cases::backlog(&self.db, by, created_before)
            .await?
            .into_iter()
            .map(|(municipality, area, state, count)| {
                ((municipality, area, state.0 as i32), count as u64)
            })
            .collect())
    }

    /// Contacts per wave of the klik project `project_id`: the cases filed over the last `months`
    /// months by each wave's municipalities (counted in the database, the waves read from klik on the
    /// caller's behalf); with the period counted.
    pub async fn wave_contacts(
        &self,
        caller: &Caller,
        project_id: &str,
        months: u32,
    ) -> Result<(Vec<WaveContacts>, DateTime<Utc>, DateTime<Utc>), Error> {
        require_supporter(caller)?;
        let (waves, enrolments) = self.peers.waves_and_enrolments(caller, project_id).await?;
        let until = self.clock.now();
        let from = until
            .checked_sub_months(chrono::Months::new(months))
            .ok_or_else(|| Error::invalid("months", "reaches before the calendar"))?;
        let filed: HashMap<String, u64> = cases::filed_per_municipality(&self.db, from, until)
            .await?
            .into_iter()
            .map(|(municipality, count)| (municipality, count as u64))
            .collect();
        let waves = waves
            .into_iter()
            .map(|w| Wave {
                id: w.wave_id,
                name: w.name,
                go_live: w.go_live,
            })
            .collect();
        let enrolments: Vec<(String, String)> = enrolments
            .into_iter()
            .map(|e| (e.municipality_id, e.wave_id))
            .collect();
        Ok((contacts_per_wave(waves, &enrolments, &filed), from, until))
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
    /// (year, month), summed from the filings counted per hour and place.
    pub async fn monthly_counts(
        &self,
        caller: &Caller,
        first: (i32, u32),
        last: (i32, u32),
    ) -> Result<BTreeMap<(String, String, String), u64>, Error> {
        require_supporter(caller)?;
        let mut counts = BTreeMap::new();
        for (year, month) in domain::months(first, last) {
            let (from, until) = domain::month_bounds(year, month)
                .ok_or_else(|| Error::invalid("first_month", "is not a month"))?;
            let name = format!("{year:04}-{month:02}");
            for (municipality, area, count) in filings::per_place(&self.db, from, until).await? {
                counts.insert((name.clone(), municipality, area), count as u64);
            }
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
