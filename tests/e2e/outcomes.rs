//! Every way a run can end, as a person sees it: for each outcome (ok, completed with
//! failures, held, failed, awaiting review) what `/status`, `/metrics`, the status page
//! (`GET /`) and the technical contact's mailbox (a real aiosmtpd) show, with `hrsync run`;
//! a held run with `hrsync sync` too, and the way back to `ok` after approve or reject
//! (admin API and CLI).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use hrsync_sim::{SampleData, SimEmployee, UkgSim};
use serde_json::{json, Value};

use crate::harness::{free_port, ukg_sim, ScimServer, Setup, Smtp, TenantConf};
use crate::service::Service;

const ADMIN: &str = "admin-outcomes-3b7";

/// One tenant, its UKG, its app, a mailbox, and a config with SMTP and the admin token.
struct World {
    id: String,
    ukg: UkgSim,
    data: SampleData,
    scim: ScimServer,
    smtp: Smtp,
    setup: Setup,
    _mail: tempfile::TempDir,
}

async fn world(id: &str, n: usize, seed: u64, tenant_keys: &str) -> World {
    let (ukg, data) = ukg_sim(n, seed, &format!("{id}.example"), "pw", "KEY01").await;
    let scim = ScimServer::start(&[id], "tok").await;
    let conf = TenantConf {
        id: id.into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url(id),
        page_size: 50,
        ukg_password: "pw".into(),
        ukg_api_key: "KEY01".into(),
        scim_token: "tok".into(),
    };
    let mail = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(free_port(), &mail.path().join("maildir"));
    let mut setup = Setup::new(&[&conf]);
    setup.fast_retries();
    let port = smtp.port;
    setup.edit(|t| {
        t.replacen("[service]\n", "[service]\nadmin_token_env = \"HRSYNC_ADMIN_TOKEN\"\n", 1)
            .replacen(
                "\n[[tenants]]",
                &format!("\n[smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"hrsync@example.com\"\n\n[[tenants]]"),
                1,
            )
            .replacen("\n[tenants.ukg]", &format!("\n{tenant_keys}\n[tenants.ukg]"), 1)
    });
    setup.env.push(("HRSYNC_ADMIN_TOKEN".into(), ADMIN.into()));
    World {
        id: id.into(),
        ukg,
        data,
        scim,
        smtp,
        setup,
        _mail: mail,
    }
}

/// What the HTTP face shows at one instant.
struct Seen {
    tenant: Value,
    metrics: String,
    page: String,
}

impl Seen {
    async fn now(service: &Service, id: &str) -> Seen {
        // Details (failure reasons, errors) are shown with the admin token only.
        let (_, status) = service.get_with_token("/status", Some(ADMIN)).await.unwrap();
        let status: Value = serde_json::from_str(&status).unwrap();
        let (_, metrics) = service.get("/metrics").await.unwrap();
        let (_, page) = service.get_with_token("/", Some(ADMIN)).await.unwrap();
        Seen {
            tenant: status["tenants"][id].clone(),
            metrics,
            page,
        }
    }

    /// The value of a metric series, e.g. `hrsync_runs_total{tenant="t",outcome="ok"}`.
    fn metric(&self, series: &str) -> u64 {
        self.metrics
            .lines()
            .find_map(|l| l.strip_prefix(series))
            .unwrap_or_else(|| panic!("no {series} in\n{}", self.metrics))
            .trim()
            .parse()
            .unwrap()
    }

    /// `hrsync_runs_total` of each outcome, in the order ok, completed_with_failures, held,
    /// failed; and the `hrsync_deactivations_held` gauge.
    fn runs_and_held(&self, id: &str) -> ([u64; 4], u64) {
        let runs = ["ok", "completed_with_failures", "held", "failed"]
            .map(|o| self.metric(&format!("hrsync_runs_total{{tenant=\"{id}\",outcome=\"{o}\"}}")));
        (
            runs,
            self.metric(&format!("hrsync_deactivations_held{{tenant=\"{id}\"}}")),
        )
    }

    /// The page's state cell for the tenant: (class, text).
    fn page_state(&self, id: &str) -> (String, String) {
        let start = format!("<td>{id}</td><td class=\"");
        let rest = self
            .page
            .split_once(&start)
            .unwrap_or_else(|| panic!("no row for {id}: {}", self.page))
            .1;
        let (class, rest) = rest.split_once("\">").unwrap();
        let (text, _) = rest.split_once("</td>").unwrap();
        (class.to_string(), text.to_string())
    }
}

/// A message's text with quoted-printable soft breaks and escapes undone.
fn decoded(message: &str) -> String {
    let joined = message.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).replace("\r\n", "\n")
}

fn subject(message: &str) -> String {
    message
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or("")
        .to_string()
}

async fn admin_post(service: &Service, path: &str, body: Option<Value>) -> (u16, String) {
    let mut r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}{path}", service.listen))
        .bearer_auth(ADMIN);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Active employees who manage nobody.
fn active_non_managers(employees: &[SimEmployee]) -> Vec<SimEmployee> {
    let managers: BTreeSet<&str> = employees.iter().filter_map(|e| e.supervisor_id.as_deref()).collect();
    employees
        .iter()
        .filter(|e| e.status == "A" && !managers.contains(e.employee_id.as_str()))
        .cloned()
        .collect()
}

/// Terminates `n` active employees who manage nobody (yesterday); their ids.
fn terminate(w: &World, n: usize) -> Vec<String> {
    let leavers: Vec<String> = active_non_managers(&w.data.employees)
        .into_iter()
        .take(n)
        .map(|e| e.employee_id)
        .collect();
    assert_eq!(leavers.len(), n, "not enough employees to terminate");
    for id in &leavers {
        w.ukg
            .terminate(id, chrono::Utc::now().date_naive() - chrono::Duration::days(1));
    }
    leavers
}

/// Waits until the mailbox holds `n` messages (the notifier sends after the run ends).
async fn mail(w: &World, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let messages = w.smtp.messages();
        if messages.len() >= n {
            return messages;
        }
        assert!(Instant::now() < deadline, "{} of {n} emails arrived", messages.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn status_cli(w: &World) -> Vec<String> {
    vec![
        "status".into(),
        "--config".into(),
        w.setup.config.to_str().unwrap().into(),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn ok_is_green_everywhere_and_mails_nobody() {
    let w = world("oc-ok", 10, 81, "").await;
    let service = Service::start(&w.setup, &[]);
    service.wait_status(|v| v["tenants"]["oc-ok"]["state"] == "ok").await;
    let seen = Seen::now(&service, &w.id).await;
    assert_eq!(seen.tenant["last_run"]["outcome"], "ok", "{}", seen.tenant);
    assert_eq!(seen.tenant["deactivations_held"], 0);
    assert_eq!(seen.runs_and_held(&w.id), ([1, 0, 0, 0], 0), "{}", seen.metrics);
    assert_eq!(seen.page_state(&w.id), ("ok".into(), "ok".into()));
    let (code, log) = service.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    // The notifier drained before the process exited: nothing was sent.
    assert!(
        w.smtp.messages().is_empty(),
        "{:?}",
        w.smtp.messages().iter().map(|m| subject(m)).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn completed_with_failures_is_degraded_and_mails_the_records_set_aside() {
    let w = world("oc-cwf", 10, 82, "").await;
    let bad = active_non_managers(&w.data.employees)[0].employee_id.clone();
    w.ukg.update(&bad, |e| e.email = Some("broken address".into()));
    let service = Service::start(&w.setup, &[]);
    service
        .wait_status(|v| v["tenants"]["oc-cwf"]["state"] == "degraded")
        .await;
    let seen = Seen::now(&service, &w.id).await;
    assert_eq!(seen.tenant["last_run"]["outcome"], "completed_with_failures");
    assert_eq!(seen.tenant["last_run"]["failures"][0]["employee_id"], bad.as_str());
    assert_eq!(seen.runs_and_held(&w.id), ([0, 1, 0, 0], 0), "{}", seen.metrics);
    assert_eq!(seen.page_state(&w.id), ("warn".into(), "degraded".into()));
    assert!(seen.page.contains(&bad), "the page lists the failure: {}", seen.page);
    let messages = mail(&w, 1).await;
    let (code, log) = service.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(w.smtp.messages().len(), 1);
    assert!(subject(&messages[0]).contains("oc-cwf: 1 employee(s) could not be synced (run 1)"));
    let text = decoded(&messages[0]);
    assert!(
        text.contains(&format!("Employees: {bad}")) && text.contains("What to do"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_run_is_held_everywhere_mailed_with_its_commands_and_ok_after_approval() {
    let w = world("oc-held", 12, 83, "max_deactivations = 2").await;
    let service = Service::start(&w.setup, &[]);
    service.wait_status(|v| v["tenants"]["oc-held"]["state"] == "ok").await;
    let leavers = terminate(&w, 3);
    assert_eq!(admin_post(&service, "/tenants/oc-held/sync", None).await.0, 202);
    service
        .wait_status(|v| v["tenants"]["oc-held"]["state"] == "held")
        .await;

    let seen = Seen::now(&service, &w.id).await;
    let t = &seen.tenant;
    assert_eq!(t["last_run"]["outcome"], "held", "{t}");
    assert_eq!(
        (t["deactivations_held"].as_u64(), t["held_run"].as_u64()),
        (Some(3), Some(2)),
        "{t}"
    );
    assert_eq!(t["last_run"]["counts"]["held"], 3);
    assert_eq!(seen.runs_and_held(&w.id), ([1, 0, 1, 0], 3), "{}", seen.metrics);
    assert_eq!(seen.page_state(&w.id), ("warn".into(), "held".into()));
    assert!(
        seen.page.contains("3 deactivation(s) held (approve run 2)"),
        "{}",
        seen.page
    );
    let live = w
        .setup
        .run(&status_cli(&w).iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    assert!(live.stdout.contains("oc-held  held"), "{live:?}");
    assert!(
        live.stdout.contains(
            "oc-held: 3 deactivation(s) held: hrsync approve --config FILE --tenant oc-held --run 2 (or --reject)"
        ),
        "{live:?}"
    );
    let users = w.scim.users("oc-held").await;
    assert!(
        leavers.iter().all(|id| users[id]["active"] == true),
        "nobody deactivated yet"
    );

    // The report reached the contact before anyone approved.
    let messages = mail(&w, 1).await;
    assert_eq!(
        subject(&messages[0]),
        "[hrsync] oc-held: 3 deactivation(s) held for approval (run 2)"
    );
    let text = decoded(&messages[0]);
    for line in [
        "hrsync approve --config FILE --tenant oc-held --run 2\n",
        "hrsync approve --config FILE --tenant oc-held --run 2 --reject",
        "3 deactivations exceed max_deactivations = 2",
    ] {
        assert!(text.contains(line), "{line:?} not in {text}");
    }
    for id in &leavers {
        assert!(text.contains(&format!("- {id}: terminated")), "{id} not listed: {text}");
    }

    let (code, body) = admin_post(&service, "/tenants/oc-held/approve", Some(json!({"run": 2}))).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("3 deactivated"), "{body}");
    let seen = Seen::now(&service, &w.id).await;
    assert_eq!(seen.tenant["state"], "ok", "back to ok once approved: {}", seen.tenant);
    assert_eq!(seen.runs_and_held(&w.id).1, 0);
    assert_eq!(seen.page_state(&w.id), ("ok".into(), "ok".into()));
    let users = w.scim.users("oc-held").await;
    assert!(leavers.iter().all(|id| users[id]["active"] == false));

    let (code, log) = service.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(w.smtp.messages().len(), 1, "one report; approving mails nothing");
    let stored = w
        .setup
        .run(&status_cli(&w).iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    assert!(
        stored.stdout.contains("oc-held  ok") && stored.stdout.contains("(from the store"),
        "{stored:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_run_of_hrsync_sync_is_mailed_shown_by_status_and_ok_after_reject() {
    let w = world("oc-heldcli", 12, 84, "max_deactivations = 2").await;
    w.setup.sync("oc-heldcli").await.assert_ok();
    let leavers = terminate(&w, 3);
    let held = w.setup.sync("oc-heldcli").await;
    held.assert_ok();
    assert_eq!(held.count("held"), 3, "{held:?}");
    // `hrsync sync` lets the notifier send before it exits.
    let messages = w.smtp.messages();
    assert_eq!(
        messages.len(),
        1,
        "{:?}",
        messages.iter().map(|m| subject(m)).collect::<Vec<_>>()
    );
    let text = decoded(&messages[0]);
    assert!(
        text.contains("hrsync approve --config FILE --tenant oc-heldcli --run 2 --reject"),
        "{text}"
    );
    assert!(leavers.iter().all(|id| text.contains(id.as_str())), "{text}");

    let args = status_cli(&w);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let status = w.setup.run(&args).await;
    assert!(status.stdout.contains("oc-heldcli  held"), "{status:?}");
    assert!(
        status.stdout.contains("--tenant oc-heldcli --run 2 (or --reject)"),
        "{status:?}"
    );
    let config = w.setup.config.to_str().unwrap();
    w.setup
        .run(&[
            "approve",
            "--config",
            config,
            "--tenant",
            "oc-heldcli",
            "--run",
            "2",
            "--reject",
        ])
        .await
        .assert_ok();
    let status = w.setup.run(&args).await;
    assert!(
        status.stdout.contains("oc-heldcli  ok"),
        "back to ok once rejected: {status:?}"
    );
    assert!(!status.stdout.contains("held:"), "{status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_is_red_everywhere_and_mails_the_error_with_its_fix() {
    let w = world("oc-fail", 10, 85, "").await;
    w.ukg.inject(hrsync_sim::Fault::Down);
    let service = Service::start(&w.setup, &[]);
    service
        .wait_status(|v| v["tenants"]["oc-fail"]["state"] == "failed")
        .await;
    let seen = Seen::now(&service, &w.id).await;
    assert_eq!(seen.tenant["last_run"]["outcome"], "failed");
    let error = seen.tenant["last_run"]["error"].as_str().unwrap().to_string();
    assert_eq!(seen.tenant["consecutive_failures"], 1);
    assert_eq!(seen.runs_and_held(&w.id), ([0, 0, 0, 1], 0), "{}", seen.metrics);
    assert_eq!(seen.page_state(&w.id), ("bad".into(), "failed".into()));
    assert!(
        seen.page.contains(&hrsync_actors::report::html_escape(&error)),
        "the page shows the error: {}",
        seen.page
    );
    let messages = mail(&w, 1).await;
    let (code, log) = service.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(w.smtp.messages().len(), 1);
    assert!(
        subject(&messages[0]).contains("oc-fail: sync failed (run 1)"),
        "{}",
        subject(&messages[0])
    );
    let text = decoded(&messages[0]);
    assert!(
        text.contains("The run could not complete") && text.contains("What to do"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn awaiting_review_counts_no_run_and_mails_the_plan_with_its_commands() {
    let w = world("oc-review", 10, 86, "first_run_review = true").await;
    let service = Service::start(&w.setup, &[]);
    service
        .wait_status(|v| v["tenants"]["oc-review"]["state"] == "awaiting_review")
        .await;
    let seen = Seen::now(&service, &w.id).await;
    let creates = seen.tenant["review"]["creates"].as_u64().unwrap();
    assert!(creates > 0, "{}", seen.tenant);
    assert!(seen.tenant["last_run"].is_null(), "a review is no run: {}", seen.tenant);
    assert_eq!(seen.runs_and_held(&w.id), ([0, 0, 0, 0], 0), "{}", seen.metrics);
    assert_eq!(seen.page_state(&w.id), ("warn".into(), "awaiting review".into()));
    let messages = mail(&w, 1).await;
    let (code, log) = service.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(w.smtp.messages().len(), 1);
    let text = decoded(&messages[0]);
    assert!(
        text.contains("hrsync approve --config FILE --tenant oc-review\n"),
        "{text}"
    );
    assert!(
        text.contains("hrsync approve --config FILE --tenant oc-review --reject"),
        "{text}"
    );
    assert!(w.scim.users("oc-review").await.is_empty(), "nothing written");
}
