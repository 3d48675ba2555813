//! A hostile UKG (issue 15): a short page that is not the last, a UKG that ignores `page`,
//! a malformed row, duplicate rows, commas and control characters in the data. Each either
//! fails the run with a reason that names what happened (and deactivates nobody), or sets
//! the one record aside while the rest syncs.

use hrsync_sim::{Fault, UkgSim};
use serde_json::Value;

use crate::harness::{ukg_sim, ScimServer, Setup, TenantConf};

const EMPLOYMENT: &str = "/personnel/v1/employment-details";
const DEMOGRAPHICS: &str = "/personnel/v1/employee-demographic-details";

fn conf(id: &str, ukg: &UkgSim, scim: &ScimServer, page_size: u32) -> TenantConf {
    TenantConf::on(id, ukg, scim, page_size)
}

/// The externalIds of the app's active users.
async fn active_users(scim: &ScimServer, tenant: &str) -> Vec<String> {
    let mut ids: Vec<String> = scim
        .users(tenant)
        .await
        .into_iter()
        .filter(|(_, u)| u["active"] == Value::Bool(true))
        .map(|(ext, _)| ext)
        .collect();
    ids.sort();
    ids
}

/// The reason printed for one employee set aside by a run.
fn reason<'a>(run: &'a crate::harness::Run, id: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("failed {id}:")))
        .unwrap_or_else(|| panic!("no failure for {id}: {run:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_short_page_that_is_not_the_last_deactivates_nobody() {
    // 300 employees at 20 a page: 15 pages. UKG drops one row of page 14: on the old rule
    // (a short page ends the list) the 21 people of the rest of the read were deactivated,
    // under the brake's 20 % and the roster guard's 50 %.
    let (ukg, _) = ukg_sim(300, 151, "short.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["short"], "tok").await;
    let setup = Setup::new(&[&conf("short", &ukg, &scim, 20)]);
    let first = setup.sync("short").await;
    first.assert_ok();
    // A clean run: demographics to the empty page 16; employment-details ends at page 15
    // (full, so the empty page 16 too); 2 lookups.
    assert_eq!(first.requests("UKG"), 16 + 16 + 2, "{first:?}");
    let before = active_users(&scim, "short").await;
    assert_eq!(before.len(), 298);

    ukg.inject(Fault::DropRow {
        path: EMPLOYMENT.into(),
        page: 14,
    });
    let lost = ukg.employees()[14 * 20 - 1].employee_id.clone();
    // `hrsync plan` reads by the same rules: no plan with 21 deactivations.
    let config = setup.config.to_str().unwrap();
    let plan = setup.run(&["plan", "--config", config, "--tenant", "short"]).await;
    assert_eq!(plan.code, Some(1), "{plan:?}");
    assert!(plan.stderr.contains("UKG's roster lists disagree"), "{plan:?}");
    let run = setup.sync("short").await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains(
            "employee-demographic-details listed 300 employees and employment-details 299, and 1 of the demographics' employees had no employment-details row"
        ),
        "{run:?}"
    );
    assert!(run.stderr.contains(&format!("employee {lost})")), "{run:?}");
    assert!(run.stderr.contains("nothing was deactivated"), "{run:?}");
    assert_eq!(run.requests("UKG"), 16 + 16 + 2, "read on to the empty page: {run:?}");
    assert_eq!(active_users(&scim, "short").await, before, "nobody deactivated");

    // UKG mended: the next run is clean and changes nothing.
    ukg.clear_faults();
    let next = setup.sync("short").await;
    next.assert_ok();
    assert_eq!((next.count("deactivated"), next.count("failed")), (0, 0), "{next:?}");
    assert_eq!(active_users(&scim, "short").await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ukg_that_ignores_page_fails_the_run_at_once() {
    // 60 employees at 20 a page; UKG serves page 1 whatever is asked. (On the old rule the
    // run never ended: page 1 is full, so page 2, 3, … were asked for ever.)
    let (ukg, _) = ukg_sim(60, 152, "ignore.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["ignore"], "tok").await;
    let setup = Setup::new(&[&conf("ignore", &ukg, &scim, 20)]);
    ukg.inject(Fault::IgnorePage);
    let run = setup.sync("ignore").await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .contains("UKG returned page 2 of employee-demographic-details again"),
        "{run:?}"
    );
    assert!(run.stderr.contains("ignoring the page parameter"), "{run:?}");
    assert_eq!(run.requests("UKG"), 2 + 2, "2 lookups, 2 demographics pages: {run:?}");
    assert_eq!(run.requests("SCIM"), 0, "{run:?}");

    // A roster that fits on one page: the old rule took the short page 1 as the end and
    // never noticed; the repeat is caught on page 2 all the same.
    let (small, _) = ukg_sim(15, 153, "small.example", "pw", "KEY01").await;
    let setup = Setup::new(&[&conf("small", &small, &scim, 20)]);
    small.inject(Fault::IgnorePage);
    let run = setup.sync("small").await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("ignoring the page parameter"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_row_is_set_aside_and_the_rest_syncs() {
    let (ukg, data) = ukg_sim(40, 154, "bad-row.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["badrow"], "tok").await;
    let setup = Setup::new(&[&conf("badrow", &ukg, &scim, 15)]);
    setup.sync("badrow").await.assert_ok();
    let before = active_users(&scim, "badrow").await;

    // A list where jobTitle's text belongs, on an employee already synced; someone else
    // changes in the same run.
    let spoilt = data.employees[7].employee_id.clone();
    let other = data.employees[20].employee_id.clone();
    ukg.inject(Fault::MalformedRow {
        employee_id: spoilt.clone(),
    });
    ukg.update(&other, |e| e.last_name = "Newname".into());
    let run = setup.sync("badrow").await;
    run.assert_ok();
    assert_eq!(
        (run.count("updated"), run.count("failed"), run.count("deactivated")),
        (1, 1, 0),
        "{run:?}"
    );
    let why = reason(&run, &spoilt);
    assert!(
        why.contains("employment-details row unreadable (field jobTitle holds a list where text was expected)"),
        "{why}"
    );
    assert_eq!(
        active_users(&scim, "badrow").await,
        before,
        "the spoilt row's employee is present, not absent"
    );
    assert_eq!(scim.users("badrow").await[&other]["name"]["familyName"], "Newname");
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_rows_set_the_employee_aside() {
    let (ukg, data) = ukg_sim(30, 155, "dup.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["dup"], "tok").await;
    let setup = Setup::new(&[&conf("dup", &ukg, &scim, 10)]);
    setup.sync("dup").await.assert_ok();
    let before = active_users(&scim, "dup").await;

    // Listed twice one after the other, on one page (not a page's last row: 10 a page).
    let sorted = ukg.employees();
    let (_, twice_employed) = sorted
        .iter()
        .enumerate()
        .find(|(i, e)| i % 10 != 9 && e.status != "T")
        .unwrap();
    let twice_employed = twice_employed.clone();
    let twice_person = data
        .employees
        .iter()
        .find(|e| e.employee_id != twice_employed.employee_id && e.status != "T")
        .unwrap()
        .clone();
    ukg.inject(Fault::DuplicateRow {
        path: EMPLOYMENT.into(),
        employee_id: twice_employed.employee_id.clone(),
    });
    ukg.inject(Fault::DuplicateRow {
        path: DEMOGRAPHICS.into(),
        employee_id: twice_person.employee_id.clone(),
    });
    // Changes that must not be written from an ambiguous read.
    ukg.update(&twice_employed.employee_id, |e| e.last_name = "Ambiguous".into());
    ukg.update(&twice_person.employee_id, |e| e.last_name = "Ambiguous".into());
    let run = setup.sync("dup").await;
    run.assert_ok();
    for e in [&twice_employed, &twice_person] {
        let why = reason(&run, &e.employee_id);
        assert!(
            why.contains(&format!(
                "duplicate rows in UKG for company {} employee {}",
                e.company_id, e.employee_id
            )),
            "{why}"
        );
    }
    assert!(reason(&run, &twice_employed.employee_id).contains("(employment-details, page"));
    assert!(reason(&run, &twice_person.employee_id).contains("(employee-demographic-details, page"));
    assert_eq!((run.count("updated"), run.count("deactivated")), (0, 0), "{run:?}");
    let users = scim.users("dup").await;
    for e in [&twice_employed, &twice_person] {
        assert_eq!(users[&e.employee_id]["name"]["familyName"], e.last_name.as_str());
    }
    assert_eq!(active_users(&scim, "dup").await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn commas_and_control_characters_never_reach_the_app() {
    let (ukg, data) = ukg_sim(12, 156, "ctl.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["ctl"], "tok").await;
    let (comma, nul_email, nul_name) = (
        data.employees[2].employee_id.clone(),
        data.employees[3].employee_id.clone(),
        data.employees[4].employee_id.clone(),
    );
    ukg.update(&comma, |e| e.email = Some("ann@ctl.example,eve@evil.example".into()));
    ukg.update(&nul_email, |e| e.email = Some("bob\u{0}@ctl.example".into()));
    ukg.update(&nul_name, |e| {
        e.first_name = "Zo\u{0}e".into();
        e.preferred_name = None;
        e.last_name = "Smith\r\nX-Injected: yes".into();
        e.job_title = Some("\u{1b}[31mEngineer".into());
    });
    let setup = Setup::new(&[&conf("ctl", &ukg, &scim, 50)]);
    let run = setup.sync("ctl").await;
    run.assert_ok();
    assert!(reason(&run, &comma).contains("is not a valid address"), "{run:?}");
    assert!(reason(&run, &nul_email).contains("is not a valid address"), "{run:?}");
    assert!(!run.stdout.contains('\u{0}'), "reasons show control characters escaped");
    let users = scim.users("ctl").await;
    assert!(!users.contains_key(&comma) && !users.contains_key(&nul_email));
    let u = &users[&nul_name];
    assert_eq!(u["name"]["givenName"], "Zoe");
    assert_eq!(u["name"]["familyName"], "Smith  X-Injected: yes");
    assert_eq!(u["title"], "[31mEngineer");
    let all = serde_json::to_string(&users).unwrap();
    assert!(
        !all.contains("\\u0000") && !all.contains("\\r") && !all.contains("\\u001b"),
        "{all}"
    );
}
