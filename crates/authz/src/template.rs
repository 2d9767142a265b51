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

/// The content for a delivery: the one configured for it, else any content of that name and
/// variant (a template written for SMS still reaches an email device).
pub fn select<'t>(
    templates: &'t [TemplateRecord],
    name: &str,
    variant: Option<&str>,
    delivery: Delivery,
) -> Result<&'t TemplateRecord, TemplateError> {
    let c = candidates(templates, name, variant)?;
    c.iter()
        .find(|t| t.delivery == delivery)
        .or_else(|| c.first())
        .copied()
        .ok_or_else(|| TemplateError::Unknown(name.to_owned()))
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
fn text(v: &Value) -> Option<String> {
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
                p == OTP || p.starts_with("user.") || variables.get(p).and_then(text).is_some();
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

/// Renders the message for a device: the named template (with the request's variables), or
/// without one the `strong_authentication` template if configured, else [`DEFAULT_BODY`].
pub fn message(
    templates: &[TemplateRecord],
    requested: Option<(&str, Option<&str>, &Map<String, Value>)>,
    delivery: Delivery,
    otp: &str,
    user: Option<&UserRecord>,
) -> Result<String, TemplateError> {
    let empty = Map::new();
    let (name, variant, variables, body) = match requested {
        Some((name, variant, vars)) => {
            let t = select(templates, name, variant, delivery)?;
            (name, variant, vars, t.body.as_str())
        }
        None => match select(templates, STRONG_AUTHENTICATION, None, delivery) {
            Ok(t) => (STRONG_AUTHENTICATION, None, &empty, t.body.as_str()),
            Err(_) => (STRONG_AUTHENTICATION, None, &empty, DEFAULT_BODY),
        },
    };
    render(body, |p| {
        builtin(p, otp, user).or_else(|| variables.get(p).and_then(text))
    })
    .map_err(|variable| TemplateError::MissingVariable {
        name: name.to_owned(),
        variant: variant.map(str::to_owned),
        variable,
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
            body: body.into(),
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
        );
        assert_eq!(
            m.unwrap(),
            "Approve this transfer of 1,000,000 USD to Charlie Parker, by entering this OTP: 123456"
        );
        let push = message(
            &templates(),
            Some(("transaction", None, &seed_vars())),
            Delivery::Push,
            "1",
            None,
        );
        assert_eq!(push.unwrap(), "Approve 1,000,000 USD to Charlie Parker?");
        // Email has no content of its own: the first content of the variant is used.
        let email = message(
            &templates(),
            Some(("transaction", Some("HIGH-VALUE"), &seed_vars())),
            Delivery::Email,
            "654321",
            None,
        );
        assert_eq!(email.unwrap(), "HIGH VALUE: 1,000,000 USD. OTP 654321");
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
        );
        assert!(m.unwrap().ends_with("OTP: 987654"));
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
        let m = message(&[], None, Delivery::Sms, "111111", None).unwrap();
        assert_eq!(m, "Your passcode is 111111");
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
        let m = message(&strong, None, Delivery::Sms, "222222", Some(&user)).unwrap();
        assert_eq!(m, "Hi Charlie, code 222222");
        let vars = json!({"n": 5, "ok": true}).as_object().cloned().unwrap();
        assert_eq!(
            render("${n}/${ok}", |p| vars.get(p).and_then(text)).unwrap(),
            "5/true"
        );
    }
}
