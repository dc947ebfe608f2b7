//! The OpenAPI document and Swagger UI, on real servers: `/openapi.json` is OpenAPI 3.1 and
//! covers every route of the REST contract; it is consistent (protected operations need the
//! bearer scheme, errors are problem+json, every `$ref` resolves); real answers match the
//! schemas it gives for them; and `/docs` serves Swagger UI from the gateway alone.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use e2e::{Reply, TestSystem, this_month};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

/// Every (method, path) of the REST contract (`shared/API.md`), under `/api/v1`.
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/auth/register"),
    ("post", "/auth/login"),
    ("post", "/auth/refresh"),
    ("post", "/auth/logout"),
    ("post", "/auth/password-reset"),
    ("get", "/auth/password-reset/confirm"),
    ("post", "/auth/password-reset/confirm"),
    ("get", "/me"),
    ("patch", "/me"),
    ("delete", "/me"),
    ("post", "/me/password"),
    ("get", "/me/sessions"),
    ("delete", "/me/sessions"),
    ("delete", "/me/sessions/{id}"),
    ("get", "/categories"),
    ("post", "/categories"),
    ("get", "/categories/{id}"),
    ("patch", "/categories/{id}"),
    ("delete", "/categories/{id}"),
    ("get", "/budgets"),
    ("post", "/budgets"),
    ("get", "/budgets/{id}"),
    ("patch", "/budgets/{id}"),
    ("delete", "/budgets/{id}"),
    ("get", "/budgets/{id}/status"),
    ("get", "/transactions"),
    ("post", "/transactions"),
    ("get", "/transactions/{id}"),
    ("patch", "/transactions/{id}"),
    ("delete", "/transactions/{id}"),
    ("post", "/transactions/import"),
    ("post", "/transactions/categorize"),
    ("get", "/insights"),
    ("get", "/analytics/summary"),
    ("get", "/analytics/trends"),
    ("get", "/analytics/forecast"),
    ("get", "/analytics/anomalies"),
    ("patch", "/analytics/anomalies/{id}"),
    ("get", "/analytics/recurring"),
    ("get", "/analytics/models"),
    ("get", "/analytics/charts/{name}"),
    ("get", "/notifications"),
    ("get", "/notifications/preferences"),
    ("put", "/notifications/preferences"),
    ("post", "/notifications/summary"),
    ("get", "/notifications/unsubscribe"),
    ("post", "/notifications/unsubscribe"),
    ("get", "/me/audit"),
    ("get", "/events/stream"),
];

/// The operational routes outside `/api/v1` the contract names (besides `/docs` itself).
const OPERATIONAL: &[(&str, &str)] =
    &[("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics"), ("get", "/openapi.json")];

/// The contract's routes that need no login.
const PUBLIC: &[&str] = &[
    "/auth/register",
    "/auth/login",
    "/auth/refresh",
    "/auth/logout",
    "/auth/password-reset",
    "/auth/password-reset/confirm",
    "/auth/verify-email",
    "/auth/mfa",
    "/notifications/unsubscribe",
];

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// A path template with its parameters unnamed: `/charts/{file}` and `/charts/{name}` are the
/// same route.
fn template(path: &str) -> String {
    let mut out = String::new();
    let mut in_parameter = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_parameter = true;
                out.push_str("{}");
            }
            '}' => in_parameter = false,
            c if !in_parameter => out.push(c),
            _ => {}
        }
    }
    out
}

async fn fetch_document(system: &TestSystem) -> Value {
    let response = system
        .http
        .get(format!("http://{}/openapi.json", system.gateway))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(content_type.starts_with("application/json"), "{content_type}");
    response.json().await.expect("the document is JSON")
}

/// Every operation of the document: (method, path, operation).
fn operations(document: &Value) -> Vec<(String, String, &Value)> {
    let paths = document["paths"].as_object().expect("paths");
    let mut found = Vec::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("a path item") {
            if METHODS.contains(&method.as_str()) {
                found.push((method.clone(), path.clone(), operation));
            }
        }
    }
    found
}

fn collect_refs<'a>(value: &'a Value, refs: &mut Vec<&'a str>) {
    match value {
        Value::Object(fields) => {
            if let Some(Value::String(reference)) = fields.get("$ref") {
                refs.push(reference);
            }
            fields.values().for_each(|v| collect_refs(v, refs));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

fn resolve<'a>(document: &'a Value, reference: &str) -> Option<&'a Value> {
    document.pointer(reference.strip_prefix('#')?)
}

/// Where `value` breaks `schema`, by a JSON Schema 2020-12 validator (OpenAPI 3.1's dialect),
/// formats included. The schema's `$ref`s point into the document's components, so it is
/// validated with the components beside it. Stricter in one way on purpose: every object
/// schema that names its properties and says nothing of others gets
/// `unevaluatedProperties: false`, so a field the code sends but the document forgot fails.
fn violations(document: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut root = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [schema],
        "components": document["components"],
    });
    close_objects(&mut root);
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("the documented schema does not compile: {e}"));
    validator.iter_errors(value).map(|error| format!("${}: {error}", error.instance_path())).collect()
}

/// Adds `unevaluatedProperties: false` to every schema that lists `properties` and leaves the
/// others unsaid (utoipa writes `additionalProperties` only for maps).
fn close_objects(schema: &mut Value) {
    match schema {
        Value::Object(fields) => {
            if fields.get("properties").is_some_and(Value::is_object)
                && !fields.contains_key("additionalProperties")
                && !fields.contains_key("unevaluatedProperties")
            {
                fields.insert("unevaluatedProperties".into(), Value::Bool(false));
            }
            fields.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// Asserts that `reply` is an answer the document gives for `method` `/api/v1{path}`: its
/// status is documented, its media type is one of that status's, its JSON body matches the
/// schema, and the documented headers include the request id it carries.
fn conforms(document: &Value, method: &str, path: &str, reply: &Reply) {
    let route = format!("{method} {path}");
    let operation = &document["paths"][format!("/api/v1{path}").as_str()][method];
    assert!(operation.is_object(), "{route} is not in the document");
    let response = &operation["responses"][reply.status.as_str()];
    assert!(
        response.is_object(),
        "{route}: {} is not documented; the answer was {}",
        reply.status,
        reply.body
    );
    assert!(reply.headers.contains_key("x-request-id"), "{route}: no x-request-id");
    assert!(
        response["headers"]["x-request-id"].is_object(),
        "{route} {}: x-request-id undocumented",
        reply.status
    );
    if reply.status == StatusCode::NO_CONTENT {
        assert!(response.get("content").is_none(), "{route}: 204 documents a body");
        return;
    }
    let content_type = reply.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    let content = &response["content"][media];
    assert!(
        content.is_object(),
        "{route} {}: {media} is not among the documented {:?}",
        reply.status,
        response["content"].as_object().map(|c| c.keys().collect::<Vec<_>>())
    );
    if media.ends_with("json") {
        let errors = violations(document, &content["schema"], &reply.body);
        assert!(
            errors.is_empty(),
            "{route} {}: the answer breaks its schema:\n{}\n{}",
            reply.status,
            errors.join("\n"),
            reply.body
        );
    }
}

#[tokio::test]
async fn the_document_covers_the_contract_consistently_and_swagger_ui_is_self_contained() {
    let system = TestSystem::start().await;
    let document = fetch_document(&system).await;
    let version = document["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3.1"), "{version}");
    assert_eq!(document["info"]["title"], "BudgetSmart API");

    // (a) Every route of the contract is there. Paths are absolute and there is no other
    // server than the implicit `/`, so they resolve against the gateway's own address.
    let servers = document["servers"].as_array().cloned().unwrap_or_default();
    assert!(servers.iter().all(|s| s["url"] == "/"), "{servers:?}");
    let documented: BTreeSet<(String, String)> =
        operations(&document).into_iter().map(|(method, path, _)| (method, template(&path))).collect();
    let mut missing = Vec::new();
    for (method, path) in CONTRACT {
        if !documented.contains(&((*method).to_owned(), template(&format!("/api/v1{path}")))) {
            missing.push(format!("{method} /api/v1{path}"));
        }
    }
    for (method, path) in OPERATIONAL {
        if !documented.contains(&((*method).to_owned(), template(path))) {
            missing.push(format!("{method} {path}"));
        }
    }
    assert!(missing.is_empty(), "not in the document: {missing:?}");
    for (method, path) in &documented {
        let operational = OPERATIONAL.iter().any(|(m, p)| m == method && p == path);
        assert!(path.starts_with("/api/v1/") || operational, "{method} {path} is outside /api/v1");
    }

    // (b) Protected operations require the bearer scheme; every API operation documents its
    // errors as problem+json; operation ids are unique; every `$ref` resolves.
    let scheme = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");
    let mut ids = BTreeSet::new();
    for (method, path, operation) in operations(&document) {
        let route = format!("{method} {path}");
        let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{route} has no operationId"));
        assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
        let Some(relative) = path.strip_prefix("/api/v1") else { continue };
        let security = operation["security"].as_array().cloned().unwrap_or_default();
        let bearer = security.iter().any(|s| s.get("bearer").is_some());
        if PUBLIC.contains(&relative) {
            assert!(!bearer, "{route} is public but documented as needing a token");
        } else {
            assert!(bearer, "{route} needs a token but does not declare the bearer scheme: {security:?}");
            assert!(operation["responses"]["401"].is_object(), "{route}: 401 undocumented");
        }
        let responses = operation["responses"].as_object().expect("responses");
        let problems = responses
            .iter()
            .filter(|(_, r)| r["content"].get("application/problem+json").is_some())
            .map(|(status, _)| status.as_str())
            .collect::<Vec<_>>();
        assert!(!problems.is_empty(), "{route} documents no problem+json answer");
        assert!(problems.iter().all(|s| s.starts_with('4') || s.starts_with('5')), "{route}: {problems:?}");
        for (status, response) in responses {
            assert!(response["description"].as_str().is_some_and(|d| !d.is_empty()), "{route} {status}");
        }
        if method == "post" {
            // The POSTs that go through the idempotency middleware say so, and only those:
            // session answers hold live tokens and are never stored.
            let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
            let keyed = parameters.iter().any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header");
            let idempotent = !matches!(
                relative,
                "/auth/login"
                    | "/auth/refresh"
                    | "/auth/logout"
                    | "/auth/password-reset"
                    | "/auth/password-reset/confirm"
                    | "/auth/verify-email"
                    | "/auth/mfa"
                    | "/me/mfa/totp"
                    | "/me/mfa/totp/confirm"
                    | "/notifications/unsubscribe"
            );
            assert_eq!(keyed, idempotent, "{route}: Idempotency-Key documented wrongly: {parameters:?}");
        }
    }
    let mut refs = Vec::new();
    collect_refs(&document, &mut refs);
    assert!(!refs.is_empty());

    // Links lead from an answer to operations that exist, with the `{id}` they take.
    let mut links = 0;
    for (method, path, operation) in operations(&document) {
        for (status, response) in operation["responses"].as_object().expect("responses") {
            for (name, link) in response["links"].as_object().into_iter().flatten() {
                let target = link["operationId"].as_str().expect("operationId");
                assert!(ids.contains(target), "{method} {path} {status}: link {name} to unknown {target}");
                let (_, target_path, _) = operations(&document)
                    .into_iter()
                    .find(|(_, _, o)| o["operationId"] == target)
                    .expect("the target");
                assert!(
                    target_path.ends_with("{id}") || target_path.ends_with("{id}/status"),
                    "{target_path}"
                );
                assert!(link["parameters"]["id"].as_str().is_some_and(|p| p.starts_with("$response.body#/")));
                links += 1;
            }
        }
    }
    let status_link =
        &document["paths"]["/api/v1/budgets"]["post"]["responses"]["201"]["links"]["get_budget_status"];
    assert_eq!(status_link["parameters"]["id"], "$response.body#/id", "a created budget leads to its status");
    assert!(links >= 20, "{links} links");
    for reference in refs {
        assert!(resolve(&document, reference).is_some(), "{reference} resolves to nothing");
    }

    // (d) Swagger UI at /docs, with its assets served by the gateway and nothing from
    // another host.
    let base = format!("http://{}", system.gateway);
    let page = system.http.get(format!("{base}/docs")).send().await.expect("the gateway answers");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.url().path().starts_with("/docs"), "{}", page.url());
    let content_type =
        page.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = page.text().await.expect("a page");
    assert!(html.contains("swagger-ui"), "{html}");
    let mut assets = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for piece in html.split(attribute).skip(1) {
            let url = piece.split('"').next().unwrap_or("");
            assert!(
                !url.starts_with("http://") && !url.starts_with("https://") && !url.starts_with("//"),
                "/docs loads {url} from another host"
            );
            assets.push(url.trim_start_matches("./").to_owned());
        }
    }
    assert!(assets.iter().any(|a| a.ends_with(".js")), "{assets:?}");
    for asset in &assets {
        let answer = system.http.get(format!("{base}/docs/{asset}")).send().await.expect("answers");
        assert_eq!(answer.status(), StatusCode::OK, "/docs/{asset}");
    }
    let initializer = system
        .http
        .get(format!("{base}/docs/swagger-initializer.js"))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("a script");
    assert!(initializer.contains("/openapi.json"), "{initializer}");
    assert!(!initializer.contains("https://"), "the initializer points elsewhere: {initializer}");

    // (f) What validation refuses, the document says (issue 22, point 7): a blank or NUL
    // query value, a year outside 1900..=2999, a NUL in any text of a body.
    for (method, path, operation) in operations(&document) {
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let schema = &parameter["schema"];
            let text = schema["type"] == "string"
                || schema["type"].as_array().is_some_and(|t| t.contains(&json!("string")));
            if parameter["in"] != "query" || !text || schema.get("enum").is_some() {
                continue;
            }
            let name = format!("{method} {path} ?{}", parameter["name"]);
            let pattern = schema["pattern"].as_str().unwrap_or_default();
            match schema["format"].as_str() {
                Some("date") => assert!(pattern.starts_with("^(19|2[0-9])"), "{name}: {schema}"),
                Some(_) => {}
                // Its own pattern (an amount's) or the generic one: non-blank, no NUL.
                None => {
                    assert!(pattern.starts_with('^'), "{name}: {schema}");
                    if pattern.contains(r"[^\u0000]") {
                        assert_eq!(schema["minLength"], 1, "{name}: {schema}");
                    }
                }
            }
        }
    }
    let schemas = &document["components"]["schemas"];
    let reset = &schemas["PasswordReset"]["properties"]["new_password"];
    assert_eq!(reset["pattern"], r"^[^\u0000]*$", "{reset}");
    // What the non-blank pattern takes, tried as a validator does: a NUL must not pass as the
    // one non-blank character (a CI fuzz run found `\S` alone matched "\0").
    let name = &schemas["NewCategory"]["properties"]["name"];
    let name_rule = jsonschema::draft202012::new(&json!({"type": "string", "pattern": name["pattern"]}))
        .expect("a valid pattern");
    for (text, ok) in [("Food", true), (" a ", true), ("  ", false), ("\0", false), ("a\0", false)] {
        assert_eq!(name_rule.is_valid(&json!(text)), ok, "{text:?} against {name}");
    }
    let patched_day = schemas["TransactionPatch"]["properties"]["occurred_on"].to_string();
    assert!(patched_day.contains("#/components/schemas/Day"), "{patched_day}");
    let png =
        &document["paths"]["/api/v1/me/mfa/totp/qr.png"]["get"]["responses"]["200"]["content"]["image/png"];
    assert!(png.get("schema").is_none(), "a PNG is no array of numbers: {png}");
    system.stop().await;
}

#[tokio::test]
async fn real_answers_match_the_documented_schemas() {
    let system = TestSystem::start().await;
    let document = fetch_document(&system).await;
    let doc = &document;

    // Registration and login, answered as documented.
    let email = format!("ana-{}@example.com", Uuid::now_v7().simple());
    let password = "correct horse battery staple";
    let registered = system
        .call(
            Method::POST,
            "/auth/register",
            None,
            Some(json!({"email": email, "password": password, "name": "Ana"})),
        )
        .await;
    assert_eq!(registered.status, StatusCode::CREATED, "{:?}", registered.body);
    conforms(doc, "post", "/auth/register", &registered);
    let login = system
        .call(Method::POST, "/auth/login", None, Some(json!({"email": email, "password": password})))
        .await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
    conforms(doc, "post", "/auth/login", &login);
    let access = login.body["access_token"].as_str().expect("an access token").to_owned();
    let token = Some(access.as_str());

    let me = system.call(Method::GET, "/me", token, None).await;
    conforms(doc, "get", "/me", &me);
    let sessions = system.call(Method::GET, "/me/sessions", token, None).await;
    conforms(doc, "get", "/me/sessions", &sessions);
    let anonymous = system.call(Method::GET, "/me", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    conforms(doc, "get", "/me", &anonymous);

    // A category, a transaction in it, a budget with a limit for it.
    let category = system
        .call(
            Method::POST,
            "/categories",
            token,
            Some(json!({"name": "Coffee shops", "kind": "expense", "description": null})),
        )
        .await;
    assert_eq!(category.status, StatusCode::CREATED, "{:?}", category.body);
    conforms(doc, "post", "/categories", &category);
    let category_id = category.body["id"].as_str().expect("id").to_owned();
    let categories = system.call(Method::GET, "/categories", token, None).await;
    conforms(doc, "get", "/categories", &categories);

    let month = this_month();
    let transaction = system
        .call(
            Method::POST,
            "/transactions",
            token,
            Some(json!({
                "occurred_on": format!("{month}-01"),
                "description": "Blue Bottle",
                "amount": "4.50",
                "currency": "USD",
                "type": "debit",
                "category_id": category_id,
                "notes": "flat white",
            })),
        )
        .await;
    assert_eq!(transaction.status, StatusCode::CREATED, "{:?}", transaction.body);
    conforms(doc, "post", "/transactions", &transaction);
    let transaction_id = transaction.body["id"].as_str().expect("id").to_owned();
    let patched = system
        .call(Method::PATCH, &format!("/transactions/{transaction_id}"), token, Some(json!({"notes": null})))
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    conforms(doc, "patch", "/transactions/{id}", &patched);

    let budget = system
        .call(
            Method::POST,
            "/budgets",
            token,
            Some(json!({
                "month": month,
                "currency": "USD",
                "total_limit": "900.00",
                "category_limits": [{"category_id": category_id, "limit": "60.00"}],
            })),
        )
        .await;
    assert_eq!(budget.status, StatusCode::CREATED, "{:?}", budget.body);
    conforms(doc, "post", "/budgets", &budget);
    let budget_id = budget.body["id"].as_str().expect("id").to_owned();

    // A month of history, so analytics has a real forecast, models and reports to answer.
    let today = Utc::now().date_naive();
    let mut csv = String::from("date,description,amount,currency\n");
    for back in 1..=30i64 {
        let day = today - chrono::Duration::days(back);
        for shop in 0..3i64 {
            csv.push_str(&format!(
                "{day},Shop {shop},-{}.{:02},USD\n",
                5 + (back + shop) % 20,
                (back * 7) % 100
            ));
        }
    }
    let imported = system.import_csv(&access, csv).await;
    assert_eq!(imported.status, StatusCode::OK, "{:?}", imported.body);
    conforms(doc, "post", "/transactions/import", &imported);

    let listed = system.call(Method::GET, "/transactions?limit=5", token, None).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    assert!(listed.body["next_cursor"].is_string(), "more than one page: {}", listed.body);
    conforms(doc, "get", "/transactions", &listed);

    // The budget status, first possibly without a forecast, then with analytics' projection.
    let status = system.call(Method::GET, &format!("/budgets/{budget_id}/status"), token, None).await;
    conforms(doc, "get", "/budgets/{id}/status", &status);
    let ana = e2e::Session {
        token: access.clone(),
        refresh: login.body["refresh_token"].as_str().expect("refresh").to_owned(),
        user_id: registered.body["id"].as_str().expect("id").to_owned(),
        email,
        password: password.to_owned(),
    };
    system
        .until(&ana, &format!("/budgets/{budget_id}/status"), Duration::from_secs(60), |b| {
            b["forecast"]["status"] == "ok"
        })
        .await;
    let status = system.call(Method::GET, &format!("/budgets/{budget_id}/status"), token, None).await;
    conforms(doc, "get", "/budgets/{id}/status", &status);

    // The shapes built with `json!` against their doc-only schemas.
    let forecast_of_budget = format!("/analytics/forecast?budget_id={budget_id}");
    let budget_url = format!("/budgets/{budget_id}");
    let category_url = format!("/categories/{category_id}");
    let answers = [
        ("/budgets", "/budgets"),
        ("/insights", "/insights"),
        ("/notifications", "/notifications"),
        ("/notifications/preferences", "/notifications/preferences"),
        ("/analytics/summary", "/analytics/summary"),
        ("/analytics/summary?group_by=month", "/analytics/summary"),
        ("/analytics/trends", "/analytics/trends"),
        ("/analytics/forecast", "/analytics/forecast"),
        (forecast_of_budget.as_str(), "/analytics/forecast"),
        ("/analytics/models", "/analytics/models"),
        ("/analytics/anomalies", "/analytics/anomalies"),
        ("/analytics/recurring", "/analytics/recurring"),
        ("/analytics/charts/spending-by-category.svg", "/analytics/charts/{file}"),
        (budget_url.as_str(), "/budgets/{id}"),
        (category_url.as_str(), "/categories/{id}"),
    ];
    for (url, path) in answers {
        let reply = system.call(Method::GET, url, token, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{url}: {:?}", reply.body);
        conforms(doc, "get", path, &reply);
    }
    let suggestion = system
        .call(
            Method::POST,
            "/transactions/categorize",
            token,
            Some(json!({"description": "Blue Bottle", "amount": "4.50", "currency": "USD"})),
        )
        .await;
    assert_eq!(suggestion.status, StatusCode::OK, "{:?}", suggestion.body);
    conforms(doc, "post", "/transactions/categorize", &suggestion);

    // Errors are the documented problems.
    let missing = system.call(Method::GET, &format!("/transactions/{}", Uuid::nil()), token, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    conforms(doc, "get", "/transactions/{id}", &missing);
    let invalid = system
        .call(
            Method::POST,
            "/transactions",
            token,
            Some(json!({
                "occurred_on": "2026-02-30",
                "description": "x",
                "amount": "-1",
                "currency": "USD",
                "type": "debit",
            })),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", invalid.body);
    conforms(doc, "post", "/transactions", &invalid);

    // A replayed POST carries the documented `Idempotent-Replayed`.
    let key = Uuid::now_v7().to_string();
    let mut replies = Vec::new();
    for _ in 0..2 {
        let response = system
            .http
            .post(format!("{}/categories", system.api))
            .bearer_auth(&access)
            .header("idempotency-key", &key)
            .json(&json!({"name": "Bakeries", "kind": "expense"}))
            .send()
            .await
            .expect("the gateway answers");
        replies.push(e2e::reply(response).await);
    }
    assert_eq!(replies[0].body, replies[1].body);
    assert_eq!(replies[1].headers.get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    conforms(doc, "post", "/categories", &replies[1]);
    assert!(
        doc["paths"]["/api/v1/categories"]["post"]["responses"]["201"]["headers"]["Idempotent-Replayed"]
            .is_object()
    );

    // The export is the documented document, every part of it in the API's shapes.
    let export = system.call(Method::GET, "/me/export", token, None).await;
    assert_eq!(export.status, StatusCode::OK, "{:?}", export.body);
    assert!(!export.body["transactions"].as_array().expect("transactions").is_empty());
    conforms(doc, "get", "/me/export", &export);

    // And the deletes answer 204 without a body.
    let deleted = system.call(Method::DELETE, &format!("/transactions/{transaction_id}"), token, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    conforms(doc, "delete", "/transactions/{id}", &deleted);
    system.stop().await;
}

#[test]
fn the_schema_check_catches_a_forgotten_field_a_bad_format_and_a_missing_field() {
    let document = json!({"components": {"schemas": {"Item": {
        "type": "object",
        "required": ["id", "amount"],
        "properties": {"id": {"type": "string", "format": "uuid"}, "amount": {"type": "string"}},
    }}}});
    let schema = json!({"type": "array", "items": {"$ref": "#/components/schemas/Item"}});
    let good = json!([{"id": Uuid::now_v7(), "amount": "1.00"}]);
    assert!(violations(&document, &schema, &good).is_empty());
    let forgotten = json!([{"id": Uuid::now_v7(), "amount": "1.00", "extra": 1}]);
    assert_eq!(violations(&document, &schema, &forgotten).len(), 1);
    let bad_format = json!([{"id": "not-a-uuid", "amount": "1.00"}]);
    assert_eq!(violations(&document, &schema, &bad_format).len(), 1);
    let missing = json!([{"id": Uuid::now_v7()}]);
    assert_eq!(violations(&document, &schema, &missing).len(), 1);
}
