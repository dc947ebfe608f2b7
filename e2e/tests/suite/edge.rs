//! The gateway as a production edge: rate limits, circuit breakers, hardening, metrics.

use std::time::{Duration, Instant};

use e2e::{Options, TestSystem, eventually, this_month};
use gateway::breaker::BreakerConfig;
use gateway::limits::{Limit, RateLimitConfig, Store};
use reqwest::{Method, StatusCode};
use serde_json::json;

fn tight(user: Limit, store: Store) -> RateLimitConfig {
    let loose = Limit { per_minute: 1_000_000, burst: 100_000 };
    RateLimitConfig { enabled: true, auth: loose, public: loose, user, store }
}

async fn over_the_limit_gets_429_and_another_user_is_unaffected(store: Store) {
    let system = TestSystem::start_with(Options {
        rate_limits: Some(tight(Limit { per_minute: 6, burst: 5 }, store)),
        ..Options::default()
    })
    .await;
    let ana = system.register_and_login("ana").await;
    let ben = system.register_and_login("ben").await;

    let mut remaining = Vec::new();
    for _ in 0..5 {
        let reply = system.call(Method::GET, "/categories", Some(&ana.token), None).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.headers["ratelimit-limit"], "5");
        remaining.push(reply.headers["ratelimit-remaining"].to_str().expect("ascii").to_owned());
    }
    assert_eq!(remaining, ["4", "3", "2", "1", "0"]);

    let refused = system.call(Method::GET, "/categories", Some(&ana.token), None).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.is_problem());
    let retry_after: u64 = refused.headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=10).contains(&retry_after), "one request comes back every 10 s: {retry_after}");
    assert_eq!(refused.headers["ratelimit-remaining"], "0");
    assert!(refused.headers.contains_key("ratelimit-reset"));

    // Ben has his own bucket.
    let other = system.call(Method::GET, "/categories", Some(&ben.token), None).await;
    assert_eq!(other.status, StatusCode::OK, "another user is unaffected");
    // Probes are never limited.
    let health = system.http.get(format!("http://{}/healthz", system.gateway)).send().await.expect("answers");
    assert_eq!(health.status(), StatusCode::OK);
    system.stop().await;
}

#[tokio::test]
async fn rate_limit_per_user_in_memory() {
    over_the_limit_gets_429_and_another_user_is_unaffected(Store::Memory).await;
}

#[tokio::test]
async fn rate_limit_per_user_shared_in_redis() {
    over_the_limit_gets_429_and_another_user_is_unaffected(Store::Redis).await;
}

#[tokio::test]
async fn login_is_limited_per_client_ip() {
    let loose = Limit { per_minute: 1_000_000, burst: 100_000 };
    let system = TestSystem::start_with(Options {
        rate_limits: Some(RateLimitConfig {
            enabled: true,
            auth: Limit { per_minute: 2, burst: 3 },
            public: loose,
            user: loose,
            store: Store::Memory,
        }),
        ..Options::default()
    })
    .await;
    let body = json!({"email": "nobody@example.com", "password": "wrong password!"});
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(system.call(Method::POST, "/auth/login", None, Some(body.clone())).await.status);
    }
    assert_eq!(statuses[..3], [StatusCode::UNAUTHORIZED; 3]);
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS);
    // The refusal is in the route's RED metrics: the metrics layer sits outside the limiter.
    let metrics =
        system.http.get(format!("http://{}/metrics", system.gateway_admin)).send().await.expect("answers");
    let text = metrics.text().await.expect("text");
    assert!(
        text.contains("http_requests_total{method=\"POST\",route=\"/api/v1/auth/login\",status=\"429\"} 1"),
        "{text}"
    );
    system.stop().await;
}

#[tokio::test]
async fn breaker_fails_fast_while_the_engine_is_cut_and_recovers_by_itself() {
    let system = TestSystem::start_with(Options {
        engine_proxy: true,
        breaker: Some(BreakerConfig {
            consecutive: 3,
            failure_ratio: 0.5,
            min_calls: 20,
            window: Duration::from_secs(10),
            open_for: Duration::from_millis(500),
        }),
        ..Options::default()
    })
    .await;
    let ana = system.register_and_login("ana").await;
    let proxy = system.engine_proxy.as_ref().expect("the engine is behind a proxy");

    proxy.cut();
    // Failures until the breaker opens (each a quick connection refusal or reset).
    let mut opened = false;
    for _ in 0..20 {
        let reply = system.call(Method::GET, "/categories", Some(&ana.token), None).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
        assert!(reply.is_problem());
        if reply.body["detail"].as_str().is_some_and(|d| d.contains("unavailable"))
            && reply.headers.contains_key("retry-after")
        {
            let started = Instant::now();
            let fast = system.call(Method::GET, "/categories", Some(&ana.token), None).await;
            let took = started.elapsed();
            if fast.status == StatusCode::SERVICE_UNAVAILABLE && took < Duration::from_millis(5) {
                opened = true;
                break;
            }
        }
    }
    assert!(opened, "once open, the gateway answers 503 in under 5 ms");

    // Another backend's routes still work, and readiness says degraded, not down.
    let insights = system.call(Method::GET, "/analytics/recurring", Some(&ana.token), None).await;
    assert_eq!(insights.status, StatusCode::OK, "{insights:?}");
    let ready = system.http.get(format!("http://{}/readyz", system.gateway)).send().await.expect("answers");
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(ready["status"], "degraded", "{ready}");

    proxy.restore();
    let recovered = eventually(Duration::from_secs(10), || async {
        let reply = system.call(Method::GET, "/categories", Some(&ana.token), None).await;
        (reply.status == StatusCode::OK).then_some(())
    })
    .await;
    assert!(recovered.is_some(), "the breaker closes by itself when the path returns");
    let metrics =
        system.http.get(format!("http://{}/metrics", system.gateway)).send().await.expect("answers");
    let text = metrics.text().await.expect("text");
    assert!(text.contains("gateway_breaker_state{upstream=\"engine\"}"), "breaker state is exported");
    system.stop().await;
}

#[tokio::test]
async fn edge_hardening_answers_problems_and_sets_security_headers() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;

    // NUL characters are refused at the edge, naming the field, in bodies and queries.
    let nul = json!({"occurred_on": format!("{}-01", this_month()), "description": "Coffee\u{0}", "amount": "3.50", "currency": "USD", "type": "debit"});
    let reply = system.call(Method::POST, "/transactions", Some(&ana.token), Some(nul)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    assert_eq!(reply.error_fields(), ["description"]);
    let reply = system
        .call(
            Method::POST,
            "/categories",
            Some(&ana.token),
            Some(json!({"name": "a\u{0}b", "kind": "expense"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    let reply = system.call(Method::GET, "/transactions?q=a%00b", Some(&ana.token), None).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    assert_eq!(reply.error_fields(), ["q"]);

    // 405 and 404 are problem+json too.
    let reply = system.call(Method::PUT, "/transactions", Some(&ana.token), None).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(reply.is_problem(), "{reply:?}");
    let reply = system.call(Method::GET, "/nothing-here", Some(&ana.token), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.is_problem());

    // A body over the limit is 413 problem+json.
    let huge = "x".repeat(7 * 1024 * 1024);
    let response = system
        .http
        .post(format!("{}/categories", system.api))
        .bearer_auth(&ana.token)
        .header("content-type", "application/json")
        .body(format!("{{\"name\":\"{huge}\",\"kind\":\"expense\"}}"))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let reply = system.call(Method::GET, "/me", Some(&ana.token), None).await;
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert_eq!(reply.headers[name], value, "{name}");
    }
    assert!(reply.headers["content-security-policy"].to_str().expect("ascii").contains("default-src 'none'"));

    // RED metrics per route template, never per raw path.
    let text = system
        .http
        .get(format!("http://{}/metrics", system.gateway))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("text");
    assert!(
        text.contains("http_requests_total{method=\"GET\",route=\"/api/v1/me\",status=\"200\"}"),
        "{text}"
    );
    assert!(text.contains("http_request_duration_seconds_bucket"), "latency is a histogram");

    // Through a proxy, the public port does not show metrics; the admin port does.
    let relayed = system
        .http
        .get(format!("http://{}/metrics", system.gateway))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .expect("answers");
    assert_eq!(relayed.status(), StatusCode::NOT_FOUND);
    let admin =
        system.http.get(format!("http://{}/metrics", system.gateway_admin)).send().await.expect("answers");
    assert_eq!(admin.status(), StatusCode::OK);
    assert!(admin.text().await.expect("text").contains("http_requests_total"));
    system.stop().await;
}

/// `API_DOCS=false`: a deployment that does not want its API mapped for every visitor serves
/// neither Swagger UI nor the document; the API itself is unchanged.
#[tokio::test]
async fn the_api_documents_can_be_switched_off() {
    let mut system = TestSystem::start().await;
    let listed =
        system.http.get(format!("{}/openapi.json", system.api.trim_end_matches("/api/v1"))).send().await;
    assert_eq!(listed.expect("answers").status(), StatusCode::OK, "on by default");
    let quiet = system.another_gateway_with(|config| config.api_docs = false).await;
    let root = quiet.trim_end_matches("/api/v1").to_owned();
    for path in ["/openapi.json", "/docs", "/docs/"] {
        let answer = system.http.get(format!("{root}{path}")).send().await.expect("answers");
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let health = system.http.get(format!("{root}/healthz")).send().await.expect("answers");
    assert_eq!(health.status(), StatusCode::OK);
    let login = system
        .http
        .post(format!("{quiet}/auth/login"))
        .json(&json!({"email": "nobody@example.com", "password": "wrong password here"}))
        .send()
        .await
        .expect("answers");
    assert_eq!(login.status(), StatusCode::UNAUTHORIZED, "the API still answers");
    system.stop().await;
}

/// `/readyz` is public and fans out to every backend, so it answers from a probe at most a
/// second old: a cut made just after a probe shows a second later, not at once.
#[tokio::test]
async fn readiness_is_probed_at_most_once_a_second() {
    let system = TestSystem::start_with(Options { engine_proxy: true, ..Options::default() }).await;
    let ready = |system: &TestSystem| {
        let url = format!("http://{}/readyz", system.gateway);
        let http = system.http.clone();
        async move {
            let answer = http.get(url).send().await.expect("answers");
            let body: serde_json::Value = answer.json().await.expect("json");
            body["status"].as_str().unwrap_or_default().to_owned()
        }
    };
    assert_eq!(ready(&system).await, "ready");
    system.engine_proxy.as_ref().expect("the engine is behind a proxy").cut();
    assert_eq!(ready(&system).await, "ready", "the answer of a moment ago");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(ready(&system).await, "degraded", "a second later, a new probe");
    system.stop().await;
}
