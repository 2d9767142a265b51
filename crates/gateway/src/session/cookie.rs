//! The gateway's cookies: reading them from `Cookie`, removing them before the backend sees
//! them, and `Set-Cookie` values.

use hyper::header::{self, HeaderMap, HeaderValue};

/// Browsers keep a cookie of up to about 4 KiB (name, value and attributes).
pub const MAX_COOKIE_BYTES: usize = 4000;
/// A session too large for one cookie is split into chunks of this size.
pub const CHUNK_BYTES: usize = 3800;
/// At most this many cookies carry one session (about 30 KiB; proxies in front commonly take
/// 32 KiB of request head or more).
pub const MAX_CHUNKS: usize = 8;

/// The name of chunk `i` (1-based after the first, which keeps the cookie's own name).
pub fn chunk_name(name: &str, i: usize) -> String {
    format!("{name}_{i}")
}

/// Every cookie name a session may use: the cookie and its chunks.
pub fn session_names(name: &str) -> Vec<String> {
    std::iter::once(name.to_owned())
        .chain((1..MAX_CHUNKS).map(|i| chunk_name(name, i)))
        .collect()
}

/// The login cookie's name (authorize → callback).
pub fn login_name(cookie_name: &str) -> String {
    format!("{cookie_name}_login")
}

/// Removes the gateway's own cookies (the session, its chunks, the login cookie): the backend
/// never sees them.
pub fn remove_gateway_cookies(headers: &mut HeaderMap, cookie_name: &str) {
    if headers.get(header::COOKIE).is_none() {
        return;
    }
    let mut names = session_names(cookie_name);
    names.push(login_name(cookie_name));
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    remove_cookies(headers, &names);
}

/// A sealed value as cookies: one `name=value` when it fits, otherwise `name={n}~{part 0}` and
/// `name_1={part 1}` … `name_{n-1}` (base64url has no `~`, so the two forms never mix up).
/// None when it needs more than [`MAX_CHUNKS`].
pub fn split(name: &str, sealed: &str) -> Option<Vec<(String, String)>> {
    if name.len() + 1 + sealed.len() <= MAX_COOKIE_BYTES - 100 {
        return Some(vec![(name.to_owned(), sealed.to_owned())]);
    }
    let parts: Vec<&str> = sealed
        .as_bytes()
        .chunks(CHUNK_BYTES)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    if parts.len() > MAX_CHUNKS {
        return None;
    }
    Some(
        parts
            .iter()
            .enumerate()
            .map(|(i, part)| {
                if i == 0 {
                    (name.to_owned(), format!("{}~{part}", parts.len()))
                } else {
                    (chunk_name(name, i), (*part).to_owned())
                }
            })
            .collect(),
    )
}

/// The sealed value of a session written by [`split`], and how many cookies carried it; None
/// when a chunk is missing.
pub fn joined(headers: &HeaderMap, name: &str) -> Option<(String, usize)> {
    let first = cookie(headers, name)?;
    let Some((count, part)) = first.split_once('~') else {
        return Some((first.to_owned(), 1));
    };
    let count: usize = count
        .parse()
        .ok()
        .filter(|n| (2..=MAX_CHUNKS).contains(n))?;
    let mut out = String::with_capacity(count * CHUNK_BYTES);
    out.push_str(part);
    for i in 1..count {
        out.push_str(cookie(headers, &chunk_name(name, i))?);
    }
    Some((out, count))
}

/// The session's chunk cookies present in the request (`name_1`, …), for deleting stale ones.
pub fn present_chunks(headers: &HeaderMap, name: &str) -> Vec<String> {
    (1..MAX_CHUNKS)
        .map(|i| chunk_name(name, i))
        .filter(|n| cookie(headers, n).is_some())
        .collect()
}

/// `Set-Cookie` values for a session: its cookies, and deletions of chunks the request had
/// that the new value does not use.
pub fn session_cookies(
    headers: &HeaderMap,
    name: &str,
    parts: &[(String, String)],
    secure: bool,
) -> Vec<String> {
    let mut out: Vec<String> = parts
        .iter()
        .map(|(n, v)| set_cookie(n, v, "/", None, secure))
        .collect();
    for stale in present_chunks(headers, name) {
        if !parts.iter().any(|(n, _)| *n == stale) {
            out.push(set_cookie(&stale, "", "/", Some(0), secure));
        }
    }
    out
}

/// `Set-Cookie` values deleting the session cookie and every chunk the request had.
pub fn clear_session(headers: &HeaderMap, name: &str, secure: bool) -> Vec<String> {
    std::iter::once(name.to_owned())
        .chain(present_chunks(headers, name))
        .map(|n| set_cookie(&n, "", "/", Some(0), secure))
        .collect()
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// Removes the named cookies from the request's `Cookie` headers (the backend never sees the
/// gateway's own cookies).
pub fn remove_cookies(headers: &mut HeaderMap, names: &[&str]) {
    let kept: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(n, _)| n);
            !names.contains(&name)
        })
        .map(str::to_owned)
        .collect();
    headers.remove(header::COOKIE);
    if !kept.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&kept.join("; ")) {
            headers.insert(header::COOKIE, v);
        }
    }
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Secure over HTTPS; `max_age` 0 deletes it.
pub fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<i64>,
    secure: bool,
) -> String {
    let mut out = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        out.push_str(&format!("; Max-Age={}", age.max(0)));
    }
    if secure {
        out.push_str("; Secure");
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn large_sessions_are_split_and_joined() {
        let mut h = HeaderMap::new();
        let small = "a".repeat(100);
        assert_eq!(
            split("sid", &small).unwrap(),
            [("sid".into(), small.clone())]
        );
        let big = "b".repeat(CHUNK_BYTES * 2 + 17);
        let parts = split("sid", &big).unwrap();
        assert_eq!(parts.len(), 3);
        assert!(parts[0].1.starts_with("3~"));
        assert_eq!(parts[2].0, "sid_2");
        assert!(parts
            .iter()
            .all(|(n, v)| n.len() + v.len() < MAX_COOKIE_BYTES));
        let cookie_line = parts
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        h.insert(header::COOKIE, HeaderValue::from_str(&cookie_line).unwrap());
        assert_eq!(joined(&h, "sid").unwrap(), (big, 3));
        // A smaller session deletes the chunks it no longer needs.
        let set = session_cookies(&h, "sid", &split("sid", &small).unwrap(), false);
        assert_eq!(set.len(), 3);
        assert!(set[1].starts_with("sid_1=; Path=/;") && set[1].ends_with("Max-Age=0"));
        assert_eq!(clear_session(&h, "sid", true).len(), 3);
        // A missing chunk: no session.
        h.insert(header::COOKIE, HeaderValue::from_static("sid=2~abc"));
        assert!(joined(&h, "sid").is_none());
        h.insert(header::COOKIE, HeaderValue::from_static("sid=99~abc"));
        assert!(joined(&h, "sid").is_none());
        assert!(split("sid", &"c".repeat(CHUNK_BYTES * MAX_CHUNKS + 1)).is_none());
        assert_eq!(session_names("s").len(), MAX_CHUNKS);
    }

    #[test]
    fn cookies_are_read_removed_and_set() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; sid=xyz"));
        h.append(header::COOKIE, HeaderValue::from_static("sid_login=l; b=2"));
        assert_eq!(cookie(&h, "sid"), Some("xyz"));
        assert_eq!(cookie(&h, "sid_login"), Some("l"));
        assert_eq!(cookie(&h, "c"), None);
        remove_cookies(&mut h, &["sid", "sid_login"]);
        assert_eq!(h.get_all(header::COOKIE).iter().count(), 1);
        assert_eq!(h[header::COOKIE], "a=1; b=2");
        remove_cookies(&mut h, &["a", "b"]);
        assert!(h.get(header::COOKIE).is_none());
        assert_eq!(
            set_cookie("sid", "v", "/", None, true),
            "sid=v; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert_eq!(
            set_cookie("sid", "", "/pa/oidc", Some(0), false),
            "sid=; Path=/pa/oidc; HttpOnly; SameSite=Lax; Max-Age=0"
        );
    }
}
