//! `signet decode`: show a token's header, payload and signature without verifying it.

use clap::Args;
use serde_json::{json, Map, Value};

use crate::color::{Palette, Role};
use crate::exit::{token_error, Outcome};
use crate::input;

#[derive(Args, Debug)]
pub struct DecodeArgs {
    /// The token, or - (default) to read it from standard input
    pub token: Option<String>,
    /// Print JSON {header, payload, signature, verified:false}; `signet sign --claims @file`
    /// accepts it back
    #[arg(long)]
    pub json: bool,
}

const TIME_CLAIMS: [&str; 3] = ["iat", "nbf", "exp"];

/// Human-readable note for a NumericDate claim: `2026-11-24T10:00:00Z (expired 3 h ago)`.
pub fn describe_time(name: &str, value: &Value, now: i64) -> Option<String> {
    let secs = value.as_f64()?;
    let date = jose::time::rfc3339(secs)?;
    let ago = jose::time::Ago::between(secs, now);
    let rel = match (name, ago.seconds >= 0.0) {
        ("exp", true) => format!("expired {ago}"),
        ("exp", false) => format!("expires {ago}"),
        ("nbf", false) => format!("not valid yet: valid {ago}"),
        _ => ago.to_string(),
    };
    Some(format!("{date} ({rel})"))
}

/// What a reader should know about a header member, if anything.
pub fn header_note(name: &str, value: &Value) -> Option<&'static str> {
    match (name, value) {
        ("alg", Value::String(a)) if a.eq_ignore_ascii_case("none") => {
            Some("unsecured: no signature at all")
        }
        ("jwk" | "jku" | "x5u" | "x5c", _) => Some("never used as a key by Signet"),
        _ => None,
    }
}

/// The JSON view of a decoded token: `{header, payload | payload_text | payload_b64, signature,
/// verified: false, dates?}`. `decode --json` prints it and `signet ui` shows it.
pub fn json_view(compact: &jose::jws::Compact<'_>, now: i64) -> Map<String, Value> {
    let payload_json: Option<Map<String, Value>> =
        jose::json::parse_object(&compact.payload, jose::Part::Payload).ok();
    let mut out = Map::new();
    out.insert("header".into(), Value::Object(compact.header.clone()));
    match &payload_json {
        Some(p) => out.insert("payload".into(), Value::Object(p.clone())),
        None => match std::str::from_utf8(&compact.payload) {
            Ok(text) => out.insert("payload_text".into(), text.into()),
            Err(_) => out.insert("payload_b64".into(), compact.payload_b64.into()),
        },
    };
    out.insert("signature".into(), compact.signature_b64.into());
    out.insert("verified".into(), false.into());
    if let Some(p) = &payload_json {
        let dates: Map<String, Value> = TIME_CLAIMS
            .iter()
            .filter_map(|n| {
                p.get(*n)
                    .and_then(|v| describe_time(n, v, now))
                    .map(|d| ((*n).to_owned(), json!(d)))
            })
            .collect();
        if !dates.is_empty() {
            out.insert("dates".into(), Value::Object(dates));
        }
    }
    out
}

pub fn run(a: &DecodeArgs) -> Outcome {
    let token = input::token(a.token.as_deref())?;
    let compact = jose::jws::decode(&token).map_err(token_error)?;
    let now = crate::clock::now();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&Value::Object(json_view(&compact, now)))
                .unwrap_or_default()
        );
        return Ok(());
    }
    print!("{}", text_view(&compact, now, crate::color::stdout()));
    Ok(())
}

/// The text view `decode` prints: header, payload (dates explained) and signature, each in its
/// colour when `c` is on (the browser decoder's colours); the same bytes as ever when it is off.
fn text_view(compact: &jose::jws::Compact<'_>, now: i64, c: Palette) -> String {
    let payload_json: Option<Map<String, Value>> =
        jose::json::parse_object(&compact.payload, jose::Part::Payload).ok();
    let mut text = format!("{}\n", c.paint(Role::Header, "Header"));
    for (k, v) in &compact.header {
        let note = header_note(k, v)
            .map(|n| format!("  {}", c.paint(Role::Warning, &format!("<- {n}"))))
            .unwrap_or_default();
        text.push_str(&format!(
            "  {}: {}{note}\n",
            c.paint(Role::Header, k),
            compact_json(v)
        ));
    }
    text.push_str(&format!("{}\n", c.paint(Role::Payload, "Payload")));
    match &payload_json {
        Some(p) => {
            for (k, v) in p {
                let date = if TIME_CLAIMS.contains(&k.as_str()) {
                    describe_time(k, v, now)
                        .map(|d| format!("  {}", c.paint(Role::Dim, &format!("= {d}"))))
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                text.push_str(&format!(
                    "  {}: {}{date}\n",
                    c.paint(Role::Payload, k),
                    compact_json(v)
                ));
            }
        }
        None => match std::str::from_utf8(&compact.payload) {
            Ok(t) => text.push_str(&format!(
                "  (not a JSON object; {} bytes of text)\n  {t}\n",
                compact.payload.len()
            )),
            Err(_) => text.push_str(&format!(
                "  (binary, {} bytes; base64url)\n  {}\n",
                compact.payload.len(),
                compact.payload_b64
            )),
        },
    }
    let signature = if compact.signature_b64.is_empty() {
        "(empty)"
    } else {
        compact.signature_b64
    };
    text.push_str(&format!(
        "{}\n  {} ({} bytes)\n\n{}: this shows what the token says, not that it is genuine (use `signet verify`)\n",
        c.paint(Role::Signature, "Signature"),
        c.paint(Role::Signature, signature),
        compact.signature.len(),
        c.paint(Role::Warning, "signature NOT verified"),
    ));
    text
}

fn compact_json(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_say_how_far_and_which_way() {
        let at = |name, v: i64| describe_time(name, &Value::from(v), 10_000);
        assert_eq!(
            at("exp", 10_000 - 3 * 3600).as_deref(),
            Some("1969-12-31T23:46:40Z (expired 3 h ago)")
        );
        assert!(at("exp", 10_000 - 3 * 3600)
            .unwrap_or_default()
            .ends_with("(expired 3 h ago)"));
        assert!(at("exp", 10_000 + 120)
            .unwrap_or_default()
            .ends_with("(expires in 2 min)"));
        assert!(at("nbf", 10_000 + 120)
            .unwrap_or_default()
            .ends_with("(not valid yet: valid in 2 min)"));
        assert!(at("iat", 10_000 - 45)
            .unwrap_or_default()
            .ends_with("(45 s ago)"));
        assert_eq!(describe_time("exp", &Value::from("soon"), 0), None);
    }
}
