//! What each command does, at the binary's edge (anyhow errors, exit codes, printing).

use std::process::ExitCode;

use anyhow::{bail, Context};
use hrsync_actors::model::Outcome;

use crate::cli::{Command, LogFormatArg};
use crate::config::{self, LogFormat, Settings};
use crate::{demo, service, shutdown, telemetry};

/// Runs one command; `Err` is printed as one line and exits 1.
pub async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { config, log_format } => {
            let settings = load(&config)?;
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
        Command::Sync { config, tenant } => {
            let settings = load(&config)?;
            // The summary says what happened; logs only for errors unless RUST_LOG asks.
            telemetry::init(settings.service.log_format, "error");
            for n in &settings.notices {
                eprintln!("notice: {n}");
            }
            let Some(spec) = settings.tenants.iter().find(|t| t.id == tenant).cloned() else {
                let known: Vec<&str> = settings.tenants.iter().map(|t| t.id.as_str()).collect();
                bail!(
                    "{}: no tenant {tenant:?}; tenants are: {}",
                    config.display(),
                    known.join(", ")
                );
            };
            let store = service::open_store(&settings.service.data_dir)?;
            let summary =
                service::sync_once(store, spec, settings.smtp.clone(), settings.service.retry.clone()).await?;
            service::print_summary(&summary);
            if summary.outcome == Outcome::Failed {
                eprintln!(
                    "error: {}",
                    summary.error.as_deref().unwrap_or("the run could not complete")
                );
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { config } => {
            let settings = load(&config)?;
            let url = format!("http://{}/status", settings.service.listen);
            let body = http_get(&url)
                .await
                .with_context(|| format!("cannot reach the running service at {url} (is `hrsync run` running?)"))?;
            println!("{body}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { config } => {
            let settings = load(&config)?;
            for n in &settings.notices {
                println!("notice: {n}");
            }
            println!(
                "{}: valid; {} tenant(s): {}",
                config.display(),
                settings.tenants.len(),
                settings
                    .tenants
                    .iter()
                    .map(|t| t.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { employees } => {
            telemetry::init(LogFormat::Text, "warn");
            demo::run(employees).await?;
            Ok(ExitCode::SUCCESS)
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

/// GET on the local status endpoint.
async fn http_get(url: &str) -> anyhow::Result<String> {
    let response = reqwest::Client::new()
        .get(url)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await?;
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() {
        bail!("the service answered {status}");
    }
    Ok(body)
}
