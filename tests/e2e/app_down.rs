//! The app going down at the end of a run, with the real SCIM server behind the fault proxy:
//! the run ends failed ("SCIM API unreachable") after a few attempts instead of trying every
//! remaining user with full retries; the next run, with the app back, completes without a
//! duplicate.

use std::collections::{BTreeMap, BTreeSet};

use hrsync_sim::SampleData;

use crate::harness::{ukg_sim, ScimServer, Setup, TenantConf};
use crate::proxy::KillProxy;

/// Employees created only after the last page on a first sync: active, with a work email,
/// and with a manager read in a later page (the roster is paged in employment order,
/// company then employee id), so their manager is not in the app when their page is applied.
fn surely_deferred(data: &SampleData, page_size: usize) -> BTreeSet<String> {
    let mut order: Vec<(&str, &str)> = data
        .employees
        .iter()
        .map(|e| (e.company_id.as_str(), e.employee_id.as_str()))
        .collect();
    order.sort();
    let page: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, (_, id))| (*id, i / page_size))
        .collect();
    data.employees
        .iter()
        .filter(|e| e.status == "A" && e.email.is_some())
        .filter(|e| {
            e.supervisor_id
                .as_deref()
                .is_some_and(|m| page.get(m).is_some_and(|p| *p > page[e.employee_id.as_str()]))
        })
        .map(|e| e.employee_id.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_app_going_down_during_deferred_creates_fails_the_run_after_a_few_attempts() {
    let (ukg, data) = ukg_sim(80, 53, "gone.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["gone"], "tok").await;
    let proxy = KillProxy::start(&format!("http://127.0.0.1:{}", scim.port)).await;
    let tenant = TenantConf {
        id: "gone".into(),
        ukg_base: ukg.base_url(),
        scim_base: proxy.base_url("gone"),
        page_size: 10,
        ukg_password: "pw".into(),
        ukg_api_key: "KEY01".into(),
        scim_token: scim.token.clone(),
    };
    let setup = Setup::new(&[&tenant]);
    setup.fast_retries();
    let deferred = surely_deferred(&data, 10);
    assert!(deferred.len() >= 10, "the roster defers enough creates: {deferred:?}");
    proxy.go_down_at_create_of(deferred.clone());

    let run = setup.sync("gone").await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("SCIM API unreachable"), "{run:?}");
    // At most the writes in flight (concurrency 4) with their retries (4 attempts each),
    // not every remaining deferred user with full retries.
    let cut = proxy.cut();
    assert!(
        (1..=16).contains(&cut),
        "{cut} requests to the down app for {} deferred users",
        deferred.len()
    );

    // The app is back: the next run creates everyone left, nobody twice.
    proxy.come_back();
    let next = setup.sync("gone").await;
    next.assert_ok();
    assert_eq!(next.count("failed"), 0, "{next:?}");
    let creates = proxy.creates();
    let unique: BTreeSet<&String> = creates.iter().collect();
    assert_eq!(unique.len(), creates.len(), "no duplicate creates");
    let users = scim.users("gone").await;
    assert!(
        deferred.iter().all(|id| users.contains_key(id)),
        "every deferred user created"
    );
}
