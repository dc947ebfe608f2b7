//! Graceful shutdown under load: stopping the engine as SIGTERM does (`common::shutdown` maps
//! the signal to the same cancellation) while creates stream in through the gateway drops no
//! request that was accepted, and the relay flushes their events before the process ends.

use std::collections::HashSet;
use std::time::Duration;

use e2e::{TestSystem, this_month};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn stopping_the_engine_under_load_loses_no_accepted_create_and_flushes_its_events() {
    let mut system = TestSystem::start().await;
    let user = system.register_and_login("drain").await;
    let mut published = system.listen(&["transaction_created.v1"]).await;
    let month = this_month();

    let mut calls = FuturesUnordered::new();
    for i in 0..240 {
        let body = json!({"occurred_on": format!("{month}-03"), "description": format!("Load {i}"), "amount": "4.20", "currency": "USD", "type": "debit"});
        let (http, api, token) = (system.http.clone(), system.api.clone(), user.token.clone());
        calls.push(async move {
            // Spread over about a second, so the stop lands in the middle of the stream.
            tokio::time::sleep(Duration::from_millis(4 * i)).await;
            let sent = http.post(format!("{api}/transactions")).bearer_auth(token).json(&body).send().await;
            e2e::reply(sent.expect("the gateway stays up")).await
        });
    }
    let mut accepted = HashSet::new();
    let mut refused = 0;
    let mut stopped = false;
    while let Some(reply) = calls.next().await {
        match reply.status {
            StatusCode::CREATED => {
                accepted.insert(reply.body["id"].as_str().expect("id").to_owned());
            }
            // Not accepted: the client learns it at once and may retry with its key.
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => refused += 1,
            other => panic!("a create answered {other}: {:?}", reply.body),
        }
        if !stopped && accepted.len() >= 60 {
            stopped = true;
            // Stop the engine while the rest is in flight; the stream keeps coming.
            let engine_stop = system.stop_engines();
            let rest = async {
                let mut more = Vec::new();
                while let Some(reply) = calls.next().await {
                    more.push(reply);
                }
                more
            };
            let ((), more) = tokio::join!(engine_stop, rest);
            for reply in more {
                match reply.status {
                    StatusCode::CREATED => {
                        accepted.insert(reply.body["id"].as_str().expect("id").to_owned());
                    }
                    StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => refused += 1,
                    other => panic!("a create answered {other}: {:?}", reply.body),
                }
            }
            break;
        }
    }
    assert!(stopped, "the stop happened mid-stream");
    assert!(refused > 0, "some creates came after the engine stopped ({} accepted)", accepted.len());

    // Every accepted create is in the database, and its event left before the engine ended.
    let engine_db = system.pool("engine").await;
    let stored: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT id FROM transactions").fetch_all(&engine_db).await.expect("reads");
    let stored: HashSet<String> = stored.into_iter().map(|id| id.to_string()).collect();
    assert!(accepted.is_subset(&stored), "an accepted create is missing");
    let waiting: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(&engine_db).await.expect("counts");
    assert_eq!(waiting, 0, "the relay flushed the outbox on shutdown");
    let events = published.drain(Duration::from_secs(2)).await;
    let ids: HashSet<String> =
        events.iter().filter_map(|d| d.properties.message_id().as_ref().map(|m| m.to_string())).collect();
    assert_eq!(ids.len(), stored.len(), "one transaction_created per stored create, all published");
    eprintln!(
        "accepted {}, refused {refused}, stored {}, published {}",
        accepted.len(),
        stored.len(),
        ids.len()
    );
    system.stop().await;
}
