//! SCIM PATCH (RFC 7644 §3.5.2) as far as ScimSim needs it: `add`/`replace` with a path
//! (`active`, `name.givenName`, `emails[type eq "work"].value`, URN-qualified paths such
//! as the enterprise `manager`) or with a value object merged in, and `remove` with a path.

use serde_json::{Map, Value};

use super::filter::{find_key, split_urn, values_equal, Filter};
use super::ScimError;

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// A parsed attribute path: `[urn:]attr[\[filter\]][.sub]`.
#[derive(Debug)]
struct Path<'a> {
    /// Extension schema holding the attribute, if any.
    container: Option<&'a str>,
    /// Top-level attribute; empty means the extension object itself.
    attr: &'a str,
    /// Value filter on a multi-valued attribute.
    filter: Option<Filter>,
    /// Sub-attribute.
    sub: Option<&'a str>,
}

/// Applies one PatchOp operation (`{"op", "path"?, "value"?}`) to `user`.
pub(crate) fn apply(user: &mut Value, operation: &Value) -> Result<(), ScimError> {
    let Some(op_obj) = operation.as_object() else {
        return Err(ScimError::bad("invalidSyntax", "an operation must be an object"));
    };
    let Some(user) = user.as_object_mut() else {
        return Err(ScimError::bad("invalidSyntax", "the resource is not an object"));
    };
    let field = |name: &str| super::filter::get_ci(op_obj, name);
    let op = match field("op")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("add") => Op::Add,
        Some("replace") => Op::Replace,
        Some("remove") => Op::Remove,
        other => {
            let detail = format!("unsupported op {other:?}");
            return Err(ScimError::bad("invalidSyntax", &detail));
        }
    };
    let path = field("path").and_then(Value::as_str);
    let value = field("value");
    match (op, path, value) {
        (Op::Remove, None, _) => Err(ScimError::bad("noTarget", "remove needs a path")),
        (Op::Remove, Some(p), _) => remove(user, &parse_path(p)?),
        (_, _, None) => Err(ScimError::bad("invalidValue", "add and replace need a value")),
        (_, Some(p), Some(v)) => set(user, &parse_path(p)?, op, v),
        (_, None, Some(Value::Object(values))) => {
            for (key, v) in values {
                set(user, &parse_path(key)?, op, v)?;
            }
            Ok(())
        }
        (_, None, Some(_)) => Err(ScimError::bad(
            "invalidValue",
            "without a path the value must be an object",
        )),
    }
}

fn parse_path(p: &str) -> Result<Path<'_>, ScimError> {
    let invalid = || ScimError::bad("invalidPath", &format!("unsupported path {p:?}"));
    let (container, rest) = split_urn(p);
    let (attr, filter, sub) = match rest.find('[') {
        Some(open) => {
            let close = rest[open..].find(']').map(|i| i + open).ok_or_else(invalid)?;
            let filter = Filter::parse(&rest[open + 1..close]).map_err(|_| invalid())?;
            let after = &rest[close + 1..];
            let sub = match after {
                "" => None,
                _ => Some(after.strip_prefix('.').ok_or_else(invalid)?),
            };
            (&rest[..open], Some(filter), sub)
        }
        None => match rest.split_once('.') {
            Some((attr, sub)) => (attr, None, Some(sub)),
            None => (rest, None, None),
        },
    };
    if (attr.is_empty() && container.is_none()) || sub.is_some_and(|s| s.is_empty() || s.contains('.')) {
        return Err(invalid());
    }
    Ok(Path {
        container,
        attr,
        filter,
        sub,
    })
}

/// The object holding the path's attribute (the user, or an extension object, created
/// on demand and registered in `schemas`).
fn target<'a>(user: &'a mut Map<String, Value>, path: &Path) -> Result<&'a mut Map<String, Value>, ScimError> {
    let Some(urn) = path.container else {
        return Ok(user);
    };
    add_schema(user, urn);
    let key = find_key(user, urn).unwrap_or_else(|| urn.to_owned());
    let slot = user.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
        .ok_or_else(|| ScimError::bad("invalidPath", &format!("{urn} is not an object")))
}

fn add_schema(user: &mut Map<String, Value>, urn: &str) {
    if let Some(Value::Array(schemas)) = user.get_mut("schemas") {
        if !schemas
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
        {
            schemas.push(Value::String(urn.to_owned()));
        }
    }
}

fn set(user: &mut Map<String, Value>, path: &Path, op: Op, v: &Value) -> Result<(), ScimError> {
    let invalid = |what: &str| ScimError::bad("invalidPath", &format!("{what} is not an object"));
    let map = target(user, path)?;
    if path.attr.is_empty() {
        let Value::Object(values) = v else {
            return Err(ScimError::bad("invalidValue", "an extension value must be an object"));
        };
        for (key, value) in values {
            set_attr(map, key, op, value);
        }
        return Ok(());
    }
    let key = find_key(map, path.attr).unwrap_or_else(|| path.attr.to_owned());
    match (&path.filter, path.sub) {
        (None, None) => set_attr(map, &key, op, v),
        (None, Some(sub)) => {
            let inner = map.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
            if inner.is_null() {
                *inner = Value::Object(Map::new());
            }
            set_attr(inner.as_object_mut().ok_or_else(|| invalid(&key))?, sub, op, v);
        }
        (Some(filter), sub) => {
            let slot = map.entry(key.clone()).or_insert_with(|| Value::Array(Vec::new()));
            if slot.is_null() {
                *slot = Value::Array(Vec::new());
            }
            let Value::Array(items) = slot else {
                return Err(ScimError::bad("invalidPath", &format!("{key} is not multi-valued")));
            };
            let mut matched = false;
            for item in items.iter_mut().filter(|i| element_matches(i, filter)) {
                matched = true;
                match (sub, item.as_object_mut()) {
                    (Some(sub), Some(obj)) => set_attr(obj, sub, op, v),
                    (None, Some(obj)) if v.is_object() => merge(obj, op, v),
                    _ => *item = v.clone(),
                }
            }
            if !matched {
                // Lenient like most servers: create the element the filter describes.
                let mut element = Map::new();
                element.insert(filter.attr.clone(), filter.value.clone());
                match sub {
                    Some(sub) => set_attr(&mut element, sub, op, v),
                    None => merge(&mut element, op, v),
                }
                items.push(Value::Object(element));
            }
        }
    }
    Ok(())
}

/// Sets `map[name]`: objects merge into objects, `add` appends to arrays, anything else
/// replaces. Coerces `active: "False"` to a boolean and `manager: "id"` to `{"value": "id"}`.
fn set_attr(map: &mut Map<String, Value>, name: &str, op: Op, v: &Value) {
    let key = find_key(map, name).unwrap_or_else(|| name.to_owned());
    let v = match v {
        Value::String(s) if key.eq_ignore_ascii_case("active") => match s.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => v.clone(),
        },
        Value::String(s) if key.eq_ignore_ascii_case("manager") => serde_json::json!({"value": s}),
        _ => v.clone(),
    };
    match (map.get_mut(&key), v) {
        (Some(Value::Object(old)), v @ Value::Object(_)) => merge(old, op, &v),
        (Some(Value::Array(old)), Value::Array(new)) if op == Op::Add => {
            for item in new {
                if !old.contains(&item) {
                    old.push(item);
                }
            }
        }
        (Some(Value::Array(old)), item) if op == Op::Add => {
            if !old.contains(&item) {
                old.push(item);
            }
        }
        (_, v) => {
            map.insert(key, v);
        }
    }
}

/// Merges the members of the object `v` into `map`.
fn merge(map: &mut Map<String, Value>, op: Op, v: &Value) {
    if let Value::Object(values) = v {
        for (key, value) in values {
            set_attr(map, key, op, value);
        }
    }
}

fn element_matches(item: &Value, filter: &Filter) -> bool {
    item.as_object()
        .and_then(|m| super::filter::get_ci(m, &filter.attr))
        .is_some_and(|v| values_equal(v, &filter.value, false))
}

fn remove(user: &mut Map<String, Value>, path: &Path) -> Result<(), ScimError> {
    if let (Some(urn), true) = (path.container, path.attr.is_empty()) {
        if let Some(key) = find_key(user, urn) {
            user.remove(&key);
        }
        return Ok(());
    }
    if path.container.is_some_and(|urn| find_key(user, urn).is_none()) {
        return Ok(());
    }
    let map = target(user, path)?;
    let Some(key) = find_key(map, path.attr) else {
        return Ok(());
    };
    match (&path.filter, path.sub, map.get_mut(&key)) {
        (None, None, _) => {
            map.remove(&key);
        }
        (None, Some(sub), Some(Value::Object(inner))) => {
            if let Some(k) = find_key(inner, sub) {
                inner.remove(&k);
            }
        }
        (Some(filter), None, Some(Value::Array(items))) => items.retain(|i| !element_matches(i, filter)),
        (Some(filter), Some(sub), Some(Value::Array(items))) => {
            for item in items.iter_mut().filter(|i| element_matches(i, filter)) {
                if let Some(obj) = item.as_object_mut() {
                    if let Some(k) = find_key(obj, sub) {
                        obj.remove(&k);
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::filter::ENTERPRISE_URN;
    use super::*;
    use serde_json::json;

    fn patch(user: &mut Value, ops: Value) -> Result<(), ScimError> {
        ops.as_array().into_iter().flatten().try_for_each(|op| apply(user, op))
    }

    #[test]
    fn path_operations() {
        let mut u = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                           "userName": "a@x.test", "active": true, "name": {"givenName": "A", "familyName": "B"}});
        let manager_path = format!("{ENTERPRISE_URN}:manager");
        let ops = json!([
            {"op": "replace", "path": "active", "value": false},
            {"op": "Replace", "path": "name.givenName", "value": "Zoë"},
            {"op": "add", "path": "title", "value": "Engineer"},
            {"op": "add", "path": manager_path, "value": {"value": "m-1"}},
            {"op": "add", "path": "emails[type eq \"work\"].value", "value": "a@x.test"},
        ]);
        assert!(patch(&mut u, ops).is_ok());
        assert_eq!(u["active"], json!(false));
        assert_eq!(u["name"], json!({"givenName": "Zoë", "familyName": "B"}));
        assert_eq!(u["title"], json!("Engineer"));
        assert_eq!(u[ENTERPRISE_URN]["manager"]["value"], json!("m-1"));
        assert_eq!(u["emails"], json!([{"type": "work", "value": "a@x.test"}]));
        assert!(u["schemas"]
            .as_array()
            .is_some_and(|s| s.contains(&json!(ENTERPRISE_URN))));

        let ops = json!([
            {"op": "remove", "path": manager_path},
            {"op": "remove", "path": "title"},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@x.test"},
        ]);
        assert!(patch(&mut u, ops).is_ok());
        assert_eq!(u[ENTERPRISE_URN].get("manager"), None);
        assert_eq!(u.get("title"), None);
        assert_eq!(u["emails"], json!([{"type": "work", "value": "b@x.test"}]));
    }

    #[test]
    fn value_object_without_path() {
        let mut u = json!({"userName": "a@x.test", "name": {"givenName": "A", "familyName": "B"}});
        let ops = json!([{"op": "replace", "value": {
            "active": "False",
            "name": {"familyName": "C"},
            "displayName": "A C",
            ENTERPRISE_URN: {"department": "ENG", "manager": "m-2"},
        }}]);
        assert!(patch(&mut u, ops).is_ok());
        assert_eq!(u["active"], json!(false));
        assert_eq!(u["name"], json!({"givenName": "A", "familyName": "C"}));
        assert_eq!(u["displayName"], json!("A C"));
        assert_eq!(
            u[ENTERPRISE_URN],
            json!({"department": "ENG", "manager": {"value": "m-2"}})
        );
    }

    #[test]
    fn bad_operations_are_rejected() {
        let mut u = json!({"userName": "a@x.test"});
        for op in [
            json!({"op": "remove"}),
            json!({"op": "move", "path": "title"}),
            json!({"op": "replace", "path": "title"}),
            json!({"op": "replace", "value": 3}),
            json!({"op": "replace", "path": "emails[type eq work", "value": "x"}),
        ] {
            assert!(apply(&mut u, &op).is_err(), "{op}");
        }
    }
}
