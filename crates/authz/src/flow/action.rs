//! The Flows API's actions: their names (the media type `application/vnd.pingidentity.{name}+json`)
//! and bodies, parsed into [`Action`].

use serde_json::{Map, Value};

use super::FlowError;

pub const USERNAME_PASSWORD_CHECK: &str = "usernamePassword.check";
pub const DEVICE_SELECT: &str = "device.select";
pub const OTP_CHECK: &str = "otp.check";
pub const CANCEL_PUSH: &str = "cancel.push.authentication";
pub const USER_LOOKUP: &str = "user.lookup";
pub const PASSWORD_FORGOT: &str = "password.forgot";
pub const PASSWORD_RECOVER: &str = "password.recover";
pub const PASSWORD_RESET: &str = "password.reset";
pub const PASSWORD_FORCE_CHANGE: &str = "password.forceChange";
pub const SESSION_RESET: &str = "session.reset";
pub const USER_REGISTER: &str = "user.register";
pub const USER_VERIFY: &str = "user.verify";
pub const SEND_VERIFICATION_CODE: &str = "user.sendVerificationCode";

/// An action on a flow: the Flows API's media types, plus the emulator's push decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    UsernamePasswordCheck {
        username: Option<String>,
        password: String,
    },
    DeviceSelect {
        device_id: String,
    },
    OtpCheck {
        otp: String,
    },
    CancelPush {
        reason: Option<String>,
    },
    PushApprove,
    PushDeny,
    /// The emulator's control: the push times out now.
    PushTimeout,
    UserLookup {
        username: String,
    },
    PasswordForgot {
        username: Option<String>,
    },
    PasswordRecover {
        code: String,
        new_password: String,
    },
    /// `password.reset` (an expired password) or `password.forceChange` (one that must change).
    PasswordChange {
        force: bool,
        current: String,
        new_password: String,
    },
    SessionReset,
    UserRegister {
        username: String,
        email: String,
        password: String,
    },
    UserVerify {
        code: String,
    },
    SendVerificationCode,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::UsernamePasswordCheck { .. } => USERNAME_PASSWORD_CHECK,
            Action::DeviceSelect { .. } => DEVICE_SELECT,
            Action::OtpCheck { .. } => OTP_CHECK,
            Action::CancelPush { .. } => CANCEL_PUSH,
            Action::PushApprove => "push.approve",
            Action::PushDeny => "push.deny",
            Action::PushTimeout => "push.timeout",
            Action::UserLookup { .. } => USER_LOOKUP,
            Action::PasswordForgot { .. } => PASSWORD_FORGOT,
            Action::PasswordRecover { .. } => PASSWORD_RECOVER,
            Action::PasswordChange { force: false, .. } => PASSWORD_RESET,
            Action::PasswordChange { force: true, .. } => PASSWORD_FORCE_CHANGE,
            Action::SessionReset => SESSION_RESET,
            Action::UserRegister { .. } => USER_REGISTER,
            Action::UserVerify { .. } => USER_VERIFY,
            Action::SendVerificationCode => SEND_VERIFICATION_CODE,
        }
    }

    /// An action from the Flows API: `name` from the media type
    /// `application/vnd.pingidentity.{name}+json`, `body` the JSON object sent.
    pub fn parse(name: &str, body: &Map<String, Value>) -> Result<Action, FlowError> {
        let string =
            |field: &'static str, v: Option<&Value>| -> Result<Option<String>, FlowError> {
                match v {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(_) => Err(FlowError::Body {
                        field,
                        problem: "must be a string",
                    }),
                }
            };
        let required = |field: &'static str, v: Option<&Value>| -> Result<String, FlowError> {
            string(field, v)?
                .filter(|s| !s.is_empty())
                .ok_or(FlowError::Body {
                    field,
                    problem: "is required",
                })
        };
        if name.eq_ignore_ascii_case(USERNAME_PASSWORD_CHECK) {
            Ok(Action::UsernamePasswordCheck {
                username: string("username", body.get("username"))?.filter(|s| !s.is_empty()),
                password: required("password", body.get("password"))?,
            })
        } else if name.eq_ignore_ascii_case(DEVICE_SELECT) {
            let device = body.get("device").and_then(Value::as_object);
            Ok(Action::DeviceSelect {
                device_id: required("device.id", device.and_then(|d| d.get("id")))?,
            })
        } else if name.eq_ignore_ascii_case(OTP_CHECK) {
            Ok(Action::OtpCheck {
                otp: required("otp", body.get("otp"))?,
            })
        } else if name.eq_ignore_ascii_case(CANCEL_PUSH) {
            Ok(Action::CancelPush {
                reason: string("reason", body.get("reason"))?,
            })
        } else if name.eq_ignore_ascii_case(USER_LOOKUP) {
            Ok(Action::UserLookup {
                username: required("username", body.get("username"))?,
            })
        } else if name.eq_ignore_ascii_case(PASSWORD_FORGOT) {
            Ok(Action::PasswordForgot {
                username: string("username", body.get("username"))?.filter(|s| !s.is_empty()),
            })
        } else if name.eq_ignore_ascii_case(PASSWORD_RECOVER) {
            Ok(Action::PasswordRecover {
                code: required("recoveryCode", body.get("recoveryCode"))?,
                new_password: required("newPassword", body.get("newPassword"))?,
            })
        } else if name.eq_ignore_ascii_case(PASSWORD_RESET)
            || name.eq_ignore_ascii_case(PASSWORD_FORCE_CHANGE)
        {
            Ok(Action::PasswordChange {
                force: name.eq_ignore_ascii_case(PASSWORD_FORCE_CHANGE),
                current: required("currentPassword", body.get("currentPassword"))?,
                new_password: required("newPassword", body.get("newPassword"))?,
            })
        } else if name.eq_ignore_ascii_case(SESSION_RESET) {
            Ok(Action::SessionReset)
        } else if name.eq_ignore_ascii_case(USER_REGISTER) {
            Ok(Action::UserRegister {
                username: required("username", body.get("username"))?,
                email: required("email", body.get("email"))?,
                password: required("password", body.get("password"))?,
            })
        } else if name.eq_ignore_ascii_case(USER_VERIFY) {
            Ok(Action::UserVerify {
                code: required("verificationCode", body.get("verificationCode"))?,
            })
        } else if name.eq_ignore_ascii_case(SEND_VERIFICATION_CODE) {
            Ok(Action::SendVerificationCode)
        } else {
            Err(FlowError::UnknownAction(name.to_owned()))
        }
    }
}
