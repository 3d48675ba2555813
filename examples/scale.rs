//! Benchmark: a large roster — first sync, no-change run and incremental run — measuring
//! wall time, CPU time and peak RSS of the real `hrsync sync` process, and counting the
//! requests it makes to UKG and the writes it makes to the app.
//!
//! ```sh
//! cargo build --release --bin hrsync --example scale
//! ./target/release/examples/scale 100000            # EMPLOYEES [PAGE_SIZE] [CHANGED_PER_MILLE]
//! ./target/release/examples/scale 10000
//! ```
//!
//! This process serves the UKG Pro simulator (`sample_roster(N)`) and the in-process SCIM
//! app over loopback HTTP; each run is `/usr/bin/time -v target/release/hrsync sync` as a
//! child process (rate limits off: 1,000,000 req/s; page size 10,000 by default), so the
//! RSS and CPU figures are hrsync's alone, not the simulators'. The three runs share one
//! data_dir: 1. first sync into an empty app, 2. the same roster again (no change),
//! 3. after changing the job title of `CHANGED_PER_MILLE`/1000 of the active employees
//! (default 10 = 1 %) in the simulator. Each check (UKG requests, SCIM writes) is printed
//! with its expected value, and the process exits non-zero when one fails.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use anyhow::{bail, Context};
use hrsync_sim::{sample_roster, ScimSim, UkgSim, UkgSimConfig};

/// What `/usr/bin/time -v` and the simulators saw of one `hrsync sync`.
struct Measured {
    wall_secs: f64,
    cpu_secs: f64,
    max_rss_kib: u64,
    ukg_requests: usize,
    scim_requests: usize,
    scim_writes: usize,
    summary: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse()).collect::<Result<_, _>>()?;
    let employees = args.first().copied().unwrap_or(100_000);
    let page_size = args.get(1).copied().unwrap_or(10_000);
    let per_mille = args.get(2).copied().unwrap_or(10);
    let hrsync = hrsync_binary()?;

    let generated = Instant::now();
    let mut config = UkgSimConfig::new("svc", "pw", "KEY01", sample_roster(employees, 1, "bench.example"));
    config.max_page_size = page_size.max(10_000);
    let ukg = UkgSim::start(config).await?;
    let app = ScimSim::start("tok").await?;
    eprintln!(
        "roster of {employees} generated in {:.1}s",
        generated.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir()?;
    let config = dir.path().join("hrsync.toml");
    std::fs::write(
        &config,
        config_text(dir.path(), &ukg.base_url(), &app.base_url(), page_size),
    )?;

    // UKG: 2 lookups (org levels, jobs), then demographics and employment-details page by
    // page; demographics end at an empty page, employment-details at a short page holding
    // the demographics' count, so when N is a multiple of the page size both lists cost one
    // more (empty) page, else only demographics.
    let pages = employees.div_ceil(page_size);
    let empty_finals = if employees % page_size == 0 { 2 } else { 1 };
    let expected_ukg = 2 * pages + empty_finals + 2;
    println!(
        "employees {employees}, page size {page_size}; UKG requests expected per run: 2·⌈N/page⌉ = {} + {empty_finals} empty final pages + 2 lookups = {expected_ukg}",
        2 * pages
    );
    println!("| run | wall | CPU (user+sys) | peak RSS | UKG requests | SCIM requests | SCIM writes |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let mut failed = Vec::new();

    let first = run(&hrsync, &config, &ukg, &app).await?;
    let applied = app.users().len();
    row("first sync", &first, applied);
    check(
        &mut failed,
        "first sync: UKG requests",
        first.ukg_requests,
        expected_ukg,
    );

    let same = run(&hrsync, &config, &ukg, &app).await?;
    row("no change", &same, 0);
    check(&mut failed, "no change: UKG requests", same.ukg_requests, expected_ukg);
    check(&mut failed, "no change: SCIM writes", same.scim_writes, 0);

    let changes = change_titles(&ukg, &app, per_mille);
    let incremental = run(&hrsync, &config, &ukg, &app).await?;
    row(&format!("incremental ({changes} changed)"), &incremental, changes);
    check(
        &mut failed,
        "incremental: UKG requests",
        incremental.ukg_requests,
        expected_ukg,
    );
    check(
        &mut failed,
        "incremental: SCIM writes",
        incremental.scim_writes,
        changes,
    );

    for (label, m) in [
        ("first sync", &first),
        ("no change", &same),
        ("incremental", &incremental),
    ] {
        eprintln!("--- hrsync sync, {label} ---\n{}", m.summary.trim_end());
    }
    if !failed.is_empty() {
        bail!("checks failed: {}", failed.join("; "));
    }
    Ok(())
}

fn row(label: &str, m: &Measured, expected_writes: usize) {
    println!(
        "| {label} | {:.2} s | {:.2} s | {:.0} MiB | {} | {} | {} (expected {expected_writes}) |",
        m.wall_secs,
        m.cpu_secs,
        m.max_rss_kib as f64 / 1024.0,
        m.ukg_requests,
        m.scim_requests,
        m.scim_writes,
    );
}

fn check(failed: &mut Vec<String>, what: &str, got: usize, expected: usize) {
    if got != expected {
        failed.push(format!("{what}: {got}, expected {expected}"));
    }
}

/// `target/release/hrsync` next to this example (`target/release/examples/scale`).
fn hrsync_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("hrsync"))
        .context("cannot locate the target directory")?;
    if !bin.exists() {
        bail!(
            "{} not found: cargo build --release --bin hrsync --example scale",
            bin.display()
        );
    }
    Ok(bin)
}

fn config_text(dir: &Path, ukg: &str, scim: &str, page_size: usize) -> String {
    format!(
        r#"[service]
data_dir = "{data}"

[[tenants]]
id = "scale"
technical_contact = "it@scale.example"

[tenants.ukg]
base_url = "{ukg}"
username = "svc"
password_env = "SCALE_UKG_PASSWORD"
api_key_env = "SCALE_UKG_API_KEY"
page_size = {page_size}
requests_per_second = 1000000
timeout = "300s"

[tenants.scim]
base_url = "{scim}"
token_env = "SCALE_SCIM_TOKEN"
requests_per_second = 1000000
concurrency = 8
timeout = "60s"
"#,
        data = dir.join("data").display()
    )
}

/// One `hrsync sync` under `/usr/bin/time -v`, with the simulators' counters reset before.
async fn run(hrsync: &Path, config: &Path, ukg: &UkgSim, app: &ScimSim) -> anyhow::Result<Measured> {
    ukg.reset_requests();
    app.reset_requests();
    let started = Instant::now();
    // SCALE_WRAP (e.g. "heaptrack -o /tmp/ht/run") runs hrsync under a profiler.
    let wrap = std::env::var("SCALE_WRAP").unwrap_or_default();
    let out = tokio::process::Command::new("/usr/bin/time")
        .arg("-v")
        .args(wrap.split_whitespace())
        .arg(hrsync)
        .args(["sync", "--tenant", "scale", "--config"])
        .arg(config)
        .env("SCALE_UKG_PASSWORD", "pw")
        .env("SCALE_UKG_API_KEY", "KEY01")
        .env("SCALE_SCIM_TOKEN", "tok")
        .stdin(Stdio::null())
        .output()
        .await
        .context("cannot run /usr/bin/time (apt-get install time)")?;
    let wall_secs = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("hrsync sync failed ({}):\n{stdout}\n{stderr}", out.status);
    }
    let field = |name: &str| -> anyhow::Result<f64> {
        stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .with_context(|| format!("no {name:?} in the output of /usr/bin/time -v:\n{stderr}"))
    };
    Ok(Measured {
        wall_secs,
        cpu_secs: field("User time (seconds):")? + field("System time (seconds):")?,
        max_rss_kib: field("Maximum resident set size (kbytes):")? as u64,
        ukg_requests: ukg.request_count(),
        scim_requests: app.request_count(),
        scim_writes: app.write_count(),
        summary: stdout,
    })
}

/// Changes the job title of every `1000 / per_mille`-th employee that is an active user in
/// the app; returns how many were changed (each must cost exactly one write).
fn change_titles(ukg: &UkgSim, app: &ScimSim, per_mille: usize) -> usize {
    let active: std::collections::HashSet<String> = app
        .users()
        .into_iter()
        .filter(|u| u["active"] == true)
        .filter_map(|u| u["externalId"].as_str().map(str::to_owned))
        .collect();
    let step = (1000 / per_mille.max(1)).max(1);
    let chosen: Vec<String> = ukg
        .employees()
        .into_iter()
        .filter(|e| active.contains(&e.employee_id))
        .step_by(step)
        .map(|e| e.employee_id)
        .collect();
    let mut changed = 0;
    for id in &chosen {
        if ukg.update(id, |e| {
            e.job_title = Some(format!("{} (changed)", e.job_title.as_deref().unwrap_or("Staff")))
        }) {
            changed += 1;
        }
    }
    changed
}
