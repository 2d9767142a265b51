//! The request path, made canonical before routing (RFC 3986 §6.2.2).
//!
//! A gateway that routes on the raw path while the backend normalises it can be walked past:
//! `/public/../admin` routes to `/public` and is served from `/admin`. So the path is made
//! canonical first, then routed, and the canonical path is what the backend receives:
//! - percent-encoded unreserved characters (`%2e`, `%61`, `%7E`) are decoded; every other
//!   percent-encoding is kept, with upper-case hex digits;
//! - dot segments are removed (RFC 3986 §5.2.4), also when written `%2e%2e` or `.%2E`;
//! - what cannot be made unambiguous is refused ([`PathError`], a `400`): an encoded `/` or `\`,
//!   a raw `\`, an encoded control character or NUL, an encoded `%` (a second decoding by the
//!   backend would be a second path), a `..` above the root, and, unless configured, empty
//!   segments (`//`) and path parameters (`;`).
//!
//! With `empty_path_segments = "merge"` empty segments are removed; with `"keep"` they are
//! forwarded but routing ignores them. With `path_parameters = "keep"` parameters are forwarded
//! but routing ignores them, and a segment that is a dot segment once its parameters are
//! stripped (`..;x`, as Tomcat reads it) is removed like one.

use std::borrow::Cow;

use serde::Deserialize;

/// What to do with empty path segments (`//`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmptySegments {
    /// `400` (the default).
    #[default]
    Reject,
    /// Removed: `/a//b` is routed and forwarded as `/a/b`.
    Merge,
    /// Forwarded as sent; routing reads `/a//b` as `/a/b`.
    Keep,
}

/// What to do with path parameters (`;` in a segment).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PathParameters {
    /// `400` (the default).
    #[default]
    Reject,
    /// Forwarded as sent; routing reads `/a;x/b` as `/a/b`.
    Keep,
}

/// The configured path rules (`[http]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathRules {
    pub empty_segments: EmptySegments,
    pub parameters: PathParameters,
}

/// Why a request path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the request target is not an absolute path")]
    NotAbsolute,
    #[error("the path has a malformed percent-encoding")]
    BadPercent,
    #[error("the path has an encoded \"/\" (%2F)")]
    EncodedSlash,
    #[error("the path has a \"\\\" or an encoded one (%5C)")]
    Backslash,
    #[error("the path has an encoded \"%\" (%25)")]
    EncodedPercent,
    #[error("the path has a control character or NUL")]
    Control,
    #[error("the path has an empty segment (\"//\")")]
    EmptySegment,
    #[error("the path has a path parameter (\";\")")]
    Parameter,
    #[error("the path has a \"..\" segment above the root")]
    AboveRoot,
}

impl PathError {
    /// A short label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            PathError::NotAbsolute => "not_absolute",
            PathError::BadPercent => "bad_percent",
            PathError::EncodedSlash => "encoded_slash",
            PathError::Backslash => "backslash",
            PathError::EncodedPercent => "encoded_percent",
            PathError::Control => "control",
            PathError::EmptySegment => "empty_segment",
            PathError::Parameter => "path_parameter",
            PathError::AboveRoot => "above_root",
        }
    }
}

/// A canonical path: what the backend receives, and what routing reads when that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical<'a> {
    pub forward: Cow<'a, str>,
    /// Set only when routing must ignore kept empty segments or parameters.
    pub route: Option<String>,
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn upper_hex(digit: u8) -> char {
    char::from_digit(u32::from(digit), 16).map_or('0', |c| c.to_ascii_uppercase())
}

/// Step one: percent-encodings checked and normalised, characters checked.
fn decode<'a>(path: &'a str, rules: &PathRules) -> Result<Cow<'a, str>, PathError> {
    let bytes = path.as_bytes();
    let mut changed = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => return Err(PathError::Backslash),
            b';' if rules.parameters == PathParameters::Reject => return Err(PathError::Parameter),
            0..=0x1f | 0x7f => return Err(PathError::Control),
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_value);
                let lo = bytes.get(i + 2).copied().and_then(hex_value);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(PathError::BadPercent);
                };
                let v = hi * 16 + lo;
                match v {
                    b'/' => return Err(PathError::EncodedSlash),
                    b'\\' => return Err(PathError::Backslash),
                    b'%' => return Err(PathError::EncodedPercent),
                    b';' if rules.parameters == PathParameters::Reject => {
                        return Err(PathError::Parameter)
                    }
                    0..=0x1f | 0x7f => return Err(PathError::Control),
                    _ => {}
                }
                // Decoded when unreserved; otherwise kept, upper-case.
                let lower = |at: usize| bytes.get(at).is_some_and(u8::is_ascii_lowercase);
                changed |= is_unreserved(v) || lower(i + 1) || lower(i + 2);
                i += 3;
            }
            _ => i += 1,
        }
    }
    if !changed {
        return Ok(Cow::Borrowed(path));
    }
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let (hi, lo) = (
                bytes.get(i + 1).copied().and_then(hex_value),
                bytes.get(i + 2).copied().and_then(hex_value),
            );
            if let (Some(hi), Some(lo)) = (hi, lo) {
                let v = hi * 16 + lo;
                if is_unreserved(v) {
                    out.push(char::from(v));
                } else {
                    out.push('%');
                    out.push(upper_hex(hi));
                    out.push(upper_hex(lo));
                }
            }
            i += 3;
        } else {
            // Copy the run up to the next '%' at once (keeps multi-byte characters whole).
            let end = bytes
                .get(i..)
                .and_then(|rest| rest.iter().position(|&c| c == b'%'))
                .map_or(bytes.len(), |n| i + n);
            out.push_str(path.get(i..end).unwrap_or_default());
            i = end;
        }
    }
    Ok(Cow::Owned(out))
}

/// Whether a path needs no work: no `%`, `;`, `\`, control character, `//` or `/.`.
fn is_plain(path: &[u8]) -> bool {
    let mut after_slash = false;
    for &b in path {
        if SPECIAL.get(usize::from(b)).copied().unwrap_or(true)
            || (after_slash && (b == b'/' || b == b'.'))
        {
            return false;
        }
        after_slash = b == b'/';
    }
    true
}

/// The bytes that take a path off the fast path: `%`, `;`, `\` and control characters.
// The loop index stays below 256, the table's length.
#[allow(clippy::indexing_slicing)]
static SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8, b'%' | b';' | b'\\' | 0..=0x1f | 0x7f);
        b += 1;
    }
    table
};

/// The segment's name: itself, or what comes before its first `;` when parameters are kept.
fn name(segment: &str) -> &str {
    segment.split(';').next().unwrap_or(segment)
}

/// Makes `path` (the request target's path, before any `?`) canonical, or says why it cannot.
pub fn canonicalize<'a>(path: &'a str, rules: &PathRules) -> Result<Canonical<'a>, PathError> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(PathError::NotAbsolute);
    };
    // The usual path has nothing to change: one scan of its bytes, no allocation.
    if is_plain(path.as_bytes()) {
        return Ok(Canonical {
            forward: Cow::Borrowed(path),
            route: None,
        });
    }
    let decoded = decode(path, rules)?;
    let keep_params = rules.parameters == PathParameters::Keep;
    let segments: Vec<&str> = match &decoded {
        Cow::Borrowed(_) => rest.split('/').collect(),
        Cow::Owned(s) => s.get(1..).unwrap_or_default().split('/').collect(),
    };
    let count = segments.len();
    let mut out: Vec<&str> = Vec::with_capacity(count);
    let mut changed = false;
    for (i, &segment) in segments.iter().enumerate() {
        let last = i + 1 == count;
        let n = if keep_params { name(segment) } else { segment };
        if n == "." || n == ".." {
            changed = true;
            if n == ".." && out.pop().is_none() {
                return Err(PathError::AboveRoot);
            }
            if last {
                out.push("");
            }
            continue;
        }
        // A segment that is empty once its parameters are stripped (`/;x/`) is an empty
        // segment too: Tomcat reads `/;x/admin` as `/admin`.
        if n.is_empty() && !last {
            match rules.empty_segments {
                EmptySegments::Reject => return Err(PathError::EmptySegment),
                EmptySegments::Merge => {
                    changed = true;
                    continue;
                }
                // A leading `//` is merged even when kept: some parsers read `//host/…` as an
                // authority, not a path.
                EmptySegments::Keep if out.is_empty() => {
                    changed = true;
                    continue;
                }
                EmptySegments::Keep => {}
            }
        }
        out.push(segment);
    }
    // Routing ignores kept empty segments and parameters.
    let route_differs = out.iter().enumerate().any(|(i, s)| {
        (keep_params && s.contains(';')) || (name(s).is_empty() && i + 1 != out.len())
    });
    let route = route_differs.then(|| {
        let last = out.len().saturating_sub(1);
        let kept: Vec<&str> = out
            .iter()
            .enumerate()
            .filter(|(i, s)| !name(s).is_empty() || *i == last)
            .map(|(_, s)| if keep_params { name(s) } else { s })
            .collect();
        format!("/{}", kept.join("/"))
    });
    let forward = if changed {
        Cow::Owned(format!("/{}", out.join("/")))
    } else {
        match decoded {
            Cow::Borrowed(_) => Cow::Borrowed(path),
            Cow::Owned(s) => Cow::Owned(s),
        }
    };
    Ok(Canonical { forward, route })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const STRICT: PathRules = PathRules {
        empty_segments: EmptySegments::Reject,
        parameters: PathParameters::Reject,
    };

    fn ok(path: &str, rules: &PathRules) -> (String, String) {
        let c = canonicalize(path, rules).unwrap();
        let route = c.route.clone().unwrap_or_else(|| c.forward.to_string());
        (c.forward.to_string(), route)
    }

    fn strict(path: &str) -> Result<String, PathError> {
        canonicalize(path, &STRICT).map(|c| c.forward.into_owned())
    }

    #[test]
    fn canonical_paths_are_borrowed_unchanged() {
        for p in [
            "/",
            "/orders/42",
            "/a/b/",
            "/a.b/c..d/.e",
            "/caf%C3%A9",
            "/a-b_c~d",
        ] {
            let c = canonicalize(p, &STRICT).unwrap();
            assert!(matches!(c.forward, Cow::Borrowed(_)), "{p}");
            assert_eq!(c.forward, p);
            assert_eq!(c.route, None);
        }
    }

    #[test]
    fn dot_segments_are_removed_as_rfc_3986_says() {
        for (input, expected) in [
            ("/public/../admin/secret", "/admin/secret"),
            ("/public/%2e%2e/admin/secret", "/admin/secret"),
            ("/public/.%2E/admin/secret", "/admin/secret"),
            ("/public/%2E./admin", "/admin"),
            ("/./admin/x", "/admin/x"),
            ("/a/b/./c/.", "/a/b/c/"),
            ("/a/b/..", "/a/"),
            ("/a/..", "/"),
            ("/a/b/../../c", "/c"),
            ("/%61dmin/secret", "/admin/secret"),
            ("/%41%7e%2D%5f", "/A~-_"),
            ("/caf%c3%a9", "/caf%C3%A9"),
            ("/a%20b", "/a%20b"),
        ] {
            assert_eq!(strict(input).as_deref(), Ok(expected), "{input}");
        }
    }

    #[test]
    fn ambiguous_paths_are_refused() {
        for (input, error) in [
            ("/admin%2Fsecret", PathError::EncodedSlash),
            ("/admin%2fsecret", PathError::EncodedSlash),
            ("/admin\\secret", PathError::Backslash),
            ("/admin%5Csecret", PathError::Backslash),
            ("/admin%5csecret", PathError::Backslash),
            ("/admin%00", PathError::Control),
            ("/admin%0d%0a", PathError::Control),
            ("/admin%7F", PathError::Control),
            ("/a%252e%252e/admin", PathError::EncodedPercent),
            ("/a%2", PathError::BadPercent),
            ("/a%zz", PathError::BadPercent),
            ("/a%", PathError::BadPercent),
            ("//admin/x", PathError::EmptySegment),
            ("/public//admin", PathError::EmptySegment),
            ("/admin;x/secret", PathError::Parameter),
            ("/admin%3bx/secret", PathError::Parameter),
            ("/..", PathError::AboveRoot),
            ("/../admin", PathError::AboveRoot),
            ("/a/../../admin", PathError::AboveRoot),
            ("/%2e%2e/admin", PathError::AboveRoot),
            ("*", PathError::NotAbsolute),
            ("", PathError::NotAbsolute),
            ("admin", PathError::NotAbsolute),
        ] {
            assert_eq!(strict(input), Err(error), "{input}");
        }
    }

    /// Over every path of up to 6 characters from an alphabet of the tricky ones: a canonical
    /// path is its own canonical form (so routing and the backend read the same path), holds no
    /// dot segment, empty segment or encoded unreserved character.
    #[test]
    fn canonical_forms_are_fixed_points_with_no_dot_or_empty_segments() {
        const ALPHABET: &[u8] = b"/.a%2eE;";
        let mut paths = vec![String::from("/")];
        let mut frontier = paths.clone();
        for _ in 0..6 {
            let mut next = Vec::new();
            for p in &frontier {
                for &c in ALPHABET {
                    next.push(format!("{p}{}", char::from(c)));
                }
            }
            paths.extend(next.iter().cloned());
            frontier = next;
        }
        let mut accepted = 0;
        for p in &paths {
            let Ok(c) = canonicalize(p, &STRICT) else {
                continue;
            };
            accepted += 1;
            let again = canonicalize(&c.forward, &STRICT).unwrap();
            assert!(
                matches!(again.forward, Cow::Borrowed(_)),
                "{p} -> {}",
                c.forward
            );
            assert_eq!(again.forward, c.forward, "{p}");
            let segments: Vec<&str> = c.forward[1..].split('/').collect();
            let last = segments.len() - 1;
            for (i, seg) in segments.iter().enumerate() {
                assert!(*seg != "." && *seg != "..", "{p} -> {}", c.forward);
                assert!(!seg.is_empty() || i == last, "{p} -> {}", c.forward);
            }
            assert!(
                !c.forward.to_ascii_lowercase().contains("%2e"),
                "{p} -> {}",
                c.forward
            );
        }
        assert!(accepted > 10_000, "{accepted} of {} accepted", paths.len());
    }

    #[test]
    fn empty_segments_merge_or_keep_when_configured() {
        let merge = PathRules {
            empty_segments: EmptySegments::Merge,
            ..STRICT
        };
        assert_eq!(
            ok("//admin//x/", &merge),
            ("/admin/x/".into(), "/admin/x/".into())
        );
        assert_eq!(ok("/a//../b", &merge), ("/b".into(), "/b".into()));
        let keep = PathRules {
            empty_segments: EmptySegments::Keep,
            ..STRICT
        };
        // A leading empty segment is merged even when kept (`//host/…` reads as an authority).
        assert_eq!(
            ok("//admin/x", &keep),
            ("/admin/x".into(), "/admin/x".into())
        );
        assert_eq!(ok("/a//b/", &keep), ("/a//b/".into(), "/a/b/".into()));
        // RFC 3986 §5.2.4 on the kept form: ".." removes the empty segment.
        assert_eq!(ok("/a//../b", &keep), ("/a/b".into(), "/a/b".into()));
    }

    #[test]
    fn path_parameters_kept_when_configured_never_hide_a_dot_segment() {
        let keep = PathRules {
            parameters: PathParameters::Keep,
            ..STRICT
        };
        assert_eq!(
            ok("/admin;jsessionid=1/x", &keep),
            ("/admin;jsessionid=1/x".into(), "/admin/x".into())
        );
        // Tomcat reads "..;" as "..": it is removed like one.
        assert_eq!(
            ok("/public/..;/admin/x", &keep),
            ("/admin/x".into(), "/admin/x".into())
        );
        assert_eq!(
            ok("/public/.;x/admin", &keep),
            ("/public/admin".into(), "/public/admin".into())
        );
        assert_eq!(ok("/a%3Bb", &keep), ("/a%3Bb".into(), "/a%3Bb".into()));
        // A segment that is only parameters is an empty segment (Tomcat reads /;x/admin as
        // /admin): refused unless empty segments are allowed, and then routed without it.
        assert_eq!(
            canonicalize("/;x/admin/secret", &keep),
            Err(PathError::EmptySegment)
        );
        assert_eq!(
            canonicalize("/public/;/admin", &keep),
            Err(PathError::EmptySegment)
        );
        let both = PathRules {
            parameters: PathParameters::Keep,
            empty_segments: EmptySegments::Keep,
        };
        assert_eq!(
            ok("/;x/admin/secret", &both),
            ("/admin/secret".into(), "/admin/secret".into())
        );
        assert_eq!(ok("/a/;x/b", &both), ("/a/;x/b".into(), "/a/b".into()));
    }
}
