//! The command line that makes the same token as a form in the browser tools: a shell-quoted
//! `signet login-hint …` or `signet request-object …`. Secrets never appear in it; the command
//! reads them from an environment variable (`--secret env:CLIENT_SECRET`) or a key file.

use serde_json::{Map, Value};

use crate::ui::api::{LoginHintRequest, RequestObjectRequest, SigningMethod};

/// The variable the printed command reads the client secret from.
pub const SECRET_VAR: &str = "CLIENT_SECRET";
/// The file name the printed command reads a pasted RSA key from.
pub const KEY_FILE: &str = "app-key.pem";

/// A command line and what to do before running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub line: String,
    pub env: Option<String>,
}

/// Quotes a word for a POSIX shell: bare when it is plainly safe, otherwise in single quotes.
pub fn quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if safe {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Words of a command line, each flag with its value.
#[derive(Default)]
struct Words(Vec<String>);

impl Words {
    fn new(sub: &str) -> Words {
        Words(vec!["signet".into(), sub.into()])
    }

    /// `--flag value`, or `--flag=value` when the value starts with `-` (it would read as a
    /// flag otherwise).
    fn flag(&mut self, flag: &str, value: &str) {
        if value.starts_with('-') {
            self.0.push(quote(&format!("{flag}={value}")));
        } else {
            self.0.push(flag.to_owned());
            self.0.push(quote(value));
        }
    }

    fn switch(&mut self, flag: &str) {
        self.0.push(flag.to_owned());
    }

    fn line(self) -> String {
        self.0.join(" ")
    }
}

fn secret_note() -> Option<String> {
    Some(format!(
        "The command reads the secret from ${SECRET_VAR}; set it first, e.g. read -rs {SECRET_VAR} && export {SECRET_VAR}"
    ))
}

/// `signet login-hint` with the form's values.
pub fn login_hint(r: &LoginHintRequest) -> Command {
    let mut w = Words::new("login-hint");
    w.flag("--env", r.env.trim());
    w.flag("--region", &r.region);
    w.flag("--client-id", r.client_id.trim());
    w.flag("--secret", &format!("env:{SECRET_VAR}"));
    w.flag("--user", r.user.trim());
    w.flag("--alg", &r.alg);
    w.flag("--expires-in", &r.expires_in);
    Command {
        line: w.line(),
        env: secret_note(),
    }
}

/// The rows the API reads (blank ones skipped, keys trimmed).
fn rows(rows: &[(String, String)]) -> Vec<(&str, &str)> {
    crate::ui::api::filled_rows(rows)
        .map(|(_, k, v)| (k, v))
        .collect()
}

/// The rows as a JSON object, values typed like `--var`.
fn rows_json(rows: &[(&str, &str)]) -> String {
    let m: Map<String, Value> = rows
        .iter()
        .map(|(k, v)| ((*k).to_owned(), crate::input::json_or_string(v)))
        .collect();
    Value::Object(m).to_string()
}

/// `signet request-object` with the form's values. Rows become `--var k=v` / `--context k=v`
/// unless a key cannot be written that way (it contains `=`, or a context key starts like
/// JSON), in which case the rows go as one JSON object.
pub fn request_object(r: &RequestObjectRequest) -> Command {
    let mut w = Words::new("request-object");
    w.flag("--env", r.env.trim());
    w.flag("--region", &r.region);
    w.flag("--client-id", r.client_id.trim());
    let env = match r.signing {
        SigningMethod::Secret => {
            w.flag("--secret", &format!("env:{SECRET_VAR}"));
            secret_note()
        }
        SigningMethod::Key => {
            w.flag("--key", KEY_FILE);
            Some(format!(
                "The command reads the application's key from {KEY_FILE}; save the key there first"
            ))
        }
        SigningMethod::Unsigned => {
            w.switch("--unsigned");
            None
        }
    };
    if !r.alg.trim().is_empty() {
        w.flag("--alg", r.alg.trim());
    }
    let template = r.template.trim();
    if !template.is_empty() {
        w.flag("--template", template);
        if !r.variant.trim().is_empty() {
            w.flag("--variant", r.variant.trim());
        }
        let vars = rows(&r.variables);
        if vars.iter().any(|(k, _)| k.contains('=')) {
            w.flag("--variables", &rows_json(&vars));
        } else {
            for (k, v) in vars {
                w.flag("--var", &format!("{k}={v}"));
            }
        }
    }
    let context = rows(&r.client_context);
    if context
        .iter()
        .any(|(k, _)| k.contains('=') || k.starts_with(['{', '[']))
    {
        w.flag("--context", &rows_json(&context));
    } else {
        for (k, v) in context {
            w.flag("--context", &format!("{k}={v}"));
        }
    }
    if !r.remote_ip.trim().is_empty() {
        w.flag("--remote-ip", r.remote_ip.trim());
    }
    if !r.sub.trim().is_empty() {
        w.flag("--sub", r.sub.trim());
    }
    w.flag("--expires-in", &r.expires_in);
    Command {
        line: w.line(),
        env,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_is_bare_only_when_safe() {
        assert_eq!(quote("HS256"), "HS256");
        assert_eq!(quote("sum=1,000,000"), "sum=1,000,000");
        assert_eq!(
            quote("recipient=Charlie Parker"),
            "'recipient=Charlie Parker'"
        );
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$HOME"), "'$HOME'");
        assert_eq!(quote("a\nb"), "'a\nb'");
    }

    fn ro() -> RequestObjectRequest {
        RequestObjectRequest {
            sub: "-x".into(),
            ..crate::ui::api::transaction_request("never printed")
        }
    }

    #[test]
    fn request_object_command_keeps_secrets_out_and_rows_in_order() {
        let c = request_object(&ro());
        assert_eq!(
            c.line,
            "signet request-object --env env-1 --region na --client-id app-1 --secret env:CLIENT_SECRET \
             --template transaction --var sum=1,000,000 --var 'recipient=Charlie Parker' \
             --context alert.color=red --sub=-x --expires-in 300"
        );
        assert!(!c.line.contains("never printed"));
        let odd = RequestObjectRequest {
            variables: vec![("a=b".into(), "1".into())],
            client_context: vec![("{k".into(), "v".into())],
            signing: SigningMethod::Unsigned,
            sub: String::new(),
            ..ro()
        };
        let c = request_object(&odd);
        assert!(c.line.contains(r#"--variables '{"a=b":1}'"#), "{}", c.line);
        assert!(c.line.contains(r#"--context '{"{k":"v"}'"#), "{}", c.line);
        assert!(c.line.contains("--unsigned"), "{}", c.line);
        assert_eq!(c.env, None);
    }
}
