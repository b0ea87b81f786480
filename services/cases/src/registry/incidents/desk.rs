//! The desk's work on incidents: opened by hand, updated, reported, linked, answered, resolved.

use super::*;
use crate::store::supplier_mails;
use kommune_platform::db::Txn;

impl Registry {
    /// Opens an incident by hand, linking the named cases.
    pub async fn open_incident_by_hand(
        &self,
        caller: &Caller,
        new: NewIncident,
        key: Option<IdempotencyKey>,
    ) -> Result<IncidentView, Error> {
        require_supporter(caller)?;
        let now = self.clock.now();
        let created = idempotency::run(
            &self.db,
            key,
            now,
            |i: &incidents::Model| i.id.clone(),
            async |txn: &Txn| {
                self.require_systems(txn, &new.system_ids, "system_ids")
                    .await?;
                let linking = cases::find_all(txn, &new.case_ids, "case_ids").await?;
                for case in &linking {
                    Self::require_sees(caller, case)?;
                }
                let draft = incidents::Model {
                    id: Uuid::now_v7().to_string(),
                    symptom: format!("{} {}", new.title, new.description),
                    title: new.title,
                    description: new.description,
                    status: IncidentStatus::Suspected.into(),
                    scope: new.scope.into(),
                    origin: IncidentOrigin::Manual.into(),
                    system_ids: json_list(&new.system_ids)?,
                    municipality_ids: "[]".into(),
                    supplier_report: None,
                    follow_up_due: None,
                    follow_up_announced: false,
                    resolved_at: None,
                    version: 1,
                    created_at: now,
                    updated_at: now,
                    number: 0,
                };
                self.open(txn, caller, draft, linking, "case_ids").await
            },
        )
        .await?;
        self.outbox.notify_committed();
        let incident = created
            .or_current(async |id| {
                incidents::find(&self.db, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("incident", id))
            })
            .await?;
        self.view(&self.db, incident).await
    }

    /// One incident.
    pub async fn get_incident(&self, caller: &Caller, id: &str) -> Result<IncidentView, Error> {
        require_reader(caller)?;
        let incident = incidents::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("incident", id))?;
        self.view(&self.db, incident).await
    }

    /// A page of incidents.
    pub async fn list_incidents(
        &self,
        caller: &Caller,
        filter: incidents::Filter,
        page: &Page,
    ) -> Result<(Vec<IncidentView>, PageResponse), Error> {
        require_reader(caller)?;
        let (found, next) = incidents::list(&self.db, filter, page).await?;
        Ok((self.views(&self.db, found).await?, next))
    }

    /// Posts a status update; the next follow-up falls due the follow-up interval later.
    pub async fn update_incident(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        change: IncidentChange,
    ) -> Result<IncidentView, Error> {
        require_supporter(caller)?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut incident = self.open_incident(&txn, id, Some(expected_version)).await?;
        let status = rules::next_status(*incident.status, change.status)
            .map_err(|d| Error::invalid("status", d.to_string()))?;
        self.require_systems(&txn, &change.add_system_ids, "add_system_ids")
            .await?;
        incident.status = status.into();
        if change.scope != IncidentScope::Unspecified {
            incident.scope = change.scope.into();
        }
        let mut systems = incident.system_ids();
        for system in change.add_system_ids {
            if !systems.contains(&system) {
                systems.push(system);
            }
        }
        incident.system_ids = json_list(&systems)?;
        // Each update after the report to the supplier starts the next follow-up.
        if incident.supplier_report.is_some() {
            incident.follow_up_due = Some(self.clock.now() + self.policy.follow_up);
            incident.follow_up_announced = false;
        }
        let linked = cases::of_incident(&txn, id).await?;
        let (incident, _) = self
            .incident_changed(
                &txn,
                caller,
                incident,
                IncidentUpdateKind::StatusUpdate,
                &change.text,
                &linked,
            )
            .await?;
        let view = self.view(&txn, incident).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(view)
    }

    /// Records the report to the supplier; the first follow-up falls due the follow-up interval later.
    pub async fn report_to_supplier(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        report: NewSupplierReport,
    ) -> Result<(IncidentView, Option<supplier_mails::Model>), Error> {
        require_supporter(caller)?;
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut incident = self.open_incident(&txn, id, Some(expected_version)).await?;
        if incident.supplier_report.is_some() {
            return Err(Error::FailedPrecondition(
                Reason::WrongState,
                "the incident is reported to the supplier; post later news as status updates"
                    .into(),
            ));
        }
        if let Some(attachment_id) = &report.screenshot_attachment_id {
            let attachment = attachments::find(&txn, attachment_id)
                .await?
                .ok_or_else(|| {
                    Error::not_found_field("attachment", attachment_id, "screenshot_attachment_id")
                })?;
            let of_linked_case = cases::find(&txn, &attachment.case_id)
                .await?
                .is_some_and(|c| c.incident_id.as_deref() == Some(id));
            if !of_linked_case {
                return Err(Error::invalid(
                    "screenshot_attachment_id",
                    "must be an attachment of one of the incident's linked cases",
                ));
            }
        }
        let stored = incidents::SupplierReport {
            problem: report.problem,
            occurred_at: report.occurred_at,
            screenshot_attachment_id: report.screenshot_attachment_id.unwrap_or_default(),
            tag: report.tag,
            reported_at: now,
        };
        let text = format!("Reported to the supplier, tagged {}", stored.tag);
        let mail_text = domain::suppliers::incident_report_text(
            &stored.problem,
            stored.occurred_at,
            &stored.tag,
        );
        incident.supplier_report = Some(serde_json::to_string(&stored).map_err(Error::internal)?);
        incident.follow_up_due = Some(now + self.policy.follow_up);
        incident.follow_up_announced = false;
        let (incident, _) = self
            .incident_changed(
                &txn,
                caller,
                incident,
                IncidentUpdateKind::SupplierReport,
                &text,
                &[],
            )
            .await?;
        let mail = self
            .mail_incident_report(&txn, caller, &incident, mail_text)
            .await?;
        let view = self.view(&txn, incident).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok((view, mail))
    }

    /// Links a case to an open incident.
    pub async fn link_case(
        &self,
        caller: &Caller,
        id: &str,
        case_id: &str,
    ) -> Result<IncidentView, Error> {
        require_supporter(caller)?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let incident = self.open_incident(&txn, id, None).await?;
        let case = cases::find_for_update(&txn, case_id)
            .await?
            .ok_or_else(|| Error::not_found_field("case", case_id, "case_id"))?;
        Self::require_sees(caller, &case)?;
        if case.incident_id.as_deref() == Some(id) {
            return self.view(&txn, incident).await;
        }
        let case = self
            .attach(&txn, caller, &incident, case, "case_id")
            .await?;
        let incident = self.joined(&txn, caller, incident, &case).await?;
        let view = self.view(&txn, incident).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(view)
    }

    /// Unlinks a case from an open incident.
    pub async fn unlink_case(
        &self,
        caller: &Caller,
        id: &str,
        case_id: &str,
    ) -> Result<IncidentView, Error> {
        require_supporter(caller)?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut incident = self.open_incident(&txn, id, None).await?;
        let mut case = cases::find_for_update(&txn, case_id)
            .await?
            .ok_or_else(|| Error::not_found_field("case", case_id, "case_id"))?;
        Self::require_sees(caller, &case)?;
        if case.incident_id.as_deref() != Some(id) {
            return Err(Error::FailedPrecondition(
                Reason::WrongState,
                format!("case {case_id} is not linked to the incident"),
            ));
        }
        case.incident_id = None;
        let case = self
            .saved(
                &txn,
                caller,
                case,
                "unlink incident",
                json!({"incident_id": id}),
            )
            .await?;
        let remaining = cases::of_incident(&txn, id).await?;
        incident.municipality_ids = json_list(&municipalities_of(&remaining))?;
        let text = format!("{} unlinked", domain::case_number(case.number));
        let (incident, _) = self
            .incident_changed(
                &txn,
                caller,
                incident,
                IncidentUpdateKind::CaseUnlinked,
                &text,
                std::slice::from_ref(&case),
            )
            .await?;
        let view = self.view(&txn, incident).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(view)
    }

    /// Adds `text` as a public comment by `caller` to `case`, the first response if none was given.
    async fn tell(
        &self,
        txn: &Txn,
        caller: &Caller,
        mut case: cases::Model,
        text: &str,
    ) -> Result<cases::Model, Error> {
        let now = self.clock.now();
        let comment = comments::insert(
            txn,
            comments::Model {
                id: Uuid::now_v7().to_string(),
                case_id: case.id.clone(),
                author: caller.subject.clone(),
                text: text.to_owned(),
                visibility: pb::CommentVisibility::Public.into(),
                created_at: now,
            },
        )
        .await?;
        case.first_response_at.get_or_insert(now);
        let payload = json!({
            "comment_id": comment.id,
            "visibility": comment.visibility,
            "incident_id": case.incident_id,
        });
        self.saved(txn, caller, case, "comment", payload).await
    }

    /// Sends one reply to every open linked case. Returns the incident and the cases replied to.
    pub async fn reply_to_linked_cases(
        &self,
        caller: &Caller,
        id: &str,
        text: String,
        key: Option<IdempotencyKey>,
    ) -> Result<(IncidentView, Vec<String>), Error> {
        require_supporter(caller)?;
        let created = idempotency::run(
            &self.db,
            key,
            self.clock.now(),
            |entry: &incident_updates::Model| entry.id.clone(),
            async |txn: &Txn| {
                let incident = self.open_incident(txn, id, None).await?;
                let open: Vec<cases::Model> = cases::of_incident_for_update(txn, id)
                    .await?
                    .into_iter()
                    .filter(|c| domain::is_open(*c.state))
                    .collect();
                if open.is_empty() {
                    return Err(Error::FailedPrecondition(
                        Reason::WrongState,
                        "the incident has no open linked cases to reply to".into(),
                    ));
                }
                let mut replied = Vec::with_capacity(open.len());
                for case in open {
                    replied.push(self.tell(txn, caller, case, &text).await?);
                }
                let (_, entry) = self
                    .incident_changed(
                        txn,
                        caller,
                        incident,
                        IncidentUpdateKind::Reply,
                        &text,
                        &replied,
                    )
                    .await?;
                Ok(entry)
            },
        )
        .await?;
        self.outbox.notify_committed();
        let entry = created
            .or_current(async |entry_id| {
                incident_updates::find(&self.db, &entry_id)
                    .await?
                    .ok_or_else(|| Error::not_found("incident update", entry_id))
            })
            .await?;
        let incident = incidents::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("incident", id))?;
        Ok((self.view(&self.db, incident).await?, entry.case_ids()))
    }

    /// Resolves an incident: every linked case is told, and its open ones are resolved as fixed unless
    /// left open; one `IncidentResolved` event names them all. Returns the incident and the cases it
    /// resolved.
    pub async fn resolve_incident(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        text: String,
        leave_cases_open: bool,
    ) -> Result<(IncidentView, Vec<String>), Error> {
        require_supporter(caller)?;
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut incident = self.open_incident(&txn, id, Some(expected_version)).await?;
        let mut all = Vec::new();
        let mut resolved = Vec::new();
        for case in cases::of_incident_for_update(&txn, id).await? {
            let mut case = self.tell(&txn, caller, case, &text).await?;
            let state = *case.state;
            if !leave_cases_open && domain::is_open(state) {
                case.state = CaseState::Resolved.into();
                case.resolution = Resolution::Fixed.into();
                case.resolved_at = Some(now);
                self.end_pause(&mut case, now);
                let payload = json!({
                    "from": state.as_str_name(),
                    "to": case.state,
                    "resolution": case.resolution,
                    "incident_id": id,
                });
                case = self.saved(&txn, caller, case, "resolve", payload).await?;
                resolved.push(case.id.clone());
            }
            all.push(case);
        }
        incident.status = IncidentStatus::Resolved.into();
        incident.resolved_at = Some(now);
        incident.follow_up_due = None;
        incident.version += 1;
        incident.updated_at = now;
        let incident = update_versioned(&txn, incident).await?;
        self.mail_incident_resolution(&txn, caller, &incident, &text)
            .await?;
        self.timeline(
            &txn,
            caller,
            &incident,
            IncidentUpdateKind::Resolved,
            &text,
            &resolved,
        )
        .await?;
        let payload = json!({"resolved_case_ids": resolved, "cases_left_open": leave_cases_open});
        self.audit(&txn, caller, "incident", id, "resolve", payload)
            .await?;
        let event = pb::IncidentResolved {
            incident_id: id.to_owned(),
            cases: all.iter().map(linked_case).collect(),
            cases_resolved: !leave_cases_open,
            title: incident.title.clone(),
            text: text.clone(),
        };
        outbox::publish(&txn, now, id, &event).await?;
        let view = self.view(&txn, incident).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok((view, resolved))
    }

    /// The open incidents whose follow-up is overdue, most overdue first.
    pub async fn overdue_follow_ups(&self, caller: &Caller) -> Result<Vec<IncidentView>, Error> {
        require_supporter(caller)?;
        let now = self.clock.now();
        let mut overdue: Vec<incidents::Model> = incidents::open(&self.db)
            .await?
            .into_iter()
            .filter(|i| follow_up_overdue(*i.status, i.follow_up_due, now))
            .collect();
        overdue.sort_by_key(|i| i.follow_up_due);
        self.views(&self.db, overdue).await
    }

    /// Announces each overdue follow-up once (per due time) as `IncidentFollowUpOverdue`. Returns how
    /// many were announced. Run periodically by the server.
    pub async fn announce_overdue_follow_ups(&self) -> Result<u64, Error> {
        let now = self.clock.now();
        let mut announced = 0;
        for incident in incidents::open(&self.db).await? {
            let Some(due) = incident.follow_up_due else {
                continue;
            };
            if incident.follow_up_announced || !follow_up_overdue(*incident.status, Some(due), now)
            {
                continue;
            }
            let txn = kommune_platform::db::begin(&self.db).await?;
            if incidents::mark_follow_up_announced(&txn, &incident.id, due).await? {
                let event = pb::IncidentFollowUpOverdue {
                    incident_id: incident.id.clone(),
                    due_time: Some(kommune_platform::clock::to_timestamp(due)),
                };
                outbox::publish(&txn, now, &incident.id, &event).await?;
                announced += 1;
            }
            txn.commit().await?;
        }
        if announced > 0 {
            self.outbox.notify_committed();
        }
        Ok(announced)
    }
}
