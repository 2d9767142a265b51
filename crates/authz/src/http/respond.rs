//! The answers: JSON with `Cache-Control: no-store`, PingOne's error envelope (`ApiError` is an
//! axum response), OAuth's token errors, redirects and `form_post` pages.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::config::Limits;
use crate::error::ApiError;
use crate::flow::{Flow, FlowError, Status};
use crate::oauth::{Refusal, ResponseMode, TokenError};
use crate::random::{self, SystemRandom};

pub(super) const FLOW_CONTENT_TYPE: &str = "application/hal+json;charset=UTF-8";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        envelope(&self)
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        token_error(&self)
    }
}

pub(super) fn json_response(status: u16, content_type: &'static str, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

pub(super) fn flow_response(body: &Value) -> Response {
    json_response(200, FLOW_CONTENT_TYPE, body)
}

/// PingOne's error envelope, with a fresh `id`.
pub(super) fn envelope(e: &ApiError) -> Response {
    let id = random::uuid(&mut SystemRandom).unwrap_or_default();
    json_response(e.status, "application/json", &e.to_json(&id))
}

pub(super) fn token_error(e: &TokenError) -> Response {
    let mut r = json_response(e.status, "application/json", &e.to_json());
    if e.status == 401 {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"signet authz\""),
        );
    }
    r
}

pub(super) fn random_failed(e: jose::Error) -> ApiError {
    ApiError::internal(format!("the random generator failed: {e}"))
}

pub(super) fn flow_not_found(id: &str, limits: &Limits) -> ApiError {
    ApiError::not_found(
        "flowId",
        format!(
            "flow \"{id}\" does not exist or has expired (flows expire after {} s without activity)",
            limits.flow_idle_timeout_ms / 1000
        ),
    )
}

/// How a flow error is reported.
pub(super) fn flow_error(e: &FlowError) -> ApiError {
    let msg = e.to_string();
    match e {
        FlowError::UnknownAction(_) => ApiError::new(
            400,
            "INVALID_REQUEST",
            "The request could not be completed.",
        )
        .detail("INVALID_VALUE", "Content-Type", msg),
        FlowError::NotAllowed { action, .. } => ApiError::request_failed(*action, msg),
        FlowError::Body { field, .. } => ApiError::invalid_value(*field, msg),
        // PingOne's detail code for a wrong username or password, as recorded responses show it.
        FlowError::InvalidCredentials { remaining } => {
            ApiError::invalid("INVALID_CREDENTIALS", "password", msg)
                .inner(json!({ "failuresRemaining": remaining }))
        }
        FlowError::CredentialsExhausted => {
            ApiError::invalid("INVALID_CREDENTIALS", "password", msg)
                .inner(json!({ "failuresRemaining": 0 }))
        }
        FlowError::UnknownDevice(_) => ApiError::invalid_value("device.id", msg),
        FlowError::InvalidOtp { remaining } => ApiError::invalid("INVALID_OTP", "otp", msg)
            .inner(json!({ "failuresRemaining": remaining })),
        FlowError::OtpExhausted => {
            ApiError::invalid("INVALID_OTP", "otp", msg).inner(json!({ "failuresRemaining": 0 }))
        }
        FlowError::Template(_) => ApiError::invalid_value("pi.template", msg),
        FlowError::UserGone(_) => ApiError::request_failed("user", msg),
        FlowError::Random(_) => ApiError::internal(msg),
        FlowError::NoSuchUser(_) => ApiError::invalid_value("username", msg),
        FlowError::WeakPassword => ApiError::invalid_value("newPassword", msg),
        FlowError::WrongCurrentPassword => ApiError::invalid_value("currentPassword", msg),
        FlowError::InvalidCode { what } => ApiError::invalid(
            "INVALID_VALUE",
            if *what == "recovery" {
                "recoveryCode"
            } else {
                "verificationCode"
            },
            msg,
        ),
        FlowError::UsernameTaken(_) => ApiError::invalid("UNIQUENESS_VIOLATION", "username", msg),
        FlowError::NoEmail(_) => ApiError::request_failed("email", msg),
        FlowError::LockedOut { seconds } => {
            ApiError::invalid("PASSWORD_LOCKED_OUT", "password", msg)
                .inner(json!({ "secondsUntilUnlock": seconds }))
        }
    }
}

pub(super) fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (
            StatusCode::FOUND,
            [
                (header::LOCATION, v),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => envelope(&ApiError::internal(
            "the redirect URI is not a valid header",
        )),
    }
}

/// The authorization response to the client: 302 with the parameters in the query or the
/// fragment, or an auto-submitting HTML form for form_post.
pub(super) fn reply(redirect_uri: &str, mode: ResponseMode, params: &[(&str, &str)]) -> Response {
    if mode == ResponseMode::FormPost {
        let inputs: String = params
            .iter()
            .map(|(k, v)| {
                format!(
                    "<input type=\"hidden\" name=\"{}\" value=\"{}\"/>",
                    html(k),
                    html(v)
                )
            })
            .collect();
        let page = format!(
            "<!DOCTYPE html><html><head><title>Submit this form</title></head>\
             <body onload=\"document.forms[0].submit()\"><form method=\"post\" action=\"{}\">{inputs}\
             <noscript><button type=\"submit\">Continue</button></noscript></form></body></html>",
            html(redirect_uri)
        );
        return (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/html;charset=UTF-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            page,
        )
            .into_response();
    }
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let sep = match mode {
        ResponseMode::Fragment => '#',
        _ if redirect_uri.contains('?') => '&',
        _ => '?',
    };
    redirect(&format!("{redirect_uri}{sep}{encoded}"))
}

pub(super) fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A refused authorize request: redirected to the client when trusted, else the envelope.
pub(super) fn refusal(r: Refusal) -> Response {
    match r.reply_to {
        Some(to) => {
            let description = r.error.description();
            let mut params = vec![
                ("error", r.error.oauth),
                ("error_description", description.as_str()),
            ];
            if let Some(s) = &to.state {
                params.push(("state", s));
            }
            reply(&to.redirect_uri, to.mode, &params)
        }
        None => envelope(&r.error),
    }
}

/// A finished redirect-mode flow to its client: the code, or the OAuth error.
pub(super) fn finish_redirect(flow: &Flow) -> Response {
    let Some(uri) = flow.request.redirect_uri.as_deref() else {
        return envelope(&ApiError::request_failed(
            "redirect_uri",
            "the flow has no redirect_uri",
        ));
    };
    let mode = flow.request.response_mode;
    let mut params: Vec<(&str, &str)> = Vec::new();
    match (&flow.status, &flow.code, &flow.failure) {
        (Status::Completed, code, _) if code.is_some() || !flow.front_channel.is_empty() => {
            if let Some(code) = code {
                params.push(("code", code));
            }
            for (k, v) in &flow.front_channel {
                params.push((k, v));
            }
        }
        (_, _, Some(f)) => {
            params.push(("error", f.error));
            params.push(("error_description", &f.description));
        }
        _ => params.push(("error", "server_error")),
    }
    if let Some(s) = &flow.request.state {
        params.push(("state", s));
    }
    reply(uri, mode, &params)
}
