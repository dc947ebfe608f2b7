//! The server side of every gRPC call: a span that continues the caller's trace and carries
//! its request id, and RED metrics (rate, errors, duration) per method.

use std::time::Instant;

use tracing::Instrument;

/// Wraps each backend's gRPC services; `service` names the backend in spans and metrics.
#[derive(Debug, Clone, Copy)]
pub struct ObserveLayer {
    /// `engine`, `analytics` or `notification`.
    pub service: &'static str,
}

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe { inner, service: self.service }
    }
}

/// See [`ObserveLayer`].
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    service: &'static str,
}

impl<S, B, R> tower::Service<http::Request<B>> for Observe<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = futures_util::future::BoxFuture<'static, Result<http::Response<R>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
        let method = request.uri().path().to_owned();
        let service = self.service;
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %method,
            otel.kind = "server",
            rpc.system = "grpc",
            service,
            request_id = header(crate::headers::REQUEST_ID).unwrap_or(""),
            rpc.grpc.status_code = tracing::field::Empty,
        );
        crate::telemetry::set_parent(&span, header("traceparent"), header("tracestate"));
        let started = Instant::now();
        let call = self.inner.call(request);
        Box::pin(
            async move {
                let outcome = call.await;
                // Unary errors are trailers-only, so the status is in the headers; a response
                // without one in its headers is an OK whose status follows in the trailers.
                let code = match &outcome {
                    Ok(response) => response
                        .headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<i32>().ok())
                        .unwrap_or(0),
                    Err(_) => 2,
                };
                let name = format!("{:?}", tonic::Code::from_i32(code));
                // An unknown path is the caller's text: one series for all of them.
                let method = if code == tonic::Code::Unimplemented as i32 { "unknown".to_owned() } else { method };
                tracing::Span::current().record("rpc.grpc.status_code", code);
                metrics::counter!("grpc_server_requests_total", "service" => service, "method" => method.clone(), "code" => name)
                    .increment(1);
                metrics::histogram!("grpc_server_duration_seconds", "service" => service, "method" => method)
                    .record(started.elapsed().as_secs_f64());
                outcome
            }
            .instrument(span),
        )
    }
}
