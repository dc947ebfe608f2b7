//! OpenAPI links: which answer's id feeds which operation's path, so a client generator, a
//! reader, and Schemathesis' stateful phase can follow a created or listed resource to the
//! operations on it (a budget to its status, a transaction to get, patch and delete).

use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::{OpenApi as Document, RefOr};

/// From (path, method, status, where the id is in the answer) to the operations taking it as
/// their `{id}`.
const LINKS: &[(&str, &str, &str, &str, &[&str])] = &[
    (
        "/budgets",
        "post",
        "201",
        "/id",
        &["get_budget", "update_budget", "delete_budget", "get_budget_status"],
    ),
    ("/budgets", "get", "200", "/data/0/id", &["get_budget", "get_budget_status", "update_budget"]),
    ("/transactions", "post", "201", "/id", &["get_transaction", "update_transaction", "delete_transaction"]),
    ("/transactions", "get", "200", "/data/0/id", &["get_transaction", "update_transaction"]),
    ("/categories", "post", "201", "/id", &["get_category", "update_category", "delete_category"]),
    ("/categories", "get", "200", "/data/0/id", &["get_category", "update_category"]),
    ("/analytics/anomalies", "get", "200", "/data/0/id", &["update_anomaly"]),
    ("/analytics/recurring", "get", "200", "/data/0/id", &["update_recurring"]),
    ("/me/sessions", "get", "200", "/data/0/id", &["end_session"]),
];

/// Adds [`LINKS`] to `document`, whose paths are under `prefix` (`/api/v1`).
pub fn add(document: &mut Document, prefix: &str) {
    for (path, method, status, pointer, targets) in LINKS {
        let Some(item) = document.paths.paths.get_mut(&format!("{prefix}{path}")) else {
            panic!("OpenAPI link from {method} {path}: no such path");
        };
        let operation = match *method {
            "get" => item.get.as_mut(),
            "post" => item.post.as_mut(),
            _ => None,
        };
        let Some(operation) = operation else {
            panic!("OpenAPI link from {method} {path}: no such operation")
        };
        let Some(RefOr::T(response)) = operation.responses.responses.get_mut(*status) else {
            panic!("OpenAPI link from {method} {path}: no {status} answer");
        };
        for target in *targets {
            let link = LinkBuilder::new()
                .operation_id(*target)
                .parameter("id", format!("$response.body#{pointer}"))
                .description(format!("The `id` of this answer is the `{{id}}` of `{target}`"))
                .build();
            response.links.insert((*target).to_owned(), RefOr::T(link));
        }
    }
}
