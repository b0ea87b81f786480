//! What people read, in a real browser: one suite, headless Chromium (Debian's, through chromedriver
//! and Selenium), every page checked by `browser/check_pages.py` for its text, its language, WCAG 2.1
//! AA (axe-core), English parts marked as English, the keyboard's skip link and reflow at 320 px, and
//! kept as screenshots under `target/screenshots/` for people to look at.

use serde_json::{Value, json};

use super::site::{login_fault, published_list, visit};
use super::*;

/// The repository's root.
fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Checks `pages` of `suite` in the browser; fails naming every check that did not pass.
async fn check_in_browser(suite: &Suite, pages: &Value) {
    let shots = root().join("target/screenshots");
    let checked = tokio::process::Command::new(door::python())
        .arg(root().join("tests/browser/check_pages.py"))
        .arg(format!("http://{}", suite.gateway_addr))
        .arg(&shots)
        .arg(root().join("target/tools/npm/node_modules/axe-core/axe.min.js"))
        .arg(pages.to_string())
        .output()
        .await
        .expect("Selenium, Chromium and axe-core: run .ci/test once, which installs them");
    let told = format!(
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(checked.status.success(), "{told}");
    // Every page passed all seven checks, besides its texts and each of its optional steps.
    let pages = pages.as_array().unwrap();
    let expected: usize = pages
        .iter()
        .map(|page| {
            let steps = ["follow", "form", "download", "live"]
                .iter()
                .filter(|step| !page[**step].is_null())
                .count();
            7 + page["expect"].as_array().map_or(0, Vec::len) + steps
        })
        .sum();
    assert_eq!(told.matches("ok: ").count(), expected, "{told}");
    for page in pages {
        let name = page["name"].as_str().unwrap();
        assert!(shots.join(format!("{name}.png")).is_file());
        assert!(shots.join(format!("{name}-narrow.png")).is_file());
    }
}

#[tokio::test]
async fn every_page_passes_in_a_real_browser() {
    let suite = Suite::start().await;
    let ky = suite.system("KY").await;
    suite.system("Portalen").await;
    let message = suite.publish_message(login_fault(&ky)).await;
    let page_of = format!("/driftsbeskeder/{}", message.operational_message_id);
    let letters = published_list(&suite).await;
    let aarhus = suite.municipality("751", "55133018").await;
    crate::orders::catalogue_items(&suite, &aarhus).await;
    check_in_browser(
        &suite,
        &json!([
            {"path": "/api", "name": "api", "expect": [
                "API-reference", "POST /kommune.cases.v1.CaseService/FileCase", "kommune.identity.v1.Municipality",
            ]},
            {"path": "/", "name": "status", "follow": ["English", "/en/"],
             "live": ["#status-nu", "Der er nedbrud"], "expect": [
                "Der er nedbrud",
                {"text": "Login fejler <b>i dag</b>", "in": "#aktuelle ~ article, section[aria-labelledby=aktuelle]"},
                {"text": "Brug den direkte adresse.", "in": ".workaround"},
                {"text": "Nedbrud", "in": "#systemer ~ .table"},
            ]},
            {"path": "/en/", "name": "status-en", "lang": "en", "follow": ["Dansk", "/"], "expect": [
                "There is an outage", "Login fails <b>today</b>", "Use the direct address.",
            ]},
            {"path": page_of, "name": "message", "expect": [
                "Login fejler <b>i dag</b>", "Offentliggjort", "Brug den direkte adresse.",
            ]},
            {"path": format!("/en{page_of}"), "name": "message-en", "lang": "en", "expect": [
                "Login fails <b>today</b>", "Published",
            ]},
            {"path": "/findes-ikke", "name": "not-found", "expect": ["Siden findes ikke"]},
            {"path": "/aendringsanmodninger", "name": "change-requests",
             "download": ["CSV", "aendringsanmodninger-udgave-2.csv"],
             "form": {"fields": {"tema": letters, "q": "kursiv"}, "expect": "Logo <i>kursiv</i> i brevhovedet"},
             "expect": ["Udgave 2 af", "61 ændringsanmodninger", "Debitorliste nummer 1", "Næste side"]},
            {"path": "/en/aendringsanmodninger/KOMBITKY-1", "name": "change-request-en", "lang": "en",
             "expect": ["KOMBITKY-1", "20 - Under assessment", "Description"]},
            {"path": "/udgivelser", "name": "releases", "expect": [
                "KY 2027.1", {"text": "Design (nu)", "in": "tr[aria-current=step]"},
            ]},
            {"path": "/servicekatalog", "name": "catalogue", "expect": [
                "Servicekatalog", {"text": "1.250,50 kr. pr. bruger", "in": "article dd"},
                {"text": "Dataudtræk", "in": "section[aria-labelledby=kategori-2] h3"},
            ]},
            {"path": "/en/servicekatalog", "name": "catalogue-en", "lang": "en", "expect": [
                "Service catalogue", "Extra support-eligible users", "DKK 950.00 per hour, by quote",
            ]},
        ]),
    )
    .await;

    // Resolved, the message moves to the history.
    suite.resolve_message(&message).await;
    assert!(
        visit(&suite, "/", &[])
            .await
            .body
            .contains("Alle systemer kører normalt")
    );
    check_in_browser(
        &suite,
        &json!([
            {"path": "/", "name": "status-resolved", "expect": [
                "Alle systemer kører normalt",
                {"text": "Login fejler <b>i dag</b>", "in": ".history"},
            ]},
            {"path": page_of, "name": "message-resolved", "expect": ["Fejlen er rettet.", "Løst"]},
        ]),
    )
    .await;
}
