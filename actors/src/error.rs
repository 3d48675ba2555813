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
    #[error("store error: {0}")]
    Sled(#[from] sled::Error),
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

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(e: sled::transaction::TransactionError<StoreError>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
        }
    }
}
