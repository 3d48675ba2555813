//! Tests of the config module: helpers here (a minimal valid tenant, parse helpers that check
//! every error is one line, names the file and never carries the canary secret), tests by
//! topic in the submodules.

mod cases;
mod errors;
mod example;
mod files;
mod scope;
mod secrets;
mod urls;
mod values;

use super::*;
pub(super) use hrsync_actors::expr::Expr;
pub(super) use hrsync_actors::scope::OutOfScope;
pub(super) use hrsync_actors::sftp::SftpAuth;
pub(super) use hrsync_actors::spec::{FileSpec, ScimSpec, SmtpTls, TargetSpec};
pub(super) use hrsync_actors::user_file::{self, FileFormat};
use secrecy::ExposeSecret;

const CANARY: &str = "CANARY-s3cr3t";

fn scim(t: &TenantSpec) -> &ScimSpec {
    t.target.scim().expect("a SCIM tenant")
}

const FILE: &str = "config/hrsync.toml";

/// Every variable a test config refers to is set (to a value derived from its name).
fn env(name: &str) -> Option<String> {
    Some(format!("value-of-{name}"))
}

fn parse_ok(text: &str) -> Settings {
    match parse(text, Path::new(FILE), &env) {
        Ok(s) => s,
        Err(e) => panic!("expected a valid config, got: {e}"),
    }
}

/// Parses and returns the error's one line, checking it names the file and has no canary.
fn parse_err(text: &str) -> String {
    parse_err_with(text, &env)
}

fn parse_err_with(text: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    // A tenant's own error sets it aside (the others run); the file's errors stop it.
    let (line, debug) = match parse(text, Path::new(FILE), env) {
        Ok(s) => match s.misconfigured.first() {
            Some(t) => (t.error.clone(), format!("{s:?}")),
            None => panic!("expected an error, got {s:?}"),
        },
        Err(e) => (e.to_string(), format!("{e:?}")),
    };
    assert!(line.starts_with(FILE), "error does not name the file: {line}");
    assert!(!line.contains('\n'), "error is not one line: {line}");
    assert!(!line.contains(CANARY), "error leaks the secret: {line}");
    assert!(!debug.contains(CANARY), "error Debug leaks the secret: {debug}");
    line
}

const SERVICE: &str = "[service]\ndata_dir = \"/var/lib/hrsync\"\n";

/// A minimal valid tenant; tests replace parts of it.
const TENANT: &str = r#"
[[tenants]]
id = "acme"
technical_contact = "it-alerts@acme.example"

[tenants.ukg]
base_url = "https://service4.ultipro.com"
username = "svc-hrsync"
password_env = "ACME_UKG_PASSWORD"
api_key_env = "ACME_UKG_API_KEY"

[tenants.scim]
base_url = "https://app.example.com/scim/v2"
token_env = "ACME_SCIM_TOKEN"
"#;

fn with_tenant(edit: impl Fn(&str) -> String) -> String {
    format!("{SERVICE}{}", edit(TENANT))
}

fn with_scope(scope: &str) -> String {
    with_tenant(|t| t.replacen("\n[tenants.ukg]", &format!("\n{scope}\n[tenants.ukg]"), 1))
}

/// TENANT with a user file instead of the SCIM app.
fn with_file(file: &str) -> String {
    with_tenant(|t| {
        t.replace(
            "[tenants.scim]\nbase_url = \"https://app.example.com/scim/v2\"\ntoken_env = \"ACME_SCIM_TOKEN\"\n",
            file,
        )
    })
}

fn file_spec(s: &Settings) -> &FileSpec {
    match &s.tenants[0].target {
        TargetSpec::File(f) => f,
        TargetSpec::Scim(_) => panic!("a file tenant expected"),
    }
}
