//! Each municipality's tasks made from the published templates and dated from its go-live.

use super::*;
use kommune_platform::db::Txn;

impl Registry {
    /// Creates the missing tasks due to `municipalities`: one per published template, dated from the
    /// municipality's wave when it has one. Returns how many were created.
    pub(super) async fn ensure_tasks(
        &self,
        txn: &Txn,
        project_id: &str,
        municipalities: &[String],
    ) -> Result<u64, Error> {
        let template_ids: Vec<String> = templates::of_project(txn, project_id)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect();
        let published = template_versions::latest_published(txn, &template_ids).await?;
        let waves: HashMap<String, waves::Model> = waves::of_project(txn, project_id)
            .await?
            .into_iter()
            .map(|w| (w.id.clone(), w))
            .collect();
        let wave_of: HashMap<String, waves::Model> = enrolments::of_project(txn, project_id)
            .await?
            .into_iter()
            .filter_map(|e| {
                waves
                    .get(&e.wave_id)
                    .cloned()
                    .map(|w| (e.municipality_id, w))
            })
            .collect();
        let existing: HashSet<(String, String)> =
            tasks::of_project(txn, project_id, Some(municipalities))
                .await?
                .into_iter()
                .map(|t| (t.template_id, t.municipality_id))
                .collect();
        let now = self.clock.now();
        let mut created: HashMap<&str, i64> = HashMap::new();
        for version in &published {
            let content = version.content()?;
            for municipality in municipalities {
                let wave = wave_of.get(municipality);
                let due = domain::is_due(content.k98, wave.is_some_and(|w| w.published));
                if !due || existing.contains(&(version.template_id.clone(), municipality.clone())) {
                    continue;
                }
                let dates = wave.and_then(|w| content.schedule.dates(w.go_live));
                tasks::insert(
                    txn,
                    tasks::Model {
                        id: Uuid::now_v7().to_string(),
                        project_id: project_id.to_owned(),
                        template_id: version.template_id.clone(),
                        template_version: version.version,
                        municipality_id: municipality.clone(),
                        title: content.title.clone(),
                        theme: content.theme,
                        phase: content.phase,
                        priority: content.priority,
                        schedule: serde_json::to_string(&content.schedule)
                            .map_err(Error::internal)?,
                        status: pb::TaskStatus::Open.into(),
                        start_date: dates.map(|d| d.start),
                        end_date: dates.map(|d| d.end),
                        version: 1,
                        created_at: now,
                    },
                )
                .await?;
                *created.entry(municipality.as_str()).or_default() += 1;
            }
        }
        for (municipality, count) in &created {
            let event = pb::TasksPublished {
                project_id: project_id.to_owned(),
                municipality_id: (*municipality).to_owned(),
                count: *count,
            };
            outbox::publish(txn, now, *municipality, &event).await?;
        }
        Ok(created.values().sum::<i64>() as u64)
    }

    /// Gives the municipalities' tasks the dates of a go-live, except tasks done or inside their own
    /// frozen zone. Returns how many tasks got new dates.
    pub(super) async fn reschedule(
        &self,
        txn: &Txn,
        project_id: &str,
        municipalities: &[String],
        go_live: NaiveDate,
    ) -> Result<u64, Error> {
        let today = self.today();
        let mut moved = 0;
        for mut task in tasks::of_project(txn, project_id, Some(municipalities)).await? {
            let current = task.dates();
            let done = *task.status == TaskStatus::Done;
            let dates = task.schedule()?.rescheduled(current, go_live, today, done);
            if dates != current {
                task.start_date = dates.map(|d| d.start);
                task.end_date = dates.map(|d| d.end);
                task.version += 1;
                update_versioned(txn, task).await?;
                moved += 1;
            }
        }
        Ok(moved)
    }
}
