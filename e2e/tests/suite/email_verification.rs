//! Verified email: registering with someone else's address no longer turns our mail server on
//! them. Until the emailed link is used, the address gets only the link and password resets;
//! resends are throttled; a change of address takes effect only when the new address's link is
//! used, and the old address is told.

use std::time::Duration;

use e2e::mail_sink::{self, link_token};
use e2e::{Session, TestSystem};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(20);

async fn me(system: &TestSystem, user: &Session) -> Value {
    let me = system.call(Method::GET, "/me", Some(&user.token), None).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    me.body
}

/// Moves every link `user` was sent `seconds` into the past, as if that time had gone by.
async fn age_links(system: &TestSystem, user: &Session, seconds: i64) {
    let db = system.pool("engine").await;
    sqlx::query(
        "UPDATE email_tokens SET created_at = created_at - make_interval(secs => $2) WHERE user_id = $1::uuid",
    )
    .bind(&user.user_id)
    .bind(seconds as f64)
    .execute(&db)
    .await
    .expect("ages the links");
    db.close().await;
}

#[tokio::test]
async fn an_unverified_address_gets_only_security_email_until_its_link_is_used() {
    let system = TestSystem::start().await;
    let ana = system.register_unverified("ana").await;
    assert_eq!(me(&system, &ana).await["email_verified"], false);

    // A crossed budget threshold is held back, and the summary on demand is refused.
    system.budget_this_month(&ana, "100.00").await;
    let spend = json!({"occurred_on": format!("{}-03", e2e::this_month()), "description": "Groceries",
        "amount": "60.00", "currency": "USD", "type": "debit"});
    let created = system.call(Method::POST, "/transactions", Some(&ana.token), Some(spend.clone())).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let held = system
        .until(&ana, "/notifications", SOON, |b| {
            b["data"].as_array().is_some_and(|d| d.iter().any(|n| n["kind"] == "budget_threshold_reached"))
        })
        .await;
    let alert = held["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|n| n["kind"] == "budget_threshold_reached")
        .expect("the alert");
    assert_eq!(alert["status"], "suppressed", "{alert}");
    assert_eq!(alert["last_error"], "the email address is not verified yet");
    let summary = system.call(Method::POST, "/notifications/summary", Some(&ana.token), None).await;
    assert_eq!(summary.status, StatusCode::CONFLICT, "{:?}", summary.body);
    assert!(summary.is_problem());
    assert!(summary.body["detail"].as_str().unwrap_or_default().contains("verify"), "{:?}", summary.body);

    // A password reset is security email: it still goes.
    let reset =
        system.call(Method::POST, "/auth/password-reset", None, Some(json!({"email": ana.email}))).await;
    assert_eq!(reset.status, StatusCode::ACCEPTED);
    mail_sink::wait_for(&ana.email, 1, SOON, |e| e.subject.contains("Reset your")).await;
    let emails = mail_sink::wait_for(&ana.email, 2, SOON, |_| true).await;
    let subjects: Vec<&str> = emails.iter().map(|e| e.subject.as_str()).collect();
    assert_eq!(subjects.len(), 2, "the link and the reset, nothing else: {subjects:?}");
    assert!(subjects.contains(&"Confirm your email address for BudgetSmart"), "{subjects:?}");
    let link_email = emails.iter().find(|e| e.subject.starts_with("Confirm")).expect("the link");
    assert!(link_email.text.contains("24 hours"), "{}", link_email.text);
    let token = link_token(&link_email.text, "verify-email?token=").expect("the link");

    // Opening the link shows a button and changes nothing: mail scanners fetch links.
    let link = format!("{}/auth/verify-email?token={token}", system.api);
    let opened = system.http.get(&link).send().await.expect("answers");
    assert_eq!(opened.status(), StatusCode::OK);
    let page = opened.text().await.expect("html");
    assert!(page.contains("<button") && page.contains(&token), "{page}");
    assert_eq!(me(&system, &ana).await["email_verified"], false);

    // The button posts the form: the address is verified, and the welcome follows.
    let posted = system
        .http
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .expect("answers");
    assert_eq!(posted.status(), StatusCode::OK);
    assert!(posted.text().await.expect("html").contains("Your address is confirmed"));
    assert_eq!(me(&system, &ana).await["email_verified"], true);
    let welcome = mail_sink::wait_for(&ana.email, 1, SOON, |e| e.subject.contains("Welcome")).await;
    assert_eq!(welcome.len(), 1, "welcomed once the address is proven");

    // Now email flows: the next threshold's alert is sent, and the summary is accepted.
    let created = system.call(Method::POST, "/transactions", Some(&ana.token), Some(spend)).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let sent = mail_sink::wait_for(&ana.email, 1, SOON, |e| e.subject.contains("100%")).await;
    assert_eq!(sent.len(), 1, "the 100 % alert reaches the verified address");
    let summary = system.call(Method::POST, "/notifications/summary", Some(&ana.token), None).await;
    assert_eq!(summary.status, StatusCode::ACCEPTED, "{:?}", summary.body);

    // A used token and a made-up one are refused alike, naming the token.
    let reused = system.call(Method::POST, "/auth/verify-email", None, Some(json!({"token": token}))).await;
    let made_up = system
        .call(Method::POST, "/auth/verify-email", None, Some(json!({"token": "bm90LWEtdG9rZW4"})))
        .await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused.error_fields(), vec!["token".to_owned()]);
    assert_eq!(reused.body, made_up.body, "a used token and a wrong one look the same");
    let empty = system.call(Method::POST, "/auth/verify-email", None, Some(json!({"token": ""}))).await;
    assert_eq!(empty.error_fields(), vec!["token".to_owned()]);

    let kinds = system.audit_kinds(&ana.token).await;
    assert!(kinds.iter().any(|k| k == "email_verified"), "{kinds:?}");

    // The link's token never reaches the notification journal.
    assert_eq!(system.journaled("email_verification_requested").await, 0);
    system.stop().await;
}

#[tokio::test]
async fn resending_is_throttled_to_one_a_minute_and_five_a_day() {
    let system = TestSystem::start().await;
    let bea = system.register_unverified("bea").await;
    let resend = || system.call(Method::POST, "/auth/verify-email/resend", Some(&bea.token), None);

    // The registration's link was just sent: a minute must pass.
    let soon = resend().await;
    assert_eq!(soon.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", soon.body);
    let wait: u64 = soon.headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");

    // Four more, a minute apart, make five in the day; the sixth waits for the first to age.
    for _ in 0..4 {
        age_links(&system, &bea, 61).await;
        assert_eq!(resend().await.status, StatusCode::ACCEPTED);
    }
    age_links(&system, &bea, 61).await;
    let sixth = resend().await;
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = sixth.headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!(wait > 3600, "the day's quota is spent: {wait}");
    let links = mail_sink::wait_for(&bea.email, 5, SOON, |e| e.subject.starts_with("Confirm")).await;
    assert_eq!(links.len(), 5);

    // Any of the links verifies; then a resend has nothing to do.
    let token = link_token(&links[2].text, "verify-email?token=").expect("a token");
    let verified = system.call(Method::POST, "/auth/verify-email", None, Some(json!({"token": token}))).await;
    assert_eq!(verified.status, StatusCode::NO_CONTENT, "{:?}", verified.body);
    age_links(&system, &bea, 86_400).await;
    let again = resend().await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.body);
    system.stop().await;
}

#[tokio::test]
async fn a_change_of_address_needs_the_password_and_happens_when_the_new_link_is_used() {
    let system = TestSystem::start().await;
    let cal = system.register_and_login("cal").await;
    let other = system.register_unverified("other").await;
    let new_email = format!("cal-new-{}@example.org", uuid::Uuid::now_v7().simple());
    let change = |body: Value| system.call(Method::POST, "/me/email", Some(&cal.token), Some(body));

    let wrong = change(json!({"new_email": new_email, "password": "not the password"})).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong.error_fields(), vec!["password".to_owned()]);
    let malformed = change(json!({"new_email": "no-at-sign", "password": cal.password})).await;
    assert_eq!(malformed.error_fields(), vec!["new_email".to_owned()]);
    let same = change(json!({"new_email": cal.email.to_uppercase(), "password": cal.password})).await;
    assert_eq!(same.error_fields(), vec!["new_email".to_owned()]);
    let taken = change(json!({"new_email": other.email, "password": cal.password})).await;
    assert_eq!(taken.status, StatusCode::CONFLICT);

    let asked = change(json!({"new_email": new_email, "password": cal.password})).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{:?}", asked.body);
    // Nothing changes until the new address proves itself.
    let profile = me(&system, &cal).await;
    assert_eq!(profile["email"], cal.email.as_str());
    assert_eq!(profile["email_verified"], true);
    let link =
        mail_sink::wait_for(&new_email, 1, SOON, |e| e.subject.contains("new BudgetSmart email")).await;
    assert_eq!(link.len(), 1);
    // The current address hears of it at once, while a new password can still stop it.
    let asked = mail_sink::wait_for(&cal.email, 1, SOON, |e| e.subject.contains("was asked for")).await;
    assert_eq!(asked.len(), 1);
    assert!(asked[0].text.contains("c***@example.org") && asked[0].text.contains("change your password"));
    let token = link_token(&link[0].text, "verify-email?token=").expect("the link");

    let used = system.call(Method::POST, "/auth/verify-email", None, Some(json!({"token": token}))).await;
    assert_eq!(used.status, StatusCode::NO_CONTENT, "{:?}", used.body);
    let profile = me(&system, &cal).await;
    assert_eq!(profile["email"], new_email.as_str());
    assert_eq!(profile["email_verified"], true);

    // The old address is told, without the new one in full.
    let told = mail_sink::wait_for(&cal.email, 1, SOON, |e| e.subject.contains("was changed")).await;
    assert_eq!(told.len(), 1);
    assert!(
        told[0].text.contains("c***@example.org") && !told[0].text.contains(&new_email),
        "{}",
        told[0].text
    );
    // No second welcome for the new address.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(mail_sink::emails_to(&new_email).await.iter().all(|e| !e.subject.contains("Welcome")));

    // One signs in with the new address only.
    let login = |email: &str| {
        system.call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"email": email, "password": cal.password})),
        )
    };
    assert_eq!(login(&cal.email).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&new_email).await.status, StatusCode::OK);

    let kinds = system.audit_kinds(&cal.token).await;
    assert!(
        kinds.iter().any(|k| k == "email_change_requested") && kinds.iter().any(|k| k == "email_changed"),
        "{kinds:?}"
    );
    system.stop().await;
}

#[tokio::test]
async fn a_password_reset_proves_the_address_too() {
    let system = TestSystem::start().await;
    let dee = system.register_unverified("dee").await;
    let asked =
        system.call(Method::POST, "/auth/password-reset", None, Some(json!({"email": dee.email}))).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    let reset = mail_sink::wait_for(&dee.email, 1, SOON, |e| e.subject.contains("Reset your")).await;
    let token = link_token(&reset[0].text, "confirm?token=").expect("the link");
    let body = json!({"token": token, "new_password": "a much better passphrase"});
    let confirmed = system.call(Method::POST, "/auth/password-reset/confirm", None, Some(body)).await;
    assert_eq!(confirmed.status, StatusCode::NO_CONTENT, "{:?}", confirmed.body);
    let login = json!({"email": dee.email, "password": "a much better passphrase"});
    let tokens = system.call(Method::POST, "/auth/login", None, Some(login)).await;
    let token = tokens.body["access_token"].as_str().expect("token").to_owned();
    let profile = system.call(Method::GET, "/me", Some(&token), None).await;
    assert_eq!(profile.body["email_verified"], true);
    system.stop().await;
}

#[tokio::test]
async fn a_password_change_voids_a_pending_change_of_address() {
    let system = TestSystem::start().await;
    let eli = system.register_and_login("eli").await;
    let intruder = format!("intruder-{}@example.org", uuid::Uuid::now_v7().simple());
    let body = json!({"new_email": intruder, "password": eli.password});
    let asked = system.call(Method::POST, "/me/email", Some(&eli.token), Some(body)).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{:?}", asked.body);
    let link = mail_sink::wait_for(&intruder, 1, SOON, |e| e.subject.contains("new BudgetSmart email")).await;
    let token = link_token(&link[0].text, "verify-email?token=").expect("the link");
    // The owner notices and changes the password: the pending change dies with the old one.
    let password = json!({"current_password": eli.password, "new_password": "a brand new passphrase"});
    let changed = system.call(Method::POST, "/me/password", Some(&eli.token), Some(password)).await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{:?}", changed.body);
    let used = system.call(Method::POST, "/auth/verify-email", None, Some(json!({"token": token}))).await;
    assert_eq!(used.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", used.body);
    assert_eq!(me(&system, &eli).await["email"], eli.email.as_str());
    system.stop().await;
}
