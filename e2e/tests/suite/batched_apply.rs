//! Analytics applies a run of transaction events in three statements (issue 25,
//! `readmodel::transactions::apply_many`). Here the same tangled history (an update that
//! overtakes its create, a repeated update, a delete before its create, two changes to one day's
//! total that cancel out, a credit, a category change) is applied to one user as one run and to
//! another event by event: the read model must come out the same. Real PostgreSQL.

use analytics::readmodel::transactions::{Change, apply, apply_many};
use budgetsmart_proto::common::v1::Money;
use budgetsmart_proto::events::v1::TransactionData;
use e2e::TestSystem;
use rust_decimal::Decimal;
use uuid::Uuid;

/// What one user's read model holds: rows by description, and daily totals.
type Snapshot =
    (Vec<(String, i64, bool, Decimal, String)>, Vec<(String, String, Decimal, Decimal, i32, i32)>);

/// The history, for `user`, with fresh transaction ids.
fn history(user: Uuid, category: Uuid) -> Vec<(Option<TransactionData>, Change)> {
    let data =
        |id: Uuid, what: &str, day: &str, cents: i64, kind: &str, version: i64, category: Option<Uuid>| {
            Some(TransactionData {
                transaction_id: id.to_string(),
                user_id: user.to_string(),
                occurred_on: day.into(),
                description: what.into(),
                amount: Some(Money {
                    currency_code: "USD".into(),
                    units: cents / 100,
                    nanos: (cents % 100) as i32 * 10_000_000,
                }),
                r#type: kind.into(),
                category_id: category.map(|c| c.to_string()),
                category_name: category.map(|_| "Groceries".to_owned()),
                category_source: if category.is_some() { "user".into() } else { String::new() },
                version,
                ..Default::default()
            })
        };
    let (kept, removed, moved, pay) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    vec![
        (data(kept, "Hardware", "2026-11-03", 15_075, "debit", 2, None), Change::Upsert),
        (data(kept, "Hardware", "2026-11-03", 10_000, "debit", 1, None), Change::Upsert),
        (data(kept, "Hardware", "2026-11-03", 15_075, "debit", 2, None), Change::Upsert),
        (data(removed, "Returned", "2026-11-04", 5_000, "debit", 1, None), Change::Delete),
        (data(removed, "Returned", "2026-11-04", 5_000, "debit", 1, None), Change::Upsert),
        (data(moved, "Market", "2026-11-05", 2_500, "debit", 1, None), Change::Upsert),
        (data(moved, "Market", "2026-11-05", 2_500, "debit", 2, Some(category)), Change::Upsert),
        (data(moved, "Market", "2026-11-06", 2_500, "debit", 3, Some(category)), Change::Upsert),
        (data(pay, "Salary", "2026-11-01", 300_000, "credit", 1, None), Change::Upsert),
    ]
}

async fn snapshot(pool: &sqlx::PgPool, user: Uuid) -> Snapshot {
    let rows = sqlx::query_as(
        "SELECT description, version, deleted, amount, occurred_on::text FROM transactions \
         WHERE user_id = $1 ORDER BY description",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .expect("rows");
    let totals = sqlx::query_as(
        "SELECT day::text, CASE WHEN category_id = '00000000-0000-0000-0000-000000000000' THEN 'none' ELSE 'set' END, \
         spent, income, debit_count, credit_count FROM daily_totals WHERE user_id = $1 \
         AND (spent <> 0 OR income <> 0 OR debit_count <> 0 OR credit_count <> 0) ORDER BY day, 2",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .expect("totals");
    (rows, totals)
}

#[tokio::test]
async fn a_run_applied_at_once_equals_the_events_applied_one_by_one() {
    let system = TestSystem::start().await;
    let pool = system.pool("analytics").await;
    let category = Uuid::now_v7();
    let (batched, single) = (Uuid::now_v7(), Uuid::now_v7());

    let mut tx = pool.begin().await.expect("begins");
    apply_many(&mut tx, history(batched, category)).await.expect("the run applies");
    tx.commit().await.expect("commits");
    for (data, change) in history(single, category) {
        let mut tx = pool.begin().await.expect("begins");
        apply(&mut tx, data, change).await.expect("the event applies");
        tx.commit().await.expect("commits");
    }

    let (one_run, one_by_one) = (snapshot(&pool, batched).await, snapshot(&pool, single).await);
    assert_eq!(one_run, one_by_one);
    // And what that is, spelled out: the update counted once at 150.75, the early delete kept
    // its tombstone, the market moved to the 6th in its category, the salary as income.
    let (rows, totals) = one_run;
    let summary: Vec<(&str, i64, bool)> = rows.iter().map(|r| (r.0.as_str(), r.1, r.2)).collect();
    assert_eq!(
        summary,
        [("Hardware", 2, false), ("Market", 3, false), ("Returned", 1, true), ("Salary", 1, false)]
    );
    let days: Vec<(&str, &str, Decimal, Decimal)> =
        totals.iter().map(|t| (t.0.as_str(), t.1.as_str(), t.2, t.3)).collect();
    assert_eq!(
        days,
        [
            ("2026-11-01", "none", Decimal::ZERO, Decimal::new(300_000, 2)),
            ("2026-11-03", "none", Decimal::new(15_075, 2), Decimal::ZERO),
            ("2026-11-06", "set", Decimal::new(2_500, 2), Decimal::ZERO),
        ]
    );
    // One retraining request per user and run, not per event.
    let requests: i64 = sqlx::query_scalar("SELECT count(*) FROM training_requests WHERE user_id = $1")
        .bind(batched)
        .fetch_one(&pool)
        .await
        .expect("counts");
    assert_eq!(requests, 1);
    system.stop().await;
}
