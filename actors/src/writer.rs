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
//! exist in the app yet are linked in a second pass after the last page.

use std::sync::Arc;

use chrono::Utc;
use futures::StreamExt;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tracing::{debug, info, warn};

use crate::error::{ScimError, StoreError};
use crate::faults::{self, FaultHook, PanicPoint};
use crate::fetcher::FetcherMsg;
use crate::model::{Action, AppUser, Counts, PagePlan, PlanItem, RecordFailure};
use crate::scim::ScimClient;
use crate::store::{EmployeeState, ProgressStore};
use crate::tenant::TenantMsg;

/// Messages the writer receives.
#[derive(Debug)]
pub enum WriterMsg {
    /// Apply one page's plan, commit it and ack the fetcher; after the last page, link the
    /// managers still pending and report the run complete.
    Apply(PagePlan),
}

pub struct Writer;

pub struct WriterArgs {
    pub store: Arc<dyn ProgressStore>,
    pub scim: ScimClient,
    pub tenant: ActorRef<TenantMsg>,
    /// Writes in flight at once.
    pub concurrency: usize,
    /// Test-only panic points.
    pub faults: Option<Arc<FaultHook>>,
}

pub struct WriterState {
    args: WriterArgs,
    /// The run whose pages are being applied.
    run_id: Option<u64>,
    /// A run that failed here: its remaining pages are dropped.
    aborted_run: Option<u64>,
}

/// Why one change did not apply.
#[derive(Debug)]
enum WriteError {
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
        state.run_id = Some(run_id);
        apply_page(plan, state).await
    }
}

async fn apply_page(plan: PagePlan, state: &mut WriterState) -> Result<(), ActorProcessingErr> {
    let store = state.args.store.clone();
    let scim = &state.args.scim;
    let results: Vec<(String, Result<Counts, WriteError>)> = futures::stream::iter(plan.items)
        .map(|item| {
            let store = store.clone();
            async move {
                (
                    item.user.external_id.clone(),
                    apply_item(scim, store.as_ref(), item).await,
                )
            }
        })
        .buffer_unordered(state.args.concurrency.max(1))
        .collect()
        .await;

    let mut counts = Counts {
        unchanged: plan.unchanged,
        ..Counts::default()
    };
    let mut failures = plan.failures;
    for (employee_id, result) in results {
        match result {
            Ok(applied) => counts.add(&applied),
            Err(WriteError::Store(e)) => return Err(e.into()),
            Err(WriteError::Scim(e)) if e.is_fatal_for_run() => {
                warn!(tenant = %plan.run.tenant, run = plan.run.run_id, error = %e, "run stopped by the app");
                state.aborted_run = Some(plan.run.run_id);
                let auth = matches!(e, ScimError::Unauthorized);
                state.args.tenant.cast(TenantMsg::RunFailed {
                    run: plan.run,
                    error: e.to_string(),
                    auth,
                })?;
                return Ok(());
            }
            Err(WriteError::Scim(e)) => failures.push(RecordFailure {
                employee_id,
                reason: e.to_string(),
            }),
            Err(WriteError::Record(reason)) => failures.push(RecordFailure { employee_id, reason }),
        }
    }
    counts.failed = failures.len() as u64;

    let cursor = match store.commit_page(plan.run.run_id, plan.index, &counts, &failures) {
        Ok(c) => c,
        Err(StoreError::RunClosed { .. }) => {
            debug!(tenant = %plan.run.tenant, run = plan.run.run_id, page = plan.index, "run already closed; page dropped");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    store.flush().await?;
    debug!(tenant = %plan.run.tenant, run = plan.run.run_id, page = plan.index, writes = counts.writes(), "page committed");
    faults::check(&state.args.faults, || PanicPoint::AfterCommit {
        tenant: plan.run.tenant.clone(),
        page: plan.index,
    });
    // The fetcher may be gone (restarting); the restarted one resumes from the cursor.
    let _ = plan.ack.cast(FetcherMsg::PageCommitted {
        run_id: plan.run.run_id,
        index: plan.index,
    });

    if plan.last {
        let (link_counts, link_failures) = link_managers(scim, store.as_ref(), state.args.concurrency).await?;
        store.flush().await?;
        let mut counts = cursor.counts;
        counts.add(&link_counts);
        let mut failures = cursor.failures;
        failures.extend(link_failures);
        counts.failed = failures.len() as u64;
        info!(tenant = %plan.run.tenant, run = plan.run.run_id, pages = cursor.pages_committed, "roster applied");
        state.args.tenant.cast(TenantMsg::RunCompleted {
            run: plan.run,
            counts,
            failures,
            pages: cursor.pages_committed,
        })?;
    }
    Ok(())
}

/// Applies one planned change and records it once the app confirmed it.
async fn apply_item(scim: &ScimClient, store: &dyn ProgressStore, item: PlanItem) -> Result<Counts, WriteError> {
    let PlanItem {
        user,
        hash,
        action,
        prior,
    } = item;
    let manager_app = resolve_manager(store, &user)?;
    let mut counts = Counts::default();
    // The manager as linked in the app after this write.
    let mut linked = if manager_app.is_some() {
        user.manager_external_id.clone()
    } else {
        None
    };
    let app_id = match action {
        Action::Create => {
            let (id, adopted) = create_or_adopt(scim, &user, manager_app.as_deref()).await?;
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
                    create_or_adopt(scim, &user, manager_app.as_deref()).await?.0
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
        Action::Deactivate { app_id } => {
            scim.set_active(&app_id, false).await?;
            counts.deactivated += 1;
            linked = prior.as_ref().and_then(|p| p.manager.clone());
            app_id
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
    store.put_employee(&user.external_id, &new_state(&app_id, &hash, &user, linked))?;
    if let (true, Some(m), None) = (user.active, &user.manager_external_id, &manager_app) {
        store.add_pending_link(&user.external_id, m)?;
    }
    Ok(counts)
}

fn new_state(app_id: &str, hash: &str, user: &AppUser, manager: Option<String>) -> EmployeeState {
    EmployeeState {
        app_id: app_id.to_string(),
        hash: hash.to_string(),
        active: user.active,
        manager,
        applied_at: Utc::now(),
    }
}

/// The app id of the user's manager, when the manager has been written to the app.
fn resolve_manager(store: &dyn ProgressStore, user: &AppUser) -> Result<Option<String>, StoreError> {
    match &user.manager_external_id {
        Some(m) => Ok(store.employee(m)?.map(|s| s.app_id)),
        None => Ok(None),
    }
}

/// Adopts the app user that already carries this externalId (or this userName and no
/// other externalId), or creates one. Returns the app id and whether it was adopted.
async fn create_or_adopt(
    scim: &ScimClient,
    user: &AppUser,
    manager: Option<&str>,
) -> Result<(String, bool), WriteError> {
    if let Some(existing) = scim.find_by_external_id(&user.external_id).await? {
        scim.replace(&existing.id, user, manager).await?;
        return Ok((existing.id, true));
    }
    match scim.create(user, manager).await {
        Ok(id) => Ok((id, false)),
        Err(ScimError::Conflict) => match scim.find_by_user_name(&user.user_name).await? {
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
        },
        Err(e) => Err(e.into()),
    }
}

/// Second pass: links the managers that were not in the app when their reports were
/// written (kept in the store, so a crash does not lose them).
async fn link_managers(
    scim: &ScimClient,
    store: &dyn ProgressStore,
    concurrency: usize,
) -> Result<(Counts, Vec<RecordFailure>), ActorProcessingErr> {
    let pending = store.pending_links()?;
    let results: Vec<(String, Result<bool, WriteError>)> = futures::stream::iter(pending)
        .map(|(employee_id, manager_id)| async move {
            let result = link_one(&employee_id, &manager_id, scim, store).await;
            (employee_id, result)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut counts = Counts::default();
    let mut failures = Vec::new();
    for (employee_id, result) in results {
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
    Ok((counts, failures))
}

/// Links one employee to its manager; Ok(false) when there is nothing to do any more.
/// The pending link is dropped either way: a link still missing is planned again next run.
async fn link_one(
    employee_id: &str,
    manager_id: &str,
    scim: &ScimClient,
    store: &dyn ProgressStore,
) -> Result<bool, WriteError> {
    let state = store.employee(employee_id)?;
    let manager = store.employee(manager_id)?;
    let result = match (state, manager) {
        (Some(state), _) if state.manager.as_deref() == Some(manager_id) => Ok(false),
        (Some(mut state), Some(manager)) => match scim.set_manager(&state.app_id, &manager.app_id).await {
            Ok(()) => {
                state.manager = Some(manager_id.to_string());
                state.applied_at = Utc::now();
                store.put_employee(employee_id, &state)?;
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
