//! The changes service binary.

#[tokio::main]
async fn main() -> Result<(), kommune_platform::BoxError> {
    kommune_platform::service::run::<kommune_changes::Changes>().await
}
