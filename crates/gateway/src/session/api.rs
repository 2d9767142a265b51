//! `api` sessions: the `Authorization: Bearer` token of `[api_session]`'s issuer, verified with
//! `jose` (issuer and audience checked), its claims the user's attributes. A connection keeps its
//! last token verified ([`Memo`]) with what was mapped from it, so a kept-alive client's next
//! request costs a clock check, not a signature check.

use std::sync::Arc;

use hyper::header::{self, HeaderMap, HeaderValue};
use jose::Validation;
use serde_json::{Map, Value};

use crate::http::headers::bearer_token;
use crate::http::respond::Failure;
use crate::identity::{cached_jwt, mapped_value};
use crate::identity_mapping;
use crate::keyset::Keyset;
use crate::metrics::MetricsShard;
use crate::routes::{Route, Routes};
use crate::token;
use crate::token_cache::VerifiedToken;

/// Why an `api` session's request is not let through.
#[derive(Debug)]
pub enum ApiError {
    /// Answer this.
    Refused(Failure),
    /// The token names a key the issuer's JWK Set (of `generation`) does not have: the issuer may
    /// have rotated its key, so fetch the set again and retry once.
    UnknownKid { kid: String, generation: u64 },
}

impl From<Failure> for ApiError {
    fn from(f: Failure) -> ApiError {
        ApiError::Refused(f)
    }
}

/// A check of a token's claims (the application's access rules).
pub type ClaimsCheck<'a> = dyn Fn(&Map<String, Value>) -> Result<(), Failure> + Sync + 'a;

/// What an `api` session's request is checked against.
pub struct ApiRequest<'a> {
    pub routes: &'a Routes,
    /// The generation `routes` was read at (a memo of another generation is stale).
    pub routes_generation: u64,
    pub route_index: usize,
    pub route: &'a Route,
    /// The connection's verified client-certificate chain.
    pub chain: &'a [Vec<u8>],
    pub keyset: &'a Keyset,
    pub metrics: &'a MetricsShard,
    pub now: i64,
    /// The application's access rules over the token's claims (before any JWT is signed).
    pub rules: &'a ClaimsCheck<'a>,
}

/// An `api` session's request: the bearer token verified (or the connection's last token,
/// its claims validated again against the clock) and, with a mapping, the mapped header
/// value. `Err` is what to answer instead (`401`, or `500` when signing fails).
pub fn authenticate(
    memo_slot: &mut Option<Memo>,
    r: &ApiRequest<'_>,
    headers: &HeaderMap,
) -> Result<Option<HeaderValue>, ApiError> {
    let now = r.now;
    let routes = r.routes;
    let Some(api) = &routes.api else {
        return Err(Failure::Unauthorized("no api session is configured".into()).into());
    };
    let required = || ApiError::from(Failure::Unauthorized("a bearer token is required".into()));
    let authorization = headers.get(header::AUTHORIZATION).ok_or_else(required)?;
    let verifier_generation = api.generation();
    let still_valid = match memo_slot {
        Some(memo)
            if memo.routes_generation == r.routes_generation
                && memo.verifier_generation == verifier_generation
                && *memo.authorization == *authorization.as_bytes() =>
        {
            memo.validation.now = Some(now);
            jose::jwt::validate(
                &memo.verified.header,
                &memo.verified.claims,
                &memo.validation,
            )
            .is_ok()
        }
        _ => false,
    };
    if !still_valid {
        *memo_slot = None;
        let token = bearer_token(headers).ok_or_else(required)?;
        let validation = Validation {
            now: Some(now),
            ..api.validation.clone()
        };
        match api.tokens.verify(&api.verifier(), token, &validation) {
            Ok(verified) => {
                *memo_slot = Some(Memo {
                    authorization: authorization.as_bytes().into(),
                    routes_generation: r.routes_generation,
                    verifier_generation,
                    verified,
                    validation,
                    mapped: None,
                })
            }
            Err(jose::Error::UnknownKid(kid)) => {
                return Err(ApiError::UnknownKid {
                    kid,
                    generation: verifier_generation,
                })
            }
            Err(e) => {
                return Err(
                    Failure::Unauthorized(format!("the bearer token is not valid: {e}")).into(),
                )
            }
        }
    }
    if let Some(memo) = memo_slot.as_ref() {
        (r.rules)(&memo.verified.claims)?;
    }
    let (Some(m), Some(memo)) = (&r.route.mapping, memo_slot.as_mut()) else {
        return Ok(None);
    };
    let mapped = match &mut memo.mapped {
        Some(mapped) if mapped.route == r.route_index => mapped,
        slot => {
            let attributes = identity_mapping::apply(&m.mapping, &memo.verified.claims);
            slot.insert(MappedMemo {
                route: r.route_index,
                identity: token::identity_claims(&m.profile, attributes, r.chain),
                jwt: None,
            })
        }
    };
    let key = r.keyset.active_signing_key(now);
    if !m.cache {
        return match token::issue(&m.profile, &mapped.identity, now, key) {
            Ok(jwt) => Ok(mapped_value(m, &jwt.token)),
            Err(e) => Err(Failure::Token(e.to_string()).into()),
        };
    }
    if let Some(jwt) = &mapped.jwt {
        if now < jwt.renew_at && jwt.kid == *key.kid() {
            r.metrics.cache_hit();
            return Ok(Some(jwt.value.clone()));
        }
    }
    let (jwt, renew_at) = cached_jwt(&routes.cache, m, &mapped.identity, key, now, r.metrics)
        .map_err(|e| ApiError::from(Failure::Token(e.to_string())))?;
    let value = mapped_value(m, &jwt);
    mapped.jwt = value.clone().map(|value| MemoJwt {
        value,
        kid: key.kid().clone(),
        renew_at,
    });
    Ok(value)
}

/// The last bearer token of this connection, verified, with what was mapped from it. It is used
/// only while the routing table and the upstream keys are the ones it was made with, and its
/// claims are validated against the clock on every request.
pub struct Memo {
    /// The `Authorization` header that carried it, byte for byte.
    authorization: Box<[u8]>,
    routes_generation: u64,
    verifier_generation: u64,
    verified: Arc<VerifiedToken>,
    /// The `[api_session]` checks; `now` is set per request.
    validation: Validation,
    mapped: Option<MappedMemo>,
}

/// The identity claims of the memo's token for one application's mapping (the connection's
/// client certificate, if any, included), and the cached JWT for them.
struct MappedMemo {
    route: usize,
    identity: Map<String, Value>,
    jwt: Option<MemoJwt>,
}

/// A JWT from the JWT cache, reused until its renewal time or until the signing key changes.
struct MemoJwt {
    value: HeaderValue,
    kid: Arc<str>,
    renew_at: i64,
}
