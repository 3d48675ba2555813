//! Durable progress, in sled: per tenant, what was applied to the app for each employee,
//! the cursor of the current run, and the summaries of past runs.
//!
//! One `sled::Db` per process ([`Store`]) and one tree per tenant, named after it, whose
//! keys start with the kind of entry: `employees/` (employee id → [`EmployeeState`]),
//! `meta/` (cursor, generation, roster size, held deactivations, run health and
//! quarantine), `runs/` (run id →
//! [`RunSummary`]), `links/` (employee id → manager's employee id, for manager links
//! waiting for the manager to exist in the app), `deactivations/` (employee id → reason,
//! applied at the end of a run if the brake allows), `creates/` (deferred creates of a
//! first sync), `staged/` (employee id → the state a file-writer run applies once its file
//! is delivered) and `mail/` (outbox, de-duplication); the change feed's budget and
//! progress, the first-run review and the applied configuration fingerprint are values
//! under `meta/`. Values are JSON.
//!
//! One tree per tenant rather than one per kind of entry and tenant: sled rewrites its list
//! of trees whenever one is created, so creating trees costs in proportion to the square of
//! their number (8,000 trees for 1,000 tenants: 7 s, 220 MiB of memory, 635 MiB of disk;
//! 1,000 trees: 0.2 s, 16 MiB; see BENCHMARKS.md). Nor are trees shared between tenants:
//! each tenant's transactions stay on its own tree (sled 0.34's transactions on trees that
//! several tenants write at once deadlocked under load). A database written with the former
//! layout (`{tenant}/employees`, `{tenant}/meta`, …) is moved into it when opened.
//!
//! The actors see a [`ProgressStore`] trait object, so another backend (e.g. PostgreSQL
//! with leases) can replace sled when tenants outgrow one machine.
//!
//! Invariants: an employee's state is written only after the app confirmed the change; the
//! cursor only moves forward, one page at a time, and a commit that would move it backwards
//! or overlap committed work is refused ([`StoreError::CursorRegression`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sled::transaction::ConflictableTransactionError;

pub use crate::model::EmployeeState;
pub mod integrity;

use crate::engine::brake::Held;
use crate::error::StoreError;
use crate::model::FeedState;
use crate::model::{AppUser, Counts, RecordFailure, RunSummary, MAX_FAILURES_KEPT};

/// Where the current (or last) run stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub run_id: u64,
    pub started_at: DateTime<Utc>,
    /// Employment-details pages fully applied in this run.
    pub pages_committed: u32,
    /// The run read its last page and finished.
    pub complete: bool,
    /// What the committed pages did.
    pub counts: Counts,
    pub failures: Vec<RecordFailure>,
    /// Employees out of scope so far, with their rule (at most 1,000).
    #[serde(default)]
    pub excluded: Vec<RecordFailure>,
    /// The run started with no applied state at all (a first sync): the writer lists the
    /// app's users once and defers creates whose manager comes later — also after a resume.
    #[serde(default)]
    pub first_sync: bool,
}

/// The progress store of one tenant.
pub trait ProgressStore: Send + Sync {
    /// The applied state of one employee.
    fn employee(&self, employee_id: &str) -> Result<Option<EmployeeState>, StoreError>;
    /// Records what the app confirmed for one employee.
    fn put_employee(&self, employee_id: &str, state: &EmployeeState) -> Result<(), StoreError>;
    /// Records what the app confirmed for one employee in run `run_id` and adds `counts`
    /// (what that write did) to the run's committed counts, in one transaction: a run's
    /// counts are what was committed, across crashes and resumes. `run_id` 0: outside a run
    /// (only the state is recorded).
    fn record_applied(
        &self,
        employee_id: &str,
        state: &EmployeeState,
        run_id: u64,
        counts: &Counts,
    ) -> Result<(), StoreError>;
    /// Remembers that `employee_id` must be linked to `manager_id` once the manager is in
    /// the app (the second pass at the end of the run; kept across crashes).
    fn add_pending_link(&self, employee_id: &str, manager_id: &str) -> Result<(), StoreError>;
    /// Pending manager links: (employee id, manager's employee id).
    fn pending_links(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// Forgets a pending link (linked, or given up for this run).
    fn remove_pending_link(&self, employee_id: &str) -> Result<(), StoreError>;
    /// Remembers a create deferred to the end of a first sync, when its manager exists
    /// (kept across crashes).
    fn add_pending_create(&self, employee_id: &str, create: &PendingCreate) -> Result<(), StoreError>;
    /// Deferred creates without their users: (employee id, run that deferred it, manager's
    /// employee id). What the end of a first sync needs to order them, in little memory.
    fn pending_create_heads(&self) -> Result<Vec<(String, u64, Option<String>)>, StoreError>;
    /// One deferred create.
    fn pending_create(&self, employee_id: &str) -> Result<Option<PendingCreate>, StoreError>;
    fn remove_pending_create(&self, employee_id: &str) -> Result<(), StoreError>;
    /// Remembers a deactivation to apply at the end of the run, if the brake allows
    /// (kept across crashes). `reason` says why ("terminated in UKG", …).
    fn add_pending_deactivation(&self, employee_id: &str, reason: &str) -> Result<(), StoreError>;
    /// Pending deactivations: (employee id, reason).
    fn pending_deactivations(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// Forgets one pending deactivation.
    fn remove_pending_deactivation(&self, employee_id: &str) -> Result<(), StoreError>;
    /// Every employee with applied state.
    fn employees(&self) -> Result<Vec<(String, EmployeeState)>, StoreError>;
    /// The ids of the employees whose user is active in the app, in id order. Holds only
    /// the ids (the end of a run needs no more, whatever the roster size).
    fn active_employees(&self) -> Result<Vec<String>, StoreError>;
    /// Employees read by the last complete roster read.
    fn last_roster_size(&self) -> Result<Option<u64>, StoreError>;
    fn set_last_roster_size(&self, n: u64) -> Result<(), StoreError>;
    /// Starts staging for run `run_id` (the file writer), or resumes it: a staging left by
    /// another, unfinished run is dropped, with its pending deactivations.
    fn begin_staging(&self, run_id: u64) -> Result<(), StoreError>;
    /// Stages the state an employee will have once the run's file is delivered.
    fn stage_employee(&self, employee_id: &str, state: &EmployeeState) -> Result<(), StoreError>;
    /// The staged states.
    fn staged(&self) -> Result<Vec<(String, EmployeeState)>, StoreError>;
    /// After the run's file is delivered, in one transaction: `applied` becomes applied state,
    /// the staging and the pending deactivations are cleared, `held` (if any) is recorded.
    fn commit_staged(&self, commit: &StagedCommit) -> Result<(), StoreError>;
    /// Deactivations held by the brake, waiting for approval.
    fn held(&self) -> Result<Option<Held>, StoreError>;
    fn set_held(&self, held: Option<&Held>) -> Result<(), StoreError>;
    /// Number of employees with applied state.
    fn employee_count(&self) -> usize;
    /// The cursor, if any run ever started.
    fn cursor(&self) -> Result<Option<Cursor>, StoreError>;
    /// Resumes the incomplete run, or starts run `last + 1` at page 0.
    fn begin_run(&self, now: DateTime<Utc>) -> Result<Cursor, StoreError>;
    /// Marks page `page` of run `run_id` applied, adding its counts (besides the writes,
    /// which [`ProgressStore::record_applied`] counted one by one), failures and
    /// out-of-scope employees, in one transaction. Refuses anything but the next page of the
    /// current run.
    fn commit_page(
        &self,
        run_id: u64,
        page: u32,
        counts: &Counts,
        failures: &[RecordFailure],
        excluded: &[RecordFailure],
    ) -> Result<Cursor, StoreError>;
    /// Closes the run: cursor complete and summary stored, in one transaction.
    fn finish_run(&self, summary: &RunSummary) -> Result<(), StoreError>;
    /// The most recent run summaries, newest first.
    fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, StoreError>;
    /// Increments and returns the pipeline generation (fences out stale actors).
    fn next_generation(&self) -> Result<u64, StoreError>;
    /// Queues an email until it is sent or expires; returns its id.
    fn push_outbox(&self, email: &OutboxEmail) -> Result<u64, StoreError>;
    /// Queued emails, oldest first.
    fn outbox(&self) -> Result<Vec<(u64, OutboxEmail)>, StoreError>;
    fn update_outbox(&self, id: u64, email: &OutboxEmail) -> Result<(), StoreError>;
    fn remove_outbox(&self, id: u64) -> Result<(), StoreError>;
    /// When an email with this signature was last sent (de-duplication).
    fn mail_sent_at(&self, signature: &str) -> Result<Option<DateTime<Utc>>, StoreError>;
    fn set_mail_sent_at(&self, signature: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// The plan waiting for (or given) approval (first-run review).
    fn review(&self) -> Result<Option<crate::model::Review>, StoreError>;
    fn set_review(&self, review: Option<&crate::model::Review>) -> Result<(), StoreError>;
    /// The configuration fingerprint of the last completed run (see `review::fingerprint`).
    fn applied_fingerprint(&self) -> Result<Option<String>, StoreError>;
    fn set_applied_fingerprint(&self, fingerprint: &str) -> Result<(), StoreError>;
    /// Whether the contact was last told of a failure (a success then sends a recovery email).
    fn failing_reported(&self) -> Result<bool, StoreError>;
    fn set_failing_reported(&self, failing: bool) -> Result<(), StoreError>;
    /// The change feed's persisted state: its calls to UKG (the budget) and how far its
    /// windows were applied. None before the first call.
    fn feed_state(&self) -> Result<Option<FeedState>, StoreError>;
    /// Replaces it (the caller flushes before calling UKG: a call is recorded before it is made).
    fn set_feed_state(&self, state: &FeedState) -> Result<(), StoreError>;
    /// The tenant's run health (failures in a row, quarantine), as last recorded; None
    /// before any failure was recorded.
    fn health(&self) -> Result<Option<crate::engine::quarantine::Health>, StoreError>;
    /// Records the run health (whenever it changes; the caller flushes).
    fn set_health(&self, health: &crate::engine::quarantine::Health) -> Result<(), StoreError>;
    /// Makes everything written so far durable.
    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Whether the tenant was started afresh by `hrsync rebaseline` and has not completed a
    /// run since: its runs then also adopt (to deactivate) the active app users of leavers.
    fn rebaselined(&self) -> Result<bool, StoreError>;
    /// Checks that the store works and, after a storage failure (sled's I/O errors are
    /// sticky: a full disk fails every later operation, even once space is back), reopens
    /// it. Errors while it still cannot be used.
    fn recover(&self) -> Result<(), StoreError>;
}

/// The process's one database.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

/// Kinds of entries: the first part of every key of a tenant's tree. A tree of the former
/// layout was named `{tenant}/{kind}` without the slash.
const EMPLOYEES: &[u8] = b"employees/";
const META: &[u8] = b"meta/";
const RUNS: &[u8] = b"runs/";
const LINKS: &[u8] = b"links/";
const DEACTIVATIONS: &[u8] = b"deactivations/";
const MAIL: &[u8] = b"mail/";
const CREATES: &[u8] = b"creates/";
const STAGED: &[u8] = b"staged/";
const KINDS: [&[u8]; 8] = [EMPLOYEES, META, RUNS, LINKS, DEACTIVATIONS, MAIL, CREATES, STAGED];

/// Moves the per-kind trees of the former layout (`{tenant}/{kind}`) into the tenant's
/// tree under `{kind}/` keys, then drops them. Copying is idempotent and the old trees are
/// dropped only after a flush, so an interrupted migration is finished by the next open.
fn migrate_per_kind_trees(db: &sled::Db) -> Result<(), StoreError> {
    let mut moved = Vec::new();
    for name in db.tree_names() {
        let Some((tenant, kind)) = std::str::from_utf8(&name).ok().and_then(|n| n.rsplit_once('/')) else {
            continue;
        };
        let Some(kind) = KINDS.iter().find(|k| k.strip_suffix(b"/") == Some(kind.as_bytes())) else {
            continue;
        };
        let target = db.open_tree(tenant)?;
        for kv in db.open_tree(&name)?.iter() {
            let (k, v) = kv?;
            target.insert([*kind, &k].concat(), v)?;
        }
        moved.push(name);
    }
    if moved.is_empty() {
        return Ok(());
    }
    db.flush()?;
    for name in &moved {
        db.drop_tree(name)?;
    }
    db.flush()?;
    Ok(())
}

/// sled's page cache, in bytes. sled's default (1 GiB) lets the cache grow with the store:
/// a run reads every employee's state, so a 100,000-employee tenant kept ~50 MB of them
/// cached (BENCHMARKS.md). Reads past the cache come from the OS page cache.
const CACHE_BYTES: u64 = 16 * 1024 * 1024;

impl Store {
    /// Opens (or creates) the database in `dir`, and checks that it is whole (see
    /// [`integrity`]): a damaged store is refused with [`StoreError::Damaged`], never
    /// silently started afresh. Fails if another process holds it.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let db = open_sled(dir)?;
        migrate_per_kind_trees(&db)?;
        integrity::check(&db, dir)?;
        Ok(Self::with(db, Some(dir.to_path_buf())))
    }

    /// Opens the database in `dir` without the integrity check, for `hrsync rebaseline`.
    pub fn open_unchecked(dir: &Path) -> Result<Store, StoreError> {
        let db = open_sled(dir)?;
        migrate_per_kind_trees(&db)?;
        Ok(Self::with(db, Some(dir.to_path_buf())))
    }

    /// A temporary database (deleted on drop), for tests and `hrsync demo`.
    pub fn temporary() -> Result<Store, StoreError> {
        Self::from_db(sled::Config::new().temporary(true).cache_capacity(CACHE_BYTES).open()?)
    }

    fn from_db(db: sled::Db) -> Result<Store, StoreError> {
        migrate_per_kind_trees(&db)?;
        Ok(Self::with(db, None))
    }

    fn with(db: sled::Db, dir: Option<PathBuf>) -> Store {
        Store {
            shared: Arc::new(Shared {
                dir,
                db: RwLock::new(Some(db)),
                ledger: Mutex::new(()),
            }),
        }
    }

    /// The progress store of one tenant (its tree is created on first use).
    pub fn tenant(&self, tenant: &str) -> Result<Arc<dyn ProgressStore>, StoreError> {
        self.shared.db()?.open_tree(tenant)?;
        Ok(Arc::new(SledTenant {
            shared: self.shared.clone(),
            name: tenant.to_string(),
        }))
    }

    /// Starts `tenant` afresh (`hrsync rebaseline`): its tree is dropped, so its next run
    /// is a first sync that adopts the app's users by externalId; the ledger forgets it.
    pub fn rebaseline(&self, tenant: &str) -> Result<(), StoreError> {
        let db = self.shared.db()?;
        db.drop_tree(tenant)?;
        db.open_tree(tenant)?.insert(key(META, REBASELINED), b"1".as_slice())?;
        db.flush()?;
        if let Some(dir) = &self.shared.dir {
            let _guard = self.shared.ledger.lock().unwrap_or_else(PoisonError::into_inner);
            integrity::forget_tenant(&db, dir, tenant)?;
        }
        Ok(())
    }

    /// Flushes everything to disk.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.shared.db()?.flush_async().await?;
        Ok(())
    }
}

/// Opens sled in `dir` with our settings.
fn open_sled(dir: &Path) -> Result<sled::Db, StoreError> {
    // sled releases its file lock when the last reference to a closed database goes, which
    // may be one of its background threads a moment after the handle was dropped (a store
    // reopened in this process: `recover`, tests). A lock still held after a short wait is
    // another process's.
    let mut waited = std::time::Duration::ZERO;
    loop {
        match sled::Config::new().path(dir).cache_capacity(CACHE_BYTES).open() {
            // sled words the lock failure as an `Other` I/O error ("could not acquire lock").
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") && waited < LOCK_WAIT => {
                std::thread::sleep(LOCK_STEP);
                waited += LOCK_STEP;
            }
            other => return Ok(other?),
        }
    }
}

/// How long opening waits for a lock that a closed database of this process may still hold.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
const LOCK_STEP: std::time::Duration = std::time::Duration::from_millis(50);

/// The database handle every tenant store shares. sled makes an I/O failure (a full disk)
/// sticky: every later operation fails with it, even once space is back. So the handle can
/// be swapped: [`Shared::recover`] closes the failed database and opens it again from disk
/// (the log up to the last flush), which is the state every commit was made against.
struct Shared {
    /// The data directory; None for a temporary database (never reopened).
    dir: Option<PathBuf>,
    /// The open database; None between closing a failed one and reopening it.
    db: RwLock<Option<sled::Db>>,
    /// Serialises writes of the run ledger file ([`integrity`]).
    ledger: Mutex<()>,
}

impl Shared {
    fn db(&self) -> Result<sled::Db, StoreError> {
        self.db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| {
                StoreError::Reopen(
                    "the state database is closed after a storage failure; it is reopened at the next run".into(),
                )
            })
    }

    /// Whether the database still works (a flush succeeds); if not, closes it and opens it
    /// again. Errors when it still cannot be used (the disk is still full, say).
    fn recover(&self) -> Result<(), StoreError> {
        let healthy = |db: &sled::Db| db.flush().is_ok();
        if self
            .db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(healthy)
        {
            return Ok(());
        }
        let Some(dir) = &self.dir else {
            return self.db()?.flush().map(|_| ()).map_err(StoreError::from);
        };
        let mut db = self.db.write().unwrap_or_else(PoisonError::into_inner);
        if db.as_ref().is_some_and(healthy) {
            return Ok(());
        }
        // sled holds a file lock until its last handle is gone: drop ours before reopening.
        // Operations in flight elsewhere may still hold one; then opening fails and is tried
        // again at the next run.
        *db = None;
        let fresh = open_sled(dir)?;
        fresh.flush()?;
        tracing::info!(data_dir = %dir.display(), "state database reopened after a storage failure");
        *db = Some(fresh);
        Ok(())
    }
}

/// Entries of a tenant's tree: keys without their kind, values.
type Entries = Box<dyn DoubleEndedIterator<Item = Result<(Vec<u8>, sled::IVec), StoreError>>>;

/// One tenant's tree.
struct SledTenant {
    shared: Arc<Shared>,
    name: String,
}

/// The tree key of `key` among the entries of `kind`.
fn key(kind: &[u8], key: &[u8]) -> Vec<u8> {
    [kind, key].concat()
}

impl SledTenant {
    /// The tenant's tree in the current database (see [`Shared`]).
    fn tree(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.shared.db()?.open_tree(&self.name)?)
    }

    /// The entries of `kind` whose key starts with `sub`, keys without the kind.
    fn entries(&self, kind: &'static [u8], sub: &[u8]) -> Entries {
        match self.tree() {
            Ok(tree) => Box::new(tree.scan_prefix(key(kind, sub)).map(move |kv| {
                let (k, v) = kv?;
                Ok((k[kind.len()..].to_vec(), v))
            })),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }

    fn get(&self, kind: &[u8], k: &[u8]) -> Result<Option<sled::IVec>, StoreError> {
        Ok(self.tree()?.get(key(kind, k))?)
    }

    fn put(&self, kind: &[u8], k: &[u8], v: impl Into<sled::IVec>) -> Result<(), StoreError> {
        self.tree()?.insert(key(kind, k), v)?;
        Ok(())
    }

    fn delete(&self, kind: &[u8], k: &[u8]) -> Result<(), StoreError> {
        self.tree()?.remove(key(kind, k))?;
        Ok(())
    }
}

impl SledTenant {
    /// The cursor with the writes its run recorded one by one added to its counts.
    fn with_tally(&self, mut cursor: Cursor) -> Result<Cursor, StoreError> {
        let tally: Option<Tally> = self.get(META, TALLY)?.map(|v| decode(TALLY, &v)).transpose()?;
        if let Some(t) = tally.filter(|t| t.run_id == cursor.run_id) {
            cursor.counts.add(&t.counts);
        }
        Ok(cursor)
    }
}

const CURSOR: &[u8] = b"cursor";
const GENERATION: &[u8] = b"generation";
const ROSTER_SIZE: &[u8] = b"roster_size";
const HELD: &[u8] = b"held";
const OUTBOX: &[u8] = b"outbox/";
const SENT: &[u8] = b"sent/";
const FAILING: &[u8] = b"failing";
const REVIEW: &[u8] = b"review";
const FINGERPRINT: &[u8] = b"fingerprint";
const STAGED_RUN: &[u8] = b"staged_run";
const FEED: &[u8] = b"feed";
const HEALTH: &[u8] = b"health";
const TALLY: &[u8] = b"tally";
const REBASELINED: &[u8] = b"rebaselined";

/// The writes of one run counted as they were recorded ([`ProgressStore::record_applied`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Tally {
    run_id: u64,
    counts: Counts,
}

fn outbox_key(id: u64) -> Vec<u8> {
    [OUTBOX, &id.to_be_bytes()].concat()
}

/// A user whose create waits for its manager (first sync).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCreate {
    pub user: AppUser,
    pub hash: String,
    /// The run that deferred it: a later run drops it (and plans the employee afresh).
    pub run_id: u64,
}

/// What the end of a file-writer run makes durable at once (see `commit_staged`).
#[derive(Debug, Clone, Default)]
pub struct StagedCommit {
    /// The employees' new applied state.
    pub applied: Vec<(String, EmployeeState)>,
    /// Staged entries to clear (every one the run staged).
    pub staged: Vec<String>,
    /// Pending deactivations to clear (applied, held or dropped).
    pub deactivations: Vec<String>,
    /// Deactivations the brake held, if it tripped.
    pub held: Option<Held>,
}

/// An email waiting to be sent (kept across restarts until sent or expired).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// De-duplication key: the same signature is mailed at most once per 24 h.
    pub signature: String,
    pub created_at: DateTime<Utc>,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

/// Reads entries of string → JSON value.
fn decoded_pairs<T: DeserializeOwned>(
    entries: impl Iterator<Item = Result<(Vec<u8>, sled::IVec), StoreError>>,
) -> Result<Vec<(String, T)>, StoreError> {
    entries
        .map(|kv| {
            let (k, v) = kv?;
            Ok((String::from_utf8_lossy(&k).into_owned(), decode(&k, &v)?))
        })
        .collect()
}

/// Reads entries of string → string.
fn string_pairs(
    entries: impl Iterator<Item = Result<(Vec<u8>, sled::IVec), StoreError>>,
) -> Result<Vec<(String, String)>, StoreError> {
    entries
        .map(|kv| {
            let (k, v) = kv?;
            Ok((
                String::from_utf8_lossy(&k).into_owned(),
                String::from_utf8_lossy(&v).into_owned(),
            ))
        })
        .collect()
}

fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        detail: e.to_string(),
    })
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    // Our own plain data types always serialise.
    serde_json::to_vec(v).unwrap_or_default()
}

impl ProgressStore for SledTenant {
    fn employee(&self, employee_id: &str) -> Result<Option<EmployeeState>, StoreError> {
        self.get(EMPLOYEES, employee_id.as_bytes())?
            .map(|v| decode(employee_id.as_bytes(), &v))
            .transpose()
    }

    fn put_employee(&self, employee_id: &str, state: &EmployeeState) -> Result<(), StoreError> {
        self.put(EMPLOYEES, employee_id.as_bytes(), encode(state))
    }

    fn record_applied(
        &self,
        employee_id: &str,
        state: &EmployeeState,
        run_id: u64,
        counts: &Counts,
    ) -> Result<(), StoreError> {
        if run_id == 0 {
            return self.put_employee(employee_id, state);
        }
        let tally_key = key(META, TALLY);
        let state_key = key(EMPLOYEES, employee_id.as_bytes());
        let state = encode(state);
        self.tree()?.transaction(|tree| {
            let mut tally: Tally = match tree.get(&tally_key)? {
                Some(v) => decode(TALLY, &v).map_err(ConflictableTransactionError::Abort)?,
                None => Tally::default(),
            };
            if tally.run_id != run_id {
                tally = Tally {
                    run_id,
                    counts: Counts::default(),
                };
            }
            tally.counts.add(counts);
            tree.insert(state_key.as_slice(), state.as_slice())?;
            tree.insert(tally_key.as_slice(), encode(&tally))?;
            Ok::<(), ConflictableTransactionError<StoreError>>(())
        })?;
        Ok(())
    }

    fn add_pending_link(&self, employee_id: &str, manager_id: &str) -> Result<(), StoreError> {
        self.put(LINKS, employee_id.as_bytes(), manager_id.as_bytes())
    }

    fn pending_links(&self) -> Result<Vec<(String, String)>, StoreError> {
        string_pairs(self.entries(LINKS, b""))
    }

    fn remove_pending_link(&self, employee_id: &str) -> Result<(), StoreError> {
        self.delete(LINKS, employee_id.as_bytes())
    }

    fn add_pending_create(&self, employee_id: &str, create: &PendingCreate) -> Result<(), StoreError> {
        self.put(CREATES, employee_id.as_bytes(), encode(create))
    }

    fn pending_create_heads(&self) -> Result<Vec<(String, u64, Option<String>)>, StoreError> {
        #[derive(Deserialize)]
        struct Head {
            run_id: u64,
            user: HeadUser,
        }
        #[derive(Deserialize)]
        struct HeadUser {
            manager_external_id: Option<String>,
        }
        self.entries(CREATES, b"")
            .map(|kv| {
                let (k, v) = kv?;
                let head: Head = decode(&k, &v)?;
                Ok((
                    String::from_utf8_lossy(&k).into_owned(),
                    head.run_id,
                    head.user.manager_external_id,
                ))
            })
            .collect()
    }

    fn pending_create(&self, employee_id: &str) -> Result<Option<PendingCreate>, StoreError> {
        self.get(CREATES, employee_id.as_bytes())?
            .map(|v| decode(employee_id.as_bytes(), &v))
            .transpose()
    }

    fn remove_pending_create(&self, employee_id: &str) -> Result<(), StoreError> {
        self.delete(CREATES, employee_id.as_bytes())
    }

    fn add_pending_deactivation(&self, employee_id: &str, reason: &str) -> Result<(), StoreError> {
        self.put(DEACTIVATIONS, employee_id.as_bytes(), reason.as_bytes())
    }

    fn pending_deactivations(&self) -> Result<Vec<(String, String)>, StoreError> {
        string_pairs(self.entries(DEACTIVATIONS, b""))
    }

    fn remove_pending_deactivation(&self, employee_id: &str) -> Result<(), StoreError> {
        self.delete(DEACTIVATIONS, employee_id.as_bytes())
    }

    fn employees(&self) -> Result<Vec<(String, EmployeeState)>, StoreError> {
        decoded_pairs(self.entries(EMPLOYEES, b""))
    }

    fn active_employees(&self) -> Result<Vec<String>, StoreError> {
        /// The one field read of each state: decoding the whole state (with its user) of
        /// every employee would cost memory in proportion to the roster.
        #[derive(Deserialize)]
        struct Active {
            active: bool,
        }
        let mut out = Vec::new();
        for kv in self.entries(EMPLOYEES, b"") {
            let (k, v) = kv?;
            if decode::<Active>(&k, &v)?.active {
                out.push(String::from_utf8_lossy(&k).into_owned());
            }
        }
        Ok(out)
    }

    fn last_roster_size(&self) -> Result<Option<u64>, StoreError> {
        self.get(META, ROSTER_SIZE)?
            .map(|v| decode(ROSTER_SIZE, &v))
            .transpose()
    }

    fn set_last_roster_size(&self, n: u64) -> Result<(), StoreError> {
        self.put(META, ROSTER_SIZE, encode(&n))
    }

    fn begin_staging(&self, run_id: u64) -> Result<(), StoreError> {
        let current: Option<u64> = self
            .get(META, STAGED_RUN)?
            .map(|v| decode(STAGED_RUN, &v))
            .transpose()?;
        if current != Some(run_id) {
            // Cleared before the run id is recorded: a crash in between clears again.
            for kind in [STAGED, DEACTIVATIONS] {
                let keys: Vec<Vec<u8>> = self
                    .entries(kind, b"")
                    .map(|kv| kv.map(|(k, _)| k))
                    .collect::<Result<_, _>>()?;
                for k in keys {
                    self.delete(kind, &k)?;
                }
            }
            self.put(META, STAGED_RUN, encode(&run_id))?;
        }
        Ok(())
    }

    fn stage_employee(&self, employee_id: &str, state: &EmployeeState) -> Result<(), StoreError> {
        self.put(STAGED, employee_id.as_bytes(), encode(state))
    }

    fn staged(&self) -> Result<Vec<(String, EmployeeState)>, StoreError> {
        decoded_pairs(self.entries(STAGED, b""))
    }

    fn commit_staged(&self, commit: &StagedCommit) -> Result<(), StoreError> {
        self.tree()?.transaction(|tree| {
            for (id, state) in &commit.applied {
                tree.insert(key(EMPLOYEES, id.as_bytes()), encode(state))?;
            }
            for id in &commit.staged {
                tree.remove(key(STAGED, id.as_bytes()))?;
            }
            for id in &commit.deactivations {
                tree.remove(key(DEACTIVATIONS, id.as_bytes()))?;
            }
            if let Some(h) = &commit.held {
                tree.insert(key(META, HELD), encode(h))?;
            }
            Ok::<(), ConflictableTransactionError<StoreError>>(())
        })?;
        Ok(())
    }

    fn held(&self) -> Result<Option<Held>, StoreError> {
        self.get(META, HELD)?.map(|v| decode(HELD, &v)).transpose()
    }

    fn set_held(&self, held: Option<&Held>) -> Result<(), StoreError> {
        match held {
            Some(h) => self.put(META, HELD, encode(h)),
            None => self.delete(META, HELD),
        }
    }

    fn review(&self) -> Result<Option<crate::model::Review>, StoreError> {
        self.get(META, REVIEW)?.map(|v| decode(REVIEW, &v)).transpose()
    }

    fn set_review(&self, review: Option<&crate::model::Review>) -> Result<(), StoreError> {
        match review {
            Some(r) => self.put(META, REVIEW, encode(r)),
            None => self.delete(META, REVIEW),
        }
    }

    fn applied_fingerprint(&self) -> Result<Option<String>, StoreError> {
        self.get(META, FINGERPRINT)?
            .map(|v| decode(FINGERPRINT, &v))
            .transpose()
    }

    fn set_applied_fingerprint(&self, fingerprint: &str) -> Result<(), StoreError> {
        self.put(META, FINGERPRINT, encode(&fingerprint))
    }

    fn employee_count(&self) -> usize {
        self.tree().map_or(0, |t| t.scan_prefix(EMPLOYEES).count())
    }

    fn cursor(&self) -> Result<Option<Cursor>, StoreError> {
        self.get(META, CURSOR)?
            .map(|v| decode(CURSOR, &v).and_then(|c| self.with_tally(c)))
            .transpose()
    }

    fn begin_run(&self, now: DateTime<Utc>) -> Result<Cursor, StoreError> {
        let tree = self.tree()?;
        let first_sync = tree.scan_prefix(EMPLOYEES).next().is_none();
        let cursor_key = key(META, CURSOR);
        let cursor = tree.transaction(|tree| {
            let current: Option<Cursor> = match tree.get(&cursor_key)? {
                Some(v) => Some(decode(CURSOR, &v).map_err(ConflictableTransactionError::Abort)?),
                None => None,
            };
            let next = match current {
                Some(c) if !c.complete => c,
                other => Cursor {
                    run_id: other.map_or(1, |c| c.run_id + 1),
                    started_at: now,
                    pages_committed: 0,
                    complete: false,
                    counts: Counts::default(),
                    failures: Vec::new(),
                    excluded: Vec::new(),
                    first_sync,
                },
            };
            tree.insert(cursor_key.as_slice(), encode(&next))?;
            Ok(next)
        })?;
        self.with_tally(cursor)
    }

    fn commit_page(
        &self,
        run_id: u64,
        page: u32,
        counts: &Counts,
        failures: &[RecordFailure],
        excluded: &[RecordFailure],
    ) -> Result<Cursor, StoreError> {
        let cursor_key = key(META, CURSOR);
        let cursor = self.tree()?.transaction(|tree| {
            let current: Cursor = match tree.get(&cursor_key)? {
                Some(v) => decode(CURSOR, &v).map_err(ConflictableTransactionError::Abort)?,
                None => {
                    return Err(ConflictableTransactionError::Abort(StoreError::CursorRegression {
                        run: run_id,
                        page,
                        committed_run: 0,
                        committed_page: 0,
                    }))
                }
            };
            if run_id < current.run_id || (run_id == current.run_id && current.complete) {
                return Err(ConflictableTransactionError::Abort(StoreError::RunClosed {
                    run: run_id,
                    page,
                }));
            }
            if current.run_id != run_id || page != current.pages_committed + 1 {
                return Err(ConflictableTransactionError::Abort(StoreError::CursorRegression {
                    run: run_id,
                    page,
                    committed_run: current.run_id,
                    committed_page: current.pages_committed,
                }));
            }
            let mut next = current;
            next.pages_committed = page;
            next.counts.add(counts);
            let room = MAX_FAILURES_KEPT.saturating_sub(next.failures.len());
            next.failures.extend(failures.iter().take(room).cloned());
            let room = MAX_FAILURES_KEPT.saturating_sub(next.excluded.len());
            next.excluded.extend(excluded.iter().take(room).cloned());
            tree.insert(cursor_key.as_slice(), encode(&next))?;
            Ok(next)
        })?;
        self.with_tally(cursor)
    }

    fn finish_run(&self, summary: &RunSummary) -> Result<(), StoreError> {
        let cursor_key = key(META, CURSOR);
        let run_key = key(RUNS, &summary.run_id.to_be_bytes());
        self.tree()?.transaction(|tree| {
            if let Some(v) = tree.get(&cursor_key)? {
                let mut c: Cursor = decode(CURSOR, &v).map_err(ConflictableTransactionError::Abort)?;
                if c.run_id == summary.run_id {
                    c.complete = true;
                    tree.insert(cursor_key.as_slice(), encode(&c))?;
                }
            }
            tree.insert(run_key.as_slice(), encode(summary))?;
            if summary.outcome != crate::model::Outcome::Failed {
                tree.remove(key(META, REBASELINED))?;
            }
            Ok(())
        })?;
        // The ledger names the run only once its record is on disk.
        if let Some(dir) = &self.shared.dir {
            self.shared.db()?.flush()?;
            let _guard = self.shared.ledger.lock().unwrap_or_else(PoisonError::into_inner);
            if let Err(e) = integrity::record_run(dir, &self.name, summary.run_id) {
                tracing::warn!(tenant = %self.name, run = summary.run_id, error = %e, "cannot update the run ledger");
            }
        }
        Ok(())
    }

    fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, StoreError> {
        self.entries(RUNS, b"")
            .rev()
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                decode(&k, &v)
            })
            .collect()
    }

    fn next_generation(&self) -> Result<u64, StoreError> {
        let v = self.tree()?.update_and_fetch(key(META, GENERATION), |old| {
            let n = old
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_be_bytes);
            Some((n + 1).to_be_bytes().to_vec())
        })?;
        Ok(v.and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
            .map_or(1, u64::from_be_bytes))
    }

    fn push_outbox(&self, email: &OutboxEmail) -> Result<u64, StoreError> {
        let id = self.shared.db()?.generate_id()?;
        self.put(MAIL, &outbox_key(id), encode(email))?;
        Ok(id)
    }

    fn outbox(&self) -> Result<Vec<(u64, OutboxEmail)>, StoreError> {
        self.entries(MAIL, OUTBOX)
            .map(|kv| {
                let (k, v) = kv?;
                let id = <[u8; 8]>::try_from(&k[OUTBOX.len()..])
                    .map(u64::from_be_bytes)
                    .unwrap_or_default();
                Ok((id, decode(&k, &v)?))
            })
            .collect()
    }

    fn update_outbox(&self, id: u64, email: &OutboxEmail) -> Result<(), StoreError> {
        self.put(MAIL, &outbox_key(id), encode(email))
    }

    fn remove_outbox(&self, id: u64) -> Result<(), StoreError> {
        self.delete(MAIL, &outbox_key(id))
    }

    fn mail_sent_at(&self, signature: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let k = [SENT, signature.as_bytes()].concat();
        self.get(MAIL, &k)?.map(|v| decode(&k, &v)).transpose()
    }

    fn set_mail_sent_at(&self, signature: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.put(MAIL, &[SENT, signature.as_bytes()].concat(), encode(&at))
    }

    fn failing_reported(&self) -> Result<bool, StoreError> {
        Ok(self.get(MAIL, FAILING)?.is_some())
    }

    fn set_failing_reported(&self, failing: bool) -> Result<(), StoreError> {
        match failing {
            true => self.put(MAIL, FAILING, b"1".as_slice()),
            false => self.delete(MAIL, FAILING),
        }
    }

    fn feed_state(&self) -> Result<Option<FeedState>, StoreError> {
        self.get(META, FEED)?.map(|v| decode(FEED, &v)).transpose()
    }

    fn set_feed_state(&self, state: &FeedState) -> Result<(), StoreError> {
        self.put(META, FEED, encode(state))
    }

    fn health(&self) -> Result<Option<crate::engine::quarantine::Health>, StoreError> {
        self.get(META, HEALTH)?.map(|v| decode(HEALTH, &v)).transpose()
    }

    fn set_health(&self, health: &crate::engine::quarantine::Health) -> Result<(), StoreError> {
        self.put(META, HEALTH, encode(health))
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            self.shared.db()?.flush_async().await?;
            Ok(())
        })
    }

    fn rebaselined(&self) -> Result<bool, StoreError> {
        Ok(self.get(META, REBASELINED)?.is_some())
    }

    fn recover(&self) -> Result<(), StoreError> {
        self.shared.recover()
    }
}

#[cfg(test)]
mod tests;
