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
            settings.tenants.iter().map(|t| t.id.clone()).chain(misconfigured).collect()
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
// Values: each check returns the value to write, or why not (never echoing a secret).

fn parse_id(raw: &str, existing: &[String]) -> Result<String, String> {
    let id = raw.trim();
    if !config::is_tenant_id(id) {
        return Err(format!(
            "expected 1 to 63 characters of a-z, 0-9 and '-', not starting or ending with '-' (e.g. \"acme\"), \
             got {id:?}"
        ));
    }
    if existing.iter().any(|e| e == id) {
        return Err(format!(
            "the config file has a tenant {id:?} already; choose another id (or edit that tenant's block)"
        ));
    }
    Ok(id.to_string())
}

fn parse_username(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("expected the web service account's user name".into());
    }
    Ok(name.to_string())
}

fn parse_contact(raw: &str) -> Result<String, String> {
    let email = raw.trim();
    if !config::looks_like_email(email) {
        return Err(format!(
            "expected an email address such as \"it-alerts@acme.example\", got {email:?}"
        ));
    }
    Ok(email.to_string())
}

/// What to add to every message about a secret reference that did not resolve.
fn paste_hint(field: SecretField) -> String {
    format!(
        "give the NAME of an environment variable holding {} (set in this shell), or the path of a file holding \
         it — never the secret itself (what you typed was not stored)",
        field.what
    )
}

/// Shown instead of a default that [`looks_like_secret`]; Enter still keeps it.
const HIDDEN_DEFAULT: &str = "Enter keeps the previous answer, not shown";
/// Stands for a typed answer in an error about it.
const UNSHOWN_ANSWER: &str = "(what you typed, not shown)";

/// Whether a typed answer may be a secret pasted at the wrong prompt, so it is never shown
/// back as a default: it holds a secret value read in this session (a password pasted as
/// the user name), or it has a character that user names, URLs, variable names and paths
/// rarely have (anything but letters, digits and `. _ - @ \ / :`). The secret prompts follow
/// the stricter rule of [`resolve_answer`]: an answer is shown only once it resolved.
fn looks_like_secret(answer: &str, seen: &[SecretString]) -> bool {
    use secrecy::ExposeSecret;
    let answer = answer.trim();
    let holds_seen = seen.iter().any(|s| {
        let s = s.expose_secret().trim();
        !s.is_empty() && answer.contains(s)
    });
    holds_seen
        || answer
            .chars()
            .any(|c| !(c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '\\' | '/' | ':')))
}

/// An error about a typed answer, with the answer left out: a value that failed its check
/// may be a secret pasted at the wrong prompt. Only rejected answers pass through here.
fn unechoed(error: &str, answer: &str) -> String {
    let answer = answer.trim();
    if answer.is_empty() {
        return error.to_string();
    }
    let error = error.replace(&format!("{answer:?}"), UNSHOWN_ANSWER);
    // Bare, too, unless the answer is so short that it is likely a word of the message.
    if answer.chars().count() >= 5 {
        error.replace(answer, UNSHOWN_ANSWER)
    } else {
        error
    }
}

/// `--{flag}-env NAME`: the variable must be set (and not empty) here. The name is not echoed
/// unless it resolved (it may be the secret, pasted in the wrong place).
fn resolve_env(name: &str, field: SecretField) -> Result<Secret, String> {
    let name = name.trim();
    if !config::is_env_name(name) {
        return Err(format!(
            "that is not an environment variable name (letters, digits and _, e.g. {}); {}",
            field.example_env.replace("{ID}", "ACME"),
            paste_hint(field)
        ));
    }
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(Secret {
            reference: SecretRef::Env(name.to_string()),
            value: SecretString::from(value),
        }),
        _ => Err(format!(
            "that environment variable is not set (or is empty) in this shell; export it first (the service \
             needs it too), or {}",
            paste_hint(field)
        )),
    }
}

/// `--{flag}-file PATH`: the file must hold the secret (one trailing newline is ignored, as
/// in the config). Written as an absolute path, so it means the same from the service.
fn resolve_file(raw: &str, field: SecretField) -> Result<Secret, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(paste_hint(field));
    }
    if raw.starts_with('~') {
        return Err("'~' is not expanded; give the full path of the file".into());
    }
    let path = std::path::absolute(raw).map_err(|e| format!("cannot use that path: {e}; {}", paste_hint(field)))?;
    let mut text =
        fs::read_to_string(&path).map_err(|e| format!("cannot read that file: {e}; {}", paste_hint(field)))?;
    let kept = text.trim_end_matches(['\n', '\r']).len();
    text.truncate(kept);
    if text.trim().is_empty() {
        return Err(format!("that file is empty; it must hold {}", field.what));
    }
    let Some(shown) = path.to_str() else {
        return Err("the file's path is not valid UTF-8; use a path the config file can hold".into());
    };
    Ok(Secret {
        reference: SecretRef::File(shown.to_string()),
        value: SecretString::from(text),
    })
}

/// An interactive answer: an environment variable name (if set here), else an existing file.
fn resolve_answer(answer: &str, field: SecretField) -> Result<Secret, String> {
    let answer = answer.trim();
    if config::is_env_name(answer) {
        if let Ok(secret) = resolve_env(answer, field) {
            return Ok(secret);
        }
        if Path::new(answer).is_file() {
            return resolve_file(answer, field);
        }
        return Err(format!(
            "no environment variable of that name is set (or it is empty) in this shell, and no file has that \
             name; {}",
            paste_hint(field)
        ));
    }
    if answer.contains('/') || answer.starts_with('~') || Path::new(answer).is_file() {
        return resolve_file(answer, field);
    }
    Err(format!(
        "that is neither an environment variable name (letters, digits and _) nor an existing file; {}",
        paste_hint(field)
    ))
}

fn resolve_given(given: &GivenRef, field: SecretField) -> Result<Secret, String> {
    match given {
        GivenRef::Env(name) => resolve_env(name, field),
        GivenRef::File(path) => resolve_file(path, field),
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
// Interactive: questions on stderr, answers from `input` line by line.

struct Wizard<R> {
    input: R,
    /// End each question's line after reading the answer (stdin is not a terminal, so the
    /// answer was not echoed; the answer itself is never echoed, it may be a pasted secret).
    newline_after_answer: bool,
    /// The secret values read so far (password, API key, token): an answer holding one is
    /// never echoed back (see [`looks_like_secret`]).
    seen: Vec<SecretString>,
}

impl<R: AsyncBufRead + Unpin> Wizard<R> {
    /// One answer: the trimmed line, or `default` for an empty one. The end of the input
    /// stops the setup.
    async fn ask(&mut self, question: &str, default: Option<&str>) -> anyhow::Result<String> {
        loop {
            match default {
                Some(d) if looks_like_secret(d, &self.seen) => {
                    eprint!("{question} [{HIDDEN_DEFAULT}]: ")
                }
                Some(d) => eprint!("{question} [{d}]: "),
                None => eprint!("{question}: "),
            }
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            let n = self
                .input
                .read_line(&mut line)
                .await
                .context("cannot read the answer from stdin")?;
            if n == 0 {
                eprintln!();
                bail!("the input ended before the setup was complete; nothing was written");
            }
            if self.newline_after_answer {
                eprintln!();
            }
            let answer = line.trim();
            match (answer.is_empty(), default) {
                (false, _) => return Ok(answer.to_string()),
                (true, Some(d)) => return Ok(d.to_string()),
                (true, None) => eprintln!("  an answer is needed"),
            }
        }
    }

    /// Asks until `parse` accepts the answer. `given` (a flag) is tried first, without asking.
    /// Returns the answer as typed and the parsed value.
    async fn obtain<T>(
        &mut self,
        question: &str,
        given: Option<String>,
        default: Option<&str>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> anyhow::Result<(String, T)> {
        if let Some(given) = given {
            match parse(&given) {
                Ok(v) => return Ok((given, v)),
                Err(e) => eprintln!("  ✗ {question}: {}", unechoed(&e, &given)),
            }
        }
        loop {
            let answer = self.ask(question, default).await?;
            match parse(&answer) {
                Ok(v) => return Ok((answer, v)),
                Err(e) => eprintln!("  ✗ {}", unechoed(&e, &answer)),
            }
        }
    }

    /// Asks for a secret reference until it resolves. `given` (the flags) is tried first.
    async fn obtain_secret(
        &mut self,
        field: SecretField,
        id: &str,
        given: Option<GivenRef>,
        default: Option<&str>,
    ) -> anyhow::Result<Secret> {
        if let Some(given) = given {
            match resolve_given(&given, field) {
                Ok(secret) => {
                    eprintln!("  ✓ {}: {}", field.what, secret.reference.describe());
                    self.seen.push(secret.value.clone());
                    return Ok(secret);
                }
                Err(e) => eprintln!("  ✗ {}: {e}", field.what),
            }
        }
        let example = field.example_env.replace("{ID}", &id.to_uppercase().replace('-', "_"));
        let question = format!(
            "{} — an environment variable name (e.g. {example}) or a file path",
            capitalise(field.what)
        );
        loop {
            let answer = self.ask(&question, default).await?;
            match resolve_answer(&answer, field) {
                Ok(secret) => {
                    eprintln!("  ✓ {}", secret.reference.describe());
                    self.seen.push(secret.value.clone());
                    return Ok(secret);
                }
                Err(e) => eprintln!("  ✗ {e}"),
            }
        }
    }

    async fn run(&mut self, args: &TenantAddArgs, ids: &[String]) -> anyhow::Result<NewTenant> {
        eprintln!(
            "Adding a tenant to {}. Each value is checked as soon as it can be; Enter keeps a [default].\n\
             Secrets are given as references: the name of an environment variable, or the path of a file, \
             holding them.",
            args.config.display()
        );
        let (_, id) = self
            .obtain("Tenant id (a-z, 0-9, '-'; e.g. acme)", args.id.clone(), None, |v| {
                parse_id(v, ids)
            })
            .await?;

        // UKG Pro: ask, check, ask again what a failure points at (the previous answer is the default).
        eprintln!(
            "\nUKG Pro (the host is on {UKG_WEB_SERVICES_PAGE}; the account and the Customer API Key on \
             {UKG_ACCOUNTS_PAGE})"
        );
        let mut url = self.ask_ukg_url(args.ukg_url.clone(), None).await?;
        let ask_user = "Web service account user name";
        let mut user = self
            .obtain(ask_user, args.ukg_username.clone(), None, parse_username)
            .await?;
        let mut password = self
            .obtain_secret(UKG_PASSWORD, &id, given_ref(args, UKG_PASSWORD), None)
            .await?;
        let mut api_key = self
            .obtain_secret(UKG_API_KEY, &id, given_ref(args, UKG_API_KEY), None)
            .await?;
        loop {
            let base = &url.1;
            eprintln!("Checking UKG Pro at {base} ...");
            let findings = check::check_ukg(&ukg_spec(base, &user.1, &password, &api_key), policy()).await;
            let mut lines = check::ukg_lines("", base, &findings, None);
            lines.push(employee_export_note());
            print_lines(&lines);
            let again = match ukg_problem(base, &findings) {
                None => break,
                Some(UkgProblem::Url(text)) => {
                    eprintln!("✗ {text}\n  Enter the URL again:");
                    url = self.ask_ukg_url(None, Some(&url.0)).await?;
                    continue;
                }
                Some(UkgProblem::Credentials(text)) => format!("{text}\n  Enter them again (Enter keeps an answer):"),
                Some(UkgProblem::Permissions(text)) => format!(
                    "{text}\n  Grant it, then press Enter at each question to check again (or give another account):"
                ),
            };
            eprintln!("✗ {again}");
            user = self.obtain(ask_user, None, Some(&user.0), parse_username).await?;
            let previous = password.reference.answer().to_string();
            password = self.obtain_secret(UKG_PASSWORD, &id, None, Some(&previous)).await?;
            let previous = api_key.reference.answer().to_string();
            api_key = self.obtain_secret(UKG_API_KEY, &id, None, Some(&previous)).await?;
        }

        let target = self.ask_target(args, &id).await?;
        eprintln!();
        let (_, contact) = self
            .obtain(
                "Technical contact (email address, told when a run needs a person)",
                args.contact.clone(),
                None,
                parse_contact,
            )
            .await?;
        Ok(NewTenant {
            id,
            contact,
            ukg_url: url.1,
            ukg_username: user.1,
            ukg_password: password,
            ukg_api_key: api_key,
            target,
        })
    }

    /// Where users go: the SCIM app (URL and token, checked live) or a user file's folder.
    async fn ask_target(&mut self, args: &TenantAddArgs, id: &str) -> anyhow::Result<NewTarget> {
        let kind = if args.file_dir.is_some() {
            "file".to_string()
        } else if args.scim_url.is_some() || args.scim_token_env.is_some() || args.scim_token_file.is_some() {
            "scim".to_string()
        } else {
            eprintln!();
            self.obtain(
                "Target: \"scim\" (the app's SCIM 2.0 API) or \"file\" (a user file in a folder, e.g. for Betterworks)",
                None,
                Some("scim"),
                |v| match v.trim().to_lowercase().as_str() {
                    k @ ("scim" | "file") => Ok(k.to_string()),
                    _ => Err("expected scim or file".to_string()),
                },
            )
            .await?
            .1
        };
        if kind == "file" {
            let (_, directory) = self
                .obtain(
                    "Folder for the user file (created by the first run if missing)",
                    args.file_dir.clone(),
                    None,
                    parse_file_dir,
                )
                .await?;
            eprintln!("  ✓ user file folder {directory}");
            return Ok(NewTarget::File { directory });
        }
        // The SCIM app, the same way as UKG.
        eprintln!("\nThe app (SCIM 2.0)");
        let mut scim_url = self
            .ask_url(
                SCIM_URL_QUESTION,
                args.scim_url.clone(),
                None,
                config::normalize_scim_url,
            )
            .await?;
        let mut token = self
            .obtain_secret(SCIM_TOKEN, id, given_ref(args, SCIM_TOKEN), None)
            .await?;
        loop {
            let base = &scim_url.1;
            eprintln!("Checking the SCIM app at {base} ...");
            let result = check::check_scim(&scim_spec(base, &token), policy()).await;
            print_lines(&[check::scim_line("", base, &result, None)]);
            match scim_problem(base, &result) {
                None => break,
                Some((text, true)) => {
                    eprintln!("✗ {text}\n  Enter the token reference again:");
                    let previous = token.reference.answer().to_string();
                    token = self.obtain_secret(SCIM_TOKEN, id, None, Some(&previous)).await?;
                }
                Some((text, false)) => {
                    eprintln!("✗ {text}\n  Enter the URL again:");
                    scim_url = self
                        .ask_url(SCIM_URL_QUESTION, None, Some(&scim_url.0), config::normalize_scim_url)
                        .await?;
                }
            }
        }
        Ok(NewTarget::Scim { url: scim_url.1, token })
    }

    /// The UKG host URL, asked until the host answers: one request without credentials
    /// (UKG answers 401), so a mistyped host is asked again before the account questions.
    async fn ask_ukg_url(&mut self, given: Option<String>, default: Option<&str>) -> anyhow::Result<(String, String)> {
        let mut url = self
            .ask_url(UKG_URL_QUESTION, given, default, config::normalize_ukg_url)
            .await?;
        loop {
            let probe = Secret {
                reference: SecretRef::Env(String::new()),
                value: SecretString::from(""),
            };
            let spec = ukg_spec(&url.1, "hrsync-setup-probe", &probe, &probe);
            let findings = check::check_ukg(&spec, policy()).await;
            let UkgFindings::Unreachable(e) = findings else {
                eprintln!("  ✓ UKG host {} answers", url.1);
                return Ok(url);
            };
            eprintln!("  ✗ UKG host {}: {e}\n  Enter the URL again:", url.1);
            url = self
                .ask_url(UKG_URL_QUESTION, None, Some(&url.0), config::normalize_ukg_url)
                .await?;
        }
    }

    /// A URL, normalised by `normalize`; what changed is told. Returns (as typed, normalised).
    async fn ask_url(
        &mut self,
        question: &str,
        given: Option<String>,
        default: Option<&str>,
        normalize: Normalize,
    ) -> anyhow::Result<(String, String)> {
        let (typed, (url, notices)) = self.obtain(question, given, default, normalize).await?;
        for n in &notices {
            eprintln!("  note: {n}");
        }
        if !notices.is_empty() {
            eprintln!("  using {url}");
        }
        Ok((typed, url))
    }
}

/// [`config::normalize_ukg_url`] or [`config::normalize_scim_url`]: the URL and what changed.
type Normalize = fn(&str) -> Result<(String, Vec<String>), String>;

const UKG_URL_QUESTION: &str = "UKG API host URL (e.g. https://service4.ultipro.com)";
const SCIM_URL_QUESTION: &str = "SCIM base URL (e.g. https://app.example.com/scim/v2)";

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
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
                bail!("{} has a tenant {:?} already; nothing written", path.display(), tenant.id);
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
        bail!("the config file with the new tenant would not be valid, so nothing was written: {}", t.error);
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
    fn secret_answers_resolve_to_references_and_never_echo_what_was_typed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "CANARY-file-secret\n").unwrap();
        let s = resolve_answer(file.to_str().unwrap(), SCIM_TOKEN).unwrap();
        assert_eq!(s.reference, SecretRef::File(file.to_str().unwrap().to_string()));
        use secrecy::ExposeSecret;
        assert_eq!(s.value.expose_secret(), "CANARY-file-secret");

        // PATH is set in any test environment.
        let s = resolve_answer("PATH", SCIM_TOKEN).unwrap();
        assert_eq!(s.reference, SecretRef::Env("PATH".into()));

        for pasted in [
            "CANARY-pasted-secret",
            "CANARYPASTED5",
            "abc/CANARY+def==",
            "   ",
            "~/CANARY",
        ] {
            let e = resolve_answer(pasted, SCIM_TOKEN).err().unwrap();
            assert!(!e.contains("CANARY"), "{e}");
            let e = resolve_env(pasted, SCIM_TOKEN).err().unwrap();
            assert!(!e.contains("CANARY"), "{e}");
            let e = resolve_file(pasted, SCIM_TOKEN).err().unwrap();
            assert!(!e.contains("CANARY"), "{e}");
        }
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        assert!(resolve_file(empty.to_str().unwrap(), SCIM_TOKEN)
            .err()
            .unwrap()
            .contains("empty"));
    }

    #[test]
    fn ids_and_contacts_are_checked() {
        assert_eq!(parse_id(" acme ", &[]).unwrap(), "acme");
        assert!(parse_id("Acme", &[]).is_err());
        assert!(parse_id("acme", &["acme".into()]).unwrap_err().contains("already"));
        assert!(parse_contact("it@acme.example").is_ok());
        assert!(parse_contact("it at acme").is_err());
    }

    #[test]
    fn answers_that_may_be_secrets_are_recognised_and_left_out_of_errors() {
        let seen = [SecretString::from("CANARY-pw")];
        assert!(looks_like_secret("CANARY-pw", &seen));
        assert!(looks_like_secret("x CANARY-pw ", &seen));
        assert!(looks_like_secret("Sup3r$ecret", &[]));
        for plain in ["svc-hrsync", "DOMAIN\\svc.hr@acme", "https://service4.ultipro.com", "/etc/hrsync/key"] {
            assert!(!looks_like_secret(plain, &seen), "{plain}");
        }
        let e = unechoed("expected an https:// URL, got \"CANARY-pw\" (no scheme)", "CANARY-pw");
        assert_eq!(e, "expected an https:// URL, got (what you typed, not shown) (no scheme)");
        assert_eq!(unechoed("expected scim or file", "or"), "expected scim or file");
    }

    #[tokio::test]
    async fn the_wizard_re_asks_until_an_answer_parses_and_stops_at_the_end_of_input() {
        let mut w = Wizard {
            input: &b"Bad Id\n\nacme\n"[..],
            newline_after_answer: true,
            seen: Vec::new(),
        };
        let (_, id) = w.obtain("id", None, None, |v| parse_id(v, &[])).await.unwrap();
        assert_eq!(id, "acme");
        let end = w.obtain("id", None, None, |v| parse_id(v, &[])).await;
        assert!(end.unwrap_err().to_string().contains("nothing was written"));

        let mut w = Wizard {
            input: &b"\n"[..],
            newline_after_answer: false,
            seen: Vec::new(),
        };
        let (answer, _) = w.obtain("id", None, Some("beta"), |v| parse_id(v, &[])).await.unwrap();
        assert_eq!(answer, "beta");
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
