//! The request object (`request=`): a JWT carrying authorize parameters with integrity,
//! notably for transaction approval. Claims `iss` (application id), `aud`, optional
//! `pi.template {name, variant?, variables{}}`, `pi.clientContext {}` (keys are literal, dots
//! included), `pi.remoteIp`, optional `sub`. Signed with the client secret (HS256/384/512) or
//! the application's registered key (RS256/384/512); unsigned only where the application allows.

use std::net::IpAddr;

use jose::jws::Signer;
use jose::{Algorithm, Key, KeyKind};
use serde_json::{Map, Value};

use crate::app::{Application, Expected};
use crate::check;
use crate::error::{Error, Profile, UnsignedRefusal};
use crate::Token;

/// Algorithms keyed with the client secret.
pub const HMAC_ALGORITHMS: [Algorithm; 3] = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];
/// Algorithms keyed with the application's registered RSA key.
pub const RSA_ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512];
/// Every algorithm PingOne accepts for a signed request object.
pub const ALGORITHMS: [Algorithm; 6] = [
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
];

pub const TEMPLATE: &str = "pi.template";
pub const CLIENT_CONTEXT: &str = "pi.clientContext";
pub const REMOTE_IP: &str = "pi.remoteIp";

/// A notification template and the values of its `${variables}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    pub name: String,
    pub variant: Option<String>,
    pub variables: Map<String, Value>,
}

impl Template {
    fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), self.name.clone().into());
        if let Some(v) = &self.variant {
            m.insert("variant".into(), v.clone().into());
        }
        m.insert("variables".into(), Value::Object(self.variables.clone()));
        Value::Object(m)
    }

    fn from_value(v: &Value) -> Result<Template, Error> {
        let obj = v
            .as_object()
            .ok_or_else(|| claim_type(TEMPLATE, "an object"))?;
        let name = match obj.get("name") {
            None => return Err(Error::MissingClaim(format!("{TEMPLATE}.name"))),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => return Err(claim_type("pi.template.name", "a non-empty string")),
        };
        let variant = match obj.get("variant") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(claim_type("pi.template.variant", "a string")),
        };
        let variables = match obj.get("variables") {
            None => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err(claim_type("pi.template.variables", "an object")),
        };
        Ok(Template {
            name,
            variant,
            variables,
        })
    }
}

fn claim_type(claim: &str, expected: &'static str) -> Error {
    Error::ClaimType {
        claim: claim.to_owned(),
        expected,
    }
}

/// What goes into a request object. `client_context` keys are used exactly as given: a key
/// like `alert.color` is one member, never a path.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Claims {
    pub client_id: String,
    /// The environment's issuer, e.g. `https://auth.pingone.com/{envId}/as`.
    pub audience: String,
    pub template: Option<Template>,
    pub client_context: Map<String, Value>,
    pub remote_ip: Option<String>,
    pub sub: Option<String>,
    pub issued_at: Option<i64>,
    pub expires_at: Option<i64>,
}

impl Claims {
    /// The claims set in the order of PingOne's documented example (aud, iss, pi.template,
    /// pi.clientContext), then pi.remoteIp, sub, iat, exp. Empty `pi.clientContext` is left out.
    pub fn to_map(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("aud".into(), self.audience.clone().into());
        m.insert("iss".into(), self.client_id.clone().into());
        if let Some(t) = &self.template {
            m.insert(TEMPLATE.into(), t.to_value());
        }
        if !self.client_context.is_empty() {
            m.insert(
                CLIENT_CONTEXT.into(),
                Value::Object(self.client_context.clone()),
            );
        }
        if let Some(ip) = &self.remote_ip {
            m.insert(REMOTE_IP.into(), ip.clone().into());
        }
        if let Some(sub) = &self.sub {
            m.insert("sub".into(), sub.clone().into());
        }
        if let Some(iat) = self.issued_at {
            m.insert("iat".into(), iat.into());
        }
        if let Some(exp) = self.expires_at {
            m.insert("exp".into(), exp.into());
        }
        m
    }
}

/// How a request object is protected.
#[derive(Debug, Clone, Copy)]
pub enum Protection<'k> {
    /// HS256/384/512 with the client secret, or RS256/384/512 with the application's key.
    Signed { key: &'k Key, alg: Algorithm },
    /// `alg: none`: only for applications that support unsigned request objects.
    UnsignedInsecure,
}

/// Builds a request object; header `{"alg":ALG,"typ":"JWT"}`, plus the key's `kid` if it has
/// one (so PingOne can pick the registered key).
pub fn build(claims: &Claims, protection: Protection<'_>) -> Result<Token, Error> {
    if let Some(ip) = &claims.remote_ip {
        remote_ip(ip)?;
    }
    let map = claims.to_map();
    let mut header = Map::new();
    match protection {
        Protection::UnsignedInsecure => {
            header.insert("typ".into(), "JWT".into());
            let payload = serde_json::to_vec(&map)
                .map_err(|e| Error::Signing(jose::Error::NotClaims(e.to_string())))?;
            let token = jose::jws::sign_unsecured_insecure(&header, &payload);
            // The header exactly as the token carries it.
            let header = check::decode(&token)?.header;
            Ok(Token {
                token,
                header,
                claims: map,
            })
        }
        Protection::Signed { key, alg } => {
            if !ALGORITHMS.contains(&alg) {
                return Err(check::not_allowed(
                    Profile::RequestObject,
                    alg.name(),
                    &ALGORITHMS,
                ));
            }
            header.insert("typ".into(), "JWT".into());
            if let Some(kid) = key.kid().filter(|_| alg.family() == jose::Family::Rsa) {
                header.insert("kid".into(), kid.into());
            }
            let signer = Signer::with_header(key.clone(), alg, header).map_err(Error::Key)?;
            let token = signer.sign_claims(&map).map_err(Error::Signing)?;
            Ok(Token {
                token,
                header: signer.header().clone(),
                claims: map,
            })
        }
    }
}

/// A request object that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestObject {
    pub client_id: String,
    /// The accepted audience the token's `aud` contains.
    pub audience: String,
    pub template: Option<Template>,
    /// `pi.clientContext`, keys exactly as sent (empty when absent).
    pub client_context: Map<String, Value>,
    pub remote_ip: Option<String>,
    pub sub: Option<String>,
    /// The signature algorithm; `None` for an unsigned (`alg: none`) request object.
    pub alg: Option<Algorithm>,
    pub header: Map<String, Value>,
    /// Every claim, as sent.
    pub claims: Map<String, Value>,
}

impl RequestObject {
    pub fn is_unsigned(&self) -> bool {
        self.alg.is_none()
    }
}

/// Checks a request object for `app`: application enabled, no `cty`/`enc`, the algorithm
/// (unsigned only if the application supports it and does not require signing), the
/// signature with the client secret (HS*) or a registered RSA key (RS*), `exp`/`nbf` when
/// present, `iss` = client id, `aud` accepted, and the shape of the `pi.*` claims.
pub fn validate(
    token: &str,
    app: &Application,
    expected: &Expected,
) -> Result<RequestObject, Error> {
    if !app.enabled {
        return Err(Error::ApplicationDisabled {
            client_id: app.client_id.clone(),
        });
    }
    let compact = check::decode(token)?;
    check::forbid_nesting(&compact.header)?;
    let alg = check::header_alg(&compact.header, Profile::RequestObject, &ALGORITHMS)?;
    let (header, payload) = match alg {
        None => {
            if app.require_signed_request_object {
                return Err(Error::UnsignedNotAllowed(UnsignedRefusal::SignedRequired));
            }
            if !app.support_unsigned_request_object {
                return Err(Error::UnsignedNotAllowed(UnsignedRefusal::NotSupported));
            }
            if !compact.signature.is_empty() {
                return Err(Error::UnsignedWithSignature);
            }
            jose::jws::check_crit(&compact.header, &[]).map_err(Error::Malformed)?;
            (compact.header, compact.payload)
        }
        Some(alg) => {
            let keys = if HMAC_ALGORITHMS.contains(&alg) {
                app.client_secret
                    .clone()
                    .ok_or_else(|| Error::NoClientSecret {
                        client_id: app.client_id.clone(),
                        alg: alg.name().into(),
                    })?
                    .into()
            } else {
                if !app.keys.keys().iter().any(|k| k.kind() == KeyKind::Rsa) {
                    return Err(Error::NoRegisteredKeys {
                        client_id: app.client_id.clone(),
                        alg: alg.name().into(),
                    });
                }
                app.keys.clone()
            };
            let verified = check::verify(token, keys, alg)?;
            (verified.header, verified.payload)
        }
    };
    let claims = check::claims(&payload)?;
    check::require(&claims, &["iss", "aud"])?;
    check::times(&header, &claims, expected)?;
    check::issuer(&claims, &app.client_id)?;
    let audience = check::audience(&claims, expected)?;
    let template = claims.get(TEMPLATE).map(Template::from_value).transpose()?;
    let client_context = match claims.get(CLIENT_CONTEXT) {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(claim_type(CLIENT_CONTEXT, "an object")),
    };
    let remote_ip = match claims.get(REMOTE_IP) {
        None => None,
        Some(Value::String(ip)) => Some(remote_ip(ip)?),
        Some(_) => return Err(claim_type(REMOTE_IP, "an IP address string")),
    };
    let sub = check::string(&claims, "sub")?.map(str::to_owned);
    Ok(RequestObject {
        client_id: app.client_id.clone(),
        audience,
        template,
        client_context,
        remote_ip,
        sub,
        alg,
        header,
        claims,
    })
}

/// `pi.remoteIp` must be an IPv4 or IPv6 address.
fn remote_ip(ip: &str) -> Result<String, Error> {
    ip.parse::<IpAddr>()
        .map(|_| ip.to_owned())
        .map_err(|_| claim_type(REMOTE_IP, "an IP address string"))
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
    use crate::region::Region;
    use serde_json::json;

    const ENV: &str = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";
    const APP_ID: &str = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
    const SECRET: &str = "PingSecret-2b7e151628aed2a6abf7158809cf4f3c";
    const NOW: i64 = 1_764_000_000;

    fn secret() -> Key {
        Key::hmac(SECRET).unwrap()
    }

    fn app() -> Application {
        Application::new(APP_ID).with_secret(SECRET).unwrap()
    }

    fn expected() -> Expected {
        Expected::pingone(Region::Na, ENV, NOW).unwrap()
    }

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    /// The seed's transaction-approval request.
    fn transaction() -> Claims {
        Claims {
            client_id: APP_ID.into(),
            audience: Region::Na.issuer(ENV).unwrap(),
            template: Some(Template {
                name: "transaction".into(),
                variant: None,
                variables: object(json!({
                    "sum": "1,000,000",
                    "currency": "USD",
                    "recipient": "Charlie Parker"
                })),
            }),
            client_context: object(json!({"alert.color": "red"})),
            ..Claims::default()
        }
    }

    fn signed(c: &Claims) -> String {
        build(
            c,
            Protection::Signed {
                key: &secret(),
                alg: Algorithm::HS256,
            },
        )
        .unwrap()
        .token
    }

    fn raw(header: Value, payload: Value, key: &Key, alg: Algorithm) -> String {
        jose::jws::sign_exact(
            header.to_string().as_bytes(),
            payload.to_string().as_bytes(),
            key,
            alg,
        )
        .unwrap()
    }

    fn check(token: &str) -> Result<RequestObject, Error> {
        validate(token, &app(), &expected())
    }

    /// An RSA key not bound to one algorithm (a generated key is).
    fn rsa() -> Key {
        let pem = Key::generate(Algorithm::RS256)
            .unwrap()
            .private_pem()
            .unwrap();
        Key::parse(pem.as_bytes()).unwrap().with_kid("app-key-1")
    }

    #[test]
    fn the_seed_transaction_request_round_trips() {
        let t = build(
            &transaction(),
            Protection::Signed {
                key: &secret(),
                alg: Algorithm::HS256,
            },
        )
        .unwrap();
        assert_eq!(
            Value::Object(t.header.clone()),
            json!({"alg": "HS256", "typ": "JWT"})
        );
        assert_eq!(
            serde_json::to_string(&t.claims).unwrap(),
            format!(
                r#"{{"aud":"https://auth.pingone.com/{ENV}/as","iss":"{APP_ID}","pi.template":{{"name":"transaction","variables":{{"sum":"1,000,000","currency":"USD","recipient":"Charlie Parker"}}}},"pi.clientContext":{{"alert.color":"red"}}}}"#
            )
        );
        let r = check(&t.token).unwrap();
        assert_eq!(r.client_id, APP_ID);
        assert_eq!(r.alg, Some(Algorithm::HS256));
        assert!(!r.is_unsigned());
        let tpl = r.template.clone().unwrap();
        assert_eq!(tpl.name, "transaction");
        assert_eq!(tpl.variant, None);
        assert_eq!(tpl.variables["sum"], "1,000,000");
        assert_eq!(tpl.variables["currency"], "USD");
        assert_eq!(tpl.variables["recipient"], "Charlie Parker");
        // The dotted key stays one literal member, never expanded into {"alert":{"color":..}}.
        assert_eq!(r.client_context.len(), 1);
        assert_eq!(r.client_context["alert.color"], "red");
        assert!(!r.client_context.contains_key("alert"));
        assert_eq!(r.remote_ip, None);
        assert_eq!(r.sub, None);
        assert_eq!(r.claims, t.claims);
    }

    #[test]
    fn every_hmac_and_rsa_algorithm_is_accepted() {
        for alg in HMAC_ALGORITHMS {
            let t = build(
                &transaction(),
                Protection::Signed {
                    key: &secret(),
                    alg,
                },
            )
            .unwrap();
            assert_eq!(check(&t.token).unwrap().alg, Some(alg));
        }
        let key = rsa();
        let a = app().with_keys(key.to_public().unwrap());
        for alg in RSA_ALGORITHMS {
            let t = build(&transaction(), Protection::Signed { key: &key, alg }).unwrap();
            assert_eq!(t.header.get("kid"), Some(&json!("app-key-1")));
            assert_eq!(validate(&t.token, &a, &expected()).unwrap().alg, Some(alg));
        }
    }

    #[test]
    fn variant_remote_ip_sub_and_times_are_carried() {
        let mut c = transaction();
        if let Some(t) = c.template.as_mut() {
            t.variant = Some("wire".into());
        }
        c.remote_ip = Some("2001:db8::1".into());
        c.sub = Some("user-42".into());
        c.issued_at = Some(NOW);
        c.expires_at = Some(NOW + 300);
        let r = check(&signed(&c)).unwrap();
        assert_eq!(r.template.and_then(|t| t.variant).as_deref(), Some("wire"));
        assert_eq!(r.remote_ip.as_deref(), Some("2001:db8::1"));
        assert_eq!(r.sub.as_deref(), Some("user-42"));
        assert_eq!(r.claims["exp"], NOW + 300);
    }

    #[test]
    fn unsigned_only_when_supported_and_not_required_signed() {
        let t = build(&transaction(), Protection::UnsignedInsecure).unwrap();
        assert!(t.token.ends_with('.'));
        assert_eq!(
            Value::Object(t.header.clone()),
            json!({"alg": "none", "typ": "JWT"})
        );
        // Default settings: refused.
        assert_eq!(
            check(&t.token).err(),
            Some(Error::UnsignedNotAllowed(UnsignedRefusal::NotSupported))
        );
        let mut a = app();
        a.support_unsigned_request_object = true;
        let r = validate(&t.token, &a, &expected()).unwrap();
        assert!(r.is_unsigned());
        assert_eq!(r.client_context["alert.color"], "red");
        a.require_signed_request_object = true;
        assert_eq!(
            validate(&t.token, &a, &expected()).err(),
            Some(Error::UnsignedNotAllowed(UnsignedRefusal::SignedRequired))
        );
        // "none" with a signature segment is not an unsigned token.
        a.require_signed_request_object = false;
        let with_sig = format!("{}AAAA", t.token);
        assert_eq!(
            validate(&with_sig, &a, &expected()).err(),
            Some(Error::UnsignedWithSignature)
        );
        // Signed tokens still verify for such an application.
        assert!(validate(&signed(&transaction()), &a, &expected()).is_ok());
    }

    #[test]
    fn algorithms_outside_hs_and_rs_are_not_allowed() {
        let ec = Key::generate(Algorithm::ES256).unwrap();
        let t = raw(
            json!({"alg": "ES256"}),
            Value::Object(transaction().to_map()),
            &ec,
            Algorithm::ES256,
        );
        let a = app().with_keys(ec.to_public().unwrap());
        assert!(matches!(
            validate(&t, &a, &expected()),
            Err(Error::AlgorithmNotAllowed { ref alg, profile: Profile::RequestObject, .. }) if alg == "ES256"
        ));
        let key = rsa();
        let t = raw(
            json!({"alg": "PS256"}),
            Value::Object(transaction().to_map()),
            &key,
            Algorithm::PS256,
        );
        let a = app().with_keys(key.to_public().unwrap());
        assert!(matches!(
            validate(&t, &a, &expected()),
            Err(Error::AlgorithmNotAllowed { .. })
        ));
        assert!(matches!(
            build(
                &transaction(),
                Protection::Signed {
                    key: &ec,
                    alg: Algorithm::ES256
                }
            ),
            Err(Error::AlgorithmNotAllowed { .. })
        ));
        // "None" is not "none".
        let t = format!(
            "{}.{}.",
            jose::b64::encode(r#"{"alg":"None"}"#),
            jose::b64::encode(Value::Object(transaction().to_map()).to_string())
        );
        assert!(matches!(check(&t), Err(Error::AlgorithmNotAllowed { .. })));
    }

    #[test]
    fn rs_needs_registered_keys_and_hs_needs_the_secret() {
        let key = rsa();
        let t = build(
            &transaction(),
            Protection::Signed {
                key: &key,
                alg: Algorithm::RS256,
            },
        )
        .unwrap()
        .token;
        assert!(matches!(check(&t), Err(Error::NoRegisteredKeys { .. })));
        // A different registered key: the signature does not verify.
        let other = rsa();
        let a = app().with_keys(other.to_public().unwrap());
        assert!(matches!(
            validate(&t, &a, &expected()),
            Err(Error::Signature(_))
        ));
        let a = Application::new(APP_ID).with_keys(key.to_public().unwrap());
        assert!(matches!(
            validate(&signed(&transaction()), &a, &expected()),
            Err(Error::NoClientSecret { .. })
        ));
        // Wrong secret.
        let t = build(
            &transaction(),
            Protection::Signed {
                key: &Key::hmac("not the client secret").unwrap(),
                alg: Algorithm::HS256,
            },
        )
        .unwrap()
        .token;
        assert_eq!(
            check(&t).err(),
            Some(Error::Signature(jose::Error::InvalidSignature))
        );
    }

    #[test]
    fn the_public_key_pem_as_an_hmac_secret_does_not_verify() {
        // Algorithm confusion: HS256 keyed with the registered RSA public key.
        let key = rsa();
        let public = key.to_public().unwrap();
        let pem = public.public_pem().unwrap();
        let t = raw(
            json!({"alg": "HS256"}),
            Value::Object(transaction().to_map()),
            &Key::hmac(pem.as_bytes().to_vec()).unwrap(),
            Algorithm::HS256,
        );
        let a = app().with_keys(public);
        assert!(matches!(
            validate(&t, &a, &expected()),
            Err(Error::Signature(_))
        ));
    }

    #[test]
    fn cty_and_enc_are_refused() {
        for member in ["cty", "enc"] {
            let t = raw(
                json!({"alg": "HS256", member: "JWT"}),
                Value::Object(transaction().to_map()),
                &secret(),
                Algorithm::HS256,
            );
            assert!(matches!(check(&t), Err(Error::ForbiddenHeader(m)) if m == member));
        }
    }

    #[test]
    fn iss_and_aud_are_checked() {
        let mut c = transaction();
        c.client_id = "other-app".into();
        assert!(matches!(
            check(&signed(&c)),
            Err(Error::IssuerNotClientId { .. })
        ));
        let mut c = transaction();
        c.audience = Region::Eu.issuer(ENV).unwrap();
        assert!(matches!(
            check(&signed(&c)),
            Err(Error::WrongAudience { .. })
        ));
        let e = Expected::pingone(Region::Eu, ENV, NOW).unwrap();
        assert!(validate(&signed(&c), &app(), &e).is_ok());
        // A local authorization server's issuer is accepted when the caller adds it.
        c.audience = format!("http://localhost:9031/{ENV}/as");
        let e = expected().also_accept(c.audience.clone());
        assert_eq!(
            validate(&signed(&c), &app(), &e).unwrap().audience,
            c.audience
        );
        for name in ["iss", "aud"] {
            let mut m = transaction().to_map();
            m.remove(name);
            let t = raw(
                json!({"alg": "HS256"}),
                Value::Object(m),
                &secret(),
                Algorithm::HS256,
            );
            assert_eq!(check(&t).err(), Some(Error::MissingClaim(name.into())));
        }
    }

    #[test]
    fn exp_is_checked_when_present() {
        let mut c = transaction();
        c.expires_at = Some(NOW - 3600);
        assert!(matches!(check(&signed(&c)), Err(Error::Expired { .. })));
        c.expires_at = None;
        assert!(check(&signed(&c)).is_ok(), "exp is optional");
    }

    #[test]
    fn pi_claims_must_have_their_shape() {
        let cases = [
            (json!("transaction"), "pi.template"),
            (json!({"variables": {}}), "pi.template.name"),
            (json!({"name": ""}), "pi.template.name"),
            (json!({"name": "t", "variant": 1}), "pi.template.variant"),
            (
                json!({"name": "t", "variables": ["a"]}),
                "pi.template.variables",
            ),
        ];
        for (tpl, claim) in cases {
            let mut m = transaction().to_map();
            m.insert(TEMPLATE.into(), tpl.clone());
            let t = raw(
                json!({"alg": "HS256"}),
                Value::Object(m),
                &secret(),
                Algorithm::HS256,
            );
            let e = check(&t).err();
            assert!(
                matches!(&e, Some(Error::ClaimType { claim: c, .. }) if c == claim)
                    || e == Some(Error::MissingClaim(claim.into())),
                "{tpl}: {e:?}"
            );
        }
        for (name, value) in [
            (CLIENT_CONTEXT, json!("alert.color=red")),
            (REMOTE_IP, json!("not-an-ip")),
            (REMOTE_IP, json!(10)),
            ("sub", json!(5)),
        ] {
            let mut m = transaction().to_map();
            m.insert(name.into(), value.clone());
            let t = raw(
                json!({"alg": "HS256"}),
                Value::Object(m),
                &secret(),
                Algorithm::HS256,
            );
            assert!(
                matches!(check(&t), Err(Error::ClaimType { ref claim, .. }) if claim == name),
                "{name} {value}"
            );
        }
        let mut c = transaction();
        c.remote_ip = Some("300.1.1.1".into());
        assert!(matches!(
            build(&c, Protection::UnsignedInsecure),
            Err(Error::ClaimType { .. })
        ));
    }

    #[test]
    fn a_disabled_application_refuses() {
        let mut a = app();
        a.enabled = false;
        assert!(matches!(
            validate(&signed(&transaction()), &a, &expected()),
            Err(Error::ApplicationDisabled { .. })
        ));
    }

    #[test]
    fn the_seed_built_as_jwtgen_would_validates() {
        // The seed's command: jwtgen -a HS256 -s <applicationSecret> --claims '{"aud":...,
        // "iss":..., "pi.template":{...}, "pi.clientContext":{"alert.color":"red"}}'.
        // jwtgen's header is {"typ":"JWT","alg":"HS256"} and it puts iat first.
        let mut m = Map::new();
        m.insert("iat".into(), NOW.into());
        m.extend(transaction().to_map());
        let t = raw(
            json!({"typ": "JWT", "alg": "HS256"}),
            Value::Object(m),
            &secret(),
            Algorithm::HS256,
        );
        let r = check(&t).unwrap();
        assert_eq!(r.template.unwrap().variables["recipient"], "Charlie Parker");
        assert_eq!(r.client_context["alert.color"], "red");
    }
}
