//! A way back in after a forgotten password: the request answers the same for every address,
//! the emailed link works once and for 30 minutes, the new password ends every session, and
//! the link's token is never written to the notification journal.

use std::time::Duration;

use e2e::TestSystem;
use e2e::mail_sink;
use reqwest::{Method, StatusCode};
use serde_json::json;

const SOON: Duration = Duration::from_secs(20);

/// The token of the reset link in an email's text.
fn token_in(text: &str) -> String {
    let start = text.find("confirm?token=").expect("the email has the link") + "confirm?token=".len();
    text[start..].split_whitespace().next().expect("a token").to_owned()
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_and_ends_every_session() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let ask = |email: String| {
        system.call(Method::POST, "/auth/password-reset", None, Some(json!({"email": email})))
    };
    assert_eq!(ask(ana.email.clone()).await.status, StatusCode::ACCEPTED);
    let earlier = mail_sink::wait_for(&ana.email, 1, SOON, |e| e.subject.contains("Reset your")).await;
    let earlier = token_in(&earlier[0].text);
    assert_eq!(ask(ana.email.clone()).await.status, StatusCode::ACCEPTED);
    let nobody = ask("nobody-here@example.com".into()).await;
    assert_eq!(nobody.status, StatusCode::ACCEPTED, "the same answer for an address without an account");

    let emails = mail_sink::wait_for(&ana.email, 2, SOON, |e| e.subject.contains("Reset your")).await;
    assert_eq!(emails.len(), 2);
    assert!(emails.iter().all(|e| e.text.contains("30 minutes")), "{}", emails[0].text);
    let token = emails.iter().map(|e| token_in(&e.text)).find(|t| *t != earlier).expect("the second link");

    // The link's page is a form, and opening it spends nothing.
    let link = format!("{}/auth/password-reset/confirm?token={token}", system.api);
    let opened = system.http.get(&link).send().await.expect("answers");
    assert_eq!(opened.status(), StatusCode::OK);
    let form = opened.text().await.expect("html");
    assert!(form.contains("name=\"new_password\"") && form.contains(&token), "{form}");

    // A password the policy refuses names the field, and leaves the link usable.
    let weak = json!({"token": token, "new_password": "short"});
    let refused = system.call(Method::POST, "/auth/password-reset/confirm", None, Some(weak)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
    assert_eq!(refused.error_fields(), vec!["new_password".to_owned()]);

    // The page's form, posted as a browser does.
    let posted = system
        .http
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}&new_password=a+much+better+passphrase"))
        .send()
        .await
        .expect("answers");
    assert_eq!(posted.status(), StatusCode::OK);
    assert!(posted.text().await.expect("html").contains("Your password is changed"));

    // Every session ended; the old password no longer works, the new one does.
    let refresh =
        system.call(Method::POST, "/auth/refresh", None, Some(json!({"refresh_token": ana.refresh}))).await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED);
    let old = json!({"email": ana.email, "password": ana.password});
    assert_eq!(
        system.call(Method::POST, "/auth/login", None, Some(old)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let new = json!({"email": ana.email, "password": "a much better passphrase"});
    let login = system.call(Method::POST, "/auth/login", None, Some(new)).await;
    assert_eq!(login.status, StatusCode::OK);

    // A used token and a made-up one are refused alike, naming the token.
    let again = json!({"token": token, "new_password": "yet another passphrase"});
    let reused = system.call(Method::POST, "/auth/password-reset/confirm", None, Some(again)).await;
    let made_up = json!({"token": "bm90LWEtdG9rZW4", "new_password": "yet another passphrase"});
    let wrong = system.call(Method::POST, "/auth/password-reset/confirm", None, Some(made_up)).await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused.error_fields(), vec!["token".to_owned()]);
    assert_eq!(reused.body, wrong.body, "a used token and a wrong one look the same");
    let other_link = json!({"token": earlier, "new_password": "yet another passphrase"});
    let voided = system.call(Method::POST, "/auth/password-reset/confirm", None, Some(other_link)).await;
    assert_eq!(voided.body, wrong.body, "the account's other link died with the reset");

    let token = login.body["access_token"].as_str().expect("token").to_owned();
    let kinds = system.audit_kinds(&token).await;
    assert!(kinds.iter().any(|k| k == "password_reset"), "{kinds:?}");

    // The link's token never reaches the notification journal.
    assert_eq!(system.journaled("password_reset_requested").await, 0);
    system.stop().await;
}

#[tokio::test]
async fn one_address_gets_at_most_three_reset_links_an_hour() {
    let system = TestSystem::start().await;
    let bea = system.register_and_login("bea").await;
    for _ in 0..6 {
        let asked =
            system.call(Method::POST, "/auth/password-reset", None, Some(json!({"email": bea.email}))).await;
        assert_eq!(asked.status, StatusCode::ACCEPTED, "always the same answer");
    }
    let links = mail_sink::wait_for(&bea.email, 3, SOON, |e| e.subject.contains("Reset your")).await;
    assert_eq!(links.len(), 3);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = mail_sink::emails_to(&bea.email).await;
    assert_eq!(all.iter().filter(|e| e.subject.contains("Reset your")).count(), 3, "no fourth");
    let malformed = system
        .call(Method::POST, "/auth/password-reset", None, Some(json!({"email": "not an address"})))
        .await;
    assert_eq!(malformed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(malformed.error_fields(), vec!["email".to_owned()]);
    system.stop().await;
}
