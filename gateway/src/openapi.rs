//! The OpenAPI 3.1 document of the door's JSON API, generated from the descriptor set when the gateway
//! starts: every unary RPC an operation (`POST /<package>.<Service>/<Method>`, and `GET` where it has no
//! side effects), every server stream a `POST` of Connect's streaming protocol (`application/connect+json`,
//! marked `x-connect-streaming`), every message a schema in the canonical proto3 JSON mapping, with the protos' own
//! comments as descriptions, enums with their value names, and bearer-JWT security except on public
//! RPCs. Nothing is written per RPC: a merged proto is in the document at the next start.

use std::collections::HashMap;

use prost_reflect::{
    DescriptorPool, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor, MethodDescriptor,
};
use serde_json::{Map, Value, json};

/// The schema every error answer has (the Connect protocol's error).
const ERROR_SCHEMA: &str = "connect.Error";

/// The document for `pool`, whose RPCs in `public` need no token, served from `server`.
pub fn document(pool: &DescriptorPool, public: &[&str], server: &str) -> Value {
    let comments = Comments::read(pool);
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for service in pool.services() {
        if !service.package_name().starts_with("kommune.") {
            continue;
        }
        for method in service.methods() {
            if method.is_client_streaming() {
                continue;
            }
            let path = format!("/{}/{}", service.full_name(), method.name());
            let is_public = public.contains(&path.as_str());
            let mut item = Map::new();
            let post = if method.is_server_streaming() {
                Call::Stream
            } else {
                Call::Post
            };
            item.insert(
                "post".into(),
                operation(&method, &comments, is_public, post),
            );
            if super::connect::has_no_side_effects(&method) {
                item.insert(
                    "get".into(),
                    operation(&method, &comments, is_public, Call::Get),
                );
            }
            paths.insert(path, Value::Object(item));
            for message in [method.input(), method.output()] {
                add_schemas(&message, &comments, &mut schemas);
            }
        }
    }
    for detail in [
        "google.rpc.BadRequest",
        "google.rpc.ErrorInfo",
        "google.rpc.RetryInfo",
    ] {
        if let Some(message) = pool.get_message_by_name(detail) {
            add_schemas(&message, &comments, &mut schemas);
        }
    }
    schemas.insert(ERROR_SCHEMA.into(), error_schema());
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "kommune",
            "version": "v1",
            "description": "Support, change requests and rollouts of the municipalities' shared IT systems, as \
                JSON over HTTP (the Connect protocol). Every RPC is also served over gRPC and gRPC-Web.\n\n\
                Support, ændringsønsker og udrulning af kommunernes fælles it-systemer, som JSON over HTTP.",
        },
        "servers": [{"url": server}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                           "description": "An access token from TokenService/ExchangeApiKey."},
            },
        },
        "security": [{"bearer": []}],
    })
}

/// How an operation calls its RPC.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Call {
    /// A unary call, the message as the body.
    Post,
    /// A unary call without side effects, the message in the query.
    Get,
    /// A server stream by Connect's streaming protocol.
    Stream,
}

/// One operation of an RPC: POST with the message as the body, GET with it in the query, or a stream.
fn operation(method: &MethodDescriptor, comments: &Comments, public: bool, call: Call) -> Value {
    let service = method.parent_service();
    let (content, answer) = if call == Call::Stream {
        (
            "application/connect+json",
            "A stream of envelopes (a flags byte, a 4-byte big-endian length, then the message in \
             JSON), one per message of this schema, ending with an end-stream envelope (flags 0x02) \
             holding `error` (a Connect error) if the stream failed and `metadata`. The request body is \
             one such envelope around the request message.",
        )
    } else {
        ("application/json", "The answer.")
    };
    let mut operation = json!({
        "operationId": format!("{}.{}{}", service.full_name(), method.name(), if call == Call::Get { ".get" } else { "" }),
        "tags": [service.full_name()],
        "summary": method.name(),
        "description": comments.of_method(method),
        "responses": {
            "200": {
                "description": answer,
                "content": {content: {"schema": reference(&method.output())}},
            },
            "default": {
                "description": "A refusal or failure, as a Connect error.",
                "content": {"application/json": {"schema": {"$ref": format!("{SCHEMA_REF}{ERROR_SCHEMA}")}}},
            },
        },
    });
    if call == Call::Stream {
        operation["x-connect-streaming"] = json!("server");
    }
    if call == Call::Get {
        operation["parameters"] = json!([
            {"name": "encoding", "in": "query", "required": true,
             "schema": {"type": "string", "const": "json"}},
            {"name": "message", "in": "query", "required": true,
             "description": format!("The {} as JSON, URL-encoded.", method.input().full_name()),
             "schema": {"type": "string"}},
        ]);
    } else {
        operation["requestBody"] = json!({
            "required": true,
            "content": {content: {"schema": reference(&method.input())}},
        });
    }
    if public {
        operation["security"] = json!([]);
    }
    operation
}

/// Adds the schema of `message` and of every message its fields name.
fn add_schemas(message: &MessageDescriptor, comments: &Comments, schemas: &mut Map<String, Value>) {
    if schemas.contains_key(message.full_name()) || well_known(message).is_some() {
        return;
    }
    let mut properties = Map::new();
    schemas.insert(message.full_name().to_owned(), Value::Null);
    for field in message.fields() {
        let mut schema = field_schema(&field);
        if let Some(description) = comments.of(&field.parent_file(), field.path()) {
            schema["description"] = Value::String(description);
        }
        properties.insert(field.json_name().to_owned(), schema);
        let value_kind = if field.is_map() {
            match field.kind() {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other,
            }
        } else {
            field.kind()
        };
        if let Kind::Message(nested) = value_kind {
            add_schemas(&nested, comments, schemas);
        }
    }
    let mut schema = json!({"type": "object", "properties": properties});
    if let Some(description) = comments.of(&message.parent_file(), message.path()) {
        schema["description"] = Value::String(description);
    }
    schemas.insert(message.full_name().to_owned(), schema);
}

/// A field's schema: a list, a map or one value.
fn field_schema(field: &FieldDescriptor) -> Value {
    if field.is_map() {
        let value = match field.kind() {
            Kind::Message(entry) => kind_schema(&entry.map_entry_value_field().kind()),
            other => kind_schema(&other),
        };
        json!({"type": "object", "additionalProperties": value})
    } else if field.is_list() {
        json!({"type": "array", "items": kind_schema(&field.kind())})
    } else {
        kind_schema(&field.kind())
    }
}

/// The JSON schema of one value of a kind, as the canonical JSON mapping writes it.
fn kind_schema(kind: &Kind) -> Value {
    match kind {
        Kind::Double | Kind::Float => json!({"type": "number"}),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            json!({"type": "integer", "format": "int32"})
        }
        Kind::Uint32 | Kind::Fixed32 => json!({"type": "integer", "minimum": 0}),
        // 64-bit integers are written as strings (JSON numbers lose precision); numbers are read too.
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => {
            json!({"type": ["string", "integer"], "format": "int64"})
        }
        Kind::Bool => json!({"type": "boolean"}),
        Kind::String => json!({"type": "string"}),
        Kind::Bytes => json!({"type": "string", "contentEncoding": "base64"}),
        Kind::Enum(values) => {
            let names: Vec<String> = values.values().map(|v| v.name().to_owned()).collect();
            json!({"type": "string", "enum": names})
        }
        Kind::Message(message) => well_known(message).unwrap_or_else(|| reference(message)),
    }
}

/// The JSON schema of a well-known type, which the JSON mapping writes in its own way.
fn well_known(message: &MessageDescriptor) -> Option<Value> {
    Some(match message.full_name() {
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Duration" => {
            json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"})
        }
        "google.protobuf.FieldMask" => json!({"type": "string"}),
        "google.protobuf.Empty" => json!({"type": "object"}),
        "google.protobuf.Struct" => json!({"type": "object"}),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.Any" => {
            json!({"type": "object", "properties": {"@type": {"type": "string"}}, "required": ["@type"]})
        }
        "google.protobuf.StringValue" => json!({"type": "string"}),
        "google.protobuf.BoolValue" => json!({"type": "boolean"}),
        "google.protobuf.Int32Value" => json!({"type": "integer"}),
        "google.protobuf.Int64Value" => json!({"type": ["string", "integer"]}),
        _ => return None,
    })
}

fn reference(message: &MessageDescriptor) -> Value {
    json!({"$ref": format!("{SCHEMA_REF}{}", message.full_name())})
}

/// Where a reference to another message's schema points in the document.
pub(crate) const SCHEMA_REF: &str = "#/components/schemas/";

/// The standalone JSON Schema (2020-12) of message `name`, made from the document's `schemas`: the
/// message's schema with every schema it reaches under `$defs`, its references pointing there. `None`
/// when the document has no such message.
pub fn json_schema(schemas: &Map<String, Value>, name: &str, id: &str) -> Option<Value> {
    let mut definitions = Map::new();
    let mut pending = vec![name.to_owned()];
    while let Some(next) = pending.pop() {
        if definitions.contains_key(&next) {
            continue;
        }
        let mut schema = schemas.get(&next)?.clone();
        repoint(&mut schema, &mut pending);
        definitions.insert(next, schema);
    }
    Some(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": id,
        "$ref": format!("#/$defs/{name}"),
        "$defs": definitions,
    }))
}

/// Points every reference in `schema` into `$defs`, adding the names it references to `found`.
fn repoint(schema: &mut Value, found: &mut Vec<String>) {
    match schema {
        Value::Object(fields) => {
            for (key, value) in fields.iter_mut() {
                match (key.as_str(), value.as_str()) {
                    ("$ref", Some(target)) => {
                        let name = target.trim_start_matches(SCHEMA_REF).to_owned();
                        *value = Value::String(format!("#/$defs/{name}"));
                        found.push(name);
                    }
                    _ => repoint(value, found),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| repoint(item, found)),
        _ => {}
    }
}

/// The Connect protocol's error.
fn error_schema() -> Value {
    json!({
        "type": "object",
        "description": "A Connect error: its code, a message for people, and rich details.",
        "required": ["code"],
        "properties": {
            "code": {"type": "string", "enum": [
                "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found",
                "already_exists", "permission_denied", "resource_exhausted", "failed_precondition",
                "aborted", "out_of_range", "unimplemented", "internal", "unavailable", "data_loss",
                "unauthenticated"]},
            "message": {"type": "string"},
            "details": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "type": {"type": "string", "description": "The detail's message type, e.g. google.rpc.BadRequest."},
                    "value": {"type": "string", "contentEncoding": "base64"},
                    "debug": {"type": "object", "description": "The detail's fields, decoded."},
                },
            }},
        },
    })
}

/// The comments of the protos, by file and source path.
struct Comments(HashMap<(String, Vec<i32>), String>);

impl Comments {
    /// Every leading comment of the pool's files.
    fn read(pool: &DescriptorPool) -> Self {
        let mut comments = HashMap::new();
        for file in pool.files() {
            let Some(info) = &file.file_descriptor_proto().source_code_info else {
                continue;
            };
            for location in &info.location {
                if let Some(text) = location.leading_comments.as_deref() {
                    let text = text.trim();
                    if !text.is_empty() {
                        comments.insert(
                            (file.name().to_owned(), location.path.clone()),
                            text.replace('\n', " ").replace("  ", " "),
                        );
                    }
                }
            }
        }
        Self(comments)
    }

    /// The comment at `path` in `file`.
    fn of(&self, file: &FileDescriptor, path: &[i32]) -> Option<String> {
        self.0
            .get(&(file.name().to_owned(), path.to_vec()))
            .cloned()
    }

    fn of_method(&self, method: &MethodDescriptor) -> String {
        self.of(&method.parent_file(), method.path())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_schema_holds_its_message_and_every_message_it_reaches() {
        let schemas = json!({
            "a.Case": {"type": "object", "properties": {
                "notes": {"type": "array", "items": {"$ref": "#/components/schemas/a.Note"}},
                "state": {"type": "string", "enum": ["OPEN"]},
            }},
            "a.Note": {"type": "object", "properties": {"by": {"$ref": "#/components/schemas/a.User"},
                                                         "case": {"$ref": "#/components/schemas/a.Case"}}},
            "a.User": {"type": "object"},
            "a.Unrelated": {"type": "object"},
        });
        let schema = json_schema(
            schemas.as_object().unwrap(),
            "a.Case",
            "https://x/schemas/a.Case.json",
        )
        .unwrap();
        assert_eq!(schema["$ref"], "#/$defs/a.Case");
        assert_eq!(schema["$id"], "https://x/schemas/a.Case.json");
        let defined: Vec<&String> = schema["$defs"].as_object().unwrap().keys().collect();
        assert_eq!(defined, ["a.Case", "a.Note", "a.User"]);
        assert_eq!(
            schema["$defs"]["a.Case"]["properties"]["notes"]["items"]["$ref"],
            "#/$defs/a.Note"
        );
        assert_eq!(
            schema["$defs"]["a.Note"]["properties"]["case"]["$ref"],
            "#/$defs/a.Case"
        );
        assert!(json_schema(schemas.as_object().unwrap(), "a.Nothing", "x").is_none());
    }
}
