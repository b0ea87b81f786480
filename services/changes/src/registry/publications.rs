//! Publishing the change-request list: a frozen, numbered snapshot in the published columns.

use std::collections::HashMap;

use serde_json::json;
use uuid::Uuid;

use kommune_platform::auth::Caller;
use kommune_platform::db::Txn;
use kommune_platform::export;
use kommune_platform::idempotency::{self, IdempotencyKey};
use kommune_platform::outbox;
use kommune_platform::paging::Page;
use kommune_platform::records::AuditTrail as _;
use kommune_platform::{Error, Reason};
use kommune_proto::changes::v1 as pb;
use kommune_proto::common::v1::PageResponse;
use kommune_proto::identity::v1 as identity;

use super::{ADMINS, Registry};
use crate::domain::{self, publication};
use crate::store::publications::{self, Filter, Which, facets, header as stored, items};
use crate::store::{change_requests, reference};

impl Registry {
    /// Every municipality, read from identity on the caller's behalf.
    pub(super) async fn municipalities(
        &self,
        caller: &Caller,
    ) -> Result<Vec<identity::Municipality>, Error> {
        kommune_platform::client::municipalities(&self.identity, caller).await
    }

    /// Publishes the change-request list as it stands (consortium admins): every change request in
    /// the published columns, frozen under the next number.
    pub async fn publish(
        &self,
        caller: &Caller,
        note: String,
        key: Option<IdempotencyKey>,
    ) -> Result<stored::Model, Error> {
        caller.require_any_role(&ADMINS, "publishing the change-request list")?;
        let all = change_requests::all(&self.db).await?;
        let names: HashMap<String, String> = self
            .municipalities(caller)
            .await?
            .into_iter()
            .map(|m| (m.municipality_id, m.name))
            .collect();
        let themes: HashMap<String, String> = reference::all_themes(&self.db)
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        let subthemes: HashMap<String, String> = reference::all_subthemes(&self.db)
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
        let statuses: HashMap<i32, String> = reference::all_statuses(&self.db)
            .await?
            .into_iter()
            .map(|s| (s.code, publication::status_cell(s.code, &s.name)))
            .collect();
        let now = self.clock.now();
        let id = Uuid::now_v7().to_string();
        let rows: Vec<items::Model> = all
            .iter()
            .map(|c| items::Model {
                publication_id: id.clone(),
                key: c.key.clone(),
                key_number: domain::parse_key(&c.key)
                    .map(|(_, n)| n)
                    .unwrap_or_default(),
                change_theme: themes.get(&c.theme_id).cloned().unwrap_or_default(),
                subtheme: c
                    .subtheme_id
                    .as_ref()
                    .and_then(|s| subthemes.get(s))
                    .cloned()
                    .unwrap_or_default(),
                title: c.title.clone(),
                description: c.description.clone(),
                workaround: c.workaround.clone(),
                status: statuses.get(&c.status_code).cloned().unwrap_or_default(),
                municipality_name: names
                    .get(&c.asking_municipality_id)
                    .cloned()
                    .unwrap_or_default(),
                created: publication::created_cell(c.created_at),
                related_cases: publication::related_cell(&c.related()),
                theme_id: c.theme_id.clone(),
                subtheme_id: c.subtheme_id.clone().unwrap_or_default(),
                status_code: c.status_code,
                municipality_id: c.asking_municipality_id.clone(),
                search_text: publication::search_text(&c.title, &c.description),
            })
            .collect();
        let created = idempotency::run(
            &self.db,
            key,
            now,
            |p: &stored::Model| p.id.clone(),
            async |txn: &Txn| {
                let number = publications::last_number(txn).await? + 1;
                let publication = stored::Model {
                    id: id.clone(),
                    number,
                    note,
                    item_count: rows.len() as i64,
                    published_by: caller.subject.clone(),
                    published_at: now,
                };
                let publication = publications::insert(txn, publication, rows).await?;
                let payload = json!({
                    "number": publication.number,
                    "item_count": publication.item_count,
                    "note": publication.note,
                });
                self.audit(
                    txn,
                    caller,
                    "publication",
                    &publication.id,
                    "publish",
                    payload,
                )
                .await?;
                let event = pb::ChangeRequestListPublished {
                    publication_id: publication.id.clone(),
                    number: publication.number,
                    item_count: publication.item_count,
                    note: publication.note.clone(),
                };
                outbox::publish(txn, now, &publication.id, &event).await?;
                Ok(publication)
            },
        )
        .await?;
        self.outbox.notify_committed();
        created
            .or_current(async |id| {
                publications::find(&self.db, &Which::Id(id.clone()))
                    .await?
                    .ok_or_else(|| Error::not_found("publication", id))
            })
            .await
    }

    /// A page of publications.
    pub async fn publications(
        &self,
        page: &Page,
    ) -> Result<(Vec<stored::Model>, PageResponse), Error> {
        publications::list(&self.db, page).await
    }

    /// A publication (the latest when none is named) as a file in the published columns, streamed
    /// while its rows are read a page at a time (see `kommune_platform::export`).
    pub async fn export(
        &self,
        which: &Which,
        format: pb::ExportFormat,
    ) -> Result<export::Chunks, Error> {
        let publication = self.publication(which).await?;
        let format = match format {
            pb::ExportFormat::Xlsx => export::Format::Xlsx,
            _ => export::Format::Csv,
        };
        let columns = publication::COLUMNS.map(str::to_owned).to_vec();
        let rows = PublishedRows {
            db: self.db.clone(),
            publication_id: publication.id,
            after: None,
            done: false,
        };
        Ok(export::stream(format, columns, rows))
    }

    async fn publication(&self, which: &Which) -> Result<stored::Model, Error> {
        publications::find(&self.db, which)
            .await?
            .ok_or_else(|| match which {
                Which::Id(id) => Error::not_found_field("publication", id, "publication_id"),
                Which::Number(number) => {
                    Error::not_found_field("publication", number.to_string(), "publication_number")
                }
                Which::Latest => Error::FailedPrecondition(
                    Reason::WrongState,
                    "the change-request list is not published yet".into(),
                ),
            })
    }

    /// One row of a publication, by its change request's key.
    pub async fn published_one(
        &self,
        which: &Which,
        key: &str,
    ) -> Result<(stored::Model, items::Model), Error> {
        let publication = self.publication(which).await?;
        let row = publications::row(&self.db, &publication.id, key)
            .await?
            .ok_or_else(|| Error::not_found_field("published change request", key, "case_id"))?;
        Ok((publication, row))
    }

    /// What a publication's rows can be filtered by.
    pub async fn facets(
        &self,
        which: &Which,
    ) -> Result<(stored::Model, Vec<facets::Model>), Error> {
        let publication = self.publication(which).await?;
        let found = publications::facets_of(&self.db, &publication.id).await?;
        Ok((publication, found))
    }

    /// A page of a publication's rows.
    pub async fn published(
        &self,
        which: &Which,
        filter: Filter,
        page: &Page,
    ) -> Result<(stored::Model, Vec<items::Model>, PageResponse), Error> {
        let publication = self.publication(which).await?;
        let (rows, next) = publications::rows(&self.db, &publication.id, filter, page).await?;
        Ok((publication, rows, next))
    }
}

/// How many rows an export reads at a time.
const EXPORT_PAGE: u64 = 1_000;

/// A publication's rows, a page at a time, for an export.
struct PublishedRows {
    db: sea_orm::DatabaseConnection,
    publication_id: String,
    after: Option<String>,
    done: bool,
}

impl export::Rows for PublishedRows {
    async fn next_page(&mut self) -> Result<Vec<Vec<String>>, Error> {
        if self.done {
            return Ok(Vec::new());
        }
        let page = Page {
            size: EXPORT_PAGE,
            after: self.after.take(),
        };
        let (rows, _) =
            publications::rows(&self.db, &self.publication_id, Filter::default(), &page).await?;
        self.done = (rows.len() as u64) < EXPORT_PAGE;
        self.after = rows.last().map(publications::position);
        Ok(rows.into_iter().map(|row| cells(row).to_vec()).collect())
    }
}

/// A published row's cells, in the order of [`publication::COLUMNS`].
fn cells(r: items::Model) -> [String; 10] {
    [
        r.change_theme,
        r.subtheme,
        r.key,
        r.title,
        r.description,
        r.workaround,
        r.status,
        r.municipality_name,
        r.created,
        r.related_cases,
    ]
}
