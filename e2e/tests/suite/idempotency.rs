//! Idempotency-Key recorded by the engine in the creating transaction: when the engine has
//! committed but the answer never reached the client (the gateway died before storing it in
//! Redis), a retry with the same key returns the first resource and creates nothing.

use budgetsmart_proto::common::v1::Money;
use budgetsmart_proto::engine::v1::CreateTransactionRequest;
use budgetsmart_proto::engine::v1::transactions_client::TransactionsClient;
use e2e::{Reply, Session, TestSystem, this_month};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The Redis prefix the harness gives this system's services: `test-<id>:`, where the bus's
/// queue prefix is `test-<id>.`.
fn redis_prefix(system: &TestSystem) -> String {
    format!("{}:", system.bus.queue_prefix.trim_end_matches('.'))
}

/// Deletes the gateway's idempotency records of `owner` (a user id, or `anonymous`), as if the
/// gateway had died between the engine's commit and storing the answer. Returns how many.
async fn lose_gateway_records(system: &TestSystem, owner: &str) -> usize {
    let client = redis::Client::open(e2e::redis_url()).expect("a Redis URL");
    let mut redis = client.get_multiplexed_async_connection().await.expect("Redis is reachable");
    // The record is `<prefix>idem:<owner>:<path>:<sha256 of the key>`; the prefix is this
    // test's own, so the pattern matches nothing of other tests.
    let pattern = format!("{}idem:{owner}:*", redis_prefix(system));
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(&pattern).query_async(&mut redis).await.expect("lists keys");
    if !keys.is_empty() {
        redis::cmd("DEL").arg(&keys).exec_async(&mut redis).await.expect("deletes keys");
    }
    keys.len()
}

async fn post(system: &TestSystem, path: &str, token: Option<&str>, key: &str, body: &Value) -> Reply {
    let mut request =
        system.http.post(format!("{}{path}", system.api)).header("idempotency-key", key).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    e2e::reply(request.send().await.expect("the gateway answers")).await
}

async fn transaction_count(system: &TestSystem, user: &Session) -> usize {
    let listed = system.call(Method::GET, "/transactions", Some(&user.token), None).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    listed.body["data"].as_array().map(Vec::len).unwrap_or_default()
}

#[tokio::test]
async fn a_retry_after_a_lost_answer_returns_the_first_resource() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let housing = system.category_ids(&ana).await["Housing"].clone();
    let body = json!({
        "occurred_on": format!("{}-01", this_month()),
        "description": "Rent",
        "amount": "1200.00",
        "currency": "USD",
        "type": "debit",
        "category_id": housing,
    });

    let first = post(&system, "/transactions", Some(&ana.token), "rent-1", &body).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(lose_gateway_records(&system, &ana.user_id).await, 1);
    let retry = post(&system, "/transactions", Some(&ana.token), "rent-1", &body).await;
    assert_eq!(retry.status, StatusCode::CREATED, "{:?}", retry.body);
    assert_eq!(retry.body["id"], first.body["id"]);
    assert_eq!(retry.body, first.body, "the first answer, exactly");
    assert_eq!(transaction_count(&system, &ana).await, 1);

    // Registration has no caller: its keys are anonymous.
    let email = format!("bea-{}@example.com", uuid::Uuid::now_v7().simple());
    let signup = json!({"email": email, "password": "correct horse battery staple", "name": "Bea"});
    let registered = post(&system, "/auth/register", None, "signup-1", &signup).await;
    assert_eq!(registered.status, StatusCode::CREATED, "{:?}", registered.body);
    assert_eq!(lose_gateway_records(&system, "anonymous").await, 1);
    // Without the engine's record this would be 409: the email exists now.
    let again = post(&system, "/auth/register", None, "signup-1", &signup).await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
    assert_eq!(again.body["id"], registered.body["id"]);
    let engine = system.pool("engine").await;
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE lower(email) = lower($1)")
        .bind(&email)
        .fetch_one(&engine)
        .await
        .expect("counts");
    assert_eq!(accounts, 1);
    engine.close().await;

    system.stop().await;
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused_by_the_engine_too() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let body = json!({"name": "Pets", "kind": "expense"});
    let first = post(&system, "/categories", Some(&ana.token), "pets-1", &body).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(lose_gateway_records(&system, &ana.user_id).await, 1);

    let other = json!({"name": "Plants", "kind": "expense"});
    let refused = post(&system, "/categories", Some(&ana.token), "pets-1", &other).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
    assert!(refused.is_problem());
    assert_eq!(refused.error_fields(), ["Idempotency-Key"]);
    let names = system.category_ids(&ana).await;
    assert!(names.contains_key("Pets") && !names.contains_key("Plants"));

    // The same body still replays.
    assert_eq!(lose_gateway_records(&system, &ana.user_id).await, 1);
    let replayed = post(&system, "/categories", Some(&ana.token), "pets-1", &body).await;
    assert_eq!(replayed.status, StatusCode::CREATED, "{:?}", replayed.body);
    assert_eq!(replayed.body["id"], first.body["id"]);

    // A key is per user: Bob's "pets-1" is his own.
    let bob = system.register_and_login("bob").await;
    let his = post(&system, "/categories", Some(&bob.token), "pets-1", &other).await;
    assert_eq!(his.status, StatusCode::CREATED, "{:?}", his.body);
    assert_ne!(his.body["id"], first.body["id"]);

    system.stop().await;
}

#[tokio::test]
async fn concurrent_calls_with_one_key_create_once() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let housing = system.category_ids(&ana).await["Housing"].clone();
    let channel = system.grpc(system.engine).await;
    let authorization: tonic::metadata::MetadataValue<_> =
        format!("Bearer {}", ana.token).parse().expect("a token is ASCII");
    let create = |key: &str| {
        let mut client = TransactionsClient::new(channel.clone());
        let mut request = tonic::Request::new(CreateTransactionRequest {
            occurred_on: format!("{}-02", this_month()),
            description: "Electricity".into(),
            amount: Some(Money { currency_code: "USD".into(), units: 84, nanos: 500_000_000 }),
            r#type: "debit".into(),
            category_id: Some(housing.clone()),
            notes: None,
            bank_conversion: None,
            account_id: None,
        });
        request.metadata_mut().insert("authorization", authorization.clone());
        request.metadata_mut().insert("idempotency-key", key.parse().expect("an ASCII key"));
        async move { client.create_transaction(request).await }
    };

    // Straight to the engine, no gateway (and no Redis record) in between.
    let (a, b) = tokio::join!(create("power-1"), create("power-1"));
    let (a, b) = (a.expect("created").into_inner(), b.expect("answered").into_inner());
    assert_eq!(a.id, b.id);
    assert_eq!(a, b);
    assert_eq!(transaction_count(&system, &ana).await, 1);

    let too_long = create("k".repeat(256).as_str()).await.expect_err("refused");
    assert_eq!(too_long.code(), tonic::Code::InvalidArgument);
    assert_eq!(transaction_count(&system, &ana).await, 1);

    system.stop().await;
}

/// The key covers the query string too: the same key and body under another query is another
/// request, refused rather than answered with the first one's result (an import's
/// `?account_id=` and `?profile=` will be in its query).
#[tokio::test]
async fn the_same_key_under_another_query_string_is_refused() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let send = |query: &'static str| {
        let url = format!("{}/categories?{query}", system.api);
        let request = system.http.post(url).bearer_auth(&ana.token).header("idempotency-key", "one-key");
        async move {
            let answer =
                request.json(&json!({"name": "Pets", "kind": "expense"})).send().await.expect("answers");
            (answer.status(), answer.headers().contains_key("idempotent-replayed"))
        }
    };
    assert_eq!(send("source=a").await, (StatusCode::CREATED, false));
    assert_eq!(send("source=a").await, (StatusCode::CREATED, true), "the same request replays");
    assert_eq!(
        send("source=b").await.0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "another query is another request"
    );
    system.stop().await;
}
