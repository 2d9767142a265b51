//! End-to-end tests of `signet authz`'s grants and endpoints beyond the sign-on flow: refresh
//! tokens, client credentials, public and JWT-authenticated clients, PKCE enforcement, PAR,
//! CIBA, device codes, token exchange, introspection and revocation. The real binary on loopback,
//! with bounded waits; each server stops when its test ends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::authz::*;
use common::{client, payload_of, signet_in, TempDir};
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

fn grants_config() -> String {
    config("").replace(
        "client_id = \"app-1\"\nname = \"Test app\"",
        "client_id = \"app-1\"\nname = \"Test app\"\ngrant_types = [\"AUTHORIZATION_CODE\", \"REFRESH_TOKEN\"]",
    ) + &format!(
        r#"
[[environment.application]]
client_id = "app-cc"
client_secret = "{SECRET}"
grant_types = ["CLIENT_CREDENTIALS"]
scopes = ["orders:read", "orders:write"]
"#
    )
}

fn refresh(s: &Server, token: &str, extra: &[(&str, &str)]) -> Reply {
    let mut pairs = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    pairs.extend_from_slice(extra);
    post_form(&s.url("/env-1/as/token"), &pairs, Some(("app-1", SECRET)))
}

#[test]
fn refresh_tokens_rotate_and_a_reused_one_revokes_its_family() {
    let s = Server::start(&grants_config());
    let f = password_sign_on(&s, "app-1", "miles", "Kind-of-Blue").json();
    let code = f["authorizeResponse"]["code"].as_str().unwrap().to_owned();
    let t = redeem(&s, &code, &[]).json();
    let first = t["refresh_token"].as_str().unwrap().to_owned();
    // A refresh: new tokens, a new refresh token, the same user.
    let r = refresh(&s, &first, &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    let t2 = r.json();
    let second = t2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    let claims = verify_id_token(&s, t2["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "user-3");
    assert!(claims.get("nonce").is_none());
    // A narrower scope may be asked; a wider one not.
    let r = refresh(&s, &second, &[("scope", "openid email")]);
    assert_eq!(r.json()["error"], "invalid_scope", "{}", r.body);
    // The first token again: a replay. Its family, the second token too, is revoked.
    let r = refresh(&s, &first, &[]);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_grant");
    assert!(
        r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{}",
        r.body
    );
    let r = refresh(&s, &second, &[]);
    assert_eq!(
        r.json()["error"],
        "invalid_grant",
        "the family is gone: {}",
        r.body
    );
    // An application without REFRESH_TOKEN may not refresh.
    let r = post_form(
        &s.url("/env-1/as/token"),
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        Some(("app-cc", SECRET)),
    );
    assert_eq!(r.json()["error"], "unauthorized_client", "{}", r.body);
}

#[test]
fn client_credentials_give_the_application_its_own_access_token() {
    let s = Server::start(&grants_config());
    let token = |scope: Option<&str>| {
        let mut pairs = vec![("grant_type", "client_credentials")];
        if let Some(sc) = scope {
            pairs.push(("scope", sc));
        }
        post_form(&s.url("/env-1/as/token"), &pairs, Some(("app-cc", SECRET)))
    };
    let r = token(Some("orders:read"));
    assert_eq!(r.status, 200, "{}", r.body);
    let t = r.json();
    assert!(
        t.get("id_token").is_none() && t.get("refresh_token").is_none(),
        "{t}"
    );
    assert_eq!(t["scope"], "orders:read");
    let jwks = s.url("/env-1/as/jwks");
    let run = signet_in(
        None,
        &[
            "verify",
            t["access_token"].as_str().unwrap(),
            "--jwks",
            &jwks,
            "--iss",
            &s.issuer(),
            "--typ",
            "at+jwt",
        ],
        None,
        &[("SIGNET_NOW", &now())],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let claims: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        (claims["sub"].as_str(), claims["client_id"].as_str()),
        (Some("app-cc"), Some("app-cc"))
    );
    assert_eq!(token(None).json()["scope"], "orders:read orders:write");
    assert_eq!(token(Some("admin")).json()["error"], "invalid_scope");
    // An application without CLIENT_CREDENTIALS may not use it.
    let r = post_form(
        &s.url("/env-1/as/token"),
        &[("grant_type", "client_credentials")],
        Some(("app-1", SECRET)),
    );
    assert_eq!(r.json()["error"], "unauthorized_client");
    let r = post_form(
        &s.url("/env-1/as/token"),
        &[("grant_type", "password")],
        Some(("app-1", SECRET)),
    );
    assert_eq!(r.json()["error"], "unsupported_grant_type");
}

#[test]
fn introspection_and_revocation_follow_rfc_7662_and_7009() {
    let s = Server::start(&grants_config());
    let f = password_sign_on(&s, "app-1", "miles", "Kind-of-Blue").json();
    let t = redeem(&s, f["authorizeResponse"]["code"].as_str().unwrap(), &[]).json();
    let (access, refresh_token) = (
        t["access_token"].as_str().unwrap().to_owned(),
        t["refresh_token"].as_str().unwrap().to_owned(),
    );
    let call = |path: &str, token: &str, client: (&str, &str)| {
        post_form(
            &s.url(&format!("/env-1/as/{path}")),
            &[("token", token)],
            Some(client),
        )
    };
    let r = call("introspect", &access, ("app-1", SECRET)).json();
    assert_eq!(
        (
            r["active"].as_bool(),
            r["sub"].as_str(),
            r["token_type"].as_str()
        ),
        (Some(true), Some("user-3"), Some("access_token"))
    );
    let r = call("introspect", &refresh_token, ("app-1", SECRET)).json();
    assert_eq!(
        (r["active"].as_bool(), r["token_type"].as_str()),
        (Some(true), Some("refresh_token"))
    );
    // Another client learns nothing about app-1's refresh token; garbage is inactive.
    assert_eq!(
        call("introspect", &refresh_token, ("app-cc", SECRET)).json(),
        json!({"active": false})
    );
    assert_eq!(
        call("introspect", "garbage", ("app-1", SECRET)).json(),
        json!({"active": false})
    );
    assert_eq!(call("introspect", &access, ("app-1", "wrong")).status, 401);
    // Revocation: the refresh token's family, and the access token (userinfo refuses it after).
    assert_eq!(
        call("revoke", &refresh_token, ("app-1", SECRET)).status,
        200
    );
    assert_eq!(
        refresh(&s, &refresh_token, &[]).json()["error"],
        "invalid_grant"
    );
    let info =
        |token: &str| send(client().get(s.url("/env-1/as/userinfo")).bearer_auth(token)).status;
    assert_eq!(info(&access), 200);
    assert_eq!(call("revoke", &access, ("app-1", SECRET)).status, 200);
    assert_eq!(info(&access), 401);
    assert_eq!(
        call("introspect", &access, ("app-1", SECRET)).json()["active"],
        false
    );
    assert_eq!(
        call("revoke", "unknown", ("app-1", SECRET)).status,
        200,
        "RFC 7009 §2.2"
    );
    let d = get(&s.url("/env-1/as/.well-known/openid-configuration")).json();
    assert_eq!(d["introspection_endpoint"], s.url("/env-1/as/introspect"));
    assert_eq!(d["revocation_endpoint"], s.url("/env-1/as/revoke"));
}

/// A sign-on of `miles` for `client` (with PKCE when `challenge`), to a code.
fn code_for(s: &Server, client: &str, challenge: Option<&str>) -> String {
    let mut pairs = vec![
        ("client_id", client),
        ("response_type", "code"),
        ("response_mode", "pi.flow"),
    ];
    if let Some(c) = challenge {
        pairs.push(("code_challenge", c));
        pairs.push(("code_challenge_method", "S256"));
    }
    let f = authorize(s, &pairs).json();
    let id = f["id"].as_str().unwrap().to_owned();
    let f = action(
        s,
        &id,
        "usernamePassword.check",
        json!({"username": "miles", "password": "Kind-of-Blue"}),
    )
    .json();
    f["authorizeResponse"]["code"].as_str().unwrap().to_owned()
}

#[test]
fn public_clients_and_jwt_client_authentication() {
    let dir = TempDir::new();
    let key = jose::Key::generate(jose::Algorithm::RS256).unwrap();
    dir.write(
        "app-pk.jwks",
        jose::KeySet::from(key.to_public().unwrap())
            .to_public_jwks()
            .to_string(),
    );
    let path = dir.write(
        "authz.toml",
        config("")
            + &format!(
                r#"
[[environment.application]]
client_id = "app-public"
token_endpoint_auth_method = "NONE"
[[environment.application]]
client_id = "app-sj"
client_secret = "{SECRET}"
token_endpoint_auth_method = "CLIENT_SECRET_JWT"
[[environment.application]]
client_id = "app-pk"
client_secret = "{SECRET}"
token_endpoint_auth_method = "PRIVATE_KEY_JWT"
jwks = "app-pk.jwks"
"#
            ),
    );
    let s = Server::start_file(&path, Some(dir));
    let token_url = s.url("/env-1/as/token");
    let post = |pairs: &[(&str, &str)]| post_form(&token_url, pairs, None);

    // A public client: no secret, but PKCE.
    let code = code_for(&s, "app-public", Some(CHALLENGE));
    let r = post(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("client_id", "app-public"),
        ("code_verifier", VERIFIER),
    ]);
    assert_eq!(r.status, 200, "{}", r.body);
    // Without PKCE a public client is refused at authorize already.
    let r = authorize(
        &s,
        &[
            ("client_id", "app-public"),
            ("response_type", "code"),
            ("response_mode", "pi.flow"),
        ],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.detail().1, "code_challenge");
    // A confidential client cannot skip authentication.
    let r = post(&[
        ("grant_type", "authorization_code"),
        ("code", "x"),
        ("client_id", "app-1"),
    ]);
    assert_eq!(r.json()["error"], "invalid_client");

    let now: i64 = now().parse().unwrap();
    let assertion = |signer: &jose::Signer, client: &str, aud: &str, jti: &str, exp: i64| {
        signer
            .sign_claims(&json!({"iss": client, "sub": client, "aud": aud, "jti": jti, "exp": exp, "iat": now}))
            .unwrap()
    };
    let with_assertion = |code: &str, a: &str| {
        post(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", a),
        ])
    };
    // CLIENT_SECRET_JWT: HS256 with the client secret.
    let hs = jose::Signer::new(
        jose::Key::hmac(SECRET.as_bytes().to_vec()).unwrap(),
        jose::Algorithm::HS256,
    )
    .unwrap();
    let code = code_for(&s, "app-sj", None);
    let r = with_assertion(
        &code,
        &assertion(&hs, "app-sj", &token_url, "j-1", now + 60),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // The same jti again is a replay; a wrong audience or an expired assertion is refused.
    let code = code_for(&s, "app-sj", None);
    let r = with_assertion(
        &code,
        &assertion(&hs, "app-sj", &token_url, "j-1", now + 60),
    );
    assert!(
        r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{}",
        r.body
    );
    let r = with_assertion(
        &code,
        &assertion(
            &hs,
            "app-sj",
            "https://elsewhere.example/token",
            "j-2",
            now + 60,
        ),
    );
    assert!(
        r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("aud must be"),
        "{}",
        r.body
    );
    let r = with_assertion(
        &code,
        &assertion(&hs, "app-sj", &token_url, "j-3", now - 120),
    );
    assert_eq!(r.json()["error"], "invalid_client", "{}", r.body);
    // A secret is not accepted from a JWT client.
    let r = post_form(
        &token_url,
        &[("grant_type", "authorization_code"), ("code", &code)],
        Some(("app-sj", SECRET)),
    );
    assert_eq!(r.json()["error"], "invalid_client");
    // PRIVATE_KEY_JWT: RS256 with the application's key; the issuer is an accepted audience too.
    let rs = jose::Signer::new(key, jose::Algorithm::RS256).unwrap();
    let code = code_for(&s, "app-pk", None);
    let r = with_assertion(
        &code,
        &assertion(&rs, "app-pk", &s.issuer(), "k-1", now + 60),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Signed by the client secret instead of the key: refused.
    let code = code_for(&s, "app-pk", None);
    let r = with_assertion(
        &code,
        &assertion(&hs, "app-pk", &token_url, "k-2", now + 60),
    );
    assert_eq!(r.json()["error"], "invalid_client", "{}", r.body);
}

#[test]
fn a_seed_login_hint_token_starts_a_ciba_request_that_is_approved_and_redeemed() {
    let text = grants_config().replace(
        "grant_types = [\"AUTHORIZATION_CODE\", \"REFRESH_TOKEN\"]",
        "grant_types = [\"AUTHORIZATION_CODE\", \"REFRESH_TOKEN\", \"CIBA\"]",
    );
    let s = Server::start(&text);
    let bc = |pairs: &[(&str, &str)]| {
        post_form(
            &s.url("/env-1/as/bc-authorize"),
            pairs,
            Some(("app-1", SECRET)),
        )
    };
    let poll = |id: &str| {
        post_form(
            &s.url("/env-1/as/token"),
            &[
                ("grant_type", "urn:openid:params:grant-type:ciba"),
                ("auth_req_id", id),
            ],
            Some(("app-1", SECRET)),
        )
    };
    let advance = |seconds: i64| {
        let r = send(
            client()
                .post(s.url("/env-1/emulator/clock"))
                .header("content-type", "application/json")
                .body(json!({"advanceSeconds": seconds}).to_string()),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    };
    // The hint made by `signet login-hint`, as the seed makes it (for dizzy: a MOBILE device).
    let hint = login_hint("dizzy");
    let r = bc(&[
        ("scope", "openid"),
        ("login_hint_token", &hint),
        ("binding_message", "Pay 42"),
    ]);
    assert_eq!(r.status, 200, "{}", r.body);
    let a = r.json();
    assert_eq!(
        (a["expires_in"].as_i64(), a["interval"].as_i64()),
        (Some(120), Some(5))
    );
    let id = a["auth_req_id"].as_str().unwrap().to_owned();
    assert_eq!(poll(&id).json()["error"], "authorization_pending");
    assert_eq!(
        poll(&id).json()["error"],
        "slow_down",
        "polled again at once"
    );
    // The push reaches the device with the binding message; the user approves.
    let sent = get(&s.url("/env-1/emulator/outbox")).json();
    let push = sent.as_array().unwrap().last().unwrap().clone();
    assert_eq!(push["type"], "PUSH");
    assert_eq!(push["clientContext"]["bindingMessage"], "Pay 42");
    let flow = push["flowId"].as_str().unwrap();
    let r = send(client().post(s.url(&format!("/env-1/emulator/push/{flow}/approve"))));
    assert_eq!(r.status, 200, "{}", r.body);
    advance(11);
    let r = poll(&id);
    assert_eq!(r.status, 200, "{}", r.body);
    let t = r.json();
    assert!(
        t["id_token"].is_string() && t["refresh_token"].is_string(),
        "{t}"
    );
    let claims = payload_of(t["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "user-2");
    assert_eq!(poll(&id).json()["error"], "invalid_grant", "used");

    // A denial, an expiry, and bad requests.
    let id = bc(&[("scope", "openid"), ("login_hint", "dizzy")]).json()["auth_req_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sent = get(&s.url("/env-1/emulator/outbox")).json();
    let flow = sent.as_array().unwrap().last().unwrap()["flowId"]
        .as_str()
        .unwrap()
        .to_owned();
    send(client().post(s.url(&format!("/env-1/emulator/push/{flow}/deny"))));
    assert_eq!(poll(&id).json()["error"], "access_denied");
    let id = bc(&[
        ("scope", "openid"),
        ("login_hint", "dizzy"),
        ("requested_expiry", "2"),
    ])
    .json()["auth_req_id"]
        .as_str()
        .unwrap()
        .to_owned();
    advance(3);
    assert_eq!(poll(&id).json()["error"], "expired_token");
    let r = bc(&[
        ("scope", "openid"),
        ("login_hint", "dizzy"),
        ("login_hint_token", &hint),
    ]);
    assert!(
        r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("exactly one"),
        "{}",
        r.body
    );
    assert_eq!(
        bc(&[("scope", "openid"), ("login_hint", "nobody")]).json()["error"],
        "unknown_user_id"
    );
    assert_eq!(
        bc(&[("scope", "email"), ("login_hint", "dizzy")]).json()["error"],
        "invalid_request"
    );
    let r = post_form(
        &s.url("/env-1/as/bc-authorize"),
        &[("scope", "openid"), ("login_hint", "dizzy")],
        Some(("app-cc", SECRET)),
    );
    assert_eq!(r.json()["error"], "unauthorized_client");
}

#[test]
fn pkce_enforcement_is_per_application() {
    let s = Server::start(
        &(config("")
            + &format!(
                r#"
[[environment.application]]
client_id = "app-pkce"
client_secret = "{SECRET}"
pkce_enforcement = "S256_REQUIRED"
"#
            )),
    );
    let try_with = |pairs: &[(&str, &str)]| {
        let mut all = vec![
            ("client_id", "app-pkce"),
            ("response_type", "code"),
            ("response_mode", "pi.flow"),
        ];
        all.extend_from_slice(pairs);
        authorize(&s, &all)
    };
    let r = try_with(&[]);
    assert_eq!(
        (r.status, r.detail().1.as_str()),
        (400, "code_challenge"),
        "{}",
        r.body
    );
    let r = try_with(&[
        ("code_challenge", VERIFIER),
        ("code_challenge_method", "plain"),
    ]);
    assert_eq!(
        (r.status, r.detail().1.as_str()),
        (400, "code_challenge_method"),
        "{}",
        r.body
    );
    let r = try_with(&[
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn pushed_authorization_requests_are_single_use_and_expire() {
    let s = Server::start(
        &(config("")
            + &format!(
                r#"
[[environment.application]]
client_id = "app-par"
client_secret = "{SECRET}"
redirect_uris = ["https://app.example/cb"]
par_requirement = "REQUIRED"
par_timeout = 5
"#
            )),
    );
    let push = |client: &str, extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("response_type", "code"),
            ("response_mode", "pi.flow"),
            ("scope", "openid"),
        ];
        pairs.extend_from_slice(extra);
        post_form(&s.url("/env-1/as/par"), &pairs, Some((client, SECRET)))
    };
    let r = push("app-par", &[("state", "st-par")]);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["expires_in"], 5);
    let uri = r.json()["request_uri"].as_str().unwrap().to_owned();
    assert!(uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    // Without it, an application that requires PAR is refused.
    let r = authorize(
        &s,
        &[
            ("client_id", "app-par"),
            ("response_type", "code"),
            ("response_mode", "pi.flow"),
        ],
    );
    assert_eq!(
        (r.status, r.detail().1.as_str()),
        (400, "request_uri"),
        "{}",
        r.body
    );
    // Another client cannot use it; the owner can, once.
    let r = authorize(&s, &[("client_id", "app-1"), ("request_uri", &uri)]);
    assert_eq!(r.status, 400, "{}", r.body);
    let r = push("app-par", &[("state", "st-2")]);
    let uri = r.json()["request_uri"].as_str().unwrap().to_owned();
    let r = authorize(&s, &[("client_id", "app-par"), ("request_uri", &uri)]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "USERNAME_PASSWORD_REQUIRED");
    let r = authorize(&s, &[("client_id", "app-par"), ("request_uri", &uri)]);
    assert_eq!(r.status, 400, "single use: {}", r.body);
    // An expired request_uri.
    let uri = push("app-par", &[]).json()["request_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = send(
        client()
            .post(s.url("/env-1/emulator/clock"))
            .header("content-type", "application/json")
            .body("{\"advanceSeconds\": 6}"),
    );
    assert_eq!(r.status, 200);
    let r = authorize(&s, &[("client_id", "app-par"), ("request_uri", &uri)]);
    assert!(r.body.contains("expired"), "{}", r.body);
    // A bad pushed request is refused at the push, with OAuth's error shape.
    let r = push("app-par", &[("response_mode", "nonsense")]);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.json()["error"].is_string());
}

#[test]
fn a_device_code_is_approved_by_a_sign_on_at_the_verification_page() {
    let text = grants_config().replace(
        "grant_types = [\"AUTHORIZATION_CODE\", \"REFRESH_TOKEN\"]",
        "grant_types = [\"AUTHORIZATION_CODE\", \"DEVICE_CODE\"]",
    );
    let s = Server::start(&text);
    let r = post_form(
        &s.url("/env-1/as/device_authorization"),
        &[("scope", "openid profile")],
        Some(("app-1", SECRET)),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let d = r.json();
    let (device_code, user_code) = (
        d["device_code"].as_str().unwrap().to_owned(),
        d["user_code"].as_str().unwrap().to_owned(),
    );
    assert_eq!(user_code.len(), 9);
    assert_eq!(user_code.as_bytes()[4], b'-');
    assert!(
        user_code
            .chars()
            .all(|c| c == '-' || "BCDFGHJKLMNPQRSTVWXZ".contains(c)),
        "{user_code}"
    );
    assert_eq!(d["verification_uri"], s.url("/env-1/device"));
    let poll = || {
        post_form(
            &s.url("/env-1/as/token"),
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", &device_code),
            ],
            Some(("app-1", SECRET)),
        )
    };
    assert_eq!(poll().json()["error"], "authorization_pending");
    // The user opens the verification page with the code (in lower case, as people type it).
    let f = get(&s.url(&format!(
        "/env-1/device?user_code={}",
        user_code.to_lowercase()
    )))
    .json();
    assert_eq!(f["status"], "USERNAME_PASSWORD_REQUIRED", "{f}");
    let id = f["id"].as_str().unwrap().to_owned();
    assert_eq!(
        get(&s.url(&format!("/env-1/device?user_code={user_code}"))).status,
        400,
        "single use"
    );
    let f = action(
        &s,
        &id,
        "usernamePassword.check",
        json!({"username": "miles", "password": "Kind-of-Blue"}),
    )
    .json();
    assert_eq!(f["status"], "COMPLETED", "{f}");
    let r = send(
        client()
            .post(s.url("/env-1/emulator/clock"))
            .header("content-type", "application/json")
            .body("{\"advanceSeconds\": 6}"),
    );
    assert_eq!(r.status, 200);
    let r = poll();
    assert_eq!(r.status, 200, "{}", r.body);
    let claims = payload_of(r.json()["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "user-3");
    assert_eq!(poll().json()["error"], "invalid_grant", "used");
    let r = post_form(
        &s.url("/env-1/as/device_authorization"),
        &[],
        Some(("app-cc", SECRET)),
    );
    assert_eq!(r.json()["error"], "unauthorized_client");
}

#[test]
fn token_exchange_issues_a_token_for_a_resource_with_the_actor() {
    let s = Server::start(
        &(grants_config()
            + &format!(
                r#"
[[environment.application]]
client_id = "app-tx"
client_secret = "{SECRET}"
grant_types = ["TOKEN_EXCHANGE"]
resources = ["https://orders.example"]
"#
            )),
    );
    let f = password_sign_on(&s, "app-1", "miles", "Kind-of-Blue").json();
    let t = redeem(&s, f["authorizeResponse"]["code"].as_str().unwrap(), &[]).json();
    let subject = t["access_token"].as_str().unwrap();
    let actor = post_form(
        &s.url("/env-1/as/token"),
        &[("grant_type", "client_credentials")],
        Some(("app-cc", SECRET)),
    )
    .json();
    let actor = actor["access_token"].as_str().unwrap();
    let exchange = |extra: &[(&str, &str)]| {
        let mut pairs = vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", subject),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
        ];
        pairs.extend_from_slice(extra);
        post_form(&s.url("/env-1/as/token"), &pairs, Some(("app-tx", SECRET)))
    };
    let r = exchange(&[
        ("resource", "https://orders.example"),
        ("actor_token", actor),
        (
            "actor_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
        ),
    ]);
    assert_eq!(r.status, 200, "{}", r.body);
    let out = r.json();
    assert_eq!(
        out["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    let claims = payload_of(out["access_token"].as_str().unwrap());
    assert_eq!(
        (claims["sub"].as_str(), claims["aud"].as_str()),
        (Some("user-3"), Some("https://orders.example"))
    );
    assert_eq!(claims["act"], json!({"sub": "app-cc"}));
    assert_eq!(
        exchange(&[("resource", "https://elsewhere.example")]).json()["error"],
        "invalid_target"
    );
    assert_eq!(exchange(&[]).json()["error"], "invalid_request");
    let r = post_form(
        &s.url("/env-1/as/token"),
        &[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", "forged.token.here"),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
            ("resource", "https://orders.example"),
        ],
        Some(("app-tx", SECRET)),
    );
    assert_eq!(r.json()["error"], "invalid_request", "{}", r.body);
}

/// `at_hash`/`c_hash` as OIDC Core §3.2.2.9 defines them, computed by Python's hashlib (an
/// implementation independent of the server's).
fn half_hash_by_python(value: &str) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import base64,hashlib,sys; d=hashlib.sha256(sys.argv[1].encode()).digest(); \
             print(base64.urlsafe_b64encode(d[:16]).decode().rstrip('='))",
            value,
        ])
        .output()
        .expect("python3");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A redirect-mode sign-on of `miles`: the authorize request, the password through the Flows
/// API, then `/as/resume`; returns where the browser is sent.
fn browser_sign_on(s: &Server, pairs: &[(&str, &str)]) -> String {
    let r = authorize(s, pairs);
    assert_eq!(r.status, 302, "{}", r.body);
    let location = r.location.unwrap();
    let id = param(&url_params(&location, '?'), "flowId").unwrap();
    let f = action(
        s,
        &id,
        "usernamePassword.check",
        json!({"username": "miles", "password": "Kind-of-Blue"}),
    );
    assert_eq!(f.json()["status"], "COMPLETED", "{}", f.body);
    let r = get(&s.url(&format!("/env-1/as/resume?flowId={id}")));
    assert_eq!(r.status, 302, "{}", r.body);
    r.location.unwrap()
}

#[test]
fn implicit_and_hybrid_responses_carry_tokens_with_at_hash_and_c_hash() {
    let s = Server::start(&config("").replacen(
        "client_id = \"app-1\"\nname = \"Test app\"",
        "client_id = \"app-1\"\nname = \"Test app\"\ngrant_types = [\"AUTHORIZATION_CODE\", \"IMPLICIT\"]",
        1,
    ));
    let base = [
        ("client_id", "app-1"),
        ("redirect_uri", "https://app.example/cb"),
        ("scope", "openid profile"),
        ("state", "st-1"),
        ("nonce", "n-1"),
    ];
    let with = |response_type: &'static str| {
        let mut p = base.to_vec();
        p.push(("response_type", response_type));
        p
    };
    // Implicit `id_token token`: both in the fragment; at_hash binds them.
    let location = browser_sign_on(&s, &with("id_token token"));
    assert!(
        location.starts_with("https://app.example/cb#"),
        "{location}"
    );
    let p = url_params(&location, '#');
    assert_eq!(param(&p, "state").as_deref(), Some("st-1"));
    assert_eq!(param(&p, "token_type").as_deref(), Some("Bearer"));
    assert_eq!(param(&p, "expires_in").as_deref(), Some("3600"));
    assert_eq!(param(&p, "code"), None);
    let access = param(&p, "access_token").unwrap();
    let claims = verify_id_token(&s, &param(&p, "id_token").unwrap());
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["at_hash"], half_hash_by_python(&access));
    assert!(claims.get("c_hash").is_none());
    let info = send(
        client()
            .get(s.url("/env-1/as/userinfo"))
            .bearer_auth(&access),
    );
    assert_eq!(info.json()["sub"], "user-3", "{}", info.body);
    // `id_token` alone: no access token, so no at_hash.
    let p = url_params(&browser_sign_on(&s, &with("id_token")), '#');
    assert_eq!(param(&p, "access_token"), None);
    let claims = verify_id_token(&s, &param(&p, "id_token").unwrap());
    assert!(claims.get("at_hash").is_none());
    assert_eq!(claims["given_name"], "Miles");
    // Hybrid `code id_token token`: c_hash binds the code, which still redeems at the token
    // endpoint.
    let p = url_params(&browser_sign_on(&s, &with("code id_token token")), '#');
    let code = param(&p, "code").unwrap();
    let claims = verify_id_token(&s, &param(&p, "id_token").unwrap());
    assert_eq!(claims["c_hash"], half_hash_by_python(&code));
    assert_eq!(
        claims["at_hash"],
        half_hash_by_python(&param(&p, "access_token").unwrap())
    );
    let t = redeem(&s, &code, &[("redirect_uri", "https://app.example/cb")]);
    assert_eq!(t.status, 200, "{}", t.body);
    // form_post and pi.flow carry the same parameters.
    let mut pairs = with("code id_token");
    pairs.push(("response_mode", "form_post"));
    let r = authorize(&s, &pairs);
    let id = param(&url_params(&r.location.unwrap(), '?'), "flowId").unwrap();
    action(
        &s,
        &id,
        "usernamePassword.check",
        json!({"username": "miles", "password": "Kind-of-Blue"}),
    );
    let page = get(&s.url(&format!("/env-1/as/resume?flowId={id}")));
    assert!(page.body.contains("name=\"id_token\""), "{}", page.body);
    assert!(page.body.contains("name=\"code\""), "{}", page.body);
    let done = miles_signs_on(
        &s,
        &[
            ("client_id", "app-1"),
            ("response_type", "id_token token"),
            ("response_mode", "pi.flow"),
            ("scope", "openid"),
            ("nonce", "n-2"),
        ],
    );
    let r = &done["authorizeResponse"];
    assert_eq!(r["expires_in"], 3600, "{done}");
    assert!(r["access_token"].is_string() && r["id_token"].is_string());

    // Refusals: no nonce, tokens in the query, no openid scope, and a response type that does
    // not exist (one the application may not use: `oauth::tests`).
    let refused = |pairs: &[(&str, &str)], error: &str, sep: char| {
        let r = authorize(&s, pairs);
        assert_eq!(r.status, 302, "{}", r.body);
        let location = r.location.unwrap();
        let p = url_params(&location, sep);
        assert_eq!(param(&p, "error").as_deref(), Some(error), "{location}");
    };
    let no_nonce: Vec<_> = with("id_token")
        .into_iter()
        .filter(|(k, _)| *k != "nonce")
        .collect();
    refused(&no_nonce, "invalid_request", '#');
    let mut query = with("token");
    query.push(("response_mode", "query"));
    refused(&query, "invalid_request", '#');
    let no_openid: Vec<_> = with("id_token")
        .into_iter()
        .map(|(k, v)| if k == "scope" { (k, "profile") } else { (k, v) })
        .collect();
    refused(&no_openid, "invalid_request", '#');
    refused(&with("code code"), "unsupported_response_type", '?');

    // Discovery lists what the applications can use: here implicit and hybrid, and no CIBA or
    // device endpoint, since no application has those grants.
    let d = get(&s.url("/env-1/as/.well-known/openid-configuration")).json();
    assert_eq!(
        d["grant_types_supported"],
        json!(["authorization_code", "implicit"])
    );
    assert!(d["response_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("code id_token token")));
    assert!(d.get("backchannel_authentication_endpoint").is_none());
    assert!(d.get("device_authorization_endpoint").is_none());
}

/// A JWK Set document served over HTTP that the test can change; counts the fetches.
struct JwksServer {
    url: String,
    document: std::sync::Arc<std::sync::Mutex<String>>,
    fetches: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl JwksServer {
    fn start(document: String) -> JwksServer {
        use std::io::{BufReader, Write};
        let doc = std::sync::Arc::new(std::sync::Mutex::new(document));
        let fetches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (d, f) = (doc.clone(), fetches.clone());
        let url = common::serve_connections(move |stream| {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let first = common::gateway::read_head(&mut reader).map(|(line, _)| line);
            let (status, body) = if first.is_some_and(|l| l.starts_with("GET /jwks ")) {
                f.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                ("200 OK", d.lock().unwrap().clone())
            } else {
                ("404 Not Found", "{}".to_owned())
            };
            let mut out = stream;
            let _ = write!(
                out,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        });
        JwksServer {
            url,
            document: doc,
            fetches,
        }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn rsa(kid: &str) -> jose::Key {
    jose::Key::generate(jose::Algorithm::RS256)
        .unwrap()
        .with_kid(kid)
}

fn public_set(keys: &[&jose::Key]) -> String {
    jose::KeySet::new(keys.iter().map(|k| k.to_public().unwrap()).collect())
        .to_public_jwks()
        .to_string()
}

#[test]
fn jwks_url_keys_are_fetched_cached_and_refetched_when_the_client_rolls_its_key() {
    let k1 = rsa("k1");
    let k2 = rsa("k2");
    let jwks = JwksServer::start(public_set(&[&k1]));
    let s = Server::start(
        &(config("")
            + &format!(
                r#"
[[environment.application]]
client_id = "app-pk"
client_secret = "{SECRET}"
token_endpoint_auth_method = "PRIVATE_KEY_JWT"
jwks_url = "{}/jwks"
grant_types = ["AUTHORIZATION_CODE", "CLIENT_CREDENTIALS"]
scopes = ["orders:read"]
[[environment.application]]
client_id = "app-gone"
client_secret = "{SECRET}"
token_endpoint_auth_method = "PRIVATE_KEY_JWT"
jwks_url = "{}/missing"
grant_types = ["CLIENT_CREDENTIALS"]
"#,
                jwks.url, jwks.url
            )),
    );
    let token_url = s.url("/env-1/as/token");
    let now: i64 = now().parse().unwrap();
    let jti = std::cell::Cell::new(0);
    let assertion = |key: &jose::Key, client: &str| {
        jti.set(jti.get() + 1);
        jose::Signer::new(key.clone(), jose::Algorithm::RS256)
            .unwrap()
            .sign_claims(&json!({"iss": client, "sub": client, "aud": token_url,
                "jti": format!("j-{}", jti.get()), "exp": now + 60, "iat": now}))
            .unwrap()
    };
    let cc = |a: &str| {
        post_form(
            &token_url,
            &[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", a),
            ],
            None,
        )
    };
    assert_eq!(jwks.fetches(), 0, "fetched only when needed");
    let r = cc(&assertion(&k1, "app-pk"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(jwks.fetches(), 1);
    assert_eq!(cc(&assertion(&k1, "app-pk")).status, 200);
    assert_eq!(jwks.fetches(), 1, "the set is cached");
    // The client rolls to k2: the unknown kid refetches the set (a second after the last fetch:
    // unknown kids refetch at most once a second).
    *jwks.document.lock().unwrap() = public_set(&[&k2]);
    std::thread::sleep(Duration::from_millis(1100));
    let r = cc(&assertion(&k2, "app-pk"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(jwks.fetches(), 2);
    // k1 is gone from the set; junk kids do not make the server fetch in a loop.
    let r = cc(&assertion(&k1, "app-pk"));
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.json()["error"], "invalid_client");
    for i in 0..5 {
        let junk = rsa(&format!("junk-{i}"));
        assert_eq!(cc(&assertion(&junk, "app-pk")).status, 401);
    }
    assert!(
        jwks.fetches() <= 3,
        "at most one refetch per second for unknown kids: {}",
        jwks.fetches()
    );
    // A request object signed with the rolled key is accepted at authorize.
    let ro = jose::Signer::new(k2.clone(), jose::Algorithm::RS256)
        .unwrap()
        .sign_claims(
            &json!({"iss": "app-pk", "aud": s.issuer(), "client_id": "app-pk",
            "response_type": "code", "scope": "openid", "exp": now + 60}),
        )
        .unwrap();
    let r = authorize(
        &s,
        &[
            ("client_id", "app-pk"),
            ("response_type", "code"),
            ("response_mode", "pi.flow"),
            ("request", &ro),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // A jwks_url that cannot be fetched: the error says so.
    let r = cc(&assertion(&k1, "app-gone"));
    assert_eq!(r.status, 401, "{}", r.body);
    let d = r.json()["error_description"].as_str().unwrap().to_owned();
    assert!(d.contains("jwks_url") && d.contains("404"), "{d}");
}

#[test]
fn idp_signoff_needs_the_applications_consent_and_ends_the_session() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let record = seen.clone();
    let backchannel = common::serve_connections(move |stream| {
        use std::io::{BufReader, Read, Write};
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let fields = common::gateway::read_head(&mut reader).map_or(Vec::new(), |(_, f)| f);
        let length = common::gateway::field(&fields, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        record
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&body).into_owned());
        let mut out = stream;
        let _ = out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    });
    let s = Server::start(&(config("").replacen(
        "client_id = \"app-1\"\nname = \"Test app\"",
        &format!(
            "client_id = \"app-1\"\nname = \"Test app\"\nidp_signoff = true\nbackchannel_logout_uri = \"{backchannel}/logout\"\npost_logout_redirect_uris = [\"https://app.example/bye\"]"
        ),
        1,
    ) + &format!(
        "[[environment.application]]\nclient_id = \"app-2\"\nclient_secret = \"{SECRET}\"\nredirect_uris = [\"https://app.example/cb\"]\n"
    )));
    let id_token = |client: &str| {
        let f = password_sign_on(&s, client, "miles", "Kind-of-Blue").json();
        let code = f["authorizeResponse"]["code"].as_str().unwrap().to_owned();
        let t = post_form(
            &s.url("/env-1/as/token"),
            &[("grant_type", "authorization_code"), ("code", &code)],
            Some((client, SECRET)),
        );
        assert_eq!(t.status, 200, "{}", t.body);
        t.json()["id_token"].as_str().unwrap().to_owned()
    };
    let sid = |token: &str| {
        let payload = token.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                .unwrap(),
        )
        .unwrap();
        claims["sid"].as_str().unwrap().to_owned()
    };
    let signoff = |query: &str| get(&s.url(&format!("/env-1/as/idpSignoff?{query}")));
    // app-2 has not allowed IdP signoff.
    let hint2 = id_token("app-2");
    let r = signoff(&format!("id_token_hint={hint2}"));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("idp_signoff is false"), "{}", r.body);
    // client_id must be the hint's aud; id_token_hint is required.
    let hint = id_token("app-1");
    let session = sid(&hint);
    assert_eq!(sid(&hint2), session, "one sign-on session for the user");
    let r = signoff(&format!("id_token_hint={hint}&client_id=app-2"));
    assert_eq!(r.status, 400);
    assert_eq!(r.detail().1, "client_id");
    assert_eq!(signoff("client_id=app-1").status, 400);
    assert!(seen.lock().unwrap().is_empty(), "nothing ended yet");
    // The real thing: a back-channel logout token to app-1, a redirect, a new session after.
    let r = signoff(&format!(
        "id_token_hint={hint}&client_id=app-1&post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fbye&state=s9"
    ));
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(
        r.location.as_deref(),
        Some("https://app.example/bye?state=s9")
    );
    let delivered = seen.lock().unwrap().clone();
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert!(delivered[0].starts_with("logout_token="), "{delivered:?}");
    assert_ne!(sid(&id_token("app-1")), session, "the old session ended");
}

/// The real client library test: node `openid-client` 6.9.0 (tests/node/package.json) runs
/// `tests/node/oidc_client.mjs` against the server; each step it passed prints `ok STEP`.
#[test]
fn openid_client_drives_every_grant() {
    let dir = TempDir::new();
    let key = rsa("pk-1");
    dir.write("app-pk.jwks", public_set(&[&key]));
    let path = dir.write(
        "authz.toml",
        &(config("").replacen(
            "client_id = \"app-1\"\nname = \"Test app\"",
            "client_id = \"app-1\"\nname = \"Test app\"\ntoken_endpoint_auth_method = \"CLIENT_SECRET_BASIC\"\n\
             grant_types = [\"AUTHORIZATION_CODE\", \"IMPLICIT\", \"REFRESH_TOKEN\", \"TOKEN_EXCHANGE\"]\n\
             resources = [\"https://api.example\"]\npost_logout_redirect_uris = [\"https://app.example/bye\"]",
            1,
        ) + &format!(
            r#"
[[environment.application]]
client_id = "app-cc"
client_secret = "{SECRET}"
grant_types = ["CLIENT_CREDENTIALS"]
scopes = ["orders:read"]
[[environment.application]]
client_id = "app-pk"
client_secret = "{SECRET}"
token_endpoint_auth_method = "PRIVATE_KEY_JWT"
jwks = "app-pk.jwks"
grant_types = ["CLIENT_CREDENTIALS"]
scopes = ["orders:read"]
[[environment.application]]
client_id = "app-dev"
client_secret = "{SECRET}"
grant_types = ["DEVICE_CODE", "CIBA"]
"#
        )),
    );
    let s = Server::start_file(&path, Some(dir));
    let root = env!("CARGO_MANIFEST_DIR");
    let jwk = serde_json::Value::Object(key.private_jwk().unwrap()).to_string();
    let out = Command::new("node")
        .arg(format!("{root}/tests/node/oidc_client.mjs"))
        .env("ISSUER", s.issuer())
        .env("SECRET", SECRET)
        .env("PRIVATE_JWK", jwk)
        .output()
        .expect("node (tests/setup.sh installs it and openid-client)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "openid-client failed:\n{stdout}\n{stderr}"
    );
    let steps: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ok "))
        .map(|l| l.split(' ').next().unwrap_or_default())
        .collect();
    assert_eq!(
        steps,
        [
            "discovery",
            "authorization_code",
            "userinfo",
            "refresh_token",
            "introspection",
            "revocation",
            "par",
            "token_exchange",
            "client_credentials",
            "private_key_jwt",
            "device_code",
            "ciba",
            "implicit",
            "hybrid",
            "end_session"
        ],
        "{stdout}"
    );
}

#[test]
fn offline_access_refresh_tokens_outlive_a_signoff_and_others_end_with_it() {
    let s = Server::start(&grants_config());
    let tokens_for = |client: &str, secret: &str, scope: &str| {
        let done = miles_signs_on(
            &s,
            &[
                ("client_id", client),
                ("response_type", "code"),
                ("response_mode", "pi.flow"),
                ("scope", scope),
            ],
        );
        let code = done["authorizeResponse"]["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let t = post_form(
            &s.url("/env-1/as/token"),
            &[("grant_type", "authorization_code"), ("code", &code)],
            Some((client, secret)),
        );
        assert_eq!(t.status, 200, "{}", t.body);
        t.json()
    };
    let online = tokens_for("app-1", SECRET, "openid");
    let offline = tokens_for("app-1", SECRET, "openid offline_access");
    assert_eq!(offline["scope"], "openid offline_access");
    // The user signs off (the same sign-on session for both).
    let hint = online["id_token"].as_str().unwrap();
    let r = get(&s.url(&format!("/env-1/as/signoff?id_token_hint={hint}")));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = refresh(&s, online["refresh_token"].as_str().unwrap(), &[]);
    assert_eq!(
        r.json()["error"],
        "invalid_grant",
        "ended with the session: {}",
        r.body
    );
    let r = refresh(&s, offline["refresh_token"].as_str().unwrap(), &[]);
    assert_eq!(
        r.status, 200,
        "offline_access outlives the session: {}",
        r.body
    );
    // An application that may not refresh: offline_access is ignored (OIDC Core §11).
    let s2 = Server::start(&config(""));
    let done = miles_signs_on(
        &s2,
        &[
            ("client_id", "app-1"),
            ("response_type", "code"),
            ("response_mode", "pi.flow"),
            ("scope", "openid offline_access"),
        ],
    );
    let t = redeem(
        &s2,
        done["authorizeResponse"]["code"].as_str().unwrap(),
        &[],
    )
    .json();
    assert_eq!(t["scope"], "openid");
    assert!(t.get("refresh_token").is_none(), "{t}");
}
