//! Invoicing: the basis per municipality, runs that include each delivered order once, and the file.

use tonic::Code;

use kommune_platform::testing::{violated_fields, with_bearer as bearer};
use pb::OrderState as S;

use super::*;

impl TestCatalogue {
    fn invoicing(&self) -> pb::invoicing_service_client::InvoicingServiceClient<Channel> {
        pb::invoicing_service_client::InvoicingServiceClient::new(self.catalogue.clone())
    }

    /// Orders `quantity` seats as `token` and has the supplier deliver them.
    async fn delivered_seats(&self, token: &str, item: &pb::Item, quantity: i64) -> pb::Order {
        let order = self.place(token, item, quantity, vec![]).await.unwrap();
        let mut orders = self.orders();
        let started = orders
            .start_delivery(bearer(
                pb::StartDeliveryRequest {
                    order_id: order.order_id.clone(),
                    expected_version: order.version,
                },
                &self.supplier,
            ))
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap();
        orders
            .mark_delivered(bearer(
                pb::MarkDeliveredRequest {
                    order_id: started.order_id.clone(),
                    expected_version: started.version,
                },
                &self.supplier,
            ))
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap()
    }

    async fn set_debtor(&self, municipality: &str, number: &str) -> Result<(), Status> {
        self.invoicing()
            .set_debtor_number(bearer(
                pb::SetDebtorNumberRequest {
                    municipality_id: municipality.into(),
                    debtor_number: number.into(),
                },
                &self.admin,
            ))
            .await
            .map(|_| ())
    }

    async fn run(&self, from: &str, through: &str) -> Result<pb::InvoicingRun, Status> {
        Ok(self
            .invoicing()
            .create_invoicing_run(bearer(
                pb::CreateInvoicingRunRequest {
                    idempotency_key: String::new(),
                    delivered_from: from.into(),
                    delivered_through: through.into(),
                },
                &self.admin,
            ))
            .await?
            .into_inner()
            .run
            .unwrap())
    }
}

#[tokio::test]
async fn a_run_invoices_each_delivered_order_once_under_its_debtor_number() {
    let t = TestCatalogue::start().await;
    let seats = t.create(seats()).await.unwrap();
    let [first, second] = &t.municipalities;
    let ours = t.delivered_seats(&t.leaders[0].1, &seats, 2).await;
    let also_ours = t.delivered_seats(&t.caseworker.1, &seats, 1).await;
    let theirs = t.delivered_seats(&t.leaders[1].1, &seats, 4).await;
    // Placed, not delivered: not on the basis.
    t.place(&t.leaders[1].1, &seats, 9, vec![]).await.unwrap();

    let basis = t
        .invoicing()
        .get_invoicing_basis(bearer(
            pb::GetInvoicingBasisRequest {
                delivered_from: "2025-03-01".into(),
                delivered_through: "2025-03-31".into(),
                page: None,
            },
            &t.supplier,
        ))
        .await
        .unwrap()
        .into_inner()
        .totals;
    let mut expected = vec![(first.clone(), 2, 750_000), (second.clone(), 1, 1_000_000)];
    expected.sort();
    let found: Vec<_> = basis
        .iter()
        .map(|t| (t.municipality_id.clone(), t.order_count, t.amount_ore))
        .collect();
    assert_eq!(found, expected);
    assert!(basis.iter().all(|t| t.debtor_number.is_empty()));

    // No run until every municipality with orders due has a debtor number.
    t.set_debtor(first, "DEB-101").await.unwrap();
    let missing = t.run("2025-03-01", "2025-03-03").await.unwrap_err();
    assert_eq!(missing.code(), Code::FailedPrecondition);
    assert!(
        missing.message().contains(second.as_str()),
        "{}",
        missing.message()
    );
    t.set_debtor(second, "DEB-751").await.unwrap();

    // A period with no delivery: nothing to invoice.
    let empty = t.run("2025-02-01", "2025-03-02").await.unwrap_err();
    assert_eq!(empty.code(), Code::FailedPrecondition);

    let run = t.run("2025-03-01", "2025-03-03").await.unwrap();
    assert_eq!(
        (run.number, run.order_count, run.amount_ore),
        (1, 3, 1_750_000)
    );
    let again = t.run("2025-03-01", "2025-03-03").await.unwrap_err();
    assert_eq!(
        again.code(),
        Code::FailedPrecondition,
        "nothing is invoiced twice"
    );

    for order in [&ours, &also_ours, &theirs] {
        let read = t
            .orders()
            .get_order(bearer(
                pb::GetOrderRequest {
                    order_id: order.order_id.clone(),
                },
                &t.admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap();
        assert_eq!(read.state, S::Invoiced as i32);
        assert_eq!(read.invoicing_run_id, run.run_id);
        assert_eq!(read.steps.last().unwrap().state, S::Invoiced as i32);
    }
    let lines = t
        .invoicing()
        .list_invoicing_lines(bearer(
            pb::ListInvoicingLinesRequest {
                run_id: run.run_id.clone(),
                municipality_id: second.clone(),
                page: None,
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .lines;
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!(
        (
            line.debtor_number.as_str(),
            line.quantity,
            line.unit_amount_ore,
            line.amount_ore
        ),
        ("DEB-751", 4, 250_000, 1_000_000)
    );
    assert_eq!(line.delivered_date, "2025-03-03");

    // A later debtor number leaves the run as it was made.
    t.set_debtor(second, "DEB-NEW").await.unwrap();
    let csv = export(&t, &run.run_id, pb::ExportFormat::Csv).await;
    let csv = String::from_utf8(csv).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 4, "a header and three lines: {csv}");
    assert!(
        rows[0].starts_with("Kørsel (run),Kommune (municipality),Debitornummer (debtor number)")
    );
    assert!(
        csv.contains(&format!("1,{second},DEB-751,{},", theirs.number)),
        "{csv}"
    );
    let xlsx = export(&t, &run.run_id, pb::ExportFormat::Xlsx).await;
    assert!(xlsx.starts_with(b"PK\x03\x04"));

    // The ordering municipality sees its order invoiced; only the consortium and supplier read runs.
    let denied = t
        .invoicing()
        .list_invoicing_runs(bearer(
            pb::ListInvoicingRunsRequest::default(),
            &t.leaders[0].1,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let runs = t
        .invoicing()
        .list_invoicing_runs(bearer(pb::ListInvoicingRunsRequest::default(), &t.supplier))
        .await
        .unwrap()
        .into_inner()
        .runs;
    assert_eq!(runs.len(), 1);
    let events: Vec<pb::OrderStepTaken> = t.events("OrderStepTaken").await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.state == S::Invoiced as i32)
            .count(),
        3
    );
}

async fn export(t: &TestCatalogue, run_id: &str, format: pb::ExportFormat) -> Vec<u8> {
    use tokio_stream::StreamExt as _;
    let mut stream = t
        .invoicing()
        .export_invoicing_run(bearer(
            pb::ExportInvoicingRunRequest {
                run_id: run_id.into(),
                format: format as i32,
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let mut file = Vec::new();
    while let Some(chunk) = stream.next().await {
        file.extend(chunk.unwrap().chunk);
    }
    file
}

#[tokio::test]
async fn two_runs_started_together_include_each_order_once() {
    let t = TestCatalogue::start().await;
    let seats = t.create(seats()).await.unwrap();
    for (i, municipality) in t.municipalities.iter().enumerate() {
        t.set_debtor(municipality, &format!("DEB-{i}"))
            .await
            .unwrap();
    }
    let mut delivered = 0;
    for quantity in 1..=6 {
        let leader = &t.leaders[quantity as usize % 2].1;
        t.delivered_seats(leader, &seats, quantity).await;
        delivered += 1;
    }
    let (a, b) = tokio::join!(
        t.run("2025-03-01", "2025-03-03"),
        t.run("2025-03-01", "2025-03-03")
    );
    let made: Vec<pb::InvoicingRun> = [a, b]
        .into_iter()
        .filter_map(|result| match result {
            Ok(run) => Some(run),
            Err(status) => {
                assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
                None
            }
        })
        .collect();
    let included: i64 = made.iter().map(|r| r.order_count).sum();
    assert_eq!(included, delivered, "every delivered order once: {made:?}");
    let total: i64 = made.iter().map(|r| r.amount_ore).sum();
    assert_eq!(total, 21 * 250_000);
}

#[tokio::test]
async fn invoicing_input_is_checked_and_kept_to_the_consortium() {
    let t = TestCatalogue::start().await;
    let bad_period = t.run("2025-03-05", "2025-03-01").await.unwrap_err();
    assert_eq!(violated_fields(&bad_period), ["delivered_through"]);
    let future = t.run("2025-03-01", "2025-04-01").await.unwrap_err();
    assert_eq!(violated_fields(&future), ["delivered_through"]);
    let no_dates = t.run("", "").await.unwrap_err();
    assert_eq!(
        violated_fields(&no_dates),
        ["delivered_from", "delivered_through"]
    );

    let bad_number = t
        .set_debtor(&t.municipalities[0], "DEB 101!")
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad_number), ["debtor_number"]);
    let unknown = t
        .set_debtor(&uuid::Uuid::new_v4().to_string(), "DEB-1")
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let by_supplier = t
        .invoicing()
        .set_debtor_number(bearer(
            pb::SetDebtorNumberRequest {
                municipality_id: t.municipalities[0].clone(),
                debtor_number: "DEB-1".into(),
            },
            &t.supplier,
        ))
        .await
        .unwrap_err();
    assert_eq!(by_supplier.code(), Code::PermissionDenied);
    let listed = t
        .invoicing()
        .list_debtor_numbers(bearer(pb::ListDebtorNumbersRequest::default(), &t.admin))
        .await
        .unwrap()
        .into_inner()
        .debtor_numbers;
    assert!(listed.is_empty(), "nothing was written");
}
