//! Task templates: drafts, review comments and publication into every municipality's tasks.

use super::*;
use kommune_platform::db::Txn;

impl Registry {
    async fn template(&self, id: &str) -> Result<TemplateWithVersions, Error> {
        let template = templates::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("template", id))?;
        let versions = template_versions::of_template(&self.db, id).await?;
        Ok(TemplateWithVersions { template, versions })
    }

    /// Creates a template with its first draft (consortium admins).
    pub async fn create_template(
        &self,
        caller: &Caller,
        project_id: &str,
        content: TaskContent,
        key: Option<IdempotencyKey>,
    ) -> Result<TemplateWithVersions, Error> {
        caller.require_any_role(&EDITORS, "creating a template")?;
        self.project(project_id, "project_id").await?;
        let now = self.clock.now();
        let encoded = template_versions::encode(&content)?;
        let created = idempotency::run(
            &self.db,
            key,
            now,
            |t: &templates::Model| t.id.clone(),
            async |txn: &Txn| {
                let template = templates::insert(
                    txn,
                    templates::Model {
                        id: Uuid::now_v7().to_string(),
                        project_id: project_id.to_owned(),
                        created_at: now,
                    },
                )
                .await?;
                template_versions::insert(txn, draft(&template.id, 1, encoded)).await?;
                self.audit(
                    txn,
                    caller,
                    "template",
                    &template.id,
                    "create",
                    json!({"title": content.title}),
                )
                .await?;
                Ok(template)
            },
        )
        .await?;
        let id = match created {
            Created::New(template) => template.id,
            Created::Replayed(id) => id,
        };
        self.template(&id).await
    }

    /// A template with its versions.
    pub async fn get_template(&self, id: &str) -> Result<TemplateWithVersions, Error> {
        self.template(id).await
    }

    /// A page of a project's templates with their versions.
    pub async fn list_templates(
        &self,
        project_id: &str,
        page: &Page,
    ) -> Result<(Vec<TemplateWithVersions>, PageResponse), Error> {
        let (rows, page) = templates::list(&self.db, project_id, page).await?;
        let mut listed = Vec::with_capacity(rows.len());
        for template in rows {
            let versions = template_versions::of_template(&self.db, &template.id).await?;
            listed.push(TemplateWithVersions { template, versions });
        }
        Ok((listed, page))
    }

    /// Replaces the open draft's content, or opens a new draft when none is (consortium admins).
    pub async fn update_draft(
        &self,
        caller: &Caller,
        id: &str,
        expected_revision: i64,
        content: TaskContent,
    ) -> Result<TemplateWithVersions, Error> {
        caller.require_any_role(&EDITORS, "editing a template")?;
        let encoded = template_versions::encode(&content)?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        templates::find(&txn, id)
            .await?
            .ok_or_else(|| Error::not_found("template", id))?;
        let versions = template_versions::of_template(&txn, id).await?;
        let latest = versions
            .last()
            .ok_or_else(|| Error::internal("template without versions"))?;
        let (version, action) = if latest.published {
            if expected_revision != 0 {
                return Err(Error::Aborted(
                    Reason::StaleVersion,
                    "the draft was published; read the template again".into(),
                ));
            }
            (
                template_versions::insert(&txn, draft(id, latest.version + 1, encoded)).await?,
                "open draft",
            )
        } else {
            Error::require_revision("draft", latest.revision, expected_revision)?;
            let changed = template_versions::Model {
                content: encoded,
                revision: latest.revision + 1,
                ..latest.clone()
            };
            (update_versioned(&txn, changed).await?, "edit draft")
        };
        let payload = json!({
            "version": version.version,
            "revision": version.revision,
            "title": content.title,
        });
        self.audit(&txn, caller, "template", id, action, payload)
            .await?;
        txn.commit().await?;
        self.template(id).await
    }

    /// Adds a review comment to the open draft (anyone signed in).
    pub async fn add_review_comment(
        &self,
        caller: &Caller,
        id: &str,
        text: String,
    ) -> Result<review_comments::Model, Error> {
        let template = self.template(id).await?;
        let draft = template
            .versions
            .last()
            .filter(|v| !v.published)
            .ok_or_else(|| {
                Error::FailedPrecondition(
                    Reason::WrongState,
                    "the template has no draft to review".into(),
                )
            })?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let comment = review_comments::insert(
            &txn,
            review_comments::Model {
                id: Uuid::now_v7().to_string(),
                template_id: id.to_owned(),
                version: draft.version,
                author: caller.subject.clone(),
                text,
                created_at: self.clock.now(),
            },
        )
        .await?;
        self.audit(
            &txn,
            caller,
            "template",
            id,
            "review comment",
            json!({"comment_id": comment.id, "version": comment.version}),
        )
        .await?;
        txn.commit().await?;
        Ok(comment)
    }

    /// A page of a template's review comments.
    pub async fn list_review_comments(
        &self,
        id: &str,
        page: &Page,
    ) -> Result<(Vec<review_comments::Model>, PageResponse), Error> {
        templates::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("template", id))?;
        review_comments::list(&self.db, id, page).await
    }

    /// Publishes the open draft (consortium admins) and creates the tasks it makes due: for every
    /// active municipality when K98, else for the municipalities of published waves.
    pub async fn publish_template(
        &self,
        caller: &Caller,
        id: &str,
        expected_revision: i64,
        note: String,
        initials: String,
    ) -> Result<(TemplateWithVersions, u64), Error> {
        caller.require_any_role(&EDITORS, "publishing a template")?;
        let template = self.template(id).await?;
        let draft = template
            .versions
            .last()
            .filter(|v| !v.published)
            .ok_or_else(|| {
                Error::FailedPrecondition(
                    Reason::WrongState,
                    "the template has no draft to publish".into(),
                )
            })?
            .clone();
        Error::require_revision("draft", draft.revision, expected_revision)?;
        let content = draft.content()?;
        // K98 tasks go to every active municipality, asked of identity before the transaction opens.
        let everyone = if content.k98 {
            self.peers.active_municipalities(caller).await?
        } else {
            Vec::new()
        };
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let published = template_versions::Model {
            published: true,
            note,
            initials,
            published_at: Some(now),
            revision: draft.revision + 1,
            ..draft
        };
        let published = update_versioned(&txn, published).await?;
        let project_id = template.template.project_id.clone();
        let mut municipalities: HashSet<String> = everyone.into_iter().collect();
        let published_waves: HashSet<String> = waves::of_project(&txn, &project_id)
            .await?
            .into_iter()
            .filter(|w| w.published)
            .map(|w| w.id)
            .collect();
        for enrolment in enrolments::of_project(&txn, &project_id).await? {
            if content.k98 || published_waves.contains(&enrolment.wave_id) {
                municipalities.insert(enrolment.municipality_id);
            }
        }
        let municipalities: Vec<String> = municipalities.into_iter().collect();
        let created = self
            .ensure_tasks(&txn, &project_id, &municipalities)
            .await?;
        let payload = json!({
            "version": published.version,
            "note": published.note,
            "initials": published.initials,
            "tasks_created": created,
        });
        self.audit(&txn, caller, "template", id, "publish", payload)
            .await?;
        outbox::publish(
            &txn,
            now,
            id,
            &pb::TemplatePublished {
                template_id: id.to_owned(),
                version: published.version,
            },
        )
        .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok((self.template(id).await?, created))
    }
}

fn draft(template_id: &str, version: i32, content: String) -> template_versions::Model {
    template_versions::Model {
        template_id: template_id.to_owned(),
        version,
        published: false,
        content,
        note: String::new(),
        initials: String::new(),
        published_at: None,
        revision: 1,
    }
}
