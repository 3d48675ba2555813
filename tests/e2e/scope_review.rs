//! Who is synced, and when a person must look first: scoping filters (out of scope is
//! never created; falling out of scope deactivates, or is ignored when asked; the brake
//! still applies; `plan` names the rule) and first-run review (nothing is written until
//! approved; the approved run applies exactly the reviewed plan; a mapping change asks
//! again), against the UKG simulator, the real scim2-server and a real SMTP server.

use std::collections::BTreeSet;

use hrsync_sim::{SimEmployee, UkgSim};

use crate::harness::{free_port, ukg_sim, ScimServer, Setup, Smtp, TenantConf};

fn conf(id: &str, ukg: &UkgSim, scim: &ScimServer) -> TenantConf {
    TenantConf {
        id: id.into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url(id),
        page_size: 25,
        ukg_password: "pw".into(),
        ukg_api_key: "KEY01".into(),
        scim_token: scim.token.clone(),
    }
}

/// Adds tenant-level keys / tables just before the tenant's `[tenants.ukg]` table.
fn add_to_tenant(setup: &Setup, text: &str) {
    setup.edit(|t| t.replacen("\n[tenants.ukg]", &format!("\n{text}\n[tenants.ukg]"), 1));
}

/// Active employees who manage nobody (so excluding them leaves no report without a manager).
fn active_non_managers(employees: &[SimEmployee]) -> Vec<SimEmployee> {
    let managers: BTreeSet<&str> = employees.iter().filter_map(|e| e.supervisor_id.as_deref()).collect();
    employees
        .iter()
        .filter(|e| e.status != "T" && !managers.contains(e.employee_id.as_str()))
        .cloned()
        .collect()
}

/// externalId → active, for every user in the app.
async fn app_users(scim: &ScimServer, tenant: &str) -> std::collections::BTreeMap<String, bool> {
    scim.users(tenant)
        .await
        .values()
        .map(|u| {
            (
                u["externalId"].as_str().unwrap_or_default().to_string(),
                u["active"].as_bool().unwrap_or(true),
            )
        })
        .collect()
}

const CONTRACTORS: &str = "exclude employeeTypeCode equals \"CON\"";

#[tokio::test(flavor = "multi_thread")]
async fn out_of_scope_is_never_created_falling_out_deactivates_and_ignore_leaves_them() {
    let (ukg, data) = ukg_sim(60, 71, "scope.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["scope"], "tok").await;
    let setup = Setup::new(&[&conf("scope", &ukg, &scim)]);
    add_to_tenant(
        &setup,
        "[tenants.scope]\n[[tenants.scope.exclude]]\nfield = \"employeeTypeCode\"\nequals = \"CON\"\n",
    );
    let candidates = active_non_managers(&data.employees);
    assert!(candidates.len() >= 8, "sample roster too small");
    let contractors: Vec<String> = candidates[..3].iter().map(|e| e.employee_id.clone()).collect();
    for id in &contractors {
        assert!(ukg.update(id, |e| e.employee_type = "CON".into()));
    }
    let active = data.employees.iter().filter(|e| e.status != "T").count() as u64;

    let first = setup.sync("scope").await;
    first.assert_ok();
    assert_eq!(first.count("created"), active - 3, "{first:?}");
    assert!(
        first.stdout.contains(&format!("3 by {CONTRACTORS}")),
        "the summary names the rule: {first:?}"
    );
    let users = app_users(&scim, "scope").await;
    for id in &contractors {
        assert!(!users.contains_key(id), "contractor {id} was created");
    }
    // A one-person sync follows the same scope.
    let config = setup.config.to_str().unwrap().to_string();
    let one = setup
        .run(&[
            "sync",
            "--config",
            &config,
            "--tenant",
            "scope",
            "--employee",
            &contractors[0],
        ])
        .await;
    assert_eq!(one.code, Some(1), "{one:?}");
    assert!(one.stdout.contains(&format!("out of scope ({CONTRACTORS})")), "{one:?}");
    assert!(!app_users(&scim, "scope").await.contains_key(&contractors[0]));

    // Two synced employees become contractors: they are deactivated, saying why in `plan`.
    let newly: Vec<String> = candidates[3..5].iter().map(|e| e.employee_id.clone()).collect();
    for id in &newly {
        assert!(ukg.update(id, |e| e.employee_type = "con".into()));
    }
    let plan = setup.run(&["plan", "--config", &config, "--tenant", "scope"]).await;
    plan.assert_ok();
    for id in &newly {
        assert!(
            plan.stdout
                .contains(&format!("deactivate  {id} (out of scope: {CONTRACTORS})")),
            "{plan:?}"
        );
        assert!(
            plan.stdout.contains(&format!("out of scope {id} ({CONTRACTORS})")),
            "{plan:?}"
        );
    }
    let second = setup.sync("scope").await;
    second.assert_ok();
    assert_eq!(
        (second.count("deactivated"), second.count("created")),
        (2, 0),
        "{second:?}"
    );
    let users = app_users(&scim, "scope").await;
    for id in &newly {
        assert_eq!(users.get(id), Some(&false), "{id} should be inactive in the app");
    }

    // With out_of_scope = "ignore", someone falling out of scope is left as they are.
    setup.edit(|t| t.replacen("[tenants.scope]\n", "[tenants.scope]\nout_of_scope = \"ignore\"\n", 1));
    let ignored = candidates[5].employee_id.clone();
    assert!(ukg.update(&ignored, |e| e.employee_type = "CON".into()));
    let third = setup.sync("scope").await;
    third.assert_ok();
    assert_eq!(third.count("deactivated"), 0, "{third:?}");
    assert_eq!(app_users(&scim, "scope").await.get(&ignored), Some(&true));
    // …and it is not deactivated as "absent" either.
    let fourth = setup.sync("scope").await;
    fourth.assert_ok();
    assert_eq!(fourth.count("deactivated"), 0, "{fourth:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scope_that_drops_most_people_trips_the_brake() {
    let (ukg, data) = ukg_sim(130, 72, "brake-scope.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["bscope"], "tok").await;
    let setup = Setup::new(&[&conf("bscope", &ukg, &scim)]);
    setup.sync("bscope").await.assert_ok();
    // The component company (the minority) only: most people fall out of scope.
    let mut codes: Vec<(usize, String)> = Vec::new();
    for code in data
        .employees
        .iter()
        .map(|e| e.company_code.clone())
        .collect::<BTreeSet<_>>()
    {
        codes.push((data.employees.iter().filter(|e| e.company_code == code).count(), code));
    }
    codes.sort();
    let minority = &codes[0].1;
    add_to_tenant(
        &setup,
        &format!("[tenants.scope]\ninclude = [{{ field = \"companyCode\", equals = \"{minority}\", name = \"only {minority}\" }}]\n"),
    );
    let held = setup.sync("bscope").await;
    held.assert_ok();
    assert!(held.count("held") > 20, "{held:?}");
    assert_eq!(held.count("deactivated"), 0, "{held:?}");
    assert!(held.stdout.contains(&format!("by only {minority}")), "{held:?}");
    let users = app_users(&scim, "bscope").await;
    assert!(users.values().all(|active| *active), "nobody deactivated while held");
}

#[tokio::test(flavor = "multi_thread")]
async fn first_run_review_writes_nothing_until_approved_then_applies_exactly_the_plan() {
    let (ukg, data) = ukg_sim(40, 73, "review.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["review"], "tok").await;
    let setup = Setup::new(&[&conf("review", &ukg, &scim)]);
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(free_port(), &dir.path().join("maildir"));
    let port = smtp.port;
    setup.edit(|t| {
        t.replacen(
            "\n[[tenants]]",
            &format!("\n[smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"hrsync@example.com\"\n\n[[tenants]]"),
            1,
        )
    });
    add_to_tenant(&setup, "first_run_review = true\n");
    let config = setup.config.to_str().unwrap().to_string();
    let active = data.employees.iter().filter(|e| e.status != "T").count();

    // The first run plans and stops: nothing in the app, the contact is asked, status says so.
    let first = setup.sync("review").await;
    first.assert_ok();
    assert!(
        first.stdout.contains("plan awaiting review — nothing was written"),
        "{first:?}"
    );
    assert!(first.stdout.contains(&format!("{active} create, 0 adopt")), "{first:?}");
    assert!(
        scim.users("review").await.is_empty(),
        "nothing may be written before approval"
    );
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "one review email");
    assert!(mails[0].contains("plan ready for review"), "{}", mails[0]);
    assert!(
        mails[0].contains("hrsync approve --config FILE --tenant review"),
        "{}",
        mails[0]
    );
    let status = setup.run(&["status", "--config", &config]).await;
    assert!(status.stdout.contains("awaiting review"), "{status:?}");
    // Asking again does not compute (or mail) another plan.
    let again = setup.sync("review").await;
    assert!(again.stdout.contains("plan awaiting review"), "{again:?}");
    assert!(scim.users("review").await.is_empty());
    assert_eq!(smtp.messages().len(), 1, "the same plan is mailed once");

    // A hire after the review is not part of the approved plan.
    let mut hire = data.employees.iter().find(|e| e.status == "A").unwrap().clone();
    hire.employee_id = "ZZREVIEW01".into();
    hire.email = Some("late.hire@review.example".into());
    hire.employee_number = "000990001".into();
    hire.supervisor_id = None;
    hire.supervisor_company_id = None;
    ukg.hire(hire);
    let approve = setup.run(&["approve", "--config", &config, "--tenant", "review"]).await;
    approve.assert_ok();
    assert!(approve.stdout.contains("plan approved"), "{approve:?}");
    assert_eq!(approve.count("created"), active as u64, "{approve:?}");
    assert!(
        approve.stdout.contains("1 change(s) not in the approved plan"),
        "{approve:?}"
    );
    let users = app_users(&scim, "review").await;
    assert_eq!(users.len(), active);
    assert!(
        !users.contains_key("ZZREVIEW01"),
        "the late hire was not in the reviewed plan"
    );

    // The next run is a normal one: it picks up the hire, no review needed.
    let next = setup.sync("review").await;
    next.assert_ok();
    assert_eq!(next.count("created"), 1, "{next:?}");
    assert!(app_users(&scim, "review").await.contains_key("ZZREVIEW01"));

    // Changing the mapping asks for a review again; rejecting it discards the plan.
    setup.edit(|t| {
        t.replacen(
            "first_run_review = true\n",
            "first_run_review = true\n[tenants.mapping]\nactive_statuses = [\"A\"]\n",
            1,
        )
    });
    let changed = setup.sync("review").await;
    changed.assert_ok();
    assert!(changed.stdout.contains("plan awaiting review"), "{changed:?}");
    let before = app_users(&scim, "review").await;
    let reject = setup
        .run(&["approve", "--config", &config, "--tenant", "review", "--reject"])
        .await;
    reject.assert_ok();
    assert!(reject.stdout.contains("discarded"), "{reject:?}");
    assert_eq!(app_users(&scim, "review").await, before, "rejecting writes nothing");
    let nothing = setup.run(&["approve", "--config", &config, "--tenant", "review"]).await;
    assert_eq!(nothing.code, Some(1), "{nothing:?}");
    assert!(nothing.stderr.contains("no plan is waiting for review"), "{nothing:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_running_service_shows_the_review_and_the_admin_api_approves_it() {
    const ADMIN: &str = "CANARY-review-admin-7c1";
    let (ukg, data) = ukg_sim(20, 74, "svc-review.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["svcrev"], "tok").await;
    let setup = Setup::new(&[&conf("svcrev", &ukg, &scim)]);
    add_to_tenant(&setup, "first_run_review = true\n");
    setup.edit(|t| {
        t.replacen(
            "[service]\n",
            "[service]\nadmin_token_env = \"HRSYNC_ADMIN_TOKEN\"\n",
            1,
        )
    });
    let service = crate::service::Service::start(&setup, &[("HRSYNC_ADMIN_TOKEN", ADMIN)]);
    let status = service
        .wait_status(|v| v["tenants"]["svcrev"]["state"] == "awaiting_review")
        .await;
    let active = data.employees.iter().filter(|e| e.status != "T").count() as u64;
    assert_eq!(status["tenants"]["svcrev"]["review"]["creates"], active, "{status}");
    assert!(
        scim.users("svcrev").await.is_empty(),
        "nothing written while awaiting review"
    );

    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{}/tenants/svcrev/approve", service.listen);
    let refused = client.post(&url).json(&serde_json::json!({})).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let approved = client
        .post(&url)
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    assert!(approved
        .text()
        .await
        .unwrap()
        .contains("plan approved for tenant svcrev"));
    let done = service
        .wait_status(|v| crate::service::outcome(v, "svcrev") == Some("ok"))
        .await;
    assert_eq!(
        done["tenants"]["svcrev"]["last_run"]["counts"]["created"], active,
        "{done}"
    );
    assert_eq!(scim.users("svcrev").await.len() as u64, active);
    let again = client
        .post(&url)
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409, "nothing left to approve");
}
