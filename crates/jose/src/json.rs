//! Strict JSON for JOSE headers, payloads and keys: an object at the top, member names unique at
//! every level (RFC 7515 §5.2 lets a parser reject duplicates; accepting them lets two parsers
//! see two different tokens), and a bounded nesting depth.

use std::fmt;
use std::sync::{Arc, Mutex};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Value};

use crate::error::{Error, Part};

/// Deepest nesting accepted in a header, a claims set or a key.
pub const MAX_DEPTH: usize = 64;

/// Parses a JSON object strictly; errors name the `part` they are about.
pub fn parse_object(bytes: &[u8], part: Part) -> Result<Map<String, Value>, Error> {
    let text = std::str::from_utf8(bytes).map_err(|_| Error::NotUtf8 { part })?;
    if let Some(map) = flat::parse(text) {
        return Ok(map);
    }
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

/// Initial capacity of a top-level object's map (typical headers and claims sets fit).
const TOP_LEVEL_CAPACITY: usize = 8;

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
        // A header or claims set (depth 0) usually has a handful of members: size for them so
        // the map does not regrow while parsing.
        let mut out = if self.depth == 0 {
            Map::with_capacity(TOP_LEVEL_CAPACITY)
        } else {
            Map::new()
        };
        while let Some(key) = map.next_key::<String>()? {
            // One hash per member: the entry both detects a duplicate (before the value is
            // parsed, as before) and places the new member.
            match out.entry(key) {
                Entry::Occupied(seen) => {
                    return Err(de::Error::custom(format_args!("{DUP}{}", seen.key())));
                }
                Entry::Vacant(slot) => {
                    let v = map.next_value_seed(self.deeper()?)?;
                    slot.insert(v);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// A fast path for the usual header and claims set: one flat object whose members are strings
/// without escapes, non-negative integers, booleans or null. It accepts only input the strict
/// parser accepts, and builds the same map; for anything else (nesting, escapes, other numbers,
/// duplicates, any error) it answers `None` and the strict parser decides, errors included.
mod flat {
    use serde_json::{Map, Value};

    use super::TOP_LEVEL_CAPACITY;

    /// JSON insignificant whitespace (RFC 8259 §2).
    fn skip_ws(b: &[u8], mut i: usize) -> usize {
        while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        i
    }

    /// A string starting after its opening quote at `start`, with no escape and no control
    /// character; returns it and the index after its closing quote.
    fn plain_string(text: &str, start: usize) -> Option<(&str, usize)> {
        let rest = text.as_bytes().get(start..)?;
        let len = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        Some((text.get(start..start + len)?, start + len + 1))
    }

    /// A scalar value at `i`; returns it and the index after it.
    fn scalar(text: &str, i: usize) -> Option<(Value, usize)> {
        let b = text.as_bytes();
        let literal = |word: &[u8], value: Value| {
            (b.get(i..i + word.len()) == Some(word)).then(|| (value, i + word.len()))
        };
        match *b.get(i)? {
            b'"' => {
                let (s, next) = plain_string(text, i + 1)?;
                Some((Value::String(s.to_owned()), next))
            }
            b't' => literal(b"true", Value::Bool(true)),
            b'f' => literal(b"false", Value::Bool(false)),
            b'n' => literal(b"null", Value::Null),
            b'0'..=b'9' => {
                let digits = b
                    .get(i..)?
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                // At most 19 digits always fit a u64; a leading zero must stand alone; a
                // fraction or exponent makes a float. All of those go to the strict parser.
                if digits > 19 || (digits > 1 && b.get(i) == Some(&b'0')) {
                    return None;
                }
                let next = i + digits;
                if matches!(b.get(next), Some(b'.' | b'e' | b'E')) {
                    return None;
                }
                let n = b
                    .get(i..next)?
                    .iter()
                    .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
                Some((Value::from(n), next))
            }
            _ => None,
        }
    }

    /// Walks a flat object, handing each member to `member` in order; `None` as soon as the
    /// input leaves the fast path's grammar or `member` declines.
    fn scan<'t>(text: &'t str, mut member: impl FnMut(&'t str, Value) -> Option<()>) -> Option<()> {
        let b = text.as_bytes();
        let mut i = skip_ws(b, 0);
        if b.get(i) != Some(&b'{') {
            return None;
        }
        i = skip_ws(b, i + 1);
        if b.get(i) == Some(&b'}') {
            i += 1;
        } else {
            loop {
                if b.get(i) != Some(&b'"') {
                    return None;
                }
                let (key, next) = plain_string(text, i + 1)?;
                i = skip_ws(b, next);
                if b.get(i) != Some(&b':') {
                    return None;
                }
                let (value, next) = scalar(text, skip_ws(b, i + 1))?;
                member(key, value)?;
                i = skip_ws(b, next);
                match b.get(i) {
                    Some(b',') => i = skip_ws(b, i + 1),
                    Some(b'}') => {
                        i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        (skip_ws(b, i) == b.len()).then_some(())
    }

    pub(super) fn parse(text: &str) -> Option<Map<String, Value>> {
        let mut out = Map::with_capacity(TOP_LEVEL_CAPACITY);
        // One probe per member; a duplicate goes to the strict parser, which reports it.
        scan(text, |key, value| {
            out.insert(key.to_owned(), value).is_none().then_some(())
        })?;
        Some(out)
    }

    /// [`parse`] for an object whose member names are exactly those of `shape`, in order: the
    /// map is a copy of `shape` with the values filled in, so no name is hashed again. Names
    /// that match a map's unique names in order are unique themselves.
    pub(super) fn parse_shaped(
        text: &str,
        shape: &Map<String, Value>,
    ) -> Option<Map<String, Value>> {
        let mut out = shape.clone();
        {
            let mut slots = out.iter_mut();
            scan(text, |key, value| {
                let (name, slot) = slots.next()?;
                if name != key {
                    return None;
                }
                *slot = value;
                Some(())
            })?;
            if slots.next().is_some() {
                return None;
            }
        }
        Some(out)
    }
}

/// Objects with more members than this are not remembered as a shape.
const MAX_SHAPE_MEMBERS: usize = 32;

/// The member names of the last claims set a verifier parsed through the fast path (a map of
/// those names to null), so that the next claims set with the same names in the same order is
/// built by copying it. Never blocks: when another thread holds it, parsing goes on without it.
#[derive(Default)]
pub(crate) struct ShapeCache(Mutex<Option<Arc<Map<String, Value>>>>);

impl Clone for ShapeCache {
    /// A clone starts empty.
    fn clone(&self) -> ShapeCache {
        ShapeCache::default()
    }
}

impl ShapeCache {
    fn get(&self) -> Option<Arc<Map<String, Value>>> {
        self.0.try_lock().ok()?.clone()
    }

    fn put(&self, map: &Map<String, Value>) {
        if map.len() > MAX_SHAPE_MEMBERS {
            return;
        }
        let shape: Map<String, Value> = map.keys().map(|k| (k.clone(), Value::Null)).collect();
        if let Ok(mut slot) = self.0.try_lock() {
            *slot = Some(Arc::new(shape));
        }
    }
}

/// [`parse_object`], remembering the shape of what it parses in `shapes` to build the next object
/// of the same shape faster. Same results and errors as [`parse_object`].
pub(crate) fn parse_object_shaped(
    bytes: &[u8],
    part: Part,
    shapes: &ShapeCache,
) -> Result<Map<String, Value>, Error> {
    let text = std::str::from_utf8(bytes).map_err(|_| Error::NotUtf8 { part })?;
    if let Some(shape) = shapes.get() {
        if let Some(map) = flat::parse_shaped(text, &shape) {
            return Ok(map);
        }
    }
    if let Some(map) = flat::parse(text) {
        shapes.put(&map);
        return Ok(map);
    }
    match parse_value(text, part)? {
        Value::Object(map) => Ok(map),
        _ => Err(Error::NotAnObject { part }),
    }
}

/// What the fuzz targets (`fuzz/`) compare with the strict parser: the fast path alone, and a
/// shape-cached parse of `second` after `first` taught the cache its shape.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    use super::*;

    pub fn fast_path(text: &str) -> Option<Map<String, Value>> {
        flat::parse(text)
    }

    pub fn shaped_after(first: &[u8], second: &[u8]) -> Result<Map<String, Value>, Error> {
        let shapes = ShapeCache::default();
        let _ = parse_object_shaped(first, Part::Payload, &shapes);
        parse_object_shaped(second, Part::Payload, &shapes)
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

    /// The strict parser alone, for comparing the fast path against.
    fn strict_only(text: &str) -> Result<Map<String, Value>, Error> {
        match parse_value(text, Part::Payload)? {
            Value::Object(map) => Ok(map),
            _ => Err(Error::NotAnObject {
                part: Part::Payload,
            }),
        }
    }

    /// Whatever the fast path accepts, the strict parser accepts, with the same map and order;
    /// and the shaped path, whatever shape it is given, agrees with both.
    fn agree(text: &str) -> bool {
        let shapes = [
            r#"{"iss":null,"sub":null,"aud":null,"iat":null,"exp":null,"ok":null,"n":null}"#,
            r#"{"iss":null,"sub":null,"aud":null,"iat":null,"exp":null}"#,
            r#"{"alg":null,"typ":null}"#,
            "{}",
        ];
        for shape in shapes {
            let Some(shape) = flat::parse(shape) else {
                return false;
            };
            if let Some(shaped) = flat::parse_shaped(text, &shape) {
                match strict_only(text) {
                    Ok(strict) if shaped == strict && shaped.keys().eq(strict.keys()) => {}
                    _ => return false,
                }
            }
        }
        match flat::parse(text) {
            None => true,
            Some(fast) => match strict_only(text) {
                Ok(strict) => {
                    fast == strict
                        && fast.keys().eq(strict.keys())
                        && serde_json::to_string(&fast).ok() == serde_json::to_string(&strict).ok()
                }
                Err(_) => false,
            },
        }
    }

    #[test]
    fn fast_path_takes_the_usual_shapes() {
        for text in [
            r#"{"alg":"HS256","typ":"JWT"}"#,
            r#"{"iss":"a","sub":"b","aud":"c","iat":1700000000,"exp":18446744073709551}"#,
            " {\t\"a\" :\r\n true , \"b\":false,\"c\":null,\"d\":0 } \n",
            "{}",
            r#"{"é":"ü"}"#,
        ] {
            assert!(flat::parse(text).is_some(), "{text}");
            assert!(agree(text), "{text}");
        }
    }

    #[test]
    fn shaped_parsing_matches_names_in_order_and_remembers_shapes() {
        let shapes = ShapeCache::default();
        let a = br#"{"iss":"a","exp":1}"#;
        let b = br#"{"exp":1,"iss":"a"}"#;
        let dup = br#"{"iss":"a","iss":"b"}"#;
        for text in [
            &a[..],
            b,
            a,
            a,
            b,
            br#"{"iss":"a"}"#,
            br#"{"iss":"a","exp":1,"x":2}"#,
        ] {
            let shaped = parse_object_shaped(text, Part::Payload, &shapes);
            let plain = parse_object(text, Part::Payload);
            assert!(plain.is_ok());
            assert_eq!(shaped, plain);
            let names = |m: &Result<Map<String, Value>, Error>| {
                m.as_ref()
                    .ok()
                    .map(|m| m.keys().cloned().collect::<Vec<_>>())
            };
            assert_eq!(names(&shaped), names(&plain));
        }
        assert!(matches!(
            parse_object_shaped(dup, Part::Payload, &shapes),
            Err(Error::DuplicateMember { .. })
        ));
        for bad in [
            &b"{\"iss\":\"a\",\"exp\":01}"[..],
            b"{\"iss\":1,\"exp\":[1]}",
            b"\xff",
        ] {
            assert_eq!(
                parse_object_shaped(bad, Part::Payload, &shapes),
                parse_object(bad, Part::Payload)
            );
        }
    }

    #[test]
    fn fast_path_leaves_everything_else_to_the_strict_parser() {
        for text in [
            r#"{"a":"\n"}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":1,"a":2}"#,
            r#"{"a":01}"#,
            r#"{"a":-1}"#,
            r#"{"a":1.5}"#,
            r#"{"a":1e3}"#,
            r#"{"a":99999999999999999999}"#,
            r#"{"a":[1]}"#,
            r#"{"a":{}}"#,
            r#"{"a":1,}"#,
            r#"{"a":1} x"#,
            r#"{"a":tru}"#,
            r#"{"a":truex}"#,
            r#"{"a" 1}"#,
            r#"{a:1}"#,
            r#"{"a":1"#,
            "[1]",
            "",
        ] {
            assert!(flat::parse(text).is_none(), "{text}");
        }
    }

    #[test]
    fn fast_path_agrees_with_the_strict_parser_on_mutations() {
        let base = br#"{"iss":"https://issuer.example","sub":"u-1","aud":"api","iat":1700000000,"exp":1700003600,"ok":true,"n":null}"#;
        let alphabet = b"{}[]\":,. \t\n\\-+0123456789eEtrufalsn\x01a\xc3\xa9";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut bytes = base.to_vec();
            for _ in 0..1 + next() % 3 {
                let at = (next() as usize) % (bytes.len() + 1);
                let c = alphabet
                    .get((next() as usize) % alphabet.len())
                    .copied()
                    .unwrap_or(b'x');
                match (next() % 3, bytes.get_mut(at)) {
                    (0, Some(slot)) => *slot = c,
                    (1, Some(_)) => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, c),
                }
            }
            if let Ok(text) = std::str::from_utf8(&bytes) {
                assert!(agree(text), "{text}");
                accepted += usize::from(flat::parse(text).is_some());
            }
        }
        assert!(
            accepted > 100,
            "the mutations should often stay valid: {accepted}"
        );
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
