//! The client's header fields, screened before any write path copies them, and the request
//! checks that come before routing.
//!
//! CGI, WSGI, PHP and many frameworks read `X_Identity_JWT` and `X-Identity-JWT` as the same
//! variable (`HTTP_X_IDENTITY_JWT`), so a client could send a copy of a field the gateway owns
//! under a name the gateway does not recognise. Screening drops, before anything else reads the
//! request:
//! - every field whose name holds `_`, unless `[http] underscores_in_headers` (nginx's default
//!   and option);
//! - even then, every field whose name equals a protected name once `_` is read as `-` and case
//!   is folded: the identity-mapping headers, `Authorization`, `Forwarded`, `X-Forwarded-*`,
//!   `Host`, the framing fields and the hop-by-hop fields;
//! - on every application, the client's own copy of every configured identity-mapping header,
//!   mapped or not on this route (the route's own mapping then sets the real value);
//! - path overrides (`X-Original-URL`, `X-Rewrite-URL`) and the `X-Forwarded` family members the
//!   gateway does not set (`X-Real-IP`, `X-Forwarded-Port`, `-Prefix`, `-Server`).

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::Version;

/// Fields a client may never send, in any spelling: path overrides that some frameworks route
/// by instead of the request line (IIS, Symfony, Laminas: `X-Original-URL`, `X-Rewrite-URL`),
/// which would undo the gateway's routing, and members of the `X-Forwarded` family that the
/// gateway does not set, which backends read as facts about the client.
const CLIENT_NEVER: [&str; 11] = [
    "x-original-url",
    "x-rewrite-url",
    "x-real-ip",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-server",
    "x-forwarded-ssl",
    "x-forwarded-scheme",
    "x-forwarded-protocol",
    "x-client-ip",
    "true-client-ip",
];

/// The hop-by-hop fields by name (RFC 9110 §7.6.1), besides any `Proxy-*` and those named in
/// `Connection`.
pub const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Names the gateway owns, as they read with `_` as `-` (besides the identity headers and the
/// hop-by-hop fields).
const PROTECTED: [&str; 7] = [
    "authorization",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "host",
    "content-length",
];

/// What [`screen`] dropped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    /// Fields dropped only because their names hold `_`.
    pub underscore: u32,
    /// Fields that were (or read as) a field the gateway owns.
    pub protected: u32,
}

/// Whether `name`, with `_` read as `-` (names are already lower case), is protected.
fn reads_as_protected(name: &str, identity: &[HeaderName]) -> bool {
    let same = |protected: &str| {
        protected.len() == name.len()
            && protected
                .bytes()
                .zip(name.bytes())
                .all(|(p, n)| p == n || (p == b'-' && n == b'_'))
    };
    PROTECTED
        .iter()
        .chain(HOP_BY_HOP.iter())
        .chain(CLIENT_NEVER.iter())
        .any(|p| same(p))
        || name.starts_with("proxy_")
        || name.starts_with("proxy-")
        || identity.iter().any(|h| same(h.as_str()))
}

/// Drops the client's fields that could pass for the gateway's own (see the module docs).
/// `identity` is every configured identity-mapping header except `Authorization`.
pub fn screen(headers: &mut HeaderMap, identity: &[HeaderName], underscores: bool) -> Dropped {
    let mut dropped = Dropped::default();
    let mut remove: Vec<HeaderName> = Vec::new();
    for name in headers.keys() {
        let text = name.as_str();
        if text.contains('_') {
            if !underscores {
                if reads_as_protected(text, identity) {
                    dropped.protected += 1;
                } else {
                    dropped.underscore += 1;
                }
                remove.push(name.clone());
            } else if reads_as_protected(text, identity) {
                dropped.protected += 1;
                remove.push(name.clone());
            }
        } else if identity.contains(name)
            || ((text.starts_with("x-") || text.starts_with("true-"))
                && CLIENT_NEVER.contains(&text))
        {
            dropped.protected += 1;
            remove.push(name.clone());
        }
    }
    for name in remove {
        headers.remove(name);
    }
    dropped
}

/// [`is_hop_by_hop`] for a field name as received (any case).
pub(crate) fn is_hop_by_hop_bytes(name: &[u8]) -> bool {
    name.get(..6)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"proxy-"))
        || HOP_BY_HOP
            .iter()
            .any(|h| h.as_bytes().eq_ignore_ascii_case(name))
}

/// Whether a field is hop-by-hop by its name alone (the fixed list or `Proxy-*`).
pub fn is_hop_by_hop(name: &HeaderName) -> bool {
    let name = name.as_str();
    name.starts_with("proxy-") || HOP_BY_HOP.contains(&name)
}

/// The trimmed elements of the comma-separated lists in every `name` field.
pub fn elements(headers: &HeaderMap, name: HeaderName) -> impl Iterator<Item = &str> {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// Whether a `name` field lists `token` (any case): `Connection: upgrade`, `TE: trailers`.
pub fn lists(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    elements(headers, name).any(|t| t.eq_ignore_ascii_case(token))
}

/// The names a `Connection` field lists (they are hop-by-hop too).
fn connection_names(headers: &HeaderMap) -> Vec<HeaderName> {
    elements(headers, header::CONNECTION)
        .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
        .collect()
}

/// Removes hop-by-hop fields from a response: the fixed list, any `Proxy-*`, and every field
/// named in `Connection`.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names; most messages have none, or only `Connection: keep-alive`.
    let mut remove: Vec<HeaderName> = headers
        .keys()
        .filter(|k| is_hop_by_hop(k))
        .cloned()
        .collect();
    if remove.is_empty() {
        return;
    }
    remove.extend(connection_names(headers));
    for name in remove {
        headers.remove(name);
    }
}

pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The client's IP address as a header value.
pub fn ip_value(client: std::net::SocketAddr) -> HeaderValue {
    HeaderValue::from_str(&client.ip().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// The token of `Authorization: Bearer TOKEN` (scheme case-insensitive).
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// What the gateway puts in a request's fields on the way to the backend.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// The backend's authority: its `Host`.
    pub authority: &'a HeaderValue,
    /// The client's address ([`ip_value`]).
    pub client_ip: &'a HeaderValue,
    /// `http` or `https`: how the client reached the gateway.
    pub proto: &'a str,
    /// The identity mapping's header, and whether it is `Authorization` (bearer mapping).
    pub mapped_header: Option<&'a HeaderName>,
    /// The mapped JWT for that header, when there are attributes.
    pub mapped: Option<&'a HeaderValue>,
    /// Our `Forwarded` value for this client and `Host`, when the caller has it already
    /// (a connection keeps it); otherwise [`forwarded_value`] makes it.
    pub forwarded: Option<&'a HeaderValue>,
}

/// The one rule set for the fields a backend receives, used by every write path: `emit` is
/// called for each field in order. The client's fields come first, without the hop-by-hop
/// ones (and those named in `Connection`) and without those the gateway sets; then `Host` (the
/// backend's), `X-Forwarded-For` (the client appended to the first prior value), `-Proto`,
/// `Forwarded` (ours, [`forwarded_value`]), `X-Forwarded-Host` (the client's `Host`), and the
/// mapped header. The client's own value of the mapped header is never passed on.
pub fn outgoing(
    headers: &HeaderMap,
    out: &Outgoing<'_>,
    mut emit: impl FnMut(&HeaderName, &HeaderValue),
) {
    let named = connection_names(headers);
    let kept = |name: &HeaderName| !named.contains(name);
    let replaced = |name: &HeaderName| {
        name == header::HOST
            || name == header::FORWARDED
            || name == X_FORWARDED_FOR
            || name == X_FORWARDED_PROTO
            || name == X_FORWARDED_HOST
            || out.mapped_header.is_some_and(|m| name == m)
    };
    for (name, value) in headers {
        if !is_hop_by_hop(name) && !replaced(name) && kept(name) {
            emit(name, value);
        }
    }
    emit(&header::HOST, out.authority);
    let prior = headers
        .get(X_FORWARDED_FOR)
        .filter(|_| kept(&X_FORWARDED_FOR))
        .and_then(|v| v.to_str().ok())
        .filter(|prior| !prior.trim().is_empty());
    let joined = prior.and_then(|prior| {
        let mut joined = Vec::with_capacity(prior.len() + 2 + out.client_ip.len());
        joined.extend_from_slice(prior.as_bytes());
        joined.extend_from_slice(b", ");
        joined.extend_from_slice(out.client_ip.as_bytes());
        HeaderValue::from_bytes(&joined).ok()
    });
    emit(&X_FORWARDED_FOR, joined.as_ref().unwrap_or(out.client_ip));
    let proto = if out.proto == "https" {
        HeaderValue::from_static("https")
    } else {
        HeaderValue::from_static("http")
    };
    emit(&X_FORWARDED_PROTO, &proto);
    let host = headers.get(header::HOST).filter(|_| kept(&header::HOST));
    match out.forwarded.filter(|_| kept(&header::HOST)) {
        Some(forwarded) => emit(&header::FORWARDED, forwarded),
        None => {
            if let Some(forwarded) = forwarded_value(out.client_ip, out.proto, host) {
                emit(&header::FORWARDED, &forwarded);
            }
        }
    }
    if let Some(host) = host {
        emit(&X_FORWARDED_HOST, host);
    }
    if let (Some(name), Some(value)) = (out.mapped_header, out.mapped) {
        emit(name, value);
    }
}

/// [`outgoing`] as a header map (for the hyper client path).
pub fn outgoing_map(headers: &HeaderMap, out: &Outgoing<'_>) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(headers.len() + 6);
    outgoing(headers, out, |name, value| {
        map.append(name.clone(), value.clone());
    });
    map
}

/// [`outgoing`] for an HTTP/2 backend: no `Host` (the target's authority is `:authority`),
/// and `TE: trailers` kept when the client sent it (gRPC needs it).
pub fn outgoing_h2(headers: &HeaderMap, out: &Outgoing<'_>) -> HeaderMap {
    let trailers = lists(headers, header::TE, "trailers");
    let mut map = outgoing_map(headers, out);
    map.remove(header::HOST);
    if trailers {
        map.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    map
}

/// Why a request is refused before routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("an HTTP/1.1 request needs a Host header field (RFC 9112 §3.2)")]
    NoHost,
    #[error("the request has more than one Host header field (RFC 9112 §3.2)")]
    TwoHosts,
    #[error("the Host header field is not a valid host")]
    BadHost,
}

/// RFC 9112 §3.2: exactly one `Host` in HTTP/1.1 (at most one in HTTP/1.0), and a value that is
/// a host with an optional port.
pub fn check_host(headers: &HeaderMap, version: Version) -> Result<(), RequestError> {
    let mut hosts = headers.get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (None, _) if version >= Version::HTTP_11 => Err(RequestError::NoHost),
        (None, _) => Ok(()),
        (Some(_), Some(_)) => Err(RequestError::TwoHosts),
        (Some(host), None) if is_host(host) => Ok(()),
        (Some(_), None) => Err(RequestError::BadHost),
    }
}

/// `uri-host [ ":" port ]` (RFC 9110 §7.2): a reg-name, IPv4 or bracketed IPv6 address, no
/// userinfo, path, whitespace or comma (a comma would be two hosts to some readers).
fn is_host(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|&b| HOST_BYTES.get(usize::from(b)).copied().unwrap_or(false))
}

/// The bytes [`is_host`] allows, as a table (checked on every request).
// The loop index stays below 256, the table's length.
#[allow(clippy::indexing_slicing)]
static HOST_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b':'
                    | b'['
                    | b']'
                    | b'%'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b'='
                    | b';'
            );
        b += 1;
    }
    table
};

/// Our `Forwarded` element (RFC 7239): `for`, `proto` and, when the client sent one, `host`.
/// The client's own `Forwarded` is replaced, as `X-Forwarded-Proto` and `-Host` are: a
/// backend reading its first element must not read what the client wrote (our choice; the
/// client's addresses stay in the appended `X-Forwarded-For`).
pub fn forwarded_value(
    client_ip: &HeaderValue,
    proto: &str,
    host: Option<&HeaderValue>,
) -> Option<HeaderValue> {
    let ip = client_ip.to_str().ok()?;
    let mut value = if ip.contains(':') {
        format!("for=\"[{ip}]\"")
    } else {
        format!("for={ip}")
    };
    value.push_str(";proto=");
    value.push_str(if proto == "https" { "https" } else { "http" });
    if let Some(host) = host.filter(|h| is_host(h)).and_then(|h| h.to_str().ok()) {
        value.push_str(";host=\"");
        value.push_str(host);
        value.push('"');
    }
    HeaderValue::from_str(&value).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn map(fields: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in fields {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn names(h: &HeaderMap) -> Vec<&str> {
        let mut names: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn underscore_names_are_dropped_by_default() {
        let identity = [HeaderName::from_static("x-identity-jwt")];
        let mut h = map(&[
            ("X_Identity_JWT", "forged"),
            ("Transfer_Encoding", "chunked"),
            ("X_Custom", "1"),
            ("X-Custom", "2"),
            ("x-identity-jwt", "forged too"),
        ]);
        let dropped = screen(&mut h, &identity, false);
        assert_eq!(names(&h), ["x-custom"]);
        assert_eq!(
            dropped,
            Dropped {
                underscore: 1,
                protected: 3
            }
        );
    }

    #[test]
    fn path_overrides_and_client_address_claims_are_dropped() {
        let mut h = map(&[
            ("X-Original-URL", "/admin/secret"),
            ("X-Rewrite-URL", "/admin/secret"),
            ("X-Real-IP", "10.0.0.1"),
            ("X-Forwarded-Port", "443"),
            ("X-Forwarded-Prefix", "/admin"),
            ("X-Forwarded-Server", "x"),
            ("X-Forwarded-Ssl", "on"),
            ("X-Forwarded-Scheme", "https"),
            ("X-Forwarded-Protocol", "https"),
            ("X-Client-IP", "10.0.0.1"),
            ("True-Client-IP", "10.0.0.1"),
            ("X-Original-Thing", "kept"),
        ]);
        let dropped = screen(&mut h, &[], false);
        assert_eq!(names(&h), ["x-original-thing"]);
        assert_eq!(dropped.protected, 11);
    }

    #[test]
    fn with_underscores_allowed_protected_spellings_are_still_dropped() {
        let identity = [HeaderName::from_static("x-identity-jwt")];
        let mut h = map(&[
            ("X_Identity_JWT", "forged"),
            ("X_Forwarded_For", "1.2.3.4"),
            ("x_forwarded-proto", "https"),
            ("Content_Length", "5"),
            ("Proxy_Anything", "x"),
            ("X_Custom", "kept"),
            ("Accept", "*/*"),
        ]);
        let dropped = screen(&mut h, &identity, true);
        assert_eq!(names(&h), ["accept", "x_custom"]);
        assert_eq!(dropped.protected, 5);
        assert_eq!(dropped.underscore, 0);
    }

    #[test]
    fn hop_by_hop_fields_are_removed_from_responses() {
        let mut h = map(&[
            ("connection", "close, X-Secret"),
            ("x-secret", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-foo", "1"),
            ("te", "trailers"),
            ("upgrade", "websocket"),
            ("x-keep", "1"),
        ]);
        remove_hop_by_hop(&mut h);
        assert_eq!(names(&h), ["x-keep"]);
    }

    fn fields_out(fields: &[(&str, &str)], mapped: Option<(&str, &str)>) -> Vec<String> {
        let headers = map(fields);
        let authority = HeaderValue::from_static("backend:8080");
        let ip = HeaderValue::from_static("10.1.2.3");
        let mapped_name = mapped.map(|(n, _)| HeaderName::from_bytes(n.as_bytes()).unwrap());
        let mapped_value = mapped.map(|(_, v)| HeaderValue::from_str(v).unwrap());
        let out = Outgoing {
            authority: &authority,
            client_ip: &ip,
            proto: "http",
            mapped_header: mapped_name.as_ref(),
            mapped: mapped_value.as_ref(),
            forwarded: None,
        };
        let mut lines = Vec::new();
        outgoing(&headers, &out, |n, v| {
            lines.push(format!("{n}: {}", v.to_str().unwrap()));
        });
        // The header-map form holds the same fields.
        let as_map = outgoing_map(&headers, &out);
        let mut from_map: Vec<String> = as_map
            .iter()
            .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap()))
            .collect();
        let mut sorted = lines.clone();
        sorted.sort();
        from_map.sort();
        assert_eq!(sorted, from_map);
        lines
    }

    #[test]
    fn outgoing_fields_follow_one_rule_set() {
        assert_eq!(
            fields_out(
                &[
                    ("host", "gw.example"),
                    ("connection", "keep-alive, X-Secret"),
                    ("x-secret", "s"),
                    ("keep-alive", "timeout=5"),
                    ("proxy-authorization", "p"),
                    ("te", "trailers"),
                    ("x-forwarded-for", "192.0.2.1"),
                    ("x-forwarded-for", "192.0.2.2"),
                    ("x-forwarded-proto", "https"),
                    ("x-forwarded-host", "spoofed"),
                    ("forwarded", "for=6.6.6.6;proto=https"),
                    ("x-identity-jwt", "forged"),
                    ("x-multi", "1"),
                    ("x-multi", "2"),
                ],
                Some(("x-identity-jwt", "jwt")),
            ),
            [
                "x-multi: 1",
                "x-multi: 2",
                "host: backend:8080",
                "x-forwarded-for: 192.0.2.1, 10.1.2.3",
                "x-forwarded-proto: http",
                "forwarded: for=10.1.2.3;proto=http;host=\"gw.example\"",
                "x-forwarded-host: gw.example",
                "x-identity-jwt: jwt",
            ]
        );
        // A client naming Host or X-Forwarded-For in Connection strips them.
        assert_eq!(
            fields_out(
                &[
                    ("connection", "x-forwarded-for, host"),
                    ("host", "h"),
                    ("x-forwarded-for", "1.1.1.1"),
                ],
                None
            ),
            [
                "host: backend:8080",
                "x-forwarded-for: 10.1.2.3",
                "x-forwarded-proto: http",
                "forwarded: for=10.1.2.3;proto=http",
            ]
        );
        // Bearer mapping: the client's Authorization never passes, with or without a JWT.
        let out = fields_out(
            &[
                ("authorization", "Bearer upstream"),
                ("x-forwarded-for", "  "),
            ],
            Some(("authorization", "Bearer jwt")),
        );
        assert_eq!(
            out.iter()
                .filter(|l| l.starts_with("authorization"))
                .count(),
            1
        );
        assert!(out.contains(&"authorization: Bearer jwt".to_owned()));
        assert!(out.contains(&"x-forwarded-for: 10.1.2.3".to_owned()));
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("bearer abc"));
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert("authorization", HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&h), None);
    }

    #[test]
    fn host_must_be_one_valid_field() {
        let v11 = Version::HTTP_11;
        assert_eq!(check_host(&map(&[("host", "a.example:8080")]), v11), Ok(()));
        assert_eq!(check_host(&map(&[("host", "[::1]:80")]), v11), Ok(()));
        assert_eq!(check_host(&map(&[]), v11), Err(RequestError::NoHost));
        assert_eq!(check_host(&map(&[]), Version::HTTP_10), Ok(()));
        assert_eq!(
            check_host(&map(&[("host", "a"), ("host", "b")]), v11),
            Err(RequestError::TwoHosts)
        );
        for bad in ["", "a b", "a,b", "a/b", "user@a", "a\"b"] {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, HeaderValue::from_str(bad).unwrap());
            assert_eq!(check_host(&h, v11), Err(RequestError::BadHost), "{bad:?}");
        }
    }

    #[test]
    fn forwarded_quotes_ipv6_and_the_host() {
        let host = HeaderValue::from_static("gw.example:8443");
        assert_eq!(
            forwarded_value(&HeaderValue::from_static("192.0.2.7"), "https", Some(&host)).unwrap(),
            "for=192.0.2.7;proto=https;host=\"gw.example:8443\""
        );
        assert_eq!(
            forwarded_value(&HeaderValue::from_static("2001:db8::1"), "http", None).unwrap(),
            "for=\"[2001:db8::1]\";proto=http"
        );
    }
}

/// Property test: the fields a backend receives are the same on every write path — the
/// HTTP/1.1 head written field by field (parsed back here with httparse), the header map of
/// the hyper client path, and the HTTP/2 map (the same without `Host`, with `TE: trailers`
/// when the client sent it) — for random client fields, and none of them carries a hop-by-hop
/// field, a second `Host` or the client's own copy of the mapped header.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod write_path_properties {
    use super::*;
    use crate::upstream::http1::RequestHead;
    use proptest::prelude::*;

    const NAMES: [&str; 14] = [
        "host",
        "connection",
        "keep-alive",
        "te",
        "upgrade",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "forwarded",
        "x-identity-jwt",
        "authorization",
        "x-a",
        "x-b",
        "accept",
    ];

    fn fields() -> impl Strategy<Value = Vec<(&'static str, String)>> {
        let value = prop_oneof![
            "[a-z0-9 ,.=;:-]{0,12}",
            proptest::sample::select(vec![
                "trailers".to_owned(),
                "x-a, x-b".to_owned(),
                "close, x-forwarded-for".to_owned(),
                "host".to_owned()
            ]),
        ];
        proptest::collection::vec((proptest::sample::select(&NAMES[..]), value), 0..12)
    }

    fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
        v.sort();
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn every_write_path_sends_the_same_fields(
            fields in fields(),
            mapped in proptest::sample::select(vec![None, Some("x-identity-jwt"), Some("authorization")]),
            https in any::<bool>(),
        ) {
            let mut headers = HeaderMap::new();
            for (n, v) in &fields {
                headers.append(HeaderName::from_static(n), HeaderValue::from_str(v.trim()).unwrap());
            }
            let authority = HeaderValue::from_static("backend:8080");
            let ip = HeaderValue::from_static("10.1.2.3");
            let mapped_name = mapped.map(HeaderName::from_static);
            let jwt = HeaderValue::from_static("the-jwt");
            let out = Outgoing {
                authority: &authority,
                client_ip: &ip,
                proto: if https { "https" } else { "http" },
                mapped_header: mapped_name.as_ref(),
                mapped: mapped_name.as_ref().map(|_| &jwt),
                forwarded: None,
            };
            // The HTTP/1.1 head, as the plain path writes it, read back.
            let mut head = RequestHead::new(&hyper::Method::GET, "/", 0);
            outgoing(&headers, &out, |n, v| head.field(n.as_str().as_bytes(), v.as_bytes()));
            let bytes = head.finish();
            let mut parsed = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut parsed);
            prop_assert!(matches!(req.parse(&bytes), Ok(httparse::Status::Complete(n)) if n == bytes.len()));
            let written: Vec<(String, String)> = req
                .headers
                .iter()
                .map(|h| (h.name.to_owned(), String::from_utf8(h.value.to_vec()).unwrap()))
                .collect();
            let pairs = |m: &HeaderMap| -> Vec<(String, String)> {
                m.iter().map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned())).collect()
            };
            let map = outgoing_map(&headers, &out);
            prop_assert_eq!(sorted(written.clone()), sorted(pairs(&map)));
            // HTTP/2: the same fields, without Host, plus TE: trailers if the client listed it.
            let mut want_h2: Vec<_> = pairs(&map).into_iter().filter(|(n, _)| n != "host").collect();
            if lists(&headers, header::TE, "trailers") {
                want_h2.push(("te".into(), "trailers".into()));
            }
            prop_assert_eq!(sorted(pairs(&outgoing_h2(&headers, &out))), sorted(want_h2));
            // The rules themselves.
            prop_assert_eq!(written.iter().filter(|(n, _)| n == "host").count(), 1);
            prop_assert!(written.iter().all(|(n, _)| !is_hop_by_hop(&HeaderName::from_bytes(n.as_bytes()).unwrap())), "{:?}", written);
            if let Some(m) = mapped {
                let copies: Vec<&String> = written.iter().filter(|(n, _)| n == m).map(|(_, v)| v).collect();
                prop_assert_eq!(copies, vec!["the-jwt"]);
            }
        }
    }
}
