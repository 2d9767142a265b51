//! `signet jwtgen`: a byte-for-byte drop-in replacement for the npm tool `jwtgen` 2.2.0.
//!
//! Everything jwtgen prints is reproduced from a model of what produces it: yargs 8 /
//! yargs-parser 7 argument parsing and validation ([`args`]), V8's `JSON.parse` with its error
//! messages ([`json`]), and JavaScript values, property order, number formatting and
//! `JSON.stringify` ([`js`]). The oracle is `tests/fixtures/jwtgen/cases.json`, recorded from
//! the real tool; its README documents the observed behaviour.
//!
//! Decisions where Signet deliberately differs from jwtgen:
//!
//! - **Crashes become errors.** Where jwtgen dies with a Node stack trace (repeated `-a`, `-s`
//!   or `-p`; a missing, unreadable, public or non-key `-p` file; a header named
//!   `hasOwnProperty`; JSON nested too deeply for `JSON.stringify`; an option named like an
//!   `Object.prototype` member), Signet prints the usage text and a one-line message naming
//!   the problem, and exits 1, like jwtgen's handled errors. stdout stays empty, as in jwtgen.
//! - **More algorithms, only with a key file.** jwtgen accepts `-a` HS256, HS384, HS512 and
//!   RS256 and rejects anything else with "Invalid values" (e.g. `-a ES256 -s secret`). Signet
//!   additionally accepts RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, ES256K and
//!   EdDSA, but only when `-a` is given once and `-p` names a key file: every command line
//!   without `-p` behaves identically, and the usage text and "Invalid values" message keep
//!   jwtgen's four choices. Such an algorithm is otherwise treated like RS256.
//! - **Key files** are read with `jose::Key::parse` (PEM, DER or JWK). jwtgen (Node's
//!   `crypto.createSign`) takes PEM only, and for RS256 even signs with an EC key (producing a
//!   DER ECDSA signature labelled RS256); Signet refuses a key that does not fit the algorithm.
//! - **Locale and terminal width.** yargs translates its messages per the OS locale and wraps
//!   help at the terminal width; Signet always prints the English, 80-column text.
//! - **Stack depth.** Node's `JSON.stringify` overflows somewhere past 4178 levels of nesting
//!   depending on the shape; Signet errors above 4179 levels.

// Explicit paths (the same files `mod args;` would find): the fuzz target `jwtgen_args`
// compiles this file into its own crate, where the default module paths would differ.
#[path = "jwtgen/args.rs"]
mod args;
#[path = "jwtgen/js.rs"]
mod js;
#[path = "jwtgen/json.rs"]
mod json;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use js::{js, lossy, to_js_string, to_number, trim, truthy, JsStr, Obj, Val};

/// jwtgen's options as yargs lists them: key, switches, description, hints.
const OPTIONS: [(&str, &str, &str, &str); 11] = [
    (
        "a",
        "-a, --algorithm",
        "algorithm",
        "[required] [choices: \"HS256\", \"HS384\", \"HS512\", \"RS256\"]",
    ),
    (
        "s",
        "-s, --secret",
        "secret value for HMAC algorithm",
        "[string]",
    ),
    (
        "p",
        "-p, --private",
        "private key file (required for RS256 algorithm)",
        "[string]",
    ),
    (
        "c",
        "-c, --claim",
        "claim in the form [key=value]",
        "[string]",
    ),
    (
        "claims",
        "--claims",
        "JSON string containing claims",
        "[string]",
    ),
    (
        "h",
        "-h, --header",
        "header in the form [key=value]",
        "[string]",
    ),
    (
        "headers",
        "--headers",
        "JSON string containing additional headers",
        "[string]",
    ),
    (
        "i",
        "-i, --iat",
        "issued at (iat) in seconds from the UNIX epoch",
        "[default: now]",
    ),
    (
        "e",
        "-e, --exp",
        "expiry date in seconds from issued at (iat) time",
        "",
    ),
    ("v", "-v, --verbose", "verbose output", "[boolean]"),
    ("help", "--help", "Show help", "[boolean]"),
];

/// The help width: yargs wraps at `min(80, columns)`; Signet always uses 80.
const WIDTH: usize = 80;

/// yargs' help text as `--help` prints it (with console.log's final newline), laid out as
/// cliui 3 does at 80 columns. Options whose name was created as a camel-case alias while
/// parsing (`--help-` creates `help`) are left out, as yargs does; `None` where yargs would
/// throw instead (such a name is an `Object.prototype` member).
fn usage(hidden: &[JsStr]) -> Option<String> {
    if hidden.iter().any(|k| args::is_proto_name(k)) {
        return None;
    }
    let rows: Vec<_> = OPTIONS
        .iter()
        .filter(|(k, ..)| !hidden.iter().any(|h| *h == js(k)))
        .collect();
    let mut text = String::from("Usage: jwtgen [options]\n\n");
    if rows.is_empty() {
        return Some(text);
    }
    text.push_str("Options:\n");
    let width = rows
        .iter()
        .map(|(_, switches, ..)| switches.chars().count())
        .max()
        .unwrap_or(0)
        .min(WIDTH / 2);
    for (_, switches, desc, hints) in rows {
        let line = format!("  {switches:<width$}  {desc}");
        let line = line.trim_end();
        let column = WIDTH - hints.chars().count();
        if hints.is_empty() {
            text.push_str(line);
        } else if column >= line.chars().count() {
            text.push_str(&format!("{line:<column$}{hints}"));
        } else {
            text.push_str(&format!("{line}\n{:>WIDTH$}", hints));
        }
        text.push('\n');
    }
    text.push('\n');
    Some(text)
}

/// Algorithms Signet accepts beyond jwtgen's four, when `-p` gives a key file.
const EXTRA_ALGORITHMS: [&str; 10] = [
    "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "ES256K", "EdDSA",
];

/// `2016-01-01T00:00:00Z`: jwt-builder treats smaller `-i` values as offsets from now.
const JAN_1_2016: f64 = 1_451_606_400.0;

/// Entry point wired from `main.rs`: `args` are the arguments after the program or
/// subcommand name. Non-UTF-8 arguments are decoded lossily, as Node does.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    let code = run(&args, crate::clock::now(), &mut out, &mut err);
    let _ = out.flush();
    let _ = err.flush();
    ExitCode::from(code)
}

/// Runs jwtgen with `now` as the clock (Unix seconds), writing as jwtgen would; returns the
/// exit code.
pub fn run(args: &[String], now: i64, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let (result, hidden) = generate(args, now as f64);
    match result {
        Ok(text) => {
            let _ = out.write_all(text.as_bytes());
            0
        }
        Err(message) => {
            let (help, message) = match usage(&hidden) {
                Some(help) => (help, message),
                None => (
                    usage(&[]).unwrap_or_default(),
                    "cannot show the usage: an option name given is a JavaScript object \
                     property name"
                        .to_owned(),
                ),
            };
            let _ = err.write_all(help.as_bytes());
            let _ = writeln!(err, "{message}");
            1
        }
    }
}

fn key(k: &str) -> JsStr {
    js(k)
}

/// Everything jwtgen prints on stdout, or the message it prints after the usage on stderr;
/// with the options the usage text leaves out.
fn generate(args: &[String], now: f64) -> (Result<String, String>, Vec<JsStr>) {
    let raw: Vec<JsStr> = args.iter().map(|a| js(a)).collect();
    // Signet's extension: one `-a` naming an extra algorithm, with `-p` naming a file.
    let accept = |v: &Val, argv: &Obj| {
        let extra = matches!(v, Val::Str(s) if EXTRA_ALGORITHMS.iter().any(|a| js(a) == *s));
        let single = !matches!(argv.get(&key("a")), Some(Val::Arr(_)));
        let file = matches!(argv.get(&key("p")), Some(Val::Str(p)) if !p.is_empty());
        extra && single && file
    };
    match args::yargs(&raw, now, &accept) {
        Err(args::Crash(message)) => (Err(message), Vec::new()),
        Ok((outcome, hidden)) => {
            let result = match outcome {
                args::Outcome::Help => usage(&hidden).ok_or_else(|| {
                    "cannot show the usage: an option name given is a JavaScript object \
                     property name"
                        .to_owned()
                }),
                args::Outcome::Completions(list) => {
                    Ok(list.iter().map(|l| format!("{l}\n")).collect())
                }
                args::Outcome::Fail(message) => Err(message),
                args::Outcome::Run(argv) => build(&argv, now),
            };
            (result, hidden)
        }
    }
}

/// The prototype `Object.assign({}, value)` ends up with, which matters only for jwt-simple's
/// `source.hasOwnProperty(attr)` call on the headers.
enum Proto {
    Default,
    Null,
    Object(Obj),
}

/// An object built by `Object.assign({}, value)`.
struct Assigned {
    own: Obj,
    proto: Proto,
}

impl Assigned {
    fn empty() -> Assigned {
        Assigned {
            own: Obj::new(),
            proto: Proto::Default,
        }
    }

    /// `obj[key] = value` on a plain object: `__proto__` is the prototype accessor.
    fn put(&mut self, key: JsStr, value: Val) {
        if key != js("__proto__") {
            self.own.set(key, value);
            return;
        }
        match value {
            Val::Obj(o) => self.proto = Proto::Object(o),
            Val::Null => self.proto = Proto::Null,
            Val::Arr(_) | Val::TooDeep => self.proto = Proto::Default,
            _ => {}
        }
    }

    /// `Object.assign({}, value)`.
    fn from(value: Val) -> Assigned {
        let mut out = Assigned::empty();
        match value {
            Val::Obj(o) => {
                for (k, v) in o.into_entries() {
                    out.put(k, v);
                }
            }
            Val::Arr(items) => {
                for (i, v) in items.into_iter().enumerate() {
                    out.put(js(&i.to_string()), v);
                }
            }
            Val::Str(s) => {
                for (i, unit) in s.into_iter().enumerate() {
                    out.put(js(&i.to_string()), Val::Str(vec![unit]));
                }
            }
            _ => {}
        }
        out
    }

    /// Whether jwt-simple's `for (attr in source) if (source.hasOwnProperty(attr))` throws.
    fn breaks_has_own_property(&self) -> bool {
        let name = js("hasOwnProperty");
        self.own.contains(&name)
            || match &self.proto {
                Proto::Default => false,
                Proto::Null => !self.own.is_empty(),
                Proto::Object(p) => p.contains(&name),
            }
    }
}

/// The values of a repeatable option: an array's items, a truthy value alone, else none.
fn list(v: Option<&Val>) -> Vec<Val> {
    match v {
        Some(Val::Arr(items)) => items.clone(),
        Some(v) if truthy(v) => vec![v.clone()],
        _ => Vec::new(),
    }
}

/// `JSON.parse(String(v))`.
fn parse_json_option(v: &Val) -> Result<Val, String> {
    json::parse(&to_js_string(v))
}

fn split_pair(s: &[u16]) -> Option<(&[u16], &[u16])> {
    let mut parts = s.split(|&c| c == u16::from(b'='));
    match (parts.next(), parts.next(), parts.next()) {
        (Some(k), Some(v), None) => Some((trim(k), trim(v))),
        _ => None,
    }
}

/// jwtgen's `buildHeaders`.
fn build_headers(argv: &Obj) -> Result<Assigned, String> {
    if let Some(h) = argv.get(&key("headers")).filter(|v| truthy(v)) {
        return Ok(Assigned::from(parse_json_option(h)?));
    }
    let mut headers = Assigned::empty();
    for header in list(argv.get(&key("h"))) {
        // lodash `_.split` stringifies non-strings.
        let text = to_js_string(&header);
        let Some((k, v)) = split_pair(&text) else {
            return Err(format!("invalid header: {}", lossy(&text)));
        };
        headers.put(k.to_vec(), Val::Str(v.to_vec()));
    }
    Ok(Assigned {
        own: headers.own,
        proto: Proto::Default,
    })
}

/// jwtgen's `buildClaims`, then `Object.assign({}, claims)`.
fn build_claims(argv: &Obj) -> Result<Obj, String> {
    if let Some(c) = argv.get(&key("claims")).filter(|v| truthy(v)) {
        return Ok(Assigned::from(parse_json_option(c)?).own);
    }
    let mut claims = Assigned::empty();
    for claim in list(argv.get(&key("c"))) {
        let Val::Str(text) = claim else {
            return Err("claim.split is not a function".into());
        };
        let Some((k, v)) = split_pair(&text) else {
            return Err(format!("invalid claim: {}", lossy(&text)));
        };
        let value = json::parse(v).unwrap_or_else(|_| Val::Str(v.to_vec()));
        claims.put(k.to_vec(), value);
    }
    Ok(claims.own)
}

/// jwt-builder's `iat`: `Math.floor(value)`, an offset from now below 2016, else absolute.
fn iat_value(v: Option<&Val>, now: f64) -> f64 {
    match v {
        None | Some(Val::Undef) => now,
        Some(v) => {
            let t = to_number(v).floor();
            if t < JAN_1_2016 {
                t + now
            } else {
                t
            }
        }
    }
}

fn too_deep(what: &str) -> String {
    format!("{what} JSON is nested too deeply to serialize")
}

/// The key material to sign with.
enum KeySource {
    Secret(Val),
    File { path: String, bytes: Vec<u8> },
}

/// The rest of jwtgen after yargs: build, sign, print.
fn build(argv: &Obj, now: f64) -> Result<String, String> {
    let headers = build_headers(argv)?;
    let claims = build_claims(argv)?;
    let iat = iat_value(argv.get(&key("i")), now);
    let exp = argv
        .get(&key("e"))
        .filter(|v| truthy(v))
        .map(|e| to_number(e).floor() + now);

    let alg = match argv.get(&key("a")) {
        Some(Val::Str(s)) => lossy(s),
        Some(other) => {
            return Err(format!(
                "-a/--algorithm given more than once: {}",
                lossy(&to_js_string(other))
            ))
        }
        None => return Err("Missing required argument: a".into()),
    };
    let hmac = matches!(alg.as_str(), "HS256" | "HS384" | "HS512");
    let source = if hmac {
        let secret = argv.get(&key("s")).cloned().unwrap_or(Val::Undef);
        if !truthy(&secret) {
            return Err("secret value missing".into());
        }
        KeySource::Secret(secret)
    } else {
        let path = argv.get(&key("p")).cloned().unwrap_or(Val::Undef);
        if !truthy(&path) {
            return Err("private key missing".into());
        }
        let Val::Str(path) = path else {
            return Err(match path {
                Val::Arr(_) => "-p/--private given more than once".into(),
                _ => "-p/--private must be a file name".into(),
            });
        };
        let path = lossy(&path);
        let bytes = std::fs::read(&path).map_err(|e| {
            let text = e.to_string();
            let text = match text.find(" (os error") {
                Some(i) => text.get(..i).unwrap_or(&text).to_owned(),
                None => text,
            };
            format!("cannot read private key file \"{path}\": {text}")
        })?;
        KeySource::File { path, bytes }
    };

    let mut header = Obj::new();
    header.set(key("typ"), Val::Str(key("JWT")));
    header.set(key("alg"), Val::Str(js(&alg)));
    if headers.breaks_has_own_property() {
        return Err(
            "cannot build the header: jwtgen fails on a header named \"hasOwnProperty\" \
             or a header prototype (\"__proto__\") that is null or has that name"
                .into(),
        );
    }
    for (k, v) in headers.own.into_entries() {
        header.set(k, v);
    }
    let mut payload = Obj::new();
    payload.set(key("iat"), Val::Num(iat));
    if let Some(exp) = exp {
        payload.set(key("exp"), Val::Num(exp));
    }
    for (k, v) in claims.into_entries() {
        payload.set(k, v);
    }
    let header = Val::Obj(header);
    let payload = Val::Obj(payload);
    let header_json = compact(&header).ok_or_else(|| too_deep("header"))?;
    let payload_json = compact(&payload).ok_or_else(|| too_deep("payload"))?;

    let algorithm: jose::Algorithm = alg
        .parse()
        .map_err(|e: jose::Error| format!("unsupported algorithm {alg}: {e}"))?;
    let signing_key = match source {
        KeySource::Secret(Val::Str(s)) => {
            jose::Key::hmac(lossy(&s).into_bytes()).map_err(|e| format!("invalid secret: {e}"))?
        }
        KeySource::Secret(Val::Arr(_)) => return Err("-s/--secret given more than once".into()),
        KeySource::Secret(_) => return Err("-s/--secret must be a string".into()),
        KeySource::File { path, bytes } => {
            let key = jose::Key::parse(&bytes).map_err(|e| {
                format!("private key file \"{path}\" is not a supported private key: {e}")
            })?;
            if !key.can_sign() {
                return Err(format!(
                    "private key file \"{path}\" holds a public key; signing needs the private key"
                ));
            }
            key.check_algorithm(algorithm)
                .map_err(|e| format!("private key file \"{path}\" cannot sign {alg}: {e}"))?;
            key
        }
    };
    let token = jose::jws::sign_exact(
        header_json.as_bytes(),
        payload_json.as_bytes(),
        &signing_key,
        algorithm,
    )
    .map_err(|e| format!("signing failed: {e}"))?;

    if !argv.get(&key("v")).is_some_and(truthy) {
        return Ok(format!("{token}\n"));
    }
    let claims_pretty = pretty(&payload).ok_or_else(|| too_deep("payload"))?;
    let header_pretty = pretty(&header).ok_or_else(|| too_deep("header"))?;
    Ok(format!(
        "algorithm: {alg}\n\nclaims: \n{claims_pretty}\n\nheaders: \n{header_pretty}\n\ntoken:\n{token}\n"
    ))
}

fn compact(v: &Val) -> Option<String> {
    js::stringify(v, 0).ok().flatten()
}

fn pretty(v: &Val) -> Option<String> {
    js::stringify(v, 2).ok().flatten()
}
