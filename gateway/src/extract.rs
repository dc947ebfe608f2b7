//! Extractors whose rejections are problem+json naming the field at fault.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// A JSON body: 415 without a JSON content type, 400 when malformed, 422 naming the field
/// when well-formed but wrong (missing field, wrong type).
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Deserializes `bytes`, turning serde's error into a client-facing one.
///
/// A NUL character is valid JSON (`"\u0000"`) but no text column can store it, so a field the
/// body type reads is refused with one, naming the field, before it can reach a database as a
/// server error. A field it does not read is ignored, NUL or not, as every unknown field is.
///
/// Every body is a JSON object: serde would also read a struct from an array of its fields in
/// order (`[null, null]`), which no client means.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "the body must be a JSON object"));
    }
    // Only a body that spells the escape can hold a NUL (raw control characters are not
    // valid JSON), so the common case costs one scan and no second parse.
    if !bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return parse_value(bytes, |_| {});
    }
    let mut ignored = Vec::new();
    // serde_ignored shows a step through an `Option` or a newtype as its own `?` segment
    // (`quiet.?.note`); the body itself has no such step.
    let parsed = parse_value(bytes, |path| {
        let steps: Vec<String> =
            path.to_string().split('.').filter(|s| *s != "?").map(str::to_owned).collect();
        ignored.push(steps.join("."));
    })?;
    let value: serde_json::Value = parse_value(bytes, |_| {})?;
    let read =
        |path: &Path| !ignored.iter().any(|i| path.dotted == *i || path.dotted.starts_with(&format!("{i}.")));
    match nul_field(&value, Path::default(), &read) {
        Some(field) => Err(ApiError::field(field, "must not contain NUL characters")),
        None => Ok(parsed),
    }
}

/// Where a value sits in the body: as problem+json names it (`limits[0].label`) and as
/// `serde_ignored` does (`limits.0.label`).
#[derive(Default)]
struct Path {
    shown: String,
    dotted: String,
}

impl Path {
    fn key(&self, key: &str) -> Path {
        let join = |base: &str| if base.is_empty() { key.to_owned() } else { format!("{base}.{key}") };
        Path { shown: join(&self.shown), dotted: join(&self.dotted) }
    }

    fn index(&self, index: usize) -> Path {
        let dotted =
            if self.dotted.is_empty() { index.to_string() } else { format!("{}.{index}", self.dotted) };
        Path { shown: format!("{}[{index}]", self.shown), dotted }
    }
}

/// The first string (or key) holding a NUL among the values `read` says the body type reads.
fn nul_field(value: &serde_json::Value, path: Path, read: &dyn Fn(&Path) -> bool) -> Option<String> {
    if !read(&path) {
        return None;
    }
    match value {
        serde_json::Value::String(text) if text.contains('\0') => {
            Some(if path.shown.is_empty() { ".".into() } else { path.shown })
        }
        serde_json::Value::Array(items) => {
            items.iter().enumerate().find_map(|(i, item)| nul_field(item, path.index(i), read))
        }
        serde_json::Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let here = path.key(key);
            if key.contains('\0') && read(&here) { Some(here.shown) } else { nul_field(item, here, read) }
        }),
        _ => None,
    }
}

/// Deserializes `bytes`, telling `ignored` the path of every field the type does not read.
fn parse_value<T: DeserializeOwned>(
    bytes: &[u8],
    mut ignored: impl FnMut(serde_ignored::Path<'_>),
) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let deserializer = serde_ignored::Deserializer::new(&mut deserializer, &mut ignored);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = inner.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::new(StatusCode::BAD_REQUEST, format!("the body is not valid JSON: {message}"));
        }
        // A missing field is reported at its parent's path; name the field itself.
        let field = match message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
            Some(missing) if path == "." => missing.to_owned(),
            Some(missing) => format!("{path}.{missing}"),
            None => path,
        };
        ApiError::validation(vec![FieldError { field, message }])
    })
}

/// Query parameters as a flat map; each handler parses what it needs and names bad ones.
#[derive(Debug)]
pub struct QueryMap(pub std::collections::HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("the query string is malformed: {e}"))
        })?;
        // Every parameter here takes one value; a second one would be silently dropped.
        let mut map = std::collections::HashMap::with_capacity(pairs.len());
        for (name, value) in pairs {
            if map.contains_key(&name) {
                return Err(ApiError::field(name.replace('\0', ""), "must be given once"));
            }
            map.insert(name, value);
        }
        if let Some((name, _)) = map.iter().find(|(k, v)| k.contains('\0') || v.contains('\0')) {
            return Err(ApiError::field(name.replace('\0', ""), "must not contain NUL characters"));
        }
        // `?to=` is not "no end date": a client that means no value leaves the parameter out.
        // Read as absent, a blank date, id or month would pass as no filter at all, and the
        // answer would not be what was asked for.
        if let Some((name, _)) = map.iter().find(|(_, v)| v.trim().is_empty()) {
            return Err(ApiError::field(name.clone(), "must not be empty; leave the parameter out instead"));
        }
        Ok(QueryMap(map))
    }
}

impl QueryMap {
    /// A non-empty parameter.
    pub fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// `limit` and `cursor` as the engine's page request.
    pub fn page(&self) -> Result<budgetsmart_proto::common::v1::PageRequest, ApiError> {
        let limit = match self.get("limit") {
            None => 0,
            Some(raw) => match raw.parse::<u32>() {
                Ok(limit) if (1..=200).contains(&limit) => limit,
                _ => return Err(ApiError::field("limit", "must be a whole number from 1 to 200")),
            },
        };
        Ok(budgetsmart_proto::common::v1::PageRequest {
            limit,
            cursor: self.get("cursor").unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        limits: Vec<Limit>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Limit {
        label: String,
    }

    #[test]
    fn refuses_nul_naming_the_field() {
        let bad = br#"{"name":"ok","limits":[{"label":"a"},{"label":"b\u0000c"}]}"#;
        let error = parse_json::<Body>(bad).expect_err("a NUL is refused");
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(format!("{error:?}").contains("limits[1].label"), "{error:?}");
        // A literal backslash before u0000 is text, not a NUL.
        let fine = br#"{"name":"a\\u0000b","limits":[]}"#;
        assert_eq!(parse_json::<Body>(fine).expect("valid").name, "a\\u0000b");
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Settings {
        quiet: Option<Limit>,
    }

    #[test]
    fn a_nul_in_a_field_the_type_does_not_read_is_ignored_like_the_field() {
        // The fuzzer's "valid" bodies carry extra properties the document allows.
        let extra = br#"{"name":"ok","limits":[{"label":"a","x\u0000":"y\u0000"}],"k\u0000":{"v":"\u0000"}}"#;
        assert_eq!(parse_json::<Body>(extra).expect("the NULs are in ignored fields").name, "ok");
        let inside_option = br#"{"quiet":{"label":"a","note":"\u0000"}}"#;
        parse_json::<Settings>(inside_option).expect("an ignored field inside an Option");
        // A field the type reads is still refused, under an ignored sibling too.
        let read = br#"{"quiet":{"label":"\u0000","note":"\u0000"}}"#;
        let error = parse_json::<Settings>(read).expect_err("a NUL in a read field");
        assert!(format!("{error:?}").contains("quiet.label"), "{error:?}");
    }

    #[test]
    fn a_body_must_be_an_object_not_an_array_of_fields() {
        let error = parse_json::<Body>(b"  [\"ana\", []]").expect_err("an array is refused");
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    async fn query(uri: &str) -> Result<QueryMap, ApiError> {
        let (mut parts, ()) =
            axum::http::Request::builder().uri(uri).body(()).expect("a request").into_parts();
        QueryMap::from_request_parts(&mut parts, &()).await
    }

    #[tokio::test]
    async fn a_parameter_given_twice_or_blank_is_refused_by_name() {
        assert_eq!(query("/x?to=2026-01-01&q=rent").await.expect("fine").get("q").as_deref(), Some("rent"));
        let twice = query("/x?budget_id=a&budget_id=b").await.expect_err("twice");
        assert!(twice.message().contains("budget id"), "{}", twice.message());
        let blank = query("/x?to=").await.expect_err("blank");
        assert!(blank.message().contains("to"), "{}", blank.message());
    }
}
