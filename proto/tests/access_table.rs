//! docs/api.md lists who may call every RPC, generated from the protos' access options: this test fails
//! when the table there is stale, and rewrites it with `KOMMUNE_WRITE_DOCS=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::path::PathBuf;

use kommune_proto::common::v1::AccessScope;
use kommune_proto::{METHOD_ACCESS, PUBLIC_METHODS};

const BEGIN: &str =
    "<!-- access table: generated from the protos by proto/tests/access_table.rs -->";
const END: &str = "<!-- end of access table -->";

/// How a role reads in the table.
fn role_name(role: &str) -> &'static str {
    match role {
        "ROLE_MUNICIPAL_CASEWORKER" => "caseworker",
        "ROLE_MUNICIPAL_PROJECT_LEADER" => "project leader",
        "ROLE_SUPPLIER_SECOND_LINE" => "second line",
        "ROLE_THIRD_LINE_SPECIALIST" => "third line",
        "ROLE_CONSORTIUM_ADMIN" => "consortium admin",
        "ROLE_SERVICE" => "service",
        other => panic!("a role the table does not name: {other}"),
    }
}

fn scope_name(scope: AccessScope) -> &'static str {
    match scope {
        AccessScope::Suite => "suite-wide roles only",
        AccessScope::Municipality => "own municipality",
        AccessScope::Shared => "shared",
        AccessScope::Person => "own (person)",
        AccessScope::Unspecified => panic!("the build refuses an unspecified scope"),
    }
}

/// The table: one row per RPC, grouped by package in path order.
fn table() -> String {
    let mut rows: Vec<(String, String)> = METHOD_ACCESS
        .iter()
        .map(|access| {
            let roles = if access.roles.is_empty() {
                "every signed-in caller".to_owned()
            } else {
                access
                    .roles
                    .iter()
                    .map(|r| role_name(r))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let row = format!(
                "| {roles} | {} | {} |",
                scope_name(access.scope),
                access.rule
            );
            (access.path.to_owned(), row)
        })
        .chain(
            PUBLIC_METHODS
                .iter()
                .map(|path| (path.to_string(), "| public: no token | – | |".to_owned())),
        )
        .collect();
    rows.sort();
    let mut out = String::new();
    let mut package = "";
    for (path, row) in &rows {
        let (service, method) = path.trim_start_matches('/').split_once('/').unwrap();
        let (this_package, service_name) = service.rsplit_once('.').unwrap();
        if this_package != package {
            package = this_package;
            out.push_str(&format!(
                "\n### `{package}`\n\n| RPC | roles | scope | rule |\n|---|---|---|---|\n"
            ));
        }
        out.push_str(&format!("| {service_name}.{method} {row}\n"));
    }
    out
}

#[test]
fn the_access_table_in_the_api_guide_is_generated_from_the_protos() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let start = doc
        .find(BEGIN)
        .expect("docs/api.md has the access table's begin marker")
        + BEGIN.len();
    let end = doc
        .find(END)
        .expect("docs/api.md has the access table's end marker");
    let expected = format!("{}\n", table());
    if doc[start..end] == expected {
        return;
    }
    if std::env::var_os("KOMMUNE_WRITE_DOCS").is_some() {
        std::fs::write(&path, format!("{}{expected}{}", &doc[..start], &doc[end..])).unwrap();
        return;
    }
    panic!(
        "the access table in docs/api.md is stale: run `KOMMUNE_WRITE_DOCS=1 cargo test -p kommune-proto --test access_table`"
    );
}
