//! Releasing (or dropping) the deactivations that the brake held: `hrsync approve`.
//! On a SCIM target each is applied at once (PATCH active=false); on a file target a new
//! user file is written and delivered with them deactivated as of the approval day, and
//! only then are they recorded.
//!
//! A hold can be approved days later: each held deactivation is re-checked against the last
//! roster read first. A later run whose complete read did not plan it marks it back in UKG
//! ([`mark_back_in_ukg`]); one whose stored state changed since the hold (or is inactive
//! already) is skipped too. Only the rest are deactivated.

use std::collections::{BTreeMap, HashSet};

use chrono::Utc;
use tracing::info;

use crate::brake::{Held, HeldDeactivation};
use crate::delivery::{self, DeliveryError};
use crate::error::StoreError;
use crate::model::{RecordFailure, RunCtx};
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
    /// No longer due: back in UKG since a later run, or changed since the hold (the reason
    /// says which). Not deactivated.
    pub no_longer_due: Vec<RecordFailure>,
    pub failed: Vec<RecordFailure>,
}

impl Released {
    /// What `hrsync approve` prints (and the HTTP face answers): the counts, then one line
    /// per employee skipped because they are no longer due.
    pub fn summary(&self, tenant: &str, run_id: u64) -> String {
        let mut out = format!(
            "tenant {tenant} run {run_id}: {} deactivated, {} already inactive, {} failed",
            self.deactivated.len(),
            self.skipped.len(),
            self.failed.len()
        );
        if !self.no_longer_due.is_empty() {
            out.push_str(&format!(", {} no longer due", self.no_longer_due.len()));
        }
        for s in &self.no_longer_due {
            out.push_str(&format!("\n  skipped {}: {}", s.employee_id, s.reason));
        }
        out
    }
}

/// After a complete roster read that passed the roster guard (run `run`): marks the held
/// deactivations of an earlier run that this run did not plan (`planned`: every employee the
/// run means to deactivate) as back in UKG since this run, so approving the old hold skips
/// them. Returns how many were marked.
pub fn mark_back_in_ukg(store: &dyn ProgressStore, run: &RunCtx, planned: &HashSet<&str>) -> Result<usize, StoreError> {
    let Some(mut held) = store.held()? else {
        return Ok(0);
    };
    if held.run_id == run.run_id {
        return Ok(0);
    }
    let mut marked = 0;
    for d in held
        .deactivations
        .iter_mut()
        .filter(|d| d.back_since.is_none() && !planned.contains(d.employee_id.as_str()))
    {
        d.back_since = Some(run.run_id);
        marked += 1;
    }
    if marked > 0 {
        store.set_held(Some(&held))?;
        info!(tenant = %run.tenant, run = run.run_id, held_by = held.run_id, marked, "held deactivations no longer due: the employees are back in UKG");
    }
    Ok(marked)
}

/// Why a held deactivation must not be applied any more, per the store's current state of
/// the employee; None when it is still due.
fn no_longer_due(d: &HeldDeactivation, held_by: u64, state: &EmployeeState) -> Option<String> {
    if let Some(run) = d.back_since {
        return Some(format!("back in UKG since run {run}"));
    }
    if d.hash.as_ref().is_some_and(|h| *h != state.hash) || d.app_id != state.app_id {
        return Some(format!("changed since run {held_by} held it"));
    }
    None
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
                if let Some(reason) = no_longer_due(&d, held.run_id, s) {
                    out.no_longer_due.push(RecordFailure {
                        employee_id: d.employee_id,
                        reason,
                    });
                    continue;
                }
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
            Some(state) if state.active => {
                if let Some(reason) = no_longer_due(&d, held.run_id, &state) {
                    out.no_longer_due.push(RecordFailure {
                        employee_id: d.employee_id,
                        reason,
                    });
                    continue;
                }
                match deactivate(scim, store, &d.employee_id, state, 0).await {
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
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn state(app_id: &str, hash: &str) -> EmployeeState {
        EmployeeState {
            app_id: app_id.into(),
            hash: hash.into(),
            active: true,
            manager: None,
            user: None,
            applied_at: Utc::now(),
        }
    }

    #[test]
    fn a_held_deactivation_is_due_only_while_nothing_changed_since_the_hold() {
        let held = HeldDeactivation {
            employee_id: "E1".into(),
            app_id: "u1".into(),
            reason: "terminated in UKG".into(),
            hash: Some("h1".into()),
            back_since: None,
        };
        assert_eq!(no_longer_due(&held, 2, &state("u1", "h1")), None);
        assert_eq!(
            no_longer_due(&held, 2, &state("u1", "h2")).as_deref(),
            Some("changed since run 2 held it")
        );
        assert_eq!(
            no_longer_due(&held, 2, &state("u9", "h1")).as_deref(),
            Some("changed since run 2 held it"),
            "recreated in the app since"
        );
        let back = HeldDeactivation {
            back_since: Some(3),
            ..held.clone()
        };
        assert_eq!(
            no_longer_due(&back, 2, &state("u1", "h1")).as_deref(),
            Some("back in UKG since run 3")
        );
        // A hold recorded before the hash was kept: only back_since and the app id count.
        let old = HeldDeactivation { hash: None, ..held };
        assert_eq!(no_longer_due(&old, 2, &state("u1", "h2")), None);
    }
}
