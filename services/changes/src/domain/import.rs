//! Reading the published change-request list back in: which columns a file may have and what a row
//! must hold to become a change request. Rows are judged alone, so one bad row never stops the others.
//! No I/O here; files are read into cells by `files`.

use chrono::{DateTime, Utc};

use super::publication::{self, COLUMNS};
use super::{BadKey, CASE_REFERENCE_MAX, TEXT_MAX, TITLE_MAX, parse_key};
use crate::files::CellError;

/// The columns a file must have; the others of [`COLUMNS`] may be left out.
pub const REQUIRED: [&str; 6] = [
    "Changetheme",
    "Case Id",
    "Title",
    "Status",
    "Municipality name",
    "Created",
];

/// Where each published column stands in a file.
#[derive(Debug, Clone)]
pub struct Header {
    /// For each of [`COLUMNS`], its index in the file's rows.
    positions: [Option<usize>; COLUMNS.len()],
}

/// How many unknown column names a refusal lists.
const UNKNOWN_LISTED: usize = 5;
/// How many characters of an unknown column name a refusal repeats.
const UNKNOWN_NAME_SHOWN: usize = 40;

/// Why a header row refuses the whole file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// A published column stands twice.
    #[error("has the column {0} twice")]
    Twice(String),
    /// Columns that are not published ones (a few, shortened, never a personal ID number).
    #[error("has unknown columns {0}; the published columns are {columns}", columns = COLUMNS.join(", "))]
    Unknown(String),
    /// Required columns are missing.
    #[error("lacks the columns {0}")]
    Missing(String),
}

impl Header {
    /// Reads a header row: published column names in any order, matched without regard to case or
    /// surrounding spaces; blank header cells are unnamed columns that rows must leave blank. Unknown,
    /// repeated or missing required columns refuse the whole file (the refusal quotes a few unknown
    /// names, shortened, and never one holding a personal ID number: a file without a header row
    /// would otherwise have its first row repeated).
    pub fn read(names: &[String]) -> Result<Self, HeaderError> {
        let mut positions = [None; COLUMNS.len()];
        let mut unknown = Vec::new();
        for (index, name) in names.iter().enumerate() {
            let name = name.trim();
            match COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(name)) {
                Some(column) if positions[column].is_some() => {
                    return Err(HeaderError::Twice(name.to_owned()));
                }
                Some(column) => positions[column] = Some(index),
                None if name.is_empty() => {}
                None if kommune_platform::pii::contains_personal_id(name) => {
                    unknown.push("(a cell holding a personal ID number)".to_owned());
                }
                None => unknown.push(format!(
                    "\"{}\"",
                    name.chars().take(UNKNOWN_NAME_SHOWN).collect::<String>()
                )),
            }
        }
        if !unknown.is_empty() {
            let more = unknown.len().saturating_sub(UNKNOWN_LISTED);
            unknown.truncate(UNKNOWN_LISTED);
            if more > 0 {
                unknown.push(format!("and {more} more"));
            }
            return Err(HeaderError::Unknown(unknown.join(", ")));
        }
        let missing: Vec<&str> = REQUIRED
            .into_iter()
            .filter(|name| positions[column(name)].is_none())
            .collect();
        if !missing.is_empty() {
            return Err(HeaderError::Missing(missing.join(", ")));
        }
        Ok(Self { positions })
    }

    /// Whether a cell stands under one of the published columns.
    fn is_named(&self, index: usize) -> bool {
        self.positions.contains(&Some(index))
    }

    /// The case id a row holds as written, for reporting a row that cannot be read; empty when it
    /// holds a personal ID number.
    pub fn case_id<'a>(&self, cells: &'a [String]) -> &'a str {
        let case_id = self.cell(cells, "Case Id");
        if kommune_platform::pii::contains_personal_id(case_id) {
            ""
        } else {
            case_id
        }
    }

    fn cell<'a>(&self, cells: &'a [String], name: &str) -> &'a str {
        self.positions[column(name)]
            .and_then(|index| cells.get(index))
            .map_or("", |cell| cell.trim())
    }
}

fn column(name: &str) -> usize {
    COLUMNS
        .iter()
        .position(|c| *c == name)
        .unwrap_or_else(|| unreachable!("{name} is a published column"))
}

/// A row fit to become a change request; names are still to be matched with stored ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The case id as written (`KOMBITKY-55200`).
    pub case_id: String,
    /// Its prefix and number.
    pub key: (String, i64),
    /// The theme's name.
    pub theme: String,
    /// The subtheme's name.
    pub subtheme: Option<String>,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Workaround.
    pub workaround: String,
    /// The status code.
    pub status_code: i32,
    /// The asking municipality's name.
    pub municipality: String,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// Related cases.
    pub related: Vec<String>,
}

/// Why a row is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowRefusal {
    /// Its cells cannot be read.
    #[error("{0}")]
    Unreadable(#[from] CellError),
    /// Cells holding a personal ID number, named by column and never quoted. Told alone, so that no
    /// other reason can quote one.
    #[error("{}", list(.0.iter().map(|column| format!("{column}: holds a personal ID number (CPR or personnummer)"))))]
    PersonalId(Vec<&'static str>),
    /// Filled cells where the header names no column.
    #[error("has filled cells outside the published columns of the header")]
    OutsideColumns,
    /// Every column at fault.
    #[error("{}", list(.0.iter()))]
    Columns(Vec<ColumnFault>),
    /// Its case id is on an earlier row too.
    #[error("Case Id: {key} is also on row {first_row}")]
    Duplicate {
        /// The key, as published.
        key: String,
        /// The row it is first on.
        first_row: u64,
    },
}

/// A column at fault in a row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{column}: {fault}")]
pub struct ColumnFault {
    /// The column's published name.
    pub column: &'static str,
    /// What is wrong with its cell.
    pub fault: CellFault,
}

/// What is wrong with a cell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellFault {
    /// Empty where a value is required.
    #[error("is required")]
    Required,
    /// Longer than the column allows.
    #[error("must be at most {0} characters")]
    TooLong(usize),
    /// A list with an entry longer than the column allows.
    #[error("each must be at most {0} characters")]
    EntryTooLong(usize),
    /// Not a published key.
    #[error(transparent)]
    Key(#[from] BadKey),
    /// Not a known status.
    #[error(transparent)]
    Status(#[from] UnknownStatus),
    /// Not a creation time as published.
    #[error("must be a Copenhagen time written like 04-06-2021 11:07")]
    Created,
}

fn list(items: impl Iterator<Item = impl std::fmt::Display>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join("; ")
}

/// Reads one row against the header and the known statuses (code, name). The refusal names every
/// column at fault, and never repeats a personal ID number.
pub fn read_row(
    header: &Header,
    cells: &[String],
    statuses: &[(i32, String)],
) -> Result<Row, RowRefusal> {
    let personal_ids: Vec<&'static str> = cells
        .iter()
        .enumerate()
        .filter(|(_, cell)| kommune_platform::pii::contains_personal_id(cell))
        .map(|(index, _)| {
            header
                .positions
                .iter()
                .position(|p| *p == Some(index))
                .map_or("a cell outside the columns", |c| COLUMNS[c])
        })
        .collect();
    if !personal_ids.is_empty() {
        return Err(RowRefusal::PersonalId(personal_ids));
    }
    let outside = cells
        .iter()
        .enumerate()
        .any(|(index, cell)| !header.is_named(index) && !cell.trim().is_empty());
    if outside {
        return Err(RowRefusal::OutsideColumns);
    }
    let mut faults = Vec::new();
    let mut fault = |column: &'static str, fault: CellFault| {
        faults.push(ColumnFault { column, fault });
    };
    let mut text = |column: &'static str, required: bool, max: usize| {
        let value = header.cell(cells, column);
        if required && value.is_empty() {
            fault(column, CellFault::Required);
        } else if value.chars().count() > max {
            fault(column, CellFault::TooLong(max));
        }
        value.to_owned()
    };
    let case_id = text("Case Id", true, CASE_REFERENCE_MAX);
    let theme = text("Changetheme", true, super::NAME_MAX);
    let subtheme = text("Subtheme", false, super::NAME_MAX);
    let title = text("Title", true, TITLE_MAX);
    let description = text("Description", false, TEXT_MAX);
    let workaround = text("Workaround", false, TEXT_MAX);
    let municipality = text("Municipality name", true, super::NAME_MAX);
    let status = text("Status", true, super::NAME_MAX);
    let created = text("Created", true, super::NAME_MAX);
    let related = related_cases(header.cell(cells, "Related cases"));
    if related
        .iter()
        .any(|r| r.chars().count() > CASE_REFERENCE_MAX)
    {
        fault("Related cases", CellFault::EntryTooLong(CASE_REFERENCE_MAX));
    }
    let key = parse_key(&case_id);
    if let (Err(bad), false) = (&key, case_id.is_empty()) {
        fault("Case Id", (*bad).into());
    }
    let status_code = status_code(&status, statuses);
    if let (Err(unknown), false) = (&status_code, status.is_empty()) {
        fault("Status", unknown.clone().into());
    }
    let created_at = publication::parse_created_cell(&created);
    if created_at.is_none() && !created.is_empty() {
        fault("Created", CellFault::Created);
    }
    match (key, status_code, created_at) {
        (Ok(key), Ok(status_code), Some(created)) if faults.is_empty() => Ok(Row {
            case_id,
            key,
            theme,
            subtheme: (!subtheme.is_empty()).then_some(subtheme),
            title,
            description,
            workaround,
            status_code,
            municipality,
            created,
            related,
        }),
        _ => Err(RowRefusal::Columns(faults)),
    }
}

/// A row an import refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// Its number as a spreadsheet shows it (the header is row 1).
    pub row_number: u64,
    /// Its case id as written (empty if that holds a personal ID number).
    pub case_id: String,
    /// Why, naming the columns at fault.
    pub reason: String,
}

/// Reads every row of a file (its number and its cells, or why they cannot be read): the good rows
/// with their numbers, and the rejected ones. A case id already on an earlier row rejects the later one.
pub fn read_rows(
    header: &Header,
    rows: impl IntoIterator<Item = (u64, Result<Vec<String>, CellError>)>,
    statuses: &[(i32, String)],
) -> (Vec<(u64, Row)>, Vec<RejectedRow>) {
    let mut first_row_of = std::collections::HashMap::new();
    let mut good = Vec::new();
    let mut rejected = Vec::new();
    for (row_number, cells) in rows {
        let case_id = cells
            .as_ref()
            .map(|cells| header.case_id(cells).to_owned())
            .unwrap_or_default();
        let read = cells
            .map_err(RowRefusal::from)
            .and_then(|cells| read_row(header, &cells, statuses))
            .and_then(|row| {
                let key = super::format_key(&row.key.0, row.key.1);
                match first_row_of.insert(key.clone(), row_number) {
                    Some(first) => {
                        first_row_of.insert(key.clone(), first);
                        Err(RowRefusal::Duplicate {
                            key,
                            first_row: first,
                        })
                    }
                    None => Ok(row),
                }
            });
        match read {
            Ok(row) => good.push((row_number, row)),
            Err(refusal) => rejected.push(RejectedRow {
                row_number,
                case_id,
                reason: refusal.to_string(),
            }),
        }
    }
    (good, rejected)
}

/// The related cases of a cell: comma-separated, blanks left out.
fn related_cases(cell: &str) -> Vec<String> {
    cell.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A status cell naming no known status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a status")]
pub struct UnknownStatus(pub String);

/// The code of a status cell as published (`10 - New`), or of a bare code or name; the code (or name)
/// must be a known status.
pub fn status_code(cell: &str, statuses: &[(i32, String)]) -> Result<i32, UnknownStatus> {
    let code = cell.split_once('-').map_or(cell, |(code, _)| code).trim();
    let found = match code.parse::<i32>() {
        Ok(code) => statuses.iter().find(|(c, _)| *c == code),
        Err(_) => statuses
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(cell)),
    };
    found
        .map(|(code, _)| *code)
        .ok_or_else(|| UnknownStatus(cell.to_owned()))
}

/// What a municipality's name is matched on: case, spacing and a trailing "Kommune" do not matter,
/// so "Aarhus" and "Aarhus  kommune" are the same.
pub fn municipality_match_key(name: &str) -> String {
    let words: Vec<String> = name.split_whitespace().map(str::to_lowercase).collect();
    let words = match words.split_last() {
        Some((last, rest)) if last == "kommune" && !rest.is_empty() => rest,
        _ => &words[..],
    };
    words.join(" ")
}

/// What a theme's or subtheme's name is matched on: case and spacing do not matter.
pub fn name_match_key(name: &str) -> String {
    name.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    fn statuses() -> Vec<(i32, String)> {
        vec![(10, "New".to_owned()), (90, "Rejected".to_owned())]
    }

    fn header() -> Header {
        Header::read(&strings(&COLUMNS)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn row(overrides: &[(&str, &str)]) -> Vec<String> {
        let mut cells = strings(&[
            "Ydelse",
            "Beregning",
            "KOMBITKY-55200",
            "Omregning",
            "Beskrivelse",
            "",
            "10 - New",
            "Aarhus Kommune",
            "04-06-2021 11:07",
            "72149:#KOMBITKY-72149, 72150",
        ]);
        for (name, value) in overrides {
            cells[column(name)] = (*value).to_owned();
        }
        cells
    }

    #[test]
    fn headers_are_the_published_columns_in_any_order() {
        let mut reordered = strings(&REQUIRED);
        reordered.reverse();
        reordered.push(" description ".to_owned());
        assert!(Header::read(&reordered).is_ok());
        let unknown = Header::read(&[strings(&COLUMNS), strings(&["Priority"])].concat());
        assert!(unknown.is_err_and(|e| e.to_string().contains("\"Priority\"")));
        let missing = Header::read(&strings(&["Changetheme", "Case Id", "Title"]));
        assert!(
            missing.is_err_and(|e| e.to_string().contains("Status, Municipality name, Created"))
        );
        let twice = Header::read(&strings(&["Title", "title"]));
        assert!(twice.is_err_and(|e| e.to_string().contains("twice")));
        let blank = Header::read(&[strings(&COLUMNS), strings(&["", " "])].concat());
        assert!(blank.is_ok(), "blank header cells are unnamed columns");
        let first_row_as_header = Header::read(&strings(&[
            "Borger 0101901234",
            "x",
            "y",
            "z",
            "v",
            "w",
            "u",
        ]));
        let refusal = first_row_as_header
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            !refusal.contains("0101901234") && refusal.contains("and 2 more"),
            "{refusal}"
        );
    }

    #[test]
    fn a_good_row_reads_into_its_parts() {
        let read = read_row(&header(), &row(&[]), &statuses());
        let Ok(read) = read else { panic!("{read:?}") };
        assert_eq!(read.key, ("KOMBITKY".to_owned(), 55200));
        assert_eq!(read.status_code, 10);
        assert_eq!(read.subtheme.as_deref(), Some("Beregning"));
        assert_eq!(read.related, ["72149:#KOMBITKY-72149", "72150"]);
        assert_eq!(read.created.to_rfc3339(), "2021-06-04T09:07:00+00:00");
    }

    #[test]
    fn a_bad_row_names_every_column_at_fault() {
        let reason = read_row(
            &header(),
            &row(&[
                ("Case Id", "55200"),
                ("Title", " "),
                ("Status", "15 - Parked"),
                ("Created", "2021-06-04"),
            ]),
            &statuses(),
        )
        .err()
        .map(|refusal| refusal.to_string())
        .unwrap_or_default();
        for part in [
            "Case Id: must be",
            "Title: is required",
            "Status: 15 - Parked is not a status",
            "Created: must be",
        ] {
            assert!(reason.contains(part), "{reason}");
        }
    }

    #[test]
    fn a_personal_id_number_in_any_cell_rejects_the_row_without_repeating_it() {
        let reason = read_row(
            &header(),
            &row(&[("Workaround", "Ring til 010190-1234")]),
            &statuses(),
        )
        .err()
        .map(|refusal| refusal.to_string())
        .unwrap_or_default();
        assert!(
            reason.starts_with("Workaround: holds a personal ID number"),
            "{reason}"
        );
        assert!(!reason.contains("010190"));
    }

    #[test]
    fn cells_outside_the_columns_are_malformed_unless_blank() {
        let header = Header::read(&[strings(&COLUMNS), strings(&[""])].concat())
            .unwrap_or_else(|e| panic!("{e}"));
        let mut cells = row(&[]);
        cells.push(String::new());
        assert!(read_row(&header, &cells, &statuses()).is_ok());
        cells[10] = "x".to_owned();
        assert!(
            read_row(&header, &cells, &statuses()).is_err_and(|e| e == RowRefusal::OutsideColumns)
        );
        cells[10] = String::new();
        cells.push("y".to_owned());
        assert!(read_row(&header, &cells, &statuses()).is_err());
    }

    #[test]
    fn a_case_id_on_an_earlier_row_rejects_the_later_one() {
        let rows = [
            (2, Ok(row(&[]))),
            (3, Err(CellError::DateOutOfRange)),
            (4, Ok(row(&[("Case Id", " KOMBITKY-55200 ")]))),
            (5, Ok(row(&[("Case Id", "KOMBITKY-55201")]))),
        ];
        let (good, rejected) = read_rows(&header(), rows, &statuses());
        assert_eq!(good.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [2, 5]);
        assert_eq!(
            rejected
                .iter()
                .map(|r| (r.row_number, r.reason.as_str()))
                .collect::<Vec<_>>(),
            [
                (3, "holds a date outside the years 1900–9999"),
                (4, "Case Id: KOMBITKY-55200 is also on row 2")
            ]
        );
    }

    #[test]
    fn statuses_are_known_by_code_or_name() {
        assert_eq!(status_code("10 - New", &statuses()), Ok(10));
        assert_eq!(
            status_code("10 - Ny", &statuses()),
            Ok(10),
            "the code decides"
        );
        assert_eq!(status_code("90", &statuses()), Ok(90));
        assert_eq!(status_code("rejected", &statuses()), Ok(90));
        assert!(status_code("Parked", &statuses()).is_err());
    }

    #[test]
    fn municipality_names_match_loosely() {
        assert_eq!(municipality_match_key("Aarhus  Kommune"), "aarhus");
        assert_eq!(municipality_match_key("aarhus"), "aarhus");
        assert_eq!(municipality_match_key("Københavns Kommune"), "københavns");
        assert_eq!(municipality_match_key("Kommune"), "kommune");
        assert_eq!(
            name_match_key(" Ydelse  og  Beregning "),
            "ydelse og beregning"
        );
    }
}
