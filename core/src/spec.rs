//! Validated, ready-to-use settings for one tenant and for the mailer.
//!
//! These are what the actors consume. They are built by the binary from the config file
//! (`src/config/`), which owns the file format, its defaults and its error messages; the
//! actors never see TOML. Secrets are held as [`SecretString`] so they cannot reach a log,
//! an error or a `Debug` print by accident.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::expr::Expr;

/// Everything hrsync needs to sync one tenant.
#[derive(Debug, Clone)]
pub struct TenantSpec {
    /// Tenant id: `[a-z0-9-]+`, unique in the process. Names actors and store trees.
    pub id: String,
    /// Interval between scheduled runs (the first run starts when the service starts).
    pub schedule: Duration,
    /// Who is emailed when a run needs a person.
    pub technical_contact: String,
    /// Failed runs in a row after which the tenant is quarantined (its runs back off
    /// 6 h → 12 h → 24 h until one succeeds). Credential failures quarantine at once.
    pub quarantine_after: u32,
    /// The tenant's time zone: effective dates (future terminations) are acted on at the
    /// start of that day there.
    pub timezone: chrono_tz::Tz,
    /// Deactivation brake and shrunken-roster guard.
    pub brake: BrakeSpec,
    /// Stop the tenant's first run (and any run after its mapping or scope changed) after
    /// planning, until a person approves the plan (`hrsync approve`).
    pub first_run_review: bool,
    /// Between full runs, read UKG's change feed this often (at least 3 h; UKG allows 8
    /// calls a day, 3 h apart) and apply the changed employees at once. None: off.
    pub changes_every: Option<Duration>,
    /// The tenant's changes to the default field mapping.
    pub mapping: MappingSpec,
    /// Who is synced at all (scoping filters).
    pub scope: ScopeSpec,
    /// Where the roster is read from.
    pub ukg: UkgSpec,
    /// Where users are written to: an app through SCIM, or a user file.
    pub target: TargetSpec,
}

/// Where a tenant's users are written: the writer the tenant supervisor spawns.
#[derive(Debug, Clone)]
pub enum TargetSpec {
    /// An app with a SCIM 2.0 API (`writer::Writer`).
    Scim(ScimSpec),
    /// A user file (CSV or JSON lines) dropped in a folder and/or uploaded by SFTP
    /// (`file_writer::FileWriter`).
    File(FileSpec),
}

impl TargetSpec {
    /// The SCIM settings, when the target is a SCIM app.
    pub fn scim(&self) -> Option<&ScimSpec> {
        match self {
            TargetSpec::Scim(s) => Some(s),
            TargetSpec::File(_) => None,
        }
    }

    /// The SCIM settings, mutable (tests and benchmarks adjust them).
    pub fn scim_mut(&mut self) -> Option<&mut ScimSpec> {
        match self {
            TargetSpec::Scim(s) => Some(s),
            TargetSpec::File(_) => None,
        }
    }
}

/// How to reach one tenant's UKG Pro REST API.
#[derive(Debug, Clone)]
pub struct UkgSpec {
    /// Scheme and host only, e.g. `https://service4.ultipro.com` (no trailing slash, no path).
    pub base_url: String,
    /// Web service account user name (not a secret; sent in Basic auth).
    pub username: String,
    /// Web service account password.
    pub password: SecretString,
    /// The Customer API Key, sent as `US-Customer-Api-Key`.
    pub api_key: SecretString,
    /// Optional per-account User API Key, sent as `x-api-key` only when set.
    pub user_api_key: Option<SecretString>,
    /// Records per page (`per_Page`), 1..=10000.
    pub page_size: u32,
    /// Request budget towards UKG for this tenant.
    pub requests_per_second: u32,
    /// Requests allowed at once after an idle spell (default 1: evenly spaced).
    pub burst: Option<u32>,
    /// Which org level (1..=4) is the department.
    pub department_org_level: u8,
    /// Total timeout of one request (big pages can be slow).
    pub timeout: Duration,
}

/// How to reach one tenant's app through SCIM 2.0.
#[derive(Debug, Clone)]
pub struct ScimSpec {
    /// Base URL of the SCIM service, e.g. `https://app.example.com/scim/v2` (no trailing slash).
    pub base_url: String,
    /// Bearer token.
    pub token: SecretString,
    /// Request budget towards the app for this tenant.
    pub requests_per_second: u32,
    /// Requests allowed at once after an idle spell (default 1: evenly spaced).
    pub burst: Option<u32>,
    /// How many writes may be in flight at once for this tenant.
    pub concurrency: usize,
    /// Total timeout of one request.
    pub timeout: Duration,
}

/// How the notifier reaches its SMTP server.
#[derive(Debug, Clone)]
pub struct SmtpSpec {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// The `From:` address of every email.
    pub from: String,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// Longest one email (or `hrsync check`'s test) may take, all told: connecting, the
    /// server's greeting, TLS, AUTH and the whole send (`smtp.timeout`, default 30 s).
    pub timeout: Duration,
}

/// Transport security towards the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: accepted only towards a loopback host.
    None,
}

/// A tenant's changes to the default mapping (see `mapping`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappingSpec {
    /// Status codes that count as active (None: every code but `T`).
    pub active_statuses: Option<Vec<String>>,
    /// SCIM attribute path → expression, applied after the default mapping (overriding it
    /// for the same attribute).
    pub attributes: Vec<(String, Expr)>,
}

/// Credentials of a local UKG simulator: (web service user, password, Customer API Key).
pub type LocalUkgCredentials<'a> = (&'a str, &'a str, &'a str);

impl TenantSpec {
    /// A tenant against local simulators (the demo, benchmarks, tests): generous rate limits
    /// (1,000 requests/s), 30 s timeouts, daily schedule, default brake and mapping, UTC.
    /// Callers adjust what they measure.
    pub fn local(
        id: &str,
        ukg_base: String,
        (username, password, api_key): LocalUkgCredentials<'_>,
        scim_base: String,
        token: &str,
        page_size: u32,
    ) -> TenantSpec {
        TenantSpec {
            id: id.to_string(),
            schedule: Duration::from_secs(24 * 3600),
            technical_contact: format!("it-alerts@{id}.example"),
            quarantine_after: 3,
            timezone: chrono_tz::Tz::UTC,
            brake: BrakeSpec::default(),
            first_run_review: false,
            changes_every: None,
            mapping: MappingSpec::default(),
            scope: ScopeSpec::default(),
            ukg: UkgSpec {
                base_url: ukg_base,
                username: username.to_string(),
                password: password.into(),
                api_key: api_key.into(),
                user_api_key: None,
                page_size,
                requests_per_second: 1000,
                burst: None,
                department_org_level: 1,
                timeout: Duration::from_secs(30),
            },
            target: TargetSpec::Scim(ScimSpec {
                base_url: scim_base,
                token: token.into(),
                requests_per_second: 1000,
                burst: None,
                concurrency: 4,
                timeout: Duration::from_secs(30),
            }),
        }
    }
}

/// How a tenant's user file is written and delivered (see `user_file`, `delivery`, `sftp`).
#[derive(Debug, Clone)]
pub struct FileSpec {
    /// CSV (RFC 4180) or JSON lines.
    pub format: FileFormat,
    /// The columns, in order: header name and expression over the row fields
    /// (`user_file::ROW_FIELDS` and the tenant's mapped attributes).
    pub columns: Vec<Column>,
    /// chrono `strftime` format of dates (default `%m/%d/%Y`).
    pub date_format: String,
    /// The drop folder, if the file is kept locally.
    pub directory: Option<std::path::PathBuf>,
    /// Run files kept in `directory` (older ones are removed; the `latest` copy stays).
    pub keep: usize,
    /// The SFTP server the file is uploaded to, if any.
    pub sftp: Option<SftpSpec>,
}

/// A tenant's brake settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrakeSpec {
    /// Hold the run's deactivations when they exceed this share of the active users…
    pub max_deactivation_percent: u32,
    /// …provided the tenant has at least this many active users (small tenants legitimately
    /// lose a large share at once).
    pub min_population: u64,
    /// Hold them too when they exceed this absolute count (None: no absolute limit).
    pub max_deactivations: Option<u64>,
    /// Fail the run when it read fewer employees than this share of the last complete read.
    pub min_roster_percent: u32,
}

impl Default for BrakeSpec {
    fn default() -> Self {
        BrakeSpec {
            max_deactivation_percent: 20,
            min_population: 100,
            max_deactivations: None,
            min_roster_percent: 50,
        }
    }
}

/// Who a tenant syncs.
#[derive(Debug, Clone, Default)]
pub struct ScopeSpec {
    /// Every one must match for an employee to be in scope (none: everyone is).
    pub include: Vec<Rule>,
    /// An employee matching any one is out of scope.
    pub exclude: Vec<Rule>,
    /// What happens to an employee hrsync synced before who is now out of scope.
    pub out_of_scope: OutOfScope,
}

/// What happens to a synced employee who falls out of scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutOfScope {
    /// Deactivated like a leaver (counted by the deactivation brake).
    #[default]
    Deactivate,
    /// Left as they are in the app; hrsync no longer touches them.
    Ignore,
}

/// One filter: a roster field and a test.
#[derive(Debug, Clone)]
pub struct Rule {
    /// UKG field name, e.g. `employeeTypeCode`.
    pub field: String,
    pub op: Op,
    /// How plans and reports name the rule, e.g. `exclude employeeTypeCode equals "CON"`,
    /// or the rule's own `name` when the config gives one.
    pub label: String,
}

/// The test a rule applies to its field's value.
#[derive(Debug, Clone)]
pub enum Op {
    /// The value equals this text (case-insensitive, trimmed).
    Equals(String),
    /// The value is one of these (case-insensitive, trimmed).
    In(Vec<String>),
    /// The value is none of these; an empty value is none of them.
    NotIn(Vec<String>),
    /// The value matches this regular expression (an empty value is tested as "").
    Matches(regex::Regex),
    /// `true`: the value is missing or blank; `false`: it is present.
    IsEmpty(bool),
}

/// How the file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// RFC 4180 CSV: a header row, then one row per employee; CRLF line ends.
    Csv,
    /// One JSON object per line (column name → value, `null` when empty).
    JsonLines,
}

impl FileFormat {
    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::JsonLines => "jsonl",
        }
    }
}

/// One column: its header and how its value is computed from the row's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub value: Expr,
}

/// Where and how the user file is uploaded.
#[derive(Debug, Clone)]
pub struct SftpSpec {
    /// Host name or IP address.
    pub host: String,
    pub port: u16,
    pub username: String,
    pub auth: SftpAuth,
    /// Folder on the server the file goes to (`.` = the login folder).
    pub remote_dir: String,
    /// OpenSSH known_hosts file that must list the server's host key.
    pub known_hosts: PathBuf,
    /// Connection and per-request timeout.
    pub timeout: Duration,
}

/// How hrsync logs in. `Debug` shows no secret.
#[derive(Debug, Clone)]
pub enum SftpAuth {
    /// A private key (OpenSSH or PEM text, without passphrase).
    Key(SecretString),
    Password(SecretString),
}

impl SftpSpec {
    /// `host:port`, as errors and logs name the server.
    pub fn server(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The path of `name` in `remote_dir`.
    pub fn remote_path(&self, name: &str) -> String {
        let dir = self.remote_dir.trim_end_matches('/');
        if dir.is_empty() && self.remote_dir.starts_with('/') {
            format!("/{name}")
        } else if dir.is_empty() || dir == "." {
            name.to_string()
        } else {
            format!("{dir}/{name}")
        }
    }
}
