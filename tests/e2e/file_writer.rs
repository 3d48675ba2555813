//! The file writer (`[tenants.file]`), end to end: `hrsync sync` against the UKG simulator
//! writes the Betterworks-style user file into a folder and/or uploads it to a real OpenSSH
//! `sshd`. The files are read back with a real CSV reader (or as JSON lines).
//!
//! What is proven: rows, columns and quoting; leavers' deactivation dates (UKG's date, or the
//! day an employee went missing); progress advances only once the file is delivered (a failed
//! write or upload re-delivers the same changes next run); the brake holds a termination storm
//! and writes those rows without a date until `hrsync approve`; SFTP refuses an unknown host
//! or a wrong host key before writing anything; a server that dies mid-upload leaves no
//! partial file under the final name, and the next run delivers it whole.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate, Utc};
use hrsync_sim::{SampleData, SimEmployee, UkgSim};

use crate::harness::{ukg_sim, Run, Setup, TenantConf};
use crate::sshd::{CutRelay, Sshd};

const COLUMNS: [&str; 9] = [
    "email",
    "first_name",
    "last_name",
    "employee_id",
    "title",
    "department",
    "manager_email",
    "location",
    "deactivation_date",
];

/// A tenant whose config is written by `Setup` with the file target `file` (a
/// `[tenants.file]` table).
fn file_setup(id: &str, ukg: &UkgSim, page_size: u32, file: &str) -> Setup {
    let tenant = TenantConf {
        id: id.into(),
        ukg_base: ukg.base_url(),
        scim_base: "http://127.0.0.1:9/unused".into(),
        page_size,
        ukg_password: "pw".into(),
        ukg_api_key: "KEY01".into(),
        scim_token: "unused".into(),
    };
    let setup = Setup::new(&[&tenant]);
    setup.set_target(&tenant, file);
    setup
}

/// A `[tenants.file]` table writing into `dir`.
fn folder_target(dir: &Path, extra: &str) -> String {
    format!("[tenants.file]\ndirectory = \"{}\"\n{extra}", dir.display())
}

/// Header and rows (column → value) of a CSV file, read with a real CSV reader.
fn read_csv(bytes: &[u8]) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut r = csv::Reader::from_reader(bytes);
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(str::to_string))
                .collect()
        })
        .collect();
    (header, rows)
}

/// Rows by email.
fn by_email(rows: &[BTreeMap<String, String>]) -> BTreeMap<String, BTreeMap<String, String>> {
    rows.iter().map(|r| (r["email"].clone(), r.clone())).collect()
}

/// The run files (not the latest copy) of `tenant` in `dir`, oldest first.
fn run_files(dir: &Path, tenant: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with(&format!("{tenant}-users-2"))
        })
        .collect();
    files.sort();
    files
}

/// The path `hrsync sync` printed as the run's user file.
fn printed_file(run: &Run) -> PathBuf {
    let line = run
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("user file: "))
        .unwrap_or_else(|| panic!("no user file line in {run:?}"));
    PathBuf::from(line)
}

fn email(e: &SimEmployee) -> String {
    e.email.clone().unwrap().to_lowercase()
}

fn leaves(data: &SampleData) -> Vec<&SimEmployee> {
    let managers: BTreeSet<&str> = data
        .employees
        .iter()
        .filter_map(|e| e.supervisor_id.as_deref())
        .collect();
    data.employees
        .iter()
        .filter(|e| e.status == "A" && !managers.contains(e.employee_id.as_str()))
        .collect()
}

fn mmddyyyy(d: NaiveDate) -> String {
    d.format("%m/%d/%Y").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_user_file_has_a_row_per_employee_in_betterworks_columns_and_follows_changes() {
    let (ukg, data) = ukg_sim(60, 21, "files.example", "pw", "KEY01").await;
    let out = tempfile::tempdir().unwrap();
    let setup = file_setup("filed", &ukg, 25, &folder_target(out.path(), "keep = 3\n"));
    // Quoting: commas and quotes in a name; a line break in a name becomes a space (control
    // characters never reach the file).
    let tricky = leaves(&data)[0].clone();
    ukg.update(&tricky.employee_id, |e| {
        e.first_name = "Jean, \"JJ\"".into();
        e.preferred_name = None;
        e.last_name = "O'Brien\nSmith".into();
    });

    let first = setup.sync("filed").await;
    first.assert_ok();
    let active: Vec<&SimEmployee> = data.employees.iter().filter(|e| e.status != "T").collect();
    assert_eq!(first.count("created"), active.len() as u64, "{first:?}");
    assert_eq!(first.count("failed"), 0, "{first:?}");
    assert!(first.stdout.contains(" 0 SCIM requests"), "{first:?}");
    let path = printed_file(&first);
    assert_eq!(run_files(out.path(), "filed"), vec![path.clone()]);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        std::fs::read(out.path().join("filed-users-latest.csv")).unwrap(),
        bytes,
        "latest copy"
    );
    let (header, rows) = read_csv(&bytes);
    assert_eq!(header, COLUMNS);
    assert_eq!(rows.len(), active.len(), "one row per employee hrsync knows");
    let rows = by_email(&rows);
    let depts: BTreeMap<_, _> = data
        .org_levels
        .iter()
        .filter(|o| o.level == 1)
        .map(|o| (o.code.clone(), o.description.clone()))
        .collect();
    let jobs: BTreeMap<_, _> = data.jobs.iter().map(|j| (j.code.clone(), j.title.clone())).collect();
    let emails: BTreeMap<&str, String> = active.iter().map(|e| (e.employee_id.as_str(), email(e))).collect();
    let mut unicode = 0;
    for e in &active {
        let r = &rows[&email(e)];
        if e.employee_id == tricky.employee_id {
            assert_eq!(r["first_name"], "Jean, \"JJ\"");
            assert_eq!(r["last_name"], "O'Brien Smith");
        } else {
            assert_eq!(
                r["first_name"],
                e.preferred_name.clone().unwrap_or(e.first_name.clone())
            );
            assert_eq!(r["last_name"], e.last_name);
        }
        unicode += usize::from(!r["first_name"].is_ascii() || !r["last_name"].is_ascii());
        assert_eq!(r["employee_id"], e.employee_number, "zero-padded, as text");
        assert!(r["employee_id"].starts_with('0'));
        let title = e
            .job_title
            .clone()
            .or(e.job_description.clone())
            .or(e.job_code.as_ref().map(|c| jobs[c].clone()));
        assert_eq!(Some(r["title"].clone()).filter(|t| !t.is_empty()), title);
        let dept = e.org_level1_code.as_ref().map(|c| depts[c].clone());
        assert_eq!(Some(r["department"].clone()).filter(|t| !t.is_empty()), dept);
        let manager = e
            .supervisor_id
            .as_deref()
            .and_then(|m| emails.get(m).cloned())
            .unwrap_or_default();
        assert_eq!(r["manager_email"], manager, "manager of {}", e.employee_id);
        assert_eq!(Some(&r["location"]), e.work_location_code.as_ref());
        assert_eq!(r["deactivation_date"], "");
    }
    assert!(unicode > 0, "the sample has non-ASCII names, and they survive");
    assert!(rows.values().filter(|r| !r["manager_email"].is_empty()).count() > active.len() / 2);

    // No change: the same rows again, under the new run's name.
    let second = setup.sync("filed").await;
    second.assert_ok();
    assert_eq!(second.count("unchanged"), data.employees.len() as u64, "{second:?}");
    let second_path = printed_file(&second);
    assert_ne!(second_path, path);
    assert_eq!(std::fs::read(&second_path).unwrap(), bytes, "same rows, same bytes");

    // A termination (dated), a hire, a department change, a manager change.
    let ls = leaves(&data);
    let (leaver, mover, switcher) = (ls[1], ls[2], ls[3]);
    let managers: BTreeSet<&str> = data
        .employees
        .iter()
        .filter_map(|e| e.supervisor_id.as_deref())
        .collect();
    let boss = active
        .iter()
        .find(|e| {
            e.status == "A"
                && managers.contains(e.employee_id.as_str())
                && Some(&e.employee_id) != switcher.supervisor_id.as_ref()
        })
        .unwrap();
    ukg.terminate(&leaver.employee_id, NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
    let mut hire = (*boss).clone();
    hire.employee_id = "ZZFILE0001".into();
    hire.employee_number = "000000042".into();
    hire.first_name = "Ada".into();
    hire.preferred_name = None;
    hire.last_name = "Lovelace".into();
    hire.email = Some("Ada.Lovelace@files.example".into());
    hire.supervisor_id = Some(boss.employee_id.clone());
    hire.supervisor_company_id = Some(boss.company_id.clone());
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
    let third = setup.sync("filed").await;
    third.assert_ok();
    assert_eq!(
        (
            third.count("created"),
            third.count("updated"),
            third.count("managers linked"),
            third.count("deactivated")
        ),
        (1, 1, 1, 1),
        "{third:?}"
    );
    let (_, rows3) = read_csv(&std::fs::read(printed_file(&third)).unwrap());
    assert_eq!(rows3.len(), active.len() + 1, "the leaver keeps a row");
    let rows3 = by_email(&rows3);
    assert_eq!(
        rows3[&email(leaver)]["deactivation_date"],
        "11/01/2026",
        "UKG's termination date"
    );
    let ada = &rows3["ada.lovelace@files.example"];
    assert_eq!(ada["employee_id"], "000000042");
    assert_eq!(ada["manager_email"], email(boss));
    assert_eq!(rows3[&email(mover)]["department"], new_dept.description);
    assert_eq!(rows3[&email(switcher)]["manager_email"], email(boss));
    assert_eq!(rows3.values().filter(|r| !r["deactivation_date"].is_empty()).count(), 1);

    // Gone from the roster (after a complete read): deactivated as of the run's day (UTC).
    let gone = ls[4];
    ukg.remove(&gone.employee_id);
    let fourth = setup.sync("filed").await;
    fourth.assert_ok();
    assert_eq!(fourth.count("deactivated"), 1, "{fourth:?}");
    let (_, rows4) = read_csv(&std::fs::read(printed_file(&fourth)).unwrap());
    let rows4 = by_email(&rows4);
    assert_eq!(
        rows4[&email(gone)]["deactivation_date"],
        mmddyyyy(Utc::now().date_naive())
    );
    assert_eq!(rows4[&email(leaver)]["deactivation_date"], "11/01/2026");
    // keep = 3: four runs, three run files and the latest copy.
    let files = run_files(out.path(), "filed");
    assert_eq!(files.len(), 3, "{files:?}");
    assert_eq!(files[2], printed_file(&fourth));
    assert_eq!(
        std::fs::read(out.path().join("filed-users-latest.csv")).unwrap(),
        std::fs::read(&files[2]).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_advances_only_once_the_file_is_delivered() {
    let (ukg, data) = ukg_sim(30, 22, "undelivered.example", "pw", "KEY01").await;
    let root = tempfile::tempdir().unwrap();
    // A file where a folder of the path should be: the write fails.
    let blocker = root.path().join("blocker");
    std::fs::write(&blocker, "not a folder").unwrap();
    let out = blocker.join("out");
    let setup = file_setup("undelivered", &ukg, 10, &folder_target(&out, ""));

    let failed = setup.sync("undelivered").await;
    assert_eq!(failed.code, Some(1), "{failed:?}");
    assert!(
        failed.stderr.contains("user file not delivered") && failed.stderr.contains("check file.directory"),
        "{failed:?}"
    );
    let active = data.employees.iter().filter(|e| e.status != "T").count() as u64;

    // Fixed: every employee is delivered, none was recorded by the failed run.
    std::fs::remove_file(&blocker).unwrap();
    let ok = setup.sync("undelivered").await;
    ok.assert_ok();
    assert_eq!(ok.count("created"), active, "{ok:?}");
    let (_, rows) = read_csv(&std::fs::read(printed_file(&ok)).unwrap());
    assert_eq!(rows.len() as u64, active);

    // A termination whose file cannot be written is delivered by the next run that can.
    let leaver = leaves(&data)[0];
    let day = Utc::now().date_naive() - Duration::days(2);
    ukg.terminate(&leaver.employee_id, day);
    std::fs::rename(root.path().join("blocker"), root.path().join("moved")).unwrap();
    std::fs::write(&blocker, "not a folder").unwrap();
    let failed = setup.sync("undelivered").await;
    assert_eq!(failed.code, Some(1), "{failed:?}");
    std::fs::remove_file(&blocker).unwrap();
    std::fs::rename(root.path().join("moved"), &blocker).unwrap();
    let again = setup.sync("undelivered").await;
    again.assert_ok();
    assert_eq!(
        again.count("deactivated"),
        1,
        "the same change, delivered now: {again:?}"
    );
    let (_, rows) = read_csv(&std::fs::read(printed_file(&again)).unwrap());
    assert_eq!(by_email(&rows)[&email(leaver)]["deactivation_date"], mmddyyyy(day));
    let after = setup.sync("undelivered").await;
    after.assert_ok();
    assert_eq!(after.count("deactivated"), 0, "{after:?}");
    assert_eq!(after.count("unchanged"), data.employees.len() as u64, "{after:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_termination_storm_is_held_and_written_without_dates_until_approved() {
    let (ukg, data) = ukg_sim(132, 23, "stormfile.example", "pw", "KEY01").await;
    let out = tempfile::tempdir().unwrap();
    let setup = file_setup("stormfile", &ukg, 50, &folder_target(out.path(), ""));
    setup.sync("stormfile").await.assert_ok();
    let active: Vec<&SimEmployee> = data.employees.iter().filter(|e| e.status != "T").collect();
    let storm: Vec<&SimEmployee> = active.iter().copied().skip(1).take(active.len() * 40 / 100).collect();
    for e in &storm {
        ukg.terminate(&e.employee_id, Utc::now().date_naive() - Duration::days(1));
    }
    let held = setup.sync("stormfile").await;
    held.assert_ok();
    assert_eq!(
        (held.count("held"), held.count("deactivated")),
        (storm.len() as u64, 0),
        "{held:?}"
    );
    assert!(
        held.stdout.contains("hrsync approve") && held.stdout.contains("--run 2"),
        "{held:?}"
    );
    let (_, rows) = read_csv(&std::fs::read(printed_file(&held)).unwrap());
    let rows = by_email(&rows);
    for e in &storm {
        assert_eq!(
            rows[&email(e)]["deactivation_date"],
            "",
            "held: no date for {}",
            e.employee_id
        );
    }

    let config = setup.config.to_str().unwrap();
    let out_approve = setup
        .command(&["approve", "--config", config, "--tenant", "stormfile", "--run", "2"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out_approve.stdout);
    assert_eq!(
        out_approve.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&out_approve.stderr)
    );
    assert!(stdout.contains(&format!("{} deactivated", storm.len())), "{stdout}");
    // Approval delivers a new file at once.
    let latest = std::fs::read(out.path().join("stormfile-users-latest.csv")).unwrap();
    let (_, rows) = read_csv(&latest);
    let rows = by_email(&rows);
    let today = mmddyyyy(Utc::now().date_naive());
    for e in &storm {
        assert_eq!(rows[&email(e)]["deactivation_date"], today, "{}", e.employee_id);
    }
    assert_eq!(run_files(out.path(), "stormfile").len(), 3, "two runs and the approval");
    let after = setup.sync("stormfile").await;
    after.assert_ok();
    assert_eq!((after.count("held"), after.count("deactivated")), (0, 0), "{after:?}");
    assert_eq!(
        std::fs::read(printed_file(&after)).unwrap(),
        latest,
        "nothing left to do"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_lines_with_configured_columns_dates_and_a_mapped_attribute() {
    let (ukg, data) = ukg_sim(15, 24, "jsonfile.example", "pw", "KEY01").await;
    let out = tempfile::tempdir().unwrap();
    let setup = file_setup(
        "jsonfile",
        &ukg,
        100,
        &folder_target(
            out.path(),
            "format = \"json\"\ndate_format = \"%Y-%m-%d\"\ncolumns = [\n  { name = \"Email\", value = \"uppercase(email)\" },\n  { name = \"Name\", value = \"{first_name} {last_name}\" },\n  { name = \"Employee Number\", value = \"{employee_number}\" },\n  { name = \"Cost Center\", value = \"{costCenter}\" },\n  { name = \"Manager\", value = \"{manager_email}\" },\n  { name = \"Ends\", value = \"{deactivation_date}\" },\n  { name = \"Company\", value = \"Initech\" },\n]\n",
        ),
    );
    setup.edit(|t| {
        t.replace(
            "[tenants.ukg]",
            "[tenants.mapping.attributes]\n\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter\" = \"{orgLevel2Code}\"\n\n[tenants.ukg]",
        )
    });
    setup.sync("jsonfile").await.assert_ok();
    let leaver = leaves(&data)[0];
    ukg.terminate(&leaver.employee_id, NaiveDate::from_ymd_opt(2026, 10, 31).unwrap());
    let run = setup.sync("jsonfile").await;
    run.assert_ok();
    let path = printed_file(&run);
    assert!(path.to_string_lossy().ends_with(".jsonl"), "{path:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let active: Vec<&SimEmployee> = data.employees.iter().filter(|e| e.status != "T").collect();
    assert_eq!(lines.len(), active.len());
    assert!(
        text.starts_with("{\"Email\":"),
        "columns in their configured order: {text}"
    );
    for e in &active {
        let l = lines.iter().find(|l| l["Email"] == email(e).to_uppercase()).unwrap();
        let first = e.preferred_name.clone().unwrap_or(e.first_name.clone());
        assert_eq!(l["Name"], format!("{first} {}", e.last_name));
        assert_eq!(l["Employee Number"], e.employee_number.as_str());
        assert_eq!(l["Cost Center"].as_str(), e.org_level2_code.as_deref());
        assert_eq!(l["Company"], "Initech");
        let ends = if e.employee_id == leaver.employee_id {
            serde_json::json!("2026-10-31")
        } else {
            serde_json::Value::Null
        };
        assert_eq!(l["Ends"], ends, "{}", e.employee_id);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sftp_uploads_to_a_real_sshd_and_refuses_unknown_or_wrong_host_keys() {
    let (ukg, data) = ukg_sim(40, 25, "sftpfile.example", "pw", "KEY01").await;
    let sshd = Sshd::start();
    let target = |sftp: String| format!("[tenants.file]\n{sftp}");
    let setup = file_setup("sftpfile", &ukg, 100, &target(sshd.sftp_toml(sshd.port, false)));

    // The server presents a key other than the one known_hosts lists: refused.
    let wrong = setup.sync("sftpfile").await;
    assert_eq!(wrong.code, Some(1), "{wrong:?}");
    assert!(
        wrong.stderr.contains("does not match known_hosts") && wrong.stderr.contains("nothing was uploaded"),
        "{wrong:?}"
    );
    assert!(wrong.stderr.contains("ssh-keyscan"), "names the fix: {wrong:?}");
    assert!(
        sshd.inbound_files().is_empty(),
        "nothing written: {:?}",
        sshd.inbound_files()
    );

    // known_hosts lists another host only: refused too.
    let other_port = sshd.sftp_toml(sshd.port + 1, true);
    let kh_for_other = other_port
        .split("known_hosts = \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let right = sshd.sftp_toml(sshd.port, true);
    let right_kh = right
        .split("known_hosts = \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    setup.edit(|t| t.replace(&sshd.known_hosts(sshd.port, false).display().to_string(), &kh_for_other));
    let unknown = setup.sync("sftpfile").await;
    assert_eq!(unknown.code, Some(1), "{unknown:?}");
    assert!(unknown.stderr.contains("is not listed in known_hosts"), "{unknown:?}");
    assert!(sshd.inbound_files().is_empty());

    // The right key: the file lands whole under its final name.
    setup.edit(|t| t.replace(&kh_for_other, &right_kh));
    let ok = setup.sync("sftpfile").await;
    ok.assert_ok();
    let name = ok
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("user file: "))
        .unwrap()
        .trim_end_matches(" (uploaded)")
        .to_string();
    assert_eq!(sshd.inbound_files(), vec![name.clone()], "no temporary file left");
    let (header, rows) = read_csv(&std::fs::read(sshd.inbound().join(&name)).unwrap());
    assert_eq!(header, COLUMNS);
    assert_eq!(rows.len(), data.employees.iter().filter(|e| e.status != "T").count());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_dropped_mid_upload_leaves_no_partial_file_and_the_next_run_delivers_it() {
    // ~2,000 rows: an upload of a few hundred KB, cut after 100 KB.
    let (ukg, data) = ukg_sim(2000, 26, "dropped.example", "pw", "KEY01").await;
    let mut sshd = Sshd::start();
    let relay = CutRelay::start(&sshd).await;
    let setup = file_setup(
        "dropped",
        &ukg,
        1000,
        &format!("[tenants.file]\n{}", sshd.sftp_toml(relay.port, true)),
    );
    relay.arm(100_000);
    let cut = setup.sync("dropped").await;
    assert_eq!(cut.code, Some(1), "{cut:?}");
    assert!(relay.fired(), "the upload was cut: {cut:?}");
    assert!(
        cut.stderr.contains("user file not delivered") && cut.stderr.contains("SFTP"),
        "{cut:?}"
    );
    let files = sshd.inbound_files();
    assert!(
        files.iter().all(|f| f.starts_with('.') && f.ends_with(".tmp")),
        "nothing under a final name: {files:?}"
    );
    let partial: u64 = files
        .iter()
        .map(|f| std::fs::metadata(sshd.inbound().join(f)).unwrap().len())
        .sum();
    assert!(
        partial > 0,
        "the cut came in the middle of the file, not before it: {files:?}"
    );

    // The server is back: the next run uploads the whole file (nothing was recorded).
    sshd.restart();
    let ok = setup.sync("dropped").await;
    ok.assert_ok();
    let active = data.employees.iter().filter(|e| e.status != "T").count();
    assert_eq!(ok.count("created"), active as u64, "{ok:?}");
    let finals = sshd.inbound_files();
    assert_eq!(
        finals.len(),
        1,
        "one file, the cut run's temporary file removed: {finals:?}"
    );
    let bytes = std::fs::read(sshd.inbound().join(&finals[0])).unwrap();
    assert!(
        (bytes.len() as u64) > partial,
        "the cut file was partial ({partial} of {} bytes)",
        bytes.len()
    );
    eprintln!("upload cut after {partial} of {} bytes", bytes.len());
    let (_, rows) = read_csv(&bytes);
    assert_eq!(rows.len(), active, "complete");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_verifies_the_folder_and_the_sftp_server_and_writes_nothing() {
    let (ukg, _) = ukg_sim(5, 27, "checkfile.example", "pw", "KEY01").await;
    let sshd = Sshd::start();
    let out = tempfile::tempdir().unwrap();
    let setup = file_setup(
        "checkfile",
        &ukg,
        100,
        &folder_target(out.path(), &sshd.sftp_toml(sshd.port, true)),
    );
    let check = |setup: &Setup| {
        let config = setup.config.to_str().unwrap().to_string();
        let mut cmd = setup.command(&["check", "--config", &config]);
        async move {
            let o = cmd.output().await.unwrap();
            (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
        }
    };
    let (code, stdout) = check(&setup).await;
    assert_eq!(code, Some(0), "{stdout}");
    let folder = format!("✓ checkfile: user file folder: {} is a folder", out.path().display());
    assert!(stdout.contains(&folder), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "✓ checkfile: SFTP 127.0.0.1:{}: host key matches known_hosts, logged in as",
            sshd.port
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("SCIM"), "{stdout}");

    let right = sshd.known_hosts(sshd.port, true).display().to_string();
    let wrong = sshd.known_hosts(sshd.port, false).display().to_string();
    setup.edit(|t| t.replace(&right, &wrong));
    let (code, stdout) = check(&setup).await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("✗ checkfile: SFTP") && stdout.contains("does not match known_hosts"),
        "{stdout}"
    );
    assert!(sshd.inbound_files().is_empty(), "check writes nothing");
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        0,
        "check writes nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_sftp_login_names_the_account_and_never_the_secret() {
    const CANARY: &str = "CANARY-sftp-pw-5e";
    let (ukg, _) = ukg_sim(5, 28, "loginfile.example", "pw", "KEY01").await;
    let sshd = Sshd::start();
    // sshd takes keys only: a password login is refused.
    let sftp = sshd.sftp_toml(sshd.port, true).replace(
        &format!("key_file = \"{}\"", sshd.user_key().display()),
        "password_env = \"LOGINFILE_SFTP_PASSWORD\"",
    );
    let mut setup = file_setup("loginfile", &ukg, 100, &format!("[tenants.file]\n{sftp}"));
    setup.env.push(("LOGINFILE_SFTP_PASSWORD".into(), CANARY.into()));
    let run = setup.sync("loginfile").await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("refused the login of") && run.stderr.contains("with password"),
        "{run:?}"
    );
    assert!(!run.stdout.contains(CANARY) && !run.stderr.contains(CANARY), "{run:?}");
    assert!(sshd.inbound_files().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn formula_like_names_are_neutralised_in_the_csv_and_kept_raw_in_json_lines() {
    let (ukg, data) = ukg_sim(12, 23, "formula.example", "pw", "KEY01").await;
    let out = tempfile::tempdir().unwrap();
    let setup = file_setup("formula", &ukg, 25, &folder_target(out.path(), ""));
    // A name a spreadsheet would run as a formula, and a title that starts with a minus.
    let target = leaves(&data)[0].clone();
    ukg.update(&target.employee_id, |e| {
        e.first_name = "=HYPERLINK(\"http://evil.example\",\"Click\")".into();
        e.preferred_name = None;
        e.last_name = "@SUM(A1:A9)".into();
        e.job_title = Some("-1+1".into());
    });
    let run = setup.sync("formula").await;
    run.assert_ok();
    let (_, rows) = read_csv(&std::fs::read(printed_file(&run)).unwrap());
    let row = &by_email(&rows)[&email(&target)];
    assert_eq!(row["first_name"], "'=HYPERLINK(\"http://evil.example\",\"Click\")");
    assert_eq!(row["last_name"], "'@SUM(A1:A9)");
    assert_eq!(row["title"], "'-1+1");
    assert!(
        rows.iter()
            .flat_map(|r| r.values())
            .all(|v| !v.starts_with(['=', '+', '-', '@', '\t', '\r'])),
        "no cell starts a formula: {rows:?}"
    );

    // JSON lines are not a spreadsheet: the same values stay as they are.
    let jdir = tempfile::tempdir().unwrap();
    let setup = file_setup(
        "formula-j",
        &ukg,
        25,
        &folder_target(jdir.path(), "format = \"json\"\n"),
    );
    let run = setup.sync("formula-j").await;
    run.assert_ok();
    let text = std::fs::read_to_string(printed_file(&run)).unwrap();
    let line: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["email"] == email(&target))
        .unwrap();
    assert_eq!(line["first_name"], "=HYPERLINK(\"http://evil.example\",\"Click\")");
    assert_eq!(line["title"], "-1+1");
}
