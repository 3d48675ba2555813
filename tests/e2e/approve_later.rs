//! `hrsync approve --run N` days later, with the real SCIM server: held deactivations are
//! re-checked against the last roster read, and people back in UKG since are skipped.

use chrono::{Duration, Utc};
use hrsync_sim::SimEmployee;

use crate::harness::{ukg_sim, ScimServer, Setup, TenantConf};

#[tokio::test(flavor = "multi_thread")]
async fn approving_an_old_hold_skips_people_back_in_ukg_since() {
    let (ukg, data) = ukg_sim(132, 47, "later.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["later"], "tok").await;
    let tenant = TenantConf {
        id: "later".into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url("later"),
        page_size: 40,
        ukg_password: "pw".into(),
        ukg_api_key: "KEY01".into(),
        scim_token: scim.token.clone(),
    };
    let setup = Setup::new(&[&tenant]);
    setup.sync("later").await.assert_ok();
    let people: Vec<&SimEmployee> = data.employees.iter().filter(|e| e.status != "T").collect();
    let storm: Vec<&SimEmployee> = people.iter().copied().skip(1).take(people.len() * 40 / 100).collect();
    for e in &storm {
        ukg.terminate(&e.employee_id, Utc::now().date_naive() - Duration::days(1));
    }
    let held = setup.sync("later").await;
    held.assert_ok();
    assert_eq!(held.count("held"), storm.len() as u64, "{held:?}");

    // HR undoes the terminations of all but five (a mistake): their UKG records are exactly
    // as before, so nothing changes in the store. The next run sees them active again and
    // deactivates the five (few enough for the brake).
    let (still_gone, back) = storm.split_at(5);
    for e in back {
        ukg.update(&e.employee_id, |x| {
            x.status = "A".into();
            x.date_of_termination = None;
        });
    }
    let next = setup.sync("later").await;
    next.assert_ok();
    assert_eq!(next.count("deactivated"), still_gone.len() as u64, "{next:?}");

    let config = setup.config.to_str().unwrap();
    let approved = setup
        .run(&["approve", "--config", config, "--tenant", "later", "--run", "2"])
        .await;
    assert_eq!(approved.code, Some(0), "{approved:?}");
    assert!(
        approved.stdout.contains("0 deactivated, 5 already inactive, 0 failed"),
        "{approved:?}"
    );
    assert!(
        approved
            .stdout
            .contains(&format!("skipped {}: back in UKG since run 3", back[0].employee_id)),
        "{approved:?}"
    );
    let users = scim.users("later").await;
    assert!(
        back.iter().all(|e| users[&e.employee_id]["active"] == true),
        "nobody back in UKG is deactivated"
    );
    assert!(still_gone.iter().all(|e| users[&e.employee_id]["active"] == false));
}
