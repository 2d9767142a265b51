//! Strict JSON for JOSE headers, payloads and keys: an object at the top, member names unique at
//! every level (RFC 7515 §5.2 lets a parser reject duplicates; accepting them lets two parsers
//! see two different tokens), and a bounded nesting depth.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{Error, Part};

/// Deepest nesting accepted in a header, a claims set or a key.
pub const MAX_DEPTH: usize = 64;

/// Parses a JSON object strictly; errors name the `part` they are about.
pub fn parse_object(bytes: &[u8], part: Part) -> Result<Map<String, Value>, Error> {
    let text = std::str::from_utf8(bytes).map_err(|_| Error::NotUtf8 { part })?;
    match parse_value(text, part)? {
        Value::Object(map) => Ok(map),
        _ => Err(Error::NotAnObject { part }),
    }
}

/// Parses any JSON value strictly.
pub fn parse_value(text: &str, part: Part) -> Result<Value, Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = Strict { depth: 0 };
    let value = seed.deserialize(&mut de).map_err(|e| classify(e, part))?;
    de.end().map_err(|e| classify(e, part))?;
    Ok(value)
}

const DUP: &str = "\u{0}duplicate:";
const DEEP: &str = "\u{0}too-deep";

fn classify(e: serde_json::Error, part: Part) -> Error {
    let msg = e.to_string();
    if let Some(rest) = msg.strip_prefix(DUP) {
        let name = rest.split(" at line ").next().unwrap_or(rest).to_owned();
        return Error::DuplicateMember { part, name };
    }
    if msg.starts_with(DEEP) || msg.starts_with("recursion limit exceeded") {
        return Error::TooDeep {
            part,
            max: MAX_DEPTH,
        };
    }
    Error::Json { part, reason: msg }
}

struct Strict {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl Strict {
    fn deeper<E: de::Error>(&self) -> Result<Strict, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(DEEP));
        }
        Ok(Strict {
            depth: self.depth + 1,
        })
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self.deeper()?)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("{DUP}{key}")));
            }
            let v = map.next_value_seed(self.deeper()?)?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_objects_and_keeps_order() {
        let m = parse_object(br#"{"b":1,"a":{"z":[1,2],"y":null}}"#, Part::Payload).ok();
        let keys: Vec<_> = m.iter().flat_map(|m| m.keys().cloned()).collect();
        assert_eq!(keys, ["b", "a"]);
    }

    #[test]
    fn refuses_duplicates_at_any_depth() {
        assert_eq!(
            parse_object(br#"{"alg":"HS256","alg":"none"}"#, Part::Header),
            Err(Error::DuplicateMember {
                part: Part::Header,
                name: "alg".into()
            })
        );
        assert!(matches!(
            parse_object(br#"{"a":{"x":1,"x":2}}"#, Part::Payload),
            Err(Error::DuplicateMember { .. })
        ));
    }

    #[test]
    fn refuses_non_objects_bad_utf8_trailing_data_and_deep_nesting() {
        assert_eq!(
            parse_object(b"[1]", Part::Payload),
            Err(Error::NotAnObject {
                part: Part::Payload
            })
        );
        assert_eq!(
            parse_object(b"{\"a\":\"\xff\"}", Part::Payload),
            Err(Error::NotUtf8 {
                part: Part::Payload
            })
        );
        assert!(matches!(
            parse_object(b"{} {}", Part::Payload),
            Err(Error::Json { .. })
        ));
        let deep = format!("{}{}", r#"{"a":"#.repeat(100), "}".repeat(100));
        let deep = deep.replacen("}", "1}", 1);
        assert!(matches!(
            parse_object(deep.as_bytes(), Part::Payload),
            Err(Error::TooDeep { .. })
        ));
        let fine = format!("{}1{}", "[".repeat(60), "]".repeat(60));
        assert!(parse_value(&fine, Part::Payload).is_ok());
    }
}
