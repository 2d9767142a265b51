//! Wrong passwords counted per user across an environment's flows, and lockouts: at
//! `password_lockout_failures` the user cannot sign on with a password for
//! `password_lockout_ms` (PingOne's password policy lockout; the numbers are configurable).

use crate::config::Environment;

/// Wrong passwords by user across the environment's flows, and who is locked out until when.
#[derive(Debug, Default)]
pub struct Lockouts(std::collections::HashMap<String, (u8, Option<i64>)>);

/// Users remembered at most (the oldest lockouts past their end are dropped first).
const MAX_LOCKOUT_ENTRIES: usize = 100_000;

impl Lockouts {
    /// Milliseconds until `user` may sign on again, if locked out at `now`.
    pub fn locked_for(&self, user: &str, now_ms: i64) -> Option<i64> {
        self.0
            .get(user)
            .and_then(|(_, until)| *until)
            .map(|until| until - now_ms)
            .filter(|left| *left > 0)
    }

    pub fn failed(&mut self, user: &str, env: &Environment, now_ms: i64) {
        if env.password_lockout_failures == 0 {
            return;
        }
        if self.0.len() >= MAX_LOCKOUT_ENTRIES {
            self.0
                .retain(|_, (_, until)| until.is_some_and(|u| u > now_ms));
        }
        let entry = self.0.entry(user.to_owned()).or_insert((0, None));
        if entry.1.is_some_and(|until| until <= now_ms) {
            *entry = (0, None);
        }
        entry.0 = entry.0.saturating_add(1);
        if entry.0 >= env.password_lockout_failures {
            entry.1 = Some(now_ms.saturating_add(env.password_lockout_ms));
        }
    }

    pub fn succeeded(&mut self, user: &str) {
        self.0.remove(user);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn env() -> Environment {
        let text = "[[environment]]\nid = \"env-1\"\n";
        Config::from_toml(text, std::path::Path::new("."))
            .unwrap()
            .environments
            .remove(0)
    }

    #[test]
    fn lockouts_count_across_flows_and_end() {
        let env = env();
        let mut l = Lockouts::default();
        for _ in 0..4 {
            l.failed("u", &env, 1000);
        }
        assert_eq!(l.locked_for("u", 1000), None);
        l.failed("u", &env, 1000);
        assert_eq!(l.locked_for("u", 1000), Some(900_000));
        assert_eq!(l.locked_for("u", 1000 + 900_000), None, "over");
        // After it ends, counting starts again.
        l.failed("u", &env, 1000 + 900_000);
        assert_eq!(l.locked_for("u", 1000 + 900_001), None);
        l.succeeded("u");
        assert!(l.0.is_empty());
    }
}
