//! Conversions between database values and proto messages.

use budgetsmart_common::money;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// A proto timestamp.
pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: at.timestamp(), nanos: at.timestamp_subsec_nanos() as i32 }
}

/// A proto `Money`; stored currencies are always valid ISO codes.
pub fn money(amount: Decimal, currency: &str) -> budgetsmart_proto::common::v1::Money {
    money::to_proto(amount.normalize(), currency.trim())
}

/// A percentage with two decimal places, e.g. `82.00`.
pub fn percent(part: Decimal, whole: Decimal) -> String {
    if whole.is_zero() {
        return "0.00".into();
    }
    let mut value = (part * Decimal::from(100) / whole).round_dp(2);
    value.rescale(2);
    value.to_string()
}
