//! The state database under a hostile world: a damaged or truncated database is refused
//! with one clear line and the fix (never opened as a fresh store), `hrsync rebaseline`
//! starts the tenant afresh and its next run adopts the app's users; a run's counts are
//! what was committed, also when it fails.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use chrono::NaiveDate;

use crate::harness::{ukg_sim, Run, ScimServer, Setup, TenantConf};
use crate::proxy::KillProxy;

fn data_dir(setup: &Setup) -> std::path::PathBuf {
    setup.dir.path().join("data")
}

/// Zeroes 8 bytes in the middle of sled's `db` file.
fn zero_middle(dir: &Path) {
    let path = dir.join("db");
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 64, "db is only {len} bytes");
    let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.seek(SeekFrom::Start(len / 2)).unwrap();
    f.write_all(&[0u8; 8]).unwrap();
    f.sync_all().unwrap();
}

/// Cuts sled's `db` file to half its length.
fn truncate_half(dir: &Path) {
    let path = dir.join("db");
    let len = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len / 2).unwrap();
    f.sync_all().unwrap();
}

fn assert_refused(run: &Run, what: &str) {
    assert_eq!(run.code, Some(1), "{what} must refuse a damaged store: {run:?}");
    let line = run.stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_default();
    assert!(
        line.contains("damaged") && line.contains("backup") && line.contains("hrsync rebaseline"),
        "{what}: one line saying what is wrong and the fix, got {run:?}"
    );
}

async fn damaged_store_is_refused_then_rebaseline_adopts(damage: fn(&Path), id: &str) {
    let (ukg, data) = ukg_sim(40, 23, &format!("{id}.example"), "pw-d", "KEYD").await;
    let scim = ScimServer::start(&[id], "tok-d").await;
    let tenant = TenantConf {
        id: id.into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url(id),
        page_size: 10,
        ukg_password: "pw-d".into(),
        ukg_api_key: "KEYD".into(),
        scim_token: "tok-d".into(),
    };
    let setup = Setup::new(&[&tenant]);
    let config = setup.config.to_str().unwrap().to_string();
    let first = setup.sync(id).await;
    first.assert_ok();
    let active = data.employees.iter().filter(|e| e.status != "T").count();
    assert_eq!(first.count("created"), active as u64, "{first:?}");

    // A leaver after the last good run: the rebaselined run must still deactivate them.
    let leaver = data
        .employees
        .iter()
        .find(|e| {
            e.status != "T"
                && !data
                    .employees
                    .iter()
                    .any(|o| o.supervisor_id.as_deref() == Some(&e.employee_id))
        })
        .unwrap()
        .employee_id
        .clone();
    assert!(ukg.terminate(&leaver, NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()));

    damage(&data_dir(&setup));
    for args in [
        vec!["status", "--config", &config],
        vec!["plan", "--config", &config, "--tenant", id],
        vec!["sync", "--config", &config, "--tenant", id],
    ] {
        let run = setup.run(&args).await;
        assert_refused(&run, args[0]);
    }
    // Refusing wrote nothing to the app.
    assert_eq!(scim.users(id).await.len(), active);

    let rebaseline = setup.run(&["rebaseline", "--config", &config, "--tenant", id]).await;
    assert_eq!(rebaseline.code, Some(0), "{rebaseline:?}");
    let after = setup.sync(id).await;
    after.assert_ok();
    assert_eq!(after.count("created"), 0, "adopted, not created again: {after:?}");
    assert_eq!(after.count("adopted"), active as u64 - 1, "{after:?}");
    let users = scim.users(id).await;
    assert_eq!(users.len(), active, "no duplicate in the app");
    assert_eq!(users[&leaver]["active"], false, "the leaver is deactivated");
    // And the store is whole again.
    setup.sync(id).await.assert_ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn zeroed_bytes_in_the_database_are_refused_then_rebaseline_adopts() {
    damaged_store_is_refused_then_rebaseline_adopts(zero_middle, "zeroed").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_database_is_refused_then_rebaseline_adopts() {
    damaged_store_is_refused_then_rebaseline_adopts(truncate_half, "truncated").await;
}

/// A run the app stops on page 3 reports, as updated, the updates the app received before
/// (main reported 0: a failed run's summary dropped its committed counts); the next run
/// applies the rest, and the two together updated every employee once.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_run_reports_what_it_committed() {
    let id = "halfway";
    let (ukg, data) = ukg_sim(60, 29, "halfway.example", "pw-h", "KEYH").await;
    let scim = ScimServer::start(&[id], "tok-h").await;
    let proxy = KillProxy::start(&format!("http://127.0.0.1:{}", scim.port)).await;
    let tenant = TenantConf {
        id: id.into(),
        ukg_base: ukg.base_url(),
        scim_base: proxy.base_url(id),
        page_size: 10,
        ukg_password: "pw-h".into(),
        ukg_api_key: "KEYH".into(),
        scim_token: "tok-h".into(),
    };
    let setup = Setup::new(&[&tenant]);
    setup.sync(id).await.assert_ok();
    let active: Vec<String> = data
        .employees
        .iter()
        .filter(|e| e.status != "T")
        .map(|e| e.employee_id.clone())
        .collect();
    for e in &active {
        assert!(ukg.update(e, |x| x.job_title =
            Some(format!("Senior {}", x.job_title.clone().unwrap_or_default()))));
    }

    // Pages of 10: the updates of pages 1 and 2 and a few of page 3 go through.
    let first = proxy.request_count();
    proxy.fail_writes_after(24, 401);
    let failed = setup.sync(id).await;
    assert_eq!(failed.code, Some(1), "{failed:?}");
    let received = proxy
        .log()
        .iter()
        .skip(first)
        .filter(|r| r.method == "PUT" && r.status == 200)
        .count() as u64;
    assert!(received >= 20, "the app received {received} updates");
    assert_eq!(
        failed.count("updated"),
        received,
        "updated = what the app received: {failed:?}"
    );

    proxy.heal();
    let next = setup.sync(id).await;
    next.assert_ok();
    assert_eq!(
        received + next.count("updated"),
        active.len() as u64,
        "every active employee updated once over both runs: {next:?}"
    );
}
