//! The OpenAPI 3.1 document of the gateway, and the routes that serve it with Swagger UI.
//!
//! The `/api/v1` operations come from the router ([`crate::routes::api`]), which registers
//! every handler through its `#[utoipa::path]`. [`ApiDoc`] adds what no handler says: the
//! API's info and tags, the bearer scheme, the `Problem` schema, and the operational endpoints
//! that `startup.rs` serves outside `/api/v1`. [`document`] joins the two.
//!
//! The document's paths are absolute (`/api/v1/...`) and it declares no `servers`, so every
//! path resolves against the host the document was fetched from (OpenAPI's implicit server
//! `/`). A client or a tool such as Schemathesis needs no base-path setting, and the
//! operational paths, which live outside `/api/v1`, resolve the same way.

use axum::Router;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    Components, Content, ObjectBuilder, OpenApi as Document, Ref, RefOr, Required, Response, ResponseBuilder,
    Type,
};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::context::REQUEST_ID;
use crate::error::Problem;
use crate::state::AppState;

/// Where `startup.rs` nests the router of [`crate::routes::api`].
pub const API_PREFIX: &str = "/api/v1";
/// The name of the security scheme protected operations require.
pub const BEARER: &str = "bearer";
/// The media type of every error answer of the API.
const PROBLEM_JSON: &str = "application/problem+json";

const DESCRIPTION: &str = "\
The BudgetSmart REST API: accounts, categories, budgets, transactions, analytics and \
notifications.

* **Authentication**: log in at `/api/v1/auth/login` and send the access token as \
`Authorization: Bearer <token>`; refresh it at `/api/v1/auth/refresh`.
* **Money** is a decimal string with its `currency` (ISO 4217), e.g. `\"12.50\"` USD; \
dates are `YYYY-MM-DD`, timestamps RFC 3339 UTC, months `YYYY-MM`.
* **Lists** take `?limit=` (default 50, at most 200) and `?cursor=`, and answer \
`{\"data\": [...], \"next_cursor\": \"...\" | null}`.
* **Errors** are RFC 9457 `application/problem+json`; invalid fields are named in `errors`. \
Another user's resource is 404.
* **Idempotency**: POSTs that create something take an `Idempotency-Key`; a retry with the \
same key and body gets the first answer again, marked `Idempotent-Replayed: true`.
* **Rate limits**: answers carry `RateLimit-Limit`, `RateLimit-Remaining` and \
`RateLimit-Reset`; over the limit, 429 with `Retry-After`.
* Every answer echoes `x-request-id` (the client's, or a new one).";

/// The document's fixed parts; [`document`] adds the router's operations under `/api/v1`.
#[derive(OpenApi)]
#[openapi(
    info(title = "BudgetSmart API", version = env!("CARGO_PKG_VERSION"), description = DESCRIPTION),
    paths(operational::healthz, operational::readyz, operational::metrics, operational::openapi_json),
    components(schemas(Problem)),
    modifiers(&BearerScheme),
    tags(
        (name = "auth", description = "Accounts and sessions: register, log in, refresh, log out"),
        (name = "me", description = "The caller's profile, password and account"),
        (name = "categories", description = "Categories for transactions and budget limits"),
        (name = "budgets", description = "Monthly budgets and spending against them"),
        (name = "transactions", description = "Booked transactions, CSV import and categorisation"),
        (name = "insights", description = "What analytics noticed about the caller's money"),
        (name = "analytics", description = "Reports, forecasts, anomalies, recurring payments, charts"),
        (name = "accounts", description = "Where money sits: checking, savings, credit cards, cash"),
        (name = "imports", description = "Bank files and CSVs: preview, history and undo"),
        (name = "goals", description = "Savings goals, their contributions and projected completion"),
        (name = "notifications", description = "Emails sent and pending, preferences, unsubscribe"),
        (name = "events", description = "Live updates as Server-Sent Events"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    )
)]
pub struct ApiDoc;

/// The whole document: [`ApiDoc`] with the router's operations (from [`crate::routes::api`])
/// nested under [`API_PREFIX`].
pub fn document(api: Document) -> Document {
    let mut document = ApiDoc::openapi().nest(API_PREFIX, api);
    // `context::propagate` wraps every route, operational ones included.
    for item in document.paths.paths.values_mut() {
        for operation in operations(item) {
            for response in operation.responses.responses.values_mut() {
                add_header(response, REQUEST_ID, || {
                    string_header(
                        "The request's id: the client's own if it sent a sane one, else a new UUIDv7",
                    )
                });
            }
        }
    }
    crate::openapi_links::add(&mut document, API_PREFIX);
    non_blank_queries(&mut document);
    one_bank_conversion(&mut document);
    file_profiles(&mut document);
    for schema in document.components.iter_mut().flat_map(|c| c.schemas.values_mut()) {
        without_nul(schema);
    }
    document
}

/// A transaction's bank conversion is its `rate` or the `home_amount` charged, never both
/// (`routes::transactions::bank_conversion`); the bodies' schemas say so.
fn one_bank_conversion(document: &mut Document) {
    let Some(components) = document.components.as_mut() else { return };
    for name in ["NewTransaction", "TransactionPatch"] {
        let Some(schema) = components.schemas.get_mut(name) else { continue };
        let Ok(mut value) = serde_json::to_value(&*schema) else { continue };
        value["not"] = serde_json::json!({"required": ["rate", "home_amount"]});
        if let Ok(changed) = serde_json::from_value(value) {
            *schema = changed;
        }
    }
}

/// `?profile=` takes the shipped CSV profiles' names: the list comes from the reader itself,
/// so the document cannot name one it does not have.
fn file_profiles(document: &mut Document) {
    let names: Vec<serde_json::Value> =
        budgetsmart_bankfiles::profiles().into_iter().map(serde_json::Value::from).collect();
    for (path, item) in document.paths.paths.iter_mut() {
        if !path.ends_with("/transactions/import") && !path.ends_with("/transactions/import/preview") {
            continue;
        }
        for operation in operations(item) {
            for parameter in operation.parameters.iter_mut().flatten() {
                let utoipa::openapi::RefOr::T(parameter) = parameter else { continue };
                if parameter.name != "profile" {
                    continue;
                }
                let Some(schema) = parameter.schema.as_mut() else { continue };
                let Ok(mut value) = serde_json::to_value(&*schema) else { continue };
                value["enum"] = serde_json::Value::Array(names.clone());
                if let Ok(changed) = serde_json::from_value(value) {
                    *schema = changed;
                }
            }
        }
    }
}

/// Every text `extract::parse_json` reads is refused with a NUL in it (no text column can
/// store one), so every free-text schema says so: a pattern without NUL, and `\S` (a
/// non-blank name) becomes "a non-blank character and no NUL". A date, id or enum cannot hold
/// one and is left as it is.
fn without_nul(schema: &mut RefOr<utoipa::openapi::schema::Schema>) {
    fn walk(node: &mut serde_json::Value) {
        let serde_json::Value::Object(map) = node else {
            if let serde_json::Value::Array(items) = node {
                items.iter_mut().for_each(walk);
            }
            return;
        };
        let text = match map.get("type") {
            Some(serde_json::Value::String(kind)) => kind == "string",
            Some(serde_json::Value::Array(kinds)) => kinds.iter().any(|k| k == "string"),
            _ => false,
        };
        let free = map.get("format").is_none_or(|f| f == "password");
        if text && free && !map.contains_key("enum") && !map.contains_key("const") {
            match map.get("pattern").and_then(serde_json::Value::as_str) {
                None => {
                    map.insert("pattern".into(), NO_NUL.into());
                }
                Some(r"\S") => {
                    map.insert("pattern".into(), NON_BLANK.into());
                }
                Some(_) => {}
            }
        }
        map.values_mut().for_each(walk);
    }
    let Ok(mut value) = serde_json::to_value(&*schema) else { return };
    walk(&mut value);
    if let Ok(changed) = serde_json::from_value(value) {
        *schema = changed;
    }
}

/// Text without a NUL character.
const NO_NUL: &str = r"^[^\u0000]*$";
/// Text with a non-blank character and without a NUL.
// `\S` alone would match a NUL (it is not white space), so the one required character
// excludes it too.
const NON_BLANK: &str = r"^[^\u0000]*[^\s\u0000][^\u0000]*$";

/// Documents what `extract::QueryMap` does to every query parameter: a blank value (`?to=`)
/// is refused, not read as absent. A free-text parameter (no format, enum or pattern of its
/// own) gets `minLength` 1 and a pattern asking for a non-blank character and no NUL (also
/// refused there); a date, the years
/// validation takes ([`crate::json::DAY_PATTERN`]).
fn non_blank_queries(document: &mut Document) {
    use utoipa::openapi::schema::{KnownFormat, Schema, SchemaFormat, SchemaType};
    for item in document.paths.paths.values_mut() {
        for operation in operations(item) {
            for parameter in operation.parameters.iter_mut().flatten() {
                let RefOr::T(parameter) = parameter else { continue };
                if !matches!(parameter.parameter_in, ParameterIn::Query) {
                    continue;
                }
                let Some(RefOr::T(Schema::Object(object))) = parameter.schema.as_mut() else { continue };
                // `Option<String>` is `["string", "null"]`.
                let text = match &object.schema_type {
                    SchemaType::Type(kind) => *kind == Type::String,
                    SchemaType::Array(kinds) => kinds.contains(&Type::String),
                    SchemaType::AnyValue => false,
                };
                let day = matches!(object.format, Some(SchemaFormat::KnownFormat(KnownFormat::Date)));
                if day && object.pattern.is_none() {
                    object.pattern = Some(crate::json::DAY_PATTERN.to_owned());
                }
                if text && object.format.is_none() && object.enum_values.is_none() && object.pattern.is_none()
                {
                    object.min_length = Some(1);
                    object.pattern = Some(NON_BLANK.to_owned());
                }
            }
        }
    }
}

/// `GET /openapi.json` (the document) and Swagger UI at `/docs`, whose assets are compiled in.
/// `SwaggerUi` serves the JSON itself at the URL it is given, so there is no route of our own.
pub fn docs_router(document: Document) -> Router<AppState> {
    // The online validator badge would make every visit fetch from swagger.io.
    let config = Config::default().validator_url("none");
    Router::from(SwaggerUi::new("/docs").url("/openapi.json", document).config(config))
}

/// Documents what `auth::require_token` does for a group of routes: the bearer scheme, and
/// its 401. Handlers say `security(...)` themselves; this also covers one that forgot.
pub fn requires_bearer(api: &mut Document) {
    for item in api.paths.paths.values_mut() {
        for operation in operations(item) {
            if operation.security.is_none() {
                operation.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
            }
            let description = "The bearer access token is missing, invalid or expired.";
            if let Some(response) = problem_entry(operation, "401", description, Cause::Same) {
                response
                    .headers
                    .entry("WWW-Authenticate".to_owned())
                    .or_insert_with(|| RefOr::T(string_header("`Bearer realm=\"budgetsmart\"`")));
            }
        }
    }
}

/// Documents what `idempotency::idempotent` does for the POSTs of a group of routes: the
/// optional `Idempotency-Key`, its own refusals, and the replay header on stored answers.
/// Call it before [`requires_bearer`]: a 401 comes before idempotency and is never replayed.
pub fn idempotent_posts(api: &mut Document) {
    for item in api.paths.paths.values_mut() {
        let Some(operation) = item.post.as_mut() else { continue };
        let key = ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Makes a retry safe: the same key with the same body (per caller and path, 24 h by default) \
                 answers the first result again instead of repeating the request.",
            ))
            .schema(Some(
                ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(255)),
            ))
            .build();
        let parameters = operation.parameters.get_or_insert_with(Vec::new);
        let named = |p: &RefOr<Parameter>| match p {
            RefOr::T(p) => p.name.eq_ignore_ascii_case("idempotency-key"),
            RefOr::Ref(_) => false,
        };
        if !parameters.iter().any(named) {
            parameters.push(RefOr::T(key));
        }
        let busy =
            "A request with this `Idempotency-Key` is still being processed; retry after `Retry-After`.";
        if let Some(response) = problem_entry(operation, "409", busy, Cause::Another) {
            response.headers.entry("Retry-After".to_owned()).or_insert_with(|| RefOr::T(retry_after()));
        }
        let reused =
            "This `Idempotency-Key` was used with a different body, or it is not 1 to 255 characters.";
        problem_entry(operation, "422", reused, Cause::Another);
        problem_entry(operation, "413", "The body is larger than 6 MiB.", Cause::Same);
        // Server errors are not stored, so only other answers can come back as replays.
        for (status, response) in operation.responses.responses.iter_mut() {
            if !status.starts_with('5') {
                add_header(response, "Idempotent-Replayed", || {
                    string_header(
                        "`true` when this is the stored answer to an earlier request with the same key",
                    )
                });
            }
        }
    }
}

/// Documents what every route of the API can answer whatever its handler does: the edge's
/// deadline, rate limit and upstream failures, and the rate-limit headers. Registers the
/// `Problem` schema the error answers refer to, so the router's document stands on its own.
pub fn common_responses(api: &mut Document) {
    for item in api.paths.paths.values_mut() {
        for operation in operations(item) {
            problem_entry(operation, "408", "The request took longer than the gateway allows.", Cause::Same);
            if let Some(response) =
                problem_entry(operation, "429", "Too many requests: retry after `Retry-After`.", Cause::Same)
            {
                response.headers.entry("Retry-After".to_owned()).or_insert_with(|| RefOr::T(retry_after()));
            }
            problem_entry(
                operation,
                "500",
                "An internal error occurred; the detail is logged, not shown.",
                Cause::Same,
            );
            let unavailable = "A backend or the idempotency store is unavailable, or a circuit breaker \
                               is open; retry after `Retry-After`.";
            if let Some(response) = problem_entry(operation, "503", unavailable, Cause::Another) {
                response.headers.entry("Retry-After".to_owned()).or_insert_with(|| RefOr::T(retry_after()));
            }
            problem_entry(operation, "504", "A backend took too long to answer.", Cause::Same);
            for response in operation.responses.responses.values_mut() {
                add_header(response, "RateLimit-Limit", || {
                    integer_header("Requests allowed at once (when rate limiting is on)")
                });
                add_header(response, "RateLimit-Remaining", || integer_header("Requests left in the window"));
                add_header(response, "RateLimit-Reset", || {
                    integer_header("Seconds until the limit is full again")
                });
            }
        }
    }
    let components = api.components.get_or_insert_with(Components::new);
    let mut schemas = Vec::new();
    <Problem as ToSchema>::schemas(&mut schemas);
    components.schemas.extend(schemas);
    components.schemas.insert(Problem::name().into_owned(), Problem::schema());
}

/// Doc-only operations for the routes `startup.rs` serves outside `/api/v1`. The stubs are
/// never routed: the real handlers live in `health.rs` and the metrics and docs routers.
pub mod operational {
    use crate::health::{Health, Readiness};

    /// Liveness: the process serves HTTP.
    #[utoipa::path(
        get,
        path = "/healthz",
        tag = "operations",
        operation_id = "healthz",
        responses((status = 200, description = "The process is alive", body = Health))
    )]
    pub fn healthz() {}

    /// Readiness: whether this replica can serve.
    ///
    /// Probes each backend's gRPC health and Redis. One backend down is `degraded` with 200;
    /// no backend, or no Redis, is 503.
    #[utoipa::path(
        get,
        path = "/readyz",
        tag = "operations",
        operation_id = "readyz",
        responses(
            (status = 200, description = "Ready, possibly degraded", body = Readiness),
            (
                status = 503,
                description = "Not ready",
                body = Readiness,
                headers(("Retry-After" = u32, description = "Seconds to wait before probing again"))
            ),
        )
    )]
    pub fn readyz() {}

    /// Prometheus metrics.
    #[utoipa::path(
        get,
        path = "/metrics",
        tag = "operations",
        operation_id = "metrics",
        responses((
            status = 200,
            description = "The Prometheus text exposition format",
            body = String,
            content_type = "text/plain"
        ))
    )]
    pub fn metrics() {}

    /// This document.
    #[utoipa::path(
        get,
        path = "/openapi.json",
        tag = "operations",
        operation_id = "openapi",
        responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json"))
    )]
    pub fn openapi_json() {}
}

/// Problem answers a handler lists in its `#[utoipa::path(responses(...))]`, one type per
/// status (or per set that always comes together), so each is described the same everywhere.
pub mod problems {
    use std::collections::BTreeMap;

    use utoipa::IntoResponses;
    use utoipa::openapi::{Content, ObjectBuilder, RefOr, Response, ResponseBuilder, Type};

    use super::{PROBLEM_JSON, problem, problem_content};

    type Responses = BTreeMap<String, RefOr<Response>>;

    const MALFORMED_JSON: &str = "The body is not valid JSON.";
    const TOO_LARGE: &str = "The body is larger than 6 MiB.";
    const INVALID: &str = "A field or parameter is missing, of the wrong type or invalid; `errors` \
                           names each one. Nothing was written.";

    fn one(status: &str, description: &str) -> Responses {
        BTreeMap::from([(status.to_owned(), RefOr::T(problem(description)))])
    }

    /// 400, 413, 415 and 422: what `ApiJson` answers for a body it cannot use.
    pub struct JsonBody;

    impl IntoResponses for JsonBody {
        fn responses() -> Responses {
            let mut responses = one("400", MALFORMED_JSON);
            responses.append(&mut one("413", TOO_LARGE));
            responses.append(&mut one("415", "The body is not sent as `application/json`."));
            responses.append(&mut one("422", INVALID));
            responses
        }
    }

    /// 400 for a body that is not valid JSON.
    pub struct BadRequest;

    impl IntoResponses for BadRequest {
        fn responses() -> Responses {
            one("400", MALFORMED_JSON)
        }
    }

    /// 400 for a query string that cannot be decoded.
    pub struct BadQuery;

    impl IntoResponses for BadQuery {
        fn responses() -> Responses {
            one("400", "The query string is malformed.")
        }
    }

    /// 401 on the public auth routes.
    pub struct BadCredentials;

    impl IntoResponses for BadCredentials {
        fn responses() -> Responses {
            one("401", "The email and password, or the refresh token, are not valid.")
        }
    }

    /// 404.
    pub struct NotFound;

    impl IntoResponses for NotFound {
        fn responses() -> Responses {
            one("404", "It does not exist for the caller; another user's counts as missing.")
        }
    }

    /// 409.
    pub struct Conflict;

    impl IntoResponses for Conflict {
        fn responses() -> Responses {
            one("409", "It conflicts with what exists: a duplicate, or something still in use.")
        }
    }

    /// 413 where the handler reads the raw body: axum answers it as text, except that with an
    /// `Idempotency-Key` the idempotency middleware refuses it first, as a problem.
    pub struct RawPayloadTooLarge;

    impl IntoResponses for RawPayloadTooLarge {
        fn responses() -> Responses {
            let response = ResponseBuilder::new()
                .description(TOO_LARGE)
                .content(PROBLEM_JSON, problem_content())
                .content("text/plain", Content::new(Some(ObjectBuilder::new().schema_type(Type::String))))
                .build();
            BTreeMap::from([("413".to_owned(), RefOr::T(response))])
        }
    }

    /// 415.
    pub struct UnsupportedMediaType;

    impl IntoResponses for UnsupportedMediaType {
        fn responses() -> Responses {
            one("415", "The body is not sent in a media type this operation takes.")
        }
    }

    /// 422.
    pub struct Unprocessable;

    impl IntoResponses for Unprocessable {
        fn responses() -> Responses {
            one("422", INVALID)
        }
    }
}

/// Adds the bearer scheme protected operations refer to.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut Document) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some("The `access_token` of `/api/v1/auth/login` or `/api/v1/auth/refresh`."))
            .build();
        openapi
            .components
            .get_or_insert_with(Components::new)
            .add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    }
}

/// The operations of a path item.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

fn problem_content() -> Content {
    Content::new(Some(Ref::from_schema_name(Problem::name())))
}

fn problem(description: &str) -> Response {
    ResponseBuilder::new().description(description).content(PROBLEM_JSON, problem_content()).build()
}

/// Whether our cause of a status is one the handler may already document in its own words.
#[derive(Clone, Copy)]
enum Cause {
    /// The same cause: a description the handler gave is kept.
    Same,
    /// Another cause of the same status: it is added to the handler's description.
    Another,
}

/// The operation's problem answer for `status`: added with `description`, or, when the
/// handler already documents that status, kept or extended as `cause` says. `None` when the
/// answer is a `$ref`, which is never the case for answers built here.
fn problem_entry<'a>(
    operation: &'a mut Operation,
    status: &str,
    description: &str,
    cause: Cause,
) -> Option<&'a mut Response> {
    let entry = operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(Response::new(String::new())));
    let RefOr::T(response) = entry else { return None };
    if response.description.is_empty() {
        response.description = description.to_owned();
    } else if matches!(cause, Cause::Another) && !response.description.contains(description) {
        let stop = if response.description.ends_with('.') { "" } else { "." };
        response.description = format!("{}{stop} {description}", response.description);
    }
    response.content.entry(PROBLEM_JSON.to_owned()).or_insert_with(|| RefOr::T(problem_content()));
    Some(response)
}

fn add_header(response: &mut RefOr<Response>, name: &str, header: impl FnOnce() -> Header) {
    if let RefOr::T(response) = response {
        response.headers.entry(name.to_owned()).or_insert_with(|| RefOr::T(header()));
    }
}

fn string_header(description: &str) -> Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(description))
        .build()
}

fn integer_header(description: &str) -> Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0))))
        .description(Some(description))
        .build()
}

fn retry_after() -> Header {
    integer_header("Seconds to wait before retrying")
}
