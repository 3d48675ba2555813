//! A hostile world (issue 15): an app that answers errors of 2 MB carrying its own bearer
//! token, a NUL and ANSI escapes; readers of `/status` without the admin token; HTTP
//! clients that never finish their request; a mail server that accepts and never greets.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::harness::{free_port, ukg_sim, ScimServer, Setup, Smtp, TenantConf};
use crate::proxy::KillProxy;
use crate::service::{outcome, Service};

const ADMIN: &str = "CANARY-hygiene-admin-31";

fn with_admin(setup: &Setup) {
    setup.edit(|t| {
        t.replacen(
            "[service]\n",
            "[service]\nadmin_token_env = \"HRSYNC_ADMIN_TOKEN\"\n",
            1,
        )
    });
}

fn with_smtp(setup: &Setup, port: u16, extra: &str) {
    setup.edit(|t| {
        t.replacen(
            "\n[[tenants]]",
            &format!("\n[smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"hrsync@example.com\"\n{extra}\n[[tenants]]"),
            1,
        )
    });
}

/// GET on the service, with or without the admin token: (status, body).
async fn get(service: &Service, path: &str, token: Option<&str>) -> (u16, String) {
    let mut r = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}{path}", service.listen))
        .timeout(Duration::from_secs(10));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Polls until `check` holds (at most `limit`).
async fn eventually(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An email as text, quoted-printable soft line breaks undone (a token could be split).
fn unfolded(message: &str) -> String {
    message.replace("=\r\n", "").replace("=\n", "")
}

/// Every byte under `dir`, file by file.
fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path).unwrap().windows(needle.len()).any(|w| w == needle) {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_scim_error_is_capped_cleaned_and_redacted_everywhere() {
    const TOKEN: &str = "CANARY-scim-token-hostile-9f";
    let (ukg, _) = ukg_sim(6, 151, "hostile.example", "pw-hostile-1", "KEYHOSTILE1").await;
    let scim = ScimServer::start(&["hostile"], TOKEN).await;
    let proxy = KillProxy::start(&format!("http://127.0.0.1:{}", scim.port)).await;
    // Every create answers 400 with a 2 MB detail that echoes the bearer token (as a header
    // and bare), a NUL and ANSI escapes.
    let detail = format!(
        "rejected {{userName}}: Authorization: Bearer {TOKEN} \u{0} \x1b[31m\x1b]0;owned\x07{TOKEN} {}",
        "x".repeat(2 * 1024 * 1024)
    );
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "400",
        "detail": detail,
    });
    proxy.fail_writes_with(400, body.to_string());
    let tenant = TenantConf {
        id: "hostile".into(),
        ukg_base: ukg.base_url(),
        scim_base: proxy.base_url("hostile"),
        page_size: 50,
        ukg_password: "pw-hostile-1".into(),
        ukg_api_key: "KEYHOSTILE1".into(),
        scim_token: TOKEN.into(),
    };
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(free_port(), &dir.path().join("maildir"));
    let setup = Setup::new(&[&tenant]);
    with_admin(&setup);
    with_smtp(&setup, smtp.port, "");
    let service = Service::start(&setup, &[("HRSYNC_ADMIN_TOKEN", ADMIN)]);
    service.wait_status(|v| outcome(v, "hostile").is_some()).await;

    // /status with the token: every reason there, each cut, clean and redacted.
    let (code, status) = get(&service, "/status", Some(ADMIN)).await;
    assert_eq!(code, 200);
    assert!(status.len() < 64 * 1024, "/status is {} bytes", status.len());
    let v: Value = serde_json::from_str(&status).unwrap();
    let failures = v["tenants"]["hostile"]["last_run"]["failures"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!failures.is_empty(), "{status}");
    for f in &failures {
        let reason = f["reason"].as_str().unwrap();
        assert!(
            reason.contains("Bearer [redacted]") && reason.contains("more characters)"),
            "{reason}"
        );
        assert!(reason.chars().count() < 700, "{} characters", reason.chars().count());
    }
    let (_, open_status) = get(&service, "/status", None).await;
    let (_, page) = get(&service, "/", Some(ADMIN)).await;
    assert!(page.contains("[redacted]"), "{page}");
    for (what, text) in [("/status", &status), ("open /status", &open_status), ("page", &page)] {
        assert!(!text.contains(TOKEN), "token in {what}");
        assert!(
            !text.contains('\u{0}') && !text.contains("\\u0000") && !text.contains('\x1b') && !text.contains("\\u001b"),
            "control characters in {what}"
        );
    }
    assert!(page.len() < 64 * 1024, "the page is {} bytes", page.len());

    // The report email: the reasons, redacted.
    eventually(Duration::from_secs(30), "the report email", async || {
        !smtp.messages().is_empty()
    })
    .await;
    for m in smtp.messages() {
        let m = unfolded(&m);
        assert!(m.contains("[redacted]"), "{m}");
        assert!(!m.contains(TOKEN) && !m.contains('\x1b') && !m.contains('\u{0}'), "{m}");
        assert!(m.len() < 64 * 1024, "the email is {} bytes", m.len());
    }

    // The CLI (from the running service, with the token).
    let config = setup.config.to_str().unwrap().to_string();
    for args in [
        vec!["status", "--config", &config],
        vec!["status", "--config", &config, "--json"],
    ] {
        let out = setup
            .command(&args)
            .env("HRSYNC_ADMIN_TOKEN", ADMIN)
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("(from the running service)") || stdout.contains("[redacted]"),
            "{stdout}"
        );
        assert!(!stdout.contains(TOKEN) && !stdout.contains('\x1b'), "{stdout}");
        assert!(
            stdout.len() < 64 * 1024,
            "`hrsync {args:?}` printed {} bytes",
            stdout.len()
        );
    }

    let (code, log) = service.terminate().await;
    assert_eq!(code, Some(0));
    assert!(!log.contains(TOKEN), "token in the log");
    // The store: the reasons are kept (redacted), the token is not.
    let data = setup.dir.path().join("data");
    assert!(
        !files_containing(&data, b"Bearer [redacted]").is_empty(),
        "no reason stored?"
    );
    assert_eq!(
        files_containing(&data, TOKEN.as_bytes()),
        Vec::<std::path::PathBuf>::new()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn status_details_need_the_admin_token() {
    let (ukg, data) = ukg_sim(6, 152, "private.example", "pw-private-1", "KEYPRIVATE1").await;
    let scim = ScimServer::start(&["private"], "tok-private").await;
    let proxy = KillProxy::start(&format!("http://127.0.0.1:{}", scim.port)).await;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "400",
        "detail": "the address {userName} is not allowed here",
    });
    proxy.fail_writes_with(400, body.to_string());
    let tenant = TenantConf {
        id: "private".into(),
        ukg_base: ukg.base_url(),
        scim_base: proxy.base_url("private"),
        page_size: 50,
        ukg_password: "pw-private-1".into(),
        ukg_api_key: "KEYPRIVATE1".into(),
        scim_token: "tok-private".into(),
    };
    let setup = Setup::new(&[&tenant]);
    with_admin(&setup);
    let service = Service::start(&setup, &[("HRSYNC_ADMIN_TOKEN", ADMIN)]);
    service.wait_status(|v| outcome(v, "private").is_some()).await;
    let people: Vec<(String, String)> = data
        .employees
        .iter()
        .filter(|e| e.status != "T")
        .map(|e| (e.employee_id.clone(), e.email.clone().unwrap()))
        .collect();
    assert!(!people.is_empty());
    let names_someone = |text: &str| {
        people
            .iter()
            .any(|(id, email)| text.contains(id) || text.contains(email))
    };

    // Without the token: states and counts, no employee.
    for path in ["/status", "/"] {
        let (code, text) = get(&service, path, None).await;
        assert_eq!(code, 200);
        assert!(
            !names_someone(&text),
            "{path} names employees without the token: {text}"
        );
        assert!(text.contains("degraded"), "{path}: {text}");
    }
    let (_, open) = get(&service, "/status", None).await;
    let open: Value = serde_json::from_str(&open).unwrap();
    assert_eq!(open["details"], false, "{open}");
    assert_eq!(open["tenants"]["private"]["state"], "degraded", "{open}");
    assert!(
        open["tenants"]["private"]["last_run"]["counts"]["failed"]
            .as_u64()
            .unwrap()
            > 0,
        "{open}"
    );
    assert!(
        open["tenants"]["private"]["last_run"].get("failures").is_none(),
        "{open}"
    );
    // A wrong token is no token.
    let (_, wrong) = get(&service, "/status", Some("CANARY-hygiene-admin-32")).await;
    assert!(!names_someone(&wrong), "{wrong}");

    // With it: the reasons, naming the people.
    for path in ["/status", "/"] {
        let (_, text) = get(&service, path, Some(ADMIN)).await;
        assert!(names_someone(&text), "{path} with the token: {text}");
    }
    let (_, full) = get(&service, "/status", Some(ADMIN)).await;
    let full: Value = serde_json::from_str(&full).unwrap();
    assert_eq!(full["details"], true);
    assert!(
        full["tenants"]["private"]["last_run"]["failures"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("is not allowed here"),
        "{full}"
    );
    let (code, _) = service.terminate().await;
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_http_clients_neither_lock_out_health_nor_hold_the_stop() {
    let setup = Setup::new(&[]);
    setup.edit(|t| t.replacen("[service]\n", "[service]\nmax_connections = 64\n", 1));
    let service = Service::start(&setup, &[]);
    eventually(Duration::from_secs(30), "the service to listen", async || {
        reqwest::get(format!("http://127.0.0.1:{}/healthz", service.listen))
            .await
            .is_ok()
    })
    .await;
    let pid = service.child.id().unwrap();
    let fds = || std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    let before = fds();

    // 300 clients that send half a request line and then nothing.
    let mut stalled = Vec::new();
    for _ in 0..300 {
        let mut c = tokio::net::TcpStream::connect(("127.0.0.1", service.listen))
            .await
            .unwrap();
        c.write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
            .await
            .unwrap();
        stalled.push(c);
    }
    let asked = Instant::now();
    let health = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/healthz", service.listen))
        .timeout(Duration::from_secs(8))
        .send()
        .await
        .expect("/healthz answers while 300 clients stall");
    assert_eq!(health.status(), 200);
    assert!(asked.elapsed() < Duration::from_secs(8));
    // Connections are accepted in order: by now all 300 were, and at most 64 are kept.
    let open = fds();
    assert!(
        open <= before + 64 + 16,
        "{open} descriptors open with 300 stalled clients (before: {before}, max_connections = 64)"
    );

    let asked = Instant::now();
    let (code, log) = service.terminate().await;
    let took = asked.elapsed();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        took < Duration::from_secs(10),
        "the stop took {took:?} with stalled clients"
    );
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mail_server_that_never_greets_fails_the_attempt_and_the_email_goes_out_later() {
    let (ukg, _) = ukg_sim(4, 153, "mute.example", "pw-mute-1", "KEYMUTE1").await;
    let scim = ScimServer::start(&["mute"], "tok-mute").await;
    let tenant = TenantConf {
        id: "mute".into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url("mute"),
        page_size: 50,
        // Refused credentials: a failed run, reported by email.
        ukg_password: "wrong-password".into(),
        ukg_api_key: "KEYMUTE1".into(),
        scim_token: "tok-mute".into(),
    };
    // A mail server that accepts connections and never says a word.
    let mute = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = mute.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = mute.accept().await {
            held.push(c);
        }
    });
    let setup = Setup::new(&[&tenant]);
    with_admin(&setup);
    with_smtp(&setup, port, "timeout = \"2s\"\n");
    let started = Instant::now();
    let service = Service::start(&setup, &[("HRSYNC_ADMIN_TOKEN", ADMIN)]);
    let status = service
        .wait_status(|v| v["tenants"]["mute"]["emails_failed"].as_u64().unwrap_or(0) >= 1)
        .await;
    assert_eq!(status["tenants"]["mute"]["emails_sent"], 0, "{status}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the failed attempt was seen after {:?}",
        started.elapsed()
    );
    let (_, full) = get(&service, "/status", Some(ADMIN)).await;
    let full: Value = serde_json::from_str(&full).unwrap();
    let error = full["tenants"]["mute"]["last_email_error"].as_str().unwrap_or_default();
    assert!(error.contains("did not answer within 2 s"), "{full}");
    let metrics = get(&service, "/metrics", None).await.1;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("hrsync_emails_failed_total{tenant=\"mute\"}") && !l.ends_with(" 0")),
        "{metrics}"
    );

    // The stop is not held by the mute server.
    let asked = Instant::now();
    let (code, log) = service.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "the stop took {:?}",
        asked.elapsed()
    );

    // A real mail server on that port now: the queued email goes out.
    silent.abort();
    let _ = silent.await;
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(port, &dir.path().join("maildir"));
    let service = Service::start(&setup, &[("HRSYNC_ADMIN_TOKEN", ADMIN)]);
    eventually(Duration::from_secs(60), "the queued email", async || {
        smtp.messages().iter().any(|m| m.contains("mute: sync failed"))
    })
    .await;
    let (code, _) = service.terminate().await;
    assert_eq!(code, Some(0));
}
