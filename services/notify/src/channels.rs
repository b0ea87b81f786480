//! The channels' I/O: e-mail over SMTP (or into a local drop directory when no relay is configured)
//! and signed webhook requests. What to send comes from the notification; nothing here decides who
//! hears what.

use std::path::PathBuf;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use kommune_platform::BoxError;

use crate::domain;
use crate::store::notifications;

/// How long one attempt may take before it counts as failed.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong.
    pub reason: String,
    /// True when trying again cannot help (the relay refused the address for good, the webhook is gone).
    pub permanent: bool,
}

impl Failure {
    fn transient(reason: impl std::fmt::Display) -> Self {
        Self {
            reason: reason.to_string(),
            permanent: false,
        }
    }

    fn permanent(reason: impl std::fmt::Display) -> Self {
        Self {
            reason: reason.to_string(),
            permanent: true,
        }
    }
}

/// Where e-mail goes.
pub enum Mailer {
    /// An SMTP relay.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a directory (the standalone default: no relay needed).
    Drop(AsyncFileTransport<Tokio1Executor>),
}

impl Mailer {
    /// The relay at `url` (`smtp://host:port`, `smtps://…`, or with `?tls=required`), or the drop
    /// directory when there is none.
    pub fn new(url: Option<&str>, drop_dir: PathBuf) -> Result<Self, BoxError> {
        Ok(match url {
            Some(url) => Self::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
                    .timeout(Some(ATTEMPT_TIMEOUT))
                    .build(),
            ),
            None => {
                std::fs::create_dir_all(&drop_dir)?;
                Self::Drop(AsyncFileTransport::new(drop_dir))
            }
        })
    }
}

/// The senders of every channel but the inbox (which needs no sending).
pub struct Senders {
    mailer: Mailer,
    from: Mailbox,
    webhook_hosts: domain::WebhookHosts,
    http: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Senders {
    /// Senders with `mailer`, writing from `from` (e.g. `kommune <noreply@kommune.dk>`), posting
    /// webhooks only to `webhook_hosts`.
    pub fn new(
        mailer: Mailer,
        from: &str,
        webhook_hosts: domain::WebhookHosts,
    ) -> Result<Self, BoxError> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            mailer,
            from: from.parse()?,
            webhook_hosts,
            http: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// The hosts webhooks may go to.
    pub fn webhook_hosts(&self) -> &domain::WebhookHosts {
        &self.webhook_hosts
    }

    /// Sends a notification by e-mail: plain text and HTML, with its stable `Message-ID` (and, in a
    /// thread, `In-Reply-To` and `References`).
    pub async fn email(&self, n: &notifications::Model) -> Result<(), Failure> {
        let to: Mailbox = n.address.parse().map_err(Failure::permanent)?;
        let mut message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&n.subject)
            .message_id(Some(n.mail_message_id()));
        // A mail of a thread another service keeps answers its latest and refers to them all.
        if !n.in_reply_to.is_empty() {
            message = message.in_reply_to(n.in_reply_to.clone());
        }
        if !n.thread_references.is_empty() {
            message = message.references(n.thread_references.clone());
        }
        let message = message
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(n.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(n.html.clone()),
                    ),
            )
            .map_err(Failure::permanent)?;
        match &self.mailer {
            Mailer::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|err| {
                if err.is_permanent() {
                    Failure::permanent(err)
                } else {
                    Failure::transient(err)
                }
            }),
            Mailer::Drop(drop) => drop
                .send(message)
                .await
                .map(|_| ())
                .map_err(Failure::transient),
        }
    }

    /// Posts a notification to a Teams-style incoming webhook, signed with the shared secret: the
    /// headers `X-Kommune-Timestamp` and `X-Kommune-Signature` (see [`domain::webhook_signature`]).
    pub async fn webhook(
        &self,
        url: &str,
        secret: &str,
        n: &notifications::Model,
        now: i64,
    ) -> Result<(), Failure> {
        // Checked again at sending: the allowed hosts may have narrowed since the subscription.
        domain::check_webhook_url(url, &self.webhook_hosts)
            .map_err(|reason| Failure::permanent(format!("the webhook URL {reason}")))?;
        let body = serde_json::to_vec(&serde_json::json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": n.subject,
            "title": n.subject,
            "text": n.text,
        }))
        .map_err(Failure::permanent)?;
        let request = http::Request::post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("x-kommune-timestamp", now.to_string())
            .header(
                "x-kommune-signature",
                domain::webhook_signature(secret, now, &body),
            )
            .header("x-kommune-notification-id", n.id.as_str())
            .body(Full::new(Bytes::from(body)))
            .map_err(Failure::permanent)?;
        let response = tokio::time::timeout(ATTEMPT_TIMEOUT, self.http.request(request))
            .await
            .map_err(|_| Failure::transient("the webhook did not answer in time"))?
            .map_err(Failure::transient)?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_client_error()
            && status != http::StatusCode::TOO_MANY_REQUESTS
            && status != http::StatusCode::REQUEST_TIMEOUT
        {
            Err(Failure::permanent(format!("the webhook answered {status}")))
        } else {
            Err(Failure::transient(format!("the webhook answered {status}")))
        }
    }
}
