//! The change feed's decisions, in-process, against the UKG simulator and the small SCIM
//! app, with UKG's real rule (3 h apart, 8 a day): no window before a first complete full
//! run; a window's call recorded before it is made and counted against the rule (so the
//! next tick waits); a window listing more than 500 employees, or deactivations that would
//! trip the brake, starts a full run instead; a window applied through the one-person path.

use std::time::Duration;

use chrono::Utc;
use hrsync_actors::change_feed::{ChangeFeed, FeedCtx, FeedNext, FeedRules, FULL_RUN_ABOVE};
use hrsync_actors::model::{Counts, Outcome, RunSummary};
use hrsync_actors::one_sync::SyncCtx;
use hrsync_actors::scim::ScimClient;
use hrsync_actors::spec::TenantSpec;
use hrsync_actors::status::StatusBoard;
use hrsync_actors::store::{ProgressStore, Store};
use hrsync_actors::tenant::TenantResources;
use hrsync_actors::ukg::UkgClient;
use hrsync_sim::{sample_roster, ScimSim, UkgSim, UkgSimConfig};

const EVERY: Duration = Duration::from_secs(3 * 3600);

struct World {
    ukg_sim: UkgSim,
    app: ScimSim,
    spec: TenantSpec,
    store: std::sync::Arc<dyn ProgressStore>,
    _db: Store,
    status: StatusBoard,
    ukg: UkgClient,
    scim: ScimClient,
}

async fn world(id: &str, n: usize) -> World {
    let ukg_sim = UkgSim::start(UkgSimConfig::new(
        "svc",
        "pw",
        "KEY01",
        sample_roster(n, 7, "feed.test"),
    ))
    .await
    .unwrap();
    let app = ScimSim::start("tok").await.unwrap();
    let spec = TenantSpec::local(
        id,
        ukg_sim.base_url(),
        ("svc", "pw", "KEY01"),
        app.base_url(),
        "tok",
        100,
    );
    let db = Store::temporary().unwrap();
    let store = db.tenant(id).unwrap();
    let res = TenantResources::new(&spec);
    let ukg = UkgClient::new(spec.ukg.clone(), res.ukg_limiter.clone(), res.ukg_counters.clone());
    let scim = ScimClient::new(
        spec.target.scim().cloned().unwrap(),
        res.scim_limiter.clone(),
        res.scim_counters.clone(),
    );
    World {
        ukg_sim,
        app,
        spec,
        store,
        _db: db,
        status: StatusBoard::default(),
        ukg,
        scim,
    }
}

impl World {
    fn ctx(&self) -> FeedCtx<'_> {
        FeedCtx {
            sync: SyncCtx {
                spec: &self.spec,
                store: self.store.as_ref(),
                ukg: &self.ukg,
                scim: &self.scim,
            },
            status: &self.status,
            run_in_progress: false,
        }
    }

    /// Records a completed full run that started `ago` before now.
    fn completed_run(&self, ago: chrono::Duration) {
        let c = self.store.begin_run(Utc::now() - ago).unwrap();
        self.store
            .finish_run(&RunSummary {
                tenant: self.spec.id.clone(),
                run_id: c.run_id,
                started_at: c.started_at,
                finished_at: Utc::now(),
                outcome: Outcome::Ok,
                counts: Counts::default(),
                failures: vec![],
                excluded: vec![],
                error: None,
                cause: None,
                review: None,
                pages: 1,
                traffic: Default::default(),
            })
            .unwrap();
    }

    fn feed_calls(&self) -> usize {
        self.ukg_sim
            .requests()
            .iter()
            .filter(|r| r.path == "/personnel/v1/employee-changes")
            .count()
    }
}

/// Applies the window in progress to its end.
async fn apply_window(feed: &mut ChangeFeed, ctx: &FeedCtx<'_>) -> FeedNext {
    loop {
        match feed.step(ctx).await.unwrap() {
            FeedNext::Step => continue,
            other => return other,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_window_before_a_full_run_then_one_call_per_rule() {
    let w = world("feed-rule", 12).await;
    let mut feed = ChangeFeed::new(Some(EVERY));
    // No full run yet: nothing is asked of UKG.
    assert!(matches!(feed.tick(&w.ctx()).await.unwrap(), FeedNext::TickIn(_)));
    assert_eq!(w.feed_calls(), 0);
    assert!(w.store.feed_state().unwrap().is_none());

    w.completed_run(chrono::Duration::minutes(5));
    let hired = w.ukg_sim.employees()[3].employee_id.clone();
    w.ukg_sim.update(&hired, |e| e.job_title = Some("Feed Tester".into()));
    // Windows end on a whole second, before now.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(feed.tick(&w.ctx()).await.unwrap(), FeedNext::Step);
    assert_eq!(w.feed_calls(), 1);
    let state = w.store.feed_state().unwrap().unwrap();
    assert_eq!(state.calls.len(), 1, "the call is recorded (it was made)");
    assert!(
        matches!(apply_window(&mut feed, &w.ctx()).await, FeedNext::TickIn(d) if d > EVERY - Duration::from_secs(60))
    );
    // The changed employee went through the one-person path (its manager chain first).
    assert!(w
        .app
        .users()
        .iter()
        .any(|u| u["externalId"] == hired.as_str() && u["title"] == "Feed Tester"));
    let state = w.store.feed_state().unwrap().unwrap();
    assert!(state.applied_until.is_some());
    assert_eq!(state.last_window.as_ref().map(|l| l.outcome.as_str()), Some("applied"));

    // Another tick right away: UKG's rule says wait ~3 h; nothing is called.
    match feed.tick(&w.ctx()).await.unwrap() {
        FeedNext::TickIn(d) => assert!(d > Duration::from_secs(3 * 3600 - 60), "{d:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(w.feed_calls(), 1);
    // A fresh feed (a restarted process) over the same store waits just as long.
    let mut restarted = ChangeFeed::new(Some(EVERY));
    assert!(matches!(restarted.tick(&w.ctx()).await.unwrap(), FeedNext::TickIn(_)));
    assert_eq!(w.feed_calls(), 1);
    let calls = w.store.feed_state().unwrap().unwrap().calls;
    assert!(!FeedRules::UKG.allows(&calls, Utc::now() + chrono::Duration::minutes(179)));
    assert!(FeedRules::UKG.allows(&calls, Utc::now() + chrono::Duration::minutes(181)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_window_of_more_than_500_employees_starts_a_full_run() {
    let w = world("feed-big", FULL_RUN_ABOVE + 100).await;
    w.completed_run(chrono::Duration::minutes(1));
    for e in w.ukg_sim.employees() {
        w.ukg_sim
            .update(&e.employee_id, |x| x.job_title = Some("Renamed".into()));
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut feed = ChangeFeed::new(Some(EVERY));
    match feed.tick(&w.ctx()).await.unwrap() {
        FeedNext::FullRun(d) => assert!(d > EVERY - Duration::from_secs(60), "{d:?}"),
        other => panic!("expected a full run, got {other:?}"),
    }
    // Paged at 200 until past the threshold; one call against the rule; nothing written.
    assert_eq!(w.feed_calls(), 3);
    let state = w.store.feed_state().unwrap().unwrap();
    assert_eq!(state.calls.len(), 1);
    assert_eq!(state.applied_until, None);
    assert!(w.app.users().is_empty());
    assert_eq!(w.store.employee_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_window_whose_deactivations_would_trip_the_brake_starts_a_full_run() {
    let mut w = world("feed-brake", 20).await;
    w.spec.brake.max_deactivations = Some(2);
    w.completed_run(chrono::Duration::minutes(1));
    let leavers: Vec<String> = w.ukg_sim.employees()[10..13]
        .iter()
        .map(|e| e.employee_id.clone())
        .collect();
    for id in &leavers {
        let report = hrsync_actors::one_sync::sync_employee(&w.ctx().sync, id).await.unwrap();
        assert!(report.is_ok(), "{report:?}");
    }
    for id in &leavers {
        assert!(w
            .ukg_sim
            .terminate(id, Utc::now().date_naive() - chrono::Duration::days(1)));
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut feed = ChangeFeed::new(Some(EVERY));
    assert!(matches!(feed.tick(&w.ctx()).await.unwrap(), FeedNext::FullRun(_)));
    // Nobody was deactivated by the feed.
    for id in &leavers {
        assert!(w.store.employee(id).unwrap().unwrap().active);
    }
    let outcome = w.store.feed_state().unwrap().unwrap().last_window.unwrap().outcome;
    assert!(
        outcome.contains("3 deactivations exceed max_deactivations = 2"),
        "{outcome}"
    );

    // Within the brake (three allowed), the leavers are deactivated one by one. (The rule's
    // record is cleared by hand: this test cannot wait 3 hours.)
    w.spec.brake.max_deactivations = Some(3);
    let mut state = w.store.feed_state().unwrap().unwrap();
    state.calls.clear();
    w.store.set_feed_state(&state).unwrap();
    assert_eq!(feed.tick(&w.ctx()).await.unwrap(), FeedNext::Step);
    apply_window(&mut feed, &w.ctx()).await;
    for id in &leavers {
        assert!(!w.store.employee(id).unwrap().unwrap().active, "{id}");
    }
}
