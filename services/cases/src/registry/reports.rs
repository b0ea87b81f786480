//! Queues and reports: the daily stand-up view, the backlog, old cases, monthly counts and SLA alerts.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::ColumnTrait;
use sea_orm::{EntityTrait, QueryFilter, QueryOrder};

use kommune_platform::Error;
use kommune_platform::auth::Caller;
use kommune_platform::outbox;
use kommune_proto::cases::v1 as pb;
use kommune_proto::cases::v1::CaseState;

use super::Registry;
use crate::domain::{self, SlaAlert};
use crate::store::{areas, cases, sla_notices};

fn require_supporter(caller: &Caller) -> Result<(), Error> {
    super::require_supporter(caller, "queues and reports")
}

fn state(case: &cases::Model) -> CaseState {
    CaseState::from_str_name(&case.state).unwrap_or_default()
}

impl Registry {
    async fn open_cases(&self) -> Result<Vec<cases::Model>, Error> {
        let closed = [
            CaseState::Resolved.as_str_name(),
            CaseState::Closed.as_str_name(),
        ];
        Ok(cases::Entity::find()
            .filter(cases::Column::State.is_not_in(closed))
            .order_by_asc(cases::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// A team's queue: unassigned new cases of its areas first (oldest first), then its open cases by
    /// resolution due time.
    pub async fn queue(
        &self,
        caller: &Caller,
        team_id: &str,
    ) -> Result<(Vec<cases::Model>, Vec<cases::Model>), Error> {
        require_supporter(caller)?;
        let team_areas: Vec<String> = areas::all(&self.db)
            .await?
            .into_iter()
            .filter(|a| a.team_id == team_id)
            .map(|a| a.id)
            .collect();
        let (mut unassigned, mut assigned) = (Vec::new(), Vec::new());
        for case in self.open_cases().await? {
            if case.team_id.is_none() && team_areas.contains(&case.area_id) {
                unassigned.push(case);
            } else if case.team_id.as_deref() == Some(team_id) {
                assigned.push(case);
            }
        }
        assigned.sort_by_key(|c| c.resolution_due);
        Ok((unassigned, assigned))
    }

    /// Open cases counted by area and state.
    pub async fn backlog(&self, caller: &Caller) -> Result<BTreeMap<(String, i32), u64>, Error> {
        require_supporter(caller)?;
        let mut counts = BTreeMap::new();
        for case in self.open_cases().await? {
            *counts
                .entry((case.area_id.clone(), state(&case) as i32))
                .or_default() += 1;
        }
        Ok(counts)
    }

    /// Open cases created before `before`, oldest first.
    pub async fn old_cases(
        &self,
        caller: &Caller,
        before: DateTime<Utc>,
    ) -> Result<Vec<cases::Model>, Error> {
        require_supporter(caller)?;
        Ok(self
            .open_cases()
            .await?
            .into_iter()
            .filter(|c| c.created_at < before)
            .collect())
    }

    /// Cases filed per (month, municipality, area) over the months `first..=last` (`YYYY-MM`).
    pub async fn monthly_counts(
        &self,
        caller: &Caller,
        first: &str,
        last: &str,
    ) -> Result<BTreeMap<(String, String, String), u64>, Error> {
        require_supporter(caller)?;
        let mut counts = BTreeMap::new();
        for case in cases::Entity::find().all(&self.db).await? {
            let month = domain::month_of(case.created_at);
            if first <= month.as_str() && month.as_str() <= last {
                *counts
                    .entry((month, case.municipality_id, case.area_id))
                    .or_default() += 1;
            }
        }
        Ok(counts)
    }

    /// Open cases with a target missed, or due within `within` working time, most urgent first.
    pub async fn sla_alerts(
        &self,
        caller: &Caller,
        within: Duration,
    ) -> Result<Vec<(cases::Model, SlaAlert)>, Error> {
        require_supporter(caller)?;
        let now = self.clock.now();
        let soon = self.due(now, within)?;
        let mut alerts: Vec<(cases::Model, SlaAlert)> = Vec::new();
        for case in self.open_cases().await? {
            let found = domain::sla_alerts(
                state(&case),
                case.response_due,
                case.first_response_at,
                case.resolution_due,
                now,
                soon,
            );
            alerts.extend(found.into_iter().map(|alert| (case.clone(), alert)));
        }
        alerts.sort_by_key(|(_, alert)| alert.due);
        Ok(alerts)
    }
}

impl Registry {
    /// Announces, once each, the SLA targets of open cases that are missed or due within an hour of
    /// working time. Returns how many were announced. Run periodically by the server.
    pub async fn announce_sla_alerts(&self) -> Result<u64, Error> {
        let now = self.clock.now();
        let soon = self.due(now, Duration::hours(1))?;
        let mut announced = 0;
        for case in self.open_cases().await? {
            for alert in domain::sla_alerts(
                state(&case),
                case.response_due,
                case.first_response_at,
                case.resolution_due,
                now,
                soon,
            ) {
                let txn = kommune_platform::db::begin(&self.db).await?;
                let notice = sla_notices::Model {
                    case_id: case.id.clone(),
                    target: alert.target.to_owned(),
                    breached: alert.breached,
                    created_at: now,
                };
                if sla_notices::record(&txn, notice).await? {
                    let event = pb::CaseSlaAlert {
                        case_id: case.id.clone(),
                        municipality_id: case.municipality_id.clone(),
                        target: alert.target.to_owned(),
                        breached: alert.breached,
                        due_time: Some(kommune_platform::clock::to_timestamp(alert.due)),
                    };
                    outbox::publish(&txn, now, &case.id, &event).await?;
                    announced += 1;
                }
                txn.commit().await?;
            }
        }
        if announced > 0 {
            self.outbox.notify_committed();
        }
        Ok(announced)
    }
}
