//! Changes within 3 hours: `changes_every` makes `hrsync run` read UKG's employee-changes
//! feed between full runs and apply the changed employees at once.
//!
//! UKG's 3-hour spacing makes real-time tests impossible, so these set the test-only
//! environment variable `HRSYNC_TEST_CHANGES_SPACING` (windows that far apart, with a tenth
//! of it as overlap); the 8-calls-a-day cap is the production one. The production spacing
//! is unit-tested with a fake clock in `actors/src/change_feed.rs`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{ukg_sim, ScimServer, Setup, TenantConf};
use crate::one_sync::new_hire;
use crate::proxy::KillProxy;
use crate::service::{outcome, Service};

const CHANGES: &str = "/personnel/v1/employee-changes";
const EMPLOYMENT_LIST: &str = "/personnel/v1/employment-details";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A config with `changes_every = "3h"` for its one tenant.
fn feed_setup(tenant: &TenantConf) -> Setup {
    let setup = Setup::new(&[tenant]);
    setup.edit(|t| t.replace("schedule = \"24h\"\n", "schedule = \"24h\"\nchanges_every = \"3h\"\n"));
    setup
}

/// When the simulator received each employee-changes request.
fn feed_calls(ukg: &hrsync_sim::UkgSim) -> Vec<Instant> {
    ukg.requests()
        .iter()
        .filter(|r| r.path == CHANGES)
        .map(|r| r.at)
        .collect()
}

/// Polls `check` (every 100 ms) until it holds, for at most `limit`.
async fn eventually(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn status(service: &Service) -> Value {
    let (_, body) = service.get("/status").await.expect("status answers");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_change_feed_applies_a_change_made_after_the_daily_run() {
    let (ukg, data) = ukg_sim(25, 101, "feed.example", "pw-f", "KEYF1").await;
    let scim = ScimServer::start(&["feed"], "tok-f").await;
    let tenant = TenantConf {
        id: "feed".into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url("feed"),
        page_size: 10,
        ukg_password: "pw-f".into(),
        ukg_api_key: "KEYF1".into(),
        scim_token: "tok-f".into(),
    };
    let setup = feed_setup(&tenant);
    let service = Service::start(&setup, &[("HRSYNC_TEST_CHANGES_SPACING", "2s")]);
    service.wait_status(|v| outcome(v, "feed") == Some("ok")).await;
    let roster_reads = || ukg.requests().iter().filter(|r| r.path == EMPLOYMENT_LIST).count();
    let reads_after_run = roster_reads();

    // After the daily run: a new title, and a hire reporting to an existing manager.
    let changed = data.employees[4].employee_id.clone();
    assert!(ukg.update(&changed, |e| e.job_title = Some("Chief Feed Officer".into())));
    let manager = &data.employees[2];
    new_hire(&ukg, &data.employees[9], "FEEDNEW1", "nova.feed@feed.example", manager);

    eventually(Duration::from_secs(30), "the feed to apply both changes", async || {
        let users = scim.users("feed").await;
        users.get(&changed).is_some_and(|u| u["title"] == "Chief Feed Officer")
            && users
                .get("FEEDNEW1")
                .is_some_and(|u| u[ENTERPRISE]["manager"]["value"] == users[&manager.employee_id]["id"])
    })
    .await;
    // Without a full run: still run 1, and the roster list was not read again.
    let s = status(&service).await;
    assert_eq!(s["tenants"]["feed"]["last_run"]["run_id"], 1, "{s}");
    assert_eq!(roster_reads(), reads_after_run);
    let feed = &s["tenants"]["feed"]["changes"];
    assert!(feed["calls_last_24h"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(feed["every_secs"], 2, "{s}");
    let request = ukg.requests().into_iter().find(|r| r.path == CHANGES).unwrap();
    assert!(
        request.query.contains("startDate=")
            && request.query.contains("endDate=")
            && request.query.contains("per_page=200"),
        "{request:?}"
    );
    eventually(Duration::from_secs(10), "an applied window in /status", async || {
        let s = status(&service).await;
        s["tenants"]["feed"]["changes"]["last_window"]["outcome"] == "applied"
            && s["tenants"]["feed"]["changes"]["applied_until"].is_string()
    })
    .await;
    let (code, log) = service.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("change feed window applied"), "{log}");
    assert!(log.contains("HRSYNC_TEST_CHANGES_SPACING is set"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_change_feed_keeps_ukgs_budget_across_a_restart() {
    let (ukg, _) = ukg_sim(10, 102, "budget.example", "pw-b", "KEYB1").await;
    let scim = ScimServer::start(&["budget"], "tok-b").await;
    let tenant = TenantConf {
        id: "budget".into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url("budget"),
        page_size: 10,
        ukg_password: "pw-b".into(),
        ukg_api_key: "KEYB1".into(),
        scim_token: "tok-b".into(),
    };
    let setup = feed_setup(&tenant);
    let spacing = Duration::from_secs(2);
    let env = [("HRSYNC_TEST_CHANGES_SPACING", "2s")];

    // A first process makes a few calls and is killed right after one.
    let mut first = Service::start(&setup, &env);
    eventually(Duration::from_secs(30), "three feed calls", async || {
        feed_calls(&ukg).len() >= 3
    })
    .await;
    first.child.kill().await.unwrap();
    let before_restart = feed_calls(&ukg).len();
    assert!(before_restart < 8, "{before_restart} calls before the restart");

    // A second process on the same database: the persisted budget holds.
    let second = Service::start(&setup, &env);
    eventually(Duration::from_secs(90), "eight feed calls", async || {
        feed_calls(&ukg).len() >= 8
    })
    .await;
    tokio::time::sleep(4 * spacing).await;
    let calls = feed_calls(&ukg);
    assert_eq!(calls.len(), 8, "more than 8 calls within a day");
    for pair in calls.windows(2) {
        // Each call is recorded before it is sent: arrivals may differ by the sending delay.
        let gap = pair[1] - pair[0];
        assert!(
            gap + Duration::from_millis(500) >= spacing,
            "two calls {gap:?} apart (spacing {spacing:?}); calls: {calls:?}"
        );
    }
    let s = status(&second).await;
    let feed = &s["tenants"]["budget"]["changes"];
    assert_eq!(feed["calls_last_24h"], 8, "{s}");
    // The next call UKG's rule allows is a day after the first.
    let next: chrono::DateTime<chrono::Utc> = feed["next_call_allowed_at"].as_str().unwrap().parse().unwrap();
    assert!(next > chrono::Utc::now() + chrono::Duration::hours(23), "{s}");
    let (code, log) = second.terminate().await;
    assert_eq!(code, Some(0), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_window_stopped_mid_way_loses_nothing_and_writes_each_change_once() {
    let (ukg, data) = ukg_sim(25, 103, "stop.example", "pw-st", "KEYS2").await;
    let scim = ScimServer::start(&["stop"], "tok-st").await;
    let proxy = KillProxy::start(&format!("http://127.0.0.1:{}", scim.port)).await;
    let tenant = TenantConf {
        id: "stop".into(),
        ukg_base: ukg.base_url(),
        scim_base: proxy.base_url("stop"),
        page_size: 10,
        ukg_password: "pw-st".into(),
        ukg_api_key: "KEYS2".into(),
        scim_token: "tok-st".into(),
    };
    let setup = feed_setup(&tenant);
    setup.fast_retries();
    // 3 s apart (overlap 0.3 s): a window end wrongly advanced past the stopped window would
    // start the next window after the changes, so this test would see them lost.
    // Why a window stopped names an employee: /status shows it with the admin token only.
    setup.edit(|t| {
        t.replacen(
            "[service]\n",
            "[service]\nadmin_token_env = \"HRSYNC_ADMIN_TOKEN\"\n",
            1,
        )
    });
    let service = Service::start(
        &setup,
        &[
            ("HRSYNC_TEST_CHANGES_SPACING", "3s"),
            ("HRSYNC_ADMIN_TOKEN", "admin-token-st-1"),
        ],
    );
    service.wait_status(|v| outcome(v, "stop") == Some("ok")).await;

    // Right after a window was read, three employees change; the app then takes one write
    // and fails the next ones: the following window stops after its first employee.
    let seen = feed_calls(&ukg).len();
    eventually(Duration::from_secs(30), "a feed call", async || {
        feed_calls(&ukg).len() > seen
    })
    .await;
    let first_request = proxy.request_count();
    proxy.fail_writes_after(1, 503);
    let changed: Vec<String> = [3, 8, 11]
        .iter()
        .map(|i| data.employees[*i].employee_id.clone())
        .collect();
    for (n, id) in changed.iter().enumerate() {
        assert!(ukg.update(id, |e| e.job_title = Some(format!("Feed Title {n}"))));
    }
    eventually(Duration::from_secs(30), "a window stopped by the app", async || {
        let (_, body) = service
            .get_with_token("/status", Some("admin-token-st-1"))
            .await
            .expect("status answers");
        let s: Value = serde_json::from_str(&body).unwrap();
        s["tenants"]["stop"]["changes"]["last_window"]["outcome"]
            .as_str()
            .is_some_and(|o| o.starts_with("stopped at employee"))
    })
    .await;
    assert!(proxy.writes_failed() > 0);
    proxy.heal();

    // A later window (it overlaps the stopped one) applies the rest.
    eventually(Duration::from_secs(30), "every change in the app", async || {
        let users = scim.users("stop").await;
        changed.iter().enumerate().all(|(n, id)| {
            users
                .get(id)
                .is_some_and(|u| u["title"] == format!("Feed Title {n}").as_str())
        })
    })
    .await;
    // Each change was written once: the one applied before the stop is not written again.
    let users = scim.users("stop").await;
    let log = proxy.log();
    for id in &changed {
        let target = format!("/stop/v2/Users/{}", users[id]["id"].as_str().unwrap());
        let ok_writes = log
            .iter()
            .filter(|s| s.number > first_request && s.method != "GET" && s.target == target)
            .filter(|s| (200..300).contains(&s.status))
            .count();
        assert_eq!(ok_writes, 1, "employee {id}: {log:?}");
    }
    let s = status(&service).await;
    assert_eq!(s["tenants"]["stop"]["last_run"]["run_id"], 1, "no full run: {s}");
    let (code, log) = service.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("change feed window stopped"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_process_killed_mid_window_loses_nothing() {
    let (ukg, data) = ukg_sim(25, 104, "killfeed.example", "pw-k", "KEYK1").await;
    let scim = ScimServer::start(&["killfeed"], "tok-k").await;
    let proxy = KillProxy::start(&format!("http://127.0.0.1:{}", scim.port)).await;
    let tenant = TenantConf {
        id: "killfeed".into(),
        ukg_base: ukg.base_url(),
        scim_base: proxy.base_url("killfeed"),
        page_size: 10,
        ukg_password: "pw-k".into(),
        ukg_api_key: "KEYK1".into(),
        scim_token: "tok-k".into(),
    };
    let setup = feed_setup(&tenant);
    let env = [("HRSYNC_TEST_CHANGES_SPACING", "3s")];
    let first = Service::start(&setup, &env);
    first.wait_status(|v| outcome(v, "killfeed") == Some("ok")).await;
    let users_before = scim.users("killfeed").await.len();

    // Right after a window was read, three employees change; the next window's first write
    // reaches the app, and the process is SIGKILLed before it hears the answer.
    let seen = feed_calls(&ukg).len();
    eventually(Duration::from_secs(30), "a feed call", async || {
        feed_calls(&ukg).len() > seen
    })
    .await;
    proxy.arm(first.child.id().unwrap(), 1, crate::proxy::KillMode::AfterUpstream);
    let changed: Vec<String> = [2, 9, 14]
        .iter()
        .map(|i| data.employees[*i].employee_id.clone())
        .collect();
    let changed_at = chrono::Utc::now();
    for (n, id) in changed.iter().enumerate() {
        assert!(ukg.update(id, |e| e.job_title = Some(format!("Killed Title {n}"))));
    }
    eventually(Duration::from_secs(30), "the kill", async || proxy.kills() == 1).await;
    proxy.disarm();
    drop(first);

    // What the killed process left in its store: the window that read the changes was
    // recorded as a call, but its end was not applied (its employees were not all written).
    {
        let store = hrsync_actors::store::Store::open(&setup.dir.path().join("data")).unwrap();
        let feed = store.tenant("killfeed").unwrap().feed_state().unwrap().unwrap();
        assert!(
            feed.calls.last().is_some_and(|c| *c >= changed_at),
            "the killed window was read after the changes: {feed:?}"
        );
        assert!(
            feed.applied_until.is_some_and(|t| t < changed_at),
            "the killed window must not count as applied: {feed:?}"
        );
    }

    // A new process on the same store: its start-up run and the next windows apply it all.
    let second = Service::start(&setup, &env);
    eventually(Duration::from_secs(60), "every change in the app", async || {
        let users = scim.users("killfeed").await;
        changed.iter().enumerate().all(|(n, id)| {
            users
                .get(id)
                .is_some_and(|u| u["title"] == format!("Killed Title {n}").as_str())
        })
    })
    .await;
    assert_eq!(
        scim.users("killfeed").await.len(),
        users_before,
        "no user created twice"
    );
    let (code, log) = second.terminate().await;
    assert_eq!(code, Some(0), "{log}");
}
