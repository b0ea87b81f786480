//! Classifying one new report against the recent reports of its window (issue #5's target: 10,000).

use chrono::{DateTime, Duration, Utc};
use kommune_cases::domain::outage::{DetectionRule, Report, Symptom, classify};

fn main() {
    divan::main();
}

const SYMPTOMS: [&str; 8] = [
    "Kan ikke logge ind i KY",
    "Forkert beløb på udbetaling efter omregning",
    "Brevskabelon mangler logo og afsender",
    "Rapporten over debitorer er tom for marts",
    "Sagen kan ikke gemmes, fejl ved journalisering",
    "Borgerens adresse opdateres ikke fra CPR",
    "Udbetalingen er stoppet uden varsel",
    "Integration til e-Boks sender ikke breve",
];

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default()
}

/// `n` reports on one system in the last hour, cycling through different causes.
fn recent(n: usize) -> Vec<Report> {
    (0..n)
        .map(|i| Report {
            case_id: format!("case-{i}"),
            system_id: "ky".into(),
            reporter_user_id: format!("user-{}", i % 500),
            municipality_id: format!("municipality-{}", i % 98),
            filed_at: start() + Duration::milliseconds(i as i64 * 360),
            symptom: Symptom::of("KY", SYMPTOMS[i % SYMPTOMS.len()], &format!("sag {i}")),
            incident_id: None,
        })
        .collect()
}

const RULE: DetectionRule = DetectionRule {
    reports: 5,
    distinct_reporters: 3,
    window: Duration::hours(1),
};

#[divan::bench(args = [1_000, 10_000])]
fn classify_one_report(bencher: divan::Bencher, n: usize) {
    let recent = recent(n);
    let new = Report {
        case_id: "new".into(),
        system_id: "ky".into(),
        reporter_user_id: "user-new".into(),
        municipality_id: "municipality-0".into(),
        filed_at: start() + Duration::hours(1),
        symptom: Symptom::of("KY", "Vi kan ikke logge ind på KY", "siden kl. 9"),
        incident_id: None,
    };
    bencher.bench(|| {
        classify(
            divan::black_box(&new),
            false,
            &[],
            divan::black_box(&recent),
            &RULE,
        )
    });
}

/// What a filing does in the service: the recent reports' symptoms are computed from their texts, then
/// the new report is classified.
#[divan::bench(args = [1_000, 10_000])]
fn classify_one_report_from_texts(bencher: divan::Bencher, n: usize) {
    let recent = recent(n);
    let texts: Vec<(String, String)> = (0..n)
        .map(|i| (SYMPTOMS[i % SYMPTOMS.len()].to_owned(), format!("sag {i}")))
        .collect();
    let new = Report {
        case_id: "new".into(),
        system_id: "ky".into(),
        reporter_user_id: "user-new".into(),
        municipality_id: "municipality-0".into(),
        filed_at: start() + Duration::hours(1),
        symptom: Symptom::of("KY", "Vi kan ikke logge ind på KY", "siden kl. 9"),
        incident_id: None,
    };
    bencher.bench(|| {
        let reports: Vec<Report> = recent
            .iter()
            .zip(divan::black_box(&texts))
            .map(|(r, (title, description))| Report {
                case_id: r.case_id.clone(),
                system_id: r.system_id.clone(),
                reporter_user_id: r.reporter_user_id.clone(),
                municipality_id: r.municipality_id.clone(),
                filed_at: r.filed_at,
                symptom: Symptom::of("KY", title, description),
                incident_id: None,
            })
            .collect();
        classify(&new, false, &[], &reports, &RULE)
    });
}

#[divan::bench]
fn symptom_of_one_report() -> Symptom {
    Symptom::of(
        divan::black_box("KY"),
        divan::black_box("Kan ikke logge ind i KY"),
        divan::black_box("Ingen af os kan logge ind siden 9.15; fejlkode 503 på login-siden."),
    )
}
