//! Importing guides from DOCX and PDF files: sections, versions that keep section ids, the file kept,
//! and every file refused whole.

use kommune_guides::testing::{SectionSpec, docx, encrypted_pdf, pdf, sample_sections};
use kommune_platform::testing::{reason, violated_fields};
use tonic::Code;

use super::*;

#[tokio::test]
async fn a_docx_guide_is_split_into_its_numbered_sections() {
    let t = TestGuides::start().await;
    let sections = long_guide();
    let imported = t
        .import(
            "Vejledning til ydelser",
            SYSTEM,
            "ydelser.docx",
            &docx(&sections),
        )
        .await
        .unwrap();
    let guide = imported.guide.unwrap();
    let report = imported.report.unwrap();
    assert_eq!(guide.version, 1);
    assert_eq!(guide.state, pb::GuideState::Published as i32);
    assert_eq!(guide.file_format, pb::FileFormat::Docx as i32);
    assert_eq!(guide.section_count, 48);
    assert_eq!(report.section_count, 48);
    assert!(report.unplaced.is_empty());

    let read = t.sections(&guide.guide_id).await;
    let titles: Vec<String> = read
        .iter()
        .map(|s| format!("{} {}", s.number, s.heading))
        .collect();
    let written: Vec<String> = sections.iter().map(|s| s.heading.clone()).collect();
    assert_eq!(titles, written, "every heading in order, æøå intact");
    let manual = &read[1];
    assert_eq!(manual.heading, "Manuel tilknytning");
    assert_eq!(
        manual.heading_path,
        ["1 Udbetaling af ydelse", "1.1 Manuel tilknytning"]
    );
    assert_eq!(manual.level, 2);
    assert_eq!(manual.anchor, "1-1-manuel-tilknytning");
    assert_eq!(manual.text, sections[1].paragraphs.join("\n\n"));

    // The original file is kept for download.
    let request = pb::DownloadGuideFileRequest {
        guide_id: guide.guide_id.clone(),
        version: 0,
    };
    let mut stream = t
        .guide_service()
        .download_guide_file(bearer(request, &t.caseworkers[1]))
        .await
        .unwrap()
        .into_inner();
    let mut bytes = Vec::new();
    let mut described = None;
    while let Some(message) = stream.message().await.unwrap() {
        match message.part.unwrap() {
            pb::download_guide_file_response::Part::File(file) => described = Some(file),
            pb::download_guide_file_response::Part::Chunk(chunk) => bytes.extend(chunk),
        }
    }
    let described = described.unwrap();
    assert_eq!(described.file_name, "ydelser.docx");
    assert_eq!(described.size as usize, bytes.len());
    assert_eq!(bytes, docx(&sections));
}

#[tokio::test]
async fn pdf_guides_are_split_by_their_outline_or_their_numbered_headings() {
    let t = TestGuides::start().await;
    let sections = long_guide();
    for (with_outline, name) in [(true, "med-bogmaerker.pdf"), (false, "uden-bogmaerker.pdf")] {
        let imported = t
            .import(
                "PDF-vejledning",
                SYSTEM,
                name,
                &pdf(&sections, with_outline),
            )
            .await
            .unwrap();
        let report = imported.report.unwrap();
        assert!(
            report.page_count >= 20,
            "tens of pages: {}",
            report.page_count
        );
        let guide = imported.guide.unwrap();
        let read = t.sections(&guide.guide_id).await;
        let titles: Vec<String> = read
            .iter()
            .map(|s| format!("{} {}", s.number, s.heading))
            .collect();
        let written: Vec<String> = sections.iter().map(|s| s.heading.clone()).collect();
        assert_eq!(titles, written, "{name}");
        assert!(
            read.iter().all(|s| s.page >= 1),
            "{name}: every section has its page"
        );
        assert!(read.last().unwrap().page > read[0].page);
        assert!(
            read[1].text.contains(&sections[1].paragraphs[0][..20]),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_new_version_keeps_the_ids_of_the_sections_it_finds_again() {
    let t = TestGuides::start().await;
    let first = sample_sections(2, 3, 2);
    let guide = t.imported("Vejledning", SYSTEM, &first).await;
    let before = t.sections(&guide.guide_id).await;

    // A section is inserted before "1.1", which moves to 1.2; "2.3" is dropped.
    let mut second = first.clone();
    second.insert(
        1,
        SectionSpec {
            level: 2,
            heading: "1.1 Nyt afsnit om frister".into(),
            paragraphs: vec!["Nyt indhold.".into()],
        },
    );
    for s in second.iter_mut().skip(2).take(3) {
        let (number, heading) = s.heading.split_once(' ').unwrap();
        let (chapter, sub) = number.split_once('.').unwrap_or((number, ""));
        if let Ok(sub) = sub.parse::<u32>() {
            s.heading = format!("{chapter}.{} {heading}", sub + 1);
        }
    }
    second.pop();
    let options = pb::ImportGuideOptions {
        guide_id: guide.guide_id.clone(),
        expected_revision: guide.revision,
        file_name: "vejledning-v2.docx".into(),
        ..Default::default()
    };
    let imported = t
        .import_as(&t.admin, options.clone(), &docx(&second))
        .await
        .unwrap();
    let report = imported.report.unwrap();
    assert_eq!(imported.guide.as_ref().unwrap().version, 2);
    assert_eq!(report.section_count, 8);
    assert_eq!(report.kept_count, 7);
    assert_eq!(report.removed_count, 1);

    let after = t.sections(&guide.guide_id).await;
    let moved = after.iter().find(|s| s.number == "1.2").unwrap();
    assert_eq!(
        moved.section_id, before[1].section_id,
        "1.1 became 1.2 and kept its id"
    );
    assert!(
        before.iter().all(|b| b.section_id != after[1].section_id),
        "the new one is new"
    );

    // The dropped section stays readable as it was, marked as not current.
    let dropped = before.last().unwrap();
    let request = pb::GetSectionRequest {
        section_id: dropped.section_id.clone(),
    };
    let read = t
        .guide_service()
        .get_section(bearer(request, &t.caseworkers[0]))
        .await
        .unwrap()
        .into_inner()
        .section
        .unwrap();
    assert_eq!(read.version, 1);
    assert!(!read.current);

    // The revision read is required: the first version's is stale now.
    let stale = t
        .import_as(&t.admin, options, &docx(&second))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
}

#[tokio::test]
async fn a_retried_import_imports_once() {
    let t = TestGuides::start().await;
    let file = docx(&sample_sections(2, 2, 1));
    let mut options = new_guide("Vejledning", SYSTEM, "v.docx");
    options.idempotency_key = "import-1".into();
    let first = t.import_as(&t.admin, options.clone(), &file).await.unwrap();
    let again = t.import_as(&t.admin, options.clone(), &file).await.unwrap();
    assert_eq!(first.guide.unwrap().guide_id, again.guide.unwrap().guide_id);
    let listed = t
        .guide_service()
        .list_guides(bearer(pb::ListGuidesRequest::default(), &t.admin))
        .await
        .unwrap()
        .into_inner()
        .guides;
    assert_eq!(listed.len(), 1);
    // The same key with another file is a misuse.
    let other = t
        .import_as(&t.admin, options, &docx(&sample_sections(1, 1, 1)))
        .await
        .unwrap_err();
    assert_ne!(other.code(), Code::Ok);
}

#[tokio::test]
async fn text_before_the_first_heading_is_reported_not_imported() {
    let t = TestGuides::start().await;
    let mut sections = sample_sections(1, 1, 1);
    sections.insert(
        0,
        SectionSpec {
            level: 0,
            heading: String::new(),
            paragraphs: vec!["Forside: Vejledning til ydelser, version 3".into()],
        },
    );
    let imported = t
        .import("Vejledning", SYSTEM, "v.pdf", &pdf(&sections, true))
        .await
        .unwrap();
    let report = imported.report.unwrap();
    assert_eq!(report.section_count, 2);
    assert_eq!(report.unplaced.len(), 1);
    assert!(report.unplaced[0].excerpt.starts_with("Forside"));
    assert_eq!(report.unplaced[0].page, 1);
}

#[tokio::test]
async fn files_that_cannot_be_split_are_refused_whole() {
    let t = TestGuides::start().await;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "noter.txt",
            b"Bare tekst, ikke en vejledning".to_vec(),
            "neither",
        ),
        (
            "gammel.doc",
            vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0],
            "97",
        ),
        ("hemmelig.pdf", encrypted_pdf(), "encrypted"),
        ("tom.pdf", pdf(&[], false), "no text"),
        (
            "uden-overskrifter.docx",
            docx(&[SectionSpec {
                level: 0,
                heading: String::new(),
                paragraphs: vec!["Tekst uden overskrifter.".into()],
            }]),
            "no headings",
        ),
        ("skadet.pdf", b"%PDF-1.7\n garbage garbage".to_vec(), "PDF"),
    ];
    for (name, file, says) in cases {
        let err = t.import(name, SYSTEM, name, &file).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{name}: {err:?}");
        assert_eq!(violated_fields(&err), ["file"], "{name}");
        assert!(err.message().contains(says), "{name}: {}", err.message());
    }
    let err = t.import("Tom", SYSTEM, "tom.docx", &[]).await.unwrap_err();
    assert_eq!(violated_fields(&err), ["file"]);
    // Nothing was half-imported.
    let listed = t
        .guide_service()
        .list_guides(bearer(pb::ListGuidesRequest::default(), &t.admin))
        .await
        .unwrap()
        .into_inner()
        .guides;
    assert!(listed.is_empty());
}

#[tokio::test]
async fn a_personal_id_number_anywhere_refuses_the_file_naming_its_page() {
    let t = TestGuides::start().await;
    let mut sections = sample_sections(3, 2, 3);
    sections[7].paragraphs[1] = "Eksempel: borgeren med CPR 010190-1234 fik afslag.".into();
    let err = t
        .import("Vejledning", SYSTEM, "v.pdf", &pdf(&sections, true))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("on page"), "{}", err.message());
    assert!(
        !err.message().contains("010190"),
        "the number is never repeated"
    );
    let err = t
        .import("Vejledning", SYSTEM, "v.docx", &docx(&sections))
        .await
        .unwrap_err();
    assert!(
        err.message().contains(&sections[7].heading),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn only_the_consortium_and_the_supplier_import_and_withdraw() {
    let t = TestGuides::start().await;
    let file = docx(&sample_sections(1, 1, 1));
    let err = t
        .import_as(&t.caseworkers[0], new_guide("V", SYSTEM, "v.docx"), &file)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let guide = t
        .import_as(&t.supplier, new_guide("V", SYSTEM, "v.docx"), &file)
        .await
        .unwrap()
        .guide
        .unwrap();
    let withdraw = |token: &str, revision: i64| {
        let request = pb::WithdrawGuideRequest {
            guide_id: guide.guide_id.clone(),
            expected_revision: revision,
            reason: "Erstattet af ny vejledning".into(),
        };
        let mut client = t.guide_service();
        let request = bearer(request, token);
        async move { client.withdraw_guide(request).await }
    };
    let err = withdraw(&t.caseworkers[0], guide.revision)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let withdrawn = withdraw(&t.admin, guide.revision)
        .await
        .unwrap()
        .into_inner()
        .guide
        .unwrap();
    assert_eq!(withdrawn.state, pb::GuideState::Withdrawn as i32);
    let again = withdraw(&t.admin, withdrawn.revision).await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(reason(&again), "WRONG_STATE");
    let audit = pb::ListAuditRecordsRequest {
        entity_type: "guide".into(),
        entity_id: guide.guide_id.clone(),
        page: None,
    };
    let records = pb::audit_service_client::AuditServiceClient::new(t.guides.clone())
        .list_audit_records(bearer(audit, &t.caseworkers[0]))
        .await
        .unwrap()
        .into_inner()
        .records;
    let actions: Vec<_> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["import", "withdraw"]);
}

#[tokio::test]
async fn bad_options_are_named() {
    let t = TestGuides::start().await;
    let file = docx(&sample_sections(1, 1, 1));
    let options = pb::ImportGuideOptions {
        system_id: "ikke-et-id".into(),
        language: 99,
        ..Default::default()
    };
    let err = t.import_as(&t.admin, options, &file).await.unwrap_err();
    let mut fields = violated_fields(&err);
    fields.sort();
    assert_eq!(
        fields,
        [
            "options.audience",
            "options.file_name",
            "options.language",
            "options.system_id",
            "options.title"
        ]
    );
    let unknown = pb::ImportGuideOptions {
        guide_id: "0192f1a4-0000-7000-8000-00000000abcd".into(),
        expected_revision: 1,
        file_name: "v.docx".into(),
        ..Default::default()
    };
    let err = t.import_as(&t.admin, unknown, &file).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn a_file_past_the_limit_is_refused_before_it_is_read() {
    let t = TestGuides::start().await;
    let huge = vec![b'%'; 50 * 1024 * 1024 + 1];
    let err = t
        .import("Stor", SYSTEM, "stor.pdf", &huge)
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["file"]);
    assert!(
        err.message().contains("larger than 50 MiB"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn a_personal_id_number_a_download_would_give_away_refuses_the_file() {
    use kommune_guides::testing::{docx_with_part, pdf_with_information};
    let t = TestGuides::start().await;
    let sections = sample_sections(2, 2, 2);
    let footer = r#"<?xml version="1.0" encoding="UTF-8"?><w:ftr xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:p><w:r><w:t>Sag om 010190-1234</w:t></w:r></w:p></w:ftr>"#;
    let with_footer = docx_with_part(&docx(&sections), "word/footer1.xml", footer);
    let with_title = pdf_with_information(&pdf(&sections, true), "Title", "Borger 0101901234");
    for (name, file) in [("v.docx", with_footer), ("v.pdf", with_title)] {
        let err = t
            .import("Vejledning", SYSTEM, name, &file)
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["file"], "{name}");
        assert!(
            err.message().contains("outside the guide's text"),
            "{name}: {}",
            err.message()
        );
        assert!(!err.message().contains("010190"));
    }
    // The same files without the number are imported.
    let clean = docx_with_part(
        &docx(&sections),
        "word/footer1.xml",
        &footer.replace("010190-1234", "SAG-000123"),
    );
    t.import("Vejledning", SYSTEM, "v.docx", &clean)
        .await
        .unwrap();
}
