//! Calls from one service to another: straight to the other service's address, never through the
//! gateway, carrying the caller's token and the current trace context.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::auth::Caller;
use crate::server::inject_trace_context;

/// How long a call to another service may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A channel to another service that connects on first use (so start-up order does not matter).
pub fn channel(addr: &str) -> Result<Channel, crate::BoxError> {
    Ok(Endpoint::from_shared(addr.to_owned())?
        .connect_timeout(Duration::from_secs(2))
        .timeout(CALL_TIMEOUT)
        .connect_lazy())
}

/// A request made on behalf of `caller`: their bearer token, this span's trace context, and what is
/// left of the deadline of the call being served.
pub fn on_behalf_of<T>(caller: &Caller, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(left) = crate::server::remaining_deadline() {
        request.set_timeout(left);
    }
    let mut headers = std::mem::take(request.metadata_mut()).into_headers();
    if let Ok(value) = format!("Bearer {}", caller.token).parse() {
        headers.insert(http::header::AUTHORIZATION, value);
    }
    inject_trace_context(&mut headers);
    *request.metadata_mut() = tonic::metadata::MetadataMap::from_headers(headers);
    request
}

/// Every municipality identity knows, read page by page on `caller`'s behalf (several services need
/// the whole list: publications name municipalities, klik gives each active one its tasks).
pub async fn municipalities(
    identity: &Channel,
    caller: &Caller,
) -> Result<Vec<kommune_proto::identity::v1::Municipality>, crate::Error> {
    use kommune_proto::common::v1::PageRequest;
    use kommune_proto::identity::v1 as id;
    let mut client =
        id::municipality_service_client::MunicipalityServiceClient::new(identity.clone());
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = id::ListMunicipalitiesRequest {
            page: Some(PageRequest {
                page_size: 500,
                page_token,
            }),
        };
        let page = client
            .list_municipalities(on_behalf_of(caller, request))
            .await
            .map_err(|status| {
                tracing::warn!(error = %status, "cannot list municipalities");
                crate::Error::Unavailable(format!(
                    "identity cannot list the municipalities now; retry ({})",
                    status.message()
                ))
            })?
            .into_inner();
        all.extend(page.municipalities);
        page_token = page.page.map(|p| p.next_page_token).unwrap_or_default();
        if page_token.is_empty() {
            return Ok(all);
        }
    }
}

/// The user `user_id` asked of identity on `caller`'s behalf: `None` when identity knows nobody by
/// that id or the caller may not see them (another municipality's user).
pub async fn user(
    identity: &Channel,
    caller: &Caller,
    user_id: &str,
) -> Result<Option<kommune_proto::identity::v1::User>, crate::Error> {
    use kommune_proto::identity::v1 as id;
    let request = id::GetUserRequest {
        user_id: user_id.to_owned(),
    };
    match id::user_service_client::UserServiceClient::new(identity.clone())
        .get_user(on_behalf_of(caller, request))
        .await
    {
        Ok(found) => Ok(found.into_inner().user),
        Err(status)
            if matches!(
                status.code(),
                tonic::Code::NotFound | tonic::Code::PermissionDenied
            ) =>
        {
            Ok(None)
        }
        Err(status) => Err(unavailable(status)),
    }
}

/// The municipality `municipality_id` asked of identity on `caller`'s behalf: `None` when identity
/// knows none by that id.
pub async fn municipality(
    identity: &Channel,
    caller: &Caller,
    municipality_id: &str,
) -> Result<Option<kommune_proto::identity::v1::Municipality>, crate::Error> {
    use kommune_proto::identity::v1 as id;
    let request = id::GetMunicipalityRequest {
        municipality_id: municipality_id.to_owned(),
    };
    match id::municipality_service_client::MunicipalityServiceClient::new(identity.clone())
        .get_municipality(on_behalf_of(caller, request))
        .await
    {
        Ok(found) => Ok(found.into_inner().municipality),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
        Err(status) => Err(unavailable(status)),
    }
}

fn unavailable(status: tonic::Status) -> crate::Error {
    tracing::warn!(error = %status, "cannot ask identity");
    crate::Error::Unavailable("identity cannot answer now; retry".into())
}
