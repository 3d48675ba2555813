//! `hrsync tenant add`: guided setup of one tenant, checked live, appended to the config
//! file only when every check passed.
//!
//! It asks for (or takes from the flags) the tenant id, the UKG Pro API host URL, the web
//! service account's user name, references to its password and to the Customer API Key, the
//! SCIM base URL, a reference to the SCIM token, and the technical contact. As soon as the
//! UKG values are known they are checked live with `hrsync check`'s own checks
//! ([`check::check_ukg`]: host, credentials and Customer API Key, each endpoint a sync reads
//! and the permission it needs), then the SCIM values ([`check::check_scim`]: reachability,
//! token, a ListResponse).
//!
//! - **Interactive** (the default): questions on stderr, answers read from stdin line by
//!   line (a terminal or a pipe). A value that is not acceptable, or whose live check failed,
//!   is asked again with the previous answer as the default (Enter keeps it). Values given as
//!   flags are used without asking, unless they fail. The end of stdin before the last answer
//!   stops the setup, writing nothing.
//! - **Non-interactive** (`--non-interactive`, or every value given as flags): asks nothing,
//!   checks everything it can, and exits 1 listing every problem, writing nothing.
//!
//! Invariants:
//! - **Secrets are references.** Only an environment variable name (`*_env`) or a file path
//!   (`*_file`, written absolute) is asked for and written; the value is read into a
//!   [`SecretString`] to check it live and is never printed. An answer that does not resolve
//!   (perhaps the secret itself, pasted) is never echoed back: a reference is shown only once
//!   it resolved to a value. The same holds at every other prompt: an error never quotes the
//!   rejected answer, and a previous answer that [`looks_like_secret`] (it holds a secret
//!   value read in this session, or has characters user names, URLs and paths rarely have)
//!   is not shown as the default (Enter still keeps it).
//! - **Nothing is written unless every check passed.** The file is then its old bytes, kept
//!   exactly (comments included), plus one appended `[[tenants]]` block with
//!   `first_run_review = true`. The whole result is parsed with [`config::parse`] before it
//!   replaces the file, atomically (a temporary file in the same folder, fsync, rename, fsync
//!   of the folder; owner, group and mode kept). A tenant id already in the file is refused.
//! - Other tenants' environment variables need not be set in this shell (they may exist only
//!   in the service's environment): when validating the file, an unset variable of another
//!   tenant stands for a placeholder. `hrsync check` resolves them all.
//! - A config file that does not exist is created with a `[service]` table holding only
//!   `data_dir` (`--data-dir`, default `/var/lib/hrsync`), then the tenant.
//! - Employee Export (`employee-changes`) is not probed: only `changes_every` needs it, and
//!   every call counts against UKG's limit of 8 a day.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use hrsync_actors::error::ScimError;
use hrsync_actors::spec::{ScimSpec, UkgSpec};
use hrsync_actors::upstream::RetryPolicy;
use secrecy::SecretString;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::check::{self, Line, Mark, UkgFindings};
use crate::cli::TenantAddArgs;
use crate::config;

mod answers;
mod wizard;
use answers::*;
use wizard::Wizard;

/// `data_dir` of a config file created by `tenant add` when `--data-dir` is not given.
const DEFAULT_DATA_DIR: &str = "/var/lib/hrsync";

/// Stands for another tenant's secret that is not set in this shell, when validating the file.
const PLACEHOLDER_SECRET: &str = "(set in the service's environment)";

/// Where UKG Pro shows and grants what the UKG questions ask for.
const UKG_ACCOUNTS_PAGE: &str = "Menu > System Configuration > Security > Service Account Administration";
const UKG_WEB_SERVICES_PAGE: &str = "Menu > System Configuration > Security > Web Services";

/// One secret the tenant needs: how it is named in flags, in the file and to people.
#[derive(Debug, Clone, Copy)]
struct SecretField {
    /// The flag stem: `--{flag}-env`, `--{flag}-file`.
    flag: &'static str,
    /// The key stem in the file: `{key}_env`, `{key}_file`.
    key: &'static str,
    /// What it is, for messages.
    what: &'static str,
    /// An example environment variable name (`{ID}` is replaced by the tenant id).
    example_env: &'static str,
}

const UKG_PASSWORD: SecretField = SecretField {
    flag: "ukg-password",
    key: "password",
    what: "the web service account's password",
    example_env: "{ID}_UKG_PASSWORD",
};
const UKG_API_KEY: SecretField = SecretField {
    flag: "ukg-api-key",
    key: "api_key",
    what: "the Customer API Key",
    example_env: "{ID}_UKG_API_KEY",
};
const SCIM_TOKEN: SecretField = SecretField {
    flag: "scim-token",
    key: "token",
    what: "the app's SCIM bearer token",
    example_env: "{ID}_SCIM_TOKEN",
};

/// A secret reference as written in the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SecretRef {
    /// `{key}_env = "NAME"`.
    Env(String),
    /// `{key}_file = "/absolute/path"`.
    File(String),
}

impl SecretRef {
    /// The answer that gives this reference again (the default when asked again).
    fn answer(&self) -> &str {
        match self {
            SecretRef::Env(name) => name,
            SecretRef::File(path) => path,
        }
    }

    fn describe(&self) -> String {
        match self {
            SecretRef::Env(name) => format!("environment variable {name}"),
            SecretRef::File(path) => format!("file {path}"),
        }
    }
}

/// A resolved secret: the reference to write and the value to check with.
#[derive(Clone)]
struct Secret {
    reference: SecretRef,
    value: SecretString,
}

/// A secret given as a flag: which kind it names.
enum GivenRef {
    Env(String),
    File(String),
}

/// Everything the appended block holds; every value checked.
struct NewTenant {
    id: String,
    contact: String,
    ukg_url: String,
    ukg_username: String,
    ukg_password: Secret,
    ukg_api_key: Secret,
    target: NewTarget,
}

/// Where the new tenant's users go.
enum NewTarget {
    /// An app's SCIM 2.0 API.
    Scim { url: String, token: Secret },
    /// A user file in a drop folder (absolute path).
    File { directory: String },
}

impl NewTenant {
    /// The secrets the block refers to.
    fn secrets(&self) -> Vec<&Secret> {
        let mut out = vec![&self.ukg_password, &self.ukg_api_key];
        if let NewTarget::Scim { token, .. } = &self.target {
            out.push(token);
        }
        out
    }
}

/// The folder answer as an absolute path, checked (a folder, writable, or not there yet).
fn parse_file_dir(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("expected a folder path, e.g. /var/lib/hrsync/outbox/acme".into());
    }
    let path = std::path::absolute(raw).map_err(|e| format!("{raw}: {e}"))?;
    hrsync_actors::delivery::check_local(&path)?;
    Ok(path.display().to_string())
}

/// Runs `hrsync tenant add`. `Ok(1)` when the non-interactive checks failed (the problems
/// were printed); `Err` for anything that stops the setup (the end of stdin, an unreadable
/// config file, a failed write). Nothing is written in either case.
pub async fn run(args: TenantAddArgs) -> anyhow::Result<ExitCode> {
    let existing = read_existing(&args.config, &[])?;
    if existing.is_some() && args.data_dir.is_some() {
        bail!(
            "--data-dir is only used when the config file is created, and {} exists (its [service] table \
             says where the data lives); nothing written",
            args.config.display()
        );
    }
    let ids: Vec<String> = existing
        .as_ref()
        .map(|(_, settings)| {
            let misconfigured = settings.misconfigured.iter().map(|t| t.id.clone());
            settings
                .tenants
                .iter()
                .map(|t| t.id.clone())
                .chain(misconfigured)
                .collect()
        })
        .unwrap_or_default();

    let tenant = if args.non_interactive || all_given(&args) {
        match non_interactive(&args, &ids).await {
            Ok(tenant) => tenant,
            Err(problems) => {
                eprintln!(
                    "error: nothing written to {}: {} problem{}:",
                    args.config.display(),
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                );
                for p in &problems {
                    eprintln!("  - {p}");
                }
                return Ok(ExitCode::from(1));
            }
        }
    } else {
        let stdin = tokio::io::BufReader::new(tokio::io::stdin());
        let newline_after_answer = !std::io::IsTerminal::is_terminal(&std::io::stdin());
        Wizard {
            input: stdin,
            newline_after_answer,
            seen: Vec::new(),
        }
        .run(&args, &ids)
        .await?
    };

    let block = render_block(&tenant, &today());
    append_tenant(&args.config, &tenant, &block, args.data_dir.as_deref())?;
    print!("{}", summary(&args.config, &tenant, &block));
    Ok(ExitCode::SUCCESS)
}

/// Whether every value the tenant needs was given as a flag.
fn all_given(a: &TenantAddArgs) -> bool {
    a.id.is_some()
        && a.ukg_url.is_some()
        && a.ukg_username.is_some()
        && (a.ukg_password_env.is_some() || a.ukg_password_file.is_some())
        && (a.ukg_api_key_env.is_some() || a.ukg_api_key_file.is_some())
        && (a.file_dir.is_some() || a.scim_url.is_some() && (a.scim_token_env.is_some() || a.scim_token_file.is_some()))
        && a.contact.is_some()
}

/// The secret flags of `field` (clap refuses both at once).
fn given_ref(a: &TenantAddArgs, field: SecretField) -> Option<GivenRef> {
    let (env, file) = match field.key {
        "password" => (&a.ukg_password_env, &a.ukg_password_file),
        "api_key" => (&a.ukg_api_key_env, &a.ukg_api_key_file),
        _ => (&a.scim_token_env, &a.scim_token_file),
    };
    match (env, file) {
        (Some(name), _) => Some(GivenRef::Env(name.clone())),
        (None, Some(path)) => Some(GivenRef::File(path.clone())),
        (None, None) => None,
    }
}

// ---------------------------------------------------------------------------------------
// Live checks, through `hrsync check`'s functions.

/// One attempt per call, as in `hrsync check`: a broken value answers fast.
fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    }
}

fn ukg_spec(url: &str, username: &str, password: &Secret, api_key: &Secret) -> UkgSpec {
    UkgSpec {
        base_url: url.to_string(),
        username: username.to_string(),
        password: password.value.clone(),
        api_key: api_key.value.clone(),
        user_api_key: None,
        page_size: 1,
        requests_per_second: 2,
        burst: None,
        department_org_level: 1,
        timeout: Duration::from_secs(30),
    }
}

fn scim_spec(url: &str, token: &Secret) -> ScimSpec {
    ScimSpec {
        base_url: url.to_string(),
        token: token.value.clone(),
        requests_per_second: 10,
        burst: None,
        concurrency: 1,
        timeout: Duration::from_secs(30),
    }
}

/// Prints check lines (on stderr, indented) as `hrsync check` would, without the subject.
fn print_lines(lines: &[Line]) {
    for line in lines {
        let mark = match line.mark {
            Mark::Ok => "✓",
            Mark::Fail => "✗",
            Mark::Skipped => "–",
        };
        eprintln!("  {mark} {}", line.text);
    }
}

/// What went wrong with the UKG values, in words a person acts on; None when all passed.
fn ukg_problem(url: &str, findings: &UkgFindings) -> Option<UkgProblem> {
    match findings {
        UkgFindings::Unreachable(_) => Some(UkgProblem::Url(format!(
            "the UKG host {url} could not be reached (see above); check the URL ({UKG_WEB_SERVICES_PAGE} shows \
             it; only the host is kept) and that this machine can reach it"
        ))),
        UkgFindings::Refused(_) => Some(UkgProblem::Credentials(format!(
            "wrong user name or password, or wrong Customer API Key: UKG Pro refused them (401). The user name \
             and password are the web service account's, and the Customer API Key (5 characters) is shown on \
             {UKG_ACCOUNTS_PAGE}"
        ))),
        UkgFindings::Endpoints(_) if findings.passed() => None,
        UkgFindings::Endpoints(_) => {
            let missing = findings.missing_permissions();
            if missing.is_empty() {
                return Some(UkgProblem::Url(format!(
                    "UKG Pro at {url} did not answer as expected (see above); check the URL and try again"
                )));
            }
            let names = missing.join(" and ");
            Some(UkgProblem::Permissions(format!(
                "the web service account lacks the {names} permission{}: in UKG Pro, {UKG_ACCOUNTS_PAGE}, edit \
                 the account and grant it View on the {names} web service{} (a sync reads the endpoints listed \
                 above)",
                if missing.len() == 1 { "" } else { "s" },
                if missing.len() == 1 { "" } else { "s" },
            )))
        }
    }
}

/// Which UKG values to ask again after a failed check, and why.
enum UkgProblem {
    /// The host: unreachable or answering nonsense.
    Url(String),
    /// 401: user name, password or Customer API Key.
    Credentials(String),
    /// 403 on some endpoints: a permission to grant (or another account).
    Permissions(String),
}

impl UkgProblem {
    fn text(&self) -> &str {
        match self {
            UkgProblem::Url(t) | UkgProblem::Credentials(t) | UkgProblem::Permissions(t) => t,
        }
    }
}

/// What went wrong with the SCIM values, and whether only the token should be asked again
/// (401) rather than the URL.
fn scim_problem(url: &str, result: &Result<u64, ScimError>) -> Option<(String, bool)> {
    match result {
        Ok(_) => None,
        Err(ScimError::Unauthorized) => Some((
            "the app refused the SCIM token (401): the reference must hold the app's current SCIM (API) token, \
             one with provisioning rights"
                .into(),
            true,
        )),
        Err(ScimError::NotFound { .. }) => Some((
            format!(
                "{url}/Users does not exist (404): give the app's SCIM root, to which hrsync appends /Users (e.g. \
                 https://app.example.com/scim/v2)"
            ),
            false,
        )),
        Err(ScimError::Unreachable(_)) => Some((
            format!(
                "the app at {url} could not be reached (see above); check the URL and that this machine can reach it"
            ),
            false,
        )),
        Err(e) => Some((format!("the app did not answer as expected: {e}"), false)),
    }
}

/// The Employee Export permission is not probed (see the module doc); say so.
fn employee_export_note() -> Line {
    Line {
        mark: Mark::Skipped,
        subject: String::new(),
        text: "UKG /personnel/v1/employee-changes (Employee Export): not checked; only changes_every needs it, \
               and each call counts against UKG's limit of 8 a day"
            .into(),
    }
}

// ---------------------------------------------------------------------------------------
// Non-interactive: every value from the flags, every problem listed.

async fn non_interactive(args: &TenantAddArgs, ids: &[String]) -> Result<NewTenant, Vec<String>> {
    let mut problems = Vec::new();
    let id = flag(&mut problems, "id", args.id.as_deref(), "the tenant id", |v| {
        parse_id(v, ids)
    });
    let ukg_url = flag(
        &mut problems,
        "ukg-url",
        args.ukg_url.as_deref(),
        "the UKG API host URL, e.g. https://service4.ultipro.com",
        |v| told("UKG URL", config::normalize_ukg_url(v)),
    );
    let ukg_username = flag(
        &mut problems,
        "ukg-username",
        args.ukg_username.as_deref(),
        "the web service account's user name",
        parse_username,
    );
    let ukg_password = secret_flag(&mut problems, args, UKG_PASSWORD);
    let ukg_api_key = secret_flag(&mut problems, args, UKG_API_KEY);
    let file_dir = match &args.file_dir {
        Some(dir) => flag(&mut problems, "file-dir", Some(dir), "a folder", parse_file_dir),
        None => None,
    };
    let (scim_url, scim_token) = if args.file_dir.is_some() {
        (None, None)
    } else {
        let url = flag(
            &mut problems,
            "scim-url",
            args.scim_url.as_deref(),
            "the app's SCIM base URL, e.g. https://app.example.com/scim/v2 (or --file-dir for a user file)",
            |v| told("SCIM URL", config::normalize_scim_url(v)),
        );
        (url, secret_flag(&mut problems, args, SCIM_TOKEN))
    };
    let contact = flag(
        &mut problems,
        "contact",
        args.contact.as_deref(),
        "the technical contact's email address",
        parse_contact,
    );

    // The live checks of whatever could be checked.
    if let (Some(url), Some(user), Some(pw), Some(key)) = (&ukg_url, &ukg_username, &ukg_password, &ukg_api_key) {
        eprintln!("Checking UKG Pro at {url} ...");
        let findings = check::check_ukg(&ukg_spec(url, user, pw, key), policy()).await;
        let mut lines = check::ukg_lines("", url, &findings, None);
        lines.push(employee_export_note());
        print_lines(&lines);
        if let Some(problem) = ukg_problem(url, &findings) {
            problems.push(problem.text().to_string());
        }
    }
    if let (Some(url), Some(token)) = (&scim_url, &scim_token) {
        eprintln!("Checking the SCIM app at {url} ...");
        let result = check::check_scim(&scim_spec(url, token), policy()).await;
        print_lines(&[check::scim_line("", url, &result, None)]);
        if let Some((problem, _)) = scim_problem(url, &result) {
            problems.push(problem);
        }
    }
    let target = match (file_dir, scim_url, scim_token) {
        (Some(directory), _, _) => Some(NewTarget::File { directory }),
        (None, Some(url), Some(token)) => Some(NewTarget::Scim { url, token }),
        _ => None,
    };
    match (id, contact, ukg_url, ukg_username, ukg_password, ukg_api_key, target) {
        (
            Some(id),
            Some(contact),
            Some(ukg_url),
            Some(ukg_username),
            Some(ukg_password),
            Some(ukg_api_key),
            Some(target),
        ) if problems.is_empty() => Ok(NewTenant {
            id,
            contact,
            ukg_url,
            ukg_username,
            ukg_password,
            ukg_api_key,
            target,
        }),
        _ => Err(problems),
    }
}

/// The value of flag `--{name}` parsed, or None with the problem recorded.
fn flag(
    problems: &mut Vec<String>,
    name: &str,
    given: Option<&str>,
    expected: &str,
    parse: impl Fn(&str) -> Result<String, String>,
) -> Option<String> {
    let result = match given {
        Some(v) => parse(v),
        None => Err(format!("missing; expected {expected}")),
    };
    result.map_err(|e| problems.push(format!("--{name}: {e}"))).ok()
}

/// The secret reference of `field`'s flags resolved, or None with the problem recorded.
fn secret_flag(problems: &mut Vec<String>, args: &TenantAddArgs, field: SecretField) -> Option<Secret> {
    let (kind, result) = match given_ref(args, field) {
        Some(given @ GivenRef::Env(_)) => ("env", resolve_given(&given, field)),
        Some(given @ GivenRef::File(_)) => ("file", resolve_given(&given, field)),
        None => {
            problems.push(format!(
                "--{0}-env or --{0}-file: missing; expected a reference to {1}",
                field.flag, field.what
            ));
            return None;
        }
    };
    result
        .map_err(|e| problems.push(format!("--{}-{kind}: {e}", field.flag)))
        .ok()
}

/// A normalised URL, with what changed told on stderr.
fn told(what: &str, normalized: Result<(String, Vec<String>), String>) -> Result<String, String> {
    let (url, notices) = normalized?;
    for n in notices {
        eprintln!("note: {what}: {n}");
    }
    Ok(url)
}

// ---------------------------------------------------------------------------------------
// The file: the block, the append, the atomic write.

/// A TOML basic string holding `s` (quotes, backslashes and control characters escaped).
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn secret_line(field: SecretField, secret: &Secret) -> String {
    match &secret.reference {
        SecretRef::Env(name) => format!("{}_env = {}\n", field.key, toml_string(name)),
        SecretRef::File(path) => format!("{}_file = {}\n", field.key, toml_string(path)),
    }
}

/// The `[[tenants]]` block appended to the file (`date`: today, for the comment).
fn render_block(t: &NewTenant, date: &str) -> String {
    let mut b = String::new();
    b.push_str(&format!(
        "# Added by `hrsync tenant add` on {date}, after live checks of UKG Pro (credentials, Customer API Key,\n\
         # permissions) and of the SCIM app (token). Every key is documented in config/hrsync.example.toml.\n"
    ));
    b.push_str("[[tenants]]\n");
    b.push_str(&format!("id = {}\n", toml_string(&t.id)));
    b.push_str(&format!("technical_contact = {}\n", toml_string(&t.contact)));
    b.push_str(&format!(
        "# The first run stops after planning until `hrsync approve --tenant {}` applies the plan.\n",
        t.id
    ));
    b.push_str("first_run_review = true\n\n");
    b.push_str("[tenants.ukg]\n");
    b.push_str(&format!("base_url = {}\n", toml_string(&t.ukg_url)));
    b.push_str(&format!("username = {}\n", toml_string(&t.ukg_username)));
    b.push_str(&secret_line(UKG_PASSWORD, &t.ukg_password));
    b.push_str(&secret_line(UKG_API_KEY, &t.ukg_api_key));
    match &t.target {
        NewTarget::Scim { url, token } => {
            b.push_str("\n[tenants.scim]\n");
            b.push_str(&format!("base_url = {}\n", toml_string(url)));
            b.push_str(&secret_line(SCIM_TOKEN, token));
        }
        NewTarget::File { directory } => {
            b.push_str(
                "\n# A Betterworks-style user CSV per run (columns, JSON lines, SFTP: see the example config).\n",
            );
            b.push_str("[tenants.file]\n");
            b.push_str(&format!("directory = {}\n", toml_string(directory)));
        }
    }
    b
}

/// The start of a config file created by `tenant add`.
fn new_file_header(data_dir: Option<&str>) -> String {
    format!(
        "# hrsync configuration, created by `hrsync tenant add`. Every key, its default and why:\n\
         # config/hrsync.example.toml. Check this file with `hrsync check --config FILE`.\n\
         \n\
         [service]\n\
         # Where hrsync keeps its state database; must be writable by the service user (a relative\n\
         # path is relative to this file's folder).\n\
         data_dir = {}\n",
        toml_string(data_dir.unwrap_or(DEFAULT_DATA_DIR))
    )
}

/// `old` with `block` appended: the old bytes kept exactly, a newline added when the last
/// line had none, then a blank line and the block.
fn appended(old: &str, block: &str) -> String {
    let mut text = String::with_capacity(old.len() + block.len() + 2);
    text.push_str(old);
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push('\n');
    text.push_str(block);
    text
}

/// Today's date (UTC), for the block's comment.
fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

/// Environment lookup for validating the file: the real environment, where a variable that
/// is not set stands for a placeholder — except the new tenant's (`strict`), which must
/// resolve for real.
fn validation_env(strict: &[String]) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ if strict.iter().any(|s| s == name) => None,
        _ => Some(PLACEHOLDER_SECRET.to_string()),
    }
}

/// The config file's text and its parsed settings, or None when it does not exist.
fn read_existing(path: &Path, strict: &[String]) -> anyhow::Result<Option<(String, config::Settings)>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let folder = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !folder.is_dir() {
                bail!(
                    "{} does not exist, and neither does its folder {}; create the folder first",
                    path.display(),
                    folder.display()
                );
            }
            return Ok(None);
        }
        Err(e) => return Err(anyhow!("cannot read config file {}: {e}", path.display())),
    };
    let settings = config::parse(&text, path, &validation_env(strict)).map_err(|e| {
        anyhow!(
            "{e}\nThe config file must be valid before a tenant is added (`hrsync check --config-only --config {}`); \
             nothing written",
            path.display()
        )
    })?;
    Ok(Some((text, settings)))
}

/// Appends the tenant to the file (or creates it), after proving the result valid.
fn append_tenant(path: &Path, tenant: &NewTenant, block: &str, data_dir: Option<&str>) -> anyhow::Result<()> {
    let strict: Vec<String> = tenant
        .secrets()
        .iter()
        .filter_map(|s| match &s.reference {
            SecretRef::Env(name) => Some(name.clone()),
            SecretRef::File(_) => None,
        })
        .collect();
    // Read again: the file may have changed while the questions were answered.
    let old = match read_existing(path, &strict)? {
        Some((text, settings)) => {
            if settings.misconfigured.iter().any(|t| t.id == tenant.id) {
                bail!(
                    "{} has a tenant {:?} already; nothing written",
                    path.display(),
                    tenant.id
                );
            }
            if let Some(i) = settings.tenants.iter().position(|t| t.id == tenant.id) {
                bail!(
                    "{} has a tenant {:?} already (tenants[{i}]); nothing written",
                    path.display(),
                    tenant.id
                );
            }
            text
        }
        None => new_file_header(data_dir),
    };
    let text = appended(&old, block);
    let settings = config::parse(&text, path, &validation_env(&strict))
        .map_err(|e| anyhow!("the config file with the new tenant would not be valid, so nothing was written: {e}"))?;
    if let Some(t) = settings.misconfigured.iter().find(|t| t.id == tenant.id) {
        bail!(
            "the config file with the new tenant would not be valid, so nothing was written: {}",
            t.error
        );
    }
    match settings.tenants.iter().find(|t| t.id == tenant.id) {
        Some(t) if t.first_run_review => {}
        _ => bail!("the new tenant did not parse back as written; nothing written"),
    }
    write_atomically(path, &text)
}

/// Replaces (or creates) `path` with `text` atomically: a temporary file in the same folder,
/// fsync, the original's mode, owner and group, rename over the original, fsync of the folder.
/// A symbolic link is followed: its target is replaced.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let target: PathBuf = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            fs::canonicalize(path).with_context(|| format!("cannot follow the link {}", path.display()))?
        }
        _ => path.to_path_buf(),
    };
    let folder = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let name = target
        .file_name()
        .ok_or_else(|| anyhow!("{} is not a file path", path.display()))?
        .to_string_lossy()
        .into_owned();
    let tmp = folder.join(format!(".{name}.tenant-add-{}.tmp", std::process::id()));
    let original = fs::metadata(&target).ok();

    let result = (|| -> anyhow::Result<()> {
        let _ = fs::remove_file(&tmp);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        file.write_all(text.as_bytes())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        if let Some(meta) = &original {
            keep_owner(&file, meta, &target);
            fs::set_permissions(&tmp, meta.permissions())
                .with_context(|| format!("cannot set the permissions of {}", tmp.display()))?;
        }
        file.sync_all()
            .with_context(|| format!("cannot flush {} to disk", tmp.display()))?;
        fs::rename(&tmp, &target).with_context(|| format!("cannot replace {}", target.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // The rename is durable once the folder is flushed; some file systems refuse to fsync a
    // folder, and the file itself is complete either way.
    if let Ok(dir) = fs::File::open(&folder) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Gives the new file the original's owner and group (e.g. root:hrsync, so the service user
/// can still read it); warns when that is not allowed.
#[cfg(unix)]
fn keep_owner(file: &fs::File, original: &fs::Metadata, target: &Path) {
    use std::os::unix::fs::MetadataExt;
    if let Err(e) = std::os::unix::fs::fchown(file, Some(original.uid()), Some(original.gid())) {
        eprintln!(
            "warning: could not keep the owner and group ({}:{}) of {}: {e}; check that the service can still \
             read it",
            original.uid(),
            original.gid(),
            target.display()
        );
    }
}

#[cfg(not(unix))]
fn keep_owner(_file: &fs::File, _original: &fs::Metadata, _target: &Path) {}

/// What was written and what to do next (stdout).
fn summary(path: &Path, t: &NewTenant, block: &str) -> String {
    let file = path.display();
    let id = &t.id;
    let refs = t.secrets();
    let vars: Vec<&str> = refs
        .iter()
        .filter_map(|s| match &s.reference {
            SecretRef::Env(name) => Some(name.as_str()),
            SecretRef::File(_) => None,
        })
        .collect();
    let files: Vec<&str> = refs
        .iter()
        .filter_map(|s| match &s.reference {
            SecretRef::File(p) => Some(p.as_str()),
            SecretRef::Env(_) => None,
        })
        .collect();
    let mut out = format!("Added tenant {id:?} to {file}:\n\n{block}\nNext steps:\n");
    if !vars.is_empty() {
        out.push_str(&format!(
            "  - The service needs the same environment variable{}: {} (e.g. in /etc/hrsync/secrets.env).\n",
            if vars.len() == 1 { "" } else { "s" },
            vars.join(", ")
        ));
    }
    if !files.is_empty() {
        out.push_str(&format!(
            "  - The service user must be able to read {}.\n",
            files.join(", ")
        ));
    }
    let steps = [
        format!("  - hrsync plan --config {file} --tenant {id}"),
        "      what the first run would do (creates, adoptions, updates, deactivations), writing nothing.".into(),
        format!("  - hrsync sync --config {file} --tenant {id}   (or the service, once restarted)"),
        "      the first run is held for review (first_run_review = true): it plans and writes nothing to".into(),
        format!(
            "      the app; the plan is emailed to {} and shown by `hrsync status`.",
            t.contact
        ),
        format!("  - hrsync approve --config {file} --tenant {id}"),
        "      applies the reviewed plan; later runs apply their changes directly.".into(),
        format!("  - A running `hrsync run` reads the config when it starts: restart it to serve {id}."),
    ];
    for step in steps {
        out.push_str(&step);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(reference: SecretRef) -> Secret {
        Secret {
            reference,
            value: SecretString::from("CANARY-unit-secret"),
        }
    }

    fn tenant() -> NewTenant {
        NewTenant {
            id: "acme".into(),
            contact: "it@acme.example".into(),
            ukg_url: "https://service4.ultipro.com".into(),
            ukg_username: "svc \"hr\" \\ sync".into(),
            ukg_password: secret(SecretRef::Env("ACME_UKG_PASSWORD".into())),
            ukg_api_key: secret(SecretRef::File("/etc/hrsync/acme \"key\"".into())),
            target: NewTarget::Scim {
                url: "https://app.example.com/scim/v2".into(),
                token: secret(SecretRef::Env("ACME_SCIM_TOKEN".into())),
            },
        }
    }

    #[test]
    fn the_block_quotes_every_value_and_parses_back_with_first_run_review() {
        let block = render_block(&tenant(), "2026-01-02");
        assert!(block.contains("password_env = \"ACME_UKG_PASSWORD\"\n"), "{block}");
        assert!(block.contains("api_key_file = "), "{block}");
        assert!(!block.contains("CANARY"), "{block}");
        let old = "# keep me\n[service]\ndata_dir = \"/tmp/x\"   # trailing comment";
        let text = appended(old, &block);
        assert!(text.starts_with(old));
        // The file secret does not exist here: check the shape with an env-only variant.
        let mut t = tenant();
        t.ukg_api_key = secret(SecretRef::Env("ACME_UKG_API_KEY".into()));
        let text = appended(old, &render_block(&t, "2026-01-02"));
        let settings = config::parse(&text, Path::new("/tmp/hrsync.toml"), &|_| Some("x".into())).unwrap();
        let parsed = &settings.tenants[0];
        assert_eq!(parsed.id, "acme");
        assert!(parsed.first_run_review);
        assert_eq!(parsed.ukg.username, "svc \"hr\" \\ sync");
        assert_eq!(parsed.technical_contact, "it@acme.example");
    }

    #[test]
    fn appending_keeps_the_old_bytes_and_separates_the_block() {
        assert_eq!(appended("a = 1\n", "B\n"), "a = 1\n\nB\n");
        assert_eq!(appended("a = 1", "B\n"), "a = 1\n\nB\n");
        assert_eq!(appended("", "B\n"), "\nB\n");
    }

    #[test]
    fn a_created_file_parses_with_the_default_data_dir() {
        let text = appended(&new_file_header(None), &render_block(&tenant_env_only(), "2026-01-02"));
        let settings = config::parse(&text, Path::new("/tmp/hrsync.toml"), &|_| Some("x".into())).unwrap();
        assert_eq!(settings.service.data_dir, Path::new(DEFAULT_DATA_DIR));
        assert_eq!(settings.tenants.len(), 1);
    }

    fn tenant_env_only() -> NewTenant {
        let mut t = tenant();
        t.ukg_api_key = secret(SecretRef::Env("ACME_UKG_API_KEY".into()));
        t
    }

    #[test]
    fn the_atomic_write_replaces_the_file_and_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hrsync.toml");
        std::fs::write(&path, "old\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomically(&path, "old\nnew\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\nnew\n");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left");

        let link = dir.path().join("link.toml");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        write_atomically(&link, "via link\n").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "via link\n");
    }
}
