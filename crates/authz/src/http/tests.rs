//! Handler tests in process: the router driven with `tower::ServiceExt::oneshot`, no socket and
//! no spawned binary. (End-to-end tests of the real server are in the workspace's tests/authz.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use super::Authz;
use crate::clock::Clock;
use crate::config::Config;

const CONFIG: &str = r#"
[[environment]]
id = "env-1"
region = "na"
cors_origins = ["https://login.example"]
[[environment.application]]
client_id = "app-1"
name = "App"
client_secret = "app-1-secret-change-me-0123456789"
redirect_uris = ["https://app.example/cb"]
[[environment.application]]
client_id = "app-2"
name = "App with its own sign-on page"
client_secret = "app-2-secret-change-me-0123456789"
redirect_uris = ["https://app.example/cb"]
login_page_url = "https://login.example/signon?brand=blue"
[[environment.user]]
id = "user-1"
username = "charlie"
password = "Bird-1920"
"#;

/// A fresh server for [`CONFIG`].
fn server() -> Authz {
    let config = Config::from_toml(CONFIG, std::path::Path::new(".")).unwrap();
    Authz::new(
        config,
        "http://authz.test",
        Clock::starting_at(1_764_000_000),
    )
    .unwrap()
}

/// The router of a fresh server for [`CONFIG`].
fn router() -> axum::Router {
    server().router()
}

/// One request: the status, the Content-Type and the body as JSON (Null when it is not).
async fn send(req: Request<Body>) -> (StatusCode, String, Value) {
    let r = router().oneshot(req).await.unwrap();
    let status = r.status();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn discovery_and_jwks_answer_for_a_known_environment() {
    let (status, content_type, doc) = send(get("/env-1/as/.well-known/openid-configuration")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    assert_eq!(doc["issuer"], "http://authz.test/env-1/as");
    let (status, _, jwks) = send(get("/env-1/as/jwks")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    assert!(jwks["keys"][0]["x5c"][0].is_string(), "{jwks}");
    assert!(jwks["keys"][0]["x5t#S256"].is_string(), "{jwks}");
}

#[tokio::test]
async fn errors_are_pingone_envelopes() {
    let (status, _, e) = send(get("/env-9/as/jwks")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(e["code"], "NOT_FOUND");
    assert_eq!(e["details"][0]["target"], "environment");
    assert!(e["id"].as_str().is_some_and(|id| id.len() == 36), "{e}");
    let (status, _, e) = send(get("/env-1/flows/no-such-flow")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(e["details"][0]["target"], "flowId");
    let (status, _, e) = send(get("/nowhere")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(e["details"][0]["message"], "no endpoint GET /nowhere");
    let put = Request::put("/env-1/as/jwks").body(Body::empty()).unwrap();
    let (status, _, e) = send(put).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(e["code"], "METHOD_NOT_ALLOWED");
    let post = Request::post("/env-1/as/authorize")
        .header("content-type", "application/json")
        .body(Body::from("{}"))
        .unwrap();
    let (status, _, e) = send(post).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(e["details"][0]["target"], "Content-Type");
}

#[tokio::test]
async fn a_pi_flow_authorize_starts_a_flow_that_the_flows_api_drives() {
    let router = router();
    let r = router
        .clone()
        .oneshot(get(
            "/env-1/as/authorize?client_id=app-1&response_type=code&response_mode=pi.flow&scope=openid&redirect_uri=https%3A%2F%2Fapp.example%2Fcb",
        ))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let flow: Value =
        serde_json::from_slice(&r.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(flow["status"], "USERNAME_PASSWORD_REQUIRED", "{flow}");
    let id = flow["id"].as_str().unwrap();
    let check = Request::post(format!("/env-1/flows/{id}"))
        .header(
            "content-type",
            "application/vnd.pingidentity.usernamePassword.check+json",
        )
        .body(Body::from(
            r#"{"username": "charlie", "password": "Bird-1920"}"#,
        ))
        .unwrap();
    let r = router.clone().oneshot(check).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let done: Value =
        serde_json::from_slice(&r.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert!(done["authorizeResponse"]["code"].is_string(), "{done}");
    // An action the flow does not allow now is refused with the envelope.
    let again = Request::post(format!("/env-1/flows/{id}"))
        .header(
            "content-type",
            "application/vnd.pingidentity.usernamePassword.check+json",
        )
        .body(Body::from(r#"{"username": "charlie", "password": "x"}"#))
        .unwrap();
    let r = router.oneshot(again).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

fn preflight(uri: &str, origin: &str) -> Request<Body> {
    Request::options(uri)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn cors_preflights_are_answered_for_the_environments_origins_only() {
    let r = router()
        .oneshot(preflight("/env-1/flows/some-flow", "https://login.example"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "https://login.example");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(h["access-control-allow-methods"], "GET, POST, OPTIONS");
    assert_eq!(h["access-control-allow-headers"], "content-type");
    assert_eq!(h["access-control-max-age"], "600");
    let (status, _, e) = send(preflight("/env-1/as/token", "https://evil.example")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(e["code"], "ACCESS_FAILED");
    // A request from an allowed origin gets the origin back; others, and the emulator's own
    // endpoints, nothing.
    let with = |origin: &str, uri: &str| {
        Request::get(uri)
            .header("origin", origin)
            .body(Body::empty())
            .unwrap()
    };
    let r = router()
        .oneshot(with("https://login.example", "/env-1/as/jwks"))
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://login.example"
    );
    assert_eq!(r.headers()["vary"], "Origin");
    let r = router()
        .oneshot(with("https://evil.example", "/env-1/as/jwks"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let r = router()
        .oneshot(with("https://login.example", "/env-1/emulator/outbox"))
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn a_redirect_mode_authorize_goes_to_the_applications_login_page() {
    let authorize = |client: &str| {
        get(&format!(
            "/env-1/as/authorize?client_id={client}&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Fapp.example%2Fcb"
        ))
    };
    let r = router().oneshot(authorize("app-2")).await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let prefix = "https://login.example/signon?brand=blue&environmentId=env-1&flowId=";
    assert!(location.starts_with(prefix), "{location}");
    assert_eq!(location.len(), prefix.len() + 36, "a flow id: {location}");
    // Without login_page_url: the emulator's own page.
    let r = router().oneshot(authorize("app-1")).await.unwrap();
    let location = r.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("http://authz.test/env-1/signon/?flowId="),
        "{location}"
    );
}

/// Pending CIBA and device requests, their user codes and pushed requests are freed once they
/// expire, whether or not a client ever comes back for them (found by the soak: clients that
/// never poll left them behind).
#[test]
fn the_sweep_frees_abandoned_ciba_device_and_pushed_requests() {
    let authz = server();
    let now = authz.shared.now_ms();
    let env = &authz.shared.envs["env-1"];
    let pending = |expires_ms| crate::ciba::Pending {
        client_id: "app-1".into(),
        flow_id: "flow".into(),
        expires_ms,
        interval_ms: 5000,
        last_poll_ms: None,
    };
    {
        let mut ciba = env.ciba.lock().unwrap();
        ciba.insert("gone".into(), pending(now - 1));
        ciba.insert("live".into(), pending(now + 60_000));
        let mut codes = env.user_codes.lock().unwrap();
        codes.insert("GONE-CODE".into(), ("gone".into(), "app-1".into()));
        codes.insert("LIVE-CODE".into(), ("live".into(), "app-1".into()));
        let mut pushed = env.pushed.lock().unwrap();
        pushed.insert("urn:gone".into(), ("app-1".into(), Vec::new(), now - 1));
        pushed.insert(
            "urn:live".into(),
            ("app-1".into(), Vec::new(), now + 60_000),
        );
    }
    assert_eq!(authz.sweep(), 3, "one of each expired");
    assert_eq!(
        env.ciba.lock().unwrap().keys().collect::<Vec<_>>(),
        vec!["live"]
    );
    assert_eq!(
        env.user_codes.lock().unwrap().keys().collect::<Vec<_>>(),
        vec!["LIVE-CODE"]
    );
    assert_eq!(
        env.pushed.lock().unwrap().keys().collect::<Vec<_>>(),
        vec!["urn:live"]
    );
    assert_eq!(authz.sweep(), 0, "nothing more to free");
}

/// Starting a flow takes the lockouts only while the flow is made, never while it waits for the
/// flows store: a flow action holds the flows and then takes the lockouts, so the authorize
/// path holding the lockouts while storing deadlocked the two (found by the soak: both workers
/// stuck after about 150 s of authorize and password calls). Here the flows store is held while
/// an authorize call runs; the lockouts must stay free while it waits.
#[test]
fn authorize_waiting_for_the_flows_store_holds_no_other_lock() {
    let authz = server();
    let shared = &authz.shared;
    let env = &shared.envs["env-1"];
    let pairs: Vec<(String, String)> = [
        ("client_id", "app-1"),
        ("response_type", "code"),
        ("response_mode", "pi.flow"),
        ("scope", "openid"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    std::thread::scope(|scope| {
        let flows = env.flows.lock().unwrap();
        let call = scope.spawn(|| shared.authorize("env-1", pairs).map(|r| r.status()));
        // The call reaches the flows store and waits there; give it time to get that far.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let free = (0..100).any(|_| {
            let free = env.lockouts.try_lock().is_ok();
            std::thread::sleep(std::time::Duration::from_millis(10));
            free
        });
        assert!(
            !call.is_finished(),
            "authorize stored its flow without the flows store"
        );
        drop(flows);
        assert!(
            free,
            "authorize held the lockouts while waiting for the flows store"
        );
        assert_eq!(call.join().unwrap().unwrap(), StatusCode::OK);
    });
}
