//! Importing the change-request list from CSV and XLSX: generated 3,000-row files with bad rows, every
//! bad row reported with its number while the rest is imported, idempotent on the case id, and the
//! export of the imported list read back and compared with the file.

use pb::import_change_requests_request::Part;
use pb::import_change_requests_response::Result as Answer;

use super::publications::{export, publications};
use super::*;

pub(crate) const ROWS: usize = 3_000;

/// A generated list: the file's rows (header first) and the reasons expected for the bad rows, by row
/// number as a spreadsheet shows it.
pub(crate) struct Generated {
    rows: Vec<Vec<String>>,
    bad: Vec<(i64, &'static str)>,
}

impl Generated {
    /// `ROWS` change requests numbered from `first`, with these bad rows: a malformed date, an unknown
    /// status, an unknown municipality, personal ID numbers (as the case id, in a description), a
    /// repeated case id, a missing title and an unknown theme (bad only when themes are not created).
    pub(crate) fn new(first: i64) -> Self {
        let mut rows = vec![
            kommune_changes::domain::publication::COLUMNS
                .map(str::to_owned)
                .to_vec(),
        ];
        for n in 0..ROWS as i64 {
            let number = first + n;
            rows.push(vec![
                "Økonomi".into(),
                String::new(),
                format!("KOMBITKY-{number}"),
                format!("Ønske {number}: debitorliste med forfaldsdato"),
                format!("Beskrivelse af ønske {number}, med \"citat\", komma\nog ny linje"),
                if n % 3 == 0 {
                    "Brug Excel".into()
                } else {
                    String::new()
                },
                if n % 2 == 0 {
                    "10 - New".into()
                } else {
                    "20 - Under assessment".into()
                },
                if n % 4 == 0 {
                    "Kommune 751".into()
                } else {
                    "Kommune 101".into()
                },
                format!("{:02}-06-2021 11:{:02}", 1 + n % 28, n % 60),
                if n % 5 == 0 {
                    format!("{number}:#KOMBITKY-{number}")
                } else {
                    String::new()
                },
            ]);
        }
        let mut bad = Vec::new();
        let mut spoil = |row: usize, column: usize, value: &str, reason: &'static str| {
            rows[row - 1][column] = value.to_owned();
            bad.push((row as i64, reason));
        };
        spoil(10, 8, "2021-06-04", "Created: must be");
        spoil(200, 6, "15 - Parked", "Status: 15 - Parked is not a status");
        spoil(
            777,
            7,
            "Atlantis Kommune",
            "Municipality name: Atlantis Kommune is no municipality's name",
        );
        spoil(1500, 2, "0101901234", "Case Id: holds a personal ID number");
        spoil(
            1501,
            4,
            "Borgerens cpr er 0101901234",
            "Description: holds a personal ID number",
        );
        spoil(
            2001,
            2,
            &format!("KOMBITKY-{}", first + 4),
            "is also on row 6",
        );
        spoil(2500, 3, "", "Title: is required");
        rows[2999][0] = "Ydelser".into();
        rows[2999][1] = "Beregning".into();
        bad.push((3000, "Changetheme: no theme is named Ydelser"));
        Self { rows, bad }
    }

    pub(crate) fn csv(&self) -> Vec<u8> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        for row in &self.rows {
            writer.write_record(row).unwrap();
        }
        writer.into_inner().unwrap()
    }

    /// As a workbook whose "Created" cells are real date cells, as spreadsheets hold them.
    fn xlsx(&self) -> Vec<u8> {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let sheet = workbook.add_worksheet();
        let date = rust_xlsxwriter::Format::new().set_num_format("dd-mm-yyyy hh:mm");
        for (r, row) in self.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let parsed = (r > 0 && c == 8)
                    .then(|| chrono::NaiveDateTime::parse_from_str(cell, "%d-%m-%Y %H:%M").ok())
                    .flatten();
                if let Some(t) = parsed {
                    use chrono::{Datelike, Timelike};
                    let at = rust_xlsxwriter::ExcelDateTime::from_ymd(
                        t.year() as u16,
                        t.month() as u8,
                        t.day() as u8,
                    )
                    .unwrap()
                    .and_hms(t.hour() as u16, t.minute() as u8, 0)
                    .unwrap();
                    sheet
                        .write_datetime_with_format(r as u32, c as u16, &at, &date)
                        .unwrap();
                } else if !cell.is_empty() {
                    sheet.write_string(r as u32, c as u16, cell).unwrap();
                }
            }
        }
        workbook.save_to_buffer().unwrap()
    }

    /// The good rows, as the published list shows them.
    fn good_rows(&self, themes_created: bool) -> Vec<Vec<String>> {
        self.rows[1..]
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                let number = *i as i64 + 2;
                !self
                    .bad
                    .iter()
                    .any(|(bad, _)| *bad == number && (*bad != 3000 || !themes_created))
            })
            .map(|(_, row)| {
                let mut row = row.clone();
                row[9] = row[9].replace(',', ", ");
                row
            })
            .collect()
    }
}

fn imports(t: &TestChanges) -> pb::import_service_client::ImportServiceClient<Channel> {
    pb::import_service_client::ImportServiceClient::new(t.changes.clone())
}

/// Imports `file` in 64 KiB chunks; the report and the progress seen.
async fn import(
    t: &TestChanges,
    token: &str,
    file: &[u8],
    create_missing_themes: bool,
) -> Result<(pb::ImportReport, Vec<pb::ImportProgress>), Status> {
    let options = pb::ImportChangeRequestsRequest {
        part: Some(Part::Options(pb::ImportOptions {
            file_name: "aendringsoensker.csv".into(),
            create_missing_themes,
        })),
    };
    let chunks = file
        .chunks(64 * 1024)
        .map(|chunk| pb::ImportChangeRequestsRequest {
            part: Some(Part::Chunk(chunk.to_vec())),
        });
    upload(t, token, [options].into_iter().chain(chunks).collect()).await
}

/// Sends an import's messages; the report and the progress seen.
async fn upload(
    t: &TestChanges,
    token: &str,
    messages: Vec<pb::ImportChangeRequestsRequest>,
) -> Result<(pb::ImportReport, Vec<pb::ImportProgress>), Status> {
    let mut answers = imports(t)
        .import_change_requests(bearer(tokio_stream::iter(messages), token))
        .await?
        .into_inner();
    let mut progress = Vec::new();
    while let Some(answer) = answers.message().await? {
        match answer.result.unwrap() {
            Answer::Progress(p) => progress.push(p),
            Answer::Report(report) => return Ok((report, progress)),
        }
    }
    panic!("the import ended without a report")
}

fn rejected(report: &pb::ImportReport) -> Vec<(i64, String)> {
    report
        .rejected_rows
        .iter()
        .map(|r| (r.row_number, r.reason.clone()))
        .collect()
}

fn assert_rejected(report: &pb::ImportReport, expected: &[(i64, &str)]) {
    let got = rejected(report);
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for ((row, reason), (expected_row, expected_reason)) in got.iter().zip(expected) {
        assert_eq!(row, expected_row, "{got:#?}");
        assert!(reason.contains(expected_reason), "row {row}: {reason}");
    }
}

/// The rows of a publication's CSV export.
async fn exported_csv(t: &TestChanges) -> Vec<Vec<String>> {
    let publication = publications(t)
        .publish_change_requests(bearer(
            pb::PublishChangeRequestsRequest::default(),
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .publication
        .unwrap();
    let file = export(t, &publication.publication_id, pb::ExportFormat::Csv).await;
    csv::Reader::from_reader(file.as_slice())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn a_generated_csv_list_imports_all_but_its_bad_rows_and_exports_as_it_came() {
    let t = TestChanges::start().await;
    let list = Generated::new(50_001);
    let (report, progress) = import(&t, &t.admin, &list.csv(), false).await.unwrap();
    assert_eq!(report.rows_read, ROWS as i64);
    assert_eq!(report.imported_count, ROWS as i64 - 8);
    assert_eq!(report.already_present_count, 0);
    assert_rejected(&report, &list.bad);
    assert_eq!(
        report.rejected_rows[3].case_id, "",
        "a personal ID number is never repeated"
    );
    assert!(report.created_themes.is_empty());
    let last = progress.last().unwrap();
    assert_eq!(
        (last.rows_done, last.rows_total),
        (ROWS as i64, ROWS as i64)
    );

    // The import's trail is the consortium admins' alone.
    let trail = |token: &str| {
        let request = bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "import".into(),
                entity_id: report.import_id.clone(),
                page: None,
            },
            token,
        );
        let mut audit = pb::audit_service_client::AuditServiceClient::new(t.changes.clone());
        async move { audit.list_audit_records(request).await }
    };
    assert_eq!(trail(&t.admin).await.unwrap().into_inner().records.len(), 1);
    let caseworker = t.caseworker(&t.municipalities[0], "sb@kommune.dk").await;
    let refused = trail(&caseworker).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    // Again, told to create themes: only the row of the unknown theme is new.
    let (again, _) = import(&t, &t.admin, &list.csv(), true).await.unwrap();
    assert_eq!(again.imported_count, 1);
    assert_eq!(again.already_present_count, ROWS as i64 - 8);
    assert_rejected(&again, &list.bad[..7]);
    let created: Vec<_> = again
        .created_themes
        .iter()
        .map(|c| (c.theme.as_str(), c.subtheme.as_str()))
        .collect();
    assert_eq!(created, [("Ydelser", ""), ("Ydelser", "Beregning")]);

    // The export is the file's good rows, as they were written.
    assert_eq!(exported_csv(&t).await, list.good_rows(true));

    // New change requests are numbered after the imported ones.
    let next = t.create("Efter importen").await;
    assert_eq!(next.key, format!("KOMBITKY-{}", 50_001 + ROWS as i64));

    // Search finds imported text.
    let hits = publications(&t)
        .list_published_change_requests(pb::ListPublishedChangeRequestsRequest {
            query: "ønske 51234 FORFALDSDATO".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .change_requests;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].case_id, "KOMBITKY-51234");
}

#[tokio::test]
async fn a_generated_xlsx_list_with_date_cells_imports_the_same_way() {
    let t = TestChanges::start().await;
    let list = Generated::new(70_001);
    let (report, _) = import(&t, &t.admin, &list.xlsx(), false).await.unwrap();
    assert_eq!(report.imported_count, ROWS as i64 - 8);
    assert_rejected(&report, &list.bad);
    assert_eq!(exported_csv(&t).await, list.good_rows(false));

    // The export re-imported changes nothing: every case id is held.
    let exported: Vec<Vec<String>> = [kommune_changes::domain::publication::COLUMNS
        .map(str::to_owned)
        .to_vec()]
    .into_iter()
    .chain(exported_csv(&t).await)
    .collect();
    let file = Generated {
        rows: exported,
        bad: Vec::new(),
    };
    let (again, _) = import(&t, &t.admin, &file.xlsx(), false).await.unwrap();
    assert_eq!(
        (again.imported_count, again.already_present_count),
        (0, ROWS as i64 - 8)
    );
    assert!(again.rejected_rows.is_empty(), "{:?}", again.rejected_rows);
}

#[tokio::test]
async fn files_that_cannot_be_imported_are_refused_whole() {
    let t = TestChanges::start().await;
    let list = Generated::new(1);
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01".to_vec();
    let status = import(&t, &t.admin, &png, false).await.unwrap_err();
    assert_eq!(invalid_fields(&status), ["file"]);
    assert!(status.message().contains("neither CSV"), "{status:?}");

    let mut unknown_column = list.rows.clone();
    unknown_column[0][5] = "Prioritet".into();
    let file = Generated {
        rows: unknown_column,
        bad: Vec::new(),
    };
    for bytes in [file.csv(), file.xlsx()] {
        let status = import(&t, &t.admin, &bytes, false).await.unwrap_err();
        assert_eq!(invalid_fields(&status), ["file"]);
        assert!(status.message().contains("\"Prioritet\""), "{status:?}");
    }

    // The file without options first.
    let chunk_only = vec![pb::ImportChangeRequestsRequest {
        part: Some(Part::Chunk(list.csv())),
    }];
    let status = upload(&t, &t.admin, chunk_only).await.unwrap_err();
    assert_eq!(invalid_fields(&status), ["options"]);

    // Only consortium admins import.
    let caseworker = t.caseworker(&t.municipalities[0], "cw@kommune.dk").await;
    let denied = import(&t, &caseworker, &list.csv(), false)
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Nothing was written.
    assert!(exported_csv(&t).await.is_empty());
}
