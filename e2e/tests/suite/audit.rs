//! The audit log: a user's security events at GET /me/audit, newest first, with the client's
//! address and user agent, visible to that user only.

use std::time::Duration;

use e2e::{Reply, TestSystem};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const AGENT: &str = "budgetsmart-e2e/1.0 (audit test)";

/// Like `TestSystem::call`, with a `User-Agent` (reqwest sends none by default).
async fn send(
    system: &TestSystem,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let url = format!("{}{path}", system.api);
    let mut request = system.http.request(method, url).header("user-agent", AGENT);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    e2e::reply(request.send().await.expect("the gateway answers")).await
}

fn kinds(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| e["kind"].as_str().expect("a kind").to_owned())
        .collect()
}

#[tokio::test]
async fn security_events_are_listed_newest_first_for_their_owner_only() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let bob = system.register_and_login("bob").await;

    let wrong = json!({"email": ana.email, "password": "not the password at all"});
    let refused = send(&system, Method::POST, "/auth/login", None, Some(wrong)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let right = json!({"email": ana.email, "password": ana.password});
    let login = send(&system, Method::POST, "/auth/login", None, Some(right)).await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
    let token = login.body["access_token"].as_str().expect("access token").to_owned();
    let refresh = login.body["refresh_token"].as_str().expect("refresh token").to_owned();

    // Rotate once, then present the old token again: that is reuse.
    let rotated =
        send(&system, Method::POST, "/auth/refresh", None, Some(json!({"refresh_token": refresh}))).await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    let reused =
        send(&system, Method::POST, "/auth/refresh", None, Some(json!({"refresh_token": refresh}))).await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);

    let password =
        json!({"current_password": ana.password, "new_password": "a different horse battery staple"});
    let changed = send(&system, Method::POST, "/me/password", Some(&token), Some(password)).await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{:?}", changed.body);
    // The access token outlives the revoked sessions (it expires on its own).
    let updated = send(&system, Method::PATCH, "/me", Some(&token), Some(json!({"name": "Ana Maria"}))).await;
    assert_eq!(updated.status, StatusCode::OK, "{:?}", updated.body);

    let expected = [
        "profile_updated",
        "password_changed",
        "refresh_token_reused",
        "login_succeeded",
        "login_failed",
        // The login and the address's verification of register_and_login.
        "email_verified",
        "login_succeeded",
    ];
    // The failed login's row is written off the response path (so timing reveals nothing);
    // give it a moment.
    let page = e2e::eventually(Duration::from_secs(5), || async {
        let page = send(&system, Method::GET, "/me/audit", Some(&token), None).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        (kinds(&page.body).len() >= expected.len()).then_some(page.body)
    })
    .await
    .expect("every event is listed");
    assert_eq!(kinds(&page), expected, "{page}");
    assert!(page["next_cursor"].is_null());
    let events = page["data"].as_array().expect("a list").clone();
    for (index, event) in events.iter().enumerate() {
        assert!(event["id"].is_string() && event["occurred_at"].is_string(), "{event}");
        assert!(event["ip"].is_string(), "the client's address is recorded: {event}");
        assert!(event["detail"].is_object(), "{event}");
        // All but the harness's own login and verification sent the test's user agent.
        if index + 2 < events.len() {
            assert_eq!(event["user_agent"], AGENT, "{event}");
        }
    }
    assert_eq!(events[0]["detail"]["fields"], json!(["name"]));
    assert_eq!(events[4]["detail"]["reason"], "wrong_password");
    let mut times: Vec<&str> = events.iter().filter_map(|e| e["occurred_at"].as_str()).collect();
    let newest_first = times.clone();
    times.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(times, newest_first);

    // Pages of two walk the same list.
    let mut walked = Vec::new();
    let mut path = "/me/audit?limit=2".to_owned();
    loop {
        let page = send(&system, Method::GET, &path, Some(&token), None).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        assert!(kinds(&page.body).len() <= 2);
        walked.extend(page.body["data"].as_array().expect("a list").iter().map(|e| e["id"].clone()));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/me/audit?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let ids: Vec<Value> = events.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(walked, ids);
    let bad_cursor = send(&system, Method::GET, "/me/audit?cursor=bm90LWEtdXVpZA", Some(&token), None).await;
    assert_eq!(bad_cursor.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Bob sees his own login and verification only, none of Ana's events.
    let theirs = send(&system, Method::GET, "/me/audit", Some(&bob.token), None).await;
    assert_eq!(theirs.status, StatusCode::OK, "{:?}", theirs.body);
    assert_eq!(kinds(&theirs.body), ["email_verified", "login_succeeded"]);
    assert!(theirs.body["data"].as_array().expect("a list").iter().all(|e| !ids.contains(&e["id"])));

    let anonymous = send(&system, Method::GET, "/me/audit", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(anonymous.is_problem());

    system.stop().await;
}

#[tokio::test]
async fn deleting_the_account_takes_its_audit_log_with_it() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let db = system.pool("engine").await;
    let user_id = uuid::Uuid::parse_str(&ana.user_id).expect("a uuid");
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM audit_events WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&db)
            .await
            .expect("counts")
    };
    assert_eq!(count().await, 2, "the login and the address's verification");
    let deleted = send(&system, Method::DELETE, "/me", Some(&ana.token), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{:?}", deleted.body);
    assert_eq!(count().await, 0);
    db.close().await;
    system.stop().await;
}
