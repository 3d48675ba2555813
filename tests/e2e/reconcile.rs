//! Users deleted in the app behind hrsync's back, with the real SCIM server: the next run's
//! listing finds them missing and recreates them (or adopts the one an admin re-created
//! under another id), counts them `recreated`, links the reports of a recreated manager to
//! the new user, and never makes a duplicate.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::harness::{ukg_sim, ScimServer, Setup, TenantConf};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

async fn delete_user(scim: &ScimServer, tenant: &str, id: &str) {
    let r = reqwest::Client::new()
        .delete(format!("{}/Users/{id}", scim.base_url(tenant)))
        .bearer_auth(&scim.token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

fn manager_of(user: &Value) -> Option<&str> {
    user[ENTERPRISE]["manager"]["value"].as_str()
}

#[tokio::test(flavor = "multi_thread")]
async fn users_deleted_in_the_app_are_recreated_by_the_next_run_without_duplicates() {
    let (ukg, data) = ukg_sim(40, 61, "gone-user.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["recon"], "tok").await;
    let tenant = TenantConf {
        id: "recon".into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url("recon"),
        page_size: 15,
        ukg_password: "pw".into(),
        ukg_api_key: "KEY01".into(),
        scim_token: scim.token.clone(),
    };
    let setup = Setup::new(&[&tenant]);
    setup.sync("recon").await.assert_ok();
    let before = scim.users("recon").await;

    // A manager with reports, a leaf, and one an admin deleted and re-created by hand
    // (same externalId, new id).
    let active = |id: &str| before.get(id).is_some_and(|u| u["active"] == true);
    let reports_of = |m: &str| -> Vec<String> {
        before
            .iter()
            .filter(|(_, u)| manager_of(u) == before[m]["id"].as_str())
            .map(|(k, _)| k.clone())
            .collect()
    };
    let manager = data
        .employees
        .iter()
        .map(|e| e.employee_id.as_str())
        .find(|id| active(id) && !reports_of(id).is_empty() && before[*id].get(ENTERPRISE).is_some())
        .unwrap()
        .to_string();
    let reports = reports_of(&manager);
    let mut leaves = data
        .employees
        .iter()
        .map(|e| e.employee_id.clone())
        .filter(|id| active(id) && *id != manager && reports_of(id).is_empty() && !reports.contains(id));
    let (leaf, moved) = (leaves.next().unwrap(), leaves.next().unwrap());
    for id in [&manager, &leaf, &moved] {
        delete_user(&scim, "recon", before[id.as_str()]["id"].as_str().unwrap()).await;
    }
    let mut again = before[moved.as_str()].clone();
    let obj = again.as_object_mut().unwrap();
    obj.remove("id");
    obj.remove("meta");
    let readded = scim.create_user("recon", again).await;
    let readded_id = readded["id"].as_str().unwrap().to_string();

    // Nothing changed in UKG: only the listing can find them.
    let run = setup.sync("recon").await;
    run.assert_ok();
    assert_eq!(run.count("recreated"), 3, "{run:?}");
    assert_eq!(run.count("failed"), 0, "{run:?}");
    let after = scim.users("recon").await;
    assert_eq!(
        after.keys().collect::<BTreeSet<_>>(),
        before.keys().collect::<BTreeSet<_>>(),
        "everyone is back"
    );
    // users() keys by externalId: count the raw users too, to see a duplicate.
    assert_eq!(after.len(), before.len());
    let all: Value = reqwest::Client::new()
        .get(format!("{}/Users?count=1", scim.base_url("recon")))
        .bearer_auth(&scim.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all["totalResults"].as_u64(), Some(before.len() as u64), "no duplicate");
    assert_eq!(
        after[moved.as_str()]["id"],
        readded_id.as_str(),
        "adopted under its new id"
    );
    let new_manager = after[manager.as_str()]["id"].as_str().unwrap();
    assert_ne!(Some(new_manager), before[manager.as_str()]["id"].as_str());
    for r in &reports {
        assert_eq!(manager_of(&after[r.as_str()]), Some(new_manager), "report {r} relinked");
    }

    // All in place: the next run only lists.
    let quiet = setup.sync("recon").await;
    quiet.assert_ok();
    assert_eq!(quiet.count("recreated"), 0, "{quiet:?}");
    assert_eq!(quiet.requests("SCIM"), 1, "one listing, no write: {quiet:?}");
}
