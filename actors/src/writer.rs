//! The writer: applies a page's plan to the app through SCIM, records each confirmed change,
//! commits the page, and acks the fetcher.
//!
//! Receives [`WriterMsg::Apply`] from the mapper. Sends `FetcherMsg::PageCommitted` back to
//! the fetcher after each page, and `TenantMsg::RunCompleted` / `TenantMsg::RunFailed` to the
//! tenant supervisor.
//!
//! Invariants: an employee's state is stored only after the app confirmed the change; the
//! page is committed (cursor + counts, one transaction, then flush) only after all of its
//! changes were attempted; creates look up by externalId first, so replaying a change whose
//! confirmation was lost adopts the user instead of duplicating it. Managers that do not
//! exist in the app yet are linked in a second pass after the last page. After the last page
//! (but on a first sync) the app's listing is reconciled with the store (`reconcile`: users
//! deleted in the app are recreated). The app failing ends the run by one rule in every
//! phase, pages and end-of-run alike (`write_phase::drain_writes`).
//!
//! The writer contract ([`RosterWriter`]), kept by this writer and by
//! `file_writer::FileWriter`: take `WriterMsg::Apply` pages in order; record an employee's
//! state only once the target has the change; commit each page (`commit_page`, flush) and
//! ack the fetcher; after the last page, pass the run's deactivations through the roster
//! guard and the brake (absence counts only after a complete read), then end the run with
//! `RunCompleted` or `RunFailed`. The tenant supervisor spawns one or the other per the
//! tenant's target; the mapper does not know which.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tracing::{debug, info, warn};

use crate::brake::{deactivation_brake, roster_guard, BrakeSpec, Held, HeldDeactivation};
use crate::error::{RunFailure, ScimError, StoreError};
use crate::faults::{self, FaultHook, PanicPoint};
use crate::fetcher::FetcherMsg;
use crate::model::{Action, AppUser, Counts, PagePlan, PlanItem, RecordFailure, RunCtx};
use crate::scim::{RemoteUser, ScimClient};
use crate::status::StatusBoard;
use crate::store::{Cursor, EmployeeState, PendingCreate, ProgressStore};
use crate::tenant::TenantMsg;
use crate::write_phase::{drain_writes, FLUSH_EVERY};

/// Messages the writer receives.
#[derive(Debug)]
pub enum WriterMsg {
    /// Apply one page's plan, commit it and ack the fetcher; after the last page, link the
    /// managers still pending and report the run complete.
    Apply(PagePlan),
}

/// The writer contract (see the module doc): an actor that applies `WriterMsg::Apply` pages,
/// commits and acks each, and ends each run with `TenantMsg::RunCompleted` / `RunFailed`.
pub trait RosterWriter: Actor<Msg = WriterMsg> {}

impl RosterWriter for Writer {}

pub struct Writer;

pub struct WriterArgs {
    pub store: Arc<dyn ProgressStore>,
    pub scim: ScimClient,
    pub tenant: ActorRef<TenantMsg>,
    /// Writes in flight at once.
    pub concurrency: usize,
    /// Deactivation brake and shrunken-roster guard.
    pub brake: BrakeSpec,
    /// Where run progress is shown.
    pub status: StatusBoard,
    /// Test-only panic points.
    pub faults: Option<Arc<FaultHook>>,
}

pub struct WriterState {
    args: WriterArgs,
    /// The run whose pages are being applied.
    run_id: Option<u64>,
    /// A run that failed here: its remaining pages are dropped.
    aborted_run: Option<u64>,
    /// Hashes ([`crate::model::id_hash`]) of the employee ids the run's pages held, for
    /// deactivation by absence: 8 bytes each, so a 100,000-employee roster costs ~1 MB here.
    /// A collision (odds ~10⁻⁹ at that size) could only spare a leaver's deactivation by
    /// absence, never cause one.
    seen: HashSet<u64>,
    /// Whether this writer saw the run from its first page: only then is `seen` the whole
    /// roster, and absence a reason to deactivate.
    complete_read: bool,
    /// The app's users, listed once when the run is a first sync (it started with an empty
    /// store; see `Cursor::first_sync`): creates then need no per-user lookup.
    directory: Option<Arc<Directory>>,
}

/// The app's users by externalId and by lower-cased userName.
#[derive(Debug, Default)]
pub struct Directory {
    by_external_id: HashMap<String, RemoteUser>,
    by_user_name: HashMap<String, RemoteUser>,
}

impl Directory {
    fn new(users: Vec<RemoteUser>) -> Self {
        let mut d = Directory::default();
        for u in users {
            d.by_user_name.insert(u.user_name.to_lowercase(), u.clone());
            if let Some(x) = &u.external_id {
                d.by_external_id.insert(x.clone(), u);
            }
        }
        d
    }
}

/// Why one change did not apply.
#[derive(Debug)]
pub enum WriteError {
    /// The app refused or failed; fatal for the run when `is_fatal_for_run`.
    Scim(ScimError),
    /// The record cannot be applied as it is (e.g. userName owned by another employee).
    Record(String),
    /// The store failed: the actor must restart.
    Store(StoreError),
}

impl From<ScimError> for WriteError {
    fn from(e: ScimError) -> Self {
        WriteError::Scim(e)
    }
}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        WriteError::Store(e)
    }
}

impl Actor for Writer {
    type Msg = WriterMsg;
    type State = WriterState;
    type Arguments = WriterArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: WriterArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(WriterState {
            args,
            run_id: None,
            aborted_run: None,
            seen: HashSet::new(),
            complete_read: false,
            directory: None,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: WriterMsg,
        state: &mut WriterState,
    ) -> Result<(), ActorProcessingErr> {
        let WriterMsg::Apply(plan) = msg;
        let run_id = plan.run.run_id;
        if state.aborted_run == Some(run_id) {
            debug!(tenant = %plan.run.tenant, run = run_id, page = plan.index, "dropping page of a failed run");
            return Ok(());
        }
        if state.run_id != Some(run_id) {
            state.run_id = Some(run_id);
            state.seen.clear();
            state.complete_read = plan.index == 1;
            state.directory = None;
            if plan.index == 1 {
                drop_stale_pending(state.args.store.as_ref(), &plan.run)?;
            }
            let first_sync = state
                .args
                .store
                .cursor()?
                .is_some_and(|c| c.run_id == run_id && c.first_sync);
            if first_sync {
                match state.args.scim.list_users().await {
                    Ok(users) => {
                        info!(tenant = %plan.run.tenant, run = run_id, app_users = users.len(), "first sync: app directory listed");
                        state.directory = Some(Arc::new(Directory::new(users)));
                    }
                    // Not fatal: creates then look each user up.
                    Err(e) => {
                        warn!(tenant = %plan.run.tenant, error = %e, "cannot list the app's users; looking up one by one")
                    }
                }
            }
        }
        apply_page(plan, state).await
    }
}

async fn apply_page(mut plan: PagePlan, state: &mut WriterState) -> Result<(), ActorProcessingErr> {
    let store = state.args.store.clone();
    let scim = &state.args.scim;
    let directory = state.directory.clone();
    let directory = directory.as_deref();
    let run_id = plan.run.run_id;
    let drained = drain_writes(
        std::mem::take(&mut plan.items),
        state.args.concurrency,
        store.as_ref(),
        None,
        |item| {
            let store = store.clone();
            async move {
                (
                    item.user.external_id.clone(),
                    apply_item(scim, store.as_ref(), directory, run_id, item).await,
                )
            }
        },
    )
    .await?;

    state.seen.extend(
        std::mem::take(&mut plan.seen)
            .iter()
            .map(|id| crate::model::id_hash(id)),
    );
    let mut counts = Counts {
        unchanged: plan.unchanged,
        read: plan.read,
        out_of_scope: plan.excluded.len() as u64,
        deferred: plan.deferred,
        ..Counts::default()
    };
    let mut failures = std::mem::take(&mut plan.failures);
    if let Some(e) = drained.app_failed {
        return end_run_on_app_failure(state, plan.run, e);
    }
    // The writes were counted as they were recorded (`record_applied`): the page commit
    // adds only what the page read, left unchanged, set aside or deferred.
    let mut written = Counts::default();
    for (employee_id, result) in drained.results {
        match result {
            Ok(applied) => written.add(&applied),
            Err(WriteError::Store(e)) => return Err(e.into()),
            Err(WriteError::Scim(e)) => failures.push(RecordFailure {
                employee_id,
                reason: e.to_string(),
            }),
            Err(WriteError::Record(reason)) => failures.push(RecordFailure { employee_id, reason }),
        }
    }
    counts.failed = failures.len() as u64;

    let Some(cursor) = commit_and_ack(
        &plan,
        &counts,
        &failures,
        store.as_ref(),
        &state.args.status,
        &state.args.faults,
    )
    .await?
    else {
        return Ok(());
    };
    debug!(tenant = %plan.run.tenant, run = run_id, page = plan.index, writes = written.writes(), "page applied");
    if plan.last {
        close_run(plan.run, cursor, state).await?;
    }
    Ok(())
}

/// At the first page of a run: forgets the deactivations and manager links that an earlier
/// run left pending when it stopped (they were planned from an older roster: someone
/// rehired since must not be deactivated). This run plans again whatever still applies.
fn drop_stale_pending(store: &dyn ProgressStore, run: &RunCtx) -> Result<(), StoreError> {
    let deactivations = store.pending_deactivations()?;
    let links = store.pending_links()?;
    for (id, _) in &deactivations {
        store.remove_pending_deactivation(id)?;
    }
    for (id, _) in &links {
        store.remove_pending_link(id)?;
    }
    if !deactivations.is_empty() || !links.is_empty() {
        info!(tenant = %run.tenant, run = run.run_id, deactivations = deactivations.len(), links = links.len(), "dropped what an unfinished run left pending; this run plans it again");
    }
    Ok(())
}

/// The end of a page in the writer contract, shared by both writers: commits the page
/// (cursor, counts, failures, out-of-scope list: one transaction), flushes, shows progress
/// and acks the fetcher. None when the run was closed already (the page is dropped).
pub(crate) async fn commit_and_ack(
    plan: &PagePlan,
    counts: &Counts,
    failures: &[RecordFailure],
    store: &dyn ProgressStore,
    status: &StatusBoard,
    faults: &Option<Arc<FaultHook>>,
) -> Result<Option<Cursor>, StoreError> {
    let cursor = match store.commit_page(plan.run.run_id, plan.index, counts, failures, &plan.excluded) {
        Ok(c) => c,
        Err(StoreError::RunClosed { .. }) => {
            debug!(tenant = %plan.run.tenant, run = plan.run.run_id, page = plan.index, "run already closed; page dropped");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    store.flush().await?;
    debug!(tenant = %plan.run.tenant, run = plan.run.run_id, page = plan.index, writes = counts.writes(), "page committed");
    status.update(&plan.run.tenant, |s| {
        s.progress = Some((cursor.pages_committed, cursor.counts.read))
    });
    faults::check(faults, || PanicPoint::AfterCommit {
        tenant: plan.run.tenant.clone(),
        page: plan.index,
    });
    // The fetcher may be gone (restarting); the restarted one resumes from the cursor.
    let _ = plan.ack.cast(FetcherMsg::PageCommitted {
        run_id: plan.run.run_id,
        index: plan.index,
    });
    Ok(Some(cursor))
}

/// After the last page: links pending managers, checks the roster, adds deactivations by
/// absence, then applies the run's deactivations or holds them when the brake trips.
async fn close_run(run: RunCtx, cursor: Cursor, state: &mut WriterState) -> Result<(), ActorProcessingErr> {
    let store = state.args.store.clone();
    let scim = &state.args.scim;
    let concurrency = state.args.concurrency;
    let directory = state.directory.clone();
    let created = create_deferred(
        scim,
        store.as_ref(),
        directory.as_deref(),
        concurrency,
        &run,
        &state.args.faults,
    )
    .await?;
    let (create_counts, create_failures) = match created {
        Ok(done) => done,
        Err(e) => return end_run_on_app_failure(state, run, e),
    };
    // Users deleted in the app behind hrsync's back: one listing a run (a first sync
    // started with an empty store: nothing to reconcile).
    let (recreate_counts, recreate_failures) = if cursor.first_sync {
        (Counts::default(), Vec::new())
    } else {
        let roster = crate::reconcile::Roster {
            seen: &state.seen,
            complete: state.complete_read,
        };
        match crate::reconcile::recreate_missing(scim, store.as_ref(), concurrency, &run, roster).await? {
            Ok(done) => done,
            Err(e) => return end_run_on_app_failure(state, run, e),
        }
    };
    // One link at a time: each sees the links made before it, so two pending links can
    // never close a cycle together.
    let (link_counts, link_failures) = match link_managers(scim, store.as_ref(), 1, run.run_id).await? {
        Ok(done) => done,
        Err(e) => return end_run_on_app_failure(state, run, e),
    };
    let mut counts = cursor.counts;
    counts.add(&create_counts);
    counts.add(&recreate_counts);
    counts.add(&link_counts);
    let mut failures = cursor.failures;
    failures.extend(create_failures);
    failures.extend(recreate_failures);
    failures.extend(link_failures);

    if let Some(reason) = roster_guard(counts.read, store.last_roster_size()?, &state.args.brake) {
        // Nothing is deactivated on an untrustworthy read; the next run plans them again.
        for (id, _) in store.pending_deactivations()? {
            store.remove_pending_deactivation(&id)?;
        }
        store.flush().await?;
        warn!(tenant = %run.tenant, run = run.run_id, %reason, "roster guard tripped");
        state.args.tenant.cast(TenantMsg::RunFailed {
            run,
            error: RunFailure::UkgData(reason),
        })?;
        return Ok(());
    }
    // Only the ids of the active users, never every employee's whole state: memory at the
    // end of a run must not grow with the roster.
    let active_ids = store.active_employees()?;
    let active = active_ids.len() as u64;
    if state.complete_read {
        for id in active_ids
            .iter()
            .filter(|id| !state.seen.contains(&crate::model::id_hash(id)))
        {
            store.add_pending_deactivation(id, "absent from the UKG roster")?;
        }
        store.set_last_roster_size(counts.read)?;
    }
    drop(active_ids);
    let mut pending: Vec<(String, String, EmployeeState)> = Vec::new();
    for (id, why) in store.pending_deactivations()? {
        if let Some(s) = store.employee(&id)?.filter(|s| s.active) {
            pending.push((id, why, s));
        }
    }
    if state.complete_read {
        let planned: HashSet<&str> = pending.iter().map(|(id, _, _)| id.as_str()).collect();
        crate::approve::mark_back_in_ukg(store.as_ref(), &run, &planned)?;
    }
    if let Some(review) = store.review()?.filter(|r| r.approved) {
        // An approved first-run review: only the deactivations it listed.
        let (keep, defer): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|(id, _, _)| review.deactivations.contains(id));
        for (id, _, _) in &defer {
            store.remove_pending_deactivation(id)?;
        }
        counts.deferred += defer.len() as u64;
        pending = keep;
    }
    if let Some(reason) = deactivation_brake(pending.len() as u64, active, &state.args.brake) {
        let held = Held {
            run_id: run.run_id,
            reason: reason.clone(),
            deactivations: pending
                .iter()
                .map(|(id, why, s)| HeldDeactivation {
                    employee_id: id.clone(),
                    app_id: s.app_id.clone(),
                    reason: why.clone(),
                    hash: Some(s.hash.clone()),
                    back_since: None,
                })
                .collect(),
        };
        store.set_held(Some(&held))?;
        for (id, _) in store.pending_deactivations()? {
            store.remove_pending_deactivation(&id)?;
        }
        counts.held = held.deactivations.len() as u64;
        warn!(tenant = %run.tenant, run = run.run_id, held = counts.held, %reason, "deactivation brake tripped; deactivations held for approval");
    } else {
        let drained = drain_writes(pending, concurrency, store.as_ref(), Some(FLUSH_EVERY), |(id, _, s)| {
            let store = store.clone();
            async move {
                let result = deactivate(scim, store.as_ref(), &id, s, run.run_id).await;
                (id, result)
            }
        })
        .await?;
        if let Some(e) = drained.app_failed {
            return end_run_on_app_failure(state, run, e);
        }
        for (employee_id, result) in drained.results {
            match result {
                Ok(()) => counts.deactivated += 1,
                Err(WriteError::Store(e)) => return Err(e.into()),
                Err(WriteError::Scim(e)) => failures.push(RecordFailure {
                    employee_id,
                    reason: format!("deactivation failed: {e}"),
                }),
                Err(WriteError::Record(reason)) => failures.push(RecordFailure { employee_id, reason }),
            }
        }
    }
    store.flush().await?;
    // The writes of the whole run, across resumes, as committed; then what this end of
    // the run decided without a write.
    let committed = store.cursor()?.filter(|c| c.run_id == run.run_id).map(|c| c.counts);
    let (deferred, held) = (counts.deferred, counts.held);
    let mut counts = committed.unwrap_or(counts);
    counts.deferred = deferred;
    counts.held = held;
    counts.failed = failures.len() as u64;
    info!(tenant = %run.tenant, run = run.run_id, pages = cursor.pages_committed, "roster applied");
    state.args.tenant.cast(TenantMsg::RunCompleted {
        run,
        counts,
        failures,
        excluded: cursor.excluded,
        pages: cursor.pages_committed,
    })?;
    Ok(())
}

/// Ends the run because the app failed ([`drain_writes`] says when): the run is reported
/// failed (auth when the token was refused), and its remaining pages are dropped.
fn end_run_on_app_failure(state: &mut WriterState, run: RunCtx, e: ScimError) -> Result<(), ActorProcessingErr> {
    warn!(tenant = %run.tenant, run = run.run_id, error = %e, "run stopped by the app");
    state.aborted_run = Some(run.run_id);
    state.args.tenant.cast(TenantMsg::RunFailed {
        run,
        error: RunFailure::from(&e),
    })?;
    Ok(())
}

/// Deactivates one user (PATCH active=false) and records it; the pending entry goes either way
/// (a failed one is planned again next run).
pub async fn deactivate(
    scim: &ScimClient,
    store: &dyn ProgressStore,
    employee_id: &str,
    mut state: EmployeeState,
    run_id: u64,
) -> Result<(), WriteError> {
    if let Err(e) = scim.set_active(&state.app_id, false).await {
        store.remove_pending_deactivation(employee_id)?;
        return Err(e.into());
    }
    state.active = false;
    if let Some(u) = state.user.as_mut() {
        u.active = false;
    }
    state.applied_at = Utc::now();
    // The new state before the pending entry goes: a kill between the two (sled may write
    // its log at any moment) leaves a pending deactivation of an inactive user, which is
    // skipped, never a forgotten deactivation.
    let counts = Counts {
        deactivated: 1,
        ..Counts::default()
    };
    store.record_applied(employee_id, &state, run_id, &counts)?;
    store.remove_pending_deactivation(employee_id)?;
    Ok(())
}

/// Applies one planned change outside a run (`hrsync sync --employee`, the change feed) with
/// the same writes and store updates as a run, except that a deactivation is applied at once
/// (the brake weighs a whole run's deactivations; one person's is not held) and no create is
/// deferred. A manager link the app cannot take yet is left pending, as in a run: the caller
/// links it with [`link_one`].
pub async fn apply_one(scim: &ScimClient, store: &dyn ProgressStore, item: PlanItem) -> Result<Counts, WriteError> {
    if let Action::Deactivate { .. } = &item.action {
        let Some(prior) = item.prior else {
            return Ok(Counts::default());
        };
        deactivate(scim, store, &item.user.external_id, prior, 0).await?;
        return Ok(Counts {
            deactivated: 1,
            ..Counts::default()
        });
    }
    apply_item(scim, store, None, 0, item).await
}

/// Applies one planned change and records it once the app confirmed it.
async fn apply_item(
    scim: &ScimClient,
    store: &dyn ProgressStore,
    directory: Option<&Directory>,
    run_id: u64,
    item: PlanItem,
) -> Result<Counts, WriteError> {
    let PlanItem {
        user,
        hash,
        action,
        prior,
    } = item;
    let manager_app = resolve_manager(store, &user)?;
    let mut counts = Counts::default();
    // The manager as linked in the app after this write.
    let linked = if manager_app.is_some() {
        user.manager_external_id.clone()
    } else {
        None
    };
    let app_id = match action {
        // A leaver after a rebaseline: never created; an active app user of theirs is
        // adopted and deactivated at the end of the run, through the brake.
        Action::Create if !user.active => {
            let existing = match directory {
                Some(d) => d.by_external_id.get(&user.external_id).cloned(),
                None => scim.find_by_external_id(&user.external_id).await?,
            };
            if let Some(existing) = existing.filter(|u| u.active) {
                let mut state = new_state(&existing.id, "", &user, None);
                state.active = true;
                store.put_employee(&user.external_id, &state)?;
                store.add_pending_deactivation(&user.external_id, "terminated in UKG")?;
            }
            return Ok(counts);
        }
        // On a first sync, a user whose manager comes later is created at the end of the
        // run, manager included: one POST instead of a POST and a PATCH.
        Action::Create if directory.is_some() && manager_app.is_none() && user.manager_external_id.is_some() => {
            let create = PendingCreate {
                user: user.clone(),
                hash,
                run_id,
            };
            store.add_pending_create(&user.external_id, &create)?;
            return Ok(counts);
        }
        Action::Create => {
            let (id, adopted) = create_or_adopt(scim, &user, manager_app.as_deref(), directory).await?;
            if adopted {
                counts.adopted += 1
            } else {
                counts.created += 1
            }
            id
        }
        Action::Update { app_id } | Action::Reactivate { app_id } => {
            let reactivating = prior.as_ref().is_some_and(|p| !p.active);
            let id = match scim.replace(&app_id, &user, manager_app.as_deref()).await {
                Ok(()) => app_id,
                // Deleted in the app behind our back: create it again.
                Err(ScimError::Status { status: 404, .. }) => {
                    create_or_adopt(scim, &user, manager_app.as_deref(), None).await?.0
                }
                Err(e) => return Err(e.into()),
            };
            if reactivating {
                counts.reactivated += 1
            } else {
                counts.updated += 1
            }
            id
        }
        Action::Deactivate { reason, .. } => {
            // Counted and applied after the last page, when the brake can see them all.
            store.add_pending_deactivation(&user.external_id, &reason)?;
            return Ok(counts);
        }
        Action::LinkManager { app_id } => {
            match (&manager_app, &user.manager_external_id) {
                (Some(m), _) => scim.set_manager(&app_id, m).await?,
                (None, None) => scim.clear_manager(&app_id).await?,
                // The manager is not in the app yet: second pass.
                (None, Some(m)) => {
                    store.add_pending_link(&user.external_id, m)?;
                    return Ok(counts);
                }
            }
            counts.managers_linked += 1;
            app_id
        }
    };
    store.record_applied(
        &user.external_id,
        &new_state(&app_id, &hash, &user, linked),
        run_id,
        &counts,
    )?;
    if let (true, Some(m), None) = (user.active, &user.manager_external_id, &manager_app) {
        store.add_pending_link(&user.external_id, m)?;
    }
    Ok(counts)
}

pub(crate) fn new_state(app_id: &str, hash: &str, user: &AppUser, manager: Option<String>) -> EmployeeState {
    EmployeeState {
        app_id: app_id.to_string(),
        hash: hash.to_string(),
        active: user.active,
        manager,
        user: Some(user.clone()),
        applied_at: Utc::now(),
    }
}

/// The app id of the user's manager, when the manager has been written to the app and the
/// link would not close a cycle (those are left to the second pass, which reports them).
pub(crate) fn resolve_manager(store: &dyn ProgressStore, user: &AppUser) -> Result<Option<String>, StoreError> {
    let Some(m) = &user.manager_external_id else {
        return Ok(None);
    };
    if cycle_through(store, &user.external_id, m)?.is_some() {
        return Ok(None);
    }
    Ok(store.employee(m)?.map(|s| s.app_id))
}

/// The chain of managers from `manager` that leads back to `employee`, if linking them would
/// make a cycle in the app (walking the links hrsync applied).
fn cycle_through(store: &dyn ProgressStore, employee: &str, manager: &str) -> Result<Option<Vec<String>>, StoreError> {
    let mut chain = vec![employee.to_string(), manager.to_string()];
    let mut current = manager.to_string();
    for _ in 0..1000 {
        if current == employee {
            return Ok(Some(chain));
        }
        match store.employee(&current)?.and_then(|s| s.manager) {
            Some(next) => {
                chain.push(next.clone());
                current = next;
            }
            None => return Ok(None),
        }
    }
    Ok(None)
}

/// Adopts the app user that already carries this externalId (or this userName and no
/// other externalId), or creates one. Returns the app id and whether it was adopted.
/// With a `directory` (first sync) the look-ups are answered from it; a 409 on create still
/// falls back to asking the app.
pub(crate) async fn create_or_adopt(
    scim: &ScimClient,
    user: &AppUser,
    manager: Option<&str>,
    directory: Option<&Directory>,
) -> Result<(String, bool), WriteError> {
    let by_external_id = match directory {
        Some(d) => d.by_external_id.get(&user.external_id).cloned(),
        None => scim.find_by_external_id(&user.external_id).await?,
    };
    if let Some(existing) = by_external_id {
        scim.replace(&existing.id, user, manager).await?;
        return Ok((existing.id, true));
    }
    if let Some(existing) = directory.and_then(|d| d.by_user_name.get(&user.user_name.to_lowercase())) {
        return adopt_by_user_name(scim, user, manager, Some(existing.clone())).await;
    }
    match scim.create(user, manager).await {
        Ok(id) => Ok((id, false)),
        Err(ScimError::Conflict) => {
            let existing = scim.find_by_user_name(&user.user_name).await?;
            adopt_by_user_name(scim, user, manager, existing).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Adopts the app user holding this userName unless it belongs to another employee.
async fn adopt_by_user_name(
    scim: &ScimClient,
    user: &AppUser,
    manager: Option<&str>,
    existing: Option<RemoteUser>,
) -> Result<(String, bool), WriteError> {
    match existing {
            Some(existing) if existing.external_id.as_deref().is_none_or(|x| x == user.external_id) => {
                scim.replace(&existing.id, user, manager).await?;
                Ok((existing.id, true))
            }
            Some(existing) => Err(WriteError::Record(format!(
                "userName {} already belongs to app user {} of employee {}; not overwritten: correct the work email in UKG or in the app",
                user.user_name,
                existing.id,
                existing.external_id.unwrap_or_default()
            ))),
            None => Err(WriteError::Record(format!(
                "the app reported userName {} as taken (409) but no user with it can be found",
                user.user_name
            ))),
        }
}

/// Creates the users deferred until their manager existed, managers first (in waves: each
/// wave holds the users whose manager is no longer waiting). Users left in a cycle of new
/// managers are created without one; the link pass then reports the cycle.
async fn create_deferred(
    scim: &ScimClient,
    store: &dyn ProgressStore,
    directory: Option<&Directory>,
    concurrency: usize,
    run: &RunCtx,
    faults: &Option<Arc<FaultHook>>,
) -> Result<Result<(Counts, Vec<RecordFailure>), ScimError>, ActorProcessingErr> {
    let run_id = run.run_id;
    let mut counts = Counts::default();
    let mut failures = Vec::new();
    loop {
        // Ids and managers only: the users stay in the store until their wave (a first sync
        // may defer half the roster).
        let mut waiting: HashMap<String, Option<String>> = HashMap::new();
        for (id, deferred_by, manager) in store.pending_create_heads()? {
            if deferred_by == run_id {
                waiting.insert(id, manager);
            } else {
                // Deferred by a run that did not finish: this run planned the employee afresh.
                store.remove_pending_create(&id)?;
            }
        }
        if waiting.is_empty() {
            break;
        }
        let mut ready: Vec<String> = waiting
            .iter()
            .filter(|(_, m)| m.as_ref().is_none_or(|m| !waiting.contains_key(m)))
            .map(|(id, _)| id.clone())
            .collect();
        let stuck = ready.is_empty();
        if stuck {
            ready = waiting.into_keys().collect();
        }
        ready.sort();
        let drained = drain_writes(ready, concurrency, store, Some(FLUSH_EVERY), |id| async move {
            let result = match store.pending_create(&id) {
                Ok(Some(p)) => {
                    let recorded = || {
                        faults::check(faults, || PanicPoint::DeferredCreateRecorded {
                            tenant: run.tenant.clone(),
                            employee_id: id.clone(),
                        })
                    };
                    create_one_deferred(scim, store, directory, &id, p, stuck, run_id, recorded).await
                }
                Ok(None) => Ok(Counts::default()),
                Err(e) => Err(WriteError::Store(e)),
            };
            (id, result)
        })
        .await?;
        if let Some(e) = drained.app_failed {
            return Ok(Err(e));
        }
        for (employee_id, result) in drained.results {
            match result {
                Ok(c) => counts.add(&c),
                Err(WriteError::Store(e)) => return Err(e.into()),
                Err(WriteError::Scim(e)) => failures.push(RecordFailure {
                    employee_id,
                    reason: e.to_string(),
                }),
                Err(WriteError::Record(reason)) => failures.push(RecordFailure { employee_id, reason }),
            }
        }
        if stuck {
            break;
        }
    }
    Ok(Ok((counts, failures)))
}

/// Creates one deferred user (with its manager when it now exists) and records it; the
/// pending entry goes either way (a failed one is planned again next run).
#[allow(clippy::too_many_arguments)]
async fn create_one_deferred(
    scim: &ScimClient,
    store: &dyn ProgressStore,
    directory: Option<&Directory>,
    employee_id: &str,
    pending: PendingCreate,
    without_manager: bool,
    run_id: u64,
    recorded: impl FnOnce(),
) -> Result<Counts, WriteError> {
    let mut counts = Counts::default();
    if store.employee(employee_id)?.is_some() {
        store.remove_pending_create(employee_id)?;
        return Ok(counts);
    }
    let user = pending.user;
    let manager_app = if without_manager {
        None
    } else {
        resolve_manager(store, &user)?
    };
    let (app_id, adopted) = match create_or_adopt(scim, &user, manager_app.as_deref(), directory).await {
        Ok(created) => created,
        Err(e) => {
            store.remove_pending_create(employee_id)?;
            return Err(e);
        }
    };
    if adopted {
        counts.adopted += 1
    } else {
        counts.created += 1
    }
    let linked = manager_app
        .is_some()
        .then(|| user.manager_external_id.clone())
        .flatten();
    // The user's state (and its pending link) before the pending create goes: sled may write
    // its log between any two of these, and a kill after a write must never leave the
    // pending create gone with the user unrecorded (its reports would then be linked to
    // nobody). A pending create of a recorded user is dropped by the next attempt.
    store.record_applied(
        employee_id,
        &new_state(&app_id, &pending.hash, &user, linked),
        run_id,
        &counts,
    )?;
    if let (None, Some(m)) = (&manager_app, &user.manager_external_id) {
        store.add_pending_link(employee_id, m)?;
    }
    recorded();
    store.remove_pending_create(employee_id)?;
    Ok(counts)
}

/// Second pass: links the managers that were not in the app when their reports were
/// written (kept in the store, so a crash does not lose them).
async fn link_managers(
    scim: &ScimClient,
    store: &dyn ProgressStore,
    concurrency: usize,
    run_id: u64,
) -> Result<Result<(Counts, Vec<RecordFailure>), ScimError>, ActorProcessingErr> {
    let pending = store.pending_links()?;
    let drained = drain_writes(
        pending,
        concurrency,
        store,
        Some(FLUSH_EVERY),
        |(employee_id, manager_id)| async move {
            let result = link_one(&employee_id, &manager_id, scim, store, run_id).await;
            (employee_id, result)
        },
    )
    .await?;
    if let Some(e) = drained.app_failed {
        return Ok(Err(e));
    }
    let mut counts = Counts::default();
    let mut failures = Vec::new();
    for (employee_id, result) in drained.results {
        match result {
            Ok(true) => counts.managers_linked += 1,
            Ok(false) => {}
            Err(WriteError::Store(e)) => return Err(e.into()),
            Err(WriteError::Scim(e)) => failures.push(RecordFailure {
                employee_id,
                reason: format!("manager link failed: {e}"),
            }),
            Err(WriteError::Record(reason)) => failures.push(RecordFailure { employee_id, reason }),
        }
    }
    Ok(Ok((counts, failures)))
}

/// Links one employee to its manager; Ok(false) when there is nothing to do any more.
/// The pending link is dropped either way: a link still missing is planned again next run.
pub async fn link_one(
    employee_id: &str,
    manager_id: &str,
    scim: &ScimClient,
    store: &dyn ProgressStore,
    run_id: u64,
) -> Result<bool, WriteError> {
    if let Some(chain) = cycle_through(store, employee_id, manager_id)? {
        store.remove_pending_link(employee_id)?;
        return Err(WriteError::Record(format!(
            "manager link skipped: it would make a cycle ({}); correct the supervisors in UKG",
            chain.join(" → ")
        )));
    }
    let state = store.employee(employee_id)?;
    let manager = store.employee(manager_id)?;
    let result = match (state, manager) {
        (Some(state), _) if state.manager.as_deref() == Some(manager_id) => Ok(false),
        (Some(mut state), Some(manager)) => match scim.set_manager(&state.app_id, &manager.app_id).await {
            Ok(()) => {
                state.manager = Some(manager_id.to_string());
                state.applied_at = Utc::now();
                let counts = Counts {
                    managers_linked: 1,
                    ..Counts::default()
                };
                store.record_applied(employee_id, &state, run_id, &counts)?;
                Ok(true)
            }
            Err(e) => Err(WriteError::Scim(e)),
        },
        (Some(_), None) => Err(WriteError::Record(format!(
            "manager {manager_id} is not in the app (not in the roster, or set aside); manager link skipped"
        ))),
        (None, _) => Ok(false),
    };
    store.remove_pending_link(employee_id)?;
    result
}
