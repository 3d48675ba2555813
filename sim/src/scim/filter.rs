//! The little SCIM filter and attribute-path language ScimSim understands:
//! `attr eq "value"` filters (attr may be dotted or URN-qualified) and the helpers that
//! resolve attribute names case-insensitively, as RFC 7643 wants.

use serde_json::{Map, Value};

/// The enterprise User extension schema URN.
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The core User schema URN.
pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// A filter ScimSim can answer from an index: on `id`, `externalId` (both case-exact) or
/// `userName` (case-insensitive), with a string value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Indexed<'a> {
    Id(&'a str),
    ExternalId(&'a str),
    UserName(&'a str),
}

/// A parsed `attr eq value` filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filter {
    /// Attribute path, e.g. "userName", "emails.value", "name.familyName".
    pub(crate) attr: String,
    /// Comparison value (string, bool, number or null).
    pub(crate) value: Value,
}

impl Filter {
    /// Parses `attr eq "value"`; the value is a JSON literal, so `\"` and `\\` work.
    pub(crate) fn parse(s: &str) -> Result<Filter, String> {
        let s = s.trim();
        let (attr, rest) = s
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("unsupported filter: {s}"))?;
        let (op, value) = rest
            .trim_start()
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("unsupported filter: {s}"))?;
        if !op.eq_ignore_ascii_case("eq") {
            return Err(format!("unsupported filter operator {op:?}: only eq is supported"));
        }
        let value: Value = serde_json::from_str(value.trim())
            .map_err(|_| format!("the filter value must be a quoted string or a literal: {s}"))?;
        if value.is_array() || value.is_object() {
            return Err(format!("the filter value must be a literal: {s}"));
        }
        Ok(Filter {
            attr: attr.to_owned(),
            value,
        })
    }

    /// The index that can answer this filter, if any: a plain or core-URN-qualified `id`,
    /// `externalId` or `userName` compared with a string.
    pub(crate) fn indexed(&self) -> Option<Indexed<'_>> {
        let value = self.value.as_str()?;
        let (container, attr) = split_urn(&self.attr);
        if container.is_some() {
            return None;
        }
        if attr.eq_ignore_ascii_case("id") {
            Some(Indexed::Id(value))
        } else if attr.eq_ignore_ascii_case("externalId") {
            Some(Indexed::ExternalId(value))
        } else if attr.eq_ignore_ascii_case("userName") {
            Some(Indexed::UserName(value))
        } else {
            None
        }
    }

    /// Whether `resource` has a value at `attr` equal to the filter value (strings
    /// compared case-insensitively except for `id` and `externalId`).
    pub(crate) fn matches(&self, resource: &Value) -> bool {
        let (container, rest) = split_urn(&self.attr);
        let base = match container {
            Some(urn) => resource.as_object().and_then(|m| get_ci(m, urn)),
            None => Some(resource),
        };
        let mut current: Vec<&Value> = base.into_iter().collect();
        for seg in rest.split('.').filter(|s| !s.is_empty()) {
            let mut next = Vec::new();
            for v in current {
                let objects: Vec<&Map<String, Value>> = match v {
                    Value::Object(m) => vec![m],
                    Value::Array(items) => items.iter().filter_map(Value::as_object).collect(),
                    _ => vec![],
                };
                for m in objects {
                    match get_ci(m, seg) {
                        Some(Value::Array(items)) => next.extend(items),
                        Some(found) => next.push(found),
                        None => {}
                    }
                }
            }
            current = next;
        }
        let last = rest.rsplit('.').next().unwrap_or_default();
        let case_exact = last.eq_ignore_ascii_case("id") || last.eq_ignore_ascii_case("externalId");
        current.into_iter().any(|v| values_equal(v, &self.value, case_exact))
    }
}

/// Equality the SCIM way: strings optionally case-insensitive, everything else exact.
pub(crate) fn values_equal(a: &Value, b: &Value, case_exact: bool) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) if !case_exact => a.to_lowercase() == b.to_lowercase(),
        _ => a == b,
    }
}

/// Splits a URN-qualified path into (extension schema, attribute path). The core User
/// URN is dropped; an exact extension URN gives an empty attribute path (the extension
/// object itself). Unqualified paths give (None, path).
pub(crate) fn split_urn(path: &str) -> (Option<&str>, &str) {
    let core = format!("{USER_URN}:");
    if starts_with_ci(path, &core) {
        return (None, &path[core.len()..]);
    }
    if !starts_with_ci(path, "urn:") {
        return (None, path);
    }
    if path.eq_ignore_ascii_case(ENTERPRISE_URN) {
        return (Some(ENTERPRISE_URN), "");
    }
    let enterprise = format!("{ENTERPRISE_URN}:");
    if starts_with_ci(path, &enterprise) {
        return (Some(ENTERPRISE_URN), &path[enterprise.len()..]);
    }
    match path.rfind(':') {
        Some(i) => (Some(&path[..i]), &path[i + 1..]),
        None => (None, path),
    }
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// The key of `map` equal to `name` ignoring case (attribute names are case-insensitive).
pub(crate) fn find_key(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// `map[name]`, ignoring case.
pub(crate) fn get_ci<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_and_matches() {
        let user = json!({
            "userName": "Zoe.Kim@Acme.test",
            "externalId": "AB12C0000K1",
            "emails": [{"value": "zoe.kim@acme.test", "type": "work"}],
            ENTERPRISE_URN: {"employeeNumber": "000012444"},
        });
        let f = |s: &str| Filter::parse(s).map(|f| f.matches(&user));
        assert_eq!(f(r#"userName eq "zoe.kim@acme.test""#), Ok(true));
        assert_eq!(f(r#"externalId eq "AB12C0000K1""#), Ok(true));
        assert_eq!(
            f(r#"externalId eq "ab12c0000k1""#),
            Ok(false),
            "externalId is case-exact"
        );
        assert_eq!(f(r#"emails.value eq "ZOE.KIM@acme.test""#), Ok(true));
        assert_eq!(
            f(&format!(r#"{ENTERPRISE_URN}:employeeNumber eq "000012444""#)),
            Ok(true)
        );
        assert_eq!(f(r#"userName eq "a\"b""#), Ok(false));
        assert!(f(r#"userName co "x""#).is_err());
        assert!(f(r#"userName eq x"#).is_err());
        assert!(f(r#"userName eq "x" and active eq true"#).is_err());
    }

    #[test]
    fn indexed_filters() {
        let idx = |s: &str| Filter::parse(s).map(|f| f.indexed().map(|i| format!("{i:?}")));
        assert_eq!(idx(r#"userName eq "A@x""#), Ok(Some(r#"UserName("A@x")"#.into())));
        assert_eq!(idx(r#"USERNAME eq "a""#), Ok(Some(r#"UserName("a")"#.into())));
        assert_eq!(idx(r#"externalId eq "E1""#), Ok(Some(r#"ExternalId("E1")"#.into())));
        assert_eq!(idx(r#"id eq "x""#), Ok(Some(r#"Id("x")"#.into())));
        assert_eq!(
            idx(&format!(r#"{USER_URN}:userName eq "a""#)),
            Ok(Some(r#"UserName("a")"#.into()))
        );
        // Not indexed: other attributes, sub-attributes, extension attributes, non-strings.
        assert_eq!(idx(r#"emails.value eq "a""#), Ok(None));
        assert_eq!(idx(r#"name.userName eq "a""#), Ok(None));
        assert_eq!(idx(&format!(r#"{ENTERPRISE_URN}:employeeNumber eq "1""#)), Ok(None));
        assert_eq!(idx("externalId eq 12"), Ok(None));
    }
}
