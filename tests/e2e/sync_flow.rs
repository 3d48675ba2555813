//! `hrsync sync`: the first run creates everyone with the right attributes and manager
//! links; a run with no change writes nothing; hires, department and manager changes,
//! terminations and rehires each land; adoption of pre-existing app users; failures.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use hrsync_sim::SimEmployee;
use serde_json::{json, Value};

use crate::harness::{ukg_sim, ScimServer, Setup, TenantConf};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The app user's manager id.
fn manager_of(u: &Value) -> Option<String> {
    u[ENTERPRISE]["manager"]["value"].as_str().map(str::to_string)
}

fn expected_active(employees: &[SimEmployee]) -> BTreeSet<String> {
    employees
        .iter()
        .filter(|e| e.status != "T")
        .map(|e| e.employee_id.clone())
        .collect()
}

/// Every created user has its manager linked iff its supervisor was created.
fn assert_manager_links(users: &BTreeMap<String, Value>, employees: &[SimEmployee]) {
    for e in employees.iter().filter(|e| users.contains_key(&e.employee_id)) {
        let u = &users[&e.employee_id];
        let expected = e
            .supervisor_id
            .as_ref()
            .and_then(|s| users.get(s))
            .map(|m| m["id"].as_str().unwrap().to_string());
        assert_eq!(manager_of(u), expected, "manager of {}", e.employee_id);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn first_run_creates_everyone_then_a_rerun_writes_nothing() {
    let (ukg, data) = ukg_sim(60, 11, "acme.example", "pw-1", "KEY01").await;
    let scim = ScimServer::start(&["acme"], "tok-1").await;
    let tenant = TenantConf {
        id: "acme".into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url("acme"),
        page_size: 25,
        ukg_password: "pw-1".into(),
        ukg_api_key: "KEY01".into(),
        scim_token: "tok-1".into(),
    };
    let setup = Setup::new(&[&tenant]);

    let first = setup.sync("acme").await;
    first.assert_ok();
    let active = expected_active(&data.employees);
    assert_eq!(first.count("created"), active.len() as u64, "{first:?}");
    assert_eq!(first.count("failed"), 0, "{first:?}");
    let users = scim.users("acme").await;
    assert_eq!(
        users.keys().cloned().collect::<BTreeSet<_>>(),
        active,
        "the app holds exactly the non-terminated employees"
    );

    // Attributes of every user match the roster.
    let depts: BTreeMap<_, _> = data
        .org_levels
        .iter()
        .filter(|o| o.level == 1)
        .map(|o| (o.code.clone(), o.description.clone()))
        .collect();
    let jobs: BTreeMap<_, _> = data.jobs.iter().map(|j| (j.code.clone(), j.title.clone())).collect();
    for e in data.employees.iter().filter(|e| active.contains(&e.employee_id)) {
        let u = &users[&e.employee_id];
        let email = e.email.clone().unwrap().to_lowercase();
        assert_eq!(u["userName"], email.as_str());
        assert_eq!(u["emails"][0]["value"], email.as_str());
        assert_eq!(
            u["name"]["givenName"],
            e.preferred_name.clone().unwrap_or(e.first_name.clone()).as_str()
        );
        assert_eq!(u["name"]["familyName"], e.last_name.as_str());
        assert_eq!(u["active"], true);
        assert_eq!(
            u[ENTERPRISE]["employeeNumber"],
            e.employee_number.as_str(),
            "zero-padded number kept as text"
        );
        let dept = e.org_level1_code.as_ref().map(|c| depts[c].clone());
        assert_eq!(u[ENTERPRISE]["department"].as_str().map(str::to_string), dept);
        let title = e
            .job_title
            .clone()
            .or(e.job_description.clone())
            .or(e.job_code.as_ref().map(|c| jobs[c].clone()));
        assert_eq!(
            u["title"].as_str().map(str::to_string),
            title,
            "title of {}",
            e.employee_id
        );
    }
    assert_manager_links(&users, &data.employees);

    // Paging: ⌈60/25⌉ = 3 pages of employment-details (the short page 3 ends it: 60 rows,
    // as many as the demographics), demographics to its empty page 4, and the org-levels and
    // jobs lookups.
    assert_eq!(first.requests("UKG"), 3 + 4 + 2, "{first:?}");
    assert!(first.stdout.contains(", 3 roster page(s)"), "{first:?}");

    // No change in UKG: nothing is written, the app is byte-for-byte the same.
    let second = setup.sync("acme").await;
    second.assert_ok();
    // Every employee is unchanged, the two never-synced leavers included.
    assert_eq!(second.count("unchanged"), data.employees.len() as u64, "{second:?}");
    for kind in [
        "created",
        "adopted",
        "updated",
        "deactivated",
        "reactivated",
        "managers linked",
        "recreated",
    ] {
        assert_eq!(second.count(kind), 0, "{kind} in {second:?}");
    }
    // One listing of the app's users (the reconciliation), no write.
    assert_eq!(second.requests("SCIM"), 1, "{second:?}");
    assert_eq!(second.requests("UKG"), 3 + 4 + 2, "{second:?}");
    assert_eq!(scim.users("acme").await, users);
}

#[tokio::test(flavor = "multi_thread")]
async fn hire_department_manager_termination_and_rehire_each_land() {
    let (ukg, data) = ukg_sim(40, 5, "globex.example", "pw-2", "KEY02").await;
    let scim = ScimServer::start(&["globex"], "tok-2").await;
    let tenant = TenantConf {
        id: "globex".into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url("globex"),
        page_size: 10,
        ukg_password: "pw-2".into(),
        ukg_api_key: "KEY02".into(),
        scim_token: "tok-2".into(),
    };
    let setup = Setup::new(&[&tenant]);
    setup.sync("globex").await.assert_ok();
    let before = scim.users("globex").await;

    let active: Vec<&SimEmployee> = data.employees.iter().filter(|e| e.status == "A").collect();
    let managers: BTreeSet<&str> = data
        .employees
        .iter()
        .filter_map(|e| e.supervisor_id.as_deref())
        .collect();
    let boss = active
        .iter()
        .find(|e| managers.contains(e.employee_id.as_str()) && e.supervisor_id.is_some())
        .unwrap();
    let workers: Vec<&&SimEmployee> = active
        .iter()
        .filter(|e| !managers.contains(e.employee_id.as_str()))
        .collect();
    let boss_id = Some(boss.employee_id.as_str());
    let switcher = *workers.iter().find(|e| e.supervisor_id.as_deref() != boss_id).unwrap();
    let others: Vec<&&SimEmployee> = workers
        .iter()
        .filter(|e| e.employee_id != switcher.employee_id)
        .copied()
        .collect();
    let (mover, leaver) = (others[0], others[1]);

    // A hire whose manager is also a new hire, on a later page: linked in the second pass.
    let mut lead = (*boss).clone();
    lead.employee_id = "ZZNEWLEAD1".into();
    lead.employee_number = "000777001".into();
    lead.first_name = "Grace".into();
    lead.preferred_name = None;
    lead.last_name = "Hopper".into();
    lead.email = Some("Grace.Hopper@globex.example".into());
    lead.supervisor_id = Some(boss.employee_id.clone());
    lead.supervisor_company_id = Some(boss.company_id.clone());
    let mut hire = lead.clone();
    hire.employee_id = "AANEWHIRE1".into();
    hire.employee_number = "000777002".into();
    hire.first_name = "Alan".into();
    hire.last_name = "Turing".into();
    hire.email = Some("alan.turing@globex.example".into());
    hire.supervisor_id = Some("ZZNEWLEAD1".into());
    hire.supervisor_company_id = Some(boss.company_id.clone());
    ukg.hire(lead);
    ukg.hire(hire);
    let new_dept = data
        .org_levels
        .iter()
        .find(|o| o.level == 1 && Some(&o.code) != mover.org_level1_code.as_ref())
        .unwrap();
    ukg.update(&mover.employee_id, |e| e.org_level1_code = Some(new_dept.code.clone()));
    ukg.update(&switcher.employee_id, |e| {
        e.supervisor_id = Some(boss.employee_id.clone())
    });
    ukg.terminate(&leaver.employee_id, NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());

    let run = setup.sync("globex").await;
    run.assert_ok();
    assert_eq!(run.count("created"), 2, "{run:?}");
    assert_eq!(run.count("updated"), 1, "the department change: {run:?}");
    // The manager change, and the hire whose new manager comes on a later page.
    assert_eq!(run.count("managers linked"), 2, "{run:?}");
    assert_eq!(run.count("deactivated"), 1, "{run:?}");
    assert_eq!(run.count("failed"), 0, "{run:?}");
    let after = scim.users("globex").await;
    assert_eq!(after.len(), before.len() + 2);
    let (lead_u, hire_u) = (&after["ZZNEWLEAD1"], &after["AANEWHIRE1"]);
    assert_eq!(lead_u["userName"], "grace.hopper@globex.example");
    assert_eq!(
        manager_of(lead_u),
        before[&boss.employee_id]["id"].as_str().map(str::to_string)
    );
    assert_eq!(
        manager_of(hire_u),
        lead_u["id"].as_str().map(str::to_string),
        "manager created in the same run is linked"
    );
    assert_eq!(
        after[&mover.employee_id][ENTERPRISE]["department"],
        new_dept.description.as_str()
    );
    assert_eq!(
        manager_of(&after[&switcher.employee_id]),
        before[&boss.employee_id]["id"].as_str().map(str::to_string)
    );
    assert_eq!(after[&leaver.employee_id]["active"], false, "deactivated, not deleted");
    assert_eq!(after[&leaver.employee_id]["id"], before[&leaver.employee_id]["id"]);
    // Untouched users are untouched.
    for e in &others[2..] {
        assert_eq!(after[&e.employee_id], before[&e.employee_id]);
    }

    // Rehire: same employee id, active again, same app user.
    ukg.rehire(&leaver.employee_id, NaiveDate::from_ymd_opt(2026, 11, 20).unwrap());
    let run = setup.sync("globex").await;
    run.assert_ok();
    assert_eq!(run.count("reactivated"), 1, "{run:?}");
    assert_eq!(run.count("created"), 0, "{run:?}");
    let rehired = &scim.users("globex").await[&leaver.employee_id];
    assert_eq!(rehired["active"], true);
    assert_eq!(rehired["id"], before[&leaver.employee_id]["id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn existing_app_users_are_adopted_not_duplicated_and_conflicts_are_reported() {
    let (ukg, data) = ukg_sim(12, 3, "initech.example", "pw-3", "KEY03").await;
    let scim = ScimServer::start(&["initech"], "tok-3").await;
    let active: Vec<&SimEmployee> = data.employees.iter().filter(|e| e.status != "T").collect();
    // One user imported with its externalId, one by CSV without it, one squatted by another employee id.
    let (a, b, c) = (active[1], active[2], active[3]);
    let pre_a = scim.create_user("initech", json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "someone-else@initech.example", "externalId": a.employee_id})).await;
    let pre_b = scim.create_user("initech", json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": b.email.clone().unwrap().to_lowercase()})).await;
    scim.create_user("initech", json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": c.email.clone().unwrap().to_lowercase(), "externalId": "NOT-THIS-EMPLOYEE"})).await;

    let tenant = TenantConf {
        id: "initech".into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url("initech"),
        page_size: 100,
        ukg_password: "pw-3".into(),
        ukg_api_key: "KEY03".into(),
        scim_token: "tok-3".into(),
    };
    let setup = Setup::new(&[&tenant]);
    let run = setup.sync("initech").await;
    run.assert_ok();
    assert_eq!(run.count("adopted"), 2, "{run:?}");
    assert_eq!(run.count("failed"), 1, "{run:?}");
    assert!(
        run.stdout.contains(&format!("failed {}: userName", c.employee_id)),
        "{run:?}"
    );
    assert!(run.stdout.contains("NOT-THIS-EMPLOYEE"), "{run:?}");
    let users = scim.users("initech").await;
    assert_eq!(users[&a.employee_id]["id"], pre_a["id"], "adopted by externalId");
    assert_eq!(users[&b.employee_id]["id"], pre_b["id"], "adopted by userName");
    assert_eq!(
        users["NOT-THIS-EMPLOYEE"]["externalId"], "NOT-THIS-EMPLOYEE",
        "never overwritten"
    );
    assert!(!users.contains_key(&c.employee_id));
    assert_eq!(users.len(), active.len(), "no duplicates");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_cannot_complete_exits_non_zero_with_one_line_reason() {
    let (ukg, _) = ukg_sim(5, 1, "hooli.example", "right-password", "KEY04").await;
    let scim = ScimServer::start(&["hooli"], "tok-4").await;
    let tenant = TenantConf {
        id: "hooli".into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url("hooli"),
        page_size: 100,
        ukg_password: "wrong-password".into(),
        ukg_api_key: "KEY04".into(),
        scim_token: "tok-4".into(),
    };
    let setup = Setup::new(&[&tenant]);
    let run = setup.sync("hooli").await;
    assert_eq!(run.code, Some(1), "{run:?}");
    let reason = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("{run:?}"));
    assert!(
        reason.contains("rejected the credentials (401)") && reason.contains("Customer API Key"),
        "{reason}"
    );
    assert!(scim.users("hooli").await.is_empty());
}
