//! Error types of the actors crate.
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
