//! Notification templates: choosing the content for a template name, variant and delivery, and
//! rendering its `${variable}` placeholders. A variable without a value is an error naming it,
//! never an empty string.

use serde_json::{Map, Value};

use crate::config::{Delivery, TemplateRecord, UserRecord};
pub use crate::placeholder::{placeholders, same_variant, SyntaxError};

/// The passcode's placeholder, always supplied by the server (a client cannot set it).
pub const OTP: &str = "OTP";
/// The message when an authorization carries no `pi.template` and no `strong_authentication`
/// template is configured.
pub const DEFAULT_BODY: &str = "Your passcode is ${OTP}";
/// PingOne's template for plain sign-on passcodes.
pub const STRONG_AUTHENTICATION: &str = "strong_authentication";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown template \"{0}\" (no such template is configured)")]
    Unknown(String),
    #[error("template \"{name}\" has no variant \"{variant}\" (configured: {})", list(.known))]
    UnknownVariant {
        name: String,
        variant: String,
        known: Vec<String>,
    },
    #[error("template \"{name}\" has no default content (one without a variant); name one of its variants: {}", list(.variants))]
    NoDefault { name: String, variants: Vec<String> },
    #[error("template \"{name}\"{} uses ${{{variable}}}, which pi.template.variables does not supply", variant_note(.variant))]
    MissingVariable {
        name: String,
        variant: Option<String>,
        variable: String,
    },
    #[error("{0}")]
    Syntax(#[from] SyntaxError),
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn variant_note(variant: &Option<String>) -> String {
    variant
        .as_deref()
        .map(|v| format!(" (variant \"{v}\")"))
        .unwrap_or_default()
}

/// Replaces each `${name}` by `value(name)`; the first name without a value is the error.
pub fn render(body: &str, value: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(body.len() + 16);
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + 2..).unwrap_or_default();
        let Some(end) = after.find('}') else {
            // Checked at load; kept literally if it ever happens.
            out.push_str(rest.get(start..).unwrap_or_default());
            return Ok(out);
        };
        let name = after.get(..end).unwrap_or_default();
        out.push_str(&value(name).ok_or_else(|| name.to_owned())?);
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

/// The contents a template name and variant may use (one per delivery).
pub fn candidates<'t>(
    templates: &'t [TemplateRecord],
    name: &str,
    variant: Option<&str>,
) -> Result<Vec<&'t TemplateRecord>, TemplateError> {
    let named: Vec<&TemplateRecord> = templates.iter().filter(|t| t.name == name).collect();
    if named.is_empty() {
        return Err(TemplateError::Unknown(name.to_owned()));
    }
    let chosen: Vec<&TemplateRecord> = named
        .iter()
        .copied()
        .filter(|t| same_variant(t.variant.as_deref(), variant))
        .collect();
    if !chosen.is_empty() {
        return Ok(chosen);
    }
    let mut variants: Vec<String> = named.iter().filter_map(|t| t.variant.clone()).collect();
    variants.dedup();
    Err(match variant {
        Some(v) => TemplateError::UnknownVariant {
            name: name.to_owned(),
            variant: v.to_owned(),
            known: variants,
        },
        None => TemplateError::NoDefault {
            name: name.to_owned(),
            variants,
        },
    })
}

/// The content for a delivery and the user's languages: the one configured for that delivery
/// (else any content of that name and variant: a template written for SMS still reaches an
/// email device), in the first of `locales` it exists in (a tag, or its language: `fr` for
/// `fr-CA`), else the one without a locale, else the first.
pub fn select<'t>(
    templates: &'t [TemplateRecord],
    name: &str,
    variant: Option<&str>,
    delivery: Delivery,
    locales: &[&str],
) -> Result<&'t TemplateRecord, TemplateError> {
    let c = candidates(templates, name, variant)?;
    let same_delivery: Vec<&TemplateRecord> = c
        .iter()
        .copied()
        .filter(|t| t.delivery == delivery)
        .collect();
    let pool = if same_delivery.is_empty() {
        c
    } else {
        same_delivery
    };
    let language = |tag: &str| tag.split('-').next().unwrap_or(tag).to_ascii_lowercase();
    for wanted in locales {
        if let Some(t) = pool.iter().find(|t| {
            t.locale
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case(wanted))
        }) {
            return Ok(t);
        }
        if let Some(t) = pool.iter().find(|t| {
            t.locale
                .as_deref()
                .is_some_and(|l| language(l) == language(wanted))
        }) {
            return Ok(t);
        }
    }
    pool.iter()
        .find(|t| t.locale.is_none())
        .or_else(|| pool.first())
        .copied()
        .ok_or_else(|| TemplateError::Unknown(name.to_owned()))
}

/// The GSM 03.38 default alphabet (one septet each) and its extension table (two).
const GSM7: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{c}";

/// PingOne's content limits: SMS 153 GSM-7 characters (extension characters count twice), or
/// 67 when any character needs UCS-2; EMAIL a body of at most 100 KB and a subject of at most
/// 256 characters (PingOne's notification-content API pages). VOICE at most 1024 characters,
/// PUSH a body of at most 400 and a title of at most 50: **our choice**, PingOne's pages state
/// none.
pub fn check_length(
    delivery: Delivery,
    body: &str,
    subject: Option<&str>,
    title: Option<&str>,
) -> Result<(), String> {
    let chars = body.chars().count();
    match delivery {
        Delivery::Sms => {
            let septets: Option<usize> = body
                .chars()
                .map(|c| {
                    if GSM7.contains(c) {
                        Some(1)
                    } else if GSM7_EXTENSION.contains(c) {
                        Some(2)
                    } else {
                        None
                    }
                })
                .sum();
            match septets {
                Some(n) if n > 153 => Err(format!(
                    "body: an SMS of GSM-7 characters has at most 153 (this one {n})"
                )),
                None if chars > 67 => Err(format!(
                    "body: an SMS with characters outside GSM-7 (sent as UCS-2) has at most 67 characters (this one {chars})"
                )),
                _ => Ok(()),
            }
        }
        Delivery::Email => {
            if body.len() > 100 * 1024 {
                return Err(format!(
                    "body: an email body is at most 100 KB (this one {} bytes)",
                    body.len()
                ));
            }
            match subject.map(|s| s.chars().count()) {
                Some(n) if n > 256 => {
                    Err(format!("subject: at most 256 characters (this one {n})"))
                }
                _ => Ok(()),
            }
        }
        Delivery::Voice if chars > 1024 => Err(format!(
            "body: a voice message is at most 1024 characters (this one {chars})"
        )),
        Delivery::Push if chars > 400 => Err(format!(
            "body: a push body is at most 400 characters (this one {chars})"
        )),
        Delivery::Push if title.is_some_and(|t| t.chars().count() > 50) => {
            Err("title: a push title is at most 50 characters".to_owned())
        }
        _ => Ok(()),
    }
}

/// A value the server supplies: `OTP`, and the user's `user.id`, `user.username`,
/// `user.email`, `user.name.given`, `user.name.family`.
fn builtin(name: &str, otp: &str, user: Option<&UserRecord>) -> Option<String> {
    if name == OTP {
        return Some(otp.to_owned());
    }
    let u = user?;
    match name {
        "user.id" => Some(u.id.clone()),
        "user.username" => Some(u.username.clone()),
        "user.email" => u.email.clone(),
        "user.name.given" => u.given_name.clone(),
        "user.name.family" => u.family_name.clone(),
        _ => None,
    }
}

/// A variable's text: strings as they are, numbers and booleans as JSON writes them, objects
/// and arrays as compact JSON; `null` counts as missing.
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Checks before a flow starts that every content the template may use has all its variables,
/// so a bad `pi.template` is refused at the authorize request.
pub fn check(
    templates: &[TemplateRecord],
    name: &str,
    variant: Option<&str>,
    variables: &Map<String, Value>,
) -> Result<(), TemplateError> {
    for t in candidates(templates, name, variant)? {
        for p in placeholders(&t.body)? {
            let supplied =
                p == OTP || p.starts_with("user.") || variables.get(p).and_then(text_of).is_some();
            if !supplied {
                return Err(TemplateError::MissingVariable {
                    name: name.to_owned(),
                    variant: variant.map(str::to_owned),
                    variable: p.to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// A rendered notification: its text, and an email's subject or a push's title.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rendered {
    pub body: String,
    pub subject: Option<String>,
    pub title: Option<String>,
    /// The locale of the content used, if it has one.
    pub locale: Option<String>,
}

/// Renders the message for a device: the named template (with the request's variables), or
/// without one the `strong_authentication` template if configured, else [`DEFAULT_BODY`];
/// `locales` (the request's `ui_locales`) choose among its languages.
pub fn message(
    templates: &[TemplateRecord],
    requested: Option<(&str, Option<&str>, &Map<String, Value>)>,
    delivery: Delivery,
    otp: &str,
    user: Option<&UserRecord>,
    locales: &[&str],
) -> Result<Rendered, TemplateError> {
    let empty = Map::new();
    let (name, variant, variables, chosen) = match requested {
        Some((name, variant, vars)) => {
            let t = select(templates, name, variant, delivery, locales)?;
            (name, variant, vars, Some(t))
        }
        None => match select(templates, STRONG_AUTHENTICATION, None, delivery, locales) {
            Ok(t) => (STRONG_AUTHENTICATION, None, &empty, Some(t)),
            Err(_) => (STRONG_AUTHENTICATION, None, &empty, None),
        },
    };
    let fill = |text: &str| {
        render(text, |p| {
            builtin(p, otp, user).or_else(|| variables.get(p).and_then(text_of))
        })
        .map_err(|variable| TemplateError::MissingVariable {
            name: name.to_owned(),
            variant: variant.map(str::to_owned),
            variable,
        })
    };
    let Some(t) = chosen else {
        return Ok(Rendered {
            body: fill(DEFAULT_BODY)?,
            ..Rendered::default()
        });
    };
    Ok(Rendered {
        body: fill(&t.body)?,
        subject: t.subject.as_deref().map(fill).transpose()?,
        title: t.title.as_deref().map(fill).transpose()?,
        locale: t.locale.clone(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const SEED: &str =
        "Approve this transfer of ${sum} ${currency} to ${recipient}, by entering this OTP: ${OTP}";

    #[test]
    fn rendering_keeps_text_around_placeholders() {
        assert_eq!(render("é${a}ü", |_| Some("x".into())).unwrap(), "éxü");
    }

    fn t(name: &str, variant: Option<&str>, delivery: Delivery, body: &str) -> TemplateRecord {
        TemplateRecord {
            name: name.into(),
            variant: variant.map(Into::into),
            delivery,
            locale: None,
            body: body.into(),
            subject: None,
            title: None,
        }
    }

    fn templates() -> Vec<TemplateRecord> {
        vec![
            t("transaction", None, Delivery::Sms, SEED),
            t(
                "transaction",
                Some("high-value"),
                Delivery::Sms,
                "HIGH VALUE: ${sum} ${currency}. OTP ${OTP}",
            ),
            t(
                "transaction",
                None,
                Delivery::Push,
                "Approve ${sum} ${currency} to ${recipient}?",
            ),
        ]
    }

    fn seed_vars() -> Map<String, Value> {
        json!({"sum": "1,000,000", "currency": "USD", "recipient": "Charlie Parker"})
            .as_object()
            .cloned()
            .unwrap()
    }

    #[test]
    fn the_seed_message_renders() {
        let m = message(
            &templates(),
            Some(("transaction", None, &seed_vars())),
            Delivery::Sms,
            "123456",
            None,
            &[],
        );
        assert_eq!(
            m.unwrap().body,
            "Approve this transfer of 1,000,000 USD to Charlie Parker, by entering this OTP: 123456"
        );
        let push = message(
            &templates(),
            Some(("transaction", None, &seed_vars())),
            Delivery::Push,
            "1",
            None,
            &[],
        );
        assert_eq!(
            push.unwrap().body,
            "Approve 1,000,000 USD to Charlie Parker?"
        );
        // Email has no content of its own: the first content of the variant is used.
        let email = message(
            &templates(),
            Some(("transaction", Some("HIGH-VALUE"), &seed_vars())),
            Delivery::Email,
            "654321",
            None,
            &[],
        );
        assert_eq!(email.unwrap().body, "HIGH VALUE: 1,000,000 USD. OTP 654321");
    }

    #[test]
    fn a_client_cannot_set_the_otp() {
        let mut vars = seed_vars();
        vars.insert("OTP".into(), "000000".into());
        let m = message(
            &templates(),
            Some(("transaction", None, &vars)),
            Delivery::Sms,
            "987654",
            None,
            &[],
        );
        assert!(m.unwrap().body.ends_with("OTP: 987654"));
    }

    #[test]
    fn unknown_names_variants_and_missing_variables_are_named() {
        let ts = templates();
        assert_eq!(
            check(&ts, "wire", None, &seed_vars())
                .unwrap_err()
                .to_string(),
            "unknown template \"wire\" (no such template is configured)"
        );
        assert_eq!(
            check(&ts, "transaction", Some("low"), &seed_vars())
                .unwrap_err()
                .to_string(),
            "template \"transaction\" has no variant \"low\" (configured: \"high-value\")"
        );
        let mut vars = seed_vars();
        vars.remove("recipient");
        assert_eq!(
            check(&ts, "transaction", None, &vars).unwrap_err().to_string(),
            "template \"transaction\" uses ${recipient}, which pi.template.variables does not supply"
        );
        vars.insert("recipient".into(), Value::Null);
        assert!(check(&ts, "transaction", None, &vars).is_err());
        assert!(check(&ts, "transaction", Some("high-value"), &seed_vars()).is_ok());
        let only_variants = vec![t("x", Some("a"), Delivery::Sms, "${OTP}")];
        assert!(matches!(
            check(&only_variants, "x", None, &Map::new()),
            Err(TemplateError::NoDefault { .. })
        ));
    }

    #[test]
    fn defaults_and_builtins() {
        let m = message(&[], None, Delivery::Sms, "111111", None, &[]).unwrap();
        assert_eq!(m.body, "Your passcode is 111111");
        let strong = vec![t(
            STRONG_AUTHENTICATION,
            None,
            Delivery::Email,
            "Hi ${user.name.given}, code ${OTP}",
        )];
        let user = UserRecord {
            id: "u".into(),
            username: "c".into(),
            given_name: Some("Charlie".into()),
            family_name: None,
            email: None,
            password: None,
            devices: vec![],
            password_status: Default::default(),
            verified: true,
        };
        let m = message(&strong, None, Delivery::Sms, "222222", Some(&user), &[]).unwrap();
        assert_eq!(m.body, "Hi Charlie, code 222222");
        let vars = json!({"n": 5, "ok": true}).as_object().cloned().unwrap();
        assert_eq!(
            render("${n}/${ok}", |p| vars.get(p).and_then(text_of)).unwrap(),
            "5/true"
        );
    }
}
