//! The state database under a hostile world: a damaged or truncated database is refused
//! with one clear line and the fix (never opened as a fresh store), `hrsync rebaseline`
//! starts the tenant afresh and its next run adopts the app's users; a run's counts are
//! what was committed, also when it fails.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use chrono::NaiveDate;

use crate::harness::{free_port, ukg_sim, Run, ScimServer, Setup, Smtp, TenantConf};
use crate::proxy::KillProxy;
use crate::service::{outcome, Service};
use hrsync_sim::{SampleData, UkgSim};

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
    let active = retitle_active(&ukg, &data, "Senior");

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

/// Mounts a tmpfs of `size` at `at`; None (with the reason printed) when mounting is not
/// permitted (not root).
fn mount_tmpfs(at: &Path, size: &str) -> Option<Mount> {
    std::fs::create_dir_all(at).unwrap();
    let out = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(at)
        .output()
        .unwrap();
    if !out.status.success() {
        println!(
            "skipped: cannot mount a tmpfs ({}); this test needs root",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    Some(Mount(at.to_path_buf()))
}

/// Unmounts on drop.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system holding `dir` with a filler file, to the last byte.
fn fill(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0xA5u8; 64 * 1024];
    let mut size = chunk.len();
    loop {
        match f.write(&chunk[..size]) {
            Ok(0) => break,
            Ok(_) => {}
            Err(_) if size > 1 => size /= 2,
            Err(_) => break,
        }
    }
    let _ = f.sync_all();
    path
}

/// A full disk fails the run with the storage reason and its fix (not a restart loop),
/// mails the contact although the outbox cannot be written, and once space is back the
/// running service reopens its store and the next run completes, nothing lost or doubled.
/// `hrsync sync` on the full disk exits 1 with the same line instead of hanging.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_fails_the_run_mails_the_contact_and_recovers() {
    let id = "fulldisk";
    let (ukg, data) = ukg_sim(40, 31, "fulldisk.example", "pw-f", "KEYF").await;
    let scim = ScimServer::start(&[id], "tok-f").await;
    let tenant = TenantConf {
        id: id.into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url(id),
        page_size: 10,
        ukg_password: "pw-f".into(),
        ukg_api_key: "KEYF".into(),
        scim_token: "tok-f".into(),
    };
    let mail_dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(free_port(), &mail_dir.path().join("maildir"));
    let setup = Setup::new(&[&tenant]);
    setup.edit(|t| {
        t.replacen("[service]\n", "[service]\nadmin_token_env = \"HRSYNC_ADMIN_TOKEN\"\n", 1)
            .replacen(
                "\n[[tenants]]",
                &format!("\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"hrsync@example.com\"\n\n[[tenants]]", smtp.port),
                1,
            )
    });
    let Some(_mount) = mount_tmpfs(&data_dir(&setup), "16m") else {
        return;
    };
    let service = Service::start(&setup, &[("HRSYNC_ADMIN_TOKEN", "admin-f")]);
    service.wait_status(|v| outcome(v, id) == Some("ok")).await;
    let active = retitle_active(&ukg, &data, "Chief");
    let client = reqwest::Client::new();
    let sync = || {
        client
            .post(format!("http://127.0.0.1:{}/tenants/{id}/sync", service.listen))
            .bearer_auth("admin-f")
            .send()
    };

    let filler = fill(&data_dir(&setup));
    assert_eq!(sync().await.unwrap().status(), 202);
    // The reason is a detail: shown with the admin token only.
    let status = service
        .wait_status_with_token(Some("admin-f"), |v| outcome(v, id) == Some("failed"))
        .await;
    let error = status["tenants"][id]["last_run"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("storage: no space left on device") && error.contains("free space"),
        "the run fails with the reason and the fix: {status}"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !smtp.messages().iter().any(|m| m.contains("no space left")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the contact is never told: {:?}\n{}",
            smtp.messages(),
            service.output()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    std::fs::remove_file(&filler).unwrap();
    assert_eq!(sync().await.unwrap().status(), 202);
    let status = service.wait_status(|v| outcome(v, id) == Some("ok")).await;
    let counts = &status["tenants"][id]["last_run"]["counts"];
    let (code, log) = service.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    let users = scim.users(id).await;
    assert_eq!(users.len(), active.len(), "no duplicate: {status}");
    assert!(
        users
            .values()
            .all(|u| u["title"].as_str().is_some_and(|t| t.starts_with("Chief"))),
        "nothing lost: {counts}"
    );

    // `hrsync sync` on a disk too full to open the store: one line, exit 1, no hang.
    let filler = fill(&data_dir(&setup));
    let config = setup.config.to_str().unwrap().to_string();
    let out = setup
        .command(&["sync", "--config", &config, "--tenant", id])
        .env("HRSYNC_ADMIN_TOKEN", "admin-f")
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), out)
        .await
        .expect("hrsync sync must end, not hang, on a full disk")
        .unwrap();
    std::fs::remove_file(&filler).unwrap();
    let full = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(full.code, Some(1), "{full:?}");
    let line = full
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(
        line.contains("storage: ") && !line.contains("another hrsync process"),
        "{full:?}"
    );
}

/// Prefixes the job title of every employee not terminated in `data` with `prefix` at the
/// simulator; their ids.
fn retitle_active(ukg: &UkgSim, data: &SampleData, prefix: &str) -> Vec<String> {
    let active: Vec<String> = data
        .employees
        .iter()
        .filter(|e| e.status != "T")
        .map(|e| e.employee_id.clone())
        .collect();
    for e in &active {
        assert!(ukg.update(e, |x| x.job_title =
            Some(format!("{prefix} {}", x.job_title.clone().unwrap_or_default()))));
    }
    active
}
