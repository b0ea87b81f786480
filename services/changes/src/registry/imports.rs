//! Importing change requests from a file in the published columns: every row is judged alone, the
//! good ones are written a batch at a time (each batch one transaction), and a case id already held
//! is left as it is, so an import run again completes without duplicating anything.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use kommune_platform::auth::Caller;
use kommune_platform::outbox;
use kommune_platform::records::AuditTrail as _;
use kommune_platform::{Error, Reason};
use kommune_proto::changes::v1 as pb;

use super::{ADMINS, Registry};
use crate::domain;
use crate::domain::import::{
    self, Header, RejectedRow, Row, municipality_match_key, name_match_key,
};
use crate::files;
use crate::store::change_requests;
use crate::store::reference::{self, subthemes, themes};

/// How many rows one transaction writes.
const BATCH: usize = 250;
/// How many keys one query looks up.
const LOOKUP: usize = 1_000;
/// How many rejected rows the import's audit record lists (the report lists them all).
const REJECTED_AUDITED: usize = 1_000;

/// How to import a file.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The file's name, for the audit trail.
    pub file_name: String,
    /// Create the themes and subthemes the file names but the service does not know.
    pub create_missing_themes: bool,
}

/// The outcome of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// The import's id (its audit trail's).
    pub import_id: String,
    /// Rows in the file below the header, blank rows not counted.
    pub rows_read: u64,
    /// Change requests created.
    pub imported: u64,
    /// Rows whose case id was already held.
    pub already_present: u64,
    /// Rejected rows, in file order.
    pub rejected: Vec<RejectedRow>,
    /// Themes and subthemes created.
    pub created_themes: Vec<CreatedTheme>,
}

/// A theme or subtheme an import created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTheme {
    /// The theme's name.
    pub theme: String,
    /// The subtheme's name, when a subtheme was created.
    pub subtheme: Option<String>,
    /// The created theme's or subtheme's id.
    pub id: String,
}

/// The right to run an import: one at a time per replica, so uploads cannot pile up in memory. The
/// slot is free again when this is dropped.
pub struct ImportSlot {
    _permit: OwnedSemaphorePermit,
}

/// The one import slot of a registry.
pub(super) fn import_slots() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(1))
}

/// A row ready to write: read, and its names matched with stored ids.
struct Accepted {
    number: u64,
    row: Row,
    municipality_id: String,
    theme_id: String,
    subtheme_id: Option<String>,
}

/// Stored themes and subthemes by the names they are matched on.
#[derive(Default)]
struct Themes {
    themes: HashMap<String, String>,
    subthemes: HashMap<(String, String), String>,
}

impl Themes {
    fn theme(&self, name: &str) -> Option<&String> {
        self.themes.get(&name_match_key(name))
    }

    fn subtheme(&self, theme_id: &str, name: &str) -> Option<&String> {
        self.subthemes
            .get(&(theme_id.to_owned(), name_match_key(name)))
    }

    /// The theme and subtheme ids of a row, or why it has none.
    fn of(&self, row: &Row) -> Result<(String, Option<String>), String> {
        let hint = "(import with create_missing_themes to create it)";
        let theme_id = self
            .theme(&row.theme)
            .ok_or_else(|| format!("Changetheme: no theme is named {} {hint}", row.theme))?;
        let subtheme_id = match &row.subtheme {
            None => None,
            Some(name) => Some(self.subtheme(theme_id, name).cloned().ok_or_else(|| {
                format!(
                    "Subtheme: theme {} has no subtheme named {name} {hint}",
                    row.theme
                )
            })?),
        };
        Ok((theme_id.clone(), subtheme_id))
    }
}

/// A theme or subtheme that another writer created first: the import is to be run again.
fn raced(err: Error) -> Error {
    match err {
        Error::AlreadyExists { description, .. } => Error::Aborted(
            Reason::ConcurrentChange,
            format!("{description}: it was written while this import ran; run the import again"),
        ),
        other => other,
    }
}

impl Registry {
    /// Checks that the caller may import (consortium admins) and takes the import slot; another import
    /// running here is ABORTED. Called before the file is received.
    pub fn start_import(&self, caller: &Caller) -> Result<ImportSlot, Error> {
        caller.require_any_role(&ADMINS, "importing change requests")?;
        self.import_slots
            .clone()
            .try_acquire_owned()
            .map(|permit| ImportSlot { _permit: permit })
            .map_err(|_| {
                Error::Aborted(
                    Reason::ConcurrentChange,
                    "another import is running; run this one when it has finished".into(),
                )
            })
    }

    /// Imports the change requests of a CSV or XLSX file, telling `progress` (rows done, rows in all)
    /// as it goes. A file that cannot be read, or whose header is not the published columns, is
    /// INVALID_ARGUMENT on `file`; bad rows are reported, not fatal. The import is audited under
    /// entity type `import` whether it completes or fails part-way.
    pub async fn import(
        &self,
        _slot: ImportSlot,
        caller: &Caller,
        file: Vec<u8>,
        options: ImportOptions,
        progress: impl FnMut(u64, u64),
    ) -> Result<ImportReport, Error> {
        let mut report = ImportReport {
            import_id: Uuid::now_v7().to_string(),
            ..ImportReport::default()
        };
        let outcome = self
            .run_import(caller, file, &options, progress, &mut report)
            .await;
        report.rejected.sort_by_key(|r| r.row_number);
        tracing::info!(
            import_id = %report.import_id,
            file_name = %options.file_name,
            rows_read = report.rows_read,
            imported = report.imported,
            already_present = report.already_present,
            rejected = report.rejected.len(),
            themes_created = report.created_themes.len(),
            failed = outcome.is_err(),
            "import finished"
        );
        if !matches!(&outcome, Err(Error::InvalidArgument(..))) {
            self.record_import(caller, &options, &report, outcome.as_ref().err())
                .await?;
        }
        outcome.map(|()| report)
    }

    async fn run_import(
        &self,
        caller: &Caller,
        file: Vec<u8>,
        options: &ImportOptions,
        mut progress: impl FnMut(u64, u64),
        report: &mut ImportReport,
    ) -> Result<(), Error> {
        let statuses: Vec<(i32, String)> = reference::all_statuses(&self.db)
            .await?
            .into_iter()
            .map(|s| (s.code, s.name))
            .collect();
        // Reading and judging a large file is CPU work: off the async workers.
        let (rows, rejected) = tokio::task::spawn_blocking(move || {
            let table = files::read(&file).map_err(|e| Error::invalid("file", e.to_string()))?;
            let header = Header::read(&table.header).map_err(|e| Error::invalid("file", e))?;
            let rows = table.rows.into_iter().map(|r| (r.number, r.cells));
            Ok::<_, Error>(import::read_rows(&header, rows, &statuses))
        })
        .await
        .map_err(Error::internal)??;
        report.rows_read = (rows.len() + rejected.len()) as u64;
        report.rejected = rejected;
        let rows = self.not_held(rows, report).await?;
        let rows = self.matched(caller, rows, options, report).await?;
        let mut done = report.rows_read - rows.len() as u64;
        progress(done, report.rows_read);
        for batch in rows.chunks(BATCH) {
            let (imported, present) = self.write_batch(caller, &report.import_id, batch).await?;
            report.imported += imported;
            report.already_present += present;
            done += batch.len() as u64;
            progress(done, report.rows_read);
        }
        Ok(())
    }

    /// The rows whose case id is not held yet; the others are counted as already present and not
    /// judged further (a theme or municipality renamed since does not matter to them).
    async fn not_held(
        &self,
        rows: Vec<(u64, Row)>,
        report: &mut ImportReport,
    ) -> Result<Vec<(u64, Row)>, Error> {
        let keys: Vec<String> = rows
            .iter()
            .map(|(_, row)| domain::format_key(&row.key.0, row.key.1))
            .collect();
        let mut held = HashSet::new();
        for chunk in keys.chunks(LOOKUP) {
            held.extend(change_requests::held_keys(&self.db, chunk).await?);
        }
        report.already_present += held.len() as u64;
        Ok(rows
            .into_iter()
            .zip(keys)
            .filter(|(_, key)| !held.contains(key))
            .map(|(row, _)| row)
            .collect())
    }

    /// The rows with their municipality, theme and subtheme ids; rows naming unknown ones are
    /// rejected, except themes and subthemes the import is told to create.
    async fn matched(
        &self,
        caller: &Caller,
        rows: Vec<(u64, Row)>,
        options: &ImportOptions,
        report: &mut ImportReport,
    ) -> Result<Vec<Accepted>, Error> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let municipalities = self.municipalities_by_name(caller).await?;
        let mut with_municipality = Vec::new();
        for (number, row) in rows {
            let found = municipalities.get(&municipality_match_key(&row.municipality));
            let reason = match found {
                Some(Some(id)) => {
                    with_municipality.push((number, row, id.clone()));
                    continue;
                }
                Some(None) => "matches several municipalities",
                None => "is no municipality's name",
            };
            report.rejected.push(RejectedRow {
                row_number: number,
                reason: format!("Municipality name: {} {reason}", row.municipality),
                case_id: row.case_id,
            });
        }
        let themes = self
            .themes_for(caller, &with_municipality, options, report)
            .await?;
        let mut accepted = Vec::new();
        for (number, row, municipality_id) in with_municipality {
            match themes.of(&row) {
                Ok((theme_id, subtheme_id)) => accepted.push(Accepted {
                    number,
                    row,
                    municipality_id,
                    theme_id,
                    subtheme_id,
                }),
                Err(reason) => report.rejected.push(RejectedRow {
                    row_number: number,
                    case_id: row.case_id,
                    reason,
                }),
            }
        }
        Ok(accepted)
    }

    /// Every municipality by the name it is matched on; `None` where a name matches several.
    async fn municipalities_by_name(
        &self,
        caller: &Caller,
    ) -> Result<HashMap<String, Option<String>>, Error> {
        let mut by_name: HashMap<String, Option<String>> = HashMap::new();
        for m in self.municipalities(caller).await? {
            by_name
                .entry(municipality_match_key(&m.name))
                .and_modify(|id| *id = None)
                .or_insert(Some(m.municipality_id));
        }
        Ok(by_name)
    }

    /// The stored themes and subthemes, with the missing ones the rows name created first (in one
    /// transaction, each audited and reported) when the import is told to.
    async fn themes_for(
        &self,
        caller: &Caller,
        rows: &[(u64, Row, String)],
        options: &ImportOptions,
        report: &mut ImportReport,
    ) -> Result<Themes, Error> {
        let mut known = Themes::default();
        for theme in reference::all_themes(&self.db).await? {
            known.themes.insert(name_match_key(&theme.name), theme.id);
        }
        for subtheme in reference::all_subthemes(&self.db).await? {
            known.subthemes.insert(
                (subtheme.theme_id, name_match_key(&subtheme.name)),
                subtheme.id,
            );
        }
        let missing = rows.iter().any(|(_, row, _)| known.of(row).is_err());
        if !options.create_missing_themes || !missing {
            return Ok(known);
        }
        let mut created = Vec::new();
        let txn = kommune_platform::db::begin(&self.db).await?;
        for (_, row, _) in rows {
            let theme_id = match known.theme(&row.theme) {
                Some(id) => id.clone(),
                None => {
                    let theme = reference::insert_theme(
                        &txn,
                        themes::Model {
                            id: Uuid::now_v7().to_string(),
                            name: row.theme.clone(),
                        },
                    )
                    .await
                    .map_err(raced)?;
                    let payload = json!({"name": theme.name, "import_id": report.import_id});
                    self.audit(&txn, caller, "theme", &theme.id, "create", payload)
                        .await?;
                    created.push(CreatedTheme {
                        theme: theme.name.clone(),
                        subtheme: None,
                        id: theme.id.clone(),
                    });
                    known
                        .themes
                        .insert(name_match_key(&theme.name), theme.id.clone());
                    theme.id
                }
            };
            let Some(name) = &row.subtheme else { continue };
            if known.subtheme(&theme_id, name).is_none() {
                let subtheme = reference::insert_subtheme(
                    &txn,
                    subthemes::Model {
                        id: Uuid::now_v7().to_string(),
                        theme_id: theme_id.clone(),
                        name: name.clone(),
                    },
                )
                .await
                .map_err(raced)?;
                let payload = json!({
                    "theme_id": theme_id,
                    "name": subtheme.name,
                    "import_id": report.import_id,
                });
                self.audit(&txn, caller, "subtheme", &subtheme.id, "create", payload)
                    .await?;
                created.push(CreatedTheme {
                    theme: row.theme.clone(),
                    subtheme: Some(subtheme.name.clone()),
                    id: subtheme.id.clone(),
                });
                known
                    .subthemes
                    .insert((theme_id, name_match_key(name)), subtheme.id);
            }
        }
        txn.commit().await?;
        report.created_themes = created;
        Ok(known)
    }

    /// Writes one batch in one transaction: change requests whose key is not held yet, each audited
    /// and announced. Returns (imported, already present).
    async fn write_batch(
        &self,
        caller: &Caller,
        import_id: &str,
        batch: &[Accepted],
    ) -> Result<(u64, u64), Error> {
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let keys: Vec<String> = batch
            .iter()
            .map(|a| domain::format_key(&a.row.key.0, a.row.key.1))
            .collect();
        // Held since the import began (another writer): left as they are, like any held key.
        let held = change_requests::held_keys(&txn, &keys).await?;
        let highest_own = batch
            .iter()
            .filter(|a| a.row.key.0 == self.key_prefix)
            .map(|a| a.row.key.1)
            .max();
        if let Some(number) = highest_own {
            change_requests::reserve_number(&txn, number).await?;
        }
        let mut imported = 0;
        for (accepted, key) in batch.iter().zip(keys) {
            if held.contains(&key) {
                continue;
            }
            let row = &accepted.row;
            let cr = change_requests::insert(
                &txn,
                change_requests::Model {
                    id: Uuid::now_v7().to_string(),
                    key,
                    theme_id: accepted.theme_id.clone(),
                    subtheme_id: accepted.subtheme_id.clone(),
                    title: row.title.clone(),
                    description: row.description.clone(),
                    workaround: row.workaround.clone(),
                    status_code: row.status_code,
                    asking_municipality_id: accepted.municipality_id.clone(),
                    supporters: "[]".into(),
                    related: serde_json::to_string(&row.related).map_err(Error::internal)?,
                    source_case_id: None,
                    release_id: None,
                    drop_reason: String::new(),
                    version: 1,
                    created_at: row.created,
                    updated_at: now,
                },
            )
            .await
            .map_err(raced)?;
            let payload = json!({
                "key": cr.key,
                "title": cr.title,
                "theme_id": cr.theme_id,
                "asking_municipality_id": cr.asking_municipality_id,
                "status_code": cr.status_code,
                "import_id": import_id,
                "row": accepted.number,
            });
            self.audit(&txn, caller, "change_request", &cr.id, "import", payload)
                .await?;
            let event = pb::ChangeRequestCreated {
                change_request_id: cr.id.clone(),
                key: cr.key.clone(),
                source_case_id: String::new(),
            };
            outbox::publish(&txn, now, &cr.id, &event).await?;
            imported += 1;
        }
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok((imported, held.len() as u64))
    }

    /// The import's own audit record: the file, what came of it, and why it stopped if it failed.
    async fn record_import(
        &self,
        caller: &Caller,
        options: &ImportOptions,
        report: &ImportReport,
        failure: Option<&Error>,
    ) -> Result<(), Error> {
        let rejected: Vec<_> = report
            .rejected
            .iter()
            .take(REJECTED_AUDITED)
            .map(|r| json!({"row": r.row_number, "case_id": r.case_id, "reason": r.reason}))
            .collect();
        let created: Vec<_> = report
            .created_themes
            .iter()
            .map(|t| json!({"theme": t.theme, "subtheme": t.subtheme, "id": t.id}))
            .collect();
        let payload = json!({
            "file_name": options.file_name,
            "create_missing_themes": options.create_missing_themes,
            "rows_read": report.rows_read,
            "imported": report.imported,
            "already_present": report.already_present,
            "rejected_count": report.rejected.len(),
            "rejected": rejected,
            "created_themes": created,
            "failure": failure.map(ToString::to_string),
        });
        let txn = kommune_platform::db::begin(&self.db).await?;
        self.audit(&txn, caller, "import", &report.import_id, "import", payload)
            .await?;
        txn.commit().await?;
        Ok(())
    }
}
