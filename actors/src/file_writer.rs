//! The file writer: the writer for apps that take users as a bulk file (Betterworks-style
//! user CSV or JSON lines) instead of SCIM. One actor per tenant, one file per run.
//!
//! Receives `WriterMsg::Apply` from the mapper — the writer contract (`writer::RosterWriter`):
//! pages in order, each committed (`commit_page`, flush) and acked to the fetcher with
//! `FetcherMsg::PageCommitted`; after the last page the run ends with
//! `TenantMsg::RunCompleted` or `TenantMsg::RunFailed`.
//!
//! Progress (invariant 2, for a file): a page's changes are *staged* (`ProgressStore::
//! stage_employee`, a per-run tree) before its cursor is committed, so a restart resumes
//! after the committed page as usual. After the last page the writer builds the run's rows —
//! the applied states overlaid with the staged ones — runs the roster guard and the
//! deactivation brake as the SCIM writer does (terminations and, after a complete read,
//! absences; held deactivations stay active rows without `deactivation_date`), renders the
//! file (`user_file`), delivers it (`delivery`: drop folder and/or SFTP) and only then, in
//! one transaction, makes the staged states the applied ones (`commit_staged`) and flushes.
//! A crash or a failed delivery before that commit leaves the applied state as it was: the
//! resumed run writes the same file again (same name, same rows), and a later run starts
//! from the last delivered state (the staging of an unfinished run is dropped when the next
//! run starts).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tracing::{info, warn};

use crate::brake::{deactivation_brake, roster_guard, BrakeSpec, Held, HeldDeactivation};
use crate::delivery;
use crate::error::{RunFailure, StoreError};
use crate::faults::{self, FaultHook, PanicPoint};
use crate::model::{Action, Counts, PagePlan, PlanItem, RecordFailure, RunCtx};
use crate::spec::FileSpec;
use crate::status::StatusBoard;
use crate::store::{Cursor, EmployeeState, ProgressStore, StagedCommit};
use crate::tenant::TenantMsg;
use crate::user_file;
use crate::writer::{commit_and_ack, RosterWriter, WriterMsg};

pub struct FileWriter;

impl RosterWriter for FileWriter {}

pub struct FileWriterArgs {
    pub store: Arc<dyn ProgressStore>,
    /// Format, columns and delivery of the file.
    pub spec: FileSpec,
    pub tenant: ActorRef<TenantMsg>,
    /// The tenant's time zone: an employee found absent is deactivated as of the run's
    /// start day there.
    pub timezone: chrono_tz::Tz,
    /// Deactivation brake and shrunken-roster guard.
    pub brake: BrakeSpec,
    /// Where run progress is shown.
    pub status: StatusBoard,
    /// Test-only panic points.
    pub faults: Option<Arc<FaultHook>>,
}

pub struct FileWriterState {
    args: FileWriterArgs,
    /// The run whose pages are being staged.
    run_id: Option<u64>,
    /// Employee ids read in this run (deactivation by absence).
    seen: HashSet<String>,
    /// Whether this writer saw the run from its first page (only then is absence a reason
    /// to deactivate).
    complete_read: bool,
}

impl Actor for FileWriter {
    type Msg = WriterMsg;
    type State = FileWriterState;
    type Arguments = FileWriterArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: FileWriterArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(FileWriterState {
            args,
            run_id: None,
            seen: HashSet::new(),
            complete_read: false,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: WriterMsg,
        state: &mut FileWriterState,
    ) -> Result<(), ActorProcessingErr> {
        let WriterMsg::Apply(plan) = msg;
        let run_id = plan.run.run_id;
        if state.run_id != Some(run_id) {
            state.run_id = Some(run_id);
            state.seen.clear();
            state.complete_read = plan.index == 1;
            state.args.store.begin_staging(run_id)?;
        }
        apply_page(plan, state).await
    }
}

/// Stages a page's changes, commits the page and acks the fetcher; closes the run after
/// the last page.
async fn apply_page(mut plan: PagePlan, state: &mut FileWriterState) -> Result<(), ActorProcessingErr> {
    let store = state.args.store.clone();
    let mut counts = Counts {
        unchanged: plan.unchanged,
        read: plan.read,
        out_of_scope: plan.excluded.len() as u64,
        deferred: plan.deferred,
        ..Counts::default()
    };
    for item in std::mem::take(&mut plan.items) {
        counts.add(&stage(store.as_ref(), item)?);
    }
    state.seen.extend(std::mem::take(&mut plan.seen));
    counts.failed = plan.failures.len() as u64;
    let Some(cursor) = commit_and_ack(
        &plan,
        &counts,
        &plan.failures,
        store.as_ref(),
        &state.args.status,
        &state.args.faults,
    )
    .await?
    else {
        return Ok(());
    };
    if plan.last {
        close_run(plan.run, cursor, state).await?;
    }
    Ok(())
}

/// Stages one planned change: the state the employee has once the run's file is delivered.
/// A termination is also remembered as a pending deactivation, decided after the last page.
fn stage(store: &dyn ProgressStore, item: PlanItem) -> Result<Counts, StoreError> {
    let PlanItem { user, hash, action, .. } = item;
    let mut counts = Counts::default();
    if action == Action::Create && !user.active {
        // A leaver never in a file (planned after a rebaseline): no row.
        return Ok(counts);
    }
    match action {
        Action::Create => counts.created += 1,
        Action::Update { .. } => counts.updated += 1,
        Action::Reactivate { .. } => counts.reactivated += 1,
        Action::LinkManager { .. } => counts.managers_linked += 1,
        Action::Deactivate { reason, .. } => store.add_pending_deactivation(&user.external_id, &reason)?,
    }
    let state = EmployeeState {
        // A file has no app ids: the employee id stands in.
        app_id: user.external_id.clone(),
        hash,
        active: user.active,
        manager: user.manager_external_id.clone(),
        user: Some(user),
        applied_at: Utc::now(),
    };
    store.stage_employee(&state.app_id, &state)?;
    Ok(counts)
}

/// After the last page: roster guard, deactivations (or the brake), the file, its
/// delivery, then the staged states become the applied ones.
async fn close_run(run: RunCtx, cursor: Cursor, state: &mut FileWriterState) -> Result<(), ActorProcessingErr> {
    let store = state.args.store.clone();
    let mut counts = cursor.counts;
    let mut failures = cursor.failures;
    if let Some(reason) = roster_guard(counts.read, store.last_roster_size()?, &state.args.brake) {
        // Nothing is delivered on an untrustworthy read; the next run starts afresh.
        warn!(tenant = %run.tenant, run = run.run_id, %reason, "roster guard tripped");
        state.args.tenant.cast(TenantMsg::RunFailed {
            run,
            error: RunFailure::UkgData(reason),
        })?;
        return Ok(());
    }
    let committed: BTreeMap<String, EmployeeState> = store.employees()?.into_iter().collect();
    let staged: BTreeMap<String, EmployeeState> = store.staged()?.into_iter().collect();
    if state.complete_read {
        for (id, s) in &committed {
            if s.active && !state.seen.contains(id) {
                store.add_pending_deactivation(id, "absent from the UKG roster")?;
            }
        }
        store.set_last_roster_size(counts.read)?;
        // Kept across a crash: a resumed run (not a complete read) decides the same.
        store.flush().await?;
    }
    let all_pending = store.pending_deactivations()?;
    let mut pending: Vec<(String, String)> = all_pending
        .iter()
        .filter(|(id, _)| committed.get(id).is_some_and(|s| s.active))
        .cloned()
        .collect();
    if state.complete_read {
        let planned: HashSet<&str> = all_pending.iter().map(|(id, _)| id.as_str()).collect();
        crate::approve::mark_back_in_ukg(store.as_ref(), &run, &planned)?;
    }
    if let Some(review) = store.review()?.filter(|r| r.approved) {
        // An approved first-run review: only the deactivations it listed (the others are
        // dropped with the pending list at the commit and planned again next run).
        let before = pending.len();
        pending.retain(|(id, _)| review.deactivations.contains(id));
        counts.deferred += (before - pending.len()) as u64;
    }
    let pending_ids: HashSet<&str> = pending.iter().map(|(id, _)| id.as_str()).collect();

    let mut rows = committed.clone();
    rows.extend(staged.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut applied: BTreeSet<String> = staged.keys().cloned().collect();
    let active = rows
        .iter()
        .filter(|(id, s)| s.active || pending_ids.contains(id.as_str()))
        .count() as u64;
    let today = run.started_at.with_timezone(&state.args.timezone).date_naive();
    let mut held = None;
    if let Some(reason) = deactivation_brake(pending.len() as u64, active, &state.args.brake) {
        // Held: the rows stay as last delivered (active, no deactivation_date).
        for (id, _) in &pending {
            if let Some(c) = committed.get(id) {
                rows.insert(id.clone(), c.clone());
            }
            applied.remove(id);
        }
        counts.held = pending.len() as u64;
        held = Some(Held {
            run_id: run.run_id,
            reason: reason.clone(),
            deactivations: pending
                .iter()
                .map(|(id, why)| HeldDeactivation {
                    employee_id: id.clone(),
                    app_id: id.clone(),
                    reason: why.clone(),
                    hash: committed.get(id).map(|s| s.hash.clone()),
                    back_since: None,
                })
                .collect(),
        });
        warn!(tenant = %run.tenant, run = run.run_id, held = counts.held, %reason, "deactivation brake tripped; deactivations held for approval");
    } else {
        for (id, _) in &pending {
            if let Some(s) = rows.get_mut(id) {
                deactivate(s, today);
                applied.insert(id.clone());
                counts.deactivated += 1;
            }
        }
    }
    failures.extend(missing_managers(&rows, &applied));
    counts.failed = failures.len() as u64;

    let spec = &state.args.spec;
    let rendered = match user_file::render(&rows, spec.format, &spec.columns, &spec.date_format) {
        Ok(r) => r,
        Err(e) => {
            state.args.tenant.cast(TenantMsg::RunFailed {
                run,
                error: RunFailure::Delivery {
                    reason: format!("cannot write the user file: {e}"),
                    needs_person: false,
                },
            })?;
            return Ok(());
        }
    };
    let name = delivery::run_file_name(&run.tenant, run.started_at, run.run_id, spec.format);
    let delivered = match delivery::deliver(spec, &run.tenant, name, rendered.bytes).await {
        Ok(d) => d,
        Err(e) => {
            // Nothing advances: the next run delivers these changes again.
            warn!(tenant = %run.tenant, run = run.run_id, error = %e, "user file not delivered");
            state.args.tenant.cast(TenantMsg::RunFailed {
                run,
                error: RunFailure::Delivery {
                    reason: format!("user file not delivered: {e}"),
                    needs_person: e.needs_person(),
                },
            })?;
            return Ok(());
        }
    };
    info!(tenant = %run.tenant, run = run.run_id, file = %delivered.name, rows = rendered.rows, local = ?delivered.local, remote = ?delivered.remote, "user file delivered");
    faults::check(&state.args.faults, || PanicPoint::BeforeFileCommit {
        tenant: run.tenant.clone(),
    });
    let commit = StagedCommit {
        applied: applied
            .iter()
            .filter_map(|id| rows.get(id).map(|s| (id.clone(), s.clone())))
            .collect(),
        staged: staged.into_keys().collect(),
        deactivations: all_pending.into_iter().map(|(id, _)| id).collect(),
        held,
    };
    store.commit_staged(&commit)?;
    store.flush().await?;
    state.args.tenant.cast(TenantMsg::RunCompleted {
        run,
        counts,
        failures,
        excluded: cursor.excluded,
        pages: cursor.pages_committed,
    })?;
    Ok(())
}

/// Marks a row deactivated: inactive, dated by UKG's termination date or else `today`.
pub(crate) fn deactivate(s: &mut EmployeeState, today: NaiveDate) {
    s.active = false;
    s.applied_at = Utc::now();
    if let Some(u) = s.user.as_mut() {
        u.active = false;
        u.termination_date.get_or_insert(today);
    }
}

/// Employees changed in this run whose manager has no row (set aside): their
/// `manager_email` is left empty, and said so.
fn missing_managers(rows: &BTreeMap<String, EmployeeState>, changed: &BTreeSet<String>) -> Vec<RecordFailure> {
    changed
        .iter()
        .filter_map(|id| {
            let user = rows.get(id)?.user.as_ref()?;
            let manager = user.manager_external_id.as_ref()?;
            let has_row = rows.get(manager).is_some_and(|m| m.user.is_some());
            (user.active && !has_row).then(|| RecordFailure {
                employee_id: id.clone(),
                reason: format!("manager {manager} has no row in the user file (set aside); manager_email left empty"),
            })
        })
        .collect()
}
