//! The slice of JavaScript semantics jwtgen's output depends on: a value model with UTF-16
//! strings and JS property order, `Number.prototype.toString`, `ToNumber` on strings,
//! `String.prototype.trim` and `JSON.stringify`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// A JavaScript string: UTF-16 code units, so lone surrogates and code-unit indexing behave as
/// in V8.
pub type JsStr = Vec<u16>;

/// Encodes a Rust string as a JS string.
pub fn js(s: &str) -> JsStr {
    s.encode_utf16().collect()
}

/// Converts a JS string for output the way Node writes it: lone surrogates become U+FFFD.
pub fn lossy(s: &[u16]) -> String {
    String::from_utf16_lossy(s)
}

/// Deeper than this, JSON values are only syntax-checked, not built (see [`Val::TooDeep`]).
pub const BUILD_DEPTH_LIMIT: usize = 4200;

/// A JavaScript value, as far as jwtgen can produce one.
#[derive(Clone, Debug)]
pub enum Val {
    Undef,
    Null,
    Bool(bool),
    Num(f64),
    Str(JsStr),
    Arr(Vec<Val>),
    Obj(Obj),
    /// A container nested deeper than [`BUILD_DEPTH_LIMIT`]: Node would overflow its stack
    /// serializing it, so its content is never needed.
    TooDeep,
}

/// A plain object's own enumerable properties in JS order: array-index keys ascending, then
/// the other keys in insertion order. Setting an existing key keeps its position.
#[derive(Clone, Debug, Default)]
pub struct Obj {
    index: BTreeMap<u32, Val>,
    named: Vec<(JsStr, Val)>,
    lookup: HashMap<JsStr, usize>,
}

/// The array index a property key denotes (canonical decimal `0..=4294967294`), if any.
pub fn array_index(key: &[u16]) -> Option<u32> {
    let (&first, _) = key.split_first()?;
    if key.len() > 10 || (first == u16::from(b'0') && key.len() > 1) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in key {
        let d = c.checked_sub(u16::from(b'0')).filter(|d| *d <= 9)?;
        v = v * 10 + u64::from(d);
    }
    u32::try_from(v).ok().filter(|v| *v != u32::MAX)
}

impl Obj {
    pub fn new() -> Obj {
        Obj::default()
    }

    /// `CreateDataProperty`: replaces the value in place, or adds the key at its JS position.
    pub fn set(&mut self, key: JsStr, value: Val) {
        if let Some(i) = array_index(&key) {
            self.index.insert(i, value);
        } else if let Some(slot) = self.lookup.get(&key).and_then(|&i| self.named.get_mut(i)) {
            slot.1 = value;
        } else {
            self.lookup.insert(key.clone(), self.named.len());
            self.named.push((key, value));
        }
    }

    pub fn get(&self, key: &[u16]) -> Option<&Val> {
        match array_index(key) {
            Some(i) => self.index.get(&i),
            None => self
                .lookup
                .get(key)
                .and_then(|&i| self.named.get(i))
                .map(|(_, v)| v),
        }
    }

    pub fn get_mut(&mut self, key: &[u16]) -> Option<&mut Val> {
        match array_index(key) {
            Some(i) => self.index.get_mut(&i),
            None => match self.lookup.get(key) {
                Some(&i) => self.named.get_mut(i).map(|(_, v)| v),
                None => None,
            },
        }
    }

    pub fn contains(&self, key: &[u16]) -> bool {
        self.get(key).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty() && self.named.is_empty()
    }

    /// Own keys and values in JS property order.
    pub fn entries(&self) -> impl Iterator<Item = (JsStr, &Val)> + '_ {
        self.index
            .iter()
            .map(|(k, v)| (js(&k.to_string()), v))
            .chain(self.named.iter().map(|(k, v)| (k.clone(), v)))
    }

    /// Consumes the object, yielding its entries in JS property order.
    pub fn into_entries(self) -> impl Iterator<Item = (JsStr, Val)> {
        self.index
            .into_iter()
            .map(|(k, v)| (js(&k.to_string()), v))
            .chain(self.named)
    }
}

/// JS `ToBoolean`.
pub fn truthy(v: &Val) -> bool {
    match v {
        Val::Undef | Val::Null => false,
        Val::Bool(b) => *b,
        Val::Num(n) => !(n.is_nan() || *n == 0.0),
        Val::Str(s) => !s.is_empty(),
        Val::Arr(_) | Val::Obj(_) | Val::TooDeep => true,
    }
}

/// JS `ToString` (arrays join with `,`, objects are `[object Object]`).
pub fn to_js_string(v: &Val) -> JsStr {
    match v {
        Val::Undef => js("undefined"),
        Val::Null => js("null"),
        Val::Bool(b) => js(if *b { "true" } else { "false" }),
        Val::Num(n) => js(&number_to_string(*n)),
        Val::Str(s) => s.clone(),
        Val::Arr(items) => {
            let mut out = JsStr::new();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(u16::from(b','));
                }
                if !matches!(item, Val::Undef | Val::Null) {
                    out.extend(to_js_string(item));
                }
            }
            out
        }
        Val::Obj(_) | Val::TooDeep => js("[object Object]"),
    }
}

/// JS `ToNumber`.
pub fn to_number(v: &Val) -> f64 {
    match v {
        Val::Undef => f64::NAN,
        Val::Null => 0.0,
        Val::Bool(b) => f64::from(u8::from(*b)),
        Val::Num(n) => *n,
        Val::Str(s) => string_to_number(s),
        Val::Arr(_) | Val::Obj(_) | Val::TooDeep => string_to_number(&to_js_string(v)),
    }
}

/// JS WhiteSpace or LineTerminator, the set `String.prototype.trim` removes.
pub fn is_js_space(c: u16) -> bool {
    matches!(
        c,
        0x09 | 0x0A | 0x0B | 0x0C | 0x0D | 0x20 | 0xA0 | 0x1680 | 0x2000
            ..=0x200A | 0x2028 | 0x2029 | 0x202F | 0x205F | 0x3000 | 0xFEFF
    )
}

/// `String.prototype.trim`.
pub fn trim(s: &[u16]) -> &[u16] {
    let start = s.iter().position(|&c| !is_js_space(c)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&c| !is_js_space(c))
        .map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or_default()
}

/// `StringToNumber` (ECMA-262 §7.1.4.1.1): trimmed; empty is 0; `0x`/`0o`/`0b` integers;
/// signed decimal literals and `Infinity`; anything else NaN.
pub fn string_to_number(s: &[u16]) -> f64 {
    let t = trim(s);
    if t.is_empty() {
        return 0.0;
    }
    if t.iter().any(|&c| c > 0x7F) {
        return f64::NAN;
    }
    let text: String = t
        .iter()
        .filter_map(|&c| char::from_u32(u32::from(c)))
        .collect();
    let b = text.as_bytes();
    if let (Some(b'0'), Some(p)) = (b.first(), b.get(1)) {
        let bits = match p {
            b'x' | b'X' => Some(4),
            b'o' | b'O' => Some(3),
            b'b' | b'B' => Some(1),
            _ => None,
        };
        if let Some(bits) = bits {
            return radix_pow2(b.get(2..).unwrap_or_default(), bits).unwrap_or(f64::NAN);
        }
    }
    let (neg, body) = match b.first() {
        Some(b'-') => (true, text.get(1..).unwrap_or_default()),
        Some(b'+') => (false, text.get(1..).unwrap_or_default()),
        _ => (false, text.as_str()),
    };
    let magnitude = if body == "Infinity" {
        f64::INFINITY
    } else if is_decimal_literal(body.as_bytes()) {
        body.parse::<f64>().unwrap_or(f64::NAN)
    } else {
        f64::NAN
    };
    if neg {
        -magnitude
    } else {
        magnitude
    }
}

/// StrUnsignedDecimalLiteral without `Infinity`: `1`, `1.`, `1.5`, `.5`, each with an
/// optional `e`/`E` exponent.
fn is_decimal_literal(b: &[u8]) -> bool {
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let int = digits(&mut i);
    let mut frac = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac = digits(&mut i);
    }
    if int + frac == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Parses digits of radix 2, 8 or 16 (`bits` per digit), correctly rounded.
pub fn radix_pow2(digits: &[u8], bits: u32) -> Option<f64> {
    if digits.is_empty() {
        return None;
    }
    let radix = 1u32 << bits;
    let mut mant: u64 = 0;
    let mut exp: i32 = 0;
    let mut sticky = false;
    for &d in digits {
        let v = char::from(d).to_digit(radix)?;
        if mant < (1u64 << 60) {
            mant = (mant << bits) | u64::from(v);
        } else {
            exp = exp.saturating_add(bits as i32);
            sticky |= v != 0;
        }
    }
    if mant == 0 {
        return Some(0.0);
    }
    // At least 61 significant bits are kept once digits are dropped, so a sticky bit in bit 0
    // sits well below the rounding position and `as f64` rounds correctly.
    let m = (mant | u64::from(sticky)) as f64;
    Some(m * 2f64.powi(exp))
}

/// `Number.prototype.toString()` for radix 10 (ECMA-262 §6.1.6.1.20), using Rust's shortest
/// round-trip digits, which are the digits the spec asks for.
pub fn number_to_string(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x == 0.0 {
        return "0".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if x < 0.0 {
        return format!("-{}", number_to_string(-x));
    }
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp: i64 = exp.parse().unwrap_or(0);
    let k = digits.len() as i64;
    let n = exp + 1;
    let zeros = |count: i64| "0".repeat(usize::try_from(count).unwrap_or(0));
    if k <= n && n <= 21 {
        format!("{digits}{}", zeros(n - k))
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(usize::try_from(n).unwrap_or(0).min(digits.len()));
        format!("{int}.{frac}")
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", zeros(-n))
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let sign = if n > 0 { '+' } else { '-' };
        let dot = if rest.is_empty() { "" } else { "." };
        format!("{first}{dot}{rest}e{sign}{}", (n - 1).abs())
    }
}

/// `JSON.stringify` would throw "Maximum call stack size exceeded".
#[derive(Debug)]
pub struct TooDeep;

/// Node 20's `JSON.stringify` overflows its stack somewhere past this nesting depth (measured
/// with jwtgen: 4178 to 4179 levels depending on the shape); Signet refuses deeper values.
pub const STRINGIFY_DEPTH_LIMIT: usize = 4179;

/// `JSON.stringify(v)` (compact) or `JSON.stringify(v, null, indent)`. `None` for values it
/// maps to `undefined`.
pub fn stringify(v: &Val, indent: usize) -> Result<Option<String>, TooDeep> {
    if matches!(v, Val::Undef) {
        return Ok(None);
    }
    let mut out = String::new();
    write_json(v, indent, 0, &mut out)?;
    Ok(Some(out))
}

fn newline(out: &mut String, indent: usize, level: usize) {
    if indent > 0 {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', indent * level));
    }
}

fn write_json(v: &Val, indent: usize, depth: usize, out: &mut String) -> Result<(), TooDeep> {
    match v {
        Val::Undef | Val::Null => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Num(n) if n.is_finite() => out.push_str(&number_to_string(*n)),
        Val::Num(_) => out.push_str("null"),
        Val::Str(s) => quote(s, out),
        Val::TooDeep => return Err(TooDeep),
        Val::Arr(items) => {
            if depth >= STRINGIFY_DEPTH_LIMIT {
                return Err(TooDeep);
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                write_json(item, indent, depth + 1, out)?;
            }
            if !items.is_empty() {
                newline(out, indent, depth);
            }
            out.push(']');
        }
        Val::Obj(obj) => {
            if depth >= STRINGIFY_DEPTH_LIMIT {
                return Err(TooDeep);
            }
            out.push('{');
            let mut first = true;
            for (key, item) in obj.entries() {
                if matches!(item, Val::Undef) {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                newline(out, indent, depth + 1);
                quote(&key, out);
                out.push(':');
                if indent > 0 {
                    out.push(' ');
                }
                write_json(item, indent, depth + 1, out)?;
            }
            if !first {
                newline(out, indent, depth);
            }
            out.push('}');
        }
    }
    Ok(())
}

/// `QuoteJSONString` (ECMA-262 §25.5.2.3), written as UTF-8.
pub fn quote(s: &[u16], out: &mut String) {
    out.push('"');
    for unit in char::decode_utf16(s.iter().copied()) {
        match unit {
            Ok('"') => out.push_str("\\\""),
            Ok('\\') => out.push_str("\\\\"),
            Ok('\u{8}') => out.push_str("\\b"),
            Ok('\t') => out.push_str("\\t"),
            Ok('\n') => out.push_str("\\n"),
            Ok('\u{c}') => out.push_str("\\f"),
            Ok('\r') => out.push_str("\\r"),
            Ok(c) if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            Ok(c) => out.push(c),
            Err(e) => {
                let _ = write!(out, "\\u{:04x}", e.unpaired_surrogate());
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_like_js() {
        for (x, s) in [
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (12345678901234567890.0, "12345678901234567000"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (1.5e300, "1.5e+300"),
            (0.1, "0.1"),
            (-0.0, "0"),
            (-5.0, "-5"),
            (123.456, "123.456"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
        ] {
            assert_eq!(number_to_string(x), s);
        }
    }

    #[test]
    fn string_to_number_like_js() {
        for (s, x) in [
            ("", 0.0),
            ("  12 ", 12.0),
            ("0x10", 16.0),
            ("0b101", 5.0),
            ("0o17", 15.0),
            ("-1.5", -1.5),
            (".5", 0.5),
            ("5.", 5.0),
            ("1e3", 1000.0),
            ("1E3", 1000.0),
            ("-Infinity", f64::NEG_INFINITY),
        ] {
            assert_eq!(string_to_number(&js(s)), x, "{s}");
        }
        for s in ["abc", "1h", "-0x10", "infinity", "1e", ".", "0x"] {
            assert!(string_to_number(&js(s)).is_nan(), "{s}");
        }
    }

    #[test]
    fn index_keys() {
        assert_eq!(array_index(&js("0")), Some(0));
        assert_eq!(array_index(&js("4294967294")), Some(4294967294));
        assert_eq!(array_index(&js("4294967295")), None);
        assert_eq!(array_index(&js("01")), None);
        assert_eq!(array_index(&js("-1")), None);
        assert_eq!(array_index(&js("")), None);
    }
}
