//! Extra support-eligible users ordered by kommune itself: for a year of registrations, replacements,
//! stops and a change reaching back into a settled month, the orders agree with identity's billing
//! report, month by month.

use std::collections::BTreeMap;
use std::time::Duration;

use tonic::Code;

use kommune_platform::testing::{user_token, with_bearer as bearer};
use pb::OrderState as S;

use super::*;

/// Extra support-eligible users at 10 kroner per user-day.
fn extra_users() -> pb::ItemContent {
    pb::ItemContent {
        name_da: "Ekstra supportberettigede brugere".into(),
        description_da: "Supportberettigede brugere ud over kommunens basis pr. 1. januar 2023."
            .into(),
        category: "Adgang".into(),
        price: Some(pb::Price {
            model: pb::PriceModel::PerUnit as i32,
            amount_ore: 1_000,
            unit_da: "brugerdag".into(),
            unit_en: "user-day".into(),
        }),
        extra_eligible_users: true,
        ..Default::default()
    }
}

impl TestCatalogue {
    /// Moves the clock to `day` (10:00 UTC) with a fresh admin token.
    async fn on(&mut self, day: &str) {
        let at = DateTime::parse_from_rfc3339(&format!("{day}T10:00:00Z"))
            .unwrap()
            .to_utc();
        self.clock.set(at);
        self.admin = exchange(&self.identity, ADMIN_KEY).await;
    }

    fn eligibility(&self) -> id::eligibility_service_client::EligibilityServiceClient<Channel> {
        id::eligibility_service_client::EligibilityServiceClient::new(self.identity.clone())
    }

    /// A new caseworker of the first municipality registered from `from` (to `to`): the registration.
    async fn register(&self, email: &str, from: &str, to: &str) -> String {
        let (user, _) = user(
            &self.identity,
            &self.admin,
            &self.municipalities[0],
            email,
            id::Role::MunicipalCaseworker,
        )
        .await;
        self.eligibility()
            .register_eligible_user(bearer(
                id::RegisterEligibleUserRequest {
                    user_id: user,
                    municipality_id: self.municipalities[0].clone(),
                    valid_from: from.into(),
                    valid_to: to.into(),
                    ..Default::default()
                },
                &self.admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .registration
            .unwrap()
            .registration_id
    }

    /// The first municipality's billable extra user-days per month, from identity.
    async fn billed(&self, months: &[&str]) -> BTreeMap<String, i64> {
        let mut billed = BTreeMap::new();
        for month in months {
            let first =
                chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").unwrap();
            let last = first
                .checked_add_months(chrono::Months::new(1))
                .unwrap()
                .pred_opt()
                .unwrap();
            let report = self
                .eligibility()
                .get_billing_report(bearer(
                    id::GetBillingReportRequest {
                        first_day: first.to_string(),
                        last_day: last.to_string(),
                        municipality_id: self.municipalities[0].clone(),
                    },
                    &self.admin,
                ))
                .await
                .unwrap()
                .into_inner();
            let days = report.lines.first().map_or(0, |l| l.extra_user_days);
            billed.insert(month.to_string(), days);
        }
        billed
    }

    /// The extra user-days the first municipality's delivered orders of `item` bill, per month.
    async fn ordered(&self, item: &pb::Item) -> BTreeMap<String, i64> {
        let orders = self
            .list_all(pb::ListOrdersRequest {
                municipality_id: self.municipalities[0].clone(),
                item_id: item.item_id.clone(),
                states: vec![S::Delivered as i32],
                page: Some(kommune_proto::common::v1::PageRequest {
                    page_size: 500,
                    page_token: String::new(),
                }),
            })
            .await;
        let mut ordered = BTreeMap::new();
        for order in orders {
            *ordered.entry(order.billing_month.clone()).or_insert(0) += order.quantity;
        }
        ordered.retain(|_, days| *days != 0);
        ordered
    }

    async fn list_all(&self, request: pb::ListOrdersRequest) -> Vec<pb::Order> {
        self.orders()
            .list_orders(bearer(request, &self.admin))
            .await
            .unwrap()
            .into_inner()
            .orders
    }

    /// Waits until the delivered orders bill what identity reports for `months`.
    async fn agreed(&self, item: &pb::Item, months: &[&str]) -> BTreeMap<String, i64> {
        let mut billed = self.billed(months).await;
        billed.retain(|_, days| *days != 0);
        let of_months = async || {
            let mut ordered = self.ordered(item).await;
            ordered.retain(|month, _| months.contains(&month.as_str()));
            ordered
        };
        for _ in 0..300 {
            if of_months().await == billed {
                return billed;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the orders {:?} never came to bill what identity reports {billed:?}",
            of_months().await
        );
    }
}

#[tokio::test]
async fn a_year_of_extra_users_is_ordered_as_the_billing_report_counts_it() {
    let mut t = TestCatalogue::start().await;
    let item = t.create(extra_users()).await.unwrap();
    // Two users registered since before the baseline day (1 January 2023): the free allowance.
    let first_allowed = t.register("a@kk.dk", "2022-06-01", "").await;
    t.register("b@kk.dk", "2022-06-01", "").await;

    // March: a third user from the 10th, 22 billable days.
    t.on("2025-03-10").await;
    let third = t.register("c@kk.dk", "2025-03-10", "").await;
    // The month's order opens at once, linked to the registration, nothing billed yet.
    let open = eventually_open(&t, &item, "2025-03", &third).await;
    assert_eq!(open.state, S::InDelivery as i32);
    assert_eq!(open.ordered_by, "system:catalogue");
    assert!(open.registration_ids.contains(&third), "{open:?}");
    // Kommune settles it; nobody steps it by hand.
    let by_hand = t
        .orders()
        .approve_order(bearer(
            pb::ApproveOrderRequest {
                order_id: open.order_id.clone(),
                expected_version: open.version,
            },
            &t.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(by_hand.code(), Code::FailedPrecondition);

    // May: the third user is replaced by a fourth; the count stays.
    t.on("2025-05-14").await;
    t.eligibility()
        .replace_eligible_user(bearer(
            id::ReplaceEligibleUserRequest {
                replaced_registration_id: third.clone(),
                new_user_id: user(
                    &t.identity,
                    &t.admin,
                    &t.municipalities[0],
                    "d@kk.dk",
                    id::Role::MunicipalCaseworker,
                )
                .await
                .0,
                effective_date: "2025-05-15".into(),
                ..Default::default()
            },
            &t.admin,
        ))
        .await
        .unwrap();

    // July: an allowed user stops at the end of the month; from August nothing is billable.
    t.on("2025-07-01").await;
    t.eligibility()
        .stop_eligibility(bearer(
            id::StopEligibilityRequest {
                registration_id: first_allowed,
                valid_to: "2025-07-31".into(),
                ..Default::default()
            },
            &t.admin,
        ))
        .await
        .unwrap();

    // September: two more from the 15th.
    t.on("2025-09-15").await;
    t.register("e@kk.dk", "2025-09-15", "").await;
    t.register("f@kk.dk", "2025-09-15", "2025-12-31").await;
    // October, after September is settled: a registration reaching back into September.
    t.on("2025-10-06").await;
    t.agreed(&item, &["2025-09"]).await;
    t.register("g@kk.dk", "2025-09-25", "").await;

    // Through February 2026: every month agrees with the billing report, the late one by a correction.
    t.on("2026-03-02").await;
    let months = [
        "2025-03", "2025-04", "2025-05", "2025-06", "2025-07", "2025-08", "2025-09", "2025-10",
        "2025-11", "2025-12", "2026-01", "2026-02",
    ];
    let agreed = t.agreed(&item, &months).await;
    assert_eq!(agreed["2025-03"], 22);
    assert_eq!(agreed["2025-04"], 30);
    assert!(!agreed.contains_key("2025-08"), "no extra users in August");
    let year: i64 = agreed.values().sum();
    let report = t
        .eligibility()
        .get_billing_report(bearer(
            id::GetBillingReportRequest {
                first_day: "2025-03-01".into(),
                last_day: "2026-02-28".into(),
                municipality_id: t.municipalities[0].clone(),
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(year, report.lines[0].extra_user_days);
    let september = t
        .list_all(pb::ListOrdersRequest {
            item_id: item.item_id.clone(),
            ..Default::default()
        })
        .await
        .into_iter()
        .filter(|o| o.billing_month == "2025-09" && o.state == S::Delivered as i32)
        .count();
    assert_eq!(september, 2, "September's order and its correction");

    // The months settled go on the invoicing basis like any delivered order.
    let delivered = t
        .list_all(pb::ListOrdersRequest {
            item_id: item.item_id.clone(),
            states: vec![S::Delivered as i32],
            ..Default::default()
        })
        .await
        .len() as i64;
    // A correction is delivered on the day it is made: it may fall after the year.
    let basis = t.invoicing_basis("2025-03-01", "2026-03-02").await;
    assert_eq!(basis, (year * 1_000, delivered));

    // Nobody orders extra users by hand, and only one item bills them.
    let leader = user_token(&t.identity, &t.admin, &t.leaders[0].0).await;
    let by_hand = t.place(&leader, &item, 3, vec![]).await.unwrap_err();
    assert_eq!(by_hand.code(), Code::FailedPrecondition);
    let second = t.create(extra_users()).await.unwrap_err();
    assert_eq!(second.code(), Code::AlreadyExists);
}

impl TestCatalogue {
    /// The first municipality's invoicing basis: its amount and order count.
    async fn invoicing_basis(&self, from: &str, through: &str) -> (i64, i64) {
        let totals =
            pb::invoicing_service_client::InvoicingServiceClient::new(self.catalogue.clone())
                .get_invoicing_basis(bearer(
                    pb::GetInvoicingBasisRequest {
                        delivered_from: from.into(),
                        delivered_through: through.into(),
                        page: None,
                    },
                    &self.admin,
                ))
                .await
                .unwrap()
                .into_inner()
                .totals;
        totals
            .iter()
            .find(|t| t.municipality_id == self.municipalities[0])
            .map_or((0, 0), |t| (t.amount_ore, t.order_count))
    }
}

/// The order of `month`'s extra users once it is open and linked to `registration` (the events of
/// earlier registrations may open it first, when identity already counts this one).
async fn eventually_open(
    t: &TestCatalogue,
    item: &pb::Item,
    month: &str,
    registration: &str,
) -> pb::Order {
    for _ in 0..300 {
        let orders = t
            .list_all(pb::ListOrdersRequest {
                item_id: item.item_id.clone(),
                ..Default::default()
            })
            .await;
        if let Some(open) = orders.into_iter().find(|o| {
            o.billing_month == month && o.registration_ids.iter().any(|r| r == registration)
        }) {
            return open;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no order of extra users for {month}");
}
