//! Shared JSON shapes: money strings, timestamps, nullable PATCH fields, list envelopes.

use budgetsmart_common::currency::Currency;
use budgetsmart_common::money;
use budgetsmart_proto::common::v1::Money;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{ApiError, FieldError};

/// `{"data": [...], "next_cursor": ...}`.
#[derive(Serialize)]
pub struct ListPage<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> ListPage<T> {
    /// A page; an empty cursor from upstream means the last page.
    pub fn new(data: Vec<T>, next_cursor: String) -> ListPage<T> {
        ListPage { data, next_cursor: Some(next_cursor).filter(|c| !c.is_empty()) }
    }
}

/// An RFC 3339 UTC timestamp with millisecond precision.
pub fn timestamp(ts: Option<prost_types::Timestamp>) -> Option<String> {
    let ts = ts?;
    DateTime::<Utc>::from_timestamp(ts.seconds, ts.nanos.max(0) as u32)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// A decimal string with the currency's minor units, e.g. `"260.00"`.
pub fn amount(money: &Option<Money>) -> String {
    let Some(money) = money else { return "0".into() };
    match money::from_proto(money) {
        Ok((value, code)) => match Currency::parse(&code) {
            Some(currency) => money::format_amount(value, currency),
            None => value.to_string(),
        },
        Err(_) => "0".into(),
    }
}

/// A percentage string from upstream as a JSON number (percentages are not money).
pub fn percent(text: &str) -> serde_json::Value {
    text.parse::<f64>()
        .ok()
        .and_then(|v| serde_json::Number::from_f64(v).map(Into::into))
        .unwrap_or(serde_json::Value::Null)
}

/// Field errors found while turning JSON into a request.
#[derive(Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// Parses a decimal string into proto money in `currency` (which the engine validates).
    pub fn money(&mut self, field: &str, amount: &str, currency: &str) -> Option<Money> {
        match money::parse_decimal(amount.trim()) {
            Ok(value) => Some(money::to_proto(value, currency.trim())),
            Err(error) => {
                self.0.push(FieldError { field: field.to_owned(), message: error.to_string() });
                None
            }
        }
    }

    /// `Ok` when nothing was wrong.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() { Ok(()) } else { Err(ApiError::validation(self.0)) }
    }
}

/// For PATCH: absent → `None`, `null` → `Some(None)`, a value → `Some(Some(v))`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
