//! `JSON.parse` as V8 11.3 (Node 20) implements it, including its error messages and their
//! positions (in UTF-16 code units). Iterative, so nesting depth costs no stack.

use super::js::{lossy, JsStr, Obj, Val, BUILD_DEPTH_LIMIT};

/// Sources at least this long get an excerpt instead of the whole text in "Unexpected token".
const MIN_LENGTH_FOR_CONTEXT: usize = 21;
/// Characters of context on each side of the bad token.
const CONTEXT: usize = 10;

enum Frame {
    Arr(Vec<Val>),
    Obj(Obj, JsStr),
    /// Containers beyond [`BUILD_DEPTH_LIMIT`]: checked, not built.
    SkipArr,
    SkipObj,
}

struct Parser<'a> {
    s: &'a [u16],
    pos: usize,
}

fn is_digit(c: Option<u16>) -> bool {
    c.is_some_and(|c| (u16::from(b'0')..=u16::from(b'9')).contains(&c))
}

fn is(c: Option<u16>, ch: u8) -> bool {
    c == Some(u16::from(ch))
}

impl Parser<'_> {
    fn peek(&self) -> Option<u16> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(0x20 | 0x09 | 0x0A | 0x0D)) {
            self.pos += 1;
        }
    }

    fn at(&self, msg: &str) -> String {
        format!("{msg} in JSON at position {}", self.pos)
    }

    /// V8's message for an unexpected character that has no specific message.
    fn unexpected_token(&self) -> String {
        let src = self.s;
        let special = ["[object Object]", "undefined", "Infinity", "NaN"]
            .iter()
            .any(|w| w.encode_utf16().eq(src.iter().copied()));
        if special {
            return format!("\"{}\" is not valid JSON", lossy(src));
        }
        let pos = self.pos;
        let token = lossy(src.get(pos..pos + 1).unwrap_or_default());
        let len = src.len();
        if len < MIN_LENGTH_FOR_CONTEXT {
            return format!(
                "Unexpected token '{token}', \"{}\" is not valid JSON",
                lossy(src)
            );
        }
        let excerpt = |a: usize, b: usize| lossy(src.get(a..b.min(len)).unwrap_or_default());
        if pos < CONTEXT {
            format!(
                "Unexpected token '{token}', \"{}\"... is not valid JSON",
                excerpt(0, pos + CONTEXT)
            )
        } else if pos < len - CONTEXT {
            format!(
                "Unexpected token '{token}', ...\"{}\"... is not valid JSON",
                excerpt(pos - CONTEXT, pos + CONTEXT)
            )
        } else {
            format!(
                "Unexpected token '{token}', ...\"{}\" is not valid JSON",
                excerpt(pos - CONTEXT, len)
            )
        }
    }

    /// `ReportUnexpectedCharacter` for the character at the cursor.
    fn unexpected_char(&self) -> String {
        match self.peek() {
            None => "Unexpected end of JSON input".into(),
            Some(0x22) => self.at("Unexpected string"),
            Some(c) if c == 0x2D || is_digit(Some(c)) => self.at("Unexpected number"),
            Some(_) => self.unexpected_token(),
        }
    }

    fn scan_literal(&mut self, word: &str) -> Result<(), String> {
        let w: Vec<u16> = word.encode_utf16().collect();
        let rest = w.get(1..).unwrap_or_default();
        if self.s.get(self.pos + 1..self.pos + w.len()) == Some(rest) {
            self.pos += w.len();
            return Ok(());
        }
        self.pos += 1;
        for &expected in rest {
            match self.peek() {
                None => break,
                Some(c) if c != expected => return Err(self.unexpected_char()),
                Some(_) => self.pos += 1,
            }
        }
        Err("Unexpected end of JSON input".into())
    }

    /// Scans a string body; the cursor is just past the opening quote.
    fn scan_string(&mut self) -> Result<JsStr, String> {
        let mut out = JsStr::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.at("Unterminated string"));
            };
            match c {
                0x22 => {
                    self.pos += 1;
                    return Ok(out);
                }
                0x5C => {
                    self.pos += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.unexpected_char());
                    };
                    if e > 0xFF {
                        return Err(self.unexpected_token());
                    }
                    let decoded = match e as u8 {
                        b'"' => 0x22,
                        b'\\' => 0x5C,
                        b'/' => 0x2F,
                        b'b' => 0x08,
                        b'f' => 0x0C,
                        b'n' => 0x0A,
                        b'r' => 0x0D,
                        b't' => 0x09,
                        b'u' => {
                            let mut v: u16 = 0;
                            for _ in 0..4 {
                                self.pos += 1;
                                let digit = self
                                    .peek()
                                    .and_then(|d| char::from_u32(u32::from(d)))
                                    .and_then(|d| d.to_digit(16));
                                match digit {
                                    Some(d) => v = v.wrapping_mul(16).wrapping_add(d as u16),
                                    None => return Err(self.at("Bad Unicode escape")),
                                }
                            }
                            v
                        }
                        _ => return Err(self.at("Bad escaped character")),
                    };
                    out.push(decoded);
                    self.pos += 1;
                }
                c if c < 0x20 => return Err(self.at("Bad control character in string literal")),
                c => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn skip_digits(&mut self) {
        while is_digit(self.peek()) {
            self.pos += 1;
        }
    }

    fn parse_number(&mut self) -> Result<f64, String> {
        let start = self.pos;
        let mut negative = false;
        if is(self.peek(), b'-') {
            negative = true;
            self.pos += 1;
        }
        if is(self.peek(), b'0') {
            self.pos += 1;
            let c = self.peek();
            let number_part =
                is_digit(c) || [b'.', b'e', b'E', b'-', b'+'].iter().any(|&p| is(c, p));
            if number_part {
                if is_digit(c) {
                    return Err(self.at("Unexpected number"));
                }
            } else if !negative {
                return Ok(0.0);
            }
        } else {
            let digits_start = self.pos;
            self.skip_digits();
            if digits_start == self.pos {
                return Err(self.at("No number after minus sign"));
            }
        }
        if is(self.peek(), b'.') {
            self.pos += 1;
            if !is_digit(self.peek()) {
                return Err(self.at("Unterminated fractional number"));
            }
            self.skip_digits();
        }
        if is(self.peek(), b'e') || is(self.peek(), b'E') {
            self.pos += 1;
            if is(self.peek(), b'-') || is(self.peek(), b'+') {
                self.pos += 1;
            }
            if !is_digit(self.peek()) {
                return Err(self.at("Exponent part is missing a number"));
            }
            self.skip_digits();
        }
        let text: String = self
            .s
            .get(start..self.pos)
            .unwrap_or_default()
            .iter()
            .filter_map(|&c| char::from_u32(u32::from(c)))
            .collect();
        Ok(text.parse::<f64>().unwrap_or(f64::NAN))
    }

    /// After `{` and whitespace, or after `,`: scans `"key"` and the colon. V8 11.3 has a
    /// specific message for a missing colon only after an object's first key.
    fn property_key(&mut self, first: bool) -> Result<JsStr, String> {
        self.skip_ws();
        if !is(self.peek(), b'"') {
            return Err(self.at(if first {
                "Expected property name or '}'"
            } else {
                "Expected double-quoted property name"
            }));
        }
        self.pos += 1;
        let key = self.scan_string()?;
        self.skip_ws();
        if !is(self.peek(), b':') {
            return Err(if first {
                self.at("Expected ':' after property name")
            } else {
                self.unexpected_char()
            });
        }
        self.pos += 1;
        Ok(key)
    }
}

/// `JSON.parse(src)`: the value, or V8's `SyntaxError` message.
pub fn parse(src: &[u16]) -> Result<Val, String> {
    let mut p = Parser { s: src, pos: 0 };
    let mut stack: Vec<Frame> = Vec::new();
    loop {
        // Produce a value.
        let mut value = loop {
            p.skip_ws();
            let Some(c) = p.peek() else {
                return Err(p.unexpected_char());
            };
            let deep = stack.len() >= BUILD_DEPTH_LIMIT;
            match u8::try_from(c).unwrap_or(0) {
                b'"' => {
                    p.pos += 1;
                    break Val::Str(p.scan_string()?);
                }
                b'-' | b'0'..=b'9' => break Val::Num(p.parse_number()?),
                b'{' => {
                    p.pos += 1;
                    p.skip_ws();
                    if is(p.peek(), b'}') {
                        p.pos += 1;
                        break if deep {
                            Val::TooDeep
                        } else {
                            Val::Obj(Obj::new())
                        };
                    }
                    let key = p.property_key(true)?;
                    stack.push(if deep {
                        Frame::SkipObj
                    } else {
                        Frame::Obj(Obj::new(), key)
                    });
                }
                b'[' => {
                    p.pos += 1;
                    p.skip_ws();
                    if is(p.peek(), b']') {
                        p.pos += 1;
                        break if deep {
                            Val::TooDeep
                        } else {
                            Val::Arr(Vec::new())
                        };
                    }
                    stack.push(if deep {
                        Frame::SkipArr
                    } else {
                        Frame::Arr(Vec::new())
                    });
                }
                b't' => {
                    p.scan_literal("true")?;
                    break Val::Bool(true);
                }
                b'f' => {
                    p.scan_literal("false")?;
                    break Val::Bool(false);
                }
                b'n' => {
                    p.scan_literal("null")?;
                    break Val::Null;
                }
                _ => return Err(p.unexpected_char()),
            }
        };
        // Consume it: store it in its container, closing containers as they end.
        loop {
            p.skip_ws();
            let next = p.peek();
            match stack.last_mut() {
                None => {
                    if next.is_some() {
                        return Err(format!(
                            "Unexpected non-whitespace character after JSON at position {}",
                            p.pos
                        ));
                    }
                    return Ok(value);
                }
                Some(Frame::Obj(obj, key)) => {
                    obj.set(std::mem::take(key), value);
                    if is(next, b',') {
                        p.pos += 1;
                        *key = p.property_key(false)?;
                        break;
                    }
                    if !is(next, b'}') {
                        return Err(p.at("Expected ',' or '}' after property value"));
                    }
                }
                Some(Frame::Arr(items)) => {
                    items.push(value);
                    if is(next, b',') {
                        p.pos += 1;
                        break;
                    }
                    if !is(next, b']') {
                        return Err(p.at("Expected ',' or ']' after array element"));
                    }
                }
                Some(Frame::SkipObj) => {
                    if is(next, b',') {
                        p.pos += 1;
                        p.property_key(false)?;
                        break;
                    }
                    if !is(next, b'}') {
                        return Err(p.at("Expected ',' or '}' after property value"));
                    }
                }
                Some(Frame::SkipArr) => {
                    if is(next, b',') {
                        p.pos += 1;
                        break;
                    }
                    if !is(next, b']') {
                        return Err(p.at("Expected ',' or ']' after array element"));
                    }
                }
            }
            p.pos += 1;
            value = match stack.pop() {
                Some(Frame::Obj(obj, _)) => Val::Obj(obj),
                Some(Frame::Arr(items)) => Val::Arr(items),
                _ => Val::TooDeep,
            };
        }
    }
}
