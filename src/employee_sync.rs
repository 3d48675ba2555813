//! `hrsync sync --tenant ID --employee EMPLOYEE_ID`: one person, now.
//!
//! When the state database can be opened, the sync runs in this process (the tenant's own
//! rate limits and retry policy, the same code as the service: `one_sync`). When `hrsync run`
//! holds the database (sled allows one process), the command asks the running service
//! instead: `POST /tenants/{id}/employees/{employee_id}/sync` on `service.listen` with the
//! admin token from the config. Either way it prints what was done, one line per person
//! (managers synced first come first), and exits 0 when the employee is in step with UKG,
//! 1 otherwise (with the reason on stderr, or in the printed line).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail};
use hrsync_actors::one_sync::{self, OneSyncError, SyncCtx};
use hrsync_actors::scim::ScimClient;
use hrsync_actors::spec::TenantSpec;
use hrsync_actors::store::Store;
use hrsync_actors::tenant::TenantResources;
use hrsync_actors::ukg::UkgClient;
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::service;

/// How long the service may take to answer (its limiter may hold requests back).
const SERVICE_TIMEOUT: Duration = Duration::from_secs(600);

/// Syncs one employee of `spec`, in this process or through the running service.
pub async fn run(settings: &Settings, spec: TenantSpec, employee: &str) -> anyhow::Result<ExitCode> {
    one_sync::check_employee_id(employee)?;
    match service::open_store(&settings.service.data_dir) {
        Ok(store) => in_process(settings, spec, store, employee).await,
        Err(open_error) => through_service(settings, &spec.id, employee, open_error).await,
    }
}

async fn in_process(settings: &Settings, spec: TenantSpec, store: Store, employee: &str) -> anyhow::Result<ExitCode> {
    let resources = TenantResources::new(&spec);
    let retry = settings.service.retry.clone();
    let ukg = UkgClient::new(spec.ukg.clone(), resources.ukg_limiter, resources.ukg_counters)
        .with_retry_policy(retry.clone());
    let Some(scim_spec) = spec.target.scim() else {
        return Err(OneSyncError::NotScim(spec.id.clone()).into());
    };
    let scim =
        ScimClient::new(scim_spec.clone(), resources.scim_limiter, resources.scim_counters).with_retry_policy(retry);
    let tenant_store = store.tenant(&spec.id)?;
    let ctx = SyncCtx {
        spec: &spec,
        store: tenant_store.as_ref(),
        ukg: &ukg,
        scim: &scim,
    };
    let result = one_sync::sync_employee(&ctx, employee).await;
    store.flush().await?;
    let report = result?;
    for line in report.lines() {
        println!("{line}");
    }
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Asks the running service, which holds the database.
async fn through_service(
    settings: &Settings,
    tenant: &str,
    employee: &str,
    open_error: anyhow::Error,
) -> anyhow::Result<ExitCode> {
    let Some(token) = &settings.service.admin_token else {
        bail!(
            "{open_error:#}. If `hrsync run` holds it, set service.admin_token_env (or _file) so that `hrsync sync --employee` can ask the service"
        );
    };
    let listen = loopback_if_unspecified(settings.service.listen);
    let url = format!("http://{listen}/tenants/{tenant}/employees/{employee}/sync");
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(token.expose_secret())
        .timeout(SERVICE_TIMEOUT)
        .send()
        .await
        .map_err(|e| anyhow!("{open_error:#}; and no hrsync service answered on {listen}: {e}"))?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    let body = body.trim_end();
    match status {
        200 | 422 => {
            println!("{body}");
            Ok(if status == 200 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        401 => {
            bail!("the service on {listen} refused the admin token (401): check service.admin_token_* in the config")
        }
        _ => bail!("{body}"),
    }
}

/// `0.0.0.0:P` / `[::]:P` listen everywhere; the service is reached on loopback then.
fn loopback_if_unspecified(addr: SocketAddr) -> SocketAddr {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}
