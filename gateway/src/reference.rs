//! The API reference page (`GET /api`): the OpenAPI document made readable, in Danish with English
//! beside it, server-rendered with no script, rendered once when the gateway starts.

use serde::Serialize;
use serde_json::Value;

/// The page's template.
const TEMPLATE: &str = include_str!("../templates/api.html");

#[derive(Serialize)]
struct Service {
    name: String,
    operations: Vec<Operation>,
}

#[derive(Serialize)]
struct Operation {
    verbs: &'static str,
    path: String,
    description: String,
    input: String,
    input_short: String,
    output: String,
    output_short: String,
    public: bool,
}

#[derive(Serialize)]
struct Schema {
    name: String,
    description: String,
    fields: Vec<Field>,
}

#[derive(Serialize)]
struct Field {
    name: String,
    kind: String,
    link: Option<String>,
    description: String,
}

/// The page of `document` (an OpenAPI document as [`crate::openapi::document`] makes it).
pub fn page(document: &Value) -> Result<String, minijinja::Error> {
    let mut services: Vec<Service> = Vec::new();
    let paths = document["paths"].as_object().cloned().unwrap_or_default();
    for (path, item) in paths {
        let post = &item["post"];
        let tag = post["tags"][0].as_str().unwrap_or_default().to_owned();
        // The one content type a body or answer has: JSON, or Connect's stream of JSON.
        let schema_of = |at: &Value| {
            at["content"]
                .as_object()
                .and_then(|content| content.values().next())
                .and_then(|media| media["schema"]["$ref"].as_str())
                .map(schema_name)
                .unwrap_or_default()
        };
        let (input, output) = (
            schema_of(&post["requestBody"]),
            schema_of(&post["responses"]["200"]),
        );
        let operation = Operation {
            verbs: if item["get"].is_object() {
                "GET, POST"
            } else if post["x-connect-streaming"].is_string() {
                "POST (stream)"
            } else {
                "POST"
            },
            path,
            description: post["description"].as_str().unwrap_or_default().to_owned(),
            input_short: short(&input),
            input,
            output_short: short(&output),
            output,
            public: post["security"].as_array().is_some_and(Vec::is_empty),
        };
        match services.iter_mut().find(|s| s.name == tag) {
            Some(service) => service.operations.push(operation),
            None => services.push(Service {
                name: tag,
                operations: vec![operation],
            }),
        }
    }
    services.sort_by(|a, b| a.name.cmp(&b.name));
    let mut schemas: Vec<Schema> = document["components"]["schemas"]
        .as_object()
        .map(|schemas| {
            schemas
                .iter()
                .map(|(name, schema)| Schema {
                    name: name.clone(),
                    description: text(&schema["description"]),
                    fields: schema["properties"]
                        .as_object()
                        .map(|fields| {
                            fields
                                .iter()
                                .map(|(name, field)| {
                                    let (kind, link) = kind(field);
                                    Field {
                                        name: name.clone(),
                                        kind,
                                        link,
                                        description: text(&field["description"]),
                                    }
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    schemas.sort_by(|a, b| a.name.cmp(&b.name));
    let mut environment = minijinja::Environment::new();
    environment.add_template("api.html", TEMPLATE)?;
    environment
        .get_template("api.html")?
        .render(minijinja::context! { services, schemas })
}

/// What a field holds, and the message it links to.
fn kind(field: &Value) -> (String, Option<String>) {
    if let Some(reference) = field["$ref"].as_str() {
        let name = schema_name(reference);
        return (short(&name), Some(name));
    }
    if let Some(values) = field["enum"].as_array() {
        let names: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
        return (format!("enum: {}", names.join(", ")), None);
    }
    match field["type"].as_str() {
        Some("array") => {
            let (item, link) = kind(&field["items"]);
            (format!("liste af · list of {item}"), link)
        }
        Some("object") if field["additionalProperties"].is_object() => {
            let (value, link) = kind(&field["additionalProperties"]);
            (format!("map → {value}"), link)
        }
        Some(kind) => (
            field["format"]
                .as_str()
                .map_or_else(|| kind.to_owned(), |format| format!("{kind} ({format})")),
            None,
        ),
        // A 64-bit integer: a string or a number.
        None if field["format"] == "int64" => ("int64 (string)".to_owned(), None),
        None => ("JSON".to_owned(), None),
    }
}

fn schema_name(reference: &str) -> String {
    reference
        .trim_start_matches(crate::openapi::SCHEMA_REF)
        .to_owned()
}

fn short(name: &str) -> String {
    name.rsplit('.').next().unwrap_or(name).to_owned()
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}
