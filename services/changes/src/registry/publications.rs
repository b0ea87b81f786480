//! Publishing the change-request list: a frozen, numbered snapshot in the published columns.

use std::collections::HashMap;

use serde_json::json;
use tokio_stream::wrappers::ReceiverStream;
use uuid::Uuid;

use kommune_platform::auth::Caller;
use kommune_platform::db::Txn;
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

    /// A publication (the latest when none is named) as a file in the published columns, streamed in
    /// chunks of about `CHUNK` bytes while its rows are read a page at a time: memory stays flat. XLSX
    /// is written in constant-memory mode to a temporary file first (a zip needs its end to begin).
    pub async fn export(
        &self,
        which: &Which,
        format: pb::ExportFormat,
    ) -> Result<ReceiverStream<Result<Vec<u8>, tonic::Status>>, Error> {
        let publication = self.publication(which).await?;
        let db = self.db.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let written = match format {
                pb::ExportFormat::Xlsx => write_xlsx(db, publication.id, &tx).await,
                _ => write_csv(&db, &publication.id, &tx).await,
            };
            if let Err(err) = written {
                let _ = tx.send(Err(err.into())).await;
            }
        });
        Ok(ReceiverStream::new(rx))
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

/// About how many bytes an export chunk holds.
const CHUNK: usize = 64 * 1024;
/// How many rows an export reads at a time.
const EXPORT_PAGE: u64 = 1_000;

type ChunkSender = tokio::sync::mpsc::Sender<Result<Vec<u8>, tonic::Status>>;

/// Writes a publication's rows as CSV into chunks sent on `tx`; stops quietly if the client goes.
async fn write_csv(
    db: &sea_orm::DatabaseConnection,
    publication_id: &str,
    tx: &ChunkSender,
) -> Result<(), Error> {
    let mut buffer = Vec::with_capacity(CHUNK * 2);
    append_csv(&mut buffer, [publication::COLUMNS.map(str::to_owned)])?;
    let mut page = Page {
        size: EXPORT_PAGE,
        after: None,
    };
    loop {
        let (rows, _) = publications::rows(db, publication_id, Filter::default(), &page).await?;
        let full = rows.len() as u64 == EXPORT_PAGE;
        page.after = rows.last().map(publications::position);
        append_csv(&mut buffer, rows.into_iter().map(cells))?;
        if buffer.len() >= CHUNK || !full {
            let chunk = std::mem::take(&mut buffer);
            if !chunk.is_empty() && tx.send(Ok(chunk)).await.is_err() {
                return Ok(());
            }
        }
        if !full {
            return Ok(());
        }
    }
}

/// Appends CSV records (RFC 4180 quoting) to `buffer`.
fn append_csv(
    buffer: &mut Vec<u8>,
    records: impl IntoIterator<Item = [String; 10]>,
) -> Result<(), Error> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(buffer);
    for record in records {
        writer.write_record(&record).map_err(Error::internal)?;
    }
    writer.flush().map_err(Error::internal)
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

/// Writes a publication's rows as an XLSX workbook in constant-memory mode to a temporary file (rows
/// are read a page at a time on a blocking thread), then streams the file in chunks and removes it.
async fn write_xlsx(
    db: sea_orm::DatabaseConnection,
    publication_id: String,
    tx: &ChunkSender,
) -> Result<(), Error> {
    use tokio::io::AsyncReadExt;
    let path = std::env::temp_dir().join(format!("kommune-export-{}.xlsx", Uuid::new_v4()));
    let target = path.clone();
    let runtime = tokio::runtime::Handle::current();
    let written = tokio::task::spawn_blocking(move || -> Result<(), Error> {
        let xlsx = |err: rust_xlsxwriter::XlsxError| Error::internal(err);
        let mut workbook = rust_xlsxwriter::Workbook::new();
        workbook.set_tempdir(std::env::temp_dir()).map_err(xlsx)?;
        let sheet = workbook.add_worksheet_with_constant_memory();
        for (column, name) in publication::COLUMNS.iter().enumerate() {
            sheet.write_string(0, column as u16, *name).map_err(xlsx)?;
        }
        let mut row_number: u32 = 1;
        let mut page = Page {
            size: EXPORT_PAGE,
            after: None,
        };
        loop {
            let (rows, _) = runtime.block_on(publications::rows(
                &db,
                &publication_id,
                Filter::default(),
                &page,
            ))?;
            let full = rows.len() as u64 == EXPORT_PAGE;
            page.after = rows.last().map(publications::position);
            for row in rows {
                for (column, cell) in cells(row).iter().enumerate() {
                    sheet
                        .write_string(row_number, column as u16, cell)
                        .map_err(xlsx)?;
                }
                row_number += 1;
            }
            if !full {
                break;
            }
        }
        workbook.save(&target).map_err(xlsx)
    })
    .await
    .map_err(Error::internal)
    .and_then(|written| written);
    let streamed = async {
        written?;
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(Error::internal)?;
        loop {
            let mut chunk = vec![0; CHUNK];
            let read = file.read(&mut chunk).await.map_err(Error::internal)?;
            if read == 0 {
                return Ok(());
            }
            chunk.truncate(read);
            if tx.send(Ok(chunk)).await.is_err() {
                return Ok(());
            }
        }
    }
    .await;
    let _ = tokio::fs::remove_file(&path).await;
    streamed
}
