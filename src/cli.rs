//! The command line: `run`, `sync`, `status`, `check`, `demo`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

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
        /// The run whose deactivations were held (see the report email or /status).
        #[arg(long)]
        run: u64,
        /// Drop the held deactivations instead of applying them.
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
    /// A real sync against the built-in UKG Pro simulator and an in-process SCIM app: no account, no network.
    Demo {
        /// How many sample employees the simulator holds.
        #[arg(long, default_value_t = 120)]
        employees: usize,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}
