//! Unit tests of the flow state machine.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
use super::*;
use crate::config::TemplateRecord;
use crate::random::Counter;
use crate::request::ResponseMode;
use pingone::region::Region;
use serde_json::json;

fn device(id: &str, kind: DeviceType) -> Device {
    Device {
        id: id.into(),
        kind,
        phone: Some("+15550100".into()),
        email: Some("c@example.com".into()),
        otp: false,
        secret: Vec::new(),
        test_mode: false,
        default: false,
    }
}

fn user(id: &str, devices: Vec<Device>) -> UserRecord {
    UserRecord {
        id: id.into(),
        username: format!("{id}-name"),
        given_name: None,
        family_name: None,
        email: None,
        password: Some("pw".into()),
        devices,
        password_status: Default::default(),
        verified: true,
    }
}

fn env() -> Environment {
    Environment {
        id: "env".into(),
        region: Region::Na,
        cors_origins: vec![],
        device_selection: DeviceSelection::default(),
        push_timeout_ms: 40_000,
        password_lockout_failures: 5,
        password_lockout_ms: 900_000,
        control_token: None,
        applications: vec![],
        users: vec![
            user("none", vec![]),
            user("sms", vec![device("d-sms", DeviceType::Sms)]),
            user("push", vec![device("d-push", DeviceType::Mobile)]),
            user(
                "many",
                vec![
                    device("m-email", DeviceType::Email),
                    device("m-push", DeviceType::Mobile),
                ],
            ),
        ],
        templates: vec![TemplateRecord {
            name: "transaction".into(),
            variant: None,
            delivery: Delivery::Sms,
            locale: None,
            body: "Pay ${sum}? OTP: ${OTP}".into(),
            subject: None,
            title: None,
        }],
    }
}

fn request() -> AuthRequest {
    AuthRequest {
        response_type: crate::request::ResponseType::CODE,
        response_mode: ResponseMode::PiFlow,
        redirect_uri: None,
        scope: "openid".into(),
        state: None,
        nonce: None,
        pkce: None,
        acr_values: None,
        ui_locales: None,
        prompt: None,
    }
}

fn begin(user: Option<&str>, template: bool) -> (Flow, Vec<Notification>) {
    let e = env();
    let mut rng = Counter(0);
    let mut ctx = Ctx {
        env: &e,
        now_ms: 1_000_000,
        rng: &mut rng,
        lockouts: &mut Lockouts::default(),
        changes: Vec::new(),
    };
    let init = Start {
        client_id: "app".into(),
        request: request(),
        template: template.then(|| Template {
            name: "transaction".into(),
            variant: None,
            variables: json!({"sum": "5 USD"}).as_object().cloned().unwrap(),
        }),
        client_context: json!({"alert.color": "red"}).as_object().cloned().unwrap(),
        user_id: user.map(Into::into),
        username_hint: Some("sms-name".into()),
    };
    start("flow-1".into(), init, &mut ctx).unwrap()
}

fn run(flow: &mut Flow, action: Action) -> Result<Vec<Notification>, FlowError> {
    let e = env();
    let mut rng = Counter(7);
    let mut ctx = Ctx {
        env: &e,
        now_ms: 2_000_000,
        rng: &mut rng,
        lockouts: &mut Lockouts::default(),
        changes: Vec::new(),
    };
    apply(flow, action, &mut ctx)
}

#[test]
fn password_then_sms_otp_completes_the_transaction() {
    let (mut f, sent) = begin(None, true);
    assert_eq!(f.status, Status::UsernamePasswordRequired);
    assert!(sent.is_empty());
    assert_eq!(
        allowed_actions(&f, &env()),
        [
            USERNAME_PASSWORD_CHECK,
            USER_LOOKUP,
            PASSWORD_FORGOT,
            USER_REGISTER
        ]
    );
    let err = run(
        &mut f,
        Action::UsernamePasswordCheck {
            username: None,
            password: "wrong".into(),
        },
    );
    assert_eq!(err, Err(FlowError::InvalidCredentials { remaining: 4 }));
    // The login_hint pre-fills the username.
    let sent = run(
        &mut f,
        Action::UsernamePasswordCheck {
            username: None,
            password: "pw".into(),
        },
    )
    .unwrap();
    assert_eq!(f.status, Status::OtpRequired);
    assert_eq!(sent.len(), 1);
    let n = &sent[0];
    let otp = n.otp.clone().unwrap();
    assert_eq!(n.message, format!("Pay 5 USD? OTP: {otp}"));
    assert_eq!(
        (n.to.as_str(), n.device_type),
        ("+15550100", DeviceType::Sms)
    );
    assert_eq!(n.client_context["alert.color"], "red");
    run(&mut f, Action::OtpCheck { otp }).unwrap();
    assert_eq!(f.status, Status::Completed);
    assert_eq!(f.auth_time, Some(2000));
    assert!(f.transaction_approved);
    assert_eq!(amr(&f.factors), ["pwd", "sms", "otp", "mfa"]);
    assert!(allowed_actions(&f, &env()).is_empty());
}

#[test]
fn a_token_named_user_skips_the_password() {
    let (f, _) = begin(Some("none"), false);
    assert_eq!(f.status, Status::Completed);
    assert!(f.factors.is_empty());
    let (f, sent) = begin(Some("sms"), false);
    assert_eq!(f.status, Status::OtpRequired);
    assert_eq!(
        sent[0].message,
        format!("Your passcode is {}", sent[0].otp.clone().unwrap())
    );
}

#[test]
fn three_wrong_passcodes_fail_the_flow() {
    let (mut f, _) = begin(Some("sms"), false);
    for remaining in [2, 1] {
        let e = run(&mut f, Action::OtpCheck { otp: "x".into() });
        assert_eq!(e, Err(FlowError::InvalidOtp { remaining }));
        assert_eq!(f.status, Status::OtpRequired);
    }
    assert_eq!(
        run(&mut f, Action::OtpCheck { otp: "x".into() }),
        Err(FlowError::OtpExhausted)
    );
    assert_eq!(f.status, Status::Failed);
    assert_eq!(f.failure.as_ref().map(|x| x.error), Some("access_denied"));
    assert!(matches!(
        run(&mut f, Action::OtpCheck { otp: "x".into() }),
        Err(FlowError::NotAllowed { .. })
    ));
}

#[test]
fn push_approve_deny_and_cancel() {
    let (mut f, sent) = begin(Some("push"), true);
    assert_eq!(f.status, Status::PushConfirmationRequired);
    assert_eq!(sent[0].otp, None);
    assert_eq!(sent[0].to, "d-push");
    assert!(matches!(
        run(&mut f, Action::OtpCheck { otp: "1".into() }),
        Err(FlowError::NotAllowed { .. })
    ));
    run(&mut f, Action::PushApprove).unwrap();
    assert_eq!(f.status, Status::Completed);
    assert!(f.transaction_approved);
    assert_eq!(amr(&f.factors), ["swk", "user"]);

    let (mut f, _) = begin(Some("push"), false);
    run(&mut f, Action::PushDeny).unwrap();
    assert_eq!(f.status, Status::Failed);
    assert!(matches!(
        run(&mut f, Action::PushApprove),
        Err(FlowError::NotAllowed { .. })
    ));

    let (mut f, _) = begin(Some("push"), false);
    run(&mut f, Action::CancelPush { reason: None }).unwrap();
    assert_eq!(
        f.status,
        Status::Failed,
        "one device: nothing else to choose"
    );
}

#[test]
fn several_devices_need_a_selection() {
    let (mut f, sent) = begin(Some("many"), false);
    assert!(sent.is_empty());
    assert_eq!(f.status, Status::DeviceSelectionRequired);
    assert_eq!(
        run(
            &mut f,
            Action::DeviceSelect {
                device_id: "d-sms".into()
            }
        ),
        Err(FlowError::UnknownDevice("d-sms".into()))
    );
    let sent = run(
        &mut f,
        Action::DeviceSelect {
            device_id: "m-push".into(),
        },
    )
    .unwrap();
    assert_eq!(sent[0].delivery, Delivery::Push);
    run(
        &mut f,
        Action::CancelPush {
            reason: Some("CHANGE_DEVICE".into()),
        },
    )
    .unwrap();
    assert_eq!(f.status, Status::DeviceSelectionRequired);
    let sent = run(
        &mut f,
        Action::DeviceSelect {
            device_id: "m-email".into(),
        },
    )
    .unwrap();
    assert_eq!(sent[0].to, "c@example.com");
    assert_eq!(allowed_actions(&f, &env()), [OTP_CHECK, DEVICE_SELECT]);
    let otp = sent[0].otp.clone().unwrap();
    run(&mut f, Action::OtpCheck { otp }).unwrap();
    assert_eq!(amr(&f.factors), ["otp"]);
}

#[test]
fn a_template_that_cannot_render_fails_the_flow() {
    let mut e = env();
    e.templates[0].body = "Pay ${missing} ${OTP}".into();
    let mut rng = Counter(0);
    let mut ctx = Ctx {
        env: &e,
        now_ms: 0,
        rng: &mut rng,
        lockouts: &mut Lockouts::default(),
        changes: Vec::new(),
    };
    let (mut f, _) = begin(None, true);
    f.status = Status::UsernamePasswordRequired;
    let r = apply(
        &mut f,
        Action::UsernamePasswordCheck {
            username: Some("sms".into()),
            password: "pw".into(),
        },
        &mut ctx,
    );
    assert!(
        matches!(r, Err(FlowError::Template(TemplateError::MissingVariable { ref variable, .. })) if variable == "missing")
    );
    assert_eq!(f.status, Status::Failed);
}

#[test]
fn five_wrong_passwords_fail_and_actions_parse() {
    let (mut f, _) = begin(None, false);
    for _ in 0..4 {
        assert!(run(
            &mut f,
            Action::UsernamePasswordCheck {
                username: Some("nobody".into()),
                password: "pw".into()
            }
        )
        .is_err());
    }
    assert_eq!(
        run(
            &mut f,
            Action::UsernamePasswordCheck {
                username: Some("sms".into()),
                password: "nope".into()
            }
        ),
        Err(FlowError::CredentialsExhausted)
    );
    assert_eq!(f.status, Status::Failed);

    let body = |v: Value| v.as_object().cloned().unwrap();
    assert_eq!(
        Action::parse("device.select", &body(json!({"device": {"id": "d"}}))),
        Ok(Action::DeviceSelect {
            device_id: "d".into()
        })
    );
    assert_eq!(
        Action::parse("otp.check", &body(json!({}))),
        Err(FlowError::Body {
            field: "otp",
            problem: "is required"
        })
    );
    assert_eq!(
        Action::parse(
            "usernamePassword.check",
            &body(json!({"username": 5, "password": "p"}))
        ),
        Err(FlowError::Body {
            field: "username",
            problem: "must be a string"
        })
    );
    assert!(matches!(
        Action::parse("user.register", &Map::new()),
        Err(FlowError::Body {
            field: "username",
            ..
        })
    ));
    assert!(matches!(
        Action::parse("user.delete", &Map::new()),
        Err(FlowError::UnknownAction(_))
    ));
}
