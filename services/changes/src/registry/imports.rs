//! Importing change requests from a file in the published columns: every row is judged alone, the
//! good ones are written a batch at a time (each batch one transaction), and a case id already held
//! is left as it is, so an import run again completes without duplicating anything.

use std::collections::HashMap;

use serde_json::json;
use uuid::Uuid;

use kommune_platform::Error;
use kommune_platform::audit;
use kommune_platform::auth::Caller;
use kommune_platform::outbox;
use kommune_proto::changes::v1 as pb;

use super::{ADMINS, Registry};
use crate::domain;
use crate::domain::import::{self, Header, Row, municipality_match_key, name_match_key};
use crate::files;
use crate::store::change_requests;
use crate::store::reference::{self, subthemes, themes};

/// How many rows one transaction writes.
const BATCH: usize = 250;

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
    /// Rows in the file below the header.
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

/// A row an import rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// Its number as a spreadsheet shows it.
    pub row_number: u64,
    /// Its case id as written.
    pub case_id: String,
    /// Why.
    pub reason: String,
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

/// A row ready to write: read, and its names matched with stored ids.
struct Accepted {
    number: u64,
    row: Row,
    municipality_id: String,
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
}

impl Registry {
    /// Imports the change requests of a CSV or XLSX file (consortium admins), telling `progress`
    /// (rows done, rows in all) as it goes. A file that cannot be read, or whose header is not the
    /// published columns, is INVALID_ARGUMENT on `file`; bad rows are reported, not fatal.
    pub async fn import(
        &self,
        caller: &Caller,
        file: &[u8],
        options: ImportOptions,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<ImportReport, Error> {
        caller.require_any_role(&ADMINS, "importing change requests")?;
        let table = files::read(file).map_err(|e| Error::invalid("file", e.to_string()))?;
        let header = Header::read(&table.header).map_err(|e| Error::invalid("file", e))?;
        let statuses: Vec<(i32, String)> = reference::all_statuses(&self.db)
            .await?
            .into_iter()
            .map(|s| (s.code, s.name))
            .collect();
        let municipalities = self.municipalities_by_name(caller).await?;
        let mut report = ImportReport {
            import_id: Uuid::now_v7().to_string(),
            rows_read: table.rows.len() as u64,
            ..ImportReport::default()
        };
        let mut first_row_of: HashMap<String, u64> = HashMap::new();
        let mut accepted = Vec::new();
        for table_row in table.rows {
            let case_id = table_row
                .cells
                .as_ref()
                .ok()
                .map(|cells| header.case_id(cells).to_owned())
                .unwrap_or_default();
            let read = table_row
                .cells
                .and_then(|cells| import::read_row(&header, &cells, &statuses))
                .and_then(|row| {
                    let canonical = domain::format_key(&row.key.0, row.key.1);
                    if let Some(first) = first_row_of.get(&canonical) {
                        return Err(format!("Case Id: {canonical} is also on row {first}"));
                    }
                    first_row_of.insert(canonical, table_row.number);
                    match municipalities.get(&municipality_match_key(&row.municipality)) {
                        Some(Some(id)) => Ok(Accepted {
                            number: table_row.number,
                            municipality_id: id.clone(),
                            row,
                        }),
                        Some(None) => Err(format!(
                            "Municipality name: {} matches several municipalities",
                            row.municipality
                        )),
                        None => Err(format!(
                            "Municipality name: no municipality is named {}",
                            row.municipality
                        )),
                    }
                });
            match read {
                Ok(row) => accepted.push(row),
                Err(reason) => report.rejected.push(RejectedRow {
                    row_number: table_row.number,
                    case_id,
                    reason,
                }),
            }
        }
        let themes = self
            .themes_for(caller, &accepted, &options, &mut report)
            .await?;
        let mut writable = Vec::new();
        for row in accepted {
            match themes_of(&themes, &row.row) {
                Ok(ids) => writable.push((row, ids)),
                Err(reason) => report.rejected.push(RejectedRow {
                    row_number: row.number,
                    case_id: row.row.case_id,
                    reason,
                }),
            }
        }
        let mut done = report.rejected.len() as u64;
        progress(done, report.rows_read);
        for batch in writable.chunks(BATCH) {
            let (imported, present) = self.write_batch(caller, &report.import_id, batch).await?;
            report.imported += imported;
            report.already_present += present;
            done += batch.len() as u64;
            progress(done, report.rows_read);
        }
        report.rejected.sort_by_key(|r| r.row_number);
        self.record_import(caller, &options, &report).await?;
        Ok(report)
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

    /// The stored themes and subthemes, with the missing ones the rows name created first when the
    /// import is told to (each audited, and reported).
    async fn themes_for(
        &self,
        caller: &Caller,
        rows: &[Accepted],
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
        if !options.create_missing_themes {
            return Ok(known);
        }
        let txn = kommune_platform::db::begin(&self.db).await?;
        for Accepted { row, .. } in rows {
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
                    .await?;
                    let payload = json!({"name": theme.name, "import_id": report.import_id});
                    audit::record(
                        &txn,
                        self.audit(caller, "theme", &theme.id, "create", payload),
                    )
                    .await?;
                    report.created_themes.push(CreatedTheme {
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
                .await?;
                let payload = json!({"theme_id": theme_id, "name": subtheme.name, "import_id": report.import_id});
                audit::record(
                    &txn,
                    self.audit(caller, "subtheme", &subtheme.id, "create", payload),
                )
                .await?;
                report.created_themes.push(CreatedTheme {
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
        Ok(known)
    }

    /// Writes one batch in one transaction: change requests whose key is not held yet, each audited
    /// and announced. Returns (imported, already present).
    async fn write_batch(
        &self,
        caller: &Caller,
        import_id: &str,
        batch: &[(Accepted, (String, Option<String>))],
    ) -> Result<(u64, u64), Error> {
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let keys: Vec<String> = batch
            .iter()
            .map(|(a, _)| domain::format_key(&a.row.key.0, a.row.key.1))
            .collect();
        let held = change_requests::held_keys(&txn, &keys).await?;
        let mut imported = 0;
        for ((accepted, (theme_id, subtheme_id)), key) in batch.iter().zip(keys) {
            if held.contains(&key) {
                continue;
            }
            let row = &accepted.row;
            change_requests::reserve_number(&txn, row.key.1).await?;
            let cr = change_requests::insert(
                &txn,
                change_requests::Model {
                    id: Uuid::now_v7().to_string(),
                    key,
                    theme_id: theme_id.clone(),
                    subtheme_id: subtheme_id.clone(),
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
            .map_err(|err| match err {
                Error::AlreadyExists { description, .. } => Error::Aborted(format!(
                    "{description}: it was written while this import ran; run the import again"
                )),
                other => other,
            })?;
            let payload = json!({"key": cr.key, "title": cr.title, "theme_id": cr.theme_id, "asking_municipality_id": cr.asking_municipality_id, "status_code": cr.status_code, "import_id": import_id, "row": accepted.number});
            audit::record(
                &txn,
                self.audit(caller, "change_request", &cr.id, "import", payload),
            )
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

    /// The import's own audit record: what file, and what came of it.
    async fn record_import(
        &self,
        caller: &Caller,
        options: &ImportOptions,
        report: &ImportReport,
    ) -> Result<(), Error> {
        let rejected: Vec<_> = report
            .rejected
            .iter()
            .map(|r| json!({"row": r.row_number, "case_id": r.case_id, "reason": r.reason}))
            .collect();
        let created: Vec<_> = report
            .created_themes
            .iter()
            .map(|t| json!({"theme": t.theme, "subtheme": t.subtheme, "id": t.id}))
            .collect();
        let payload = json!({
            "file_name": options.file_name,
            "rows_read": report.rows_read,
            "imported": report.imported,
            "already_present": report.already_present,
            "rejected": rejected,
            "created_themes": created,
        });
        let txn = kommune_platform::db::begin(&self.db).await?;
        audit::record(
            &txn,
            self.audit(caller, "import", &report.import_id, "import", payload),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}

/// The theme and subtheme ids of a row, or why it has none.
fn themes_of(themes: &Themes, row: &Row) -> Result<(String, Option<String>), String> {
    let hint = "(import with create_missing_themes to create it)";
    let theme_id = themes
        .theme(&row.theme)
        .ok_or_else(|| format!("Changetheme: no theme is named {} {hint}", row.theme))?;
    let subtheme_id = match &row.subtheme {
        None => None,
        Some(name) => Some(themes.subtheme(theme_id, name).cloned().ok_or_else(|| {
            format!(
                "Subtheme: theme {} has no subtheme named {name} {hint}",
                row.theme
            )
        })?),
    };
    Ok((theme_id.clone(), subtheme_id))
}
