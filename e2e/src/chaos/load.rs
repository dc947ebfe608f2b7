//! Steady load through the gateway: per user, a closed loop of creates, edits and deletes, and
//! beside it a loop of logins, refreshes and profile reads. Every write is retried until it is
//! acknowledged, with the same `Idempotency-Key` for a create, so an answer lost in a fault
//! does not become a second transaction. What was acknowledged is the model the reconciliation
//! checks the system against.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Datelike;
use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A registered user of the scenario.
pub struct Account {
    /// Email, unique to the run.
    pub email: String,
    /// Password.
    pub password: String,
    /// The engine's id for the user.
    pub user_id: Uuid,
    /// An access token from registration, valid for the whole scenario.
    pub token: String,
}

/// What the client knows of one of its transactions.
#[derive(Clone, Debug)]
pub struct Tracked {
    /// The owner.
    pub user_id: Uuid,
    /// The last acknowledged amount.
    pub amount: Decimal,
    /// An acknowledged delete.
    pub deleted: bool,
    /// A write to it was given up without an answer, so either state is correct.
    pub uncertain: bool,
}

/// Counts of what the clients saw.
#[derive(Default, Debug)]
pub struct Tally {
    /// Acknowledged creates, edits and deletes.
    pub creates: u64,
    /// See `creates`.
    pub edits: u64,
    /// See `creates`.
    pub deletes: u64,
    /// Failed attempts that were retried, by status (`transport` when no answer came).
    pub retried: BTreeMap<String, u64>,
    /// Answers a client must never get: a 500, a 4xx to a valid request, a refused password.
    pub unclean: u64,
    /// The first few of them, for the report.
    pub unclean_samples: Vec<String>,
    /// Writes given up after the retry budget, never acknowledged.
    pub gave_up: u64,
    /// Login, refresh and profile outcomes, e.g. `login 200`.
    pub sessions: BTreeMap<String, u64>,
    /// When each write was acknowledged.
    pub acks: Vec<Instant>,
    /// When each attempt failed.
    pub failures: Vec<Instant>,
}

impl Tally {
    fn fail(&mut self, label: String) {
        *self.retried.entry(label).or_default() += 1;
        self.failures.push(Instant::now());
    }

    fn unclean(&mut self, what: String) {
        self.unclean += 1;
        if self.unclean_samples.len() < 5 {
            self.unclean_samples.push(what);
        }
    }
}

/// What the load left behind when it stopped.
pub struct Outcome {
    /// Counts.
    pub tally: Tally,
    /// Every transaction a create of the load was acknowledged for.
    pub tracked: HashMap<Uuid, Tracked>,
}

/// Verifies `email` with the link the mail sink received, as its owner would, so that the
/// load's alerts are mailed (an unverified address gets none).
async fn verify(http: &reqwest::Client, api: &str, email: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    let token = loop {
        let emails = crate::mail_sink::emails_to(email).await;
        if let Some(token) =
            emails.iter().find_map(|e| crate::mail_sink::link_token(&e.text, "verify-email?token="))
        {
            break token;
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "no verification link for {email}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let verified =
        http.post(format!("{api}/auth/verify-email")).json(&json!({ "token": token })).send().await?;
    anyhow::ensure!(verified.status() == StatusCode::NO_CONTENT, "verify: {}", verified.status());
    Ok(())
}

/// Registers `count` users with addresses at `domain`, each with a USD budget that the load
/// crosses and a small EUR budget that only [`Load::eur`] spending reaches.
pub async fn register(
    http: &reqwest::Client,
    api: &str,
    domain: &str,
    count: usize,
) -> anyhow::Result<Vec<Account>> {
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let mut accounts = Vec::new();
    for i in 0..count {
        let email = format!("user{i}@{domain}");
        let password = format!("chaos passphrase {i}");
        let registered = http
            .post(format!("{api}/auth/register"))
            .json(&json!({"email": email, "password": password, "name": format!("Chaos {i}")}))
            .send()
            .await?;
        anyhow::ensure!(registered.status() == StatusCode::CREATED, "register: {}", registered.status());
        let user: Value = registered.json().await?;
        let login: Value = http
            .post(format!("{api}/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await?
            .json()
            .await?;
        let token =
            login["access_token"].as_str().ok_or_else(|| anyhow::anyhow!("no token: {login}"))?.to_owned();
        verify(http, api, &email).await?;
        for (currency, limit) in [("USD", "400.00"), ("EUR", "40.00")] {
            let budget = http
                .post(format!("{api}/budgets"))
                .bearer_auth(&token)
                .json(&json!({"month": month, "currency": currency, "total_limit": limit}))
                .send()
                .await?;
            anyhow::ensure!(budget.status() == StatusCode::CREATED, "budget: {}", budget.status());
        }
        let user_id = user["id"].as_str().and_then(|id| Uuid::parse_str(id).ok());
        accounts.push(Account {
            email,
            password,
            user_id: user_id.ok_or_else(|| anyhow::anyhow!("no id: {user}"))?,
            token,
        });
    }
    Ok(accounts)
}

/// The running load.
pub struct Load {
    stop: CancellationToken,
    /// While set, half the creates are in EUR, so the small EUR budgets cross their thresholds.
    pub eur: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
    writers: Vec<JoinHandle<HashMap<Uuid, Tracked>>>,
    sessions: JoinHandle<()>,
}

/// A small deterministic generator per worker: the load needs variety, not randomness.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Statuses a client retries: the system is busy, down or recovering.
fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 409 | 429 | 500 | 502 | 503 | 504)
}

/// How long a write is retried before it is given up.
const RETRY_BUDGET: Duration = Duration::from_secs(120);

struct Writer {
    http: reqwest::Client,
    api: String,
    user_id: Uuid,
    token: String,
    tally: Arc<Mutex<Tally>>,
    eur: Arc<AtomicBool>,
    dice: Dice,
    tracked: HashMap<Uuid, Tracked>,
    live: Vec<Uuid>,
}

impl Writer {
    /// One attempt: the status (`None` if no answer came) and the JSON body.
    async fn attempt(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> Option<(StatusCode, Value)> {
        let mut request = self.http.request(method, format!("{}{path}", self.api)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().await.ok()?;
        let status = response.status();
        Some((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// Sends until an answer in `done` arrives; `None` when given up or refused.
    async fn until_done(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        key: Option<&str>,
        done: impl Fn(StatusCode, bool) -> bool,
    ) -> Option<Value> {
        let started = Instant::now();
        let mut failed_before = false;
        let mut pause = Duration::from_millis(100);
        loop {
            match self.attempt(method.clone(), path, body, key).await {
                Some((status, value)) if done(status, failed_before) => {
                    let mut tally = self.tally.lock().expect("not poisoned");
                    tally.acks.push(Instant::now());
                    return Some(value);
                }
                Some((status, value)) if retryable(status) => {
                    let mut tally = self.tally.lock().expect("not poisoned");
                    if status == StatusCode::INTERNAL_SERVER_ERROR {
                        tally.unclean(format!("{method} {path}: 500 {value}"));
                    }
                    tally.fail(status.as_u16().to_string());
                }
                Some((status, value)) => {
                    let mut tally = self.tally.lock().expect("not poisoned");
                    tally.unclean(format!("{method} {path}: {status} {value}"));
                    return None;
                }
                None => self.tally.lock().expect("not poisoned").fail("transport".into()),
            }
            failed_before = true;
            if started.elapsed() > RETRY_BUDGET {
                self.tally.lock().expect("not poisoned").gave_up += 1;
                return None;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    fn amount(&mut self, low: u64, high: u64) -> Decimal {
        Decimal::new((low * 100 + self.dice.below((high - low) * 100)) as i64, 2)
    }

    async fn create(&mut self) {
        let today = chrono::Utc::now().date_naive();
        let day = 1 + self.dice.below(u64::from(today.day()));
        let euro = self.eur.load(Ordering::Relaxed) && self.dice.below(2) == 0;
        let (currency, amount) = if euro { ("EUR", self.amount(4, 10)) } else { ("USD", self.amount(1, 12)) };
        let body = json!({
            "occurred_on": format!("{}-{day:02}", today.format("%Y-%m")),
            "description": format!("Chaos {}", self.dice.below(40)),
            "amount": amount.to_string(),
            "currency": currency,
            "type": "debit",
        });
        let key = Uuid::now_v7().to_string();
        let created = self
            .until_done(Method::POST, "/transactions", Some(&body), Some(&key), |s, _| {
                s == StatusCode::CREATED
            })
            .await;
        if let Some(id) =
            created.as_ref().and_then(|v| v["id"].as_str()).and_then(|id| Uuid::parse_str(id).ok())
        {
            self.tally.lock().expect("not poisoned").creates += 1;
            let tracked = Tracked { user_id: self.user_id, amount, deleted: false, uncertain: false };
            self.tracked.insert(id, tracked);
            self.live.push(id);
        }
    }

    async fn edit(&mut self) {
        let id = self.live[self.dice.below(self.live.len() as u64) as usize];
        let amount = self.amount(1, 12);
        let body = json!({"amount": amount.to_string()});
        let path = format!("/transactions/{id}");
        let edited =
            self.until_done(Method::PATCH, &path, Some(&body), None, |s, _| s == StatusCode::OK).await;
        let tracked = self.tracked.get_mut(&id).expect("tracked");
        match edited {
            Some(_) => {
                tracked.amount = amount;
                self.tally.lock().expect("not poisoned").edits += 1;
            }
            None => tracked.uncertain = true,
        }
    }

    async fn delete(&mut self) {
        let index = self.dice.below(self.live.len() as u64) as usize;
        let id = self.live.swap_remove(index);
        let path = format!("/transactions/{id}");
        // After a failed attempt a 404 is the earlier attempt's delete having landed.
        let deleted = self
            .until_done(Method::DELETE, &path, None, None, |s, retry| {
                s == StatusCode::NO_CONTENT || (retry && s == StatusCode::NOT_FOUND)
            })
            .await;
        let tracked = self.tracked.get_mut(&id).expect("tracked");
        match deleted {
            Some(_) => {
                tracked.deleted = true;
                self.tally.lock().expect("not poisoned").deletes += 1;
            }
            None => tracked.uncertain = true,
        }
    }

    async fn run(mut self, pace: Duration, stop: CancellationToken) -> HashMap<Uuid, Tracked> {
        while !stop.is_cancelled() {
            match self.dice.below(10) {
                _ if self.live.len() < 3 => self.create().await,
                0..=5 => self.create().await,
                6 | 7 => self.edit().await,
                _ => self.delete().await,
            }
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::time::sleep(pace) => {}
            }
        }
        self.tracked
    }
}

/// One round of the session loop for `account`: log in, refresh, read the profile with the
/// registration's access token. Outcomes land in the tally as `login 200` and so on.
async fn session_round(http: &reqwest::Client, api: &str, account: &Account, tally: &Mutex<Tally>) {
    let status = |r: Result<reqwest::Response, reqwest::Error>| async move {
        match r {
            Ok(response) => {
                let status = response.status().as_u16();
                (Some(status), response.json::<Value>().await.unwrap_or(Value::Null))
            }
            Err(_) => (None, Value::Null),
        }
    };
    let record = |what: &str, code: Option<u16>, clean: &[u16]| {
        let mut tally = tally.lock().expect("not poisoned");
        let label = code.map_or("transport".to_owned(), |c| c.to_string());
        *tally.sessions.entry(format!("{what} {label}")).or_default() += 1;
        if code.is_some_and(|c| !clean.contains(&c)) {
            tally.unclean(format!("{what}: {label}"));
        }
    };
    let login = http
        .post(format!("{api}/auth/login"))
        .json(&json!({"email": account.email, "password": account.password}));
    let (code, body) = status(login.send().await).await;
    // A correct password is never refused: 401 would mean the account was lost. 503 and 504
    // (the upstream deadline, while a datastore is away) are clean answers to retry.
    record("login", code, &[200, 429, 503, 504]);
    if let Some(refresh_token) = body["refresh_token"].as_str() {
        let refresh = http.post(format!("{api}/auth/refresh")).json(&json!({"refresh_token": refresh_token}));
        let (code, _) = status(refresh.send().await).await;
        // 401 is clean: a restarted Redis without persistence has forgotten the session.
        record("refresh", code, &[200, 401, 429, 503, 504]);
    }
    let me = http.get(format!("{api}/me")).bearer_auth(&account.token);
    let (code, _) = status(me.send().await).await;
    record("me", code, &[200, 503, 504]);
}

impl Load {
    /// Starts one writer per account, each pausing `pace` between writes, and the session loop.
    pub fn start(api: &str, accounts: Arc<Vec<Account>>, pace: Duration) -> Load {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("a client");
        let stop = CancellationToken::new();
        let tally: Arc<Mutex<Tally>> = Arc::default();
        let eur = Arc::new(AtomicBool::new(false));
        let writers = accounts
            .iter()
            .enumerate()
            .map(|(i, account)| {
                let writer = Writer {
                    http: http.clone(),
                    api: api.to_owned(),
                    user_id: account.user_id,
                    token: account.token.clone(),
                    tally: tally.clone(),
                    eur: eur.clone(),
                    dice: Dice(0x9E37_79B9_7F4A_7C15 ^ ((i as u64 + 1) * 0x1000_0001)),
                    tracked: HashMap::new(),
                    live: Vec::new(),
                };
                tokio::spawn(writer.run(pace, stop.clone()))
            })
            .collect();
        let sessions = {
            let (http, api, tally, stop) = (http.clone(), api.to_owned(), tally.clone(), stop.clone());
            tokio::spawn(async move {
                for account in accounts.iter().cycle() {
                    if stop.is_cancelled() {
                        break;
                    }
                    session_round(&http, &api, account, &tally).await;
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = tokio::time::sleep(Duration::from_millis(400)) => {}
                    }
                }
            })
        };
        Load { stop, eur, tally, writers, sessions }
    }

    /// Stops the loops; writes in flight run to their answer first.
    pub async fn stop(self) -> Outcome {
        self.stop.cancel();
        let mut tracked = HashMap::new();
        for writer in self.writers {
            tracked.extend(writer.await.unwrap_or_default());
        }
        let _ = self.sessions.await;
        let tally = std::mem::take(&mut *self.tally.lock().expect("not poisoned"));
        Outcome { tally, tracked }
    }
}
