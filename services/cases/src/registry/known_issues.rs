//! Known issues per system: recorded and kept by the supplier's support, linked to the cases and
//! incidents that met them, matched against draft cases, and listed publicly until fixed.

use serde_json::json;
use uuid::Uuid;

use kommune_platform::Error;
use kommune_platform::auth::Caller;
use kommune_platform::db::{Txn, update_versioned};
use kommune_platform::idempotency::{self, IdempotencyKey};
use kommune_platform::outbox;
use kommune_platform::paging::Page;
use kommune_platform::records::AuditTrail;
use kommune_proto::cases::v1::{self as pb, KnownIssueStatus};
use kommune_proto::common::v1::PageResponse;

use super::{Registry, require_supporter};
use crate::domain::known_issues::suggest;
use crate::domain::outage::Symptom;
use crate::store::known_issues::{self, Linked};
use crate::store::{cases, incidents, systems};

/// A known issue's texts and status (validated).
#[derive(Debug, Clone)]
pub struct KnownIssueContent {
    /// Danish title.
    pub title_da: String,
    /// Danish symptom.
    pub symptom_da: String,
    /// Danish workaround.
    pub workaround_da: String,
    /// English title.
    pub title_en: String,
    /// English symptom.
    pub symptom_en: String,
    /// English workaround.
    pub workaround_en: String,
    /// Status; unspecified keeps it (a new issue is investigating).
    pub status: KnownIssueStatus,
}

/// A known issue with what is linked to it.
#[derive(Debug, Clone)]
pub struct KnownIssueView {
    /// The issue.
    pub issue: known_issues::Model,
    /// The latest linked cases.
    pub case_ids: Vec<String>,
    /// The latest linked incidents.
    pub incident_ids: Vec<String>,
    /// How many cases are linked.
    pub case_count: u64,
}

/// What a known issue is compared by: its texts in both languages.
fn symptom_of(system_name: &str, issue: &known_issues::Model) -> Symptom {
    Symptom::of(
        system_name,
        &format!("{} {}", issue.title_da, issue.title_en),
        &format!("{} {}", issue.symptom_da, issue.symptom_en),
    )
}

impl Registry {
    /// Records a known issue of `system_id` (the supplier's support and the consortium).
    pub async fn create_known_issue(
        &self,
        caller: &Caller,
        system_id: &str,
        content: KnownIssueContent,
        key: Option<IdempotencyKey>,
    ) -> Result<KnownIssueView, Error> {
        require_supporter(caller, "known issues")?;
        systems::find(&self.db, system_id)
            .await?
            .ok_or_else(|| Error::not_found_field("system", system_id, "known_issue.system_id"))?;
        let now = self.clock.now();
        let created = idempotency::run(
            &self.db,
            key,
            now,
            |k: &known_issues::Model| k.id.clone(),
            async |txn: &Txn| {
                let status = match content.status {
                    KnownIssueStatus::Unspecified => KnownIssueStatus::Investigating,
                    status => status,
                };
                let issue = known_issues::insert(
                    txn,
                    known_issues::Model {
                        id: Uuid::now_v7().to_string(),
                        system_id: system_id.to_owned(),
                        title_da: content.title_da,
                        symptom_da: content.symptom_da,
                        workaround_da: content.workaround_da,
                        title_en: content.title_en,
                        symptom_en: content.symptom_en,
                        workaround_en: content.workaround_en,
                        status: status.into(),
                        version: 1,
                        created_at: now,
                        updated_at: now,
                    },
                )
                .await?;
                self.known_issue_changed(txn, caller, &issue, "create", json!({}))
                    .await?;
                Ok(issue)
            },
        )
        .await?;
        self.outbox.notify_committed();
        let issue = created
            .or_current(async |id| self.known_issue(&id).await)
            .await?;
        self.with_links(issue).await
    }

    async fn known_issue(&self, id: &str) -> Result<known_issues::Model, Error> {
        known_issues::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("known issue", id))
    }

    /// The issue with its latest links and how many cases are linked.
    async fn with_links(&self, issue: known_issues::Model) -> Result<KnownIssueView, Error> {
        let (case_ids, case_count) =
            known_issues::linked(&self.db, &issue.id, Linked::Case).await?;
        let (incident_ids, _) = known_issues::linked(&self.db, &issue.id, Linked::Incident).await?;
        Ok(KnownIssueView {
            issue,
            case_ids,
            incident_ids,
            case_count,
        })
    }

    /// Audits a change to a known issue and announces it, in the change's transaction.
    async fn known_issue_changed(
        &self,
        txn: &Txn,
        caller: &Caller,
        issue: &known_issues::Model,
        change: &str,
        mut payload: serde_json::Value,
    ) -> Result<(), Error> {
        payload["status"] = json!(issue.status);
        payload["title_da"] = json!(issue.title_da);
        payload["system_id"] = json!(issue.system_id);
        self.audit(txn, caller, "known_issue", &issue.id, change, payload)
            .await?;
        let event = pb::KnownIssueChanged {
            known_issue_id: issue.id.clone(),
            system_id: issue.system_id.clone(),
            status: *issue.status as i32,
            change: change.to_owned(),
        };
        outbox::publish(txn, self.clock.now(), &issue.id, &event).await
    }

    /// One known issue with its links.
    pub async fn get_known_issue(&self, id: &str) -> Result<KnownIssueView, Error> {
        let issue = self.known_issue(id).await?;
        self.with_links(issue).await
    }

    /// A page of known issues, newest first, each with how many cases are linked (one counting query
    /// for the page; the linked ids are read one issue at a time, by `get_known_issue`).
    pub async fn list_known_issues(
        &self,
        filter: known_issues::Filter,
        page: &Page,
    ) -> Result<(Vec<KnownIssueView>, PageResponse), Error> {
        let (issues, next) = known_issues::list(&self.db, filter, page).await?;
        let ids: Vec<String> = issues.iter().map(|issue| issue.id.clone()).collect();
        let counts = known_issues::case_counts(&self.db, &ids).await?;
        let views = issues
            .into_iter()
            .map(|issue| KnownIssueView {
                case_count: counts.get(&issue.id).copied().unwrap_or(0),
                issue,
                case_ids: Vec::new(),
                incident_ids: Vec::new(),
            })
            .collect();
        Ok((views, next))
    }

    /// Replaces a known issue's texts and status, with the version read.
    pub async fn update_known_issue(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        content: KnownIssueContent,
    ) -> Result<KnownIssueView, Error> {
        require_supporter(caller, "known issues")?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut issue = known_issues::find(&txn, id)
            .await?
            .ok_or_else(|| Error::not_found("known issue", id))?;
        Error::require_version("known issue", issue.version, expected_version)?;
        let from = *issue.status;
        issue.title_da = content.title_da;
        issue.symptom_da = content.symptom_da;
        issue.workaround_da = content.workaround_da;
        issue.title_en = content.title_en;
        issue.symptom_en = content.symptom_en;
        issue.workaround_en = content.workaround_en;
        if content.status != KnownIssueStatus::Unspecified {
            issue.status = content.status.into();
        }
        issue.version += 1;
        issue.updated_at = self.clock.now();
        let issue = update_versioned(&txn, issue).await?;
        let payload = json!({"from": from.as_str_name()});
        self.known_issue_changed(&txn, caller, &issue, "update", payload)
            .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        self.with_links(issue).await
    }

    /// Links a case or incident about the issue's system to it; linking twice changes nothing.
    pub async fn link_to_known_issue(
        &self,
        caller: &Caller,
        id: &str,
        kind: Linked,
        target_id: &str,
    ) -> Result<KnownIssueView, Error> {
        require_supporter(caller, "known issues")?;
        let issue = self.known_issue(id).await?;
        let about_its_system = match kind {
            Linked::Case => {
                cases::find(&self.db, target_id)
                    .await?
                    .ok_or_else(|| Error::not_found_field("case", target_id, "case_id"))?
                    .system_id
                    == issue.system_id
            }
            Linked::Incident => incidents::find(&self.db, target_id)
                .await?
                .ok_or_else(|| Error::not_found_field("incident", target_id, "incident_id"))?
                .system_ids()
                .contains(&issue.system_id),
        };
        if !about_its_system {
            let field = match kind {
                Linked::Case => "case_id",
                Linked::Incident => "incident_id",
            };
            return Err(Error::invalid(
                field,
                "is about another system than the known issue",
            ));
        }
        let txn = kommune_platform::db::begin(&self.db).await?;
        if known_issues::link(&txn, id, kind, target_id, self.clock.now()).await? {
            let payload = match kind {
                Linked::Case => json!({"case_id": target_id}),
                Linked::Incident => json!({"incident_id": target_id}),
            };
            self.known_issue_changed(&txn, caller, &issue, "link", payload)
                .await?;
        }
        txn.commit().await?;
        self.outbox.notify_committed();
        self.with_links(issue).await
    }

    /// The known issues of `system_id` not fixed that a draft with this title and description may be
    /// about, most alike first, with how alike.
    pub async fn suggest_known_issues(
        &self,
        system_id: &str,
        title: &str,
        description: &str,
    ) -> Result<Vec<(KnownIssueView, f64)>, Error> {
        let system = systems::find(&self.db, system_id)
            .await?
            .ok_or_else(|| Error::not_found_field("system", system_id, "system_id"))?;
        let draft = Symptom::of(&system.name, title, description);
        let compared: Vec<(known_issues::Model, Symptom)> =
            known_issues::open_of_system(&self.db, system_id)
                .await?
                .into_iter()
                .map(|issue| {
                    let symptom = symptom_of(&system.name, &issue);
                    (issue, symptom)
                })
                .collect();
        let mut suggestions = Vec::new();
        for (issue, similarity) in suggest(&draft, &compared) {
            suggestions.push((self.with_links(issue.clone()).await?, similarity));
        }
        Ok(suggestions)
    }
}
