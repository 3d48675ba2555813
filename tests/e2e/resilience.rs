//! Resilient, rate-limited API calls: UKG down fails cleanly and recovers; 429s are retried
//! exactly once each and change nothing in the end state; truncated JSON, wrong content
//! types, 5xx and connection resets are survived; the request rate never exceeds the limit.

use std::collections::BTreeMap;
use std::time::Duration;

use hrsync_sim::{Fault, UkgSim, UkgSimConfig};
use serde_json::Value;

use crate::harness::{ukg_sim, ScimServer, Setup, TenantConf, UKG_USER};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn conf(id: &str, ukg: &UkgSim, scim: &ScimServer, page_size: u32) -> TenantConf {
    TenantConf::on(id, ukg, scim, page_size)
}

/// The app's users without what the app assigns (ids, meta), managers by externalId.
async fn end_state(scim: &ScimServer, tenant: &str) -> BTreeMap<String, Value> {
    let users = scim.users(tenant).await;
    let ext_of: BTreeMap<String, String> = users
        .values()
        .map(|u| {
            (
                u["id"].as_str().unwrap().to_string(),
                u["externalId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    users
        .into_iter()
        .map(|(ext, mut u)| {
            let obj = u.as_object_mut().unwrap();
            obj.remove("id");
            obj.remove("meta");
            if let Some(m) = obj.get_mut(ENTERPRISE).and_then(|e| e.get_mut("manager")) {
                let id = m["value"].as_str().unwrap().to_string();
                m["value"] = Value::String(ext_of[&id].clone());
            }
            (ext, u)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn ukg_down_fails_cleanly_then_the_next_run_succeeds() {
    let (ukg, data) = ukg_sim(20, 31, "down.example", "pw", "KEY01").await;
    let addr = ukg.addr();
    let scim = ScimServer::start(&["down"], "tok").await;
    let setup = Setup::new(&[&conf("down", &ukg, &scim, 7)]);
    setup.fast_retries();
    ukg.shutdown().await;

    let run = setup.sync("down").await;
    assert_eq!(run.code, Some(1), "{run:?}");
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "one line: {run:?}");
    assert!(errors[0].starts_with("error: UKG Pro API unreachable: "), "{run:?}");
    assert!(scim.users("down").await.is_empty(), "nothing written");

    // UKG is back on the same address: the next run applies everything.
    let _ukg = UkgSim::start_on(UkgSimConfig::new(UKG_USER, "pw", "KEY01", data.clone()), addr)
        .await
        .unwrap();
    let run = setup.sync("down").await;
    run.assert_ok();
    let active = data.employees.iter().filter(|e| e.status != "T").count() as u64;
    assert_eq!(run.count("created"), active, "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_429_is_retried_once_and_the_end_state_is_unchanged() {
    let scim = ScimServer::start(&["clean", "throttled"], "tok").await;
    let (clean_ukg, _) = ukg_sim(30, 32, "t.example", "pw", "KEY01").await;
    let (ukg, _) = ukg_sim(30, 32, "t.example", "pw", "KEY01").await;
    let clean = Setup::new(&[&conf("clean", &clean_ukg, &scim, 4)]);
    clean.sync("clean").await.assert_ok();

    // Every 3rd UKG request is throttled: without Retry-After at first, then with one.
    ukg.inject(Fault::StatusEvery {
        k: 3,
        status: 429,
        retry_after: None,
    });
    let setup = Setup::new(&[&conf("throttled", &ukg, &scim, 4)]);
    setup.fast_retries();
    let run = setup.sync("throttled").await;
    run.assert_ok();
    let throttled = ukg.requests().iter().filter(|r| r.status == 429).count() as u64;
    assert!(throttled >= 5, "the fault fired: {throttled}");
    assert_eq!(run.retries("UKG"), (throttled, throttled), "{run:?}");
    assert_eq!(run.requests("UKG"), ukg.request_count() as u64);
    assert_eq!(end_state(&scim, "throttled").await, end_state(&scim, "clean").await);

    // Retry-After is honoured: the retry comes no sooner than the server asked.
    ukg.clear_faults();
    ukg.reset_requests();
    ukg.inject(Fault::StatusEvery {
        k: 4,
        status: 429,
        retry_after: Some(1),
    });
    let run = setup.sync("throttled").await;
    run.assert_ok();
    let log = ukg.requests();
    let mut seen = 0;
    for (i, r) in log.iter().enumerate().filter(|(_, r)| r.status == 429) {
        if let Some(next) = log.get(i + 1) {
            let waited = next.at - r.at;
            assert!(waited >= Duration::from_millis(950), "retried after {waited:?}");
            seen += 1;
        }
    }
    assert!(seen >= 1, "{log:?}");
    assert_eq!(run.retries("UKG").1, seen as u64, "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_responses_are_retried_and_persistent_ones_fail_the_run_without_progress() {
    let scim = ScimServer::start(&["clean", "faulty", "hopeless"], "tok").await;
    let (clean_ukg, _) = ukg_sim(25, 33, "f.example", "pw", "KEY01").await;
    Setup::new(&[&conf("clean", &clean_ukg, &scim, 6)])
        .sync("clean")
        .await
        .assert_ok();

    let (ukg, _) = ukg_sim(25, 33, "f.example", "pw", "KEY01").await;
    ukg.inject(Fault::TruncateNext { n: 2 });
    ukg.inject(Fault::WrongContentTypeNext { n: 1 });
    ukg.inject(Fault::StatusNext { n: 2, status: 503 });
    ukg.inject(Fault::ResetNext { n: 1 });
    let setup = Setup::new(&[&conf("faulty", &ukg, &scim, 6)]);
    setup.fast_retries();
    // The six faults hit the first six requests in a row: allow for them.
    setup.edit(|t| t.replacen("retry_attempts = 4", "retry_attempts = 8", 1));
    let run = setup.sync("faulty").await;
    run.assert_ok();
    assert!(run.retries("UKG").0 >= 5, "{run:?}");
    assert_eq!(end_state(&scim, "faulty").await, end_state(&scim, "clean").await);

    // Truncated JSON on every response: the run fails with a clear reason, nothing applied.
    let (ukg, _) = ukg_sim(25, 33, "f.example", "pw", "KEY01").await;
    ukg.inject(Fault::TruncateNext { n: 10_000 });
    let setup = Setup::new(&[&conf("hopeless", &ukg, &scim, 6)]);
    setup.fast_retries();
    let run = setup.sync("hopeless").await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("unreadable response") && run.stderr.contains("invalid JSON"),
        "{run:?}"
    );
    assert!(scim.users("hopeless").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ukg_request_rate_never_exceeds_the_limit() {
    let (ukg, _) = ukg_sim(60, 34, "r.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["rated"], "tok").await;
    let setup = Setup::new(&[&conf("rated", &ukg, &scim, 4)]);
    let limit = 8;
    setup.edit(|t| {
        t.replacen(
            "requests_per_second = 200",
            &format!("requests_per_second = {limit}"),
            1,
        )
    });
    setup.sync("rated").await.assert_ok();
    let times: Vec<_> = ukg.requests().iter().map(|r| r.at).collect();
    assert!(times.len() >= 30, "{}", times.len());
    let worst = (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| **t - times[i] < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap();
    // Default burst is 1: at most limit + 1 requests in any 1-second window.
    assert!(worst <= limit + 1, "{worst} requests within one second, limit {limit}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ukg_slower_than_the_timeout_fails_the_run_cleanly() {
    let (ukg, _) = ukg_sim(10, 35, "slow.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["slow"], "tok").await;
    let setup = Setup::new(&[&conf("slow", &ukg, &scim, 50)]);
    setup.fast_retries();
    setup.edit(|t| {
        t.replacen(
            "requests_per_second = 200",
            "requests_per_second = 200\ntimeout = \"1s\"",
            1,
        )
    });
    ukg.inject(Fault::Delay(Duration::from_millis(1500)));
    let run = setup.sync("slow").await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("UKG Pro API unreachable: timed out"), "{run:?}");
    assert_eq!(run.retries("UKG").0, 3, "retried up to retry_attempts = 4: {run:?}");
    assert!(scim.users("slow").await.is_empty());
}
