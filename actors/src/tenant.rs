//! The tenant supervisor: owns one tenant's pipeline (fetcher → mapper → writer) and its
//! notifier, starts runs on schedule or on demand, and restarts what crashes.
//!
//! Receives [`TenantMsg`]: `Tick` (its schedule), `RunNow` (root / CLI), `RunCompleted`
//! (writer), `RunFailed` (fetcher or writer), `Respawn` (itself, after a backoff),
//! `SyncEmployee` (root: one person now, see `one_sync`; refused during a full run),
//! `FeedTick` / `FeedStep` (itself: the change feed, see `change_feed`). Sends
//! `FetcherMsg::Start` to begin a run and `NotifierMsg::RunEnded` when one ends. One-person
//! syncs and change-feed steps run inside this actor's handler, one at a time, so they never
//! overlap a full run of the tenant.
//!
//! How a run ends (outcome, health, quarantine, reports) is in `run_end`; the first-run
//! review, computed by a supervised child actor, in `review_actor`. The run health is loaded
//! from the store at start, so a quarantine outlives a restart.
//!
//! The writer is the SCIM [`Writer`] or the [`FileWriter`], per the tenant's target; both keep
//! the writer contract (`writer::RosterWriter`), so the rest of the pipeline is the same.
//!
//! Supervision: when a pipeline actor fails (error or panic), the whole pipeline is stopped
//! and respawned after an exponential backoff (1 s doubling to 5 min) with a new generation;
//! a run in progress resumes from its committed cursor. Messages of an older generation
//! are ignored. After [`MAX_CRASHES_PER_RUN`] crashes the run is reported failed. The rate
//! limiters live in [`TenantResources`], owned above this actor, so no restart resets them.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tracing::{debug, error, info, warn};

use crate::change_feed::{ChangeFeed, FeedCtx, FeedNext};
use crate::error::RunFailure;
use crate::faults::FaultHook;
use crate::fetcher::{Fetcher, FetcherArgs, FetcherMsg};
use crate::file_writer::{FileWriter, FileWriterArgs};
use crate::mailer::Mailer;
use crate::mapper::{Mapper, MapperArgs, MapperMsg};
use crate::model::{Counts, RecordFailure, RunCtx, RunSummary, Traffic};
use crate::notifier::{Notifier, NotifierArgs, NotifierMsg};
use crate::one_sync::{self, OneSyncError, OneSyncReport, SyncCtx};
use crate::plan::PlanReport;
use crate::quarantine::Health;
pub use crate::resources::TenantResources;
use crate::restart::{stopped_child, Backoff};
use crate::review::{self, Need};
use crate::review_actor::{approve_review, end_review, finish_review, start_review, ReviewMsg};
use crate::run_end::{self, finish_run, Ending};
use crate::run_storage;
use crate::scim::ScimClient;
use crate::spec::{TargetSpec, TenantSpec};
use crate::status::{StatusBoard, TenantState};
use crate::store::ProgressStore;
use crate::ukg::UkgClient;
use crate::upstream::RetryPolicy;
use crate::writer::{RosterWriter, Writer, WriterArgs, WriterMsg};

/// Pipeline crashes within one run after which the run is reported failed.
pub const MAX_CRASHES_PER_RUN: u32 = 5;

/// Messages the tenant supervisor receives.
pub enum TenantMsg {
    /// The schedule fired: start a run unless one is in progress.
    Tick,
    /// Start a run now, or join the one in progress; its summary goes to the reply port.
    RunNow(Option<RpcReplyPort<RunSummary>>),
    /// From the writer: every page of the run is applied.
    RunCompleted {
        run: RunCtx,
        counts: Counts,
        failures: Vec<RecordFailure>,
        /// Employees out of scope, with their rule.
        excluded: Vec<RecordFailure>,
        pages: u32,
    },
    /// From the fetcher or the writer: the run cannot complete.
    /// `auth` when credentials were refused (the tenant is quarantined at once).
    RunFailed { run: RunCtx, error: RunFailure },
    /// Respawn the pipeline (sent to itself after a backoff).
    Respawn,
    /// From the review task: the first-run review's plan, or why it could not be made.
    Reviewed(Result<Box<(review::Review, PlanReport)>, String>),
    /// Approve (or, with `reject`, discard) the plan waiting for review; an approved plan
    /// is applied at once.
    ApproveReview {
        reject: bool,
        reply: RpcReplyPort<Result<String, String>>,
    },
    /// Release (or drop) the deactivations that run `run` held (admin API).
    Approve {
        run: u64,
        reject: bool,
        reply: RpcReplyPort<Result<String, String>>,
    },
    /// Sync one employee now (admin API), refused while a full run is in progress.
    SyncEmployee {
        employee_id: String,
        reply: RpcReplyPort<Result<OneSyncReport, OneSyncError>>,
    },
    /// The change feed's timer (sent to itself).
    FeedTick,
    /// Apply the next employee of the change feed's window (sent to itself).
    FeedStep,
}

impl std::fmt::Debug for TenantMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TenantMsg::Tick => write!(f, "Tick"),
            TenantMsg::RunNow(_) => write!(f, "RunNow"),
            TenantMsg::RunCompleted { run, .. } => write!(f, "RunCompleted({})", run.run_id),
            TenantMsg::RunFailed { run, .. } => write!(f, "RunFailed({})", run.run_id),
            TenantMsg::Respawn => write!(f, "Respawn"),
            TenantMsg::Reviewed(_) => write!(f, "Reviewed"),
            TenantMsg::ApproveReview { reject, .. } => write!(f, "ApproveReview(reject: {reject})"),
            TenantMsg::Approve { run, .. } => write!(f, "Approve({run})"),
            TenantMsg::SyncEmployee { employee_id, .. } => write!(f, "SyncEmployee({employee_id})"),
            TenantMsg::FeedTick => write!(f, "FeedTick"),
            TenantMsg::FeedStep => write!(f, "FeedStep"),
        }
    }
}

pub struct TenantSupervisor;

pub struct TenantArgs {
    pub spec: TenantSpec,
    pub store: Arc<dyn ProgressStore>,
    pub status: StatusBoard,
    pub resources: TenantResources,
    pub mailer: Option<Arc<Mailer>>,
    /// Start a run as soon as the tenant is up, then follow the schedule.
    pub autostart: bool,
    /// Retry policy of the API clients.
    pub retry: RetryPolicy,
    /// Test-only panic points (None in the service).
    pub faults: Option<Arc<FaultHook>>,
    /// Slots for runs across all tenants (the global cap); None: no cap.
    pub run_slots: Option<Arc<tokio::sync::Semaphore>>,
    /// The first run starts after a random delay up to this (so many tenants do not all
    /// start at once); later runs are spread by up to 5 % of the interval (at most 15 min).
    pub start_spread: Duration,
}

/// The running pipeline of one generation.
pub(crate) struct Pipeline {
    pub(crate) generation: u64,
    fetcher: ActorRef<FetcherMsg>,
    mapper: ActorRef<MapperMsg>,
    writer: ActorRef<WriterMsg>,
}

impl Pipeline {
    fn contains(&self, cell: &ActorCell) -> bool {
        let id = cell.get_id();
        id == self.fetcher.get_id() || id == self.mapper.get_id() || id == self.writer.get_id()
    }

    async fn stop(self) {
        for cell in [self.fetcher.get_cell(), self.mapper.get_cell(), self.writer.get_cell()] {
            if cell.stop_and_wait(None, Some(Duration::from_secs(30))).await.is_err() {
                cell.kill();
            }
        }
    }
}

/// The run in progress.
pub(crate) struct ActiveRun {
    pub(crate) ctx: RunCtx,
    /// Request counters when the run started.
    pub(crate) baseline: Traffic,
    pub(crate) crashes: u32,
}

pub struct TenantSupervisorState {
    pub(crate) args: TenantArgs,
    pub(crate) pipeline: Option<Pipeline>,
    pub(crate) notifier: Option<ActorRef<NotifierMsg>>,
    pub(crate) run: Option<ActiveRun>,
    /// A run was asked for while the pipeline was down.
    run_requested: bool,
    /// A first-run review's plan is being computed (by `review_worker`).
    pub(crate) reviewing: bool,
    /// The supervised child computing the first-run review, while it runs.
    pub(crate) review_worker: Option<ActorRef<ReviewMsg>>,
    pub(crate) waiters: Vec<RpcReplyPort<RunSummary>>,
    pub(crate) backoff: Backoff,
    /// Failures in a row and quarantine: loaded from the store at start, stored on change.
    pub(crate) health: Health,
    /// This tenant's slot under the global cap while a run is in progress.
    pub(crate) slot: Option<tokio::sync::OwnedSemaphorePermit>,
    restarts: u64,
    pub(crate) next_tick: Option<tokio::task::JoinHandle<Result<(), ractor::MessagingErr<TenantMsg>>>>,
    /// The change feed (off unless `changes_every` is set and the tenant runs as a service).
    feed: ChangeFeed,
    feed_tick: Option<tokio::task::JoinHandle<Result<(), ractor::MessagingErr<TenantMsg>>>>,
}

impl Actor for TenantSupervisor {
    type Msg = TenantMsg;
    type State = TenantSupervisorState;
    type Arguments = TenantArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: TenantArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let feed = ChangeFeed::new(args.spec.changes_every.filter(|_| args.autostart));
        let health = run_end::load_health(&args);
        let mut state = TenantSupervisorState {
            args,
            pipeline: None,
            notifier: None,
            run: None,
            run_requested: false,
            reviewing: false,
            review_worker: None,
            waiters: Vec::new(),
            backoff: Backoff::default(),
            health,
            slot: None,
            restarts: 0,
            next_tick: None,
            feed,
            feed_tick: None,
        };
        spawn_notifier(&myself, &mut state).await;
        if let Err(e) = spawn_pipeline(&myself, &mut state).await {
            warn!(tenant = %state.args.spec.id, error = %e, "pipeline did not start; retrying");
            schedule_respawn(&myself, &mut state);
        }
        Ok(state)
    }

    async fn post_start(&self, myself: ActorRef<Self::Msg>, state: &mut Self::State) -> Result<(), ActorProcessingErr> {
        if state.args.autostart {
            let mut delay = random_up_to(state.args.start_spread);
            // A tenant quarantined before a restart waits for its due time.
            if let Some(wait) = state.health.wait_left(Utc::now()) {
                info!(tenant = %state.args.spec.id, wait_s = wait.as_secs(), "tenant quarantined before the restart; next run at its due time");
                delay = delay.max(wait);
            }
            state.next_tick = Some(myself.send_after(delay, || TenantMsg::Tick));
        }
        let (ukg, scim) = clients(&state.args);
        let Some(scim) = scim else {
            // A user-file tenant has no change feed (the config refuses `changes_every`).
            return Ok(());
        };
        let ctx = feed_ctx(&state.args, &ukg, &scim, false);
        let first = match state.feed.first_tick(&ctx) {
            Ok(first) => first,
            Err(e) => {
                warn!(tenant = %state.args.spec.id, error = %e, "cannot read the change feed's state; trying again in a minute");
                Some(Duration::from_secs(60))
            }
        };
        if let Some(delay) = first {
            state.feed_tick = Some(myself.send_after(delay, || TenantMsg::FeedTick));
        }
        Ok(())
    }

    /// A clean stop (shutdown). Ractor kills a stopped actor's children without their
    /// `post_stop`, so stop the pipeline here first — each actor finishes the message in
    /// hand, so a writer finishes and commits its page — then let the notifier send what it
    /// holds.
    async fn post_stop(&self, _myself: ActorRef<Self::Msg>, state: &mut Self::State) -> Result<(), ActorProcessingErr> {
        if let Some(t) = state.next_tick.take() {
            t.abort();
        }
        if let Some(t) = state.feed_tick.take() {
            t.abort();
        }
        if let Some(pipeline) = state.pipeline.take() {
            pipeline.stop().await;
        }
        if let Some(notifier) = state.notifier.take() {
            let _ = notifier.drain_and_wait(Some(Duration::from_secs(30))).await;
        }
        state.args.status.update(&state.args.spec.id, |s| s.up = false);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: TenantMsg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TenantMsg::Tick => request_run(&myself, state, None).await?,
            TenantMsg::RunNow(reply) => request_run(&myself, state, reply).await?,
            TenantMsg::RunCompleted {
                run,
                counts,
                failures,
                excluded,
                pages,
            } => {
                if !is_current(state, &run) {
                    return Ok(());
                }
                finish_run(
                    &myself,
                    state,
                    Ending::Completed {
                        counts,
                        failures,
                        excluded,
                        pages,
                    },
                )
                .await?;
            }
            TenantMsg::RunFailed { run, error } => {
                if !is_current(state, &run) {
                    return Ok(());
                }
                finish_run(&myself, state, Ending::Failed(error)).await?;
            }
            TenantMsg::Approve { run, reject, reply } => {
                let outcome = run_end::approve(state, run, reject).await;
                let _ = reply.send(outcome);
            }
            TenantMsg::Reviewed(result) => {
                state.reviewing = false;
                state.review_worker = None;
                finish_review(&myself, state, result).await?;
            }
            TenantMsg::ApproveReview { reject, reply } => {
                let outcome = approve_review(&myself, state, reject).await;
                let _ = reply.send(outcome);
            }
            TenantMsg::SyncEmployee { employee_id, reply } => {
                let outcome = sync_employee(state, &employee_id).await;
                let _ = reply.send(outcome);
            }
            TenantMsg::FeedTick => feed(&myself, state, true).await?,
            TenantMsg::FeedStep => feed(&myself, state, false).await?,
            TenantMsg::Respawn => {
                if state.pipeline.is_some() {
                    return Ok(());
                }
                if let Err(e) = state.args.store.recover() {
                    warn!(tenant = %state.args.spec.id, error = %e, "the store is still failing");
                }
                match spawn_pipeline(&myself, state).await {
                    Ok(()) => {
                        if state.run.is_some() || state.run_requested {
                            state.run_requested = false;
                            start_run(&myself, state).await?;
                        }
                    }
                    Err(e) => {
                        warn!(tenant = %state.args.spec.id, error = %e, "pipeline did not start; retrying");
                        if let Some(error) = run_storage::storage_reason(&e.to_string()) {
                            fail_unstarted(&myself, state, RunFailure::Storage(error)).await?;
                        }
                        schedule_respawn(&myself, state);
                    }
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let failed = matches!(event, SupervisionEvent::ActorFailed(..));
        let Some((cell, reason)) = stopped_child(event) else {
            return Ok(());
        };
        let tenant = state.args.spec.id.clone();
        if state
            .review_worker
            .as_ref()
            .is_some_and(|w| w.get_id() == cell.get_id())
        {
            // A clean stop follows its `Reviewed` message, which ends the review.
            state.review_worker = None;
            if failed && state.reviewing {
                state.reviewing = false;
                error!(tenant = %tenant, %reason, "first-run review crashed");
                let error = format!("the review stopped unexpectedly ({reason})");
                finish_review(&myself, state, Err(error)).await?;
            }
            return Ok(());
        }
        if state.notifier.as_ref().is_some_and(|n| n.get_id() == cell.get_id()) {
            warn!(tenant = %tenant, %reason, "notifier stopped; restarting it");
            state.notifier = None;
            spawn_notifier(&myself, state).await;
            return Ok(());
        }
        if !state.pipeline.as_ref().is_some_and(|p| p.contains(&cell)) {
            // An actor of an older generation, stopped by us.
            return Ok(());
        }
        let actor = cell.get_name().unwrap_or_else(|| "pipeline actor".to_string());
        error!(tenant = %tenant, actor = %actor, %reason, "pipeline actor crashed; restarting the pipeline");
        if let Some(pipeline) = state.pipeline.take() {
            pipeline.stop().await;
        }
        state.restarts += 1;
        let restarts = state.restarts;
        state.args.status.update(&tenant, |s| {
            s.restarts = restarts;
            s.up = false;
        });
        if let Some(run) = state.run.as_mut() {
            run.crashes += 1;
            // A failing store fails the run at once: restarting cannot help until a person
            // (or free space) does; the next run reopens the store (`recover`).
            let storage = run_storage::storage_reason(&reason);
            if storage.is_some() || run.crashes >= MAX_CRASHES_PER_RUN {
                let error = match storage {
                    Some(s) => RunFailure::Storage(s),
                    None => RunFailure::Crashed(format!(
                        "the sync crashed {} times in this run (last: {actor}: {reason})",
                        run.crashes
                    )),
                };
                finish_run(&myself, state, Ending::Failed(error)).await?;
            }
        }
        schedule_respawn(&myself, state);
        Ok(())
    }
}

/// A random duration in `0..=max`.
pub(crate) fn random_up_to(max: Duration) -> Duration {
    use rand::Rng;
    if max.is_zero() {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::rng().random_range(0..=max.as_millis().min(u64::MAX as u128) as u64))
}

/// The tenant's API clients, on its own rate limiters and counters (no SCIM client for a
/// tenant that writes a user file).
fn clients(args: &TenantArgs) -> (UkgClient, Option<ScimClient>) {
    let res = &args.resources;
    let ukg = UkgClient::new(args.spec.ukg.clone(), res.ukg_limiter.clone(), res.ukg_counters.clone())
        .with_retry_policy(args.retry.clone());
    let scim = args.spec.target.scim().map(|s| {
        ScimClient::new(s.clone(), res.scim_limiter.clone(), res.scim_counters.clone())
            .with_retry_policy(args.retry.clone())
    });
    (ukg, scim)
}

fn feed_ctx<'a>(args: &'a TenantArgs, ukg: &'a UkgClient, scim: &'a ScimClient, run_in_progress: bool) -> FeedCtx<'a> {
    FeedCtx {
        sync: SyncCtx {
            spec: &args.spec,
            store: args.store.as_ref(),
            ukg,
            scim,
        },
        status: &args.status,
        run_in_progress,
    }
}

/// One person now, unless a full run is in progress (its creates could race ours).
async fn sync_employee(state: &TenantSupervisorState, employee_id: &str) -> Result<OneSyncReport, OneSyncError> {
    if let Some(run) = &state.run {
        return Err(OneSyncError::RunInProgress {
            tenant: state.args.spec.id.clone(),
            run: run.ctx.run_id,
        });
    }
    let (ukg, scim) = clients(&state.args);
    let Some(scim) = scim else {
        return Err(OneSyncError::NotScim(state.args.spec.id.clone()));
    };
    let ctx = SyncCtx {
        spec: &state.args.spec,
        store: state.args.store.as_ref(),
        ukg: &ukg,
        scim: &scim,
    };
    one_sync::sync_employee(&ctx, employee_id).await
}

/// A change-feed tick (`tick`) or step, then what the feed asks for next.
async fn feed(
    myself: &ActorRef<TenantMsg>,
    state: &mut TenantSupervisorState,
    tick: bool,
) -> Result<(), ActorProcessingErr> {
    let every = state.args.spec.changes_every.unwrap_or(Duration::from_secs(3 * 3600));
    // A plan awaiting (or approved for) first-run review comes first: the feed would write
    // around it.
    if !matches!(review::need(&state.args.spec, state.args.store.as_ref())?, Need::None) {
        debug!(tenant = %state.args.spec.id, "change feed waits: a first-run review is pending");
        schedule_feed_tick(myself, state, every);
        return Ok(());
    }
    let (ukg, scim) = clients(&state.args);
    // The config refuses `changes_every` for a user-file tenant.
    let Some(scim) = scim else {
        return Ok(());
    };
    let ctx = feed_ctx(&state.args, &ukg, &scim, state.run.is_some());
    let next = if tick {
        state.feed.tick(&ctx).await?
    } else {
        state.feed.step(&ctx).await?
    };
    match next {
        FeedNext::Nothing => {}
        FeedNext::Step => myself.cast(TenantMsg::FeedStep)?,
        FeedNext::TickIn(delay) => schedule_feed_tick(myself, state, delay),
        FeedNext::FullRun(delay) => {
            schedule_feed_tick(myself, state, delay);
            request_run(myself, state, None).await?;
        }
    }
    Ok(())
}

fn schedule_feed_tick(myself: &ActorRef<TenantMsg>, state: &mut TenantSupervisorState, delay: Duration) {
    if let Some(t) = state.feed_tick.take() {
        t.abort();
    }
    state.feed_tick = Some(myself.send_after(delay, || TenantMsg::FeedTick));
}

fn is_current(state: &TenantSupervisorState, run: &RunCtx) -> bool {
    state
        .run
        .as_ref()
        .is_some_and(|r| r.ctx.run_id == run.run_id && r.ctx.generation == run.generation)
}

fn schedule_respawn(myself: &ActorRef<TenantMsg>, state: &mut TenantSupervisorState) {
    let delay = state.backoff.next_delay();
    info!(tenant = %state.args.spec.id, delay_ms = delay.as_millis() as u64, "pipeline respawn scheduled");
    myself.send_after(delay, || TenantMsg::Respawn);
}

async fn spawn_notifier(myself: &ActorRef<TenantMsg>, state: &mut TenantSupervisorState) {
    let spec = &state.args.spec;
    let args = NotifierArgs {
        tenant: spec.id.clone(),
        contact: spec.technical_contact.clone(),
        mailer: state.args.mailer.clone(),
        store: state.args.store.clone(),
        status: state.args.status.clone(),
    };
    match Actor::spawn_linked(Some(format!("{}/notifier", spec.id)), Notifier, args, myself.get_cell()).await {
        Ok((notifier, _)) => state.notifier = Some(notifier),
        Err(e) => {
            warn!(tenant = %spec.id, error = %e, "notifier did not start; reports will only be logged")
        }
    }
}

/// Spawns writer, mapper and fetcher (back to front), each linked to this supervisor.
async fn spawn_pipeline(
    myself: &ActorRef<TenantMsg>,
    state: &mut TenantSupervisorState,
) -> Result<(), ActorProcessingErr> {
    let args = &state.args;
    let id = &args.spec.id;
    let generation = args.store.next_generation()?;
    let res = &args.resources;
    let ukg = UkgClient::new(args.spec.ukg.clone(), res.ukg_limiter.clone(), res.ukg_counters.clone())
        .with_retry_policy(args.retry.clone());
    let sup = myself.get_cell();
    let name = format!("{id}/writer");
    let writer = match &args.spec.target {
        TargetSpec::Scim(scim_spec) => {
            let scim = ScimClient::new(scim_spec.clone(), res.scim_limiter.clone(), res.scim_counters.clone())
                .with_retry_policy(args.retry.clone());
            let writer_args = WriterArgs {
                store: args.store.clone(),
                scim,
                tenant: myself.clone(),
                concurrency: scim_spec.concurrency,
                brake: args.spec.brake.clone(),
                status: args.status.clone(),
                faults: args.faults.clone(),
            };
            spawn_writer(name, Writer, writer_args, sup.clone()).await?
        }
        TargetSpec::File(file_spec) => {
            let writer_args = FileWriterArgs {
                store: args.store.clone(),
                spec: file_spec.clone(),
                tenant: myself.clone(),
                timezone: args.spec.timezone,
                brake: args.spec.brake.clone(),
                status: args.status.clone(),
                faults: args.faults.clone(),
            };
            spawn_writer(name, FileWriter, writer_args, sup.clone()).await?
        }
    };
    let mapper = Actor::spawn_linked(
        Some(format!("{id}/mapper")),
        Mapper,
        MapperArgs {
            store: args.store.clone(),
            writer: writer.clone(),
            timezone: args.spec.timezone,
            mapping: args.spec.mapping.clone(),
            scope: args.spec.scope.clone(),
            faults: args.faults.clone(),
        },
        sup.clone(),
    )
    .await;
    let (mapper, _) = match mapper {
        Ok(m) => m,
        Err(e) => {
            writer.stop(None);
            return Err(e.into());
        }
    };
    let fetcher = Actor::spawn_linked(
        Some(format!("{id}/fetcher")),
        Fetcher,
        FetcherArgs {
            client: ukg,
            department_org_level: args.spec.ukg.department_org_level,
            mapper: mapper.clone(),
            tenant: myself.clone(),
            store: args.store.clone(),
            brake: args.spec.brake.clone(),
        },
        sup,
    )
    .await;
    let (fetcher, _) = match fetcher {
        Ok(f) => f,
        Err(e) => {
            writer.stop(None);
            mapper.stop(None);
            return Err(e.into());
        }
    };
    state.pipeline = Some(Pipeline {
        generation,
        fetcher,
        mapper,
        writer,
    });
    args.status.update(id, |s| s.up = true);
    info!(tenant = %id, generation, "pipeline up");
    Ok(())
}

/// Spawns a writer (either kind: both take `WriterMsg`) linked to the tenant supervisor.
async fn spawn_writer<W: RosterWriter>(
    name: String,
    writer: W,
    args: W::Arguments,
    sup: ActorCell,
) -> Result<ActorRef<WriterMsg>, ractor::SpawnErr> {
    Ok(Actor::spawn_linked(Some(name), writer, args, sup).await?.0)
}

async fn request_run(
    myself: &ActorRef<TenantMsg>,
    state: &mut TenantSupervisorState,
    reply: Option<RpcReplyPort<RunSummary>>,
) -> Result<(), ActorProcessingErr> {
    state.waiters.extend(reply);
    if state.run.is_some() || state.reviewing {
        return Ok(());
    }
    if let Some(t) = state.next_tick.take() {
        t.abort();
    }
    if state.slot.is_none() {
        if let Some(slots) = &state.args.run_slots {
            match slots.clone().try_acquire_owned() {
                Ok(permit) => state.slot = Some(permit),
                Err(_) => {
                    // Every slot is taken: try again shortly, without blocking the mailbox.
                    let wait = Duration::from_millis(500) + random_up_to(Duration::from_millis(1500));
                    debug!(tenant = %state.args.spec.id, wait_ms = wait.as_millis() as u64, "run waits for a slot under the global cap");
                    state.next_tick = Some(myself.send_after(wait, || TenantMsg::Tick));
                    return Ok(());
                }
            }
        }
    }
    if state.pipeline.is_none() {
        state.run_requested = true;
        return Ok(());
    }
    start_run(myself, state).await
}

/// Begins (or resumes) a run on the current pipeline — or, when the tenant asks for a
/// first-run review, computes the plan to review instead (or waits for its approval).
async fn start_run(myself: &ActorRef<TenantMsg>, state: &mut TenantSupervisorState) -> Result<(), ActorProcessingErr> {
    let Some(pipeline) = state.pipeline.as_ref() else {
        state.run_requested = true;
        return Ok(());
    };
    if state.run.is_none() {
        match review::need(&state.args.spec, state.args.store.as_ref())? {
            Need::None | Need::Approved => {}
            Need::Waiting(r) => {
                info!(tenant = %state.args.spec.id, "plan awaiting review; nothing run (approve with `hrsync approve --tenant`)");
                end_review(myself, state, &r.summary);
                return Ok(());
            }
            Need::Compute => {
                return start_review(myself, state).await;
            }
        }
    }
    let cursor = match state
        .args
        .store
        .recover()
        .and_then(|()| state.args.store.begin_run(Utc::now()))
    {
        Ok(c) => c,
        Err(e) => {
            let gen = pipeline.generation;
            let ctx = unstarted_run(state, gen);
            myself.cast(TenantMsg::RunFailed {
                run: ctx,
                error: RunFailure::from(&e),
            })?;
            return Ok(());
        }
    };
    let ctx = RunCtx {
        tenant: state.args.spec.id.clone(),
        run_id: cursor.run_id,
        started_at: cursor.started_at,
        generation: pipeline.generation,
    };
    let crashes = state.run.as_ref().map_or(0, |r| r.crashes);
    let baseline = match &state.run {
        Some(r) => r.baseline,
        None => state.args.resources.traffic(),
    };
    info!(tenant = %ctx.tenant, run = ctx.run_id, resume_after = cursor.pages_committed, "run starting");
    state.args.status.update(&ctx.tenant, |s| {
        s.state = TenantState::Running;
        s.current_run = Some(ctx.run_id);
        s.next_run_at = None;
    });
    pipeline.fetcher.cast(FetcherMsg::Start {
        run: ctx.clone(),
        resume_after: cursor.pages_committed,
    })?;
    state.run = Some(ActiveRun { ctx, baseline, crashes });
    Ok(())
}
/// Makes `state.run` a run that could not start (the store failed), so that ending it
/// answers the waiters with a failed summary.
fn unstarted_run(state: &mut TenantSupervisorState, generation: u64) -> RunCtx {
    state.run_requested = false;
    let run_id = state
        .args
        .store
        .cursor()
        .ok()
        .flatten()
        .map_or(0, |c| c.run_id + u64::from(c.complete));
    let ctx = RunCtx {
        tenant: state.args.spec.id.clone(),
        run_id,
        started_at: Utc::now(),
        generation,
    };
    let crashes = state.run.as_ref().map_or(0, |r| r.crashes);
    let baseline = state.args.resources.traffic();
    state.run = Some(ActiveRun {
        ctx: ctx.clone(),
        baseline,
        crashes,
    });
    ctx
}

/// Ends, failed, a run the store kept from starting.
async fn fail_unstarted(
    myself: &ActorRef<TenantMsg>,
    state: &mut TenantSupervisorState,
    error: RunFailure,
) -> Result<(), ActorProcessingErr> {
    if state.run.is_none() && (state.run_requested || !state.waiters.is_empty()) {
        unstarted_run(state, 0);
    }
    finish_run(myself, state, Ending::Failed(error)).await
}
