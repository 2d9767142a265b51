//! PingOne regions, their auth domains, and an environment's issuer URL (the `aud` PingOne
//! expects in both token profiles).

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A PingOne geographic region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Region {
    /// North America: `auth.pingone.com`.
    #[default]
    Na,
    /// Europe: `auth.pingone.eu`.
    Eu,
    /// Canada: `auth.pingone.ca`.
    Ca,
    /// Australia: `auth.pingone.com.au`.
    Au,
    /// Singapore: `auth.pingone.sg`.
    Sg,
    /// Asia-Pacific (legacy, existing customers only): `auth.pingone.asia`.
    Ap,
}

impl Region {
    pub const ALL: [Region; 6] = [
        Region::Na,
        Region::Eu,
        Region::Ca,
        Region::Au,
        Region::Sg,
        Region::Ap,
    ];

    /// The region code as the CLI spells it: `na`, `eu`, `ca`, `au`, `sg`, `ap`.
    pub fn code(self) -> &'static str {
        match self {
            Region::Na => "na",
            Region::Eu => "eu",
            Region::Ca => "ca",
            Region::Au => "au",
            Region::Sg => "sg",
            Region::Ap => "ap",
        }
    }

    /// The top-level domain after `auth.pingone.`.
    pub fn tld(self) -> &'static str {
        match self {
            Region::Na => "com",
            Region::Eu => "eu",
            Region::Ca => "ca",
            Region::Au => "com.au",
            Region::Sg => "sg",
            Region::Ap => "asia",
        }
    }

    /// The auth domain, e.g. `auth.pingone.eu`.
    pub fn auth_domain(self) -> String {
        format!("auth.pingone.{}", self.tld())
    }

    /// The issuer of an environment, `https://auth.pingone.{tld}/{envId}/as`: the audience of
    /// login_hint_tokens and request objects.
    pub fn issuer(self, env_id: &str) -> Result<String, Error> {
        check_environment_id(env_id)?;
        Ok(format!("https://{}/{env_id}/as", self.auth_domain()))
    }

    /// Parses a region code, case-insensitively.
    pub fn from_code(code: &str) -> Result<Region, Error> {
        Region::ALL
            .into_iter()
            .find(|r| r.code().eq_ignore_ascii_case(code.trim()))
            .ok_or_else(|| Error::UnknownRegion(code.to_owned()))
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Region {
    type Err = Error;
    fn from_str(s: &str) -> Result<Region, Error> {
        Region::from_code(s)
    }
}

/// An environment id goes into a URL path as is, so it must be non-empty and made of URL
/// unreserved characters (PingOne's are UUIDs).
pub fn check_environment_id(env_id: &str) -> Result<(), Error> {
    let ok = !env_id.is_empty()
        && env_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidEnvironmentId(env_id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: &str = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";

    #[test]
    fn every_region_has_its_issuer() {
        let expected = [
            ("na", "https://auth.pingone.com/ENV/as"),
            ("eu", "https://auth.pingone.eu/ENV/as"),
            ("ca", "https://auth.pingone.ca/ENV/as"),
            ("au", "https://auth.pingone.com.au/ENV/as"),
            ("sg", "https://auth.pingone.sg/ENV/as"),
            ("ap", "https://auth.pingone.asia/ENV/as"),
        ];
        for (code, url) in expected {
            let region = Region::from_code(code);
            assert!(region.is_ok(), "{code}");
            let region = region.unwrap_or_default();
            assert_eq!(region.code(), code);
            assert_eq!(region.to_string(), code);
            assert_eq!(region.issuer(ENV), Ok(url.replace("ENV", ENV)));
        }
        assert_eq!(Region::ALL.len(), expected.len());
    }

    #[test]
    fn codes_are_case_insensitive_and_unknown_ones_refused() {
        assert_eq!("EU".parse::<Region>(), Ok(Region::Eu));
        assert_eq!(Region::from_code(" Au "), Ok(Region::Au));
        assert_eq!(Region::default(), Region::Na);
        assert_eq!(
            Region::from_code("us"),
            Err(Error::UnknownRegion("us".into()))
        );
        assert!(Region::from_code("").is_err());
        assert!(Region::from_code("com").is_err());
    }

    #[test]
    fn environment_ids_must_fit_in_a_path() {
        assert!(Region::Na.issuer("YOUR_ENVIRONMENT_ID").is_ok());
        for bad in ["", "a/b", "{envId}", "a b", "x?y", "e#", "é"] {
            assert_eq!(
                Region::Na.issuer(bad),
                Err(Error::InvalidEnvironmentId(bad.into())),
                "{bad:?}"
            );
        }
    }
}
