//! `[tenants.scope]`: include/exclude rules (a UKG field, one test, an optional name) and
//! what happens to who falls out of scope.

use hrsync_actors::mapping::UKG_FIELDS;
use hrsync_actors::scope::{Op, OutOfScope, Rule, ScopeSpec};
use toml::Value;

use super::errors::closest;
use super::raw::RawScope;
use super::validate::{describe, Ctx};
use super::ConfigError;

impl Ctx<'_> {
    /// `[tenants.scope]`: include/exclude rules and what happens to who falls out of scope.
    pub(super) fn scope(&self, t: &str, raw: &RawScope) -> Result<ScopeSpec, ConfigError> {
        let key = format!("{t}.out_of_scope");
        let out_of_scope = match self.string(raw.out_of_scope.as_ref(), &key, "\"deactivate\" or \"ignore\"")? {
            None | Some("deactivate") => OutOfScope::Deactivate,
            Some("ignore") => OutOfScope::Ignore,
            Some(other) => {
                return Err(self.err(&key, format!("expected \"deactivate\" or \"ignore\", got {other:?}")));
            }
        };
        Ok(ScopeSpec {
            include: self.scope_rules(t, "include", raw.include.as_ref())?,
            exclude: self.scope_rules(t, "exclude", raw.exclude.as_ref())?,
            out_of_scope,
        })
    }

    /// A list of scope rules: tables with `field`, one operator and an optional `name`.
    pub(super) fn scope_rules(&self, t: &str, kind: &str, v: Option<&Value>) -> Result<Vec<Rule>, ConfigError> {
        const OPERATORS: [&str; 5] = ["equals", "in", "not_in", "matches", "is_empty"];
        let example = format!(
            "a list of rules such as [{{ field = \"employeeTypeCode\", equals = \"CON\" }}] (or [[{t}.{kind}]] tables)"
        );
        let rules = match v {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(self.err(
                    format!("{t}.{kind}"),
                    format!("expected {example}, got {}", describe(other)),
                ));
            }
        };
        let mut out = Vec::new();
        for (i, item) in rules.iter().enumerate() {
            let key = format!("{t}.{kind}[{i}]");
            let Value::Table(table) = item else {
                return Err(self.err(&key, format!("expected {example}, got {}", describe(item))));
            };
            for k in table.keys() {
                if k != "field" && k != "name" && !OPERATORS.contains(&k.as_str()) {
                    return Err(self.err(
                        format!("{key}.{k}"),
                        format!(
                            "unknown key; a rule has field, name and one of {}",
                            OPERATORS.join(", ")
                        ),
                    ));
                }
            }
            let field = self.string_value(
                table.get("field"),
                &format!("{key}.field"),
                "a UKG field name such as \"companyCode\"",
            )?;
            let field = self.required(
                field,
                &format!("{key}.field"),
                "a UKG field name such as \"companyCode\"",
            )?;
            if !UKG_FIELDS.contains(&field) {
                let hint = closest(field, &UKG_FIELDS)
                    .map(|c| format!(" (did you mean {c:?}?)"))
                    .unwrap_or_default();
                return Err(self.err(
                    format!("{key}.field"),
                    format!(
                        "{field:?} is not a UKG field hrsync reads{hint}; expected one of {}",
                        UKG_FIELDS.join(", ")
                    ),
                ));
            }
            let name = self.string_value(
                table.get("name"),
                &format!("{key}.name"),
                "a short description of the rule",
            )?;
            let given: Vec<&str> = OPERATORS.iter().copied().filter(|o| table.contains_key(*o)).collect();
            let op_name = match given.as_slice() {
                [one] => *one,
                [] => return Err(self.err(&key, format!("no test; give one of {}", OPERATORS.join(", ")))),
                many => {
                    return Err(self.err(
                        &key,
                        format!(
                            "{} tests in one rule; give exactly one (write several rules to combine them)",
                            many.join(" and ")
                        ),
                    ))
                }
            };
            let op_key = format!("{key}.{op_name}");
            let value = &table[op_name];
            let text = |v: &Value| match v {
                Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                other => Err(self.err(
                    &op_key,
                    format!("expected a non-empty text value, got {}", describe(other)),
                )),
            };
            let list = |v: &Value| match v {
                Value::Array(xs) if !xs.is_empty() => xs.iter().map(text).collect::<Result<Vec<_>, _>>(),
                other => Err(self.err(
                    &op_key,
                    format!(
                        "expected a non-empty list such as [\"ACME\", \"BETA\"], got {}",
                        describe(other)
                    ),
                )),
            };
            let op = match op_name {
                "equals" => Op::Equals(text(value)?),
                "in" => Op::In(list(value)?),
                "not_in" => Op::NotIn(list(value)?),
                "matches" => {
                    let pattern = text(value)?;
                    Op::Matches(regex::Regex::new(&pattern).map_err(|e| {
                        // The regex crate's message spans lines; its last line says what is wrong.
                        let why = e.to_string();
                        let why = why
                            .lines()
                            .last()
                            .unwrap_or_default()
                            .trim_start_matches("error: ")
                            .to_string();
                        self.err(&op_key, format!("not a valid regular expression ({why}): {pattern:?}"))
                    })?)
                }
                _ => match value {
                    Value::Boolean(b) => Op::IsEmpty(*b),
                    other => return Err(self.err(&op_key, format!("expected true or false, got {}", describe(other)))),
                },
            };
            out.push(Rule::new(kind, field, op, name));
        }
        Ok(out)
    }
}
