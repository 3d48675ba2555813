//! How runs end, in-process against the UKG simulator and the small SCIM app: a run whose
//! deactivations the brake held ends `held` (status, gauge, counter) and is back to `ok`
//! once approved; a panic while computing the first-run review ends the review with an
//! error (status) and the tenant runs again.

use std::sync::Arc;
use std::time::Duration;

use hrsync_actors::faults::{FaultHook, PanicPoint};
use hrsync_actors::model::{Outcome, RunSummary};
use hrsync_actors::root::{RootArgs, RootMsg, Supervisor};
use hrsync_actors::spec::TenantSpec;
use hrsync_actors::status::{StatusBoard, TenantState};
use hrsync_actors::store::Store;
use hrsync_actors::upstream::RetryPolicy;
use hrsync_sim::{sample_roster, ScimSim, UkgSim, UkgSimConfig};
use ractor::{Actor, ActorRef};

async fn world(id: &str, n: usize, seed: u64) -> (UkgSim, ScimSim, TenantSpec) {
    let data = sample_roster(n, seed, "end.example");
    let ukg = UkgSim::start(UkgSimConfig::new("svc", "pw", "KEY01", data))
        .await
        .unwrap();
    let app = ScimSim::start("tok").await.unwrap();
    let mut spec = TenantSpec::local(id, ukg.base_url(), ("svc", "pw", "KEY01"), app.base_url(), "tok", 50);
    spec.schedule = Duration::from_secs(3600);
    spec.technical_contact = "it@end.example".into();
    (ukg, app, spec)
}

async fn start(spec: TenantSpec, faults: Option<Arc<FaultHook>>) -> (ActorRef<RootMsg>, StatusBoard) {
    let status = StatusBoard::default();
    let args = RootArgs {
        tenants: vec![spec],
        store: Store::temporary().unwrap(),
        status: status.clone(),
        smtp: None,
        autostart: false,
        retry: RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(50),
        },
        faults,
        max_concurrent_runs: None,
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
        .expect("no answer: the tenant refuses to run")
        .expect("tenant stopped")
}

/// The value of one `/metrics` line, e.g. `hrsync_deactivations_held{tenant="t"}`.
fn metric(status: &StatusBoard, series: &str) -> String {
    let text = status.render_metrics();
    text.lines()
        .find_map(|l| l.strip_prefix(series).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_whose_deactivations_are_held_ends_held_until_approved() {
    let (ukg, _app, mut spec) = world("end-held", 12, 71).await;
    spec.brake.max_deactivations = Some(1);
    let (root, status) = start(spec, None).await;
    assert_eq!(run_now(&root, "end-held").await.outcome, Outcome::Ok);
    let leavers: Vec<String> = ukg
        .employees()
        .into_iter()
        .filter(|e| e.status == "A")
        .take(3)
        .map(|e| e.employee_id)
        .collect();
    for id in &leavers {
        ukg.terminate(id, chrono::Utc::now().date_naive() - chrono::Duration::days(1));
    }

    let held = run_now(&root, "end-held").await;
    assert_eq!(held.outcome, Outcome::Held, "{held:?}");
    assert_eq!(held.counts.held, 3, "{held:?}");
    let s = &status.snapshot()["end-held"];
    assert_eq!(s.state, TenantState::Held);
    assert_eq!((s.deactivations_held, s.held_run), (3, Some(held.run_id)));
    assert_eq!(metric(&status, "hrsync_deactivations_held{tenant=\"end-held\"}"), "3");
    assert_eq!(
        metric(&status, "hrsync_runs_total{tenant=\"end-held\",outcome=\"held\"}"),
        "1"
    );
    assert_eq!(
        metric(&status, "hrsync_runs_total{tenant=\"end-held\",outcome=\"ok\"}"),
        "1",
        "only the first run was ok"
    );

    let (tx, rx) = tokio::sync::oneshot::channel();
    root.cast(RootMsg::Approve {
        tenant: "end-held".into(),
        run: held.run_id,
        reject: false,
        reply: tx.into(),
    })
    .unwrap();
    let line = rx.await.unwrap().unwrap();
    assert!(line.contains("3 deactivated"), "{line}");
    let s = &status.snapshot()["end-held"];
    assert_eq!(s.state, TenantState::Ok, "back to ok once approved");
    assert_eq!((s.deactivations_held, s.held_run), (0, None));
    assert_eq!(metric(&status, "hrsync_deactivations_held{tenant=\"end-held\"}"), "0");
    root.stop_and_wait(None, Some(Duration::from_secs(30))).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_in_the_first_run_review_ends_it_with_an_error_and_the_tenant_runs_again() {
    let (_ukg, app, mut spec) = world("end-review", 10, 72).await;
    spec.first_run_review = true;
    let faults = Arc::new(FaultHook::default());
    faults.arm(PanicPoint::Review {
        tenant: "end-review".into(),
    });
    let (root, status) = start(spec, Some(faults)).await;

    let crashed = run_now(&root, "end-review").await;
    assert_eq!(crashed.outcome, Outcome::Failed, "{crashed:?}");
    let error = crashed.error.clone().unwrap_or_default();
    assert!(
        error.contains("first-run review") && error.contains("stopped unexpectedly"),
        "{error}"
    );
    let s = &status.snapshot()["end-review"];
    assert_eq!(s.state, TenantState::Failed, "{s:?}");
    assert_eq!(s.last_run.as_ref().and_then(|r| r.error.clone()), Some(error));

    // The tenant is not stuck: the next run computes the review.
    let planned = run_now(&root, "end-review").await;
    assert_eq!(planned.outcome, Outcome::AwaitingReview, "{planned:?}");
    assert!(planned.review.as_ref().is_some_and(|r| r.creates > 0), "{planned:?}");
    assert_eq!(status.snapshot()["end-review"].state, TenantState::AwaitingReview);
    assert!(app.users().is_empty(), "a review writes nothing");
    root.stop_and_wait(None, Some(Duration::from_secs(30))).await.unwrap();
}
