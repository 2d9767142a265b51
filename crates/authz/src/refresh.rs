//! Refresh tokens: opaque, single use, rotated on every refresh. A token lives
//! `refresh_token_duration` from its issue, and no family (the tokens descended from one sign-on)
//! outlives `refresh_token_rolling_duration` from the sign-on (PingOne's two settings). Replay
//! protection: a token presented a second time revokes its whole family, so a stolen token and
//! the legitimate client cannot both go on (RFC 9700 §4.14.2).

use std::collections::{HashMap, VecDeque};

use crate::oauth::Grant;

/// The scope whose refresh tokens outlive the sign-on session.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Why a refresh token is refused (all are `invalid_grant`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    #[error("the refresh token is unknown or was revoked")]
    Unknown,
    #[error("the refresh token has expired")]
    Expired,
    #[error("the refresh token was already used: its family is revoked (a replay?)")]
    Reused,
    #[error("the refresh token was issued to another client")]
    OtherClient,
}

#[derive(Debug, Clone)]
struct Entry {
    family: String,
    grant: Grant,
    expires_ms: i64,
    family_ends_ms: i64,
    used: bool,
}

/// What a refresh may continue: the grant, and the family it belongs to.
#[derive(Debug, Clone)]
pub struct Redeemed {
    pub grant: Grant,
    pub family: String,
    pub family_ends_ms: i64,
}

/// The tokens, with their issue order for eviction: at most `max` are kept, and past it the
/// oldest goes, in constant time (a soak run found the earlier scan of every token on every
/// issue once the store was full).
#[derive(Debug)]
pub struct RefreshStore {
    tokens: HashMap<String, Entry>,
    /// Tokens in issue order; some may have left `tokens` already (revoked, expired).
    order: VecDeque<String>,
    max: usize,
}

impl Default for RefreshStore {
    fn default() -> RefreshStore {
        RefreshStore::new(crate::config::DEFAULT_MAX_REFRESH_TOKENS)
    }
}

impl RefreshStore {
    /// A store keeping at most `max` tokens (at least one).
    pub fn new(max: usize) -> RefreshStore {
        RefreshStore {
            tokens: HashMap::new(),
            order: VecDeque::new(),
            max: max.max(1),
        }
    }

    /// How many tokens are kept.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Drops expired tokens (and their places in the issue order); returns how many.
    pub fn sweep(&mut self, now_ms: i64) -> usize {
        let before = self.tokens.len();
        self.tokens.retain(|_, e| e.expires_ms > now_ms);
        let tokens = &self.tokens;
        self.order.retain(|t| tokens.contains_key(t));
        before.saturating_sub(self.tokens.len())
    }

    /// Records `token` for `grant`, expiring at `expires_ms` (never past `family_ends_ms`).
    pub fn issue(
        &mut self,
        token: String,
        family: String,
        grant: Grant,
        expires_ms: i64,
        family_ends_ms: i64,
    ) {
        while self.tokens.len() >= self.max {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.tokens.remove(&oldest);
                }
                None => break,
            }
        }
        self.order.push_back(token.clone());
        self.tokens.insert(
            token,
            Entry {
                family,
                grant,
                expires_ms: expires_ms.min(family_ends_ms),
                family_ends_ms,
                used: false,
            },
        );
    }

    /// Uses `token` once for `client_id`. A second use revokes the family.
    pub fn redeem(
        &mut self,
        token: &str,
        client_id: &str,
        now_ms: i64,
    ) -> Result<Redeemed, RefreshError> {
        let entry = self.tokens.get_mut(token).ok_or(RefreshError::Unknown)?;
        if entry.grant.client_id != client_id {
            return Err(RefreshError::OtherClient);
        }
        if entry.used {
            let family = entry.family.clone();
            self.revoke_family(&family);
            return Err(RefreshError::Reused);
        }
        if now_ms >= entry.expires_ms {
            return Err(RefreshError::Expired);
        }
        entry.used = true;
        Ok(Redeemed {
            grant: entry.grant.clone(),
            family: entry.family.clone(),
            family_ends_ms: entry.family_ends_ms,
        })
    }

    /// A signoff ended the sign-on session `sid`: its refresh tokens end with it, except those
    /// granted `offline_access` (OIDC Core §11: access that outlives the session). Returns how
    /// many tokens were revoked.
    pub fn end_session(&mut self, sid: &str) -> usize {
        let before = self.tokens.len();
        self.tokens.retain(|_, e| {
            e.grant.sid.as_deref() != Some(sid)
                || crate::oauth::has_scope(&e.grant.scope, OFFLINE_ACCESS)
        });
        before.saturating_sub(self.tokens.len())
    }

    /// Revokes every token of `family`.
    pub fn revoke_family(&mut self, family: &str) {
        self.tokens.retain(|_, e| e.family != family);
    }

    /// Revokes `token`'s family (RFC 7009 revocation of a refresh token); whether it existed.
    pub fn revoke(&mut self, token: &str, client_id: &str) -> bool {
        let family = match self.tokens.get(token) {
            Some(e) if e.grant.client_id == client_id => e.family.clone(),
            _ => return false,
        };
        self.revoke_family(&family);
        true
    }

    /// Whether `token` can still be used at `now` (for introspection).
    pub fn active(&self, token: &str, now_ms: i64) -> Option<&Grant> {
        self.tokens
            .get(token)
            .filter(|e| !e.used && now_ms < e.expires_ms)
            .map(|e| &e.grant)
    }

    pub fn clear(&mut self) {
        self.tokens.clear();
        self.order.clear();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn grant(client: &str) -> Grant {
        Grant {
            flow_id: "f".into(),
            client_id: client.into(),
            redirect_uri: None,
            pkce: None,
            nonce: None,
            scope: "openid".into(),
            user_id: "u".into(),
            auth_time: 0,
            acr: String::new(),
            amr: Vec::new(),
            template: None,
            sid: None,
        }
    }

    #[test]
    fn tokens_are_single_use_and_a_reuse_revokes_the_family() {
        let mut s = RefreshStore::default();
        s.issue("r1".into(), "fam".into(), grant("app"), 1000, 5000);
        assert_eq!(
            s.redeem("r1", "other", 1).err(),
            Some(RefreshError::OtherClient)
        );
        let r = s.redeem("r1", "app", 1).unwrap();
        assert_eq!(r.family, "fam");
        s.issue("r2".into(), r.family, r.grant, 2000, r.family_ends_ms);
        // r1 again: a replay; the whole family (r2 too) is revoked.
        assert_eq!(s.redeem("r1", "app", 2).err(), Some(RefreshError::Reused));
        assert_eq!(s.redeem("r2", "app", 2).err(), Some(RefreshError::Unknown));
    }

    #[test]
    fn a_full_store_evicts_the_oldest_and_sweeps_the_expired() {
        let mut s = RefreshStore::new(3);
        for (i, expires) in [(0, 100), (1, 5000), (2, 5000), (3, 5000)] {
            s.issue(
                format!("t{i}"),
                format!("f{i}"),
                grant("app"),
                expires,
                9000,
            );
        }
        assert_eq!(s.len(), 3);
        assert_eq!(s.redeem("t0", "app", 4).err(), Some(RefreshError::Unknown));
        s.revoke_family("f1");
        assert_eq!(s.sweep(6000), 2, "t2 and t3 expired");
        assert!(s.is_empty());
        assert!(s.order.is_empty(), "the issue order is swept too");
        // Many issues past the limit stay within it, each in constant time.
        let mut big = RefreshStore::new(1000);
        for i in 0..100_000 {
            big.issue(
                format!("t{i}"),
                "f".into(),
                grant("app"),
                i64::MAX,
                i64::MAX,
            );
        }
        assert_eq!(big.len(), 1000);
        assert!(big.redeem("t99999", "app", 1).is_ok());
    }

    #[test]
    fn a_signoff_ends_the_sessions_tokens_but_not_offline_ones() {
        let mut s = RefreshStore::default();
        let in_session = |scope: &str, sid: &str| Grant {
            scope: scope.into(),
            sid: Some(sid.into()),
            ..grant("app")
        };
        s.issue(
            "a".into(),
            "f1".into(),
            in_session("openid", "s1"),
            9000,
            9000,
        );
        s.issue(
            "b".into(),
            "f2".into(),
            in_session("openid offline_access", "s1"),
            9000,
            9000,
        );
        s.issue(
            "c".into(),
            "f3".into(),
            in_session("openid", "s2"),
            9000,
            9000,
        );
        assert_eq!(s.end_session("s1"), 1);
        assert_eq!(s.redeem("a", "app", 1).err(), Some(RefreshError::Unknown));
        assert!(
            s.redeem("b", "app", 1).is_ok(),
            "offline_access outlives the session"
        );
        assert!(s.redeem("c", "app", 1).is_ok(), "another session");
    }

    #[test]
    fn tokens_expire_and_never_outlive_their_family() {
        let mut s = RefreshStore::default();
        s.issue("r".into(), "f".into(), grant("app"), 10_000, 3000);
        assert!(s.active("r", 2999).is_some());
        assert_eq!(
            s.redeem("r", "app", 3000).err(),
            Some(RefreshError::Expired)
        );
        s.issue("q".into(), "g".into(), grant("app"), 100, 3000);
        assert!(s.revoke("q", "app"));
        assert!(!s.revoke("q", "app"));
        assert_eq!(s.redeem("q", "app", 1).err(), Some(RefreshError::Unknown));
    }
}
