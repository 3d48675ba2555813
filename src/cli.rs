//! The command line: `run`, `sync`, `plan`, `approve`, `status`, `check`, `rebaseline`,
//! `tenant add`, `demo`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// hrsync keeps an app's users in step with UKG Pro, through SCIM 2.0.
#[derive(Debug, Parser)]
#[command(name = "hrsync", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: every tenant on its schedule (first run at start), health and status over HTTP.
    Run {
        /// The config file (TOML); see config/hrsync.example.toml.
        #[arg(long, short)]
        config: PathBuf,
        /// Log format (overrides `service.log_format`).
        #[arg(long, value_enum)]
        log_format: Option<LogFormatArg>,
        /// Serve only this shard's tenants, `I/N` (overrides `service.shard`): a tenant
        /// belongs to shard `fnv1a(id) mod N`. See README, "Several instances".
        #[arg(long)]
        shard: Option<crate::config::Shard>,
    },
    /// Run one tenant's sync now in the foreground and print a summary. Exit 0 when the run
    /// completed (even with per-record failures, which are listed), 1 when it could not.
    /// With --employee, sync only that person (see README, "One person, now").
    Sync {
        /// The config file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// The tenant id to sync.
        #[arg(long, short)]
        tenant: String,
        /// Sync only this employee (UKG employee id) now — their manager first when the
        /// manager is not in the app yet — and print what was done. Asks the running service
        /// (admin API, `service.admin_token_*`) when `hrsync run` holds the database.
        #[arg(long, short)]
        employee: Option<String>,
        /// Run now even while the tenant is quarantined (release it for one run); a run that
        /// succeeds lifts the quarantine. (An on-demand run never waits for the quarantine's
        /// due time; --force says so explicitly.)
        #[arg(long)]
        force: bool,
    },
    /// Show what the next run of a tenant would do — creates, updates field by field,
    /// deactivations, records set aside, whether the brake would trip — writing nothing.
    Plan {
        /// The config file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// The tenant id to plan.
        #[arg(long, short)]
        tenant: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Release the deactivations that the brake held in a run (or drop them with --reject).
    Approve {
        /// The config file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// The tenant id.
        #[arg(long, short)]
        tenant: String,
        /// The run whose deactivations were held (see the report email or /status). Without
        /// it: the plan awaiting review (`first_run_review`), which is then applied at once.
        #[arg(long)]
        run: Option<u64>,
        /// Drop the held deactivations (or discard the plan awaiting review) instead of
        /// applying them.
        #[arg(long)]
        reject: bool,
    },
    /// Every tenant's status as a table: asked of the running service (`service.listen`), or
    /// read from the store when the service is not running.
    Status {
        /// The config file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// Print the JSON of `/status` instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Validate the config file (keys, values, secrets resolvable), then check live each
    /// tenant's UKG Pro host, credentials and endpoint permissions and its SCIM app, and the
    /// SMTP server: one line per check, ✓ or ✗ with the fix. Exit 0 when every check passed.
    Check {
        /// The config file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// Check only this tenant (the SMTP server is still checked).
        #[arg(long, short)]
        tenant: Option<String>,
        /// Validate the file only, without contacting UKG, the app or the SMTP server
        /// (e.g. in a deploy pipeline).
        #[arg(long)]
        config_only: bool,
    },
    /// Start a tenant afresh after its state was damaged or lost (the commands refuse a
    /// damaged state database and name this fix). Its next run is a first sync: it adopts the
    /// app's existing users by externalId (then userName), creates nobody twice, and
    /// deactivates the leavers it finds. Prefer restoring the data directory from a backup.
    /// Run it with `hrsync run` stopped.
    Rebaseline {
        /// The config file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// The tenant to start afresh (its state is dropped; other tenants keep theirs).
        #[arg(long, short, required_unless_present = "all", conflicts_with = "all")]
        tenant: Option<String>,
        /// The database cannot be opened at all: move the whole data directory aside (to
        /// `DATA_DIR.corrupt-<timestamp>`, never deleted) and start every tenant afresh.
        #[arg(long)]
        all: bool,
    },
    /// Manage the config file's tenants (`hrsync tenant add`).
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// A real sync against the built-in UKG Pro simulator and an in-process SCIM app: no account, no network.
    Demo {
        /// How many sample employees the simulator holds.
        #[arg(long, default_value_t = 120)]
        employees: usize,
    },
}

/// `hrsync tenant ...`
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Add a tenant to the config file, guided and checked live; written only when every check passed.
    ///
    /// Asks for each value (or takes it from the flags) and checks it live as it goes: UKG
    /// host, credentials and Customer API Key, each permission a sync needs, the SCIM app and
    /// its token. Then appends the tenant to the file (the rest kept byte for byte), with
    /// first_run_review = true and the secrets as references (environment variable names or
    /// file paths, never values). Without --non-interactive, asks on stderr and reads the
    /// answers from stdin for whatever the flags did not give; with every value given as flags
    /// (or --non-interactive) asks nothing and exits 1 listing every problem. Creates the
    /// config file when it does not exist.
    Add(Box<TenantAddArgs>),
}

/// The values `hrsync tenant add` needs; any not given is asked for (unless --non-interactive).
#[derive(Debug, Args)]
pub struct TenantAddArgs {
    /// The config file (TOML) to add the tenant to; created (with a [service] table) when missing.
    #[arg(long, short)]
    pub config: PathBuf,
    /// The tenant id: 1 to 63 characters of a-z, 0-9 and '-', unique in the file.
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// The UKG Pro API host, e.g. https://service4.ultipro.com (a URL copied from UKG's Web
    /// Services page is reduced to https://host, and you are told).
    #[arg(long, value_name = "URL")]
    pub ukg_url: Option<String>,
    /// The UKG web service account's user name.
    #[arg(long, value_name = "NAME")]
    pub ukg_username: Option<String>,
    /// Environment variable holding the web service account's password.
    #[arg(long, value_name = "VAR", conflicts_with = "ukg_password_file")]
    pub ukg_password_env: Option<String>,
    /// File holding the web service account's password.
    #[arg(long, value_name = "PATH")]
    pub ukg_password_file: Option<String>,
    /// Environment variable holding the Customer API Key.
    #[arg(long, value_name = "VAR", conflicts_with = "ukg_api_key_file")]
    pub ukg_api_key_env: Option<String>,
    /// File holding the Customer API Key.
    #[arg(long, value_name = "PATH")]
    pub ukg_api_key_file: Option<String>,
    /// The app's SCIM base URL (the root /Users hangs off), e.g. https://app.example.com/scim/v2.
    #[arg(long, value_name = "URL")]
    pub scim_url: Option<String>,
    /// Environment variable holding the app's SCIM bearer token.
    #[arg(long, value_name = "VAR", conflicts_with = "scim_token_file")]
    pub scim_token_env: Option<String>,
    /// File holding the app's SCIM bearer token.
    #[arg(long, value_name = "PATH")]
    pub scim_token_file: Option<String>,
    /// Write a user file (Betterworks-style CSV) into this folder instead of using SCIM
    /// (`[tenants.file]`; SFTP delivery and columns are added to the block by hand).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["scim_url", "scim_token_env", "scim_token_file"])]
    pub file_dir: Option<String>,
    /// The tenant's technical contact (email address), told when a run needs a person.
    #[arg(long, value_name = "EMAIL")]
    pub contact: Option<String>,
    /// Ask nothing: every value must come from the flags (implied when all are given).
    #[arg(long)]
    pub non_interactive: bool,
    /// data_dir of the [service] table when the config file is created (default
    /// /var/lib/hrsync; relative paths are relative to the config file's folder). Refused
    /// when the file exists.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}
