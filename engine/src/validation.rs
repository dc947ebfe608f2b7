//! Collecting field violations, so one response names every bad field at once.

use budgetsmart_common::currency::Currency;
use budgetsmart_common::money;
use budgetsmart_proto::common::v1::Money;
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Longest transaction or category description.
pub const MAX_DESCRIPTION: usize = 500;
/// Longest transaction note.
pub const MAX_NOTES: usize = 2000;
/// Longest person or category name.
pub const MAX_NAME: usize = 100;

/// Field violations gathered while checking a request.
#[derive(Debug, Default)]
pub struct Violations(Vec<(String, String)>);

impl Violations {
    /// Records a violation.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push((field.into(), message.into()));
    }

    /// `Ok` if nothing was recorded, otherwise every violation.
    pub fn finish(self) -> AppResult<()> {
        if self.0.is_empty() { Ok(()) } else { Err(AppError::Validation(self.0)) }
    }

    /// Trims `value` and checks it is non-empty and at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> String {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            self.add(field, "must not be empty");
        } else if trimmed.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        }
        trimmed.to_owned()
    }

    /// Like [`text`](Self::text) for an optional field; blank becomes `None`.
    pub fn optional_text(&mut self, field: &str, value: Option<&str>, max: usize) -> Option<String> {
        let trimmed = value.map(str::trim).filter(|v| !v.is_empty())?;
        if trimmed.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        }
        Some(trimmed.to_owned())
    }

    /// Parses a `YYYY-MM-DD` date.
    pub fn date(&mut self, field: &str, value: &str) -> Option<NaiveDate> {
        let parsed = NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
            .ok()
            .filter(|d| (1900..=2999).contains(&d.year()) && value.trim().len() == 10);
        if parsed.is_none() {
            self.add(field, "must be a date in the form YYYY-MM-DD");
        }
        parsed
    }

    /// Parses a `YYYY-MM` month into its first day.
    pub fn month(&mut self, field: &str, value: &str) -> Option<NaiveDate> {
        let parsed = parse_month(value);
        if parsed.is_none() {
            self.add(field, "must be a month in the form YYYY-MM");
        }
        parsed
    }

    /// Parses a UUID.
    pub fn uuid(&mut self, field: &str, value: &str) -> Option<Uuid> {
        let parsed = Uuid::parse_str(value.trim()).ok();
        if parsed.is_none() {
            self.add(field, "must be a UUID");
        }
        parsed
    }

    /// Checks an ISO 4217 code.
    pub fn currency(&mut self, field: &str, code: &str) -> Option<Currency> {
        let parsed = Currency::parse(code.trim());
        if parsed.is_none() {
            self.add(field, "must be an ISO 4217 currency code such as USD");
        }
        parsed
    }

    /// Checks a positive amount in `currency` (when the currency itself was valid).
    pub fn positive_amount(
        &mut self,
        field: &str,
        amount: Option<&Money>,
        currency: Option<Currency>,
    ) -> Option<Decimal> {
        let Some(amount) = amount else {
            self.add(field, "is required");
            return None;
        };
        let value = match money::from_proto(amount) {
            Ok((value, _)) => value,
            Err(error) => {
                self.add(field, error.to_string());
                return None;
            }
        };
        let Some(currency) = currency else {
            // The currency is wrong too, but a non-positive amount is worth saying anyway.
            if value <= Decimal::ZERO {
                self.add(field, money::MoneyError::NotPositive.to_string());
            }
            return None;
        };
        match money::validate_positive(value, currency) {
            Ok(value) => Some(value),
            Err(error) => {
                self.add(field, error.to_string());
                None
            }
        }
    }
}

/// Parses `YYYY-MM` into the first day of that month.
pub fn parse_month(value: &str) -> Option<NaiveDate> {
    let value = value.trim();
    if value.len() != 7 {
        return None;
    }
    NaiveDate::parse_from_str(&format!("{value}-01"), "%Y-%m-%d")
        .ok()
        .filter(|d| (1900..=2999).contains(&d.year()))
}

/// The first day of the month after `month`.
pub fn next_month(month: NaiveDate) -> NaiveDate {
    month.checked_add_months(chrono::Months::new(1)).unwrap_or(month)
}

/// `YYYY-MM` of a date.
pub fn format_month(month: NaiveDate) -> String {
    month.format("%Y-%m").to_string()
}
