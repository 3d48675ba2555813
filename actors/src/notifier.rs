//! The notifier: emails the tenant's technical contact when a run needs a person.
//!
//! Receives [`NotifierMsg::RunEnded`] from the tenant supervisor; sends nothing back. Mail
//! goes out through the shared [`Mailer`] when `[smtp]` is configured, and is logged
//! otherwise. A failing SMTP server never blocks or fails the sync: the failure is logged.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tracing::{info, warn};

use crate::mailer::Mailer;
use crate::model::RunSummary;
use crate::report::run_report;

/// Messages the notifier receives.
#[derive(Debug)]
pub enum NotifierMsg {
    /// A run ended: email the contact if it failed or set records aside.
    RunEnded(Box<RunSummary>),
}

pub struct Notifier;

pub struct NotifierArgs {
    pub tenant: String,
    pub contact: String,
    pub mailer: Option<Arc<Mailer>>,
}

impl Actor for Notifier {
    type Msg = NotifierMsg;
    type State = NotifierArgs;
    type Arguments = NotifierArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: NotifierArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: NotifierMsg,
        state: &mut NotifierArgs,
    ) -> Result<(), ActorProcessingErr> {
        let NotifierMsg::RunEnded(summary) = msg;
        let Some(email) = run_report(&summary) else {
            return Ok(());
        };
        match &state.mailer {
            None => {
                info!(tenant = %state.tenant, run = summary.run_id, subject = %email.subject, "no [smtp] configured; report not emailed")
            }
            Some(mailer) => match mailer
                .send(&state.contact, &email.subject, email.text, email.html)
                .await
            {
                Ok(()) => {
                    info!(tenant = %state.tenant, run = summary.run_id, to = %state.contact, "report emailed")
                }
                Err(e) => {
                    warn!(tenant = %state.tenant, run = summary.run_id, error = %e, "report not emailed")
                }
            },
        }
        Ok(())
    }
}
