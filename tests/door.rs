//! The one door for every client: Connect's JSON over HTTP/1.1 from an ordinary HTTP client, gRPC-Web
//! from a gRPC-Web client, and CORS for browsers, through the real gateway to the real services.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tonic_types::StatusExt;

use super::*;

/// An HTTP/1.1 client of the gateway, as curl is; it keeps every answer to an RPC, to check them all
/// against the OpenAPI document.
struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    answers: std::sync::Mutex<Vec<(String, Answer)>>,
}

/// What came back: status, headers and the JSON body.
#[derive(Debug, Clone)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

impl Answer {
    /// The `debug` form of the error's detail of `type_name` (`google.rpc.BadRequest`).
    fn detail(&self, type_name: &str) -> Value {
        self.json["details"]
            .as_array()
            .and_then(|details| details.iter().find(|d| d["type"] == type_name))
            .map(|d| d["debug"].clone())
            .unwrap_or_else(|| panic!("no {type_name} in {}", self.json))
    }

    /// The fields a `BadRequest` names.
    fn fields(&self) -> Vec<String> {
        self.detail("google.rpc.BadRequest")["fieldViolations"]
            .as_array()
            .map(|v| {
                v.iter()
                    .map(|f| f["field"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Http {
    fn to(suite: &Suite) -> Self {
        Self::at(suite.gateway_addr)
    }

    fn at(addr: std::net::SocketAddr) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://{addr}"),
            answers: Default::default(),
        }
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> Answer {
        let response = self.client.request(request).await.unwrap();
        assert_eq!(response.version(), Version::HTTP_11);
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "every answer, errors too, is JSON"
        );
        let (head, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)));
        Answer {
            status: head.status,
            headers: head.headers,
            json,
        }
    }

    /// POSTs `body` as JSON to the RPC `rpc` (`kommune.identity.v1.TokenService/GetCaller`).
    async fn post(&self, rpc: &str, token: Option<&str>, body: impl Into<Bytes>) -> Answer {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}/{rpc}", self.base))
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let answer = self
            .send(request.body(Full::new(body.into())).unwrap())
            .await;
        self.keep(rpc, &answer);
        answer
    }

    fn keep(&self, rpc: &str, answer: &Answer) {
        self.answers
            .lock()
            .unwrap()
            .push((rpc.to_owned(), answer.clone()));
    }

    /// Checks every answer this client received against the OpenAPI document: the RPC's output
    /// message when it succeeded, the Connect error otherwise.
    async fn check_answers(&self) {
        let request = Request::builder()
            .uri(format!("{}/openapi.json", self.base))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let document = self.send(request).await.json;
        let answers = std::mem::take(&mut *self.answers.lock().unwrap());
        assert!(!answers.is_empty());
        let named: Vec<(String, Value)> = answers
            .into_iter()
            .map(|(rpc, answer)| {
                let schema = if answer.status.is_success() {
                    let path = format!("/{rpc}");
                    document["paths"][path.as_str()]["post"]["responses"]["200"]["content"]
                        ["application/json"]["schema"]["$ref"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{rpc} is not in the document"))
                        .trim_start_matches("#/components/schemas/")
                        .to_owned()
                } else {
                    "connect.Error".to_owned()
                };
                (schema, answer.json)
            })
            .collect();
        let named: Vec<(&str, &Value)> = named.iter().map(|(s, v)| (s.as_str(), v)).collect();
        let failures = validate(&document, &named);
        assert!(failures.is_empty(), "{failures}");
    }

    /// GETs the RPC `rpc` with `message` as its JSON.
    /// Calls the server-stream RPC `rpc` by Connect's streaming protocol in JSON; its envelopes,
    /// each flag byte with its JSON.
    async fn stream(&self, rpc: &str, token: Option<&str>, message: &Value) -> Vec<(u8, Value)> {
        let message = message.to_string();
        let mut envelope = vec![0];
        envelope.extend((message.len() as u32).to_be_bytes());
        envelope.extend(message.as_bytes());
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}/{rpc}", self.base))
            .header("content-type", "application/connect+json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Full::new(Bytes::from(envelope))).unwrap();
        let response = self.client.request(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "application/connect+json"
        );
        envelopes(&response.into_body().collect().await.unwrap().to_bytes())
    }

    async fn get(&self, rpc: &str, token: &str, message: &Value) -> Answer {
        let query: String = url_encode(&message.to_string());
        let request = Request::builder()
            .method(Method::GET)
            .uri(format!("{}/{rpc}?encoding=json&message={query}", self.base))
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let answer = self.send(request).await;
        self.keep(rpc, &answer);
        answer
    }
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn the_first_call_works_in_json_over_http_1_1() {
    // Traced, so answers carry their trace id.
    let _telemetry = kommune_platform::telemetry::init("suite-test", &Default::default()).unwrap();
    let suite = Suite::start().await;
    let http = Http::to(&suite);
    let exchanged = http
        .post(
            "kommune.identity.v1.TokenService/ExchangeApiKey",
            None,
            json!({"api_key": ADMIN_KEY}).to_string(),
        )
        .await;
    assert_eq!(exchanged.status, StatusCode::OK, "{:?}", exchanged.json);
    let token = exchanged.json["accessToken"].as_str().unwrap().to_owned();

    let caller = http
        .post(
            "kommune.identity.v1.TokenService/GetCaller",
            Some(&token),
            "{}",
        )
        .await;
    assert_eq!(caller.status, StatusCode::OK);
    assert_eq!(caller.json["roles"], json!(["ROLE_CONSORTIUM_ADMIN"]));
    assert!(caller.headers.contains_key("x-trace-id"));

    let created = http
        .post(
            "kommune.identity.v1.MunicipalityService/CreateMunicipality",
            Some(&token),
            json!({"code": "101", "name": "Københavns Kommune", "cvr_number": "64942212",
                   "debtor_system": "DEBTOR_SYSTEM_KMD_OPUS"})
            .to_string(),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.json);
    assert_eq!(created.json["municipality"]["name"], "Københavns Kommune");
    assert_eq!(
        created.json["municipality"]["debtorSystem"],
        "DEBTOR_SYSTEM_KMD_OPUS"
    );
    http.check_answers().await;
}

#[tokio::test]
async fn a_municipality_is_created_read_listed_and_updated_in_json() {
    // Traced, so answers carry their trace id.
    let _telemetry = kommune_platform::telemetry::init("suite-test", &Default::default()).unwrap();
    let suite = Suite::start().await;
    let http = Http::to(&suite);
    let token = &suite.admin_token;
    let create = json!({"code": "751", "name": "Aarhus Kommune", "cvr_number": "55133018",
                        "idempotency_key": "json-create-1"})
    .to_string();
    let rpc = |method: &str| format!("kommune.identity.v1.MunicipalityService/{method}");
    let first = http
        .post(&rpc("CreateMunicipality"), Some(token), create.clone())
        .await;
    let again = http
        .post(&rpc("CreateMunicipality"), Some(token), create)
        .await;
    let id = first.json["municipality"]["municipalityId"].clone();
    assert_eq!(first.status, StatusCode::OK, "{}", first.json);
    assert_eq!(
        again.json["municipality"]["municipalityId"], id,
        "a replay creates nothing"
    );

    let read = http
        .get(
            &rpc("GetMunicipality"),
            token,
            &json!({"municipality_id": id}),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.json);
    assert_eq!(read.json["municipality"]["code"], "751");
    let listed = http
        .post(&rpc("ListMunicipalities"), Some(token), "{}")
        .await;
    assert_eq!(
        listed.json["municipalities"].as_array().map(Vec::len),
        Some(1)
    );

    let rename = |version: i64| {
        json!({"municipality_id": id, "expected_version": version, "name": "Aarhus"}).to_string()
    };
    let renamed = http
        .post(&rpc("UpdateMunicipality"), Some(token), rename(1))
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.json);
    assert_eq!(renamed.json["municipality"]["name"], "Aarhus");
    let stale = http
        .post(&rpc("UpdateMunicipality"), Some(token), rename(1))
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.json);
    assert_eq!(stale.json["code"], "aborted");
    assert_eq!(
        stale.detail("google.rpc.ErrorInfo")["reason"],
        "STALE_VERSION"
    );
    assert!(stale.headers.contains_key("x-trace-id"));
    http.check_answers().await;
}

#[tokio::test]
async fn bad_json_calls_are_refused_precisely_and_write_nothing() {
    // Traced, so answers carry their trace id.
    let _telemetry = kommune_platform::telemetry::init("suite-test", &Default::default()).unwrap();
    let suite = Suite::start().await;
    let http = Http::to(&suite);
    let token = suite.admin_token.clone();
    let create = "kommune.identity.v1.MunicipalityService/CreateMunicipality";

    let malformed = http.post(create, Some(&token), "{\"code\": ").await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.json["code"], "invalid_argument");

    let unknown_field = http
        .post(
            create,
            Some(&token),
            json!({"code": "101", "colour": "red"}).to_string(),
        )
        .await;
    assert_eq!(unknown_field.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown_field.fields(), ["colour"], "{}", unknown_field.json);

    let wrong_type = http
        .post(create, Some(&token), json!({"code": 101}).to_string())
        .await;
    assert_eq!(wrong_type.fields(), ["code"]);

    let unknown_enum = http
        .post(
            create,
            Some(&token),
            json!({"code": "101", "debtor_system": "DEBTOR_SYSTEM_ABACUS"}).to_string(),
        )
        .await;
    assert_eq!(unknown_enum.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown_enum.fields(), ["debtor_system"]);

    let no_rpc = http
        .post(
            "kommune.identity.v1.MunicipalityService/Frobnicate",
            Some(&token),
            "{}",
        )
        .await;
    assert_eq!(no_rpc.status, StatusCode::NOT_FOUND);
    assert_eq!(
        no_rpc.detail("google.rpc.ErrorInfo")["reason"],
        "UNKNOWN_METHOD"
    );

    let get_with_side_effects = http.get(create, &token, &json!({"code": "101"})).await;
    assert_eq!(get_with_side_effects.status, StatusCode::BAD_REQUEST);
    assert_eq!(get_with_side_effects.fields(), ["method"]);

    let anonymous = http
        .post("kommune.identity.v1.TokenService/GetCaller", None, "{}")
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.json["code"], "unauthenticated");

    // The service's own refusal, with every field it names.
    let invalid = http
        .post(create, Some(&token), json!({"code": "1"}).to_string())
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert!(
        invalid.fields().contains(&"cvr_number".to_owned()),
        "{}",
        invalid.json
    );
    assert!(invalid.headers.contains_key("x-trace-id"));

    // Nothing reached identity: no municipality was made.
    let listed = http
        .post(
            "kommune.identity.v1.MunicipalityService/ListMunicipalities",
            Some(&token),
            "{}",
        )
        .await;
    assert!(listed.json["municipalities"].is_null(), "{}", listed.json);
    http.check_answers().await;
}

#[tokio::test]
async fn a_grpc_web_client_calls_through_the_door() {
    let _telemetry = kommune_platform::telemetry::init("suite-test", &Default::default()).unwrap();
    let suite = Suite::start().await;
    let http1 = Client::builder(TokioExecutor::new()).build_http();
    let web = tower::ServiceBuilder::new()
        .layer(tonic_web::GrpcWebClientLayer::new())
        .service(http1);
    let origin = format!("http://{}", suite.gateway_addr).parse().unwrap();
    let mut tokens = pb::token_service_client::TokenServiceClient::with_origin(web, origin);

    let caller = tokens
        .get_caller(bearer(pb::GetCallerRequest {}, &suite.admin_token))
        .await
        .unwrap();
    assert!(caller.metadata().contains_key("x-trace-id"));
    assert_eq!(
        caller.into_inner().roles,
        [pb::Role::ConsortiumAdmin as i32]
    );
    let refused = tokens
        .get_caller(pb::GetCallerRequest {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn browsers_of_configured_origins_alone_may_call() {
    let suite = Suite::start().await;
    let http = Http::to(&suite);
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri(format!(
                "{}/kommune.identity.v1.TokenService/GetCaller",
                http.base
            ))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let allowed = http
        .client
        .request(preflight(BROWSER_ORIGIN))
        .await
        .unwrap();
    assert!(allowed.status().is_success());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        BROWSER_ORIGIN
    );
    let methods = allowed.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("POST"), "{methods}");
    let other = http
        .client
        .request(preflight("https://evil.example"))
        .await
        .unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));

    // The call itself tells the browser it may read the answer, and which headers.
    let call = Request::builder()
        .method(Method::POST)
        .uri(format!(
            "{}/kommune.identity.v1.TokenService/GetCaller",
            http.base
        ))
        .header("origin", BROWSER_ORIGIN)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", suite.admin_token))
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let answer = http.client.request(call).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        answer.headers()["access-control-allow-origin"],
        BROWSER_ORIGIN
    );
    let exposed = answer.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(exposed.contains("x-trace-id"), "{exposed}");
}

#[tokio::test]
async fn load_balancers_probe_health_over_plain_http() {
    let mut suite = Suite::start().await;
    let http = Http::to(&suite);
    let probe = |path: &'static str| {
        let request = Request::builder()
            .uri(format!("{}{path}", http.base))
            .body(Full::new(Bytes::new()))
            .unwrap();
        http.send(request)
    };
    assert_eq!(probe("/healthz").await.status, StatusCode::OK);
    eventually(
        "the gateway never found every service serving",
        async || (probe("/readyz").await.status == StatusCode::OK).then_some(()),
    )
    .await;

    suite.stop_identity().await;
    let not_ready = eventually("the gateway never saw identity stop", async || {
        let answer = probe("/readyz").await;
        (answer.status == StatusCode::SERVICE_UNAVAILABLE).then_some(answer)
    })
    .await;
    assert_eq!(not_ready.json["notServing"], json!(["kommune.identity.v1"]));
    assert_eq!(probe("/healthz").await.status, StatusCode::OK);
}

/// An independent client from another ecosystem: Python's `connectrpc`, with code generated from the
/// protos by buf and the package's own plugins, passes a scenario through the door (binary protobuf
/// with gzip-compressed requests, as it sends by default, and JSON; GET; errors with details; a
/// server stream).
#[tokio::test]
async fn an_independent_python_connect_client_passes_a_scenario() {
    let suite = Suite::start().await;
    let tools = python().parent().unwrap().to_owned();
    let generated = std::env::temp_dir().join(format!("kommune-connect-{}", uuid::Uuid::new_v4()));
    let template = json!({"version": "v2", "plugins": [
        {"local": tools.join("protoc-gen-py"), "out": generated},
        {"local": tools.join("protoc-gen-connectrpc"), "out": generated},
    ]});
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let generate = tokio::process::Command::new(tools.join("buf"))
        .args(["generate", "--template", &template.to_string()])
        .current_dir(root.join("proto"))
        .output()
        .await
        .expect("buf and the connectrpc plugins: run .ci/test once, which installs them");
    assert!(
        generate.status.success(),
        "{}",
        String::from_utf8_lossy(&generate.stderr)
    );
    let scenario = tokio::process::Command::new(python())
        .arg(root.join("tests/connect_client.py"))
        .arg(format!("http://{}", suite.gateway_addr))
        .arg(ADMIN_KEY)
        .env("PYTHONPATH", &generated)
        .output()
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&generated);
    let told = format!(
        "{}{}",
        String::from_utf8_lossy(&scenario.stdout),
        String::from_utf8_lossy(&scenario.stderr)
    );
    assert!(scenario.status.success(), "{told}");
    assert_eq!(told.matches("ok: ").count(), 13, "{told}");
}

/// The Python of `.ci/test`'s tools (openapi-spec-validator, connectrpc, Selenium): `KOMMUNE_TEST_PYTHON`,
/// else its venv.
pub(crate) fn python() -> std::path::PathBuf {
    std::env::var_os("KOMMUNE_TEST_PYTHON").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tools/venv/bin/python"),
        std::path::PathBuf::from,
    )
}

/// Validates the document as OpenAPI 3.1 and each `(schema, answer)` against its schema, with the
/// reference validators (openapi-spec-validator, jsonschema); the failures, if any.
fn validate(document: &Value, answers: &[(&str, &Value)]) -> String {
    const SCRIPT: &str = r##"
import json, sys
from openapi_spec_validator import validate
from jsonschema import Draft202012Validator
document = json.load(open(sys.argv[1]))
validate(document)
for name, answer in json.load(open(sys.argv[2])):
    schema = {"$ref": "#/components/schemas/" + name, "components": document["components"]}
    for error in Draft202012Validator(schema).iter_errors(answer):
        print(name, error.message)
"##;
    let dir = std::env::temp_dir().join(format!("kommune-openapi-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("openapi.json"), document.to_string()).unwrap();
    std::fs::write(dir.join("answers.json"), json!(answers).to_string()).unwrap();
    let output = std::process::Command::new(python())
        .args(["-c", SCRIPT])
        .arg(dir.join("openapi.json"))
        .arg(dir.join("answers.json"))
        .output()
        .expect("a Python with openapi-spec-validator: run .ci/test once, which installs it");
    let _ = std::fs::remove_dir_all(&dir);
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        if output.status.success() {
            String::new()
        } else {
            String::from_utf8_lossy(&output.stderr).into_owned()
        }
    )
}

#[tokio::test]
async fn the_openapi_document_is_valid_and_every_answer_matches_it() {
    let suite = Suite::start().await;
    let http = Http::to(&suite);
    let request = Request::builder()
        .uri(format!("{}/openapi.json", http.base))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let document = http.send(request).await.json;
    assert_eq!(document["openapi"], "3.1.0");
    let paths = &document["paths"];
    let exchange = &paths["/kommune.identity.v1.TokenService/ExchangeApiKey"]["post"];
    assert_eq!(
        exchange["security"],
        json!([]),
        "a public RPC needs no token"
    );
    assert!(
        paths["/kommune.cases.v1.CaseService/FileCase"]["get"].is_null(),
        "an RPC with side effects has no GET"
    );
    assert!(paths["/kommune.cases.v1.CaseService/GetCase"]["get"].is_object());
    let export = &paths["/kommune.changes.v1.PublicationService/ExportPublication"]["post"];
    assert_eq!(export["x-connect-streaming"], "server");
    assert_eq!(
        export["responses"]["200"]["content"]["application/connect+json"]["schema"]["$ref"],
        "#/components/schemas/kommune.changes.v1.ExportPublicationResponse",
        "a server stream is an operation of Connect's streaming protocol"
    );
    assert!(
        paths["/kommune.changes.v1.ImportService/ImportChangeRequests"].is_null(),
        "a client stream needs gRPC or gRPC-Web"
    );
    let schemas = &document["components"]["schemas"];
    let municipality = &schemas["kommune.identity.v1.Municipality"];
    assert!(municipality["description"].is_string(), "{municipality}");
    assert!(
        municipality["properties"]["debtorSystem"]["enum"]
            .as_array()
            .is_some_and(|names| names.contains(&json!("DEBTOR_SYSTEM_KMD_OPUS")))
    );

    // Answers of every kind, checked against their schemas.
    let token = suite.admin_token.clone();
    http.post(
        "kommune.identity.v1.TokenService/GetCaller",
        Some(&token),
        "{}",
    )
    .await;
    let create = "kommune.identity.v1.MunicipalityService/CreateMunicipality";
    let aarhus = json!({"code": "751", "name": "Aarhus Kommune", "cvr_number": "55133018"});
    http.post(create, Some(&token), aarhus.to_string()).await;
    http.post(
        "kommune.identity.v1.MunicipalityService/ListMunicipalities",
        Some(&token),
        "{}",
    )
    .await;
    http.post(create, Some(&token), json!({"code": "1"}).to_string())
        .await;
    http.check_answers().await;
    // The check would catch an answer its schema does not allow.
    let wrong = json!({"municipality": {"code": 751}});
    assert!(
        !validate(
            &document,
            &[("kommune.identity.v1.CreateMunicipalityResponse", &wrong)]
        )
        .is_empty()
    );
}

/// Whether `answer` is valid under the standalone JSON Schema `schema`, by the reference validator.
fn valid_under(schema: &Value, answer: &Value) -> bool {
    const SCRIPT: &str = "import json, sys\nfrom jsonschema import Draft202012Validator\n\
        schema, answer = json.loads(sys.argv[1]), json.loads(sys.argv[2])\n\
        Draft202012Validator.check_schema(schema)\nDraft202012Validator(schema).validate(answer)\n";
    std::process::Command::new(python())
        .args(["-c", SCRIPT, &schema.to_string(), &answer.to_string()])
        .output()
        .expect("a Python with jsonschema: run .ci/test once, which installs it")
        .status
        .success()
}

#[tokio::test]
async fn each_message_has_its_own_json_schema() {
    let suite = Suite::start().await;
    let http = Http::to(&suite);
    let schema_of = async |name: &str| {
        let request = Request::builder()
            .uri(format!("{}/schemas/{name}.json", http.base))
            .body(Full::new(Bytes::new()))
            .unwrap();
        http.send(request).await
    };
    let schema = schema_of("kommune.identity.v1.CreateMunicipalityResponse").await;
    assert_eq!(schema.status, StatusCode::OK);
    let schema = schema.json;
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert!(
        schema["$defs"]["kommune.identity.v1.Municipality"].is_object(),
        "the messages it holds come with it: {schema}"
    );

    let aarhus = json!({"code": "751", "name": "Aarhus Kommune", "cvr_number": "55133018"});
    let created = http
        .post(
            "kommune.identity.v1.MunicipalityService/CreateMunicipality",
            Some(&suite.admin_token),
            aarhus.to_string(),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK);
    assert!(valid_under(&schema, &created.json), "{}", created.json);
    assert!(!valid_under(
        &schema,
        &json!({"municipality": {"code": 751}})
    ));

    let missing = schema_of("kommune.identity.v1.NoSuchThing").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json["code"], "not_found");
}

#[tokio::test]
async fn a_caller_past_its_rate_is_told_when_to_retry_and_others_are_served() {
    let mut suite = Suite::start().await;
    let rate = |text: &str| text.parse().unwrap();
    let strict = suite
        .another_gateway(kommune_gateway::DoorConfig {
            rate_people: rate("2/3"),
            rate_public: rate("1/2"),
            ..Default::default()
        })
        .await;
    let http = Http::at(strict);
    let get_caller = |token: String| {
        let http = &http;
        async move {
            http.post(
                "kommune.identity.v1.TokenService/GetCaller",
                Some(&token),
                "{}",
            )
            .await
        }
    };
    let admin = suite.admin_token.clone();
    for _ in 0..3 {
        assert_eq!(get_caller(admin.clone()).await.status, StatusCode::OK);
    }
    let refused = get_caller(admin.clone()).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.json["code"], "resource_exhausted");
    assert_eq!(
        refused.detail("google.rpc.ErrorInfo")["reason"],
        "RATE_LIMITED"
    );
    assert_eq!(refused.headers["retry-after"], "1");

    // Another principal has its own bucket.
    let aarhus = suite.municipality("751", "55133018").await;
    let person = suite
        .user(&aarhus, "anne@aarhus.dk", Role::MunicipalCaseworker)
        .await;
    let their_token = suite.token_for(&person).await;
    assert_eq!(get_caller(their_token).await.status, StatusCode::OK);

    // gRPC callers are refused the same way, with the delay to wait: asked until the bucket is empty
    // (it refills while the other principal is made, however slowly the machine runs).
    let mut tokens = pb::token_service_client::TokenServiceClient::new(channel_to(strict));
    let mut refusal = None;
    for _ in 0..10 {
        if let Err(status) = tokens
            .get_caller(bearer(pb::GetCallerRequest {}, &admin))
            .await
        {
            refusal = Some(status);
            break;
        }
    }
    let grpc = refusal.expect("a gRPC caller past its rate is refused");
    assert_eq!(grpc.code(), Code::ResourceExhausted);
    assert!(grpc.get_details_retry_info().is_some());

    // Public RPCs count against the client's address.
    let exchange = || {
        http.post(
            "kommune.identity.v1.TokenService/ExchangeApiKey",
            None,
            json!({"api_key": ADMIN_KEY}).to_string(),
        )
    };
    assert_eq!(exchange().await.status, StatusCode::OK);
    assert_eq!(exchange().await.status, StatusCode::OK);
    assert_eq!(exchange().await.status, StatusCode::TOO_MANY_REQUESTS);

    // The bucket refills at its rate.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(get_caller(admin).await.status, StatusCode::OK);
    http.check_answers().await;
}

/// The envelopes of a Connect stream: each flag byte with its JSON.
fn envelopes(mut body: &[u8]) -> Vec<(u8, Value)> {
    let mut envelopes = Vec::new();
    while body.len() >= 5 {
        let length = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        let json = serde_json::from_slice(&body[5..5 + length]).unwrap();
        envelopes.push((body[0], json));
        body = &body[5 + length..];
    }
    assert!(body.is_empty(), "a stream ends with a whole envelope");
    envelopes
}

#[tokio::test]
async fn a_server_stream_comes_as_connect_envelopes_of_json() {
    let suite = Suite::start().await;
    let http = Http::to(&suite);
    for (code, cvr) in [("101", "64942212"), ("751", "55133018")] {
        suite.municipality(code, cvr).await;
    }
    let follow_not = json!({"follow": false});
    let watch = |token| {
        http.stream(
            "kommune.identity.v1.EventService/WatchEvents",
            token,
            &follow_not,
        )
    };
    let events = watch(Some(&suite.admin_token)).await;
    let (last, messages) = events.split_last().unwrap();
    assert_eq!(last.0, 2, "the stream ends with its end-stream envelope");
    assert!(last.1["error"].is_null(), "{}", last.1);
    let created: Vec<&Value> = messages
        .iter()
        .map(|(flags, json)| {
            assert_eq!(*flags, 0);
            &json["event"]
        })
        .filter(|event| event["eventType"] == "kommune.identity.v1.MunicipalityCreated")
        .collect();
    assert_eq!(created.len(), 2, "{messages:?}");

    // A refusal is told in the end-stream envelope, with its code.
    let refused = watch(None).await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].0, 2);
    assert_eq!(refused[0].1["error"]["code"], "unauthenticated");
}

#[tokio::test]
async fn the_api_reference_is_a_readable_page_of_every_rpc() {
    let suite = Suite::start().await;
    let http = Http::to(&suite);
    let request = Request::builder()
        .uri(format!("{}/api", http.base))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = http.client.request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let page = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap()
    // As a browser shows it: the template escapes every slash.
    .replace("&#x2f;", "/");
    assert!(page.contains(r#"<html lang="da">"#));
    assert!(!page.contains("<script"), "no script");
    for expected in [
        "POST /kommune.cases.v1.CaseService/FileCase",
        "GET, POST /kommune.cases.v1.CaseService/GetCase",
        "POST (stream) /kommune.changes.v1.PublicationService/ExportPublication",
        r#"id="kommune.identity.v1.Municipality""#,
        r#"Offentlig <span lang="en">· Public</span>"#,
        r#"Gå til indhold <span class="en" lang="en">· Skip to content</span>"#,
    ] {
        assert!(page.contains(expected), "{expected} is missing");
    }
    // Descriptions come from the protos' comments, escaped as HTML.
    assert!(page.contains("Who the caller is, as its token says"));
    assert!(!page.contains("<pakke>"), "text is escaped");
}

#[tokio::test]
async fn a_klik_project_and_its_wave_are_made_read_and_moved_in_json() {
    let suite = Suite::start().await;
    let http = Http::to(&suite);
    let token = &suite.admin_token;
    let rpc = |method: &str| format!("kommune.klik.v1.ProjectService/{method}");
    let create = json!({"name": "KY-udrulning", "idempotency_key": "json-project-1"}).to_string();
    let first = http
        .post(&rpc("CreateProject"), Some(token), create.clone())
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.json);
    let project_id = first.json["project"]["projectId"].clone();
    let again = http.post(&rpc("CreateProject"), Some(token), create).await;
    assert_eq!(
        again.json["project"]["projectId"], project_id,
        "a replay creates nothing"
    );

    let read = http
        .get(
            &rpc("GetProject"),
            token,
            &json!({"project_id": project_id}),
        )
        .await;
    assert_eq!(
        read.json["project"]["name"], "KY-udrulning",
        "{}",
        read.json
    );
    let listed = http.post(&rpc("ListProjects"), Some(token), "{}").await;
    assert_eq!(listed.json["projects"].as_array().map(Vec::len), Some(1));

    let go_live = (chrono::Utc::now().date_naive() + chrono::Days::new(120)).to_string();
    let wave = http
        .post(
            &rpc("AddWave"),
            Some(token),
            json!({"project_id": project_id, "name": "Bølge 1", "go_live": go_live}).to_string(),
        )
        .await;
    assert_eq!(wave.status, StatusCode::OK, "{}", wave.json);
    let wave_id = wave.json["wave"]["waveId"].clone();
    let later = (chrono::Utc::now().date_naive() + chrono::Days::new(150)).to_string();
    let move_to = |version: i64| {
        json!({"wave_id": wave_id, "expected_version": version, "go_live": later}).to_string()
    };
    let moved = http.post(&rpc("MoveWave"), Some(token), move_to(1)).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.json);
    assert_eq!(moved.json["wave"]["goLive"], later);
    let stale = http.post(&rpc("MoveWave"), Some(token), move_to(1)).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.json);
    assert_eq!(
        stale.detail("google.rpc.ErrorInfo")["reason"],
        "STALE_VERSION"
    );
    http.check_answers().await;
}

#[tokio::test]
async fn a_system_is_created_listed_and_updated_in_json_as_it_was_read() {
    let suite = Suite::start().await;
    let http = Http::to(&suite);
    let token = &suite.admin_token;
    let rpc = |method: &str| format!("kommune.cases.v1.ReferenceService/{method}");
    let created = http
        .post(
            &rpc("CreateSystem"),
            Some(token),
            json!({"system": {"name": "KY", "chain_responsibility": true}}).to_string(),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.json);
    let mut system = created.json["system"].clone();
    assert_eq!(system["version"], "1", "64-bit integers are JSON strings");

    let listed = http.get(&rpc("ListSystems"), token, &json!({})).await;
    assert_eq!(listed.json["systems"][0]["systemId"], system["systemId"]);

    // The system as read, changed and sent back: the JSON an answer holds is the JSON a request takes.
    system["name"] = json!("Kommunernes Ydelsessystem");
    let updated = http
        .post(
            &rpc("UpdateSystem"),
            Some(token),
            json!({ "system": system }).to_string(),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.json);
    assert_eq!(updated.json["system"]["name"], "Kommunernes Ydelsessystem");
    assert_eq!(updated.json["system"]["version"], "2");
    let stale = http
        .post(
            &rpc("UpdateSystem"),
            Some(token),
            json!({ "system": system }).to_string(),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.json);
    assert_eq!(
        stale.detail("google.rpc.ErrorInfo")["reason"],
        "STALE_VERSION"
    );
    http.check_answers().await;
}

#[tokio::test]
async fn a_change_request_is_asked_moved_published_and_exported_in_json() {
    let suite = Suite::start().await;
    let http = Http::to(&suite);
    let token = &suite.admin_token;
    let municipality = suite.municipality("101", "64942212").await;
    let rpc = |service: &str, method: &str| format!("kommune.changes.v1.{service}/{method}");
    let theme = http
        .post(
            &rpc("ReferenceService", "CreateTheme"),
            Some(token),
            json!({"name": "Økonomi"}).to_string(),
        )
        .await;
    assert_eq!(theme.status, StatusCode::OK, "{}", theme.json);
    let ask = json!({
        "idempotency_key": "json-change-1",
        "theme_id": theme.json["theme"]["themeId"],
        "title": "Filter på forfaldsdato",
        "description": "Debitorlisten skal kunne filtreres.",
        "asking_municipality_id": municipality,
    })
    .to_string();
    let create = rpc("ChangeRequestService", "CreateChangeRequest");
    let asked = http.post(&create, Some(token), ask.clone()).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.json);
    let id = asked.json["changeRequest"]["changeRequestId"].clone();
    let again = http.post(&create, Some(token), ask).await;
    assert_eq!(
        again.json["changeRequest"]["changeRequestId"], id,
        "a replay asks nothing new"
    );

    let read = http
        .get(
            &rpc("ChangeRequestService", "GetChangeRequest"),
            token,
            &json!({"change_request_id": id}),
        )
        .await;
    assert_eq!(read.json["changeRequest"]["key"], "KOMBITKY-1");
    let listed = http
        .get(
            &rpc("ChangeRequestService", "ListChangeRequests"),
            token,
            &json!({"municipality_id": municipality}),
        )
        .await;
    assert_eq!(listed.json["changeRequests"][0]["changeRequestId"], id);

    let assess = |version: &Value| {
        json!({"change_request_id": id, "expected_version": version, "status_code": 20}).to_string()
    };
    let version = read.json["changeRequest"]["version"].clone();
    let moved = http
        .post(
            &rpc("ChangeRequestService", "ChangeStatus"),
            Some(token),
            assess(&version),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.json);
    assert_eq!(moved.json["changeRequest"]["statusCode"], 20);
    let stale = http
        .post(
            &rpc("ChangeRequestService", "ChangeStatus"),
            Some(token),
            assess(&version),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.json);

    let published = http
        .post(
            &rpc("PublicationService", "PublishChangeRequests"),
            Some(token),
            json!({"note": "December 2026"}).to_string(),
        )
        .await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.json);
    let publication = published.json["publication"]["publicationId"].clone();

    // The export streams as Connect envelopes, each chunk of the CSV as base64 in JSON.
    let export = http
        .stream(
            &rpc("PublicationService", "ExportPublication"),
            Some(token),
            &json!({"publication_id": publication, "format": "EXPORT_FORMAT_CSV"}),
        )
        .await;
    let (end, chunks) = export.split_last().unwrap();
    assert_eq!(end.0, 2);
    assert!(end.1["error"].is_null(), "{}", end.1);
    let csv: Vec<u8> = chunks
        .iter()
        .flat_map(|(flags, json)| {
            assert_eq!(*flags, 0);
            STANDARD.decode(json["chunk"].as_str().unwrap()).unwrap()
        })
        .collect();
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(
        csv.lines().count(),
        2,
        "a header and one change request: {csv}"
    );
    assert!(csv.contains("Filter på forfaldsdato"), "{csv}");
    let unknown = http
        .stream(
            &rpc("PublicationService", "ExportPublication"),
            Some(token),
            &json!({"publication_id": uuid::Uuid::new_v4(), "format": "EXPORT_FORMAT_CSV"}),
        )
        .await;
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].1["error"]["code"], "not_found", "{:?}", unknown);
    http.check_answers().await;
}

#[tokio::test]
async fn a_subscription_is_made_listed_changed_and_ended_in_json() {
    let suite = Suite::start().await;
    let http = Http::to(&suite);
    let municipality = suite.municipality("101", "64942212").await;
    let user = suite
        .user(&municipality, "follower@kk.dk", Role::MunicipalCaseworker)
        .await;
    let token = &suite.token_for(&user).await;
    let rpc = |method: &str| format!("kommune.notify.v1.SubscriptionService/{method}");
    let created = http
        .post(
            &rpc("CreateSubscription"),
            Some(token),
            json!({"subscription": {
                "topic": {"kind": "TOPIC_KIND_CHANGE_REQUEST_PUBLICATION"},
                "channel": "CHANNEL_INBOX",
            }})
            .to_string(),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.json);
    let mut subscription = created.json["subscription"].clone();
    assert_eq!(subscription["userId"], json!(user.user_id));

    let listed = http.get(&rpc("ListSubscriptions"), token, &json!({})).await;
    assert_eq!(
        listed.json["subscriptions"][0]["subscriptionId"],
        subscription["subscriptionId"]
    );

    subscription["language"] = json!("LANGUAGE_ENGLISH");
    let update = json!({ "subscription": subscription }).to_string();
    let updated = http
        .post(&rpc("UpdateSubscription"), Some(token), update.clone())
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.json);
    assert_eq!(updated.json["subscription"]["language"], "LANGUAGE_ENGLISH");
    let stale = http
        .post(&rpc("UpdateSubscription"), Some(token), update)
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.json);
    let unknown_channel = http
        .post(
            &rpc("CreateSubscription"),
            Some(token),
            json!({"subscription": {"channel": "CHANNEL_PIGEON"}}).to_string(),
        )
        .await;
    assert_eq!(unknown_channel.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown_channel.fields(), ["subscription.channel"]);

    let ended = http
        .post(
            &rpc("DeleteSubscription"),
            Some(token),
            json!({"subscription_id": subscription["subscriptionId"]}).to_string(),
        )
        .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.json);
    assert_eq!(ended.json, json!({}));
    let listed = http.get(&rpc("ListSubscriptions"), token, &json!({})).await;
    assert_eq!(listed.json["subscriptions"], Value::Null, "{}", listed.json);
    http.check_answers().await;
}

/// Slow clients cannot hold the door's connections over HTTP/1.1: a request head that never arrives
/// whole, and a kept-alive connection that sends no next request, are closed by the header timeout
/// (hyper's 30 s, armed by tonic's server), while a prompt client is served.
#[tokio::test]
async fn slow_and_idle_http_1_1_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let suite = Suite::start().await;
    let addr = suite.gateway_addr;
    /// How long the connection stays open until the door closes it, reading whatever comes.
    async fn open_for(mut socket: tokio::net::TcpStream) -> Duration {
        let start = std::time::Instant::now();
        let mut buffer = [0; 1024];
        loop {
            match tokio::time::timeout(Duration::from_secs(45), socket.read(&mut buffer)).await {
                Ok(Ok(0) | Err(_)) => return start.elapsed(),
                Ok(Ok(_)) => {}
                Err(_) => panic!("the connection is still open after 45 s"),
            }
        }
    }
    let slow = async {
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        socket
            .write_all(b"POST /kommune.identity.v1.TokenService/GetCaller HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        open_for(socket).await
    };
    let idle = async {
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = [0; 12];
        socket.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"HTTP/1.1 200", "a prompt client is served");
        open_for(socket).await
    };
    let (slow, idle) = tokio::join!(slow, idle);
    for held in [slow, idle] {
        assert!(
            (Duration::from_secs(25)..Duration::from_secs(40)).contains(&held),
            "{held:?}"
        );
    }
}
