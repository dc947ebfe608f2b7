//! Email notifications end to end: real HTTP into the gateway, real gRPC and RabbitMQ between
//! the services, and a real SMTP server process (maildev) receiving the mail.

use std::time::Duration;

use budgetsmart_common::money;
use budgetsmart_proto::events::v1 as ev;
use chrono::{Datelike, Timelike, Utc};
use e2e::mail_sink::{self, Email, header};
use e2e::proxy::TcpProxy;
use e2e::{Options, Session, TestSystem, mail_sink_smtp, this_month};
use prost::Message as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

const SOON: Duration = Duration::from_secs(20);

async fn budget(system: &TestSystem, user: &Session, limit: &str) -> String {
    let body =
        json!({"month": this_month(), "currency": "USD", "total_limit": limit, "alert_thresholds": [80]});
    let created = system.call(Method::POST, "/budgets", Some(&user.token), Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body["id"].as_str().expect("id").to_owned()
}

async fn spend(system: &TestSystem, user: &Session, description: &str, amount: &str) -> Value {
    let day = Utc::now().format("%Y-%m-%d").to_string();
    let body = json!({"occurred_on": day, "description": description, "amount": amount, "currency": "USD", "type": "debit"});
    let created = system.call(Method::POST, "/transactions", Some(&user.token), Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body
}

fn is_alert(email: &Email) -> bool {
    email.subject.contains("80%")
}

/// A `budget_threshold_reached` as the engine would publish it, for a budget of `user`.
fn threshold_event(user: &Session, budget_id: &str) -> Vec<u8> {
    ev::BudgetThresholdReached {
        budget_id: budget_id.into(),
        user_id: user.user_id.clone(),
        month: this_month(),
        scope: "total".into(),
        threshold_percent: 80,
        limit: Some(money::to_proto("100".parse().expect("decimal"), "USD")),
        spent: Some(money::to_proto("85".parse().expect("decimal"), "USD")),
        currency: "USD".into(),
        ..Default::default()
    }
    .encode_to_vec()
}

async fn notifications(system: &TestSystem, user: &Session) -> Vec<Value> {
    let listed = system.call(Method::GET, "/notifications", Some(&user.token), None).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    listed.body["data"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn crossing_80_percent_emails_the_alert_with_both_parts_and_unsubscribe_headers() {
    let system = TestSystem::start().await;
    let mut sent_events = system.listen(&["notification_sent.v1"]).await;
    let ana = system.register_and_login("ana").await;

    let welcome = mail_sink::wait_for(&ana.email, 1, SOON, |e| e.subject.contains("Welcome")).await;
    assert_eq!(welcome.len(), 1, "the welcome email arrives");

    budget(&system, &ana, "100.00").await;
    spend(&system, &ana, "<script>alert('x')</script> Corner Shop", "85.00").await;
    let alerts = mail_sink::wait_for(&ana.email, 1, SOON, is_alert).await;
    assert_eq!(alerts.len(), 1, "one alert email");
    let alert = &alerts[0];
    assert_eq!(alert.subject, format!("You've used 80% of your overall budget for {}", month_label()));
    assert!(alert.text.contains("$85.00 of $100.00"), "text part: {}", alert.text);
    assert!(alert.text.contains("<script>alert('x')</script> Corner Shop"), "the text names the transaction");
    assert!(alert.html.contains("&lt;script&gt;"), "the HTML escapes the description");
    assert!(!alert.html.contains("<script>"), "no script runs");
    assert!(alert.source.contains("multipart/alternative"));
    let unsubscribe = header(&alert.source, "List-Unsubscribe").expect("List-Unsubscribe");
    assert!(
        unsubscribe.starts_with("<http://budgetsmart.test/api/v1/notifications/unsubscribe?token="),
        "{unsubscribe}"
    );
    assert_eq!(header(&alert.source, "List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
    assert!(header(&alert.source, "To").is_some_and(|to| to.contains(&ana.email)));

    let events = sent_events.drain(Duration::from_secs(3)).await;
    let payloads: Vec<ev::NotificationSent> =
        events.iter().map(|d| ev::NotificationSent::decode(d.data.as_slice()).expect("decodes")).collect();
    assert!(
        payloads.iter().any(|p| p.template == "budget_threshold_reached" && p.status == "sent"),
        "notification_sent is on the bus: {payloads:?}"
    );

    let history = notifications(&system, &ana).await;
    let row = history.iter().find(|n| n["kind"] == "budget_threshold_reached").expect("in the history");
    assert_eq!(row["status"], "sent");
    assert_eq!(row["channel"], "email");
    assert!(row["attempts"].as_u64() >= Some(1));
    assert!(row["sent_at"].is_string());
    system.stop().await;
}

fn month_label() -> String {
    Utc::now().format("%B %Y").to_string()
}

#[tokio::test]
async fn the_same_event_twice_gives_one_email_and_one_click_unsubscribe_turns_the_type_off() {
    let system = TestSystem::start().await;
    let bea = system.register_and_login("bea").await;
    let budget_id = budget(&system, &bea, "100.00").await;
    let event_id = Uuid::now_v7();
    let payload = threshold_event(&bea, &budget_id);
    system.publish("budget_threshold_reached", event_id, &bea.user_id, &payload).await;
    system.publish("budget_threshold_reached", event_id, &bea.user_id, &payload).await;
    let alerts = mail_sink::wait_for(&bea.email, 1, SOON, is_alert).await;
    assert_eq!(alerts.len(), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        mail_sink::emails_to(&bea.email).await.into_iter().filter(is_alert).count(),
        1,
        "never a second"
    );

    // The link from the header. Opening it (as a mail scanner prefetching links would) only
    // shows a page with a button, and changes nothing.
    let link = header(&alerts[0].source, "List-Unsubscribe").expect("header");
    let url =
        link.trim_matches(|c| c == '<' || c == '>').replace("http://budgetsmart.test/api/v1", &system.api);
    let opened = system.http.get(&url).send().await.expect("answers");
    assert_eq!(opened.status(), StatusCode::OK);
    let confirmation = opened.text().await.unwrap_or_default();
    assert!(confirmation.contains("<form method=\"post\">"), "{confirmation}");
    assert!(!confirmation.contains("You are unsubscribed"), "{confirmation}");
    let prefs = system.call(Method::GET, "/notifications/preferences", Some(&bea.token), None).await;
    assert_eq!(prefs.body["types"]["budget_threshold_reached"], true, "a GET changes nothing");

    // Posted the RFC 8058 way (or with the page's button): no login.
    let posted = system
        .http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .expect("answers");
    assert_eq!(posted.status(), StatusCode::OK);
    let page = posted.text().await.unwrap_or_default();
    assert!(page.contains("unsubscribed"), "{page}");
    let prefs = system.call(Method::GET, "/notifications/preferences", Some(&bea.token), None).await;
    assert_eq!(prefs.body["types"]["budget_threshold_reached"], false, "{:?}", prefs.body);
    assert_eq!(prefs.body["types"]["anomaly_detected"], true, "only that type");

    // A forged token is refused.
    let forged =
        format!("{}/notifications/unsubscribe?token=v1.{}.welcome.AAAA", system.api, Uuid::now_v7().simple());
    let refused = system.http.post(&forged).send().await.expect("answers");
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);

    // The next alert is recorded as suppressed and not sent.
    system.publish("budget_threshold_reached", Uuid::now_v7(), &bea.user_id, &payload).await;
    let suppressed = e2e::eventually(SOON, || async {
        let history = notifications(&system, &bea).await;
        history.into_iter().find(|n| n["kind"] == "budget_threshold_reached" && n["status"] == "suppressed")
    })
    .await;
    assert!(suppressed.is_some(), "the second alert is suppressed");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(mail_sink::emails_to(&bea.email).await.into_iter().filter(is_alert).count(), 1);
    system.stop().await;
}

#[tokio::test]
async fn preferences_round_trip_and_bad_ones_name_their_fields() {
    let system = TestSystem::start().await;
    let cid = system.register_and_login("cid").await;
    let defaults = system.call(Method::GET, "/notifications/preferences", Some(&cid.token), None).await;
    assert_eq!(defaults.status, StatusCode::OK);
    assert_eq!(defaults.body["digest"], "immediate");
    assert_eq!(defaults.body["quiet_hours"], Value::Null);

    let mut wanted = defaults.body.clone();
    wanted["digest"] = json!("daily");
    wanted["min_anomaly_score"] = json!(0.7);
    wanted["quiet_hours"] = json!({"start": "22:00", "end": "07:00"});
    wanted["types"]["insight_generated"] = json!(false);
    let saved =
        system.call(Method::PUT, "/notifications/preferences", Some(&cid.token), Some(wanted.clone())).await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);
    let read = system.call(Method::GET, "/notifications/preferences", Some(&cid.token), None).await;
    assert_eq!(read.body, wanted);

    let mut bad = wanted.clone();
    bad["digest"] = json!("hourly");
    bad["min_anomaly_score"] = json!(1.5);
    bad["quiet_hours"] = json!({"start": "25:00", "end": "07:00"});
    let refused = system.call(Method::PUT, "/notifications/preferences", Some(&cid.token), Some(bad)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
    assert!(refused.is_problem());
    let mut fields = refused.error_fields();
    fields.sort();
    assert_eq!(fields, ["digest", "min_anomaly_score", "quiet_hours.start"]);

    let bad_month = system
        .call(Method::POST, "/notifications/summary", Some(&cid.token), Some(json!({"month": "2026-13"})))
        .await;
    assert_eq!(bad_month.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_month.error_fields(), ["month"]);
    let anonymous = system.call(Method::GET, "/notifications", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    system.stop().await;
}

#[tokio::test]
async fn quiet_hours_hold_an_email_until_they_end() {
    let system = TestSystem::start().await;
    let dan = system.register_and_login("dan").await;
    let budget_id = budget(&system, &dan, "100.00").await;
    // Quiet from a minute ago until the next whole minute with at least 30 s to go (the
    // user's zone is UTC by default), so the event is consumed well before the end.
    let now = Utc::now();
    let minutes_ahead = if now.second() < 30 { 1 } else { 2 };
    let start = (now - chrono::Duration::minutes(1)).format("%H:%M").to_string();
    let end_at = now.with_second(0).and_then(|t| t.with_nanosecond(0)).expect("a minute")
        + chrono::Duration::minutes(minutes_ahead);
    let mut prefs = system.call(Method::GET, "/notifications/preferences", Some(&dan.token), None).await.body;
    prefs["quiet_hours"] = json!({"start": start, "end": end_at.format("%H:%M").to_string()});
    let saved = system.call(Method::PUT, "/notifications/preferences", Some(&dan.token), Some(prefs)).await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);

    system
        .publish("budget_threshold_reached", Uuid::now_v7(), &dan.user_id, &threshold_event(&dan, &budget_id))
        .await;
    let queued = e2e::eventually(SOON, || async {
        notifications(&system, &dan).await.into_iter().find(|n| n["kind"] == "budget_threshold_reached")
    })
    .await
    .expect("the alert is queued");
    assert_eq!(queued["status"], "queued");
    let not_before = chrono::DateTime::parse_from_rfc3339(queued["not_before"].as_str().expect("not_before"))
        .expect("time");
    assert_eq!(not_before, end_at, "held until the quiet hours end");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        mail_sink::emails_to(&dan.email).await.iter().all(|e| !is_alert(e)),
        "nothing during quiet hours"
    );

    let wait = (end_at - Utc::now()).to_std().unwrap_or_default() + SOON;
    let alerts = mail_sink::wait_for(&dan.email, 1, wait, is_alert).await;
    assert_eq!(alerts.len(), 1, "sent once the quiet hours ended");
    system.stop().await;
}

#[tokio::test]
async fn with_smtp_down_events_are_consumed_and_every_email_goes_out_once_when_it_returns() {
    let proxy = TcpProxy::start(mail_sink_smtp()).await;
    proxy.cut();
    let system = TestSystem::start_with(Options { smtp: Some(proxy.addr()), ..Options::default() }).await;
    let eve = system.register_and_login("eve").await;
    let budget_id = budget(&system, &eve, "100.00").await;
    for _ in 0..3 {
        system
            .publish(
                "budget_threshold_reached",
                Uuid::now_v7(),
                &eve.user_id,
                &threshold_event(&eve, &budget_id),
            )
            .await;
    }
    // Consumed and waiting: five rows (the verification link, the welcome and three alerts),
    // retried, none sent.
    let waiting = e2e::eventually(SOON, || async {
        let history = notifications(&system, &eve).await;
        let retried =
            history.iter().filter(|n| n["status"] == "queued" && n["attempts"].as_u64() >= Some(2)).count();
        (history.len() == 5 && retried == 5).then_some(history)
    })
    .await
    .expect("every email is queued and retried while SMTP is down");
    // The person sees a plain reason; the SMTP host and its error stay in the logs.
    for row in &waiting {
        let shown = row["last_error"].as_str().unwrap_or_default();
        assert!(shown.starts_with("not sent yet"), "{row}");
        let port = proxy.addr().port().to_string();
        assert!(!shown.contains("127.0.0.1") && !shown.contains(&port), "no mail server in it: {shown}");
    }
    assert!(mail_sink::emails_to(&eve.email).await.is_empty());

    proxy.restore();
    let all = mail_sink::wait_for(&eve.email, 5, Duration::from_secs(30), |_| true).await;
    assert_eq!(all.len(), 5, "each email arrives");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = mail_sink::emails_to(&eve.email).await;
    assert_eq!(all.len(), 5, "and only once");
    let history = notifications(&system, &eve).await;
    assert!(history.iter().all(|n| n["status"] == "sent"), "{history:?}");
    system.stop().await;
}

#[tokio::test]
async fn the_requested_monthly_summary_arrives_with_its_chart_inline() {
    let system = TestSystem::start().await;
    let fay = system.register_and_login("fay").await;
    budget(&system, &fay, "900.00").await;
    let day = Utc::now().format("%Y-%m-%d").to_string();
    let csv = format!(
        "date,description,amount,currency\n{day},Whole Foods,-84.20,USD\n{day},Shell,-41.00,USD\n{day},Salary,2500.00,USD\n"
    );
    let imported = system.import_csv(&fay.token, csv).await;
    assert_eq!(imported.status, StatusCode::OK, "{:?}", imported.body);
    // Analytics has the transactions before the summary asks for them.
    system.analytics_transactions(3, SOON).await;

    let requested = system.call(Method::POST, "/notifications/summary", Some(&fay.token), None).await;
    assert_eq!(requested.status, StatusCode::ACCEPTED, "{:?}", requested.body);
    let id = requested.body["notification_id"].as_str().expect("notification_id").to_owned();

    let summaries = mail_sink::wait_for(&fay.email, 1, SOON, |e| e.subject.contains("summary")).await;
    assert_eq!(summaries.len(), 1);
    let summary = &summaries[0];
    assert_eq!(summary.subject, format!("Your {} summary", month_label()));
    assert!(summary.text.contains("$125.20"), "total spent: {}", summary.text);
    assert!(summary.text.contains("$2,500.00"), "income: {}", summary.text);
    // The sink shows inline images as data URLs; the message itself references cid:chart.
    assert!(summary.source.contains("multipart/related"));
    assert!(
        summary.source.to_ascii_lowercase().contains("content-id: <chart>"),
        "the chart part has its Content-ID"
    );
    let chart = summary
        .attachments
        .iter()
        .find(|a| {
            a["contentId"].as_str().is_some_and(|c| c.trim_matches(|c| c == '<' || c == '>') == "chart")
        })
        .unwrap_or_else(|| panic!("an inline chart: {:?}", summary.attachments));
    assert_eq!(chart["contentType"], "image/png");

    let history = notifications(&system, &fay).await;
    let row = history.iter().find(|n| n["id"] == id.as_str()).expect("the summary is in the history");
    assert_eq!(row["kind"], "monthly_summary");
    assert_eq!(row["status"], "sent");
    system.stop().await;
}

fn anomaly_event(user: &Session, score: &str, description: &str) -> Vec<u8> {
    ev::AnomalyDetected {
        anomaly_id: Uuid::now_v7().to_string(),
        user_id: user.user_id.clone(),
        transaction_id: Uuid::now_v7().to_string(),
        score: score.into(),
        explanation: "7.5× your usual spend at this merchant.".into(),
        kind: "amount_spike".into(),
        amount: Some(money::to_proto("640.80".parse().expect("decimal"), "USD")),
        description: description.into(),
        occurred_on: Utc::now().format("%Y-%m-%d").to_string(),
        ..Default::default()
    }
    .encode_to_vec()
}

#[tokio::test]
async fn anomalies_below_the_minimum_score_are_suppressed_and_a_daily_digest_waits_for_eight() {
    let system = TestSystem::start().await;
    let gus = system.register_and_login("gus").await;
    mail_sink::wait_for(&gus.email, 1, SOON, |e| e.subject.contains("Welcome")).await;

    // Default minimum 0.5: a 0.3 is recorded as suppressed, a 0.9 is emailed.
    system
        .publish("anomaly_detected", Uuid::now_v7(), &gus.user_id, &anomaly_event(&gus, "0.3", "Faint Cafe"))
        .await;
    system
        .publish("anomaly_detected", Uuid::now_v7(), &gus.user_id, &anomaly_event(&gus, "0.9", "Loud Hotel"))
        .await;
    let unusual =
        mail_sink::wait_for(&gus.email, 1, SOON, |e| e.subject.starts_with("Unusual transaction")).await;
    assert_eq!(unusual.len(), 1);
    assert!(
        unusual[0].subject.contains("Loud Hotel") && unusual[0].subject.contains("$640.80"),
        "{}",
        unusual[0].subject
    );
    let faint = e2e::eventually(SOON, || async {
        notifications(&system, &gus)
            .await
            .into_iter()
            .find(|n| n["subject"] == "Unusual transaction: Faint Cafe, $640.80")
    })
    .await
    .expect("the low-scoring anomaly is recorded");
    assert_eq!(faint["status"], "suppressed");
    assert!(faint["last_error"].as_str().is_some_and(|e| e.contains("minimum")), "{faint:?}");

    // Daily digest: the next alert is held until 08:00 in the user's zone (UTC).
    let mut prefs = system.call(Method::GET, "/notifications/preferences", Some(&gus.token), None).await.body;
    prefs["digest"] = json!("daily");
    assert_eq!(
        system.call(Method::PUT, "/notifications/preferences", Some(&gus.token), Some(prefs)).await.status,
        StatusCode::OK
    );
    system
        .publish(
            "anomaly_detected",
            Uuid::now_v7(),
            &gus.user_id,
            &anomaly_event(&gus, "0.95", "Digest Diner"),
        )
        .await;
    let held = e2e::eventually(SOON, || async {
        notifications(&system, &gus)
            .await
            .into_iter()
            .find(|n| n["subject"].as_str().is_some_and(|s| s.contains("Digest Diner")))
    })
    .await
    .expect("the digest alert is recorded");
    assert_eq!(held["status"], "queued");
    let now = Utc::now();
    let eight = now.date_naive().and_hms_opt(8, 0, 0).expect("08:00").and_utc();
    let expected = if eight > now { eight } else { eight + chrono::Duration::days(1) };
    let not_before =
        chrono::DateTime::parse_from_rfc3339(held["not_before"].as_str().expect("not_before")).expect("time");
    assert_eq!(not_before, expected);

    // Two more held: another anomaly and an insight; then insights are turned off.
    system
        .publish(
            "anomaly_detected",
            Uuid::now_v7(),
            &gus.user_id,
            &anomaly_event(&gus, "0.97", "Second Diner"),
        )
        .await;
    let insight = ev::InsightGenerated {
        insight_id: Uuid::now_v7().to_string(),
        user_id: gus.user_id.clone(),
        kind: "category_above_average".into(),
        title: "Dining is 40% above your average".into(),
        body: "You spent $310.00 on dining this month.".into(),
        data_json: r#"{"amount":"310.00","currency":"USD"}"#.into(),
        generated_at: None,
        relevance: 0.5,
    };
    system.publish("insight_generated", Uuid::now_v7(), &gus.user_id, &insight.encode_to_vec()).await;
    let held = e2e::eventually(SOON, || async {
        let history = notifications(&system, &gus).await;
        let queued = history.iter().filter(|n| n["status"] == "queued").count();
        (queued == 3).then_some(history)
    })
    .await;
    assert!(held.is_some(), "three emails wait for the digest");
    let mut prefs = system.call(Method::GET, "/notifications/preferences", Some(&gus.token), None).await.body;
    prefs["types"]["insight_generated"] = json!(false);
    assert_eq!(
        system.call(Method::PUT, "/notifications/preferences", Some(&gus.token), Some(prefs)).await.status,
        StatusCode::OK
    );

    // It is eight o'clock: the rows come due (the test owns this database).
    let pool = system.pool("notification").await;
    sqlx::query("UPDATE deliveries SET not_before = now() WHERE digest AND status = 'queued'")
        .execute(&pool)
        .await
        .expect("updates");
    let digests = mail_sink::wait_for(&gus.email, 1, SOON, |e| e.subject.contains("digest")).await;
    assert_eq!(digests.len(), 1);
    assert_eq!(digests[0].subject, "Your daily BudgetSmart digest: 2 updates");
    assert!(
        digests[0].text.contains("Digest Diner") && digests[0].text.contains("Second Diner"),
        "{}",
        digests[0].text
    );
    assert!(!digests[0].text.contains("Dining is 40%"), "the turned-off insight is left out");
    let history = notifications(&system, &gus).await;
    let insight_row = history.iter().find(|n| n["kind"] == "insight_generated").expect("the insight row");
    assert_eq!(insight_row["status"], "suppressed");
    let sent_in_digest = history
        .iter()
        .filter(|n| n["subject"].as_str().is_some_and(|s| s.contains("Diner")) && n["status"] == "sent")
        .count();
    assert_eq!(sent_in_digest, 2);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        mail_sink::emails_to(&gus.email).await.iter().filter(|e| e.subject.contains("digest")).count(),
        1
    );
    system.stop().await;
}

#[tokio::test]
async fn on_the_first_the_scheduler_queues_last_months_summary_once() {
    use notification::clients::Upstreams;
    use notification::intake::Intake;
    use notification::links::Links;
    use notification::templates::Templates;
    use notification::unsubscribe::UnsubscribeSigner;

    let system = TestSystem::start().await;
    let hal = system.register_and_login("hal").await;
    // The profile has arrived (the welcome email is queued from it).
    mail_sink::wait_for(&hal.email, 1, SOON, |e| e.subject.contains("Welcome")).await;
    let pool = system.pool("notification").await;
    let upstreams = Upstreams::new(
        &format!("http://{}", system.engine),
        &format!("http://{}", system.analytics),
        &budgetsmart_common::discovery::ChannelSettings::from_env(
            std::time::Duration::from_secs(2),
            std::time::Duration::from_secs(15),
        )
        .expect("channel settings"),
        system.service_token.clone(),
    )
    .expect("upstreams");
    let links = Links::new(
        "http://budgetsmart.test".into(),
        UnsubscribeSigner::new(secrecy::SecretString::from("a-scheduler-test-secret-of-32-chars".to_owned())),
    );
    // The service credential reads for a user, and may not change anything.
    let hal_id = Uuid::parse_str(&hal.user_id).expect("a user id");
    let me =
        upstreams.users(hal_id).expect("client").get_me(budgetsmart_proto::engine::v1::GetMeRequest {}).await;
    assert_eq!(me.expect("GetMe as the service").into_inner().email, hal.email);
    let refused = upstreams
        .users(hal_id)
        .expect("client")
        .delete_me(budgetsmart_proto::engine::v1::DeleteMeRequest {})
        .await;
    assert_eq!(refused.err().map(|s| s.code()), Some(tonic::Code::PermissionDenied));
    let intake = Intake::new(
        std::sync::Arc::new(Templates::new().expect("templates")),
        links,
        upstreams,
        std::sync::Arc::new(tokio::sync::Notify::new()),
    );
    let first =
        chrono::DateTime::parse_from_rfc3339("2027-03-01T09:30:00Z").expect("time").with_timezone(&Utc);
    let queued = notification::scheduler::queue_due(&pool, &intake, first).await.expect("scans");
    assert!(queued >= 1, "hal's summary is queued");
    let again = notification::scheduler::queue_due(&pool, &intake, first).await.expect("scans");
    assert_eq!(again, 0, "a repeated scan queues nothing");
    let not_the_first = first + chrono::Duration::days(3);
    assert_eq!(notification::scheduler::queue_due(&pool, &intake, not_the_first).await.expect("scans"), 0);

    let history = notifications(&system, &hal).await;
    let summary = history.iter().find(|n| n["kind"] == "monthly_summary").expect("the summary row");
    assert_eq!(summary["subject"], "Your February 2027 summary");
    // The real sender picks it up and sends it, figures gathered over gRPC as the service.
    let sent = mail_sink::wait_for(&hal.email, 1, SOON, |e| e.subject == "Your February 2027 summary").await;
    assert_eq!(sent.len(), 1);
    system.stop().await;
}

/// The abuse the issue found: register with someone else's address, then ask for the summary
/// 25 times. One request a month an hour goes through; the rest are 429 with `Retry-After`,
/// and the address gets one email, not 25.
#[tokio::test]
async fn summary_requests_are_one_a_month_an_hour_so_the_mailer_cannot_be_turned_on_an_address() {
    let system = TestSystem::start().await;
    let eve = system.register_and_login("eve").await;
    let asks = (0..25).map(|_| system.call(Method::POST, "/notifications/summary", Some(&eve.token), None));
    let answers = futures_util::future::join_all(asks).await;
    let accepted = answers.iter().filter(|a| a.status == StatusCode::ACCEPTED).count();
    let refused: Vec<_> = answers.iter().filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS).collect();
    assert_eq!(accepted, 1, "{:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
    assert_eq!(refused.len(), 24);
    for answer in &refused {
        let wait: u64 = answer.headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
        assert!((1..=3600).contains(&wait), "{wait}");
        assert_eq!(answer.body["status"], 429, "{:?}", answer.body);
    }
    // Another month is another summary, and may be asked for.
    let last_month = (Utc::now().date_naive().with_day(1).expect("day 1") - chrono::Duration::days(1))
        .format("%Y-%m")
        .to_string();
    let other = system
        .call(Method::POST, "/notifications/summary", Some(&eve.token), Some(json!({"month": last_month})))
        .await;
    assert_eq!(other.status, StatusCode::ACCEPTED, "{:?}", other.body);

    let summaries = mail_sink::wait_for(&eve.email, 2, SOON, |e| e.subject.contains("summary")).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = mail_sink::emails_to(&eve.email).await;
    assert_eq!(summaries.len(), 2);
    assert_eq!(all.iter().filter(|e| e.subject.contains("summary")).count(), 2, "two months, two emails");
    system.stop().await;
}
