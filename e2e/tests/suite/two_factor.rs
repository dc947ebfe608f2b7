//! Two-factor sign-in (TOTP, RFC 6238): enrolment with a secret, URI and QR code; a code turns it
//! on and gives ten recovery codes; login then asks for a code; codes work once, wrong ones are
//! throttled like passwords; turning it off needs the password and a code.

use std::time::{SystemTime, UNIX_EPOCH};

use e2e::{Session, TestSystem};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use totp_rs::{Builder, Secret};

/// The app's code for `secret` (base32) at `offset` seconds from now.
fn code(secret: &str, offset: i64) -> String {
    let bytes = Secret::try_from_base32(secret).expect("base32").as_ref().to_vec();
    let totp = Builder::new().with_secret(bytes).build().expect("valid settings");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs();
    totp.generate(now.saturating_add_signed(offset)).to_string()
}

async fn login(system: &TestSystem, user: &Session) -> Value {
    let body = json!({"email": user.email, "password": user.password});
    let answer = system.call(Method::POST, "/auth/login", None, Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    answer.body
}

/// Enrols `user` and confirms with the current code; the secret, the code used and the
/// recovery codes.
async fn enrol(system: &TestSystem, user: &Session) -> (String, String, Vec<String>) {
    let started = system.call(Method::POST, "/me/mfa/totp", Some(&user.token), None).await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
    let secret = started.body["secret"].as_str().expect("secret").to_owned();
    let now = code(&secret, 0);
    let confirmed = system
        .call(Method::POST, "/me/mfa/totp/confirm", Some(&user.token), Some(json!({"code": now})))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    let codes = confirmed.body["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("a code").to_owned())
        .collect();
    (secret, now, codes)
}

#[tokio::test]
async fn two_factor_sign_in_from_enrolment_to_turning_it_off() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;

    // Enrolment: the secret, its URI and its QR code; nothing is on yet.
    let started = system.call(Method::POST, "/me/mfa/totp", Some(&ana.token), None).await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
    let uri = started.body["otpauth_uri"].as_str().expect("uri");
    assert!(uri.starts_with("otpauth://totp/BudgetSmart:") && uri.contains("issuer=BudgetSmart"), "{uri}");
    let secret = started.body["secret"].as_str().expect("secret").to_owned();
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    for (url, kind, magic) in [
        ("qr_svg_url", "image/svg+xml", b"<svg".as_slice()),
        ("qr_png_url", "image/png", b"\x89PNG".as_slice()),
    ] {
        let url = started.body[url].as_str().expect("url");
        let image = system
            .http
            .get(format!("http://{}{url}", system.gateway))
            .bearer_auth(&ana.token)
            .send()
            .await
            .expect("answers");
        assert_eq!(image.status(), StatusCode::OK);
        assert_eq!(image.headers()["content-type"], kind);
        let bytes = image.bytes().await.expect("a body");
        assert!(bytes.windows(magic.len()).any(|w| w == magic), "{url} is not {kind}");
    }
    let me = system.call(Method::GET, "/me", Some(&ana.token), None).await;
    assert_eq!(me.body["mfa_enabled"], false);
    assert!(login(&system, &ana).await["access_token"].is_string(), "not on before it is confirmed");

    // A wrong code does not confirm (one chance in a million that 000000 is right).
    let wrong = system
        .call(Method::POST, "/me/mfa/totp/confirm", Some(&ana.token), Some(json!({"code": "000000"})))
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", wrong.body);
    assert_eq!(wrong.error_fields(), vec!["code".to_owned()]);
    let first = code(&secret, 0);
    let confirmed = system
        .call(Method::POST, "/me/mfa/totp/confirm", Some(&ana.token), Some(json!({"code": first})))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    let recovery: Vec<String> = confirmed.body["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("a code").to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    let me = system.call(Method::GET, "/me", Some(&ana.token), None).await;
    assert_eq!(me.body["mfa_enabled"], true);
    // Once on, the secret is not shown again, and enrolling again is refused.
    let qr = system.call(Method::GET, "/me/mfa/totp/qr.svg", Some(&ana.token), None).await;
    assert_eq!(qr.status, StatusCode::NOT_FOUND);
    let again = system.call(Method::POST, "/me/mfa/totp", Some(&ana.token), None).await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    // Login now asks for the second factor.
    let answer = login(&system, &ana).await;
    assert_eq!(answer["mfa_required"], true, "{answer}");
    assert!(answer.get("access_token").is_none(), "{answer}");
    let token = answer["mfa_token"].as_str().expect("mfa_token").to_owned();
    let second = |body: Value| system.call(Method::POST, "/auth/mfa", None, Some(body));

    // The code that confirmed the enrolment was used: refused, like a made-up token.
    let reused = second(json!({"mfa_token": token, "code": first})).await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED, "{:?}", reused.body);
    let made_up = second(json!({"mfa_token": "bm90LWEtdG9rZW4", "code": code(&secret, 30)})).await;
    assert_eq!(made_up.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reused.body, made_up.body, "a reused code and a wrong token look the same");
    let both = second(json!({"mfa_token": token, "code": "123456", "recovery_code": recovery[0]})).await;
    assert_eq!(both.status, StatusCode::UNPROCESSABLE_ENTITY);
    let neither = second(json!({"mfa_token": token})).await;
    assert_eq!(neither.error_fields(), vec!["code".to_owned()]);

    // The next step's code (one step of clock skew is allowed) starts the session, once.
    let next = code(&secret, 30);
    let session = second(json!({"mfa_token": token, "code": next})).await;
    assert_eq!(session.status, StatusCode::OK, "{:?}", session.body);
    assert!(session.body["access_token"].is_string() && session.body["refresh_token"].is_string());
    let spent = second(json!({"mfa_token": token, "code": next})).await;
    assert_eq!(spent.status, StatusCode::UNAUTHORIZED, "the token is spent");
    let fresh = login(&system, &ana).await["mfa_token"].as_str().expect("token").to_owned();
    let replayed = second(json!({"mfa_token": fresh, "code": next})).await;
    assert_eq!(replayed.status, StatusCode::UNAUTHORIZED, "the code is spent");

    // A recovery code works once, however it is typed.
    let typed = recovery[1].to_uppercase().replace('-', " ");
    let recovered = second(json!({"mfa_token": fresh, "recovery_code": typed})).await;
    assert_eq!(recovered.status, StatusCode::OK, "{:?}", recovered.body);
    let fresh = login(&system, &ana).await["mfa_token"].as_str().expect("token").to_owned();
    let twice = second(json!({"mfa_token": fresh, "recovery_code": recovery[1]})).await;
    assert_eq!(twice.status, StatusCode::UNAUTHORIZED);

    // Turning it off needs the password and a code.
    let off = |body: Value| system.call(Method::DELETE, "/me/mfa/totp", Some(&ana.token), Some(body));
    let no_password = off(json!({"password": "not the password", "recovery_code": recovery[2]})).await;
    assert_eq!(no_password.error_fields(), vec!["password".to_owned()]);
    let no_code = off(json!({"password": ana.password, "recovery_code": "aaaaa-aaaaa"})).await;
    assert_eq!(no_code.error_fields(), vec!["recovery_code".to_owned()]);
    let disabled = off(json!({"password": ana.password, "recovery_code": recovery[2]})).await;
    assert_eq!(disabled.status, StatusCode::NO_CONTENT, "{:?}", disabled.body);
    assert!(login(&system, &ana).await["access_token"].is_string(), "login is one step again");
    assert_eq!(off(json!({"password": ana.password, "code": "123456"})).await.status, StatusCode::CONFLICT);

    let kinds = system.audit_kinds(&ana.token).await;
    for kind in ["mfa_enrolment_started", "mfa_enabled", "mfa_required", "mfa_failed", "mfa_disabled"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing from {kinds:?}");
    }
    system.stop().await;
}

#[tokio::test]
async fn wrong_codes_are_throttled_like_passwords() {
    let system = TestSystem::start().await;
    let bea = system.register_and_login("bea").await;
    let (secret, _, _) = enrol(&system, &bea).await;
    let token = login(&system, &bea).await["mfa_token"].as_str().expect("token").to_owned();
    let mut statuses = Vec::new();
    for guess in 0..6 {
        let body = json!({"mfa_token": token, "code": format!("{:06}", 999_990 + guess)});
        statuses.push(system.call(Method::POST, "/auth/mfa", None, Some(body)).await);
    }
    assert!(statuses[..5].iter().all(|s| s.status == StatusCode::UNAUTHORIZED), "{:?}", statuses[0].body);
    assert_eq!(statuses[5].status, StatusCode::TOO_MANY_REQUESTS);
    assert!(statuses[5].headers.contains_key("retry-after"));
    // Even the right code waits now.
    let right = json!({"mfa_token": token, "code": code(&secret, 30)});
    assert_eq!(
        system.call(Method::POST, "/auth/mfa", None, Some(right)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    system.stop().await;
}

#[tokio::test]
async fn turning_it_on_ends_other_sessions_and_a_new_password_ends_waiting_logins() {
    let system = TestSystem::start().await;
    let cy = system.register_and_login("cy").await;
    // A second session, as one begun with a phished password would be.
    let other = login(&system, &cy).await["refresh_token"].as_str().expect("refresh").to_owned();
    let (secret, _, _) = enrol(&system, &cy).await;
    let refresh = |token: String| {
        system.call(Method::POST, "/auth/refresh", None, Some(json!({"refresh_token": token})))
    };
    assert_eq!(refresh(other).await.status, StatusCode::UNAUTHORIZED, "the other session ended");
    assert_eq!(refresh(cy.refresh.clone()).await.status, StatusCode::OK, "the enrolling session lives on");

    // A login waits for its code; the password changes meanwhile: the waiting login is over.
    let waiting = login(&system, &cy).await["mfa_token"].as_str().expect("mfa_token").to_owned();
    let password = json!({"current_password": cy.password, "new_password": "a brand new passphrase"});
    let changed = system.call(Method::POST, "/me/password", Some(&cy.token), Some(password)).await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{:?}", changed.body);
    let late = json!({"mfa_token": waiting, "code": code(&secret, 30)});
    assert_eq!(
        system.call(Method::POST, "/auth/mfa", None, Some(late)).await.status,
        StatusCode::UNAUTHORIZED
    );
    system.stop().await;
}
