//! The emulator's sign-on flow state machine (`authz::flow`): a sequence of Flows API actions,
//! one per line (`NAME JSON-BODY`, or `tick SECONDS`), against an environment with users of
//! every device type. Nothing may panic; after every step the flow's JSON renders, its
//! `_links` are computable, and a completed flow has a grant (a user and an auth time).
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use authz::config::{Config, Environment};
use authz::flow::{self, Action, Ctx, Lockouts, Start};
use authz::random::Counter;
use authz::request::{AuthRequest, ResponseMode, ResponseType};
use libfuzzer_sys::fuzz_target;

const CONFIG: &str = r#"
[[environment]]
id = "env-1"
password_lockout_failures = 3
[[environment.application]]
client_id = "app-1"
client_secret = "app-1-secret-for-fuzzing-0123456789"
[[environment.user]]
id = "u-none"
username = "none"
password = "Password-1"
[[environment.user]]
id = "u-many"
username = "many"
password = "Password-1"
devices = [
  { id = "d-sms", type = "SMS", phone = "+15550100" },
  { id = "d-mail", type = "EMAIL", email = "m@example.com", test_mode = true },
  { id = "d-push", type = "MOBILE", otp = true },
  { id = "d-totp", type = "TOTP", secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" },
  { id = "d-voice", type = "VOICE", phone = "+15550100" },
]
[[environment.user]]
id = "u-exp"
username = "expired"
password = "Password-1"
password_status = "EXPIRED"
[[environment.template]]
name = "transaction"
delivery = "SMS"
body = "Pay ${sum}? ${OTP}"
"#;

fn env() -> &'static Environment {
    static ENV: OnceLock<Environment> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut c = Config::from_toml(CONFIG, Path::new(".")).unwrap();
        c.environments.remove(0)
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let env = env();
    let mut rng = Counter(0);
    let mut lockouts = Lockouts::default();
    let mut now = 1_764_000_000_000_i64;
    let start = Start {
        client_id: "app-1".into(),
        request: AuthRequest {
            response_type: ResponseType::CODE,
            response_mode: ResponseMode::PiFlow,
            redirect_uri: None,
            scope: "openid".into(),
            state: None,
            nonce: None,
            pkce: None,
            acr_values: None,
            ui_locales: None,
            prompt: None,
        },
        template: None,
        client_context: serde_json::Map::new(),
        user_id: None,
        username_hint: None,
    };
    let mut ctx = Ctx {
        env,
        now_ms: now,
        rng: &mut rng,
        lockouts: &mut lockouts,
        changes: Vec::new(),
    };
    let Ok((mut f, _)) = flow::start("flow-1".into(), start, &mut ctx) else {
        return;
    };
    let urls = authz::view::Urls::new("http://127.0.0.1:1", "env-1");
    for line in text.lines().take(32) {
        let (name, body) = line.split_once(' ').unwrap_or((line, "{}"));
        if name == "tick" {
            let seconds: i64 = body.trim().parse().unwrap_or(0);
            now = now.saturating_add(seconds.clamp(0, 100_000).saturating_mul(1000));
            flow::tick(&mut f, env, now);
        } else {
            let body = match serde_json::from_str(body) {
                Ok(serde_json::Value::Object(m)) => m,
                _ => serde_json::Map::new(),
            };
            let action = match name {
                "push.approve" => Some(Action::PushApprove),
                "push.deny" => Some(Action::PushDeny),
                "push.timeout" => Some(Action::PushTimeout),
                _ => Action::parse(name, &body).ok(),
            };
            if let Some(action) = action {
                let mut ctx = Ctx {
                    env,
                    now_ms: now,
                    rng: &mut rng,
                    lockouts: &mut lockouts,
                    changes: Vec::new(),
                };
                let _ = flow::apply(&mut f, action, &mut ctx);
            }
        }
        let _ = flow::allowed_actions(&f, env);
        let _ = authz::view::flow_json(&f, env, &urls, now, 900_000);
        if f.status == flow::Status::Completed {
            assert!(
                authz::oauth::grant(&f).is_some(),
                "completed without a grant: {f:?}"
            );
        }
    }
});
