//! The first-run review, for the tenant supervisor: its plan is computed by a
//! [`ReviewWorker`], a child actor linked to the supervisor (never a bare task), so the
//! supervisor's mailbox stays responsive and a crash is seen: an error or a panic while
//! computing ends the review like a failed run (status, email) and the tenant runs again.
//!
//! The worker receives [`ReviewMsg::Compute`] (from itself, once started), sends
//! `TenantMsg::Reviewed` with the plan or why it could not be made, then stops. A panic
//! reaches the supervisor as `SupervisionEvent::ActorFailed` (see
//! `TenantSupervisor::handle_supervisor_evt`), which calls [`finish_review`] with the error.

use std::sync::Arc;

use chrono::Utc;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tracing::{info, warn};

use crate::error::RunFailure;
use crate::faults::{self, FaultHook, PanicPoint};
use crate::model::{Counts, Outcome, RunCtx, RunSummary, Traffic};
use crate::notifier::NotifierMsg;
use crate::plan::PlanReport;
use crate::review::{self, Review, ReviewSummary};
use crate::run_end::{finish_run, Ending};
use crate::scim::ScimClient;
use crate::spec::TenantSpec;
use crate::status::TenantState;
use crate::store::ProgressStore;
use crate::tenant::{ActiveRun, TenantMsg, TenantSupervisorState};
use crate::ukg::UkgClient;

/// Messages the review worker receives.
#[derive(Debug)]
pub enum ReviewMsg {
    /// Compute the plan, send it to the tenant supervisor, stop (sent to itself at start).
    Compute,
}

/// Computes one first-run review's plan, then stops.
pub struct ReviewWorker;

/// What the worker needs; taken by its one `Compute`.
pub struct ReviewArgs {
    pub spec: TenantSpec,
    pub store: Arc<dyn ProgressStore>,
    pub ukg: UkgClient,
    /// The app's users sort creates into adoptions and conflicts; a user file has none.
    pub scim: Option<ScimClient>,
    /// Where `TenantMsg::Reviewed` goes.
    pub tenant: ActorRef<TenantMsg>,
    /// Test-only panic points (None in the service).
    pub faults: Option<Arc<FaultHook>>,
}

impl Actor for ReviewWorker {
    type Msg = ReviewMsg;
    type State = Option<ReviewArgs>;
    type Arguments = ReviewArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<ReviewMsg>,
        args: ReviewArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        myself.cast(ReviewMsg::Compute)?;
        Ok(Some(args))
    }

    async fn handle(
        &self,
        myself: ActorRef<ReviewMsg>,
        msg: ReviewMsg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let ReviewMsg::Compute = msg;
        let Some(args) = state.take() else {
            return Ok(());
        };
        faults::check(&args.faults, || PanicPoint::Review {
            tenant: args.spec.id.clone(),
        });
        let result = review::compute(&args.spec, args.store.as_ref(), &args.ukg, args.scim.as_ref())
            .await
            .map(Box::new)
            .map_err(|e| e.to_string());
        args.tenant.cast(TenantMsg::Reviewed(result))?;
        myself.stop(None);
        Ok(())
    }
}

/// Starts a [`ReviewWorker`] linked to the supervisor; the result comes back as
/// `TenantMsg::Reviewed` (or, if the worker crashes, as a supervision event). A worker that
/// cannot start ends the review with that error at once.
pub(crate) async fn start_review(
    myself: &ActorRef<TenantMsg>,
    state: &mut TenantSupervisorState,
) -> Result<(), ActorProcessingErr> {
    state.reviewing = true;
    let tenant = state.args.spec.id.clone();
    info!(tenant = %tenant, "first-run review: computing the plan (nothing is written)");
    state.args.status.update(&tenant, |s| {
        s.state = TenantState::Running;
        s.next_run_at = None;
    });
    let spec = state.args.spec.clone();
    let res = &state.args.resources;
    let ukg = UkgClient::new(spec.ukg.clone(), res.ukg_limiter.clone(), res.ukg_counters.clone())
        .with_retry_policy(state.args.retry.clone());
    let scim = spec.target.scim().map(|s| {
        ScimClient::new(s.clone(), res.scim_limiter.clone(), res.scim_counters.clone())
            .with_retry_policy(state.args.retry.clone())
    });
    let args = ReviewArgs {
        spec,
        store: state.args.store.clone(),
        ukg,
        scim,
        tenant: myself.clone(),
        faults: state.args.faults.clone(),
    };
    // Unnamed: a review of this tenant may still be stopping when the next one starts.
    match Actor::spawn_linked(None, ReviewWorker, args, myself.get_cell()).await {
        Ok((worker, _)) => {
            state.review_worker = Some(worker);
            Ok(())
        }
        Err(e) => {
            warn!(tenant = %tenant, error = %e, "first-run review did not start");
            state.reviewing = false;
            finish_review(myself, state, Err(format!("the review did not start ({e})"))).await
        }
    }
}

/// Stores the computed review, emails it and answers the waiters; a failure to compute it
/// ends like a failed run.
pub(crate) async fn finish_review(
    myself: &ActorRef<TenantMsg>,
    state: &mut TenantSupervisorState,
    result: Result<Box<(Review, PlanReport)>, String>,
) -> Result<(), ActorProcessingErr> {
    let (review, report) = match result {
        Ok(r) => *r,
        Err(error) => {
            // Reported like a failed run (health, email), without a run id of its own.
            let run = RunCtx {
                tenant: state.args.spec.id.clone(),
                run_id: state.args.store.cursor()?.map_or(1, |c| c.run_id + 1),
                started_at: Utc::now(),
                generation: state.pipeline.as_ref().map_or(0, |p| p.generation),
            };
            state.run = Some(ActiveRun {
                ctx: run,
                baseline: state.args.resources.traffic(),
                crashes: 0,
            });
            return finish_run(
                myself,
                state,
                Ending::Failed(RunFailure::Review(format!("first-run review: {error}"))),
            )
            .await;
        }
    };
    let tenant = state.args.spec.id.clone();
    state.args.store.set_review(Some(&review))?;
    state.args.store.flush().await?;
    info!(tenant = %tenant, plan = %review.summary.line(), "first-run review: plan stored; waiting for approval");
    if let Some(n) = &state.notifier {
        let email = review::review_email(&tenant, &review, &report);
        let signature = format!("review-{}-{}", review.fingerprint, review.created_at.timestamp());
        let _ = n.cast(NotifierMsg::Review {
            email: Box::new(email),
            signature,
        });
    }
    end_review(myself, state, &review.summary);
    Ok(())
}

/// A review step is over (computed, or still waiting): status, waiters, next tick.
pub(crate) fn end_review(myself: &ActorRef<TenantMsg>, state: &mut TenantSupervisorState, summary: &ReviewSummary) {
    let tenant = state.args.spec.id.clone();
    state.slot = None;
    let delay = state.args.spec.schedule;
    let now = Utc::now();
    let planned = RunSummary {
        tenant: tenant.clone(),
        run_id: 0,
        started_at: now,
        finished_at: now,
        outcome: Outcome::AwaitingReview,
        counts: Counts {
            read: summary.read,
            ..Counts::default()
        },
        failures: Vec::new(),
        excluded: Vec::new(),
        error: None,
        cause: None,
        review: Some(summary.clone()),
        pages: 0,
        traffic: Traffic::default(),
    };
    let summary = summary.clone();
    state.args.status.update(&tenant, |s| {
        s.state = TenantState::AwaitingReview;
        s.review = Some(summary);
        s.current_run = None;
        s.next_run_at = chrono::Duration::from_std(delay).ok().map(|d| Utc::now() + d);
    });
    for waiter in state.waiters.drain(..) {
        let _ = waiter.send(planned.clone());
    }
    state.next_tick = Some(myself.send_after(delay, || TenantMsg::Tick));
}

/// Approves (and starts applying) or discards the plan waiting for review.
pub(crate) async fn approve_review(
    myself: &ActorRef<TenantMsg>,
    state: &mut TenantSupervisorState,
    reject: bool,
) -> Result<String, String> {
    if state.run.is_some() || state.reviewing {
        return Err("a run is in progress; approve once it has ended".to_string());
    }
    let tenant = state.args.spec.id.clone();
    let store = state.args.store.clone();
    let message = review::decide(&state.args.spec, store.as_ref(), reject).map_err(|e| e.to_string())?;
    store.flush().await.map_err(|e| e.to_string())?;
    state.args.status.update(&tenant, |s| {
        s.review = None;
        if s.state == TenantState::AwaitingReview {
            s.state = TenantState::Idle;
        }
    });
    if !reject {
        let _ = myself.cast(TenantMsg::RunNow(None));
    }
    Ok(message)
}
