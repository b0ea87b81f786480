//! Mail to a system's supplier about a case or an incident: the report that starts a thread, later
//! reports in it, and the resolution sent to it when the case or incident is resolved. notify sends
//! each mail from its `SupplierMailQueued` event; replies join the case or incident (mail in).

use serde_json::json;
use uuid::Uuid;

use kommune_platform::auth::Caller;
use kommune_platform::clock::to_timestamp;
use kommune_platform::db::Txn;
use kommune_platform::idempotency::{self, IdempotencyKey};
use kommune_platform::records::AuditTrail as _;
use kommune_platform::{Error, Reason, outbox};
use kommune_proto::cases::v1::{self as pb, CaseState, SupplierMailKind};

use super::{Registry, require_supporter};
use crate::domain::{self, suppliers};
use crate::store::supplier_mails::{self, About};
use crate::store::{cases, incidents, systems};

/// A stored mail as the API shows it.
pub fn supplier_mail(m: supplier_mails::Model) -> pb::SupplierMail {
    pb::SupplierMail {
        recipients: m.recipients(),
        supplier_mail_id: m.id,
        case_id: m.case_id.unwrap_or_default(),
        incident_id: m.incident_id.unwrap_or_default(),
        kind: m.kind.0 as i32,
        message_id: m.message_id,
        thread_message_id: m.thread_message_id,
        subject: m.subject,
        text: m.text,
        sender_user_id: m.sender_user_id,
        create_time: Some(to_timestamp(m.created_at)),
    }
}

/// A mail about to join a thread.
struct Outgoing {
    kind: SupplierMailKind,
    recipients: Vec<String>,
    subject: String,
    text: String,
}

impl Registry {
    /// Reports an open case to its system's supplier: a mail to the system's supplier contacts, in
    /// the case's thread. A retry with the same key returns the first mail and sends nothing.
    pub async fn report_case_to_supplier(
        &self,
        caller: &Caller,
        id: &str,
        text: String,
        key: Option<IdempotencyKey>,
    ) -> Result<supplier_mails::Model, Error> {
        require_supporter(caller, "reports to the supplier")?;
        let created = idempotency::run(
            &self.db,
            key,
            self.clock.now(),
            |mail: &supplier_mails::Model| mail.id.clone(),
            async |txn: &Txn| {
                let case = self.case(txn, caller, id, None).await?;
                if !domain::is_open(*case.state) {
                    return Err(Error::FailedPrecondition(
                        Reason::WrongState,
                        "the case is resolved; reopen it to report it to the supplier".into(),
                    ));
                }
                let system = systems::find(txn, &case.system_id)
                    .await?
                    .ok_or_else(|| Error::not_found("system", &case.system_id))?;
                let recipients = contacts_of(&[system])?;
                let number = domain::case_number(case.number);
                let outgoing = Outgoing {
                    kind: SupplierMailKind::Report,
                    recipients,
                    subject: suppliers::report_subject(&number, &case.title),
                    text,
                };
                self.mail_supplier(txn, caller, About::Case(&case.id), outgoing)
                    .await
            },
        )
        .await?;
        self.outbox.notify_committed();
        created
            .or_current(async |mail_id| {
                supplier_mails::find(&self.db, &mail_id)
                    .await?
                    .ok_or_else(|| Error::not_found("supplier mail", mail_id))
            })
            .await
    }

    /// Mails an incident's report to the supplier contacts of its systems, starting its thread; nothing
    /// when none of them has any.
    pub(super) async fn mail_incident_report(
        &self,
        txn: &Txn,
        caller: &Caller,
        incident: &incidents::Model,
        text: String,
    ) -> Result<Option<supplier_mails::Model>, Error> {
        let mut affected = Vec::new();
        for system_id in incident.system_ids() {
            affected.extend(systems::find(txn, &system_id).await?);
        }
        let recipients = addresses(&affected);
        if recipients.is_empty() {
            return Ok(None);
        }
        let number = domain::incident_number(incident.number);
        let outgoing = Outgoing {
            kind: SupplierMailKind::Report,
            recipients,
            subject: suppliers::report_subject(&number, &incident.title),
            text,
        };
        self.mail_supplier(txn, caller, About::Incident(&incident.id), outgoing)
            .await
            .map(Some)
    }

    /// Sends a resolved case's resolution to its supplier thread, when the case was reported and the
    /// thread has not been told since.
    pub(super) async fn mail_case_resolution(
        &self,
        txn: &Txn,
        caller: &Caller,
        case: &cases::Model,
    ) -> Result<(), Error> {
        if *case.state != CaseState::Resolved {
            return Ok(());
        }
        let number = domain::case_number(case.number);
        let text = suppliers::case_resolution_text(&number, *case.resolution);
        let subject = suppliers::resolution_subject(&number, &case.title);
        self.mail_resolution(txn, caller, About::Case(&case.id), subject, text)
            .await
    }

    /// Sends a resolved incident's resolution to its supplier thread, when it was reported.
    pub(super) async fn mail_incident_resolution(
        &self,
        txn: &Txn,
        caller: &Caller,
        incident: &incidents::Model,
        text: &str,
    ) -> Result<(), Error> {
        let number = domain::incident_number(incident.number);
        let subject = suppliers::resolution_subject(&number, &incident.title);
        self.mail_resolution(
            txn,
            caller,
            About::Incident(&incident.id),
            subject,
            text.to_owned(),
        )
        .await
    }

    /// The resolution, to the recipients of the thread's latest mail, when that is a report.
    async fn mail_resolution(
        &self,
        txn: &Txn,
        caller: &Caller,
        about: About<'_>,
        subject: String,
        text: String,
    ) -> Result<(), Error> {
        let thread = supplier_mails::thread(txn, about).await?;
        let Some(latest) = thread
            .last()
            .filter(|m| *m.kind == SupplierMailKind::Report)
        else {
            return Ok(());
        };
        let outgoing = Outgoing {
            kind: SupplierMailKind::Resolution,
            recipients: latest.recipients(),
            subject,
            text,
        };
        self.mail_supplier(txn, caller, about, outgoing).await?;
        Ok(())
    }

    /// Stores a mail in the thread about `about`, audited, with the event notify sends it from.
    async fn mail_supplier(
        &self,
        txn: &Txn,
        caller: &Caller,
        about: About<'_>,
        outgoing: Outgoing,
    ) -> Result<supplier_mails::Model, Error> {
        let now = self.clock.now();
        let earlier: Vec<String> = supplier_mails::thread(txn, about)
            .await?
            .into_iter()
            .map(|m| m.message_id)
            .collect();
        let id = Uuid::now_v7().to_string();
        let message_id = suppliers::message_id(&id);
        let threading = suppliers::threading(&earlier, &message_id);
        let (case_id, incident_id) = match about {
            About::Case(id) => (Some(id.to_owned()), None),
            About::Incident(id) => (None, Some(id.to_owned())),
        };
        let mail = supplier_mails::insert(
            txn,
            supplier_mails::Model {
                id,
                case_id,
                incident_id,
                kind: outgoing.kind.into(),
                message_id,
                thread_message_id: threading.thread_message_id,
                recipients: serde_json::to_string(&outgoing.recipients).map_err(Error::internal)?,
                subject: outgoing.subject,
                text: outgoing.text,
                sender_user_id: caller.subject.clone(),
                created_at: now,
            },
        )
        .await?;
        let (entity, entity_id) = match about {
            About::Case(id) => ("case", id),
            About::Incident(id) => ("incident", id),
        };
        let payload = json!({
            "supplier_mail_id": mail.id,
            "kind": mail.kind,
            "recipients": outgoing.recipients,
            "message_id": mail.message_id,
        });
        self.audit(txn, caller, entity, entity_id, "mail supplier", payload)
            .await?;
        let event = pb::SupplierMailQueued {
            mail: Some(supplier_mail(mail.clone())),
            in_reply_to: threading.in_reply_to,
            references: threading.references,
        };
        outbox::publish(txn, now, entity_id, &event).await?;
        Ok(mail)
    }

    /// The mails sent to the supplier about a case or an incident, oldest first (supporters).
    pub async fn supplier_mails(
        &self,
        caller: &Caller,
        about: About<'_>,
    ) -> Result<Vec<supplier_mails::Model>, Error> {
        require_supporter(caller, "mails to the supplier")?;
        match about {
            About::Case(id) => {
                let case = cases::find(&self.db, id)
                    .await?
                    .ok_or_else(|| Error::not_found("case", id))?;
                Self::require_sees(caller, &case)?;
            }
            About::Incident(id) => {
                incidents::find(&self.db, id)
                    .await?
                    .ok_or_else(|| Error::not_found("incident", id))?;
            }
        }
        supplier_mails::thread(&self.db, about).await
    }
}

/// The addresses of the systems' supplier contacts, each once; FAILED_PRECONDITION when there are none.
fn contacts_of(affected: &[systems::Model]) -> Result<Vec<String>, Error> {
    let recipients = addresses(affected);
    if recipients.is_empty() {
        return Err(Error::FailedPrecondition(
            Reason::WrongState,
            "the system has no supplier contacts to mail; an administrator adds them to the system"
                .into(),
        ));
    }
    Ok(recipients)
}

/// The addresses of the systems' supplier contacts, each once, in the order given.
fn addresses(affected: &[systems::Model]) -> Vec<String> {
    let mut recipients: Vec<String> = Vec::new();
    for contact in affected.iter().flat_map(systems::Model::supplier_contacts) {
        if !recipients.contains(&contact.email) {
            recipients.push(contact.email);
        }
    }
    recipients
}
