//! The desk's mailbox against a real IMAP server (Debian's dovecot, started here on loopback): mail
//! from a support-eligible user becomes a case, a reply joins its case, mail from strangers is held,
//! mail holding a personal ID number is refused with nothing kept, and each mail is handled once with
//! two replicas reading the same folder.

use std::path::PathBuf;
use std::time::Duration;

use futures::TryStreamExt;
use kommune_cases::mailbox::MailboxOptions;
use kommune_cases::registry::MailboxDesk;

use super::*;

/// A dovecot on loopback with one mailbox (`desk` / `secret`), in a directory of its own that it
/// leaves with it. Its login processes run as dovecot's unprivileged users, so the directory lives
/// outside the test run's private temporary directory.
struct Dovecot {
    child: tokio::process::Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Dovecot {
    async fn start() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let binary = std::env::var_os("KOMMUNE_TEST_DOVECOT")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/usr/sbin/dovecot".into());
        assert!(
            binary.exists(),
            "the mailbox tests need dovecot: `bash .ci/test` installs Debian's dovecot-imapd \
             (or set KOMMUNE_TEST_DOVECOT)"
        );
        let dir = PathBuf::from(format!("/tmp/kommune-dovecot-{}", uuid::Uuid::new_v4()));
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(dir.join("mail"), std::fs::Permissions::from_mode(0o777)).unwrap();
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let d = dir.display();
        std::fs::write(dir.join("passwd"), "desk:{PLAIN}secret\n").unwrap();
        std::fs::write(
            dir.join("dovecot.conf"),
            format!(
                "protocols = imap\nlisten = 127.0.0.1\nbase_dir = {d}/run\nstate_dir = {d}/state\n\
                 log_path = {d}/dovecot.log\nssl = no\ndisable_plaintext_auth = no\n\
                 auth_mechanisms = plain login\nmail_location = maildir:{d}/mail/%u\n\
                 passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {d}/passwd\n}}\n\
                 userdb {{\n  driver = static\n  args = uid=65534 gid=65534 home={d}/mail/%u\n}}\n\
                 service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    \
                 port = {port}\n  }}\n}}\n"
            ),
        )
        .unwrap();
        let child = tokio::process::Command::new(binary)
            .arg("-F")
            .arg("-c")
            .arg(dir.join("dovecot.conf"))
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let this = Self { child, port, dir };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return this;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("dovecot did not listen on {port}");
    }

    fn url(&self) -> String {
        format!("imap://127.0.0.1:{}/INBOX", self.port)
    }

    async fn session(&self) -> async_imap::Session<tokio::net::TcpStream> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .unwrap();
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap().unwrap();
        client
            .login("desk", "secret")
            .await
            .map_err(|(e, _)| e)
            .unwrap()
    }

    /// Delivers a mail to the inbox.
    async fn deliver(&self, raw: &str) {
        let mut session = self.session().await;
        session.append("INBOX", None, None, raw).await.unwrap();
        session.logout().await.unwrap();
    }

    /// How many mails the inbox holds.
    async fn waiting(&self) -> u32 {
        let mut session = self.session().await;
        let inbox = session.select("INBOX").await.unwrap();
        let _: Vec<_> = session
            .expunge()
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        session.logout().await.unwrap();
        inbox.exists
    }
}

/// The largest mail the test's mailbox takes.
const MAX_MAIL_BYTES: u64 = 1024 * 1024;

/// A mail as a mail program writes it.
fn mail(from: &str, message_id: &str, subject: &str, headers: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: support@kommune.dk\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n\
         Date: Wed, 2 Apr 2025 09:00:00 +0200\r\nMIME-Version: 1.0\r\n{headers}\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    )
}

/// A mail with a PNG screenshot attached.
fn mail_with_screenshot(from: &str, message_id: &str, subject: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: support@kommune.dk\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n\
         --b\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"skaerm.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n"
    )
}

/// Two cases replicas reading the same mailbox, on the test's database; `t.cases` becomes the first.
async fn with_mailbox(t: &mut TestCases, dovecot: &Dovecot) {
    let mut options = t.options.clone();
    options.mailbox = Some(MailboxOptions {
        url: dovecot.url(),
        user: "desk".into(),
        password: "secret".into(),
        desk: MailboxDesk {
            system_id: t.system.clone(),
            area_id: t.area.clone(),
        },
        poll: Duration::from_millis(100),
        max_mail_bytes: MAX_MAIL_BYTES,
    });
    for n in 0..2 {
        let (addr, running) = TestCases::serve(options.clone()).await;
        t._running.push(running);
        if n == 0 {
            t.cases = channel_to(addr);
        }
    }
}

async fn eventually_empty(dovecot: &Dovecot) {
    for _ in 0..200 {
        if dovecot.waiting().await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the mailbox was not emptied");
}

async fn cases_of_reporter(t: &TestCases) -> Vec<pb::Case> {
    t.cases()
        .list_cases(bearer(pb::ListCasesRequest::default(), &t.reporter))
        .await
        .unwrap()
        .into_inner()
        .cases
}

async fn comments(t: &TestCases, case_id: &str) -> Vec<pb::Comment> {
    t.cases()
        .list_comments(bearer(
            pb::ListCommentsRequest {
                case_id: case_id.into(),
                ..Default::default()
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .comments
}

fn mailbox(t: &TestCases) -> pb::mailbox_service_client::MailboxServiceClient<Channel> {
    pb::mailbox_service_client::MailboxServiceClient::new(t.cases.clone())
}

async fn held(t: &TestCases, state: pb::HeldMailState) -> Vec<pb::HeldMail> {
    mailbox(t)
        .list_held_mails(bearer(
            pb::ListHeldMailsRequest {
                state: state as i32,
                page: None,
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .held_mails
}

#[tokio::test]
async fn mail_becomes_cases_and_comments_strangers_are_held_and_a_personal_id_is_refused_once() {
    let mut t = TestCases::start().await;
    let dovecot = Dovecot::start().await;
    with_mailbox(&mut t, &dovecot).await;

    // A question from a support-eligible user, with a screenshot; delivered twice (a resend keeps
    // its Message-ID) it is still one case.
    let question = mail_with_screenshot(
        "Mette Hansen <Reporter@Aarhus.dk>",
        "<q1@aarhus.dk>",
        "Spørgsmål om omregning",
        "Hvordan omregner jeg en ydelse?",
    );
    dovecot.deliver(&question).await;
    dovecot.deliver(&question).await;
    // A stranger's mail, and one holding a citizen's personal ID number.
    dovecot
        .deliver(&mail(
            "ukendt@example.dk",
            "<s1@example.dk>",
            "Hjælp",
            "",
            "Kan I hjælpe?",
        ))
        .await;
    dovecot
        .deliver(&mail(
            "reporter@aarhus.dk",
            "<p1@aarhus.dk>",
            "Borgerens sag",
            "",
            "Det drejer sig om 010190-1234",
        ))
        .await;
    eventually_empty(&dovecot).await;

    let filed = cases_of_reporter(&t).await;
    assert_eq!(
        filed.len(),
        1,
        "one case, whoever read it and however often: {filed:?}"
    );
    let case = &filed[0];
    assert_eq!(case.title, "Spørgsmål om omregning");
    assert_eq!(case.description, "Hvordan omregner jeg en ydelse?");
    assert_eq!(case.kind(), pb::CaseKind::Question);
    assert_eq!(case.reporter_user_id, t.reporter_id);
    assert_eq!(case.system_id, t.system);
    let attachments = t
        .cases()
        .list_attachments(bearer(
            pb::ListAttachmentsRequest {
                case_id: case.case_id.clone(),
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .attachments;
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0].file_name, "skaerm.png");

    let waiting = held(&t, pb::HeldMailState::Unspecified).await;
    assert_eq!(
        waiting.len(),
        1,
        "only the stranger's mail is held: {waiting:?}"
    );
    assert_eq!(waiting[0].from_address, "ukendt@example.dk");
    assert_eq!(waiting[0].reason(), pb::HeldReason::UnknownSender);
    // The refused mail is told to its sender and kept nowhere.
    let refused: Vec<pb::InboundMailRefused> = t.events("InboundMailRefused").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].address, "reporter@aarhus.dk");

    // Replies: the reporter's by the number in the subject, the supplier's by the thread it answers.
    t.set_contacts(&[("Drift", "drift@leverandor.dk")])
        .await
        .unwrap();
    let sent = t
        .cases()
        .report_case_to_supplier(bearer(
            pb::ReportCaseToSupplierRequest {
                idempotency_key: "r1".into(),
                case_id: case.case_id.clone(),
                text: "Omregningen fejler".into(),
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .mail
        .unwrap();
    dovecot
        .deliver(&mail(
            "reporter@aarhus.dk",
            "<r1@aarhus.dk>",
            &format!("SV: Sag {} er opdateret", case.number),
            "",
            "Tak, nu virker det.\r\n\r\nDen 2. apr. 2025 kl. 09.10 skrev support@kommune.dk:\r\n> Prøv igen",
        ))
        .await;
    dovecot
        .deliver(&mail(
            "drift@leverandor.dk",
            "<d1@leverandor.dk>",
            &format!("Re: {}", sent.subject),
            &format!(
                "In-Reply-To: {}\r\nReferences: {}\r\n",
                sent.message_id, sent.message_id
            ),
            "Vi har fundet fejlen.\r\n\r\nOn Wed, 2 Apr 2025, desk wrote:\r\n> Omregningen fejler",
        ))
        .await;
    eventually_empty(&dovecot).await;
    let said: Vec<(String, String, pb::CommentVisibility)> = comments(&t, &case.case_id)
        .await
        .into_iter()
        .map(|c| (c.author.clone(), c.text.clone(), c.visibility()))
        .collect();
    assert!(
        said.contains(&(
            format!("user:{}", t.reporter_id),
            "Tak, nu virker det.".into(),
            pb::CommentVisibility::Public
        )),
        "{said:?}"
    );
    assert!(
        said.iter().any(
            |(author, text, visibility)| author == "system:mail:drift@leverandor.dk"
                && text.ends_with("Vi har fundet fejlen.")
                && !text.contains("Omregningen fejler")
                && *visibility == pb::CommentVisibility::Internal
        ),
        "{said:?}"
    );
    assert_eq!(
        cases_of_reporter(&t).await.len(),
        1,
        "replies file nothing new"
    );
}

#[tokio::test]
async fn a_held_mail_is_accepted_as_a_case_or_rejected_with_its_words_erased() {
    let mut t = TestCases::start().await;
    let dovecot = Dovecot::start().await;
    with_mailbox(&mut t, &dovecot).await;
    for (n, from) in ["kollega@aarhus.dk", "spam@example.com"].iter().enumerate() {
        dovecot
            .deliver(&mail_with_screenshot(
                from,
                &format!("<h{n}@x.dk>"),
                "Udbetaling mangler",
                "Borgeren har ikke fået sin udbetaling",
            ))
            .await;
    }
    eventually_empty(&dovecot).await;
    let waiting = held(&t, pb::HeldMailState::Held).await;
    assert_eq!(waiting.len(), 2);
    assert_eq!(waiting[0].attachment_names, ["skaerm.png"]);

    // Only the desk decides.
    let denied = mailbox(&t)
        .list_held_mails(bearer(pb::ListHeldMailsRequest::default(), &t.reporter))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let accept = |held_mail_id: &str, becomes| pb::AcceptHeldMailRequest {
        held_mail_id: held_mail_id.into(),
        becomes: Some(becomes),
    };
    use pb::accept_held_mail_request::Becomes;
    let accepted = mailbox(&t)
        .accept_held_mail(bearer(
            accept(
                &waiting[0].held_mail_id,
                Becomes::ReporterUserId(t.reporter_id.clone()),
            ),
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .held_mail
        .unwrap();
    assert_eq!(accepted.state(), pb::HeldMailState::Accepted);
    let filed = cases_of_reporter(&t).await;
    assert_eq!(filed.len(), 1);
    assert_eq!(accepted.case_id, filed[0].case_id);
    assert_eq!(filed[0].title, "Udbetaling mangler");
    let again = mailbox(&t)
        .accept_held_mail(bearer(
            accept(
                &waiting[0].held_mail_id,
                Becomes::ReporterUserId(t.reporter_id.clone()),
            ),
            &t.supporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);

    let no_reason = mailbox(&t)
        .reject_held_mail(bearer(
            pb::RejectHeldMailRequest {
                held_mail_id: waiting[1].held_mail_id.clone(),
                reason: " ".into(),
            },
            &t.supporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&no_reason), ["reason"]);
    let rejected = mailbox(&t)
        .reject_held_mail(bearer(
            pb::RejectHeldMailRequest {
                held_mail_id: waiting[1].held_mail_id.clone(),
                reason: "Reklame".into(),
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .held_mail
        .unwrap();
    assert_eq!(rejected.state(), pb::HeldMailState::Rejected);
    assert!(rejected.subject.is_empty() && rejected.text.is_empty());
    let listed = held(&t, pb::HeldMailState::Rejected).await;
    assert_eq!(listed.len(), 1);
    assert!(
        listed[0].attachment_names.is_empty(),
        "its attachments are erased"
    );
    assert_eq!(listed[0].rejection_reason, "Reklame");
    assert!(held(&t, pb::HeldMailState::Held).await.is_empty());
}
