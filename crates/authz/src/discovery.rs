//! The OpenID Provider metadata of an environment (`/.well-known/openid-configuration`,
//! OpenID Connect Discovery 1.0 §3, RFC 8414): it lists exactly what the environment's
//! applications can use now — their grant types, response types and client authentication
//! methods, and the CIBA and device endpoints only when an application has those grants. It is
//! computed per request, so applications the control API adds or removes show at once.

use serde_json::{json, Map, Value};

use crate::config::{AuthMethod, Environment, GrantType};
use crate::request::{ResponseMode, ResponseType};
use crate::view::Urls;

/// The grant types' names in metadata (RFC 8414 §2), in the order listed.
const GRANTS: [(GrantType, &str); 7] = [
    (GrantType::AuthorizationCode, "authorization_code"),
    (GrantType::Implicit, "implicit"),
    (GrantType::RefreshToken, "refresh_token"),
    (GrantType::ClientCredentials, "client_credentials"),
    (GrantType::Ciba, "urn:openid:params:grant-type:ciba"),
    (
        GrantType::DeviceCode,
        "urn:ietf:params:oauth:grant-type:device_code",
    ),
    (
        GrantType::TokenExchange,
        "urn:ietf:params:oauth:grant-type:token-exchange",
    ),
];

/// Every response type, in the order OIDC Core lists them.
const RESPONSE_TYPES: [&str; 7] = [
    "code",
    "id_token",
    "token",
    "id_token token",
    "code id_token",
    "code token",
    "code id_token token",
];

/// Whether an application allowed `allowed` may ask for `asked`.
fn covers(allowed: ResponseType, asked: ResponseType) -> bool {
    (!asked.code || allowed.code)
        && (!asked.token || allowed.token)
        && (!asked.id_token || allowed.id_token)
}

fn auth_methods(method: Option<AuthMethod>) -> &'static [&'static str] {
    match method {
        // The emulator's default: either secret method.
        None => &["client_secret_basic", "client_secret_post"],
        Some(AuthMethod::None) => &["none"],
        Some(AuthMethod::ClientSecretBasic) => &["client_secret_basic"],
        Some(AuthMethod::ClientSecretPost) => &["client_secret_post"],
        Some(AuthMethod::ClientSecretJwt) => &["client_secret_jwt"],
        Some(AuthMethod::PrivateKeyJwt) => &["private_key_jwt"],
    }
}

/// `names` in the order of `order`, without repeats.
fn ordered(order: &[&'static str], names: &[&'static str]) -> Vec<&'static str> {
    order
        .iter()
        .copied()
        .filter(|n| names.contains(n))
        .collect()
}

/// The environment's metadata, with `urls` its endpoints.
pub fn discovery(urls: &Urls, env: &Environment) -> Value {
    let issuer = urls.issuer();
    let apps = &env.applications;
    let has = |g: GrantType| apps.iter().any(|a| a.grant_types.contains(&g));
    let grants: Vec<&str> = GRANTS
        .iter()
        .filter(|(g, _)| has(*g))
        .map(|(_, name)| *name)
        .collect();
    let response_types: Vec<&str> = RESPONSE_TYPES
        .iter()
        .copied()
        .filter(|t| {
            ResponseType::parse(t)
                .is_some_and(|asked| apps.iter().any(|a| covers(a.response_types, asked)))
        })
        .collect();
    let methods: Vec<&'static str> = apps
        .iter()
        .flat_map(|a| auth_methods(a.token_endpoint_auth_method).iter().copied())
        .collect();
    let methods = ordered(
        &[
            "client_secret_basic",
            "client_secret_post",
            "client_secret_jwt",
            "private_key_jwt",
            "none",
        ],
        &methods,
    );
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    put("issuer", issuer.clone().into());
    put(
        "authorization_endpoint",
        format!("{issuer}/authorize").into(),
    );
    put("token_endpoint", format!("{issuer}/token").into());
    put("userinfo_endpoint", format!("{issuer}/userinfo").into());
    put("jwks_uri", format!("{issuer}/jwks").into());
    put(
        "introspection_endpoint",
        format!("{issuer}/introspect").into(),
    );
    put("revocation_endpoint", format!("{issuer}/revoke").into());
    put("end_session_endpoint", format!("{issuer}/signoff").into());
    put("backchannel_logout_supported", true.into());
    put("backchannel_logout_session_supported", true.into());
    put(
        "pushed_authorization_request_endpoint",
        format!("{issuer}/par").into(),
    );
    if has(GrantType::Ciba) {
        put(
            "backchannel_authentication_endpoint",
            format!("{issuer}/bc-authorize").into(),
        );
        put(
            "backchannel_token_delivery_modes_supported",
            json!(["poll"]),
        );
        put("backchannel_user_code_parameter_supported", false.into());
    }
    if has(GrantType::DeviceCode) {
        put(
            "device_authorization_endpoint",
            format!("{issuer}/device_authorization").into(),
        );
    }
    put(
        "scopes_supported",
        json!(["openid", "profile", "email", "offline_access"]),
    );
    put("response_types_supported", json!(response_types));
    put(
        "response_modes_supported",
        json!(ResponseMode::ALL
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()),
    );
    put("grant_types_supported", json!(grants));
    put("subject_types_supported", json!(["public"]));
    put("id_token_signing_alg_values_supported", json!(["RS256"]));
    put("token_endpoint_auth_methods_supported", json!(methods));
    if methods.iter().any(|m| m.ends_with("_jwt")) {
        put(
            "token_endpoint_auth_signing_alg_values_supported",
            json!([
                "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512",
                "PS256", "PS384", "PS512", "EdDSA"
            ]),
        );
    }
    put("code_challenge_methods_supported", json!(["plain", "S256"]));
    put("request_parameter_supported", true.into());
    put("request_uri_parameter_supported", true.into());
    put(
        "request_object_signing_alg_values_supported",
        json!(["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "none"]),
    );
    put(
        "claims_supported",
        json!([
            "sub",
            "iss",
            "aud",
            "iat",
            "exp",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            "sid",
            "env",
            "at_hash",
            "c_hash",
            "pi.template",
            "preferred_username",
            "given_name",
            "family_name",
            "email"
        ]),
    );
    Value::Object(m)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn env(apps: &str) -> Environment {
        let text = format!(
            "[[environment]]\nid = \"env-1\"\n{apps}\n[[environment.user]]\nid = \"u\"\nusername = \"u\"\n"
        );
        let mut c = Config::from_toml(&text, std::path::Path::new(".")).unwrap();
        c.environments.remove(0)
    }

    fn list(d: &Value, k: &str) -> Vec<String> {
        d[k].as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn lists_exactly_what_the_applications_can_use() {
        let urls = Urls::new("http://h", "env-1");
        let code_only =
            env("[[environment.application]]\nclient_id = \"a\"\nclient_secret = \"s\"\n");
        let d = discovery(&urls, &code_only);
        assert_eq!(d["jwks_uri"], "http://h/env-1/as/jwks");
        assert_eq!(list(&d, "grant_types_supported"), ["authorization_code"]);
        assert_eq!(list(&d, "response_types_supported"), ["code"]);
        assert_eq!(
            list(&d, "token_endpoint_auth_methods_supported"),
            ["client_secret_basic", "client_secret_post"]
        );
        assert!(list(&d, "response_modes_supported").contains(&"pi.flow".to_owned()));
        for absent in [
            "backchannel_authentication_endpoint",
            "device_authorization_endpoint",
            "token_endpoint_auth_signing_alg_values_supported",
        ] {
            assert!(d.get(absent).is_none(), "{absent}");
        }

        let many = env(concat!(
            "[[environment.application]]\nclient_id = \"spa\"\ntoken_endpoint_auth_method = \"NONE\"\n",
            "grant_types = [\"IMPLICIT\"]\nresponse_types = [\"ID_TOKEN\"]\n",
            "[[environment.application]]\nclient_id = \"b\"\nclient_secret = \"s\"\n",
            "token_endpoint_auth_method = \"CLIENT_SECRET_JWT\"\n",
            "grant_types = [\"AUTHORIZATION_CODE\", \"IMPLICIT\", \"CIBA\", \"DEVICE_CODE\"]\n",
        ));
        let d = discovery(&urls, &many);
        assert_eq!(
            list(&d, "grant_types_supported"),
            [
                "authorization_code",
                "implicit",
                "urn:openid:params:grant-type:ciba",
                "urn:ietf:params:oauth:grant-type:device_code"
            ]
        );
        assert_eq!(list(&d, "response_types_supported"), RESPONSE_TYPES);
        assert_eq!(
            list(&d, "token_endpoint_auth_methods_supported"),
            ["client_secret_jwt", "none"]
        );
        assert_eq!(
            d["backchannel_authentication_endpoint"],
            "http://h/env-1/as/bc-authorize"
        );
        assert!(d["device_authorization_endpoint"].is_string());
        assert!(d["token_endpoint_auth_signing_alg_values_supported"].is_array());
    }
}
