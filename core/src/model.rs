//! The data that flows between the actors: employees read from UKG, the users hrsync wants
//! in the app, the plan for one page, and run summaries.
//!
//! An [`Employee`] holds only what the sync needs: sensitive HR fields (SSN, birth date,
//! home address) are never deserialized, so they cannot be stored, logged or sent.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The 64-bit hash of an employee id, for roster-wide sets that must not grow with the ids'
/// length: 8 bytes an id. std's `DefaultHasher` is the same for an id within one process,
/// which is all these in-memory sets need (never stored).
pub fn id_hash(id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

/// UKG fields by API name, for configured mappings and scope rules.
pub type Fields = std::collections::BTreeMap<&'static str, String>;

/// One employee as read from UKG: employment-details joined with demographic details on
/// (company id, employee id), with lookups resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Employee {
    pub company_id: String,
    /// UKG's employee id: the stable key, and the user's `externalId` in the app.
    pub employee_id: String,
    /// Zero-padded, kept as text.
    pub employee_number: Option<String>,
    pub first_name: Option<String>,
    pub preferred_name: Option<String>,
    pub last_name: Option<String>,
    /// Work email (demographics `emailAddress`).
    pub email: Option<String>,
    /// Job title, falling back to the job description and then to the jobs lookup.
    pub job_title: Option<String>,
    /// The configured org level's description (code when the lookup has none).
    pub department: Option<String>,
    pub work_location: Option<String>,
    /// Tenant-defined status code: `A` active, `L` leave, `T` terminated.
    pub status: String,
    pub termination_date: Option<NaiveDate>,
    /// The manager's UKG employee id.
    pub supervisor_id: Option<String>,
    /// Whether the manager is in the roster (demographics) at all.
    pub supervisor_in_roster: bool,
    /// The UKG fields a mapping or a scope rule may read (`engine::mapping::UKG_FIELDS`) by
    /// API name (employment and demographics, plus the resolved `department`). The names are
    /// the list's own `&'static str`: a page holds thousands of employees in flight.
    pub fields: Fields,
}

/// The user hrsync wants the app to hold for one employee (the mapping's output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppUser {
    pub external_id: String,
    pub user_name: String,
    pub given_name: String,
    pub family_name: String,
    pub display_name: String,
    pub email: String,
    pub title: Option<String>,
    pub department: Option<String>,
    pub employee_number: Option<String>,
    pub location: Option<String>,
    pub active: bool,
    /// The UKG termination date (`dateOfTermination`), kept only once the user is inactive:
    /// the file writer writes it as `deactivation_date`; SCIM has no such attribute. Left out
    /// of the JSON when empty, so the content hash of active users is what it always was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_date: Option<NaiveDate>,
    /// The manager's UKG employee id (resolved to an app id at write time).
    pub manager_external_id: Option<String>,
    /// Attributes added by the tenant's mapping, by SCIM path (e.g. `nickName`,
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub extra: std::collections::BTreeMap<String, String>,
}

/// What the writer must do for one employee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// New to hrsync: look up by externalId (adopt) or create.
    Create,
    /// Known and changed: replace the user's attributes.
    Update { app_id: String },
    /// Terminated, or out of scope: PATCH `active=false`. `reason` says which.
    Deactivate { app_id: String, reason: String },
    /// Inactive in the app, active again in UKG (rehire): replace with `active=true`.
    Reactivate { app_id: String },
    /// Attributes unchanged; only the manager link differs.
    LinkManager { app_id: String },
}

/// One planned change.
#[derive(Debug, Clone)]
pub struct PlanItem {
    pub user: AppUser,
    /// Content hash of `user` without its manager (see `mapping::content_hash`).
    pub hash: String,
    pub action: Action,
    /// What the store held before this run, if anything.
    pub prior: Option<EmployeeState>,
}

/// An employee that could not be synced, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFailure {
    pub employee_id: String,
    pub reason: String,
}

/// Identifies one run of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCtx {
    pub tenant: String,
    pub run_id: u64,
    pub started_at: DateTime<Utc>,
    /// Pipeline generation that runs it (stale generations are ignored).
    pub generation: u64,
}

/// Counts of what a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub created: u64,
    /// Existing app users taken over (matched by externalId) instead of created.
    pub adopted: u64,
    pub updated: u64,
    pub deactivated: u64,
    pub reactivated: u64,
    pub managers_linked: u64,
    pub unchanged: u64,
    pub failed: u64,
    /// Deactivations held back by the brake, waiting for approval.
    #[serde(default)]
    pub held: u64,
    /// Employees read from UKG.
    #[serde(default)]
    pub read: u64,
    /// Employees read but out of the tenant's scope (not synced).
    #[serde(default)]
    pub out_of_scope: u64,
    /// Changes left for the next run because the reviewed plan did not contain them
    /// (first-run review: an approved run applies exactly the reviewed plan).
    #[serde(default)]
    pub deferred: u64,
    /// Users the store says are applied but the app's listing no longer has (deleted in the
    /// app behind hrsync's back): created again, or adopted under their new id.
    #[serde(default)]
    pub recreated: u64,
}

impl Counts {
    /// Adds another page's counts to these.
    pub fn add(&mut self, o: &Counts) {
        self.created += o.created;
        self.adopted += o.adopted;
        self.updated += o.updated;
        self.deactivated += o.deactivated;
        self.reactivated += o.reactivated;
        self.managers_linked += o.managers_linked;
        self.unchanged += o.unchanged;
        self.failed += o.failed;
        self.held += o.held;
        self.read += o.read;
        self.out_of_scope += o.out_of_scope;
        self.deferred += o.deferred;
        self.recreated += o.recreated;
    }

    /// Number of writes these counts represent.
    pub fn writes(&self) -> u64 {
        self.created
            + self.adopted
            + self.updated
            + self.deactivated
            + self.reactivated
            + self.managers_linked
            + self.recreated
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every record applied.
    Ok,
    /// Completed, with some records set aside.
    CompletedWithFailures,
    /// Completed, but its deactivations were held by the brake for approval.
    Held,
    /// Planned only (first-run review): nothing written; the plan waits for approval.
    AwaitingReview,
    /// Could not complete; the reason is in `error`.
    Failed,
}

/// The record of one run, kept in the store and shown in status and reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    pub tenant: String,
    pub run_id: u64,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: Outcome,
    pub counts: Counts,
    /// Per-record failures (at most the first 1,000; `counts.failed` has the total).
    pub failures: Vec<RecordFailure>,
    /// Employees out of scope, with the rule that excluded each (at most the first 1,000;
    /// `counts.out_of_scope` has the total).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<RecordFailure>,
    /// Why the run could not complete (one line).
    pub error: Option<String>,
    /// The kind of that failure (`RunFailure::cause`), which gives the report its fix;
    /// absent in summaries stored before it existed (the report then reads `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<crate::error::FailureCause>,
    /// For `AwaitingReview`: the plan waiting for approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewSummary>,
    pub pages: u32,
    /// Requests sent upstream during the run.
    pub traffic: Traffic,
}

/// Requests a run sent to each upstream, with retries and 429s among them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    pub ukg_requests: u64,
    pub ukg_retries: u64,
    pub ukg_throttled: u64,
    pub scim_requests: u64,
    pub scim_retries: u64,
    pub scim_throttled: u64,
}

impl Traffic {
    /// What happened between `before` and these counters.
    pub fn since(&self, before: &Traffic) -> Traffic {
        Traffic {
            ukg_requests: self.ukg_requests - before.ukg_requests,
            ukg_retries: self.ukg_retries - before.ukg_retries,
            ukg_throttled: self.ukg_throttled - before.ukg_throttled,
            scim_requests: self.scim_requests - before.scim_requests,
            scim_retries: self.scim_retries - before.scim_retries,
            scim_throttled: self.scim_throttled - before.scim_throttled,
        }
    }
}

/// Most per-record failures kept in one summary.
pub const MAX_FAILURES_KEPT: usize = 1000;

/// What hrsync last applied to the app for one employee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmployeeState {
    /// The app's id of the user.
    pub app_id: String,
    /// `mapping::content_hash` of the attributes last applied.
    pub hash: String,
    /// Whether the user is active in the app.
    pub active: bool,
    /// The manager's UKG employee id as linked in the app (None: no link).
    pub manager: Option<String>,
    /// The attributes last applied (for field-by-field plans); None when only linked.
    #[serde(default)]
    pub user: Option<AppUser>,
    pub applied_at: DateTime<Utc>,
}

/// The counts a person approves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewSummary {
    /// Employees read from UKG.
    pub read: u64,
    /// New users to create in the app.
    pub creates: u64,
    /// Users already in the app (same externalId, or same userName and no other
    /// externalId) that hrsync would take over instead of creating.
    pub adoptions: u64,
    pub updates: u64,
    pub reactivations: u64,
    pub manager_links: u64,
    pub deactivations: u64,
    pub conflicts: u64,
    pub set_aside: u64,
    pub out_of_scope: u64,
    pub unchanged: u64,
    /// Why the run would hold its deactivations (the brake), if it would.
    pub brake: Option<String>,
}

impl ReviewSummary {
    /// One line: the counts a person approves.
    pub fn line(&self) -> String {
        format!(
            "{} read: {} create, {} adopt, {} update, {} reactivate, {} manager link, {} deactivate, {} conflict, {} set aside, {} out of scope, {} unchanged",
            self.read,
            self.creates,
            self.adoptions,
            self.updates,
            self.reactivations,
            self.manager_links,
            self.deactivations,
            self.conflicts,
            self.set_aside,
            self.out_of_scope,
            self.unchanged
        )
    }
}

/// A computed plan waiting for (or given) a person's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The configuration the plan was computed with (see `review::fingerprint`).
    pub fingerprint: String,
    pub created_at: DateTime<Utc>,
    /// Set by `hrsync approve`: the next run applies the plan.
    pub approved: bool,
    /// Employee id → [`change_key`] of every create, adoption, update, reactivation and
    /// manager link in the plan.
    pub changes: BTreeMap<String, String>,
    /// Employee ids the plan deactivates.
    pub deactivations: BTreeSet<String>,
    pub summary: ReviewSummary,
    /// Creates that would collide with an app user holding the same userName for another
    /// employee (they would be set aside).
    pub conflicts: Vec<RecordFailure>,
}

/// The key a planned change is approved under: its content hash and manager.
pub fn change_key(item: &PlanItem) -> String {
    format!(
        "{}|{}",
        item.hash,
        item.user.manager_external_id.as_deref().unwrap_or("")
    )
}

impl Review {
    /// Whether the approved plan contains this change (exactly as planned now).
    pub fn allows(&self, item: &PlanItem) -> bool {
        match &item.action {
            Action::Deactivate { .. } => self.deactivations.contains(&item.user.external_id),
            _ => self.changes.get(&item.user.external_id) == Some(&change_key(item)),
        }
    }
}

/// What the store keeps for the feed of one tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedState {
    /// When employee-changes was called (recorded before each call): the last 24 h, and
    /// always the last one.
    pub calls: Vec<DateTime<Utc>>,
    /// The end of the last window whose employees were all applied.
    pub applied_until: Option<DateTime<Utc>>,
    /// The last window read, for status.
    pub last_window: Option<WindowSummary>,
}

impl FeedState {
    /// Records a call at `now`, forgetting calls older than 24 h (but the last one).
    pub fn record_call(&mut self, now: DateTime<Utc>) {
        self.calls.push(now);
        self.calls.sort();
        let last = self.calls.len() - 1;
        let mut i = 0;
        self.calls.retain(|t| {
            let keep = i == last || now - *t < DAY;
            i += 1;
            keep
        });
    }

    /// Calls in the 24 h before `now`.
    pub fn calls_within_day(&self, now: DateTime<Utc>) -> usize {
        self.calls.iter().filter(|t| now - **t < DAY).count()
    }
}

/// One window, as status shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSummary {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Employees the feed listed (after resolving repeated rows).
    pub employees: usize,
    /// Employees applied so far (unchanged ones included).
    pub applied: usize,
    /// People written to the app (user or manager link); 0 when all were already applied.
    pub writes: usize,
    /// "applied", "reading", "applying", or why the window stopped.
    pub outcome: String,
}

/// 24 hours, the window of UKG's employee-changes call budget ([`FeedState`]).
const DAY: chrono::Duration = chrono::Duration::hours(24);

/// Substrings of field names that are never read (sensitive HR data), compared lower-case.
pub const SENSITIVE: [&str; 15] = [
    "ssn",
    "birth",
    "national",
    "taxid",
    "salary",
    "pay",
    "gender",
    "ethnic",
    "race",
    "disab",
    "veteran",
    "marital",
    "addressline",
    "zip",
    "homephone",
];

/// Whether a UKG field name is sensitive (never read, stored, logged or sent).
pub fn is_sensitive(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SENSITIVE.iter().any(|s| lower.contains(s))
}
