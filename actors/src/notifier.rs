//! The notifier: tells the tenant's technical contact, by email, when the sync needs a
//! person — and only once.
//!
//! Receives [`NotifierMsg`]: `RunEnded` and `Quarantine` (from the tenant supervisor),
//! `Misconfigured` (from the root supervisor, for a tenant that does not start) and
//! `Retry` (from itself). Sends nothing back. A report is built for a failed run, a run with
//! records set aside, and a run whose deactivations were held (listing them, from the store,
//! with the approve and reject commands for that run); a recovery email when a
//! failing tenant succeeds again; an email when the tenant enters or leaves quarantine.
//!
//! Every email first goes to the tenant's outbox in the store, then out through SMTP; a
//! failing SMTP server never blocks the sync: the email stays queued and is retried with
//! backoff (1 min doubling to 1 h) until sent or 3 days old. The same failure signature is
//! mailed at most once per 24 h, however often the run fails. When the outbox cannot be
//! written (the store failed: a full disk), the email is kept in memory instead and sent
//! from there (retried every minute); it moves to the outbox once the store works again.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tracing::{debug, info, warn};

use crate::mailer::Mailer;
use crate::model::{Outcome, RunSummary};
use crate::report::{quarantine_report, recovery_report, run_report, signature, Email};
use crate::status::StatusBoard;
use crate::store::{OutboxEmail, ProgressStore};

/// The same signature is mailed at most this often.
const DEDUP_WINDOW: chrono::Duration = chrono::Duration::hours(24);
/// A queued email older than this is dropped (and logged).
const EXPIRY: chrono::Duration = chrono::Duration::days(3);

/// Messages the notifier receives.
#[derive(Debug)]
pub enum NotifierMsg {
    /// A run ended: report it if it needs a person (or if it ends a failure).
    RunEnded(Box<RunSummary>),
    /// The tenant entered (`entered`) or left quarantine.
    Quarantine {
        /// Entered (true) or left (false).
        entered: bool,
        /// The last failure's one-line reason (empty when left).
        reason: String,
        /// The last failure's typed cause, which gives the email its fix.
        cause: Option<crate::error::FailureCause>,
    },
    /// A first-run review is ready: ask the contact to approve it. `signature` names this
    /// plan (it is mailed once).
    Review { email: Box<Email>, signature: String },
    /// The tenant's part of the config file cannot be used, so it does not run (from the
    /// root supervisor, at start). `error` names the key, never a secret; mailed once per
    /// error (the usual 24 h de-duplication holds across restarts).
    Misconfigured { error: String },
    /// Try the queued emails again (sent to itself).
    Retry,
}

pub struct Notifier;

pub struct NotifierArgs {
    pub tenant: String,
    pub contact: String,
    pub mailer: Option<Arc<Mailer>>,
    pub store: Arc<dyn ProgressStore>,
    pub status: StatusBoard,
}

pub struct NotifierState {
    args: NotifierArgs,
    /// A `Retry` is already scheduled.
    retry_scheduled: bool,
    /// Emails the outbox could not take (the store failed), oldest first.
    unstored: Vec<OutboxEmail>,
}

impl Actor for Notifier {
    type Msg = NotifierMsg;
    type State = NotifierState;
    type Arguments = NotifierArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: NotifierArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(NotifierState {
            args,
            retry_scheduled: false,
            unstored: Vec::new(),
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut NotifierState,
    ) -> Result<(), ActorProcessingErr> {
        // Emails queued before a restart are tried again now.
        let queued = state.args.store.outbox()?;
        for (id, mut email) in queued.iter().cloned() {
            email.next_attempt_at = Utc::now();
            state.args.store.update_outbox(id, &email)?;
        }
        if !queued.is_empty() {
            myself.cast(NotifierMsg::Retry)?;
            state.retry_scheduled = true;
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: NotifierMsg,
        state: &mut NotifierState,
    ) -> Result<(), ActorProcessingErr> {
        let now = Utc::now();
        match msg {
            NotifierMsg::RunEnded(summary) => on_run_ended(state, &summary, now)?,
            NotifierMsg::Quarantine { entered, reason, cause } => {
                let email = quarantine_report(&state.args.tenant, entered, &reason, cause);
                let sig = format!("quarantine-{entered}-{}", crate::report::signature_of_text(&reason));
                enqueue(state, email, sig, now)?;
            }
            NotifierMsg::Review { email, signature } => enqueue(state, *email, signature, now)?,
            NotifierMsg::Misconfigured { error } => {
                let email = crate::misconfigured::report(&state.args.tenant, &error);
                let sig = format!("misconfigured-{}", crate::report::signature_of_text(&error));
                enqueue(state, email, sig, now)?;
            }
            NotifierMsg::Retry => state.retry_scheduled = false,
        }
        send_due(&myself, state).await
    }
}

fn on_run_ended(state: &mut NotifierState, s: &RunSummary, now: DateTime<Utc>) -> Result<(), ActorProcessingErr> {
    let store = &state.args.store;
    if s.outcome == Outcome::Ok {
        if store.failing_reported().unwrap_or(false) {
            store.set_failing_reported(false)?;
            enqueue(state, recovery_report(s), format!("recovery-{}", s.run_id), now)?;
        }
        return Ok(());
    }
    let held = match s.outcome {
        Outcome::Held => store.held()?,
        _ => None,
    };
    let Some(email) = run_report(s, held.as_ref()) else {
        return Ok(());
    };
    // A held run is no failure: the next good run sends no "recovered" email for it.
    if s.outcome != Outcome::Held {
        if let Err(e) = store.set_failing_reported(true) {
            warn!(tenant = %state.args.tenant, error = %e, "cannot record that a failure was reported");
        }
    }
    enqueue(state, email, signature(s), now)
}

/// Queues an email, unless the same signature was sent within 24 h or is queued already.
fn enqueue(
    state: &mut NotifierState,
    email: Email,
    signature: String,
    now: DateTime<Utc>,
) -> Result<(), ActorProcessingErr> {
    let store = &state.args.store;
    // A store that cannot be read (it failed) de-duplicates nothing: better twice than never.
    let recent = store
        .mail_sent_at(&signature)
        .ok()
        .flatten()
        .is_some_and(|at| now - at < DEDUP_WINDOW);
    let queued_already = store
        .outbox()
        .unwrap_or_default()
        .iter()
        .any(|(_, e)| e.signature == signature)
        || state.unstored.iter().any(|e| e.signature == signature);
    if recent || queued_already {
        debug!(tenant = %state.args.tenant, subject = %email.subject, "already reported within 24 h; not emailed again");
        return Ok(());
    }
    // Cleaned on the way out: no control characters, none of the tenant's secrets.
    let clean = state.args.status.redactor(&state.args.tenant);
    let queued = OutboxEmail {
        to: state.args.contact.clone(),
        subject: clean.reason(&email.subject),
        text: clean.text(&email.text),
        html: clean.text(&email.html),
        signature,
        created_at: now,
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
    };
    if state.args.mailer.is_none() {
        info!(tenant = %state.args.tenant, subject = %queued.subject, "no [smtp] configured; report only logged");
        return Ok(());
    }
    if let Err(e) = state.args.store.push_outbox(&queued) {
        warn!(tenant = %state.args.tenant, error = %e, subject = %queued.subject, "cannot queue the email in the store; sending it from memory");
        state.unstored.push(queued);
    }
    Ok(())
}

/// Moves the emails kept in memory to the outbox once the store takes them again, or else
/// sends them directly; those that fail stay for the next retry.
async fn send_unstored(myself: &ActorRef<NotifierMsg>, state: &mut NotifierState, mailer: &Mailer) {
    for email in std::mem::take(&mut state.unstored) {
        if state.args.store.push_outbox(&email).is_ok() {
            continue;
        }
        match mailer
            .send(&email.to, &email.subject, email.text.clone(), email.html.clone())
            .await
        {
            Ok(()) => {
                info!(tenant = %state.args.tenant, to = %email.to, subject = %email.subject, "email sent (not queued: the store is failing)");
                let tenant = state.args.tenant.clone();
                state.args.status.update(&tenant, |s| s.emails_sent += 1);
            }
            Err(e) => {
                warn!(tenant = %state.args.tenant, error = %e, "email not sent; kept in memory for retry");
                state.unstored.push(email);
            }
        }
    }
    if !state.unstored.is_empty() && !state.retry_scheduled {
        myself.send_after(Duration::from_secs(60), || NotifierMsg::Retry);
        state.retry_scheduled = true;
    }
}

/// Sends every queued email that is due; reschedules itself for the rest.
async fn send_due(myself: &ActorRef<NotifierMsg>, state: &mut NotifierState) -> Result<(), ActorProcessingErr> {
    let Some(mailer) = state.args.mailer.clone() else {
        return Ok(());
    };
    send_unstored(myself, state, &mailer).await;
    let store = state.args.store.clone();
    let tenant = state.args.tenant.clone();
    let mut next_due: Option<DateTime<Utc>> = None;
    let queued = match store.outbox() {
        Ok(q) => q,
        Err(e) => {
            warn!(tenant = %tenant, error = %e, "cannot read the outbox");
            Vec::new()
        }
    };
    for (id, mut email) in queued {
        let now = Utc::now();
        if now - email.created_at > EXPIRY {
            warn!(tenant = %tenant, subject = %email.subject, attempts = email.attempts, "email expired unsent; dropped");
            store.remove_outbox(id)?;
            continue;
        }
        if email.next_attempt_at > now {
            next_due = Some(next_due.map_or(email.next_attempt_at, |d| d.min(email.next_attempt_at)));
            continue;
        }
        match mailer
            .send(&email.to, &email.subject, email.text.clone(), email.html.clone())
            .await
        {
            Ok(()) => {
                info!(tenant = %tenant, to = %email.to, subject = %email.subject, "email sent");
                store.remove_outbox(id)?;
                store.set_mail_sent_at(&email.signature, Utc::now())?;
                state.args.status.update(&tenant, |s| s.emails_sent += 1);
            }
            Err(e) => {
                email.attempts += 1;
                let wait = Duration::from_secs(60)
                    .saturating_mul(1 << (email.attempts - 1).min(6))
                    .min(Duration::from_secs(3600));
                email.next_attempt_at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or(DEDUP_WINDOW);
                email.last_error = Some(e.to_string());
                warn!(tenant = %tenant, error = %e, attempts = email.attempts, retry_in_s = wait.as_secs(), "email not sent; kept for retry");
                let error = e.to_string();
                state.args.status.update(&tenant, |s| {
                    s.emails_failed += 1;
                    s.last_email_error = Some(error);
                });
                next_due = Some(next_due.map_or(email.next_attempt_at, |d| d.min(email.next_attempt_at)));
                store.update_outbox(id, &email)?;
            }
        }
    }
    if let Err(e) = store.flush().await {
        warn!(tenant = %tenant, error = %e, "cannot flush the outbox");
    }
    if let (Some(due), false) = (next_due, state.retry_scheduled) {
        let wait = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        myself.send_after(wait, || NotifierMsg::Retry);
        state.retry_scheduled = true;
    }
    Ok(())
}
