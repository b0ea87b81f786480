//! `InvoicingService`: debtor numbers, the basis, invoicing runs and their files.

use super::*;
use crate::registry::{Period, unit_amount};
use crate::store::{debtors, invoicing_runs, orders};
use kommune_platform::export;

/// A period of delivery days: both days required, the first not after the last.
fn period(v: &mut Validator, from: &str, through: &str) -> Option<Period> {
    let from = v.date("delivered_from", from);
    let through = v.date("delivered_through", through);
    let (from, through) = (from?, through?);
    if from > through {
        v.violation("delivered_through", "must not be before delivered_from");
        return None;
    }
    Some(Period { from, through })
}

/// Whether `number` is a debtor number: 1 to 20 letters, digits and `-`.
fn is_debtor_number(number: &str) -> bool {
    (1..=20).contains(&number.len())
        && number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn debtor(d: debtors::Model) -> pb::DebtorNumber {
    pb::DebtorNumber {
        municipality_id: d.municipality_id,
        debtor_number: d.debtor_number,
        update_time: Some(to_timestamp(d.updated_at)),
    }
}

fn run(r: invoicing_runs::Model) -> pb::InvoicingRun {
    pb::InvoicingRun {
        run_id: r.id,
        number: r.number,
        delivered_from: format_date(r.delivered_from),
        delivered_through: format_date(r.delivered_through),
        order_count: r.order_count,
        amount_ore: r.amount_ore,
        created_by: r.created_by,
        create_time: Some(to_timestamp(r.created_at)),
    }
}

fn line(o: orders::Model) -> pb::InvoicingLine {
    pb::InvoicingLine {
        unit_amount_ore: unit_amount(&o),
        municipality_id: o.municipality_id,
        debtor_number: o.debtor_number.unwrap_or_default(),
        order_id: o.id,
        order_number: o.number,
        item_name_da: o.item_name_da,
        quantity: o.quantity,
        amount_ore: o.amount_ore.unwrap_or_default(),
        delivered_date: o.delivered_date.map(format_date).unwrap_or_default(),
    }
}

#[tonic::async_trait]
impl pb::invoicing_service_server::InvoicingService for CatalogueApi {
    type ExportInvoicingRunStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<pb::ExportInvoicingRunResponse, Status>> + Send>,
    >;

    async fn set_debtor_number(
        &self,
        request: Request<pb::SetDebtorNumberRequest>,
    ) -> Result<Response<pb::SetDebtorNumberResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let municipality = v.id("municipality_id", &req.municipality_id);
        let number = req.debtor_number.trim();
        if !is_debtor_number(number) {
            v.violation("debtor_number", "must be 1 to 20 letters, digits and `-`");
        }
        v.finish()?;
        let municipality = municipality.map(|m| m.to_string()).unwrap_or_default();
        let set = self
            .registry
            .set_debtor_number(&caller, &municipality, number.to_owned())
            .await?;
        Ok(Response::new(pb::SetDebtorNumberResponse {
            debtor_number: Some(debtor(set)),
        }))
    }

    async fn list_debtor_numbers(
        &self,
        request: Request<pb::ListDebtorNumbersRequest>,
    ) -> Result<Response<pb::ListDebtorNumbersResponse>, Status> {
        let caller = caller(&request)?;
        let page = Page::from_request(request.get_ref().page.as_ref())?;
        let (found, page) = self.registry.list_debtor_numbers(&caller, &page).await?;
        Ok(Response::new(pb::ListDebtorNumbersResponse {
            debtor_numbers: found.into_iter().map(debtor).collect(),
            page: Some(page),
        }))
    }

    async fn get_invoicing_basis(
        &self,
        request: Request<pb::GetInvoicingBasisRequest>,
    ) -> Result<Response<pb::GetInvoicingBasisResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let period = period(&mut v, &req.delivered_from, &req.delivered_through);
        v.finish()?;
        let page = Page::from_request(req.page.as_ref())?;
        let Some(period) = period else {
            return Err(Error::internal("a validated period is missing").into());
        };
        let (totals, page) = self
            .registry
            .invoicing_basis(&caller, period, &page)
            .await?;
        Ok(Response::new(pb::GetInvoicingBasisResponse {
            totals: totals
                .into_iter()
                .map(|(t, number)| pb::MunicipalityTotal {
                    municipality_id: t.municipality_id,
                    debtor_number: number.unwrap_or_default(),
                    order_count: t.order_count,
                    amount_ore: t.amount_ore,
                })
                .collect(),
            page: Some(page),
        }))
    }

    async fn create_invoicing_run(
        &self,
        request: Request<pb::CreateInvoicingRunRequest>,
    ) -> Result<Response<pb::CreateInvoicingRunResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let period = period(&mut v, &req.delivered_from, &req.delivered_through);
        v.finish()?;
        let Some(period) = period else {
            return Err(Error::internal("a validated period is missing").into());
        };
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "CreateInvoicingRun", &key, &req)?;
        let created = self
            .registry
            .create_invoicing_run(&caller, period, key)
            .await?;
        Ok(Response::new(pb::CreateInvoicingRunResponse {
            run: Some(run(created)),
        }))
    }

    async fn get_invoicing_run(
        &self,
        request: Request<pb::GetInvoicingRunRequest>,
    ) -> Result<Response<pb::GetInvoicingRunResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("run_id", &request.get_ref().run_id)?;
        let found = self.registry.get_invoicing_run(&caller, &id).await?;
        Ok(Response::new(pb::GetInvoicingRunResponse {
            run: Some(run(found)),
        }))
    }

    async fn list_invoicing_runs(
        &self,
        request: Request<pb::ListInvoicingRunsRequest>,
    ) -> Result<Response<pb::ListInvoicingRunsResponse>, Status> {
        let caller = caller(&request)?;
        let page = Page::from_request(request.get_ref().page.as_ref())?;
        let (found, page) = self.registry.list_invoicing_runs(&caller, &page).await?;
        Ok(Response::new(pb::ListInvoicingRunsResponse {
            runs: found.into_iter().map(run).collect(),
            page: Some(page),
        }))
    }

    async fn list_invoicing_lines(
        &self,
        request: Request<pb::ListInvoicingLinesRequest>,
    ) -> Result<Response<pb::ListInvoicingLinesResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("run_id", &req.run_id);
        let municipality = v.optional_id("municipality_id", &req.municipality_id);
        v.finish()?;
        let page = Page::from_request(req.page.as_ref())?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let municipality = municipality.map(|m| m.to_string());
        let (found, page) = self
            .registry
            .invoicing_lines(&caller, &id, municipality.as_deref(), &page)
            .await?;
        Ok(Response::new(pb::ListInvoicingLinesResponse {
            lines: found.into_iter().map(line).collect(),
            page: Some(page),
        }))
    }

    async fn export_invoicing_run(
        &self,
        request: Request<pb::ExportInvoicingRunRequest>,
    ) -> Result<Response<Self::ExportInvoicingRunStream>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("run_id", &req.run_id);
        let format = match req.format() {
            pb::ExportFormat::Csv => export::Format::Csv,
            pb::ExportFormat::Xlsx => export::Format::Xlsx,
            pb::ExportFormat::Unspecified => {
                v.violation(
                    "format",
                    "is required: EXPORT_FORMAT_CSV or EXPORT_FORMAT_XLSX",
                );
                export::Format::Csv
            }
        };
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let chunks = self
            .registry
            .export_invoicing_run(&caller, &id, format)
            .await?;
        use tokio_stream::StreamExt;
        Ok(Response::new(Box::pin(chunks.map(|chunk| {
            chunk.map(|chunk| pb::ExportInvoicingRunResponse { chunk })
        }))))
    }
}
