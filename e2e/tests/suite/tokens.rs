//! Token handling: bad access tokens get 401 at the gateway, backends refuse calls without a
//! valid token, and a reused refresh token revokes its whole family.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use budgetsmart_common::jwt::{Claims, TokenSigner};
use budgetsmart_common::keys::KeyMaterial;
use budgetsmart_proto::analytics::v1::ListModelsRequest;
use budgetsmart_proto::analytics::v1::analytics_client::AnalyticsClient;
use budgetsmart_proto::engine::v1::auth_client::AuthClient;
use budgetsmart_proto::engine::v1::users_client::UsersClient;
use budgetsmart_proto::engine::v1::{GetMeRequest, LoginRequest};
use e2e::TestSystem;
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn bad_access_tokens_are_refused_everywhere() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let user = Uuid::parse_str(&ana.user_id).expect("uuid");
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64, aud: &str| Claims {
        iss: system.tokens.issuer.clone(),
        aud: aud.to_owned(),
        sub: user,
        exp,
        iat: now - 60,
        jti: Uuid::now_v7(),
        sid: None,
    };
    let signer = TokenSigner::new(&system.keys, &system.tokens, 900).expect("signer");
    let stranger = TokenSigner::new(&KeyMaterial::generate(), &system.tokens, 900).expect("signer");

    let expired = signer.sign(&claims(now - 3600, &system.tokens.audience)).expect("signs");
    let wrong_audience = signer.sign(&claims(now + 600, "another-api")).expect("signs");
    let foreign_key = stranger.sign(&claims(now + 600, &system.tokens.audience)).expect("signs");
    // A real token whose payload was edited (another user): the signature no longer matches.
    let valid = signer.sign(&claims(now + 600, &system.tokens.audience)).expect("signs");
    let parts: Vec<&str> = valid.split('.').collect();
    let forged_body = URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&claims(now + 600, &system.tokens.audience)).expect("json"));
    let tampered = format!("{}.{forged_body}.{}", parts[0], parts[2]);
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&claims(now + 600, &system.tokens.audience)).expect("json"))
    );

    assert_eq!(system.call(Method::GET, "/me", Some(&valid), None).await.status, StatusCode::OK);
    for (name, token) in [
        ("expired", expired.as_str()),
        ("wrong audience", &wrong_audience),
        ("wrong key", &foreign_key),
        ("tampered", &tampered),
        ("alg none", &unsigned),
        ("garbage", "not-a-jwt"),
    ] {
        let reply = system.call(Method::GET, "/me", Some(token), None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(reply.is_problem(), "{name}");
        assert!(reply.headers.contains_key("www-authenticate"), "{name}");
    }
    assert_eq!(system.call(Method::GET, "/transactions", None, None).await.status, StatusCode::UNAUTHORIZED);

    // Straight to the backends, past the gateway: still refused.
    let engine = system.grpc(system.engine).await;
    let no_token = UsersClient::new(engine.clone()).get_me(GetMeRequest {}).await.expect_err("refused");
    assert_eq!(no_token.code(), tonic::Code::Unauthenticated);
    let mut forged = tonic::Request::new(GetMeRequest {});
    forged.metadata_mut().insert("authorization", format!("Bearer {foreign_key}").parse().expect("ascii"));
    assert_eq!(
        UsersClient::new(engine.clone()).get_me(forged).await.expect_err("refused").code(),
        tonic::Code::Unauthenticated
    );
    let analytics = system.grpc(system.analytics).await;
    let refused =
        AnalyticsClient::new(analytics).list_models(ListModelsRequest::default()).await.expect_err("refused");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let mut good = tonic::Request::new(GetMeRequest {});
    good.metadata_mut().insert("authorization", format!("Bearer {}", ana.token).parse().expect("ascii"));
    assert_eq!(UsersClient::new(engine).get_me(good).await.expect("allowed").into_inner().id, ana.user_id);

    system.stop().await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;

    let rotated =
        system.call(Method::POST, "/auth/refresh", None, Some(json!({"refresh_token": ana.refresh}))).await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    assert_eq!(rotated.body["token_type"], "Bearer");
    let second = rotated.body["refresh_token"].as_str().expect("new token").to_owned();
    assert_ne!(second, ana.refresh);
    let access = rotated.body["access_token"].as_str().expect("access").to_owned();
    assert_eq!(system.call(Method::GET, "/me", Some(&access), None).await.status, StatusCode::OK);

    // The old token comes back: that is theft or a bug, so the whole family dies.
    let reused =
        system.call(Method::POST, "/auth/refresh", None, Some(json!({"refresh_token": ana.refresh}))).await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);
    let after =
        system.call(Method::POST, "/auth/refresh", None, Some(json!({"refresh_token": second}))).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "the newest token of the family is revoked too");

    // Logout revokes; another login's family is unaffected by the first one's fate.
    let login = system
        .call(Method::POST, "/auth/login", None, Some(json!({"email": ana.email, "password": ana.password})))
        .await;
    let fresh = login.body["refresh_token"].as_str().expect("token").to_owned();
    let logout = system.call(Method::POST, "/auth/logout", None, Some(json!({"refresh_token": fresh}))).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    let dead = system.call(Method::POST, "/auth/refresh", None, Some(json!({"refresh_token": fresh}))).await;
    assert_eq!(dead.status, StatusCode::UNAUTHORIZED);

    system.stop().await;
}

/// A session whose account is gone mints no more access tokens, even when the revocation
/// that should have ended it never happened (here: the row deleted behind the engine's back).
#[tokio::test]
async fn a_refresh_for_an_account_that_is_gone_is_refused() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let db = sqlx::PgPool::connect(&system.database_url).await.expect("database");
    let user = Uuid::parse_str(&ana.user_id).expect("uuid");
    sqlx::query("DELETE FROM engine.users WHERE id = $1").bind(user).execute(&db).await.expect("deleted");
    let refused =
        system.call(Method::POST, "/auth/refresh", None, Some(json!({"refresh_token": ana.refresh}))).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{:?}", refused.body);
    system.stop().await;
}

#[tokio::test]
async fn logins_are_throttled_per_account() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let wrong = json!({"email": ana.email, "password": "not the password at all"});
    for _ in 0..5 {
        let reply = system.call(Method::POST, "/auth/login", None, Some(wrong.clone())).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let throttled = system
        .call(Method::POST, "/auth/login", None, Some(json!({"email": ana.email, "password": ana.password})))
        .await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 =
        throttled.headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!(retry_after > 0 && retry_after <= 900);
    system.stop().await;
}

/// A login straight to the engine's Auth service, vouched for as the gateway does, from `ip`;
/// the gRPC code of the answer.
async fn login_from(system: &TestSystem, email: &str, password: &str, ip: &str) -> tonic::Code {
    login_as(system, email, password, ip, Some(e2e::TEST_GATEWAY_TOKEN)).await
}

/// A login straight to the engine naming `ip`, with `credential` as `x-gateway-token`.
async fn login_as(
    system: &TestSystem,
    email: &str,
    password: &str,
    ip: &str,
    credential: Option<&str>,
) -> tonic::Code {
    let mut auth = AuthClient::connect(format!("http://{}", system.engine)).await.expect("engine");
    let body =
        LoginRequest { email: email.to_owned(), password: password.to_owned(), client_ip: ip.to_owned() };
    let mut request = tonic::Request::new(body);
    if let Some(credential) = credential {
        request
            .metadata_mut()
            .insert(budgetsmart_common::grpc::GATEWAY_TOKEN, credential.parse().expect("ascii"));
    }
    match auth.login(request).await {
        Ok(_) => tonic::Code::Ok,
        Err(status) => status.code(),
    }
}

/// Guesses from elsewhere slow the guessers, not the owner: one address is locked out after
/// five failures, and many addresses together after the account's limit for unknown clients
/// (12 in tests), but the address the owner logged in from before still gets in.
#[tokio::test]
async fn guesses_from_elsewhere_do_not_lock_out_the_owner() {
    use tonic::Code;
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let home = "198.51.100.7";
    assert_eq!(login_from(&system, &ana.email, &ana.password, home).await, Code::Ok);

    for _ in 0..5 {
        assert_eq!(
            login_from(&system, &ana.email, "a wrong guess!", "203.0.113.1").await,
            Code::Unauthenticated
        );
    }
    assert_eq!(
        login_from(&system, &ana.email, &ana.password, "203.0.113.1").await,
        Code::ResourceExhausted,
        "the guessing address is locked out for this account"
    );
    assert_eq!(login_from(&system, &ana.email, &ana.password, home).await, Code::Ok, "the owner is not");

    // Spread over addresses: 5 + 5 + 2 more failures reach the account's limit of 12.
    for (ip, n) in [("203.0.113.2", 5), ("203.0.113.3", 2)] {
        for _ in 0..n {
            assert_eq!(login_from(&system, &ana.email, "a wrong guess!", ip).await, Code::Unauthenticated);
        }
    }
    assert_eq!(
        login_from(&system, &ana.email, &ana.password, "203.0.113.9").await,
        Code::ResourceExhausted,
        "a new address is held back once unknown addresses used the account's allowance"
    );
    assert_eq!(
        login_from(&system, &ana.email, &ana.password, home).await,
        Code::Ok,
        "the owner still gets in"
    );
    system.stop().await;
}

/// Check and count are one step: of 20 parallel guesses from one address, at most 5 are
/// checked at all; the rest are refused before any password work.
#[tokio::test]
async fn parallel_guesses_cannot_outrun_the_throttle() {
    use tonic::Code;
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let guesses = (0..20).map(|i| {
        login_from(
            &system,
            &ana.email,
            if i % 2 == 0 { "guess one!!" } else { "guess two!!" },
            "203.0.113.50",
        )
    });
    let codes = futures_util::future::join_all(guesses).await;
    let checked = codes.iter().filter(|c| **c == Code::Unauthenticated).count();
    let refused = codes.iter().filter(|c| **c == Code::ResourceExhausted).count();
    assert!(checked <= 5, "{checked} guesses were checked: {codes:?}");
    assert_eq!(checked + refused, 20, "{codes:?}");
    system.stop().await;
}

/// The email is bounded before it reaches Redis or the database.
#[tokio::test]
async fn an_overlong_login_email_is_invalid() {
    let system = TestSystem::start().await;
    let email = format!("{}@example.com", "a".repeat(10_000));
    assert_eq!(
        login_from(&system, &email, "whatever password", "203.0.113.60").await,
        tonic::Code::InvalidArgument
    );
    let reply = system
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"email": email, "password": "whatever password"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);
    system.stop().await;
}

/// A stolen access token cannot be used to guess the current password without limit.
#[tokio::test]
async fn password_change_guesses_are_throttled() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let guess = json!({"current_password": "not the password", "new_password": "a brand new passphrase"});
    for _ in 0..5 {
        let reply = system.call(Method::POST, "/me/password", Some(&ana.token), Some(guess.clone())).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);
    }
    let right = json!({"current_password": ana.password, "new_password": "a brand new passphrase"});
    let throttled = system.call(Method::POST, "/me/password", Some(&ana.token), Some(right)).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", throttled.body);
    assert!(throttled.headers.contains_key("retry-after"));
    system.stop().await;
}

/// An access token outlives its account by up to 15 minutes; writes with it are refused as
/// unauthenticated (they were 500: the insert broke the owner's foreign key).
#[tokio::test]
async fn writes_with_the_token_of_a_deleted_account_are_401() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let deleted = system.call(Method::DELETE, "/me", Some(&ana.token), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{:?}", deleted.body);
    let month = e2e::this_month();
    let writes = [
        (
            "/transactions",
            json!({"occurred_on": format!("{month}-02"), "description": "Coffee", "amount": "3.50", "currency": "USD", "type": "debit"}),
        ),
        ("/categories", json!({"name": "Pets", "kind": "expense"})),
        ("/budgets", json!({"month": month, "currency": "USD", "total_limit": "100.00"})),
    ];
    for (path, body) in writes {
        let reply = system.call(Method::POST, path, Some(&ana.token), Some(body)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}: {:?}", reply.body);
    }
    system.stop().await;
}

/// A caller that is not the gateway cannot name a new client address for every guess: without
/// the gateway's credential (or with a wrong one) it is throttled by its own address.
#[tokio::test]
async fn only_the_gateway_is_believed_about_the_client_address() {
    use tonic::Code;
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let forged = Some("not-the-gateway-token-but-long-enough-to-look-real");
    for i in 0..5 {
        let ip = format!("203.0.113.{}", 100 + i);
        let credential = if i % 2 == 0 { None } else { forged };
        assert_eq!(
            login_as(&system, &ana.email, "a wrong guess!", &ip, credential).await,
            Code::Unauthenticated
        );
    }
    assert_eq!(
        login_as(&system, &ana.email, "a wrong guess!", "203.0.113.200", None).await,
        Code::ResourceExhausted,
        "five guesses from one real address, whatever addresses they named"
    );
    system.stop().await;
}

/// Idempotency records in Redis do not hold a plain hash of the body (a register body holds
/// the password): the fingerprint is keyed.
#[tokio::test]
async fn idempotency_fingerprints_are_keyed() {
    use sha2::Digest;
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let system = TestSystem::start().await;
    let key = format!("register-{}", Uuid::now_v7());
    let body = json!({"email": format!("ivy-{}@example.com", Uuid::now_v7().simple()), "password": "correct horse battery staple", "name": "Ivy"});
    let reply = system
        .http
        .post(format!("{}/auth/register", system.api))
        .header("idempotency-key", &key)
        .json(&body)
        .send()
        .await
        .expect("gateway");
    assert_eq!(reply.status(), StatusCode::CREATED);
    let plain = hex(&sha2::Sha256::digest(serde_json::to_vec(&body).expect("json")));
    let redis = redis::Client::open(e2e::redis_url()).expect("redis");
    let mut conn = redis.get_multiplexed_async_connection().await.expect("redis");
    let pattern = format!("*idem:anonymous:*:{}", hex(&sha2::Sha256::digest(key.as_bytes())));
    let keys: Vec<String> = redis::cmd("KEYS").arg(pattern).query_async(&mut conn).await.expect("keys");
    assert_eq!(keys.len(), 1, "{keys:?}");
    let record: String = redis::cmd("GET").arg(&keys[0]).query_async(&mut conn).await.expect("record");
    assert!(record.contains("\"fingerprint\""), "{record}");
    assert!(!record.contains(&plain), "the body's plain SHA-256 is stored: {record}");
    system.stop().await;
}

/// A deleted account's access token still verifies until it expires; the gateway refuses it
/// everywhere with 401, on the replica that deleted it at once and on the others once
/// `user_deleted` reaches them, rather than letting the backends answer 404 or worse.
#[tokio::test]
async fn a_deleted_accounts_token_is_refused_everywhere() {
    let mut system = TestSystem::start().await;
    let other_replica = system.another_gateway().await;
    let ana = system.register_and_login("ana").await;
    let deleted = system.call(Method::DELETE, "/me", Some(&ana.token), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{:?}", deleted.body);
    for (method, path) in [
        (Method::GET, "/me"),
        (Method::POST, "/notifications/summary"),
        (Method::GET, "/analytics/summary"),
        (Method::GET, "/budgets"),
        (Method::GET, "/events/stream"),
    ] {
        let answer = system.call(method.clone(), path, Some(&ana.token), None).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {path}: {:?}", answer.body);
        assert!(answer.headers.contains_key("www-authenticate"));
    }
    let refused = e2e::eventually(std::time::Duration::from_secs(10), || {
        let request = system.http.get(format!("{other_replica}/me")).bearer_auth(&ana.token).send();
        async move { (request.await.expect("answers").status() == StatusCode::UNAUTHORIZED).then_some(()) }
    })
    .await;
    assert!(refused.is_some(), "the other replica learns it from the bus");
    system.stop().await;
}

/// `GET /me/sessions` lists each login with where it came from and marks the caller's own;
/// ending one stops its refresh token, and ending "all others" leaves only the current one.
#[tokio::test]
async fn sessions_are_listed_and_can_be_ended_one_or_all_but_the_current() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let login = |agent: &'static str| {
        let request = system
            .http
            .post(format!("{}/auth/login", system.api))
            .header("user-agent", agent)
            .json(&json!({"email": ana.email, "password": ana.password}));
        async move {
            let answer = request.send().await.expect("answers");
            assert_eq!(answer.status(), StatusCode::OK);
            answer.json::<serde_json::Value>().await.expect("json")
        }
    };
    let phone = login("Phone/1.0").await;
    let laptop = login("Laptop/2.0").await;
    let laptop_token = laptop["access_token"].as_str().expect("token");
    let listed = system.call(Method::GET, "/me/sessions", Some(laptop_token), None).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    let data = listed.body["data"].as_array().expect("data").clone();
    assert_eq!(data.len(), 3, "the harness's login, the phone and the laptop: {data:?}");
    let current: Vec<&serde_json::Value> = data.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["client"], "Laptop/2.0");
    assert_eq!(data[0]["client"], "Laptop/2.0", "newest first");
    let phone_session = data.iter().find(|s| s["client"] == "Phone/1.0").expect("the phone");
    assert!(phone_session["ip"].is_string() && phone_session["last_used_at"].is_string(), "{phone_session}");

    // End the phone's: its refresh token stops working.
    let id = phone_session["id"].as_str().expect("id");
    let ended = system.call(Method::DELETE, &format!("/me/sessions/{id}"), Some(laptop_token), None).await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT, "{:?}", ended.body);
    let refresh = json!({"refresh_token": phone["refresh_token"]});
    let refused = system.call(Method::POST, "/auth/refresh", None, Some(refresh)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let again = system.call(Method::DELETE, &format!("/me/sessions/{id}"), Some(laptop_token), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let stranger = system.register_and_login("eve").await;
    let theirs = data.iter().find(|s| s["current"] == false && s["client"] != "Phone/1.0").expect("another");
    let foreign = format!("/me/sessions/{}", theirs["id"].as_str().expect("id"));
    let refused = system.call(Method::DELETE, &foreign, Some(&stranger.token), None).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "another user's session is not theirs to end");

    // End all others: only the laptop's is left, and it still refreshes.
    let others = system.call(Method::DELETE, "/me/sessions", Some(laptop_token), None).await;
    assert_eq!(others.status, StatusCode::NO_CONTENT);
    let left = system.call(Method::GET, "/me/sessions", Some(laptop_token), None).await;
    let left = left.body["data"].as_array().expect("data").clone();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["current"], true);
    let refresh = json!({"refresh_token": laptop["refresh_token"]});
    assert_eq!(system.call(Method::POST, "/auth/refresh", None, Some(refresh)).await.status, StatusCode::OK);
    let refresh = json!({"refresh_token": ana.refresh});
    assert_eq!(
        system.call(Method::POST, "/auth/refresh", None, Some(refresh)).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The audit log says so.
    let kinds = system.audit_kinds(laptop_token).await;
    assert_eq!(kinds.iter().filter(|k| **k == "session_ended").count(), 2, "{kinds:?}");
    system.stop().await;
}
