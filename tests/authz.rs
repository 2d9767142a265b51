//! End-to-end tests of `signet authz`: the real binary on loopback (an ephemeral port), driven
//! over HTTP like a client of PingOne would, with tokens made by the real `signet` commands.
//! Every HTTP call has a timeout and every server is killed when its test ends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::authz::*;
use common::{client, signet_in, TempDir};
use serde_json::{json, Value};

#[test]
fn seed_transaction_approval_by_sms_ends_in_a_verified_id_token() {
    let s = Server::start(&config(""));
    let ro = seed_request_object(&[]);
    let r = pi_flow(&s, &[("request", &ro), ("state", "st-1"), ("nonce", "n-1")]);
    let f = r.json();
    let id = f["id"].as_str().unwrap().to_owned();
    assert_eq!(f["environment"]["id"], "env-1");
    assert_eq!(
        f["_links"]["usernamePassword.check"]["href"],
        s.url(&format!("/env-1/flows/{id}"))
    );
    assert_eq!(
        f["resumeUrl"],
        s.url(&format!("/env-1/as/resume?flowId={id}"))
    );
    assert_eq!(f["_embedded"]["application"]["name"], "Test app");
    assert!(iso_millis(f["createdAt"].as_str().unwrap()), "{f}");
    assert!(iso_millis(f["expiresAt"].as_str().unwrap()), "{f}");

    let r = action(
        &s,
        &id,
        "usernamePassword.check",
        json!({"username": "charlie", "password": "Bird-1920"}),
    );
    let f = r.json();
    assert_eq!(f["status"], "OTP_REQUIRED", "{f}");
    assert_eq!(
        f["_embedded"]["devices"],
        json!([{"id": "dev-1", "type": "SMS", "status": "ACTIVE", "phone": "*******00"}])
    );
    assert!(f["_links"]["otp.check"]["href"].is_string());
    assert_eq!(f["selectedDevice"]["id"], "dev-1");

    let sent = outbox(&s, &id);
    assert_eq!(sent.len(), 1);
    let n = &sent[0];
    let otp = n["otp"].as_str().unwrap().to_owned();
    assert_eq!(otp.len(), 6);
    assert!(otp.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(n["message"], format!("{SEED_MESSAGE_PREFIX}{otp}"));
    assert_eq!(n["type"], "SMS");
    assert_eq!(n["to"], "+15550100");
    assert_eq!(n["deviceId"], "dev-1");
    assert_eq!(n["flowId"], id.as_str());
    assert_eq!(n["clientContext"], json!({"alert.color": "red"}));
    assert!(iso_millis(n["createdAt"].as_str().unwrap()));

    // A wrong passcode first: PingOne's envelope, attempts counted.
    let wrong = if otp == "000000" { "111111" } else { "000000" };
    let r = action(&s, &id, "otp.check", json!({ "otp": wrong }));
    assert_eq!(r.status, 400);
    let (code, target, _) = r.detail();
    assert_eq!((code.as_str(), target.as_str()), ("INVALID_OTP", "otp"));
    assert_eq!(r.json()["code"], "INVALID_DATA");
    assert_eq!(r.json()["details"][0]["innerError"]["failuresRemaining"], 2);

    let r = action(&s, &id, "otp.check", json!({ "otp": otp }));
    let f = r.json();
    assert_eq!(f["status"], "COMPLETED", "{f}");
    assert_eq!(f["_embedded"]["user"]["username"], "charlie");
    assert_eq!(f["authorizeResponse"]["state"], "st-1");
    let code = f["authorizeResponse"]["code"].as_str().unwrap().to_owned();

    let r = redeem(&s, &code, &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    let t = r.json();
    assert_eq!(t["token_type"], "Bearer");
    let claims = verify_id_token(&s, t["id_token"].as_str().unwrap());
    assert_eq!(claims["iss"], s.issuer());
    assert_eq!(claims["sub"], "user-1");
    assert_eq!(claims["aud"], "app-1");
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["acr"], "Multi_Factor");
    assert_eq!(claims["amr"], json!(["pwd", "sms", "otp", "mfa"]));
    assert_eq!(claims["pi.template"], json!({"name": "transaction"}));
    assert!(claims["auth_time"].is_i64() && claims["iat"].is_i64() && claims["exp"].is_i64());

    // Codes are single use.
    let r = redeem(&s, &code, &[]);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_grant");

    // The access token opens userinfo.
    let r = send(
        client()
            .get(s.url("/env-1/as/userinfo"))
            .bearer_auth(t["access_token"].as_str().unwrap()),
    );
    assert_eq!((r.status, r.json()), (200, json!({"sub": "user-1"})));
}

#[test]
fn a_variant_picks_its_content() {
    let s = Server::start(&config(""));
    let ro = seed_request_object(&["--variant", "HIGH-VALUE"]);
    let (f, sent) = approve_by_sms(&s, &ro);
    let otp = sent[0]["otp"].as_str().unwrap();
    assert_eq!(
        sent[0]["message"],
        format!("HIGH VALUE 1,000,000 USD: {otp}")
    );
    let code = f["authorizeResponse"]["code"].as_str().unwrap();
    let t = redeem(&s, code, &[]).json();
    let claims = verify_id_token(&s, t["id_token"].as_str().unwrap());
    assert_eq!(
        claims["pi.template"],
        json!({"name": "transaction", "variant": "HIGH-VALUE"})
    );
}

#[test]
fn push_approval_completes_the_transaction() {
    let s = Server::start(&config(""));
    // The request object names the user (sub), so no password is asked.
    let ro = seed_request_object(&["--sub", "dizzy"]);
    let f = pi_flow(&s, &[("request", &ro)]).json();
    assert_eq!(f["status"], "PUSH_CONFIRMATION_REQUIRED", "{f}");
    assert!(f["_links"]["cancel.push.authentication"].is_object());
    let id = f["id"].as_str().unwrap().to_owned();
    let sent = outbox(&s, &id);
    assert_eq!(sent[0]["type"], "PUSH");
    assert_eq!(
        sent[0]["message"],
        "Approve 1,000,000 USD to Charlie Parker?"
    );
    assert_eq!(sent[0]["clientContext"], json!({"alert.color": "red"}));
    assert_eq!(sent[0]["otp"], Value::Null);
    // Still waiting: polling shows the same status.
    let f = get(&s.url(&format!("/env-1/flows/{id}"))).json();
    assert_eq!(f["status"], "PUSH_CONFIRMATION_REQUIRED");

    let r = send(client().post(s.url(&format!("/env-1/emulator/push/{id}/approve"))));
    assert_eq!(r.status, 200, "{}", r.body);
    let f = r.json();
    assert_eq!(f["status"], "COMPLETED");
    let code = f["authorizeResponse"]["code"].as_str().unwrap();
    let t = redeem(&s, code, &[]).json();
    let claims = verify_id_token(&s, t["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "user-2");
    assert_eq!(claims["amr"], json!(["swk", "user"]));
    assert_eq!(claims["pi.template"]["name"], "transaction");
    // Approving twice is not possible.
    let r = send(client().post(s.url(&format!("/env-1/emulator/push/{id}/approve"))));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "REQUEST_FAILED");
}

#[test]
fn push_denial_fails_the_flow() {
    let s = Server::start(&config(""));
    let ro = seed_request_object(&["--sub", "user-2"]);
    let id = pi_flow(&s, &[("request", &ro)]).json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = send(client().post(s.url(&format!("/env-1/emulator/push/{id}/deny"))));
    let f = r.json();
    assert_eq!(f["status"], "FAILED");
    assert_eq!(f["error"]["code"], "access_denied");
    assert!(f.get("authorizeResponse").is_none());
    let f = get(&s.url(&format!("/env-1/as/resume?flowId={id}"))).json();
    assert_eq!(f["status"], "FAILED");
}

#[test]
fn login_hint_tokens_name_the_user_by_id_or_username() {
    let s = Server::start(&config(""));
    // By id, a user without devices: completed at once.
    let f = pi_flow(
        &s,
        &[("login_hint_token", &login_hint("user-3")), ("state", "a")],
    )
    .json();
    assert_eq!(f["status"], "COMPLETED", "{f}");
    assert_eq!(f["authorizeResponse"]["state"], "a");
    let code = f["authorizeResponse"]["code"].as_str().unwrap();
    let t = redeem(&s, code, &[]).json();
    let claims = verify_id_token(&s, t["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "user-3");
    assert_eq!(claims["acr"], "Single_Factor");
    assert!(
        claims.get("pi.template").is_none(),
        "no transaction was approved"
    );

    // By username, with an SMS device: straight to the passcode, no password.
    let f = pi_flow(&s, &[("login_hint_token", &login_hint("charlie"))]).json();
    assert_eq!(f["status"], "OTP_REQUIRED", "{f}");
    assert_eq!(f["_embedded"]["user"]["id"], "user-1");
    let id = f["id"].as_str().unwrap();
    let sent = outbox(&s, id);
    assert_eq!(
        sent[0]["message"],
        format!("Your passcode is {}", sent[0]["otp"].as_str().unwrap())
    );
}

#[test]
fn several_devices_are_selected_and_push_can_be_cancelled() {
    let s = Server::start(&config(""));
    let f = pi_flow(&s, &[("login_hint_token", &login_hint("ella"))]).json();
    assert_eq!(f["status"], "DEVICE_SELECTION_REQUIRED", "{f}");
    assert_eq!(f["_embedded"]["devices"][0]["email"], "e*****@example.com");
    assert_eq!(f["_embedded"]["devices"][1]["type"], "MOBILE");
    let id = f["id"].as_str().unwrap().to_owned();
    let f = action(
        &s,
        &id,
        "device.select",
        json!({"device": {"id": "dev-4b"}}),
    )
    .json();
    assert_eq!(f["status"], "PUSH_CONFIRMATION_REQUIRED");
    let f = action(
        &s,
        &id,
        "cancel.push.authentication",
        json!({"reason": "CHANGE_DEVICE"}),
    )
    .json();
    assert_eq!(f["status"], "DEVICE_SELECTION_REQUIRED");
    let f = action(
        &s,
        &id,
        "device.select",
        json!({"device": {"id": "dev-4a"}}),
    )
    .json();
    assert_eq!(f["status"], "OTP_REQUIRED");
    let sent = outbox(&s, &id);
    let email = sent.last().unwrap();
    assert_eq!(
        (email["type"].as_str(), email["to"].as_str()),
        (Some("EMAIL"), Some("ella@example.com"))
    );
    let f = action(&s, &id, "otp.check", json!({"otp": email["otp"]})).json();
    assert_eq!(f["status"], "COMPLETED");
}

#[test]
fn redirect_mode_resumes_to_the_client_and_pkce_s256_is_checked() {
    let s = Server::start(&config(""));
    let start = |state: &str| {
        let r = authorize(
            &s,
            &[
                ("client_id", "app-1"),
                ("response_type", "code"),
                ("redirect_uri", "https://app.example/cb"),
                ("scope", "openid profile email"),
                ("state", state),
                ("nonce", "n-9"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ],
        );
        assert_eq!(r.status, 302, "{}", r.body);
        let location = r.location.unwrap();
        assert!(
            location.starts_with(&s.url("/env-1/signon/?flowId=")),
            "{location}"
        );
        let id = param(&url_params(&location, '?'), "flowId").unwrap();
        let f = action(
            &s,
            &id,
            "usernamePassword.check",
            json!({"username": "miles", "password": "Kind-of-Blue"}),
        )
        .json();
        assert_eq!(f["status"], "COMPLETED");
        assert!(
            f.get("authorizeResponse").is_none(),
            "redirect modes answer at resume"
        );
        let r = get(&s.url(&format!("/env-1/as/resume?flowId={id}")));
        assert_eq!(r.status, 302, "{}", r.body);
        let location = r.location.unwrap();
        assert!(
            location.starts_with("https://app.example/cb?"),
            "{location}"
        );
        let p = url_params(&location, '?');
        assert_eq!(param(&p, "state").as_deref(), Some(state));
        // The flow ended at resume.
        assert_eq!(
            get(&s.url(&format!("/env-1/as/resume?flowId={id}"))).status,
            404
        );
        param(&p, "code").unwrap()
    };
    let code = start("xyz");
    let r = post_form(
        &s.url("/env-1/as/token"),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://app.example/cb"),
            ("code_verifier", VERIFIER),
            ("client_id", "app-1"),
            ("client_secret", SECRET),
        ],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let t = r.json();
    let claims = verify_id_token(&s, t["id_token"].as_str().unwrap());
    assert_eq!(claims["nonce"], "n-9");
    assert_eq!(claims["given_name"], "Miles");
    assert_eq!(claims["amr"], json!(["pwd"]));
    let info = send(
        client()
            .get(s.url("/env-1/as/userinfo"))
            .bearer_auth(t["access_token"].as_str().unwrap()),
    )
    .json();
    assert_eq!(info["email"], "miles@example.com");
    assert_eq!(info["preferred_username"], "miles");

    // PKCE mismatch.
    let code = start("second");
    let r = redeem(
        &s,
        &code,
        &[
            ("redirect_uri", "https://app.example/cb"),
            ("code_verifier", &"x".repeat(43)),
        ],
    );
    assert_eq!(r.status, 400);
    let e = r.json();
    assert_eq!(e["error"], "invalid_grant");
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("code_challenge"),
        "{e}"
    );
    // ... and the code was used up by that attempt.
    let r = redeem(
        &s,
        &code,
        &[
            ("redirect_uri", "https://app.example/cb"),
            ("code_verifier", VERIFIER),
        ],
    );
    assert_eq!(r.json()["error"], "invalid_grant");
}

#[test]
fn fragment_and_form_post_carry_the_code() {
    let s = Server::start(&config(""));
    let lht = login_hint("miles");
    let base = [
        ("client_id", "app-1"),
        ("response_type", "code"),
        ("redirect_uri", "https://app.example/cb"),
        ("state", "s<&>"),
        ("login_hint_token", lht.as_str()),
    ];
    let mut frag = base.to_vec();
    frag.push(("response_mode", "fragment"));
    let r = authorize(&s, &frag);
    assert_eq!(r.status, 302);
    let location = r.location.unwrap();
    assert!(
        location.starts_with("https://app.example/cb#"),
        "{location}"
    );
    let p = url_params(&location, '#');
    assert_eq!(param(&p, "state").as_deref(), Some("s<&>"));
    assert!(param(&p, "code").is_some());

    let mut post = base.to_vec();
    post.push(("response_mode", "form_post"));
    let r = post_form(&s.url("/env-1/as/authorize"), &post, None);
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("text/html"));
    assert!(
        r.body.contains("action=\"https://app.example/cb\""),
        "{}",
        r.body
    );
    assert!(r.body.contains("name=\"code\""));
    assert!(r.body.contains("value=\"s&lt;&amp;&gt;\""), "{}", r.body);
}

// --- refusals, each in PingOne's shape ---

/// Asserts a 400 envelope whose first detail has this target and a message containing `want`.
fn assert_refused(r: &Reply, target: &str, want: &str) {
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.content_type.starts_with("application/json"));
    let v = r.json();
    assert_eq!(v["code"], "INVALID_DATA", "{v}");
    assert_eq!(
        v["message"],
        "The request could not be completed. One or more validation errors were in the request."
    );
    let (_, t, message) = r.detail();
    assert_eq!(t, target, "{v}");
    assert!(message.contains(want), "want {want:?} in {message:?}");
}

#[test]
fn request_objects_are_refused_for_each_rule() {
    let s = Server::start(&config(""));
    let check = |ro: &str, want: &str| {
        assert_refused(&pi_flow(&s, &[("request", ro)]), "request", want);
    };
    check(
        &request_object(&["--unsigned"]),
        "unsigned request object refused: the application does not support unsigned request objects (supportUnsignedRequestObject is false)",
    );
    check(
        &request_object(&["--secret", "not-the-client-secret-at-all-32b!"]),
        "request object signature does not verify with the client secret",
    );
    check(
        &request_object(&["--region", "eu"]),
        "aud is \"https://auth.pingone.eu/env-1/as\", expected one of",
    );
    // Made a year ago (the shared test clock), five minutes of life: long expired.
    let old = make_at(
        &[
            "request-object",
            "--env",
            "env-1",
            "--client-id",
            "app-1",
            "--secret",
            SECRET,
        ],
        common::NOW,
    );
    check(&old, "request object: exp is in the past (expired");
    check(
        &request_object(&["--sub", "nobody"]),
        "request object sub \"nobody\" matches no user",
    );
    check(
        &request_object(&["--template", "wire"]),
        "pi.template: unknown template \"wire\"",
    );
    check(
        &request_object(&[
            "--template",
            "transaction",
            "--var",
            "sum=5",
            "--var",
            "currency=EUR",
        ]),
        "uses ${recipient}, which pi.template.variables does not supply",
    );
    check(
        &seed_request_object(&["--variant", "low-value"]),
        "template \"transaction\" has no variant \"low-value\"",
    );
    // The PingOne issuer of the region and this server's issuer are both accepted.
    let local = make(&[
        "sign",
        "--alg",
        "HS256",
        "--secret",
        SECRET,
        "--iss",
        "app-1",
        "--aud",
        &s.issuer(),
    ]);
    assert_eq!(pi_flow(&s, &[("request", &local)]).status, 200);
}

#[test]
fn login_hint_tokens_are_refused_for_each_rule() {
    let s = Server::start(&config(""));
    let check = |lht: &str, want: &str| {
        assert_refused(
            &pi_flow(&s, &[("login_hint_token", lht)]),
            "login_hint_token",
            want,
        );
    };
    let aud = "https://auth.pingone.com/env-1/as";
    let cty = make(&[
        "sign",
        "--alg",
        "HS256",
        "--secret",
        SECRET,
        "--header",
        "cty=JWT",
        "--iss",
        "app-1",
        "--sub",
        "user-1",
        "--aud",
        aud,
        "--expires-in",
        "1h",
    ]);
    check(
        &cty,
        "login_hint_token: header member cty is not allowed: PingOne supports no nested signing or encryption here",
    );
    check(
        &login_hint("nobody"),
        "login_hint_token sub \"nobody\" matches no user (by id or by username)",
    );
    let other = make(&[
        "login-hint",
        "--env",
        "env-1",
        "--client-id",
        "app-1",
        "--secret",
        "another-secret-that-is-long-enough",
        "--user",
        "user-1",
    ]);
    check(
        &other,
        "login_hint_token signature does not verify with the client secret",
    );
    let expired = make_at(
        &[
            "login-hint",
            "--env",
            "env-1",
            "--client-id",
            "app-1",
            "--secret",
            SECRET,
            "--user",
            "user-1",
        ],
        common::NOW,
    );
    check(&expired, "login_hint_token: exp is in the past");
}

#[test]
fn a_disabled_application_is_refused() {
    let s = Server::start(&config(""));
    let r = authorize(
        &s,
        &[
            ("client_id", "app-off"),
            ("response_type", "code"),
            ("response_mode", "pi.flow"),
        ],
    );
    assert_refused(&r, "client_id", "application \"app-off\" is disabled");
    let r = authorize(
        &s,
        &[
            ("client_id", "ghost"),
            ("response_type", "code"),
            ("response_mode", "pi.flow"),
        ],
    );
    assert_refused(&r, "client_id", "application \"ghost\" does not exist");
}

#[test]
fn redirect_mode_errors_go_back_to_the_client() {
    let s = Server::start(&config(""));
    let r = authorize(
        &s,
        &[
            ("client_id", "app-1"),
            ("response_type", "code"),
            ("redirect_uri", "https://app.example/cb"),
            ("state", "st"),
            ("request", &request_object(&["--unsigned"])),
        ],
    );
    assert_eq!(r.status, 302);
    let p = url_params(&r.location.unwrap(), '?');
    assert_eq!(
        param(&p, "error").as_deref(),
        Some("invalid_request_object")
    );
    assert!(param(&p, "error_description")
        .unwrap()
        .contains("supportUnsignedRequestObject"));
    assert_eq!(param(&p, "state").as_deref(), Some("st"));
    // An unregistered redirect URI is never redirected to.
    let r = authorize(
        &s,
        &[
            ("client_id", "app-1"),
            ("response_type", "code"),
            ("redirect_uri", "https://evil.example/cb"),
        ],
    );
    assert_refused(&r, "redirect_uri", "is not registered");
    // A failed flow resumes to the client with access_denied.
    let r = authorize(
        &s,
        &[
            ("client_id", "app-1"),
            ("response_type", "code"),
            ("redirect_uri", "https://app.example/cb"),
            ("state", "s2"),
            ("login_hint_token", &login_hint("dizzy")),
        ],
    );
    let id = param(&url_params(&r.location.unwrap(), '?'), "flowId").unwrap();
    send(client().post(s.url(&format!("/env-1/emulator/push/{id}/deny"))));
    let r = get(&s.url(&format!("/env-1/as/resume?flowId={id}")));
    let p = url_params(&r.location.unwrap(), '?');
    assert_eq!(param(&p, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&p, "state").as_deref(), Some("s2"));
}

#[test]
fn three_wrong_passcodes_fail_the_flow() {
    let s = Server::start(&config(""));
    let f = pi_flow(&s, &[("login_hint_token", &login_hint("user-1"))]).json();
    let id = f["id"].as_str().unwrap().to_owned();
    let otp = outbox(&s, &id)[0]["otp"].as_str().unwrap().to_owned();
    let wrong = if otp == "999999" { "888888" } else { "999999" };
    for remaining in [2, 1, 0] {
        let r = action(&s, &id, "otp.check", json!({ "otp": wrong }));
        assert_eq!(r.status, 400);
        assert_eq!(
            r.json()["details"][0]["innerError"]["failuresRemaining"],
            remaining
        );
    }
    let f = get(&s.url(&format!("/env-1/flows/{id}"))).json();
    assert_eq!(f["status"], "FAILED");
    // The right passcode is too late now.
    let r = action(&s, &id, "otp.check", json!({ "otp": otp }));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "REQUEST_FAILED");
}

#[test]
fn an_idle_flow_expires_into_a_404() {
    let s = Server::start(&config("flow_idle_timeout_seconds = 1"));
    let f = pi_flow(&s, &[]).json();
    let id = f["id"].as_str().unwrap().to_owned();
    assert_eq!(get(&s.url(&format!("/env-1/flows/{id}"))).status, 200);
    std::thread::sleep(Duration::from_millis(2500));
    for url in [
        s.url(&format!("/env-1/flows/{id}")),
        s.url(&format!("/env-1/as/resume?flowId={id}")),
    ] {
        let r = get(&url);
        assert_eq!(r.status, 404, "{}", r.body);
        let v = r.json();
        assert_eq!(v["code"], "NOT_FOUND");
        let (_, target, message) = r.detail();
        assert_eq!(target, "flowId");
        assert!(message.contains("has expired"), "{message}");
    }
    let r = action(
        &s,
        &id,
        "usernamePassword.check",
        json!({"username": "miles", "password": "x"}),
    );
    assert_eq!(r.status, 404);
}

#[test]
fn token_endpoint_errors_are_oauth_errors() {
    let s = Server::start(&config(""));
    let token = s.url("/env-1/as/token");
    let f = pi_flow(&s, &[("login_hint_token", &login_hint("miles"))]).json();
    let code = f["authorizeResponse"]["code"].as_str().unwrap().to_owned();
    let cases: Vec<(Reply, u16, &str)> = vec![
        (
            post_form(
                &token,
                &[("grant_type", "authorization_code"), ("code", &code)],
                Some(("app-1", "wrong")),
            ),
            401,
            "invalid_client",
        ),
        (
            post_form(
                &token,
                &[("grant_type", "authorization_code"), ("code", &code)],
                None,
            ),
            401,
            "invalid_client",
        ),
        (
            post_form(
                &token,
                &[("grant_type", "password")],
                Some(("app-1", SECRET)),
            ),
            400,
            "unsupported_grant_type",
        ),
        (
            post_form(
                &token,
                &[("grant_type", "authorization_code")],
                Some(("app-1", SECRET)),
            ),
            400,
            "invalid_request",
        ),
        (
            post_form(
                &token,
                &[("grant_type", "authorization_code"), ("code", "made-up")],
                Some(("app-1", SECRET)),
            ),
            400,
            "invalid_grant",
        ),
    ];
    for (r, status, error) in cases {
        assert_eq!(
            (r.status, r.json()["error"].as_str().unwrap()),
            (status, error),
            "{}",
            r.body
        );
    }
    // The code survived the failed client authentications.
    assert_eq!(redeem(&s, &code, &[]).status, 200);
}

#[test]
fn bad_input_gets_json_errors_and_the_server_keeps_serving() {
    let s = Server::start(&config("max_flows = 3"));
    let flow = pi_flow(&s, &[]).json()["id"].as_str().unwrap().to_owned();
    let bad: Vec<Reply> = vec![
        get(&s.url("/nope/as/authorize?client_id=app-1")),
        get(&s.url("/env-1/nothing/here")),
        send(client().delete(s.url("/env-1/as/jwks"))),
        get(&s.url("/env-1/as/authorize?client_id=app-1&client_id=app-1")),
        get(&s.url("/env-1/as/authorize")),
        get(&s.url("/env-1/as/authorize?client_id=app-1&response_type=code&response_mode=pi.flow&request=not.a.jwt")),
        get(&s.url("/env-1/as/authorize?client_id=app-1&response_type=code&response_mode=nope")),
        get(&s.url("/env-1/flows/no-such-flow")),
        action(&s, &flow, "user.register", json!({})),
        action(&s, &flow, "otp.check", json!({"otp": "1"})),
        action(&s, &flow, "usernamePassword.check", json!({"password": 5})),
        send(client().post(s.url(&format!("/env-1/flows/{flow}"))).header("content-type", "application/vnd.pingidentity.otp.check+json").body("{not json")),
        send(client().post(s.url(&format!("/env-1/flows/{flow}"))).header("content-type", "application/vnd.pingidentity.otp.check+json").body(vec![b'x'; 300 * 1024])),
        send(client().post(s.url("/env-1/as/authorize")).body("client_id=app-1")),
        get(&s.url("/env-1/as/resume")),
        send(client().get(s.url("/env-1/as/userinfo")).bearer_auth("garbage")),
        get(&s.url("/env-1/emulator/outbox/../../x")),
        send(client().post(s.url("/env-1/emulator/push/x/maybe"))),
    ];
    for r in &bad {
        assert!(r.status >= 400, "{} {}", r.status, r.body);
        let v = r.json();
        assert!(
            v["id"].is_string() && v["code"].is_string() && v["message"].is_string(),
            "{v}"
        );
    }
    // Over max_flows the least recently used flow goes; the server keeps answering.
    let first = pi_flow(&s, &[]).json()["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        assert_eq!(pi_flow(&s, &[]).status, 200);
    }
    assert_eq!(get(&s.url(&format!("/env-1/flows/{first}"))).status, 404);
    let r = get(&s.url("/env-1/as/jwks"));
    assert_eq!(r.status, 200);
}

#[test]
fn discovery_and_jwks_describe_the_issuer() {
    let s = Server::start(&config(""));
    let d = get(&s.url("/env-1/as/.well-known/openid-configuration")).json();
    assert_eq!(d["issuer"], s.issuer());
    assert_eq!(d["authorization_endpoint"], s.url("/env-1/as/authorize"));
    assert_eq!(d["token_endpoint"], s.url("/env-1/as/token"));
    assert_eq!(d["userinfo_endpoint"], s.url("/env-1/as/userinfo"));
    assert_eq!(d["jwks_uri"], s.url("/env-1/as/jwks"));
    assert!(d["response_modes_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("pi.flow")));
    let jwks = get(&s.url("/env-1/as/jwks")).json();
    let key = &jwks["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["alg"].as_str(),
            key["use"].as_str()
        ),
        (Some("RSA"), Some("RS256"), Some("sig"))
    );
    let parsed = jose::Key::from_jwk(key.as_object().unwrap()).unwrap();
    assert_eq!(
        key["kid"].as_str(),
        Some(parsed.thumbprint().as_str()),
        "kid = RFC 7638 thumbprint"
    );
    // OIDC discovery through the real CLI: `signet verify --issuer`.
    let f = pi_flow(&s, &[("login_hint_token", &login_hint("miles"))]).json();
    let t = redeem(&s, f["authorizeResponse"]["code"].as_str().unwrap(), &[]).json();
    let r = signet_in(
        None,
        &[
            "verify",
            t["id_token"].as_str().unwrap(),
            "--issuer",
            &s.issuer(),
        ],
        None,
        &[("SIGNET_NOW", &now())],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn the_shipped_example_config_runs_the_seed_flow() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/authz.toml");
    let s = Server::start_file(path, None);
    let ro = make(&[
        "request-object",
        "--env",
        "env-1",
        "--client-id",
        "app-1",
        "--secret",
        "app-1-secret-change-me-0123456789",
        "--template",
        "transaction",
        "--var",
        "sum=1,000,000",
        "--var",
        "currency=USD",
        "--var",
        "recipient=Charlie Parker",
        "--context",
        "alert.color=red",
    ]);
    let f = pi_flow(&s, &[("request", &ro)]).json();
    let id = f["id"].as_str().unwrap().to_owned();
    let f = action(
        &s,
        &id,
        "usernamePassword.check",
        json!({"username": "charlie", "password": "Bird-1920"}),
    )
    .json();
    assert_eq!(f["status"], "OTP_REQUIRED", "{f}");
    let sent = outbox(&s, &id);
    let otp = sent[0]["otp"].as_str().unwrap().to_owned();
    assert_eq!(sent[0]["message"], format!("{SEED_MESSAGE_PREFIX}{otp}"));
    let f = action(&s, &id, "otp.check", json!({ "otp": otp })).json();
    let code = f["authorizeResponse"]["code"].as_str().unwrap();
    let r = post_form(
        &s.url("/env-1/as/token"),
        &[("grant_type", "authorization_code"), ("code", code)],
        Some(("app-1", "app-1-secret-change-me-0123456789")),
    );
    let claims = verify_id_token(&s, r.json()["id_token"].as_str().unwrap());
    assert_eq!(claims["pi.template"]["name"], "transaction");
}

/// Runs `signet authz --config PATH` expecting it to exit (killed after 30 s if it does not).
fn authz_exit(path: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_signet"))
        .args(["authz", "--config", path, "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_configs_exit_2_naming_the_problem() {
    let dir = TempDir::new();
    let cases = [
        (config("").replace("region = \"na\"", "region = \"mars\""), "environment \"env-1\": region: unknown region \"mars\""),
        (config("").replace("type = \"MOBILE\"", "type = \"PIGEON\""), "device \"dev-2\": type \"PIGEON\" is not one of SMS, EMAIL, VOICE, MOBILE, TOTP"),
        (config("flow_idle_timeout_seconds = 0"), "flow_idle_timeout_seconds: must be at least 1"),
        (config("").replace("${OTP}", "${OTP"), "template \"transaction\": body: unterminated ${"),
        ("[[environment]]\nid = \"e\"\n[[environment.application]]\nclient_id = \"a\"\nclient_secret = \"s\"\nsupport_unsigned_request_object = true\nrequire_signed_request_object = true\n".to_owned(), "application \"a\": support_unsigned_request_object and require_signed_request_object cannot both be true"),
        ("this is = not toml".to_owned(), "not valid TOML"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let path = dir.write(&format!("c{i}.toml"), text);
        let (code, stdout, stderr) = authz_exit(&path);
        assert_eq!(code, 2, "{text}\n{stderr}");
        assert!(stderr.contains(want), "want {want:?}: {stderr}");
        assert!(stdout.is_empty());
    }
    let (code, _, stderr) = authz_exit("/no/such/file.toml");
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read the file"), "{stderr}");
}

/// `node tests/node/jwt_verifier.mjs ISSUER TOKEN AUDIENCE`: PingOne's sample's way of verifying
/// (x5c[0] → certificate → jsonwebtoken.verify); the exit code and the output.
fn sample_verifier(issuer: &str, token: &str) -> (i32, String) {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("node")
        .arg(format!("{root}/tests/node/jwt_verifier.mjs"))
        .args([issuer, token, "app-1"])
        .output()
        .expect("node (tests/setup.sh installs it and jsonwebtoken)");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn pingones_sample_verifier_accepts_id_tokens_through_x5c() {
    let s = Server::start(&config(""));
    let jwks = get(&s.url("/env-1/as/jwks")).json();
    let key = &jwks["keys"][0];
    let der = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(key["x5c"][0].as_str().unwrap())
            .unwrap()
    };
    // The certificate holds the JWK's key, and x5t#S256 is its SHA-256.
    let from_cert = jose::Key::from_der(&der).unwrap();
    assert_eq!(from_cert.thumbprint(), key["kid"].as_str().unwrap());
    let digest = sha256_by_openssl(&der);
    assert_eq!(
        key["x5t#S256"].as_str().unwrap(),
        common::enc_b64url(&digest)
    );

    let (f, _) = approve_by_sms(&s, &seed_request_object(&[]));
    let code = f["authorizeResponse"]["code"].as_str().unwrap();
    let t = redeem(&s, code, &[]).json();
    let id_token = t["id_token"].as_str().unwrap();
    let (status, out) = sample_verifier(&s.issuer(), id_token);
    assert_eq!(status, 0, "{out}");
    let claims: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(claims["sub"], "user-1");
    assert_eq!(claims["iss"], s.issuer());
    // A token whose payload was changed does not verify that way either.
    let mut parts: Vec<String> = id_token.split('.').map(str::to_owned).collect();
    parts[1] = common::enc_b64url(br#"{"sub":"user-2"}"#);
    let (status, out) = sample_verifier(&s.issuer(), &parts.join("."));
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("verification failed"), "{out}");
}

/// SHA-256 by `openssl dgst`: an oracle independent of the server's own code.
fn sha256_by_openssl(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-binary"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    child.wait_with_output().unwrap().stdout
}

#[test]
fn a_sign_on_page_on_another_origin_gets_cors_and_its_own_login_page() {
    let text = config("").replace(
        "region = \"na\"\n[[environment.application]]\nclient_id = \"app-1\"\nname = \"Test app\"",
        "region = \"na\"\ncors_origins = [\"http://localhost:3000\"]\n[[environment.application]]\nclient_id = \"app-1\"\nname = \"Test app\"\nlogin_page_url = \"http://localhost:3000/\"",
    );
    assert!(text.contains("login_page_url"));
    let s = Server::start(&text);
    // The browser's preflight for a Flows API call, then the call itself.
    let r = send(
        client()
            .request(reqwest::Method::OPTIONS, s.url("/env-1/flows/any"))
            .header("Origin", "http://localhost:3000")
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type"),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let r = client()
        .request(reqwest::Method::OPTIONS, s.url("/env-1/flows/any"))
        .header("Origin", "http://localhost:3000")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_eq!(r.headers()["access-control-allow-credentials"], "true");
    let other = client()
        .request(reqwest::Method::OPTIONS, s.url("/env-1/flows/any"))
        .header("Origin", "http://evil.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .unwrap();
    assert_eq!(other.status(), 403);
    // The authorize redirect goes to the application's page with environmentId and flowId,
    // and that page drives the flow with the Flows API.
    let r = authorize(
        &s,
        &[
            ("client_id", "app-1"),
            ("response_type", "code"),
            ("scope", "openid"),
            ("redirect_uri", "https://app.example/cb"),
        ],
    );
    assert_eq!(r.status, 302, "{}", r.body);
    let location = r.location.clone().unwrap();
    assert!(
        location.starts_with("http://localhost:3000/?environmentId=env-1&flowId="),
        "{location}"
    );
    let flow_id = location.rsplit('=').next().unwrap().to_owned();
    let f = client()
        .get(s.url(&format!("/env-1/flows/{flow_id}")))
        .header("Origin", "http://localhost:3000")
        .send()
        .unwrap();
    assert_eq!(
        f.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let flow: Value = serde_json::from_str(&f.text().unwrap()).unwrap();
    assert_eq!(flow["status"], "USERNAME_PASSWORD_REQUIRED");
}

const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// The RFC 6238 code for `secret` now, computed by Python's standard library (hmac, hashlib):
/// an oracle independent of the server's implementation.
fn totp_by_python(secret: &str) -> String {
    let script = "import base64,hashlib,hmac,struct,sys,time\n\
        k = base64.b32decode(sys.argv[1])\n\
        h = hmac.new(k, struct.pack('>Q', int(time.time()) // 30), hashlib.sha1).digest()\n\
        o = h[-1] & 15\n\
        print('%06d' % ((struct.unpack('>I', h[o:o + 4])[0] & 0x7fffffff) % 1000000))";
    let out = Command::new("python3")
        .args(["-c", script, secret])
        .output()
        .expect("python3");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn devices_config(selection: &str) -> String {
    let users = format!(
        r#"
[[environment.user]]
id = "user-v"
username = "vic"
devices = [{{ id = "dev-v", type = "VOICE", phone = "+15550111", test_mode = true }}]
[[environment.user]]
id = "user-m"
username = "mo"
devices = [{{ id = "dev-m", type = "MOBILE", otp = true }}]
[[environment.user]]
id = "user-t"
username = "tot"
devices = [{{ id = "dev-t", type = "TOTP", secret = "{TOTP_SECRET}" }}]
[[environment.user]]
id = "user-d"
username = "duo"
email = "duo@example.com"
devices = [{{ id = "dev-d1", type = "SMS", phone = "+15550122" }}, {{ id = "dev-d2", type = "EMAIL", default = true }}]
"#
    );
    config("").replace(
        "region = \"na\"\n",
        &format!("region = \"na\"\n{selection}\n"),
    ) + &users
}

#[test]
fn each_device_type_signs_on_as_pingone_names_it() {
    let s = Server::start(&devices_config(""));
    // VOICE in test mode: the passcode is read out (the outbox has the voice text) and the flow
    // response carries it as test.otp.
    let f = pi_flow(&s, &[("login_hint_token", &login_hint("vic"))]).json();
    assert_eq!(f["status"], "OTP_REQUIRED", "{f}");
    assert_eq!(f["_embedded"]["devices"][0]["type"], "VOICE");
    assert_eq!(f["_embedded"]["devices"][0]["phone"], "*******11");
    let id = f["id"].as_str().unwrap().to_owned();
    let sent = outbox(&s, &id);
    assert_eq!(
        (sent[0]["type"].as_str(), sent[0]["deviceType"].as_str()),
        (Some("VOICE"), Some("VOICE"))
    );
    let otp = sent[0]["otp"].as_str().unwrap().to_owned();
    assert_eq!(sent[0]["message"], format!("Your passcode is {otp}"));
    assert_eq!(f["test"]["otp"], otp.as_str(), "testMode: {f}");
    let f = action(&s, &id, "otp.check", json!({ "otp": otp })).json();
    assert_eq!(f["status"], "COMPLETED", "{f}");
    let t = redeem(&s, f["authorizeResponse"]["code"].as_str().unwrap(), &[]).json();
    assert_eq!(
        verify_id_token(&s, t["id_token"].as_str().unwrap())["amr"],
        json!(["tel", "otp"])
    );

    // MOBILE: a push, and with otp = true the app's passcode is accepted instead.
    let f = pi_flow(&s, &[("login_hint_token", &login_hint("mo"))]).json();
    assert_eq!(f["status"], "PUSH_CONFIRMATION_REQUIRED", "{f}");
    assert!(
        f["_links"]["otp.check"].is_object()
            && f["_links"]["cancel.push.authentication"].is_object()
    );
    assert!(f.get("test").is_none(), "not in test mode");
    let id = f["id"].as_str().unwrap().to_owned();
    let sent = outbox(&s, &id);
    assert_eq!(
        (sent[0]["type"].as_str(), sent[0]["deviceType"].as_str()),
        (Some("PUSH"), Some("MOBILE"))
    );
    let otp = sent[0]["otp"].as_str().unwrap().to_owned();
    let f = action(&s, &id, "otp.check", json!({ "otp": otp })).json();
    assert_eq!(f["status"], "COMPLETED", "{f}");
    // ... or approved as a push.
    let f = pi_flow(&s, &[("login_hint_token", &login_hint("mo"))]).json();
    let id = f["id"].as_str().unwrap().to_owned();
    let r = send(client().post(s.url(&format!("/env-1/emulator/push/{id}/approve"))));
    assert_eq!(r.json()["status"], "COMPLETED");

    // TOTP: nothing is sent; the code the test computes from the secret is accepted, others not.
    let f = pi_flow(&s, &[("login_hint_token", &login_hint("tot"))]).json();
    assert_eq!(f["status"], "OTP_REQUIRED", "{f}");
    assert_eq!(f["_embedded"]["devices"][0]["type"], "TOTP");
    let id = f["id"].as_str().unwrap().to_owned();
    assert!(outbox(&s, &id).is_empty());
    let code = totp_by_python(TOTP_SECRET);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = action(&s, &id, "otp.check", json!({ "otp": wrong }));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["details"][0]["innerError"]["failuresRemaining"], 2);
    let f = action(&s, &id, "otp.check", json!({ "otp": code })).json();
    assert_eq!(f["status"], "COMPLETED", "{f}");
    let t = redeem(&s, f["authorizeResponse"]["code"].as_str().unwrap(), &[]).json();
    assert_eq!(
        verify_id_token(&s, t["id_token"].as_str().unwrap())["amr"],
        json!(["swk", "otp"])
    );

    // PROMPT_TO_SELECT (the default) with two devices: the user picks.
    let f = pi_flow(&s, &[("login_hint_token", &login_hint("duo"))]).json();
    assert_eq!(f["status"], "DEVICE_SELECTION_REQUIRED", "{f}");
}

#[test]
fn device_selection_policies_and_the_deprecated_push_type() {
    let s = Server::start(&devices_config("device_selection = \"DEFAULT_TO_FIRST\""));
    // The default device at once; another may still be selected.
    let f = pi_flow(&s, &[("login_hint_token", &login_hint("duo"))]).json();
    assert_eq!(f["status"], "OTP_REQUIRED", "{f}");
    assert_eq!(f["selectedDevice"]["id"], "dev-d2");
    assert!(f["_links"]["device.select"].is_object(), "{f}");
    let id = f["id"].as_str().unwrap().to_owned();
    let f = action(
        &s,
        &id,
        "device.select",
        json!({"device": {"id": "dev-d1"}}),
    )
    .json();
    assert_eq!(f["selectedDevice"]["id"], "dev-d1");
    assert_eq!(outbox(&s, &id).len(), 2, "an EMAIL, then an SMS");
    drop(s);

    let s = Server::start(&devices_config(
        "device_selection = \"ALWAYS_DISPLAY_DEVICES\"",
    ));
    let f = pi_flow(&s, &[("login_hint_token", &login_hint("vic"))]).json();
    assert_eq!(
        f["status"], "DEVICE_SELECTION_REQUIRED",
        "even with one device: {f}"
    );
    drop(s);

    // PUSH is accepted as MOBILE, with a warning.
    let dir = TempDir::new();
    let path = dir.write(
        "push.toml",
        config("").replace(
            "type = \"MOBILE\" }]\n[[environment.user]]\nid = \"user-3\"",
            "type = \"PUSH\" }]\n[[environment.user]]\nid = \"user-3\"",
        ),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_signet"))
        .args(["authz", "--config", &path, "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("signet authz listening on "), "{line}");
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("device \"dev-2\": type \"PUSH\" is deprecated and will be refused in the next release; PingOne calls it MOBILE"),
        "{stderr}"
    );
}

#[test]
fn an_unanswered_push_times_out_and_another_push_can_follow() {
    let s = Server::start(&config("").replace(
        "region = \"na\"\n",
        "region = \"na\"\npush_timeout_seconds = 1\n",
    ));
    let ro = seed_request_object(&["--sub", "dizzy"]);
    let f = pi_flow(&s, &[("request", &ro)]).json();
    assert_eq!(f["status"], "PUSH_CONFIRMATION_REQUIRED", "{f}");
    let id = f["id"].as_str().unwrap().to_owned();
    std::thread::sleep(Duration::from_millis(1200));
    let f = get(&s.url(&format!("/env-1/flows/{id}"))).json();
    assert_eq!(f["status"], "PUSH_CONFIRMATION_TIMED_OUT", "{f}");
    assert!(f["_links"]["device.select"].is_object(), "{f}");
    // Too late to approve; selecting the device again sends a new push.
    let r = send(client().post(s.url(&format!("/env-1/emulator/push/{id}/approve"))));
    assert_eq!(r.status, 400, "{}", r.body);
    let f = action(&s, &id, "device.select", json!({"device": {"id": "dev-2"}})).json();
    assert_eq!(f["status"], "PUSH_CONFIRMATION_REQUIRED", "{f}");
    assert_eq!(outbox(&s, &id).len(), 2);
    // The emulator's control times a push out at once.
    let r = send(client().post(s.url(&format!("/env-1/emulator/push/{id}/timeout"))));
    assert_eq!(
        r.json()["status"],
        "PUSH_CONFIRMATION_TIMED_OUT",
        "{}",
        r.body
    );
}

#[test]
fn wrong_passwords_across_flows_lock_the_user_out_for_a_while() {
    let s = Server::start(&config("").replace(
        "region = \"na\"\n",
        "region = \"na\"\npassword_lockout_failures = 3\npassword_lockout_seconds = 2\n",
    ));
    let try_password = |password: &str| {
        let f = pi_flow(&s, &[]).json();
        let id = f["id"].as_str().unwrap().to_owned();
        action(
            &s,
            &id,
            "usernamePassword.check",
            json!({"username": "miles", "password": password}),
        )
    };
    for remaining in [4, 4, 4] {
        // Each flow counts its own attempts; the user's are counted across flows.
        let r = try_password("wrong");
        assert_eq!(r.status, 400);
        assert_eq!(
            r.json()["details"][0]["innerError"]["failuresRemaining"],
            remaining
        );
    }
    let r = try_password("Kind-of-Blue");
    assert_eq!(r.status, 400, "{}", r.body);
    let (code, target, _) = r.detail();
    assert_eq!(
        (code.as_str(), target.as_str()),
        ("PASSWORD_LOCKED_OUT", "password")
    );
    let left = r.json()["details"][0]["innerError"]["secondsUntilUnlock"]
        .as_i64()
        .unwrap();
    assert!((1..=2).contains(&left), "{left}");
    std::thread::sleep(Duration::from_millis(2100));
    let r = try_password("Kind-of-Blue");
    assert_eq!(r.json()["status"], "COMPLETED", "{}", r.body);
}

/// A control-API call with the test's control token.
fn control(s: &Server, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
    let mut req = client()
        .request(method, s.url(&format!("/env-1/emulator/{path}")))
        .header("Authorization", "Bearer control-secret");
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    send(req)
}

#[test]
fn the_control_api_changes_users_devices_applications_clock_and_faults() {
    use reqwest::Method;
    let s = Server::start(&config("").replace(
        "region = \"na\"\n",
        "region = \"na\"\ncontrol_token = \"control-secret\"\n",
    ));
    // Without the token: refused, the older emulator endpoints included.
    let r = send(client().put(s.url("/env-1/emulator/users/u-9")).body("{}"));
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(get(&s.url("/env-1/emulator/outbox")).status, 401);

    // Users.
    let r = control(
        &s,
        Method::PUT,
        "users/u-9",
        Some(json!({"username": "nina", "password": "Feeling-Good"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let f = password_sign_on(&s, "app-1", "nina", "Feeling-Good").json();
    assert_eq!(f["status"], "COMPLETED", "{f}");
    let r = control(
        &s,
        Method::PUT,
        "users/u-9",
        Some(json!({"username": "charlie"})),
    );
    assert_eq!(r.status, 400, "a taken username: {}", r.body);
    let r = control(
        &s,
        Method::PUT,
        "users/u-9",
        Some(json!({"username": "nina", "colour": "blue"})),
    );
    assert_eq!(r.status, 400, "an unknown field: {}", r.body);
    // Devices: one added makes the next sign-on ask for its passcode; removed, it does not.
    let r = control(
        &s,
        Method::PUT,
        "users/u-9/devices/d-9",
        Some(json!({"type": "SMS", "phone": "+15550199"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let f = password_sign_on(&s, "app-1", "nina", "Feeling-Good").json();
    assert_eq!(f["status"], "OTP_REQUIRED", "{f}");
    let r = control(
        &s,
        Method::PUT,
        "users/u-9/devices/d-8",
        Some(json!({"type": "FAX"})),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        control(&s, Method::DELETE, "users/u-9/devices/d-9", None).status,
        204
    );
    assert_eq!(
        control(&s, Method::DELETE, "users/u-9/devices/d-9", None).status,
        404
    );
    assert_eq!(
        password_sign_on(&s, "app-1", "nina", "Feeling-Good").json()["status"],
        "COMPLETED"
    );
    assert_eq!(control(&s, Method::DELETE, "users/u-9", None).status, 204);
    assert_eq!(
        password_sign_on(&s, "app-1", "nina", "Feeling-Good").status,
        400
    );

    // Applications.
    let r = control(
        &s,
        Method::PUT,
        "applications/app-new",
        Some(json!({
            "client_secret": "app-new-secret-long-enough-0123456789",
            "redirect_uris": ["https://new.example/cb"],
        })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        password_sign_on(&s, "app-new", "miles", "Kind-of-Blue").json()["status"],
        "COMPLETED"
    );
    assert_eq!(
        control(&s, Method::DELETE, "applications/app-new", None).status,
        204
    );
    assert_eq!(
        password_sign_on(&s, "app-new", "miles", "Kind-of-Blue").status,
        400
    );

    // The clock: a code older than its lifetime (60 s) is refused.
    let f = password_sign_on(&s, "app-1", "miles", "Kind-of-Blue").json();
    let code = f["authorizeResponse"]["code"].as_str().unwrap().to_owned();
    let r = control(
        &s,
        Method::POST,
        "clock",
        Some(json!({"advanceSeconds": 61})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = redeem(&s, &code, &[]);
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("invalid_grant")),
        "{}",
        r.body
    );

    // Faults: the next two token calls fail as asked, the third is served; a flows fault is seen
    // by the Flows API client.
    let r = control(
        &s,
        Method::POST,
        "faults",
        Some(json!({
            "endpoint": "token", "count": 2, "status": 503, "code": "temporarily_unavailable", "message": "maintenance"
        })),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let f = password_sign_on(&s, "app-1", "miles", "Kind-of-Blue").json();
    let code = f["authorizeResponse"]["code"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let r = redeem(&s, &code, &[]);
        assert_eq!(r.status, 503);
        assert_eq!(
            r.json(),
            json!({"error": "temporarily_unavailable", "error_description": "maintenance"})
        );
    }
    assert_eq!(redeem(&s, &code, &[]).status, 200, "the fault is used up");
    control(
        &s,
        Method::POST,
        "faults",
        Some(json!({"endpoint": "flows", "status": 429, "code": "TOO_MANY_REQUESTS"})),
    );
    let listed = control(&s, Method::GET, "faults", None).json();
    assert_eq!(listed[0]["endpoint"], "flows");
    let f = pi_flow(&s, &[]).json();
    let id = f["id"].as_str().unwrap();
    let r = get(&s.url(&format!("/env-1/flows/{id}")));
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (429, Some("TOO_MANY_REQUESTS"))
    );
    assert_eq!(get(&s.url(&format!("/env-1/flows/{id}"))).status, 200);
    let r = control(
        &s,
        Method::POST,
        "faults",
        Some(json!({"endpoint": "nowhere"})),
    );
    assert_eq!(r.status, 400);

    // The outbox with the token, and reset: the configuration's users, nothing else.
    control(
        &s,
        Method::PUT,
        "users/u-10",
        Some(json!({"username": "oscar", "password": "Night-Train"})),
    );
    let r = control(&s, Method::GET, "outbox", None);
    assert_eq!(r.status, 200);
    assert!(
        !r.json().as_array().unwrap().is_empty(),
        "nina's SMS is there"
    );
    assert_eq!(control(&s, Method::POST, "reset", None).status, 204);
    assert!(control(&s, Method::GET, "outbox", None)
        .json()
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        password_sign_on(&s, "app-1", "oscar", "Night-Train").status,
        400
    );
    assert_eq!(
        get(&s.url(&format!("/env-1/flows/{id}"))).status,
        404,
        "flows are gone"
    );
    assert_eq!(
        password_sign_on(&s, "app-1", "miles", "Kind-of-Blue").json()["status"],
        "COMPLETED"
    );
}

/// A new pi.flow's id.
fn new_flow(s: &Server) -> String {
    pi_flow(s, &[]).json()["id"].as_str().unwrap().to_owned()
}

#[test]
fn passwords_are_recovered_changed_and_users_registered_through_the_flows_api() {
    let extra_users = r#"
[[environment.user]]
id = "user-x"
username = "xavier"
email = "xavier@example.com"
password = "Old-password-1"
password_status = "EXPIRED"
[[environment.user]]
id = "user-y"
username = "yolanda"
password = "Old-password-2"
password_status = "MUST_CHANGE"
"#;
    let s = Server::start(&(config("") + extra_users));
    // user.lookup fills in the username; password.forgot mails a recovery code; password.recover
    // sets the new password and signs on.
    let id = new_flow(&s);
    let f = action(&s, &id, "user.lookup", json!({"username": "miles"})).json();
    assert_eq!(f["_embedded"]["user"]["username"], "miles", "{f}");
    let r = action(&s, &id, "user.lookup", json!({"username": "nobody"}));
    assert_eq!(r.status, 400);
    let f = action(&s, &id, "password.forgot", json!({})).json();
    assert_eq!(f["status"], "RECOVERY_CODE_REQUIRED", "{f}");
    assert!(
        f["_links"]["password.recover"].is_object() && f["_links"]["session.reset"].is_object()
    );
    let mail = outbox(&s, &id);
    assert_eq!(
        (mail[0]["type"].as_str(), mail[0]["to"].as_str()),
        (Some("EMAIL"), Some("miles@example.com"))
    );
    let code = mail[0]["otp"].as_str().unwrap().to_owned();
    assert_eq!(mail[0]["message"], format!("Your recovery code is {code}"));
    let r = action(
        &s,
        &id,
        "password.recover",
        json!({"recoveryCode": "000000x", "newPassword": "So-What-1959"}),
    );
    assert_eq!(r.status, 400);
    let r = action(
        &s,
        &id,
        "password.recover",
        json!({"recoveryCode": code, "newPassword": "short"}),
    );
    assert_eq!(r.detail().1, "newPassword", "{}", r.body);
    let f = action(
        &s,
        &id,
        "password.recover",
        json!({"recoveryCode": code, "newPassword": "So-What-1959"}),
    )
    .json();
    assert_eq!(f["status"], "COMPLETED", "{f}");
    // The new password works in a new flow, the old one not.
    let id = new_flow(&s);
    assert_eq!(
        action(
            &s,
            &id,
            "usernamePassword.check",
            json!({"username": "miles", "password": "Kind-of-Blue"})
        )
        .status,
        400
    );
    let f = action(
        &s,
        &id,
        "usernamePassword.check",
        json!({"username": "miles", "password": "So-What-1959"}),
    )
    .json();
    assert_eq!(f["status"], "COMPLETED", "{f}");

    // An expired password: PASSWORD_EXPIRED, then password.reset.
    let id = new_flow(&s);
    let f = action(
        &s,
        &id,
        "usernamePassword.check",
        json!({"username": "xavier", "password": "Old-password-1"}),
    )
    .json();
    assert_eq!(f["status"], "PASSWORD_EXPIRED", "{f}");
    assert!(f["_links"]["password.reset"].is_object(), "{f}");
    let r = action(
        &s,
        &id,
        "password.reset",
        json!({"currentPassword": "wrong", "newPassword": "New-password-1"}),
    );
    assert_eq!(r.detail().1, "currentPassword", "{}", r.body);
    let f = action(
        &s,
        &id,
        "password.reset",
        json!({"currentPassword": "Old-password-1", "newPassword": "New-password-1"}),
    )
    .json();
    assert_eq!(f["status"], "COMPLETED", "{f}");
    // One that must change: MUST_CHANGE_PASSWORD, then password.forceChange.
    let id = new_flow(&s);
    let f = action(
        &s,
        &id,
        "usernamePassword.check",
        json!({"username": "yolanda", "password": "Old-password-2"}),
    )
    .json();
    assert_eq!(f["status"], "MUST_CHANGE_PASSWORD", "{f}");
    let f = action(
        &s,
        &id,
        "password.forceChange",
        json!({"currentPassword": "Old-password-2", "newPassword": "New-password-2"}),
    )
    .json();
    assert_eq!(f["status"], "COMPLETED", "{f}");

    // session.reset starts the flow over.
    let id = new_flow(&s);
    action(&s, &id, "password.forgot", json!({"username": "xavier"}));
    let f = action(&s, &id, "session.reset", json!({})).json();
    assert_eq!(f["status"], "USERNAME_PASSWORD_REQUIRED", "{f}");

    // user.register mails a verification code; user.sendVerificationCode sends a new one;
    // user.verify completes, and the new user signs on later with the password.
    let id = new_flow(&s);
    let r = action(
        &s,
        &id,
        "user.register",
        json!({"username": "miles", "email": "m@example.com", "password": "Long-enough-1"}),
    );
    assert_eq!(r.detail().0, "UNIQUENESS_VIOLATION", "{}", r.body);
    let f = action(
        &s,
        &id,
        "user.register",
        json!({"username": "zoe", "email": "zoe@example.com", "password": "Long-enough-1"}),
    )
    .json();
    assert_eq!(f["status"], "VERIFICATION_CODE_REQUIRED", "{f}");
    let f = action(&s, &id, "user.sendVerificationCode", json!({})).json();
    assert_eq!(f["status"], "VERIFICATION_CODE_REQUIRED");
    let mail = outbox(&s, &id);
    assert_eq!(mail.len(), 2);
    let old = mail[0]["otp"].as_str().unwrap();
    let code = mail[1]["otp"].as_str().unwrap();
    if old != code {
        assert_eq!(
            action(&s, &id, "user.verify", json!({"verificationCode": old})).status,
            400,
            "the first code was replaced"
        );
    }
    let f = action(&s, &id, "user.verify", json!({"verificationCode": code})).json();
    assert_eq!(f["status"], "COMPLETED", "{f}");
    let id = new_flow(&s);
    let f = action(
        &s,
        &id,
        "usernamePassword.check",
        json!({"username": "zoe", "password": "Long-enough-1"}),
    )
    .json();
    assert_eq!(f["status"], "COMPLETED", "{f}");
}

#[test]
fn templates_follow_ui_locales_with_subjects_titles_and_user_variables() {
    let templates = r#"
[[environment.template]]
name = "strong_authentication"
delivery = "EMAIL"
subject = "Your code, ${user.username}"
body = "Hello ${user.username}, your passcode is ${OTP}"
[[environment.template]]
name = "strong_authentication"
delivery = "EMAIL"
locale = "fr"
subject = "Votre code, ${user.username}"
body = "Bonjour ${user.username}, votre code est ${OTP}"
[[environment.template]]
name = "strong_authentication"
delivery = "PUSH"
title = "Sign on, ${user.username}?"
body = "Approve the sign-on"
"#;
    let s = Server::start(&(config("") + templates));
    let sign_on = |locales: Option<&str>, who: &str| {
        let hint = login_hint(who);
        let mut extra = vec![("login_hint_token", hint.as_str())];
        if let Some(l) = locales {
            extra.push(("ui_locales", l));
        }
        let f = pi_flow(&s, &extra).json();
        let id = f["id"].as_str().unwrap().to_owned();
        outbox(&s, &id)
    };
    // ella's first device is EMAIL; a French-Canadian browser gets the French content.
    let ella = |locales| {
        let f = pi_flow(
            &s,
            &[
                ("login_hint_token", &login_hint("ella")),
                ("ui_locales", locales),
            ],
        )
        .json();
        let id = f["id"].as_str().unwrap().to_owned();
        action(
            &s,
            &id,
            "device.select",
            json!({"device": {"id": "dev-4a"}}),
        );
        outbox(&s, &id)
    };
    let fr = ella("fr-CA en");
    let otp = fr[0]["otp"].as_str().unwrap();
    assert_eq!(
        fr[0]["message"],
        format!("Bonjour ella, votre code est {otp}")
    );
    assert_eq!(fr[0]["subject"], "Votre code, ella");
    assert_eq!(fr[0]["locale"], "fr");
    let de = ella("de en");
    assert_eq!(
        de[0]["subject"], "Your code, ella",
        "no German content: the one without a locale"
    );
    assert_eq!(de[0]["locale"], Value::Null);
    // A MOBILE device gets the push title.
    let push = sign_on(None, "dizzy");
    assert_eq!(push[0]["type"], "PUSH");
    assert_eq!(push[0]["title"], "Sign on, dizzy?");
    assert_eq!(push[0]["message"], "Approve the sign-on");
}

#[test]
fn a_wrong_password_answers_invalid_credentials_with_failures_remaining() {
    let s = Server::start(&config(""));
    let id = new_flow(&s);
    let r = action(
        &s,
        &id,
        "usernamePassword.check",
        json!({"username": "miles", "password": "wrong"}),
    );
    assert_eq!(r.status, 400);
    let (code, target, _) = r.detail();
    assert_eq!(
        (code.as_str(), target.as_str()),
        ("INVALID_CREDENTIALS", "password")
    );
    assert_eq!(r.json()["code"], "INVALID_DATA");
    assert_eq!(r.json()["details"][0]["innerError"]["failuresRemaining"], 4);
}
