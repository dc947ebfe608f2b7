//! Shared JSON shapes: money strings, timestamps, nullable PATCH fields, list envelopes.

use budgetsmart_common::currency::Currency;
use budgetsmart_common::money;
use budgetsmart_proto::common::v1::Money;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{Object, OneOfBuilder, Schema};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, FieldError};

/// `{"data": [...], "next_cursor": ...}`. Generic in the OpenAPI document too: each use becomes
/// its own component, e.g. `ListPage_Transaction`.
#[derive(Serialize, ToSchema)]
pub struct ListPage<T> {
    /// This page's items.
    pub data: Vec<T>,
    /// Pass as `?cursor=` to get the next page; `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

impl<T> ListPage<T> {
    /// A page; an empty cursor from upstream means the last page.
    pub fn new(data: Vec<T>, next_cursor: String) -> ListPage<T> {
        ListPage { data, next_cursor: Some(next_cursor).filter(|c| !c.is_empty()) }
    }
}

/// The page of a list route asks for: every list route takes these two, and
/// [`QueryMap::page`](crate::extract::QueryMap::page) reads them.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 50 by default.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
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

/// A percentage (or probability) string from upstream as a JSON number: percentages are not
/// money. `None` when it is empty or not a finite number.
pub fn percent(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Field errors found while turning JSON into a request.
#[derive(Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// Parses a decimal string into proto money in `currency` (which the engine validates).
    pub fn money(&mut self, field: &str, amount: &str, currency: &str) -> Option<Money> {
        match money::parse_decimal(amount.trim()) {
            // Proto money carries nine decimal places; anything past them would be dropped
            // silently ("10.0000000009" USD arriving as 10.00), so it is refused here.
            Ok(value) if value.normalize().scale() > 9 => {
                let message = match Currency::parse(currency.trim().to_uppercase().as_str()) {
                    Some(c) => money::MoneyError::TooPrecise { currency: c.code(), places: c.minor_units() }
                        .to_string(),
                    None => "has more than 9 decimal places".to_owned(),
                };
                self.0.push(FieldError { field: field.to_owned(), message });
                None
            }
            Ok(value) => Some(money::to_proto(value, currency.trim())),
            Err(error) => {
                self.0.push(FieldError { field: field.to_owned(), message: error.to_string() });
                None
            }
        }
    }

    /// Records a violation of `field`.
    pub fn add(&mut self, field: &str, message: &str) {
        self.0.push(FieldError { field: field.to_owned(), message: message.to_owned() });
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

// Doc-only schemas: the wire format of values that are plain `String`s in Rust. Fields point at
// them with `#[schema(value_type = ...)]`, so the rule for, say, an amount is written once.

/// An amount of money as a decimal string with exactly its currency's minor units (`"12.50"`
/// USD, `"1200"` JPY). Negative only where a balance can go below zero (`remaining`).
#[derive(ToSchema)]
#[schema(example = "12.50", pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
pub struct Amount(pub String);

/// A positive amount of money as a decimal string with at most its currency's minor-unit
/// places (USD 2, JPY 0), e.g. `"12.50"`. Zero, too many places or a number instead of a
/// string is a 422 naming the field.
#[derive(ToSchema)]
#[schema(example = "12.50", pattern = r"^[0-9]+(\.[0-9]+)?$")]
pub struct PositiveAmount(pub String);

/// An ISO 4217 currency code, upper case: one of the codes the service knows, listed as the
/// schema's `enum`, so the document says exactly what validation takes.
pub struct CurrencyCode(pub String);

impl utoipa::PartialSchema for CurrencyCode {
    fn schema() -> RefOr<Schema> {
        listed_text(
            "An ISO 4217 currency code, upper case",
            "USD",
            budgetsmart_common::currency::Currency::all_codes(),
        )
    }
}

impl utoipa::ToSchema for CurrencyCode {}

/// An IANA time zone such as `Europe/Paris`: one of the zones the service knows, listed as
/// the schema's `enum`, as for [`CurrencyCode`].
pub struct TimeZoneName(pub String);

impl utoipa::PartialSchema for TimeZoneName {
    fn schema() -> RefOr<Schema> {
        listed_text(
            "An IANA time zone",
            "Europe/Paris",
            chrono_tz::TZ_VARIANTS.iter().map(|zone| zone.name()),
        )
    }
}

impl utoipa::ToSchema for TimeZoneName {}

/// A string that is one of `values`: what validation takes, listed as the schema's `enum`.
fn listed_text<V: Into<serde_json::Value>>(
    description: &str,
    example: &str,
    values: impl IntoIterator<Item = V>,
) -> RefOr<Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some(description))
        .examples([example])
        .enum_values(Some(values))
        .into()
}

/// A calendar month, `YYYY-MM`, of the years validation takes (1900 to 2999).
#[derive(ToSchema)]
#[schema(example = "2026-03", pattern = "^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$")]
pub struct Month(pub String);

/// What a day (`YYYY-MM-DD`) must look like: validation takes the years 1900 to 2999, which
/// `format: date` alone does not say.
pub const DAY_PATTERN: &str = "^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";

/// A calendar day, `YYYY-MM-DD` (see [`DAY_PATTERN`]).
#[derive(ToSchema)]
#[schema(
    example = "2026-03-14",
    format = Date,
    pattern = "^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
)]
pub struct Day(pub String);

/// Which way a transaction's money went: `debit` is spending, `credit` is income.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum TransactionType {
    Debit,
    Credit,
}

/// Whether a category is for spending or for income.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum CategoryKind {
    Expense,
    Income,
}

/// The schema of a body that takes one of several sets of fields (a code or a recovery code):
/// each alternative is a JSON Schema object written as the document shows it, closed with
/// `additionalProperties: false`, so "both" and "neither" are invalid in the document as in
/// the handler. The literals are the crate's own; one that does not parse fails the OpenAPI
/// test, not a request.
pub fn one_of(description: &str, alternatives: [serde_json::Value; 2]) -> RefOr<Schema> {
    let mut builder = OneOfBuilder::new().description(Some(description));
    for alternative in alternatives {
        let object: Object =
            serde_json::from_value(alternative).unwrap_or_else(|e| panic!("a schema literal: {e}"));
        builder = builder.item(object);
    }
    builder.into()
}

#[cfg(test)]
mod money_tests {
    use super::*;

    /// Digits past the ninth decimal place were cut before the engine could refuse them.
    #[test]
    fn digits_past_what_proto_money_carries_are_refused_not_dropped() {
        let mut errors = FieldErrors::default();
        assert!(errors.money("amount", "10.0000000009", "USD").is_none());
        assert!(errors.money("amount", "1.1234567891", "XYZ").is_none());
        assert_eq!(errors.0.len(), 2);
        assert!(errors.0[0].message.contains("USD"), "{}", errors.0[0].message);
        let mut fine = FieldErrors::default();
        let exact = fine.money("amount", "10.123456789", "USD").expect("nine places still travel");
        assert_eq!((exact.units, exact.nanos), (10, 123_456_789));
        assert!(fine.0.is_empty());
    }
}
