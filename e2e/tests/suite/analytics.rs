//! Analytics end to end, through the gateway on real servers: exact reports from an imported
//! history, forecasts that reach the budget status, the model registry, charts, ordering and
//! duplicate safety, isolation between users, and answers for users with no history.

use std::collections::HashMap;
use std::time::Duration;

use budgetsmart_proto::common::v1::Money;
use budgetsmart_proto::events::v1::{
    PredictionCompleted, TransactionCreated, TransactionData, TransactionDeleted, TransactionUpdated,
};
use chrono::{Datelike, Months, NaiveDate, Utc};
use e2e::{Options, TestSystem, eventually, this_month};
use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use prost::Message;
use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).expect("day 1")
}

fn decimal(value: &Value) -> Decimal {
    value.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not a decimal string: {value}"))
}

#[tokio::test]
async fn an_imported_history_gives_exact_sums_models_forecasts_and_charts() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let categories = system.category_ids(&ana).await;

    // Eighteen complete months before this one, with cents, several categories, income, and
    // one merchant spelt three ways.
    let first = month_start(today()).checked_sub_months(Months::new(18)).expect("date");
    let mut csv = String::from("date,description,amount,currency,category\n");
    let mut expected: HashMap<&str, Decimal> = HashMap::new();
    let mut income = Decimal::ZERO;
    for m in 0..18u32 {
        let month = first.checked_add_months(Months::new(m)).expect("date");
        let day = |d: u32| month.with_day(d).expect("day").to_string();
        let groceries =
            [Decimal::new(8_234 + i64::from(m) * 17, 2), Decimal::new(4_119, 2), Decimal::new(12_001, 2)];
        let december = if month.month() == 12 { Decimal::new(45_000, 2) } else { Decimal::ZERO };
        let rows = [
            (day(1), "RENT MAY STREET", Decimal::new(120_000, 2), "Housing"),
            (day(4), "Whole Foods #123", groceries[0], "Groceries"),
            (day(12), "WHOLE FOODS MARKET", groceries[1], "Groceries"),
            (day(20), "Whole Foods 88", groceries[2], "Groceries"),
            (
                day(7),
                ["NETFLIX.COM", "POS NETFLIX 1234", "Netflix.com *8842"][m as usize % 3],
                Decimal::new(1_599, 2),
                "Subscriptions",
            ),
            (day(15), "Gifts and more", december + Decimal::new(2_050, 2), "Shopping"),
        ];
        for (date, description, amount, category) in rows {
            csv.push_str(&format!("{date},{description},-{amount},USD,{category}\n"));
            *expected.entry(category).or_default() += amount;
        }
        csv.push_str(&format!("{},ACME PAYROLL,3000.00,USD,Salary\n", day(25)));
        income += Decimal::new(300_000, 2);
    }
    let imported = system.import_csv(&ana.token, csv).await;
    assert_eq!(imported.status, StatusCode::OK, "{:?}", imported.body);
    assert_eq!(imported.body["imported"], json!(18 * 7));

    let total_spent: Decimal = expected.values().copied().sum();
    let last = month_start(today()).pred_opt().expect("date");
    let range = format!("from={first}&to={last}");
    let summary = system
        .until(&ana, &format!("/analytics/summary?{range}&group_by=category"), Duration::from_secs(30), |b| {
            // Both totals: the last salary row comes after the last debit, and a batch of the
            // consumer can end between them.
            let amount = |field: &str| b[field].as_str().and_then(|s| s.parse::<Decimal>().ok());
            amount("total_spent") == Some(total_spent) && amount("total_income") == Some(income)
        })
        .await;
    assert_eq!(decimal(&summary["total_income"]), income);
    assert_eq!(summary["currency"], "USD");
    for (name, sum) in &expected {
        let group = summary["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .find(|g| g["key"] == categories[*name].as_str())
            .unwrap_or_else(|| panic!("no group for {name}: {summary}"));
        assert_eq!(decimal(&group["spent"]), *sum, "{name}");
        assert_eq!(group["label"], *name);
    }
    // Three spellings, one merchant.
    let netflix =
        summary["top_merchants"].as_array().expect("merchants").iter().find(|m| m["merchant"] == "netflix");
    assert_eq!(netflix.map(|m| m["count"].clone()), Some(json!(18)), "{}", summary["top_merchants"]);

    let by_month = system
        .call(Method::GET, &format!("/analytics/summary?{range}&group_by=month"), Some(&ana.token), None)
        .await;
    assert_eq!(by_month.body["groups"].as_array().map(Vec::len), Some(18));
    let trends = system.call(Method::GET, "/analytics/trends?months=6", Some(&ana.token), None).await;
    assert_eq!(trends.status, StatusCode::OK, "{:?}", trends.body);
    let housing = trends.body["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .find(|c| c["name"] == "Housing")
        .cloned()
        .expect("housing");
    assert_eq!(housing["monthly"].as_array().map(Vec::len), Some(6));
    assert_eq!(housing["average_3m"], "1200.00");
    assert_eq!(housing["change_pct"], json!(0.0));

    // The registry compares the candidates on the monthly total.
    let models = system
        .until(&ana, "/analytics/models", Duration::from_secs(30), |b| {
            b["data"].as_array().is_some_and(|d| d.iter().any(|s| s["series"] == "total:USD"))
        })
        .await;
    let total = models["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|s| s["series"] == "total:USD")
        .cloned()
        .expect("total");
    assert_eq!(total["granularity"], "monthly");
    assert_eq!(total["n_points"], json!(18));
    let candidates = total["candidates"].as_array().expect("candidates");
    let names: Vec<&str> = candidates.iter().filter_map(|c| c["model"].as_str()).collect();
    for model in ["seasonal_naive", "naive2", "theta", "ets", "calendar_regression"] {
        assert!(names.contains(&model), "{model} missing from {names:?}");
    }
    assert!(
        candidates.iter().filter(|c| c["smape"].is_number() && c["mase"].is_number()).count() >= 4,
        "{total}"
    );
    assert!(names.contains(&total["chosen"].as_str().expect("chosen")));

    // This month has nothing booked yet, so all of it is forecast; next month is forecast
    // whole, near the usual monthly total of about 1,500.
    for (month, known) in [
        (this_month(), true),
        (
            month_start(today())
                .checked_add_months(Months::new(1))
                .expect("date")
                .format("%Y-%m")
                .to_string(),
            false,
        ),
    ] {
        let forecast = system
            .call(Method::GET, &format!("/analytics/forecast?month={month}"), Some(&ana.token), None)
            .await;
        assert_eq!(forecast.status, StatusCode::OK, "{:?}", forecast.body);
        let f = &forecast.body;
        assert_eq!(f["status"], "ok", "{f}");
        assert_eq!(f["spent_to_date"], "0.00");
        assert_eq!(f["probability_over_budget"], Value::Null, "no budget, no probability");
        let projected = decimal(&f["projected_total"]);
        for interval in ["interval_80", "interval_95"] {
            assert!(
                decimal(&f[interval]["lower"]) <= projected && projected <= decimal(&f[interval]["upper"]),
                "{f}"
            );
        }
        assert!(decimal(&f["interval_95"]["lower"]) <= decimal(&f["interval_80"]["lower"]), "{f}");
        if !known {
            assert!(projected > Decimal::new(100_000, 2) && projected < Decimal::new(250_000, 2), "{f}");
        }
    }

    // Charts, rendered by the service.
    for (path, kind, magic) in [
        ("/analytics/charts/spending-by-category.png", "image/png", &b"\x89PNG"[..]),
        ("/analytics/charts/spending-by-category.svg", "image/svg+xml", &b"<svg"[..]),
        ("/analytics/charts/forecast.png", "image/png", &b"\x89PNG"[..]),
    ] {
        let response = system
            .http
            .get(format!("{}{path}", system.api))
            .bearer_auth(&ana.token)
            .send()
            .await
            .expect("chart");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-type"], kind, "{path}");
        assert!(response.bytes().await.expect("body").starts_with(magic), "{path}");
    }
    let svg = system
        .http
        .get(format!("{}/analytics/charts/spending-by-category.svg", system.api))
        .bearer_auth(&ana.token)
        .send()
        .await
        .expect("chart");
    assert!(svg.text().await.expect("text").contains("Housing"), "category names come from the engine");
    let unknown = system.call(Method::GET, "/analytics/charts/pie.svg", Some(&ana.token), None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.is_problem());
    system.stop().await;
}

#[tokio::test]
async fn a_month_of_spending_is_forecast_once_and_reaches_the_budget_status() {
    // The production debounce, so the whole burst below is one retraining.
    let system = TestSystem::start_with(Options {
        train_debounce: Some(Duration::from_secs(2)),
        ..Options::default()
    })
    .await;
    let mut predictions = system.listen(&["prediction_completed.v1"]).await;
    let ana = system.register_and_login("ana").await;
    let budget = system
        .call(
            Method::POST,
            "/budgets",
            Some(&ana.token),
            Some(json!({"month": this_month(), "currency": "USD", "total_limit": "900.00"})),
        )
        .await;
    assert_eq!(budget.status, StatusCode::CREATED, "{:?}", budget.body);
    let budget_id = budget.body["id"].as_str().expect("id").to_owned();

    // Thirty days of spending, 1,980 rows imported at once: one retraining, one prediction.
    let mut csv = String::from("date,description,amount,currency\n");
    let mut this_month_spent = Decimal::ZERO;
    for back in 0..30i64 {
        let day = today() - chrono::Duration::days(back);
        for shop in 0..66i64 {
            let amount = Decimal::new(150 + (back * 7 + shop * 13) % 900, 2);
            csv.push_str(&format!("{day},Shop {shop},-{amount},USD\n"));
            if month_start(day) == month_start(today()) {
                this_month_spent += amount;
            }
        }
    }
    let imported = system.import_csv(&ana.token, csv).await;
    assert_eq!(imported.body["imported"], json!(1980), "{:?}", imported.body);

    // Applying 1,980 events and one retraining take a while on a loaded machine: wait up to a
    // minute for the first prediction, then 8 quiet seconds more for any second one.
    let mut first = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let ours_in = |deliveries: &[lapin::message::Delivery]| {
        deliveries
            .iter()
            .any(|d| PredictionCompleted::decode(d.data.as_slice()).is_ok_and(|p| p.budget_id == budget_id))
    };
    while !ours_in(&first) && tokio::time::Instant::now() < deadline {
        first.extend(predictions.drain(Duration::from_secs(2)).await);
    }
    first.extend(predictions.drain(Duration::from_secs(8)).await);
    let decoded: Vec<PredictionCompleted> =
        first.iter().map(|d| PredictionCompleted::decode(d.data.as_slice()).expect("decodes")).collect();
    let ours: Vec<&PredictionCompleted> = decoded.iter().filter(|p| p.budget_id == budget_id).collect();
    assert_eq!(ours.len(), 1, "one retraining for the whole burst: {decoded:?}");
    let detail = ours[0].forecast.as_ref().expect("the whole projection travels with the event");
    assert_eq!(detail.status, "ok");

    // The engine consumed it: the budget status shows the forecast object.
    let status = system
        .until(&ana, &format!("/budgets/{budget_id}/status"), Duration::from_secs(15), |b| {
            b["forecast"]["status"] == "ok"
        })
        .await;
    let f = &status["forecast"];
    assert_eq!(f["budget_id"], budget_id.as_str());
    assert_eq!(f["total_limit"], "900.00");
    assert_eq!(decimal(&f["spent_to_date"]), this_month_spent);
    let projected = decimal(&f["projected_total"]);
    assert!(projected >= this_month_spent, "booked spending is known: {f}");
    assert!(
        decimal(&f["interval_80"]["lower"]) >= this_month_spent,
        "only the rest of the month is uncertain: {f}"
    );
    let p = f["probability_over_budget"].as_f64().expect("a probability");
    assert!((0.0..=1.0).contains(&p));
    assert!(f["model"].is_string());

    let models = system.call(Method::GET, "/analytics/models", Some(&ana.token), None).await;
    let total = models.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|s| s["series"] == "total:USD")
        .cloned()
        .expect("total series");
    assert_eq!(total["granularity"], "daily");
    assert!(
        total["candidates"].as_array().expect("candidates").iter().filter(|c| c["mase"].is_number()).count()
            >= 4,
        "{total}"
    );

    // The analytics answer for the budget is the same object.
    let direct = system
        .call(Method::GET, &format!("/analytics/forecast?budget_id={budget_id}"), Some(&ana.token), None)
        .await;
    assert_eq!(direct.body["projected_total"], f["projected_total"]);
    let chart = system
        .http
        .get(format!("{}/analytics/charts/forecast.svg?budget_id={budget_id}", system.api))
        .bearer_auth(&ana.token)
        .send()
        .await
        .expect("chart");
    assert_eq!(chart.status(), StatusCode::OK);
    system.stop().await;
}

/// Publishes a transaction event straight onto the test exchange, as the engine would.
async fn publish(
    channel: &lapin::Channel,
    system: &TestSystem,
    user: Uuid,
    event_id: Uuid,
    routing: &str,
    kind: &str,
    body: Vec<u8>,
) {
    let mut headers = FieldTable::default();
    headers.insert("user_id".into(), AMQPValue::LongString(user.to_string().into()));
    let properties = BasicProperties::default()
        .with_message_id(event_id.to_string().into())
        .with_type(kind.into())
        .with_headers(headers);
    channel
        .basic_publish(
            system.bus.exchange.as_str().into(),
            routing.into(),
            BasicPublishOptions::default(),
            &body,
            properties,
        )
        .await
        .expect("publishes")
        .await
        .expect("confirmed");
}

#[tokio::test]
async fn duplicates_and_reordering_leave_the_aggregates_exact() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let user: Uuid = ana.user_id.parse().expect("uuid");
    let connection =
        Connection::connect(&e2e::amqp_url(), ConnectionProperties::default()).await.expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    channel.confirm_select(Default::default()).await.expect("confirms");
    let day = today().to_string();
    let data = |id: Uuid, cents: i64, version: i64| TransactionData {
        transaction_id: id.to_string(),
        user_id: user.to_string(),
        occurred_on: day.clone(),
        description: "Hardware store".into(),
        amount: Some(Money {
            currency_code: "USD".into(),
            units: cents / 100,
            nanos: (cents % 100) as i32 * 10_000_000,
        }),
        r#type: "debit".into(),
        category_id: None,
        version,
        category_name: None,
        ..Default::default()
    };
    let (kept, removed) = (Uuid::now_v7(), Uuid::now_v7());
    let created =
        TransactionCreated { transaction: Some(data(kept, 10_000, 1)), ..Default::default() }.encode_to_vec();
    let updated = TransactionUpdated {
        transaction: Some(data(kept, 15_075, 2)),
        previous: Some(data(kept, 10_000, 1)),
        ..Default::default()
    }
    .encode_to_vec();
    let update_id = Uuid::now_v7();
    // The update overtakes its create, and arrives twice.
    publish(
        &channel,
        &system,
        user,
        update_id,
        "transaction_updated.v1",
        "transaction_updated",
        updated.clone(),
    )
    .await;
    publish(
        &channel,
        &system,
        user,
        Uuid::now_v7(),
        "transaction_created.v1",
        "transaction_created",
        created,
    )
    .await;
    publish(&channel, &system, user, update_id, "transaction_updated.v1", "transaction_updated", updated)
        .await;
    // A delete that overtakes its create: the create must not resurrect it.
    let gone = TransactionDeleted { transaction: Some(data(removed, 5_000, 1)), ..Default::default() }
        .encode_to_vec();
    let born = TransactionCreated { transaction: Some(data(removed, 5_000, 1)), ..Default::default() }
        .encode_to_vec();
    publish(&channel, &system, user, Uuid::now_v7(), "transaction_deleted.v1", "transaction_deleted", gone)
        .await;
    publish(
        &channel,
        &system,
        user,
        Uuid::now_v7(),
        "transaction_created.v1",
        "transaction_created",
        born.clone(),
    )
    .await;
    // A redelivered create under a new event id (a republished outbox row) changes nothing either.
    publish(&channel, &system, user, Uuid::now_v7(), "transaction_created.v1", "transaction_created", born)
        .await;

    let db = system.pool("analytics").await;
    let settled = eventually(Duration::from_secs(15), || {
        let db = db.clone();
        async move {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox").fetch_one(&db).await.ok()?;
            // Register's user_registered plus five distinct event ids.
            (n >= 6).then_some(())
        }
    })
    .await;
    assert!(settled.is_some(), "every event was applied");
    let summary = system
        .call(Method::GET, &format!("/analytics/summary?from={day}&to={day}"), Some(&ana.token), None)
        .await;
    assert_eq!(summary.body["total_spent"], "150.75", "{:?}", summary.body);
    assert_eq!(summary.body["groups"][0]["count"], json!(1));
    assert_eq!(summary.body["groups"][0]["label"], "Uncategorized");
    system.stop().await;
}

#[tokio::test]
async fn users_see_only_their_own_analytics_and_new_users_get_insufficient_data() {
    // Retraining (which also refreshes the cache) is held off, so only the consumer's own
    // invalidation can make the second summary below fresh.
    let options = Options { train_debounce: Some(Duration::from_secs(60)), ..Options::default() };
    let system = TestSystem::start_with(options).await;
    let ana = system.register_and_login("ana").await;
    let ben = system.register_and_login("ben").await;
    let budget = system
        .call(
            Method::POST,
            "/budgets",
            Some(&ana.token),
            Some(json!({"month": this_month(), "currency": "USD", "total_limit": "500.00"})),
        )
        .await;
    let budget_id = budget.body["id"].as_str().expect("id").to_owned();
    let created = system
        .call(Method::POST, "/transactions", Some(&ana.token), Some(json!({"occurred_on": today().to_string(), "description": "Secret purchase", "amount": "77.00", "currency": "USD", "type": "debit"})))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    system.until(&ana, "/analytics/summary", Duration::from_secs(15), |b| b["total_spent"] == "77.00").await;
    // That answer is now cached; the next event invalidates it (the cache lives five minutes).
    let more = system
        .call(Method::POST, "/transactions", Some(&ana.token), Some(json!({"occurred_on": today().to_string(), "description": "Another", "amount": "23.00", "currency": "USD", "type": "debit"})))
        .await;
    assert_eq!(more.status, StatusCode::CREATED);
    system.until(&ana, "/analytics/summary", Duration::from_secs(15), |b| b["total_spent"] == "100.00").await;

    // Ben sees nothing of Ana's.
    let summary = system.call(Method::GET, "/analytics/summary", Some(&ben.token), None).await;
    assert_eq!(summary.body["total_spent"], "0.00");
    assert_eq!(summary.body["groups"], json!([]));
    assert_eq!(summary.body["top_merchants"], json!([]));
    for path in [
        format!("/analytics/forecast?budget_id={budget_id}"),
        format!("/analytics/charts/forecast.svg?budget_id={budget_id}"),
    ] {
        let reply = system.call(Method::GET, &path, Some(&ben.token), None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert!(reply.is_problem());
    }
    let models = system.call(Method::GET, "/analytics/models", Some(&ben.token), None).await;
    assert_eq!(models.body["data"], json!([]));

    // Ben has no history: 200 and insufficient_data, never an error or a NaN.
    let forecast = system.call(Method::GET, "/analytics/forecast", Some(&ben.token), None).await;
    assert_eq!(forecast.status, StatusCode::OK);
    assert_eq!(forecast.body["status"], "insufficient_data");
    assert_eq!(forecast.body["projected_total"], Value::Null);
    assert_eq!(forecast.body["interval_80"], Value::Null);
    assert_eq!(forecast.body["model"], Value::Null);
    // Ana has one day of history: also too little.
    let young = system
        .call(Method::GET, &format!("/analytics/forecast?budget_id={budget_id}"), Some(&ana.token), None)
        .await;
    assert_eq!(young.body["status"], "insufficient_data");
    assert_eq!(young.body["spent_to_date"], "100.00", "{}", young.body);
    assert_eq!(young.body["total_limit"], "500.00");

    // Bad input is a 422 naming the field.
    for (path, field) in [
        ("/analytics/summary?from=yesterday", "from"),
        ("/analytics/summary?from=2025-02-01&to=2025-01-01", "from"),
        ("/analytics/summary?group_by=week", "group_by"),
        ("/analytics/summary?currency=XYZ", "currency"),
        ("/analytics/trends?months=99", "months"),
        // 0 is the wire's default, not the client's: found by make fuzz-api.
        ("/analytics/trends?months=0", "months"),
        ("/analytics/forecast?month=0000-01", "month"),
        ("/analytics/forecast?budget_id=42", "budget_id"),
        ("/analytics/forecast?month=2025-13", "month"),
        ("/analytics/forecast?month=2099-01", "month"),
    ] {
        let reply = system.call(Method::GET, path, Some(&ben.token), None).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {:?}", reply.body);
        assert!(reply.is_problem(), "{path}");
        assert_eq!(reply.error_fields(), vec![field.to_owned()], "{path}");
    }
    let anonymous = system.call(Method::GET, "/analytics/summary", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    system.stop().await;
}

/// Spellings of one request (`usd`, `USD`; a budget id upper-case or braced) share one cache
/// entry, and one user's burst of renders is bounded: the rest get 429 at once, and another
/// user is served meanwhile.
#[tokio::test]
async fn spellings_share_one_cache_entry_and_a_burst_of_renders_is_bounded_per_user() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let bob = system.register_and_login("bob").await;
    let id = system.budget_this_month(&ana, "900.00").await;
    // Analytics has the budget once its event arrived.
    let path = format!("/analytics/forecast?budget_id={id}");
    let arrived = eventually(Duration::from_secs(15), || async {
        (system.call(Method::GET, &path, Some(&ana.token), None).await.status == StatusCode::OK).then_some(())
    })
    .await;
    assert!(arrived.is_some(), "analytics has the budget");
    let mut redis = redis::Client::open(e2e::redis_url())
        .expect("a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("connects");
    let pattern = format!("{}analytics:{}:*forecast:*", system.redis_key_prefix(), ana.user_id);
    let before: Vec<String> = redis::cmd("KEYS").arg(&pattern).query_async(&mut redis).await.expect("lists");
    for spelling in [
        format!("budget_id={id}&currency=USD"),
        format!("budget_id={}&currency=usd", id.to_uppercase()),
        format!("budget_id=%7B{id}%7D&currency=Usd"),
    ] {
        let answer = system
            .call(Method::GET, &format!("/analytics/forecast?{spelling}"), Some(&ana.token), None)
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{spelling}: {:?}", answer.body);
    }
    let keys: Vec<String> = redis::cmd("KEYS").arg(&pattern).query_async(&mut redis).await.expect("lists");
    let new: Vec<&String> = keys.iter().filter(|k| !before.contains(k)).collect();
    assert_eq!(new.len(), 1, "one entry for three spellings: {keys:?}");

    // Twelve PNG renders at once from one user, each asking for a different month so none is
    // a cache hit, and one from another user meanwhile.
    let months: Vec<String> = (0..12)
        .map(|back| {
            let first = chrono::Utc::now().date_naive().with_day(1).expect("day 1");
            (first - Months::new(back)).format("%Y-%m").to_string()
        })
        .collect();
    let burst = months.iter().map(|month| {
        let url = format!("{}/analytics/charts/spending-by-category.png?month={month}", system.api);
        system.http.get(url).bearer_auth(&ana.token).send()
    });
    let other = system
        .http
        .get(format!("{}/analytics/charts/spending-by-category.png", system.api))
        .bearer_auth(&bob.token)
        .send();
    let (answers, other) = tokio::join!(futures_util::future::join_all(burst), other);
    let statuses: Vec<StatusCode> = answers.into_iter().map(|a| a.expect("answers").status()).collect();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert!(statuses.contains(&StatusCode::OK), "{statuses:?}");
    assert_eq!(other.expect("answers").status(), StatusCode::OK, "another user is served");
    system.stop().await;
}
