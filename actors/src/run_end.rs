//! The end of a tenant's run, for the tenant supervisor: the outcome is decided (`ok`,
//! `completed_with_failures`, `held` when the brake held deactivations, `failed`), the
//! summary and the run health (failures in a row, quarantine) are stored, status and
//! metrics updated, the contact notified, waiters answered and the next run scheduled.
//! Also releasing or dropping held deactivations through the admin API, after which the
//! tenant is back to `ok`.
//!
//! Plain functions over the supervisor's state (`tenant::TenantSupervisorState`), called
//! from its handlers; they send `NotifierMsg::RunEnded` / `NotifierMsg::Quarantine` and
//! schedule `TenantMsg::Tick`.

use std::time::Duration;

use chrono::Utc;
use ractor::{ActorProcessingErr, ActorRef};
use tracing::{info, warn};

use crate::error::RunFailure;
use crate::model::{Counts, Outcome, RecordFailure, RunSummary};
use crate::notifier::NotifierMsg;
use crate::quarantine::{Health, Transition};
use crate::review;
use crate::status::TenantState;
use crate::tenant::{random_up_to, TenantArgs, TenantMsg, TenantSupervisorState};

/// How a run ended.
pub(crate) enum Ending {
    /// Every page applied; `failures` are the records set aside (`counts.held` the
    /// deactivations the brake held).
    Completed {
        counts: Counts,
        failures: Vec<RecordFailure>,
        excluded: Vec<RecordFailure>,
        pages: u32,
    },
    /// The run could not complete.
    Failed(RunFailure),
}

/// The outcome of a completed run: held deactivations need a person first, then records
/// set aside.
pub fn completed_outcome(counts: &Counts, failures: &[RecordFailure]) -> Outcome {
    if counts.held > 0 {
        Outcome::Held
    } else if failures.is_empty() {
        Outcome::Ok
    } else {
        Outcome::CompletedWithFailures
    }
}

/// The run health stored for this tenant (default when none, or unreadable: logged), shown
/// in status at once so a restarted process reports a quarantine before any run.
pub(crate) fn load_health(args: &TenantArgs) -> Health {
    let id = &args.spec.id;
    let health = match args.store.health() {
        Ok(h) => h.unwrap_or_default(),
        Err(e) => {
            warn!(tenant = %id, error = %e, "cannot read the stored run health; starting afresh");
            Health::default()
        }
    };
    let held = match args.store.held() {
        Ok(h) => h.map(|h| (h.deactivations.len() as u64, h.run_id)),
        Err(e) => {
            warn!(tenant = %id, error = %e, "cannot read the held deactivations");
            None
        }
    };
    let h = health.clone();
    args.status.update(id, |s| {
        s.consecutive_failures = h.consecutive_failures;
        if let Some((n, run)) = held {
            s.state = TenantState::Held;
            s.deactivations_held = n;
            s.held_run = Some(run);
        }
        if let Some(q) = h.quarantine {
            s.state = TenantState::Quarantined;
            s.next_run_at = q.until;
            s.quarantine = Some(q);
        }
    });
    health
}

/// Closes the run: summary stored, health and status updated, contact notified, waiters
/// answered, next run scheduled (later when quarantined).
pub(crate) async fn finish_run(
    myself: &ActorRef<TenantMsg>,
    state: &mut TenantSupervisorState,
    ending: Ending,
) -> Result<(), ActorProcessingErr> {
    let Some(run) = state.run.take() else {
        return Ok(());
    };
    let tenant = run.ctx.tenant.clone();
    let (outcome, counts, failures, excluded, error, pages, transition) = match ending {
        Ending::Completed {
            counts,
            failures,
            excluded,
            pages,
        } => {
            let outcome = completed_outcome(&counts, &failures);
            (
                outcome,
                counts,
                failures,
                excluded,
                None,
                pages,
                state.health.succeeded(),
            )
        }
        Ending::Failed(failure) => {
            let t = state.health.failed(
                failure.reason(),
                failure.quarantines_at_once(),
                state.args.spec.quarantine_after,
                Utc::now(),
            );
            // What the run confirmed before it failed (across resumes) still counts.
            let (counts, failures, excluded, pages) =
                crate::run_storage::committed(state.args.store.as_ref(), run.ctx.run_id);
            (Outcome::Failed, counts, failures, excluded, Some(failure), pages, t)
        }
    };
    let failures_in_a_row = state.health.consecutive_failures;
    let quarantine_reason = error.as_ref().map(ToString::to_string).unwrap_or_default();
    match transition {
        Transition::Entered => {
            warn!(tenant = %tenant, failures_in_a_row, "tenant quarantined: runs back off 6h, 12h, 24h until one succeeds")
        }
        Transition::Left => info!(tenant = %tenant, "tenant recovered; quarantine lifted"),
        Transition::Stayed | Transition::None => {}
    }
    if let (Some(n), Transition::Entered | Transition::Left) = (&state.notifier, &transition) {
        let entered = transition == Transition::Entered;
        let _ = n.cast(NotifierMsg::Quarantine {
            entered,
            reason: quarantine_reason,
            cause: error.as_ref().map(RunFailure::cause),
        });
    }
    let res = &state.args.resources;
    let summary = RunSummary {
        tenant: run.ctx.tenant.clone(),
        run_id: run.ctx.run_id,
        started_at: run.ctx.started_at,
        finished_at: Utc::now(),
        outcome,
        counts,
        failures,
        excluded,
        cause: error.as_ref().map(RunFailure::cause),
        error: error.map(|e| e.to_string()),
        review: None,
        pages,
        traffic: res.traffic().since(&run.baseline),
    };
    let base = state.health.next_delay(state.args.spec.schedule);
    let delay = base + random_up_to((base / 20).min(Duration::from_secs(900)));
    state.health.set_due(Utc::now(), delay);
    // A store that fails (full disk) must not keep the run from ending: its summary still
    // goes to the waiters and the contact.
    if let Err(e) = state.args.store.finish_run(&summary) {
        warn!(tenant = %tenant, run = summary.run_id, error = %e, "cannot record the run's summary");
    }
    if let Err(e) = state.args.store.set_health(&state.health) {
        warn!(tenant = %tenant, run = summary.run_id, error = %e, "cannot record the tenant's run health");
    }
    if summary.outcome != Outcome::Failed {
        // This configuration is now applied; an approved review is used up.
        let store = state.args.store.as_ref();
        store.set_applied_fingerprint(&review::fingerprint(&state.args.spec))?;
        if store.review()?.is_some_and(|r| r.approved) {
            store.set_review(None)?;
        }
        state.args.status.update(&summary.tenant, |s| s.review = None);
    }
    if let Err(e) = state.args.store.flush().await {
        warn!(tenant = %tenant, run = summary.run_id, error = %e, "cannot flush the store");
    }
    let c = &summary.counts;
    match &summary.error {
        None => {
            info!(tenant = %summary.tenant, run = summary.run_id, outcome = ?summary.outcome, created = c.created, adopted = c.adopted, updated = c.updated, deactivated = c.deactivated, reactivated = c.reactivated, held = c.held, unchanged = c.unchanged, failed = c.failed, ukg_requests = summary.traffic.ukg_requests, ukg_retries = summary.traffic.ukg_retries, scim_requests = summary.traffic.scim_requests, scim_retries = summary.traffic.scim_retries, "run finished")
        }
        Some(e) => warn!(tenant = %summary.tenant, run = summary.run_id, error = %e, "run failed"),
    }
    if summary.outcome != Outcome::Failed {
        state.backoff.reset();
    }
    state.slot = None;
    state.args.status.finished(&summary);
    let health = state.health.clone();
    state.args.status.update(&summary.tenant, |s| {
        s.next_run_at = chrono::Duration::from_std(delay).ok().map(|d| Utc::now() + d);
        if health.quarantine.is_some() {
            s.state = TenantState::Quarantined;
        }
        s.consecutive_failures = health.consecutive_failures;
        s.quarantine = health.quarantine;
    });
    if let Some(n) = &state.notifier {
        let _ = n.cast(NotifierMsg::RunEnded(Box::new(summary.clone())));
    }
    for waiter in state.waiters.drain(..) {
        let _ = waiter.send(summary.clone());
    }
    state.next_tick = Some(myself.send_after(delay, || TenantMsg::Tick));
    Ok(())
}

/// Releases or drops held deactivations, unless a run is in progress; the tenant is back
/// to `ok` once nothing is held (`degraded` when some could not be deactivated).
pub(crate) async fn approve(state: &mut TenantSupervisorState, run: u64, reject: bool) -> Result<String, String> {
    if state.run.is_some() {
        return Err("a run is in progress; approve once it has ended".to_string());
    }
    let store = state.args.store.as_ref();
    let tenant = state.args.spec.id.clone();
    let (message, state_after) = if reject {
        let n = crate::approve::reject_held(store, run)
            .await
            .map_err(|e| e.to_string())?;
        info!(tenant = %tenant, run, dropped = n, "held deactivations dropped");
        (
            format!("tenant {tenant} run {run}: {n} held deactivation(s) dropped"),
            TenantState::Ok,
        )
    } else {
        let (spec, res, retry) = (&state.args.spec, &state.args.resources, state.args.retry.clone());
        let released = crate::approve::approve_on_target(spec, store, res, retry, run)
            .await
            .map_err(|e| e.to_string())?;
        info!(tenant = %tenant, run, deactivated = released.deactivated.len(), failed = released.failed.len(), "held deactivations released");
        let after = if released.failed.is_empty() {
            TenantState::Ok
        } else {
            TenantState::Degraded
        };
        (released.summary(&tenant, run), after)
    };
    state.args.status.update(&tenant, |s| {
        s.deactivations_held = 0;
        s.held_run = None;
        if s.state == TenantState::Held {
            s.state = state_after;
        }
    });
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_deactivations_make_the_run_held_even_with_failures() {
        let failure = RecordFailure {
            employee_id: "E1".into(),
            reason: "no email".into(),
        };
        let held = Counts {
            held: 80,
            ..Counts::default()
        };
        assert_eq!(completed_outcome(&held, &[]), Outcome::Held);
        assert_eq!(completed_outcome(&held, std::slice::from_ref(&failure)), Outcome::Held);
        assert_eq!(completed_outcome(&Counts::default(), &[]), Outcome::Ok);
        assert_eq!(
            completed_outcome(&Counts::default(), &[failure]),
            Outcome::CompletedWithFailures
        );
    }
}
