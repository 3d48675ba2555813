//! One person, now: `hrsync sync --employee` and `POST /tenants/{id}/employees/{id}/sync`
//! against the UKG simulator and the real scim2-server (through a counting proxy).

use std::collections::{BTreeMap, BTreeSet};

use hrsync_sim::{SimEmployee, UkgSim};
use serde_json::Value;

use crate::harness::{ukg_sim, Run, ScimServer, Setup, TenantConf};
use crate::proxy::KillProxy;
use crate::service::{outcome, Service};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const ADMIN: &str = "CANARY-admin-one-7c1";

fn manager_of(u: &Value) -> Option<&str> {
    u[ENTERPRISE]["manager"]["value"].as_str()
}

/// `hrsync sync --tenant T --employee E`, to completion.
pub async fn sync_employee(setup: &Setup, tenant: &str, employee: &str) -> Run {
    let config = setup.config.to_str().unwrap();
    setup
        .run(&["sync", "--config", config, "--tenant", tenant, "--employee", employee])
        .await
}

/// A new employee in UKG, like `base`, reporting to `manager`.
pub fn new_hire(sim: &UkgSim, base: &SimEmployee, id: &str, email: &str, manager: &SimEmployee) -> SimEmployee {
    let mut e = base.clone();
    e.employee_id = id.to_string();
    e.employee_number = format!("9{:08}", id.len());
    e.person_id = format!("{id}-person");
    e.first_name = "Nova".into();
    e.last_name = format!("Hire{id}");
    e.preferred_name = None;
    e.email = Some(email.to_string());
    e.status = "A".into();
    e.date_of_termination = None;
    e.supervisor_id = Some(manager.employee_id.clone());
    e.supervisor_company_id = Some(manager.company_id.clone());
    e.changed_at = chrono::Local::now().naive_local();
    sim.hire(e.clone());
    e
}

/// The writes (anything but GET) the proxy saw from request number `from` on.
fn writes_since(proxy: &KillProxy, from: usize) -> Vec<String> {
    proxy
        .log()
        .into_iter()
        .filter(|s| s.number > from && s.method != "GET")
        .map(|s| format!("{} {}", s.method, s.target))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_person_sync_creates_that_user_and_their_missing_managers_first() {
    let (ukg, data) = ukg_sim(30, 91, "solo.example", "pw-solo", "KEYS1").await;
    let scim = ScimServer::start(&["solo"], "tok-solo").await;
    let proxy = KillProxy::start(&format!("http://127.0.0.1:{}", scim.port)).await;
    let tenant = TenantConf {
        id: "solo".into(),
        ukg_base: ukg.base_url(),
        scim_base: proxy.base_url("solo"),
        page_size: 10,
        ukg_password: "pw-solo".into(),
        ukg_api_key: "KEYS1".into(),
        scim_token: "tok-solo".into(),
    };
    let setup = Setup::new(&[&tenant]);
    // Employee 26 reports to 5 (in the component company), who reports to the CEO (0).
    let (e, m, ceo) = (&data.employees[26], &data.employees[5], &data.employees[0]);
    assert_eq!(e.supervisor_id.as_ref(), Some(&m.employee_id));
    assert_eq!(m.supervisor_id.as_ref(), Some(&ceo.employee_id));
    assert_ne!(e.company_id, m.company_id);
    let email = |x: &SimEmployee| x.email.clone().unwrap();

    // Nobody is in the app yet: the managers are created first, top down.
    let run = sync_employee(&setup, "solo", &e.employee_id).await;
    run.assert_ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{run:?}");
    assert!(
        lines[0].starts_with(&format!(
            "tenant solo employee {} (manager of {}, not in the app yet): created user {} (app id ",
            ceo.employee_id,
            m.employee_id,
            email(ceo)
        )),
        "{run:?}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "tenant solo employee {} (manager of {}, not in the app yet): created user {}",
            m.employee_id,
            e.employee_id,
            email(m)
        )) && lines[1].ends_with(&format!("; linked manager {} ({})", ceo.employee_id, email(ceo))),
        "{run:?}"
    );
    assert!(
        lines[2].starts_with(&format!(
            "tenant solo employee {}: created user {}",
            e.employee_id,
            email(e)
        )) && lines[2].ends_with(&format!("; linked manager {} ({})", m.employee_id, email(m))),
        "{run:?}"
    );
    let users = scim.users("solo").await;
    let ids: BTreeSet<&str> = users.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        BTreeSet::from([e.employee_id.as_str(), m.employee_id.as_str(), ceo.employee_id.as_str()])
    );
    assert_eq!(manager_of(&users[&e.employee_id]), users[&m.employee_id]["id"].as_str());
    assert_eq!(
        manager_of(&users[&m.employee_id]),
        users[&ceo.employee_id]["id"].as_str()
    );
    assert_eq!(manager_of(&users[&ceo.employee_id]), None);
    assert_eq!(users[&e.employee_id]["userName"], email(e).as_str());
    assert!(
        lines[2].contains(users[&e.employee_id]["id"].as_str().unwrap()),
        "{run:?}"
    );
    assert_eq!(
        proxy.creates(),
        vec![ceo.employee_id.clone(), m.employee_id.clone(), e.employee_id.clone()]
    );

    // Again: nothing to write.
    let before = proxy.request_count();
    let again = sync_employee(&setup, "solo", &e.employee_id).await;
    again.assert_ok();
    assert_eq!(
        again.stdout.trim(),
        format!(
            "tenant solo employee {}: unchanged: user {} (app id {}) already matches UKG",
            e.employee_id,
            email(e),
            users[&e.employee_id]["id"].as_str().unwrap()
        )
    );
    assert_eq!(writes_since(&proxy, before), Vec::<String>::new());

    // The state recorded is a run's: the next full run writes nothing for these three.
    let full = setup.sync("solo").await;
    full.assert_ok();
    let active = data.employees.iter().filter(|x| x.status != "T").count() as u64;
    assert_eq!(full.count("created"), active - 3, "{full:?}");
    assert_eq!(full.count("updated"), 0, "{full:?}");
    assert_eq!(full.count("adopted"), 0, "{full:?}");
    assert_eq!(full.count("failed"), 0, "{full:?}");
    let mut created = proxy.creates();
    created.sort();
    created.dedup();
    assert_eq!(created.len() as u64, active, "no user created twice");

    // A leaver synced alone is deactivated at once (the brake weighs whole runs).
    let before = proxy.request_count();
    ukg.terminate(
        &e.employee_id,
        chrono::Local::now().date_naive() - chrono::Duration::days(1),
    );
    let gone = sync_employee(&setup, "solo", &e.employee_id).await;
    gone.assert_ok();
    assert!(
        gone.stdout
            .contains(&format!("employee {}: deactivated user {}", e.employee_id, email(e))),
        "{gone:?}"
    );
    assert_eq!(scim.users("solo").await[&e.employee_id]["active"], false);
    assert_eq!(writes_since(&proxy, before).len(), 1);
    let full = setup.sync("solo").await;
    full.assert_ok();
    assert_eq!((full.count("deactivated"), full.count("updated")), (0, 0), "{full:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_employee_is_named_and_nothing_is_written() {
    let (ukg, data) = ukg_sim(8, 92, "nobody.example", "pw-no", "KEYN1").await;
    let scim = ScimServer::start(&["nobody"], "tok-no").await;
    let proxy = KillProxy::start(&format!("http://127.0.0.1:{}", scim.port)).await;
    let tenant = TenantConf {
        id: "nobody".into(),
        ukg_base: ukg.base_url(),
        scim_base: proxy.base_url("nobody"),
        page_size: 10,
        ukg_password: "pw-no".into(),
        ukg_api_key: "KEYN1".into(),
        scim_token: "tok-no".into(),
    };
    let setup = Setup::new(&[&tenant]);

    let run = sync_employee(&setup, "nobody", "NOSUCH42").await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(
        run.stderr.trim(),
        "error: employee NOSUCH42 is not in UKG (tenant nobody): check the employee id; nothing was written",
        "{run:?}"
    );
    assert_eq!(run.stdout, "");
    // Not an id at all: refused before anything is asked of UKG.
    let before = ukg.request_count();
    let bad = sync_employee(&setup, "nobody", "../x").await;
    assert_eq!(bad.code, Some(1), "{bad:?}");
    assert!(bad.stderr.contains("\"../x\" is not a UKG employee id"), "{bad:?}");
    assert_eq!(ukg.request_count(), before);
    assert_eq!(proxy.request_count(), 0, "nothing may reach the app");
    assert!(scim.users("nobody").await.is_empty());

    // And nothing was recorded: the plan still creates everyone.
    let config = setup.config.to_str().unwrap();
    let out = setup
        .command(&["plan", "--config", config, "--tenant", "nobody", "--json"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let active = data.employees.iter().filter(|x| x.status != "T").count();
    assert_eq!(plan["creates"].as_array().map(Vec::len), Some(active), "{plan}");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_person_sync_through_the_running_service_needs_the_admin_token() {
    let (ukg, data) = ukg_sim(20, 93, "svc1.example", "pw-s1", "KEYO1").await;
    let scim = ScimServer::start(&["svcone"], "tok-s1").await;
    let tenant = TenantConf {
        id: "svcone".into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url("svcone"),
        page_size: 50,
        ukg_password: "pw-s1".into(),
        ukg_api_key: "KEYO1".into(),
        scim_token: "tok-s1".into(),
    };
    let mut setup = Setup::new(&[&tenant]);
    setup.edit(|t| {
        t.replacen(
            "[service]\n",
            "[service]\nadmin_token_env = \"HRSYNC_ADMIN_TOKEN\"\n",
            1,
        )
    });
    setup.env.push(("HRSYNC_ADMIN_TOKEN".into(), ADMIN.into()));
    let service = Service::start(&setup, &[]);
    service.wait_status(|v| outcome(v, "svcone") == Some("ok")).await;

    let manager = &data.employees[1];
    let hired = new_hire(&ukg, &data.employees[6], "NEWHTTP1", "nova.http@svc1.example", manager);
    let client = reqwest::Client::new();
    let url = |employee: &str| {
        format!(
            "http://127.0.0.1:{}/tenants/svcone/employees/{employee}/sync",
            service.listen
        )
    };
    let post = |employee: &str, token: Option<&str>| {
        let mut r = client.post(url(employee));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let no_token = post(&hired.employee_id, None).await.unwrap();
    assert_eq!(no_token.status(), 401);
    assert_eq!(post(&hired.employee_id, Some("wrong")).await.unwrap().status(), 401);
    assert!(!scim.users("svcone").await.contains_key(&hired.employee_id));

    let ok = post(&hired.employee_id, Some(ADMIN)).await.unwrap();
    assert_eq!(ok.status(), 200);
    let body = ok.text().await.unwrap();
    let users = scim.users("svcone").await;
    let app_id = users[&hired.employee_id]["id"].as_str().unwrap();
    assert_eq!(
        body.trim(),
        format!(
            "tenant svcone employee NEWHTTP1: created user nova.http@svc1.example (app id {app_id}); linked manager {} ({})",
            manager.employee_id,
            manager.email.as_deref().unwrap()
        )
    );
    assert_eq!(
        manager_of(&users[&hired.employee_id]),
        users[&manager.employee_id]["id"].as_str()
    );
    assert!(!body.contains(ADMIN));

    // Unknown employee: 404 with the reason.
    let unknown = post("NOSUCH7", Some(ADMIN)).await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert!(unknown.text().await.unwrap().contains("employee NOSUCH7 is not in UKG"));

    // The CLI, while the service holds the database, asks the service.
    let second = new_hire(&ukg, &data.employees[7], "NEWCLI2", "nova.cli@svc1.example", manager);
    let run = sync_employee(&setup, "svcone", &second.employee_id).await;
    run.assert_ok();
    assert!(
        run.stdout
            .starts_with("tenant svcone employee NEWCLI2: created user nova.cli@svc1.example (app id "),
        "{run:?}"
    );
    assert!(scim.users("svcone").await.contains_key("NEWCLI2"));

    // Refused while a full run is in progress (a slow UKG keeps it going).
    ukg.inject(hrsync_sim::Fault::Delay(std::time::Duration::from_millis(300)));
    let start = client
        .post(format!("http://127.0.0.1:{}/tenants/svcone/sync", service.listen))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 202);
    let busy = post(&hired.employee_id, Some(ADMIN)).await.unwrap();
    assert_eq!(busy.status(), 409);
    assert_eq!(
        busy.text().await.unwrap().trim(),
        "tenant svcone: a full run (run 2) is in progress; try again when it has finished (it applies everyone anyway)"
    );
    ukg.clear_faults();
    let status = service
        .wait_status(|v| v["tenants"]["svcone"]["last_run"]["run_id"] == 2)
        .await;
    assert_eq!(outcome(&status, "svcone"), Some("ok"), "{status}");
    // The full run after them found nothing to do for the two synced alone.
    let counts = &status["tenants"]["svcone"]["last_run"]["counts"];
    assert_eq!(
        (counts["created"].as_u64(), counts["updated"].as_u64()),
        (Some(0), Some(0)),
        "{status}"
    );

    let all: BTreeMap<String, Value> = scim.users("svcone").await;
    assert_eq!(all.len(), data.employees.iter().filter(|e| e.status != "T").count() + 2);
    let (code, log) = service.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains(ADMIN));
}
