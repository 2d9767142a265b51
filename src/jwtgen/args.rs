//! jwtgen's command line as yargs 8.0.2 / yargs-parser 7.0.0 parse it with jwtgen's option
//! declarations: short option groups, `--no-` negation, dot notation, camel-case aliases,
//! duplicate options collected into arrays, numeric-looking values turned into numbers, and
//! their quirks (an option named like an `Object.prototype` member ends parsing, or crashes).

use super::js::{js, string_to_number, JsStr, Obj, Val};

/// Properties every plain JS object inherits. yargs-parser's flag tables are plain objects, so
/// looking one of these up "finds" an inherited function.
const PROTO_NAMES: [&str; 12] = [
    "constructor",
    "__defineGetter__",
    "__defineSetter__",
    "hasOwnProperty",
    "__lookupGetter__",
    "__lookupSetter__",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toString",
    "valueOf",
    "__proto__",
    "toLocaleString",
];

const ALIASES: [(&str, &str); 8] = [
    ("a", "algorithm"),
    ("s", "secret"),
    ("p", "private"),
    ("c", "claim"),
    ("h", "header"),
    ("i", "iat"),
    ("e", "exp"),
    ("v", "verbose"),
];
const STRINGS: [&str; 6] = ["s", "p", "c", "claims", "h", "headers"];
const BOOLS: [&str; 2] = ["v", "help"];
/// jwtgen declares `.number('e ')`, with a stray space.
const NUMBERS: [&str; 1] = ["e "];

/// The options in declaration order (what bash completion lists).
pub const KEYS: [&str; 11] = [
    "a", "s", "p", "c", "claims", "h", "headers", "i", "e", "v", "help",
];

pub fn is_proto_name(key: &[u16]) -> bool {
    PROTO_NAMES
        .iter()
        .any(|n| n.encode_utf16().eq(key.iter().copied()))
}

fn eq(key: &[u16], s: &str) -> bool {
    s.encode_utf16().eq(key.iter().copied())
}

/// JS `.` in a regular expression: anything but a line terminator.
fn is_dot(c: u16) -> bool {
    !matches!(c, 0x0A | 0x0D | 0x2028 | 0x2029)
}

fn is_ascii_digit(c: Option<&u16>) -> bool {
    c.is_some_and(|c| (u16::from(b'0')..=u16::from(b'9')).contains(c))
}

const DASH: u16 = 0x2D;
const EQ: u16 = 0x3D;

/// `/^-[0-9]+(\.[0-9]+)?/`
fn is_negative(s: &[u16]) -> bool {
    s.first() == Some(&DASH) && is_ascii_digit(s.get(1))
}

/// Index of the first line terminator at or after `from` (or the length).
fn line_end(s: &[u16], from: usize) -> usize {
    s.iter()
        .skip(from)
        .position(|&c| !is_dot(c))
        .map_or(s.len(), |i| i + from)
}

fn slice(s: &[u16], a: usize, b: usize) -> JsStr {
    s.get(a..b.min(s.len())).unwrap_or_default().to_vec()
}

fn from(s: &[u16], a: usize) -> JsStr {
    s.get(a..).unwrap_or_default().to_vec()
}

/// yargs-parser's `isNumber`.
fn is_number(v: &Val) -> bool {
    let s = match v {
        Val::Num(_) => return true,
        Val::Str(s) => s,
        _ => return false,
    };
    let b: Vec<u8> = match s.iter().map(|&c| u8::try_from(c).ok()).collect() {
        Some(b) => b,
        None => return false,
    };
    if let Some(hex) = b.strip_prefix(b"0x").or_else(|| b.strip_prefix(b"0X")) {
        return !hex.is_empty() && hex.iter().all(u8::is_ascii_hexdigit);
    }
    // /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(e[-+]?\d+)?$/
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let count = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if count(&mut i) > 0 {
        if b.get(i) == Some(&b'.') {
            i += 1;
            count(&mut i);
        }
    } else if b.get(i) == Some(&b'.') {
        i += 1;
        if count(&mut i) == 0 {
            return false;
        }
    } else {
        return false;
    }
    if b.get(i) == Some(&b'e') {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if count(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// The `camelcase` 4.1.0 package, for keys containing `-`.
fn camel_case(key: &[u16]) -> JsStr {
    let t = super::js::trim(key);
    if t.is_empty() {
        return JsStr::new();
    }
    let lower = |s: &[u16]| js(&String::from_utf16_lossy(s).to_lowercase());
    if t.len() == 1 {
        return lower(t);
    }
    let text = String::from_utf16_lossy(t);
    if text
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return t.to_vec();
    }
    let mut s: Vec<char> = text.chars().collect();
    if text != text.to_lowercase() {
        s = preserve_camel_case(s);
    }
    // .replace(/^[_.\- ]+/, '').toLowerCase().replace(/[_.\- ]+(\w|$)/g, upper)
    let sep = |c: char| matches!(c, '_' | '.' | '-' | ' ');
    let start = s.iter().position(|&c| !sep(c)).unwrap_or(s.len());
    let lowered: Vec<char> = s
        .get(start..)
        .unwrap_or_default()
        .iter()
        .collect::<String>()
        .to_lowercase()
        .chars()
        .collect();
    let mut out = String::new();
    let mut i = 0;
    while let Some(&c) = lowered.get(i) {
        if sep(c) {
            let mut j = i;
            while lowered.get(j).is_some_and(|&c| sep(c)) {
                j += 1;
            }
            match lowered.get(j) {
                Some(&w) if w.is_ascii_alphanumeric() || w == '_' => {
                    out.extend(w.to_uppercase());
                    i = j + 1;
                }
                None => i = j,
                Some(_) => {
                    // Backtracking: a shorter run may be followed by a `_` (a word character).
                    match (i + 1..j).rev().find(|&k| lowered.get(k) == Some(&'_')) {
                        Some(k) => {
                            out.push('_');
                            i = k + 1;
                        }
                        None => {
                            out.push(c);
                            i += 1;
                        }
                    }
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    js(&out)
}

fn preserve_camel_case(mut s: Vec<char>) -> Vec<char> {
    let is_upper = |c: char| c.to_uppercase().eq(std::iter::once(c));
    let is_lower = |c: char| c.to_lowercase().eq(std::iter::once(c));
    let (mut last_lower, mut last_upper, mut last_last_upper) = (false, false, false);
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        if last_lower && c.is_ascii_alphabetic() && is_upper(c) {
            s.insert(i, '-');
            last_lower = false;
            last_last_upper = last_upper;
            last_upper = true;
            i += 1;
        } else if last_upper && last_last_upper && c.is_ascii_alphabetic() && is_lower(c) {
            s.insert(i.saturating_sub(1), '-');
            last_last_upper = last_upper;
            last_upper = false;
            last_lower = true;
        } else {
            last_lower = is_lower(c);
            last_last_upper = last_upper;
            last_upper = is_upper(c);
        }
        i += 1;
    }
    s
}

/// An uncaught exception inside yargs: Node would print a stack trace.
#[derive(Debug)]
pub struct Crash(pub String);

/// What yargs-parser returns: `argv` (with `_` holding the positionals).
pub struct Parser {
    pub argv: Obj,
    /// Aliases created on the fly for dashed keys (`--foo-bar` → `fooBar`).
    camel: Vec<(JsStr, JsStr)>,
}

enum Aliases {
    List(Vec<JsStr>),
    /// `flags.aliases[key]` is an inherited function.
    Proto,
}

impl Parser {
    fn aliases(&self, key: &[u16]) -> Aliases {
        for (a, b) in ALIASES {
            if eq(key, a) {
                return Aliases::List(vec![js(b)]);
            }
            if eq(key, b) {
                return Aliases::List(vec![js(a)]);
            }
        }
        if let Some((_, c)) = self.camel.iter().find(|(k, _)| k == key) {
            return Aliases::List(vec![c.clone()]);
        }
        if is_proto_name(key) {
            return Aliases::Proto;
        }
        Aliases::List(Vec::new())
    }

    /// `checkAllAliases`: the key or one of its aliases is in the table, or "inherits" it.
    fn check(&self, key: &[u16], table: &[&str]) -> bool {
        let hit = |k: &[u16]| is_proto_name(k) || table.iter().any(|t| eq(k, t));
        let via_alias = match self.aliases(key) {
            Aliases::List(list) => list.iter().any(|a| hit(a)),
            Aliases::Proto => false,
        };
        via_alias || hit(key)
    }

    fn default_for_type(&self, key: &[u16]) -> Val {
        if self.check(key, &STRINGS) {
            Val::Str(JsStr::new())
        } else if self.check(key, &NUMBERS) {
            Val::Undef
        } else {
            Val::Bool(true)
        }
    }

    fn process_value(&self, key: &[u16], val: Val) -> Result<Val, Crash> {
        // yargs-parser checks its `normalize` and `array` tables, which "contain" inherited
        // names too, and then calls `path.normalize` on a non-string: Node throws.
        let inherited = is_proto_name(key)
            || matches!(self.aliases(key), Aliases::List(l) if l.iter().any(|a| is_proto_name(a)));
        if inherited {
            return Err(Crash(format!(
                "option name \"{}\" is not supported (it names a JavaScript object property)",
                String::from_utf16_lossy(key)
            )));
        }
        let mut val = val;
        if self.check(key, &BOOLS) {
            if let Val::Str(s) = &val {
                val = Val::Bool(eq(s, "true"));
            }
        }
        if !self.check(key, &STRINGS) {
            if is_number(&val) {
                if let Val::Str(s) = &val {
                    val = Val::Num(string_to_number(s));
                }
            } else if !matches!(val, Val::Undef) && self.check(key, &NUMBERS) {
                val = Val::Num(f64::NAN);
            }
        }
        Ok(val)
    }

    fn set_arg(&mut self, key: JsStr, val: Val) -> Result<(), Crash> {
        if key.contains(&DASH) {
            let has = matches!(self.aliases(&key), Aliases::List(l) if !l.is_empty());
            if !has {
                let c = camel_case(&key);
                self.camel.push((key.clone(), c));
            }
        }
        let value = self.process_value(&key, val)?;
        let split: Vec<JsStr> = key.split(|&c| c == 0x2E).map(<[u16]>::to_vec).collect();
        self.set_key(&split, value.clone());
        match self.aliases(&key) {
            Aliases::Proto => {
                return Err(Crash(format!(
                    "option name \"{}\" is not supported (it names a JavaScript object property)",
                    String::from_utf16_lossy(&key)
                )))
            }
            Aliases::List(list) => {
                for a in list {
                    let path: Vec<JsStr> = a.split(|&c| c == 0x2E).map(<[u16]>::to_vec).collect();
                    self.set_key(&path, value.clone());
                }
            }
        }
        if let (Some(first), true) = (split.first(), split.len() > 1) {
            match self.aliases(first) {
                Aliases::Proto => {
                    return Err(Crash(format!(
                    "option name \"{}\" is not supported (it names a JavaScript object property)",
                    String::from_utf16_lossy(&key)
                )))
                }
                Aliases::List(list) => {
                    for a in list {
                        let mut path: Vec<JsStr> =
                            a.split(|&c| c == 0x2E).map(<[u16]>::to_vec).collect();
                        path.extend(split.iter().skip(1).cloned());
                        self.set_key(&path, value.clone());
                    }
                }
            }
        }
        Ok(())
    }

    /// yargs-parser's `setKey`, with duplicates collected into arrays. Writes through
    /// non-objects (strings, arrays, inherited functions) are dropped, as they have no visible
    /// effect on what jwtgen reads.
    fn set_key(&mut self, keys: &[JsStr], value: Val) {
        let Some((last, parents)) = keys.split_last() else {
            return;
        };
        let joined: JsStr = keys.join(&0x2E);
        let bool_like = self.check(last, &BOOLS) || self.check(&joined, &BOOLS);
        let mut o = &mut self.argv;
        for k in parents {
            let missing = matches!(o.get(k), None | Some(Val::Undef));
            if missing {
                if is_proto_name(k) {
                    return;
                }
                o.set(k.clone(), Val::Obj(Obj::new()));
            }
            match o.get_mut(k) {
                Some(Val::Obj(inner)) => o = inner,
                _ => return,
            }
        }
        let current = o.get(last).cloned();
        match current {
            Some(Val::Arr(mut items)) => {
                items.push(value);
                o.set(last.clone(), Val::Arr(items));
            }
            None | Some(Val::Undef) if !is_proto_name(last) => o.set(last.clone(), value),
            _ if eq(last, "__proto__") => {}
            Some(cur) if !bool_like => o.set(last.clone(), Val::Arr(vec![cur, value])),
            _ => o.set(last.clone(), value),
        }
    }

    /// yargs-parser's `newAliases`: the camel-case names created while parsing. yargs leaves
    /// these options out of the help text.
    pub fn new_aliases(&self) -> Vec<JsStr> {
        self.camel.iter().map(|(_, c)| c.clone()).collect()
    }

    fn has_own(&self, key: &str) -> bool {
        self.argv.contains(&js(key))
    }
}

/// Parses the arguments as yargs-parser 7 does with jwtgen's options. `now` is the default
/// for `-i`.
pub fn parse(args: &[JsStr], now: f64) -> Result<Parser, Crash> {
    let mut p = Parser {
        argv: Obj::new(),
        camel: Vec::new(),
    };
    p.argv.set(js("_"), Val::Arr(Vec::new()));
    for key in BOOLS {
        p.set_arg(js(key), Val::Bool(false))?;
    }
    let dashdash = js("--");
    let (args, not_flags) = match args.iter().position(|a| *a == dashdash) {
        Some(i) => (
            args.get(..i).unwrap_or_default(),
            args.get(i + 1..).unwrap_or_default(),
        ),
        None => (args, &[][..]),
    };
    let mut positional: Vec<Val> = Vec::new();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        let s = arg.as_slice();
        let next = args.get(i + 1);
        let long = s.starts_with(&[DASH, DASH]);
        let le2 = line_end(s, 2);
        if long && s.iter().take(le2).skip(3).any(|&c| c == EQ) {
            // --key=value
            let (key, value) = if s.get(2) == Some(&EQ) {
                (js("-"), from(s, 3))
            } else {
                let e = s
                    .iter()
                    .skip(2)
                    .position(|&c| c == EQ)
                    .map_or(s.len(), |p| p + 2);
                (slice(s, 2, e), from(s, e + 1))
            };
            if p.check(&key, &[]) {
                break; // an inherited "nargs" value derails the loop counter
            }
            p.set_arg(key, Val::Str(value))?;
        } else if s.starts_with(&js("--no-")) && s.get(5).is_some_and(|&c| is_dot(c)) {
            p.set_arg(slice(s, 5, line_end(s, 5)), Val::Bool(false))?;
        } else if long && s.get(2).is_some_and(|&c| is_dot(c)) {
            let key = slice(s, 2, le2);
            if p.check(&key, &[]) {
                break;
            }
            match next {
                Some(n)
                    if (n.first() != Some(&DASH) || is_negative(n)) && !p.check(&key, &BOOLS) =>
                {
                    p.set_arg(key, Val::Str(n.clone()))?;
                    i += 1;
                }
                Some(n) if eq(n, "true") || eq(n, "false") => {
                    p.set_arg(key, Val::Str(n.clone()))?;
                    i += 1;
                }
                _ => {
                    let d = p.default_for_type(&key);
                    p.set_arg(key, d)?;
                }
            }
        } else if s.first() == Some(&DASH)
            && s.get(1).is_some_and(|&c| is_dot(c))
            && s.get(2) == Some(&0x2E)
            && s.get(3).is_some_and(|&c| is_dot(c))
        {
            // -k.sub=value or -k.sub value (dot notation on a short option)
            let le3 = line_end(s, 3);
            if s.iter().take(le3).skip(4).any(|&c| c == EQ) {
                let e = s
                    .iter()
                    .skip(1)
                    .position(|&c| c == EQ)
                    .map_or(s.len(), |p| p + 1);
                if e == 1 {
                    return Err(Crash(
                        "cannot parse option \"".to_string() + &String::from_utf16_lossy(s) + "\"",
                    ));
                }
                p.set_arg(slice(s, 1, e), Val::Str(from(s, e + 1)))?;
            } else {
                let key = slice(s, 1, le3);
                match next {
                    Some(n) if n.first() != Some(&DASH) && !p.check(&key, &BOOLS) => {
                        p.set_arg(key, Val::Str(n.clone()))?;
                        i += 1;
                    }
                    _ => {
                        let d = p.default_for_type(&key);
                        p.set_arg(key, d)?;
                    }
                }
            }
        } else if s.first() == Some(&DASH)
            && s.get(1).is_some_and(|&c| c != DASH)
            && !is_negative(s)
        {
            // short option group: -abc, -s=value, -e60
            let letters = s.get(1..s.len().saturating_sub(1)).unwrap_or_default();
            let mut broken = false;
            for (j, &letter) in letters.iter().enumerate() {
                let next_part = from(s, j + 2);
                let following = letters.get(j + 1).copied();
                if following == Some(EQ) {
                    p.set_arg(vec![letter], Val::Str(from(s, j + 3)))?;
                    broken = true;
                    break;
                }
                if next_part == [DASH] {
                    p.set_arg(vec![letter], Val::Str(next_part))?;
                    continue;
                }
                let is_letter = u8::try_from(letter).is_ok_and(|l| l.is_ascii_alphabetic());
                if is_letter && is_short_number(&next_part) {
                    p.set_arg(vec![letter], Val::Str(next_part))?;
                    broken = true;
                    break;
                }
                let non_word = following.is_some_and(|f| {
                    !u8::try_from(f).is_ok_and(|f| f.is_ascii_alphanumeric() || f == b'_')
                });
                if non_word {
                    p.set_arg(vec![letter], Val::Str(next_part))?;
                    broken = true;
                    break;
                }
                let d = p.default_for_type(&[letter]);
                p.set_arg(vec![letter], d)?;
            }
            let key = s.last().copied().unwrap_or(DASH);
            if !broken && key != DASH {
                let key = vec![key];
                match next {
                    Some(n)
                        if (!starts_like_flag(n) || is_negative(n)) && !p.check(&key, &BOOLS) =>
                    {
                        p.set_arg(key, Val::Str(n.clone()))?;
                        i += 1;
                    }
                    Some(n) if eq(n, "true") || eq(n, "false") => {
                        p.set_arg(key, Val::Str(n.clone()))?;
                        i += 1;
                    }
                    _ => {
                        let d = p.default_for_type(&key);
                        p.set_arg(key, d)?;
                    }
                }
            }
        } else {
            let v = Val::Str(arg.clone());
            positional.push(if is_number(&v) {
                Val::Num(string_to_number(arg))
            } else {
                v
            });
        }
        i += 1;
    }
    if let Some(Val::Arr(items)) = p.argv.get_mut(&js("_")) {
        items.extend(positional);
    }
    // Defaults: -i (and its alias) get "now" unless present.
    for key in ["i", "iat"] {
        if !p.has_own(key) {
            p.set_key(&[js(key)], Val::Num(now));
            if let Aliases::List(list) = p.aliases(&js(key)) {
                for a in list {
                    if !p.argv.contains(&a) {
                        p.set_key(&[a], Val::Num(now));
                    }
                }
            }
        }
    }
    if let Some(Val::Arr(items)) = p.argv.get_mut(&js("_")) {
        items.extend(not_flags.iter().cloned().map(Val::Str));
    }
    Ok(p)
}

/// `/^-?\d+(\.\d*)?(e-?\d+)?$/`
fn is_short_number(s: &[u16]) -> bool {
    let b: Option<Vec<u8>> = s.iter().map(|&c| u8::try_from(c).ok()).collect();
    let Some(b) = b else { return false };
    let mut i = usize::from(b.first() == Some(&b'-'));
    let count = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if count(&mut i) == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        count(&mut i);
    }
    if b.get(i) == Some(&b'e') {
        i += 1;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        if count(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `/^(-|--)[^-]/`
fn starts_like_flag(s: &[u16]) -> bool {
    match (s.first(), s.get(1), s.get(2)) {
        (Some(&DASH), Some(&c), _) if c != DASH => true,
        (Some(&DASH), Some(&DASH), Some(&c)) => c != DASH,
        _ => false,
    }
}

/// yargs-parser's parse followed by yargs' own handling: the `help` command word, bash
/// completion, `--help`, then validation of `-a` (required, limited choices).
pub enum Outcome {
    Help,
    Completions(Vec<String>),
    Fail(String),
    Run(Obj),
}

pub const CHOICES: [&str; 4] = ["HS256", "HS384", "HS512", "RS256"];

/// Runs yargs' steps after parsing. `accept` may allow further `-a` values.
pub fn yargs(
    raw: &[JsStr],
    now: f64,
    accept: &dyn Fn(&Val, &Obj) -> bool,
) -> Result<(Outcome, Vec<JsStr>), Crash> {
    let parsed = parse(raw, now)?;
    let hidden = parsed.new_aliases();
    Ok((validate(parsed.argv, raw, now, accept)?, hidden))
}

fn validate(
    mut argv: Obj,
    raw: &[JsStr],
    now: f64,
    accept: &dyn Fn(&Val, &Obj) -> bool,
) -> Result<Outcome, Crash> {
    // A positional "help" is the help command.
    let mut saw_help = false;
    if let Some(Val::Arr(items)) = argv.get_mut(&js("_")) {
        items.retain(|v| {
            let is_help = matches!(v, Val::Str(s) if eq(s, "help"));
            saw_help |= is_help;
            !is_help
        });
    }
    if saw_help {
        argv.set(js("help"), Val::Bool(true));
    }
    if argv.contains(&js("get-yargs-completions")) {
        return Ok(Outcome::Completions(completions(raw, now)?));
    }
    if argv.get(&js("help")).is_some_and(super::js::truthy) {
        return Ok(Outcome::Help);
    }
    if argv.contains(&js("hasOwnProperty")) {
        return Err(Crash(
            "option name \"hasOwnProperty\" is not supported".into(),
        ));
    }
    let a = match argv.get(&js("a")) {
        None | Some(Val::Undef) => return Ok(Outcome::Fail("Missing required argument: a".into())),
        Some(a) => a.clone(),
    };
    let values = match &a {
        Val::Arr(items) => items.clone(),
        other => vec![other.clone()],
    };
    let invalid: Vec<&Val> = values
        .iter()
        .filter(|v| {
            let listed = matches!(v, Val::Str(s) if CHOICES.iter().any(|c| eq(s, c)));
            !listed && !accept(v, &argv)
        })
        .collect();
    if !invalid.is_empty() {
        let given: Vec<String> = invalid
            .iter()
            .map(|v| {
                super::js::stringify(v, 0)
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| "undefined".into())
            })
            .collect();
        let choices: Vec<String> = CHOICES.iter().map(|c| format!("\"{c}\"")).collect();
        return Ok(Outcome::Fail(format!(
            "Invalid values:\n  Argument: a, Given: {}, Choices: {}",
            given.join(", "),
            choices.join(", ")
        )));
    }
    Ok(Outcome::Run(argv))
}

/// yargs' bash completion: the options not already given as `--name`, when the word being
/// completed starts with `-`.
fn completions(raw: &[JsStr], now: f64) -> Result<Vec<String>, Crash> {
    let marker = js("--get-yargs-completions");
    let args = match raw.iter().position(|a| *a == marker) {
        Some(i) => raw.get(i + 1..).unwrap_or_default(),
        None => raw,
    };
    // yargs re-parses the remaining words first (which may crash the same ways).
    let p = parse(args, now)?;
    let current = args.last().cloned().unwrap_or_default();
    if current.first() != Some(&DASH) {
        return Ok(Vec::new());
    }
    let given = |name: &[u16]| {
        let mut flag = js("--");
        flag.extend_from_slice(name);
        args.contains(&flag)
    };
    Ok(KEYS
        .iter()
        .filter(|key| {
            let k = js(key);
            let aliases = match p.aliases(&k) {
                Aliases::List(list) => list,
                Aliases::Proto => Vec::new(),
            };
            !given(&k) && !aliases.iter().any(|a| given(a))
        })
        .map(|key| format!("--{key}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_matches_the_camelcase_package() {
        // Expected values from camelcase 4.1.0 under Node.
        for (input, want) in [
            ("a-_@", "a_@"),
            ("foo-bar", "fooBar"),
            ("-a", "a"),
            ("a-", "a"),
            ("Foo-BAR-baz", "fooBarBaz"),
            ("--x", "x"),
            ("a_-b", "aB"),
            ("a -b", "aB"),
            ("ab-Cd", "abCd"),
            ("A-B", "aB"),
            ("x-1y", "x1y"),
            ("é-a", "éA"),
            ("a.b-c", "aBC"),
            ("a--@", "a--@"),
            ("-_-", ""),
            ("a-_-@b", "a_-@b"),
        ] {
            assert_eq!(
                String::from_utf16_lossy(&camel_case(&js(input))),
                want,
                "{input}"
            );
        }
    }

    #[test]
    fn yargs_number_detection() {
        for s in ["1", "-1", "+1.5", ".5", "5.", "1e5", "0x1F", "0X1f", "1e-5"] {
            assert!(is_number(&Val::Str(js(s))), "{s}");
        }
        for s in ["", "1E5", "0x", "abc", "1e", "-", "1.2.3", " 1"] {
            assert!(!is_number(&Val::Str(js(s))), "{s}");
        }
    }
}
