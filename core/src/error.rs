//! Error types of hrsync-core, and why a run failed ([`RunFailure`]).
//!
//! Each error says what went wrong and, where a person can act, what to do. None of them
//! ever carries a secret: URLs hold no credentials and response bodies are summarised, not
//! echoed. `is_retryable()` tells the retry loop whether trying again can help.

use thiserror::Error;

/// A failed call to UKG Pro.
#[derive(Debug, Error)]
pub enum UkgError {
    /// Connection refused, DNS failure, TLS failure or timeout.
    #[error("UKG Pro API unreachable: {0}; check the API host URL (https, reachable from this machine)")]
    Unreachable(String),
    /// 401: wrong user, password or Customer API Key.
    #[error("UKG Pro rejected the credentials (401) on {path}; check the web service account user name and password, and the Customer API Key")]
    Unauthorized { path: String },
    /// 403: the service account lacks the permission this endpoint needs.
    #[error("UKG Pro denied access to {path} (403); give the web service account the {permission} permission")]
    Forbidden { path: String, permission: &'static str },
    /// 429 that did not clear within the retry budget.
    #[error(
        "UKG Pro kept throttling {path} (429) after {attempts} attempts; lower requests_per_second or retry later"
    )]
    Throttled { path: String, attempts: u32 },
    /// Any other unexpected status.
    #[error("UKG Pro answered {status} on {path}: {detail}")]
    Status { path: String, status: u16, detail: String },
    /// The body was not the JSON we expect (truncated, wrong content type, wrong shape).
    #[error("UKG Pro sent an unreadable response on {path}: {detail}")]
    Malformed { path: String, detail: String },
    /// The roster read does not hang together (a page repeated, more pages than the roster
    /// holds, the two roster lists disagree): the run fails and nothing is deactivated.
    #[error("{0}")]
    Roster(String),
}

impl UkgError {
    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            UkgError::Unreachable(_) | UkgError::Throttled { .. } | UkgError::Malformed { .. } => true,
            UkgError::Status { status, .. } => *status >= 500,
            UkgError::Unauthorized { .. } | UkgError::Forbidden { .. } | UkgError::Roster(_) => false,
        }
    }
}

/// A failed call to the app's SCIM API.
#[derive(Debug, Error)]
pub enum ScimError {
    /// Connection refused, DNS failure, TLS failure or timeout.
    #[error("SCIM API unreachable: {0}; check the SCIM base_url (https, reachable from this machine)")]
    Unreachable(String),
    /// 401: the bearer token was refused.
    #[error("the app rejected the SCIM token (401); check the tenant's scim token")]
    Unauthorized,
    /// 404 on the base path: wrong base URL.
    #[error("the SCIM endpoint {path} does not exist (404); check the SCIM base_url")]
    NotFound { path: String },
    /// 409 uniqueness: a user with this userName exists already.
    #[error("the app already has a user with this userName (409 uniqueness)")]
    Conflict,
    /// 429 that did not clear within the retry budget.
    #[error(
        "the app kept throttling {path} (429) after {attempts} attempts; lower requests_per_second or retry later"
    )]
    Throttled { path: String, attempts: u32 },
    /// Any other unexpected status, with the SCIM error detail when the app sent one.
    #[error("the app answered {status} on {path}: {detail}")]
    Status { path: String, status: u16, detail: String },
    /// The body was not the JSON we expect.
    #[error("the app sent an unreadable response on {path}: {detail}")]
    Malformed { path: String, detail: String },
}

impl ScimError {
    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ScimError::Unreachable(_) | ScimError::Throttled { .. } | ScimError::Malformed { .. } => true,
            ScimError::Status { status, .. } => *status >= 500,
            ScimError::Unauthorized | ScimError::NotFound { .. } | ScimError::Conflict => false,
        }
    }

    /// Whether this error concerns the whole tenant (not just one record): the run stops.
    pub fn is_fatal_for_run(&self) -> bool {
        matches!(
            self,
            ScimError::Unreachable(_)
                | ScimError::Unauthorized
                | ScimError::NotFound { .. }
                | ScimError::Throttled { .. }
        ) || matches!(self, ScimError::Status { status, .. } if *status >= 500)
    }
}

/// A failure of the local store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// sled failed; a full disk reads "storage: no space left on device …" with the fix.
    #[error("{}", sled_message(.0))]
    Sled(#[from] sled::Error),
    /// The database opened is not the one written (sled silently dropped part of its log,
    /// or it is unreadable): refused, never started afresh.
    #[error("storage: the state database in {dir} is damaged: {what}. Restore the data directory from a backup (with hrsync stopped), or start afresh: `hrsync rebaseline --config FILE --tenant ID` (the tenant's next run adopts the app's users by externalId; `--all` moves an unreadable database aside)")]
    Damaged { dir: String, what: String },
    /// The database was closed after a storage failure and is not open again yet.
    #[error("storage: {0}")]
    Reopen(String),
    #[error("store holds an unreadable record under {key}: {detail}")]
    Corrupt { key: String, detail: String },
    /// A commit for a run that is already closed (or older than the current one): the work
    /// of a stale actor, dropped.
    #[error("run {run} is already closed; page {page} dropped")]
    RunClosed { run: u64, page: u32 },
    /// A cursor commit that would move backwards or overlap committed work.
    #[error("refusing to commit page {page} of run {run}: the committed cursor is at run {committed_run} page {committed_page}")]
    CursorRegression {
        run: u64,
        page: u32,
        committed_run: u64,
        committed_page: u32,
    },
}

/// How a sled error reads: a full disk says so, with the fix.
fn sled_message(e: &sled::Error) -> String {
    match e {
        sled::Error::Io(io) if is_disk_full(io) => {
            "storage: no space left on device in the data directory (data_dir); free space there (or grow the volume): the next run resumes from the last committed page".to_string()
        }
        sled::Error::Io(io) => format!("storage: I/O error in the data directory (data_dir): {io}"),
        sled::Error::Corruption { .. } => format!(
            "storage: the state database is damaged ({e}); restore the data directory from a backup, or start afresh with `hrsync rebaseline`"
        ),
        other => format!("store error: {other}"),
    }
}

fn is_disk_full(io: &std::io::Error) -> bool {
    io.kind() == std::io::ErrorKind::StorageFull
        || io.raw_os_error() == Some(28)
        || io.to_string().contains("No space left")
}

impl StoreError {
    /// Whether the store itself failed (disk full, I/O error, damaged), as opposed to a
    /// refused commit: the run cannot go on until a person (or free space) fixes it.
    pub fn is_storage(&self) -> bool {
        matches!(
            self,
            StoreError::Sled(_) | StoreError::Damaged { .. } | StoreError::Reopen(_)
        )
    }

    /// sled cannot read the database at all (its own checks found it damaged).
    pub fn is_unreadable(&self) -> bool {
        matches!(
            self,
            StoreError::Sled(sled::Error::Corruption { .. } | sled::Error::ReportableBug(_))
        )
    }

    /// Another process holds the database (sled's file lock).
    pub fn is_in_use(&self) -> bool {
        matches!(self, StoreError::Sled(sled::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock || e.to_string().contains("lock"))
    }
}

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(e: sled::transaction::TransactionError<StoreError>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
        }
    }
}

/// Why a run failed, as a type: the one-line reason (its `Display`, the same text as the
/// run summary's `error`), the fix the report suggests ([`RunFailure::fix`]) and whether the
/// tenant is quarantined at once ([`RunFailure::quarantines_at_once`]). Built from the typed
/// errors (`From<UkgError>`, `From<ScimError>`, `From<StoreError>`) or by the actor that
/// knows the cause; never guessed from the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunFailure {
    /// UKG refused the web service account or the Customer API Key (401).
    UkgCredentials(String),
    /// UKG denied the service account an endpoint (403, naming the permission).
    UkgDenied(String),
    /// UKG unreachable, throttling, 5xx past the retries, or unreadable answers.
    UkgUnavailable(String),
    /// The roster read does not hang together (short page, coverage, repeated page) or the
    /// roster guard tripped: nothing was deactivated.
    UkgData(String),
    /// The app refused the SCIM bearer token (401).
    AppToken(String),
    /// The app unreachable, its base URL wrong (404), or 5xx/429 past the retries.
    AppUnavailable(String),
    /// The local store failed: full disk, I/O error, damaged database.
    Storage(String),
    /// The pipeline crashed `MAX_CRASHES_PER_RUN` times in the run.
    Crashed(String),
    /// The first-run review could not be computed.
    Review(String),
    /// The user file could not be written or delivered; `needs_person` when the
    /// destination refused (SFTP credentials or host key): quarantined at once.
    Delivery { reason: String, needs_person: bool },
    /// Anything else (a commit the store refused, an unexpected app answer).
    Other(String),
}

/// The kind of a [`RunFailure`], stored with the run summary (`cause`) so that the report
/// of a stored or received summary gives the typed fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureCause {
    UkgCredentials,
    UkgDenied,
    UkgUnavailable,
    UkgData,
    AppToken,
    AppUnavailable,
    Storage,
    Crashed,
    Review,
    Delivery,
    Other,
}

impl FailureCause {
    /// What a person should do about a run that failed for this cause.
    pub fn fix(self) -> &'static str {
        match self {
            FailureCause::UkgCredentials => "Check the web service account user name and password and the Customer API Key (UKG: System Configuration → Security → Web Services).",
            FailureCause::UkgDenied => "Check the service account's permissions in UKG: Company Configuration Integration, Employee Export, Personnel Integration.",
            FailureCause::UkgUnavailable => "Check the API host URL: it must be https and reachable from the hrsync machine (e.g. https://service4.ultipro.com). If it is right, UKG is down or slow: the next run retries.",
            FailureCause::UkgData => "UKG's roster read did not hang together or shrank beyond the roster guard, so nothing was deactivated: check UKG for a filter or permission change or a mass termination; the next run reads afresh.",
            FailureCause::AppToken => "Check the SCIM bearer token configured for this tenant; it may have expired or been revoked in the app.",
            FailureCause::AppUnavailable => "Check the SCIM base_url (https, reachable from the hrsync machine, the app's SCIM path); if it is right, the app is down or overloaded: the next run resumes.",
            FailureCause::Storage => "Check the data directory (data_dir): free space there, or restore it from a backup; the next run resumes from the last committed page.",
            FailureCause::Crashed => "The sync kept crashing in this run: check hrsync's log for the crash, and contact hrsync support with the run id if it persists.",
            FailureCause::Review => "The first-run review could not be computed: check that UKG and the app are reachable (`hrsync check`), then run again.",
            FailureCause::Delivery => "Check the user file's destination: the folder (exists, writable) or the SFTP host, user, key and host key.",
            FailureCause::Other => "Check hrsync's log for the run; if it persists, contact hrsync support with the run id.",
        }
    }
}

impl RunFailure {
    /// The kind of failure, stored with the run summary.
    pub fn cause(&self) -> FailureCause {
        match self {
            RunFailure::UkgCredentials(_) => FailureCause::UkgCredentials,
            RunFailure::UkgDenied(_) => FailureCause::UkgDenied,
            RunFailure::UkgUnavailable(_) => FailureCause::UkgUnavailable,
            RunFailure::UkgData(_) => FailureCause::UkgData,
            RunFailure::AppToken(_) => FailureCause::AppToken,
            RunFailure::AppUnavailable(_) => FailureCause::AppUnavailable,
            RunFailure::Storage(_) => FailureCause::Storage,
            RunFailure::Crashed(_) => FailureCause::Crashed,
            RunFailure::Review(_) => FailureCause::Review,
            RunFailure::Delivery { .. } => FailureCause::Delivery,
            RunFailure::Other(_) => FailureCause::Other,
        }
    }

    /// The one-line reason (also this type's `Display`).
    pub fn reason(&self) -> &str {
        match self {
            RunFailure::UkgCredentials(r)
            | RunFailure::UkgDenied(r)
            | RunFailure::UkgUnavailable(r)
            | RunFailure::UkgData(r)
            | RunFailure::AppToken(r)
            | RunFailure::AppUnavailable(r)
            | RunFailure::Storage(r)
            | RunFailure::Crashed(r)
            | RunFailure::Review(r)
            | RunFailure::Other(r) => r,
            RunFailure::Delivery { reason, .. } => reason,
        }
    }

    /// What a person should do.
    pub fn fix(&self) -> &'static str {
        self.cause().fix()
    }

    /// Whether the tenant is quarantined at once rather than after `quarantine_after`
    /// failures in a row: retrying cannot help until a person acts (credentials, permission,
    /// a refused destination).
    pub fn quarantines_at_once(&self) -> bool {
        match self {
            RunFailure::UkgCredentials(_) | RunFailure::UkgDenied(_) | RunFailure::AppToken(_) => true,
            RunFailure::Delivery { needs_person, .. } => *needs_person,
            _ => false,
        }
    }
}

impl std::fmt::Display for RunFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason())
    }
}

impl From<&UkgError> for RunFailure {
    fn from(e: &UkgError) -> Self {
        let reason = e.to_string();
        match e {
            UkgError::Unauthorized { .. } => RunFailure::UkgCredentials(reason),
            UkgError::Forbidden { .. } => RunFailure::UkgDenied(reason),
            UkgError::Roster(_) => RunFailure::UkgData(reason),
            UkgError::Unreachable(_)
            | UkgError::Throttled { .. }
            | UkgError::Status { .. }
            | UkgError::Malformed { .. } => RunFailure::UkgUnavailable(reason),
        }
    }
}

impl From<&ScimError> for RunFailure {
    fn from(e: &ScimError) -> Self {
        let reason = e.to_string();
        match e {
            ScimError::Unauthorized => RunFailure::AppToken(reason),
            ScimError::Conflict => RunFailure::Other(reason),
            ScimError::Status { status, .. } if *status < 500 => RunFailure::Other(reason),
            ScimError::Unreachable(_)
            | ScimError::NotFound { .. }
            | ScimError::Throttled { .. }
            | ScimError::Status { .. }
            | ScimError::Malformed { .. } => RunFailure::AppUnavailable(reason),
        }
    }
}

impl From<&StoreError> for RunFailure {
    fn from(e: &StoreError) -> Self {
        let reason = e.to_string();
        if e.is_storage() {
            RunFailure::Storage(reason)
        } else {
            RunFailure::Other(reason)
        }
    }
}

#[cfg(test)]
mod run_failure_tests;
