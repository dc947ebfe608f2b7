//! Opaque cursors for keyset pagination.
//!
//! A cursor is the sort key of the last row served, base64url-encoded; it is opaque to clients
//! so the key can change without breaking them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use budgetsmart_proto::common::v1::PageRequest;

/// A page request a service cannot serve: names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidPage {
    /// `limit` or `cursor`.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

/// Page size when the client gives none.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page a client may ask for.
pub const MAX_LIMIT: u32 = 200;

/// A validated page request: the limit and the decoded cursor parts.
pub struct Page {
    /// Rows to return.
    pub limit: i64,
    /// The sort key after which to continue, split on `|`.
    pub after: Option<Vec<String>>,
}

impl Page {
    /// Validates `limit` and decodes `cursor`.
    pub fn from_request(request: Option<&PageRequest>) -> Result<Page, InvalidPage> {
        let (limit, cursor) = request.map(|p| (p.limit, p.cursor.as_str())).unwrap_or((0, ""));
        let limit = match limit {
            0 => DEFAULT_LIMIT,
            1..=MAX_LIMIT => limit,
            _ => {
                return Err(InvalidPage {
                    field: "limit",
                    message: format!("must be between 1 and {MAX_LIMIT}"),
                });
            }
        };
        let after = if cursor.is_empty() { None } else { Some(decode(cursor)?) };
        Ok(Page { limit: i64::from(limit), after })
    }
}

/// Encodes sort-key parts into a cursor.
pub fn encode(parts: &[String]) -> String {
    URL_SAFE_NO_PAD.encode(parts.join("|"))
}

fn decode(cursor: &str) -> Result<Vec<String>, InvalidPage> {
    let invalid = || InvalidPage { field: "cursor", message: "is not a cursor this API returned".into() };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    Ok(text.split('|').map(str::to_owned).collect())
}

/// Trims an over-fetched page (`limit + 1` rows) and returns the cursor of the next page.
pub fn finish<T>(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> Vec<String>) -> (Vec<T>, String) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        let next = rows.last().map(|r| encode(&key(r))).unwrap_or_default();
        (rows, next)
    } else {
        (rows, String::new())
    }
}
