//! Replicas: two engine and two analytics processes on one database and one broker, as a
//! Kubernetes Deployment of two would run them. Every client (the gateway, the engine's
//! analytics channel, notification's) is given both addresses and balances over them
//! (`budgetsmart_common::discovery`); both relays claim from one outbox and both consumers
//! take from one queue. A load through the gateway must still apply every event exactly once.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use e2e::{Options, Session, TestSystem, eventually, mail_sink, this_month};
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

const USERS: usize = 6;
const PER_USER: usize = 30;

#[tokio::test]
async fn two_engines_and_two_analytics_apply_every_event_once_and_share_the_work() {
    let system = TestSystem::start_with(Options { replicas: Some(2), ..Options::default() }).await;
    assert_eq!((system.engines.len(), system.analytics_replicas.len()), (2, 2));
    let mut created_events = system.listen(&["transaction_created.v1"]).await;
    let month = this_month();

    let users: Vec<Session> = join_all((0..USERS).map(|i| {
        let system = &system;
        async move { system.register_and_login(&format!("replica{i}")).await }
    }))
    .await;

    // Every user's transactions at once, all users in parallel: calls spread over both
    // engines, whose relays then race for the same outbox.
    let (system_ref, month_ref) = (&system, &month);
    let creates = users.iter().flat_map(|user| {
        (0..PER_USER).map(move |i| {
            let (system, month) = (system_ref, month_ref);
            let cents = 100 + 37 * i as i64;
            let body = json!({
                "occurred_on": format!("{month}-{:02}", 1 + i % 28),
                "description": format!("Shop {i}"),
                "amount": Decimal::new(cents, 2).to_string(),
                "currency": "USD",
                "type": "debit",
            });
            async move {
                let reply = system.call(Method::POST, "/transactions", Some(&user.token), Some(body)).await;
                assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
                (user.user_id.clone(), reply.body["id"].as_str().expect("id").to_owned(), cents)
            }
        })
    });
    let created: Vec<(String, String, i64)> = join_all(creates).await;
    assert_eq!(created.len(), USERS * PER_USER);

    // Edits and deletes too, so the read model must also get versions right across replicas.
    let mut expected: HashMap<String, (i64, i64)> = HashMap::new(); // user → (count, cents)
    let changes = created.iter().enumerate().map(|(n, (user_id, id, cents))| {
        let user = users.iter().find(|u| &u.user_id == user_id).expect("a user");
        let system = &system;
        async move {
            match n % 10 {
                0 => {
                    let reply = system
                        .call(Method::DELETE, &format!("/transactions/{id}"), Some(&user.token), None)
                        .await;
                    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
                    (user_id.clone(), None)
                }
                1 => {
                    let body = json!({"amount": "1.01"});
                    let path = format!("/transactions/{id}");
                    let reply = system.call(Method::PATCH, &path, Some(&user.token), Some(body)).await;
                    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
                    (user_id.clone(), Some(101))
                }
                _ => (user_id.clone(), Some(*cents)),
            }
        }
    });
    for (user_id, cents) in join_all(changes).await {
        if let Some(cents) = cents {
            let entry = expected.entry(user_id).or_default();
            entry.0 += 1;
            entry.1 += cents;
        }
    }

    // The read model converges on exactly the engine's data: counts and sums to the cent,
    // per user. A doubly applied event would add to a daily total twice.
    let analytics = system.pool("analytics").await;
    let converged = eventually(Duration::from_secs(60), || async {
        let rows: Vec<(Uuid, i64, Decimal, Decimal, i64)> = sqlx::query_as(
            "SELECT t.user_id, t.n, t.total, coalesce(d.spent, 0), coalesce(d.count, 0) \
             FROM (SELECT user_id, count(*) AS n, sum(amount) AS total FROM transactions \
                   WHERE NOT deleted GROUP BY user_id) t \
             LEFT JOIN (SELECT user_id, sum(spent) AS spent, sum(debit_count)::bigint AS count \
                        FROM daily_totals GROUP BY user_id) d USING (user_id)",
        )
        .fetch_all(&analytics)
        .await
        .ok()?;
        let seen: HashMap<String, (i64, Decimal, Decimal, i64)> = rows
            .into_iter()
            .map(|(user, n, total, spent, count)| (user.to_string(), (n, total, spent, count)))
            .collect();
        let all = expected.iter().all(|(user, (count, cents))| {
            let want = Decimal::new(*cents, 2);
            seen.get(user) == Some(&(*count, want, want, *count))
        });
        (all && seen.len() == USERS).then_some(seen)
    })
    .await;
    assert!(converged.is_some(), "analytics' totals equal the engine's, each event applied once");

    // Each transaction_created went out exactly once (no fault, so no redelivery either).
    let engine = system.pool("engine").await;
    let mut deliveries = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while deliveries.len() < created.len() && tokio::time::Instant::now() < deadline {
        deliveries.extend(created_events.drain(Duration::from_millis(500)).await);
    }
    deliveries.extend(created_events.drain(Duration::from_millis(500)).await);
    let ids: HashSet<String> = deliveries
        .iter()
        .filter_map(|d| d.properties.message_id().as_ref().map(|id| id.to_string()))
        .collect();
    assert_eq!(ids.len(), created.len(), "one transaction_created per create");
    assert_eq!(deliveries.len(), ids.len(), "none published twice");
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(&engine).await.expect("counts");
    assert_eq!(left, 0, "both relays together emptied the outbox");

    // The two analytics consumers together applied exactly what the inbox recorded: no
    // delivery was applied by both.
    let inbox: i64 =
        sqlx::query_scalar("SELECT count(*) FROM inbox").fetch_one(&analytics).await.expect("counts");
    let analytics_counts: Vec<_> = system.analytics_replicas.iter().map(|(_, a)| a.counts()).collect();
    let applied: u64 = analytics_counts.iter().map(|c| c.applied).sum();
    assert_eq!(applied as i64, inbox, "every inbox row was applied by one of the two consumers");
    let edits_and_deletes = 2 * created.len() / 10;
    assert!(applied as usize >= created.len() + edits_and_deletes, "creates, edits and deletes arrived");

    // The work was shared: both engines' relays published, both analytics consumers applied.
    // A create is published first by the relay of the engine that committed it (its own waker
    // fires before the other's NOTIFY arrives), so this fails when the gateway sends every call
    // to one engine: pointing it at one address, engine 1's relay published nothing.
    let engine_counts: Vec<_> = system.engines.iter().map(|(_, a)| a.counts()).collect();
    for (n, counts) in engine_counts.iter().enumerate() {
        assert!(counts.published > 0, "engine {n}'s relay published nothing: {engine_counts:?}");
    }
    for (n, counts) in analytics_counts.iter().enumerate() {
        assert!(counts.applied > 0, "analytics {n}'s consumer applied nothing: {analytics_counts:?}");
    }
    let published: u64 = engine_counts.iter().map(|c| c.published).sum();
    assert!(
        published as usize >= deliveries.len(),
        "{published} published, {} created events",
        deliveries.len()
    );
    eprintln!("engine relays {engine_counts:?}; analytics consumers {analytics_counts:?}");

    // And notification, consuming from both engines, welcomed each user exactly once.
    for user in &users {
        let welcome = |e: &mail_sink::Email| e.subject.contains("Welcome");
        mail_sink::wait_for(&user.email, 1, Duration::from_secs(30), welcome).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for user in &users {
        let welcomes =
            mail_sink::emails_to(&user.email).await.into_iter().filter(|e| e.subject.contains("Welcome"));
        assert_eq!(welcomes.count(), 1, "{} was welcomed once", user.email);
    }
    system.stop().await;
}
