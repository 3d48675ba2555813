//! Wiring: opens the store, spawns the root supervisor, serves HTTP, and stops cleanly.
//!
//! `run_service` is `hrsync run`; `sync_once` is `hrsync sync` (and the core of `hrsync
//! demo`): the same actors, one run, in the foreground.

use std::future::Future;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Context};
use hrsync_actors::error::StoreError;
use hrsync_actors::misconfigured::MisconfiguredTenant;
use hrsync_actors::model::RunSummary;
use hrsync_actors::root::{RootArgs, RootMsg, Supervisor};
use hrsync_actors::spec::{SmtpSpec, TenantSpec};
use hrsync_actors::status::StatusBoard;
use hrsync_actors::store::Store;
use hrsync_actors::upstream::RetryPolicy;
use ractor::Actor;
use tokio::net::TcpListener;

use crate::config::Settings;

/// How long a clean stop may take before the process gives up waiting.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens the process's state database, explaining the usual cause of failure. A damaged
/// database is refused with one line: what is wrong and the fix.
pub fn open_store(dir: &Path) -> anyhow::Result<Store> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create data_dir {}", dir.display()))?;
    match Store::open(dir) {
        Ok(store) => Ok(store),
        Err(e @ StoreError::Damaged { .. }) => Err(anyhow!(e)),
        Err(e) if e.is_unreadable() => Err(anyhow!(
            "storage: the state database in {} is damaged and cannot be read. Restore the data directory from a backup (with hrsync stopped), or move it aside and start afresh: `hrsync rebaseline --config FILE --all` (each tenant's next run adopts the app's users by externalId)",
            dir.display()
        )),
        // A full disk or an I/O error says so itself, with the fix.
        Err(e) if e.is_storage() && !e.is_in_use() => Err(anyhow!(e)),
        Err(e) => Err(anyhow!(e)).with_context(|| {
            format!(
                "cannot open the state database in {} (is another hrsync process using this data_dir? While `hrsync run` is up, use its admin API: POST /tenants/ID/sync or /approve, and `hrsync status`)",
                dir.display()
            )
        }),
    }
}

/// `hrsync run`: every tenant on its schedule, the HTTP face on `listener`, until `shutdown`.
pub async fn run_service(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = open_store(&settings.service.data_dir)?;
    test_changes_spacing()?;
    let status = StatusBoard::default();
    let tenants: Vec<TenantSpec> = match settings.service.shard {
        None => settings.tenants.clone(),
        Some(shard) => {
            let mine: Vec<TenantSpec> = settings.tenants.iter().filter(|t| shard.owns(&t.id)).cloned().collect();
            tracing::info!(shard = %format!("{}/{}", shard.index, shard.count), tenants = ?mine.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), "serving this shard's tenants");
            mine
        }
    };
    let misconfigured: Vec<MisconfiguredTenant> = settings
        .misconfigured
        .iter()
        .filter(|t| settings.service.shard.is_none_or(|shard| shard.owns(&t.id)))
        .cloned()
        .collect();
    let (root, root_handle) = Actor::spawn(
        Some("hrsync/root".to_string()),
        Supervisor,
        RootArgs {
            tenants,
            store: store.clone(),
            status: status.clone(),
            smtp: settings.smtp.clone(),
            autostart: true,
            retry: settings.service.retry.clone(),
            faults: None,
            max_concurrent_runs: Some(settings.service.max_concurrent_runs),
            start_spread: settings.service.start_spread,
        },
    )
    .await
    .map_err(|e| anyhow!("cannot start the supervisor: {e}"))?;
    // Shown as misconfigured and mailed to their contact; the others run (a restart re-reads).
    for t in misconfigured {
        root.cast(RootMsg::Misconfigured(t))
            .map_err(|_| anyhow!("the supervisor stopped at start"))?;
    }
    let addr = listener.local_addr().ok();
    tracing::info!(listen = ?addr, tenants = settings.tenants.len(), misconfigured = settings.misconfigured.len(), "hrsync running");
    let app = crate::http::app(crate::http::AppState {
        status,
        root: Some(root.clone()),
        admin_token: settings.service.admin_token.clone(),
    });
    crate::http::serve(listener, app, settings.service.max_connections, shutdown).await;
    // Each actor finishes the message in hand (a writer its page commit) before stopping.
    if root
        .stop_and_wait(Some("shutdown".into()), Some(STOP_TIMEOUT))
        .await
        .is_err()
    {
        tracing::warn!("actors did not stop within {STOP_TIMEOUT:?}; exiting anyway");
        root.kill();
    }
    drop(root_handle);
    store.flush().await.context("cannot flush the state database")?;
    tracing::info!("hrsync stopped");
    Ok(())
}

/// The test-only knob `HRSYNC_TEST_CHANGES_SPACING` (e.g. "2s"): change-feed windows come
/// that far apart instead of UKG's 3 hours (the 8-a-day cap still holds). Never for
/// production: the config file cannot set it, and the service warns when it is set.
fn test_changes_spacing() -> anyhow::Result<()> {
    let Ok(text) = std::env::var("HRSYNC_TEST_CHANGES_SPACING") else {
        return Ok(());
    };
    let spacing = humantime::parse_duration(text.trim())
        .with_context(|| format!("HRSYNC_TEST_CHANGES_SPACING={text:?}: expected a duration such as \"2s\""))?;
    hrsync_actors::change_feed::shorten_spacing_for_tests(spacing);
    tracing::warn!(spacing = %humantime::format_duration(spacing), "HRSYNC_TEST_CHANGES_SPACING is set: the change feed ignores UKG's 3-hour spacing (tests only; the 8-calls-a-day cap still holds)");
    Ok(())
}

/// One run of one tenant now, through the same supervised actors; returns its summary.
pub async fn sync_once(
    store: Store,
    tenant: TenantSpec,
    smtp: Option<SmtpSpec>,
    retry: RetryPolicy,
) -> anyhow::Result<RunSummary> {
    let id = tenant.id.clone();
    let status = StatusBoard::default();
    let (root, _) = Actor::spawn(
        None,
        Supervisor,
        RootArgs {
            tenants: vec![tenant],
            store: store.clone(),
            status: status.clone(),
            smtp,
            autostart: false,
            retry,
            faults: None,
            max_concurrent_runs: None,
            start_spread: Duration::ZERO,
        },
    )
    .await
    .map_err(|e| anyhow!("cannot start the supervisor: {e}"))?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    root.cast(RootMsg::RunNow {
        tenant: id.clone(),
        reply: tx.into(),
    })
    .map_err(|_| anyhow!("the supervisor stopped before the run started"))?;
    let progress = show_progress(status, id.clone());
    let summary = rx
        .await
        .map_err(|_| anyhow!("tenant {id} stopped before its run finished"));
    progress.abort();
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
    }
    // The notifier may still be sending the report: let it finish.
    if root.drain_and_wait(Some(STOP_TIMEOUT)).await.is_err() {
        root.stop(None);
    }
    store.flush().await.context("cannot flush the state database")?;
    summary
}

/// On a terminal, shows the run's progress (pages committed, employees read) on stderr;
/// nothing when stderr is not a terminal.
fn show_progress(status: StatusBoard, tenant: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if !std::io::stderr().is_terminal() {
            return;
        }
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let shown = status.snapshot().get(&tenant).and_then(|s| s.progress);
            match shown {
                Some((pages, read)) => eprint!("\r\x1b[2K  syncing {tenant}: {pages} page(s), {read} employees read"),
                None => eprint!("\r\x1b[2K  syncing {tenant}: reading the roster…"),
            }
        }
    })
}

/// Prints a run summary for a person.
pub fn print_summary(s: &RunSummary) {
    let c = &s.counts;
    if let Some(r) = &s.review {
        println!(
            "tenant {}: plan awaiting review — nothing was written\n  {}\n  see every change: hrsync plan --config FILE --tenant {}\n  apply exactly this plan: hrsync approve --config FILE --tenant {} (or --reject to discard it)",
            s.tenant,
            r.line(),
            s.tenant,
            s.tenant
        );
        return;
    }
    println!(
        "tenant {} run {}: created {}, adopted {}, updated {}, deactivated {}, reactivated {}, managers linked {}, unchanged {}, failed {}, held {}, recreated {}",
        s.tenant, s.run_id, c.created, c.adopted, c.updated, c.deactivated, c.reactivated, c.managers_linked, c.unchanged, c.failed, c.held, c.recreated
    );
    let t = &s.traffic;
    println!(
        "  {} UKG requests, {} SCIM requests, {} roster page(s)",
        t.ukg_requests, t.scim_requests, s.pages
    );
    println!(
        "  retries: UKG {} ({} after 429), SCIM {} ({} after 429)",
        t.ukg_retries, t.ukg_throttled, t.scim_retries, t.scim_throttled
    );
    for f in &s.failures {
        let clean = hrsync_actors::sanitize::reason;
        println!("  failed {}: {}", clean(&f.employee_id), clean(&f.reason));
    }
    if s.failures.len() < c.failed as usize {
        println!("  … and {} more", c.failed as usize - s.failures.len());
    }
    if c.out_of_scope > 0 {
        println!("  out of scope (not synced): {}", c.out_of_scope);
        let mut by_rule: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
        for e in &s.excluded {
            *by_rule.entry(e.reason.as_str()).or_default() += 1;
        }
        for (rule, n) in by_rule {
            println!("    {n} by {rule}");
        }
    }
    if c.deferred > 0 {
        println!(
            "  {} change(s) not in the approved plan were left for the next run",
            c.deferred
        );
    }
    if let Some(e) = &s.error {
        println!("  run failed: {e}");
    }
    if c.held > 0 {
        println!(
            "  the deactivation brake held {} deactivation(s); nobody was deactivated. Release them with `hrsync approve --config FILE --tenant {} --run {}` (or --reject)",
            c.held, s.tenant, s.run_id
        );
    }
}
