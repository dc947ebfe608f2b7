//! Money in several currencies, end to end: the ECB's real reference-rate file loaded into the
//! engine, transactions converted at their day's rate, budgets and analytics counting in the
//! home currency, rates that arrive late, a new home currency, and the minor units of JPY and
//! KWD. Real PostgreSQL, RabbitMQ, gRPC and HTTP.

use std::time::Duration;

use chrono::NaiveDate;
use e2e::{Session, TestSystem};
use engine::rates::ecb;
use reqwest::{Method, StatusCode};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value, json};

/// The ECB's historical file, trimmed to 2025-11-03 .. 2026-04-13 (see data/rates/README.md).
const HISTORY: &[u8] = include_bytes!("../../../data/rates/eurofxref-hist.csv");
const SOON: Duration = Duration::from_secs(30);

fn dec(text: &str) -> Decimal {
    text.parse().expect("a decimal")
}

/// The published rate per euro of `code` on `day`, read from the file the test loads.
fn per_eur(day: &str, code: &str) -> Decimal {
    let parsed = ecb::parse(HISTORY).expect("the shipped file reads");
    let on = NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("a day");
    let row = parsed.days.iter().find(|d| d.day == on).unwrap_or_else(|| panic!("{day} is published"));
    row.rates
        .iter()
        .find(|(c, _)| c.code() == code)
        .map(|(_, r)| *r)
        .unwrap_or_else(|| panic!("{code} on {day}"))
}

/// One unit of `from` in `to` on `day`, through the euro, kept to ten places.
fn cross(day: &str, from: &str, to: &str) -> Decimal {
    let of = |code: &str| if code == "EUR" { Decimal::ONE } else { per_eur(day, code) };
    (of(to) / of(from)).round_dp_with_strategy(10, RoundingStrategy::MidpointAwayFromZero).normalize()
}

fn converted(amount: &str, rate: Decimal, places: u32) -> Decimal {
    (dec(amount) * rate).round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero)
}

async fn load(
    system: &TestSystem,
    bytes: &[u8],
) -> Result<engine::exchange::Applied, engine::exchange::LoadError> {
    let pool = system.pool("engine").await;
    let applied = engine::exchange::apply(&pool, bytes).await;
    pool.close().await;
    applied
}

async fn spend(
    system: &TestSystem,
    user: &Session,
    day: &str,
    what: &str,
    amount: &str,
    currency: &str,
) -> Value {
    let body = json!({"occurred_on": day, "description": what, "amount": amount, "currency": currency, "type": "debit"});
    let created = system.call(Method::POST, "/transactions", Some(&user.token), Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body
}

async fn set_home(system: &TestSystem, user: &Session, currency: &str) {
    let changed = system
        .call(Method::PATCH, "/me", Some(&user.token), Some(json!({"default_currency": currency})))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
}

async fn budget(system: &TestSystem, user: &Session, month: &str, currency: &str, limit: &str) -> String {
    let body = json!({"month": month, "currency": currency, "total_limit": limit});
    let created = system.call(Method::POST, "/budgets", Some(&user.token), Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body["id"].as_str().expect("id").to_owned()
}

fn amount_of(value: &Value) -> Decimal {
    dec(value.as_str().unwrap_or_else(|| panic!("an amount, not {value}")))
}

#[tokio::test]
async fn euros_and_pounds_count_in_a_dollar_budget_at_their_days_rate() {
    let system = TestSystem::start().await;
    // The operator's command, on the real file.
    let path = format!("{}/../data/rates/eurofxref-hist.csv", env!("CARGO_MANIFEST_DIR"));
    engine::exchange::import_file(&system.database_url, &path).await.expect("the ECB file loads");
    let ana = system.register_and_login("ana").await;
    let budget_id = budget(&system, &ana, "2026-03", "USD", "1000.00").await;

    // A Tuesday, and a Saturday (no reference rate: the Friday's is the last before it).
    let hotel = spend(&system, &ana, "2026-03-10", "Hotel Lisboa", "420.00", "EUR").await;
    let theatre = spend(&system, &ana, "2026-03-14", "Old Vic", "55.50", "GBP").await;
    let lunch = spend(&system, &ana, "2026-03-11", "Deli", "12.00", "USD").await;

    let eur_rate = cross("2026-03-10", "EUR", "USD");
    assert_eq!(hotel["currency"], "EUR");
    assert_eq!(hotel["amount"], "420.00", "the original is kept");
    assert_eq!(hotel["home_currency"], "USD");
    assert_eq!(amount_of(&hotel["rate"]), eur_rate);
    assert_eq!(hotel["rate_date"], "2026-03-10");
    assert_eq!(hotel["rate_source"], "ecb");
    assert_eq!(hotel["rate_pending"], false);
    let hotel_usd = converted("420.00", eur_rate, 2);
    assert_eq!(amount_of(&hotel["home_amount"]), hotel_usd);

    let gbp_rate = cross("2026-03-13", "GBP", "USD");
    assert_eq!(theatre["rate_date"], "2026-03-13", "the Friday before the Saturday");
    assert_eq!(amount_of(&theatre["rate"]), gbp_rate);
    let theatre_usd = converted("55.50", gbp_rate, 2);
    assert_eq!(amount_of(&theatre["home_amount"]), theatre_usd);
    assert!(lunch.get("home_amount").is_none() && lunch.get("rate").is_none(), "home currency: {lunch}");

    let status =
        system.call(Method::GET, &format!("/budgets/{budget_id}/status"), Some(&ana.token), None).await;
    assert_eq!(status.status, StatusCode::OK, "{:?}", status.body);
    assert_eq!(amount_of(&status.body["spent"]), hotel_usd + theatre_usd + dec("12.00"), "{}", status.body);

    // Analytics counts the same amounts, in the home currency.
    let total = hotel_usd + theatre_usd + dec("12.00");
    let summary = system
        .until(&ana, "/analytics/summary?from=2026-03-01&to=2026-03-31", SOON, |s| {
            s["total_spent"].as_str().is_some_and(|t| dec(t) == total)
        })
        .await;
    assert_eq!(summary["currency"], "USD");

    // The person's bank charged a different amount: the statement wins.
    let card = json!({"occurred_on": "2026-03-12", "description": "Museu", "amount": "20.00", "currency": "EUR",
        "type": "debit", "home_amount": "22.31"});
    let charged = system.call(Method::POST, "/transactions", Some(&ana.token), Some(card)).await;
    assert_eq!(charged.status, StatusCode::CREATED, "{:?}", charged.body);
    assert_eq!(charged.body["home_amount"], "22.31");
    assert_eq!(charged.body["rate_source"], "bank");
    assert_eq!(amount_of(&charged.body["rate"]), dec("1.1155"));
    let both = json!({"occurred_on": "2026-03-12", "description": "x", "amount": "1.00", "currency": "EUR",
        "type": "debit", "home_amount": "1.10", "rate": "1.1"});
    let refused = system.call(Method::POST, "/transactions", Some(&ana.token), Some(both)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.error_fields(), vec!["home_amount"]);
    system.stop().await;
}

#[tokio::test]
async fn a_transaction_waits_for_its_rate_and_is_counted_when_it_arrives() {
    let system = TestSystem::start().await;
    // The file up to the end of March only: April's rates are "not yet published".
    let text = std::str::from_utf8(HISTORY).expect("text");
    let march: String =
        text.lines().filter(|l| !l.starts_with("2026-04")).map(|l| format!("{l}\n")).collect();
    load(&system, march.as_bytes()).await.expect("loads");
    let bo = system.register_and_login("bo").await;
    let budget_id = budget(&system, &bo, "2026-04", "USD", "100.00").await;

    let waiting = spend(&system, &bo, "2026-04-08", "Train", "90.00", "EUR").await;
    assert_eq!(waiting["rate_pending"], true, "{waiting}");
    assert!(waiting.get("home_amount").is_none(), "never guessed: {waiting}");
    let id = waiting["id"].as_str().expect("id").to_owned();
    let status =
        system.call(Method::GET, &format!("/budgets/{budget_id}/status"), Some(&bo.token), None).await;
    assert_eq!(amount_of(&status.body["spent"]), Decimal::ZERO, "not counted yet: {}", status.body);

    let mut alerts = system.listen(&["budget_threshold_reached.v1"]).await;
    let applied = load(&system, HISTORY).await.expect("the full file loads");
    assert!(applied.resolved >= 1, "{applied:?}");
    let rate = cross("2026-04-08", "EUR", "USD");
    let counted = system.call(Method::GET, &format!("/transactions/{id}"), Some(&bo.token), None).await;
    assert_eq!(counted.body["rate_pending"], false, "{}", counted.body);
    assert_eq!(counted.body["rate_date"], "2026-04-08");
    let usd = converted("90.00", rate, 2);
    assert_eq!(amount_of(&counted.body["home_amount"]), usd);
    let status =
        system.call(Method::GET, &format!("/budgets/{budget_id}/status"), Some(&bo.token), None).await;
    assert_eq!(amount_of(&status.body["spent"]), usd, "{}", status.body);
    // Over 80 % of the budget once counted: the alert goes out then, once.
    let fired = alerts.drain(Duration::from_secs(3)).await;
    assert!(!fired.is_empty(), "the threshold alert follows the late rate");
    system
        .until(&bo, "/analytics/summary?from=2026-04-01&to=2026-04-30", SOON, |s| {
            s["total_spent"].as_str().is_some_and(|t| dec(t) == usd)
        })
        .await;
    system.stop().await;
}

#[tokio::test]
async fn a_new_home_currency_re_expresses_the_history_and_keeps_the_originals() {
    let system = TestSystem::start().await;
    load(&system, HISTORY).await.expect("loads");
    let cy = system.register_and_login("cy").await;
    let dollars = spend(&system, &cy, "2026-03-10", "Groceries", "100.00", "USD").await;
    let euros = spend(&system, &cy, "2026-03-10", "Hotel", "50.00", "EUR").await;

    set_home(&system, &cy, "GBP").await;
    let budget_id = budget(&system, &cy, "2026-03", "GBP", "500.00").await;
    let usd_gbp = cross("2026-03-10", "USD", "GBP");
    let eur_gbp = cross("2026-03-10", "EUR", "GBP");
    let dollars_id = dollars["id"].as_str().expect("id");
    let rehomed = system
        .until(&cy, &format!("/transactions/{dollars_id}"), SOON, |t| t["home_currency"] == "GBP")
        .await;
    assert_eq!(rehomed["amount"], "100.00");
    assert_eq!(rehomed["currency"], "USD", "the original amount and currency stay");
    assert_eq!(amount_of(&rehomed["rate"]), usd_gbp);
    let euros_id = euros["id"].as_str().expect("id");
    let euros =
        system.until(&cy, &format!("/transactions/{euros_id}"), SOON, |t| t["home_currency"] == "GBP").await;
    assert_eq!(amount_of(&euros["home_amount"]), converted("50.00", eur_gbp, 2));

    let expected = converted("100.00", usd_gbp, 2) + converted("50.00", eur_gbp, 2);
    let status =
        system.call(Method::GET, &format!("/budgets/{budget_id}/status"), Some(&cy.token), None).await;
    assert_eq!(amount_of(&status.body["spent"]), expected, "{}", status.body);
    system
        .until(&cy, "/analytics/summary?from=2026-03-01&to=2026-03-31", SOON, |s| {
            s["currency"] == "GBP" && s["total_spent"].as_str().is_some_and(|t| dec(t) == expected)
        })
        .await;
    system.stop().await;
}

#[tokio::test]
async fn yen_and_dinar_homes_round_to_their_minor_units() {
    let system = TestSystem::start().await;
    load(&system, HISTORY).await.expect("loads");

    // Yen: no minor unit.
    let di = system.register_and_login("di").await;
    set_home(&system, &di, "JPY").await;
    let paid = spend(&system, &di, "2026-03-10", "Book", "12.34", "USD").await;
    let rate = cross("2026-03-10", "USD", "JPY");
    assert_eq!(amount_of(&paid["rate"]), rate);
    let yen = converted("12.34", rate, 0);
    assert_eq!(paid["home_amount"], yen.to_string(), "whole yen: {paid}");

    // Kuwaiti dinar: three places. The ECB publishes no KWD rate, so the bank's is needed.
    let ed = system.register_and_login("ed").await;
    set_home(&system, &ed, "KWD").await;
    let pending = spend(&system, &ed, "2026-03-10", "Shoes", "12.34", "USD").await;
    assert_eq!(pending["rate_pending"], true, "no reference rate for KWD: {pending}");
    let with_rate = json!({"occurred_on": "2026-03-10", "description": "Bag", "amount": "12.34", "currency": "USD",
        "type": "debit", "rate": "0.30751"});
    let converted_kwd = system.call(Method::POST, "/transactions", Some(&ed.token), Some(with_rate)).await;
    assert_eq!(converted_kwd.status, StatusCode::CREATED, "{:?}", converted_kwd.body);
    // 12.34 × 0.30751 = 3.7946734: three places, half away from zero.
    assert_eq!(converted_kwd.body["home_amount"], "3.795");
    let too_precise = json!({"occurred_on": "2026-03-10", "description": "Bag", "amount": "12.34", "currency": "USD",
        "type": "debit", "home_amount": "3.7955"});
    let refused = system.call(Method::POST, "/transactions", Some(&ed.token), Some(too_precise)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
    assert_eq!(refused.error_fields(), vec!["home_amount"]);
    let dinars = json!({"occurred_on": "2026-03-10", "description": "Tea", "amount": "1.2345", "currency": "KWD", "type": "debit"});
    let refused = system.call(Method::POST, "/transactions", Some(&ed.token), Some(dinars)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.error_fields(), vec!["amount"]);
    system.stop().await;
}

#[tokio::test]
async fn an_import_in_two_currencies_converts_each_row() {
    let system = TestSystem::start().await;
    load(&system, HISTORY).await.expect("loads");
    let fa = system.register_and_login("fa").await;
    let csv = "date,description,amount,currency\n2026-03-02,Rent,-1200.00,USD\n2026-03-03,Ryanair,-89.99,EUR\n\
               2026-03-04,Salary,3000.00,USD\n";
    let imported = system.import_csv(&fa.token, csv).await;
    assert_eq!(imported.status, StatusCode::OK, "{:?}", imported.body);
    assert_eq!(imported.body["imported"], 3);
    let listed =
        system.call(Method::GET, "/transactions?from=2026-03-01&to=2026-03-31", Some(&fa.token), None).await;
    let rows = listed.body["data"].as_array().expect("rows");
    let flight = rows.iter().find(|r| r["description"] == "Ryanair").expect("the flight");
    assert_eq!(flight["rate_date"], "2026-03-03");
    assert_eq!(amount_of(&flight["home_amount"]), converted("89.99", cross("2026-03-03", "EUR", "USD"), 2));
    let rent = rows.iter().find(|r| r["description"] == "Rent").expect("the rent");
    assert!(rent.get("home_amount").is_none(), "home currency: {rent}");
    system.stop().await;
}

#[tokio::test]
async fn a_damaged_rate_file_is_refused_whole_and_the_loaded_rates_stay() {
    let system = TestSystem::start().await;
    load(&system, HISTORY).await.expect("loads");
    let pool = system.pool("engine").await;
    let count = || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM rates").fetch_one(&pool).await.expect("counts");
        n
    };
    let before = count().await;
    let usd: Decimal =
        sqlx::query_scalar("SELECT per_eur FROM rates WHERE currency = 'USD' AND day = '2026-03-10'")
            .fetch_one(&pool)
            .await
            .expect("a rate");
    // A new day that would change a loaded one, then a broken line: nothing of it lands.
    let damaged =
        "Date,USD,JPY,\n2026-04-14,1.2000,190.00,\n2026-03-10,9.9999,190.00,\n2026-04-15,1.19x,190.00,\n";
    let refused = engine::exchange::apply(&pool, damaged.as_bytes()).await;
    assert!(matches!(refused, Err(engine::exchange::LoadError::Unreadable(_))), "{refused:?}");
    let truncated = &HISTORY[..HISTORY.len() / 2];
    assert!(engine::exchange::apply(&pool, truncated).await.is_err(), "a cut CSV download is refused");
    let xml_cut = br#"<?xml version="1.0"?><gesmes:Envelope><Cube><Cube time="2026-04-14"><Cube currency="USD" rate="1.2"/>"#;
    assert!(engine::exchange::apply(&pool, xml_cut).await.is_err(), "a cut XML download is refused");
    assert_eq!(count().await, before, "no rate added");
    let still: Decimal =
        sqlx::query_scalar("SELECT per_eur FROM rates WHERE currency = 'USD' AND day = '2026-03-10'")
            .fetch_one(&pool)
            .await
            .expect("a rate");
    assert_eq!(still, usd, "no rate changed");
    pool.close().await;
    system.stop().await;
}

#[tokio::test]
async fn rates_url_is_fetched_on_a_schedule() {
    let system = TestSystem::start().await;
    // A real HTTP server serving the ECB's daily XML, as www.ecb.europa.eu would.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("http://{}/stats/eurofxref/eurofxref-daily.xml", listener.local_addr().expect("addr"));
    let daily: &'static [u8] = include_bytes!("../../../data/rates/eurofxref-daily.xml");
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 2048];
            let _ = socket.read(&mut request).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                daily.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(daily).await;
        }
    });
    let pool = system.pool("engine").await;
    let stop = tokio_util::sync::CancellationToken::new();
    let fetcher = tokio::spawn(engine::exchange::fetch_on_schedule(
        pool.clone(),
        url,
        Duration::from_secs(3600),
        stop.clone(),
    ));
    let loaded = e2e::eventually(SOON, || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM rates WHERE day = '2026-02-11'")
            .fetch_one(&pool)
            .await
            .expect("counts");
        (n > 0).then_some(n)
    })
    .await;
    stop.cancel();
    let _ = fetcher.await;
    assert_eq!(loaded, Some(30), "29 currencies and the euro of 11 February 2026");
    pool.close().await;
    system.stop().await;
}
