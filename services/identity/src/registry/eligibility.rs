//! Support eligibility: the three changes, the check every case makes, and the quota.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, QuerySelect};
use serde_json::json;
use uuid::Uuid;

use kommune_platform::auth::Caller;
use kommune_platform::db::Txn;
use kommune_platform::db::update_versioned;
use kommune_platform::idempotency::{self, IdempotencyKey};
use kommune_platform::outbox;
use kommune_platform::paging::Page;
use kommune_platform::records::AuditTrail as _;
use kommune_platform::{Error, Reason};
use kommune_proto::common::v1::PageResponse;
use kommune_proto::identity::v1 as pb;
use pb::{EligibilityChangeKind, Role};

use super::Registry;
use crate::domain::eligibility::{self, Billing, EligibilityError, Period, Quota};
use crate::domain::{self, AuditedEntity, NewEligibility, Replacement, Stop};
use crate::store::{eligibility_changes, eligibility_registrations, municipalities, users};

/// A registration and the change that created or changed it.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The registration created (new, replacement) or stopped.
    pub registration: eligibility_registrations::Model,
    /// The registration a replacement ended.
    pub replaced: Option<eligibility_registrations::Model>,
    /// The change filed.
    pub change: eligibility_changes::Model,
}

/// The answer to "may this user open a case for this municipality now?".
#[derive(Debug, Clone)]
pub struct Eligibility {
    /// The Copenhagen day asked about.
    pub date: NaiveDate,
    /// The valid registration, if the user is eligible.
    pub registration: Option<eligibility_registrations::Model>,
}

/// One municipality's bill.
#[derive(Debug, Clone)]
pub struct BillingLine {
    /// The municipality.
    pub municipality_id: String,
    /// Its bill.
    pub billing: Billing,
}

/// Maps a refused change to its status: a conflict with what is stored is a failed precondition,
/// a malformed date an invalid argument naming `field`.
fn refused(err: EligibilityError, field: &'static str) -> Error {
    match err {
        EligibilityError::EndsBeforeStart => Error::invalid(field, err.to_string()),
        EligibilityError::AlreadyEnded(_)
        | EligibilityError::WouldExtend(_)
        | EligibilityError::NotValidBeforeReplacement(_) => {
            Error::FailedPrecondition(Reason::WrongState, err.to_string())
        }
    }
}

impl Registry {
    fn today(&self) -> NaiveDate {
        eligibility::copenhagen_date(self.clock.now())
    }

    /// The user to register: must exist, belong to `municipality_id`, be active and not anonymised. On
    /// PostgreSQL the row stays locked to the transaction, so two registrations of one user queue.
    async fn eligible_user(
        &self,
        txn: &Txn,
        user_id: Uuid,
        municipality_id: &str,
        field: &'static str,
    ) -> Result<users::Model, Error> {
        let mut query = users::Entity::find_by_id(user_id.to_string());
        if txn.get_database_backend() == DbBackend::Postgres {
            query = query.lock_exclusive();
        }
        let user = query
            .one(txn)
            .await?
            .ok_or_else(|| Error::not_found_field("user", user_id.to_string(), field))?;
        if user.municipality_id.as_deref() != Some(municipality_id) {
            return Err(Error::invalid(
                field,
                "the user belongs to another municipality",
            ));
        }
        if !user.active || user.anonymized_at.is_some() {
            return Err(Error::FailedPrecondition(
                Reason::WrongState,
                "the user is not active".into(),
            ));
        }
        Ok(user)
    }

    /// Refuses a period that shares a day with another registration of the user.
    async fn require_no_overlap(
        &self,
        txn: &Txn,
        user_id: &str,
        period: &Period,
        except: Option<&str>,
    ) -> Result<(), Error> {
        let existing = eligibility_registrations::of_user(txn, user_id).await?;
        match existing
            .iter()
            .find(|r| Some(r.id.as_str()) != except && r.period().overlaps(period))
        {
            Some(clash) => Err(Error::FailedPrecondition(
                Reason::WrongState,
                format!(
                    "the user's registration {} is already valid on some of these days",
                    clash.id
                ),
            )),
            None => Ok(()),
        }
    }

    /// Writes a change with its event; the registrations' audit records are the caller's.
    async fn file(
        &self,
        txn: &Txn,
        caller: &Caller,
        kind: EligibilityChangeKind,
        registration: &eligibility_registrations::Model,
        replaced: Option<&eligibility_registrations::Model>,
        note: String,
    ) -> Result<eligibility_changes::Model, Error> {
        let now = self.clock.now();
        // A stop takes effect on its registration's new last day, the others on its first.
        let effective_date = match kind {
            EligibilityChangeKind::Stop => registration.valid_to.unwrap_or(registration.valid_from),
            _ => registration.valid_from,
        };
        let change = eligibility_changes::insert(
            txn,
            eligibility_changes::Model {
                id: Uuid::now_v7().to_string(),
                kind: kind.into(),
                municipality_id: registration.municipality_id.clone(),
                requested_by: caller.subject.clone(),
                requested_at: now,
                registration_id: registration.id.clone(),
                replaced_registration_id: replaced.map(|r| r.id.clone()),
                effective_date,
                note,
            },
        )
        .await?;
        let event = pb::EligibilityChanged {
            change_id: change.id.clone(),
            kind: kind as i32,
            municipality_id: change.municipality_id.clone(),
            registration_id: change.registration_id.clone(),
            replaced_registration_id: change.replaced_registration_id.clone().unwrap_or_default(),
        };
        outbox::publish(txn, now, &change.municipality_id, &event).await?;
        Ok(change)
    }

    async fn audit_registration(
        &self,
        txn: &Txn,
        caller: &Caller,
        registration: &eligibility_registrations::Model,
        action: &str,
        change_id: &str,
    ) -> Result<(), Error> {
        let payload = json!({
            "user_id": registration.user_id,
            "municipality_id": registration.municipality_id,
            "valid_from": registration.valid_from,
            "valid_to": registration.valid_to,
            "change_id": change_id,
        });
        self.audit(
            txn,
            caller,
            AuditedEntity::EligibilityRegistration,
            &registration.id,
            action,
            payload,
        )
        .await
    }

    fn new_registration(
        &self,
        user_id: &str,
        municipality_id: &str,
        period: Period,
    ) -> eligibility_registrations::Model {
        let now = self.clock.now();
        eligibility_registrations::Model {
            id: Uuid::now_v7().to_string(),
            user_id: user_id.to_owned(),
            municipality_id: municipality_id.to_owned(),
            valid_from: period.first,
            valid_to: period.last,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// The change `change_id` as applied, for a replayed request.
    async fn applied(&self, change_id: &str) -> Result<Applied, Error> {
        let change = eligibility_changes::find(&self.db, change_id)
            .await?
            .ok_or_else(|| Error::not_found("eligibility change", change_id))?;
        let registration = eligibility_registrations::find(&self.db, &change.registration_id)
            .await?
            .ok_or_else(|| Error::not_found("registration", &change.registration_id))?;
        let replaced = match &change.replaced_registration_id {
            Some(id) => eligibility_registrations::find(&self.db, id).await?,
            None => None,
        };
        Ok(Applied {
            registration,
            replaced,
            change,
        })
    }

    /// A new support-eligible user.
    pub async fn register_eligible_user(
        &self,
        caller: &Caller,
        new: NewEligibility,
        key: Option<IdempotencyKey>,
    ) -> Result<Applied, Error> {
        domain::may_file_eligibility_change(caller, new.municipality_id)?;
        let municipality_id = new.municipality_id.to_string();
        if municipalities::find(&self.db, &municipality_id)
            .await?
            .is_none()
        {
            return Err(Error::not_found_field(
                "municipality",
                municipality_id,
                "municipality_id",
            ));
        }
        let created = idempotency::run(
            &self.db,
            key,
            self.clock.now(),
            |a: &Applied| a.change.id.clone(),
            async |txn: &Txn| {
                let user = self
                    .eligible_user(txn, new.user_id, &municipality_id, "user_id")
                    .await?;
                self.require_no_overlap(txn, &user.id, &new.period, None)
                    .await?;
                let registration = eligibility_registrations::insert(
                    txn,
                    self.new_registration(&user.id, &municipality_id, new.period),
                )
                .await?;
                let change = self
                    .file(
                        txn,
                        caller,
                        EligibilityChangeKind::New,
                        &registration,
                        None,
                        new.note,
                    )
                    .await?;
                self.audit_registration(txn, caller, &registration, "register", &change.id)
                    .await?;
                Ok(Applied {
                    registration,
                    replaced: None,
                    change,
                })
            },
        )
        .await?;
        self.outbox.notify_committed();
        created
            .or_current(async |change_id| self.applied(&change_id).await)
            .await
    }

    /// A replacement: the replaced registration ends the day before the new user's starts.
    pub async fn replace_eligible_user(
        &self,
        caller: &Caller,
        replacement: Replacement,
        key: Option<IdempotencyKey>,
    ) -> Result<Applied, Error> {
        let replaced_id = replacement.replaced_registration_id.to_string();
        let replaced = eligibility_registrations::find(&self.db, &replaced_id)
            .await?
            .ok_or_else(|| {
                Error::not_found_field("registration", &replaced_id, "replaced_registration_id")
            })?;
        let municipality = Uuid::parse_str(&replaced.municipality_id).map_err(Error::internal)?;
        domain::may_file_eligibility_change(caller, municipality)?;
        let new_period = Period::new(replacement.effective, replacement.last)
            .map_err(|e| refused(e, "valid_to"))?;
        let today = self.today();
        let created = idempotency::run(
            &self.db,
            key,
            self.clock.now(),
            |a: &Applied| a.change.id.clone(),
            async |txn: &Txn| {
                let mut replaced = eligibility_registrations::find(txn, &replaced_id)
                    .await?
                    .ok_or_else(|| {
                        Error::not_found_field(
                            "registration",
                            &replaced_id,
                            "replaced_registration_id",
                        )
                    })?;
                let ended = replaced
                    .period()
                    .replaced_from(replacement.effective, today)
                    .map_err(|e| refused(e, "effective_date"))?;
                let user = self
                    .eligible_user(
                        txn,
                        replacement.new_user_id,
                        &replaced.municipality_id,
                        "new_user_id",
                    )
                    .await?;
                self.require_no_overlap(txn, &user.id, &new_period, Some(&replaced.id))
                    .await?;
                replaced.valid_to = ended.last;
                replaced.version += 1;
                replaced.updated_at = self.clock.now();
                let replaced = update_versioned(txn, replaced).await?;
                let registration = eligibility_registrations::insert(
                    txn,
                    self.new_registration(&user.id, &replaced.municipality_id, new_period),
                )
                .await?;
                let change = self
                    .file(
                        txn,
                        caller,
                        EligibilityChangeKind::Replacement,
                        &registration,
                        Some(&replaced),
                        replacement.note,
                    )
                    .await?;
                self.audit_registration(txn, caller, &replaced, "end by replacement", &change.id)
                    .await?;
                self.audit_registration(
                    txn,
                    caller,
                    &registration,
                    "register as replacement",
                    &change.id,
                )
                .await?;
                Ok(Applied {
                    registration,
                    replaced: Some(replaced),
                    change,
                })
            },
        )
        .await?;
        self.outbox.notify_committed();
        created
            .or_current(async |change_id| self.applied(&change_id).await)
            .await
    }

    /// A stop: the registration's last valid day is set.
    pub async fn stop_eligibility(&self, caller: &Caller, stop: Stop) -> Result<Applied, Error> {
        let id = stop.registration_id.to_string();
        let today = self.today();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut registration = eligibility_registrations::find(&txn, &id)
            .await?
            .ok_or_else(|| Error::not_found_field("registration", &id, "registration_id"))?;
        let municipality =
            Uuid::parse_str(&registration.municipality_id).map_err(Error::internal)?;
        domain::may_file_eligibility_change(caller, municipality)?;
        let stopped = registration
            .period()
            .stopped(stop.last, today)
            .map_err(|e| refused(e, "valid_to"))?;
        registration.valid_to = stopped.last;
        registration.version += 1;
        registration.updated_at = self.clock.now();
        let registration = update_versioned(&txn, registration).await?;
        let change = self
            .file(
                &txn,
                caller,
                EligibilityChangeKind::Stop,
                &registration,
                None,
                stop.note,
            )
            .await?;
        self.audit_registration(&txn, caller, &registration, "stop", &change.id)
            .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(Applied {
            registration,
            replaced: None,
            change,
        })
    }

    fn require_sees(caller: &Caller, municipality_id: Uuid) -> Result<(), Error> {
        if caller.can_see_municipality(municipality_id) {
            Ok(())
        } else {
            Err(Error::PermissionDenied(
                Reason::OtherMunicipality,
                "municipal users see only their own municipality".into(),
            ))
        }
    }

    /// Whether a user may open a support case for a municipality at `at`: a registration of theirs for
    /// it holds that Copenhagen day, and the user is active.
    pub async fn check_eligibility(
        &self,
        caller: &Caller,
        user_id: Uuid,
        municipality_id: Uuid,
        at: Option<DateTime<Utc>>,
    ) -> Result<Eligibility, Error> {
        Self::require_sees(caller, municipality_id)?;
        let date = eligibility::copenhagen_date(at.unwrap_or_else(|| self.clock.now()));
        let user = users::find(&self.db, &user_id.to_string()).await?;
        let Some(user) = user.filter(|u| u.active && u.anonymized_at.is_none()) else {
            return Ok(Eligibility {
                date,
                registration: None,
            });
        };
        let municipality_id = municipality_id.to_string();
        let registration = eligibility_registrations::of_user(&self.db, &user.id)
            .await?
            .into_iter()
            .find(|r| r.municipality_id == municipality_id && r.period().contains(date));
        Ok(Eligibility { date, registration })
    }

    /// A page of a municipality's registrations.
    pub async fn list_eligibility_registrations(
        &self,
        caller: &Caller,
        municipality_id: Uuid,
        user_id: Option<Uuid>,
        page: &Page,
    ) -> Result<(Vec<eligibility_registrations::Model>, PageResponse), Error> {
        Self::require_sees(caller, municipality_id)?;
        let user_id = user_id.map(|u| u.to_string());
        eligibility_registrations::list(
            &self.db,
            &municipality_id.to_string(),
            user_id.as_deref(),
            page,
        )
        .await
    }

    /// A page of a municipality's eligibility changes.
    pub async fn list_eligibility_changes(
        &self,
        caller: &Caller,
        municipality_id: Uuid,
        page: &Page,
    ) -> Result<(Vec<eligibility_changes::Model>, PageResponse), Error> {
        Self::require_sees(caller, municipality_id)?;
        eligibility_changes::list(&self.db, &municipality_id.to_string(), page).await
    }

    /// The baseline date in force.
    pub fn baseline_date(&self) -> NaiveDate {
        self.policy.baseline_date
    }

    /// A municipality's quota on `date` (default today).
    pub async fn quota(
        &self,
        caller: &Caller,
        municipality_id: Uuid,
        date: Option<NaiveDate>,
    ) -> Result<(NaiveDate, Quota), Error> {
        Self::require_sees(caller, municipality_id)?;
        let date = date.unwrap_or_else(|| self.today());
        let periods = eligibility_registrations::periods_of_municipality(
            &self.db,
            &municipality_id.to_string(),
        )
        .await?;
        Ok((
            date,
            eligibility::quota(&periods, date, self.policy.baseline_date),
        ))
    }

    /// Extra user-days per municipality over `first..=last` (suite-wide roles; a municipality's own
    /// users for their own municipality only).
    pub async fn billing_report(
        &self,
        caller: &Caller,
        first: NaiveDate,
        last: NaiveDate,
        municipality_id: Option<Uuid>,
    ) -> Result<Vec<BillingLine>, Error> {
        let municipality_id = match municipality_id {
            Some(m) => {
                Self::require_sees(caller, m)?;
                Some(m.to_string())
            }
            None if caller.has_any_role(&[
                Role::ConsortiumAdmin,
                Role::SupplierSecondLine,
                Role::Service,
            ]) =>
            {
                None
            }
            None => {
                return Err(Error::PermissionDenied(
                    Reason::RoleRequired,
                    "the whole billing report is for the consortium and the supplier".into(),
                ));
            }
        };
        let mut by_municipality: std::collections::BTreeMap<String, Vec<Period>> =
            std::collections::BTreeMap::new();
        for registration in eligibility_registrations::all(&self.db).await? {
            if municipality_id
                .as_ref()
                .is_none_or(|m| *m == registration.municipality_id)
            {
                by_municipality
                    .entry(registration.municipality_id.clone())
                    .or_default()
                    .push(registration.period());
            }
        }
        Ok(by_municipality
            .into_iter()
            .map(|(municipality_id, periods)| BillingLine {
                municipality_id,
                billing: eligibility::billing(&periods, first, last, self.policy.baseline_date),
            })
            .collect())
    }
}
