//! Logs and traces.
//!
//! Logs are human-readable by default and JSON with `LOG_FORMAT=json`; every line carries the
//! fields of the spans it is in, so the request id set on a request's outermost span appears
//! in every line that request causes, in every service.
//!
//! Traces always exist: an OpenTelemetry layer gives every span a W3C trace and span id even
//! when nothing exports them, so every call and every event carries a `traceparent`, also when
//! the client sent none. With `OTEL_EXPORTER_OTLP_ENDPOINT` set they go out over OTLP/gRPC.

use std::collections::HashMap;
use std::sync::OnceLock;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Installs the global subscriber once; later calls (as in tests) are ignored.
pub fn init(service: &str) {
    let mut provider = SdkTracerProvider::builder().with_resource(resource(service));
    if crate::config::optional("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() {
        // The exporter reads the endpoint and headers from the standard OTEL_* variables.
        match opentelemetry_otlp::SpanExporter::builder().with_tonic().build() {
            Ok(exporter) => provider = provider.with_batch_exporter(exporter),
            Err(error) => eprintln!("OTLP exporter not started: {error}"),
        }
    }
    install(service, provider.build());
}

/// Installs the subscriber with `exporter` receiving every finished span, synchronously (for
/// tests: an in-memory exporter).
pub fn init_with_exporter(service: &str, exporter: impl SpanExporter + 'static) {
    install(
        service,
        SdkTracerProvider::builder().with_resource(resource(service)).with_simple_exporter(exporter).build(),
    );
}

fn resource(service: &str) -> Resource {
    Resource::builder().with_service_name(service.to_owned()).build()
}

fn install(service: &str, provider: SdkTracerProvider) {
    if PROVIDER.get().is_some() {
        return;
    }
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{service}=info,budgetsmart_common=info")));
    let json = crate::config::string("LOG_FORMAT", "text").eq_ignore_ascii_case("json");
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("budgetsmart")).with_threads(false);
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    let result = if json {
        registry.with(fmt::layer().json().with_current_span(true).with_span_list(true)).try_init()
    } else {
        registry.with(fmt::layer().with_target(true)).try_init()
    };
    // A second init (several services in one test process) is expected and harmless.
    if result.is_ok() {
        let _ = PROVIDER.set(provider);
    }
}

/// Sends the spans still buffered; call before the process exits.
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get() {
        let _ = provider.force_flush();
    }
}

/// Makes `span` a child of the W3C trace context in `traceparent`/`tracestate`, if valid.
pub fn set_parent(span: &tracing::Span, traceparent: Option<&str>, tracestate: Option<&str>) {
    if let Some(parent) = extract(traceparent, tracestate) {
        let _ = span.set_parent(parent);
    }
}

/// The context a W3C `traceparent` (and `tracestate`) names, if there is one.
fn extract(traceparent: Option<&str>, tracestate: Option<&str>) -> Option<opentelemetry::Context> {
    let traceparent = traceparent?;
    let mut carrier = HashMap::new();
    carrier.insert("traceparent".to_owned(), traceparent.to_owned());
    if let Some(state) = tracestate {
        carrier.insert("tracestate".to_owned(), state.to_owned());
    }
    Some(TraceContextPropagator::new().extract(&Carrier(&mut carrier)))
}

/// Links `span` to the trace in `traceparent`: for work done for several traced requests at
/// once (a consumer applying a batch of events), where only one can be the parent.
pub fn add_link(span: &tracing::Span, traceparent: Option<&str>, tracestate: Option<&str>) {
    use opentelemetry::trace::TraceContextExt;
    let Some(linked) = extract(traceparent, tracestate) else { return };
    let context = linked.span().span_context().clone();
    if context.is_valid() {
        span.add_link(context);
    }
}

/// The W3C `traceparent` and `tracestate` of the current span, to send on.
pub fn current_trace_headers() -> (Option<String>, Option<String>) {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new()
        .inject_context(&tracing::Span::current().context(), &mut Carrier(&mut carrier));
    (carrier.remove("traceparent"), carrier.remove("tracestate").filter(|s| !s.is_empty()))
}

/// The current span's trace id as 32 hex digits, if it has one.
pub fn current_trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    let context = tracing::Span::current().context();
    let span = context.span();
    let id = span.span_context();
    id.is_valid().then(|| id.trace_id().to_string())
}

struct Carrier<'a>(&'a mut HashMap<String, String>);

impl Extractor for Carrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

impl Injector for Carrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}
