//! Satisfaction: reporters invited once to rate their resolved cases, their ratings, and the counts.

use std::collections::BTreeMap;

use serde_json::json;

use kommune_platform::auth::{Caller, USER_SUBJECT_PREFIX};
use kommune_platform::db::Txn;
use kommune_platform::records::AuditTrail;
use kommune_platform::{Error, Reason, outbox};
use kommune_proto::cases::v1 as pb;

use super::{Registry, require_supporter};
use crate::domain;
use crate::store::cases;
use crate::store::ratings::{self, RatedBy};

/// The ratings of one month and group: how many, their sum, how many of each rating.
pub type Satisfaction = BTreeMap<(String, String), (u64, u64, [u64; 5])>;

impl Registry {
    /// Invites the reporter to rate a case the first time it is resolved (not as a duplicate), in the
    /// transaction that resolves it.
    pub(super) async fn invite_rating_if_due(
        &self,
        txn: &Txn,
        case: &mut cases::Model,
    ) -> Result<(), Error> {
        if !domain::invites_rating(*case.state, *case.resolution, case.rating_invited_at) {
            return Ok(());
        }
        let now = self.clock.now();
        case.rating_invited_at = Some(now);
        let event = pb::CaseRatingInvited {
            case_id: case.id.clone(),
            municipality_id: case.municipality_id.clone(),
            reporter_user_id: case.reporter_user_id.clone(),
        };
        outbox::publish(txn, now, &case.id, &event).await
    }

    /// The reporter rates their case, once, after being invited.
    pub async fn rate_case(
        &self,
        caller: &Caller,
        id: &str,
        rating: i32,
        comment: String,
    ) -> Result<ratings::Model, Error> {
        let txn = kommune_platform::db::begin(&self.db).await?;
        let case = self.case(&txn, caller, id, None).await?;
        let reporter = caller.subject.strip_prefix(USER_SUBJECT_PREFIX);
        if reporter != Some(case.reporter_user_id.as_str()) {
            return Err(Error::PermissionDenied(
                Reason::NotOwner,
                "only the case's reporter rates it".into(),
            ));
        }
        if case.rating_invited_at.is_none() {
            return Err(Error::FailedPrecondition(
                Reason::WrongState,
                "the case has not been resolved yet".into(),
            ));
        }
        let rated = ratings::insert(
            &txn,
            ratings::Model {
                case_id: case.id.clone(),
                rating,
                comment,
                created_at: self.clock.now(),
            },
        )
        .await?;
        // The audit keeps that there is a comment, not what it says.
        let payload = json!({"rating": rating, "comment": !rated.comment.is_empty()});
        self.audit(&txn, caller, "case", &case.id, "rate", payload)
            .await?;
        let event = pb::CaseRated {
            case_id: case.id.clone(),
            municipality_id: case.municipality_id.clone(),
            rating,
        };
        outbox::publish(&txn, self.clock.now(), &case.id, &event).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(rated)
    }

    /// The ratings given over the Copenhagen months `first..=last` (year, month), per month and
    /// group, one counting query per month.
    pub async fn satisfaction(
        &self,
        caller: &Caller,
        by: RatedBy,
        first: (i32, u32),
        last: (i32, u32),
    ) -> Result<Satisfaction, Error> {
        require_supporter(caller, "satisfaction reports")?;
        let mut counts = BTreeMap::new();
        for (year, month) in domain::months(first, last) {
            let (from, until) = domain::month_bounds(year, month)
                .ok_or_else(|| Error::invalid("first_month", "is not a month"))?;
            let name = format!("{year:04}-{month:02}");
            for (group, count, total, by_rating) in
                ratings::counts(&self.db, by, from, until).await?
            {
                counts.insert(
                    (name.clone(), group),
                    (count as u64, total as u64, by_rating.map(|n| n as u64)),
                );
            }
        }
        Ok(counts)
    }
}
