//! Incidents: filed reports classified and linked, incidents opened, updated, reported to the supplier,
//! answered at once on every linked case and resolved with them; overdue follow-ups announced once.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};
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
use kommune_proto::cases::v1 as pb;
use kommune_proto::common::v1::PageResponse;
use kommune_proto::identity::v1::Role;
use pb::{
    CaseState, IncidentOrigin, IncidentScope, IncidentStatus, IncidentUpdateKind, Resolution,
};

use super::{Registry, json_list};
use crate::domain;
use crate::domain::incident::{self as rules, follow_up_overdue};
use crate::domain::outage::{
    self, Classification, DetectionRule, OpenIncident, RecentReports, Report, Symptom,
};
use crate::store::numbers::{self, Numbered};
use crate::store::{attachments, cases, comments, incident_updates, incidents, systems};

mod desk;

/// How many of the newest same-cause reports of a window a filing weighs: enough to see which
/// incident they lead to and to propose one, while a flood of thousands costs no more than this.
const SAME_CAUSE_CONSIDERED: usize = 256;

/// Each system's recent reports as this replica keeps them ([`RecentReports`]), by system id.
pub(super) type Windows = Mutex<HashMap<String, Arc<tokio::sync::Mutex<RecentReports>>>>;

/// An incident opened by hand (validated).
#[derive(Debug, Clone)]
pub struct NewIncident {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Affected systems (at least one).
    pub system_ids: Vec<String>,
    /// Scope, if known.
    pub scope: IncidentScope,
    /// Cases to link.
    pub case_ids: Vec<String>,
}

/// A status update (validated).
#[derive(Debug, Clone)]
pub struct IncidentChange {
    /// The update.
    pub text: String,
    /// The new status (`Unspecified`: unchanged).
    pub status: IncidentStatus,
    /// The scope (`Unspecified`: unchanged).
    pub scope: IncidentScope,
    /// Systems affected too.
    pub add_system_ids: Vec<String>,
}

/// A report to the supplier (validated).
#[derive(Debug, Clone)]
pub struct NewSupplierReport {
    /// The problem.
    pub problem: String,
    /// When it began or was seen.
    pub occurred_at: DateTime<Utc>,
    /// A screenshot attachment of a linked case, if any.
    pub screenshot_attachment_id: Option<String>,
    /// The supplier's tag.
    pub tag: String,
}

/// An incident with its linked cases and timeline.
#[derive(Debug, Clone)]
pub struct IncidentView {
    /// The incident.
    pub incident: incidents::Model,
    /// Its linked cases' ids, oldest first.
    pub case_ids: Vec<String>,
    /// Its timeline, oldest first.
    pub timeline: Vec<incident_updates::Model>,
}

fn require_supporter(caller: &Caller) -> Result<(), Error> {
    super::require_supporter(caller, "incidents")
}

/// Incidents are read by those who work them and by kommune's own services (notify tells reporters).
fn require_reader(caller: &Caller) -> Result<(), Error> {
    if caller.has_role(Role::Service) {
        Ok(())
    } else {
        require_supporter(caller)
    }
}

fn linked_case(case: &cases::Model) -> pb::LinkedCase {
    pb::LinkedCase {
        case_id: case.id.clone(),
        municipality_id: case.municipality_id.clone(),
        reporter_user_id: case.reporter_user_id.clone(),
    }
}

/// The symptom `case` was filed with.
fn filed_symptom(system: &systems::Model, case: &cases::Model) -> Symptom {
    case.symptom
        .as_deref()
        .and_then(Symptom::from_bytes)
        .unwrap_or_else(|| Symptom::of(&system.name, &case.title, &case.description))
}

/// A filed case as detection sees it, with the symptom it was filed with.
fn report(case: &cases::Model, symptom: Symptom) -> Report {
    Report {
        case_id: case.id.clone(),
        system_id: case.system_id.clone(),
        reporter_user_id: case.reporter_user_id.clone(),
        municipality_id: case.municipality_id.clone(),
        filed_at: case.created_at,
        symptom,
        incident_id: case.incident_id.clone(),
    }
}

fn municipalities_of(cases: &[cases::Model]) -> Vec<String> {
    cases
        .iter()
        .map(|c| c.municipality_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

impl Registry {
    /// How a newly filed case relates to the system's open incidents and the reports of its window.
    pub(super) async fn classify(
        &self,
        txn: &Txn,
        system: &systems::Model,
        case: &cases::Model,
        acute: bool,
    ) -> Result<Classification, Error> {
        let rule = DetectionRule {
            reports: system.outage_report_threshold.max(0) as usize,
            distinct_reporters: system.outage_distinct_reporters.max(1) as usize,
            window: Duration::minutes(system.outage_window_minutes.max(0).into()),
        };
        // Locked, so no incident is resolved between this classification and the link it leads to.
        let open = incidents::open_for_update(txn, &system.id).await?;
        let open_ids: HashSet<&str> = open.iter().map(|i| i.id.as_str()).collect();
        let new = report(case, filed_symptom(system, case));
        // With detection off and no incident open, no report of the window can count: none is read
        // (nor kept in memory).
        if rule.reports == 0 && open.is_empty() {
            return Ok(outage::classify(&new, acute, &[], &[], &rule));
        }
        let mut recent = self
            .same_cause_recently(txn, system, &new, &rule, case.number)
            .await?;
        // What they are linked to now: reports explained by a resolved incident do not count again,
        // merged duplicates never did.
        let ids: Vec<String> = recent.iter().map(|r| r.case_id.clone()).collect();
        let links: HashMap<String, cases::Links> = cases::links(txn, &ids)
            .await?
            .into_iter()
            .map(|l| (l.id.clone(), l))
            .collect();
        recent.retain_mut(|r| match links.get(&r.case_id) {
            None => {
                r.incident_id = None;
                true
            }
            Some(now) if now.merged_into.is_none() => {
                r.incident_id.clone_from(&now.incident_id);
                r.incident_id
                    .as_deref()
                    .is_none_or(|id| open_ids.contains(id))
            }
            Some(_) => false,
        });
        let open: Vec<OpenIncident> = open
            .iter()
            .map(|i| OpenIncident {
                id: i.id.clone(),
                system_ids: i.system_ids(),
                symptom: Symptom::of(&system.name, &i.symptom, ""),
            })
            .collect();
        Ok(outage::classify(&new, acute, &open, &recent, &rule))
    }

    /// The newest reports of `system`'s window that share `new`'s cause (at most
    /// [`SAME_CAUSE_CONSIDERED`], or the rule's count if more), from the window this replica keeps:
    /// only the reports filed since its last look are read. `number` is the filing's own case number,
    /// taken in this transaction.
    async fn same_cause_recently(
        &self,
        txn: &Txn,
        system: &systems::Model,
        new: &Report,
        rule: &DetectionRule,
        number: i64,
    ) -> Result<Vec<Report>, Error> {
        let window = self
            .windows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(system.id.clone())
            .or_default()
            .clone();
        // One filing of a system at a time brings its window up to date (PostgreSQL files in parallel).
        let mut window = window.lock().await;
        let since = new.filed_at - rule.window;
        let after = window.known_through(since);
        let read = cases::window_reports(txn, &system.id, since, after).await?;
        // Cases filed before symptoms were kept have theirs computed from their texts.
        let unkept: Vec<String> = read
            .iter()
            .filter(|c| c.symptom.is_none())
            .map(|c| c.id.clone())
            .collect();
        let texts = cases::texts(txn, &unkept).await?;
        let read = read.into_iter().map(|c| {
            let symptom = match (&c.symptom, texts.get(&c.id)) {
                (Some(kept), _) => Symptom::from_bytes(kept),
                (None, Some((title, description))) => {
                    Some(Symptom::of(&system.name, title, description))
                }
                (None, None) => None,
            };
            Report {
                case_id: c.id,
                system_id: system.id.clone(),
                reporter_user_id: c.reporter_user_id,
                municipality_id: c.municipality_id,
                filed_at: c.created_at,
                symptom: symptom.unwrap_or_default(),
                incident_id: None,
            }
        });
        window.update(since, after, number - 1, read);
        Ok(window.same_cause(new, rule, SAME_CAUSE_CONSIDERED.max(rule.reports)))
    }

    /// Acts on a filed case's classification: joins it to its incident, or opens the incident it
    /// reveals (linking the other reports too) or its acute filing asks for.
    pub(super) async fn link_filed(
        &self,
        txn: &Txn,
        system: &systems::Model,
        case: &cases::Model,
        classification: Classification,
    ) -> Result<(), Error> {
        let actor = Caller::system("detection");
        let Some(incident_id) = case.incident_id.clone() else {
            return Ok(());
        };
        let (origin, others, title, description) = match classification {
            Classification::Alone => return Ok(()),
            Classification::Join(_) => {
                let incident = incidents::find_for_update(txn, &incident_id)
                    .await?
                    .ok_or_else(|| Error::internal("a joined incident is missing"))?;
                return self.joined(txn, &actor, incident, case).await.map(|_| ());
            }
            Classification::Propose(ids) => {
                // A report linked elsewhere since it was classified stays where it is.
                let others: Vec<cases::Model> = cases::find_all(txn, &ids[1..], "case_ids")
                    .await?
                    .into_iter()
                    .filter(|c| c.incident_id.is_none())
                    .collect();
                let reporters: HashSet<&str> = others
                    .iter()
                    .chain(std::iter::once(case))
                    .map(|c| c.reporter_user_id.as_str())
                    .collect();
                let description = format!(
                    "{} reports of one cause about {} within {} minutes from {} reporters; proposed by \
                     detection, to be confirmed.",
                    others.len() + 1,
                    system.name,
                    system.outage_window_minutes,
                    reporters.len()
                );
                (
                    IncidentOrigin::Detected,
                    others,
                    format!("Suspected outage of {}: {}", system.name, case.title),
                    description,
                )
            }
            Classification::OpenForAcute => (
                IncidentOrigin::AcuteFiling,
                Vec::new(),
                format!("Acute: {}", case.title),
                format!(
                    "Opened by the acute filing {} about {}.",
                    domain::case_number(case.number),
                    system.name
                ),
            ),
        };
        let now = self.clock.now();
        let draft = incidents::Model {
            id: incident_id,
            title,
            description,
            status: IncidentStatus::Suspected.into(),
            scope: IncidentScope::Unspecified.into(),
            origin: origin.into(),
            system_ids: json_list(&[&system.id])?,
            municipality_ids: "[]".into(),
            symptom: format!("{} {}", case.title, case.description),
            supplier_report: None,
            follow_up_due: None,
            follow_up_announced: false,
            resolved_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
            number: 0,
        };
        let mut linking = vec![case.clone()];
        linking.extend(others);
        self.open(txn, &actor, draft, linking, "case_ids").await?;
        Ok(())
    }

    /// Links `case` to `incident` unless it is already: the case must be about one of its systems and
    /// not linked elsewhere. `field` names the request field of the case in errors.
    async fn attach(
        &self,
        txn: &Txn,
        actor: &Caller,
        incident: &incidents::Model,
        case: cases::Model,
        field: &'static str,
    ) -> Result<cases::Model, Error> {
        if !incident.system_ids().contains(&case.system_id) {
            return Err(Error::invalid(
                field,
                format!(
                    "case {} is about another system than the incident's",
                    case.id
                ),
            ));
        }
        match case.incident_id.as_deref() {
            Some(id) if id == incident.id => return Ok(case),
            Some(other) => {
                return Err(Error::FailedPrecondition(
                    Reason::WrongState,
                    format!("case {} is linked to incident {other}", case.id),
                ));
            }
            None => {}
        }
        let mut case = case;
        case.incident_id = Some(incident.id.clone());
        let payload = json!({"incident_id": incident.id});
        self.saved(txn, actor, case, "link incident", payload).await
    }

    /// Opens `draft` with `linking` linked, its timeline started and `IncidentOpened` announced.
    async fn open(
        &self,
        txn: &Txn,
        actor: &Caller,
        mut draft: incidents::Model,
        linking: Vec<cases::Model>,
        field: &'static str,
    ) -> Result<incidents::Model, Error> {
        let mut linked = Vec::with_capacity(linking.len());
        for case in linking {
            linked.push(self.attach(txn, actor, &draft, case, field).await?);
        }
        draft.municipality_ids = json_list(&municipalities_of(&linked))?;
        draft.number = numbers::next(txn, Numbered::Incident).await?;
        let incident = incidents::insert(txn, draft).await?;
        let case_ids: Vec<String> = linked.iter().map(|c| c.id.clone()).collect();
        self.timeline(
            txn,
            actor,
            &incident,
            IncidentUpdateKind::Opened,
            &incident.title,
            &case_ids,
        )
        .await?;
        let payload = json!({
            "title": incident.title,
            "origin": incident.origin,
            "system_ids": incident.system_ids(),
            "case_ids": case_ids,
        });
        self.audit(txn, actor, "incident", &incident.id, "open", payload)
            .await?;
        let event = pb::IncidentOpened {
            incident_id: incident.id.clone(),
            origin: *incident.origin as i32,
            system_ids: incident.system_ids(),
            cases: linked.iter().map(linked_case).collect(),
        };
        outbox::publish(txn, self.clock.now(), &incident.id, &event).await?;
        Ok(incident)
    }

    /// Records a case joining an open incident: affected municipalities, timeline, audit and event.
    async fn joined(
        &self,
        txn: &Txn,
        actor: &Caller,
        mut incident: incidents::Model,
        case: &cases::Model,
    ) -> Result<incidents::Model, Error> {
        let mut municipalities = incident.municipality_ids();
        if !municipalities.contains(&case.municipality_id) {
            municipalities.push(case.municipality_id.clone());
            municipalities.sort();
        }
        incident.municipality_ids = json_list(&municipalities)?;
        let text = format!("{} linked", domain::case_number(case.number));
        let (incident, _) = self
            .incident_changed(
                txn,
                actor,
                incident,
                IncidentUpdateKind::CaseLinked,
                &text,
                std::slice::from_ref(case),
            )
            .await?;
        Ok(incident)
    }

    /// Adds a timeline entry.
    pub(super) async fn timeline(
        &self,
        txn: &Txn,
        actor: &Caller,
        incident: &incidents::Model,
        kind: IncidentUpdateKind,
        text: &str,
        case_ids: &[String],
    ) -> Result<incident_updates::Model, Error> {
        incident_updates::insert(
            txn,
            incident_updates::Model {
                id: Uuid::now_v7().to_string(),
                incident_id: incident.id.clone(),
                kind: kind.into(),
                text: text.to_owned(),
                status: incident.status,
                author: actor.subject.clone(),
                case_ids: json_list(&case_ids)?,
                created_at: self.clock.now(),
            },
        )
        .await
    }

    /// Writes a changed incident with its timeline entry, audit record and one `IncidentChanged` event
    /// naming `concerned` cases.
    async fn incident_changed(
        &self,
        txn: &Txn,
        actor: &Caller,
        mut incident: incidents::Model,
        kind: IncidentUpdateKind,
        text: &str,
        concerned: &[cases::Model],
    ) -> Result<(incidents::Model, incident_updates::Model), Error> {
        let now = self.clock.now();
        incident.version += 1;
        incident.updated_at = now;
        let incident = update_versioned(txn, incident).await?;
        let case_ids: Vec<String> = concerned.iter().map(|c| c.id.clone()).collect();
        let entry = self
            .timeline(txn, actor, &incident, kind, text, &case_ids)
            .await?;
        let change = kind
            .as_str_name()
            .trim_start_matches("INCIDENT_UPDATE_KIND_")
            .to_lowercase();
        let payload = json!({
            "update_id": entry.id,
            "status": incident.status,
            "scope": incident.scope,
            "system_ids": incident.system_ids(),
            "case_ids": case_ids,
        });
        self.audit(txn, actor, "incident", &incident.id, &change, payload)
            .await?;
        let event = pb::IncidentChanged {
            incident_id: incident.id.clone(),
            status: *incident.status as i32,
            change,
            cases: concerned.iter().map(linked_case).collect(),
            title: incident.title.clone(),
            text: text.to_owned(),
        };
        outbox::publish(txn, now, &incident.id, &event).await?;
        Ok((incident, entry))
    }

    /// An incident to change: found (and locked, so changes to it and its cases queue), at the version
    /// read (when given), and open.
    async fn open_incident(
        &self,
        txn: &Txn,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<incidents::Model, Error> {
        let incident = incidents::find_for_update(txn, id)
            .await?
            .ok_or_else(|| Error::not_found("incident", id))?;
        if let Some(expected) = expected_version {
            Error::require_version("incident", incident.version, expected)?;
        }
        if !rules::is_open(*incident.status) {
            return Err(Error::FailedPrecondition(
                Reason::WrongState,
                "the incident is resolved".into(),
            ));
        }
        Ok(incident)
    }

    async fn view(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        incident: incidents::Model,
    ) -> Result<IncidentView, Error> {
        self.views(db, vec![incident])
            .await?
            .pop()
            .ok_or_else(|| Error::internal("an incident without its view"))
    }

    /// The incidents with their linked cases and timelines, read in two queries however many.
    async fn views(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        found: Vec<incidents::Model>,
    ) -> Result<Vec<IncidentView>, Error> {
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = found.iter().map(|i| i.id.clone()).collect();
        let mut case_ids: HashMap<String, Vec<String>> = HashMap::new();
        for case in cases::of_incidents(db, &ids).await? {
            if let Some(incident) = case.incident_id {
                case_ids.entry(incident).or_default().push(case.id);
            }
        }
        let mut timelines: HashMap<String, Vec<incident_updates::Model>> = HashMap::new();
        for update in incident_updates::of_incidents(db, &ids).await? {
            timelines
                .entry(update.incident_id.clone())
                .or_default()
                .push(update);
        }
        Ok(found
            .into_iter()
            .map(|incident| IncidentView {
                case_ids: case_ids.remove(&incident.id).unwrap_or_default(),
                timeline: timelines.remove(&incident.id).unwrap_or_default(),
                incident,
            })
            .collect())
    }

    async fn require_systems(
        &self,
        txn: &Txn,
        ids: &[String],
        field: &'static str,
    ) -> Result<(), Error> {
        for id in ids {
            systems::find(txn, id)
                .await?
                .ok_or_else(|| Error::not_found_field("system", id, field))?;
        }
        Ok(())
    }
}
