//! Reminders of what is about to be late: klik tasks due within the coming days, told to the
//! municipality's project leader (the one named on its enrolment, else its project-leader role holders)
//! once per task and deadline.

use std::collections::HashMap;

use chrono::Duration;

use kommune_platform::Error;
use kommune_proto::notify::v1::TopicKind;

use super::Registry;
use super::intake::Plan;
use crate::domain::templates::Content;
use crate::domain::{self, Topic};
use crate::store::handled_events;

impl Registry {
    /// Reminds the project leaders of every open klik task due within `days` days (Copenhagen dates),
    /// once per task and deadline. Returns how many tasks were reminded of. Run periodically by the
    /// server; a no-op without klik.
    pub async fn remind_task_deadlines(&self, days: i64) -> Result<u64, Error> {
        if self.peers.klik.is_none() {
            return Ok(0);
        }
        let today = kommune_platform::clock::copenhagen_date(self.clock.now());
        let mut reminded = 0;
        for project in self.peers.projects().await? {
            // Read once per project, and only when one of its tasks is to be reminded of.
            let mut enrolments = None;
            let mut leaders: HashMap<String, Vec<String>> = HashMap::new();
            for task in self.peers.tasks(&project.project_id).await? {
                let done = task.status() == kommune_proto::klik::v1::TaskStatus::Done;
                if done || !domain::due_within(&task.end_date, today, Duration::days(days)) {
                    continue;
                }
                let reminder = format!("task-deadline:{}:{}", task.task_id, task.end_date);
                if handled_events::handled(&self.db, &reminder).await? {
                    continue;
                }
                let audience = match leaders.get(&task.municipality_id) {
                    Some(found) => found.clone(),
                    None => {
                        if enrolments.is_none() {
                            enrolments = Some(self.peers.enrolments(&project.project_id).await?);
                        }
                        let enrolled = enrolments.as_deref().unwrap_or_default();
                        let found = self
                            .project_leaders(enrolled, &task.municipality_id)
                            .await?;
                        leaders.insert(task.municipality_id.clone(), found.clone());
                        found
                    }
                };
                let plan = Plan {
                    topic: Topic::of(TopicKind::Reminders),
                    audience,
                    content: Content::TaskDeadline {
                        project: project.name.clone(),
                        title: task.title.clone(),
                        due: task.end_date.clone(),
                    },
                };
                self.record(&reminder, "reminders", "task_deadline", &[plan], None)
                    .await?;
                reminded += 1;
            }
        }
        Ok(reminded)
    }
}
