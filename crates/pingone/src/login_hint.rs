//! The `login_hint_token`: a JWT signed with the client secret (HS256/384/512) that names the
//! user PingOne should authenticate. Claims `iss` (client id), `sub` (user id or username),
//! `iat`, `exp`, `aud` (the environment's issuer); no `cty` or `enc` in the header.

use jose::jws::Signer;
use jose::{Algorithm, Key};
use serde_json::{Map, Value};

use crate::app::{Application, Expected, MatchedBy, UserLookup};
use crate::check;
use crate::error::{Error, Profile};
use crate::Token;

/// The algorithms PingOne accepts for a login_hint_token.
pub const ALGORITHMS: [Algorithm; 3] = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

/// The lifetime PingOne's documentation calls typical, in seconds.
pub const DEFAULT_LIFETIME: i64 = 3600;

/// What goes into a login_hint_token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub client_id: String,
    /// A user id or a username.
    pub subject: String,
    /// The environment's issuer, e.g. `https://auth.pingone.com/{envId}/as`.
    pub audience: String,
    pub issued_at: i64,
    pub expires_at: i64,
}

impl Claims {
    /// The claims set, in the order of PingOne's documented example: iss, sub, iat, exp, aud.
    pub fn to_map(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("iss".into(), self.client_id.clone().into());
        m.insert("sub".into(), self.subject.clone().into());
        m.insert("iat".into(), self.issued_at.into());
        m.insert("exp".into(), self.expires_at.into());
        m.insert("aud".into(), self.audience.clone().into());
        m
    }
}

/// Signs a login_hint_token with the client secret; header `{"alg":ALG,"typ":"JWT"}`.
pub fn build(claims: &Claims, secret: &Key, alg: Algorithm) -> Result<Token, Error> {
    if !ALGORITHMS.contains(&alg) {
        return Err(check::not_allowed(
            Profile::LoginHintToken,
            alg.name(),
            &ALGORITHMS,
        ));
    }
    let mut header = Map::new();
    header.insert("typ".into(), "JWT".into());
    let signer = Signer::with_header(secret.clone(), alg, header).map_err(Error::Key)?;
    let claims = claims.to_map();
    let token = signer.sign_claims(&claims).map_err(Error::Signing)?;
    Ok(Token {
        token,
        header: signer.header().clone(),
        claims,
    })
}

/// A login_hint_token that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginHint<U> {
    pub client_id: String,
    /// `sub` as written in the token.
    pub subject: String,
    /// The user `sub` names.
    pub user: U,
    pub matched_by: MatchedBy,
    /// The accepted audience the token's `aud` contains.
    pub audience: String,
    pub iat: i64,
    pub exp: i64,
    pub alg: Algorithm,
}

/// Checks a login_hint_token for `app`: application enabled, no `cty`/`enc`, alg HS256/384/512,
/// signature with the client secret, required claims, `exp`/`nbf`, `iss` = client id, `aud`
/// accepted, `sub` a known user (by id or username).
pub fn validate<L: UserLookup + ?Sized>(
    token: &str,
    app: &Application,
    expected: &Expected,
    users: &L,
) -> Result<LoginHint<L::User>, Error> {
    if !app.enabled {
        return Err(Error::ApplicationDisabled {
            client_id: app.client_id.clone(),
        });
    }
    let compact = check::decode(token)?;
    check::forbid_nesting(&compact.header)?;
    let alg = check::header_alg(&compact.header, Profile::LoginHintToken, &ALGORITHMS)?
        .ok_or_else(|| check::not_allowed(Profile::LoginHintToken, "none", &ALGORITHMS))?;
    let secret = app
        .client_secret
        .clone()
        .ok_or_else(|| Error::NoClientSecret {
            client_id: app.client_id.clone(),
            alg: alg.name().into(),
        })?;
    let verified = check::verify(token, secret.into(), alg)?;
    let claims = check::claims(&verified.payload)?;
    check::require(&claims, &["iss", "sub", "iat", "exp", "aud"])?;
    check::times(&verified.header, &claims, expected)?;
    check::issuer(&claims, &app.client_id)?;
    let audience = check::audience(&claims, expected)?;
    let subject = check::non_empty(&claims, "sub")?;
    let (user, matched_by) = users
        .resolve(subject)
        .ok_or_else(|| Error::UnknownUser(subject.to_owned()))?;
    Ok(LoginHint {
        client_id: app.client_id.clone(),
        subject: subject.to_owned(),
        user,
        matched_by,
        audience,
        iat: check::date(&claims, "iat")?.unwrap_or_default(),
        exp: check::date(&claims, "exp")?.unwrap_or_default(),
        alg,
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
    use crate::app::User;
    use crate::region::Region;
    use serde_json::json;

    const ENV: &str = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";
    const CLIENT: &str = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
    const SECRET: &str = "PingSecret-2b7e151628aed2a6abf7158809cf4f3c";
    const NOW: i64 = 1_764_000_000;

    fn app() -> Application {
        Application::new(CLIENT).with_secret(SECRET).unwrap()
    }

    fn users() -> Vec<User> {
        vec![User {
            id: "user-42".into(),
            username: "user-42@example.com".into(),
        }]
    }

    fn expected() -> Expected {
        Expected::pingone(Region::Na, ENV, NOW).unwrap()
    }

    fn claims() -> Claims {
        Claims {
            client_id: CLIENT.into(),
            subject: "user-42".into(),
            audience: Region::Na.issuer(ENV).unwrap(),
            issued_at: NOW,
            expires_at: NOW + DEFAULT_LIFETIME,
        }
    }

    fn secret() -> Key {
        Key::hmac(SECRET).unwrap()
    }

    fn token(c: &Claims) -> String {
        build(c, &secret(), Algorithm::HS256).unwrap().token
    }

    /// Signs exactly these header and payload members with `key`, bypassing the builder.
    fn raw(header: Value, payload: Value, key: &Key, alg: Algorithm) -> String {
        jose::jws::sign_exact(
            header.to_string().as_bytes(),
            payload.to_string().as_bytes(),
            key,
            alg,
        )
        .unwrap()
    }

    /// An RSA key not bound to one algorithm (a generated key is).
    fn rsa_key() -> Key {
        let pem = Key::generate(Algorithm::RS256)
            .unwrap()
            .private_pem()
            .unwrap();
        Key::parse(pem.as_bytes()).unwrap()
    }

    fn check(token: &str) -> Result<LoginHint<User>, Error> {
        validate(token, &app(), &expected(), &users())
    }

    #[test]
    fn built_tokens_validate_with_every_hmac_algorithm() {
        for alg in ALGORITHMS {
            let t = build(&claims(), &secret(), alg).unwrap();
            assert_eq!(
                Value::Object(t.header.clone()),
                json!({"alg": alg.name(), "typ": "JWT"})
            );
            let keys: Vec<&String> = t.claims.keys().collect();
            assert_eq!(keys, ["iss", "sub", "iat", "exp", "aud"]);
            let hint = check(&t.token).unwrap();
            assert_eq!(hint.alg, alg);
            assert_eq!(hint.client_id, CLIENT);
            assert_eq!(hint.subject, "user-42");
            assert_eq!(hint.user, users()[0]);
            assert_eq!(hint.matched_by, MatchedBy::Id);
            assert_eq!((hint.iat, hint.exp), (NOW, NOW + 3600));
            assert_eq!(hint.audience, format!("https://auth.pingone.com/{ENV}/as"));
        }
    }

    #[test]
    fn builder_refuses_non_hmac_algorithms() {
        let rsa = Key::generate(Algorithm::RS256).unwrap();
        assert!(matches!(
            build(&claims(), &rsa, Algorithm::RS256),
            Err(Error::AlgorithmNotAllowed { .. })
        ));
    }

    #[test]
    fn a_username_is_accepted_as_sub() {
        let mut c = claims();
        c.subject = "user-42@example.com".into();
        let hint = check(&token(&c)).unwrap();
        assert_eq!(hint.matched_by, MatchedBy::Username);
        assert_eq!(hint.user.id, "user-42");
        assert_eq!(hint.subject, "user-42@example.com");
    }

    #[test]
    fn every_regions_audience_is_accepted_in_that_region() {
        for region in Region::ALL {
            let mut c = claims();
            c.audience = region.issuer(ENV).unwrap();
            let t = token(&c);
            let e = Expected::pingone(region, ENV, NOW).unwrap();
            assert!(validate(&t, &app(), &e, &users()).is_ok(), "{region}");
            // ... and refused by another region.
            let other = if region == Region::Na {
                Region::Eu
            } else {
                Region::Na
            };
            let e = Expected::pingone(other, ENV, NOW).unwrap();
            assert!(matches!(
                validate(&t, &app(), &e, &users()),
                Err(Error::WrongAudience { .. })
            ));
        }
    }

    #[test]
    fn a_local_issuer_is_accepted_as_well() {
        let local = format!("http://127.0.0.1:9031/{ENV}/as");
        let mut c = claims();
        c.audience = local.clone();
        let e = expected().also_accept(local.clone());
        let hint = validate(&token(&c), &app(), &e, &users()).unwrap();
        assert_eq!(hint.audience, local);
        assert!(validate(&token(&claims()), &app(), &e, &users()).is_ok());
        assert!(matches!(
            check(&token(&c)),
            Err(Error::WrongAudience { .. })
        ));
    }

    #[test]
    fn wrong_secret_is_a_signature_failure() {
        let t = build(
            &claims(),
            &Key::hmac("another secret").unwrap(),
            Algorithm::HS256,
        )
        .unwrap()
        .token;
        assert!(matches!(
            check(&t),
            Err(Error::Signature(jose::Error::InvalidSignature))
        ));
        // A tampered payload too.
        let good = token(&claims());
        let parts: Vec<&str> = good.split('.').collect();
        let forged_payload = jose::b64::encode(json!({"iss": CLIENT, "sub": "admin"}).to_string());
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert!(matches!(check(&forged), Err(Error::Signature(_))));
    }

    #[test]
    fn non_hmac_and_none_algorithms_are_not_allowed() {
        let rsa = rsa_key();
        let t = raw(
            json!({"alg": "RS256", "typ": "JWT"}),
            Value::Object(claims().to_map()),
            &rsa,
            Algorithm::RS256,
        );
        assert!(matches!(
            check(&t),
            Err(Error::AlgorithmNotAllowed { ref alg, profile: Profile::LoginHintToken, .. }) if alg == "RS256"
        ));
        let unsigned = jose::jws::sign_unsecured_insecure(
            &Map::new(),
            Value::Object(claims().to_map()).to_string().as_bytes(),
        );
        assert!(matches!(
            check(&unsigned),
            Err(Error::AlgorithmNotAllowed { ref alg, .. }) if alg == "none"
        ));
        let ps = raw(
            json!({"alg": "PS256"}),
            Value::Object(claims().to_map()),
            &rsa,
            Algorithm::PS256,
        );
        assert!(matches!(check(&ps), Err(Error::AlgorithmNotAllowed { .. })));
    }

    #[test]
    fn cty_and_enc_in_the_header_are_refused() {
        for (member, value) in [("cty", "JWT"), ("enc", "A128GCM")] {
            let t = raw(
                json!({"alg": "HS256", "typ": "JWT", member: value}),
                Value::Object(claims().to_map()),
                &secret(),
                Algorithm::HS256,
            );
            assert_eq!(
                check(&t).err(),
                Some(Error::ForbiddenHeader(if member == "cty" {
                    "cty"
                } else {
                    "enc"
                }))
            );
        }
    }

    #[test]
    fn iss_must_be_the_client_id() {
        let mut c = claims();
        c.client_id = "someone-else".into();
        assert_eq!(
            check(&token(&c)).err(),
            Some(Error::IssuerNotClientId {
                expected: CLIENT.into(),
                found: "someone-else".into()
            })
        );
    }

    #[test]
    fn wrong_audience_is_refused() {
        let mut c = claims();
        c.audience = "https://auth.pingone.com/another-env/as".into();
        assert!(matches!(
            check(&token(&c)),
            Err(Error::WrongAudience { ref found, .. }) if found == &["https://auth.pingone.com/another-env/as".to_owned()]
        ));
    }

    #[test]
    fn expired_and_not_yet_valid_tokens_are_refused() {
        let mut c = claims();
        c.issued_at = NOW - 7200;
        c.expires_at = NOW - 3600;
        assert_eq!(
            check(&token(&c)).err(),
            Some(Error::Expired {
                exp: (NOW - 3600) as f64,
                now: NOW
            })
        );
        // Inside the leeway it is still accepted.
        c.expires_at = NOW - 30;
        assert!(check(&token(&c)).is_ok());
        let mut m = claims().to_map();
        m.insert("nbf".into(), (NOW + 600).into());
        let t = raw(
            json!({"alg": "HS256"}),
            Value::Object(m),
            &secret(),
            Algorithm::HS256,
        );
        assert!(matches!(check(&t), Err(Error::NotYetValid { .. })));
    }

    #[test]
    fn each_required_claim_is_required() {
        for name in ["iss", "sub", "iat", "exp", "aud"] {
            let mut m = claims().to_map();
            m.remove(name);
            let t = raw(
                json!({"alg": "HS256"}),
                Value::Object(m),
                &secret(),
                Algorithm::HS256,
            );
            assert_eq!(
                check(&t).err(),
                Some(Error::MissingClaim(name.into())),
                "{name}"
            );
        }
    }

    #[test]
    fn claims_of_the_wrong_type_are_refused() {
        for (name, value) in [
            ("exp", json!("soon")),
            ("iat", json!(null)),
            ("sub", json!(42)),
            ("iss", json!(["a"])),
            ("aud", json!(7)),
            ("sub", json!("")),
        ] {
            let mut m = claims().to_map();
            m.insert(name.into(), value);
            let t = raw(
                json!({"alg": "HS256"}),
                Value::Object(m),
                &secret(),
                Algorithm::HS256,
            );
            assert!(
                matches!(check(&t), Err(Error::ClaimType { ref claim, .. }) if claim == name),
                "{name}: {:?}",
                check(&t)
            );
        }
    }

    #[test]
    fn an_unknown_user_is_refused() {
        let mut c = claims();
        c.subject = "nobody".into();
        assert_eq!(
            check(&token(&c)).err(),
            Some(Error::UnknownUser("nobody".into()))
        );
    }

    #[test]
    fn a_disabled_application_or_one_without_secret_refuses() {
        let mut a = app();
        a.enabled = false;
        assert_eq!(
            validate(&token(&claims()), &a, &expected(), &users()).err(),
            Some(Error::ApplicationDisabled {
                client_id: CLIENT.into()
            })
        );
        let a = Application::new(CLIENT);
        let e = validate(&token(&claims()), &a, &expected(), &users()).err();
        assert!(matches!(e, Some(Error::NoClientSecret { .. })));
        assert!(!e.is_some_and(|e| e.is_token_error()));
    }

    #[test]
    fn malformed_tokens_are_malformed() {
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.e30.",
            "e30.e30.",
            "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.x",
        ] {
            let e = check(bad);
            assert!(
                matches!(e, Err(Error::Malformed(_)) | Err(Error::Signature(_))),
                "{bad:?}: {e:?}"
            );
        }
        // Payload that is not JSON but correctly signed.
        let t = jose::jws::sign_exact(
            br#"{"alg":"HS256"}"#,
            b"not json",
            &secret(),
            Algorithm::HS256,
        )
        .unwrap();
        assert!(matches!(check(&t), Err(Error::Malformed(_))));
    }

    // --- the seed: PingOne's documented jwtgen command line ---
    //
    //   jwtgen -a "HS256" -s "YOUR_CLIENT_SECRET" -e 3600 --claims '{"iss":"YOUR_CLIENT_ID",
    //     "sub":"YOUR_USER_ID_OR_USERNAME","iat":1300819380,"exp":1300819391,
    //     "aud":"https://auth.pingone.com/YOUR_ENVIRONMENT_ID/as"}'
    //
    // jwtgen 2.2.0 writes the header {"typ":"JWT","alg":"HS256"} and the payload iat, exp first,
    // then the other claims in the order given; explicit iat/exp win over -e (so this token
    // expired in 2011). The bytes are built here with sign_exact, as jwtgen would.

    const SEED_SECRET: &str = "YOUR_CLIENT_SECRET";
    const SEED_HEADER: &str = r#"{"typ":"JWT","alg":"HS256"}"#;

    fn seed_app() -> Application {
        Application::new("YOUR_CLIENT_ID")
            .with_secret(SEED_SECRET)
            .unwrap()
    }

    fn seed_users() -> Vec<User> {
        vec![User {
            id: "YOUR_USER_ID_OR_USERNAME".into(),
            username: "someone".into(),
        }]
    }

    fn seed_token(iat: i64, exp: i64) -> String {
        let payload = format!(
            r#"{{"iat":{iat},"exp":{exp},"iss":"YOUR_CLIENT_ID","sub":"YOUR_USER_ID_OR_USERNAME","aud":"https://auth.pingone.com/YOUR_ENVIRONMENT_ID/as"}}"#
        );
        jose::jws::sign_exact(
            SEED_HEADER.as_bytes(),
            payload.as_bytes(),
            &Key::hmac(SEED_SECRET).unwrap(),
            Algorithm::HS256,
        )
        .unwrap()
    }

    fn seed_check(token: &str, now: i64) -> Result<LoginHint<User>, Error> {
        let e = Expected::pingone(Region::Na, "YOUR_ENVIRONMENT_ID", now).unwrap();
        validate(token, &seed_app(), &e, &seed_users())
    }

    #[test]
    fn seed_token_with_explicit_iat_exp_expired_in_2011() {
        let t = seed_token(1_300_819_380, 1_300_819_391);
        assert_eq!(
            seed_check(&t, NOW).err(),
            Some(Error::Expired {
                exp: 1_300_819_391.0,
                now: NOW
            })
        );
        let hint = seed_check(&t, 1_300_819_385).unwrap();
        assert_eq!(hint.client_id, "YOUR_CLIENT_ID");
        assert_eq!(hint.subject, "YOUR_USER_ID_OR_USERNAME");
        assert_eq!((hint.iat, hint.exp), (1_300_819_380, 1_300_819_391));
        assert_eq!(hint.alg, Algorithm::HS256);
    }

    #[test]
    fn seed_token_without_explicit_iat_exp_is_accepted() {
        // `-e 3600` alone: iat = now, exp = now + 3600.
        let t = seed_token(NOW, NOW + 3600);
        let hint = seed_check(&t, NOW + 10).unwrap();
        assert_eq!((hint.iat, hint.exp), (NOW, NOW + 3600));
        assert_eq!(hint.user.id, "YOUR_USER_ID_OR_USERNAME");
        // The builder makes the same claims, in PingOne's documented order.
        let built = build(
            &Claims {
                client_id: "YOUR_CLIENT_ID".into(),
                subject: "YOUR_USER_ID_OR_USERNAME".into(),
                audience: Region::Na.issuer("YOUR_ENVIRONMENT_ID").unwrap(),
                issued_at: NOW,
                expires_at: NOW + 3600,
            },
            &Key::hmac(SEED_SECRET).unwrap(),
            Algorithm::HS256,
        )
        .unwrap();
        let from_seed = jose::jws::decode(&t).unwrap();
        let seed_claims = check::claims(&from_seed.payload).unwrap();
        let mut a: Vec<_> = seed_claims.into_iter().collect();
        let mut b: Vec<_> = built.claims.into_iter().collect();
        a.sort_by(|x, y| x.0.cmp(&y.0));
        b.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(a, b);
    }
}
