//! The sign-on flow as a state machine over plain data: [`start`] makes a flow from an
//! accepted authorize request, [`apply`] runs one action on it, and [`allowed_actions`] lists
//! what may come next (the flow's `_links`). Notifications to devices are returned, not sent.
//!
//! ```text
//! user named by a token ─────────────┐
//! USERNAME_PASSWORD_REQUIRED ──check──┤
//!                                     ├─ no devices ─────────────────────────── COMPLETED
//!                                     ├─ one SMS/EMAIL device ─ OTP_REQUIRED ─otp.check─ COMPLETED
//!                                     ├─ one PUSH device ─ PUSH_CONFIRMATION_REQUIRED ─approve─ COMPLETED
//!                                     └─ several ─ DEVICE_SELECTION_REQUIRED ─device.select─ (as above)
//! 3 wrong passcodes, 5 wrong passwords, a denied or cancelled push ─────────── FAILED
//! ```

use std::fmt;

use serde_json::{Map, Value};

use crate::config::{
    Delivery, Device, DeviceSelection, DeviceType, Environment, PasswordStatus, UserRecord,
    MIN_PASSWORD_LENGTH,
};
pub use crate::lockout::Lockouts;

mod action;
use crate::random::{self, Random};
use crate::request::AuthRequest;
use crate::template::{self, TemplateError};
pub use action::*;
use pingone::request_object::Template;

/// Wrong passcodes allowed before the flow fails.
pub const MAX_OTP_FAILURES: u8 = 3;
/// Wrong passwords allowed before the flow fails.
pub const MAX_PASSWORD_FAILURES: u8 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    UsernamePasswordRequired,
    DeviceSelectionRequired,
    OtpRequired,
    PushConfirmationRequired,
    PushConfirmationTimedOut,
    PasswordExpired,
    MustChangePassword,
    RecoveryCodeRequired,
    VerificationCodeRequired,
    Completed,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::UsernamePasswordRequired => "USERNAME_PASSWORD_REQUIRED",
            Status::DeviceSelectionRequired => "DEVICE_SELECTION_REQUIRED",
            Status::OtpRequired => "OTP_REQUIRED",
            Status::PushConfirmationRequired => "PUSH_CONFIRMATION_REQUIRED",
            Status::PushConfirmationTimedOut => "PUSH_CONFIRMATION_TIMED_OUT",
            Status::PasswordExpired => "PASSWORD_EXPIRED",
            Status::MustChangePassword => "MUST_CHANGE_PASSWORD",
            Status::RecoveryCodeRequired => "RECOVERY_CODE_REQUIRED",
            Status::VerificationCodeRequired => "VERIFICATION_CODE_REQUIRED",
            Status::Completed => "COMPLETED",
            Status::Failed => "FAILED",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, Status::Completed | Status::Failed)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the user proved who they are; becomes `amr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Password,
    Sms,
    Email,
    Voice,
    Push,
    /// A code from an app: a TOTP authenticator, or PingOne's MFA app.
    AppOtp,
}

/// RFC 8176 authentication method references for the factors used; `mfa` when a password and a
/// device were both used.
pub fn amr(factors: &[Factor]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for f in factors {
        let refs: &[&'static str] = match f {
            Factor::Password => &["pwd"],
            Factor::Sms => &["sms", "otp"],
            Factor::Email => &["otp"],
            Factor::Voice => &["tel", "otp"],
            Factor::Push => &["swk", "user"],
            Factor::AppOtp => &["swk", "otp"],
        };
        for r in refs {
            if !out.contains(r) {
                out.push(r);
            }
        }
    }
    if factors.contains(&Factor::Password) && factors.iter().any(|f| *f != Factor::Password) {
        out.push("mfa");
    }
    out
}

/// Why a flow failed: an OAuth error code (for the redirect) and a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub error: &'static str,
    pub description: String,
}

/// One sign-on in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub id: String,
    pub client_id: String,
    pub request: AuthRequest,
    /// `pi.template` of the request object: the transaction to approve.
    pub template: Option<Template>,
    /// `pi.clientContext`, shown to the device.
    pub client_context: Map<String, Value>,
    pub status: Status,
    /// The user, once known.
    pub user_id: Option<String>,
    /// `login_hint`: pre-fills the username.
    pub username_hint: Option<String>,
    pub device_id: Option<String>,
    /// The passcode sent to the selected SMS/EMAIL device.
    pub otp: Option<String>,
    pub otp_failures: u8,
    pub password_failures: u8,
    /// When the pending push was sent.
    pub push_sent_ms: Option<i64>,
    pub factors: Vec<Factor>,
    /// Unix seconds of completion.
    pub auth_time: Option<i64>,
    /// Whether a device approved the transaction (the ID token then names the template).
    pub transaction_approved: bool,
    pub failure: Option<Failure>,
    /// The authorization code, issued when the flow completes.
    pub code: Option<String>,
    /// Tokens the authorize response carries (implicit and hybrid: `access_token`,
    /// `token_type`, `expires_in`, `id_token`), issued when the flow completes.
    pub front_channel: Vec<(String, String)>,
    pub created_ms: i64,
}

/// What a new flow starts from.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    pub client_id: String,
    pub request: AuthRequest,
    pub template: Option<Template>,
    pub client_context: Map<String, Value>,
    /// A user named by a login_hint_token or the request object's `sub`: no password needed.
    pub user_id: Option<String>,
    pub username_hint: Option<String>,
}

/// A message for a device, as the emulator's outbox records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub flow_id: String,
    pub device_id: String,
    pub device_type: DeviceType,
    pub delivery: Delivery,
    /// Phone number, email address, or (push) the device id.
    pub to: String,
    pub message: String,
    /// An email's subject.
    pub subject: Option<String>,
    /// A push's title.
    pub title: Option<String>,
    /// The locale of the template content used.
    pub locale: Option<String>,
    /// The passcode in the message (none for push).
    pub otp: Option<String>,
    pub client_context: Map<String, Value>,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FlowError {
    #[error("unknown flow action \"{0}\"; send Content-Type application/vnd.pingidentity.ACTION+json with ACTION one of usernamePassword.check, user.lookup, device.select, otp.check, cancel.push.authentication, password.forgot, password.recover, password.reset, password.forceChange, session.reset, user.register, user.verify, user.sendVerificationCode")]
    UnknownAction(String),
    #[error("{action} is not allowed while the flow is {status}")]
    NotAllowed {
        action: &'static str,
        status: Status,
    },
    #[error("{field} {problem}")]
    Body {
        field: &'static str,
        problem: &'static str,
    },
    #[error("the username or password is not valid ({remaining} attempts remaining)")]
    InvalidCredentials { remaining: u8 },
    #[error("the username or password is not valid, and no attempts remain: the flow has FAILED")]
    CredentialsExhausted,
    #[error("device \"{0}\" is not one of the user's devices")]
    UnknownDevice(String),
    #[error("the one-time passcode is not valid ({remaining} attempts remaining)")]
    InvalidOtp { remaining: u8 },
    #[error("the one-time passcode is not valid, and no attempts remain: the flow has FAILED")]
    OtpExhausted,
    #[error("the notification cannot be made: {0}")]
    Template(TemplateError),
    #[error("the flow's user \"{0}\" no longer exists")]
    UserGone(String),
    #[error("the random generator failed: {0}")]
    Random(jose::Error),
    #[error("the user is locked out after too many wrong passwords; try again in {seconds} s")]
    LockedOut { seconds: i64 },
    #[error("no user has the username \"{0}\"")]
    NoSuchUser(String),
    #[error("the new password must have at least {MIN_PASSWORD_LENGTH} characters and differ from the current one")]
    WeakPassword,
    #[error("the current password is not valid")]
    WrongCurrentPassword,
    #[error("the {what} code is not valid")]
    InvalidCode { what: &'static str },
    #[error("username \"{0}\" is taken")]
    UsernameTaken(String),
    #[error("user \"{0}\" has no email address to send a code to")]
    NoEmail(String),
}

/// A change to the environment's users that a transition asks for (the server applies it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChange {
    SetPassword { user_id: String, password: String },
    Create(Box<UserRecord>),
    Verified { user_id: String },
}

/// The time and randomness a transition may use.
pub struct Ctx<'a> {
    pub env: &'a Environment,
    pub now_ms: i64,
    pub rng: &'a mut dyn Random,
    /// Wrong passwords by user, across flows.
    pub lockouts: &'a mut Lockouts,
    /// Changes to users the transition made, for the caller to apply.
    pub changes: Vec<UserChange>,
}

/// Applies what time decides: a push unanswered for `push_timeout_ms` times out. Returns
/// whether the flow changed.
pub fn tick(flow: &mut Flow, env: &Environment, now_ms: i64) -> bool {
    let due = flow
        .push_sent_ms
        .is_some_and(|sent| now_ms >= sent.saturating_add(env.push_timeout_ms));
    if flow.status == Status::PushConfirmationRequired && due {
        flow.status = Status::PushConfirmationTimedOut;
        flow.otp = None;
        return true;
    }
    false
}

/// Starts a flow; with a user already named, runs on to the first step that needs them.
pub fn start(
    id: String,
    init: Start,
    ctx: &mut Ctx<'_>,
) -> Result<(Flow, Vec<Notification>), FlowError> {
    let mut flow = Flow {
        id,
        client_id: init.client_id,
        request: init.request,
        template: init.template,
        client_context: init.client_context,
        status: Status::UsernamePasswordRequired,
        user_id: None,
        username_hint: init.username_hint,
        device_id: None,
        otp: None,
        otp_failures: 0,
        password_failures: 0,
        push_sent_ms: None,
        factors: Vec::new(),
        auth_time: None,
        transaction_approved: false,
        failure: None,
        code: None,
        front_channel: Vec::new(),
        created_ms: ctx.now_ms,
    };
    let sent = match init.user_id {
        Some(user) => identified(&mut flow, user, ctx)?,
        None => Vec::new(),
    };
    Ok((flow, sent))
}

/// The actions the flow accepts now, as its `_links` name them.
pub fn allowed_actions(flow: &Flow, env: &Environment) -> Vec<&'static str> {
    let several = flow
        .user_id
        .as_deref()
        .and_then(|u| env.user(u))
        .is_some_and(|u| u.devices.len() > 1);
    let app_otp = flow_device(flow, env).is_some_and(|d| d.otp);
    let reset = |mut v: Vec<&'static str>| {
        v.push(SESSION_RESET);
        v
    };
    match flow.status {
        Status::UsernamePasswordRequired => vec![
            USERNAME_PASSWORD_CHECK,
            USER_LOOKUP,
            PASSWORD_FORGOT,
            USER_REGISTER,
        ],
        Status::PasswordExpired => reset(vec![PASSWORD_RESET]),
        Status::MustChangePassword => reset(vec![PASSWORD_FORCE_CHANGE]),
        Status::RecoveryCodeRequired => reset(vec![PASSWORD_RECOVER, PASSWORD_FORGOT]),
        Status::VerificationCodeRequired => reset(vec![USER_VERIFY, SEND_VERIFICATION_CODE]),
        Status::DeviceSelectionRequired => vec![DEVICE_SELECT],
        Status::OtpRequired if several => vec![OTP_CHECK, DEVICE_SELECT],
        Status::OtpRequired => vec![OTP_CHECK],
        Status::PushConfirmationRequired if app_otp => vec![CANCEL_PUSH, OTP_CHECK],
        Status::PushConfirmationRequired => vec![CANCEL_PUSH],
        // Another device, or the same one again (a new push): our choice where PingOne's
        // documentation lists no action.
        Status::PushConfirmationTimedOut => vec![DEVICE_SELECT],
        Status::Completed | Status::Failed => Vec::new(),
    }
}

/// Runs one action. State changes made before an error (a counted wrong passcode, a failed
/// flow) stay in `flow`.
pub fn apply(
    flow: &mut Flow,
    action: Action,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Notification>, FlowError> {
    let allowed = match action {
        Action::PushApprove | Action::PushDeny | Action::PushTimeout => {
            flow.status == Status::PushConfirmationRequired
        }
        _ => allowed_actions(flow, ctx.env).contains(&action.name()),
    };
    if !allowed {
        return Err(FlowError::NotAllowed {
            action: action.name(),
            status: flow.status,
        });
    }
    match action {
        Action::UsernamePasswordCheck { username, password } => {
            let username =
                username
                    .or_else(|| flow.username_hint.clone())
                    .ok_or(FlowError::Body {
                        field: "username",
                        problem: "is required",
                    })?;
            let user = ctx.env.find_user(&username).filter(|u| {
                u.password
                    .as_deref()
                    .is_some_and(|p| equal(p.as_bytes(), password.as_bytes()))
            });
            if let Some(left) = ctx
                .env
                .find_user(&username)
                .and_then(|u| ctx.lockouts.locked_for(&u.id, ctx.now_ms))
            {
                return Err(FlowError::LockedOut {
                    seconds: (left + 999) / 1000,
                });
            }
            match user {
                Some(u) => {
                    let id = u.id.clone();
                    ctx.lockouts.succeeded(&id);
                    flow.factors.push(Factor::Password);
                    if !u.verified {
                        flow.user_id = Some(id);
                        return send_code(flow, ctx, "verification").map(|n| vec![n]);
                    }
                    match u.password_status {
                        PasswordStatus::Expired => {
                            flow.user_id = Some(id);
                            flow.status = Status::PasswordExpired;
                            Ok(Vec::new())
                        }
                        PasswordStatus::MustChange => {
                            flow.user_id = Some(id);
                            flow.status = Status::MustChangePassword;
                            Ok(Vec::new())
                        }
                        PasswordStatus::Ok => identified(flow, id, ctx),
                    }
                }
                None => {
                    if let Some(known) = ctx.env.find_user(&username) {
                        ctx.lockouts.failed(&known.id, ctx.env, ctx.now_ms);
                    }
                    flow.password_failures = flow.password_failures.saturating_add(1);
                    if flow.password_failures >= MAX_PASSWORD_FAILURES {
                        fail(
                            flow,
                            "access_denied",
                            "too many failed username/password attempts",
                        );
                        Err(FlowError::CredentialsExhausted)
                    } else {
                        Err(FlowError::InvalidCredentials {
                            remaining: MAX_PASSWORD_FAILURES - flow.password_failures,
                        })
                    }
                }
            }
        }
        Action::DeviceSelect { device_id } => {
            let user = flow_user(flow, ctx.env)?;
            let device = user
                .device(&device_id)
                .ok_or(FlowError::UnknownDevice(device_id))?;
            select(flow, user, device, ctx).map(|n| n.into_iter().collect())
        }
        Action::OtpCheck { otp } => {
            let device = flow_device(flow, ctx.env);
            let right = match device {
                Some(d) if d.kind == DeviceType::Totp => {
                    crate::totp::verify(&d.secret, &otp, ctx.now_ms.div_euclid(1000))
                }
                _ => {
                    let expected = flow.otp.clone().unwrap_or_default();
                    !expected.is_empty() && equal(expected.as_bytes(), otp.trim().as_bytes())
                }
            };
            if right {
                flow.factors.push(match device.map(|d| d.kind) {
                    Some(DeviceType::Email) => Factor::Email,
                    Some(DeviceType::Voice) => Factor::Voice,
                    Some(DeviceType::Mobile | DeviceType::Totp) => Factor::AppOtp,
                    _ => Factor::Sms,
                });
                flow.transaction_approved = flow.template.is_some();
                complete(flow, ctx.now_ms);
                return Ok(Vec::new());
            }
            flow.otp_failures = flow.otp_failures.saturating_add(1);
            if flow.otp_failures >= MAX_OTP_FAILURES {
                fail(flow, "access_denied", "too many wrong one-time passcodes");
                Err(FlowError::OtpExhausted)
            } else {
                Err(FlowError::InvalidOtp {
                    remaining: MAX_OTP_FAILURES - flow.otp_failures,
                })
            }
        }
        Action::CancelPush { .. } => {
            let several = flow_user(flow, ctx.env)?.devices.len() > 1;
            if several {
                flow.status = Status::DeviceSelectionRequired;
                flow.device_id = None;
            } else {
                fail(
                    flow,
                    "access_denied",
                    "the push authentication was cancelled",
                );
            }
            Ok(Vec::new())
        }
        Action::PushApprove => {
            flow.factors.push(Factor::Push);
            flow.transaction_approved = flow.template.is_some();
            complete(flow, ctx.now_ms);
            Ok(Vec::new())
        }
        Action::PushDeny => {
            fail(
                flow,
                "access_denied",
                "the user denied the push notification",
            );
            Ok(Vec::new())
        }
        Action::PushTimeout => {
            flow.push_sent_ms = Some(i64::MIN / 2);
            tick(flow, ctx.env, ctx.now_ms);
            Ok(Vec::new())
        }
        Action::UserLookup { username } => {
            let user = ctx
                .env
                .find_user(&username)
                .ok_or_else(|| FlowError::NoSuchUser(username.clone()))?;
            flow.username_hint = Some(user.username.clone());
            Ok(Vec::new())
        }
        Action::PasswordForgot { username } => {
            let username = username
                .or_else(|| flow.username_hint.clone())
                .or_else(|| {
                    let id = flow.user_id.as_deref()?;
                    ctx.env.user(id).map(|u| u.username.clone())
                })
                .ok_or(FlowError::Body {
                    field: "username",
                    problem: "is required",
                })?;
            let user = ctx
                .env
                .find_user(&username)
                .ok_or_else(|| FlowError::NoSuchUser(username.clone()))?;
            flow.user_id = Some(user.id.clone());
            send_code(flow, ctx, "recovery").map(|n| vec![n])
        }
        Action::PasswordRecover { code, new_password } => {
            check_code(flow, &code, "recovery")?;
            let user = flow_user(flow, ctx.env)?;
            new_password_ok(user, &new_password)?;
            let id = user.id.clone();
            ctx.changes.push(UserChange::SetPassword {
                user_id: id.clone(),
                password: new_password,
            });
            flow.otp = None;
            identified(flow, id, ctx)
        }
        Action::PasswordChange {
            current,
            new_password,
            ..
        } => {
            let user = flow_user(flow, ctx.env)?;
            let right = user
                .password
                .as_deref()
                .is_some_and(|p| equal(p.as_bytes(), current.as_bytes()));
            if !right {
                return Err(FlowError::WrongCurrentPassword);
            }
            new_password_ok(user, &new_password)?;
            let id = user.id.clone();
            ctx.changes.push(UserChange::SetPassword {
                user_id: id.clone(),
                password: new_password,
            });
            identified(flow, id, ctx)
        }
        Action::SessionReset => {
            flow.status = Status::UsernamePasswordRequired;
            flow.user_id = None;
            flow.device_id = None;
            flow.otp = None;
            flow.otp_failures = 0;
            flow.push_sent_ms = None;
            flow.factors.clear();
            Ok(Vec::new())
        }
        Action::UserRegister {
            username,
            email,
            password,
        } => {
            if ctx.env.find_user(&username).is_some() {
                return Err(FlowError::UsernameTaken(username));
            }
            if password.chars().count() < MIN_PASSWORD_LENGTH {
                return Err(FlowError::WeakPassword);
            }
            let id = random::uuid(ctx.rng).map_err(FlowError::Random)?;
            let user = UserRecord {
                id: id.clone(),
                username,
                given_name: None,
                family_name: None,
                email: Some(email),
                password: Some(password),
                devices: Vec::new(),
                password_status: PasswordStatus::Ok,
                verified: false,
            };
            flow.user_id = Some(id);
            flow.factors.push(Factor::Password);
            let sent = send_code_to(flow, ctx, "verification", &user)?;
            ctx.changes.push(UserChange::Create(Box::new(user)));
            Ok(vec![sent])
        }
        Action::UserVerify { code } => {
            check_code(flow, &code, "verification")?;
            let id = flow.user_id.clone().unwrap_or_default();
            ctx.changes.push(UserChange::Verified {
                user_id: id.clone(),
            });
            flow.otp = None;
            identified(flow, id, ctx)
        }
        Action::SendVerificationCode => send_code(flow, ctx, "verification").map(|n| vec![n]),
    }
}

/// Emails a recovery or verification code to the flow's user; the flow waits for it.
fn send_code(
    flow: &mut Flow,
    ctx: &mut Ctx<'_>,
    what: &'static str,
) -> Result<Notification, FlowError> {
    let user = flow_user(flow, ctx.env)?.clone();
    send_code_to(flow, ctx, what, &user)
}

fn send_code_to(
    flow: &mut Flow,
    ctx: &mut Ctx<'_>,
    what: &'static str,
    user: &UserRecord,
) -> Result<Notification, FlowError> {
    let email = user
        .email
        .clone()
        .ok_or_else(|| FlowError::NoEmail(user.username.clone()))?;
    let code = random::otp(ctx.rng).map_err(FlowError::Random)?;
    flow.otp = Some(code.clone());
    flow.otp_failures = 0;
    flow.status = if what == "recovery" {
        Status::RecoveryCodeRequired
    } else {
        Status::VerificationCodeRequired
    };
    Ok(Notification {
        flow_id: flow.id.clone(),
        device_id: String::new(),
        device_type: DeviceType::Email,
        delivery: Delivery::Email,
        to: email,
        // Our wording: PingOne's default notification templates are not published verbatim.
        message: format!("Your {what} code is {code}"),
        subject: Some(format!("Your {what} code")),
        title: None,
        locale: None,
        otp: Some(code),
        client_context: flow.client_context.clone(),
        created_ms: ctx.now_ms,
    })
}

/// The emailed code, counted like a passcode (three wrong ones fail the flow).
fn check_code(flow: &mut Flow, code: &str, what: &'static str) -> Result<(), FlowError> {
    let expected = flow.otp.clone().unwrap_or_default();
    if !expected.is_empty() && equal(expected.as_bytes(), code.trim().as_bytes()) {
        return Ok(());
    }
    flow.otp_failures = flow.otp_failures.saturating_add(1);
    if flow.otp_failures >= MAX_OTP_FAILURES {
        fail(
            flow,
            "access_denied",
            format!("too many wrong {what} codes"),
        );
    }
    Err(FlowError::InvalidCode { what })
}

fn new_password_ok(user: &UserRecord, new: &str) -> Result<(), FlowError> {
    let same = user.password.as_deref() == Some(new);
    if new.chars().count() < MIN_PASSWORD_LENGTH || same {
        return Err(FlowError::WeakPassword);
    }
    Ok(())
}

fn equal(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

fn flow_user<'e>(flow: &Flow, env: &'e Environment) -> Result<&'e UserRecord, FlowError> {
    let id = flow.user_id.as_deref().unwrap_or_default();
    env.user(id)
        .ok_or_else(|| FlowError::UserGone(id.to_owned()))
}

/// The selected device, if any.
pub fn flow_device<'e>(flow: &Flow, env: &'e Environment) -> Option<&'e Device> {
    let user = env.user(flow.user_id.as_deref()?)?;
    user.device(flow.device_id.as_deref()?)
}

/// The user is known: on to their devices, or done.
fn identified(
    flow: &mut Flow,
    user_id: String,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Notification>, FlowError> {
    flow.user_id = Some(user_id);
    let user = flow_user(flow, ctx.env)?;
    let first = user
        .devices
        .iter()
        .find(|d| d.default)
        .or(user.devices.first());
    let Some(first) = first else {
        complete(flow, ctx.now_ms);
        return Ok(Vec::new());
    };
    let prompt = match ctx.env.device_selection {
        DeviceSelection::DefaultToFirst => false,
        DeviceSelection::PromptToSelect => user.devices.len() > 1,
        DeviceSelection::AlwaysDisplayDevices => true,
    };
    if prompt {
        flow.status = Status::DeviceSelectionRequired;
        return Ok(Vec::new());
    }
    select(flow, user, first, ctx).map(|n| n.into_iter().collect())
}

/// Selects `device`: sends the passcode (SMS, EMAIL, VOICE) or the push notification (MOBILE,
/// with the app's OTP when it has `otp = true`); a TOTP device is sent nothing (its app computes
/// the code).
fn select(
    flow: &mut Flow,
    user: &UserRecord,
    device: &Device,
    ctx: &mut Ctx<'_>,
) -> Result<Option<Notification>, FlowError> {
    flow.device_id = Some(device.id.clone());
    flow.otp_failures = 0;
    let Some(delivery) = device.kind.delivery() else {
        flow.otp = None;
        flow.status = Status::OtpRequired;
        return Ok(None);
    };
    let otp = random::otp(ctx.rng).map_err(FlowError::Random)?;
    let requested = flow
        .template
        .as_ref()
        .map(|t| (t.name.as_str(), t.variant.as_deref(), &t.variables));
    let locales: Vec<&str> = flow
        .request
        .ui_locales
        .as_deref()
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default();
    let message = match template::message(
        &ctx.env.templates,
        requested,
        delivery,
        &otp,
        Some(user),
        &locales,
    ) {
        Ok(m) => m,
        Err(e) => {
            fail(flow, "server_error", e.to_string());
            return Err(FlowError::Template(e));
        }
    };
    let push = delivery == Delivery::Push;
    flow.push_sent_ms = push.then_some(ctx.now_ms);
    let with_otp = !push || device.otp;
    flow.otp = with_otp.then(|| otp.clone());
    flow.status = if push {
        Status::PushConfirmationRequired
    } else {
        Status::OtpRequired
    };
    Ok(Some(Notification {
        flow_id: flow.id.clone(),
        device_id: device.id.clone(),
        device_type: device.kind,
        delivery,
        to: device.address(),
        message: message.body,
        subject: message.subject,
        title: message.title,
        locale: message.locale,
        otp: with_otp.then_some(otp),
        client_context: flow.client_context.clone(),
        created_ms: ctx.now_ms,
    }))
}

fn complete(flow: &mut Flow, now_ms: i64) {
    flow.status = Status::Completed;
    flow.auth_time = Some(now_ms.div_euclid(1000));
    flow.otp = None;
}

fn fail(flow: &mut Flow, error: &'static str, description: impl Into<String>) {
    flow.status = Status::Failed;
    flow.otp = None;
    flow.failure = Some(Failure {
        error,
        description: description.into(),
    });
}

#[cfg(test)]
mod tests;
