//! The desk's mailbox over IMAP: each poll reads a batch of the folder's mails, hands each to
//! [`Registry::receive_mail`] and, once that committed, deletes it from the folder. A mail whose
//! handling fails (identity away, a database error) stays for the next poll; one handled before (a
//! crash between commit and delete, another replica) is recognised by its Message-ID and only deleted.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use mail_parser::{MessageParser, MimeHeaders};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use kommune_platform::Error;
use kommune_platform::auth::Caller;
use kommune_platform::consumer::ServiceCredentials;
use kommune_proto::identity::v1::Role;

use crate::domain::mail::{InboundMail, MailAttachment};
use crate::registry::{MailboxDesk, Registry};

/// The most mails one poll reads, so a full folder is worked through in bounded steps.
const BATCH: usize = 25;

/// How long one IMAP exchange may take before the poll gives up and tries again later.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the desk's mail is read.
#[derive(Debug, Clone)]
pub struct MailboxOptions {
    /// `imap://host:port/folder` (plain, for a server on loopback or inside the cluster) or
    /// `imaps://host:port/folder` (TLS); the folder defaults to INBOX.
    pub url: String,
    /// The IMAP login.
    pub user: String,
    /// The IMAP password.
    pub password: String,
    /// The system and area mailed cases are filed under.
    pub desk: MailboxDesk,
    /// How often the folder is read.
    pub poll: Duration,
    /// The largest mail taken; a larger one is read by its headers alone and refused back to its
    /// sender, so no mail's size reaches memory.
    pub max_mail_bytes: u64,
}

/// The largest mail taken by default (what mail servers commonly accept).
pub const DEFAULT_MAX_MAIL_BYTES: u64 = 25 * 1024 * 1024;

/// An IMAP server's address, as [`MailboxOptions::url`] names it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    host: String,
    port: u16,
    tls: bool,
    folder: String,
}

fn endpoint(url: &str) -> Result<Endpoint, Error> {
    let invalid = |why: &str| Error::invalid("mailbox_url", format!("{why}: {url}"));
    let parsed = url::Url::parse(url).map_err(|_| invalid("is not a URL"))?;
    let tls = match parsed.scheme() {
        "imap" => false,
        "imaps" => true,
        _ => return Err(invalid("must start imap:// or imaps://")),
    };
    let host = parsed.host_str().ok_or_else(|| invalid("names no host"))?;
    let folder = parsed.path().trim_matches('/');
    Ok(Endpoint {
        host: host.to_owned(),
        port: parsed.port().unwrap_or(if tls { 993 } else { 143 }),
        tls,
        folder: if folder.is_empty() { "INBOX" } else { folder }.to_owned(),
    })
}

/// The connection an IMAP session runs over: plain or TLS.
trait Connection: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Connection for T {}

/// Reads the desk's mailbox.
pub struct Mailbox {
    options: MailboxOptions,
    endpoint: Endpoint,
    registry: Arc<Registry>,
    credentials: Arc<ServiceCredentials>,
}

impl Mailbox {
    /// A reader of the mailbox `options` name, acting with the service's `credentials`.
    pub fn new(
        options: MailboxOptions,
        registry: Arc<Registry>,
        credentials: Arc<ServiceCredentials>,
    ) -> Result<Self, Error> {
        Ok(Self {
            endpoint: endpoint(&options.url)?,
            options,
            registry,
            credentials,
        })
    }

    /// How often it is read.
    pub fn poll_interval(&self) -> Duration {
        self.options.poll
    }

    /// Reads one batch: handles each mail and deletes those handled. Returns how many were handled.
    pub async fn poll(&self) -> Result<u64, Error> {
        tokio::time::timeout(EXCHANGE_TIMEOUT * 4, self.poll_batch())
            .await
            .map_err(|_| Error::Unavailable("the mailbox did not answer in time".into()))?
    }

    async fn poll_batch(&self) -> Result<u64, Error> {
        let unavailable = |err: async_imap::error::Error| {
            Error::Unavailable(format!("the mailbox cannot be read now: {err}"))
        };
        let mut session = self.session().await?;
        session
            .select(&self.endpoint.folder)
            .await
            .map_err(unavailable)?;
        let mut uids: Vec<u32> = session
            .uid_search("UNDELETED")
            .await
            .map_err(unavailable)?
            .into_iter()
            .collect();
        uids.sort_unstable();
        uids.truncate(BATCH);
        if uids.is_empty() {
            session.logout().await.map_err(unavailable)?;
            return Ok(0);
        }
        let sizes: HashMap<u32, u32> = session
            .uid_fetch(uid_set(&uids), "RFC822.SIZE")
            .await
            .map_err(unavailable)?
            .try_collect::<Vec<_>>()
            .await
            .map_err(unavailable)?
            .iter()
            .filter_map(|fetch| Some((fetch.uid?, fetch.size?)))
            .collect();
        let service = self.service_caller().await?;
        let mut handled = Vec::new();
        for uid in uids {
            let oversized = sizes
                .get(&uid)
                .is_some_and(|size| u64::from(*size) > self.options.max_mail_bytes);
            let part = if oversized {
                "BODY.PEEK[HEADER]"
            } else {
                "BODY.PEEK[]"
            };
            let raw: Option<Vec<u8>> = {
                let fetched: Vec<_> = session
                    .uid_fetch(uid.to_string(), part)
                    .await
                    .map_err(unavailable)?
                    .try_collect()
                    .await
                    .map_err(unavailable)?;
                fetched.iter().find_map(|fetch| {
                    if oversized {
                        fetch.header()
                    } else {
                        fetch.body()
                    }
                    .map(<[u8]>::to_vec)
                })
            };
            let Some(raw) = raw else { continue };
            let mut mail = read_mail(&raw);
            mail.oversized = oversized;
            match self
                .registry
                .receive_mail(&service, &self.options.desk, mail)
                .await
            {
                Ok(outcome) => {
                    tracing::info!(uid, ?outcome, "mail handled");
                    handled.push(uid);
                }
                Err(err) => tracing::warn!(uid, error = %err, "mail left for the next poll"),
            }
        }
        if !handled.is_empty() {
            let _: Vec<_> = session
                .uid_store(uid_set(&handled), "+FLAGS.SILENT (\\Deleted)")
                .await
                .map_err(unavailable)?
                .try_collect()
                .await
                .map_err(unavailable)?;
            let _: Vec<_> = session
                .expunge()
                .await
                .map_err(unavailable)?
                .try_collect()
                .await
                .map_err(unavailable)?;
        }
        session.logout().await.map_err(unavailable)?;
        Ok(handled.len() as u64)
    }

    async fn session(&self) -> Result<async_imap::Session<Box<dyn Connection>>, Error> {
        let endpoint = &self.endpoint;
        let unavailable = |err: &dyn std::fmt::Display| {
            Error::Unavailable(format!(
                "the mailbox at {}:{} cannot be reached now: {err}",
                endpoint.host, endpoint.port
            ))
        };
        let tcp = tokio::time::timeout(
            EXCHANGE_TIMEOUT,
            TcpStream::connect((endpoint.host.as_str(), endpoint.port)),
        )
        .await
        .map_err(|e| unavailable(&e))?
        .map_err(|e| unavailable(&e))?;
        let connection: Box<dyn Connection> = if endpoint.tls {
            let roots = tokio_rustls::rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let config = tokio_rustls::rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth();
            let name = tokio_rustls::rustls::pki_types::ServerName::try_from(endpoint.host.clone())
                .map_err(|e| unavailable(&e))?;
            let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
                .map_err(|e| unavailable(&e))?;
            Box::new(tls)
        } else {
            Box::new(tcp)
        };
        let mut client = async_imap::Client::new(connection);
        client
            .read_response()
            .await
            .map_err(|e| unavailable(&e))?
            .ok_or_else(|| unavailable(&"no greeting"))?;
        client
            .login(&self.options.user, &self.options.password)
            .await
            .map_err(|(err, _)| unavailable(&err))
    }

    /// The service itself, as identity knows it (its token asks who a sender is).
    async fn service_caller(&self) -> Result<Caller, Error> {
        Ok(Caller {
            subject: "system:mailbox".into(),
            municipality_id: None,
            roles: vec![Role::Service],
            token: self.credentials.token().await?,
        })
    }
}

/// An IMAP set of UIDs: `3,7,8`.
fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A mail as the registry takes it: its Message-ID (one made from its bytes when it has none, so every
/// replica names it alike), sender, subject, text (HTML rendered as text by the parser), what it
/// answers and its attachments.
fn read_mail(raw: &[u8]) -> InboundMail {
    let Some(message) = MessageParser::default().parse(raw) else {
        return InboundMail {
            message_id: made_message_id(raw),
            ..Default::default()
        };
    };
    let bracketed = |id: &str| format!("<{}>", id.trim_matches(['<', '>']));
    let ids = |value: &mail_parser::HeaderValue| -> Vec<String> {
        value
            .as_text_list()
            .map(|ids| ids.iter().map(|id| bracketed(id)).collect())
            .unwrap_or_default()
    };
    let mut replies_to = ids(message.in_reply_to());
    let mut references = ids(message.references());
    references.reverse();
    replies_to.extend(references);
    let attachments = message
        .attachments()
        .map(|part| MailAttachment {
            file_name: part.attachment_name().unwrap_or("vedhæftet").to_owned(),
            content_type: part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{sub}", ct.ctype()),
                    None => ct.ctype().to_owned(),
                })
                .unwrap_or_else(|| "application/octet-stream".into())
                .to_ascii_lowercase(),
            content: part.contents().to_vec(),
        })
        .collect();
    InboundMail {
        message_id: message
            .message_id()
            .map(bracketed)
            .unwrap_or_else(|| made_message_id(raw)),
        from: message
            .from()
            .and_then(|from| from.first())
            .and_then(|addr| addr.address())
            .unwrap_or_default()
            .trim()
            .to_lowercase(),
        subject: message.subject().unwrap_or_default().to_owned(),
        text: message
            .body_text(0)
            .map(|text| text.into_owned())
            .unwrap_or_default(),
        replies_to,
        attachments,
        oversized: false,
    }
}

/// A Message-ID for a mail that has none: from its bytes, so every replica and retry names it alike.
fn made_message_id(raw: &[u8]) -> String {
    format!(
        "<{}@mailbox.cases.kommune>",
        hex::encode(Sha256::digest(raw))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mailbox_url_names_the_server_the_encryption_and_the_folder() {
        assert_eq!(
            endpoint("imaps://mail.kommune.dk/Support").unwrap(),
            Endpoint {
                host: "mail.kommune.dk".into(),
                port: 993,
                tls: true,
                folder: "Support".into()
            }
        );
        let plain = endpoint("imap://127.0.0.1:1430").unwrap();
        assert_eq!(
            (plain.port, plain.tls, plain.folder.as_str()),
            (1430, false, "INBOX")
        );
        assert!(endpoint("pop3://mail.kommune.dk").is_err());
        assert!(endpoint("mail.kommune.dk").is_err());
    }

    #[test]
    fn a_mail_is_read_with_its_thread_and_attachments() {
        let raw = b"From: Mette Hansen <Mette@Aarhus.dk>\r\n\
To: support@kommune.dk\r\n\
Subject: =?utf-8?q?Sp=C3=B8rgsm=C3=A5l?= om omregning\r\n\
Message-ID: <abc@aarhus.dk>\r\n\
In-Reply-To: <b@cases.kommune>\r\n\
References: <a@cases.kommune> <b@cases.kommune>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"x\"\r\n\
\r\n\
--x\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hvordan omregner jeg?\r\n\
--x\r\n\
Content-Type: image/png; name=\"skaerm.png\"\r\n\
Content-Disposition: attachment; filename=\"skaerm.png\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--x--\r\n";
        let mail = read_mail(raw);
        assert_eq!(mail.message_id, "<abc@aarhus.dk>");
        assert_eq!(mail.from, "mette@aarhus.dk");
        assert_eq!(mail.subject, "Spørgsmål om omregning");
        assert_eq!(mail.text.trim(), "Hvordan omregner jeg?");
        assert_eq!(
            mail.replies_to,
            [
                "<b@cases.kommune>",
                "<b@cases.kommune>",
                "<a@cases.kommune>"
            ]
        );
        assert_eq!(mail.attachments.len(), 1);
        assert_eq!(mail.attachments[0].file_name, "skaerm.png");
        assert_eq!(mail.attachments[0].content_type, "image/png");
        assert_eq!(mail.attachments[0].content, b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn a_mail_without_a_message_id_is_named_by_its_bytes() {
        let raw = b"From: a@b.dk\r\nSubject: x\r\n\r\ntekst\r\n";
        let first = read_mail(raw);
        assert_eq!(first.message_id, read_mail(raw).message_id);
        assert!(first.message_id.ends_with("@mailbox.cases.kommune>"));
        assert_ne!(
            first.message_id,
            read_mail(b"From: a@b.dk\r\n\r\nandet\r\n").message_id
        );
    }
}
