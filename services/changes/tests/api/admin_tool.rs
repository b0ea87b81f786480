//! The admin command-line tool against a running changes service: import, publish, export.

use super::imports::{Generated, ROWS};
use super::*;

/// Runs the tool with the admin's token.
async fn run(t: &TestChanges, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_kommune-changes-admin"))
        .arg("--endpoint")
        .arg(format!("http://{}", t.changes_addr))
        .env("KOMMUNE_TOKEN", &t.admin)
        .args(args)
        .output()
        .await
        .unwrap()
}

/// Runs the tool; its standard output, or a failed test with its error output.
async fn admin_tool(t: &TestChanges, args: &[&str]) -> String {
    let output = run(t, args).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn the_admin_tool_imports_publishes_and_exports() {
    let t = TestChanges::start().await;
    let dir = std::env::temp_dir().join(format!("kommune-admin-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("aendringsoensker.csv");
    std::fs::write(&source, Generated::new(40_001).csv()).unwrap();

    let imported = admin_tool(&t, &["import", source.to_str().unwrap()]).await;
    let good = ROWS - 8;
    assert!(
        imported.starts_with(&format!(
            "{ROWS} rows read: {good} imported, 0 already present, 8 rejected"
        )),
        "{imported}"
    );
    assert!(
        imported.contains("row 10 KOMBITKY-40009: Created: must be"),
        "{imported}"
    );

    let published = admin_tool(&t, &["publish", "--note", "November 2026"]).await;
    assert!(
        published.starts_with(&format!("publication 1 with {good} change requests")),
        "{published}"
    );

    let output = dir.join("liste.xlsx");
    admin_tool(&t, &["export", "--output", output.to_str().unwrap()]).await;
    use calamine::Reader;
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(&output).unwrap();
    let sheet = workbook.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(
        sheet.height(),
        good + 1,
        "a header and every change request"
    );
    assert!(!dir.join("liste.xlsx.partial").exists());

    // A file refused whole fails the command with the service's words.
    let picture = dir.join("billede.csv");
    std::fs::write(&picture, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    let refused = run(&t, &["import", picture.to_str().unwrap()]).await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("InvalidArgument: file: is neither CSV"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
