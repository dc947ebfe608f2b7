//! A household's analytics as the person reads them, end to end through the gateway on real
//! servers (issue 20): rent is housing and never a saving, trips and one-off purchases are
//! not recurring, last year's big purchase is not repeated in this month's forecast, every
//! answer says why, and the person's corrections stick.
//!
//! The history is written here, apart from the rules' unit tests and the seed data, with its
//! own merchants: the rules were not tuned on it.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{Datelike, Months, NaiveDate, Utc};
use e2e::mail_sink;
use e2e::{Session, TestSystem};
use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(60);

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// The first day of the month `offset` months before this one.
fn month(offset: u32) -> NaiveDate {
    today().with_day(1).expect("day 1").checked_sub_months(Months::new(offset)).expect("month")
}

fn on(offset: u32, day: u32) -> NaiveDate {
    month(offset).with_day(day).expect("day")
}

fn money(cents: i64) -> String {
    format!("{}{}.{:02}", if cents < 0 { "-" } else { "" }, cents.abs() / 100, cents.abs() % 100)
}

fn decimal(value: &Value) -> Decimal {
    value.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("a decimal string: {value}"))
}

/// Eighteen months of a household, ending today. Returns the CSV and last year's one-off.
fn household() -> (String, i64) {
    let mut seed: u64 = 7;
    let mut next = move |range: i64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as i64) % range
    };
    let mut rows: Vec<(NaiveDate, String, i64, &str)> = Vec::new();
    for m in (0..=17).rev() {
        let mut add = |day: NaiveDate, text: &str, cents: i64, category: &'static str| {
            if day <= today() {
                rows.push((day, text.to_owned(), cents, category));
            }
        };
        add(on(m, 1), "HARBORVIEW MGMT ACH", -182_500, "Housing");
        add(on(m, 28), "INITECH INC DIRECT DEP", 512_000, "Salary");
        // Electricity follows the season, by at most a fifth from one month to the next.
        let season = [160, 150, 120, 95, 85, 100, 130, 140, 110, 90, 105, 140];
        let month0 = month(m).month0() as usize;
        add(on(m, 9), "PACIFIC GAS AND ELECTRIC", -(season[month0] * 100 + next(600)), "Utilities");
        add(on(m, 14), "COMCAST XFINITY", -7_999, "Utilities");
        add(on(m, 3), "SPOTIFY USA", -1_199, "Subscriptions");
        add(on(m, 19), "ADOBE *CREATIVE CLD", -5_999, "Subscriptions");
        add(on(m, 22), "DISNEY PLUS", -1_399, "Subscriptions");
        for day in [4, 11, 18, 25] {
            add(
                on(m, day),
                &format!("SAFEWAY #{} OAKLAND CA", 1_000 + next(900)),
                -(8_000 + next(7_000)),
                "Groceries",
            );
        }
        for day in [6, 13, 21] {
            add(on(m, day), &format!("TST* NOODLE BAR {}", next(90)), -(1_800 + next(2_500)), "Dining");
        }
        add(on(m, 16), &format!("TARGET T-{}", 100 + next(800)), -(2_500 + next(6_000)), "Shopping");
    }
    // A flight and a hotel a year apart at different prices, and a Black Friday television.
    rows.push((on(14, 12), "UNITED AIRLINES 0162339".into(), -41_230, "Travel"));
    rows.push((on(2, 10), "UNITED AIRLINES 0169874".into(), -58_710, "Travel"));
    rows.push((on(14, 15), "HILTON GARDEN INN SEATTLE".into(), -68_900, "Travel"));
    rows.push((on(2, 14), "HILTON GARDEN INN SEATTLE".into(), -73_420, "Travel"));
    rows.push((on(13, 27), "BEST BUY 00012".into(), -89_999, "Shopping"));
    // One large purchase twelve months ago: the month this one's forecast would repeat.
    let one_off = 215_000;
    rows.push((on(12, 9), "POTTERY BARN #2231".into(), -one_off, "Shopping"));
    // A dog walker who stopped coming twelve days ago, and a gym left two months ago.
    for w in 0..8 {
        rows.push((
            today() - chrono::Duration::days(12 + 7 * w),
            "WAGGING TAILS WALKS".into(),
            -2_500,
            "Other",
        ));
    }
    for w in 0..10 {
        rows.push((today() - chrono::Duration::days(60 + 7 * w), "IRON TEMPLE GYM".into(), -1_800, "Health"));
    }
    rows.sort_by_key(|r| r.0);
    let mut csv = String::from("date,description,amount,currency,category\n");
    for (day, text, cents, category) in rows {
        csv.push_str(&format!("{day},{text},{},USD,{category}\n", money(cents)));
    }
    (csv, one_off)
}

/// A user with the household imported and analysed.
async fn moved_in(system: &TestSystem, name: &str) -> Session {
    let user = system.register_and_login(name).await;
    let (csv, _) = household();
    let imported = system.import_csv(&user.token, csv).await;
    assert_eq!(imported.status, StatusCode::OK, "{:?}", imported.body);
    system
        .until(&user, "/analytics/recurring", SOON, |b| {
            b["data"].as_array().is_some_and(|d| d.iter().any(|r| r["merchant"] == "Spotify Usa"))
        })
        .await;
    user
}

fn recurring(list: &Value, merchant: &str) -> Option<Value> {
    list["data"].as_array().expect("list").iter().find(|r| r["merchant"] == merchant).cloned()
}

#[tokio::test]
async fn recurring_payments_know_what_they_are_and_corrections_survive_rescans() {
    let system = TestSystem::start().await;
    let user = moved_in(&system, "kind").await;
    let list = system.call(Method::GET, "/analytics/recurring", Some(&user.token), None).await.body;
    let kind = |merchant: &str| {
        recurring(&list, merchant).unwrap_or_else(|| panic!("{merchant} is recurring: {list}"))["kind"]
            .clone()
    };
    assert_eq!(kind("Harborview Mgmt"), "housing");
    assert_eq!(kind("Pacific Gas"), "bill");
    assert_eq!(kind("Comcast Xfinity"), "bill");
    assert_eq!(kind("Spotify Usa"), "subscription");
    assert_eq!(kind("Initech Direct"), "income");
    for merchant in ["United Airlines", "Hilton Garden", "Best Buy", "Pottery Barn", "Target"] {
        assert!(recurring(&list, merchant).is_none(), "{merchant} is no recurring payment: {list}");
    }
    let walker = recurring(&list, "Wagging Tails").expect("the dog walker");
    assert_eq!(
        (walker["status"].as_str(), walker["active"].as_bool()),
        (Some("late"), Some(false)),
        "{walker}"
    );
    assert!(walker["explanation"].as_str().is_some_and(|e| e.contains("days late")), "{walker}");
    let gym = recurring(&list, "Iron Temple").expect("the gym");
    assert_eq!(gym["status"], "ended", "{gym}");
    let rent = recurring(&list, "Harborview Mgmt").expect("rent");
    assert_eq!(rent["expected_amount"], "1825.00");
    let explanation = rent["explanation"].as_str().expect("text");
    assert!(explanation.contains("housing") && explanation.contains("1,825.00 USD"), "{explanation}");
    for r in list["data"].as_array().expect("list").iter().filter(|r| r["status"] == "active") {
        assert!(r["next_expected"].as_str().is_some_and(|d| d.len() == 10), "{r}");
        assert!(decimal(&r["expected_amount"]) > Decimal::ZERO, "{r}");
        assert!(r["explanation"].as_str().is_some_and(|e| e.chars().any(|c| c.is_ascii_digit())), "{r}");
    }

    // Corrections: Spotify is a bill to this person; Disney Plus is not recurring at all.
    let spotify = rent_id(&list, "Spotify Usa");
    let corrected = system
        .call(
            Method::PATCH,
            &format!("/analytics/recurring/{spotify}"),
            Some(&user.token),
            Some(json!({"kind": "bill"})),
        )
        .await;
    assert_eq!(corrected.status, StatusCode::OK, "{:?}", corrected.body);
    assert_eq!(
        (corrected.body["kind"].as_str(), corrected.body["kind_corrected"].as_bool()),
        (Some("bill"), Some(true))
    );
    let disney = rent_id(&list, "Disney Plus");
    let dropped = system
        .call(
            Method::PATCH,
            &format!("/analytics/recurring/{disney}"),
            Some(&user.token),
            Some(json!({"not_recurring": true})),
        )
        .await;
    assert_eq!(dropped.status, StatusCode::OK, "{:?}", dropped.body);
    assert_eq!(dropped.body["status"], "ended");

    // A new transaction makes analytics rescan; the corrections hold.
    let created = system
        .call(
            Method::POST,
            "/transactions",
            Some(&user.token),
            Some(json!({
                "occurred_on": today(), "description": "SAFEWAY #1234 OAKLAND CA", "amount": "64.10",
                "currency": "USD", "type": "debit",
            })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let rescanned = system
        .until(&user, "/analytics/recurring", SOON, |b| {
            recurring(b, "Spotify Usa").is_some_and(|r| r["kind"] == "bill")
                && recurring(b, "Disney Plus").is_none()
        })
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = system.call(Method::GET, "/analytics/recurring", Some(&user.token), None).await.body;
    assert_eq!(recurring(&after, "Spotify Usa").expect("spotify")["kind"], "bill", "{rescanned}");
    assert!(recurring(&after, "Disney Plus").is_none(), "{after}");

    // Bad input: an unknown kind names the field, both at once is refused, another's id is 404.
    let id = rent_id(&after, "Harborview Mgmt");
    let path = format!("/analytics/recurring/{id}");
    let unknown = system.call(Method::PATCH, &path, Some(&user.token), Some(json!({"kind": "luxury"}))).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", unknown.body);
    assert_eq!(unknown.error_fields(), vec!["kind"]);
    let both = system
        .call(Method::PATCH, &path, Some(&user.token), Some(json!({"kind": "bill", "not_recurring": true})))
        .await;
    assert_eq!(both.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", both.body);
    let stranger = system.register_and_login("stranger").await;
    let foreign =
        system.call(Method::PATCH, &path, Some(&stranger.token), Some(json!({"kind": "bill"}))).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{:?}", foreign.body);
    assert!(foreign.is_problem());
    system.stop().await;
}

fn rent_id(list: &Value, merchant: &str) -> String {
    recurring(list, merchant).unwrap_or_else(|| panic!("{merchant}: {list}"))["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

#[tokio::test]
async fn insights_are_sane_carry_evidence_and_come_most_relevant_first() {
    let system = TestSystem::start().await;
    let user = moved_in(&system, "insight").await;
    let feed = system
        .until(&user, "/insights?limit=200", SOON, |b| {
            b["data"].as_array().is_some_and(|d| d.iter().any(|i| i["kind"] == "subscription_detected"))
        })
        .await;
    let insights = feed["data"].as_array().expect("list");
    let relevance: Vec<f64> = insights.iter().map(|i| i["relevance"].as_f64().expect("a number")).collect();
    assert!(relevance.windows(2).all(|w| w[0] >= w[1]), "sorted by relevance: {relevance:?}");
    assert!(relevance.iter().all(|r| (0.0..=1.0).contains(r)), "{relevance:?}");
    let mut seen = BTreeSet::new();
    for i in insights {
        let text = format!("{} {}", i["title"], i["body"]).to_lowercase();
        assert!(i["evidence"]["months"].as_array().is_some_and(|m| !m.is_empty()), "{i}");
        assert!(i["evidence"]["figures"].is_object(), "{i}");
        assert!(seen.insert((i["kind"].to_string(), i["title"].to_string())), "issued twice: {i}");
        if i["kind"] == "savings_opportunity" {
            for never in ["harborview", "housing", "utilities", "pacific gas", "comcast", "initech"] {
                assert!(!text.contains(never), "a saving on {never}: {i}");
            }
            // Never more than what was spent on it over a year.
            let amount = decimal(&i["amount"]);
            assert!(amount > Decimal::ZERO && amount <= Decimal::new(5_999 * 12, 2), "{i}");
        }
    }
    let subscriptions: Vec<&Value> =
        insights.iter().filter(|i| i["kind"] == "subscription_detected").collect();
    assert!(subscriptions.iter().all(|i| !i["title"].as_str().unwrap_or_default().contains("Harborview")));
    system.stop().await;
}

#[tokio::test]
async fn a_one_off_is_not_repeated_in_the_forecast_until_the_person_says_it_was_normal() {
    let system = TestSystem::start().await;
    let user = moved_in(&system, "forecast").await;
    let ids = system.category_ids(&user).await;
    let (_, one_off) = household();
    let forecast = system
        .until(&user, "/analytics/forecast", SOON, |b| b["status"] == "ok" && b["components"].is_object())
        .await;
    let components = &forecast["components"];
    let parts: Decimal =
        ["recurring_due", "regular", "one_off_allowance"].iter().map(|k| decimal(&components[k])).sum();
    let still_to_come = decimal(&forecast["projected_total"]) - decimal(&forecast["spent_to_date"]);
    assert!((parts - still_to_come).abs() <= Decimal::new(3, 2), "{parts} vs {still_to_come}: {forecast}");
    let excluded = forecast["excluded_one_offs"].as_array().expect("a list");
    let barn = excluded
        .iter()
        .find(|o| o["description"] == "POTTERY BARN #2231")
        .unwrap_or_else(|| panic!("{forecast}"));
    assert_eq!(barn["amount"], money(one_off).trim_start_matches('-'));
    assert!(
        !excluded.iter().any(|o| o["description"].as_str().is_some_and(|d| d.starts_with("HARBORVIEW"))),
        "rent is recurring, not a one-off: {forecast}"
    );
    let explanation = forecast["explanation"].as_str().expect("text");
    assert!(explanation.contains("one-offs") && explanation.contains("Pottery Barn"), "{explanation}");
    // Shopping this month is the everyday Target trip plus a small allowance, not last year's
    // 2,150 purchase again.
    let shopping = forecast["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .find(|c| c["category_id"] == ids["Shopping"].as_str())
        .unwrap_or_else(|| panic!("a Shopping forecast: {forecast}"));
    assert!(decimal(&shopping["projected"]) < Decimal::new(one_off / 2, 2), "{shopping}");
    // Rent is due at its expected amount when this month's has not come yet.
    if today().day() == 1 {
        assert!(decimal(&components["recurring_due"]) >= Decimal::new(182_500, 2), "{forecast}");
    }

    // "Not an anomaly" puts the purchase back into the regular series.
    let anomalies = system
        .until(&user, "/analytics/anomalies?limit=200", SOON, |b| {
            b["data"].as_array().is_some_and(|d| d.iter().any(|a| a["description"] == "POTTERY BARN #2231"))
        })
        .await;
    let flagged = anomalies["data"]
        .as_array()
        .expect("list")
        .iter()
        .find(|a| a["description"] == "POTTERY BARN #2231")
        .expect("flagged");
    let id = flagged["id"].as_str().expect("id");
    let feedback = system
        .call(
            Method::PATCH,
            &format!("/analytics/anomalies/{id}"),
            Some(&user.token),
            Some(json!({"feedback": "not_anomaly"})),
        )
        .await;
    assert_eq!(feedback.status, StatusCode::OK, "{:?}", feedback.body);
    let back = system
        .until(&user, "/analytics/forecast", SOON, |b| {
            b["excluded_one_offs"]
                .as_array()
                .is_some_and(|l| !l.iter().any(|o| o["description"] == "POTTERY BARN #2231"))
        })
        .await;
    assert_eq!(back["status"], "ok");
    system.stop().await;
}

#[tokio::test]
async fn a_category_says_who_chose_it_and_a_changed_guess_becomes_the_persons() {
    let system = TestSystem::start().await;
    let user = moved_in(&system, "source").await;
    let ids = system.category_ids(&user).await;
    let listed =
        system.call(Method::GET, "/transactions?q=HARBORVIEW&limit=1", Some(&user.token), None).await;
    assert_eq!(listed.body["data"][0]["category_source"], "import", "{:?}", listed.body);

    let post = |body: Value| system.call(Method::POST, "/transactions", Some(&user.token), Some(body));
    let chosen = post(json!({
        "occurred_on": today(), "description": "CORNER BAKERY", "amount": "6.50", "currency": "USD",
        "type": "debit", "category_id": ids["Dining"],
    }))
    .await;
    assert_eq!(chosen.body["category_source"], "user", "{:?}", chosen.body);
    assert_eq!(chosen.body["category_confidence"], Value::Null);
    // A spelling the user's model knows is filled in by the model, with its confidence.
    let guessed = post(json!({
        "occurred_on": today(), "description": "SAFEWAY #1777 OAKLAND CA", "amount": "91.30", "currency": "USD",
        "type": "debit",
    }))
    .await;
    assert_eq!(guessed.status, StatusCode::CREATED, "{:?}", guessed.body);
    assert_eq!(guessed.body["category_id"], ids["Groceries"], "{:?}", guessed.body);
    assert_eq!(guessed.body["category_source"], "model", "{:?}", guessed.body);
    assert!(guessed.body["category_confidence"].as_f64().is_some_and(|c| c >= 0.8), "{:?}", guessed.body);
    // The person changes it: it is theirs now.
    let id = guessed.body["id"].as_str().expect("id");
    let changed = system
        .call(
            Method::PATCH,
            &format!("/transactions/{id}"),
            Some(&user.token),
            Some(json!({"category_id": ids["Shopping"]})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(changed.body["category_source"], "user", "{:?}", changed.body);
    assert_eq!(changed.body["category_confidence"], Value::Null);
    // Analytics keeps where each came from: only the person's and the file's teach the model.
    let pool = system.pool("analytics").await;
    let sources: Vec<(Option<String>,)> = e2e::eventually(SOON, || {
        let pool = pool.clone();
        let user_id = user.user_id.clone();
        async move {
            let rows: Vec<(Option<String>,)> = sqlx::query_as(
                "SELECT category_source FROM transactions WHERE user_id = $1::uuid AND description LIKE 'SAFEWAY #1777%'",
            )
            .bind(user_id)
            .fetch_all(&pool)
            .await
            .ok()?;
            rows.iter().any(|r| r.0.as_deref() == Some("user")).then_some(rows)
        }
    })
    .await
    .expect("analytics applied the change");
    assert_eq!(sources, vec![(Some("user".to_owned()),)]);
    system.stop().await;
}

#[tokio::test]
async fn the_summary_explains_its_numbers_and_its_chart_ends_with_its_month() {
    let system = TestSystem::start().await;
    let user = moved_in(&system, "summary").await;
    system.until(&user, "/analytics/forecast", SOON, |b| b["status"] == "ok").await;
    let last_month = month(1).format("%Y-%m").to_string();
    // The chart of a past month draws twelve months ending with it: no partial month at zero.
    let chart = system
        .http
        .get(format!("{}/analytics/charts/spending-by-category.svg?month={last_month}", system.api))
        .bearer_auth(&user.token)
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(chart.status(), StatusCode::OK);
    let svg = chart.text().await.expect("an SVG");
    let this_month = month(0).format("%Y-%m").to_string();
    assert!(svg.contains(&last_month) && !svg.contains(&this_month), "the chart ends with {last_month}");
    let future = system
        .call(
            Method::GET,
            "/analytics/charts/spending-by-category.svg?month=2999-01",
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(future.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", future.body);

    let requested = system
        .call(Method::POST, "/notifications/summary", Some(&user.token), Some(json!({"month": last_month})))
        .await;
    assert_eq!(requested.status, StatusCode::ACCEPTED, "{:?}", requested.body);
    let sent = mail_sink::wait_for(&user.email, 1, SOON, |e| e.subject.contains("summary")).await;
    let text = &sent[0].text;
    assert!(text.contains("set aside for one-offs"), "the forecast's sentence: {text}");
    system.stop().await;
}
