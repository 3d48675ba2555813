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
}

pub struct WriterState {
    args: WriterArgs,
    /// The run whose pages are being applied.
    run_id: Option<u64>,
    /// A run that failed here: its remaining pages are dropped.
    aborted_run: Option<u64>,
    /// Manager links to write after the last page.
    pending_links: Vec<PendingLink>,
}

/// A user whose manager did not exist in the app when the user was written.
#[derive(Debug, Clone)]
struct PendingLink {
    user: AppUser,
    state: EmployeeState,
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

/// What applying one item did.
struct Applied {
    counts: Counts,
    pending: Option<PendingLink>,
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
            pending_links: Vec::new(),
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
            state.pending_links.clear();
        }
        apply_page(plan, state).await
    }
}

async fn apply_page(plan: PagePlan, state: &mut WriterState) -> Result<(), ActorProcessingErr> {
    let store = state.args.store.clone();
    let scim = &state.args.scim;
    let results: Vec<(String, Result<Applied, WriteError>)> = futures::stream::iter(plan.items)
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
            Ok(applied) => {
                counts.add(&applied.counts);
                state.pending_links.extend(applied.pending);
            }
            Err(WriteError::Store(e)) => return Err(e.into()),
            Err(WriteError::Scim(e)) if e.is_fatal_for_run() => {
                warn!(tenant = %plan.run.tenant, run = plan.run.run_id, error = %e, "run stopped by the app");
                state.aborted_run = Some(plan.run.run_id);
                state.args.tenant.cast(TenantMsg::RunFailed {
                    run: plan.run,
                    error: e.to_string(),
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
    // The fetcher may be gone (restarting); the restarted one resumes from the cursor.
    let _ = plan.ack.cast(FetcherMsg::PageCommitted {
        run_id: plan.run.run_id,
        index: plan.index,
    });

    if plan.last {
        let (link_counts, link_failures) = link_managers(
            std::mem::take(&mut state.pending_links),
            scim,
            store.as_ref(),
            state.args.concurrency,
        )
        .await?;
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
async fn apply_item(scim: &ScimClient, store: &dyn ProgressStore, item: PlanItem) -> Result<Applied, WriteError> {
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
                (None, Some(_)) => {
                    let state = prior.unwrap_or_else(|| new_state(&app_id, &hash, &user, None));
                    return Ok(Applied {
                        counts,
                        pending: Some(PendingLink { user, state }),
                    });
                }
            }
            counts.managers_linked += 1;
            app_id
        }
    };
    let state = new_state(&app_id, &hash, &user, linked);
    store.put_employee(&user.external_id, &state)?;
    let pending = (user.active && user.manager_external_id.is_some() && manager_app.is_none())
        .then_some(PendingLink { user, state });
    Ok(Applied { counts, pending })
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

/// Second pass: links managers that were created later in the run.
async fn link_managers(
    pending: Vec<PendingLink>,
    scim: &ScimClient,
    store: &dyn ProgressStore,
    concurrency: usize,
) -> Result<(Counts, Vec<RecordFailure>), ActorProcessingErr> {
    let results: Vec<(String, Result<bool, WriteError>)> = futures::stream::iter(pending)
        .map(|link| async move {
            let id = link.user.external_id.clone();
            (id, link_one(link, scim, store).await)
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

/// Links one pending manager; Ok(false) when nothing was written.
async fn link_one(link: PendingLink, scim: &ScimClient, store: &dyn ProgressStore) -> Result<bool, WriteError> {
    let Some(manager) = link.user.manager_external_id.clone() else {
        return Ok(false);
    };
    let Some(manager_app) = resolve_manager(store, &link.user)? else {
        return Err(WriteError::Record(format!(
            "manager {manager} is not in the app (not in the roster, or set aside); manager link skipped"
        )));
    };
    scim.set_manager(&link.state.app_id, &manager_app).await?;
    let mut state = link.state;
    state.manager = Some(manager);
    state.applied_at = Utc::now();
    store.put_employee(&link.user.external_id, &state)?;
    Ok(true)
}
