//! Scoping filters: which employees a tenant syncs at all.
//!
//! A tenant's [`ScopeSpec`] holds `include` rules (an employee must match every one) and
//! `exclude` rules (an employee matching any one is out). Each rule tests one roster field
//! (any of `mapping::UKG_FIELDS`, e.g. `companyCode`, `employeeTypeCode`,
//! `employeeStatusCode`, `orgLevel2Code`, `primaryWorkLocationCode`) with one operator:
//! `equals`, `in`, `not_in`, `matches` (regex) or `is_empty`. Text comparisons ignore case
//! and surrounding spaces (UKG codes are entered by hand); `matches` uses the regex as
//! written (add `(?i)` to ignore case).
//!
//! Pure: the mapper asks [`ScopeSpec::excluded_by`] before mapping an employee, and handles
//! one that is out of scope like a leaver (deactivated, brake applies) unless
//! `out_of_scope = "ignore"`. The rule's [`Rule::label`] is what plans and reports show.

use crate::model::Employee;
pub use crate::spec::{Op, OutOfScope, Rule, ScopeSpec};

impl Op {
    /// The operator's name as written in the config.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Equals(_) => "equals",
            Op::In(_) => "in",
            Op::NotIn(_) => "not_in",
            Op::Matches(_) => "matches",
            Op::IsEmpty(_) => "is_empty",
        }
    }

    fn test(&self, value: Option<&str>) -> bool {
        let value = value.map(str::trim).filter(|v| !v.is_empty());
        let same = |a: &str, b: &str| a.trim().to_lowercase() == b.to_lowercase();
        match self {
            Op::Equals(x) => value.is_some_and(|v| same(x, v)),
            Op::In(xs) => value.is_some_and(|v| xs.iter().any(|x| same(x, v))),
            Op::NotIn(xs) => !value.is_some_and(|v| xs.iter().any(|x| same(x, v))),
            Op::Matches(re) => re.is_match(value.unwrap_or("")),
            Op::IsEmpty(empty) => value.is_none() == *empty,
        }
    }

    /// The operand as written in a label.
    fn operand(&self) -> String {
        let list = |xs: &[String]| {
            let quoted: Vec<String> = xs.iter().map(|x| format!("{x:?}")).collect();
            format!("[{}]", quoted.join(", "))
        };
        match self {
            Op::Equals(x) => format!("{x:?}"),
            Op::In(xs) | Op::NotIn(xs) => list(xs),
            Op::Matches(re) => format!("{:?}", re.as_str()),
            Op::IsEmpty(b) => b.to_string(),
        }
    }
}

impl Rule {
    /// A rule labelled `{kind} {field} {op} {operand}` unless `name` is given.
    pub fn new(kind: &str, field: &str, op: Op, name: Option<&str>) -> Rule {
        let label = match name {
            Some(n) => n.to_string(),
            None => format!("{kind} {field} {} {}", op.name(), op.operand()),
        };
        Rule {
            field: field.to_string(),
            op,
            label,
        }
    }

    /// Whether the employee's field passes the rule's test.
    pub fn matches(&self, e: &Employee) -> bool {
        self.op.test(e.fields.get(self.field.as_str()).map(String::as_str))
    }
}

impl ScopeSpec {
    /// The label of the first rule that puts `e` out of scope, or None when `e` is in scope.
    pub fn excluded_by(&self, e: &Employee) -> Option<&str> {
        if let Some(r) = self.include.iter().find(|r| !r.matches(e)) {
            return Some(&r.label);
        }
        self.exclude.iter().find(|r| r.matches(e)).map(|r| r.label.as_str())
    }

    /// Whether there are rules at all.
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// A stable text of the rules (for noticing that the scope changed).
    pub fn fingerprint(&self) -> String {
        let mut out = format!("{:?};", self.out_of_scope);
        for r in self.include.iter().chain(&self.exclude) {
            out.push_str(&format!("{}|{}|{};", r.field, r.op.name(), r.op.operand()));
        }
        out.push_str(&format!("{}/{}", self.include.len(), self.exclude.len()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn employee(fields: &[(&'static str, &str)]) -> Employee {
        Employee {
            company_id: "C1".into(),
            employee_id: "E1".into(),
            employee_number: None,
            first_name: None,
            preferred_name: None,
            last_name: None,
            email: None,
            job_title: None,
            department: None,
            work_location: None,
            status: "A".into(),
            termination_date: None,
            supervisor_id: None,
            supervisor_in_roster: false,
            fields: fields.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        }
    }

    fn rule(field: &str, op: Op) -> Rule {
        Rule::new("exclude", field, op, None)
    }

    #[test]
    fn equals_ignores_case_and_spaces_and_never_matches_missing() {
        let r = rule("employeeTypeCode", Op::Equals("CON".into()));
        assert!(r.matches(&employee(&[("employeeTypeCode", "con ")])));
        assert!(!r.matches(&employee(&[("employeeTypeCode", "REG")])));
        assert!(!r.matches(&employee(&[])));
        assert_eq!(r.label, "exclude employeeTypeCode equals \"CON\"");
    }

    #[test]
    fn in_and_not_in() {
        let r = rule("companyCode", Op::In(vec!["ACME".into(), "BETA".into()]));
        assert!(r.matches(&employee(&[("companyCode", "beta")])));
        assert!(!r.matches(&employee(&[("companyCode", "GAMMA")])));
        assert!(!r.matches(&employee(&[])));
        let r = rule("companyCode", Op::NotIn(vec!["ACME".into()]));
        assert!(r.matches(&employee(&[("companyCode", "GAMMA")])));
        assert!(!r.matches(&employee(&[("companyCode", "acme")])));
        assert!(r.matches(&employee(&[])), "an empty value is in no list");
    }

    #[test]
    fn matches_is_a_regex_as_written() {
        let r = rule("orgLevel2Code", Op::Matches(regex::Regex::new("^(ENG|OPS)-").unwrap()));
        assert!(r.matches(&employee(&[("orgLevel2Code", "ENG-01")])));
        assert!(!r.matches(&employee(&[("orgLevel2Code", "eng-01")])));
        assert!(!r.matches(&employee(&[])));
        let r = rule("orgLevel2Code", Op::Matches(regex::Regex::new("(?i)^eng").unwrap()));
        assert!(r.matches(&employee(&[("orgLevel2Code", "ENG-01")])));
    }

    #[test]
    fn is_empty_both_ways() {
        let empty = rule("primaryWorkLocationCode", Op::IsEmpty(true));
        let present = rule("primaryWorkLocationCode", Op::IsEmpty(false));
        for blank in [employee(&[]), employee(&[("primaryWorkLocationCode", "  ")])] {
            assert!(empty.matches(&blank));
            assert!(!present.matches(&blank));
        }
        let set = employee(&[("primaryWorkLocationCode", "NYC")]);
        assert!(!empty.matches(&set));
        assert!(present.matches(&set));
    }

    #[test]
    fn include_rules_all_must_match_and_exclude_any_removes() {
        let scope = ScopeSpec {
            include: vec![Rule::new(
                "include",
                "companyCode",
                Op::Equals("ACME".into()),
                Some("only company ACME"),
            )],
            exclude: vec![
                rule("employeeTypeCode", Op::Equals("CON".into())),
                rule("employeeStatusCode", Op::Equals("X".into())),
            ],
            out_of_scope: OutOfScope::Deactivate,
        };
        let acme_reg = employee(&[("companyCode", "ACME"), ("employeeTypeCode", "REG")]);
        let acme_con = employee(&[("companyCode", "ACME"), ("employeeTypeCode", "CON")]);
        let beta_reg = employee(&[("companyCode", "BETA"), ("employeeTypeCode", "REG")]);
        assert_eq!(scope.excluded_by(&acme_reg), None);
        assert_eq!(
            scope.excluded_by(&acme_con),
            Some("exclude employeeTypeCode equals \"CON\"")
        );
        assert_eq!(scope.excluded_by(&beta_reg), Some("only company ACME"));
        assert!(ScopeSpec::default().excluded_by(&beta_reg).is_none());
    }

    #[test]
    fn fingerprint_changes_with_the_rules() {
        let a = ScopeSpec::default();
        let mut b = ScopeSpec::default();
        b.exclude.push(rule("employeeTypeCode", Op::Equals("CON".into())));
        let mut c = b.clone();
        c.out_of_scope = OutOfScope::Ignore;
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_ne!(b.fingerprint(), c.fingerprint());
        assert_eq!(b.fingerprint(), b.clone().fingerprint());
    }
}
