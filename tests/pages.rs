//! What people read, in a real browser: one suite, one headless Chromium (Debian's, through
//! chromedriver and Selenium), every page checked by `browser/check_pages.py` for its text, WCAG 2.1 AA
//! (axe-core), English parts marked as English, the keyboard's skip link and reflow at 320 px, and kept
//! as screenshots under `target/screenshots/`.

use serde_json::json;

use super::*;

/// The repository's root.
fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[tokio::test]
async fn every_page_passes_in_a_real_browser() {
    let suite = Suite::start().await;
    let pages = json!([
        {"path": "/api", "name": "api", "expect": [
            "API-reference", "POST /kommune.cases.v1.CaseService/FileCase", "kommune.identity.v1.Municipality",
        ]},
    ]);
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
    // Every page passed all seven checks besides the text it must show.
    let texts: usize = pages
        .as_array()
        .unwrap()
        .iter()
        .map(|page| page["expect"].as_array().unwrap().len())
        .sum();
    let count = pages.as_array().unwrap().len();
    assert_eq!(told.matches("ok: ").count(), texts + 7 * count, "{told}");
    for page in pages.as_array().unwrap() {
        let name = page["name"].as_str().unwrap();
        assert!(shots.join(format!("{name}.png")).is_file());
        assert!(shots.join(format!("{name}-narrow.png")).is_file());
    }
}
