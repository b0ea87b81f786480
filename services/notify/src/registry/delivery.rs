//! Delivery: a worker claims due notifications (a lease, so two replicas never send one twice and a
//! crashed worker's claims lapse), sends each by its channel, and settles it: delivered, tried again
//! later with backoff and jitter, or dead with the reason.

use serde_json::json;
use tokio::sync::watch;
use uuid::Uuid;

use kommune_platform::Error;
use kommune_platform::records::AuditTrail as _;
use kommune_proto::notify::v1::{Channel, DeliveryState};

use super::Registry;
use crate::channels::Failure;
use crate::store::{notifications, subscriptions};

/// The longest an attempt may take when the lease cannot say.
const ATTEMPT_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// A random number in [0, 1) for retry jitter.
fn jitter() -> f64 {
    f64::from(getrandom::u32().unwrap_or(u32::MAX / 2)) / (f64::from(u32::MAX) + 1.0)
}

impl Registry {
    /// Claims and sends one batch of due notifications. Returns how many were claimed (0: nothing
    /// due). Each claim is renewed right before its attempt, and an attempt is cut off well within the
    /// lease, so no other worker can take a notification while it is being sent. When `stopping` turns
    /// true the claims not yet attempted are given back, so a stop waits for one attempt at most.
    pub async fn deliver_due(&self, stopping: &watch::Receiver<bool>) -> Result<usize, Error> {
        let token = Uuid::new_v4().to_string();
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let claimed = notifications::claim(
            &txn,
            &token,
            now,
            now + self.policy.lease,
            self.policy.batch,
        )
        .await?;
        txn.commit().await?;
        let count = claimed.len();
        for notification in claimed {
            if *stopping.borrow() {
                notifications::release(&self.db, &token).await?;
                break;
            }
            let until = self.clock.now() + self.policy.lease;
            if !notifications::renew(&self.db, &notification.id, &token, until).await? {
                continue;
            }
            let limit = (self.policy.lease / 2).to_std().unwrap_or(ATTEMPT_LIMIT);
            let outcome = tokio::time::timeout(limit, self.send(&notification))
                .await
                .unwrap_or_else(|_| {
                    Err(Failure {
                        reason: "the attempt took too long".into(),
                        permanent: false,
                    })
                });
            self.settle(&token, notification, outcome).await?;
        }
        Ok(count)
    }

    async fn send(&self, n: &notifications::Model) -> Result<(), Failure> {
        match *n.channel {
            Channel::Email => self.senders.email(n).await,
            Channel::Webhook => {
                let subscription = match &n.subscription_id {
                    Some(id) => subscriptions::find(&self.db, id)
                        .await
                        .map_err(|err| Failure {
                            reason: err.to_string(),
                            permanent: false,
                        })?,
                    None => None,
                };
                let Some(subscription) = subscription.filter(|s| !s.opted_out) else {
                    return Err(Failure {
                        reason: "the webhook subscription is gone".into(),
                        permanent: true,
                    });
                };
                self.senders
                    .webhook(
                        &subscription.webhook_url,
                        &subscription.webhook_secret,
                        n,
                        self.clock.now().timestamp(),
                    )
                    .await
            }
            Channel::Inbox | Channel::Unspecified => Ok(()),
        }
    }

    async fn settle(
        &self,
        token: &str,
        mut n: notifications::Model,
        outcome: Result<(), Failure>,
    ) -> Result<(), Error> {
        let now = self.clock.now();
        n.attempts += 1;
        let dead_reason = match outcome {
            Ok(()) => {
                n.state = DeliveryState::Delivered.into();
                n.delivered_at = Some(now);
                n.last_error = String::new();
                None
            }
            Err(failure) => {
                let next = (!failure.permanent)
                    .then(|| self.policy.retry.next_attempt(n.attempts, now, jitter()))
                    .flatten();
                n.last_error = failure.reason;
                match next {
                    Some(at) => {
                        tracing::warn!(
                            notification = %n.id,
                            attempts = n.attempts,
                            error = %n.last_error,
                            "delivery failed; retrying later",
                        );
                        n.next_attempt_at = at;
                        None
                    }
                    None => {
                        n.state = DeliveryState::Dead.into();
                        Some(n.last_error.clone())
                    }
                }
            }
        };
        let txn = kommune_platform::db::begin(&self.db).await?;
        let id = n.id.clone();
        if !notifications::settle(&txn, token, n).await? {
            // The claim lapsed and another worker took the notification over; its outcome stands.
            tracing::warn!(notification = %id, "claim lost before settling");
            return Ok(());
        }
        if let Some(reason) = dead_reason {
            tracing::warn!(notification = %id, %reason, "delivery given up");
            self.audit(
                &txn,
                &kommune_platform::auth::Caller::system("delivery"),
                "notification",
                &id,
                "dead-letter",
                json!({"reason": reason}),
            )
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}
