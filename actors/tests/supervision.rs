//! Supervision, in-process, against the UKG simulator and the small SCIM app: a panic inside
//! a handler restarts the pipeline and the run completes without duplicates while another
//! tenant is unaffected; a run resumes from every committed checkpoint without re-writing
//! committed pages; failing tenants are quarantined while others keep their schedule.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hrsync_actors::faults::{FaultHook, PanicPoint};
use hrsync_actors::model::{Outcome, RunSummary};
use hrsync_actors::root::{RootArgs, RootMsg, Supervisor};
use hrsync_actors::spec::TenantSpec;
use hrsync_actors::status::{StatusBoard, TenantState};
use hrsync_actors::store::Store;
use hrsync_actors::upstream::RetryPolicy;
use hrsync_sim::{sample_roster, Fault, ScimSim, SimEmployee, UkgSim, UkgSimConfig};
use ractor::{Actor, ActorRef};

const PASSWORD: &str = "pw";
const KEY: &str = "KEY01";
const TOKEN: &str = "tok";

async fn ukg(n: usize, seed: u64) -> UkgSim {
    let data = sample_roster(n, seed, "sup.example");
    UkgSim::start(UkgSimConfig::new("svc", PASSWORD, KEY, data))
        .await
        .unwrap()
}

fn spec(id: &str, ukg: &UkgSim, app: &ScimSim, page_size: u32, concurrency: usize) -> TenantSpec {
    let mut t = TenantSpec::local(
        id,
        ukg.base_url(),
        ("svc", PASSWORD, KEY),
        app.base_url(),
        TOKEN,
        page_size,
    );
    t.schedule = Duration::from_secs(3600);
    t.technical_contact = "it@sup.example".into();
    t.ukg.timeout = Duration::from_secs(10);
    if let Some(scim) = t.target.scim_mut() {
        scim.timeout = Duration::from_secs(10);
        scim.concurrency = concurrency;
    }
    t
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
    }
}

async fn start(
    tenants: Vec<TenantSpec>,
    autostart: bool,
    faults: Option<Arc<FaultHook>>,
) -> (ActorRef<RootMsg>, StatusBoard) {
    start_capped(tenants, autostart, faults, None).await
}

async fn start_capped(
    tenants: Vec<TenantSpec>,
    autostart: bool,
    faults: Option<Arc<FaultHook>>,
    max_concurrent_runs: Option<usize>,
) -> (ActorRef<RootMsg>, StatusBoard) {
    let status = StatusBoard::default();
    let args = RootArgs {
        tenants,
        store: Store::temporary().unwrap(),
        status: status.clone(),
        smtp: None,
        autostart,
        retry: fast_retry(),
        faults,
        max_concurrent_runs,
        start_spread: Duration::ZERO,
    };
    let (root, _) = Actor::spawn(None, Supervisor, args).await.unwrap();
    (root, status)
}

async fn run_now(root: &ActorRef<RootMsg>, tenant: &str) -> RunSummary {
    let (tx, rx) = tokio::sync::oneshot::channel();
    root.cast(RootMsg::RunNow {
        tenant: tenant.into(),
        reply: tx.into(),
    })
    .unwrap();
    tokio::time::timeout(Duration::from_secs(60), rx)
        .await
        .expect("run timed out")
        .expect("tenant stopped")
}

async fn stop(root: ActorRef<RootMsg>) {
    root.stop_and_wait(None, Some(Duration::from_secs(30))).await.unwrap();
}

fn active_ids(ukg: &UkgSim) -> BTreeSet<String> {
    ukg.employees()
        .into_iter()
        .filter(|e| e.status != "T")
        .map(|e| e.employee_id)
        .collect()
}

/// The app's users by externalId, asserting none is there twice.
fn app_ids(app: &ScimSim) -> BTreeSet<String> {
    let users = app.users();
    let ids: BTreeSet<String> = users
        .iter()
        .map(|u| u["externalId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), users.len(), "an externalId is in the app twice");
    ids
}

/// Employment-details page numbers in the order UKG was asked for them.
fn employment_pages(ukg: &UkgSim) -> Vec<u32> {
    ukg.requests()
        .iter()
        .filter(|r| r.path == "/personnel/v1/employment-details")
        .map(|r| {
            r.query
                .split('&')
                .find_map(|kv| kv.strip_prefix("page="))
                .and_then(|p| p.parse().ok())
                .unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_in_a_handler_restarts_the_pipeline_and_the_run_completes() {
    let (ukg_a, ukg_b) = (ukg(40, 1).await, ukg(40, 2).await);
    let (app_a, app_b) = (
        ScimSim::start(TOKEN).await.unwrap(),
        ScimSim::start(TOKEN).await.unwrap(),
    );
    // An employee on the second page: the first page is committed before the panic.
    let victim: SimEmployee = ukg_a.employees()[15].clone();
    let faults = Arc::new(FaultHook::default());
    faults.arm(PanicPoint::Map {
        tenant: "sup-a".into(),
        employee_id: victim.employee_id.clone(),
    });
    let tenants = vec![
        spec("sup-a", &ukg_a, &app_a, 10, 4),
        spec("sup-b", &ukg_b, &app_b, 10, 4),
    ];
    let (root, status) = start(tenants, false, Some(faults)).await;

    let started = Instant::now();
    let (a, b) = tokio::join!(run_now(&root, "sup-a"), async {
        let s = run_now(&root, "sup-b").await;
        (s, started.elapsed())
    });
    let (b, b_took) = b;
    assert_eq!(b.outcome, Outcome::Ok, "{b:?}");
    assert!(
        b_took < Duration::from_secs(5),
        "the other tenant was slowed down: {b_took:?}"
    );
    assert_eq!(status.snapshot()["sup-b"].restarts, 0);

    assert_eq!(a.outcome, Outcome::Ok, "{a:?}");
    assert_eq!(status.snapshot()["sup-a"].restarts, 1, "one pipeline restart");
    assert_eq!(
        app_ids(&app_a),
        active_ids(&ukg_a),
        "every active employee exactly once"
    );
    assert_eq!(app_ids(&app_b), active_ids(&ukg_b));
    assert_eq!(
        a.counts.created,
        active_ids(&ukg_a).len() as u64,
        "counts survive the restart: {a:?}"
    );
    stop(root).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_resumes_from_every_committed_checkpoint() {
    // 50 employees, 10 a page: pages 1..5 full, page 6 empty. Concurrency 1 makes the
    // writes of a clean run deterministic, so a resumed run can be compared with it.
    let ukg = ukg(50, 3).await;
    let writes_clean = {
        let app = ScimSim::start(TOKEN).await.unwrap();
        let (root, _) = start(vec![spec("resume-0", &ukg, &app, 10, 1)], false, None).await;
        assert_eq!(run_now(&root, "resume-0").await.outcome, Outcome::Ok);
        stop(root).await;
        app.write_count()
    };
    for k in 1..=5u32 {
        let tenant = format!("resume-{k}");
        let app = ScimSim::start(TOKEN).await.unwrap();
        let faults = Arc::new(FaultHook::default());
        faults.arm(PanicPoint::AfterCommit {
            tenant: tenant.clone(),
            page: k,
        });
        ukg.reset_requests();
        let (root, status) = start(vec![spec(&tenant, &ukg, &app, 10, 1)], false, Some(faults)).await;
        let summary = run_now(&root, &tenant).await;
        assert_eq!(summary.outcome, Outcome::Ok, "k={k}: {summary:?}");
        assert_eq!(status.snapshot()[&tenant].restarts, 1, "k={k}");
        assert_eq!(
            app.write_count(),
            writes_clean,
            "k={k}: committed pages were written again"
        );
        assert_eq!(app_ids(&app), active_ids(&ukg), "k={k}");
        assert_eq!(
            summary.counts.created,
            active_ids(&ukg).len() as u64,
            "k={k}: {summary:?}"
        );
        // After the crash the fetcher starts again at page k+1; pages 1..=k are read once.
        let pages = employment_pages(&ukg);
        let restart_at = pages.windows(2).position(|w| w[1] <= w[0]).map(|i| i + 1).unwrap();
        assert_eq!(pages[restart_at], k + 1, "k={k}: pages read {pages:?}");
        for p in 1..=k {
            assert_eq!(
                pages.iter().filter(|&&x| x == p).count(),
                1,
                "k={k}: page {p} read again: {pages:?}"
            );
        }
        stop(root).await;
    }
}

/// A first sync defers the create of a user whose manager is not in the app yet to the end
/// of the run. A crash between recording such a user and dropping its pending entry must
/// leave the user recorded (it is adopted, not lost): were the entry dropped first, the
/// resumed run would neither create the manager nor link its reports (seen in the SIGKILL
/// test as "manager … is not in the app").
#[tokio::test(flavor = "multi_thread")]
async fn a_crash_while_recording_a_deferred_create_loses_neither_the_user_nor_its_reports_links() {
    let ukg = ukg(60, 11).await;
    // The order the writer meets them (employment-details order, one write at a time): a
    // user is deferred when its manager was not written before it.
    let mut roster: Vec<SimEmployee> = ukg.employees().into_iter().filter(|e| e.status != "T").collect();
    roster.sort_by(|a, b| (&a.company_id, &a.employee_id).cmp(&(&b.company_id, &b.employee_id)));
    let mut written = BTreeSet::new();
    let mut deferred = BTreeSet::new();
    for e in &roster {
        match &e.supervisor_id {
            Some(m) if !written.contains(m) => deferred.insert(e.employee_id.clone()),
            _ => written.insert(e.employee_id.clone()),
        };
    }
    let reports_of = |m: &str| -> Vec<String> {
        roster
            .iter()
            .filter(|e| e.supervisor_id.as_deref() == Some(m))
            .map(|e| e.employee_id.clone())
            .collect()
    };
    let victim = deferred
        .iter()
        .find(|d| !reports_of(d).is_empty())
        .expect("the sample roster defers a manager")
        .clone();

    let app = ScimSim::start(TOKEN).await.unwrap();
    let faults = Arc::new(FaultHook::default());
    faults.arm(PanicPoint::DeferredCreateRecorded {
        tenant: "deferred".into(),
        employee_id: victim.clone(),
    });
    let (root, status) = start(vec![spec("deferred", &ukg, &app, 10, 1)], false, Some(faults)).await;
    let summary = run_now(&root, "deferred").await;
    assert_eq!(status.snapshot()["deferred"].restarts, 1, "the armed crash fired");
    assert_eq!(summary.outcome, Outcome::Ok, "{summary:?}");
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    assert_eq!(app_ids(&app), active_ids(&ukg), "every active employee exactly once");
    let users = app.users();
    let app_id = |external: &str| {
        users
            .iter()
            .find(|u| u["externalId"] == external)
            .map(|u| u["id"].clone())
            .unwrap()
    };
    let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    for report in reports_of(&victim) {
        let user = users.iter().find(|u| u["externalId"] == report.as_str()).unwrap();
        assert_eq!(
            user[enterprise]["manager"]["value"],
            app_id(&victim),
            "{report} is linked to its manager {victim}"
        );
    }
    stop(root).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_tenants_are_quarantined_while_others_keep_their_schedule() {
    let (good_ukg, bad_ukg, down_ukg) = (ukg(10, 4).await, ukg(10, 5).await, ukg(10, 6).await);
    let app = ScimSim::start(TOKEN).await.unwrap();
    let every = Duration::from_millis(300);
    let mut good = spec("q-good", &good_ukg, &app, 100, 4);
    good.schedule = every;
    // Refused credentials: quarantined after the first run.
    let mut bad = spec("q-bad", &bad_ukg, &app, 100, 4);
    bad.ukg.password = "wrong".into();
    bad.schedule = every;
    // UKG down: quarantined after `quarantine_after` failed runs.
    down_ukg.inject(Fault::Down);
    let mut down = spec("q-down", &down_ukg, &app, 100, 4);
    down.schedule = every;
    down.quarantine_after = 2;
    let (root, status) = start(vec![good, bad, down], true, None).await;

    tokio::time::sleep(Duration::from_secs(4)).await;
    let s = status.snapshot();
    let good_runs = s["q-good"].last_run.as_ref().map_or(0, |r| r.run_id);
    assert!(good_runs >= 4, "the healthy tenant kept its schedule: {good_runs} runs");
    // (Its state may be `running` at this instant: it syncs every 300 ms.)
    assert_eq!(s["q-good"].last_run.as_ref().unwrap().outcome, Outcome::Ok);
    assert!(s["q-good"].quarantine.is_none());

    assert_eq!(s["q-bad"].state, TenantState::Quarantined, "{:?}", s["q-bad"]);
    assert_eq!(
        s["q-bad"].last_run.as_ref().unwrap().run_id,
        1,
        "no run after quarantine"
    );
    let q = s["q-bad"].quarantine.as_ref().unwrap();
    assert!(q.reason.contains("credentials"), "{q:?}");
    let next = s["q-bad"].next_run_at.unwrap() - chrono::Utc::now();
    assert!(next > chrono::Duration::hours(5), "next run in 6 h, got {next}");

    assert_eq!(s["q-down"].state, TenantState::Quarantined, "{:?}", s["q-down"]);
    assert_eq!(
        s["q-down"].last_run.as_ref().unwrap().run_id,
        2,
        "quarantined after 2 failed runs"
    );
    assert_eq!(s["q-down"].consecutive_failures, 2);
    assert_eq!(
        app_ids(&app),
        active_ids(&good_ukg),
        "only the healthy tenant's users are in the app"
    );
    stop(root).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_global_cap_lets_one_tenant_run_at_a_time() {
    let (ukg_a, ukg_b) = (ukg(30, 7).await, ukg(30, 8).await);
    let app = ScimSim::start(TOKEN).await.unwrap();
    // Slow UKG answers make the runs long enough to overlap if they could.
    ukg_a.inject(Fault::Delay(Duration::from_millis(150)));
    ukg_b.inject(Fault::Delay(Duration::from_millis(150)));
    let tenants = vec![spec("cap-a", &ukg_a, &app, 10, 4), spec("cap-b", &ukg_b, &app, 10, 4)];
    let (root, _) = start_capped(tenants, false, None, Some(1)).await;
    let (a, b) = tokio::join!(run_now(&root, "cap-a"), run_now(&root, "cap-b"));
    assert_eq!((a.outcome.clone(), b.outcome.clone()), (Outcome::Ok, Outcome::Ok));
    let (first, second) = if a.started_at <= b.started_at {
        (&a, &b)
    } else {
        (&b, &a)
    };
    assert!(
        second.started_at >= first.finished_at,
        "runs overlapped: {first:?} / {second:?}"
    );
    stop(root).await;
}
