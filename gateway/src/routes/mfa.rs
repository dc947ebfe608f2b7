//! Two-factor sign-in with a TOTP app: `POST /auth/mfa` (the login's second step) and
//! `/me/mfa/totp` (enrol, show the QR code, confirm, turn off). The engine keeps the secret and
//! checks codes; the gateway draws the QR code of the pending enrolment's `otpauth://` URI.

use std::borrow::Cow;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use budgetsmart_proto::engine::v1 as pb;
use qrcode::QrCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use super::auth::TokenJson;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::json;
use crate::limits::ClientIp;
use crate::openapi::problems;
use crate::state::AppState;

/// The login's second step: its `mfa_token` and one of `code` and `recovery_code`. Unknown
/// fields are refused, as the schema (two closed alternatives) says.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaBody {
    mfa_token: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    recovery_code: String,
}

impl utoipa::PartialSchema for MfaBody {
    fn schema() -> RefOr<Schema> {
        let mfa_token = json!({"type": "string", "minLength": 1, "maxLength": 200,
            "description": "The `mfa_token` of the login's answer."});
        with_code_or_recovery_code(
            "The login's `mfa_token`, and the app's `code` or a `recovery_code`",
            "mfa_token",
            mfa_token,
        )
    }
}

impl utoipa::ToSchema for MfaBody {
    fn name() -> Cow<'static, str> {
        "MfaProof".into()
    }
}

/// A body of `field` and one proof of the second factor: the app's `code` or a
/// `recovery_code`, never both (two closed alternatives).
fn with_code_or_recovery_code(description: &str, field: &str, schema: serde_json::Value) -> RefOr<Schema> {
    let alternative = |title: &str, proof: &str, proof_schema: serde_json::Value| {
        json!({"type": "object", "title": title, "required": [field, proof],
            "properties": {field: schema.clone(), proof: proof_schema},
            "additionalProperties": false})
    };
    json::one_of(
        description,
        [
            alternative("A code of the app", "code", code_schema()),
            alternative("A recovery code", "recovery_code", recovery_code_schema()),
        ],
    )
}

/// The six digits an app shows; spaces people type between them are ignored.
fn code_schema() -> serde_json::Value {
    json!({"type": "string", "pattern": r"^\s*\d{3}\s?\d{3}\s*$", "example": "123456",
        "description": "The six digits the app shows now."})
}

fn recovery_code_schema() -> serde_json::Value {
    json!({"type": "string", "pattern": r"\S", "maxLength": 40, "example": "k7qm2-x9fa4",
        "description": "One of the recovery codes given at enrolment, when the app is lost; each works once."})
}

/// A new enrolment: type `secret` into the app, or scan the QR code of `otpauth_uri`.
#[derive(Serialize, ToSchema)]
#[schema(as = TotpEnrolment)]
pub struct EnrolmentJson {
    /// Base32, for typing into the app.
    #[schema(example = "JBSWY3DPEHPK3PXP7ZQOK4KNMFXGS2LE")]
    secret: String,
    #[schema(
        example = "otpauth://totp/BudgetSmart:ana%40example.com?secret=JBSWY3DPEHPK3PXP7ZQOK4KNMFXGS2LE&issuer=BudgetSmart"
    )]
    otpauth_uri: String,
    /// The QR code as SVG (needs the bearer token).
    qr_svg_url: String,
    /// The QR code as PNG (needs the bearer token).
    qr_png_url: String,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = TotpConfirmation)]
pub struct ConfirmBody {
    /// The six digits the app shows now.
    #[schema(pattern = r"^\s*\d{3}\s?\d{3}\s*$", example = "123456")]
    code: String,
}

/// The recovery codes: shown this once; each signs in once without the app.
#[derive(Serialize, ToSchema)]
#[schema(as = RecoveryCodes)]
pub struct RecoveryCodesJson {
    #[schema(min_items = 10, max_items = 10)]
    recovery_codes: Vec<String>,
}

/// Turning two-factor sign-in off: the password and one of `code` and `recovery_code`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisableBody {
    password: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    recovery_code: String,
}

impl utoipa::PartialSchema for DisableBody {
    fn schema() -> RefOr<Schema> {
        let password = json!({"type": "string", "format": "password", "minLength": 1,
            "description": "The account's password."});
        with_code_or_recovery_code(
            "The password, and the app's `code` or a `recovery_code`",
            "password",
            password,
        )
    }
}

impl utoipa::ToSchema for DisableBody {
    fn name() -> Cow<'static, str> {
        "TotpRemoval".into()
    }
}

/// Complete a login with a second factor.
///
/// Give the login's `mfa_token` and either the app's `code` (accepted for the current 30-second
/// step and one either side, once) or a `recovery_code`. A wrong, expired or used token and a
/// wrong or reused code are refused alike with 401; wrong codes are throttled like passwords.
#[utoipa::path(
    post,
    path = "/auth/mfa",
    tag = "auth",
    operation_id = "complete_mfa",
    request_body(content = MfaBody, content_type = "application/json"),
    responses(
        (status = 200, description = "A new session", body = TokenJson),
        problems::JsonBody,
        problems::BadCredentials,
    )
)]
pub async fn complete(
    State(state): State<AppState>,
    axum::Extension(ClientIp(client)): axum::Extension<ClientIp>,
    ApiJson(body): ApiJson<MfaBody>,
) -> Result<Json<TokenJson>, ApiError> {
    let request = pb::CompleteMfaRequest {
        mfa_token: body.mfa_token,
        code: body.code,
        recovery_code: body.recovery_code,
        client_ip: client.to_string(),
    };
    Ok(Json(state.engine.auth.clone().complete_mfa(request).await?.into_inner().into()))
}

/// Start enrolling a TOTP app.
///
/// Not active until a code confirms it (`POST /me/mfa/totp/confirm`); starting again replaces
/// an unconfirmed enrolment. 409 when two-factor sign-in is already on.
#[utoipa::path(
    post,
    path = "/me/mfa/totp",
    tag = "me",
    operation_id = "start_totp",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The secret, its URI and its QR code", body = EnrolmentJson),
        problems::Conflict,
    )
)]
pub async fn start(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<(StatusCode, Json<EnrolmentJson>), ApiError> {
    let enrolment = state.engine.users.clone().start_totp(pb::StartTotpRequest {}).await?.into_inner();
    Ok((
        StatusCode::CREATED,
        Json(EnrolmentJson {
            secret: enrolment.secret,
            otpauth_uri: enrolment.otpauth_uri,
            qr_svg_url: "/api/v1/me/mfa/totp/qr.svg".into(),
            qr_png_url: "/api/v1/me/mfa/totp/qr.png".into(),
        }),
    ))
}

/// The pending enrolment's QR code, as SVG.
///
/// 404 when no enrolment waits for its confirmation: once on, the secret is not shown again.
#[utoipa::path(
    get,
    path = "/me/mfa/totp/qr.svg",
    tag = "me",
    operation_id = "totp_qr_svg",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The QR code", body = String, content_type = "image/svg+xml"),
        problems::NotFound,
    )
)]
pub async fn qr_svg(State(state): State<AppState>, _user: AuthUser) -> Result<Response, ApiError> {
    let code = pending_qr(&state).await?;
    let svg =
        code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(240, 240).quiet_zone(true).build();
    Ok(([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "no-store")], svg).into_response())
}

/// The pending enrolment's QR code, as PNG.
///
/// 404 when no enrolment waits for its confirmation.
#[utoipa::path(
    get,
    path = "/me/mfa/totp/qr.png",
    tag = "me",
    operation_id = "totp_qr_png",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The QR code: a PNG image", content(("image/png"))),
        problems::NotFound,
    )
)]
pub async fn qr_png(State(state): State<AppState>, _user: AuthUser) -> Result<Response, ApiError> {
    let code = pending_qr(&state).await?;
    let png = png_of(&code).map_err(|e| internal(&format!("QR code PNG: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "no-store")], png).into_response())
}

async fn pending_qr(state: &AppState) -> Result<QrCode, ApiError> {
    let enrolment = state.engine.users.clone().pending_totp(pb::PendingTotpRequest {}).await?.into_inner();
    QrCode::new(enrolment.otpauth_uri.as_bytes())
        .map_err(|e| internal(&format!("QR code of the otpauth URI: {e}")))
}

/// A fault of ours, logged; the client learns only that it happened.
fn internal(what: &str) -> ApiError {
    tracing::error!(error = %what, "cannot draw the QR code");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

/// Black modules on white, 8 pixels each, with the 4-module quiet zone scanners need.
fn png_of(code: &QrCode) -> Result<Vec<u8>, png::EncodingError> {
    const SCALE: usize = 8;
    const QUIET: usize = 4;
    let modules = code.width();
    let side = (modules + 2 * QUIET) * SCALE;
    let colors = code.to_colors();
    let mut pixels = vec![255u8; side * side];
    for (index, color) in colors.iter().enumerate() {
        if *color != qrcode::Color::Dark {
            continue;
        }
        let (x, y) = ((index % modules + QUIET) * SCALE, (index / modules + QUIET) * SCALE);
        for row in y..y + SCALE {
            pixels[row * side + x..row * side + x + SCALE].fill(0);
        }
    }
    let mut out = Vec::new();
    let side = u32::try_from(side).unwrap_or(u32::MAX);
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&pixels)?;
    Ok(out)
}

/// Turn two-factor sign-in on with a code from the app.
///
/// Answers the ten recovery codes, shown this once. 409 when no enrolment waits.
#[utoipa::path(
    post,
    path = "/me/mfa/totp/confirm",
    tag = "me",
    operation_id = "confirm_totp",
    security(("bearer" = [])),
    request_body(content = ConfirmBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Two-factor sign-in is on", body = RecoveryCodesJson),
        problems::JsonBody,
        problems::Conflict,
    )
)]
pub async fn confirm(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiJson(body): ApiJson<ConfirmBody>,
) -> Result<Json<RecoveryCodesJson>, ApiError> {
    let codes = state.engine.users.clone().confirm_totp(pb::ConfirmTotpRequest { code: body.code }).await?;
    Ok(Json(RecoveryCodesJson { recovery_codes: codes.into_inner().recovery_codes }))
}

/// Turn two-factor sign-in off.
///
/// Needs the password and a code from the app (or a recovery code). 409 when it is not on.
#[utoipa::path(
    delete,
    path = "/me/mfa/totp",
    tag = "me",
    operation_id = "disable_totp",
    security(("bearer" = [])),
    request_body(content = DisableBody, content_type = "application/json"),
    responses(
        (status = 204, description = "Two-factor sign-in is off"),
        problems::JsonBody,
        problems::Conflict,
    )
)]
pub async fn disable(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiJson(body): ApiJson<DisableBody>,
) -> Result<StatusCode, ApiError> {
    let request = pb::DisableTotpRequest {
        password: body.password,
        code: body.code,
        recovery_code: body.recovery_code,
    };
    state.engine.users.clone().disable_totp(request).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_png_is_the_codes_modules_with_a_quiet_zone() {
        let code =
            QrCode::new(b"otpauth://totp/BudgetSmart:ana%40example.com?secret=GEZDGNBV").expect("fits");
        let png = png_of(&code).expect("encodes");
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().expect("a PNG");
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).expect("a frame");
        let side = (code.width() + 8) * 8;
        assert_eq!((info.width as usize, info.height as usize), (side, side));
        // The quiet zone is white; the finder pattern's corner module is black.
        assert!(pixels[..side * 32].iter().all(|p| *p == 255));
        assert_eq!(pixels[32 * side + 32], 0);
    }
}
