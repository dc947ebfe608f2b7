//! Another user's budgets, transactions and categories are 404 for every read, update and
//! delete, and cannot be referenced.

use e2e::{TestSystem, this_month};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn another_users_resources_are_not_found() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let bob = system.register_and_login("bob").await;
    let month = this_month();

    let category = system
        .call(Method::POST, "/categories", Some(&ana.token), Some(json!({"name": "Pets", "kind": "expense"})))
        .await;
    assert_eq!(category.status, StatusCode::CREATED, "{:?}", category.body);
    let budget = system
        .call(
            Method::POST,
            "/budgets",
            Some(&ana.token),
            Some(json!({"month": month, "currency": "USD", "total_limit": "300.00"})),
        )
        .await;
    let transaction = system
        .call(
            Method::POST,
            "/transactions",
            Some(&ana.token),
            Some(json!({"occurred_on": format!("{month}-01"), "description": "Vet", "amount": "80.00", "currency": "USD", "type": "debit", "category_id": category.body["id"]})),
        )
        .await;
    assert_eq!(transaction.status, StatusCode::CREATED, "{:?}", transaction.body);

    let resources = [
        format!("/categories/{}", category.body["id"].as_str().expect("id")),
        format!("/budgets/{}", budget.body["id"].as_str().expect("id")),
        format!("/transactions/{}", transaction.body["id"].as_str().expect("id")),
    ];
    let patches = [json!({"name": "Mine"}), json!({"total_limit": "1.00"}), json!({"description": "Mine"})];
    for (path, patch) in resources.iter().zip(patches) {
        assert_eq!(
            system.call(Method::GET, path, Some(&bob.token), None).await.status,
            StatusCode::NOT_FOUND,
            "GET {path}"
        );
        let patched = system.call(Method::PATCH, path, Some(&bob.token), Some(patch)).await;
        assert_eq!(patched.status, StatusCode::NOT_FOUND, "PATCH {path}");
        assert!(patched.is_problem());
        assert_eq!(
            system.call(Method::DELETE, path, Some(&bob.token), None).await.status,
            StatusCode::NOT_FOUND,
            "DELETE {path}"
        );
    }
    let status = format!("{}/status", resources[1]);
    assert_eq!(system.call(Method::GET, &status, Some(&bob.token), None).await.status, StatusCode::NOT_FOUND);

    // Bob cannot file a transaction under Ana's category, nor see her rows in his lists.
    let borrowed = system
        .call(
            Method::POST,
            "/transactions",
            Some(&bob.token),
            Some(json!({"occurred_on": format!("{month}-01"), "description": "x", "amount": "1.00", "currency": "USD", "type": "debit", "category_id": category.body["id"]})),
        )
        .await;
    assert_eq!(borrowed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(borrowed.error_fields(), vec!["category_id"]);
    for list in ["/transactions", "/budgets"] {
        let listed = system.call(Method::GET, list, Some(&bob.token), None).await;
        assert_eq!(listed.body["data"], json!([]), "{list}");
    }

    // Ana's things are intact.
    for path in &resources {
        assert_eq!(
            system.call(Method::GET, path, Some(&ana.token), None).await.status,
            StatusCode::OK,
            "{path}"
        );
    }
    system.stop().await;
}
