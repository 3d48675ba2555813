//! Benchmark: how much of its request budget hrsync uses, towards UKG or towards the app,
//! and whether it ever exceeds it.
//!
//! Runs real syncs (the same supervised actors as `hrsync sync`) against the UKG Pro
//! simulator and the in-process SCIM app, with `requests_per_second = R` on the side
//! measured (the other side unlimited), then reads that simulator's request log.
//!
//! ```sh
//! cargo build --release --example rate_fidelity
//! ./target/release/examples/rate_fidelity 5 2000 20        # UKG side: RPS EMPLOYEES PAGE_SIZE
//! ./target/release/examples/rate_fidelity scim 5 1000      # SCIM side: RPS EMPLOYEES
//! ```
//! UKG side: a first run (creates everyone) and a second run (no change), small pages so a
//! run makes many requests. SCIM side: a first sync (one listing of the app's users, then a
//! POST per user) and a run after every employee's job title changed (a PUT per user);
//! the app's limit is R, 4 writes in flight, burst 1.

use std::time::{Duration, Instant};

use hrsync::service::sync_once;
use hrsync_actors::model::RunSummary;
use hrsync_actors::spec::TenantSpec;
use hrsync_actors::store::Store;
use hrsync_actors::upstream::RetryPolicy;
use hrsync_sim::{sample_roster, RequestRecord, ScimSim, UkgSim, UkgSimConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let scim_side = args.first().is_some_and(|a| a == "scim");
    if args.first().is_some_and(|a| a == "scim" || a == "ukg") {
        args.remove(0);
    }
    let args: Vec<u32> = args.iter().map(|a| a.parse()).collect::<Result<_, _>>()?;
    let rps = args.first().copied().unwrap_or(5);
    let employees = args.get(1).copied().unwrap_or(if scim_side { 1000 } else { 2000 }) as usize;
    let page_size = args.get(2).copied().unwrap_or(if scim_side { 1000 } else { 20 });

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
    tenant.ukg.timeout = Duration::from_secs(60);
    let store = Store::temporary()?;
    if scim_side {
        tenant.ukg.requests_per_second = 10_000;
        if let Some(scim) = tenant.target.scim_mut() {
            scim.requests_per_second = rps;
            scim.concurrency = 4;
        }
        println!("employees {employees}, SCIM limit {rps} req/s (burst 1), 4 writes in flight");
        for label in ["first sync (a POST per user)", "every title changed (a PUT per user)"] {
            if label.starts_with("every") {
                for e in ukg.employees() {
                    ukg.update(&e.employee_id, |e| e.job_title = Some("Renamed".to_string()));
                }
            }
            app.reset_requests();
            let started = Instant::now();
            let summary = sync_once(store.clone(), tenant.clone(), None, RetryPolicy::default()).await?;
            let times = app.requests().iter().map(|r| r.at).collect();
            println!(
                "{label}: SCIM requests seen by the app {} ({} writes; hrsync counted {}), outcome {:?}, wall {:.1}s",
                app.request_count(),
                app.write_count(),
                summary.traffic.scim_requests,
                summary.outcome,
                started.elapsed().as_secs_f64()
            );
            report(times, rps);
        }
    } else {
        tenant.ukg.requests_per_second = rps;
        if let Some(scim) = tenant.target.scim_mut() {
            scim.requests_per_second = 10_000;
            scim.concurrency = 8;
        }
        println!("employees {employees}, page size {page_size}, UKG limit {rps} req/s (burst 1)");
        for label in ["first run (creates everyone)", "second run (no change)"] {
            ukg.reset_requests();
            let started = Instant::now();
            let summary = sync_once(store.clone(), tenant.clone(), None, RetryPolicy::default()).await?;
            ukg_line(label, &ukg.requests(), started, &summary);
            report(ukg.requests().iter().map(|r| r.at).collect(), rps);
        }
    }
    Ok(())
}

fn ukg_line(label: &str, requests: &[RequestRecord], started: Instant, summary: &RunSummary) {
    println!(
        "{label}: UKG requests seen by the simulator {} (hrsync counted {}; 2 x ceil(N/page), + 2 empty final pages when N is a multiple of the page size (else 1), + 2 lookups), outcome {:?}, wall {:.1}s",
        requests.len(),
        summary.traffic.ukg_requests,
        summary.outcome,
        started.elapsed().as_secs_f64()
    );
}

/// Achieved rate from the first to the last request, and the most requests in any 1 s window.
fn report(times: Vec<Instant>, rps: u32) {
    let span = match (times.first(), times.last()) {
        (Some(a), Some(b)) => *b - *a,
        _ => Duration::ZERO,
    };
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
        "achieved {achieved:.2} req/s over {:.1}s = {:.1}% of the limit; most in any 1 s window: {worst} (ceiling {})",
        span.as_secs_f64(),
        100.0 * achieved / rps as f64,
        rps + 1
    );
}
