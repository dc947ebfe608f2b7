//! Reading what reached the SMTP sink (maildev's HTTP API). Tests share one sink; each looks
//! only at mail to its own users' unique addresses.

use std::time::Duration;

use serde_json::Value;

use crate::mail_sink_api;

/// One received email.
#[derive(Debug, Clone)]
pub struct Email {
    /// The sink's id.
    pub id: String,
    /// Decoded subject.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
    /// The raw message as received (headers and MIME parts).
    pub source: String,
    /// The sink's view of the attachments (inline images included).
    pub attachments: Vec<Value>,
}

/// Every email the sink holds for `address`, oldest first.
pub async fn emails_to(address: &str) -> Vec<Email> {
    let http = reqwest::Client::new();
    let Ok(listed) = http.get(format!("{}/api/email", mail_sink_api())).send().await else {
        return Vec::new();
    };
    let all: Vec<Value> = listed.json().await.unwrap_or_default();
    let mut found = Vec::new();
    for mail in all {
        let to_address = mail["to"].as_array().is_some_and(|to| {
            to.iter().any(|t| t["address"].as_str().is_some_and(|a| a.eq_ignore_ascii_case(address)))
        });
        if !to_address {
            continue;
        }
        let id = mail["id"].as_str().unwrap_or_default().to_owned();
        let source = match http.get(format!("{}/api/email/{id}/source", mail_sink_api())).send().await {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let text_of = |key: &str| mail[key].as_str().unwrap_or_default().to_owned();
        found.push(Email {
            subject: text_of("subject"),
            text: text_of("text"),
            html: text_of("html"),
            attachments: mail["attachments"].as_array().cloned().unwrap_or_default(),
            id,
            source,
        });
    }
    found
}

/// Waits up to `limit` until `address` has at least `count` emails matching `which`; returns
/// the matching ones (possibly fewer, when the limit passed).
pub async fn wait_for(
    address: &str,
    count: usize,
    limit: Duration,
    which: impl Fn(&Email) -> bool,
) -> Vec<Email> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let found: Vec<Email> = emails_to(address).await.into_iter().filter(|e| which(e)).collect();
        if found.len() >= count || tokio::time::Instant::now() >= deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The token of the link in `text` whose URL contains `marker` (e.g. `verify-email?token=`).
pub fn link_token(text: &str, marker: &str) -> Option<String> {
    let start = text.find(marker)? + marker.len();
    text[start..].split_whitespace().next().map(str::to_owned).filter(|t| !t.is_empty())
}

/// The value of header `name` in a raw message (unfolded), if present.
pub fn header(source: &str, name: &str) -> Option<String> {
    let head = source.split("\r\n\r\n").next().unwrap_or(source);
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ").replace("\n ", " ");
    let prefix = format!("{}:", name.to_ascii_lowercase());
    unfolded
        .lines()
        .find(|line| line.to_ascii_lowercase().starts_with(&prefix))
        .map(|line| line[prefix.len()..].trim().to_owned())
}
