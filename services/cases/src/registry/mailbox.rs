//! The desk's mailbox: each mail is handled once, its Message-ID kept (as an idempotency key) in the
//! transaction that acts on it. A reply joins its case (a comment) or incident (a timeline note); a mail
//! from a support-eligible user becomes a case; a mail from anyone else is held for a person to accept
//! or reject; a mail holding a personal ID number is refused back to its sender, nothing of it kept.

use serde_json::json;
use uuid::Uuid;

use kommune_platform::auth::{Caller, USER_SUBJECT_PREFIX};
use kommune_platform::db::Txn;
use kommune_platform::idempotency::{self, IdempotencyKey};
use kommune_platform::paging::Page;
use kommune_platform::records::AuditTrail as _;
use kommune_platform::{Error, Reason, outbox};
use kommune_proto::cases::v1::{
    self as pb, CommentVisibility, HeldMailState, HeldReason, IncidentUpdateKind, MailRefusal,
};
use kommune_proto::common::v1::PageResponse;
use kommune_proto::identity::v1 as identity;

use super::{NewCase, Registry, require_supporter};
use crate::domain::mail::{self, InboundMail, MailAttachment};
use crate::domain::suppliers::{self, Numbered};
use crate::domain::{self};
use crate::store::held_mails::{self, attachments as held_attachments};
use crate::store::supplier_mails::{self, About};
use crate::store::{cases, comments, incidents, systems};

/// Where the mailbox files the cases it makes: the desk's system and area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxDesk {
    /// The system mailed cases are about.
    pub system_id: String,
    /// The area they are sorted into.
    pub area_id: String,
}

/// What became of a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailOutcome {
    /// It became this case.
    Filed(String),
    /// It became a comment on this case.
    Commented(String),
    /// It became a note on this incident's timeline.
    Noted(String),
    /// It is held under this id.
    Held(String),
    /// It held a personal ID number and was refused.
    Refused,
    /// It was handled before.
    Seen,
}

/// What a mail answers.
enum Thread {
    Case(Box<cases::Model>),
    Incident(Box<incidents::Model>),
}

/// The scope mail is handled once in.
const MAIL_IN: &str = "mail-in";

impl Registry {
    /// Handles one mail of the desk's mailbox, once whatever replica or retry sees it. `service` is
    /// the cases service's own caller (it asks identity who the sender is).
    pub async fn receive_mail(
        &self,
        service: &Caller,
        desk: &MailboxDesk,
        mail: InboundMail,
    ) -> Result<MailOutcome, Error> {
        let key = IdempotencyKey::external(MAIL_IN, &mail.message_id);
        // Handled before (by another replica, or before a crash kept it in the folder): what it
        // became stands, whatever would be decided now.
        if idempotency::seen(&self.db, &key).await? {
            return Ok(MailOutcome::Seen);
        }
        if mail.oversized {
            return self.refuse_mail(key, &mail, MailRefusal::TooLarge).await;
        }
        if mail.holds_personal_id() {
            return self.refuse_mail(key, &mail, MailRefusal::PersonalId).await;
        }
        let sender = if mail.from.is_empty() {
            None
        } else {
            self.peers.user_by_email(service, &mail.from).await?
        };
        let as_sender = sender.as_ref().map(|user| caller_of(user, service));
        match self.thread_of(&mail).await? {
            Some(Thread::Case(case)) => {
                if let Some(caller) = as_sender.filter(|c| Self::require_sees(c, &case).is_ok()) {
                    let visibility = if domain::is_supporter(&caller) {
                        CommentVisibility::Internal
                    } else {
                        CommentVisibility::Public
                    };
                    let text = mail::reply_text_or_all(&mail.text);
                    return self
                        .comment_from_mail(key, &caller, &case.id, text, visibility)
                        .await;
                }
                if self
                    .is_supplier_party(
                        About::Case(&case.id),
                        std::slice::from_ref(&case.system_id),
                        &mail.from,
                    )
                    .await?
                {
                    let caller = Caller::system(&format!("mail:{}", mail.from));
                    let text = format!(
                        "Svar fra leverandøren / reply from the supplier ({}):\n\n{}",
                        mail.from,
                        mail::reply_text_or_all(&mail.text)
                    );
                    return self
                        .comment_from_mail(
                            key,
                            &caller,
                            &case.id,
                            text,
                            CommentVisibility::Internal,
                        )
                        .await;
                }
                let reply_to = (Some(case.id), None);
                self.hold(key, &mail, HeldReason::NotAParty, reply_to).await
            }
            Some(Thread::Incident(incident)) => {
                let supporter = as_sender.as_ref().is_some_and(domain::is_supporter);
                if supporter
                    || self
                        .is_supplier_party(
                            About::Incident(&incident.id),
                            &incident.system_ids(),
                            &mail.from,
                        )
                        .await?
                {
                    return self.note_from_mail(key, &mail, &incident.id).await;
                }
                let reply_to = (None, Some(incident.id));
                self.hold(key, &mail, HeldReason::NotAParty, reply_to).await
            }
            None => match as_sender {
                Some(caller) if caller.municipality_id.is_some() => {
                    match self.file_from_mail(key.clone(), &caller, desk, &mail).await {
                        Err(Error::PermissionDenied(Reason::NotSupportEligible, _)) => {
                            self.hold(key, &mail, HeldReason::NotEligible, (None, None))
                                .await
                        }
                        filed => filed.map(MailOutcome::Filed),
                    }
                }
                Some(_) => {
                    self.hold(key, &mail, HeldReason::NotEligible, (None, None))
                        .await
                }
                None => {
                    self.hold(key, &mail, HeldReason::UnknownSender, (None, None))
                        .await
                }
            },
        }
    }

    /// The case or incident a mail answers: by a Message-ID of the desk's mails to a supplier among
    /// those it answers, else by the number in its subject.
    async fn thread_of(&self, mail: &InboundMail) -> Result<Option<Thread>, Error> {
        // One query for every mail it answers, then the latest first.
        let sent = supplier_mails::by_message_ids(&self.db, &mail.replies_to).await?;
        for message_id in &mail.replies_to {
            let Some(sent) = sent.iter().find(|m| &m.message_id == message_id) else {
                continue;
            };
            if let Some(case_id) = &sent.case_id {
                return Ok(cases::find(&self.db, case_id)
                    .await?
                    .map(|c| Thread::Case(Box::new(c))));
            }
            if let Some(incident_id) = &sent.incident_id {
                return Ok(incidents::find(&self.db, incident_id)
                    .await?
                    .map(|i| Thread::Incident(Box::new(i))));
            }
        }
        Ok(match suppliers::number_in_subject(&mail.subject) {
            Some(Numbered::Case(number)) => cases::by_number(&self.db, number)
                .await?
                .map(|c| Thread::Case(Box::new(c))),
            Some(Numbered::Incident(number)) => incidents::by_number(&self.db, number)
                .await?
                .map(|i| Thread::Incident(Box::new(i))),
            None => None,
        })
    }

    /// Whether `address` is the supplier's in a thread: one the thread's mails went to, or a supplier
    /// contact of the systems.
    async fn is_supplier_party(
        &self,
        thread: About<'_>,
        system_ids: &[String],
        address: &str,
    ) -> Result<bool, Error> {
        let mailed = supplier_mails::thread(&self.db, thread).await?;
        if mailed.iter().any(|m| {
            m.recipients()
                .iter()
                .any(|r| r.eq_ignore_ascii_case(address))
        }) {
            return Ok(true);
        }
        for system_id in system_ids {
            let system = systems::find(&self.db, system_id).await?;
            let contacts = system.map(|s| s.supplier_contacts()).unwrap_or_default();
            if contacts
                .iter()
                .any(|c| c.email.eq_ignore_ascii_case(address))
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Refuses a mail (holding a personal ID number, or too large): audited and announced (notify
    /// tells the sender why), nothing of it kept but its sender's address in the announcement.
    async fn refuse_mail(
        &self,
        key: IdempotencyKey,
        mail: &InboundMail,
        reason: MailRefusal,
    ) -> Result<MailOutcome, Error> {
        let refusal = Uuid::now_v7().to_string();
        idempotency::run(
            &self.db,
            Some(key),
            self.clock.now(),
            |id: &String| id.clone(),
            async |txn: &Txn| {
                let actor = Caller::system("mailbox");
                let payload = json!({"reason": reason.as_str_name()});
                self.audit(txn, &actor, "inbound_mail", &refusal, "refuse", payload)
                    .await?;
                let event = pb::InboundMailRefused {
                    address: mail.from.clone(),
                    reason: reason as i32,
                };
                outbox::publish(txn, self.clock.now(), &refusal, &event).await?;
                Ok(refusal.clone())
            },
        )
        .await?;
        self.outbox.notify_committed();
        Ok(MailOutcome::Refused)
    }

    /// Files a mail as a case of its sender: a question about the desk's system, in the desk's area,
    /// with the attachments any case may have (those left out named in its text).
    async fn file_from_mail(
        &self,
        key: IdempotencyKey,
        caller: &Caller,
        desk: &MailboxDesk,
        mail: &InboundMail,
    ) -> Result<String, Error> {
        let (attachments, left_out) = mail.usable_attachments();
        let filed = self
            .file_case(
                caller,
                mailed_case(desk, mail, attachments, &left_out),
                Some(key),
            )
            .await?;
        Ok(filed.case.id)
    }

    async fn comment_from_mail(
        &self,
        key: IdempotencyKey,
        caller: &Caller,
        case_id: &str,
        text: String,
        visibility: CommentVisibility,
    ) -> Result<MailOutcome, Error> {
        idempotency::run(
            &self.db,
            Some(key),
            self.clock.now(),
            |comment: &comments::Model| comment.id.clone(),
            async |txn: &Txn| {
                let case = cases::find_for_update(txn, case_id)
                    .await?
                    .ok_or_else(|| Error::not_found("case", case_id))?;
                self.comment_in(txn, caller, case, text, visibility).await
            },
        )
        .await?;
        self.outbox.notify_committed();
        Ok(MailOutcome::Commented(case_id.to_owned()))
    }

    /// A reply on an incident's thread: a note on its timeline with the reply's new text.
    async fn note_from_mail(
        &self,
        key: IdempotencyKey,
        mail: &InboundMail,
        incident_id: &str,
    ) -> Result<MailOutcome, Error> {
        let actor = Caller::system(&format!("mail:{}", mail.from));
        let text = format!("{}:\n\n{}", mail.from, mail::reply_text_or_all(&mail.text));
        idempotency::run(
            &self.db,
            Some(key),
            self.clock.now(),
            |id: &String| id.clone(),
            async |txn: &Txn| {
                let incident = incidents::find(txn, incident_id)
                    .await?
                    .ok_or_else(|| Error::not_found("incident", incident_id))?;
                let entry = self
                    .timeline(
                        txn,
                        &actor,
                        &incident,
                        IncidentUpdateKind::SupplierMail,
                        &text,
                        &[],
                    )
                    .await?;
                Ok(entry.id)
            },
        )
        .await?;
        Ok(MailOutcome::Noted(incident_id.to_owned()))
    }

    /// Holds a mail for a person, with the attachments any case may have (the others named in its
    /// text).
    async fn hold(
        &self,
        key: IdempotencyKey,
        mail: &InboundMail,
        reason: HeldReason,
        (reply_to_case_id, reply_to_incident_id): (Option<String>, Option<String>),
    ) -> Result<MailOutcome, Error> {
        let now = self.clock.now();
        let held = idempotency::run(
            &self.db,
            Some(key),
            now,
            |held: &held_mails::Model| held.id.clone(),
            async |txn: &Txn| {
                let (attachments, left_out) = mail.usable_attachments();
                let mut text = mail::kept_text(&mail.text);
                for line in &left_out {
                    text.push_str("\n\n");
                    text.push_str(line);
                }
                let held = held_mails::insert(
                    txn,
                    held_mails::Model {
                        id: Uuid::now_v7().to_string(),
                        from_address: mail.from.clone(),
                        subject: mail.subject.clone(),
                        text,
                        reason: reason.into(),
                        reply_to_case_id,
                        reply_to_incident_id,
                        state: HeldMailState::Held.into(),
                        case_id: None,
                        decided_by: String::new(),
                        rejection_reason: String::new(),
                        created_at: now,
                        decided_at: None,
                    },
                )
                .await?;
                for attachment in &attachments {
                    held_attachments::insert(
                        txn,
                        held_attachments::Model {
                            id: Uuid::now_v7().to_string(),
                            held_mail_id: held.id.clone(),
                            file_name: attachment.file_name.clone(),
                            content_type: attachment.content_type.clone(),
                            content: attachment.content.clone(),
                        },
                    )
                    .await?;
                }
                let actor = Caller::system("mailbox");
                let payload = json!({"reason": held.reason, "attachments": attachments.len()});
                self.audit(txn, &actor, "held_mail", &held.id, "hold", payload)
                    .await?;
                Ok(held)
            },
        )
        .await?;
        Ok(MailOutcome::Held(match held {
            idempotency::Created::New(held) => held.id,
            idempotency::Created::Replayed(id) => id,
        }))
    }

    /// A page of held mails in `state` (held, by default), oldest first, with their attachments' names.
    pub async fn held_mails(
        &self,
        caller: &Caller,
        state: HeldMailState,
        page: &Page,
    ) -> Result<(Vec<(held_mails::Model, Vec<String>)>, PageResponse), Error> {
        require_supporter(caller, "held mails")?;
        let state = if state == HeldMailState::Unspecified {
            HeldMailState::Held
        } else {
            state
        };
        let (held, next) = held_mails::list(&self.db, state, page).await?;
        let ids: Vec<String> = held.iter().map(|h| h.id.clone()).collect();
        let names = held_attachments::names(&self.db, &ids).await?;
        let listed = held
            .into_iter()
            .map(|h| {
                let of_it = names
                    .iter()
                    .filter(|(mail, _)| *mail == h.id)
                    .map(|(_, name)| name.clone())
                    .collect();
                (h, of_it)
            })
            .collect();
        Ok((listed, next))
    }

    /// Accepts a held mail as a case of `reporter_user_id` (who must be support-eligible) or as a
    /// public comment on `case_id`, on the decider's word. Retried, the same acceptance answers again.
    pub async fn accept_held_mail(
        &self,
        caller: &Caller,
        id: &str,
        becomes: HeldBecomes,
    ) -> Result<held_mails::Model, Error> {
        require_supporter(caller, "held mails")?;
        let held = self.undecided(id).await?;
        let key = IdempotencyKey::external("held-mail", id);
        let attachments: Vec<MailAttachment> = held_attachments::of(&self.db, id)
            .await?
            .into_iter()
            .map(|a| MailAttachment {
                file_name: a.file_name,
                content_type: a.content_type,
                content: a.content,
            })
            .collect();
        let mail = InboundMail {
            from: held.from_address.clone(),
            subject: held.subject.clone(),
            text: held.text.clone(),
            attachments,
            ..Default::default()
        };
        let case_id = match becomes {
            HeldBecomes::Case { reporter_user_id } => {
                let desk = self.mailbox_desk.as_ref().ok_or_else(|| {
                    Error::FailedPrecondition(
                        Reason::WrongState,
                        "no mailbox is set up, so there is no system and area to file in; add it as a comment instead"
                            .into(),
                    )
                })?;
                let reporter = self
                    .peers
                    .user(caller, &reporter_user_id, "reporter_user_id")
                    .await?;
                if reporter.municipality_id.is_empty() {
                    return Err(Error::invalid(
                        "reporter_user_id",
                        "must be a user of a municipality",
                    ));
                }
                let as_reporter = caller_of(&reporter, caller);
                let (usable, left_out) = mail.usable_attachments();
                self.file_case(
                    &as_reporter,
                    mailed_case(desk, &mail, usable, &left_out),
                    Some(key),
                )
                .await?
                .case
                .id
            }
            HeldBecomes::Comment { case_id } => {
                let text = format!("{}:\n\n{}", held.from_address, held.text);
                idempotency::run(
                    &self.db,
                    Some(key),
                    self.clock.now(),
                    |comment: &comments::Model| comment.id.clone(),
                    async |txn: &Txn| {
                        let case = self.case(txn, caller, &case_id, None).await?;
                        self.comment_in(txn, caller, case, text, CommentVisibility::Public)
                            .await
                    },
                )
                .await?;
                case_id
            }
        };
        self.outbox.notify_committed();
        self.decide(
            caller,
            held,
            HeldMailState::Accepted,
            Some(case_id),
            String::new(),
        )
        .await
    }

    /// Rejects a held mail: its subject, text and attachments erased, who and why kept.
    pub async fn reject_held_mail(
        &self,
        caller: &Caller,
        id: &str,
        reason: String,
    ) -> Result<held_mails::Model, Error> {
        require_supporter(caller, "held mails")?;
        let held = self.undecided(id).await?;
        self.decide(caller, held, HeldMailState::Rejected, None, reason)
            .await
    }

    /// A held mail not yet decided.
    async fn undecided(&self, id: &str) -> Result<held_mails::Model, Error> {
        let held = held_mails::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("held mail", id))?;
        if *held.state != HeldMailState::Held {
            return Err(Error::FailedPrecondition(
                Reason::WrongState,
                format!("the mail was {} already", held.state.as_str_name()),
            ));
        }
        Ok(held)
    }

    /// Records the decision on a held mail; a rejected one keeps nothing of what it said.
    async fn decide(
        &self,
        caller: &Caller,
        mut held: held_mails::Model,
        state: HeldMailState,
        case_id: Option<String>,
        rejection_reason: String,
    ) -> Result<held_mails::Model, Error> {
        let txn = kommune_platform::db::begin(&self.db).await?;
        held.state = state.into();
        held.case_id = case_id;
        held.decided_by = caller.subject.clone();
        held.decided_at = Some(self.clock.now());
        held.rejection_reason = rejection_reason;
        if state == HeldMailState::Rejected {
            held.subject = String::new();
            held.text = String::new();
        }
        held_attachments::erase(&txn, &held.id).await?;
        let held = held_mails::update(&txn, held).await?;
        let payload =
            json!({"state": held.state, "case_id": held.case_id, "reason": held.rejection_reason});
        self.audit(&txn, caller, "held_mail", &held.id, "decide", payload)
            .await?;
        txn.commit().await?;
        Ok(held)
    }
}

/// What an accepted held mail becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeldBecomes {
    /// A new case of this reporter.
    Case {
        /// The reporter.
        reporter_user_id: String,
    },
    /// A public comment on this case.
    Comment {
        /// The case.
        case_id: String,
    },
}

/// A mailed case: a question about the desk's system in its area, titled by the subject, its text
/// the mail's with the attachments left out named.
fn mailed_case(
    desk: &MailboxDesk,
    mail: &InboundMail,
    attachments: Vec<MailAttachment>,
    left_out: &[String],
) -> NewCase {
    let mut description = mail::kept_text(&mail.text);
    if description.is_empty() {
        description = "(ingen tekst / no text)".into();
    }
    for line in left_out {
        description.push_str("\n\n");
        description.push_str(line);
    }
    NewCase {
        title: mail::title_from_subject(&mail.subject),
        description,
        kind: pb::CaseKind::Question,
        question_subject: pb::QuestionSubject::Other,
        severity: pb::Severity::Normal,
        system_id: desk.system_id.clone(),
        area_id: desk.area_id.clone(),
        guide_sections: Vec::new(),
        cited_section_ids: Vec::new(),
        suggestion_id: None,
        personal_id: None,
        eligibility: None,
        attachments,
    }
}

/// A user of identity as the caller of what their mail does; calls on to identity carry `on_behalf`'s
/// token (the service's, or the deciding supporter's).
fn caller_of(user: &identity::User, on_behalf: &Caller) -> Caller {
    Caller {
        subject: format!("{USER_SUBJECT_PREFIX}{}", user.user_id),
        municipality_id: Uuid::parse_str(&user.municipality_id).ok(),
        roles: user.roles().collect(),
        token: on_behalf.token.clone(),
    }
}
