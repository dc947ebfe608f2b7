//! Savings goals end to end: CRUD and pagination through the gateway, contributions and a
//! linked savings category, the projection from the forecasting code, and `goal_reached` and
//! `goal_at_risk` announced once each, by email (a real SMTP sink) and on the bus.

use std::time::Duration;

use chrono::{Datelike, Months, NaiveDate, Utc};
use e2e::{Session, TestSystem, mail_sink};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(20);

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn first_of_month(months_from_now: i32) -> NaiveDate {
    let first = today().with_day(1).expect("a first");
    if months_from_now >= 0 {
        first + Months::new(months_from_now as u32)
    } else {
        first - Months::new(months_from_now.unsigned_abs())
    }
}

fn last_of_month(months_from_now: i32) -> NaiveDate {
    first_of_month(months_from_now + 1).pred_opt().expect("a day")
}

async fn create(system: &TestSystem, user: &Session, body: Value) -> Value {
    let created = system.call(Method::POST, "/goals", Some(&user.token), Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body
}

async fn contribute(system: &TestSystem, user: &Session, goal: &str, amount: &str, on: NaiveDate) -> Value {
    let body = json!({"amount": amount, "occurred_on": on.to_string()});
    let added = system
        .call(Method::POST, &format!("/goals/{goal}/contributions"), Some(&user.token), Some(body))
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
    added.body
}

#[tokio::test]
async fn a_steady_saver_gets_a_projected_date_and_the_goal_is_theirs_alone() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let target_date = last_of_month(13);
    let goal = create(
        &system,
        &ana,
        json!({"name": "Emergency fund", "target_amount": "1500.00", "currency": "USD", "target_date": target_date.to_string()}),
    )
    .await;
    assert_eq!(goal["saved"], "0.00");
    assert_eq!(goal["status"], "on_track", "a new goal has time to start: {goal}");
    assert_eq!(goal["projected_completion"], Value::Null);
    let id = goal["id"].as_str().expect("id").to_owned();

    // 100 on the first of each of the last six months.
    for months_ago in 1..=6 {
        contribute(&system, &ana, &id, "100.00", first_of_month(-months_ago)).await;
    }
    let got = system.call(Method::GET, &format!("/goals/{id}"), Some(&ana.token), None).await;
    assert_eq!(got.status, StatusCode::OK);
    let g = &got.body;
    assert_eq!((g["saved"].as_str(), g["remaining"].as_str()), (Some("600.00"), Some("900.00")), "{g}");
    // 900 left at 100 a month: this month and eight more, so the end of the ninth month.
    assert_eq!(g["projected_completion"], last_of_month(8).to_string(), "{g}");
    let interval = &g["projected_completion_80"];
    assert!(interval["lower"].as_str().is_some_and(|l| l <= last_of_month(8).to_string().as_str()), "{g}");
    assert_eq!(g["status"], "on_track");
    // 900 over the fourteen months from this one to the target's, rounded up to the cent.
    assert_eq!(g["monthly_needed"], "64.29", "{g}");

    let listed =
        system.call(Method::GET, &format!("/goals/{id}/contributions?limit=4"), Some(&ana.token), None).await;
    assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(4));
    assert_eq!(listed.body["data"][0]["occurred_on"], first_of_month(-1).to_string(), "newest first");
    let cursor = listed.body["next_cursor"].as_str().expect("a next page").to_owned();
    let rest = system
        .call(Method::GET, &format!("/goals/{id}/contributions?cursor={cursor}"), Some(&ana.token), None)
        .await;
    assert_eq!(rest.body["data"].as_array().map(Vec::len), Some(2));

    // Someone else's goal does not exist for them.
    let bo = system.register_and_login("bo").await;
    for (method, path) in [
        (Method::GET, format!("/goals/{id}")),
        (Method::DELETE, format!("/goals/{id}")),
        (Method::GET, format!("/goals/{id}/contributions")),
    ] {
        let foreign = system.call(method.clone(), &path, Some(&bo.token), None).await;
        assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    let patch = system
        .call(Method::PATCH, &format!("/goals/{id}"), Some(&bo.token), Some(json!({"name": "mine"})))
        .await;
    assert_eq!(patch.status, StatusCode::NOT_FOUND);
    let theirs = system.call(Method::GET, "/goals", Some(&bo.token), None).await;
    assert_eq!(theirs.body["data"], json!([]));

    // Pages of goals, and the changes a PATCH makes.
    create(&system, &ana, json!({"name": "Bike", "target_amount": "800", "currency": "EUR"})).await;
    create(&system, &ana, json!({"name": "Laptop", "target_amount": "150000", "currency": "JPY"})).await;
    let page = system.call(Method::GET, "/goals?limit=2", Some(&ana.token), None).await;
    assert_eq!(page.body["data"][0]["name"], "Laptop", "newest first");
    let cursor = page.body["next_cursor"].as_str().expect("a next page");
    let last = system.call(Method::GET, &format!("/goals?cursor={cursor}"), Some(&ana.token), None).await;
    assert_eq!(last.body["data"][0]["id"], id.as_str());
    let changed = system
        .call(
            Method::PATCH,
            &format!("/goals/{id}"),
            Some(&ana.token),
            Some(json!({"target_amount": "600.00", "target_date": null})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(
        (changed.body["status"].as_str(), changed.body["target_date"].clone()),
        (Some("reached"), Value::Null)
    );
    let deleted = system.call(Method::DELETE, &format!("/goals/{id}"), Some(&ana.token), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = system.call(Method::GET, &format!("/goals/{id}"), Some(&ana.token), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    system.stop().await;
}

#[tokio::test]
async fn bad_goals_are_refused_naming_the_field() {
    let system = TestSystem::start().await;
    let cy = system.register_and_login("cy").await;
    let yesterday = (today() - chrono::Days::new(1)).to_string();
    for (body, field) in [
        (json!({"name": "Trip", "target_amount": "100", "currency": "XYZ"}), "currency"),
        (json!({"name": "Trip", "target_amount": "0", "currency": "USD"}), "target_amount"),
        (json!({"name": "Trip", "target_amount": "-5", "currency": "USD"}), "target_amount"),
        (json!({"name": "Trip", "target_amount": "10.001", "currency": "USD"}), "target_amount"),
        (
            json!({"name": "Trip", "target_amount": "100", "currency": "USD", "target_date": yesterday}),
            "target_date",
        ),
        (json!({"name": "  ", "target_amount": "100", "currency": "USD"}), "name"),
        (
            json!({"name": "Trip", "target_amount": "100", "currency": "USD", "category_id": "0190e1f2-0000-7000-8000-000000000000"}),
            "category_id",
        ),
    ] {
        let refused = system.call(Method::POST, "/goals", Some(&cy.token), Some(body.clone())).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", refused.body);
        assert!(refused.is_problem());
        assert_eq!(refused.error_fields(), vec![field], "{body}");
    }
    let goal = create(&system, &cy, json!({"name": "Trip", "target_amount": "100", "currency": "USD"})).await;
    let id = goal["id"].as_str().expect("id");
    let tomorrow = (today() + chrono::Days::new(1)).to_string();
    for (body, field) in [
        (json!({"amount": "0", "occurred_on": today().to_string()}), "amount"),
        (json!({"amount": "5", "occurred_on": tomorrow}), "occurred_on"),
    ] {
        let refused = system
            .call(Method::POST, &format!("/goals/{id}/contributions"), Some(&cy.token), Some(body.clone()))
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", refused.body);
        assert_eq!(refused.error_fields(), vec![field], "{body}");
    }
    system.stop().await;
}

#[tokio::test]
async fn a_linked_savings_category_counts_its_transfers() {
    let system = TestSystem::start().await;
    let di = system.register_and_login("di").await;
    let category = system
        .call(
            Method::POST,
            "/categories",
            Some(&di.token),
            Some(json!({"name": "Savings", "kind": "expense"})),
        )
        .await;
    assert_eq!(category.status, StatusCode::CREATED, "{:?}", category.body);
    let category_id = category.body["id"].as_str().expect("id");
    let goal = create(
        &system,
        &di,
        json!({"name": "House deposit", "target_amount": "20000", "currency": "USD", "category_id": category_id}),
    )
    .await;
    let id = goal["id"].as_str().expect("id");
    for (amount, kind) in [("500.00", "debit"), ("120.00", "credit")] {
        let body = json!({"occurred_on": today().to_string(), "description": "Transfer", "amount": amount,
            "currency": "USD", "type": kind, "category_id": category_id});
        let booked = system.call(Method::POST, "/transactions", Some(&di.token), Some(body)).await;
        assert_eq!(booked.status, StatusCode::CREATED, "{:?}", booked.body);
    }
    contribute(&system, &di, id, "50.00", today()).await;
    // 500 moved in, 120 taken out, 50 put aside by hand.
    system.until(&di, &format!("/goals/{id}"), SOON, |g| g["saved"] == "430.00").await;
    system.stop().await;
}

#[tokio::test]
async fn goal_at_risk_and_goal_reached_are_each_announced_once() {
    let system = TestSystem::start().await;
    let mut announced = system.listen(&["goal_at_risk.v1", "goal_reached.v1"]).await;
    let ed = system.register_and_login("ed").await;
    let goal = create(
        &system,
        &ed,
        json!({"name": "Sabbatical", "target_amount": "10000", "currency": "USD", "target_date": last_of_month(2).to_string()}),
    )
    .await;
    let id = goal["id"].as_str().expect("id").to_owned();
    for months_ago in 1..=6 {
        contribute(&system, &ed, &id, "100.00", first_of_month(-months_ago)).await;
    }
    let g = system.call(Method::GET, &format!("/goals/{id}"), Some(&ed.token), None).await.body;
    assert_eq!(g["status"], "at_risk", "{g}");
    // Another contribution at the same pace: still at risk, and not announced again.
    contribute(&system, &ed, &id, "100.00", today()).await;
    let risk_mail = mail_sink::wait_for(&ed.email, 1, SOON, |e| e.subject.contains("behind schedule")).await;
    assert_eq!(risk_mail.len(), 1, "the at-risk email arrives");
    assert!(risk_mail[0].text.contains("Sabbatical"), "{}", risk_mail[0].text);
    assert!(risk_mail[0].text.contains("a month"), "it says what to put aside: {}", risk_mail[0].text);

    // Reached: the rest in one go, then one more.
    contribute(&system, &ed, &id, "9300.00", today()).await;
    contribute(&system, &ed, &id, "10.00", today()).await;
    let reached_mail =
        mail_sink::wait_for(&ed.email, 1, SOON, |e| e.subject.contains("You reached your goal")).await;
    assert_eq!(reached_mail.len(), 1);
    let events = announced.drain(Duration::from_secs(3)).await;
    let kinds: Vec<String> = events.iter().map(|d| d.routing_key.to_string()).collect();
    assert_eq!(kinds, vec!["goal_at_risk.v1", "goal_reached.v1"], "each once");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = mail_sink::emails_to(&ed.email).await;
    assert_eq!(all.iter().filter(|e| e.subject.contains("behind schedule")).count(), 1);
    assert_eq!(all.iter().filter(|e| e.subject.contains("You reached your goal")).count(), 1);

    // The preference of its own turns the kind off.
    let prefs = system.call(Method::GET, "/notifications/preferences", Some(&ed.token), None).await;
    assert_eq!(prefs.body["types"]["goal_reached"], true);
    assert_eq!(prefs.body["types"]["goal_at_risk"], true);
    system.stop().await;
}
