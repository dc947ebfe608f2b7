//! Anomalies, recurring payments, insights and categorisation end to end, through the
//! gateway on real servers: an 18-month history with planted anomalies, imported by one user
//! and posted one by one by another, must flag the same transactions and announce each once.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{Datelike, Months, NaiveDate, Utc};
use e2e::{Session, TestSystem};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// One line of the history: day, bank text, signed amount (negative is a debit), category.
#[derive(Clone)]
struct Row {
    day: NaiveDate,
    description: String,
    amount: String,
    category: &'static str,
}

/// What a flagged transaction is, independent of ids: day, text, amount, kind.
type Flag = (String, String, String, String);

fn month(offset: i32) -> NaiveDate {
    let first = Utc::now().date_naive().with_day(1).expect("day 1");
    first.checked_sub_months(Months::new(offset.unsigned_abs())).expect("month")
}

fn on(month_offset: i32, day: u32) -> NaiveDate {
    month(month_offset).with_day(day).expect("day")
}

fn cents(value: i64) -> String {
    format!("{}{}.{:02}", if value < 0 { "-" } else { "" }, value.abs() / 100, value.abs() % 100)
}

/// 18 months of ordinary life, plus three planted anomalies: a grocery spike, a large first
/// charge at a new merchant, and a duplicated charge. Netflix rises in price two months ago.
fn history() -> (Vec<Row>, BTreeSet<Flag>) {
    let mut rows = Vec::new();
    let mut seed: u64 = 42;
    let mut next = move |range: i64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as i64) % range
    };
    let netflix = ["NETFLIX.COM", "POS NETFLIX 1234", "Netflix.com *8842"];
    let amazon = [3210, 7840, 4599, 12900, 5425, 8810, 2375, 6430, 10250];
    for m in (1..=18).rev() {
        let mut add = |day: u32, description: String, amount: i64, category: &'static str| {
            rows.push(Row { day: on(m, day), description, amount: cents(amount), category });
        };
        add(1, "RENT PAYMENT PROPERTY MGMT".into(), -150_000, "Housing");
        add(25, "ACME CORP PAYROLL".into(), 420_000, "Salary");
        add(15, netflix[m as usize % 3].into(), if m > 2 { -1549 } else { -1799 }, "Subscriptions");
        add(8, "CITY ELECTRIC CO".into(), -(9_000 + next(4_000)), "Utilities");
        add(12, "AMAZON MKTPLACE PMTS".into(), -amazon[m as usize % amazon.len()], "Shopping");
        for (week, day) in [3, 10, 17, 24].into_iter().enumerate() {
            let store = if week % 2 == 0 {
                format!("WHOLE FOODS MARKET #10{week} AUSTIN TX")
            } else {
                format!("TRADER JOES #55{week} AUSTIN")
            };
            add(day, store, -(5_500 + next(6_500)), "Groceries");
        }
        for day in [6, 20] {
            add(day, format!("STARBUCKS STORE #{}", 100 + next(50)), -(450 + next(300)), "Dining");
        }
    }
    let original = rows
        .iter()
        .find(|r| r.day == on(7, 12) && r.description.starts_with("AMAZON"))
        .expect("amazon")
        .clone();
    let mut planted = BTreeSet::new();
    let mut plant = |row: Row, kind: &str| {
        planted.insert((
            row.day.to_string(),
            row.description.clone(),
            row.amount.trim_start_matches('-').to_owned(),
            kind.to_owned(),
        ));
        rows.push(row);
    };
    plant(
        Row {
            day: on(5, 27),
            description: "WHOLE FOODS MARKET #101 AUSTIN TX".into(),
            amount: "-640.00".into(),
            category: "Groceries",
        },
        "amount_spike",
    );
    plant(
        Row {
            day: on(3, 18),
            description: "LUXURY WATCHES BOUTIQUE".into(),
            amount: "-2400.00".into(),
            category: "Shopping",
        },
        "new_merchant",
    );
    plant(original, "duplicate");
    rows.sort_by_key(|r| r.day);
    (rows, planted)
}

fn csv(rows: &[Row]) -> String {
    let mut text = String::from("date,description,amount,currency,category\n");
    for r in rows {
        text.push_str(&format!("{},{},{},USD,{}\n", r.day, r.description, r.amount, r.category));
    }
    text
}

fn flags(list: &Value) -> BTreeSet<Flag> {
    list["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|a| {
            let text = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
            (text("occurred_on"), text("description"), text("amount"), text("kind"))
        })
        .collect()
}

async fn anomalies(system: &TestSystem, user: &Session, count: usize) -> Value {
    system
        .until(user, "/analytics/anomalies", Duration::from_secs(60), |b| {
            b["data"].as_array().is_some_and(|d| d.len() >= count)
        })
        .await
}

/// `anomaly_detected` events per user id.
fn per_user(deliveries: &[lapin::message::Delivery]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for d in deliveries.iter().filter(|d| d.routing_key.as_str() == "anomaly_detected.v1") {
        let user = d
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get("user_id").cloned())
            .map(|v| match v {
                lapin::types::AMQPValue::LongString(s) => s.to_string(),
                other => format!("{other:?}"),
            })
            .unwrap_or_default();
        *counts.entry(user).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn planted_anomalies_are_found_alike_from_an_import_and_from_one_by_one_posts() {
    let system = TestSystem::start().await;
    let mut bus = system.listen(&["anomaly_detected.v1"]).await;
    let (rows, planted) = history();

    let importer = system.register_and_login("importer").await;
    let imported = system.import_csv(&importer.token, csv(&rows)).await;
    assert_eq!(imported.status, StatusCode::OK, "{:?}", imported.body);
    assert_eq!(imported.body["imported"], rows.len(), "{:?}", imported.body);
    let found = anomalies(&system, &importer, planted.len()).await;
    assert_eq!(flags(&found), planted, "{found}");
    for a in found["data"].as_array().expect("list") {
        let score = a["score"].as_f64().expect("a number");
        assert!((0.5..=1.0).contains(&score), "{a}");
        assert_eq!(a["status"], "open");
        assert!(a["explanation"].as_str().is_some_and(|e| e.contains("USD")), "{a}");
    }
    let spike =
        found["data"].as_array().expect("list").iter().find(|a| a["kind"] == "amount_spike").expect("spike");
    let explanation = spike["explanation"].as_str().expect("text");
    assert!(explanation.contains("× your usual spend at Whole Foods"), "{explanation}");

    // The same history posted one transaction at a time, oldest first.
    let poster = system.register_and_login("poster").await;
    let ids = system.category_ids(&poster).await;
    for r in &rows {
        let (kind, amount) = match r.amount.strip_prefix('-') {
            Some(debit) => ("debit", debit.to_owned()),
            None => ("credit", r.amount.clone()),
        };
        let body = json!({
            "occurred_on": r.day, "description": r.description, "amount": amount, "currency": "USD",
            "type": kind, "category_id": ids[r.category],
        });
        let created = system.call(Method::POST, "/transactions", Some(&poster.token), Some(body)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    }
    let posted = anomalies(&system, &poster, planted.len()).await;
    assert_eq!(flags(&posted), planted, "{posted}");

    // Each announced once on the bus, for each user.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let counts = per_user(&bus.drain(Duration::from_secs(2)).await);
    assert_eq!(counts.get(&importer.user_id), Some(&planted.len()), "{counts:?}");
    assert_eq!(counts.get(&poster.user_id), Some(&planted.len()), "{counts:?}");

    // Another user's anomaly does not exist for the poster.
    let theirs = spike["id"].as_str().expect("id");
    let foreign = system
        .call(
            Method::PATCH,
            &format!("/analytics/anomalies/{theirs}"),
            Some(&poster.token),
            Some(json!({"feedback": "confirmed"})),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{:?}", foreign.body);
    assert!(foreign.is_problem());

    // Feedback: not_anomaly leaves the default list, and a bad verdict is a field error.
    let bad = system
        .call(
            Method::PATCH,
            &format!("/analytics/anomalies/{theirs}"),
            Some(&importer.token),
            Some(json!({"feedback": "maybe"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", bad.body);
    assert_eq!(bad.error_fields(), vec!["feedback"]);
    let dismissed = system
        .call(
            Method::PATCH,
            &format!("/analytics/anomalies/{theirs}"),
            Some(&importer.token),
            Some(json!({"feedback": "not_anomaly"})),
        )
        .await;
    assert_eq!(dismissed.status, StatusCode::OK, "{:?}", dismissed.body);
    assert_eq!(dismissed.body["status"], "not_anomaly");
    let open = system
        .until(&importer, "/analytics/anomalies", Duration::from_secs(10), |b| {
            b["data"].as_array().is_some_and(|d| d.len() == planted.len() - 1)
        })
        .await;
    assert!(!flags(&open).iter().any(|f| f.3 == "amount_spike"), "{open}");
    let listed = system
        .call(Method::GET, "/analytics/anomalies?status=not_anomaly", Some(&importer.token), None)
        .await;
    assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(1), "{:?}", listed.body);
    let bad_filter =
        system.call(Method::GET, "/analytics/anomalies?status=everything", Some(&importer.token), None).await;
    assert_eq!(bad_filter.status, StatusCode::UNPROCESSABLE_ENTITY);
    system.stop().await;
}

#[tokio::test]
async fn subscriptions_insights_and_categories_are_learnt_from_the_history() {
    let system = TestSystem::start().await;
    let (rows, planted) = history();
    let user = system.register_and_login("learner").await;
    let ids = system.category_ids(&user).await;
    let imported = system.import_csv(&user.token, csv(&rows)).await;
    assert_eq!(imported.status, StatusCode::OK, "{:?}", imported.body);
    anomalies(&system, &user, planted.len()).await;

    // Netflix across three spellings, monthly, with its price rise; rent is recurring too.
    let recurring = system.call(Method::GET, "/analytics/recurring", Some(&user.token), None).await;
    assert_eq!(recurring.status, StatusCode::OK);
    let data = recurring.body["data"].as_array().expect("list");
    let netflix = data.iter().find(|r| r["merchant"] == "Netflix").unwrap_or_else(|| panic!("{data:?}"));
    assert_eq!(netflix["cadence"], "monthly");
    assert_eq!(netflix["kind"], "subscription");
    assert_eq!(netflix["amount"], "17.99");
    assert_eq!(netflix["occurrences"], 18);
    assert_eq!(netflix["active"], true);
    assert_eq!(netflix["next_expected"], on(0, 15).to_string());
    assert_eq!(
        netflix["price_changes"],
        json!([{ "on": on(2, 15).to_string(), "from": "15.49", "to": "17.99" }])
    );
    assert!(data.iter().any(|r| r["merchant"] == "Rent Property" && r["amount"] == "1500.00"), "{data:?}");
    assert!(
        !data.iter().any(|r| r["merchant"] == "Whole Foods"),
        "weekly shopping is no subscription: {data:?}"
    );

    // Insights reach the engine's feed, once each.
    let insights = system
        .until(&user, "/insights", Duration::from_secs(30), |b| {
            let kinds: Vec<&str> =
                b["data"].as_array().into_iter().flatten().filter_map(|i| i["kind"].as_str()).collect();
            kinds.contains(&"subscription_detected") && kinds.contains(&"price_increase")
        })
        .await;
    let rise = insights["data"]
        .as_array()
        .expect("list")
        .iter()
        .find(|i| i["kind"] == "price_increase")
        .expect("rise");
    assert_eq!(rise["amount"], "2.50");
    assert_eq!(rise["currency"], "USD");
    let kinds: Vec<&str> =
        insights["data"].as_array().expect("list").iter().filter_map(|i| i["kind"].as_str()).collect();
    let mut unique = kinds.clone();
    unique.sort();
    unique.dedup();
    let keys: BTreeSet<String> = insights["data"]
        .as_array()
        .expect("list")
        .iter()
        .map(|i| i["data"]["key"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(keys.len(), kinds.len(), "an insight was issued twice: {insights}");

    // The user's model knows their groceries under a new store number and city.
    let text = "POS WHOLE FOODS MKT #99123 DALLAS TX";
    let suggested = system
        .call(
            Method::POST,
            "/transactions/categorize",
            Some(&user.token),
            Some(json!({"description": text, "amount": "84.20", "currency": "USD"})),
        )
        .await;
    assert_eq!(suggested.status, StatusCode::OK, "{:?}", suggested.body);
    assert_eq!(suggested.body["category_id"], ids["Groceries"], "{:?}", suggested.body);
    assert_eq!(suggested.body["model"], "user");
    assert!(
        suggested.body["confidence"].as_f64().is_some_and(|c| (0.8..=1.0).contains(&c)),
        "{:?}",
        suggested.body
    );

    // So a debit posted without a category gets it; one the model cannot read stays without.
    let today = Utc::now().date_naive().to_string();
    let created = system
        .call(Method::POST, "/transactions", Some(&user.token), Some(json!({
            "occurred_on": today, "description": text, "amount": "84.20", "currency": "USD", "type": "debit",
        })))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["category_id"], ids["Groceries"], "{:?}", created.body);
    let unknown = system
        .call(Method::POST, "/transactions", Some(&user.token), Some(json!({
            "occurred_on": today, "description": "QZX 4471 VNDR", "amount": "19.00", "currency": "USD", "type": "debit",
        })))
        .await;
    assert_eq!(unknown.status, StatusCode::CREATED, "{:?}", unknown.body);
    assert_eq!(unknown.body["category_id"], Value::Null, "{:?}", unknown.body);

    // A new user gets the global model, in their own category ids.
    let newcomer = system.register_and_login("newcomer").await;
    let theirs = system.category_ids(&newcomer).await;
    let global = system
        .call(
            Method::POST,
            "/transactions/categorize",
            Some(&newcomer.token),
            Some(json!({"description": "NETFLIX.COM 866-579-7172", "amount": "15.49", "currency": "USD"})),
        )
        .await;
    assert_eq!(global.status, StatusCode::OK, "{:?}", global.body);
    assert_eq!(global.body["model"], "global", "{:?}", global.body);
    assert_eq!(global.body["category_id"], theirs["Subscriptions"], "{:?}", global.body);

    // Bad input is a field error, not a guess.
    let bad = system
        .call(
            Method::POST,
            "/transactions/categorize",
            Some(&user.token),
            Some(json!({"description": "X", "amount": "-3", "currency": "USD"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", bad.body);
    assert_eq!(bad.error_fields(), vec!["amount"]);
    system.stop().await;
}
