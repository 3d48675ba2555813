//! What each command does, at the binary's edge (anyhow errors, exit codes, printing).

use std::process::ExitCode;

use anyhow::{bail, Context};
use hrsync_actors::model::Outcome;
use hrsync_actors::spec::{TargetSpec, TenantSpec};
use hrsync_actors::tenant::TenantResources;
use hrsync_actors::ukg::UkgClient;

use crate::cli::{Command, LogFormatArg, TenantCommand};
use crate::config::{self, LogFormat, Settings};
use crate::{check, demo, rebaseline, service, shutdown, status_table, telemetry, tenant_add};

/// Runs one command; `Err` is printed as one line and exits 1.
pub async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run {
            config,
            log_format,
            shard,
        } => {
            let mut settings = load(&config)?;
            if shard.is_some() {
                settings.service.shard = shard;
            }
            let format = match log_format {
                Some(LogFormatArg::Json) => LogFormat::Json,
                Some(LogFormatArg::Text) => LogFormat::Text,
                None => settings.service.log_format,
            };
            telemetry::init(format, "info");
            log_notices(&settings);
            let listener = tokio::net::TcpListener::bind(settings.service.listen)
                .await
                .with_context(|| format!("cannot listen on {} (service.listen)", settings.service.listen))?;
            service::run_service(settings, listener, shutdown::signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sync {
            config,
            tenant,
            employee,
            force,
        } => {
            let settings = load(&config)?;
            // The summary says what happened; logs only for errors unless RUST_LOG asks.
            telemetry::init(settings.service.log_format, "error");
            for n in &settings.notices {
                eprintln!("notice: {n}");
            }
            let spec = tenant_spec(&settings, &config, &tenant)?;
            if let Some(employee) = employee {
                return crate::employee_sync::run(&settings, spec, &employee).await;
            }
            let target = spec.target.clone();
            let store = service::open_store(&settings.service.data_dir)?;
            if let Some(q) = store.tenant(&spec.id)?.health()?.and_then(|h| h.quarantine) {
                let how = if force {
                    "forced: running it now"
                } else {
                    "running it now, as asked"
                };
                eprintln!(
                    "notice: tenant {} is quarantined ({}); {how}; a success lifts the quarantine",
                    spec.id, q.reason
                );
            }
            let summary =
                service::sync_once(store, spec, settings.smtp.clone(), settings.service.retry.clone()).await?;
            service::print_summary(&summary);
            if let (TargetSpec::File(f), false) = (&target, summary.outcome == Outcome::Failed) {
                let name = hrsync_actors::delivery::run_file_name(
                    &summary.tenant,
                    summary.started_at,
                    summary.run_id,
                    f.format,
                );
                match &f.directory {
                    Some(dir) => println!("  user file: {}", dir.join(&name).display()),
                    None => println!("  user file: {name} (uploaded)"),
                }
            }
            if summary.outcome == Outcome::Failed {
                eprintln!(
                    "error: {}",
                    summary.error.as_deref().unwrap_or("the run could not complete")
                );
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan { config, tenant, json } => {
            let settings = load(&config)?;
            telemetry::init(settings.service.log_format, "error");
            let spec = tenant_spec(&settings, &config, &tenant)?;
            let store = service::open_store(&settings.service.data_dir)?;
            let resources = TenantResources::new(&spec);
            let ukg = UkgClient::new(spec.ukg.clone(), resources.ukg_limiter, resources.ukg_counters)
                .with_retry_policy(settings.service.retry.clone());
            let report = hrsync_actors::plan::plan(&spec, store.tenant(&spec.id)?.as_ref(), &ukg).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.to_text());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Approve {
            config,
            tenant,
            run,
            reject,
        } => {
            let settings = load(&config)?;
            telemetry::init(settings.service.log_format, "error");
            let spec = tenant_spec(&settings, &config, &tenant)?;
            let store = service::open_store(&settings.service.data_dir)?;
            let tenant_store = store.tenant(&spec.id)?;
            let Some(run) = run else {
                // The plan awaiting review: approve and apply it now, or discard it.
                let message = hrsync_actors::review::decide(&spec, tenant_store.as_ref(), reject)?;
                tenant_store.flush().await?;
                println!("{message}");
                if reject {
                    return Ok(ExitCode::SUCCESS);
                }
                drop(tenant_store);
                let summary =
                    service::sync_once(store, spec, settings.smtp.clone(), settings.service.retry.clone()).await?;
                service::print_summary(&summary);
                return Ok(if summary.outcome == Outcome::Failed {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                });
            };
            if reject {
                let n = hrsync_actors::approve::reject_held(tenant_store.as_ref(), run).await?;
                println!("tenant {tenant} run {run}: {n} held deactivation(s) dropped; the next run plans them again if they still apply");
                return Ok(ExitCode::SUCCESS);
            }
            let resources = TenantResources::new(&spec);
            let retry = settings.service.retry.clone();
            let released =
                hrsync_actors::approve::approve_on_target(&spec, tenant_store.as_ref(), &resources, retry, run).await?;
            println!("{}", released.summary(&tenant, run));
            for f in &released.failed {
                println!("  failed {}: {}", f.employee_id, f.reason);
            }
            Ok(if released.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Status { config, json } => {
            let settings = load(&config)?;
            let (status, source) = match status_table::fetch(&settings).await {
                Ok(status) => (status, "the running service"),
                Err(_) => (
                    status_table::from_store(&settings)?,
                    "the store (the service is not running)",
                ),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!("{}", status_table::render(&status));
                println!("(from {source})");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check {
            config,
            tenant,
            config_only,
        } => {
            let settings = load(&config)?;
            for n in &settings.notices {
                println!("notice: {n}");
            }
            let config_passed = check::print_validity(&settings, tenant.as_deref());
            if config_only
                || tenant
                    .as_deref()
                    .is_some_and(|id| settings.misconfigured.iter().any(|t| t.id == id))
            {
                return Ok(if config_passed {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                });
            }
            let all_passed = check::run_checks(&settings, tenant.as_deref()).await? && config_passed;
            Ok(if all_passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Rebaseline { config, tenant, all } => {
            let settings = load(&config)?;
            if let Some(id) = &tenant {
                tenant_spec(&settings, &config, id)?;
            }
            rebaseline::run(&settings.service.data_dir, tenant.as_deref(), all)
        }
        Command::Tenant {
            command: TenantCommand::Add(args),
        } => tenant_add::run(*args).await,
        Command::Demo { employees } => {
            telemetry::init(LogFormat::Text, "warn");
            demo::run(employees).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The tenant `id` of the config, or its configuration error, or an error listing the
/// known ones.
fn tenant_spec(settings: &Settings, config: &std::path::Path, id: &str) -> anyhow::Result<TenantSpec> {
    if let Some(t) = settings.misconfigured.iter().find(|t| t.id == id) {
        bail!("{}", t.error);
    }
    match settings.tenants.iter().find(|t| t.id == id) {
        Some(t) => Ok(t.clone()),
        None => {
            let known: Vec<&str> = settings.tenants.iter().map(|t| t.id.as_str()).collect();
            bail!(
                "{}: no tenant {id:?}; tenants are: {}",
                config.display(),
                known.join(", ")
            )
        }
    }
}

fn load(path: &std::path::Path) -> anyhow::Result<Settings> {
    Ok(config::load(path)?)
}

fn log_notices(settings: &Settings) {
    for n in &settings.notices {
        tracing::warn!("{n}");
    }
}
