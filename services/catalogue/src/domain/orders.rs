//! An order's life: submitted → (quoted → accepted, where the price needs a quote) → (approved, where
//! the item asks the consortium) → in delivery → delivered → invoiced; rejected or cancelled with a
//! reason before delivery starts.

use kommune_proto::catalogue::v1::OrderState;

/// What an order of an item must go through before delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// A quote the municipality accepts (hourly prices).
    pub quote: bool,
    /// The consortium's approval.
    pub approval: bool,
}

/// A step an order takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The supplier quotes.
    Quote,
    /// The municipality accepts the quote.
    AcceptQuote,
    /// The municipality declines the quote.
    DeclineQuote,
    /// The consortium approves.
    Approve,
    /// The consortium or the supplier rejects.
    Reject,
    /// The supplier starts delivery.
    StartDelivery,
    /// The supplier has delivered.
    Deliver,
    /// The municipality cancels.
    Cancel,
    /// An invoicing run includes it.
    Invoice,
}

impl Step {
    /// What the step does, for refusals: "quoted", "approved".
    fn done(self) -> &'static str {
        match self {
            Step::Quote => "quoted",
            Step::AcceptQuote => "accepted",
            Step::DeclineQuote => "declined",
            Step::Approve => "approved",
            Step::Reject => "rejected",
            Step::StartDelivery => "put in delivery",
            Step::Deliver => "marked delivered",
            Step::Cancel => "cancelled",
            Step::Invoice => "invoiced",
        }
    }
}

/// The state an order in `state` enters by `step`, or why it cannot take it (what it awaits).
pub fn after(state: OrderState, step: Step, needs: Needs) -> Result<OrderState, String> {
    use OrderState as S;
    let ready_for_delivery = match state {
        S::Approved => true,
        S::Accepted => !needs.approval,
        S::Submitted => !needs.quote && !needs.approval,
        _ => false,
    };
    let awaiting_approval =
        needs.approval && (state == S::Accepted || (state == S::Submitted && !needs.quote));
    let before_delivery = matches!(state, S::Submitted | S::Quoted | S::Accepted | S::Approved);
    let next = match step {
        Step::Quote if needs.quote && state == S::Submitted => Some(S::Quoted),
        Step::AcceptQuote if state == S::Quoted => Some(S::Accepted),
        Step::DeclineQuote if state == S::Quoted => Some(S::Rejected),
        Step::Approve if awaiting_approval => Some(S::Approved),
        Step::Reject if before_delivery => Some(S::Rejected),
        Step::StartDelivery if ready_for_delivery => Some(S::InDelivery),
        Step::Deliver if state == S::InDelivery => Some(S::Delivered),
        Step::Cancel if before_delivery => Some(S::Cancelled),
        Step::Invoice if state == S::Delivered => Some(S::Invoiced),
        _ => None,
    };
    next.ok_or_else(|| {
        let why = match step {
            Step::Quote if !needs.quote => "its item's price needs no quote".to_owned(),
            Step::Approve if !needs.approval => "its item needs no approval".to_owned(),
            _ => awaits(state, needs),
        };
        format!("the order cannot be {} now: {why}", step.done())
    })
}

/// What an order in `state` awaits, in words.
fn awaits(state: OrderState, needs: Needs) -> String {
    use OrderState as S;
    match state {
        S::Submitted if needs.quote => "it awaits the supplier's quote",
        S::Submitted | S::Accepted if needs.approval => "it awaits the consortium's approval",
        S::Submitted | S::Accepted | S::Approved => "it awaits the start of delivery",
        S::Quoted => "it awaits the municipality's answer to the quote",
        S::InDelivery => "it is in delivery",
        S::Delivered => "it is delivered and awaits invoicing",
        S::Invoiced => "it is invoiced",
        S::Rejected => "it was rejected",
        S::Cancelled => "it was cancelled",
        S::Unspecified => "its state is unknown",
    }
    .to_owned()
}
