//! The rest of the contract: idempotent POSTs, CSV import, categories, pagination and
//! filters, the profile, and the operational endpoints.

use e2e::{TestSystem, this_month};
use prost::Message;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn idempotency_key_replays_the_first_answer_and_refuses_another_body() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let month = this_month();
    let body = json!({"occurred_on": format!("{month}-01"), "description": "Gym", "amount": "30.00", "currency": "USD", "type": "debit"});
    let post = |body: serde_json::Value| {
        system
            .http
            .post(format!("{}/transactions", system.api))
            .bearer_auth(&ana.token)
            .header("idempotency-key", "gym-2026-11")
            .json(&body)
            .send()
    };
    let first = e2e::reply(post(body.clone()).await.expect("answers")).await;
    let again = e2e::reply(post(body.clone()).await.expect("answers")).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(first.body["id"], again.body["id"]);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let mut other = body.clone();
    other["amount"] = json!("31.00");
    let conflict = e2e::reply(post(other).await.expect("answers")).await;
    assert_eq!(conflict.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(conflict.is_problem());
    let listed = system.call(Method::GET, "/transactions", Some(&ana.token), None).await;
    assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(1));

    // Logins are never replayed from a record: each one is a new session.
    let login = |_: ()| {
        system
            .http
            .post(format!("{}/auth/login", system.api))
            .header("idempotency-key", "login-1")
            .json(&json!({"email": ana.email, "password": ana.password}))
            .send()
    };
    let first = e2e::reply(login(()).await.expect("answers")).await;
    let second = e2e::reply(login(()).await.expect("answers")).await;
    assert_eq!((first.status, second.status), (StatusCode::OK, StatusCode::OK));
    assert_ne!(first.body["refresh_token"], second.body["refresh_token"]);
    assert!(!second.headers.contains_key("idempotent-replayed"));
    system.stop().await;
}

#[tokio::test]
async fn csv_import_skips_duplicates_and_reports_bad_lines() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let csv = "date,description,amount,currency,category\n\
               2026-11-01,Coffee,-3.50,USD,Dining\n\
               2026-11-01,Coffee,-3.50,USD,Dining\n\
               2026-11-02,Salary,2500.00,USD,Salary\n\
               2026-11-03,Broken,abc,USD,\n\
               2026-11-04,Mystery,-1.00,USD,Nope\n";
    let first = system.import_csv(&ana.token, csv).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(first.body["imported"], 3);
    assert_eq!(first.body["duplicates"], 0);
    let lines: Vec<u64> =
        first.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["line"].as_u64()).collect();
    assert_eq!(lines, vec![5, 6]);

    // Importing the same file again adds nothing: both coffees are already there.
    let second = system.import_csv(&ana.token, csv).await;
    assert_eq!(second.body["imported"], 0);
    assert_eq!(second.body["duplicates"], 3);

    let debits = system.call(Method::GET, "/transactions?type=debit", Some(&ana.token), None).await;
    let debits = debits.body["data"].as_array().expect("list").clone();
    assert_eq!(debits.len(), 2);
    assert!(
        debits.iter().all(|t| t["amount"] == "3.50" && t["type"] == "debit" && t["category_id"].is_string())
    );
    let credit = system.call(Method::GET, "/transactions?type=credit&q=sal", Some(&ana.token), None).await;
    assert_eq!(credit.body["data"][0]["amount"], "2500.00");

    let wrong_type = system
        .http
        .post(format!("{}/transactions/import", system.api))
        .bearer_auth(&ana.token)
        .body(csv)
        .send()
        .await
        .expect("answers");
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    system.stop().await;
}

#[tokio::test]
async fn categories_start_with_defaults_and_refuse_deletion_while_in_use() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let listed = system.call(Method::GET, "/categories", Some(&ana.token), None).await;
    let categories = listed.body["data"].as_array().expect("list").clone();
    assert!(categories.len() >= 10, "a default set");
    let id_of = |name: &str| {
        categories
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["id"].as_str().expect("id").to_owned())
            .expect("present")
    };
    let (dining, groceries) = (id_of("Dining"), id_of("Groceries"));

    let duplicate = system
        .call(
            Method::POST,
            "/categories",
            Some(&ana.token),
            Some(json!({"name": "dining", "kind": "expense"})),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);

    let month = this_month();
    let txn = system
        .call(
            Method::POST,
            "/transactions",
            Some(&ana.token),
            Some(json!({"occurred_on": format!("{month}-01"), "description": "Pizza", "amount": "20.00", "currency": "USD", "type": "debit", "category_id": dining})),
        )
        .await;
    let budget = system
        .call(
            Method::POST,
            "/budgets",
            Some(&ana.token),
            Some(json!({"month": month, "currency": "USD", "total_limit": "400.00", "category_limits": [{"category_id": dining, "limit": "100.00"}, {"category_id": groceries, "limit": "200.00"}]})),
        )
        .await;
    assert_eq!(budget.status, StatusCode::CREATED, "{:?}", budget.body);

    let refused = system.call(Method::DELETE, &format!("/categories/{dining}"), Some(&ana.token), None).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.is_problem());

    let mut announced = system.listen(&["transaction_updated.v1"]).await;
    let mut budget_news = system.listen(&["budget_updated.v1"]).await;
    let moved = system
        .call(
            Method::DELETE,
            &format!("/categories/{dining}?reassign_to={groceries}"),
            Some(&ana.token),
            None,
        )
        .await;
    assert_eq!(moved.status, StatusCode::NO_CONTENT);
    let txn = system
        .call(
            Method::GET,
            &format!("/transactions/{}", txn.body["id"].as_str().expect("id")),
            Some(&ana.token),
            None,
        )
        .await;
    assert_eq!(txn.body["category_id"], groceries.as_str());
    assert_eq!(
        announced.drain(std::time::Duration::from_secs(2)).await.len(),
        1,
        "consumers hear of the move"
    );
    let status = system
        .call(
            Method::GET,
            &format!("/budgets/{}/status", budget.body["id"].as_str().expect("id")),
            Some(&ana.token),
            None,
        )
        .await;
    assert_eq!(
        status.body["categories"],
        json!([{"category_id": groceries, "limit": "300.00", "spent": "20.00", "percent_used": 6.67}])
    );
    // The budget's limits changed, so its consumers hear of it, with the merged limit.
    let news = budget_news.drain(std::time::Duration::from_secs(2)).await;
    assert_eq!(news.len(), 1, "one budget_updated for the one budget that changed");
    let event =
        budgetsmart_proto::events::v1::BudgetUpdated::decode(news[0].data.as_slice()).expect("payload");
    assert_eq!(event.category_limits.len(), 1);
    assert_eq!(event.category_limits[0].category_id, groceries.as_str());
    assert_eq!(event.category_limits[0].limit.as_ref().map(|m| m.units), Some(300));

    // Two limits at the largest amount cannot merge: a clear 422, not a 500 from an overflow.
    let id_of_new = |name: &'static str| {
        let system = &system;
        let token = ana.token.clone();
        async move {
            let created = system
                .call(
                    Method::POST,
                    "/categories",
                    Some(&token),
                    Some(json!({"name": name, "kind": "expense"})),
                )
                .await;
            created.body["id"].as_str().expect("id").to_owned()
        }
    };
    let (big, bigger) = (id_of_new("Big").await, id_of_new("Bigger").await);
    let max = "999999999999999.00";
    let huge = system
        .call(
            Method::POST,
            "/budgets",
            Some(&ana.token),
            Some(json!({"month": "2026-01", "currency": "USD", "total_limit": max, "category_limits": [{"category_id": big, "limit": max}, {"category_id": bigger, "limit": max}]})),
        )
        .await;
    assert_eq!(huge.status, StatusCode::CREATED, "{:?}", huge.body);
    let overflow = system
        .call(Method::DELETE, &format!("/categories/{big}?reassign_to={bigger}"), Some(&ana.token), None)
        .await;
    assert_eq!(overflow.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", overflow.body);
    assert!(overflow.body.to_string().contains("reassign_to"), "{:?}", overflow.body);
    system.stop().await;
}

#[tokio::test]
async fn lists_paginate_newest_first_with_filters() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    for day in 1..=5 {
        let body = json!({"occurred_on": format!("2026-10-0{day}"), "description": format!("Item {day}"), "amount": format!("{day}.00"), "currency": "USD", "type": "debit"});
        assert_eq!(
            system.call(Method::POST, "/transactions", Some(&ana.token), Some(body)).await.status,
            StatusCode::CREATED
        );
    }
    let mut seen = Vec::new();
    let mut path = "/transactions?limit=2".to_owned();
    loop {
        let page = system.call(Method::GET, &path, Some(&ana.token), None).await;
        assert_eq!(page.status, StatusCode::OK);
        seen.extend(
            page.body["data"]
                .as_array()
                .expect("list")
                .iter()
                .map(|t| t["occurred_on"].as_str().expect("date").to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/transactions?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["2026-10-05", "2026-10-04", "2026-10-03", "2026-10-02", "2026-10-01"]);
    let filtered = system
        .call(
            Method::GET,
            "/transactions?from=2026-10-02&to=2026-10-04&min_amount=3&max_amount=4",
            Some(&ana.token),
            None,
        )
        .await;
    let amounts: Vec<&str> =
        filtered.body["data"].as_array().expect("list").iter().filter_map(|t| t["amount"].as_str()).collect();
    assert_eq!(amounts, ["4.00", "3.00"]);
    let bad = system.call(Method::GET, "/transactions?limit=500", Some(&ana.token), None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_fields(), vec!["limit"]);
    let bad = system.call(Method::GET, "/transactions?cursor=garbage", Some(&ana.token), None).await;
    assert_eq!(bad.error_fields(), vec!["cursor"]);
    system.stop().await;
}

#[tokio::test]
async fn profile_password_and_account_deletion() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let again = system.call(Method::POST, "/auth/register", None, Some(json!({"email": ana.email.to_uppercase(), "password": "another long password", "name": "Ana"}))).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "emails are unique case-insensitively");

    let patched = system
        .call(
            Method::PATCH,
            "/me",
            Some(&ana.token),
            Some(json!({"default_currency": "EUR", "timezone": "Europe/Paris"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(
        (patched.body["default_currency"].as_str(), patched.body["timezone"].as_str()),
        (Some("EUR"), Some("Europe/Paris"))
    );
    let bad =
        system.call(Method::PATCH, "/me", Some(&ana.token), Some(json!({"timezone": "Mars/Olympus"}))).await;
    assert_eq!(bad.error_fields(), vec!["timezone"]);

    let wrong = system
        .call(
            Method::POST,
            "/me/password",
            Some(&ana.token),
            Some(json!({"current_password": "nope nope nope", "new_password": "a brand new passphrase"})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let changed = system
        .call(
            Method::POST,
            "/me/password",
            Some(&ana.token),
            Some(json!({"current_password": ana.password, "new_password": "a brand new passphrase"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT);
    let stale =
        system.call(Method::POST, "/auth/refresh", None, Some(json!({"refresh_token": ana.refresh}))).await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED, "a password change ends other sessions");
    let login = system
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"email": ana.email, "password": "a brand new passphrase"})),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);

    let deleted = system.call(Method::DELETE, "/me", Some(&ana.token), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    // The token still verifies, but its account is gone: 401, as everywhere (issue 22).
    assert_eq!(
        system.call(Method::GET, "/me", Some(&ana.token), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let gone = system
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"email": ana.email, "password": "a brand new passphrase"})),
        )
        .await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
    system.stop().await;
}

#[tokio::test]
async fn operational_endpoints_and_request_ids() {
    let system = TestSystem::start().await;
    let base = format!("http://{}", system.gateway);
    let health = system.http.get(format!("{base}/healthz")).send().await.expect("answers");
    assert_eq!(health.status(), StatusCode::OK);
    let ready = e2e::reply(system.http.get(format!("{base}/readyz")).send().await.expect("answers")).await;
    assert_eq!(ready.status, StatusCode::OK, "{:?}", ready.body);
    assert_eq!(
        ready.body["checks"],
        json!({"engine": "ok", "analytics": "ok", "notification": "ok", "redis": "ok"})
    );

    let echoed = system
        .http
        .get(format!("{base}/healthz"))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .expect("answers");
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-123");
    let generated = system.http.get(format!("{base}/healthz")).send().await.expect("answers");
    assert_eq!(generated.headers()["x-request-id"].len(), 36);
    let missing =
        e2e::reply(system.http.get(format!("{base}/api/v1/nowhere")).send().await.expect("answers")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.is_problem());
    system.stop().await;
}
