//! The JSON the emulator answers with, in PingOne's shapes: flows (`_links`, `_embedded`,
//! `resumeUrl`, `createdAt`, `expiresAt`, `authorizeResponse`) and outbox entries (the discovery
//! document is [`crate::discovery`]'s). Phone numbers and email addresses are masked in flows.

use serde_json::{json, Map, Value};

use crate::clock::iso_millis;
use crate::config::{Device, DeviceType, Environment};
use crate::flow::{self, Flow, Notification, Status};
use crate::request::ResponseMode;

/// URLs of one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Urls {
    /// `{base_url}/{envId}`.
    pub env_base: String,
}

impl Urls {
    pub fn new(base_url: &str, env_id: &str) -> Urls {
        Urls {
            env_base: format!("{}/{env_id}", base_url.trim_end_matches('/')),
        }
    }

    pub fn issuer(&self) -> String {
        format!("{}/as", self.env_base)
    }

    pub fn flow(&self, id: &str) -> String {
        format!("{}/flows/{id}", self.env_base)
    }

    pub fn resume(&self, id: &str) -> String {
        format!("{}/as/resume?flowId={id}", self.env_base)
    }

    /// The device flow's verification page.
    pub fn device(&self) -> String {
        format!("{}/device", self.env_base)
    }

    pub fn signon(&self, id: &str) -> String {
        format!("{}/signon/?flowId={id}", self.env_base)
    }
}

/// `*******00`: all but the last two characters hidden, as PingOne shows phones.
pub fn mask_phone(phone: &str) -> String {
    let n = phone.chars().count();
    let keep: String = phone.chars().skip(n.saturating_sub(2)).collect();
    format!("{}{keep}", "*".repeat(n.saturating_sub(2)))
}

/// `c*****@example.com`: the first character of the local part, then stars.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}*****@{domain}")
        }
        None => mask_phone(email),
    }
}

fn device_json(d: &Device) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), d.id.clone().into());
    m.insert("type".into(), d.kind.as_str().into());
    m.insert("status".into(), "ACTIVE".into());
    match d.kind {
        DeviceType::Sms | DeviceType::Voice => {
            m.insert(
                "phone".into(),
                mask_phone(d.phone.as_deref().unwrap_or_default()).into(),
            );
        }
        DeviceType::Email => {
            m.insert(
                "email".into(),
                mask_email(d.email.as_deref().unwrap_or_default()).into(),
            );
        }
        DeviceType::Mobile | DeviceType::Totp => {}
    }
    Value::Object(m)
}

/// PingOne's `testMode`: the passcode a device in test mode would receive (for TOTP, the code at
/// the flow's last activity), while the flow waits for it.
fn test_otp(flow: &Flow, env: &Environment, touched_ms: i64) -> Option<String> {
    let waiting = matches!(
        flow.status,
        Status::OtpRequired | Status::PushConfirmationRequired
    );
    let device = flow::flow_device(flow, env).filter(|d| d.test_mode && waiting)?;
    if device.kind == DeviceType::Totp {
        return Some(crate::totp::code_at(
            &device.secret,
            touched_ms.div_euclid(1000),
        ));
    }
    flow.otp.clone()
}

/// A flow as the Flows API returns it. `idle_ms` is the idle timeout, `touched_ms` the last
/// activity: `expiresAt` is their sum.
pub fn flow_json(
    flow: &Flow,
    env: &Environment,
    urls: &Urls,
    touched_ms: i64,
    idle_ms: i64,
) -> Value {
    let href = |u: String| json!({ "href": u });
    let mut links = Map::new();
    links.insert("self".into(), href(urls.flow(&flow.id)));
    for action in flow::allowed_actions(flow, env) {
        links.insert(action.into(), href(urls.flow(&flow.id)));
    }

    let mut embedded = Map::new();
    let user = flow.user_id.as_deref().and_then(|u| env.user(u));
    if let Some(u) = user {
        let mut name = Map::new();
        if let Some(g) = &u.given_name {
            name.insert("given".into(), g.clone().into());
        }
        if let Some(f) = &u.family_name {
            name.insert("family".into(), f.clone().into());
        }
        embedded.insert(
            "user".into(),
            json!({"id": u.id, "username": u.username, "name": name}),
        );
    } else if let Some(hint) = &flow.username_hint {
        embedded.insert("user".into(), json!({ "username": hint }));
    }
    let shows_devices = matches!(
        flow.status,
        Status::DeviceSelectionRequired
            | Status::OtpRequired
            | Status::PushConfirmationRequired
            | Status::PushConfirmationTimedOut
    );
    if let (true, Some(u)) = (shows_devices, user) {
        embedded.insert(
            "devices".into(),
            Value::Array(u.devices.iter().map(device_json).collect()),
        );
    }
    let app_name = env
        .client(&flow.client_id)
        .map(|c| c.name.clone())
        .unwrap_or_else(|| flow.client_id.clone());
    embedded.insert("application".into(), json!({ "name": app_name }));

    let mut m = Map::new();
    m.insert("_links".into(), Value::Object(links));
    m.insert("_embedded".into(), Value::Object(embedded));
    m.insert("id".into(), flow.id.clone().into());
    m.insert("environment".into(), json!({ "id": env.id }));
    m.insert("resumeUrl".into(), urls.resume(&flow.id).into());
    m.insert("status".into(), flow.status.as_str().into());
    m.insert("createdAt".into(), iso_millis(flow.created_ms).into());
    m.insert(
        "expiresAt".into(),
        iso_millis(touched_ms.saturating_add(idle_ms)).into(),
    );
    if let Some(d) = &flow.device_id {
        m.insert("selectedDevice".into(), json!({ "id": d }));
    }
    if let Some(otp) = test_otp(flow, env, touched_ms) {
        m.insert("test".into(), json!({ "otp": otp }));
    }
    if flow.status == Status::Completed
        && flow.request.response_mode == ResponseMode::PiFlow
        && (flow.code.is_some() || !flow.front_channel.is_empty())
    {
        let mut r = Map::new();
        if let Some(code) = &flow.code {
            r.insert("code".into(), code.clone().into());
        }
        for (k, v) in &flow.front_channel {
            // expires_in is a number in JSON (RFC 6749 §5.1).
            let value = match (k.as_str(), v.parse::<i64>()) {
                ("expires_in", Ok(n)) => Value::from(n),
                _ => Value::from(v.clone()),
            };
            r.insert(k.clone(), value);
        }
        if let Some(s) = &flow.request.state {
            r.insert("state".into(), s.clone().into());
        }
        m.insert("authorizeResponse".into(), Value::Object(r));
    }
    if let Some(f) = &flow.failure {
        m.insert(
            "error".into(),
            json!({"code": f.error, "message": f.description}),
        );
    }
    Value::Object(m)
}

/// One outbox entry.
pub fn notification_json(n: &Notification) -> Value {
    json!({
        "flowId": n.flow_id,
        "deviceId": n.device_id,
        "type": n.delivery.as_str(),
        "deviceType": n.device_type.as_str(),
        "to": n.to,
        "message": n.message,
        "subject": n.subject,
        "title": n.title,
        "locale": n.locale,
        "otp": n.otp,
        "clientContext": n.client_context,
        "createdAt": iso_millis(n.created_ms),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::config::UserRecord;
    use crate::flow::Failure;
    use crate::request::AuthRequest;
    use pingone::region::Region;

    fn env() -> Environment {
        Environment {
            id: "env-1".into(),
            region: Region::Na,
            cors_origins: vec![],
            device_selection: crate::config::DeviceSelection::default(),
            push_timeout_ms: 40_000,
            password_lockout_failures: 5,
            password_lockout_ms: 900_000,
            control_token: None,
            applications: vec![],
            users: vec![UserRecord {
                id: "user-1".into(),
                username: "charlie".into(),
                given_name: Some("Charlie".into()),
                family_name: Some("Parker".into()),
                email: None,
                password: None,
                devices: vec![Device {
                    id: "dev-1".into(),
                    kind: DeviceType::Sms,
                    otp: false,
                    secret: Vec::new(),
                    test_mode: false,
                    default: false,
                    phone: Some("+15550100".into()),
                    email: None,
                }],
                password_status: Default::default(),
                verified: true,
            }],
            templates: vec![],
        }
    }

    fn flow(status: Status) -> Flow {
        Flow {
            id: "f-1".into(),
            client_id: "app-1".into(),
            request: AuthRequest {
                response_type: crate::request::ResponseType::CODE,
                response_mode: ResponseMode::PiFlow,
                redirect_uri: None,
                scope: "openid".into(),
                state: Some("st".into()),
                nonce: None,
                pkce: None,
                acr_values: None,
                ui_locales: None,
                prompt: None,
            },
            template: None,
            client_context: Map::new(),
            status,
            user_id: Some("user-1".into()),
            username_hint: None,
            device_id: Some("dev-1".into()),
            otp: None,
            otp_failures: 0,
            password_failures: 0,
            push_sent_ms: None,
            factors: vec![],
            auth_time: None,
            transaction_approved: false,
            failure: None,
            code: Some("the-code".into()),
            front_channel: Vec::new(),
            created_ms: 1_626_821_491_743,
        }
    }

    #[test]
    fn an_otp_required_flow_looks_like_pingones() {
        let urls = Urls::new("http://127.0.0.1:9031/", "env-1");
        let v = flow_json(
            &flow(Status::OtpRequired),
            &env(),
            &urls,
            1_626_821_491_743,
            900_000,
        );
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "_links",
                "_embedded",
                "id",
                "environment",
                "resumeUrl",
                "status",
                "createdAt",
                "expiresAt",
                "selectedDevice"
            ]
        );
        assert_eq!(
            v["_links"]["otp.check"]["href"],
            "http://127.0.0.1:9031/env-1/flows/f-1"
        );
        assert_eq!(v["_embedded"]["devices"][0]["phone"], "*******00");
        assert_eq!(v["_embedded"]["user"]["name"]["family"], "Parker");
        assert_eq!(v["_embedded"]["application"]["name"], "app-1");
        assert_eq!(
            v["resumeUrl"],
            "http://127.0.0.1:9031/env-1/as/resume?flowId=f-1"
        );
        assert_eq!(v["createdAt"], "2021-07-20T22:51:31.743Z");
        assert_eq!(v["expiresAt"], "2021-07-20T23:06:31.743Z");
        assert_eq!(v.get("authorizeResponse"), None);
    }

    #[test]
    fn completed_and_failed_flows() {
        let urls = Urls::new("http://h", "env-1");
        let v = flow_json(&flow(Status::Completed), &env(), &urls, 0, 1);
        assert_eq!(
            v["authorizeResponse"],
            json!({"code": "the-code", "state": "st"})
        );
        assert_eq!(v["_links"].as_object().unwrap().len(), 1);
        assert_eq!(v["_embedded"].get("devices"), None);
        let mut f = flow(Status::Failed);
        f.failure = Some(Failure {
            error: "access_denied",
            description: "denied".into(),
        });
        let v = flow_json(&f, &env(), &urls, 0, 1);
        assert_eq!(
            v["error"],
            json!({"code": "access_denied", "message": "denied"})
        );
    }

    #[test]
    fn masks() {
        assert_eq!(mask_phone("+15550100"), "*******00");
        assert_eq!(mask_phone("1"), "1");
        assert_eq!(mask_email("charlie@example.com"), "c*****@example.com");
    }
}
