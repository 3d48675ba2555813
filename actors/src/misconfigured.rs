//! Tenants whose part of the config file cannot be used — a secret that does not resolve
//! (`GLOBEX_UKG_PASSWORD` unset, an unreadable `*_file`), a value that fails its check. The
//! root supervisor does not start them; it shows them as `misconfigured` on the status board
//! and tells their technical contact once, through the tenant's own notifier (outbox, retry,
//! de-duplication), while the other tenants run.
//!
//! A misconfigured tenant is retried when the process starts again (a restart re-reads the
//! config file); there is no reload yet.

use std::sync::Arc;

use ractor::{Actor, ActorCell, ActorRef};
use tracing::{error, warn};

use crate::mailer::Mailer;
use crate::notifier::{Notifier, NotifierArgs, NotifierMsg};
use crate::report::{html_escape, Email};
use crate::status::StatusBoard;
use crate::store::Store;

/// A tenant the config file names but whose settings cannot be used.
#[derive(Debug, Clone)]
pub struct MisconfiguredTenant {
    /// The tenant id (valid and unique: a tenant without a usable id stops the start).
    pub id: String,
    /// The technical contact, when that key itself is valid; None: the error is only logged.
    pub contact: Option<String>,
    /// One line naming the file, the tenant, the key (and the environment variable); it
    /// never holds a secret.
    pub error: String,
}

/// The email telling the contact that the tenant does not run and why.
pub fn report(tenant: &str, error: &str) -> Email {
    let subject = format!("[hrsync] {tenant}: not syncing — configuration error");
    let text = format!(
        "Tenant: {tenant}\n\nhrsync started, but this tenant's settings in the config file cannot be used, so it does not sync. The other tenants are not affected.\nError: {error}\nWhat to do: fix the setting named above (for an environment variable: set it in the service's environment, e.g. the systemd unit's EnvironmentFile), check it with `hrsync check --config FILE --tenant {tenant}`, then restart hrsync (the config file is read at start).\n"
    );
    let html = format!(
        "<h2>{}</h2><p>{}</p>",
        html_escape(&subject),
        html_escape(&text).replace('\n', "<br>")
    );
    Email { subject, text, html }
}

/// Shows `tenant` as misconfigured and, when its contact is known, hands the email to a
/// notifier linked to `supervisor` (returned; it stays up to retry a failing SMTP server).
pub async fn announce(
    supervisor: ActorCell,
    tenant: &MisconfiguredTenant,
    store: &Store,
    status: &StatusBoard,
    mailer: Option<Arc<Mailer>>,
) -> Option<ActorRef<NotifierMsg>> {
    error!(tenant = %tenant.id, error = %tenant.error, "tenant misconfigured: not started; the other tenants run");
    status.misconfigured(&tenant.id, &tenant.error);
    let Some(contact) = tenant.contact.clone() else {
        warn!(tenant = %tenant.id, "the technical contact is not known (its key is invalid); the configuration error is only logged");
        return None;
    };
    let tenant_store = match store.tenant(&tenant.id) {
        Ok(s) => s,
        Err(e) => {
            warn!(tenant = %tenant.id, error = %e, "cannot open the tenant's store; the configuration error is only logged");
            return None;
        }
    };
    let args = NotifierArgs {
        tenant: tenant.id.clone(),
        contact,
        mailer,
        store: tenant_store,
        status: status.clone(),
    };
    let name = format!("{}/notifier", tenant.id);
    match Actor::spawn_linked(Some(name), Notifier, args, supervisor).await {
        Ok((notifier, _)) => {
            let msg = NotifierMsg::Misconfigured {
                error: tenant.error.clone(),
            };
            if notifier.cast(msg).is_err() {
                warn!(tenant = %tenant.id, "notifier stopped; the configuration error is only logged");
            }
            Some(notifier)
        }
        Err(e) => {
            warn!(tenant = %tenant.id, error = %e, "notifier did not start; the configuration error is only logged");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_tenant_error_and_fix() {
        let e = report(
            "globex",
            "hrsync.toml: tenant globex: ukg.password_env: environment variable GLOBEX_UKG_PASSWORD is not set (or empty)",
        );
        assert!(e.subject.contains("globex") && e.subject.contains("configuration"));
        assert!(e.text.contains("GLOBEX_UKG_PASSWORD") && e.text.contains("restart hrsync"));
        assert!(e.html.contains("GLOBEX_UKG_PASSWORD"));
    }
}
