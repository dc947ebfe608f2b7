//! The anomaly, recurring-payment and categorisation calls: validation and the answers'
//! shapes; the work is in `anomalies`, `recurring` and `categorizer`.

use budgetsmart_common::currency::Currency;
use budgetsmart_common::money;
use budgetsmart_proto::analytics::v1 as pb;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::anomalies::store::{self as anomaly_store, AnomalyRow};
use crate::categorizer::store::{CategoryOption, Item, Models};
use crate::error::ApiError;
use crate::recurring::corrections::{self, Correction};
use crate::recurring::store::{self as recurring_store, RecurringRow};
use crate::recurring::{Kind, scan};
use crate::retraining;

/// Page size when the client gives none, and the largest it may ask for.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;
/// Most items in one categorisation call (an import file's rows).
const MAX_ITEMS: usize = 10_000;
/// Most categories a caller may offer (the engine caps a user's far lower).
const MAX_CATEGORIES: usize = 1_000;
/// Longest description considered, as the engine allows.
const MAX_DESCRIPTION: usize = 500;

fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: at.timestamp(), nanos: at.timestamp_subsec_nanos() as i32 }
}

fn anomaly(row: AnomalyRow) -> pb::Anomaly {
    pb::Anomaly {
        id: row.id.to_string(),
        transaction_id: row.transaction_id.to_string(),
        kind: row.kind,
        score: row.score.clamp(0.0, 1.0),
        explanation: row.explanation,
        status: row.status,
        occurred_on: row.occurred_on.to_string(),
        description: row.description,
        amount: Some(money::to_proto(row.amount, &row.currency)),
        category_id: row.category_id.map(|c| c.to_string()),
        detected_at: Some(timestamp(row.detected_at)),
        merchant: row.merchant,
    }
}

/// The cursor of a page: the last row's sort key, hex-encoded so clients treat it as opaque.
fn encode_cursor(row: &AnomalyRow) -> String {
    format!("{}|{}", row.occurred_on, row.id).bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(cursor: &str) -> Result<Option<(NaiveDate, Uuid)>, ApiError> {
    if cursor.is_empty() {
        return Ok(None);
    }
    let invalid = || ApiError::invalid("cursor", "is not a cursor this API returned");
    let bytes: Vec<u8> = (0..cursor.len())
        .step_by(2)
        .map(|i| cursor.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<_>>()
        .ok_or_else(invalid)?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (day, id) = text.split_once('|').ok_or_else(invalid)?;
    Ok(Some((day.parse().map_err(|_| invalid())?, Uuid::parse_str(id).map_err(|_| invalid())?)))
}

/// `ListAnomalies`.
pub(super) async fn list_anomalies(
    conn: &mut PgConnection,
    user: Uuid,
    request: pb::ListAnomaliesRequest,
) -> Result<pb::Anomalies, ApiError> {
    let status = match request.status.trim() {
        "" => None,
        s @ ("open" | "confirmed" | "not_anomaly") => Some(s.to_owned()),
        _ => return Err(ApiError::invalid("status", "must be open, confirmed or not_anomaly")),
    };
    let page = request.page.unwrap_or_default();
    let limit = match page.limit {
        0 => DEFAULT_LIMIT,
        l @ 1..=MAX_LIMIT => l,
        _ => return Err(ApiError::invalid("limit", format!("must be between 1 and {MAX_LIMIT}"))),
    };
    let after = decode_cursor(page.cursor.trim())?;
    let mut rows = anomaly_store::list(conn, user, status.as_deref(), after, i64::from(limit) + 1).await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(encode_cursor).unwrap_or_default()
    } else {
        String::new()
    };
    Ok(pb::Anomalies { data: rows.into_iter().map(anomaly).collect(), next_cursor })
}

/// `UpdateAnomaly`: the feedback, and a retraining so the pattern's other flags follow it.
pub(super) async fn update_anomaly(
    conn: &mut PgConnection,
    user: Uuid,
    request: pb::UpdateAnomalyRequest,
) -> Result<pb::Anomaly, ApiError> {
    // Not a UUID is not one of the caller's anomalies either.
    let id = Uuid::parse_str(request.id.trim()).map_err(|_| ApiError::NotFound("anomaly"))?;
    let status = match request.feedback.trim() {
        s @ ("not_anomaly" | "confirmed") => s,
        _ => return Err(ApiError::invalid("feedback", "must be not_anomaly or confirmed")),
    };
    let row = anomaly_store::feedback(conn, user, id, status).await?.ok_or(ApiError::NotFound("anomaly"))?;
    retraining::request(conn, user).await?;
    Ok(anomaly(row))
}

/// The API's recurring payment.
pub(super) fn recurring(row: RecurringRow) -> pb::RecurringPayment {
    let expected = Some(money::to_proto(row.expected(), &row.currency));
    let changes = row
        .price_changes
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let amount = |key: &str| c[key].as_str().and_then(|v| v.parse::<Decimal>().ok());
            Some(pb::PriceChange {
                on: c["on"].as_str()?.to_owned(),
                from: Some(money::to_proto(amount("from")?, &row.currency)),
                to: Some(money::to_proto(amount("to")?, &row.currency)),
            })
        })
        .collect();
    pb::RecurringPayment {
        id: row.id.to_string(),
        merchant: crate::merchant::display(&row.merchant),
        category_id: row.category_id.map(|c| c.to_string()),
        cadence: row.cadence,
        cadence_days: row.cadence_days.unsigned_abs(),
        amount: Some(money::to_proto(row.amount, &row.currency)),
        first_seen: row.first_seen.to_string(),
        last_seen: row.last_seen.to_string(),
        next_expected: row.next_expected.to_string(),
        occurrences: row.occurrences.unsigned_abs(),
        active: row.active,
        price_changes: changes,
        expected_amount: expected,
        kind: row.kind,
        status: row.status,
        explanation: row.explanation,
        direction: row.direction,
        kind_corrected: row.kind_corrected,
    }
}

/// `ListRecurring`.
pub(super) async fn list_recurring(
    conn: &mut PgConnection,
    user: Uuid,
) -> Result<pb::RecurringPayments, ApiError> {
    let rows = recurring_store::list(conn, user).await?;
    Ok(pb::RecurringPayments { data: rows.into_iter().map(recurring).collect() })
}

/// `UpdateRecurring`: records the correction, rescans so the answer is what every later
/// rescan will say, and asks for a retraining so forecasts and insights follow it.
pub(super) async fn update_recurring(
    conn: &mut PgConnection,
    user: Uuid,
    today: NaiveDate,
    request: pb::UpdateRecurringRequest,
) -> Result<pb::RecurringPayment, ApiError> {
    // Not a UUID is not one of the caller's payments either.
    let id = Uuid::parse_str(request.id.trim()).map_err(|_| ApiError::NotFound("recurring payment"))?;
    let kind = request.kind.trim();
    let correction = match (kind.is_empty(), request.not_recurring) {
        (true, false) => {
            return Err(ApiError::invalid("kind", "give a kind, or not_recurring: true"));
        }
        (false, true) => {
            return Err(ApiError::invalid("not_recurring", "cannot be given together with a kind"));
        }
        (true, true) => Correction::NotRecurring,
        (false, false) => Correction::Kind(Kind::parse(kind).ok_or_else(|| {
            ApiError::invalid("kind", "must be subscription, bill, housing, loan or income")
        })?),
    };
    let row = recurring_store::find_for_update(conn, user, id)
        .await?
        .ok_or(ApiError::NotFound("recurring payment"))?;
    corrections::record(
        conn,
        user,
        (&row.currency, &row.merchant, &row.direction),
        row.category_id,
        correction,
    )
    .await?;
    let rows = scan::rescan(conn, user, today).await?;
    retraining::request(conn, user).await?;
    if let Some(now) = rows.into_iter().find(|r| r.id == id) {
        return Ok(recurring(now));
    }
    // The rescan no longer finds it: the answer is the series as it ends.
    let mut gone = recurring(row);
    gone.active = false;
    gone.status = "ended".into();
    gone.explanation = match correction {
        Correction::NotRecurring => format!(
            "You said {} is not a recurring payment: it is no longer listed, forecast or suggested as one.",
            gone.merchant
        ),
        Correction::Kind(kind) => {
            gone.kind = kind.as_str().to_owned();
            gone.kind_corrected = true;
            format!(
                "{} is now {}, as you said; its charges no longer look recurring, so it is not listed for now.",
                gone.merchant,
                kind.as_str()
            )
        }
    };
    Ok(gone)
}

/// `Categorize`.
pub(super) async fn categorize(
    conn: &mut PgConnection,
    models: &Models,
    user: Uuid,
    request: pb::CategorizeRequest,
) -> Result<pb::CategorizeResponse, ApiError> {
    if request.items.is_empty() {
        return Err(ApiError::invalid("items", "must name at least one transaction"));
    }
    if request.items.len() > MAX_ITEMS {
        return Err(ApiError::invalid("items", format!("may hold at most {MAX_ITEMS}")));
    }
    if request.categories.len() > MAX_CATEGORIES {
        return Err(ApiError::invalid("categories", format!("may hold at most {MAX_CATEGORIES}")));
    }
    let mut items = Vec::with_capacity(request.items.len());
    for item in &request.items {
        let description = item.description.trim();
        if description.is_empty() {
            return Err(ApiError::invalid("description", "must not be empty"));
        }
        if description.chars().count() > MAX_DESCRIPTION {
            return Err(ApiError::invalid(
                "description",
                format!("may be at most {MAX_DESCRIPTION} characters"),
            ));
        }
        let money = item.amount.as_ref().ok_or_else(|| ApiError::invalid("amount", "is required"))?;
        let (amount, code) =
            money::from_proto(money).map_err(|e| ApiError::invalid("amount", e.to_string()))?;
        let currency = Currency::parse(&code.trim().to_uppercase())
            .ok_or_else(|| ApiError::invalid("currency", "is not a known ISO 4217 currency code"))?;
        let amount = money::validate_positive(amount, currency)
            .map_err(|e| ApiError::invalid("amount", e.to_string()))?;
        let kind = match item.r#type.trim() {
            "" | "debit" => "debit",
            "credit" => "credit",
            _ => return Err(ApiError::invalid("type", "must be debit or credit")),
        };
        items.push(Item { description: description.to_owned(), amount, kind: kind.to_owned() });
    }
    let options: Vec<CategoryOption> = request
        .categories
        .into_iter()
        .map(|c| CategoryOption { id: c.id, name: c.name, kind: c.kind })
        .collect();
    let suggestions = models.suggest(conn, user, &items, &options).await?;
    Ok(pb::CategorizeResponse {
        results: suggestions
            .into_iter()
            .map(|s| pb::Suggestion {
                category_id: s.category_id,
                confidence: if s.confidence.is_finite() { s.confidence } else { 0.0 },
                model: s.model.to_owned(),
                alternatives: s
                    .alternatives
                    .into_iter()
                    .map(|(id, confidence)| pb::CategoryScore { category_id: id, confidence })
                    .collect(),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_invalid() {
        let id = Uuid::now_v7();
        let day = NaiveDate::from_ymd_opt(2026, 3, 4).expect("date");
        let encoded: String = format!("{day}|{id}").bytes().map(|b| format!("{b:02x}")).collect();
        assert_eq!(decode_cursor(&encoded).expect("decodes"), Some((day, id)));
        assert!(decode_cursor("zz").is_err());
        assert!(decode_cursor("abc").is_err());
    }
}
