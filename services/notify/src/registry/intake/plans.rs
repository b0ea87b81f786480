//! The rules of who hears what: one function per kind of event, saying what it asks to tell
//! (topic, default audience, content), and for operational messages the entry of the public feed.

use super::*;

/// What an event asks to tell, and the public feed's entry it makes, if any.
type Planned = (Vec<Plan>, Option<feed_entries::Model>);

impl Registry {
    /// What an event asks to tell; nothing for kinds that tell nobody.
    pub(super) async fn plan(
        &self,
        event: &EventEnvelope,
        now: DateTime<Utc>,
    ) -> Result<Planned, Error> {
        let today = kommune_platform::clock::copenhagen_date(now);
        let kind = event.event_type.as_str();
        let plans = match kind {
            k if k == cases::CaseFiled::full_name() => {
                self.case_filed(decode(event)?, today).await?
            }
            k if k == cases::CaseChanged::full_name() => {
                self.case_changed(decode(event)?, today).await?
            }
            k if k == cases::IncidentChanged::full_name() => {
                self.incident_changed(decode(event)?, today).await?
            }
            k if k == cases::IncidentResolved::full_name() => {
                self.incident_resolved(decode(event)?, today).await?
            }
            k if k == cases::IncidentFollowUpOverdue::full_name() => {
                self.follow_up_overdue(decode(event)?).await?
            }
            k if k == cases::CaseSlaAlert::full_name() => self.sla_alert(decode(event)?).await?,
            k if k == cases::CaseRatingInvited::full_name() => {
                self.rating_invitation(decode(event)?).await?
            }
            k if k == cases::OperationalMessageChanged::full_name() => {
                return self.operational_message(decode(event)?, now).await;
            }
            k if k == changes::ChangeRequestListPublished::full_name() => {
                list_published(decode(event)?)
            }
            k if k == klik::TasksPublished::full_name() => {
                self.tasks_published(decode(event)?).await?
            }
            k if k == klik::WaveMoved::full_name() => self.wave_moved(decode(event)?).await?,
            k if k == catalogue::OrderStepTaken::full_name() => {
                self.order_step(decode(event)?).await?
            }
            k if k == catalogue::OrderCommented::full_name() => {
                self.order_commented(decode(event)?).await?
            }
            _ => Vec::new(),
        };
        Ok((plans, None))
    }

    /// An order's news reaches whoever ordered it and the supplier's second line, except the one
    /// who made the news.
    async fn order_audience(&self, ordered_by: &str, actor: &str) -> Result<Vec<String>, Error> {
        let mut audience = self
            .peers
            .users_with_role(None, Role::SupplierSecondLine)
            .await?;
        audience.extend(ordered_by.strip_prefix("user:").map(str::to_owned));
        let actor = actor.strip_prefix("user:").unwrap_or(actor);
        audience.retain(|user| user != actor);
        audience.sort();
        audience.dedup();
        Ok(audience)
    }

    async fn order_step(&self, step: catalogue::OrderStepTaken) -> Result<Vec<Plan>, Error> {
        Ok(vec![Plan {
            topic: Topic::of(TopicKind::OrderUpdates),
            audience: self.order_audience(&step.ordered_by, &step.actor).await?,
            content: Content::OrderStep {
                state: step.state().as_str_name().to_owned(),
                number: step.number,
                item_da: step.item_name_da,
                item_en: step.item_name_en,
                reason: step.reason,
                amount_ore: step.amount_ore,
                promised: step.promised_delivery_date,
            },
        }])
    }

    async fn order_commented(
        &self,
        commented: catalogue::OrderCommented,
    ) -> Result<Vec<Plan>, Error> {
        Ok(vec![Plan {
            topic: Topic::of(TopicKind::OrderUpdates),
            audience: self
                .order_audience(&commented.ordered_by, &commented.author)
                .await?,
            content: Content::OrderCommented {
                number: commented.number,
                text: commented.text,
            },
        }])
    }

    /// Case changes reach the reporter and the municipality's support-eligible users.
    async fn case_audience(
        &self,
        case: &cases::Case,
        today: NaiveDate,
    ) -> Result<Vec<String>, Error> {
        let mut audience = vec![case.reporter_user_id.clone()];
        audience.extend(
            self.peers
                .eligible_users(&case.municipality_id, today)
                .await?,
        );
        audience.sort();
        audience.dedup();
        Ok(audience)
    }

    async fn case_filed(
        &self,
        filed: cases::CaseFiled,
        today: NaiveDate,
    ) -> Result<Vec<Plan>, Error> {
        let case = self.peers.case(&filed.case_id).await?;
        Ok(vec![Plan {
            topic: Topic::of(TopicKind::CaseUpdates),
            audience: self.case_audience(&case, today).await?,
            content: Content::CaseFiled {
                number: case.number.clone(),
                title: case.title.clone(),
            },
        }])
    }

    async fn case_changed(
        &self,
        changed: cases::CaseChanged,
        today: NaiveDate,
    ) -> Result<Vec<Plan>, Error> {
        let case = self.peers.case(&changed.case_id).await?;
        Ok(vec![Plan {
            topic: Topic::of(TopicKind::CaseUpdates),
            audience: self.case_audience(&case, today).await?,
            content: Content::CaseChanged {
                number: case.number.clone(),
                title: case.title.clone(),
                state: changed.state().as_str_name().to_owned(),
                change: changed.change,
            },
        }])
    }

    /// The invitation to rate a resolved case goes to its reporter alone.
    async fn rating_invitation(
        &self,
        invited: cases::CaseRatingInvited,
    ) -> Result<Vec<Plan>, Error> {
        let case = self.peers.case(&invited.case_id).await?;
        Ok(vec![Plan {
            topic: Topic::of(TopicKind::CaseUpdates),
            audience: vec![invited.reporter_user_id],
            content: Content::RatingInvitation {
                number: case.number,
                title: case.title,
            },
        }])
    }

    /// Status updates and replies; other incident changes tell nobody.
    async fn incident_changed(
        &self,
        changed: cases::IncidentChanged,
        today: NaiveDate,
    ) -> Result<Vec<Plan>, Error> {
        if !matches!(changed.change.as_str(), "status_update" | "reply") {
            return Ok(Vec::new());
        }
        // A reply is a public comment on the linked cases: a case change as well.
        let touches_cases = changed.change == "reply";
        let content = Content::IncidentUpdate {
            title: changed.title,
            text: changed.text,
        };
        self.incident_plans(&changed.cases, content, touches_cases, today)
            .await
    }

    async fn incident_resolved(
        &self,
        resolved: cases::IncidentResolved,
        today: NaiveDate,
    ) -> Result<Vec<Plan>, Error> {
        let content = Content::IncidentResolved {
            title: resolved.title,
            text: resolved.text,
        };
        self.incident_plans(&resolved.cases, content, true, today)
            .await
    }

    /// An overdue follow-up with the supplier reminds the whole 2nd line.
    async fn follow_up_overdue(
        &self,
        overdue: cases::IncidentFollowUpOverdue,
    ) -> Result<Vec<Plan>, Error> {
        let incident = self.peers.incident(&overdue.incident_id).await?;
        Ok(vec![Plan {
            topic: Topic::of(TopicKind::Reminders),
            audience: self
                .peers
                .users_with_role(None, Role::SupplierSecondLine)
                .await?,
            content: Content::FollowUpOverdue {
                title: incident.title,
                due: local(overdue.due_time.as_ref()),
            },
        }])
    }

    /// An SLA alert reaches the team working the case, or the whole 2nd line while nobody does.
    async fn sla_alert(&self, alert: cases::CaseSlaAlert) -> Result<Vec<Plan>, Error> {
        let case = self.peers.case(&alert.case_id).await?;
        let team = self
            .peers
            .teams()
            .await?
            .into_iter()
            .find(|t| t.team_id == case.team_id);
        let audience = match team {
            Some(team) if !team.member_user_ids.is_empty() => team.member_user_ids,
            _ => {
                self.peers
                    .users_with_role(None, Role::SupplierSecondLine)
                    .await?
            }
        };
        Ok(vec![Plan {
            topic: Topic::of(TopicKind::Reminders),
            audience,
            content: Content::SlaAlert {
                number: case.number,
                title: case.title,
                target: alert.target,
                breached: alert.breached,
                due: local(alert.due_time.as_ref()),
            },
        }])
    }

    /// A published, updated or resolved operational message reaches the subscribers of each of its
    /// systems, and becomes the public feed's entry; drafts and other changes tell nobody.
    async fn operational_message(
        &self,
        changed: cases::OperationalMessageChanged,
        now: DateTime<Utc>,
    ) -> Result<Planned, Error> {
        if !matches!(changed.change.as_str(), "publish" | "update" | "resolve")
            || changed.state() == cases::OperationalMessageState::Draft
        {
            return Ok((Vec::new(), None));
        }
        let message = self
            .peers
            .operational_message(&changed.operational_message_id)
            .await?;
        let resolved = message.state() == cases::OperationalMessageState::Resolved;
        let texts = MessageTexts {
            title_da: message.title_da,
            text_da: message.text_da,
            workaround_da: message.workaround_da,
            resolution_da: message.resolution_da,
            title_en: message.title_en,
            text_en: message.text_en,
            workaround_en: message.workaround_en,
            resolution_en: message.resolution_en,
        };
        let at =
            |time: Option<&prost_types::Timestamp>| time.and_then(from_timestamp).unwrap_or(now);
        let entry = feed_entries::Model {
            message_id: changed.operational_message_id.clone(),
            texts: serde_json::to_string(&texts).map_err(Error::internal)?,
            systems: serde_json::to_string(&message.system_names).map_err(Error::internal)?,
            system_ids: serde_json::to_string(&message.system_ids).map_err(Error::internal)?,
            resolved,
            published_at: at(message.publish_time.as_ref()),
            updated_at: at(message.update_time.as_ref()),
        };
        let content = Content::OperationalMessage {
            change: changed.change,
            systems: message.system_names,
            texts,
        };
        let plans = message
            .system_ids
            .into_iter()
            .map(|system| Plan {
                topic: Topic::about(TopicKind::OperationalMessages, system),
                audience: Vec::new(),
                content: content.clone(),
            })
            .collect();
        Ok((plans, Some(entry)))
    }

    /// Published tasks reach the municipality's project leaders in the project.
    async fn tasks_published(&self, published: klik::TasksPublished) -> Result<Vec<Plan>, Error> {
        let project = self
            .peers
            .project(&published.project_id)
            .await?
            .map(|p| p.name)
            .unwrap_or_default();
        let enrolments = self.peers.enrolments(&published.project_id).await?;
        Ok(vec![Plan {
            audience: self
                .project_leaders(&enrolments, &published.municipality_id)
                .await?,
            topic: Topic::about(TopicKind::Project, published.project_id),
            content: Content::TasksPublished {
                project,
                municipality: self
                    .peers
                    .municipality(&published.municipality_id)
                    .await?
                    .map(|m| m.name)
                    .unwrap_or_default(),
                count: published.count,
            },
        }])
    }

    /// A moved wave reaches the project leaders of its municipalities and the project's subscribers.
    async fn wave_moved(&self, moved: klik::WaveMoved) -> Result<Vec<Plan>, Error> {
        // Moves announced before the event named its project and municipalities tell nobody.
        if moved.project_id.is_empty() {
            return Ok(Vec::new());
        }
        let Some(project) = self.peers.project(&moved.project_id).await? else {
            return Ok(Vec::new());
        };
        let enrolments = self.peers.enrolments(&moved.project_id).await?;
        let mut leaders = Vec::new();
        for municipality in &moved.municipality_ids {
            leaders.extend(self.project_leaders(&enrolments, municipality).await?);
        }
        Ok(vec![Plan {
            topic: Topic::about(TopicKind::Project, moved.project_id),
            audience: leaders,
            content: Content::WaveMoved {
                project: project.name,
                wave: moved.wave_name,
                from: moved.previous_go_live,
                to: moved.go_live,
                rescheduled: moved.tasks_rescheduled,
            },
        }])
    }

    /// What an incident's update, reply or resolution asks to tell: every reporter of its linked cases
    /// (as incident updates) and, when it `touches_cases` (a reply or resolution is a public comment
    /// on them, or resolves them, with no CaseChanged of their own), the other support-eligible users
    /// of those cases' municipalities as case updates — as for any other case change. A reporter is
    /// left out of the second plan, so opting out of incident updates is not undone by it.
    async fn incident_plans(
        &self,
        linked: &[cases::LinkedCase],
        content: Content,
        touches_cases: bool,
        today: NaiveDate,
    ) -> Result<Vec<Plan>, Error> {
        let reporters: Vec<String> = linked.iter().map(|c| c.reporter_user_id.clone()).collect();
        let mut plans = vec![Plan {
            topic: Topic::of(TopicKind::IncidentUpdates),
            audience: reporters.clone(),
            content: content.clone(),
        }];
        if touches_cases {
            let mut municipalities: Vec<&str> =
                linked.iter().map(|c| c.municipality_id.as_str()).collect();
            municipalities.sort_unstable();
            municipalities.dedup();
            let mut eligible = Vec::new();
            for municipality in municipalities {
                eligible.extend(self.peers.eligible_users(municipality, today).await?);
            }
            eligible.retain(|user| !reporters.contains(user));
            eligible.sort();
            eligible.dedup();
            plans.push(Plan {
                topic: Topic::of(TopicKind::CaseUpdates),
                audience: eligible,
                content,
            });
        }
        Ok(plans)
    }

    /// The project leaders of a municipality in a klik project: the one named on its enrolment or,
    /// when none is or they have left, the municipality's project-leader role holders.
    pub(in crate::registry) async fn project_leaders(
        &self,
        enrolments: &[klik::Enrolment],
        municipality_id: &str,
    ) -> Result<Vec<String>, Error> {
        if let Some(leader) = domain::named_leader(enrolments, municipality_id) {
            // A named leader who has left (deactivated or anonymised) hands over to the role holders.
            let reachable = self
                .peers
                .user(&leader)
                .await?
                .is_some_and(|u| u.active && !u.anonymized);
            if reachable {
                return Ok(vec![leader]);
            }
        }
        self.peers
            .users_with_role(Some(municipality_id), Role::MunicipalProjectLeader)
            .await
    }
}

/// A new publication of the change-request list reaches its subscribers.
fn list_published(published: changes::ChangeRequestListPublished) -> Vec<Plan> {
    vec![Plan {
        topic: Topic::of(TopicKind::ChangeRequestPublication),
        audience: Vec::new(),
        content: Content::ChangeRequestListPublished {
            number: published.number,
            note: published.note,
            count: published.item_count,
        },
    }]
}
