//! A user's configuration: the user record, its password status and MFA devices (PingOne's
//! device types), parsed and validated from TOML or the control API's JSON.

use std::fmt;

use serde::Deserialize;

use super::{invalid, non_empty, ConfigError, Delivery};

/// How a device delivers a passcode or a confirmation; also a template's `delivery`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceType {
    Sms,
    Email,
    /// An OTP read out by a phone call (the outbox records the voice text).
    Voice,
    /// PingOne's MFA app: push approve/deny, and with `otp = true` an OTP the app shows.
    Mobile,
    /// An authenticator app: RFC 6238 codes from the device's `secret`.
    Totp,
}

impl DeviceType {
    pub const ALL: [DeviceType; 5] = [
        DeviceType::Sms,
        DeviceType::Email,
        DeviceType::Voice,
        DeviceType::Mobile,
        DeviceType::Totp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceType::Sms => "SMS",
            DeviceType::Email => "EMAIL",
            DeviceType::Voice => "VOICE",
            DeviceType::Mobile => "MOBILE",
            DeviceType::Totp => "TOTP",
        }
    }

    /// A PingOne device type, case-insensitively; and whether the name was the deprecated
    /// `PUSH` (this emulator's earlier name for `MOBILE`).
    pub fn parse(s: &str) -> Option<(DeviceType, bool)> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("PUSH") {
            return Some((DeviceType::Mobile, true));
        }
        DeviceType::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(s))
            .map(|d| (d, false))
    }

    /// How a notification reaches the device (none for TOTP: the app computes the code).
    pub fn delivery(self) -> Option<Delivery> {
        match self {
            DeviceType::Sms => Some(Delivery::Sms),
            DeviceType::Email => Some(Delivery::Email),
            DeviceType::Voice => Some(Delivery::Voice),
            DeviceType::Mobile => Some(Delivery::Push),
            DeviceType::Totp => None,
        }
    }
}

impl fmt::Display for DeviceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    /// For `usernamePassword.check`; a user without one can only be named by a token.
    pub password: Option<String>,
    pub devices: Vec<Device>,
    /// `EXPIRED` or `MUST_CHANGE`: the next password sign-on must set a new one.
    pub password_status: PasswordStatus,
    /// A registered user who has not entered the emailed verification code yet.
    pub verified: bool,
}

/// The state of a user's password (PingOne's password status).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PasswordStatus {
    #[default]
    Ok,
    /// `PASSWORD_EXPIRED`: changed with `password.reset`.
    Expired,
    /// `MUST_CHANGE_PASSWORD`: changed with `password.forceChange`.
    MustChange,
}

/// The shortest new password the emulator accepts (our choice; PingOne's policy is configurable).
pub const MIN_PASSWORD_LENGTH: usize = 8;

impl UserRecord {
    pub fn device(&self, id: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.id == id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    pub kind: DeviceType,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// MOBILE: the app also shows an OTP, which `otp.check` accepts besides the push.
    pub otp: bool,
    /// TOTP: the shared secret (decoded from the configuration's base32).
    pub secret: Vec<u8>,
    /// PingOne's `testMode`: the flow response carries the OTP as `test.otp`.
    pub test_mode: bool,
    /// The device chosen first under `DEFAULT_TO_FIRST` (default: the first listed).
    pub default: bool,
}

impl Device {
    /// Where a notification goes: the phone number, the email address, or the device.
    pub fn address(&self) -> String {
        match self.kind {
            DeviceType::Sms | DeviceType::Voice => self.phone.clone().unwrap_or_default(),
            DeviceType::Email => self.email.clone().unwrap_or_default(),
            DeviceType::Mobile | DeviceType::Totp => self.id.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUser {
    id: String,
    username: String,
    given_name: Option<String>,
    family_name: Option<String>,
    email: Option<String>,
    password: Option<String>,
    #[serde(default)]
    devices: Vec<RawDevice>,
    password_status: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevice {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    phone: Option<String>,
    email: Option<String>,
    #[serde(default)]
    otp: bool,
    secret: Option<String>,
    #[serde(default)]
    test_mode: bool,
    #[serde(default)]
    default: bool,
}

/// A user from the control API's JSON (the configuration's fields), checked as the
/// configuration checks it; warnings (a `PUSH` device) are returned with it.
pub fn user_from_json(
    env_at: &str,
    value: serde_json::Value,
) -> Result<(UserRecord, Vec<String>), ConfigError> {
    let raw: RawUser = serde_json::from_value(value)
        .map_err(|e| invalid(env_at, format!("the user is not valid: {e}")))?;
    let mut warnings = Vec::new();
    let u = user(env_at, raw, &mut warnings)?;
    Ok((u, warnings))
}

pub(super) fn user(
    env_at: &str,
    u: RawUser,
    warnings: &mut Vec<String>,
) -> Result<UserRecord, ConfigError> {
    let at = format!("{env_at} user \"{}\"", u.id);
    let id = non_empty(&at, "id", &u.id)?;
    let username = non_empty(&at, "username", &u.username)?;
    if u.password.as_deref() == Some("") {
        return Err(invalid(
            &at,
            "password is empty (leave it out for a user who signs on only by token)",
        ));
    }
    let mut devices = Vec::new();
    for d in u.devices {
        let dat = format!("{at} device \"{}\"", d.id);
        let (kind, deprecated) = DeviceType::parse(&d.kind).ok_or_else(|| {
            invalid(
                &dat,
                format!(
                    "type \"{}\" is not one of SMS, EMAIL, VOICE, MOBILE, TOTP",
                    d.kind
                ),
            )
        })?;
        if deprecated {
            warnings.push(format!(
                "{dat}: type \"PUSH\" is deprecated and will be refused in the next release; PingOne calls it MOBILE"
            ));
        }
        if d.otp && kind != DeviceType::Mobile {
            return Err(invalid(&dat, "otp = true is for MOBILE devices"));
        }
        let secret = match (&d.secret, kind) {
            (Some(text), DeviceType::Totp) => crate::totp::decode_secret(text)
                .map_err(|e| invalid(&dat, format!("secret: {e}")))?,
            (None, DeviceType::Totp) => {
                return Err(invalid(
                    &dat,
                    "a TOTP device needs a secret (base32, as authenticator apps take it)",
                ))
            }
            (Some(_), _) => return Err(invalid(&dat, "secret is for TOTP devices")),
            (None, _) => Vec::new(),
        };
        let device = Device {
            id: non_empty(&dat, "id", &d.id)?,
            kind,
            otp: d.otp,
            secret,
            test_mode: d.test_mode,
            default: d.default,
            phone: d.phone,
            // An EMAIL device without its own address uses the user's.
            email: d.email.or_else(|| {
                (kind == DeviceType::Email)
                    .then(|| u.email.clone())
                    .flatten()
            }),
        };
        match kind {
            DeviceType::Sms | DeviceType::Voice
                if device.phone.as_deref().is_none_or(str::is_empty) =>
            {
                let article = if kind == DeviceType::Sms { "an" } else { "a" };
                return Err(invalid(
                    &dat,
                    format!("{article} {kind} device needs a phone"),
                ));
            }
            DeviceType::Email if device.email.as_deref().is_none_or(str::is_empty) => {
                return Err(invalid(
                    &dat,
                    "an EMAIL device needs an email (or the user one)",
                ))
            }
            _ => {}
        }
        if devices.iter().any(|o: &Device| o.id == device.id) {
            return Err(invalid(
                &dat,
                "the id is used by another of the user's devices",
            ));
        }
        devices.push(device);
    }
    if devices.iter().filter(|d| d.default).count() > 1 {
        return Err(invalid(&at, "more than one device has default = true"));
    }
    Ok(UserRecord {
        id,
        username,
        given_name: u.given_name,
        family_name: u.family_name,
        email: u.email,
        password: u.password,
        devices,
        password_status: match u.password_status.as_deref() {
            None | Some("OK") => PasswordStatus::Ok,
            Some("EXPIRED") => PasswordStatus::Expired,
            Some("MUST_CHANGE") => PasswordStatus::MustChange,
            Some(other) => {
                return Err(invalid(
                    &at,
                    format!("password_status \"{other}\" is not one of OK, EXPIRED, MUST_CHANGE"),
                ))
            }
        },
        verified: true,
    })
}
