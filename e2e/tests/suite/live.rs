//! Live updates over Server-Sent Events, end to end: engine outbox → RabbitMQ → gateway →
//! the caller's `GET /events/stream`, with resumption from the Redis history.

use std::collections::HashSet;
use std::time::Duration;

use budgetsmart_proto::events::v1 as ev;
use chrono::Utc;
use e2e::{Session, TestSystem, this_month};
use prost::Message as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::time::Instant;
use uuid::Uuid;

/// One SSE event as the client parses it.
#[derive(Debug, Clone)]
struct Frame {
    id: String,
    event: String,
    data: Value,
}

enum Next {
    Frame(Frame),
    /// Nothing before the deadline.
    Quiet,
    /// The server ended the stream.
    Ended,
}

/// An open stream, parsed by hand: reqwest's `stream` feature is not needed for `chunk()`.
struct EventStream {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl EventStream {
    /// Opens `GET {api}/events/stream`; the answer's head means the server has subscribed.
    async fn open(system: &TestSystem, api: &str, token: &str, last_event_id: Option<&str>) -> EventStream {
        let mut request = system.http.get(format!("{api}/events/stream")).bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.expect("the gateway answers");
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok());
        assert_eq!(content_type, Some("text/event-stream"));
        EventStream { response, buffer: Vec::new() }
    }

    /// The next event (comments and `retry` frames are skipped) before `deadline`.
    async fn next(&mut self, deadline: Instant) -> Next {
        loop {
            while let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let raw: Vec<u8> = self.buffer.drain(..end + 2).collect();
                if let Some(frame) = parse_frame(&String::from_utf8_lossy(&raw)) {
                    return Next::Frame(frame);
                }
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return Next::Quiet,
                Ok(Ok(Some(bytes))) => self.buffer.extend_from_slice(&bytes),
                Ok(Ok(None)) => return Next::Ended,
                Ok(Err(error)) => panic!("the stream broke: {error}"),
            }
        }
    }

    /// Reads until a frame satisfies `wanted`, for up to `limit`; returns it (if any) and the
    /// frames seen before it.
    async fn until(
        &mut self,
        limit: Duration,
        wanted: impl Fn(&Frame) -> bool,
    ) -> (Option<Frame>, Vec<Frame>) {
        let deadline = Instant::now() + limit;
        let mut before = Vec::new();
        loop {
            match self.next(deadline).await {
                Next::Frame(frame) if wanted(&frame) => return (Some(frame), before),
                Next::Frame(frame) => before.push(frame),
                Next::Quiet | Next::Ended => return (None, before),
            }
        }
    }

    /// Everything that arrives within `window`.
    async fn collect(&mut self, window: Duration) -> Vec<Frame> {
        self.until(window, |_| false).await.1
    }
}

/// `id:`, `event:` and `data:` of one frame; `None` for a frame without an event name.
fn parse_frame(text: &str) -> Option<Frame> {
    let (mut id, mut event, mut data) = (None, None, Vec::new());
    for line in text.lines() {
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = Some(value.to_owned()),
            "event" => event = Some(value.to_owned()),
            "data" => data.push(value.to_owned()),
            _ => {}
        }
    }
    let event = event?;
    let data = serde_json::from_str(&data.join("\n")).expect("data is JSON");
    Some(Frame { id: id.expect("every event has an id"), event, data })
}

async fn budget(system: &TestSystem, user: &Session, limit: &str, thresholds: &[u32]) -> String {
    let body = json!({
        "month": this_month(), "currency": "USD", "total_limit": limit, "alert_thresholds": thresholds
    });
    let created = system.call(Method::POST, "/budgets", Some(&user.token), Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body["id"].as_str().expect("id").to_owned()
}

async fn spend(system: &TestSystem, user: &Session, amount: &str) -> String {
    let day = Utc::now().format("%Y-%m-%d").to_string();
    let body = json!({
        "occurred_on": day, "description": "Corner Shop", "amount": amount, "currency": "USD", "type": "debit"
    });
    let created = system.call(Method::POST, "/transactions", Some(&user.token), Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body["id"].as_str().expect("id").to_owned()
}

fn is_threshold(percent: u64) -> impl Fn(&Frame) -> bool {
    move |f| f.event == "budget_threshold_reached" && f.data["threshold"].as_u64() == Some(percent)
}

/// An `insight_generated` payload for `user`, as analytics would publish it.
fn insight(user: &Session, title: &str) -> Vec<u8> {
    ev::InsightGenerated {
        insight_id: Uuid::now_v7().to_string(),
        user_id: user.user_id.clone(),
        kind: "savings_opportunity".into(),
        title: title.into(),
        body: "You could save a little here.".into(),
        data_json: json!({"amount": "12.30", "currency": "USD"}).to_string(),
        generated_at: None,
        relevance: 0.5,
    }
    .encode_to_vec()
}

/// A fresh UUIDv7 whose millisecond is later than any taken before.
async fn later_id() -> Uuid {
    tokio::time::sleep(Duration::from_millis(3)).await;
    Uuid::now_v7()
}

// Several threads, so the services and the test do not queue behind one another on one
// thread and the latency measured is the system's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crossed_threshold_reaches_only_its_owner_within_a_second_and_resumes_after_last_event_id() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let bob = system.register_and_login("bob").await;
    let budget_id = budget(&system, &ana, "100.00", &[50, 80]).await;
    let mut ana_stream = EventStream::open(&system, &system.api, &ana.token, None).await;
    let mut bob_stream = EventStream::open(&system, &system.api, &bob.token, None).await;

    let transaction_id = spend(&system, &ana, "60.00").await;
    let answered = Instant::now();
    let (first, before_first) = ana_stream.until(Duration::from_secs(10), is_threshold(50)).await;
    let latency = answered.elapsed();
    let first = first.expect("the 50 % alert reaches the owner's stream");
    assert!(latency <= Duration::from_secs(1), "the alert took {latency:?} after the POST answered");
    assert_eq!(first.data["budget_id"], budget_id.as_str());
    assert_eq!(first.data["scope"], "total");
    assert_eq!(first.data["spent"], "60.00");
    assert_eq!(first.data["limit"], "100.00");
    assert_eq!(first.data["currency"], "USD");
    assert_eq!(first.data["percent_used"], 60.0);
    assert_eq!(first.data["transaction_id"], transaction_id.as_str());
    assert!(Uuid::parse_str(&first.id).is_ok_and(|id| id.get_version_num() == 7), "id: {}", first.id);

    spend(&system, &ana, "25.00").await;
    let answered = Instant::now();
    let (second, between) = ana_stream.until(Duration::from_secs(10), is_threshold(80)).await;
    let latency = answered.elapsed();
    let second = second.expect("the 80 % alert reaches the owner's stream");
    assert!(latency <= Duration::from_secs(1), "the alert took {latency:?} after the POST answered");
    assert_eq!(second.data["spent"], "85.00");

    // Nothing of Ana's reaches Bob: no alert (he has no budget), none of her event ids, and
    // every notification he is told about is his.
    let bob_frames = bob_stream.collect(Duration::from_secs(2)).await;
    let mut ana_frames: Vec<Frame> = before_first.iter().chain(&between).cloned().collect();
    ana_frames.extend([first.clone(), second.clone()]);
    ana_frames.extend(ana_stream.collect(Duration::from_millis(300)).await);
    let ana_ids: HashSet<&str> = ana_frames.iter().map(|f| f.id.as_str()).collect();
    assert!(bob_frames.iter().all(|f| f.event != "budget_threshold_reached"), "{bob_frames:?}");
    assert!(bob_frames.iter().all(|f| !ana_ids.contains(f.id.as_str())), "{bob_frames:?}");
    let bobs_notifications = system.call(Method::GET, "/notifications", Some(&bob.token), None).await;
    let bobs: HashSet<&str> = bobs_notifications.body["data"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    for frame in bob_frames.iter().filter(|f| f.event == "notification_sent") {
        let id = frame.data["notification_id"].as_str().expect("notification_id");
        assert!(bobs.contains(id), "{frame:?} is not one of Bob's notifications");
    }
    drop(bob_stream);

    // Resume after the first alert: the second is replayed, the first and what preceded it
    // are not.
    drop(ana_stream);
    let mut resumed = EventStream::open(&system, &system.api, &ana.token, Some(&first.id)).await;
    let (again, replayed) = resumed.until(Duration::from_secs(3), |f| f.id == second.id).await;
    assert!(again.is_some(), "the later alert is replayed; got {replayed:?}");
    let earlier: HashSet<&str> =
        before_first.iter().map(|f| f.id.as_str()).chain([first.id.as_str()]).collect();
    assert!(replayed.iter().all(|f| !earlier.contains(f.id.as_str())), "{replayed:?}");
    let rest = resumed.collect(Duration::from_millis(500)).await;
    assert!(rest.iter().all(|f| !earlier.contains(f.id.as_str()) && f.id != second.id), "{rest:?}");
    drop(resumed);
    system.stop().await;
}

#[tokio::test]
async fn late_older_events_are_not_lost_and_duplicates_are_sent_once() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let mut stream = EventStream::open(&system, &system.api, &ana.token, None).await;
    let older = Uuid::now_v7();
    let newer = later_id().await;
    let marker = later_id().await;
    let soon = Duration::from_secs(5);

    system.publish("insight_generated", newer, &ana.user_id, &insight(&ana, "newer")).await;
    let (seen, _) = stream.until(soon, |f| f.id == newer.to_string()).await;
    let seen = seen.expect("the newer insight arrives");
    assert_eq!(seen.event, "insight_generated");
    assert_eq!(seen.data["title"], "newer");
    assert_eq!(seen.data["amount"], "12.30");
    assert_eq!(seen.data["currency"], "USD");

    // An event created earlier but published later (another producer, a slow relay) still
    // reaches the stream: streams drop what they sent, not what has a lower id.
    system.publish("insight_generated", older, &ana.user_id, &insight(&ana, "older")).await;
    let (late, _) = stream.until(soon, |f| f.id == older.to_string()).await;
    assert!(late.is_some(), "the late, older insight arrives");

    // A redelivery is not sent twice; the marker shows the feed has moved past it.
    system.publish("insight_generated", newer, &ana.user_id, &insight(&ana, "newer")).await;
    system.publish("insight_generated", marker, &ana.user_id, &insight(&ana, "marker")).await;
    let (last, before) = stream.until(soon, |f| f.id == marker.to_string()).await;
    assert!(last.is_some(), "the marker arrives");
    assert!(before.iter().all(|f| f.id != newer.to_string()), "the duplicate was sent: {before:?}");
    drop(stream);

    // Resumption follows arrival: after `newer` came the older one and the marker.
    let mut resumed = EventStream::open(&system, &system.api, &ana.token, Some(&newer.to_string())).await;
    let (last, replayed) = resumed.until(soon, |f| f.id == marker.to_string()).await;
    assert!(last.is_some(), "the marker is replayed");
    let ids: Vec<&str> = replayed.iter().map(|f| f.id.as_str()).collect();
    assert!(ids.contains(&older.to_string().as_str()), "the older insight is replayed: {ids:?}");
    assert!(!ids.contains(&newer.to_string().as_str()), "the resume point is not: {ids:?}");
    drop(resumed);
    system.stop().await;
}

#[tokio::test]
async fn the_stream_needs_a_token_and_an_event_id_to_resume_from() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;

    let anonymous = system.call(Method::GET, "/events/stream", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(anonymous.is_problem());

    for bad in ["yesterday", "00000000-0000-4000-8000-000000000000"] {
        let response = system
            .http
            .get(format!("{}/events/stream", system.api))
            .bearer_auth(&ana.token)
            .header("last-event-id", bad)
            .send()
            .await
            .expect("the gateway answers");
        let reply = e2e::reply(response).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {:?}", reply.body);
        assert!(reply.is_problem());
        assert_eq!(reply.error_fields(), vec!["Last-Event-ID".to_owned()]);
    }

    // An id the history does not hold (another user's, or long gone) is fine: the stream
    // resumes from that id's time, with the caller's own events only.
    let unknown = Uuid::now_v7().to_string();
    let stream = EventStream::open(&system, &system.api, &ana.token, Some(&unknown)).await;

    // One user holds at most 8 streams on a replica; another user is not affected.
    let mut open = vec![stream];
    for _ in 1..gateway::live::MAX_STREAMS_PER_USER {
        open.push(EventStream::open(&system, &system.api, &ana.token, None).await);
    }
    let refused = system.call(Method::GET, "/events/stream", Some(&ana.token), None).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", refused.body);
    assert!(refused.is_problem());
    assert!(refused.headers.contains_key("retry-after"));
    let ben = system.register_and_login("ben").await;
    drop(EventStream::open(&system, &system.api, &ben.token, None).await);
    drop(open);
    system.stop().await;
}

#[tokio::test]
async fn deleting_the_account_ends_its_stream() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let mut stream = EventStream::open(&system, &system.api, &ana.token, None).await;
    let deleted = system.call(Method::DELETE, "/me", Some(&ana.token), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{:?}", deleted.body);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match stream.next(deadline).await {
            Next::Frame(_) => continue,
            Next::Ended => break,
            Next::Quiet => panic!("the stream stayed open after the account was deleted"),
        }
    }
    system.stop().await;
}

// Needs `TestSystem::another_gateway` (a second gateway replica on the same bus and Redis).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_replica_streams_the_event_and_any_replica_resumes_from_the_shared_history() {
    let mut system = TestSystem::start().await;
    let second_api = system.another_gateway().await;
    let ana = system.register_and_login("ana").await;
    let mut on_first = EventStream::open(&system, &system.api, &ana.token, None).await;
    let mut on_second = EventStream::open(&system, &second_api, &ana.token, None).await;
    let (one, two) = (Uuid::now_v7(), later_id().await);
    system.publish("insight_generated", one, &ana.user_id, &insight(&ana, "one")).await;
    system.publish("insight_generated", two, &ana.user_id, &insight(&ana, "two")).await;
    for stream in [&mut on_first, &mut on_second] {
        let (got, before) = stream.until(Duration::from_secs(5), |f| f.id == two.to_string()).await;
        assert!(got.is_some(), "each replica streams the event; got {before:?}");
        let ones = before.iter().filter(|f| f.id == one.to_string()).count();
        assert_eq!(ones, 1, "once each: {before:?}");
    }
    drop(on_first);
    drop(on_second);

    // Both replicas stored both events; the history holds each once, in one order.
    let mut resumed = EventStream::open(&system, &second_api, &ana.token, Some(&one.to_string())).await;
    let (got, replayed) = resumed.until(Duration::from_secs(3), |f| f.id == two.to_string()).await;
    assert!(got.is_some(), "the second replica replays what followed");
    assert!(replayed.iter().all(|f| f.id != one.to_string()), "{replayed:?}");
    let rest = resumed.collect(Duration::from_millis(500)).await;
    assert!(rest.iter().all(|f| f.id != two.to_string()), "replayed once: {rest:?}");
    drop(resumed);
    system.stop().await;
}

/// A token the verifier accepts only inside its clock-skew leeway has already expired: its
/// stream opens (the request is valid) and ends at once instead of never.
#[tokio::test]
async fn a_stream_opened_with_a_token_inside_the_leeway_ends_at_once() {
    use budgetsmart_common::jwt::{Claims, TokenSigner};
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let now = Utc::now().timestamp();
    let claims = Claims {
        iss: system.tokens.issuer.clone(),
        aud: system.tokens.audience.clone(),
        sub: Uuid::parse_str(&ana.user_id).expect("uuid"),
        exp: now - 5,
        iat: now - 905,
        jti: Uuid::now_v7(),
        sid: None,
    };
    let token =
        TokenSigner::new(&system.keys, &system.tokens, 900).expect("signer").sign(&claims).expect("signs");
    let mut stream = EventStream::open(&system, &system.api, &token, None).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let ended = loop {
        match stream.next(deadline).await {
            Next::Frame(_) => continue,
            Next::Quiet => break false,
            Next::Ended => break true,
        }
    };
    assert!(ended, "the stream of an expired token ends");
    system.stop().await;
}

#[tokio::test]
async fn goal_announcements_reach_the_owners_stream() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let mut stream = EventStream::open(&system, &system.api, &ana.token, None).await;
    let goal = json!({"name": "New bike", "target_amount": "300.00", "currency": "USD"});
    let created = system.call(Method::POST, "/goals", Some(&ana.token), Some(goal)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let today = Utc::now().format("%Y-%m-%d").to_string();
    let put = json!({"amount": "300.00", "occurred_on": today});
    let added =
        system.call(Method::POST, &format!("/goals/{id}/contributions"), Some(&ana.token), Some(put)).await;
    assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
    let (reached, _) = stream.until(Duration::from_secs(10), |f| f.event == "goal_reached").await;
    let reached = reached.expect("goal_reached is streamed");
    assert_eq!(reached.data["goal_id"], id.as_str());
    assert_eq!(reached.data["name"], "New bike");
    assert_eq!(
        (reached.data["saved"].as_str(), reached.data["remaining"].as_str()),
        (Some("300.00"), Some("0.00"))
    );
    system.stop().await;
}
