//! Requests in one spelling before they become cache keys.
//!
//! The cache key used to be the request's bytes, so `currency=usd`, `USD` and `Usd`, or a
//! budget id braced, upper-case or without hyphens, were different keys for one answer, and
//! every spelling computed (and rendered) again: a cheap way to make the service do expensive
//! work. A chart's `labels` map was worse, since a map's encoding follows its hash order. Each
//! request is now brought to one spelling first, and its key is built from that spelling.
//! A value that does not parse stays as it is, so validation still names it.

use std::collections::BTreeMap;

use budgetsmart_proto::analytics::v1 as pb;
use uuid::Uuid;

/// `value` trimmed and upper-cased: ISO 4217 codes.
fn currency(value: &str) -> String {
    value.trim().to_ascii_uppercase()
}

/// A UUID in its hyphenated lower-case form, or the text trimmed when it is not one.
fn uuid(value: &str) -> String {
    let text = value.trim();
    Uuid::parse_str(text).map_or_else(|_| text.to_owned(), |id| id.hyphenated().to_string())
}

fn lower(value: &str) -> String {
    value.trim().to_ascii_lowercase()
}

/// A request with one spelling and a cache key built from it.
pub(super) trait Canonical: Sized {
    /// The same request in its one spelling.
    fn canonical(self) -> Self;
    /// The cache key of a canonical request.
    fn key(&self) -> String;
}

impl Canonical for pb::SummaryRequest {
    fn canonical(self) -> Self {
        pb::SummaryRequest {
            from: self.from.trim().to_owned(),
            to: self.to.trim().to_owned(),
            group_by: lower(&self.group_by),
            currency: currency(&self.currency),
        }
    }
    fn key(&self) -> String {
        format!("{}|{}|{}|{}", self.from, self.to, self.group_by, self.currency)
    }
}

impl Canonical for pb::TrendsRequest {
    fn canonical(self) -> Self {
        pb::TrendsRequest { months: self.months, currency: currency(&self.currency) }
    }
    fn key(&self) -> String {
        format!("{}|{}", self.months, self.currency)
    }
}

impl Canonical for pb::ForecastRequest {
    fn canonical(self) -> Self {
        pb::ForecastRequest {
            budget_id: uuid(&self.budget_id),
            month: self.month.trim().to_owned(),
            currency: currency(&self.currency),
        }
    }
    fn key(&self) -> String {
        format!("{}|{}|{}", self.budget_id, self.month, self.currency)
    }
}

impl Canonical for pb::ChartRequest {
    fn canonical(self) -> Self {
        pb::ChartRequest {
            name: lower(&self.name),
            format: lower(&self.format),
            budget_id: uuid(&self.budget_id),
            currency: currency(&self.currency),
            labels: self.labels.into_iter().map(|(id, name)| (uuid(&id), name)).collect(),
            month: self.month.trim().to_owned(),
        }
    }
    fn key(&self) -> String {
        // Sorted, so the key does not follow the map's hash order.
        let labels: BTreeMap<&String, &String> = self.labels.iter().collect();
        format!(
            "{}|{}|{}|{}|{}|{labels:?}",
            self.name, self.format, self.budget_id, self.currency, self.month
        )
    }
}

impl Canonical for pb::ListAnomaliesRequest {
    fn canonical(self) -> Self {
        pb::ListAnomaliesRequest { status: lower(&self.status), page: self.page }
    }
    fn key(&self) -> String {
        let page = self.page.as_ref().map(|p| format!("{}|{}", p.limit, p.cursor)).unwrap_or_default();
        format!("{}|{page}", self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_request_share_one_key() {
        let id = Uuid::now_v7();
        let spellings = [
            id.hyphenated().to_string(),
            id.hyphenated().to_string().to_uppercase(),
            format!("{{{id}}}"),
            id.simple().to_string(),
        ];
        let keys: std::collections::HashSet<String> = spellings
            .iter()
            .zip(["usd", "USD", " Usd ", "uSD"])
            .map(|(budget, currency)| {
                pb::ForecastRequest {
                    budget_id: budget.clone(),
                    month: String::new(),
                    currency: currency.into(),
                }
                .canonical()
                .key()
            })
            .collect();
        assert_eq!(keys.len(), 1, "{keys:?}");
        let other =
            pb::ForecastRequest { budget_id: id.to_string(), month: String::new(), currency: "EUR".into() };
        assert!(!keys.contains(&other.canonical().key()));
    }

    #[test]
    fn a_charts_labels_do_not_change_its_key_by_their_order() {
        let labels: Vec<(String, String)> =
            (0..20).map(|i| (Uuid::now_v7().to_string(), format!("Cat {i}"))).collect();
        let chart = |labels: Vec<(String, String)>| pb::ChartRequest {
            name: "Spending-By-Category".into(),
            format: "SVG".into(),
            labels: labels.into_iter().collect(),
            ..Default::default()
        };
        let mut reversed = labels.clone();
        reversed.reverse();
        assert_eq!(chart(labels).canonical().key(), chart(reversed).canonical().key());
    }

    #[test]
    fn what_does_not_parse_is_left_for_validation() {
        let bad = pb::ForecastRequest { budget_id: " not-a-uuid ".into(), ..Default::default() }.canonical();
        assert_eq!(bad.budget_id, "not-a-uuid");
    }
}
