//! Retention: each kind of data a service keeps only so long ([`Kind`]), a policy of how many days
//! each is kept ([`Policy`], configurable), and the one sweep per service that removes what is due
//! ([`Sweeper`]). Replicas take turns per kind (an advisory lock on PostgreSQL; SQLite has one
//! writer), each round removes at most a page in one transaction, so the work is done once and the
//! memory stays flat whatever the backlog. Every round that removes something is audited (entity
//! `retention`, the kind's name) with how many and up to when — never with what was removed.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use crate::audit::AuditEntry;
use crate::db::Txn;
use crate::error::Error;
use crate::records::AuditLog;

/// The entity type of the audit records retention writes.
pub const AUDITED: &str = "retention";

/// The longest retention a setting may give: a hundred years.
pub const MAX_DAYS: u32 = 36_500;

/// How many rows one round of a kind removes at most.
pub const PAGE: u64 = 500;

/// What removes up to `limit` rows of a kind due (older than `cutoff`) in the transaction at `now`,
/// answering how many it removed.
pub type Purge =
    for<'a> fn(&'a Txn, Due, u64) -> Pin<Box<dyn Future<Output = Result<u64, Error>> + Send + 'a>>;

/// When a sweep runs and what is due by then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// Rows older than this are due.
    pub cutoff: DateTime<Utc>,
    /// Now.
    pub now: DateTime<Utc>,
}

/// A kind of data kept only so long.
#[derive(Clone, Copy)]
pub struct Kind {
    /// Its name in the policy, e.g. `idempotency_keys`.
    pub name: &'static str,
    /// Days it is kept by default.
    pub default_days: u32,
    /// What it is and from when its days count, for the docs and the logs.
    pub about: &'static str,
    /// Removes what is due.
    pub purge: Purge,
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kind")
            .field("name", &self.name)
            .field("default_days", &self.default_days)
            .finish_non_exhaustive()
    }
}

/// Why a retention setting is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadPolicy {
    /// Not `kind=days` or `service.kind=days`.
    #[error("retention setting {0:?} is not kind=days or service.kind=days")]
    Malformed(String),
    /// A service that is not one of the suite's.
    #[error("retention names the service {0:?}, which is not one of the suite's")]
    UnknownService(String),
    /// A kind the service (or, unqualified, every service) does not keep.
    #[error("retention names {0:?}, which {1} does not keep (it keeps: {2})")]
    UnknownKind(String, String, String),
    /// Zero, negative or not a number of days.
    #[error("retention of {0} must be a whole number of days from 1 to 36500, not {1:?}")]
    BadDays(String, String),
}

/// How many days each kind is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy(BTreeMap<&'static str, u32>);

impl Policy {
    /// The defaults of `service`'s `kinds`, overridden by `settings`: comma-separated `kind=days`
    /// for the kinds every service keeps ([`platform_kinds`]), `service.kind=days` for one service's
    /// own. So one setting serves the whole suite: each service takes what names it and checks it.
    pub fn parse(service: &str, kinds: &[Kind], settings: &str) -> Result<Self, BadPolicy> {
        let mut days: BTreeMap<&'static str, u32> =
            kinds.iter().map(|k| (k.name, k.default_days)).collect();
        let shared: Vec<&str> = platform_kinds().iter().map(|k| k.name).collect();
        for setting in settings.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) = setting
                .split_once('=')
                .ok_or_else(|| BadPolicy::Malformed(setting.to_owned()))?;
            let (name, value) = (name.trim(), value.trim());
            let (owner, kind_name, allowed): (&str, &str, Vec<&str>) = match name.split_once('.') {
                Some((owner, kind)) => {
                    if crate::service::ServiceRole::parse(owner).is_none() {
                        return Err(BadPolicy::UnknownService(owner.to_owned()));
                    }
                    if owner != service {
                        continue;
                    }
                    (owner, kind, kinds.iter().map(|k| k.name).collect())
                }
                None => ("every service", name, shared.clone()),
            };
            let kind = kinds
                .iter()
                .find(|k| k.name == kind_name && allowed.contains(&k.name))
                .ok_or_else(|| {
                    BadPolicy::UnknownKind(name.to_owned(), owner.to_owned(), allowed.join(", "))
                })?;
            let parsed = value
                .parse::<u32>()
                .ok()
                .filter(|d| (1..=MAX_DAYS).contains(d))
                .ok_or_else(|| BadPolicy::BadDays(name.to_owned(), value.to_owned()))?;
            days.insert(kind.name, parsed);
        }
        Ok(Self(days))
    }

    /// Days `kind` is kept.
    pub fn days(&self, kind: &str) -> Option<u32> {
        self.0.get(kind).copied()
    }
}

/// The kinds every service keeps: idempotency keys and its event feed.
pub fn platform_kinds() -> Vec<Kind> {
    vec![
        Kind {
            name: "idempotency_keys",
            default_days: 30,
            about: "the keys that make retries safe, from when they were first used",
            purge: |txn, due, limit| Box::pin(crate::idempotency::purge(txn, due.cutoff, limit)),
        },
        Kind {
            name: "events",
            default_days: 365,
            about: "the event feed's events, from when they were committed (a consumer further behind misses them)",
            purge: |txn, due, limit| Box::pin(crate::outbox::purge(txn, due.cutoff, limit)),
        },
    ]
}

/// Deletes the rows of `E` whose primary key (a string or number `id`) is among `ids`.
pub async fn delete_ids<E, V>(
    txn: &impl ConnectionTrait,
    column: E::Column,
    ids: Vec<V>,
) -> Result<u64, Error>
where
    E: EntityTrait,
    V: Into<sea_orm::Value>,
{
    if ids.is_empty() {
        return Ok(0);
    }
    let result = E::delete_many().filter(column.is_in(ids)).exec(txn).await?;
    Ok(result.rows_affected)
}

/// The ids (column `id_column`) of up to `limit` rows of `E` matching `due`, oldest by `order`
/// first.
pub async fn due_ids<E, V>(
    txn: &impl ConnectionTrait,
    id_column: E::Column,
    order: E::Column,
    due: sea_orm::Condition,
    limit: u64,
) -> Result<Vec<V>, Error>
where
    E: EntityTrait,
    V: sea_orm::TryGetable,
{
    Ok(E::find()
        .select_only()
        .column(id_column)
        .filter(due)
        .order_by_asc(order)
        .limit(limit)
        .into_tuple::<V>()
        .all(txn)
        .await?)
}

/// The one sweep of a service's retention.
pub struct Sweeper {
    log: AuditLog,
    kinds: Vec<Kind>,
    policy: Policy,
}

impl Sweeper {
    /// A sweep of `kinds` by `policy`, writing and auditing through the service's audit log.
    pub fn new(log: AuditLog, kinds: Vec<Kind>, policy: Policy) -> Self {
        Self { log, kinds, policy }
    }

    /// Removes everything due now, kind by kind, a page per transaction; how many of each kind.
    pub async fn sweep(&self) -> Result<Vec<(&'static str, u64)>, Error> {
        let now = self.log.clock.now();
        let mut removed = Vec::new();
        for kind in &self.kinds {
            let days = self.policy.days(kind.name).unwrap_or(kind.default_days);
            let cutoff = now - Duration::days(i64::from(days));
            let mut total = 0;
            loop {
                let txn = crate::db::begin(&self.log.db).await?;
                crate::db::advisory_lock(&txn, &format!("kommune retention {}", kind.name)).await?;
                let n = (kind.purge)(&txn, Due { cutoff, now }, PAGE).await?;
                if n == 0 {
                    txn.rollback().await?;
                    break;
                }
                let system = crate::auth::Caller::system("retention");
                let entry = AuditEntry::new(
                    &system,
                    AUDITED,
                    kind.name,
                    "purge",
                    now,
                    serde_json::json!({"removed": n, "before": cutoff, "days": days}),
                );
                crate::audit::record(&txn, &self.log.keys, entry).await?;
                txn.commit().await?;
                total += n;
                if n < PAGE {
                    break;
                }
            }
            if total > 0 {
                tracing::info!(
                    kind = kind.name,
                    removed = total,
                    days,
                    "retention removed what was due"
                );
            }
            removed.push((kind.name, total));
        }
        Ok(removed)
    }

    /// Sweeps every `interval` until the service stops.
    pub async fn run(self, interval: std::time::Duration) {
        loop {
            tokio::time::sleep(interval).await;
            if let Err(err) = self.sweep().await {
                tracing::warn!(error = %err, "cannot remove the data past its retention");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kinds of a service that keeps one of its own.
    fn kinds() -> Vec<Kind> {
        let mut kinds = platform_kinds();
        kinds.push(Kind {
            name: "case_attachments",
            default_days: 365,
            about: "",
            purge: |_, _, _| Box::pin(async { Ok(0) }),
        });
        kinds
    }

    #[test]
    fn defaults_hold_until_a_setting_overrides_them() {
        let policy = Policy::parse("cases", &kinds(), "").unwrap();
        assert_eq!(policy.days("idempotency_keys"), Some(30));
        assert_eq!(policy.days("case_attachments"), Some(365));
        let policy = Policy::parse(
            "cases",
            &kinds(),
            " events = 90 ,idempotency_keys=7, cases.case_attachments=180",
        )
        .unwrap();
        assert_eq!(
            (
                policy.days("events"),
                policy.days("idempotency_keys"),
                policy.days("case_attachments")
            ),
            (Some(90), Some(7), Some(180))
        );
    }

    #[test]
    fn one_setting_serves_the_suite_each_service_taking_its_own() {
        let shared = "events=90,cases.case_attachments=180,notify.notifications=30";
        let other = Policy::parse("klik", &platform_kinds(), shared).unwrap();
        assert_eq!(other.days("events"), Some(90));
        assert_eq!(other.days("case_attachments"), None);
        let cases = Policy::parse("cases", &kinds(), shared).unwrap();
        assert_eq!(cases.days("case_attachments"), Some(180));
    }

    #[test]
    fn bad_settings_are_named() {
        for (setting, expected) in [
            ("events=0", BadPolicy::BadDays("events".into(), "0".into())),
            (
                "events=-3",
                BadPolicy::BadDays("events".into(), "-3".into()),
            ),
            (
                "events=soon",
                BadPolicy::BadDays("events".into(), "soon".into()),
            ),
            (
                "cases.case_attachments=0",
                BadPolicy::BadDays("cases.case_attachments".into(), "0".into()),
            ),
            ("events", BadPolicy::Malformed("events".into())),
            ("kases.events=3", BadPolicy::UnknownService("kases".into())),
        ] {
            assert_eq!(
                Policy::parse("cases", &kinds(), setting).unwrap_err(),
                expected
            );
        }
        for setting in ["case_attachments=30", "cases.citizens=30"] {
            assert!(
                matches!(
                    Policy::parse("cases", &kinds(), setting).unwrap_err(),
                    BadPolicy::UnknownKind(..)
                ),
                "{setting}"
            );
        }
    }
}
