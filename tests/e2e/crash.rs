//! kill -9 anywhere loses nothing and duplicates nothing (design invariants 1 and 2).
//!
//! `hrsync sync` runs again and again over a roster of a few thousand employees, and a
//! proxy in front of the real scim2-server SIGKILLs it at a random SCIM request: either
//! before the request reaches the app, or after the app applied it but before hrsync saw
//! the answer. Mid-way (once the first sync is through, at the latest half-way) the roster
//! changes: terminations (managers among them), department and title changes, hires
//! (some managed by another new hire), rehires of employees never synced; after that,
//! whenever a run completes, a small batch more (rehires of users deactivated earlier,
//! terminations, moves, a hire), so kills also hit updates, deactivations, creates and
//! reactivations and most runs die mid-way. A last uninterrupted sync must then leave the
//! app exactly in step with UKG, with no user ever created twice, and a sync after it must
//! write nothing.
//!
//! `HRSYNC_KILL_SEED` (decimal or 0x-hex) and `HRSYNC_KILL_ITERATIONS` (default 20)
//! reproduce or lengthen a run; the seed is printed first. `HRSYNC_KILL_TRACE=1` also
//! prints every SCIM request of every run (with `--nocapture`).

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use hrsync_sim::{SampleData, SimEmployee, UkgSim};
use serde_json::Value;

use crate::harness::{ukg_sim, Run, ScimServer, Setup, TenantConf};
use crate::proxy::{KillMode, KillProxy, Seen};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const TENANT: &str = "umbrella";
const EMPLOYEES: usize = 2000;
const PAGE_SIZE: u32 = 250;
const DEFAULT_SEED: u64 = 0x6b69_6c6c_2d39;
const DEFAULT_ITERATIONS: u64 = 20;
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// xorshift64*: tiny, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng((seed ^ 0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Err(_) => default,
        Ok(v) => {
            let v = v.trim();
            let parsed = match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => v.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("{name}={v:?}: expected an unsigned integer"))
        }
    }
}

/// One `hrsync sync` of the kill loop.
struct Iteration {
    n: usize,
    at: usize,
    mode: KillMode,
    killed: bool,
    /// Proxy request numbers this run's requests got: first..first + requests.
    first: usize,
    requests: usize,
}

/// Every roster change made during the test.
#[derive(Debug, Default)]
struct Changes {
    terminated: Vec<String>,
    terminated_managers: usize,
    moved: Vec<String>,
    retitled: Vec<String>,
    hired: Vec<SimEmployee>,
    /// Rehires of employees terminated before the first sync (never in the app).
    rehired: Vec<String>,
    /// Rehires of employees deactivated in the app during the test.
    reactivated: Vec<String>,
    batches: usize,
}

impl Changes {
    fn describe(&self) -> String {
        format!(
            "terminated {} ({} managers), moved {}, retitled {}, hired {}, rehired {} never-synced, reactivated {}",
            self.terminated.len(),
            self.terminated_managers,
            self.moved.len(),
            self.retitled.len(),
            self.hired.len(),
            self.rehired.len(),
            self.reactivated.len()
        )
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_anywhere_loses_nothing_and_duplicates_nothing() {
    let seed = env_u64("HRSYNC_KILL_SEED", DEFAULT_SEED);
    let iterations = env_u64("HRSYNC_KILL_ITERATIONS", DEFAULT_ITERATIONS).max(1) as usize;
    println!(
        "crash test: seed {seed:#x}, {iterations} iterations \
         (reproduce: HRSYNC_KILL_SEED={seed:#x} HRSYNC_KILL_ITERATIONS={iterations})"
    );
    let started = Instant::now();
    let mut rng = Rng::new(seed);

    let (ukg, data) = ukg_sim(EMPLOYEES, 17, "umbrella.example", "pw-k9", "KEYK9").await;
    let scim = ScimServer::start(&[TENANT], "tok-k9").await;
    let proxy = KillProxy::start(&format!("http://127.0.0.1:{}", scim.port)).await;
    let tenant = TenantConf {
        id: TENANT.into(),
        ukg_base: ukg.base_url(),
        scim_base: proxy.base_url(TENANT),
        page_size: PAGE_SIZE,
        ukg_password: "pw-k9".into(),
        ukg_api_key: "KEYK9".into(),
        scim_token: "tok-k9".into(),
    };
    let setup = Setup::new(&[&tenant]);
    let config = setup.config.to_str().unwrap().to_string();
    let originally_terminated: Vec<String> = data
        .employees
        .iter()
        .filter(|e| e.status == "T")
        .map(|e| e.employee_id.clone())
        .collect();

    // Kill points are drawn below an estimate of the SCIM requests still to do (lookup +
    // create + manager link per employee at first), capped so that the first sync takes
    // about a third of the iterations. A killed run's requests are deducted, but the window
    // never shrinks below half the current batch of changes (a resumed run may replay part
    // of its work, e.g. the deactivations after the last page) nor below 20, so runs that
    // are nearly done can still complete.
    let active = data.employees.iter().filter(|e| e.status != "T").count();
    let mut batch = 3 * active;
    let mut remaining = batch;
    let cap = (5 * batch / iterations).max(50);
    let mut runs: Vec<Iteration> = Vec::new();
    let mut changes = Changes::default();
    // Whether the previous run completed (nothing left to apply).
    let mut idle = false;
    // Users created or adopted, as the completed runs' summaries count them (a killed run's
    // writes are counted by the run that resumes it).
    let mut summed = 0u64;

    for n in 1..=iterations {
        if changes.batches == 0 && (idle || n == iterations / 2 + 1) {
            batch = change_roster(&ukg, &data, &mut rng, &originally_terminated, &mut changes);
            remaining += batch;
            println!("before iteration {n}: roster changed: {}", changes.describe());
        } else if idle {
            batch = churn(&ukg, &data, &mut rng, &mut changes);
            remaining += batch;
            println!("before iteration {n}: more changes, in all: {}", changes.describe());
        }
        let at = 1 + rng.below(remaining.max(batch / 2).max(20).min(cap));
        let mode = if rng.below(2) == 0 {
            KillMode::BeforeForward
        } else {
            KillMode::AfterUpstream
        };
        let log_path = setup.dir.path().join(format!("sync-{n}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let first = proxy.request_count() + 1;
        let mut child = setup
            .command(&["sync", "--config", &config, "--tenant", TENANT])
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let pid = child.id().expect("a running child has a pid");
        proxy.arm(pid, at, mode);
        let status = match tokio::time::timeout(RUN_TIMEOUT, child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => {
                let _ = child.kill().await;
                panic!(
                    "iteration {n} (seed {seed:#x}): hrsync sync still running after {RUN_TIMEOUT:?}; output:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
        };
        let fired = proxy.disarm();
        let requests = proxy.request_count() + 1 - first;
        let killed = status.signal() == Some(libc::SIGKILL);
        let output = || std::fs::read_to_string(&log_path).unwrap_or_default();
        assert!(
            killed || status.code() == Some(0),
            "iteration {n} (seed {seed:#x}): hrsync sync ended with {status} without being killed; output:\n{}",
            output()
        );
        assert_eq!(
            killed,
            fired,
            "iteration {n} (seed {seed:#x}): killed by our proxy iff its kill fired ({status}); output:\n{}",
            output()
        );
        println!(
            "iteration {n:>3}: kill at SCIM request {at:>4} {mode:?}: {}",
            if killed {
                format!("killed ({requests} requests reached the proxy)")
            } else {
                format!("completed with {requests} SCIM requests")
            }
        );
        if !killed {
            assert_clean(&output(), &format!("iteration {n} (seed {seed:#x})"));
            summed += created_or_adopted(&output());
        }
        if std::env::var_os("HRSYNC_KILL_TRACE").is_some() {
            for seen in proxy.log().iter().skip(first - 1) {
                println!(
                    "    #{} {} {} -> {}",
                    seen.number, seen.method, seen.target, seen.status
                );
            }
        }
        idle = !killed;
        remaining = if killed { remaining.saturating_sub(requests) } else { 0 };
        runs.push(Iteration {
            n,
            at,
            mode,
            killed,
            first,
            requests,
        });
    }

    // The invariant check: one last run to completion, then the app must match UKG.
    let last = setup.sync(TENANT).await;
    assert_eq!(
        last.code,
        Some(0),
        "the final sync after {iterations} kills (seed {seed:#x}) failed: {last:?}"
    );
    println!("final sync: {}", summary_line(&last.stdout));
    assert_clean(&last.stdout, &format!("the final sync (seed {seed:#x})"));
    summed += created_or_adopted(&last.stdout);
    let employees = ukg.employees();
    let users = scim.users(TENANT).await;
    let total = total_users(&scim, TENANT).await;
    let creates = proxy.creates();
    let created: BTreeSet<&str> = creates.iter().map(String::as_str).collect();
    let culprit = |external_id: &str| iteration_of_creates(&proxy, &runs, external_id);

    // Invariant 1: no user created twice, and no two users share an externalId.
    let mut seen = BTreeMap::<&str, usize>::new();
    for c in &creates {
        *seen.entry(c.as_str()).or_default() += 1;
    }
    let twice: Vec<String> = seen
        .iter()
        .filter(|(_, &k)| k > 1)
        .map(|(id, k)| format!("{id} created {k} times ({})", culprit(id)))
        .collect();
    assert!(
        twice.is_empty(),
        "seed {seed:#x}: {} employee(s) created more than once, e.g. {:?}",
        twice.len(),
        &twice[..twice.len().min(10)]
    );
    assert_eq!(
        total,
        users.len(),
        "seed {seed:#x}: the app holds {total} users but only {} distinct externalIds",
        users.len()
    );

    // The summaries count what was committed, across resumes: every user in the app was
    // created or adopted once by some run.
    assert_eq!(
        summed, total as u64,
        "seed {seed:#x}: the completed runs' summaries created or adopted {summed} users, the app holds {total}"
    );

    // Every user in the app is an employee; active ones exactly once and active,
    // terminated ones deactivated if they were ever created, else absent.
    let known: BTreeSet<&str> = employees.iter().map(|e| e.employee_id.as_str()).collect();
    let strangers: Vec<&String> = users.keys().filter(|k| !known.contains(k.as_str())).collect();
    assert!(
        strangers.is_empty(),
        "seed {seed:#x}: app users that are no employee: {strangers:?}"
    );
    let mut missing = Vec::new();
    let mut wrong_active = Vec::new();
    let mut ghosts = Vec::new();
    for e in &employees {
        let id = e.employee_id.as_str();
        match (e.status != "T", users.get(id)) {
            (true, None) => missing.push(id),
            (true, Some(u)) if u["active"] != true => wrong_active.push(format!("{id}: active {}", u["active"])),
            (false, Some(u)) if u["active"] != false => {
                wrong_active.push(format!("{id} (terminated): active {}", u["active"]))
            }
            (false, Some(_)) if !created.contains(id) => ghosts.push(format!("{id}: in the app, never created")),
            (false, None) if created.contains(id) => ghosts.push(format!("{id}: created, now gone")),
            _ => {}
        }
    }
    assert!(
        missing.is_empty(),
        "seed {seed:#x}: {} active employee(s) missing from the app (lost changes), e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert!(
        wrong_active.is_empty(),
        "seed {seed:#x}: {} user(s) with the wrong active flag, e.g. {:?}",
        wrong_active.len(),
        &wrong_active[..wrong_active.len().min(10)]
    );
    assert!(
        ghosts.is_empty(),
        "seed {seed:#x}: terminated employees must be deactivated if ever created, absent otherwise: {ghosts:?}"
    );

    // Attributes and manager links match UKG.
    let mismatches = attribute_mismatches(&employees, &data, &users);
    assert!(
        mismatches.is_empty(),
        "seed {seed:#x}: {} attribute mismatch(es) between UKG and the app, e.g. {:#?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(10)]
    );
    let links = manager_mismatches(&employees, &users);
    assert!(
        links.is_empty(),
        "seed {seed:#x}: {} wrong manager link(s), e.g. {:#?}",
        links.len(),
        &links[..links.len().min(10)]
    );

    // Nothing left to do: a further sync makes no SCIM request but the reconciliation's
    // listing of the app's users (GETs only, one per page of the listing).
    let first = proxy.request_count();
    let again = setup.sync(TENANT).await;
    again.assert_ok();
    let writes: Vec<Seen> = proxy
        .log()
        .into_iter()
        .skip(first)
        .filter(|s| s.method != "GET")
        .collect();
    assert!(
        writes.is_empty(),
        "seed {seed:#x}: the sync after the final one still wrote: {writes:?} {again:?}"
    );
    assert!(
        again.requests("SCIM") <= again.count("unchanged").div_ceil(1000),
        "seed {seed:#x}: more than the listing, 1,000 users a page: {again:?}"
    );
    for kind in [
        "created",
        "adopted",
        "updated",
        "deactivated",
        "reactivated",
        "managers linked",
        "recreated",
    ] {
        assert_eq!(again.count(kind), 0, "seed {seed:#x}: {kind} in {again:?}");
    }

    let killed: Vec<&Iteration> = runs.iter().filter(|r| r.killed).collect();
    let before = killed.iter().filter(|r| r.mode == KillMode::BeforeForward).count();
    assert_eq!(proxy.kills(), killed.len(), "every kill the proxy fired ended a run");
    println!(
        "crash test result: {iterations} iterations, {} killed mid-run ({before} BeforeForward, {} AfterUpstream), \
         {} completed; {} users ({} created, no duplicate); roster changes: {}; seed {seed:#x}; {:.1}s",
        killed.len(),
        killed.len() - before,
        runs.len() - killed.len(),
        users.len(),
        creates.len(),
        changes.describe(),
        started.elapsed().as_secs_f64()
    );
}

/// The roster change applied mid-way: 30 terminations (6 managers), 30 department or
/// title changes, 10 hires (half of them managed by another new hire), 2 rehires of the
/// employees terminated from the start. Returns an estimate of the SCIM requests it costs.
fn change_roster(
    ukg: &UkgSim,
    data: &SampleData,
    rng: &mut Rng,
    originally_terminated: &[String],
    changes: &mut Changes,
) -> usize {
    changes.batches += 1;
    let managers = managers(ukg);
    let mut active = active_staff(ukg);
    rng.shuffle(&mut active);
    let (bosses, staff): (Vec<SimEmployee>, Vec<SimEmployee>) =
        active.into_iter().partition(|e| managers.contains(&e.employee_id));
    let mut cost = 0;
    for e in bosses[..6].iter().chain(&staff[..24]) {
        cost += terminate(ukg, e, &managers, changes);
    }
    for (k, e) in staff[24..54].iter().enumerate() {
        cost += move_or_retitle(ukg, data, rng, e, k % 2 == 0, changes);
    }
    let first = changes.hired.len();
    for k in 0..10 {
        let boss = if k >= 5 {
            changes.hired[first + k - 5].clone()
        } else {
            staff[54 + rng.below(staff.len() - 54)].clone()
        };
        cost += hire(ukg, &boss, changes);
    }
    let rehire = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
    for id in originally_terminated.iter().take(2) {
        assert!(ukg.rehire(id, rehire));
        changes.rehired.push(id.clone());
        cost += 3;
    }
    cost
}

/// A small batch of changes: 3 rehires of users deactivated earlier, 5 terminations, 2
/// moves, 2 retitles, 2 hires. Returns an estimate of the SCIM requests it costs.
fn churn(ukg: &UkgSim, data: &SampleData, rng: &mut Rng, changes: &mut Changes) -> usize {
    changes.batches += 1;
    let mut cost = 0;
    let mut gone: Vec<String> = changes
        .terminated
        .iter()
        .filter(|id| ukg.employee(id).is_some_and(|e| e.status == "T"))
        .cloned()
        .collect();
    rng.shuffle(&mut gone);
    let rehire = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    for id in gone.into_iter().take(3) {
        assert!(ukg.rehire(&id, rehire));
        changes.reactivated.push(id);
        cost += 1;
    }
    let managers = managers(ukg);
    let mut active = active_staff(ukg);
    rng.shuffle(&mut active);
    for e in &active[..5] {
        cost += terminate(ukg, e, &managers, changes);
    }
    for (k, e) in active[5..9].iter().enumerate() {
        cost += move_or_retitle(ukg, data, rng, e, k % 2 == 0, changes);
    }
    for _ in 0..2 {
        cost += hire(ukg, &active[9 + rng.below(active.len() - 9)], changes);
    }
    cost
}

/// Employees that have a supervisor (the CEO stays) and are not terminated.
fn active_staff(ukg: &UkgSim) -> Vec<SimEmployee> {
    ukg.employees()
        .into_iter()
        .filter(|e| e.status != "T" && e.supervisor_id.is_some())
        .collect()
}

/// Everybody who is somebody's supervisor.
fn managers(ukg: &UkgSim) -> BTreeSet<String> {
    ukg.employees().into_iter().filter_map(|e| e.supervisor_id).collect()
}

fn terminate(ukg: &UkgSim, e: &SimEmployee, managers: &BTreeSet<String>, changes: &mut Changes) -> usize {
    assert!(ukg.terminate(&e.employee_id, NaiveDate::from_ymd_opt(2026, 10, 30).unwrap()));
    changes.terminated.push(e.employee_id.clone());
    if managers.contains(&e.employee_id) {
        changes.terminated_managers += 1;
    }
    1
}

/// Moves `e` to another division, or gives it a new title.
fn move_or_retitle(
    ukg: &UkgSim,
    data: &SampleData,
    rng: &mut Rng,
    e: &SimEmployee,
    move_it: bool,
    changes: &mut Changes,
) -> usize {
    if move_it {
        let others: Vec<&str> = data
            .org_levels
            .iter()
            .filter(|o| o.level == 1 && o.is_active && Some(&o.code) != e.org_level1_code.as_ref())
            .map(|o| o.code.as_str())
            .collect();
        let to = others[rng.below(others.len())].to_string();
        assert!(ukg.update(&e.employee_id, |x| x.org_level1_code = Some(to)));
        changes.moved.push(e.employee_id.clone());
    } else {
        let title = format!("Principal {}", e.job_title.as_deref().unwrap_or("Specialist"));
        assert!(ukg.update(&e.employee_id, |x| x.job_title = Some(title)));
        changes.retitled.push(e.employee_id.clone());
    }
    1
}

/// Hires a new employee reporting to `boss`, modelled on the boss.
fn hire(ukg: &UkgSim, boss: &SimEmployee, changes: &mut Changes) -> usize {
    let k = changes.hired.len();
    let mut e = boss.clone();
    e.employee_id = format!("K9HIRE{k:03}");
    e.employee_number = format!("{:09}", 990_000 + k);
    e.person_id = format!("k9-person-{k:03}");
    e.first_name = format!("Killian{k}");
    e.preferred_name = None;
    e.middle_name = None;
    e.last_name = "Ninefold".into();
    e.email = Some(format!("Killian{k}.Ninefold@umbrella.example"));
    e.email_alternate = None;
    e.status = "A".into();
    e.date_of_termination = None;
    e.supervisor_id = Some(boss.employee_id.clone());
    e.supervisor_company_id = Some(boss.company_id.clone());
    ukg.hire(e.clone());
    changes.hired.push(e);
    3
}

/// Attribute differences between UKG and the app, for every active employee.
fn attribute_mismatches(employees: &[SimEmployee], data: &SampleData, users: &BTreeMap<String, Value>) -> Vec<String> {
    let depts: BTreeMap<&str, &str> = data
        .org_levels
        .iter()
        .filter(|o| o.level == 1)
        .map(|o| (o.code.as_str(), o.description.as_str()))
        .collect();
    let jobs: BTreeMap<&str, &str> = data.jobs.iter().map(|j| (j.code.as_str(), j.title.as_str())).collect();
    let mut out = Vec::new();
    for e in employees.iter().filter(|e| e.status != "T") {
        let Some(u) = users.get(&e.employee_id) else {
            continue;
        };
        let email = e.email.clone().unwrap_or_default().to_lowercase();
        let given = e.preferred_name.clone().unwrap_or(e.first_name.clone());
        let dept = e.org_level1_code.as_deref().map(|c| depts[c].to_string());
        let title = e
            .job_title
            .clone()
            .or(e.job_description.clone())
            .or(e.job_code.as_deref().map(|c| jobs[c].to_string()));
        let checks: [(&str, Option<String>, Option<&str>); 6] = [
            ("userName", Some(email.clone()), u["userName"].as_str()),
            ("emails[0].value", Some(email), u["emails"][0]["value"].as_str()),
            ("name.givenName", Some(given), u["name"]["givenName"].as_str()),
            (
                "name.familyName",
                Some(e.last_name.clone()),
                u["name"]["familyName"].as_str(),
            ),
            (
                "employeeNumber",
                Some(e.employee_number.clone()),
                u[ENTERPRISE]["employeeNumber"].as_str(),
            ),
            ("department", dept, u[ENTERPRISE]["department"].as_str()),
        ];
        for (name, want, got) in checks.iter().chain(&[("title", title, u["title"].as_str())]) {
            if want.as_deref() != *got {
                out.push(format!("{}: {name} is {got:?}, UKG says {want:?}", e.employee_id));
            }
        }
    }
    out
}

/// Every app user's manager is its UKG supervisor's app user, when that supervisor is
/// active (a terminated supervisor's link is not checked); no supervisor, no manager.
fn manager_mismatches(employees: &[SimEmployee], users: &BTreeMap<String, Value>) -> Vec<String> {
    let status: BTreeMap<&str, &str> = employees
        .iter()
        .map(|e| (e.employee_id.as_str(), e.status.as_str()))
        .collect();
    let mut out = Vec::new();
    for e in employees {
        let Some(u) = users.get(&e.employee_id) else {
            continue;
        };
        let got = u[ENTERPRISE]["manager"]["value"].as_str();
        let want = match e.supervisor_id.as_deref() {
            None => None,
            Some(s) if status.get(s).is_some_and(|st| *st != "T") => users.get(s).and_then(|m| m["id"].as_str()),
            Some(_) => continue,
        };
        if got != want {
            out.push(format!(
                "{} ({}): manager {got:?}, expected {want:?} (supervisor {:?})",
                e.employee_id,
                if e.status == "T" { "terminated" } else { "active" },
                e.supervisor_id
            ));
        }
    }
    out
}

/// The app's own count of users (several may share an externalId, which `users` hides).
async fn total_users(scim: &ScimServer, tenant: &str) -> usize {
    let page: Value = reqwest::Client::new()
        .get(format!("{}/Users?startIndex=1&count=1", scim.base_url(tenant)))
        .bearer_auth(&scim.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["totalResults"].as_u64().expect("totalResults") as usize
}

/// Which iterations created this employee, for failure messages.
fn iteration_of_creates(proxy: &KillProxy, runs: &[Iteration], external_id: &str) -> String {
    let mut out = Vec::new();
    for c in proxy.create_log().iter().filter(|c| c.external_id == external_id) {
        let run = runs
            .iter()
            .find(|r| (r.first..r.first + r.requests).contains(&c.request));
        out.push(match run {
            Some(r) => format!(
                "request {} in iteration {} (kill at {} {:?}, {})",
                c.request,
                r.n,
                r.at,
                r.mode,
                if r.killed { "killed" } else { "completed" }
            ),
            None => format!("request {} after the kill loop", c.request),
        });
    }
    out.join("; ")
}

/// A completed run set nothing aside and held no deactivation: every record of this
/// roster is valid, and nothing here is a mass deactivation.
fn assert_clean(output: &str, what: &str) {
    let run = Run {
        code: Some(0),
        stdout: output.to_string(),
        stderr: String::new(),
    };
    let counts = run.counts();
    for kind in ["failed", "held"] {
        assert_eq!(counts.get(kind).copied().unwrap_or(0), 0, "{what}: {kind} in\n{output}");
    }
}

/// `created + adopted` of a run's summary.
fn created_or_adopted(output: &str) -> u64 {
    let run = Run {
        code: Some(0),
        stdout: output.to_string(),
        stderr: String::new(),
    };
    run.count("created") + run.count("adopted")
}

fn summary_line(stdout: &str) -> &str {
    stdout
        .lines()
        .find(|l| l.starts_with("tenant "))
        .unwrap_or("(no summary)")
}
