//! Secrets: refused inline without being echoed, read from `*_env` / `*_file`, never in `Debug`.

use super::*;

#[test]
fn inline_secrets_are_refused_without_echoing_them() {
    let cases = [
            ("password_env = \"ACME_UKG_PASSWORD\"", "password", "tenant acme: ukg.password: secrets are not accepted inline; set password_env = \"VAR\" (environment variable name) or password_file = \"/path\""),
            ("api_key_env = \"ACME_UKG_API_KEY\"", "api_key", "tenant acme: ukg.api_key: secrets are not accepted inline; set api_key_env"),
            ("token_env = \"ACME_SCIM_TOKEN\"", "token", "tenant acme: scim.token: secrets are not accepted inline; set token_env"),
        ];
    for (from, key, expected) in cases {
        let e = parse_err(&with_tenant(|t| t.replace(from, &format!("{key} = \"{CANARY}\""))));
        assert!(e.contains(expected), "{e}");
    }
    // Refused even next to a valid _env key, and whatever its type.
    let e = parse_err(&with_tenant(|t| {
        t.replace(
            "[tenants.ukg]",
            &format!("[tenants.ukg]\nuser_api_key = {{ v = \"{CANARY}\" }}"),
        )
    }));
    assert!(
        e.contains("tenant acme: ukg.user_api_key: secrets are not accepted inline"),
        "{e}"
    );
    let e = parse_err(&format!(
            "{SERVICE}[smtp]\nhost = \"smtp.example.com\"\nfrom = \"a@example.com\"\nusername = \"u\"\npassword = \"{CANARY}\"\n"
        ));
    assert!(
        e.contains("smtp.password: secrets are not accepted inline; set password_env"),
        "{e}"
    );
}

#[test]
fn secret_sources_env_and_file() {
    // Not set, or empty.
    let none = |_: &str| None;
    let e = parse_err_with(&with_tenant(str::to_string), &none);
    assert!(
        e.contains("tenant acme: ukg.password_env: environment variable ACME_UKG_PASSWORD is not set (or empty)"),
        "{e}"
    );
    let empty = |name: &str| {
        if name == "ACME_SCIM_TOKEN" {
            Some(String::new())
        } else {
            env(name)
        }
    };
    let e = parse_err_with(&with_tenant(str::to_string), &empty);
    assert!(
        e.contains("tenant acme: scim.token_env: environment variable ACME_SCIM_TOKEN is not set (or empty)"),
        "{e}"
    );

    // The secret itself pasted where a variable name goes: refused, not echoed.
    let e = parse_err(&with_tenant(|t| {
        t.replace("\"ACME_SCIM_TOKEN\"", &format!("\"{CANARY}\""))
    }));
    assert!(
        e.contains("tenant acme: scim.token_env: expected the name of an environment variable"),
        "{e}"
    );
    let e = parse_err(&with_tenant(|t| t.replace("\"ACME_SCIM_TOKEN\"", "12345")));
    assert!(
        e.contains("tenant acme: scim.token_env: expected the name") && !e.contains("12345"),
        "{e}"
    );

    // Both, or neither.
    let e = parse_err(&with_tenant(|t| {
        t.replace(
            "token_env = \"ACME_SCIM_TOKEN\"",
            "token_env = \"T\"\ntoken_file = \"/run/t\"",
        )
    }));
    assert!(
        e.contains("tenant acme: scim: both token_env and token_file are set; keep one"),
        "{e}"
    );
    let e = parse_err(&with_tenant(|t| {
        t.replace("password_env = \"ACME_UKG_PASSWORD\"\n", "")
    }));
    assert!(
        e.contains("tenant acme: ukg: missing password_env or password_file"),
        "{e}"
    );

    // Files: relative to the config file, trailing newline trimmed; missing or empty refused.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), format!("{CANARY}\r\n")).unwrap();
    std::fs::write(dir.path().join("empty"), "\n").unwrap();
    let config = dir.path().join("hrsync.toml");
    let text = with_tenant(|t| t.replace("token_env = \"ACME_SCIM_TOKEN\"", "token_file = \"token\""));
    let s = parse(&text, &config, &env).unwrap();
    assert_eq!(scim(&s.tenants[0]).token.expose_secret(), CANARY);
    assert!(!format!("{s:?}").contains(CANARY), "Debug of Settings leaks the secret");

    // The value of a *_file key is never echoed: it may be the secret pasted by mistake.
    let error_of = |file_value: &str| {
        let text = with_tenant(|t| {
            t.replace(
                "token_env = \"ACME_SCIM_TOKEN\"",
                &format!("token_file = \"{file_value}\""),
            )
        });
        let s = parse(&text, &config, &env).unwrap();
        assert!(s.tenants.is_empty(), "{s:?}");
        s.misconfigured[0].error.clone()
    };
    for value in [
        dir.path().join(CANARY).display().to_string(),
        CANARY.to_string(),
        format!("~/{CANARY}"),
        format!("{CANARY}/x+y=="),
    ] {
        let e = error_of(&value);
        assert!(e.contains("tenant acme: scim.token_file: "), "{e}");
        assert!(!e.contains(CANARY), "the error echoes the value: {e}");
    }
    let e = error_of(CANARY);
    assert!(
        e.contains("cannot read the file it names: No such file or directory (the value is not shown"),
        "{e}"
    );
    let e = error_of("empty");
    assert!(
        e.contains("tenant acme: scim.token_file: the file it names is empty"),
        "{e}"
    );
}

#[test]
fn debug_of_settings_never_shows_secrets() {
    let canary_env = |_: &str| Some(CANARY.to_string());
    let text = format!(
            "{SERVICE}[smtp]\nhost = \"smtp.example.com\"\nfrom = \"a@example.com\"\nusername = \"u\"\npassword_env = \"P\"\n{}",
            TENANT.replace("[tenants.ukg]", "[tenants.ukg]\nuser_api_key_env = \"UK\"")
        );
    let s = parse(&text, Path::new(FILE), &canary_env).unwrap();
    assert_eq!(s.tenants[0].ukg.password.expose_secret(), CANARY);
    assert_eq!(
        s.smtp.as_ref().unwrap().password.as_ref().unwrap().expose_secret(),
        CANARY
    );
    let debug = format!("{s:?} {s:#?}");
    assert!(!debug.contains(CANARY), "{debug}");
    assert!(debug.contains("REDACTED"), "{debug}");
}
