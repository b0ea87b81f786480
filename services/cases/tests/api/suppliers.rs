//! Mail to a system's supplier: a case or an incident reported to the system's supplier contacts by
//! mail carrying its number, later mails in the same thread, and the resolution sent to it.

use super::*;

async fn report(
    t: &TestCases,
    token: &str,
    case_id: &str,
    key: &str,
    text: &str,
) -> Result<pb::SupplierMail, Status> {
    Ok(t.cases()
        .report_case_to_supplier(bearer(
            pb::ReportCaseToSupplierRequest {
                idempotency_key: key.into(),
                case_id: case_id.into(),
                text: text.into(),
            },
            token,
        ))
        .await?
        .into_inner()
        .mail
        .unwrap())
}

async fn thread(
    t: &TestCases,
    subject: pb::list_supplier_mails_request::Subject,
) -> Vec<pb::SupplierMail> {
    t.cases()
        .list_supplier_mails(bearer(
            pb::ListSupplierMailsRequest {
                subject: Some(subject),
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .mails
}

#[tokio::test]
async fn a_system_s_supplier_contacts_are_checked_and_kept() {
    let t = TestCases::start().await;
    let bad = t
        .set_contacts(&[
            ("Drift", "drift@leverandor.dk"),
            ("Vagt", "vagt@@leverandor.dk"),
            ("Igen", "DRIFT@leverandor.dk"),
        ])
        .await
        .unwrap_err();
    assert_eq!(
        (bad.code(), violated_fields(&bad)),
        (
            Code::InvalidArgument,
            vec![
                "system.supplier_contacts[1].email".to_owned(),
                "system.supplier_contacts[2].email".to_owned()
            ]
        )
    );
    let eleven: Vec<(String, String)> = (0..11)
        .map(|n| (format!("Kontakt {n}"), format!("k{n}@leverandor.dk")))
        .collect();
    let eleven: Vec<(&str, &str)> = eleven
        .iter()
        .map(|(n, e)| (n.as_str(), e.as_str()))
        .collect();
    let too_many = t.set_contacts(&eleven).await.unwrap_err();
    assert_eq!(violated_fields(&too_many), ["system.supplier_contacts"]);

    let system = t
        .set_contacts(&[("Driftsvagten", " drift@leverandor.dk ")])
        .await
        .unwrap();
    assert_eq!(system.supplier_contacts.len(), 1);
    assert_eq!(system.supplier_contacts[0].email, "drift@leverandor.dk");

    // The supplier's contacts are listed to the desk, not to the municipalities.
    let contacts_seen_by = async |token: &str| {
        pb::reference_service_client::ReferenceServiceClient::new(t.cases.clone())
            .list_systems(bearer(pb::ListSystemsRequest {}, token))
            .await
            .unwrap()
            .into_inner()
            .systems
            .into_iter()
            .find(|s| s.system_id == t.system)
            .unwrap()
            .supplier_contacts
            .len()
    };
    assert_eq!(contacts_seen_by(&t.supporter).await, 1);
    assert_eq!(contacts_seen_by(&t.reporter).await, 0);
}

#[tokio::test]
async fn a_case_reported_to_the_supplier_makes_one_thread_that_the_resolution_closes() {
    let t = TestCases::start().await;
    let case = t
        .file(t.new_case("Udbetalinger fejler", pb::Severity::Normal))
        .await
        .unwrap()
        .case
        .unwrap();
    let text = "Omregningen giver forkerte beløb siden opdateringen i nat.";

    // No contacts yet: nothing to mail.
    let none = report(&t, &t.supporter, &case.case_id, "k1", text)
        .await
        .unwrap_err();
    assert_eq!(none.code(), Code::FailedPrecondition, "{none:?}");
    t.set_contacts(&[
        ("Driftsvagten", "drift@leverandor.dk"),
        ("Udvikling", "dev@leverandor.dk"),
    ])
    .await
    .unwrap();

    // Only the desk reports; the municipality does not, and nothing personal goes in a mail.
    let denied = report(&t, &t.reporter, &case.case_id, "k1", text)
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let personal = report(&t, &t.supporter, &case.case_id, "k1", "Borger 010190-1234")
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&personal), ["text"]);
    let missing = report(&t, &t.supporter, &pb_uuid(), "k1", text)
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    let first = report(&t, &t.supporter, &case.case_id, "k1", text)
        .await
        .unwrap();
    assert_eq!(first.kind(), pb::SupplierMailKind::Report);
    assert_eq!(
        first.subject,
        format!("[{}] Udbetalinger fejler", case.number)
    );
    assert_eq!(
        first.recipients,
        ["drift@leverandor.dk", "dev@leverandor.dk"]
    );
    assert_eq!(first.text, text);
    assert_eq!(first.thread_message_id, first.message_id);
    assert_eq!(
        first.message_id,
        format!("<{}@cases.kommune>", first.supplier_mail_id)
    );
    // A retry sends nothing again.
    let retried = report(&t, &t.supporter, &case.case_id, "k1", text)
        .await
        .unwrap();
    assert_eq!(retried.supplier_mail_id, first.supplier_mail_id);

    let second = report(
        &t,
        &t.supporter,
        &case.case_id,
        "k2",
        "Også brevene er forkerte.",
    )
    .await
    .unwrap();
    assert_eq!(second.thread_message_id, first.message_id);

    t.resolve(&case).await;
    let mails = thread(
        &t,
        pb::list_supplier_mails_request::Subject::CaseId(case.case_id.clone()),
    )
    .await;
    let kinds: Vec<_> = mails.iter().map(pb::SupplierMail::kind).collect();
    assert_eq!(
        kinds,
        [
            pb::SupplierMailKind::Report,
            pb::SupplierMailKind::Report,
            pb::SupplierMailKind::Resolution
        ]
    );
    let resolution = &mails[2];
    assert_eq!(
        resolution.subject,
        format!("Løst / Resolved: [{}] Udbetalinger fejler", case.number)
    );
    assert!(resolution.text.contains("fejlen er rettet") && resolution.text.contains("fixed"));
    assert_eq!(resolution.thread_message_id, first.message_id);
    assert_eq!(resolution.recipients, first.recipients);

    // Each mail's event places it in the thread: it answers the latest and refers to all before it.
    let queued: Vec<pb::SupplierMailQueued> = t.events("SupplierMailQueued").await;
    assert_eq!(queued.len(), 3, "one event per mail, none for the retry");
    assert_eq!(queued[0].in_reply_to, "");
    assert!(queued[0].references.is_empty());
    assert_eq!(queued[2].in_reply_to, second.message_id);
    assert_eq!(
        queued[2].references,
        [first.message_id.clone(), second.message_id]
    );
    assert_eq!(queued[2].mail.as_ref().unwrap(), resolution);

    // Resolved, it is not reported again until reopened.
    let closed = report(&t, &t.supporter, &case.case_id, "k3", text)
        .await
        .unwrap_err();
    assert_eq!(closed.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn an_incident_reported_to_the_supplier_is_mailed_with_its_number_and_its_resolution_follows()
{
    let t = TestCases::start().await;
    t.set_contacts(&[("Driftsvagten", "drift@leverandor.dk")])
        .await
        .unwrap();
    let case = t
        .file(t.new_case("Login fejler", pb::Severity::Normal))
        .await
        .unwrap()
        .case
        .unwrap();
    let mut incidents = pb::incident_service_client::IncidentServiceClient::new(t.cases.clone());
    let incident = incidents
        .open_incident(bearer(
            pb::OpenIncidentRequest {
                title: "Login til KY fejler".into(),
                description: "Alle kommuner".into(),
                system_ids: vec![t.system.clone()],
                case_ids: vec![case.case_id.clone()],
                ..Default::default()
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .incident
        .unwrap();
    assert_eq!(incident.number, "DRIFT-000001");
    let reported = incidents
        .report_to_supplier(bearer(
            pb::ReportToSupplierRequest {
                incident_id: incident.incident_id.clone(),
                expected_version: incident.version,
                problem: "Login fejler for alle".into(),
                occurred_time: time("2025-04-02T07:00:00Z"),
                tag: "KY - Login".into(),
                ..Default::default()
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner();
    let mail = reported.mail.unwrap();
    assert_eq!(mail.subject, "[DRIFT-000001] Login til KY fejler");
    assert_eq!(mail.incident_id, incident.incident_id);
    assert!(
        mail.text.contains("Login fejler for alle")
            && mail.text.contains("2025-04-02 09:00")
            && mail.text.contains("KY - Login"),
        "{}",
        mail.text
    );
    let incident = reported.incident.unwrap();
    incidents
        .resolve_incident(bearer(
            pb::ResolveIncidentRequest {
                incident_id: incident.incident_id.clone(),
                expected_version: incident.version,
                text: "Certifikatet er fornyet".into(),
                ..Default::default()
            },
            &t.supporter,
        ))
        .await
        .unwrap();
    let mails = thread(
        &t,
        pb::list_supplier_mails_request::Subject::IncidentId(incident.incident_id.clone()),
    )
    .await;
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1].kind(), pb::SupplierMailKind::Resolution);
    assert_eq!(mails[1].text, "Certifikatet er fornyet");
    assert_eq!(mails[1].thread_message_id, mail.message_id);
    // The linked case was not reported itself: its resolution mails nobody.
    let of_case = thread(
        &t,
        pb::list_supplier_mails_request::Subject::CaseId(case.case_id.clone()),
    )
    .await;
    assert!(of_case.is_empty());
    let second = incidents
        .open_incident(bearer(
            pb::OpenIncidentRequest {
                title: "Breve udebliver".into(),
                description: "Print".into(),
                system_ids: vec![t.system.clone()],
                ..Default::default()
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .incident
        .unwrap();
    assert_eq!(second.number, "DRIFT-000002");
}

fn pb_uuid() -> String {
    "0190c0de-0000-7000-8000-000000000000".into()
}
