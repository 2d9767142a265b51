//! `[[rule]]`s, applications' `rules` and `[http] trusted_proxies`: checked by compiling them,
//! so what `--check` accepts is exactly what the gateway runs.

use super::{ProblemKind, Problems, Section};
use crate::config::{Config, Session};
use crate::rules::{parse_networks, RuleError, RuleSet};

pub(super) fn check_rules(config: &Config, problems: &mut Problems) {
    if let Err(e) = parse_networks(&config.http.trusted_proxies) {
        problems.add(&Section::Http, ProblemKind::TrustedProxies(e));
    }
    if let Err(errors) = RuleSet::compile(&config.rules) {
        for e in errors {
            problems.add(&Section::Rules, ProblemKind::Rule(e));
        }
    }
    let defined: Vec<&str> = config.rules.iter().map(|r| r.name.as_str()).collect();
    for app in &config.applications {
        let section = Section::Application(app.name.clone());
        for name in &app.rules {
            if !defined.contains(&name.as_str()) {
                problems.add(
                    &section,
                    ProblemKind::ApplicationRule(RuleError::Unknown {
                        name: name.clone(),
                        used_by: format!("application {:?}", app.name),
                    }),
                );
            }
        }
        if app.session == Session::None {
            for rule in config.rules.iter().filter(|r| app.rules.contains(&r.name)) {
                if rule.attribute.is_some() {
                    problems.add(
                        &section,
                        ProblemKind::ApplicationRule(RuleError::Invalid {
                            rule: rule.name.clone(),
                            message: "tests a session attribute, but the application has session = \"none\" (it would deny every request)".into(),
                        }),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::config::parse;

    fn messages(text: &str) -> Vec<String> {
        let config = parse(text, std::path::Path::new(".")).unwrap();
        let mut out: Vec<String> = super::super::check(&config)
            .iter()
            .map(ToString::to_string)
            .filter(|m| m.contains("rule") || m.starts_with("http:"))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn rules_are_checked_with_the_applications_that_name_them() {
        let text = r#"
            [listen]
            http = "127.0.0.1:0"
            [http]
            trusted_proxies = ["10.0.0.0/8", "nope"]
            [[rule]]
            name = "admins"
            attribute = "groups"
            contains = "admins"
            [[rule]]
            name = "broken"
            [[application]]
            name = "app"
            context_root = "/app"
            backend = "http://127.0.0.1:1"
            session = "none"
            rules = ["admins", "missing"]
        "#;
        assert_eq!(
            messages(text),
            [
                "[[rule]]: rule \"broken\": has no test: give attribute (with equals or contains), network, methods/path_prefix, rate_limit, any or all",
                "application \"app\": rules: rule \"admins\": tests a session attribute, but the application has session = \"none\" (it would deny every request)",
                "application \"app\": rules: rule \"missing\" is not defined (used by application \"app\")",
                "http: trusted_proxies: \"nope\" is not a CIDR range (e.g. 10.0.0.0/8) or an IP address",
            ]
        );
    }
}
