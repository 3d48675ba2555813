//! Releasing (or dropping) the deactivations that the brake held: `hrsync approve`.

use crate::brake::Held;
use crate::error::StoreError;
use crate::model::RecordFailure;
use crate::scim::ScimClient;
use crate::store::ProgressStore;
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

/// Applies the deactivations held by run `run_id`, then forgets them.
pub async fn approve_held(store: &dyn ProgressStore, scim: &ScimClient, run_id: u64) -> Result<Released, ApproveError> {
    let held = take_held(store, run_id)?;
    let mut out = Released::default();
    for d in held.deactivations {
        match store.employee(&d.employee_id)? {
            Some(state) if state.active => match deactivate(scim, store, &d.employee_id, state).await {
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
