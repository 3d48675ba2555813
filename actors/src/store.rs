//! Durable progress, in sled: per tenant, what was applied to the app for each employee,
//! the cursor of the current run, and the summaries of past runs.
//!
//! One `sled::Db` per process ([`Store`]); per tenant four trees: `{tenant}/employees`
//! (employee id → [`EmployeeState`]), `{tenant}/meta` (cursor, generation),
//! `{tenant}/runs` (run id → [`RunSummary`]) and `{tenant}/links` (employee id → manager's
//! employee id, for manager links waiting for the manager to exist in the app) and
//! `{tenant}/deactivations` (employee id → reason, applied at the end of a run if the
//! brake allows) and `{tenant}/staged` (employee id → the state a file-writer run will apply
//! once its file is delivered); the change feed's budget and progress are one value in
//! `meta`. Values are JSON. The actors see a [`ProgressStore`] trait object, so another
//! backend (e.g. PostgreSQL with leases) can replace sled when tenants outgrow one machine.
//!
//! Invariants: an employee's state is written only after the app confirmed the change; the
//! cursor only moves forward, one page at a time, and a commit that would move it backwards
//! or overlap committed work is refused ([`StoreError::CursorRegression`]).

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sled::transaction::ConflictableTransactionError;

use crate::brake::Held;
use crate::change_feed::FeedState;
use crate::error::StoreError;
use crate::model::{AppUser, Counts, RecordFailure, RunSummary, MAX_FAILURES_KEPT};

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
    /// Deferred creates, by employee id.
    fn pending_creates(&self) -> Result<Vec<(String, PendingCreate)>, StoreError>;
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
    /// Marks page `page` of run `run_id` applied, adding its counts, failures and
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
    fn review(&self) -> Result<Option<crate::review::Review>, StoreError>;
    fn set_review(&self, review: Option<&crate::review::Review>) -> Result<(), StoreError>;
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
    /// Makes everything written so far durable.
    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>>;
}

/// The process's one database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
}

impl Store {
    /// Opens (or creates) the database in `dir`. Fails if another process holds it.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Ok(Store {
            db: sled::Config::new().path(dir).open()?,
        })
    }

    /// A temporary database (deleted on drop), for tests and `hrsync demo`.
    pub fn temporary() -> Result<Store, StoreError> {
        Ok(Store {
            db: sled::Config::new().temporary(true).open()?,
        })
    }

    /// The progress store of one tenant.
    pub fn tenant(&self, tenant: &str) -> Result<Arc<dyn ProgressStore>, StoreError> {
        Ok(Arc::new(SledTenant {
            db: self.db.clone(),
            employees: self.db.open_tree(format!("{tenant}/employees"))?,
            meta: self.db.open_tree(format!("{tenant}/meta"))?,
            runs: self.db.open_tree(format!("{tenant}/runs"))?,
            links: self.db.open_tree(format!("{tenant}/links"))?,
            deactivations: self.db.open_tree(format!("{tenant}/deactivations"))?,
            mail: self.db.open_tree(format!("{tenant}/mail"))?,
            creates: self.db.open_tree(format!("{tenant}/creates"))?,
            staged: self.db.open_tree(format!("{tenant}/staged"))?,
        }))
    }

    /// Flushes everything to disk.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }
}

struct SledTenant {
    db: sled::Db,
    employees: sled::Tree,
    meta: sled::Tree,
    runs: sled::Tree,
    links: sled::Tree,
    deactivations: sled::Tree,
    mail: sled::Tree,
    creates: sled::Tree,
    staged: sled::Tree,
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

/// Reads a tree of string → JSON value.
fn decoded_pairs<T: DeserializeOwned>(tree: &sled::Tree) -> Result<Vec<(String, T)>, StoreError> {
    tree.iter()
        .map(|kv| {
            let (k, v) = kv?;
            Ok((String::from_utf8_lossy(&k).into_owned(), decode(&k, &v)?))
        })
        .collect()
}

/// Reads a tree of string → string.
fn string_pairs(tree: &sled::Tree) -> Result<Vec<(String, String)>, StoreError> {
    tree.iter()
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
        self.employees
            .get(employee_id.as_bytes())?
            .map(|v| decode(employee_id.as_bytes(), &v))
            .transpose()
    }

    fn put_employee(&self, employee_id: &str, state: &EmployeeState) -> Result<(), StoreError> {
        self.employees.insert(employee_id.as_bytes(), encode(state))?;
        Ok(())
    }

    fn add_pending_link(&self, employee_id: &str, manager_id: &str) -> Result<(), StoreError> {
        self.links.insert(employee_id.as_bytes(), manager_id.as_bytes())?;
        Ok(())
    }

    fn pending_links(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.links
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                Ok((
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                ))
            })
            .collect()
    }

    fn remove_pending_link(&self, employee_id: &str) -> Result<(), StoreError> {
        self.links.remove(employee_id.as_bytes())?;
        Ok(())
    }

    fn add_pending_create(&self, employee_id: &str, create: &PendingCreate) -> Result<(), StoreError> {
        self.creates.insert(employee_id.as_bytes(), encode(create))?;
        Ok(())
    }

    fn pending_creates(&self) -> Result<Vec<(String, PendingCreate)>, StoreError> {
        decoded_pairs(&self.creates)
    }

    fn remove_pending_create(&self, employee_id: &str) -> Result<(), StoreError> {
        self.creates.remove(employee_id.as_bytes())?;
        Ok(())
    }

    fn add_pending_deactivation(&self, employee_id: &str, reason: &str) -> Result<(), StoreError> {
        self.deactivations.insert(employee_id.as_bytes(), reason.as_bytes())?;
        Ok(())
    }

    fn pending_deactivations(&self) -> Result<Vec<(String, String)>, StoreError> {
        string_pairs(&self.deactivations)
    }

    fn remove_pending_deactivation(&self, employee_id: &str) -> Result<(), StoreError> {
        self.deactivations.remove(employee_id.as_bytes())?;
        Ok(())
    }

    fn employees(&self) -> Result<Vec<(String, EmployeeState)>, StoreError> {
        decoded_pairs(&self.employees)
    }

    fn last_roster_size(&self) -> Result<Option<u64>, StoreError> {
        self.meta.get(ROSTER_SIZE)?.map(|v| decode(ROSTER_SIZE, &v)).transpose()
    }

    fn set_last_roster_size(&self, n: u64) -> Result<(), StoreError> {
        self.meta.insert(ROSTER_SIZE, encode(&n))?;
        Ok(())
    }

    fn begin_staging(&self, run_id: u64) -> Result<(), StoreError> {
        let current: Option<u64> = self.meta.get(STAGED_RUN)?.map(|v| decode(STAGED_RUN, &v)).transpose()?;
        if current != Some(run_id) {
            // Cleared before the run id is recorded: a crash in between clears again.
            self.staged.clear()?;
            self.deactivations.clear()?;
            self.meta.insert(STAGED_RUN, encode(&run_id))?;
        }
        Ok(())
    }

    fn stage_employee(&self, employee_id: &str, state: &EmployeeState) -> Result<(), StoreError> {
        self.staged.insert(employee_id.as_bytes(), encode(state))?;
        Ok(())
    }

    fn staged(&self) -> Result<Vec<(String, EmployeeState)>, StoreError> {
        decoded_pairs(&self.staged)
    }

    fn commit_staged(&self, commit: &StagedCommit) -> Result<(), StoreError> {
        use sled::Transactional;
        (&self.employees, &self.staged, &self.deactivations, &self.meta).transaction(
            |(employees, staged, deactivations, meta)| {
                for (id, state) in &commit.applied {
                    employees.insert(id.as_bytes(), encode(state))?;
                }
                for id in &commit.staged {
                    staged.remove(id.as_bytes())?;
                }
                for id in &commit.deactivations {
                    deactivations.remove(id.as_bytes())?;
                }
                if let Some(h) = &commit.held {
                    meta.insert(HELD, encode(h))?;
                }
                Ok::<(), ConflictableTransactionError<StoreError>>(())
            },
        )?;
        Ok(())
    }

    fn held(&self) -> Result<Option<Held>, StoreError> {
        self.meta.get(HELD)?.map(|v| decode(HELD, &v)).transpose()
    }

    fn set_held(&self, held: Option<&Held>) -> Result<(), StoreError> {
        match held {
            Some(h) => self.meta.insert(HELD, encode(h))?,
            None => self.meta.remove(HELD)?,
        };
        Ok(())
    }

    fn review(&self) -> Result<Option<crate::review::Review>, StoreError> {
        self.meta.get(REVIEW)?.map(|v| decode(REVIEW, &v)).transpose()
    }

    fn set_review(&self, review: Option<&crate::review::Review>) -> Result<(), StoreError> {
        match review {
            Some(r) => self.meta.insert(REVIEW, encode(r))?,
            None => self.meta.remove(REVIEW)?,
        };
        Ok(())
    }

    fn applied_fingerprint(&self) -> Result<Option<String>, StoreError> {
        self.meta.get(FINGERPRINT)?.map(|v| decode(FINGERPRINT, &v)).transpose()
    }

    fn set_applied_fingerprint(&self, fingerprint: &str) -> Result<(), StoreError> {
        self.meta.insert(FINGERPRINT, encode(&fingerprint))?;
        Ok(())
    }

    fn employee_count(&self) -> usize {
        self.employees.len()
    }

    fn cursor(&self) -> Result<Option<Cursor>, StoreError> {
        self.meta.get(CURSOR)?.map(|v| decode(CURSOR, &v)).transpose()
    }

    fn begin_run(&self, now: DateTime<Utc>) -> Result<Cursor, StoreError> {
        let first_sync = self.employees.is_empty();
        let cursor = self.meta.transaction(|meta| {
            let current: Option<Cursor> = match meta.get(CURSOR)? {
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
            meta.insert(CURSOR, encode(&next))?;
            Ok(next)
        })?;
        Ok(cursor)
    }

    fn commit_page(
        &self,
        run_id: u64,
        page: u32,
        counts: &Counts,
        failures: &[RecordFailure],
        excluded: &[RecordFailure],
    ) -> Result<Cursor, StoreError> {
        let cursor = self.meta.transaction(|meta| {
            let current: Cursor = match meta.get(CURSOR)? {
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
            meta.insert(CURSOR, encode(&next))?;
            Ok(next)
        })?;
        Ok(cursor)
    }

    fn finish_run(&self, summary: &RunSummary) -> Result<(), StoreError> {
        use sled::Transactional;
        (&self.meta, &self.runs).transaction(|(meta, runs)| {
            if let Some(v) = meta.get(CURSOR)? {
                let mut c: Cursor = decode(CURSOR, &v).map_err(ConflictableTransactionError::Abort)?;
                if c.run_id == summary.run_id {
                    c.complete = true;
                    meta.insert(CURSOR, encode(&c))?;
                }
            }
            runs.insert(&summary.run_id.to_be_bytes(), encode(summary))?;
            Ok(())
        })?;
        Ok(())
    }

    fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, StoreError> {
        self.runs
            .iter()
            .rev()
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                decode(&k, &v)
            })
            .collect()
    }

    fn next_generation(&self) -> Result<u64, StoreError> {
        let v = self.meta.update_and_fetch(GENERATION, |old| {
            let n = old
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_be_bytes);
            Some((n + 1).to_be_bytes().to_vec())
        })?;
        Ok(v.and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
            .map_or(1, u64::from_be_bytes))
    }

    fn push_outbox(&self, email: &OutboxEmail) -> Result<u64, StoreError> {
        let id = self.db.generate_id()?;
        self.mail.insert(outbox_key(id), encode(email))?;
        Ok(id)
    }

    fn outbox(&self) -> Result<Vec<(u64, OutboxEmail)>, StoreError> {
        self.mail
            .scan_prefix(OUTBOX)
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
        self.mail.insert(outbox_key(id), encode(email))?;
        Ok(())
    }

    fn remove_outbox(&self, id: u64) -> Result<(), StoreError> {
        self.mail.remove(outbox_key(id))?;
        Ok(())
    }

    fn mail_sent_at(&self, signature: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let key = [SENT, signature.as_bytes()].concat();
        self.mail.get(&key)?.map(|v| decode(&key, &v)).transpose()
    }

    fn set_mail_sent_at(&self, signature: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.mail.insert([SENT, signature.as_bytes()].concat(), encode(&at))?;
        Ok(())
    }

    fn failing_reported(&self) -> Result<bool, StoreError> {
        Ok(self.mail.get(FAILING)?.is_some())
    }

    fn set_failing_reported(&self, failing: bool) -> Result<(), StoreError> {
        match failing {
            true => self.mail.insert(FAILING, b"1".as_slice())?,
            false => self.mail.remove(FAILING)?,
        };
        Ok(())
    }

    fn feed_state(&self) -> Result<Option<FeedState>, StoreError> {
        self.meta.get(FEED)?.map(|v| decode(FEED, &v)).transpose()
    }

    fn set_feed_state(&self, state: &FeedState) -> Result<(), StoreError> {
        self.meta.insert(FEED, encode(state))?;
        Ok(())
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            self.db.flush_async().await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(run_id: u64) -> RunSummary {
        RunSummary {
            tenant: "t".into(),
            run_id,
            started_at: Utc::now(),
            finished_at: Utc::now(),
            outcome: crate::model::Outcome::Ok,
            counts: Counts::default(),
            failures: vec![],
            excluded: Vec::new(),
            review: None,
            error: None,
            pages: 1,
            traffic: Default::default(),
        }
    }

    #[test]
    fn cursor_moves_forward_one_page_at_a_time() {
        let store = Store::temporary().unwrap();
        let t = store.tenant("t").unwrap();
        let c = t.begin_run(Utc::now()).unwrap();
        assert_eq!((c.run_id, c.pages_committed), (1, 0));
        let counts = Counts {
            created: 3,
            ..Counts::default()
        };
        t.commit_page(1, 1, &counts, &[], &[]).unwrap();
        // Replaying page 1, skipping to page 3, or committing another run: refused.
        assert!(matches!(
            t.commit_page(1, 1, &counts, &[], &[]),
            Err(StoreError::CursorRegression { .. })
        ));
        assert!(matches!(
            t.commit_page(1, 3, &counts, &[], &[]),
            Err(StoreError::CursorRegression { .. })
        ));
        assert!(matches!(
            t.commit_page(2, 1, &counts, &[], &[]),
            Err(StoreError::CursorRegression { .. })
        ));
        let c = t.commit_page(1, 2, &counts, &[], &[]).unwrap();
        assert_eq!(c.counts.created, 6);
        // An incomplete run is resumed, not restarted.
        assert_eq!(t.begin_run(Utc::now()).unwrap().pages_committed, 2);
        t.finish_run(&summary(1)).unwrap();
        // A stale writer's page of the closed run is dropped, not an error.
        assert!(matches!(
            t.commit_page(1, 3, &counts, &[], &[]),
            Err(StoreError::RunClosed { .. })
        ));
        let c = t.begin_run(Utc::now()).unwrap();
        assert_eq!((c.run_id, c.pages_committed), (2, 0));
        assert_eq!(t.runs(10).unwrap()[0].run_id, 1);
    }

    #[test]
    fn staging_belongs_to_one_run_and_commits_at_once() {
        let store = Store::temporary().unwrap();
        let t = store.tenant("t").unwrap();
        let s = |app: &str| EmployeeState {
            app_id: app.into(),
            hash: "h".into(),
            active: true,
            manager: None,
            user: None,
            applied_at: Utc::now(),
        };
        t.begin_staging(1).unwrap();
        t.stage_employee("E1", &s("E1")).unwrap();
        t.add_pending_deactivation("E9", "terminated in UKG").unwrap();
        // The same run resumed keeps its staging; nothing is applied yet.
        t.begin_staging(1).unwrap();
        assert_eq!(t.staged().unwrap().len(), 1);
        assert_eq!(t.employee("E1").unwrap(), None);
        // Another run drops what an unfinished run staged.
        t.begin_staging(2).unwrap();
        assert!(t.staged().unwrap().is_empty());
        assert!(t.pending_deactivations().unwrap().is_empty());

        t.stage_employee("E2", &s("E2")).unwrap();
        t.add_pending_deactivation("E3", "absent from the UKG roster").unwrap();
        let held = Held {
            run_id: 2,
            reason: "r".into(),
            deactivations: vec![],
        };
        let e2 = s("E2");
        t.commit_staged(&StagedCommit {
            applied: vec![("E2".into(), e2.clone())],
            staged: vec!["E2".into()],
            deactivations: vec!["E3".into()],
            held: Some(held.clone()),
        })
        .unwrap();
        assert_eq!(t.employee("E2").unwrap(), Some(e2));
        assert!(t.staged().unwrap().is_empty());
        assert!(t.pending_deactivations().unwrap().is_empty());
        assert_eq!(t.held().unwrap(), Some(held));
    }

    #[test]
    fn tenants_are_separate_and_generations_grow() {
        let store = Store::temporary().unwrap();
        let a = store.tenant("a").unwrap();
        let b = store.tenant("b").unwrap();
        let s = EmployeeState {
            app_id: "x".into(),
            hash: "h".into(),
            active: true,
            manager: None,
            user: None,
            applied_at: Utc::now(),
        };
        a.put_employee("E1", &s).unwrap();
        assert_eq!(a.employee("E1").unwrap(), Some(s));
        assert_eq!(b.employee("E1").unwrap(), None);
        assert_eq!(a.next_generation().unwrap(), 1);
        assert_eq!(a.next_generation().unwrap(), 2);
        assert_eq!(b.next_generation().unwrap(), 1);
    }
}
