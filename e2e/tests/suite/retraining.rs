//! Retraining's two stages, the forecasts and the behaviour review, commit and retry apart: a
//! review that fails keeps the forecast committed before it, and the retry runs the review
//! alone.

use std::time::Duration;

use chrono::Utc;
use e2e::{TestSystem, eventually};
use serde_json::json;

#[tokio::test]
async fn a_failing_review_keeps_the_forecast_and_its_retry_runs_only_the_review() {
    let system = TestSystem::start().await;
    let db = system.pool("analytics").await;
    // Break the review and nothing else: only the review reads the anomaly suppressions.
    sqlx::query("ALTER TABLE anomaly_suppressions RENAME TO anomaly_suppressions_away")
        .execute(&db)
        .await
        .expect("renames");

    let ana = system.register_and_login("ana").await;
    let budget_id = system.budget_this_month(&ana, "900.00").await;
    let mut csv = String::from("date,description,amount,currency\n");
    for back in 0..40i64 {
        let day = Utc::now().date_naive() - chrono::Duration::days(back);
        csv.push_str(&format!("{day},Corner shop,-{}.50,USD\n", 10 + back % 7));
    }
    let imported = system.import_csv(&ana.token, csv).await;
    assert_eq!(imported.body["imported"], json!(40), "{:?}", imported.body);

    // The forecast stage committed although the review failed after it.
    system
        .until(&ana, &format!("/budgets/{budget_id}/status"), Duration::from_secs(60), |b| {
            b["forecast"]["status"] == "ok"
        })
        .await;
    // The failed review left its requests waiting for the review alone, postponed for a retry.
    let pool = &db;
    let postponed = eventually(Duration::from_secs(30), || async move {
        let (waiting, all): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE forecasts_done AND NOT review_done \
             AND requested_at > clock_timestamp()), count(*) FROM training_requests",
        )
        .fetch_one(pool)
        .await
        .expect("reads the queue");
        (all > 0 && waiting == all).then_some(all)
    })
    .await;
    assert!(postponed.is_some(), "the review's requests wait for a retry");
    let generated: chrono::DateTime<Utc> =
        sqlx::query_scalar("SELECT generated_at FROM forecasts WHERE budget_id = $1::uuid")
            .bind(&budget_id)
            .fetch_one(&db)
            .await
            .expect("the forecast is stored");

    // Mend the review and bring its retry forward: it runs, and serves every request.
    sqlx::query("ALTER TABLE anomaly_suppressions_away RENAME TO anomaly_suppressions")
        .execute(&db)
        .await
        .expect("renames back");
    sqlx::query("UPDATE training_requests SET requested_at = clock_timestamp() - interval '1 minute'")
        .execute(&db)
        .await
        .expect("brings the retry forward");
    let served = eventually(Duration::from_secs(30), || async move {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM training_requests")
            .fetch_one(pool)
            .await
            .expect("reads");
        (left == 0).then_some(())
    })
    .await;
    assert!(served.is_some(), "the retried review served the requests");
    // The retry did not run the forecasts again: the stored forecast is the same one.
    let after: chrono::DateTime<Utc> =
        sqlx::query_scalar("SELECT generated_at FROM forecasts WHERE budget_id = $1::uuid")
            .bind(&budget_id)
            .fetch_one(&db)
            .await
            .expect("the forecast is stored");
    assert_eq!(after, generated, "the forecast stage had nothing left to do");
    db.close().await;
    system.stop().await;
}
