//! The backend JWT: registered claims around the mapped identity, the client certificate chain
//! claim, and the signature by the keyset's active key.
//!
//! Claims, in this order: `iss` (auth_token.issuer), `sub` (from the mapping's subject, if any),
//! `aud` (the mapping's audience, a string), `iat` (now), `exp` (now + lifetime_seconds), `jti`
//! (16 random bytes, base64url), then the mapped claims in mapping order, then the certificate
//! chain claim. No `nbf`: a backend whose clock lags would refuse a token valid from "now".
//! Mapped claims with registered names are dropped (the mapping already drops them).

use std::num::{NonZeroU64, NonZeroUsize};
use std::sync::Arc;

use base64::Engine;
use serde_json::{Map, Value};

use crate::config::{AuthToken, IdentityMapping};
use crate::identity_mapping::is_reserved;
use crate::keyset::SigningKey;

/// Building or signing a backend JWT failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error("identity_mapping \"{mapping}\": {problem}")]
    Config {
        mapping: String,
        problem: &'static str,
    },
    #[error("signing the backend JWT failed: {0}")]
    Signing(jose::Error),
    #[error("no random bytes for jti: {0}")]
    Random(jose::Error),
}

/// Where the client certificate chain goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateClaim {
    /// The claim name (used literally: no dot notation).
    pub name: String,
    /// How many certificates, leaf first (1 = just the leaf). Zero is not representable: a
    /// mapping that wants no certificate has no certificate claim.
    pub max_depth: NonZeroUsize,
}

/// What one identity mapping's JWTs carry besides the mapped claims. Built once per mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenProfile {
    issuer: String,
    audience: String,
    lifetime_seconds: NonZeroU64,
    certificate_claim: Option<CertificateClaim>,
}

impl TokenProfile {
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        lifetime_seconds: NonZeroU64,
    ) -> TokenProfile {
        TokenProfile {
            issuer: issuer.into(),
            audience: audience.into(),
            lifetime_seconds,
            certificate_claim: None,
        }
    }

    #[must_use]
    pub fn with_certificate_claim(mut self, claim: CertificateClaim) -> TokenProfile {
        self.certificate_claim = Some(claim);
        self
    }

    /// The profile of a configured mapping (which `check::check` has accepted).
    pub fn from_config(
        auth_token: &AuthToken,
        mapping: &IdentityMapping,
    ) -> Result<TokenProfile, TokenError> {
        let problem = |problem| TokenError::Config {
            mapping: mapping.name.clone(),
            problem,
        };
        let audience = mapping
            .audience
            .as_deref()
            .filter(|a| !a.trim().is_empty())
            .ok_or_else(|| problem("audience is required"))?;
        let lifetime = NonZeroU64::new(mapping.lifetime_seconds)
            .ok_or_else(|| problem("lifetime_seconds must be at least 1"))?;
        let mut profile = TokenProfile::new(&auth_token.issuer, audience, lifetime);
        if let Some(name) = &mapping.client_certificate_jwt_claim_name {
            let max_depth = usize::try_from(mapping.max_depth)
                .ok()
                .and_then(NonZeroUsize::new)
                .ok_or_else(|| problem("max_depth must be at least 1"))?;
            profile = profile.with_certificate_claim(CertificateClaim {
                name: name.clone(),
                max_depth,
            });
        }
        Ok(profile)
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    pub fn lifetime_seconds(&self) -> u64 {
        self.lifetime_seconds.get()
    }
}

/// The client certificate chain as RFC 7515 `x5c` values: standard base64 (with padding, not
/// base64url) of each DER certificate, leaf first, at most `max_depth` of them.
pub fn certificate_chain(chain: &[impl AsRef<[u8]>], max_depth: NonZeroUsize) -> Vec<Value> {
    chain
        .iter()
        .take(max_depth.get())
        .map(|der| Value::String(base64::engine::general_purpose::STANDARD.encode(der)))
        .collect()
}

/// The claims that identify the user to the backend: the mapping's output plus, when the
/// profile has a certificate claim and the client presented certificates, the chain (which
/// replaces a mapped claim of the same name; a registered name is never written). This is what
/// the JWT cache digests.
pub fn identity_claims(
    profile: &TokenProfile,
    mut mapped: Map<String, Value>,
    client_chain: &[impl AsRef<[u8]>],
) -> Map<String, Value> {
    if let Some(claim) = &profile.certificate_claim {
        if !client_chain.is_empty() && !is_reserved(&claim.name) {
            let chain = certificate_chain(client_chain, claim.max_depth);
            mapped.insert(claim.name.clone(), Value::Array(chain));
        }
    }
    mapped
}

/// The full claims set: registered claims first (see the module documentation), then the
/// identity claims.
pub fn claims(
    profile: &TokenProfile,
    identity: &Map<String, Value>,
    now: i64,
    jti: &str,
) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("iss".into(), profile.issuer.clone().into());
    if let Some(sub) = identity.get("sub") {
        claims.insert("sub".into(), sub.clone());
    }
    claims.insert("aud".into(), profile.audience.clone().into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), expiry(profile, now).into());
    claims.insert("jti".into(), jti.into());
    for (name, value) in identity {
        if !is_reserved(name) {
            claims.insert(name.clone(), value.clone());
        }
    }
    claims
}

fn expiry(profile: &TokenProfile, now: i64) -> i64 {
    now.saturating_add(i64::try_from(profile.lifetime_seconds.get()).unwrap_or(i64::MAX))
}

/// A fresh `jti`: 16 random bytes, base64url.
pub fn new_jti() -> Result<String, TokenError> {
    let mut bytes = [0u8; 16];
    jose::key::random_bytes(&mut bytes).map_err(TokenError::Random)?;
    Ok(jose::b64::encode(bytes))
}

/// Signs claims with a keyset key: header `{"alg", "typ": "JWT", "kid"}`.
pub fn sign(claims: &Map<String, Value>, key: &SigningKey) -> Result<String, TokenError> {
    key.signer()
        .sign_claims(claims)
        .map_err(TokenError::Signing)
}

/// A signed backend JWT and what the cache needs to know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedJwt {
    pub token: Arc<str>,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// Builds and signs the backend JWT for `identity` (see [`identity_claims`]) at `now`.
pub fn issue(
    profile: &TokenProfile,
    identity: &Map<String, Value>,
    now: i64,
    key: &SigningKey,
) -> Result<IssuedJwt, TokenError> {
    let claims = claims(profile, identity, now, &new_jti()?);
    Ok(IssuedJwt {
        token: Arc::from(sign(&claims, key)?),
        issued_at: now,
        expires_at: expiry(profile, now),
    })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;
    use crate::keyset::Keyset;
    use crate::test_support::object;
    use serde_json::json;

    const NOW: i64 = 1_764_000_000;

    fn profile() -> TokenProfile {
        TokenProfile::new("signet", "orders-api", NonZeroU64::new(300).unwrap())
    }

    fn depth(n: usize) -> NonZeroUsize {
        NonZeroUsize::new(n).unwrap()
    }

    #[test]
    fn registered_claims_come_first_and_mapped_ones_follow_in_order() {
        let identity =
            object(json!({"email": "u@example.com", "sub": "user-1", "address": {"city": "X"}}));
        let claims = claims(&profile(), &identity, NOW, "j-1");
        assert_eq!(
            serde_json::to_string(&claims).unwrap(),
            r#"{"iss":"signet","sub":"user-1","aud":"orders-api","iat":1764000000,"exp":1764000300,"jti":"j-1","email":"u@example.com","address":{"city":"X"}}"#
        );
    }

    #[test]
    fn registered_names_in_the_identity_never_override() {
        let identity = object(
            json!({"iss": "evil", "aud": "x", "exp": 9, "iat": 1, "nbf": 1, "jti": "j", "name": "n"}),
        );
        let claims = claims(&profile(), &identity, NOW, "j-1");
        assert_eq!(
            Value::Object(claims),
            json!({"iss": "signet", "aud": "orders-api", "iat": NOW, "exp": NOW + 300, "jti": "j-1", "name": "n"})
        );
    }

    #[test]
    fn certificate_chain_is_standard_base64_cut_at_max_depth() {
        let chain = [vec![0xfbu8, 0xff, 0x01], vec![2u8], vec![3u8]];
        assert_eq!(certificate_chain(&chain, depth(1)), [json!("+/8B")]);
        assert_eq!(
            certificate_chain(&chain, depth(2)),
            [json!("+/8B"), json!("Ag==")]
        );
        assert_eq!(certificate_chain(&chain, depth(10)).len(), 3);
        assert!(certificate_chain(&[] as &[Vec<u8>], depth(1)).is_empty());
    }

    #[test]
    fn identity_claims_add_the_chain_only_when_configured_and_present() {
        let chain = [b"leaf".to_vec(), b"ca".to_vec()];
        let mapped = object(json!({"sub": "u", "x5c": "mapped"}));
        let with_claim = profile().with_certificate_claim(CertificateClaim {
            name: "x5c".into(),
            max_depth: depth(1),
        });
        assert_eq!(
            Value::Object(identity_claims(&with_claim, mapped.clone(), &chain)),
            json!({"sub": "u", "x5c": ["bGVhZg=="]})
        );
        let none: &[Vec<u8>] = &[];
        assert_eq!(identity_claims(&with_claim, mapped.clone(), none), mapped);
        assert_eq!(identity_claims(&profile(), mapped.clone(), &chain), mapped);
        let reserved = profile().with_certificate_claim(CertificateClaim {
            name: "sub".into(),
            max_depth: depth(1),
        });
        assert_eq!(identity_claims(&reserved, mapped.clone(), &chain), mapped);
    }

    #[test]
    fn profile_from_config_requires_audience_lifetime_and_depth() {
        let auth = AuthToken::default();
        let mut mapping = IdentityMapping {
            name: "m".into(),
            audience: Some("api".into()),
            client_certificate_jwt_claim_name: Some("x5c".into()),
            max_depth: 2,
            ..IdentityMapping::default()
        };
        let p = TokenProfile::from_config(&auth, &mapping).unwrap();
        assert_eq!(
            (p.issuer(), p.audience(), p.lifetime_seconds()),
            ("signet", "api", 300)
        );
        assert_eq!(p.certificate_claim.as_ref().unwrap().max_depth, depth(2));
        mapping.max_depth = 0;
        let err = TokenProfile::from_config(&auth, &mapping).unwrap_err();
        assert_eq!(
            err.to_string(),
            "identity_mapping \"m\": max_depth must be at least 1"
        );
        mapping.audience = None;
        assert!(TokenProfile::from_config(&auth, &mapping).is_err());
    }

    #[test]
    fn jti_is_fresh_base64url() {
        let (a, b) = (new_jti().unwrap(), new_jti().unwrap());
        assert_ne!(a, b);
        assert_eq!(jose::b64::decode(&a).unwrap().len(), 16);
    }

    #[test]
    fn issued_jwt_has_the_kid_header_and_verifies_against_the_jwks() {
        let dir = crate::test_support::TempDir::new("token");
        let path = dir.0.join("keys.json");
        let keyset = Keyset::load_or_create(&path, jose::Algorithm::ES256, None, NOW).unwrap();
        let key = keyset.active_signing_key(NOW);
        let identity = object(json!({"sub": "user-1", "groups": ["a"]}));
        let issued = issue(&profile(), &identity, NOW, key).unwrap();
        assert_eq!((issued.issued_at, issued.expires_at), (NOW, NOW + 300));

        let (set, _) = jose::KeySet::from_jwks_json(&keyset.jwks(NOW).body).unwrap();
        let validation = jose::Validation {
            now: Some(NOW + 10),
            issuers: vec!["signet".into()],
            audiences: vec!["orders-api".into()],
            typ: Some("JWT".into()),
            ..jose::Validation::default()
        };
        let jwt = jose::Verifier::new(set)
            .verify_jwt(&issued.token, &validation)
            .unwrap();
        assert_eq!(
            Value::Object(jwt.header),
            json!({"alg": "ES256", "typ": "JWT", "kid": &**key.kid()})
        );
        assert_eq!(jwt.claims["sub"], "user-1");
        assert_eq!(jwt.claims["groups"], json!(["a"]));
        assert!(jwt.claims["jti"].is_string());
    }
}
