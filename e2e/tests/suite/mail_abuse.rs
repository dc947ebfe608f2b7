//! The mailer cannot be turned on anyone: an address that unsubscribed from everything or
//! bounced gets nothing more from any account, and one user's flood of email cannot hold
//! back everyone else's.

use std::time::Duration;

use budgetsmart_common::database;
use chrono::Utc;
use e2e::mail_sink::{self, header};
use e2e::{Options, TestSystem, admin_database_url, this_month};
use notification::deliveries::{self, NewDelivery, Status};
use notification::kind::Kind;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use uuid::Uuid;

const SOON: Duration = Duration::from_secs(20);

async fn history(system: &TestSystem, token: &str) -> Vec<Value> {
    let listed = system.call(Method::GET, "/notifications", Some(token), None).await;
    listed.body["data"].as_array().cloned().unwrap_or_default()
}

/// A budget at 100.00 USD and a debit of 90.00: the 80 % alert.
async fn cross_a_threshold(system: &TestSystem, token: &str, description: &str) {
    let body =
        json!({"month": this_month(), "currency": "USD", "total_limit": "100.00", "alert_thresholds": [80]});
    let budget = system.call(Method::POST, "/budgets", Some(token), Some(body)).await;
    assert!(
        budget.status == StatusCode::CREATED || budget.status == StatusCode::CONFLICT,
        "{:?}",
        budget.body
    );
    let day = Utc::now().format("%Y-%m-%d").to_string();
    let debit = json!({"occurred_on": day, "description": description, "amount": "90.00", "currency": "USD", "type": "debit"});
    let created = system.call(Method::POST, "/transactions", Some(token), Some(debit)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
}

#[tokio::test]
async fn an_address_that_unsubscribed_from_everything_stays_unsubscribed_whatever_the_account_says() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let welcome = mail_sink::wait_for(&ana.email, 1, SOON, |e| e.subject.contains("Welcome")).await;
    assert_eq!(welcome.len(), 1);
    // The welcome's link names its kind only, and its scope cannot be edited into "all".
    let link = header(&welcome[0].source, "List-Unsubscribe").expect("List-Unsubscribe");
    assert!(link.contains(".welcome."), "{link}");
    let all = link.replace(".welcome.", ".all.");
    let edited =
        all.trim_matches(|c| c == '<' || c == '>').replace("http://budgetsmart.test/api/v1", &system.api);
    let refused = system.http.post(&edited).send().await.expect("answers");
    assert_eq!(refused.status(), StatusCode::NOT_FOUND, "a link's scope cannot be edited");

    // The "all" link a digest carries, as the service signs it.
    let signer = notification::unsubscribe::UnsubscribeSigner::new(system.unsubscribe_secret.clone());
    let user = Uuid::parse_str(&ana.user_id).expect("uuid");
    let token = signer.sign(user, notification::unsubscribe::Scope::All);
    let url = format!("{}/notifications/unsubscribe?token={token}", system.api);
    let done = system.http.post(&url).send().await.expect("answers");
    assert_eq!(done.status(), StatusCode::OK);

    // The account turns email back on; the address stays off the list of people we write to.
    let mut prefs = system.call(Method::GET, "/notifications/preferences", Some(&ana.token), None).await.body;
    prefs["email_enabled"] = json!(true);
    let put = system.call(Method::PUT, "/notifications/preferences", Some(&ana.token), Some(prefs)).await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    cross_a_threshold(&system, &ana.token, "Groceries").await;
    let suppressed = e2e::eventually(SOON, || async {
        history(&system, &ana.token)
            .await
            .into_iter()
            .find(|n| n["kind"] == "budget_threshold_reached" && n["status"] == "suppressed")
    })
    .await
    .expect("the alert is kept, suppressed");
    assert_eq!(suppressed["last_error"], "the address unsubscribed from all email", "{suppressed}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(mail_sink::emails_to(&ana.email).await.iter().all(|e| !e.subject.contains("80%")));
    system.stop().await;
}

/// An SMTP server of the test's own that answers every RCPT with 550, as a mail server does
/// for a mailbox that does not exist.
async fn bouncing_smtp() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 bounce.test ESMTP\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 bounce.test\r\n",
                        "MAIL" | "RSET" | "NOOP" => b"250 OK\r\n",
                        "RCPT" => b"550 5.1.1 No such mailbox\r\n",
                        "QUIT" => {
                            let _ = write.write_all(b"221 Bye\r\n").await;
                            break;
                        }
                        _ => b"503 Bad sequence\r\n",
                    };
                    if write.write_all(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_hard_bounce_puts_the_address_on_the_suppression_list() {
    let smtp = bouncing_smtp().await;
    let system = TestSystem::start_with(Options { smtp: Some(smtp), ..Options::default() }).await;
    let bo = system.register_unverified("bo").await;
    // The verification link bounces: failed, with a plain reason, and the address is suppressed.
    let bounced = e2e::eventually(SOON, || async {
        history(&system, &bo.token)
            .await
            .into_iter()
            .find(|n| n["kind"] == "verify_email" && n["status"] == "failed")
    })
    .await
    .expect("the link fails");
    assert_eq!(bounced["last_error"], "not sent: the address cannot receive email", "{bounced}");
    let db = system.pool("notification").await;
    let listed: Option<String> =
        sqlx::query_scalar("SELECT reason FROM suppressed_addresses WHERE address = $1")
            .bind(bo.email.to_lowercase())
            .fetch_optional(&db)
            .await
            .expect("reads");
    assert_eq!(listed.as_deref(), Some("bounced"));
    // The next email to it is not even tried, security email included.
    let asked =
        system.call(Method::POST, "/auth/password-reset", None, Some(json!({"email": bo.email}))).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    let next = e2e::eventually(SOON, || async {
        history(&system, &bo.token)
            .await
            .into_iter()
            .find(|n| n["kind"] == "password_reset" && n["status"] == "suppressed")
    })
    .await
    .expect("the reset link is suppressed");
    assert!(next["last_error"].as_str().is_some_and(|e| e.contains("bounced")), "{next}");
    db.close().await;
    system.stop().await;
}

/// Users take turns: with one user's 40 emails due, another user's single email, due after
/// all of them, is in the first batch a sender claims.
#[tokio::test]
async fn one_users_flood_cannot_hold_back_another_users_email() {
    let name = format!("fair_{}", Uuid::now_v7().simple());
    let base = admin_database_url();
    let url = format!("{}/{name}", &base[..base.rfind('/').expect("the URL names a database")]);
    let pool = database::connect(&url, "notification", 2).await.expect("connects");
    database::migrate(&pool, sqlx::migrate!("../notification/migrations"), "notification")
        .await
        .expect("migrates");
    let (flood, quiet) = (Uuid::now_v7(), Uuid::now_v7());
    let mut conn = pool.acquire().await.expect("a connection");
    let row = |user_id: Uuid, key: String, seconds_ago: i64| NewDelivery {
        user_id,
        kind: Kind::BudgetThresholdReached,
        dedupe_key: key,
        recipient: format!("{user_id}@example.com"),
        subject: "Alert".into(),
        payload: json!({}),
        digest: false,
        not_before: Utc::now() - chrono::Duration::seconds(seconds_ago),
        status: Status::Queued,
        note: None,
    };
    for i in 0..40 {
        deliveries::insert(&mut conn, &row(flood, format!("flood-{i}"), 600 - i)).await.expect("inserts");
    }
    deliveries::insert(&mut conn, &row(quiet, "quiet".into(), 1)).await.expect("inserts");
    let mut tx = pool.begin().await.expect("begins");
    let claimed = deliveries::claim(&mut tx, 5, Duration::from_secs(60)).await.expect("claims");
    tx.commit().await.expect("commits");
    assert_eq!(claimed.len(), 5);
    assert!(claimed.iter().any(|c| c.user_id == quiet), "the quiet user's email is in the first batch");
    assert_eq!(claimed.iter().filter(|c| c.user_id == flood).count(), 4);
    drop(conn);
    pool.close().await;
    let admin = PgPool::connect(&base).await.expect("connects");
    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&admin).await.expect("drops");
    admin.close().await;
}
