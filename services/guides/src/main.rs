//! The guides service binary.

#[global_allocator]
static ALLOCATOR: kommune_platform::Allocator = kommune_platform::Allocator;

#[tokio::main]
async fn main() -> Result<(), kommune_platform::BoxError> {
    kommune_platform::service::run::<kommune_guides::Guides>().await
}
