//! Table-driven error cases: (a config, the error it must give). An expectation naming the
//! file (`config/hrsync.toml: …`) is the whole line; any other is a part of it. Every error
//! also passes [`parse_err`]'s checks (one line, names the file, no secret).

use super::*;

/// The minimal tenant with `line` added to its own keys.
fn tenant_key(line: &str) -> String {
    with_tenant(|t| t.replace("id = \"acme\"", &format!("id = \"acme\"\n{line}")))
}

/// The minimal tenant with `line` added to `[tenants.ukg]`.
fn ukg_key(line: &str) -> String {
    with_tenant(|t| {
        t.replace(
            "api_key_env = \"ACME_UKG_API_KEY\"",
            &format!("api_key_env = \"ACME_UKG_API_KEY\"\n{line}"),
        )
    })
}

/// The minimal tenant with `line` added to `[tenants.scim]`.
fn scim_key(line: &str) -> String {
    with_tenant(|t| {
        t.replace(
            "token_env = \"ACME_SCIM_TOKEN\"",
            &format!("token_env = \"ACME_SCIM_TOKEN\"\n{line}"),
        )
    })
}

/// `[service]` and an `[smtp]` table made of `lines`.
fn smtp(lines: &str) -> String {
    format!("{SERVICE}[smtp]\n{lines}")
}

fn check(cases: &[(String, &str)]) {
    for (text, expected) in cases {
        let e = parse_err(text);
        if expected.starts_with(FILE) {
            assert_eq!(&e, expected, "for:\n{text}");
        } else {
            assert!(e.contains(expected), "expected {expected:?} in {e:?}, for:\n{text}");
        }
    }
}

#[test]
fn out_of_range_integer_names_key_and_range() {
    check(&[
        (
            ukg_key("page_size = 20000"),
            "config/hrsync.toml: tenant acme: ukg.page_size: expected an integer 1..=10000, got 20000",
        ),
        (
            ukg_key("page_size = \"500\""),
            "tenant acme: ukg.page_size: expected an integer 1..=10000, got \"500\" (a string",
        ),
        (
            scim_key("concurrency = 0"),
            "tenant acme: scim.concurrency: expected an integer 1..=64, got 0",
        ),
        (
            scim_key("requests_per_second = 0"),
            "tenant acme: scim.requests_per_second: expected an integer >= 1, got 0",
        ),
        (
            ukg_key("department_org_level = 5"),
            "tenant acme: ukg.department_org_level: expected an integer 1..=4, got 5",
        ),
        (
            smtp("host = \"smtp.example.com\"\nport = 70000\nfrom = \"a@example.com\"\n"),
            "smtp.port: expected an integer 1..=65535, got 70000",
        ),
    ]);
}

/// A leaf of another type than its key's is refused with what was written, for every type.
#[test]
fn wrong_types_name_what_was_written() {
    check(&[
        (ukg_key("page_size = 5.0"), "tenant acme: ukg.page_size: expected an integer 1..=10000, got 5 (a float)"),
        (ukg_key("page_size = true"), "tenant acme: ukg.page_size: expected an integer 1..=10000, got true"),
        (ukg_key("page_size = [1]"), "tenant acme: ukg.page_size: expected an integer 1..=10000, got an array"),
        (
            "[service]\ndata_dir = 1979-05-27\n".into(),
            "service.data_dir: expected a directory path such as \"/var/lib/hrsync\", got 1979-05-27 (a date/time)",
        ),
        (
            "[service]\ndata_dir = { a = 1 }\n".into(),
            "service.data_dir: expected a directory path such as \"/var/lib/hrsync\", got a table",
        ),
        (tenant_key("first_run_review = 1"), "tenant acme: first_run_review: expected true or false, got 1"),
        (tenant_key("first_run_review = \"true\""), "tenant acme: first_run_review: expected true or false, got \"true\""),
        (
            tenant_key("schedule = 1979-05-27T07:32:00Z"),
            "tenant acme: schedule: expected a duration such as \"24h\" or \"6h 30m\" (a quoted string), got 1979-05-27T07:32:00Z (a date/time)",
        ),
        (
            ukg_key("password_env = 42").replace("password_env = \"ACME_UKG_PASSWORD\"\n", ""),
            "tenant acme: ukg.password_env: expected the name of an environment variable",
        ),
        (
            ukg_key("api_key_file = 42").replace("api_key_env = \"ACME_UKG_API_KEY\"\n", ""),
            "tenant acme: ukg.api_key_file: expected the path of a file holding the secret, as a string",
        ),
    ]);
    // Blanks around a duration are ignored, as they always were.
    let s = parse_ok(&tenant_key("schedule = \" 6h \""));
    assert_eq!(s.tenants[0].schedule, Duration::from_secs(6 * 3600));
}

#[test]
fn durations_name_key_and_examples() {
    check(&[
        (
            tenant_key("schedule = \"daily\""),
            "config/hrsync.toml: tenant acme: schedule: expected a duration such as \"24h\" or \"6h 30m\", got \"daily\"",
        ),
        (
            tenant_key("schedule = 86400"),
            "tenant acme: schedule: expected a duration such as \"24h\" or \"6h 30m\" (a quoted string), got 86400",
        ),
        (tenant_key("schedule = \"5s\""), "tenant acme: schedule: expected a duration from 10s to "),
        (scim_key("timeout = \"0s\""), "tenant acme: scim.timeout: expected a duration from 1s to 1h"),
        (
            tenant_key("changes_every = \"2h 59m\""),
            "config/hrsync.toml: tenant acme: changes_every: expected at least 3h, got \"2h 59m\": UKG allows its change feed 8 calls a day, at least 3 hours apart",
        ),
        (
            tenant_key("changes_every = 3"),
            "tenant acme: changes_every: expected a duration such as \"3h\"",
        ),
        (
            tenant_key("changes_every = \"2d\""),
            "tenant acme: changes_every: expected at most 24h, got \"2days\"",
        ),
    ]);
    let s = parse_ok(&tenant_key("schedule = \"10s\""));
    assert_eq!(s.tenants[0].schedule, Duration::from_secs(10));
}

#[test]
fn service_values_are_checked() {
    let service = |line: &str| format!("[service]\ndata_dir = \"/d\"\n{line}\n");
    check(&[
        (
            service("listen = \"localhost:8080\""),
            "service.listen: expected an IP address and port such as \"127.0.0.1:8080\"",
        ),
        (
            service("log_format = \"yaml\""),
            "service.log_format: expected \"text\" or \"json\", got \"yaml\"",
        ),
        (
            "[service]\ndata_dir = \"~/hrsync\"\n".into(),
            "service.data_dir: '~' is not expanded",
        ),
        (
            "[service]\ndata_dir = 3\n".into(),
            "service.data_dir: expected a directory path such as \"/var/lib/hrsync\", got 3",
        ),
    ]);
}

#[test]
fn missing_pieces_are_named() {
    check(&[
        (
            String::new(),
            "config/hrsync.toml: service: missing; add a [service] table with at least data_dir = \"/var/lib/hrsync\"",
        ),
        (
            "[service]\nlisten = \"127.0.0.1:1\"\n".into(),
            "service.data_dir: missing; expected a directory path",
        ),
        (
            with_tenant(|t| {
                t.replace("[tenants.scim]", "[tenants.x]")
                    .replace("base_url = \"https://app", "y = \"https://app")
            }),
            "unknown key \"x\"",
        ),
        (
            format!("{SERVICE}[[tenants]]\nid = \"a\"\ntechnical_contact = \"a@b.example\"\n"),
            "tenant a: ukg: missing; add a [tenants.ukg] table",
        ),
        (
            with_tenant(|t| t.replace("username = \"svc-hrsync\"\n", "")),
            "tenant acme: ukg.username: missing; expected the web service account's user name",
        ),
        (
            with_tenant(|t| t.replace("technical_contact = \"it-alerts@acme.example\"\n", "")),
            "tenant acme: technical_contact: missing; expected an email address",
        ),
    ]);
}

#[test]
fn smtp_rules() {
    check(&[
        (
            smtp("host = \"smtp.example.com\"\ntls = \"none\"\nfrom = \"a@example.com\"\n"),
            "config/hrsync.toml: smtp.tls: \"none\" is only allowed towards a loopback host (got smtp.example.com); use \"starttls\" or \"tls\"",
        ),
        (
            smtp("host = \"smtp.example.com\"\ntls = \"ssl\"\nfrom = \"a@example.com\"\n"),
            "smtp.tls: expected \"starttls\", \"tls\" or \"none\", got \"ssl\"",
        ),
        (
            smtp("host = \"smtp.example.com:587\"\nfrom = \"a@example.com\"\n"),
            "smtp.host: expected a host name or IP address",
        ),
        (
            smtp("host = \"smtp.example.com\"\nfrom = \"hrsync at example.com\"\n"),
            "smtp.from: expected an email address such as \"hrsync@example.com\", got \"hrsync at example.com\"",
        ),
        (
            smtp("host = \"smtp.example.com\"\nfrom = \"a@example.com\"\nusername = \"u\"\n"),
            "smtp: username is set but no password_env or password_file",
        ),
        (
            smtp("host = \"smtp.example.com\"\nfrom = \"a@example.com\"\npassword_env = \"P\"\n"),
            "smtp: a password is set but no username",
        ),
    ]);
    for host in ["127.0.0.1", "::1", "[::1]", "localhost"] {
        parse_ok(&smtp(&format!(
            "host = \"{host}\"\ntls = \"none\"\nport = 2525\nfrom = \"a@example.com\"\n"
        )));
    }
}
