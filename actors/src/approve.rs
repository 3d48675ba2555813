//! Releasing (or dropping) the deactivations that the brake held: `hrsync approve`.
//! On a SCIM target each is applied at once (PATCH active=false); on a file target a new
//! user file is written and delivered with them deactivated as of the approval day, and
//! only then are they recorded.

use std::collections::BTreeMap;

use chrono::Utc;

use crate::brake::Held;
use crate::delivery::{self, DeliveryError};
use crate::error::StoreError;
use crate::model::RecordFailure;
use crate::scim::ScimClient;
use crate::spec::{FileSpec, TargetSpec, TenantSpec};
use crate::store::{EmployeeState, ProgressStore, StagedCommit};
use crate::tenant::TenantResources;
use crate::upstream::RetryPolicy;
use crate::writer::{deactivate, WriteError};

/// Why held deactivations could not be released.
#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    #[error("nothing is held for this tenant")]
    NothingHeld,
    #[error("run {asked} held nothing; the held deactivations are from run {held}")]
    OtherRun { asked: u64, held: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the user file: {0}")]
    Render(String),
    #[error("the user file with the released deactivations was not delivered, nothing was recorded: {0}")]
    Delivery(#[from] DeliveryError),
}

/// What releasing did.
#[derive(Debug, Default)]
pub struct Released {
    pub deactivated: Vec<String>,
    /// Already inactive or gone from hrsync's state: nothing to do.
    pub skipped: Vec<String>,
    pub failed: Vec<RecordFailure>,
}

fn take_held(store: &dyn ProgressStore, run_id: u64) -> Result<Held, ApproveError> {
    let held = store.held()?.ok_or(ApproveError::NothingHeld)?;
    if held.run_id != run_id {
        return Err(ApproveError::OtherRun {
            asked: run_id,
            held: held.run_id,
        });
    }
    Ok(held)
}

/// Applies the deactivations held by run `run_id` on the tenant's target (SCIM, or a new
/// user file), then forgets them.
pub async fn approve_on_target(
    spec: &TenantSpec,
    store: &dyn ProgressStore,
    resources: &TenantResources,
    retry: RetryPolicy,
    run_id: u64,
) -> Result<Released, ApproveError> {
    match &spec.target {
        TargetSpec::Scim(s) => {
            let scim = ScimClient::new(
                s.clone(),
                resources.scim_limiter.clone(),
                resources.scim_counters.clone(),
            )
            .with_retry_policy(retry);
            approve_held(store, &scim, run_id).await
        }
        TargetSpec::File(f) => approve_held_file(store, f, &spec.id, spec.timezone, run_id).await,
    }
}

/// File target: writes and delivers a user file with the held deactivations applied (dated
/// today in the tenant's time zone), then records them and forgets the hold.
pub async fn approve_held_file(
    store: &dyn ProgressStore,
    spec: &FileSpec,
    tenant: &str,
    timezone: chrono_tz::Tz,
    run_id: u64,
) -> Result<Released, ApproveError> {
    let held = take_held(store, run_id)?;
    let mut rows: BTreeMap<String, EmployeeState> = store.employees()?.into_iter().collect();
    let now = Utc::now();
    let today = now.with_timezone(&timezone).date_naive();
    let mut out = Released::default();
    let mut applied = Vec::new();
    for d in held.deactivations {
        match rows.get_mut(&d.employee_id) {
            Some(s) if s.active => {
                crate::file_writer::deactivate(s, today);
                applied.push((d.employee_id.clone(), s.clone()));
                out.deactivated.push(d.employee_id);
            }
            _ => out.skipped.push(d.employee_id),
        }
    }
    if !applied.is_empty() {
        let rendered = crate::user_file::render(&rows, spec.format, &spec.columns, &spec.date_format)
            .map_err(|e| ApproveError::Render(e.to_string()))?;
        let name = delivery::file_name(tenant, now, &format!("run{run_id}-approved"), spec.format);
        delivery::deliver(spec, tenant, name, rendered.bytes).await?;
    }
    store.commit_staged(&StagedCommit {
        applied,
        ..StagedCommit::default()
    })?;
    store.set_held(None)?;
    store.flush().await?;
    Ok(out)
}

/// Applies the deactivations held by run `run_id`, then forgets them.
pub async fn approve_held(store: &dyn ProgressStore, scim: &ScimClient, run_id: u64) -> Result<Released, ApproveError> {
    let held = take_held(store, run_id)?;
    let mut out = Released::default();
    for d in held.deactivations {
        match store.employee(&d.employee_id)? {
            Some(state) if state.active => match deactivate(scim, store, &d.employee_id, state, 0).await {
                Ok(()) => out.deactivated.push(d.employee_id),
                Err(WriteError::Store(e)) => return Err(e.into()),
                Err(WriteError::Scim(e)) => out.failed.push(RecordFailure {
                    employee_id: d.employee_id,
                    reason: e.to_string(),
                }),
                Err(WriteError::Record(reason)) => out.failed.push(RecordFailure {
                    employee_id: d.employee_id,
                    reason,
                }),
            },
            _ => out.skipped.push(d.employee_id),
        }
    }
    store.set_held(None)?;
    store.flush().await?;
    Ok(out)
}

/// Drops the deactivations held by run `run_id` without applying them; returns how many.
/// Employees still terminated or absent are planned (and braked) again by the next run.
pub async fn reject_held(store: &dyn ProgressStore, run_id: u64) -> Result<usize, ApproveError> {
    let held = take_held(store, run_id)?;
    store.set_held(None)?;
    store.flush().await?;
    Ok(held.deactivations.len())
}
