//! The identity a backend receives: the mapped claims signed into a JWT with the active key,
//! reused from the JWT cache when the mapping says so, and the header value that carries it.

use std::sync::Arc;

use hyper::header::HeaderValue;
use serde_json::{Map, Value};

use crate::identity_mapping;
use crate::jwt_cache::{self, CacheKey, JwtCache};
use crate::keyset::{Keyset, SigningKey};
use crate::metrics::MetricsShard;
use crate::routes::MappingRuntime;
use crate::token::{self, TokenError};

/// The JWT for these identity claims from the JWT cache (issued and cached on a miss), and
/// when it is due for renewal.
pub fn cached_jwt(
    cache: &JwtCache,
    m: &MappingRuntime,
    identity: &Map<String, Value>,
    key: &SigningKey,
    now: i64,
    metrics: &MetricsShard,
) -> Result<(Arc<str>, i64), TokenError> {
    let cache_key = CacheKey::new(
        m.mapping.name().clone(),
        jwt_cache::claims_digest(identity),
        key.kid().clone(),
    );
    if let Some(found) = cache.get_with_renewal(&cache_key, now) {
        metrics.cache_hit();
        return Ok(found);
    }
    metrics.cache_miss();
    let jwt = token::issue(&m.profile, identity, now, key)?;
    cache.insert(cache_key, &jwt);
    Ok((
        jwt.token,
        jwt_cache::renew_at(jwt.issued_at, jwt.expires_at),
    ))
}

/// The mapped JWT for these attributes (a `web` session's), cached when the mapping says so.
pub fn mapped_jwt(
    cache: &JwtCache,
    m: &MappingRuntime,
    attributes: &Map<String, Value>,
    chain: &[Vec<u8>],
    keyset: &Keyset,
    now: i64,
    metrics: &MetricsShard,
) -> Result<Arc<str>, TokenError> {
    let mapped = identity_mapping::apply(&m.mapping, attributes);
    let identity = token::identity_claims(&m.profile, mapped, chain);
    let key = keyset.active_signing_key(now);
    if !m.cache {
        return token::issue(&m.profile, &identity, now, key).map(|jwt| jwt.token);
    }
    cached_jwt(cache, m, &identity, key, now, metrics).map(|(jwt, _)| jwt)
}

/// The header value for a mapped JWT (`Bearer …` when mapped as a bearer token).
pub fn mapped_value(m: &MappingRuntime, jwt: &str) -> Option<HeaderValue> {
    if m.bearer {
        HeaderValue::from_str(&format!("Bearer {jwt}")).ok()
    } else {
        HeaderValue::from_str(jwt).ok()
    }
}
