//! Logs, traces and metrics. Traces and metrics are exported over OTLP/gRPC (tonic) when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set; W3C trace context always propagates, so one trace id
//! follows a call from the gateway through every service.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{KeyValue, global};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, TelemetryConfig};

/// Keeps the exporters alive; flushes and shuts them down when dropped (at the end of `main`).
pub struct TelemetryGuard {
    tracer_provider: SdkTracerProvider,
    meter_provider: Option<SdkMeterProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(err) = self.tracer_provider.shutdown() {
            eprintln!("failed to flush traces: {err}");
        }
        if let Some(meters) = &self.meter_provider
            && let Err(err) = meters.shutdown()
        {
            eprintln!("failed to flush metrics: {err}");
        }
    }
}

/// Installs logging, tracing and metrics for the process named `service_name`.
pub fn init(
    service_name: &'static str,
    config: &TelemetryConfig,
) -> Result<TelemetryGuard, crate::BoxError> {
    global::set_text_map_propagator(TraceContextPropagator::new());
    let resource = Resource::builder()
        .with_service_name(service_name)
        .with_attribute(KeyValue::new("service.namespace", "kommune"))
        .build();
    let otlp = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").is_ok_and(|v| !v.is_empty());

    let mut tracer_builder = SdkTracerProvider::builder().with_resource(resource.clone());
    let mut meter_provider = None;
    if otlp {
        let spans = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()?;
        tracer_builder = tracer_builder.with_batch_exporter(spans);
        let metrics = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .build()?;
        let meters = SdkMeterProvider::builder()
            .with_resource(resource)
            .with_periodic_exporter(metrics)
            .build();
        global::set_meter_provider(meters.clone());
        meter_provider = Some(meters);
    }
    // Without an exporter spans are still created, so trace ids exist and propagate.
    let tracer_provider = tracer_builder.build();
    global::set_tracer_provider(tracer_provider.clone());
    let tracer = tracer_provider.tracer(service_name);

    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let fmt = match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer().boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .boxed(),
    };
    // A second init in one process (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .try_init();
    Ok(TelemetryGuard {
        tracer_provider,
        meter_provider,
    })
}
