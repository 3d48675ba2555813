//! Correlation, bad data and the brakes, with the real SCIM server: pre-imported users are
//! adopted, not duplicated; each bad record is set aside with its reason while the rest
//! syncs; a termination storm is held until approved; an empty roster deactivates nobody; a
//! future-dated termination waits for its day; `plan` writes nothing.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use hrsync_sim::SimEmployee;
use serde_json::json;

use crate::harness::{ukg_sim, ScimServer, Setup, TenantConf};

fn conf(id: &str, ukg: &hrsync_sim::UkgSim, scim: &ScimServer) -> TenantConf {
    TenantConf {
        id: id.into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url(id),
        page_size: 40,
        ukg_password: "pw".into(),
        ukg_api_key: "KEY01".into(),
        scim_token: scim.token.clone(),
    }
}

fn active(employees: &[SimEmployee]) -> Vec<&SimEmployee> {
    employees.iter().filter(|e| e.status != "T").collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn pre_imported_users_are_adopted_and_nobody_is_duplicated() {
    // 120 employees in UKG (plus 2 long-gone leavers); 100 of them were imported into the app
    // by CSV before hrsync was connected (no externalId, email in another case).
    let (ukg, data) = ukg_sim(122, 41, "seed.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["seed"], "tok").await;
    let people = active(&data.employees);
    assert_eq!(people.len(), 120);
    for e in &people[..100] {
        let email = e.email.clone().unwrap().to_uppercase();
        scim.create_user(
            "seed",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email, "active": true}),
        )
        .await;
    }
    let setup = Setup::new(&[&conf("seed", &ukg, &scim)]);
    let first = setup.sync("seed").await;
    first.assert_ok();
    assert_eq!(
        (first.count("adopted"), first.count("created"), first.count("failed")),
        (100, 20, 0),
        "{first:?}"
    );

    let mut hire = people[5].clone();
    hire.employee_id = "ZZHIRED001".into();
    hire.email = Some("new.hire@seed.example".into());
    hire.employee_number = "000900001".into();
    ukg.hire(hire);
    let second = setup.sync("seed").await;
    second.assert_ok();
    assert_eq!(second.count("created"), 1, "{second:?}");
    let users = scim.users("seed").await;
    assert_eq!(users.len(), 121, "exactly 121 users");
    let names: BTreeSet<String> = users
        .values()
        .map(|u| u["userName"].as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(names.len(), 121, "no userName twice");
    assert!(
        users.values().all(|u| u["externalId"].is_string()),
        "every user carries its employee id"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_bad_record_is_set_aside_with_its_reason_and_the_rest_syncs() {
    let (ukg, data) = ukg_sim(30, 42, "bad.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["bad"], "tok").await;
    let ids: Vec<String> = active(&data.employees).iter().map(|e| e.employee_id.clone()).collect();
    // Leaves (no reports) for the record-level cases, so their reports are not affected.
    let managers: BTreeSet<String> = data.employees.iter().filter_map(|e| e.supervisor_id.clone()).collect();
    let leaves: Vec<&String> = ids.iter().filter(|id| !managers.contains(*id)).collect();
    let (no_email, bad_email, no_first, dup_a, dup_b, selfish, orphan, cyc_a, cyc_b) = (
        leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], leaves[5], leaves[6], leaves[7], leaves[8],
    );
    ukg.update(no_email, |e| e.email = None);
    ukg.update(bad_email, |e| e.email = Some("not-an-email".into()));
    ukg.update(no_first, |e| {
        e.first_name = String::new();
        e.preferred_name = None
    });
    let shared = data
        .employees
        .iter()
        .find(|e| &e.employee_id == dup_a)
        .unwrap()
        .email
        .clone();
    ukg.update(dup_b, |e| e.email = shared.clone());
    ukg.update(selfish, |e| e.supervisor_id = Some(e.employee_id.clone()));
    ukg.update(orphan, |e| e.supervisor_id = Some("NOSUCHBOSS".into()));
    let (a, b) = (cyc_a.clone(), cyc_b.clone());
    ukg.update(cyc_a, |e| e.supervisor_id = Some(b.clone()));
    ukg.update(cyc_b, |e| e.supervisor_id = Some(a.clone()));

    let setup = Setup::new(&[&conf("bad", &ukg, &scim)]);
    let run = setup.sync("bad").await;
    run.assert_ok();
    let reason = |id: &str| {
        run.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("failed {id}:")))
            .unwrap_or_else(|| panic!("no failure for {id}: {run:?}"))
            .to_string()
    };
    assert!(reason(no_email).contains("no work email"));
    assert!(reason(bad_email).contains("not a valid address"));
    assert!(reason(no_first).contains("no first name"));
    // Of two active employees sharing an email, the first read keeps it; the other is set aside.
    let dup_lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains("is also the work email of employee"))
        .collect();
    assert_eq!(dup_lines.len(), 1, "{run:?}");
    let (kept, aside) = if dup_lines[0].contains(&format!("failed {dup_b}:")) {
        (dup_a, dup_b)
    } else {
        (dup_b, dup_a)
    };
    assert!(
        dup_lines[0].contains(&format!("failed {aside}:")) && dup_lines[0].contains(&format!("employee {kept} in UKG")),
        "{}",
        dup_lines[0]
    );
    assert!(reason(selfish).contains("own supervisor"));
    assert!(reason(orphan).contains("NOSUCHBOSS is not in the UKG roster"));
    let cycle = run.stdout.lines().filter(|l| l.contains("would make a cycle")).count();
    assert_eq!(cycle, 1, "one of the two links is refused: {run:?}");

    let users = scim.users("bad").await;
    for id in [no_email, bad_email, no_first, aside] {
        assert!(!users.contains_key(id.as_str()), "{id} set aside");
    }
    for id in [kept, selfish, orphan, cyc_a, cyc_b] {
        assert!(
            users.contains_key(id.as_str()),
            "{id} synced (only its manager link is affected)"
        );
    }
    assert_eq!(users.len(), ids.len() - 4, "everyone else synced");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_termination_storm_is_held_until_approved() {
    let (ukg, data) = ukg_sim(132, 43, "storm.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["storm"], "tok").await;
    let setup = Setup::new(&[&conf("storm", &ukg, &scim)]);
    setup.sync("storm").await.assert_ok();
    let people = active(&data.employees);
    let storm: Vec<&SimEmployee> = people.iter().copied().skip(1).take(people.len() * 40 / 100).collect();
    for e in &storm {
        ukg.terminate(&e.employee_id, Utc::now().date_naive() - Duration::days(1));
    }
    let mut hire = people[3].clone();
    hire.employee_id = "ZZSTORM001".into();
    hire.email = Some("storm.hire@storm.example".into());
    ukg.hire(hire);

    let held = setup.sync("storm").await;
    held.assert_ok();
    assert_eq!(
        (held.count("held"), held.count("deactivated")),
        (storm.len() as u64, 0),
        "{held:?}"
    );
    assert_eq!(held.count("created"), 1, "creates still apply: {held:?}");
    assert!(
        held.stdout.contains("hrsync approve") && held.stdout.contains("--run 2"),
        "{held:?}"
    );
    let users = scim.users("storm").await;
    assert!(
        storm.iter().all(|e| users[&e.employee_id]["active"] == true),
        "nobody deactivated"
    );

    let config = setup.config.to_str().unwrap();
    let wrong = setup
        .run(&["approve", "--config", config, "--tenant", "storm", "--run", "1"])
        .await;
    assert_eq!(wrong.code, Some(1), "{wrong:?}");
    assert!(wrong.stderr.contains("from run 2"), "{wrong:?}");
    let approved = setup
        .run(&["approve", "--config", config, "--tenant", "storm", "--run", "2"])
        .await;
    assert_eq!(approved.code, Some(0), "{approved:?}");
    assert!(
        approved.stdout.contains(&format!("{} deactivated", storm.len())),
        "{approved:?}"
    );
    let users = scim.users("storm").await;
    assert!(storm.iter().all(|e| users[&e.employee_id]["active"] == false));
    assert_eq!(
        users.values().filter(|u| u["active"] == true).count(),
        people.len() - storm.len() + 1
    );
    // Nothing left to do.
    let after = setup.sync("storm").await;
    after.assert_ok();
    assert_eq!(
        after.requests("SCIM"),
        1,
        "only the reconciliation's listing: {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_or_shrunken_roster_deactivates_nobody() {
    let (ukg, data) = ukg_sim(20, 44, "empty.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["empty"], "tok").await;
    let setup = Setup::new(&[&conf("empty", &ukg, &scim)]);
    setup.sync("empty").await.assert_ok();
    let before = scim.users("empty").await;

    // Half the roster vanishes (e.g. a permission change in UKG): refused.
    let all: Vec<String> = data.employees.iter().map(|e| e.employee_id.clone()).collect();
    for id in &all[..12] {
        ukg.remove(id);
    }
    let shrunk = setup.sync("empty").await;
    assert_eq!(shrunk.code, Some(1), "{shrunk:?}");
    assert!(shrunk.stderr.contains("fewer than 50%"), "{shrunk:?}");
    assert_eq!(
        shrunk.requests("SCIM"),
        0,
        "refused before anything was written: {shrunk:?}"
    );
    // Everyone vanishes: refused too.
    for id in &all[12..] {
        ukg.remove(id);
    }
    let empty = setup.sync("empty").await;
    assert_eq!(empty.code, Some(1), "{empty:?}");
    assert!(empty.stderr.contains("UKG returned no employees"), "{empty:?}");
    assert_eq!(scim.users("empty").await, before, "nobody deactivated");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_future_dated_termination_waits_for_its_day() {
    let (ukg, data) = ukg_sim(12, 45, "future.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["future"], "tok").await;
    let setup = Setup::new(&[&conf("future", &ukg, &scim)]);
    setup.edit(|t| {
        t.replace(
            "technical_contact",
            "timezone = \"Pacific/Kiritimati\"\ntechnical_contact",
        )
    });
    setup.sync("future").await.assert_ok();
    let leaver = active(&data.employees)[4].employee_id.clone();
    // In Kiritimati (UTC+14) "today" is already tomorrow for most of the UTC day.
    let today_there = Utc::now().with_timezone(&chrono_tz::Pacific::Kiritimati).date_naive();
    ukg.terminate(&leaver, today_there + Duration::days(3));
    let waiting = setup.sync("future").await;
    waiting.assert_ok();
    assert_eq!(waiting.count("deactivated"), 0, "{waiting:?}");
    assert_eq!(scim.users("future").await[&leaver]["active"], true);

    ukg.update(&leaver, |e| e.date_of_termination = Some(today_there));
    let due = setup.sync("future").await;
    due.assert_ok();
    assert_eq!(due.count("deactivated"), 1, "{due:?}");
    assert_eq!(scim.users("future").await[&leaver]["active"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_shows_the_next_run_and_writes_nothing() {
    let (ukg, data) = ukg_sim(25, 46, "plan.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["plan"], "tok").await;
    let setup = Setup::new(&[&conf("plan", &ukg, &scim)]);
    setup.sync("plan").await.assert_ok();
    let before = scim.users("plan").await;
    let people = active(&data.employees);
    let (moved, gone) = (&people[3].employee_id, &people[4].employee_id);
    ukg.update(moved, |e| e.job_title = Some("Chief Planner".into()));
    ukg.terminate(gone, Utc::now().date_naive() - Duration::days(1));

    let config = setup.config.to_str().unwrap();
    let plan = setup.run(&["plan", "--config", config, "--tenant", "plan"]).await;
    assert_eq!(plan.code, Some(0), "{plan:?}");
    assert!(
        plan.stdout.contains("1 update") && plan.stdout.contains("1 deactivate"),
        "{plan:?}"
    );
    assert!(
        plan.stdout.contains("title:") && plan.stdout.contains("\"Chief Planner\""),
        "field by field: {plan:?}"
    );
    assert!(
        plan.stdout.contains(&format!("deactivate  {gone} (terminated in UKG)")),
        "{plan:?}"
    );
    let json = setup
        .run(&["plan", "--config", config, "--tenant", "plan", "--json"])
        .await;
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["updates"][0]["employee_id"], moved.as_str());
    assert_eq!(scim.users("plan").await, before, "plan wrote nothing");

    // The run does what the plan said.
    let sync = setup.sync("plan").await;
    sync.assert_ok();
    assert_eq!((sync.count("updated"), sync.count("deactivated")), (1, 1), "{sync:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_mapping_lands_in_the_app() {
    let (ukg, data) = ukg_sim(15, 47, "map.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["mapped"], "tok").await;
    let setup = Setup::new(&[&conf("mapped", &ukg, &scim)]);
    setup.edit(|t| {
        t.replace(
            "[tenants.ukg]",
            "[tenants.mapping]\nactive_statuses = [\"A\"]\n[tenants.mapping.attributes]\nuserName = 'lowercase(\"{firstName}.{lastName}@mapped.example\")'\n\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter\" = \"{orgLevel2Code}\"\nnickName = \"first_non_empty(preferredName, firstName)\"\n\n[tenants.ukg]",
        )
    });
    let run = setup.sync("mapped").await;
    run.assert_ok();
    let users = scim.users("mapped").await;
    let on_leave: Vec<&SimEmployee> = data.employees.iter().filter(|e| e.status == "L").collect();
    assert!(!on_leave.is_empty(), "the sample has someone on leave");
    for e in data.employees.iter().filter(|e| e.status == "A") {
        let u = &users[&e.employee_id];
        let expected = format!("{}.{}@mapped.example", e.first_name, e.last_name).to_lowercase();
        // Duplicate names would be set aside; the sample has none among these few.
        assert_eq!(u["userName"], expected.as_str());
        assert_eq!(
            u["nickName"],
            e.preferred_name.clone().unwrap_or(e.first_name.clone()).as_str()
        );
        let cost_center = &u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["costCenter"];
        assert_eq!(cost_center.as_str(), e.org_level2_code.as_deref());
    }
    for e in on_leave {
        assert!(
            !users.contains_key(&e.employee_id),
            "leave is not active for this tenant"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_employee_missing_from_a_complete_roster_is_deactivated() {
    let (ukg, data) = ukg_sim(20, 48, "absent.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["absent"], "tok").await;
    let setup = Setup::new(&[&conf("absent", &ukg, &scim)]);
    setup.sync("absent").await.assert_ok();
    let managers: BTreeSet<&str> = data
        .employees
        .iter()
        .filter_map(|e| e.supervisor_id.as_deref())
        .collect();
    let gone = active(&data.employees)
        .into_iter()
        .find(|e| !managers.contains(e.employee_id.as_str()))
        .unwrap();
    ukg.remove(&gone.employee_id);
    let run = setup.sync("absent").await;
    run.assert_ok();
    assert_eq!(run.count("deactivated"), 1, "{run:?}");
    let users = scim.users("absent").await;
    assert_eq!(users[&gone.employee_id]["active"], false, "deactivated, not deleted");
    assert_eq!(
        users.values().filter(|u| u["active"] == true).count(),
        active(&data.employees).len() - 1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deactivation_left_by_a_failed_run_is_not_applied_to_a_rehire() {
    let (ukg, data) = ukg_sim(30, 44, "stale.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["stale"], "tok").await;
    let proxy = crate::proxy::KillProxy::start(&format!("http://127.0.0.1:{}", scim.port)).await;
    let mut c = conf("stale", &ukg, &scim);
    c.scim_base = proxy.base_url("stale");
    c.page_size = 10;
    let setup = Setup::new(&[&c]);
    setup.fast_retries();
    setup.sync("stale").await.assert_ok();

    // The first employee of page 1 is terminated; later pages carry title changes, and the
    // app refuses the token (401) from the first write on: the run stops after page 1, its
    // deactivation still pending.
    let mut sorted: Vec<&SimEmployee> = data.employees.iter().filter(|e| e.status == "A").collect();
    sorted.sort_by(|a, b| (&a.company_id, &a.employee_id).cmp(&(&b.company_id, &b.employee_id)));
    let leaver = sorted[0].employee_id.clone();
    assert!(ukg.terminate(&leaver, Utc::now().date_naive() - Duration::days(1)));
    for e in &sorted[sorted.len() - 5..] {
        assert!(ukg.update(&e.employee_id, |e| e.job_title = Some("Stale Title".into())));
    }
    proxy.fail_writes_after(0, 401);
    let failed = setup.sync("stale").await;
    assert_eq!(failed.code, Some(1), "{failed:?}");
    proxy.heal();

    // HR takes the termination back before the next run: nobody may be deactivated.
    assert!(ukg.update(&leaver, |e| {
        e.status = "A".into();
        e.date_of_termination = None;
    }));
    let next = setup.sync("stale").await;
    next.assert_ok();
    assert_eq!(next.count("deactivated"), 0, "{next:?}");
    let users = scim.users("stale").await;
    assert_eq!(users[&leaver]["active"], true, "the stale deactivation was applied");
}
