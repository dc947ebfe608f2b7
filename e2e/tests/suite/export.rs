//! `GET /me/export`: everything held about the caller, as JSON in the API's own shapes, or the
//! transactions as CSV that `POST /transactions/import` takes back; paged through, never
//! another user's.

use e2e::{TestSystem, this_month};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn export(
    system: &TestSystem,
    token: &str,
    format: &str,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let response = system
        .http
        .get(format!("{}/me/export?format={format}", system.api))
        .bearer_auth(token)
        .send()
        .await
        .expect("answers");
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.text().await.expect("a body"))
}

#[tokio::test]
async fn the_export_holds_everything_of_the_callers_and_nothing_of_anyone_elses() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let bob = system.register_and_login("bob").await;
    system.budget_this_month(&ana, "900.00").await;
    // 450 rows: three pages of transactions.
    let month = this_month();
    let mut csv = String::from("date,description,amount,currency,category\n");
    for i in 0..448 {
        csv.push_str(&format!("{month}-{:02},Market {i},-{}.25,USD,Groceries\n", i % 28 + 1, i % 40 + 1));
    }
    csv.push_str(&format!("{month}-02,\"=HYPERLINK(\"\"http://x\"\")\",-3.00,USD,\n"));
    csv.push_str(&format!("{month}-03,\"Salary, \"\"Acme\"\"\",2500.00,USD,Salary\n"));
    let imported = system.import_csv(&ana.token, csv).await;
    assert_eq!(imported.body["imported"], 450, "{:?}", imported.body);
    let theirs = json!({"occurred_on": format!("{month}-04"), "description": "Bob's secret",
        "amount": "1.00", "currency": "USD", "type": "debit"});
    assert_eq!(
        system.call(Method::POST, "/transactions", Some(&bob.token), Some(theirs)).await.status,
        StatusCode::CREATED
    );

    let goal = json!({"name": "Rainy day", "target_amount": "900.00", "currency": "USD"});
    let goal = system.call(Method::POST, "/goals", Some(&ana.token), Some(goal)).await;
    assert_eq!(goal.status, StatusCode::CREATED, "{:?}", goal.body);
    let goal_id = goal.body["id"].as_str().expect("id");
    let put = json!({"amount": "75.00", "occurred_on": chrono::Utc::now().format("%Y-%m-%d").to_string()});
    let added = system
        .call(Method::POST, &format!("/goals/{goal_id}/contributions"), Some(&ana.token), Some(put))
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);

    let (status, headers, body) = export(&system, &ana.token, "json").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["content-type"], "application/json");
    assert!(
        headers["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("attachment; filename=\"budgetsmart-export-")
    );
    let document: Value = serde_json::from_str(&body).expect("one JSON document");
    assert_eq!(document["format"], "budgetsmart-export");
    assert_eq!(document["profile"]["email"], ana.email.as_str());
    assert_eq!(document["profile"]["email_verified"], true);
    for section in [
        "sessions",
        "categories",
        "accounts",
        "budgets",
        "transactions",
        "insights",
        "anomalies",
        "recurring",
        "imports",
        "goals",
        "notifications",
        "audit",
    ] {
        assert!(document[section].is_array(), "{section} missing");
    }
    let transactions = document["transactions"].as_array().expect("transactions");
    assert_eq!(transactions.len(), 450, "every page of them");
    let ids: std::collections::HashSet<&str> = transactions.iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids.len(), 450, "none twice");
    assert!(!body.contains("Bob's secret"), "another user's data");
    assert_eq!(document["budgets"].as_array().expect("budgets").len(), 1);
    assert_eq!(document["goals"][0]["name"], "Rainy day");
    assert_eq!(document["goals"][0]["saved"], "75.00");
    assert_eq!(document["goals"][0]["contributions"][0]["amount"], "75.00");
    assert!(document["preferences"]["email_enabled"].is_boolean());
    assert_eq!(document["imports"][0]["imported"], 450, "the import is in the history");
    assert_eq!(document["imports"][0]["format"], "csv");
    let kinds: Vec<&str> =
        document["audit"].as_array().expect("audit").iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(kinds.contains(&"login_succeeded") && kinds.contains(&"email_verified"), "{kinds:?}");
    let emails: Vec<&str> = document["notifications"]
        .as_array()
        .expect("notifications")
        .iter()
        .filter_map(|n| n["kind"].as_str())
        .collect();
    assert!(emails.contains(&"verify_email"), "{emails:?}");

    // The CSV: signed amounts, category names, formulas defused, and importable as it is.
    let (status, headers, csv) = export(&system, &ana.token, "csv").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("date,description,amount,currency,category,type,notes,id,category_id,created_at")
    );
    assert_eq!(csv.lines().count(), 451);
    assert!(csv.contains(",\"'=HYPERLINK(\"\"http://x\"\")\",-3.00,USD,"), "formula defused and quoted");
    assert!(csv.contains(",\"Salary, \"\"Acme\"\"\",2500.00,USD,Salary,credit,"), "{}", &csv[..300]);
    assert!(csv.contains(",-1.25,USD,Groceries,debit,"));
    let cal = system.register_and_login("cal").await;
    let again = system.import_csv(&cal.token, csv).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(again.body["imported"], 450, "{:?}", again.body);

    let (status, _, body) = export(&system, &ana.token, "xml").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("\"field\":\"format\""), "{body}");
    let anonymous = system.http.get(format!("{}/me/export", system.api)).send().await.expect("answers");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    system.stop().await;
}
