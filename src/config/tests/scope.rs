//! Scope rules: every operator, and bad rules refused with the key and the reason.

use super::*;

#[test]
fn scope_rules_parse_with_every_operator() {
    let s = parse_ok(&with_scope(
        r#"[tenants.scope]
out_of_scope = "ignore"
include = [{ field = "companyCode", in = ["ACME", "BETA"] }]
[[tenants.scope.exclude]]
field = "employeeTypeCode"
equals = "CON"
name = "exclude contractors"
[[tenants.scope.exclude]]
field = "orgLevel2Code"
matches = "^TMP-"
[[tenants.scope.exclude]]
field = "primaryWorkLocationCode"
is_empty = true
[[tenants.scope.exclude]]
field = "employeeStatusCode"
not_in = ["A", "L", "T"]
"#,
    ));
    let scope = &s.tenants[0].scope;
    assert_eq!(scope.out_of_scope, OutOfScope::Ignore);
    assert_eq!(scope.include.len(), 1);
    assert_eq!(scope.include[0].label, "include companyCode in [\"ACME\", \"BETA\"]");
    let labels: Vec<&str> = scope.exclude.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "exclude contractors",
            "exclude orgLevel2Code matches \"^TMP-\"",
            "exclude primaryWorkLocationCode is_empty true",
            "exclude employeeStatusCode not_in [\"A\", \"L\", \"T\"]",
        ]
    );
    let s = parse_ok(&with_tenant(|t| t.to_string()));
    assert!(s.tenants[0].scope.is_empty());
    assert_eq!(s.tenants[0].scope.out_of_scope, OutOfScope::Deactivate);
}

#[test]
fn bad_scope_rules_are_refused_with_key_and_reason() {
    let cases = [
            (
                "[tenants.scope]\nexclude = [{ field = \"employeeType\", equals = \"CON\" }]",
                "tenant acme: scope.exclude[0].field: \"employeeType\" is not a UKG field hrsync reads (did you mean \"employeeTypeCode\"?)",
            ),
            (
                "[tenants.scope]\nexclude = [{ field = \"companyCode\" }]",
                "tenant acme: scope.exclude[0]: no test; give one of equals, in, not_in, matches, is_empty",
            ),
            (
                "[tenants.scope]\nexclude = [{ field = \"companyCode\", equals = \"A\", in = [\"B\"] }]",
                "tenant acme: scope.exclude[0]: equals and in tests in one rule; give exactly one",
            ),
            (
                "[tenants.scope]\ninclude = [{ field = \"orgLevel1Code\", matches = \"(unclosed\" }]",
                "tenant acme: scope.include[0].matches: not a valid regular expression",
            ),
            (
                "[tenants.scope]\ninclude = [{ field = \"companyCode\", in = [] }]",
                "tenant acme: scope.include[0].in: expected a non-empty list",
            ),
            (
                "[tenants.scope]\ninclude = [{ field = \"companyCode\", is_empty = \"yes\" }]",
                "tenant acme: scope.include[0].is_empty: expected true or false",
            ),
            (
                "[tenants.scope]\ninclude = [{ field = \"companyCode\", equal = \"ACME\" }]",
                "tenant acme: scope.include[0].equal: unknown key",
            ),
            (
                "[tenants.scope]\nout_of_scope = \"delete\"",
                "tenant acme: scope.out_of_scope: expected \"deactivate\" or \"ignore\", got \"delete\"",
            ),
            (
                "[tenants.scope]\nexclude = { field = \"companyCode\", equals = \"A\" }",
                "tenant acme: scope.exclude: expected a list of rules",
            ),
            (
                "[tenants.scope]\ninclude = [{ field = \"ssn\", equals = \"1\" }]",
                "tenant acme: scope.include[0].field: \"ssn\" is not a UKG field hrsync reads",
            ),
        ];
    for (scope, expected) in cases {
        let e = parse_err(&with_scope(scope));
        assert!(
            e.contains(expected),
            "for {scope:?}:\n  got {e}\n  expected it to contain {expected}"
        );
    }
}
