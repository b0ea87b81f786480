//! The access table walked: every RPC kommune serves, called through the gateway by a caller of each
//! role (and a service account), and the municipality-scoped ones by a user of another municipality.
//! The table itself is docs/api.md's, generated from the protos' `(kommune.common.v1.access)` options.

use bytes::{Buf, BufMut, Bytes};
use kommune_proto::METHOD_ACCESS;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use super::*;

/// A message as its encoded bytes: the walk calls RPCs of every type alike.
#[derive(Debug, Clone, Copy, Default)]
struct Encoded;

impl Codec for Encoded {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Encoded;
    type Decoder = Encoded;

    fn encoder(&mut self) -> Self::Encoder {
        Encoded
    }

    fn decoder(&mut self) -> Self::Decoder {
        Encoded
    }
}

impl Encoder for Encoded {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for Encoded {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// Calls the RPC at `path` with one encoded `message` (unary, server- and client-streaming alike): the
/// first answer, or the status it ended with.
async fn call(channel: &Channel, path: &str, token: &str, message: Bytes) -> Result<Bytes, Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let request = bearer(futures::stream::once(async move { message }), token);
    let path = http::uri::PathAndQuery::try_from(path).unwrap();
    let mut answers = grpc.streaming(request, path, Encoded).await?.into_inner();
    // A stream that waits for events has admitted the caller: its first answer need not come.
    match tokio::time::timeout(Duration::from_secs(2), answers.message()).await {
        Ok(answer) => answer.map(Option::unwrap_or_default),
        Err(_) => Ok(Bytes::new()),
    }
}

/// Whether `status` is the auth layer's refusal of a role the RPC does not admit.
fn refused_by_the_table(status: &Status, path: &str) -> bool {
    status.code() == Code::PermissionDenied
        && reason(status) == "ROLE_REQUIRED"
        && status
            .message()
            .starts_with(&format!("{} admits only", path.trim_start_matches('/')))
}

#[tokio::test]
async fn every_rpc_admits_exactly_the_roles_its_access_names() {
    let suite = Suite::start().await;
    let aarhus = suite.municipality("751", "55133018").await;
    let mut callers: Vec<(&str, String)> = Vec::new();
    for (role, municipality) in [
        (Role::MunicipalCaseworker, aarhus.as_str()),
        (Role::MunicipalProjectLeader, aarhus.as_str()),
        (Role::SupplierSecondLine, ""),
        (Role::ThirdLineSpecialist, ""),
        (Role::ConsortiumAdmin, ""),
    ] {
        let email = format!("{}@walk.example", role.as_str_name().to_lowercase());
        let user = suite.user(municipality, &email, role).await;
        callers.push((role.as_str_name(), suite.token_for(&user).await));
    }
    let identity = channel_to(
        suite
            .upstreams
            .get(ServiceRole::Identity)
            .unwrap()
            .trim_start_matches("http://"),
    );
    let service_key = service_account_key(&identity, &suite.admin_token, "walker").await;
    callers.push((
        Role::Service.as_str_name(),
        suite.exchange(&service_key).await.unwrap(),
    ));

    let mut wrong = Vec::new();
    for access in METHOD_ACCESS {
        for (role, token) in &callers {
            let admitted = access.roles.is_empty() || access.roles.contains(role);
            let answer = call(&suite.gateway, access.path, token, Bytes::new()).await;
            let refused = answer
                .as_ref()
                .err()
                .is_some_and(|s| refused_by_the_table(s, access.path));
            // Where the table names no finer rule, the roles say it all: the service itself refuses no
            // admitted role either.
            let refused_by_the_service = admitted
                && access.rule.is_empty()
                && answer.as_ref().err().is_some_and(|s| {
                    s.code() == Code::PermissionDenied && reason(s) == "ROLE_REQUIRED"
                });
            if admitted == refused || refused_by_the_service {
                wrong.push(format!("{} as {role}: {answer:?}", access.path));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "answers against the access table:\n{}",
        wrong.join("\n")
    );
}

/// The descriptors of every kommune RPC, to call any of them in JSON.
fn descriptors() -> &'static prost_reflect::DescriptorPool {
    static POOL: std::sync::OnceLock<prost_reflect::DescriptorPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        prost_reflect::DescriptorPool::decode(kommune_proto::FILE_DESCRIPTOR_SET).unwrap()
    })
}

/// Calls the RPC at `path` with `request` in proto JSON; its answer in proto JSON (proto field names).
pub(crate) async fn call_json(
    suite: &Suite,
    path: &str,
    token: &str,
    request: &serde_json::Value,
) -> Result<serde_json::Value, Status> {
    use prost_reflect::prost::Message as _;
    use prost_reflect::{DynamicMessage, SerializeOptions};
    let (service, method) = path.trim_start_matches('/').split_once('/').unwrap();
    let method = descriptors()
        .get_service_by_name(service)
        .unwrap_or_else(|| panic!("no service {service}"))
        .methods()
        .find(|m| m.name() == method)
        .unwrap_or_else(|| panic!("no RPC {path}"));
    let message = DynamicMessage::deserialize(method.input(), request)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let answer = call(&suite.gateway, path, token, message.encode_to_vec().into()).await?;
    let answer = DynamicMessage::decode(method.output(), answer).unwrap();
    let options = SerializeOptions::new().use_proto_field_name(true);
    Ok(answer
        .serialize_with_options(serde_json::value::Serializer, &options)
        .unwrap())
}

/// Like [`call_json`], for a call that must succeed.
pub(crate) async fn made(
    suite: &Suite,
    path: &str,
    token: &str,
    request: serde_json::Value,
) -> serde_json::Value {
    call_json(suite, path, token, &request)
        .await
        .unwrap_or_else(|status| panic!("{path}: {status:?}"))
}

/// The string at a `/`-separated pointer into an answer.
pub(crate) fn text(answer: &serde_json::Value, pointer: &str) -> String {
    answer
        .pointer(pointer)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {answer}"))
        .to_owned()
}

/// A system ("KY", in the chain) and an area of a second-line team, made by the admin: what filing a
/// case needs. Their ids.
pub(crate) async fn system_and_area(suite: &Suite) -> (String, String) {
    use serde_json::json;
    let admin = &suite.admin_token;
    let team = made(
        suite,
        "/kommune.cases.v1.ReferenceService/CreateTeam",
        admin,
        json!({"team": {"name": "Ydelser", "line": "SUPPORT_LINE_SECOND"}}),
    )
    .await;
    let area = made(
        suite,
        "/kommune.cases.v1.ReferenceService/CreateArea",
        admin,
        json!({"area": {"name": "Udbetaling", "team_id": text(&team, "/team/team_id")}}),
    )
    .await;
    let system = made(
        suite,
        "/kommune.cases.v1.ReferenceService/CreateSystem",
        admin,
        json!({"system": {"name": "KY", "chain_responsibility": true}}),
    )
    .await;
    (
        text(&system, "/system/system_id"),
        text(&area, "/area/area_id"),
    )
}

/// A call of a municipality-scoped RPC about Aarhus's data, made by a user of Odense and then by the
/// same role of Aarhus.
struct Scoped {
    path: &'static str,
    /// Whether the callers are project leaders (else caseworkers).
    leader: bool,
    request: serde_json::Value,
}

fn scoped(path: &'static str, leader: bool, request: serde_json::Value) -> Scoped {
    Scoped {
        path,
        leader,
        request,
    }
}

#[tokio::test]
async fn no_municipality_reaches_anothers_data_through_any_rpc() {
    use serde_json::json;
    let suite = Suite::start().await;
    let admin = suite.admin_token.clone();
    let aarhus = suite.municipality("751", "55133018").await;
    let odense = suite.municipality("461", "35209115").await;
    let a_cw = suite
        .user(&aarhus, "cw@aarhus.dk", Role::MunicipalCaseworker)
        .await;
    let a_pl = suite
        .user(&aarhus, "pl@aarhus.dk", Role::MunicipalProjectLeader)
        .await;
    let a_other = suite
        .user(&aarhus, "other@aarhus.dk", Role::MunicipalCaseworker)
        .await;
    let b_cw = suite
        .user(&odense, "cw@odense.dk", Role::MunicipalCaseworker)
        .await;
    let b_pl = suite
        .user(&odense, "pl@odense.dk", Role::MunicipalProjectLeader)
        .await;
    let (a_cw_token, a_pl_token) = (suite.token_for(&a_cw).await, suite.token_for(&a_pl).await);
    let (b_cw_token, b_pl_token) = (suite.token_for(&b_cw).await, suite.token_for(&b_pl).await);
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Copenhagen)
        .date_naive();
    let day = |days: i64| {
        (today + chrono::Days::new(days as u64))
            .format("%Y-%m-%d")
            .to_string()
    };

    // Aarhus's data in every service.
    let registration = made(
        &suite,
        "/kommune.identity.v1.EligibilityService/RegisterEligibleUser",
        &admin,
        json!({"user_id": a_cw.user_id, "municipality_id": aarhus, "valid_from": day(0)}),
    )
    .await;
    let registration = text(&registration, "/registration/registration_id");
    made(
        &suite,
        "/kommune.identity.v1.EligibilityService/RegisterEligibleUser",
        &admin,
        json!({"user_id": b_cw.user_id, "municipality_id": odense, "valid_from": day(0)}),
    )
    .await;

    let (system, area) = system_and_area(&suite).await;
    let filing = json!({"title": "Forkert beløb", "description": "Se rapport YDE-114", "kind": "CASE_KIND_FAULT",
        "severity": "SEVERITY_NORMAL", "system_id": system, "area_id": area});
    let case = made(
        &suite,
        "/kommune.cases.v1.CaseService/FileCase",
        &a_cw_token,
        filing.clone(),
    )
    .await;
    let case = text(&case, "/case/case_id");
    let attachment = made(&suite, "/kommune.cases.v1.CaseService/AddAttachment", &a_cw_token,
        json!({"case_id": case, "file_name": "skaerm.txt", "content_type": "text/plain", "content": "aGVq"})).await;
    let attachment = text(&attachment, "/attachment/attachment_id");
    let survey = made(&suite, "/kommune.cases.v1.SurveyService/CreateSurvey", &admin, json!({"survey": {
        "title": "Tilfredshed", "questions": [{"text_da": "Hvor tilfreds?", "kind": "SURVEY_QUESTION_KIND_SCORE"}],
        "open_time": chrono::Utc::now().to_rfc3339(),
        "close_time": (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339()}})).await;
    let survey = text(&survey, "/survey/survey_id");

    let item = made(&suite, "/kommune.catalogue.v1.ItemService/CreateItem", &admin, json!({"content": {
        "name_da": "Dataudtræk", "name_en": "Data extract", "description_da": "Et udtræk.", "category": "Udtræk",
        "price": {"model": "PRICE_MODEL_FIXED", "amount_ore": 95000}, "delivery_working_days": 5}})).await;
    let item = text(&item, "/item/item_id");
    let order = made(
        &suite,
        "/kommune.catalogue.v1.OrderService/PlaceOrder",
        &a_pl_token,
        json!({"item_id": item, "quantity": 1}),
    )
    .await;
    let order = text(&order, "/order/order_id");
    let order_attachment = made(&suite, "/kommune.catalogue.v1.OrderService/AddOrderAttachment", &a_pl_token,
        json!({"order_id": order, "file_name": "bilag.txt", "content_type": "text/plain", "content": "aGVq"})).await;
    let order_attachment = text(&order_attachment, "/attachment/attachment_id");

    let project = suite.klik_project("FBS").await;
    let k98 = klik::TaskContent {
        k98: true,
        ..preparation_task("Udpeg en projektleder", None)
    };
    suite.klik_template(&project.project_id, k98).await;
    suite
        .klik_wave(
            &project.project_id,
            today + chrono::Days::new(300),
            &aarhus,
            &a_pl,
        )
        .await;
    let later_wave = made(
        &suite,
        "/kommune.klik.v1.ProjectService/AddWave",
        &admin,
        json!({"project_id": project.project_id, "name": "Bølge 2", "go_live": day(400)}),
    )
    .await;
    let later_wave = text(&later_wave, "/wave/wave_id");
    let enrolment = made(
        &suite,
        "/kommune.klik.v1.ProjectService/ListEnrolments",
        &admin,
        json!({"project_id": project.project_id}),
    )
    .await;
    let enrolment = text(&enrolment, "/enrolments/0/enrolment_id");
    let task = made(
        &suite,
        "/kommune.klik.v1.TaskService/ListTasks",
        &admin,
        json!({"project_id": project.project_id, "municipality_id": aarhus}),
    )
    .await;
    let task = text(&task, "/tasks/0/task_id");
    let package = made(
        &suite,
        "/kommune.klik.v1.TaskService/CreatePackage",
        &admin,
        json!({"task_id": task, "description": "Sager til genberegning"}),
    )
    .await;
    let package = text(&package, "/package/package_id");
    made(
        &suite,
        "/kommune.klik.v1.TaskService/AddPackageItems",
        &admin,
        json!({"package_id": package, "items": [{"reference": "YDE-1"}]}),
    )
    .await;
    let package_item = made(
        &suite,
        "/kommune.klik.v1.TaskService/ListPackageItems",
        &admin,
        json!({"package_id": package}),
    )
    .await;
    let package_item = text(&package_item, "/items/0/item_id");

    let theme = made(
        &suite,
        "/kommune.changes.v1.ReferenceService/CreateTheme",
        &admin,
        json!({"name": "Økonomi"}),
    )
    .await;
    let theme = text(&theme, "/theme/theme_id");
    let change_request = made(&suite, "/kommune.changes.v1.ChangeRequestService/CreateChangeRequest", &admin,
        json!({"theme_id": theme, "title": "Filter", "description": "Filtrér på dato", "asking_municipality_id": odense})).await;
    let change_request = text(&change_request, "/change_request/change_request_id");

    let walk = [
        scoped(
            "/kommune.identity.v1.UserService/GetUser",
            false,
            json!({"user_id": a_other.user_id}),
        ),
        scoped(
            "/kommune.identity.v1.UserService/ListUsers",
            false,
            json!({"municipality_id": aarhus}),
        ),
        scoped(
            "/kommune.identity.v1.UserService/CreateUser",
            true,
            json!({"municipality_id": aarhus,
            "name": "Ny", "email": "ny@aarhus.dk", "roles": ["ROLE_MUNICIPAL_CASEWORKER"]}),
        ),
        scoped(
            "/kommune.identity.v1.UserService/UpdateUser",
            true,
            json!({"user_id": a_other.user_id,
            "expected_version": a_other.version, "name": "Anden"}),
        ),
        scoped(
            "/kommune.identity.v1.EligibilityService/CheckEligibility",
            false,
            json!({"user_id": a_cw.user_id, "municipality_id": aarhus}),
        ),
        scoped(
            "/kommune.identity.v1.EligibilityService/ListEligibilityRegistrations",
            false,
            json!({"municipality_id": aarhus}),
        ),
        scoped(
            "/kommune.identity.v1.EligibilityService/ListEligibilityChanges",
            false,
            json!({"municipality_id": aarhus}),
        ),
        scoped(
            "/kommune.identity.v1.EligibilityService/GetQuota",
            false,
            json!({"municipality_id": aarhus}),
        ),
        scoped(
            "/kommune.identity.v1.EligibilityService/GetBillingReport",
            false,
            json!({"municipality_id": aarhus, "first_day": day(0), "last_day": day(0)}),
        ),
        scoped(
            "/kommune.identity.v1.EligibilityService/RegisterEligibleUser",
            true,
            json!({"user_id": a_other.user_id, "municipality_id": aarhus, "valid_from": day(1)}),
        ),
        scoped(
            "/kommune.identity.v1.EligibilityService/ReplaceEligibleUser",
            true,
            json!({
            "replaced_registration_id": registration, "new_user_id": a_pl.user_id, "effective_date": day(30)}),
        ),
        scoped(
            "/kommune.identity.v1.EligibilityService/StopEligibility",
            true,
            json!({"registration_id": registration, "valid_to": day(20)}),
        ),
        scoped(
            "/kommune.identity.v1.AuditService/ListAuditRecords",
            false,
            json!({"entity_type": "municipality", "entity_id": aarhus}),
        ),
        scoped(
            "/kommune.identity.v1.AuditService/VerifyAuditChain",
            false,
            json!({"entity_type": "municipality", "entity_id": aarhus}),
        ),
        scoped("/kommune.cases.v1.CaseService/FileCase", false, filing),
        scoped(
            "/kommune.cases.v1.CaseService/GetCase",
            false,
            json!({"case_id": case}),
        ),
        scoped(
            "/kommune.cases.v1.CaseService/ListCases",
            false,
            json!({"municipality_id": aarhus}),
        ),
        scoped(
            "/kommune.cases.v1.CaseService/UpdateCaseTitle",
            false,
            json!({"case_id": case, "expected_version": 2, "title": "Forkert beløb i maj"}),
        ),
        scoped(
            "/kommune.cases.v1.CaseService/AddComment",
            false,
            json!({"case_id": case, "text": "Også i juni", "visibility": "COMMENT_VISIBILITY_PUBLIC"}),
        ),
        scoped(
            "/kommune.cases.v1.CaseService/ListComments",
            false,
            json!({"case_id": case}),
        ),
        scoped(
            "/kommune.cases.v1.CaseService/AddAttachment",
            false,
            json!({"case_id": case,
            "file_name": "mere.txt", "content_type": "text/plain", "content": "aGVq"}),
        ),
        scoped(
            "/kommune.cases.v1.CaseService/ListAttachments",
            false,
            json!({"case_id": case}),
        ),
        scoped(
            "/kommune.cases.v1.CaseService/GetAttachment",
            false,
            json!({"attachment_id": attachment}),
        ),
        scoped(
            "/kommune.cases.v1.CaseService/TransitionCase",
            false,
            json!({"case_id": case, "expected_version": 2, "transition": "TRANSITION_RESUME"}),
        ),
        scoped(
            "/kommune.cases.v1.CaseService/RateCase",
            false,
            json!({"case_id": case, "rating": 5}),
        ),
        scoped(
            "/kommune.cases.v1.CaseService/ErasePersonalId",
            true,
            json!({"case_id": case, "expected_version": 2, "reason": "Borgerens anmodning"}),
        ),
        scoped(
            "/kommune.cases.v1.SurveyService/AnswerSurvey",
            false,
            json!({"survey_id": survey, "answers": [{"score": 4}]}),
        ),
        scoped(
            "/kommune.cases.v1.AuditService/ListAuditRecords",
            false,
            json!({"entity_type": "case", "entity_id": case}),
        ),
        scoped(
            "/kommune.cases.v1.AuditService/VerifyAuditChain",
            false,
            json!({"entity_type": "case", "entity_id": case}),
        ),
        scoped(
            "/kommune.catalogue.v1.OrderService/PlaceOrder",
            true,
            json!({"item_id": item, "quantity": 1}),
        ),
        scoped(
            "/kommune.catalogue.v1.OrderService/GetOrder",
            true,
            json!({"order_id": order}),
        ),
        scoped(
            "/kommune.catalogue.v1.OrderService/ListOrders",
            true,
            json!({"municipality_id": aarhus}),
        ),
        scoped(
            "/kommune.catalogue.v1.OrderService/AddOrderComment",
            true,
            json!({"order_id": order, "text": "Haster"}),
        ),
        scoped(
            "/kommune.catalogue.v1.OrderService/ListOrderComments",
            true,
            json!({"order_id": order}),
        ),
        scoped(
            "/kommune.catalogue.v1.OrderService/AddOrderAttachment",
            true,
            json!({"order_id": order,
            "file_name": "mere.txt", "content_type": "text/plain", "content": "aGVq"}),
        ),
        scoped(
            "/kommune.catalogue.v1.OrderService/ListOrderAttachments",
            true,
            json!({"order_id": order}),
        ),
        scoped(
            "/kommune.catalogue.v1.OrderService/GetOrderAttachment",
            true,
            json!({"attachment_id": order_attachment}),
        ),
        scoped(
            "/kommune.catalogue.v1.OrderService/AcceptQuote",
            true,
            json!({"order_id": order, "expected_version": 1}),
        ),
        scoped(
            "/kommune.catalogue.v1.OrderService/DeclineQuote",
            true,
            json!({"order_id": order, "expected_version": 1, "reason": "For dyrt"}),
        ),
        scoped(
            "/kommune.catalogue.v1.OrderService/CancelOrder",
            true,
            json!({"order_id": order, "expected_version": 1, "reason": "Ikke brug for det"}),
        ),
        scoped(
            "/kommune.catalogue.v1.AuditService/ListAuditRecords",
            true,
            json!({"entity_type": "order", "entity_id": order}),
        ),
        scoped(
            "/kommune.catalogue.v1.AuditService/VerifyAuditChain",
            true,
            json!({"entity_type": "order", "entity_id": order}),
        ),
        scoped(
            "/kommune.changes.v1.ChangeRequestService/CreateChangeRequest",
            false,
            json!({"theme_id": theme,
            "title": "Eksport", "description": "Eksport til regneark", "asking_municipality_id": aarhus}),
        ),
        scoped(
            "/kommune.changes.v1.ChangeRequestService/SupportChangeRequest",
            false,
            json!({"change_request_id": change_request, "municipality_id": aarhus}),
        ),
        scoped(
            "/kommune.klik.v1.ProjectService/Enrol",
            true,
            json!({"project_id": project.project_id,
            "municipality_id": aarhus, "wave_id": later_wave, "project_leader_user_id": a_pl.user_id, "debtor_system": "KMD_OPUS"}),
        ),
        scoped(
            "/kommune.klik.v1.ProjectService/ListEnrolments",
            true,
            json!({"project_id": project.project_id}),
        ),
        scoped(
            "/kommune.klik.v1.ProjectService/ChangeEnrolmentWave",
            true,
            json!({"enrolment_id": enrolment, "expected_version": 1, "wave_id": later_wave}),
        ),
        scoped(
            "/kommune.klik.v1.TaskService/ListTasks",
            false,
            json!({"project_id": project.project_id, "municipality_id": aarhus}),
        ),
        scoped(
            "/kommune.klik.v1.TaskService/GetTask",
            false,
            json!({"task_id": task}),
        ),
        scoped(
            "/kommune.klik.v1.TaskService/GetProgress",
            false,
            json!({"project_id": project.project_id, "municipality_id": aarhus}),
        ),
        scoped(
            "/kommune.klik.v1.TaskService/ListPackageItems",
            false,
            json!({"package_id": package}),
        ),
        scoped(
            "/kommune.klik.v1.TaskService/ResolvePackageItem",
            false,
            json!({"item_id": package_item, "state": "ITEM_STATE_CASE_CREATED", "case_reference": "YDE-9"}),
        ),
        scoped(
            "/kommune.klik.v1.TaskService/SetTaskStatus",
            false,
            json!({"task_id": task, "expected_version": 1, "status": "TASK_STATUS_IN_PROGRESS"}),
        ),
        scoped(
            "/kommune.klik.v1.AuditService/ListAuditRecords",
            false,
            json!({"entity_type": "task", "entity_id": task}),
        ),
        scoped(
            "/kommune.klik.v1.AuditService/VerifyAuditChain",
            false,
            json!({"entity_type": "task", "entity_id": task}),
        ),
        // Last: it anonymises the other Aarhus user the walk reads.
        scoped(
            "/kommune.identity.v1.UserService/AnonymizeUser",
            true,
            json!({"user_id": a_other.user_id}),
        ),
    ];

    // The walk covers every municipality-scoped RPC.
    let walked: Vec<&str> = walk.iter().map(|s| s.path).collect();
    let unwalked: Vec<&str> = METHOD_ACCESS
        .iter()
        .filter(|a| a.scope == kommune_proto::common::v1::AccessScope::Municipality)
        .map(|a| a.path)
        .filter(|path| !walked.contains(path))
        .collect();
    assert!(
        unwalked.is_empty(),
        "municipality-scoped RPCs the walk misses: {unwalked:?}"
    );

    // What of Aarhus's a user of Odense must never get back.
    let aarhus_ids = [
        aarhus.clone(),
        a_cw.user_id.clone(),
        a_pl.user_id.clone(),
        a_other.user_id.clone(),
        registration,
        case,
        attachment,
        order,
        order_attachment,
        enrolment,
        task,
        package,
        package_item,
    ];
    let mut wrong = Vec::new();
    for Scoped {
        path,
        leader,
        request,
    } in &walk
    {
        let (odense_token, aarhus_token) = if *leader {
            (&b_pl_token, &a_pl_token)
        } else {
            (&b_cw_token, &a_cw_token)
        };
        match call_json(&suite, path, odense_token, request).await {
            Ok(answer) => {
                let answer = answer.to_string();
                if let Some(id) = aarhus_ids.iter().find(|id| answer.contains(id.as_str())) {
                    wrong.push(format!("{path}: Odense got Aarhus's {id}: {answer}"));
                }
            }
            Err(status)
                if status.code() == Code::NotFound
                    || (status.code() == Code::PermissionDenied
                        && reason(&status) == "OTHER_MUNICIPALITY") => {}
            Err(status) => wrong.push(format!("{path}: Odense got {status:?}")),
        }
        // Aarhus's own user reaches it: the request was one the RPC serves.
        match call_json(&suite, path, aarhus_token, request).await {
            Err(status)
                if matches!(
                    status.code(),
                    Code::PermissionDenied
                        | Code::NotFound
                        | Code::InvalidArgument
                        | Code::Unauthenticated
                ) =>
            {
                wrong.push(format!("{path}: Aarhus got {status:?}"));
            }
            _ => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "answers across municipalities:\n{}",
        wrong.join("\n")
    );
}
