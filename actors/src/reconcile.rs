//! Reconciliation against the app's listing, at the end of each SCIM run: users that the
//! store says are applied (active) but that the app no longer has — deleted in the app
//! behind hrsync's back — are created again (or adopted, when the app has the employee under
//! another id), and counted as `recreated`.
//!
//! Called by the writer (`writer::close_run`) after the deferred creates and before the
//! manager links, on every run but a first sync (whose store started empty). One listing
//! per run: `GET /Users` paged, ids only, kept as 64-bit hashes
//! ([`crate::model::id_hash`]), so the memory it costs is ~8 bytes a user.
//!
//! Invariants: never a duplicate — a recreate looks the employee up by `externalId` first
//! (`writer::create_or_adopt`), so a listing that is wrong, or a kill between the create and
//! its record, costs a lookup, never a second user; the new id is stored right after the app
//! confirmed it, and the reports of a recreated manager are linked again by the link pass.
//! Employees about to be deactivated (terminated, or absent from a complete read) are left
//! alone. The app failing stops the run by the writer's one rule (`write_phase::drain_writes`).

use std::collections::HashSet;

use tracing::{info, warn};

use crate::error::{ScimError, StoreError};
use crate::model::{id_hash, Counts, RecordFailure, RunCtx};
use crate::scim::ScimClient;
use crate::store::ProgressStore;
use crate::write_phase::{drain_writes, FLUSH_EVERY};
use crate::writer::{create_or_adopt, new_state, resolve_manager, WriteError};

/// What the end of the run already knows about the roster.
pub(crate) struct Roster<'a> {
    /// Hashes of the employee ids the run read.
    pub seen: &'a HashSet<u64>,
    /// Whether `seen` is the whole roster (the run read it from its first page).
    pub complete: bool,
}

/// Lists the app's users once and recreates the applied (active) employees it lacks.
/// `Ok(Err(e))`: the app failed in a way that ends the run. A listing refused for another
/// reason (e.g. a server that cannot page) skips the reconciliation with a warning.
pub(crate) async fn recreate_missing(
    scim: &ScimClient,
    store: &dyn ProgressStore,
    concurrency: usize,
    run: &RunCtx,
    roster: Roster<'_>,
) -> Result<Result<(Counts, Vec<RecordFailure>), ScimError>, StoreError> {
    let listed = match scim.list_id_hashes().await {
        Ok(ids) => ids,
        Err(e) if e.is_fatal_for_run() => return Ok(Err(e)),
        Err(e) => {
            warn!(tenant = %run.tenant, run = run.run_id, error = %e, "cannot list the app's users; users deleted in the app are not recreated this run");
            return Ok(Ok((Counts::default(), Vec::new())));
        }
    };
    let leaving: HashSet<String> = store.pending_deactivations()?.into_iter().map(|(id, _)| id).collect();
    let mut missing = Vec::new();
    for id in store.active_employees()? {
        if leaving.contains(&id) || (roster.complete && !roster.seen.contains(&id_hash(&id))) {
            continue;
        }
        if let Some(state) = store.employee(&id)?.filter(|s| s.active) {
            if !listed.contains(&id_hash(&state.app_id)) {
                missing.push(id);
            }
        }
    }
    drop(listed);
    if missing.is_empty() {
        return Ok(Ok((Counts::default(), Vec::new())));
    }
    info!(tenant = %run.tenant, run = run.run_id, missing = missing.len(), "applied users missing from the app; recreating them");
    let drained = drain_writes(missing, concurrency, store, Some(FLUSH_EVERY), |id| async move {
        let result = recreate_one(scim, store, &id, run.run_id).await;
        (id, result)
    })
    .await?;
    if let Some(e) = drained.app_failed {
        return Ok(Err(e));
    }
    let mut counts = Counts::default();
    let mut failures = Vec::new();
    let mut recreated = HashSet::new();
    for (employee_id, result) in drained.results {
        match result {
            Ok(true) => {
                counts.recreated += 1;
                recreated.insert(employee_id);
            }
            Ok(false) => {}
            Err(WriteError::Store(e)) => return Err(e),
            Err(WriteError::Scim(e)) => failures.push(RecordFailure {
                employee_id,
                reason: format!("missing in the app, not recreated: {e}"),
            }),
            Err(WriteError::Record(reason)) => failures.push(RecordFailure { employee_id, reason }),
        }
    }
    relink_reports(store, &recreated)?;
    store.flush().await?;
    Ok(Ok((counts, failures)))
}

/// Creates one missing user again (or adopts it by externalId) with the attributes hrsync
/// last applied, and records the new id. Ok(false) when there is nothing to do any more.
async fn recreate_one(
    scim: &ScimClient,
    store: &dyn ProgressStore,
    employee_id: &str,
    run_id: u64,
) -> Result<bool, WriteError> {
    let Some(state) = store.employee(employee_id)?.filter(|s| s.active) else {
        return Ok(false);
    };
    let Some(user) = state.user.clone() else {
        return Err(WriteError::Record(
            "missing in the app, and hrsync kept no copy of the user to recreate it (state from an older version); it is recreated when its UKG data changes".to_string(),
        ));
    };
    let manager_app = resolve_manager(store, &user)?;
    let (app_id, _adopted) = create_or_adopt(scim, &user, manager_app.as_deref(), None).await?;
    let linked = manager_app
        .is_some()
        .then(|| user.manager_external_id.clone())
        .flatten();
    // Recorded with its count in one write, so the run's summary counts it across resumes.
    let counts = Counts {
        recreated: 1,
        ..Counts::default()
    };
    store.record_applied(
        employee_id,
        &new_state(&app_id, &state.hash, &user, linked),
        run_id,
        &counts,
    )?;
    if let (None, Some(m)) = (&manager_app, &user.manager_external_id) {
        store.add_pending_link(employee_id, m)?;
    }
    Ok(true)
}

/// The reports of a recreated manager point at the manager's old app id: their link is
/// forgotten and left pending, so the link pass of this run sets it again.
fn relink_reports(store: &dyn ProgressStore, recreated: &HashSet<String>) -> Result<(), StoreError> {
    if recreated.is_empty() {
        return Ok(());
    }
    for id in store.active_employees()? {
        let Some(mut state) = store.employee(&id)? else {
            continue;
        };
        let Some(manager) = state.manager.clone().filter(|m| recreated.contains(m)) else {
            continue;
        };
        // The state first: a kill before the pending link leaves a state whose manager
        // differs from UKG's, which the next run's plan links again.
        state.manager = None;
        store.put_employee(&id, &state)?;
        store.add_pending_link(&id, &manager)?;
    }
    Ok(())
}
