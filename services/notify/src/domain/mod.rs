//! The rules of notify as plain functions: who hears an event and by which channel, when a failed
//! delivery is tried again, how a webhook request is signed, and which texts ([`templates`]) and feeds
//! ([`atom`]) are written. No I/O here.

pub mod atom;
pub mod templates;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use kommune_platform::validate::parse_date;
use kommune_proto::klik::v1 as klik;
use kommune_proto::notify::v1::{Channel, Language, TopicKind};
use sha2::Sha256;

/// A topic: its kind and, for kinds about one thing, that thing's id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Topic {
    /// The kind.
    pub kind: TopicKind,
    /// The system or project; empty for the other kinds.
    pub target_id: String,
}

impl Topic {
    /// A topic about nothing in particular.
    pub fn of(kind: TopicKind) -> Self {
        Self {
            kind,
            target_id: String::new(),
        }
    }

    /// A topic about one thing.
    pub fn about(kind: TopicKind, target_id: impl Into<String>) -> Self {
        Self {
            kind,
            target_id: target_id.into(),
        }
    }
}

/// Whether a topic kind is about one thing (and so needs a target).
pub fn needs_target(kind: TopicKind) -> bool {
    matches!(kind, TopicKind::OperationalMessages | TopicKind::Project)
}

/// A subscription as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The subscription.
    pub subscription_id: String,
    /// Its user.
    pub user_id: String,
    /// Its channel.
    pub channel: Channel,
    /// Its language.
    pub language: Language,
    /// Opted out.
    pub opted_out: bool,
}

/// One delivery an event leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The user.
    pub user_id: String,
    /// The channel.
    pub channel: Channel,
    /// The language.
    pub language: Language,
    /// The subscription that chose it; `None` for the default channels.
    pub subscription_id: Option<String>,
}

/// The channels of the default audience: e-mail and the inbox, in Danish.
pub const DEFAULT_CHANNELS: [Channel; 2] = [Channel::Email, Channel::Inbox];

/// Whether a topic kind reaches only its default audience (the people the event concerns): a
/// subscription then only changes how they hear it, so nobody subscribes their way into another
/// municipality's cases or the supplier's reminders. The other kinds (operational messages, projects,
/// the change-request publication) are open to every subscriber.
pub fn audience_bound(kind: TopicKind) -> bool {
    matches!(
        kind,
        TopicKind::CaseUpdates
            | TopicKind::IncidentUpdates
            | TopicKind::Reminders
            | TopicKind::OrderUpdates
    )
}

/// Who hears an event of a topic: the default `audience` (reporters, eligible users, project leaders,
/// the support) by their subscriptions' channels or else by e-mail and inbox, and, unless the topic is
/// [`audience_bound`], every other subscriber by their channels. Whoever opted out of the topic hears
/// nothing, whatever their other subscriptions to it. `choices` are the subscriptions to the topic.
/// Each user and channel once, in a stable order.
pub fn recipients(kind: TopicKind, audience: &[String], choices: &[Choice]) -> Vec<Recipient> {
    let opted_out = |user: &str| choices.iter().any(|c| c.user_id == user && c.opted_out);
    let mut found: Vec<Recipient> = Vec::new();
    let mut add = |recipient: Recipient| {
        if !found
            .iter()
            .any(|r| r.user_id == recipient.user_id && r.channel == recipient.channel)
        {
            found.push(recipient);
        }
    };
    for user in audience {
        if opted_out(user) || choices.iter().any(|c| c.user_id == *user) {
            continue;
        }
        for channel in DEFAULT_CHANNELS {
            add(Recipient {
                user_id: user.clone(),
                channel,
                language: Language::Danish,
                subscription_id: None,
            });
        }
    }
    for choice in choices {
        let heard = !audience_bound(kind) || audience.contains(&choice.user_id);
        if heard && !opted_out(&choice.user_id) {
            add(Recipient {
                user_id: choice.user_id.clone(),
                channel: choice.channel,
                language: choice.language,
                subscription_id: Some(choice.subscription_id.clone()),
            });
        }
    }
    found.sort_by(|a, b| {
        (a.user_id.as_str(), a.channel as i32).cmp(&(b.user_id.as_str(), b.channel as i32))
    });
    found
}

/// The project leader named on a municipality's enrolment in a klik project, if it is enrolled with
/// one. Tasks and deadlines of the project go to that leader; the caller falls back to the
/// municipality's project-leader role holders only when there is none (e.g. K98 tasks reach
/// municipalities not enrolled at all).
pub fn named_leader(enrolments: &[klik::Enrolment], municipality_id: &str) -> Option<String> {
    enrolments
        .iter()
        .find(|e| e.municipality_id == municipality_id && !e.project_leader_user_id.is_empty())
        .map(|e| e.project_leader_user_id.clone())
}

/// How a delivery is retried: exponential backoff from `base` up to `max`, with jitter, until
/// `attempts` attempts have failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first wait.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
    /// Attempts before the notification is dead.
    pub attempts: i32,
}

impl RetryPolicy {
    /// The production policy: 10 s doubling up to an hour, 12 attempts (about six hours in all).
    pub const STANDARD: Self = Self {
        base: Duration::seconds(10),
        max: Duration::hours(1),
        attempts: 12,
    };

    /// When to try again after `failed` failed attempts (1 for the first), or `None` to give up.
    /// `jitter` in [0, 1) spreads the retries of many notifications over the upper half of the wait.
    pub fn next_attempt(
        &self,
        failed: i32,
        now: DateTime<Utc>,
        jitter: f64,
    ) -> Option<DateTime<Utc>> {
        if failed >= self.attempts {
            return None;
        }
        let doubling = 2_i64.saturating_pow(u32::try_from(failed - 1).unwrap_or(0).min(30));
        let wait = self
            .base
            .num_milliseconds()
            .saturating_mul(doubling)
            .min(self.max.num_milliseconds());
        let spread = (wait as f64 * (0.5 + jitter.clamp(0.0, 1.0) / 2.0)) as i64;
        Some(now + Duration::milliseconds(spread.max(1)))
    }
}

/// Whether an eligibility registration covers `day` (both ends inclusive; an empty end is open).
pub fn covers(valid_from: &str, valid_to: &str, day: NaiveDate) -> bool {
    let from_ok = parse_date(valid_from).is_some_and(|from| from <= day);
    let to_ok = valid_to.is_empty() || parse_date(valid_to).is_some_and(|to| day <= to);
    from_ok && to_ok
}

/// Whether a deadline (`YYYY-MM-DD`) falls from `today` to `within` later, both days inclusive.
pub fn due_within(deadline: &str, today: NaiveDate, within: Duration) -> bool {
    parse_date(deadline).is_some_and(|due| today <= due && due <= today + within)
}

/// The signature header value of a webhook request: `sha256=` and the hex HMAC-SHA256, under the shared
/// secret, of the timestamp, a dot and the body (the receiver checks it and the timestamp's age).
pub fn webhook_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// An entry of the webhook hosts that is no host pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is neither a host name nor `*.` and a domain")]
pub struct BadHostPattern(pub String);

/// Why a webhook URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadWebhookUrl {
    /// Not an absolute http or https URL.
    #[error("must be an absolute http(s) URL")]
    NotAbsoluteHttp,
    /// Its host is not among those webhooks may go to.
    #[error("must be on a host webhooks may go to ({0})")]
    HostNotAllowed(String),
}

/// The hosts webhooks may be sent to: any (the default, for a suite on one machine), or only those an
/// operator lists, so that a subscription cannot make the service call into its own network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookHosts {
    /// Lowercased host names, or `*.` and a domain for any host under it; empty for any host.
    patterns: Vec<String>,
}

impl WebhookHosts {
    /// Reads a comma-separated list such as `*.webhook.office.com, hooks.kommune.dk`; empty for any.
    pub fn parse(list: &str) -> Result<Self, BadHostPattern> {
        let patterns: Vec<String> = list
            .split(',')
            .map(|p| p.trim().to_lowercase())
            .filter(|p| !p.is_empty())
            .collect();
        for pattern in &patterns {
            let name = pattern.strip_prefix("*.").unwrap_or(pattern);
            let well_formed = !name.is_empty()
                && name.split('.').all(|label| {
                    !label.is_empty()
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            if !well_formed {
                return Err(BadHostPattern(pattern.clone()));
            }
        }
        Ok(Self { patterns })
    }

    /// Whether a webhook may go to `host`.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_lowercase();
        self.patterns.is_empty()
            || self
                .patterns
                .iter()
                .any(|pattern| match pattern.strip_prefix("*.") {
                    Some(domain) => host
                        .strip_suffix(domain)
                        .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
                    None => host == *pattern,
                })
    }
}

impl std::fmt::Display for WebhookHosts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.patterns.is_empty() {
            f.write_str("any host")
        } else {
            f.write_str(&self.patterns.join(", "))
        }
    }
}

/// Checks a webhook URL: absolute http or https, with a host that `hosts` allows.
pub fn check_webhook_url(url: &str, hosts: &WebhookHosts) -> Result<(), BadWebhookUrl> {
    let uri: http::Uri = url.parse().map_err(|_| BadWebhookUrl::NotAbsoluteHttp)?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => {
            if hosts.allows(host) {
                Ok(())
            } else {
                Err(BadWebhookUrl::HostNotAllowed(hosts.to_string()))
            }
        }
        _ => Err(BadWebhookUrl::NotAbsoluteHttp),
    }
}

/// The shortest webhook secret accepted.
pub const MIN_WEBHOOK_SECRET: usize = 16;

/// The `Message-ID` of a notification's e-mail: the same for every attempt, so a relay or reader can
/// drop a repeat.
pub fn message_id(notification_id: &str) -> String {
    format!("<{notification_id}@notify.kommune>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(user: &str, channel: Channel, opted_out: bool) -> Choice {
        Choice {
            subscription_id: format!("sub-{user}-{}", channel as i32),
            user_id: user.into(),
            channel,
            language: Language::English,
            opted_out,
        }
    }

    #[test]
    fn the_audience_hears_by_default_subscribers_by_choice_and_opted_out_users_not_at_all() {
        let audience = ["anne".to_owned(), "bo".to_owned(), "cai".to_owned()];
        let choices = [
            choice("bo", Channel::Webhook, false),
            choice("cai", Channel::Email, true),
            choice("cai", Channel::Inbox, false),
            choice("dan", Channel::Inbox, false),
        ];
        let heard = |kind| {
            recipients(kind, &audience, &choices)
                .into_iter()
                .map(|r| (r.user_id, r.channel))
                .collect::<Vec<_>>()
        };
        let open = heard(TopicKind::OperationalMessages);
        assert_eq!(
            open,
            [
                ("anne".to_owned(), Channel::Email),
                ("anne".to_owned(), Channel::Inbox),
                ("bo".to_owned(), Channel::Webhook),
                ("dan".to_owned(), Channel::Inbox),
            ],
            "cai opted out, so their inbox subscription is silent too"
        );
        let bound = heard(TopicKind::CaseUpdates);
        assert!(
            !bound.iter().any(|(user, _)| user == "dan"),
            "a subscriber outside the audience does not hear a case: {bound:?}"
        );
        assert_eq!(bound.len(), 3);
    }

    #[test]
    fn the_enrolment_names_the_project_leader() {
        let enrolment = |municipality: &str, leader: &str| klik::Enrolment {
            municipality_id: municipality.into(),
            project_leader_user_id: leader.into(),
            ..Default::default()
        };
        let enrolments = [enrolment("aarhus", "pl-aarhus"), enrolment("odense", "")];
        assert_eq!(
            named_leader(&enrolments, "aarhus").as_deref(),
            Some("pl-aarhus")
        );
        assert_eq!(named_leader(&enrolments, "odense"), None, "none named");
        assert_eq!(named_leader(&enrolments, "vejle"), None, "not enrolled");
    }

    #[test]
    fn retries_back_off_exponentially_with_jitter_and_give_up() {
        let policy = RetryPolicy {
            base: Duration::seconds(10),
            max: Duration::seconds(60),
            attempts: 5,
        };
        let now = DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default();
        let wait = |failed, jitter| policy.next_attempt(failed, now, jitter).map(|t| t - now);
        assert_eq!(wait(1, 1.0), Some(Duration::seconds(10)));
        assert_eq!(wait(1, 0.0), Some(Duration::seconds(5)));
        assert_eq!(wait(2, 1.0), Some(Duration::seconds(20)));
        assert_eq!(wait(4, 1.0), Some(Duration::seconds(60)), "capped");
        assert_eq!(wait(5, 0.5), None, "given up");
    }

    #[test]
    fn registrations_cover_their_days_inclusively() {
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap_or_default();
        assert!(covers("2025-01-01", "", day("2030-01-01")));
        assert!(covers("2025-01-01", "2025-01-31", day("2025-01-31")));
        assert!(!covers("2025-01-01", "2025-01-31", day("2025-02-01")));
        assert!(!covers("2025-02-01", "", day("2025-01-31")));
    }

    #[test]
    fn deadlines_are_near_from_today_to_the_last_day_of_the_horizon() {
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap_or_default();
        let week = Duration::days(7);
        assert!(due_within("2025-03-10", day("2025-03-10"), week));
        assert!(due_within("2025-03-17", day("2025-03-10"), week));
        assert!(!due_within("2025-03-18", day("2025-03-10"), week));
        assert!(
            !due_within("2025-03-09", day("2025-03-10"), week),
            "already late"
        );
        assert!(!due_within("", day("2025-03-10"), week));
    }

    #[test]
    fn webhook_requests_are_signed_and_urls_checked() {
        let signature = webhook_signature("0123456789abcdef", 1_750_000_000, b"{}");
        assert!(signature.starts_with("sha256="));
        assert_eq!(signature.len(), 7 + 64);
        assert_ne!(
            signature,
            webhook_signature("0123456789abcdeF", 1_750_000_000, b"{}")
        );
        let any = WebhookHosts::default();
        assert!(check_webhook_url("https://outlook.office.com/webhook/abc", &any).is_ok());
        assert!(check_webhook_url("http://127.0.0.1:8080/hook", &any).is_ok());
        assert!(check_webhook_url("ftp://example.org/x", &any).is_err());
        assert!(check_webhook_url("/relative", &any).is_err());
        assert!(check_webhook_url("not a url", &any).is_err());
    }

    #[test]
    fn webhooks_go_only_to_the_hosts_an_operator_lists() {
        let hosts =
            WebhookHosts::parse(" *.Webhook.Office.com , hooks.kommune.dk,").unwrap_or_default();
        assert!(hosts.allows("aarhus.webhook.office.com"));
        assert!(hosts.allows("AARHUS.webhook.office.com."));
        assert!(hosts.allows("hooks.kommune.dk"));
        assert!(
            !hosts.allows("webhook.office.com"),
            "a pattern's domain itself is not under it"
        );
        assert!(!hosts.allows("evilwebhook.office.com"));
        assert!(!hosts.allows("sub.hooks.kommune.dk"));
        assert!(!hosts.allows("127.0.0.1"));
        assert!(
            check_webhook_url("http://169.254.169.254/latest/meta-data", &hosts).is_err_and(|e| e
                .to_string()
                .contains("*.webhook.office.com, hooks.kommune.dk"))
        );
        assert!(check_webhook_url("https://x.webhook.office.com/hook", &hosts).is_ok());
        assert!(WebhookHosts::parse("*.").is_err());
        assert!(WebhookHosts::parse("http://x.dk").is_err());
        assert_eq!(
            WebhookHosts::parse(" , ").map(|h| h.allows("10.0.0.1")),
            Ok(true)
        );
    }
}
