use super::*;
use kommune_proto::catalogue::v1::OrderState as S;

fn question(key: &str, kind: QuestionKind, required: bool) -> Question {
    Question {
        key: key.into(),
        label_da: key.into(),
        label_en: String::new(),
        kind: Named(kind),
        required,
        choices: if kind == QuestionKind::Choice {
            vec!["lille".into(), "stor".into()]
        } else {
            vec![]
        },
    }
}

fn content(model: PriceModel, amount_ore: i64) -> ItemContent {
    ItemContent {
        name_da: "Udtræk".into(),
        name_en: String::new(),
        description_da: "Et udtræk af data".into(),
        description_en: String::new(),
        category: "Udtræk".into(),
        price: Price {
            model: Named(model),
            amount_ore,
            unit_da: if model == PriceModel::PerUnit {
                "bruger".into()
            } else {
                String::new()
            },
            unit_en: String::new(),
        },
        questions: vec![
            question("purpose", QuestionKind::Text, true),
            question("size", QuestionKind::Choice, true),
            question("by", QuestionKind::Date, false),
        ],
        delivery_working_days: 10,
        requires_approval: false,
        orderable_by: vec![],
        municipality_ids: vec![],
        extra_eligible_users: false,
    }
}

fn fields(violations: Vec<Violation>) -> Vec<String> {
    violations.into_iter().map(|(field, _)| field).collect()
}

#[test]
fn a_well_formed_item_has_no_violations() {
    assert!(content(PriceModel::Fixed, 50_000).violations().is_empty());
    assert!(content(PriceModel::Free, 0).violations().is_empty());
}

#[test]
fn prices_follow_their_model() {
    assert_eq!(
        fields(content(PriceModel::Free, 100).violations()),
        ["content.price.amount_ore"]
    );
    assert_eq!(
        fields(content(PriceModel::Fixed, 0).violations()),
        ["content.price.amount_ore"]
    );
    assert_eq!(
        fields(content(PriceModel::Fixed, -1).violations()),
        ["content.price.amount_ore"]
    );
    let mut per_unit = content(PriceModel::PerUnit, 100);
    per_unit.price.unit_da.clear();
    assert_eq!(fields(per_unit.violations()), ["content.price.unit_da"]);
}

#[test]
fn questions_need_distinct_keys_and_fitting_choices() {
    let mut item = content(PriceModel::Fixed, 100);
    item.questions
        .push(question("purpose", QuestionKind::Text, false));
    item.questions
        .push(question("Bad Key", QuestionKind::Text, false));
    let mut text_with_choices = question("note", QuestionKind::Text, false);
    text_with_choices.choices = vec!["a".into(), "b".into()];
    item.questions.push(text_with_choices);
    let mut one_choice = question("colour", QuestionKind::Choice, false);
    one_choice.choices.truncate(1);
    item.questions.push(one_choice);
    assert_eq!(
        fields(item.violations()),
        [
            "content.questions[3].key",
            "content.questions[4].key",
            "content.questions[5].choices",
            "content.questions[6].choices",
        ]
    );
}

#[test]
fn only_municipal_roles_order() {
    let mut item = content(PriceModel::Fixed, 100);
    item.orderable_by = vec![Named(Role::ConsortiumAdmin)];
    assert_eq!(fields(item.violations()), ["content.orderable_by"]);
}

#[test]
fn who_may_order_defaults_to_project_leaders_and_every_municipality() {
    let mut item = content(PriceModel::Fixed, 100);
    assert!(item.orderable_by("m1", &[Role::MunicipalProjectLeader]));
    assert!(!item.orderable_by("m1", &[Role::MunicipalCaseworker]));
    item.orderable_by = vec![Named(Role::MunicipalCaseworker)];
    item.municipality_ids = vec!["m2".into()];
    assert!(!item.orderable_by("m1", &[Role::MunicipalCaseworker]));
    assert!(item.orderable_by("m2", &[Role::MunicipalCaseworker]));
}

#[test]
fn amounts_by_model() {
    assert_eq!(content(PriceModel::Fixed, 500).amount(7), Some(500));
    assert_eq!(content(PriceModel::PerUnit, 500).amount(7), Some(3_500));
    assert_eq!(content(PriceModel::PerUnit, i64::MAX).amount(2), None);
    assert_eq!(content(PriceModel::HourlyEstimate, 95_000).amount(1), None);
    assert_eq!(content(PriceModel::Free, 0).amount(3), Some(0));
    assert_eq!(
        content(PriceModel::HourlyEstimate, 95_000).quoted_amount(7.5),
        712_500
    );
}

fn answer(key: &str, value: AnswerValue) -> Answer {
    Answer {
        key: key.into(),
        value,
    }
}

#[test]
fn answers_fit_their_questions() {
    let item = content(PriceModel::Fixed, 100);
    let good = [
        answer("purpose", AnswerValue::Text("Statistik".into())),
        answer("size", AnswerValue::Choice("stor".into())),
    ];
    assert!(answer_violations(&item.questions, &good).is_empty());

    let bad = [
        answer("purpose", AnswerValue::Number(3.0)),
        answer("size", AnswerValue::Choice("mellem".into())),
        answer("colour", AnswerValue::Text("blå".into())),
        answer("size", AnswerValue::Choice("stor".into())),
        answer("by", AnswerValue::Number(f64::NAN)),
    ];
    let found = answer_violations(&item.questions, &bad);
    assert_eq!(
        fields(found.clone()),
        [
            "answers[0]",
            "answers[1].choice",
            "answers[2].key",
            "answers[3].key",
            "answers[4]",
        ]
    );
    assert!(found[0].1.contains("text"), "{found:?}");

    let missing = answer_violations(&item.questions, &good[1..]);
    assert_eq!(fields(missing.clone()), ["answers"]);
    assert!(missing[0].1.contains("`purpose`"), "{missing:?}");
}

const BOTH: Needs = Needs {
    quote: true,
    approval: true,
};
const NEITHER: Needs = Needs {
    quote: false,
    approval: false,
};

#[test]
fn an_order_needing_a_quote_and_approval_takes_every_step() {
    let mut state = S::Submitted;
    for (step, next) in [
        (Step::Quote, S::Quoted),
        (Step::AcceptQuote, S::Accepted),
        (Step::Approve, S::Approved),
        (Step::StartDelivery, S::InDelivery),
        (Step::Deliver, S::Delivered),
        (Step::Invoice, S::Invoiced),
    ] {
        state = after(state, step, BOTH).unwrap();
        assert_eq!(state, next);
    }
}

#[test]
fn an_order_needing_nothing_goes_straight_to_delivery() {
    assert_eq!(
        after(S::Submitted, Step::StartDelivery, NEITHER),
        Ok(S::InDelivery)
    );
    let refused = after(S::Submitted, Step::Quote, NEITHER).unwrap_err();
    assert!(refused.contains("needs no quote"), "{refused}");
    let refused = after(S::Submitted, Step::Approve, NEITHER).unwrap_err();
    assert!(refused.contains("needs no approval"), "{refused}");
}

#[test]
fn steps_out_of_order_say_what_the_order_awaits() {
    let refused = after(S::Submitted, Step::StartDelivery, BOTH).unwrap_err();
    assert!(refused.contains("awaits the supplier's quote"), "{refused}");
    let refused = after(S::Quoted, Step::Approve, BOTH).unwrap_err();
    assert!(refused.contains("answer to the quote"), "{refused}");
    let refused = after(S::Accepted, Step::StartDelivery, BOTH).unwrap_err();
    assert!(refused.contains("consortium's approval"), "{refused}");
    assert!(after(S::Delivered, Step::Deliver, BOTH).is_err());
}

#[test]
fn rejection_and_cancellation_end_an_order_before_delivery_only() {
    for state in [S::Submitted, S::Quoted, S::Accepted, S::Approved] {
        assert_eq!(after(state, Step::Reject, BOTH), Ok(S::Rejected));
        assert_eq!(after(state, Step::Cancel, BOTH), Ok(S::Cancelled));
    }
    for state in [
        S::InDelivery,
        S::Delivered,
        S::Invoiced,
        S::Rejected,
        S::Cancelled,
    ] {
        assert!(after(state, Step::Reject, BOTH).is_err());
        assert!(after(state, Step::Cancel, BOTH).is_err());
    }
    assert_eq!(after(S::Quoted, Step::DeclineQuote, BOTH), Ok(S::Rejected));
}

#[test]
fn order_numbers_are_padded() {
    assert_eq!(order_number(12), "BEST-000012");
    assert_eq!(order_number(1_234_567), "BEST-1234567");
}

#[test]
fn extra_users_are_priced_per_user_day() {
    let mut item = content(PriceModel::Fixed, 100);
    item.extra_eligible_users = true;
    assert_eq!(fields(item.violations()), ["content.price.model"]);
    let mut item = content(PriceModel::PerUnit, 100);
    item.extra_eligible_users = true;
    assert!(item.violations().is_empty());
}

#[test]
fn months_and_corrections() {
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    assert_eq!(month_of(day(2024, 2, 29)), day(2024, 2, 1));
    assert_eq!(last_day(day(2024, 2, 1)), day(2024, 2, 29));
    assert_eq!(last_day(day(2025, 12, 1)), day(2025, 12, 31));
    let listed: Vec<_> = months(day(2025, 11, 20), day(2026, 2, 3)).collect();
    assert_eq!(
        listed,
        [day(2025, 11, 1), day(2025, 12, 1), day(2026, 1, 1)]
    );
    assert_eq!(months(day(2025, 3, 5), day(2025, 3, 30)).count(), 0);
    assert_eq!(correction(31, 28), 3);
    assert_eq!(correction(10, 14), -4, "a credit");
}

#[test]
fn an_anonymised_orderers_text_answers_are_erased_and_the_rest_kept() {
    let answers = vec![
        Answer {
            key: "purpose".into(),
            value: AnswerValue::Text("Til Anne Hansens sag".into()),
        },
        Answer {
            key: "count".into(),
            value: AnswerValue::Number(3.0),
        },
    ];
    let erased = erase_text_answers(&answers, "[erased]");
    assert_eq!(
        erased.as_deref().map(|a| a[0].value.clone()),
        Some(AnswerValue::Text("[erased]".into()))
    );
    assert_eq!(erased.as_ref().map(|a| &a[1]), Some(&answers[1]));
    // Twice changes nothing more; no text, nothing to do.
    assert_eq!(
        erase_text_answers(&erased.unwrap_or_default(), "[erased]"),
        None
    );
    assert_eq!(erase_text_answers(&answers[1..], "[erased]"), None);
}
