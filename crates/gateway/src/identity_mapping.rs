//! JWT identity mapping: from a user's attributes (the session's claims) to the claims of the JWT
//! sent to the backend, as PingAccess's JWT identity mapping does.
//!
//! Semantics (also in this crate's README):
//! - Inclusion list: each attribute mapping copies `user_attribute_name` to `jwt_claim_name`, in
//!   the configured order. An attribute that is absent is skipped, not an error (`null` is a value
//!   and is copied).
//! - Exclusion list: every attribute is copied, in the session's order, then each
//!   `exclusion_list_attributes` path is removed (a dot path removes a nested member and leaves
//!   its parent object, even if empty).
//! - Dot notation on both sides: `address.city` reads `{"address":{"city":…}}` and writes the same
//!   structure, creating parent objects as needed. `/.` is a literal dot inside a name
//!   (PingAccess's escape): `pi/.pa/.rat` is the one key `pi.pa.rat`. Empty segments (`a..b`) are
//!   configuration errors.
//! - Arrays are values, never traversed: a path never indexes into an array, so `groups.0` or
//!   `emails.value` finds nothing; `groups` copies the whole array.
//! - A path through a non-object finds nothing when reading; when writing, a mapping whose parent
//!   already holds a non-object value is skipped (the earlier value stays).
//! - Registered claims (`iss`, `aud`, `iat`, `exp`, `nbf`, `jti`) are set by the token builder:
//!   a mapped attribute whose target's first segment is one of them is dropped. `sub` comes only
//!   from the subject attribute (the `subject = true` mapping, or `exclusion_list_subject`): a
//!   string is used as is, a number as its decimal text; any other value gives no `sub`. The
//!   subject mapping still writes its own `jwt_claim_name` when that is not `sub`.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::IdentityMapping as MappingConfig;

/// Claims a mapped attribute never writes: the token builder sets them (`sub` comes only from
/// the subject attribute).
pub const RESERVED_CLAIMS: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// True for a top-level claim name that mapped attributes may not write.
pub fn is_reserved(name: &str) -> bool {
    RESERVED_CLAIMS.contains(&name)
}

/// A dot path into nested JSON objects, parsed once from its configured text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path {
    text: String,
    segments: Vec<String>,
}

/// Why a dot path is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    #[error("is empty")]
    Empty,
    #[error("has an empty segment (write a literal dot inside a name as \"/.\")")]
    EmptySegment,
}

impl Path {
    /// Splits at `.`; `/.` is a literal dot, any other `/` is itself.
    pub fn parse(text: &str) -> Result<Path, PathError> {
        if text.is_empty() {
            return Err(PathError::Empty);
        }
        let mut segments = Vec::new();
        let mut current = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '/' if chars.peek() == Some(&'.') => {
                    chars.next();
                    current.push('.');
                }
                '.' => {
                    if current.is_empty() {
                        return Err(PathError::EmptySegment);
                    }
                    segments.push(std::mem::take(&mut current));
                }
                other => current.push(other),
            }
        }
        if current.is_empty() {
            return Err(PathError::EmptySegment);
        }
        segments.push(current);
        Ok(Path {
            text: text.to_owned(),
            segments,
        })
    }

    /// The names along the path, escapes resolved.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The top-level name the path starts at.
    pub fn first(&self) -> &str {
        self.segments.first().map_or("", String::as_str)
    }

    /// True when `self` equals `other` or is one of its parents (`a` and `a.b`).
    pub fn is_prefix_of(&self, other: &Path) -> bool {
        other.segments.starts_with(&self.segments)
    }

    /// The value at this path, if every step is an object member.
    pub fn lookup<'a>(&self, object: &'a Map<String, Value>) -> Option<&'a Value> {
        let (first, rest) = self.segments.split_first()?;
        let mut value = object.get(first)?;
        for name in rest {
            value = value.as_object()?.get(name)?;
        }
        Some(value)
    }

    /// Writes `value` at this path, creating parent objects. Returns false, changing nothing,
    /// when a parent already holds something other than an object.
    pub fn insert(&self, object: &mut Map<String, Value>, value: Value) -> bool {
        let Some((last, parents)) = self.segments.split_last() else {
            return false;
        };
        if !self.parents_are_objects(object) {
            return false;
        }
        let mut current = object;
        for name in parents {
            let slot = current
                .entry(name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            match slot {
                Value::Object(inner) => current = inner,
                _ => return false,
            }
        }
        current.insert(last.clone(), value);
        true
    }

    /// True when every existing parent along the path is an object (missing ones may be made).
    fn parents_are_objects(&self, object: &Map<String, Value>) -> bool {
        let Some((_, parents)) = self.segments.split_last() else {
            return false;
        };
        let mut current = object;
        for name in parents {
            match current.get(name) {
                None => return true,
                Some(Value::Object(inner)) => current = inner,
                Some(_) => return false,
            }
        }
        true
    }

    /// Removes the member at this path, keeping the order of the others; a path that does not
    /// lead to a member changes nothing.
    pub fn remove(&self, object: &mut Map<String, Value>) {
        let Some((last, parents)) = self.segments.split_last() else {
            return;
        };
        let mut current = object;
        for name in parents {
            match current.get_mut(name) {
                Some(Value::Object(inner)) => current = inner,
                _ => return,
            }
        }
        current.shift_remove(last);
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A problem that makes an identity mapping unusable or ambiguous.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    #[error("{field} \"{value}\" {reason}")]
    InvalidPath {
        field: &'static str,
        value: String,
        reason: PathError,
    },
    #[error(
        "attribute_mappings marks {} attributes as subject ({}); at most one may be",
        attributes.len(),
        quoted_list(attributes)
    )]
    SeveralSubjects { attributes: Vec<String> },
    #[error("attribute_mappings jwt_claim_name \"{claim}\" is the registered claim \"{registered}\", which the gateway sets")]
    RegisteredClaim { claim: String, registered: String },
    #[error("attribute_mappings maps \"{attribute}\" to \"sub\" without subject = true; sub comes only from the subject attribute")]
    SubjectWithoutFlag { attribute: String },
    #[error("attribute_mappings writes both \"{first}\" and \"{second}\"; one would overwrite the other")]
    OverlappingClaims { first: String, second: String },
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An identity mapping compiled from its configuration: paths parsed once, so that [`apply`]
/// does no parsing per request. Cheap to share between threads.
#[derive(Debug, Clone)]
pub struct Mapping {
    name: Arc<str>,
    selection: Selection,
    subject: Option<Path>,
}

#[derive(Debug, Clone)]
enum Selection {
    /// (user attribute, JWT claim) pairs, in configured order.
    Include(Vec<(Path, Path)>),
    /// Attribute paths removed from the copy of all attributes.
    Exclude(Vec<Path>),
}

impl Mapping {
    /// Compiles a configured mapping; every problem found is returned, not just the first.
    pub fn compile(config: &MappingConfig) -> Result<Mapping, Vec<MappingError>> {
        let mut errors = Vec::new();
        let mut parse = |field: &'static str, text: &str| match Path::parse(text) {
            Ok(path) => Some(path),
            Err(reason) => {
                errors.push(MappingError::InvalidPath {
                    field,
                    value: text.to_owned(),
                    reason,
                });
                None
            }
        };
        let (selection, subject) = if config.exclusion_list {
            let excluded: Vec<Path> = config
                .exclusion_list_attributes
                .iter()
                .filter_map(|a| parse("exclusion_list_attributes", a))
                .collect();
            let subject = config
                .exclusion_list_subject
                .as_deref()
                .and_then(|s| parse("exclusion_list_subject", s));
            (Selection::Exclude(excluded), subject)
        } else {
            let mut rows = Vec::new();
            let mut subjects = Vec::new();
            for row in &config.attribute_mappings {
                let from = parse(
                    "attribute_mappings user_attribute_name",
                    &row.user_attribute_name,
                );
                let to = parse("attribute_mappings jwt_claim_name", &row.jwt_claim_name);
                if let (Some(from), Some(to)) = (from, to) {
                    if row.subject {
                        subjects.push(from.clone());
                    }
                    rows.push((from, to, row.subject));
                }
            }
            errors.extend(inclusion_conflicts(&rows));
            if subjects.len() > 1 {
                errors.push(MappingError::SeveralSubjects {
                    attributes: subjects.iter().map(ToString::to_string).collect(),
                });
            }
            let rows = rows.into_iter().map(|(from, to, _)| (from, to)).collect();
            (Selection::Include(rows), subjects.into_iter().next())
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Mapping {
            name: Arc::from(config.name.as_str()),
            selection,
            subject,
        })
    }

    /// The mapping's configured name (a JWT cache key part).
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }
}

/// Targets that collide: a registered claim, `sub` without the subject flag, or two rows writing
/// the same claim or a claim and one of its members.
fn inclusion_conflicts(rows: &[(Path, Path, bool)]) -> Vec<MappingError> {
    let mut errors = Vec::new();
    for (index, (from, to, subject)) in rows.iter().enumerate() {
        if to.first() == "sub" && to.segments().len() == 1 && !subject {
            errors.push(MappingError::SubjectWithoutFlag {
                attribute: from.to_string(),
            });
        } else if is_reserved(to.first()) && !(to.first() == "sub" && *subject) {
            errors.push(MappingError::RegisteredClaim {
                claim: to.to_string(),
                registered: to.first().to_owned(),
            });
        }
        for (_, earlier, _) in rows.iter().take(index) {
            if earlier.is_prefix_of(to) || to.is_prefix_of(earlier) {
                errors.push(MappingError::OverlappingClaims {
                    first: earlier.to_string(),
                    second: to.to_string(),
                });
            }
        }
    }
    errors
}

/// The claims a mapping produces from the user's attributes (registered claims excluded: the
/// token builder adds them). See the module documentation for the rules.
pub fn apply(mapping: &Mapping, attributes: &Map<String, Value>) -> Map<String, Value> {
    let mut claims = Map::new();
    match &mapping.selection {
        Selection::Include(rows) => {
            for (from, to) in rows {
                if is_reserved(to.first()) {
                    continue;
                }
                if let Some(value) = from.lookup(attributes) {
                    to.insert(&mut claims, value.clone());
                }
            }
        }
        Selection::Exclude(excluded) => {
            for (name, value) in attributes {
                if !is_reserved(name) {
                    claims.insert(name.clone(), value.clone());
                }
            }
            for path in excluded {
                path.remove(&mut claims);
            }
        }
    }
    if let Some(subject) = mapping
        .subject
        .as_ref()
        .and_then(|path| path.lookup(attributes))
        .and_then(subject_text)
    {
        claims.insert("sub".into(), Value::String(subject));
    }
    claims
}

/// `sub` is a string (RFC 7519 §4.1.2): strings as they are, numbers as their decimal text.
fn subject_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;
    use crate::config::AttributeMapping;
    use crate::test_support::object;
    use serde_json::json;

    fn row(from: &str, to: &str, subject: bool) -> AttributeMapping {
        AttributeMapping {
            user_attribute_name: from.into(),
            jwt_claim_name: to.into(),
            subject,
        }
    }

    fn inclusion(rows: Vec<AttributeMapping>) -> MappingConfig {
        MappingConfig {
            name: "m".into(),
            audience: Some("api".into()),
            attribute_mappings: rows,
            ..MappingConfig::default()
        }
    }

    fn exclusion(excluded: &[&str], subject: Option<&str>) -> MappingConfig {
        MappingConfig {
            name: "m".into(),
            audience: Some("api".into()),
            exclusion_list: true,
            exclusion_list_attributes: excluded.iter().map(|s| s.to_string()).collect(),
            exclusion_list_subject: subject.map(str::to_owned),
            ..MappingConfig::default()
        }
    }

    fn run(config: &MappingConfig, attributes: Value) -> Value {
        let mapping = Mapping::compile(config).unwrap();
        Value::Object(apply(&mapping, &object(attributes)))
    }

    fn seed_address() -> Value {
        json!({
            "sub": "user-1",
            "address": {"line1": "123 Any St", "line2": "Apt 123", "city": "Anytown",
                        "state": "CO", "zip": "12345"},
            "email": "u@example.com"
        })
    }

    #[test]
    fn path_parsing_splits_at_dots_and_unescapes_slash_dot() {
        let p = Path::parse("address.city").unwrap();
        assert_eq!(p.segments(), ["address", "city"]);
        let p = Path::parse("pi/.pa/.rat").unwrap();
        assert_eq!(p.segments(), ["pi.pa.rat"]);
        let p = Path::parse("https://example/.com/roles.admin").unwrap();
        assert_eq!(p.segments(), ["https://example.com/roles", "admin"]);
        assert_eq!(Path::parse(""), Err(PathError::Empty));
        for bad in ["a..b", ".a", "a.", "."] {
            assert_eq!(Path::parse(bad), Err(PathError::EmptySegment), "{bad}");
        }
    }

    #[test]
    fn seed_dot_notation_keeps_the_structure() {
        let rows = ["line1", "line2", "city", "state", "zip"]
            .iter()
            .map(|f| row(&format!("address.{f}"), &format!("address.{f}"), false))
            .collect();
        let out = run(&inclusion(rows), seed_address());
        assert_eq!(out, json!({"address": seed_address()["address"].clone()}));
    }

    #[test]
    fn dot_paths_read_nested_and_write_nested_under_new_names() {
        let rows = vec![
            row("address.city", "location.town", false),
            row("email", "contact.mail.primary", false),
        ];
        let out = run(&inclusion(rows), seed_address());
        assert_eq!(
            out,
            json!({"location": {"town": "Anytown"}, "contact": {"mail": {"primary": "u@example.com"}}})
        );
    }

    #[test]
    fn nested_claims_from_several_rows_share_their_parent() {
        let rows = vec![
            row("address.city", "address.city", false),
            row("address.zip", "address.zip", false),
        ];
        let out = run(&inclusion(rows), seed_address());
        assert_eq!(out, json!({"address": {"city": "Anytown", "zip": "12345"}}));
    }

    #[test]
    fn missing_attributes_are_skipped_and_null_is_copied() {
        let rows = vec![
            row("phone", "phone", false),
            row("address.country", "country", false),
            row("nickname", "nickname", false),
        ];
        let out = run(&inclusion(rows), json!({"nickname": null}));
        assert_eq!(out, json!({"nickname": null}));
    }

    #[test]
    fn missing_nested_attribute_creates_no_empty_parent() {
        let out = run(
            &inclusion(vec![row("address.country", "address.country", false)]),
            seed_address(),
        );
        assert_eq!(out, json!({}));
    }

    #[test]
    fn a_path_through_a_non_object_finds_nothing() {
        let rows = vec![
            row("email.domain", "domain", false),
            row("groups.0", "first_group", false),
            row("emails.value", "mail", false),
        ];
        let attributes = json!({
            "email": "u@example.com",
            "groups": ["admins", "users"],
            "emails": [{"value": "a@example.com"}]
        });
        assert_eq!(run(&inclusion(rows), attributes), json!({}));
    }

    #[test]
    fn arrays_and_objects_are_copied_whole() {
        let rows = vec![
            row("groups", "groups", false),
            row("address", "addr", false),
        ];
        let out = run(
            &inclusion(rows),
            json!({"groups": ["a", {"b": 1}], "address": {"city": "X"}}),
        );
        assert_eq!(
            out,
            json!({"groups": ["a", {"b": 1}], "addr": {"city": "X"}})
        );
    }

    #[test]
    fn keys_that_contain_dots_need_the_escape() {
        let attributes = json!({"pi.pa.rat": "literal", "pi": {"pa": {"rat": "nested"}}});
        let out = run(
            &inclusion(vec![
                row("pi/.pa/.rat", "literal", false),
                row("pi.pa.rat", "nested", false),
                row("pi.pa.rat", "out/.with/.dots", false),
            ]),
            attributes,
        );
        assert_eq!(
            out,
            json!({"literal": "literal", "nested": "nested", "out.with.dots": "nested"})
        );
    }

    #[test]
    fn writing_through_a_non_object_parent_is_skipped_and_first_value_stays() {
        // Configuration check refuses such overlaps; apply must still be well defined.
        let mapping = Mapping {
            name: "m".into(),
            selection: Selection::Include(vec![
                (
                    Path::parse("email").unwrap(),
                    Path::parse("contact").unwrap(),
                ),
                (
                    Path::parse("address.city").unwrap(),
                    Path::parse("contact.city").unwrap(),
                ),
            ]),
            subject: None,
        };
        let out = apply(&mapping, &object(seed_address()));
        assert_eq!(Value::Object(out), json!({"contact": "u@example.com"}));
    }

    #[test]
    fn subject_row_sets_sub_and_its_own_claim() {
        let out = run(
            &inclusion(vec![row("sub", "sub", true), row("email", "email", false)]),
            seed_address(),
        );
        assert_eq!(out, json!({"email": "u@example.com", "sub": "user-1"}));
        let out = run(&inclusion(vec![row("email", "mail", true)]), seed_address());
        assert_eq!(
            out,
            json!({"mail": "u@example.com", "sub": "u@example.com"})
        );
    }

    #[test]
    fn subject_from_a_nested_attribute_and_numbers_become_text() {
        let out = run(
            &inclusion(vec![row("ids.employee", "employee_id", true)]),
            json!({"ids": {"employee": 4711}}),
        );
        assert_eq!(out, json!({"employee_id": 4711, "sub": "4711"}));
    }

    #[test]
    fn subject_that_is_not_text_or_number_gives_no_sub() {
        for value in [json!(["a"]), json!({"a": 1}), json!(true), json!(null)] {
            let out = run(
                &inclusion(vec![row("id", "id", true)]),
                json!({ "id": value.clone() }),
            );
            assert_eq!(out, json!({ "id": value }));
        }
        let out = run(&inclusion(vec![row("id", "sub", true)]), json!({}));
        assert_eq!(out, json!({}));
    }

    #[test]
    fn exclusion_copies_everything_but_the_listed_paths() {
        let out = run(
            &exclusion(&["email", "address.zip", "address.line2"], Some("sub")),
            seed_address(),
        );
        assert_eq!(
            out,
            json!({
                "address": {"line1": "123 Any St", "city": "Anytown", "state": "CO"},
                "sub": "user-1"
            })
        );
    }

    #[test]
    fn exclusion_keeps_order_and_empty_parents() {
        let attributes = json!({"b": 1, "a": {"only": 2}, "c": 3});
        let out = run(&exclusion(&["a.only"], None), attributes);
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"b":1,"a":{},"c":3}"#
        );
    }

    #[test]
    fn exclusion_paths_that_lead_nowhere_change_nothing() {
        let attributes = json!({"email": "x", "groups": ["a"]});
        let out = run(
            &exclusion(&["email.domain", "groups.0", "missing.deep"], None),
            attributes.clone(),
        );
        assert_eq!(out, attributes);
    }

    #[test]
    fn exclusion_subject_comes_from_its_attribute_even_if_excluded() {
        let out = run(
            &exclusion(&["email"], Some("email")),
            json!({"sub": "user-1", "email": "u@example.com", "name": "U"}),
        );
        // The session's own `sub` is not copied: sub comes only from the subject attribute.
        assert_eq!(out, json!({"name": "U", "sub": "u@example.com"}));
    }

    #[test]
    fn exclusion_without_subject_gives_no_sub() {
        let out = run(&exclusion(&[], None), json!({"sub": "user-1", "name": "U"}));
        assert_eq!(out, json!({"name": "U"}));
    }

    #[test]
    fn exclusion_copies_dotted_keys_literally_and_escape_excludes_them() {
        let attributes = json!({"pi.clientContext": 1, "pi": {"clientContext": 2}});
        let out = run(&exclusion(&["pi/.clientContext"], None), attributes);
        assert_eq!(out, json!({"pi": {"clientContext": 2}}));
    }

    #[test]
    fn registered_claims_in_the_session_are_dropped() {
        let attributes = json!({
            "iss": "https://idp", "aud": "gateway", "exp": 1, "iat": 0, "nbf": 0, "jti": "j",
            "sub": "user-1", "name": "U", "acr": "mfa"
        });
        let out = run(&exclusion(&[], Some("sub")), attributes);
        assert_eq!(out, json!({"name": "U", "acr": "mfa", "sub": "user-1"}));
    }

    #[test]
    fn registered_claim_targets_are_dropped_by_apply() {
        // Configuration check refuses these rows; apply drops them regardless.
        let mapping = Mapping {
            name: "m".into(),
            selection: Selection::Include(vec![
                (Path::parse("email").unwrap(), Path::parse("iss").unwrap()),
                (Path::parse("email").unwrap(), Path::parse("aud.x").unwrap()),
                (Path::parse("email").unwrap(), Path::parse("sub").unwrap()),
                (Path::parse("email").unwrap(), Path::parse("x.iss").unwrap()),
            ]),
            subject: None,
        };
        let out = apply(&mapping, &object(seed_address()));
        assert_eq!(Value::Object(out), json!({"x": {"iss": "u@example.com"}}));
    }

    #[test]
    fn compile_reports_every_problem() {
        let config = inclusion(vec![
            row("a..b", "x", false),
            row("sub", "sub", true),
            row("email", "sub", true),
            row("name", "sub", false),
            row("issuer", "iss", false),
            row("city", "address", false),
            row("zip", "address.zip", false),
            row("name", "", false),
        ]);
        let errors = Mapping::compile(&config).unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let expected = [
            "attribute_mappings user_attribute_name \"a..b\" has an empty segment",
            "attribute_mappings jwt_claim_name \"\" is empty",
            "attribute_mappings maps \"name\" to \"sub\" without subject = true",
            "attribute_mappings jwt_claim_name \"iss\" is the registered claim \"iss\"",
            "attribute_mappings writes both \"address\" and \"address.zip\"",
            "attribute_mappings writes both \"sub\" and \"sub\"",
            "attribute_mappings marks 2 attributes as subject (\"sub\", \"email\")",
        ];
        for e in expected {
            assert!(
                text.iter().any(|t| t.starts_with(e)),
                "{e} not in {text:#?}"
            );
        }
    }

    #[test]
    fn compile_checks_exclusion_paths() {
        let errors = Mapping::compile(&exclusion(&["a.", "ok"], Some(""))).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}

/// Property tests: the mapping never loses or invents an attribute, in either mode, for random
/// nested attributes and random dot-notation rows.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod properties {
    use super::*;
    use crate::config::AttributeMapping;
    use proptest::prelude::*;

    /// Attribute names: a few plain ones, and registered claim names the mapping must skip.
    const NAMES: [&str; 7] = ["a", "b", "c", "group", "iss", "exp", "x"];

    fn attributes() -> impl Strategy<Value = Map<String, Value>> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Value::from),
            "[a-z]{0,6}".prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            Just(Value::Null),
            proptest::collection::vec("[a-z]{1,3}".prop_map(Value::from), 0..3)
                .prop_map(Value::from),
        ];
        let value = leaf.prop_recursive(3, 24, 4, |inner| {
            proptest::collection::btree_map(proptest::sample::select(&NAMES[..]), inner, 0..4)
                .prop_map(|m| {
                    Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                })
        });
        proptest::collection::btree_map(proptest::sample::select(&NAMES[..]), value, 0..5)
            .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    fn dotted() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(&NAMES[..3]), 1..4)
            .prop_map(|s| s.join("."))
    }

    /// Every leaf (a non-object value, or an empty object) with its dotted path.
    fn leaves(prefix: &str, v: &Map<String, Value>, out: &mut Vec<(String, Value)>) {
        for (k, v) in v {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Object(m) if !m.is_empty() => leaves(&path, m, out),
                other => out.push((path, other.clone())),
            }
        }
    }

    fn at<'a>(m: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
        Path::parse(path).ok()?.lookup(m)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn an_exclusion_list_copies_everything_else(attrs in attributes(), excluded in proptest::collection::vec(dotted(), 0..3)) {
            let config = MappingConfig {
                name: "m".into(),
                audience: Some("api".into()),
                exclusion_list: true,
                exclusion_list_attributes: excluded.clone(),
                ..MappingConfig::default()
            };
            let mapping = Mapping::compile(&config).unwrap();
            let claims = apply(&mapping, &attrs);
            let is_excluded = |p: &str| excluded.iter().any(|e| p == e || p.starts_with(&format!("{e}.")));
            // Nothing invented: every claim leaf is the attribute at the same path.
            let mut out = Vec::new();
            leaves("", &claims, &mut out);
            for (path, value) in &out {
                prop_assert!(!is_excluded(path), "excluded {} kept", path);
                match value {
                    // A parent whose members were all excluded stays as `{}` (documented above):
                    // the attribute there must be an object whose every member was excluded.
                    Value::Object(m) if m.is_empty() => {
                        let Some(Value::Object(original)) = at(&attrs, path) else {
                            return Err(TestCaseError::fail(format!("invented {path}")));
                        };
                        for k in original.keys() {
                            let member = format!("{path}.{k}");
                            prop_assert!(is_excluded(&member), "lost {} under {}", member, path);
                        }
                    }
                    _ => prop_assert_eq!(at(&attrs, path), Some(value), "invented {}", path),
                }
            }
            // Nothing lost: every attribute leaf not excluded and not registered is a claim.
            let mut want = Vec::new();
            leaves("", &attrs, &mut want);
            for (path, value) in want {
                let top = path.split('.').next().unwrap_or_default();
                if is_reserved(top) || is_excluded(&path) {
                    continue;
                }
                prop_assert_eq!(at(&claims, &path), Some(&value), "lost {}", path);
            }
        }

        #[test]
        fn an_inclusion_list_maps_exactly_its_rows(attrs in attributes(), froms in proptest::collection::vec(dotted(), 1..4)) {
            // Distinct, non-overlapping claim names c0, c1, … (overlaps are refused by compile).
            let rows: Vec<AttributeMapping> = froms
                .iter()
                .enumerate()
                .map(|(i, from)| AttributeMapping {
                    user_attribute_name: from.clone(),
                    jwt_claim_name: format!("claims.c{i}"),
                    subject: false,
                })
                .collect();
            let config = MappingConfig {
                name: "m".into(),
                audience: Some("api".into()),
                attribute_mappings: rows,
                ..MappingConfig::default()
            };
            let mapping = Mapping::compile(&config).unwrap();
            let claims = apply(&mapping, &attrs);
            let mut produced = 0;
            for (i, from) in froms.iter().enumerate() {
                let got = at(&claims, &format!("claims.c{i}"));
                prop_assert_eq!(got, at(&attrs, from), "row {} ({})", i, from);
                produced += usize::from(got.is_some());
            }
            // Nothing but the rows' claims.
            let inner = claims.get("claims").and_then(Value::as_object).map_or(0, Map::len);
            prop_assert_eq!(inner, produced);
            prop_assert!(claims.len() <= 1);
        }
    }
}
