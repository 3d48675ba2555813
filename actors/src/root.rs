//! The root supervisor: spawns one tenant supervisor per tenant and restarts any that fails,
//! with backoff, without touching the others.
//!
//! Receives [`RootMsg`]: `RunNow`, `Approve` and `SyncEmployee` (forwarded to the tenant),
//! `Respawn` (itself, after a backoff), `Misconfigured` (at start, for a tenant whose config
//! cannot be used: shown and mailed, never started — see [`crate::misconfigured`]). Each
//! tenant's rate limiters are created here once, so a restarted tenant supervisor keeps its
//! quota.

use std::collections::BTreeMap;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tracing::{error, warn};

use crate::faults::FaultHook;
use crate::mailer::Mailer;
use crate::misconfigured::MisconfiguredTenant;
use crate::model::RunSummary;
use crate::notifier::NotifierMsg;
use crate::one_sync::{OneSyncError, OneSyncReport};
use crate::restart::{stopped_child, Backoff};
use crate::spec::{SmtpSpec, TenantSpec};
use crate::status::StatusBoard;
use crate::store::Store;
use crate::tenant::{TenantArgs, TenantMsg, TenantResources, TenantSupervisor};
use crate::upstream::RetryPolicy;

/// Messages the root supervisor receives.
pub enum RootMsg {
    /// Run one tenant now; its summary goes to `reply` (dropped when the tenant is unknown
    /// or down, which the caller sees as a closed reply port).
    RunNow {
        tenant: String,
        reply: RpcReplyPort<RunSummary>,
    },
    /// Release (or, with `reject`, drop) the deactivations that run `run` held; the outcome
    /// (a line for a person, or why not) goes to `reply`.
    Approve {
        tenant: String,
        run: u64,
        reject: bool,
        reply: RpcReplyPort<Result<String, String>>,
    },
    /// Approve (or discard) the plan awaiting a tenant's first-run review.
    ApproveReview {
        tenant: String,
        reject: bool,
        reply: RpcReplyPort<Result<String, String>>,
    },
    /// Sync one employee of a tenant now (admin API); what was done, or why not, goes to
    /// `reply`.
    SyncEmployee {
        tenant: String,
        employee_id: String,
        reply: RpcReplyPort<Result<OneSyncReport, OneSyncError>>,
    },
    /// Respawn a tenant supervisor (sent to itself after a backoff).
    Respawn { tenant: String },
    /// A tenant of the config file that cannot be used: it is not started, it is shown as
    /// misconfigured and its contact is told (sent once per tenant by whoever spawned the
    /// root, right after spawning it).
    Misconfigured(MisconfiguredTenant),
}

pub struct Supervisor;

pub struct RootArgs {
    pub tenants: Vec<TenantSpec>,
    pub store: Store,
    pub status: StatusBoard,
    pub smtp: Option<SmtpSpec>,
    /// Tenants run at start, then on their schedules (`hrsync run`); otherwise only on demand.
    pub autostart: bool,
    pub retry: RetryPolicy,
    /// Test-only panic points (None in the service).
    pub faults: Option<Arc<FaultHook>>,
    /// At most this many tenants run at once (None: no cap).
    pub max_concurrent_runs: Option<usize>,
    /// Spread of the first runs (see `TenantArgs::start_spread`).
    pub start_spread: std::time::Duration,
}

struct TenantEntry {
    spec: TenantSpec,
    resources: TenantResources,
    actor: Option<ActorRef<TenantMsg>>,
    backoff: Backoff,
}

pub struct RootState {
    tenants: BTreeMap<String, TenantEntry>,
    store: Store,
    status: StatusBoard,
    mailer: Option<Arc<Mailer>>,
    autostart: bool,
    retry: RetryPolicy,
    faults: Option<Arc<FaultHook>>,
    run_slots: Option<Arc<tokio::sync::Semaphore>>,
    start_spread: std::time::Duration,
    /// Misconfigured tenants: their error, and the notifier mailing it (if any).
    misconfigured: BTreeMap<String, (String, Option<ActorRef<NotifierMsg>>)>,
}

impl Actor for Supervisor {
    type Msg = RootMsg;
    type State = RootState;
    type Arguments = RootArgs;

    async fn pre_start(&self, myself: ActorRef<Self::Msg>, args: RootArgs) -> Result<Self::State, ActorProcessingErr> {
        let mailer = match &args.smtp {
            None => None,
            Some(spec) => match Mailer::new(spec) {
                Ok(m) => Some(Arc::new(m)),
                Err(e) => {
                    warn!(error = %e, "smtp settings unusable; reports will only be logged");
                    None
                }
            },
        };
        let tenants = args
            .tenants
            .into_iter()
            .map(|spec| {
                args.status.update(&spec.id, |_| {});
                let resources = TenantResources::new(&spec);
                args.status.register_counters(
                    &spec.id,
                    resources.ukg_counters.clone(),
                    resources.scim_counters.clone(),
                );
                let redactor = crate::sanitize::Redactor::for_tenant(&spec, args.smtp.as_ref());
                args.status.register_redactor(&spec.id, redactor);
                let entry = TenantEntry {
                    resources,
                    spec,
                    actor: None,
                    backoff: Backoff::default(),
                };
                (entry.spec.id.clone(), entry)
            })
            .collect();
        let mut state = RootState {
            tenants,
            store: args.store,
            status: args.status,
            mailer,
            autostart: args.autostart,
            retry: args.retry,
            faults: args.faults,
            run_slots: args
                .max_concurrent_runs
                .map(|n| Arc::new(tokio::sync::Semaphore::new(n.max(1)))),
            start_spread: args.start_spread,
            misconfigured: BTreeMap::new(),
        };
        let ids: Vec<String> = state.tenants.keys().cloned().collect();
        for id in ids {
            spawn_tenant(&myself, &mut state, &id).await;
        }
        Ok(state)
    }

    /// A clean stop: ractor kills the children of a stopped actor without their `post_stop`,
    /// so first stop every tenant supervisor gracefully (each stops its pipeline — a writer
    /// finishes its page — and lets its notifier send what it holds) and wait for them.
    async fn post_stop(&self, myself: ActorRef<Self::Msg>, state: &mut RootState) -> Result<(), ActorProcessingErr> {
        // A hung SMTP server must not hold the stop: sends get a short grace from now on.
        if let Some(mailer) = &state.mailer {
            mailer.stop_sending();
        }
        myself
            .stop_children_and_wait(Some("shutdown".to_string()), Some(std::time::Duration::from_secs(60)))
            .await;
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: RootMsg,
        state: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RootMsg::RunNow { tenant, reply } => {
                if let Some(actor) = state.tenants.get(&tenant).and_then(|t| t.actor.as_ref()) {
                    actor.cast(TenantMsg::RunNow(Some(reply)))?;
                }
            }
            RootMsg::Approve {
                tenant,
                run,
                reject,
                reply,
            } => match state.tenants.get(&tenant).and_then(|t| t.actor.as_ref()) {
                Some(actor) => actor.cast(TenantMsg::Approve { run, reject, reply })?,
                None => {
                    let _ = reply.send(Err(not_running(state, &tenant)));
                }
            },
            RootMsg::ApproveReview { tenant, reject, reply } => {
                match state.tenants.get(&tenant).and_then(|t| t.actor.as_ref()) {
                    Some(actor) => actor.cast(TenantMsg::ApproveReview { reject, reply })?,
                    None => {
                        let _ = reply.send(Err(not_running(state, &tenant)));
                    }
                }
            }
            RootMsg::SyncEmployee {
                tenant,
                employee_id,
                reply,
            } => match state.tenants.get(&tenant).and_then(|t| t.actor.as_ref()) {
                Some(actor) => actor.cast(TenantMsg::SyncEmployee { employee_id, reply })?,
                None => {
                    let _ = reply.send(Err(OneSyncError::TenantDown(tenant)));
                }
            },
            RootMsg::Respawn { tenant } => {
                if state.tenants.get(&tenant).is_some_and(|t| t.actor.is_none()) {
                    spawn_tenant(&myself, state, &tenant).await;
                }
            }
            RootMsg::Misconfigured(t) => {
                if state.tenants.contains_key(&t.id) || state.misconfigured.contains_key(&t.id) {
                    return Ok(());
                }
                let notifier = crate::misconfigured::announce(
                    myself.get_cell(),
                    &t,
                    &state.store,
                    &state.status,
                    state.mailer.clone(),
                )
                .await;
                state.misconfigured.insert(t.id, (t.error, notifier));
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        let Some((cell, reason)) = stopped_child(event) else {
            return Ok(());
        };
        if let Some((id, (_, notifier))) = state
            .misconfigured
            .iter_mut()
            .find(|(_, (_, n))| n.as_ref().is_some_and(|n| n.get_id() == cell.get_id()))
        {
            // It only mails the configuration error; queued email is retried at next start.
            warn!(tenant = %id, %reason, "notifier of a misconfigured tenant stopped");
            *notifier = None;
            return Ok(());
        }
        let Some((id, entry)) = state
            .tenants
            .iter_mut()
            .find(|(_, t)| t.actor.as_ref().is_some_and(|a| a.get_id() == cell.get_id()))
        else {
            return Ok(());
        };
        error!(tenant = %id, %reason, "tenant supervisor stopped; restarting it");
        entry.actor = None;
        state.status.update(id, |s| {
            s.up = false;
            s.restarts += 1;
        });
        let delay = entry.backoff.next_delay();
        let tenant = id.clone();
        myself.send_after(delay, move || RootMsg::Respawn { tenant });
        Ok(())
    }
}

/// Why a tenant has no running supervisor, for a reply.
fn not_running(state: &RootState, tenant: &str) -> String {
    match state.misconfigured.get(tenant) {
        Some((error, _)) => format!("tenant {tenant} is misconfigured and does not run: {error}"),
        None => format!("tenant {tenant} is not running"),
    }
}

async fn spawn_tenant(myself: &ActorRef<RootMsg>, state: &mut RootState, id: &str) {
    let Some(entry) = state.tenants.get_mut(id) else {
        return;
    };
    let store = match state.store.tenant(id) {
        Ok(s) => s,
        Err(e) => {
            error!(tenant = %id, error = %e, "cannot open the tenant's store");
            return;
        }
    };
    let args = TenantArgs {
        spec: entry.spec.clone(),
        store,
        status: state.status.clone(),
        resources: entry.resources.clone(),
        mailer: state.mailer.clone(),
        autostart: state.autostart,
        retry: state.retry.clone(),
        faults: state.faults.clone(),
        run_slots: state.run_slots.clone(),
        start_spread: state.start_spread,
    };
    match Actor::spawn_linked(Some(format!("{id}/tenant")), TenantSupervisor, args, myself.get_cell()).await {
        Ok((actor, _)) => entry.actor = Some(actor),
        Err(e) => {
            error!(tenant = %id, error = %e, "tenant supervisor did not start; retrying");
            let delay = entry.backoff.next_delay();
            let tenant = id.to_string();
            myself.send_after(delay, move || RootMsg::Respawn { tenant });
        }
    }
}
