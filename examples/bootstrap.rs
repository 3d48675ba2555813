//! Benchmark: bootstrap throughput against the real scim2-server, next to that server's own
//! write capacity measured by a tight load client at the same concurrency.
//!
//! ```sh
//! scripts/test.sh --no-run          # once: installs .venv with scim2-server
//! cargo build --release --example bootstrap
//! ./target/release/examples/bootstrap 10000 4     # EMPLOYEES CONCURRENCY
//! ```
//! Rate limits are off (requests_per_second = 1,000,000). The UKG simulator runs in process.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use hrsync::service::sync_once;
use hrsync_actors::spec::TenantSpec;
use hrsync_actors::store::Store;
use hrsync_actors::upstream::RetryPolicy;
use hrsync_sim::{sample_roster, UkgSim, UkgSimConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse()).collect::<Result<_, _>>()?;
    let employees = args.first().copied().unwrap_or(10_000);
    let concurrency = args.get(1).copied().unwrap_or(4);
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/scim2-server");
    let mut server = Command::new(&bin)
        .args([
            "--port",
            &port.to_string(),
            "--bearer-token",
            "tok",
            "--tenant",
            "hrsync",
            "--tenant",
            "load",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let base = |t: &str| format!("http://127.0.0.1:{port}/{t}/v2");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .get(format!("{}/Users", base("load")))
        .bearer_auth("tok")
        .send()
        .await
        .is_err()
    {
        anyhow::ensure!(Instant::now() < deadline, "scim2-server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 1. The server's own capacity: POST the same kind of users as fast as it takes them.
    let started = Instant::now();
    let load_base = base("load");
    let created = futures::stream::iter(0..employees)
        .map(|i| {
            let (client, url) = (client.clone(), format!("{load_base}/Users"));
            async move {
                let body = serde_json::json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                    "externalId": format!("L{i:06}"), "userName": format!("load.user{i}@bench.example"),
                    "name": {"givenName": "Load", "familyName": format!("User{i}")}, "displayName": format!("Load User{i}"),
                    "emails": [{"value": format!("load.user{i}@bench.example"), "type": "work", "primary": true}],
                    "title": "Engineer", "active": true,
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": format!("{i:09}"), "department": "Engineering"}
                });
                let r = client.post(url).bearer_auth("tok").header("content-type", "application/scim+json").body(body.to_string()).send().await;
                r.map(|r| r.status() == 201).unwrap_or(false)
            }
        })
        .buffer_unordered(concurrency)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    let load_secs = started.elapsed().as_secs_f64();
    let capacity = created as f64 / load_secs;

    // 2. hrsync: a first sync of the same number of employees into an empty tenant.
    let ukg = UkgSim::start(UkgSimConfig::new(
        "svc",
        "pw",
        "KEY01",
        sample_roster(employees, 3, "bench.example"),
    ))
    .await?;
    let mut tenant = TenantSpec::local(
        "bench",
        ukg.base_url(),
        ("svc", "pw", "KEY01"),
        base("hrsync"),
        "tok",
        1000,
    );
    tenant.ukg.requests_per_second = 1_000_000;
    tenant.ukg.timeout = Duration::from_secs(120);
    if let Some(scim) = tenant.target.scim_mut() {
        scim.requests_per_second = 1_000_000;
        scim.concurrency = concurrency;
        scim.timeout = Duration::from_secs(120);
    }
    let started = Instant::now();
    let summary = sync_once(Store::temporary()?, tenant, None, RetryPolicy::default()).await?;
    let sync_secs = started.elapsed().as_secs_f64();
    let c = &summary.counts;
    let users = (c.created + c.adopted) as f64;
    let rate = users / sync_secs;
    let _ = server.kill();
    println!("employees {employees}, concurrency {concurrency}, rate limits off");
    println!("scim2-server capacity (load client, {created} POSTs): {capacity:.0} users/s ({load_secs:.1} s)");
    println!(
        "hrsync first sync: {} users in {sync_secs:.1} s = {rate:.0} users/s; {} SCIM requests ({} manager links), {} UKG requests, outcome {:?}",
        users, summary.traffic.scim_requests, c.managers_linked, summary.traffic.ukg_requests, summary.outcome
    );
    println!("ratio hrsync / capacity: {:.2}", rate / capacity);
    Ok(())
}
