//! What happens to a request before anything reads it ([`prepare`]): `CONNECT` refused (a
//! reverse proxy tunnels nothing), an absolute-form target's authority made the `Host` (RFC 9112
//! §3.2.2), one valid `Host` required, the path made canonical ([`path::canonicalize`]) and the
//! target rewritten to it (origin-form), and the client's fields screened ([`headers::screen`]).

use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Request, Uri};

use super::headers::{self, Dropped, RequestError};
use super::path::{self, PathRules};
use super::respond::Failure;

/// The configured rules (`[http]`, and the identity headers a client may not send).
pub struct Rules<'a> {
    pub path: &'a PathRules,
    pub identity_headers: &'a [HeaderName],
    pub underscores_in_headers: bool,
}

/// A request ready to route.
#[derive(Debug)]
pub struct Prepared {
    /// The path to route on, when it differs from the forwarded one (kept `//` or `;`).
    pub route_path: Option<String>,
    /// The client fields the screen dropped.
    pub dropped: Dropped,
}

/// Why a request was refused, and a short label for metrics.
#[derive(Debug)]
pub struct Refused {
    pub reason: &'static str,
    pub failure: Failure,
}

fn refuse(reason: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        reason,
        failure: Failure::BadRequest(message.into()),
    }
}

/// Checks and rewrites `req` (see the module docs).
pub fn prepare<B>(req: &mut Request<B>, rules: &Rules<'_>) -> Result<Prepared, Refused> {
    if req.method() == hyper::Method::CONNECT {
        return Err(Refused {
            reason: "connect",
            failure: Failure::MethodNotAllowed(
                "CONNECT is not served: this is a reverse proxy, not a tunnel".into(),
            ),
        });
    }
    let absolute = req.uri().authority().cloned();
    if let Some(authority) = &absolute {
        let host = (!authority.as_str().contains('@'))
            .then(|| HeaderValue::from_str(authority.as_str()).ok())
            .flatten();
        let Some(host) = host else {
            return Err(refuse(
                "bad_host",
                "the request target's authority is not a valid host",
            ));
        };
        req.headers_mut().insert(header::HOST, host);
    }
    if let Err(e) = headers::check_host(req.headers(), req.version()) {
        let reason = match e {
            RequestError::NoHost => "no_host",
            RequestError::TwoHosts => "two_hosts",
            RequestError::BadHost => "bad_host",
        };
        return Err(refuse(reason, e.to_string()));
    }
    let raw = req.uri().path();
    let canonical =
        path::canonicalize(raw, rules.path).map_err(|e| refuse(e.label(), e.to_string()))?;
    let route_path = canonical.route.clone();
    if canonical.forward != raw || absolute.is_some() {
        let target = match req.uri().query() {
            Some(q) => format!("{}?{q}", canonical.forward),
            None => canonical.forward.into_owned(),
        };
        *req.uri_mut() = Uri::try_from(target)
            .map_err(|_| refuse("bad_target", "the request target cannot be forwarded"))?;
    }
    let dropped = headers::screen(
        req.headers_mut(),
        rules.identity_headers,
        rules.underscores_in_headers,
    );
    Ok(Prepared {
        route_path,
        dropped,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn prepared(raw: &[(&str, &str)], target: &str) -> Result<(Request<()>, Prepared), Refused> {
        let mut builder = Request::builder().uri(target);
        for (n, v) in raw {
            builder = builder.header(*n, *v);
        }
        let mut req = builder.body(()).unwrap();
        let identity = [HeaderName::from_static("x-identity-jwt")];
        let rules = Rules {
            path: &PathRules::default(),
            identity_headers: &identity,
            underscores_in_headers: false,
        };
        prepare(&mut req, &rules).map(|p| (req, p))
    }

    #[test]
    fn a_request_is_made_canonical_and_screened() {
        let (req, p) = prepared(
            &[("host", "gw"), ("x-identity-jwt", "forged"), ("x_a", "1")],
            "/a/./b/../c?q=1",
        )
        .unwrap();
        assert_eq!(req.uri(), "/a/c?q=1");
        assert_eq!(p.route_path, None);
        assert_eq!(
            p.dropped,
            Dropped {
                underscore: 1,
                protected: 1
            }
        );
        assert!(req.headers().get("x-identity-jwt").is_none());
        // The absolute form: its authority is the Host, the target becomes origin-form.
        let (req, _) = prepared(&[("host", "elsewhere")], "http://gw.example/x").unwrap();
        assert_eq!(req.uri(), "/x");
        assert_eq!(req.headers()["host"], "gw.example");
    }

    #[test]
    fn refusals_have_a_reason_and_a_status() {
        let reason = |raw: &[(&str, &str)], target: &str| {
            let refused = prepared(raw, target).err().unwrap();
            (refused.reason, refused.failure.status().as_u16())
        };
        assert_eq!(reason(&[], "/x"), ("no_host", 400));
        assert_eq!(
            reason(&[("host", "a"), ("host", "b")], "/x"),
            ("two_hosts", 400)
        );
        assert_eq!(reason(&[("host", "a")], "/a%2Fb"), ("encoded_slash", 400));
        assert_eq!(reason(&[("host", "a")], "/../x"), ("above_root", 400));
    }
}
