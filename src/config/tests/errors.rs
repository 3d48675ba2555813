//! Structural errors: unknown keys (with "did you mean"), TOML syntax and shape errors, with
//! file:line:column and the key path.

use super::*;

#[test]
fn unknown_key_names_file_line_table_and_the_accepted_keys() {
    let e = parse_err(&with_tenant(|t| t.replace("password_env", "pasword_env")));
    // password_env is on line 11 of the file (the [tenants.ukg] table's third key).
    assert!(e.starts_with("config/hrsync.toml:11:1: tenants[0].ukg: unknown key \"pasword_env\" (did you mean \"password_env\"?); expected one of base_url, username, password_env, password_file, api_key_env,"), "{e}");
    assert!(
        !e.contains(" password,") && !e.contains(" token,"),
        "inline secret keys are not offered: {e}"
    );

    let e = parse_err(&format!("{SERVICE}log_level = \"debug\"\n"));
    assert!(
        e.starts_with("config/hrsync.toml:3:1: service: unknown key \"log_level\""),
        "{e}"
    );
    assert!(e.contains("expected one of data_dir, listen, log_format"), "{e}");

    let e = parse_err(&format!("{SERVICE}[tenant]\nid = \"x\"\n"));
    assert!(
        e.contains(":3:2: unknown key \"tenant\" (did you mean \"tenants\"?)"),
        "{e}"
    );

    let e = parse_err(&with_tenant(|t| {
        t.replace("[tenants.scim]", "[tenants.scim]\nbogus = { a = 1 }")
    }));
    assert!(e.contains("tenants[0].scim: unknown key \"bogus\""), "{e}");

    // Inline tables get the same treatment.
    let e = parse_err(&format!(
        "{SERVICE}[[tenants]]\nid = \"a\"\nukg = {{ base_url = \"https://x.example\", timeot = \"1s\" }}\n"
    ));
    assert!(e.starts_with("config/hrsync.toml:5:"), "{e}");
    assert!(
        e.contains("tenants[0].ukg: unknown key \"timeot\" (did you mean \"timeout\"?)"),
        "{e}"
    );
}

#[test]
fn syntax_and_shape_errors_carry_line_and_column() {
    let e = parse_err(&format!("{SERVICE}listen = \"127.0.0.1:1\" x\n"));
    assert!(e.starts_with("config/hrsync.toml:3:"), "{e}");
    let e = parse_err(&format!("{SERVICE}data_dir = \"/again\"\n"));
    assert!(
        e.starts_with("config/hrsync.toml:3:1:") && e.contains("duplicate key data_dir;"),
        "{e}"
    );
    let e = parse_err(&format!("{SERVICE}[tenants]\nid = \"x\"\n"));
    assert!(
        e.contains("tenants: invalid type: table, expected an array of tables ([[tenants]])"),
        "{e}"
    );
    let e = parse_err(&format!("{SERVICE}[[tenants]]\nid = \"a\"\nukg = 3\n"));
    assert!(
        e.starts_with("config/hrsync.toml:5:7: tenants[0].ukg: invalid type: integer `3`, expected a table"),
        "{e}"
    );
    // An unterminated inline secret is a syntax error that does not echo the value.
    parse_err(&format!("{SERVICE}[smtp]\npassword = \"{CANARY}\n"));
}
