//! Benchmark: how much of its UKG request budget hrsync uses, and whether it ever exceeds it.
//!
//! Runs one real sync (the same supervised actors as `hrsync sync`) against the UKG Pro
//! simulator and the in-process SCIM app, with `requests_per_second = R` towards UKG and a
//! small page size so the run makes many requests, then reads the simulator's request log.
//!
//! ```sh
//! cargo run --release --example rate_fidelity -- [RPS] [EMPLOYEES] [PAGE_SIZE]   # defaults 5 2000 20
//! ```

use std::time::{Duration, Instant};

use hrsync::service::sync_once;
use hrsync_actors::spec::TenantSpec;
use hrsync_actors::store::Store;
use hrsync_actors::upstream::RetryPolicy;
use hrsync_sim::{sample_roster, ScimSim, UkgSim, UkgSimConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<u32> = std::env::args().skip(1).map(|a| a.parse()).collect::<Result<_, _>>()?;
    let rps = args.first().copied().unwrap_or(5);
    let employees = args.get(1).copied().unwrap_or(2000) as usize;
    let page_size = args.get(2).copied().unwrap_or(20);

    let ukg = UkgSim::start(UkgSimConfig::new(
        "svc",
        "pw",
        "KEY01",
        sample_roster(employees, 1, "bench.example"),
    ))
    .await?;
    let app = ScimSim::start("tok").await?;
    let mut tenant = TenantSpec::local(
        "bench",
        ukg.base_url(),
        ("svc", "pw", "KEY01"),
        app.base_url(),
        "tok",
        page_size,
    );
    tenant.ukg.requests_per_second = rps;
    tenant.ukg.timeout = Duration::from_secs(60);
    if let Some(scim) = tenant.target.scim_mut() {
        scim.requests_per_second = 10_000;
        scim.concurrency = 8;
    }
    let store = Store::temporary()?;
    println!("employees {employees}, page size {page_size}, UKG limit {rps} req/s (burst 1)");
    for label in ["first run (creates everyone)", "second run (no change)"] {
        ukg.reset_requests();
        let started = Instant::now();
        let summary = sync_once(store.clone(), tenant.clone(), None, RetryPolicy::default()).await?;
        report(label, &ukg, started, &summary, rps);
    }
    Ok(())
}

fn report(label: &str, ukg: &UkgSim, started: Instant, summary: &hrsync_actors::model::RunSummary, rps: u32) {
    let wall = started.elapsed();

    let times: Vec<Instant> = ukg.requests().iter().map(|r| r.at).collect();
    let span = times.last().copied().unwrap_or(started) - times.first().copied().unwrap_or(started);
    let achieved = (times.len().saturating_sub(1)) as f64 / span.as_secs_f64().max(f64::EPSILON);
    let worst = (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| **t - times[i] < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0);
    println!(
        "{label}: UKG requests seen by the simulator {} (hrsync counted {}; 2 x ceil(N/page), + 2 empty final pages when N is a multiple of the page size, + 2 lookups), outcome {:?}, wall {:.1}s",
        times.len(),
        summary.traffic.ukg_requests,
        summary.outcome,
        wall.as_secs_f64()
    );
    println!(
        "achieved {achieved:.2} req/s = {:.1}% of the limit; most in any 1 s window: {worst} (ceiling {})",
        100.0 * achieved / rps as f64,
        rps + 1
    );
}
