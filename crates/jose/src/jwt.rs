//! JWT claims (RFC 7519 §4.1) and their validation, one function with named options in the
//! manner of panva/jose: `exp`/`nbf` with leeway, `iss`, `aud`, `sub`, `typ`, required claims,
//! and type checks on every registered claim (a string `exp` is an error, not an absent one).

use serde_json::{Map, Value};

use crate::error::{Error, Part};
use crate::jws::{decode_segment_into, VerifiedParts, Verifier};
use crate::time::{self, Ago};

/// Default clock-skew allowance for `exp` and `nbf`, in seconds.
pub const DEFAULT_LEEWAY: u64 = 60;

/// What a JWT must satisfy besides its signature.
#[derive(Debug, Clone)]
pub struct Validation {
    pub leeway: u64,
    /// Fixed "now" (Unix seconds); the system clock when None.
    pub now: Option<i64>,
    pub check_exp: bool,
    pub check_nbf: bool,
    /// Accept only these issuers (any of them).
    pub issuers: Vec<String>,
    /// Accept only tokens whose `aud` contains one of these.
    pub audiences: Vec<String>,
    pub subject: Option<String>,
    /// Required header `typ` (compared case-insensitively, `application/` prefix ignored).
    pub typ: Option<String>,
    /// Claims that must be present.
    pub required: Vec<String>,
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            leeway: DEFAULT_LEEWAY,
            now: None,
            check_exp: true,
            check_nbf: true,
            issuers: Vec::new(),
            audiences: Vec::new(),
            subject: None,
            typ: None,
            required: Vec::new(),
        }
    }
}

/// A verified JWT: its header and claims.
#[derive(Debug, Clone)]
pub struct Jwt {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    pub alg: crate::Algorithm,
}

/// Reads a NumericDate claim: absent, or a JSON number (finite by construction).
pub fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, Error> {
    numeric_date_of(claims.get(name), name)
}

fn date_type(name: &str) -> Error {
    Error::ClaimType {
        claim: name.into(),
        expected: "a NumericDate (a JSON number of seconds since 1970)",
    }
}

/// `aud` as a list: a string or an array of strings (RFC 7519 §4.1.3).
pub fn audiences(claims: &Map<String, Value>) -> Result<Option<Vec<&str>>, Error> {
    let wrong = || Error::ClaimType {
        claim: "aud".into(),
        expected: "a string or an array of strings",
    };
    match claims.get("aud") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s.as_str()])),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().ok_or_else(wrong))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(wrong()),
    }
}

fn normalize_typ(t: &str) -> String {
    let lower = t.to_ascii_lowercase();
    lower
        .strip_prefix("application/")
        .map(str::to_owned)
        .unwrap_or(lower)
}

fn quoted_list(items: &[String]) -> String {
    let q: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    if q.len() == 1 {
        q.concat()
    } else {
        format!("one of {}", q.join(", "))
    }
}

/// The registered claims of a claims set, found in one pass over its members (member names are
/// unique: the strict parser refuses duplicates).
#[derive(Default)]
struct Registered<'c> {
    exp: Option<&'c Value>,
    nbf: Option<&'c Value>,
    iat: Option<&'c Value>,
    iss: Option<&'c Value>,
    sub: Option<&'c Value>,
    jti: Option<&'c Value>,
    aud: Option<&'c Value>,
}

impl<'c> Registered<'c> {
    fn of(claims: &'c Map<String, Value>) -> Registered<'c> {
        let mut r = Registered::default();
        for (name, value) in claims {
            let slot = match name.as_str() {
                "exp" => &mut r.exp,
                "nbf" => &mut r.nbf,
                "iat" => &mut r.iat,
                "iss" => &mut r.iss,
                "sub" => &mut r.sub,
                "jti" => &mut r.jti,
                "aud" => &mut r.aud,
                _ => continue,
            };
            *slot = Some(value);
        }
        r
    }
}

/// [`numeric_date`] on a member already looked up.
fn numeric_date_of(value: Option<&Value>, name: &str) -> Result<Option<f64>, Error> {
    match value {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or_else(|| date_type(name)),
        Some(_) => Err(date_type(name)),
    }
}

/// A string claim (absent, or a JSON string), on a member already looked up.
fn string_of<'c>(value: Option<&'c Value>, name: &str) -> Result<Option<&'c str>, Error> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::ClaimType {
            claim: name.into(),
            expected: "a string",
        }),
    }
}

/// `aud`, type-checked as [`audiences`] does, without collecting it.
enum Aud<'c> {
    One(&'c str),
    /// Every item is a string (checked).
    Many(&'c [Value]),
}

impl<'c> Aud<'c> {
    fn of(value: Option<&'c Value>) -> Result<Option<Aud<'c>>, Error> {
        let wrong = || Error::ClaimType {
            claim: "aud".into(),
            expected: "a string or an array of strings",
        };
        match value {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(Aud::One(s))),
            Some(Value::Array(items)) => {
                if items.iter().all(Value::is_string) {
                    Ok(Some(Aud::Many(items)))
                } else {
                    Err(wrong())
                }
            }
            Some(_) => Err(wrong()),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &'c str> + '_ {
        let (one, many): (Option<&'c str>, &'c [Value]) = match self {
            Aud::One(s) => (Some(*s), &[]),
            Aud::Many(items) => (None, items),
        };
        one.into_iter().chain(many.iter().filter_map(Value::as_str))
    }
}

/// Checks a claims set (and the header's `typ`) against `v`.
pub fn validate(
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    v: &Validation,
) -> Result<(), Error> {
    // Types of every registered claim, whether or not it is checked.
    let reg = Registered::of(claims);
    let exp = numeric_date_of(reg.exp, "exp")?;
    let nbf = numeric_date_of(reg.nbf, "nbf")?;
    numeric_date_of(reg.iat, "iat")?;
    let iss = string_of(reg.iss, "iss")?;
    let sub = string_of(reg.sub, "sub")?;
    string_of(reg.jti, "jti")?;
    let aud = Aud::of(reg.aud)?;

    for name in &v.required {
        if !claims.contains_key(name) {
            return Err(Error::MissingClaim(name.clone()));
        }
    }
    let now = v.now.unwrap_or_else(time::now);
    let leeway = v.leeway as f64;
    if v.check_exp {
        if let Some(exp) = exp {
            if now as f64 - leeway >= exp {
                return Err(Error::Expired {
                    exp,
                    now,
                    ago: Ago::between(exp, now),
                });
            }
        }
    }
    if v.check_nbf {
        if let Some(nbf) = nbf {
            if now as f64 + leeway < nbf {
                return Err(Error::NotYetValid {
                    nbf,
                    now,
                    ago: Ago::between(nbf, now),
                });
            }
        }
    }
    if !v.issuers.is_empty() {
        let iss = iss.ok_or_else(|| Error::MissingClaim("iss".into()))?;
        if !v.issuers.iter().any(|i| i == iss) {
            return Err(Error::WrongIssuer {
                expected: quoted_list(&v.issuers),
                found: iss.into(),
            });
        }
    }
    if !v.audiences.is_empty() {
        let aud = aud.ok_or_else(|| Error::MissingClaim("aud".into()))?;
        if !aud.iter().any(|a| v.audiences.iter().any(|want| want == a)) {
            let aud: Vec<&str> = aud.iter().collect();
            let found = match aud.as_slice() {
                [one] => format!("\"{one}\""),
                many => format!(
                    "[{}]",
                    many.iter()
                        .map(|a| format!("\"{a}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Err(Error::WrongAudience {
                expected: quoted_list(&v.audiences),
                found,
            });
        }
    }
    if let Some(want) = &v.subject {
        let sub = sub.ok_or_else(|| Error::MissingClaim("sub".into()))?;
        if sub != want {
            return Err(Error::WrongSubject {
                expected: want.clone(),
                found: sub.into(),
            });
        }
    }
    if let Some(want) = &v.typ {
        match header.get("typ") {
            None => {
                return Err(Error::MissingType {
                    expected: want.clone(),
                })
            }
            Some(Value::String(t)) if normalize_typ(t) == normalize_typ(want) => {}
            Some(Value::String(t)) => {
                return Err(Error::WrongType {
                    expected: want.clone(),
                    found: t.clone(),
                })
            }
            Some(_) => {
                return Err(Error::HeaderMemberType {
                    member: "typ".into(),
                    expected: "a string",
                })
            }
        }
    }
    Ok(())
}

impl Verifier {
    /// Verifies a JWT: the signature, then the claims against `v`.
    pub fn verify_jwt(&self, token: &str, v: &Validation) -> Result<Jwt, Error> {
        let VerifiedParts {
            header,
            payload_b64,
            alg,
            ..
        } = self.verify_parts(token)?;
        // A typical claims set decodes on the stack; a large one on the heap.
        let mut stack = [0u8; 1024];
        let mut heap = Vec::new();
        let payload = decode_segment_into(payload_b64, Part::Payload, &mut stack, &mut heap)?;
        let claims = crate::json::parse_object_shaped(payload, Part::Payload, self.claims_shape())
            .map_err(|e| match e {
                Error::NotAnObject { .. } | Error::Json { .. } | Error::NotUtf8 { .. } => {
                    Error::NotClaims(format!("{e}; use raw mode for a non-JSON payload"))
                }
                other => other,
            })?;
        validate(&header, &claims, v)?;
        Ok(Jwt {
            header,
            claims,
            alg,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn at(now: i64) -> Validation {
        Validation {
            now: Some(now),
            ..Validation::default()
        }
    }

    #[test]
    fn exp_with_leeway_and_message() {
        let c = claims(json!({"exp": 1000}));
        assert!(
            validate(&Map::new(), &c, &at(1059)).is_ok(),
            "inside leeway"
        );
        let e = validate(&Map::new(), &c, &at(1000 + 3 * 3600)).err();
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some("exp is in the past (expired 3 h ago)")
        );
        let strict = Validation {
            leeway: 0,
            ..at(1000)
        };
        assert!(matches!(
            validate(&Map::new(), &c, &strict),
            Err(Error::Expired { .. })
        ));
    }

    #[test]
    fn nbf_in_future_is_refused() {
        let c = claims(json!({"nbf": 5000}));
        assert!(matches!(
            validate(&Map::new(), &c, &at(1000)),
            Err(Error::NotYetValid { .. })
        ));
        assert!(validate(&Map::new(), &c, &at(4950)).is_ok());
    }

    #[test]
    fn wrong_types_are_errors_not_absences() {
        for bad in [
            json!({"exp": "1"}),
            json!({"nbf": null}),
            json!({"iat": true}),
            json!({"exp": [1]}),
        ] {
            assert!(matches!(
                validate(&Map::new(), &claims(bad), &at(0)),
                Err(Error::ClaimType { .. })
            ));
        }
        assert!(matches!(
            validate(&Map::new(), &claims(json!({"aud": 5})), &at(0)),
            Err(Error::ClaimType { .. })
        ));
        assert!(matches!(
            validate(&Map::new(), &claims(json!({"aud": ["a", 1]})), &at(0)),
            Err(Error::ClaimType { .. })
        ));
        assert!(matches!(
            validate(&Map::new(), &claims(json!({"iss": 1})), &at(0)),
            Err(Error::ClaimType { .. })
        ));
    }

    #[test]
    fn issuer_audience_subject_typ_required() {
        let c = claims(json!({"iss": "a", "aud": ["x", "y"], "sub": "s"}));
        let mut v = at(0);
        v.issuers = vec!["a".into()];
        v.audiences = vec!["y".into()];
        v.subject = Some("s".into());
        assert!(validate(&Map::new(), &c, &v).is_ok());
        v.audiences = vec!["z".into()];
        assert!(matches!(
            validate(&Map::new(), &c, &v),
            Err(Error::WrongAudience { .. })
        ));
        v.audiences.clear();
        v.issuers = vec!["b".into()];
        assert!(matches!(
            validate(&Map::new(), &c, &v),
            Err(Error::WrongIssuer { .. })
        ));
        v.issuers.clear();
        v.required = vec!["jti".into()];
        assert_eq!(
            validate(&Map::new(), &c, &v),
            Err(Error::MissingClaim("jti".into()))
        );
        v.required.clear();
        v.typ = Some("at+jwt".into());
        let h = claims(json!({"typ": "application/AT+JWT"}));
        assert!(validate(&h, &c, &v).is_ok());
        let h = claims(json!({"typ": "JWT"}));
        assert!(matches!(validate(&h, &c, &v), Err(Error::WrongType { .. })));
    }
}
