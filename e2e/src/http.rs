//! HTTP helpers: calls through the gateway as a client makes them, answers read into a
//! [`Reply`], signed-in users, and polling an endpoint until it is ready.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use crate::system::TestSystem;

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// JSON body (`Null` when empty or not JSON).
    pub body: Value,
}

impl Reply {
    /// The `field` names of a problem's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| errors.iter().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    /// Whether the content type is problem+json.
    pub fn is_problem(&self) -> bool {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()) == Some("application/problem+json")
    }
}

/// A logged-in user.
pub struct Session {
    /// Access token.
    pub token: String,
    /// Refresh token.
    pub refresh: String,
    /// User id.
    pub user_id: String,
    /// Email registered with.
    pub email: String,
    /// Password registered with.
    pub password: String,
}

impl TestSystem {
    /// Sends a request to `/api/v1{path}`.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.api));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        reply(request.send().await.expect("the gateway answers")).await
    }

    /// Posts `csv` to `/transactions/import` as `text/csv`.
    pub async fn import_csv(&self, token: &str, csv: impl Into<String>) -> Reply {
        let request = self
            .http
            .post(format!("{}/transactions/import", self.api))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(csv.into());
        reply(request.send().await.expect("the gateway answers")).await
    }

    /// Posts a bank file to `path` (`/transactions/import` or its preview, with any query) as
    /// `content_type`, as a client uploads one.
    pub async fn upload(
        &self,
        token: &str,
        path: &str,
        content_type: &str,
        file: impl Into<Vec<u8>>,
    ) -> Reply {
        let request = self
            .http
            .post(format!("{}{path}", self.api))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(file.into());
        reply(request.send().await.expect("the gateway answers")).await
    }

    /// Registers a fresh user, logs in, and verifies the address with the emailed link, as a
    /// person would; email then flows as for any verified account.
    pub async fn register_and_login(&self, name: &str) -> Session {
        let user = self.register_unverified(name).await;
        let db = self.pool("notification").await;
        let user_id = Uuid::parse_str(&user.user_id).expect("a user id");
        let token = verification_token(&db, user_id, &user.email, Duration::from_secs(30)).await;
        let verified = self
            .call(Method::POST, "/auth/verify-email", None, Some(serde_json::json!({"token": token})))
            .await;
        assert_eq!(verified.status, StatusCode::NO_CONTENT, "{:?}", verified.body);
        // Tests count on email from here on: wait until the notification service knows.
        let known = crate::eventually(Duration::from_secs(30), || async {
            let verified: Option<bool> =
                sqlx::query_scalar("SELECT email_verified FROM recipients WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_optional(&db)
                    .await
                    .expect("reads recipients");
            verified.filter(|v| *v)
        })
        .await;
        assert!(known.is_some(), "the notification service never learnt that {} is verified", user.email);
        db.close().await;
        user
    }

    /// Registers a fresh user and logs in, leaving the address unverified.
    pub async fn register_unverified(&self, name: &str) -> Session {
        let email = format!("{name}-{}@example.com", Uuid::now_v7().simple());
        let password = "correct horse battery staple".to_owned();
        let body = serde_json::json!({ "email": email, "password": password, "name": name });
        let registered = self.call(Method::POST, "/auth/register", None, Some(body)).await;
        assert_eq!(registered.status, StatusCode::CREATED, "{:?}", registered.body);
        let login = serde_json::json!({ "email": email, "password": password });
        let tokens = self.call(Method::POST, "/auth/login", None, Some(login)).await;
        assert_eq!(tokens.status, StatusCode::OK, "{:?}", tokens.body);
        Session {
            token: tokens.body["access_token"].as_str().expect("access token").to_owned(),
            refresh: tokens.body["refresh_token"].as_str().expect("refresh token").to_owned(),
            user_id: registered.body["id"].as_str().expect("id").to_owned(),
            email,
            password,
        }
    }

    /// The kinds of the newest 100 entries of the audit log `token`'s account reads, newest first.
    pub async fn audit_kinds(&self, token: &str) -> Vec<String> {
        let audit = self.call(Method::GET, "/me/audit?limit=100", Some(token), None).await;
        assert_eq!(audit.status, StatusCode::OK, "{:?}", audit.body);
        let entries = audit.body["data"].as_array().expect("data");
        entries.iter().filter_map(|e| e["kind"].as_str().map(str::to_owned)).collect()
    }

    /// A budget of `total_limit` USD for this month for `user` (alerts at the defaults); its id.
    pub async fn budget_this_month(&self, user: &Session, total_limit: &str) -> String {
        let body = serde_json::json!({"month": this_month(), "currency": "USD", "total_limit": total_limit});
        let created = self.call(Method::POST, "/budgets", Some(&user.token), Some(body)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        created.body["id"].as_str().expect("id").to_owned()
    }

    /// The user's categories: name → id.
    pub async fn category_ids(&self, user: &Session) -> std::collections::HashMap<String, String> {
        let listed = self.call(Method::GET, "/categories", Some(&user.token), None).await;
        listed.body["data"]
            .as_array()
            .expect("categories")
            .iter()
            .map(|c| (c["name"].as_str().expect("name").to_owned(), c["id"].as_str().expect("id").to_owned()))
            .collect()
    }

    /// Polls GET `path` until `ready` holds for its body, for up to `limit`; fails the test
    /// with the last answer otherwise.
    pub async fn until(
        &self,
        user: &Session,
        path: &str,
        limit: Duration,
        ready: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let reply = self.call(Method::GET, path, Some(&user.token), None).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}: {:?}", reply.body);
            if ready(&reply.body) {
                return reply.body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path} never became ready; last answer {}",
                reply.body
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
}

/// The token of the newest verification link sent to `user_id` at `email`: from the mail sink, or
/// from the notification service's queued email while the SMTP path is cut (the row keeps
/// the token until the email is finished).
async fn verification_token(db: &sqlx::PgPool, user_id: Uuid, email: &str, limit: Duration) -> String {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let queued: Option<String> = sqlx::query_scalar(
            "SELECT payload->>'token' FROM deliveries WHERE user_id = $1 AND kind = 'verify_email' \
             AND payload ? 'token' ORDER BY created_at DESC LIMIT 1",
        )
        .bind(user_id)
        .fetch_optional(db)
        .await
        .expect("reads deliveries")
        .flatten();
        let token = match queued {
            Some(token) => Some(token),
            None => crate::mail_sink::emails_to(email)
                .await
                .iter()
                .rev()
                .find_map(|e| crate::mail_sink::link_token(&e.text, "verify-email?token=")),
        };
        if let Some(token) = token {
            return token;
        }
        assert!(tokio::time::Instant::now() < deadline, "no verification link for {email}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads a reqwest response into a [`Reply`].
pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap_or_default();
    Reply { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}

/// The current month as `YYYY-MM`.
pub fn this_month() -> String {
    chrono::Utc::now().format("%Y-%m").to_string()
}

/// Registers and logs in a fresh user through the gateway at `base` (`…/api/v1`), for the
/// benchmark clients; returns the access token.
pub async fn bench_user(http: &reqwest::Client, base: &str, label: &str) -> anyhow::Result<String> {
    let email = format!("{label}-{}@example.com", Uuid::now_v7().simple());
    let password = "benchmark passphrase";
    let registered = http
        .post(format!("{base}/auth/register"))
        .json(&serde_json::json!({"email": email, "password": password, "name": "Bench"}))
        .send()
        .await?;
    anyhow::ensure!(registered.status().is_success(), "register: {}", registered.status());
    let login: Value = http
        .post(format!("{base}/auth/login"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await?
        .json()
        .await?;
    Ok(login["access_token"].as_str().ok_or_else(|| anyhow::anyhow!("no token"))?.to_owned())
}
