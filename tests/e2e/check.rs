//! `hrsync check`: after validating the config, live checks of each tenant's UKG Pro host,
//! credentials and endpoint permissions, its SCIM app, and the SMTP server (a real
//! aiosmtpd): one line per check, ✓ or ✗ with the fix, exit 1 when any ✗.

use std::time::{Duration, Instant};

use hrsync_sim::{Fault, UkgSim};

use crate::harness::{free_port, ukg_sim, Run, ScimServer, Setup, Smtp, TenantConf};

const PASSWORD: &str = "CANARY-check-pw-71";
const API_KEY: &str = "CANARY-check-key-3f";
const TOKEN: &str = "CANARY-check-token-a9";

fn conf(id: &str, ukg: &UkgSim, scim_base: String) -> TenantConf {
    TenantConf {
        id: id.into(),
        ukg_base: ukg.base_url(),
        scim_base,
        page_size: 100,
        ukg_password: PASSWORD.into(),
        ukg_api_key: API_KEY.into(),
        scim_token: TOKEN.into(),
    }
}

/// `hrsync check --config FILE` plus `extra` arguments.
async fn check(setup: &Setup, extra: &[&str]) -> Run {
    let config = setup.config.to_str().unwrap();
    let mut args = vec!["check", "--config", config];
    args.extend_from_slice(extra);
    let out = setup.command(&args).output().await.unwrap();
    let run = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    for secret in [PASSWORD, API_KEY, TOKEN, "wrong-CANARY-pw", "wrong-CANARY-token"] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "a secret was printed: {run:?}"
        );
    }
    run
}

/// The check lines (✓, ✗ or – for not checked).
fn check_lines(run: &Run) -> Vec<&str> {
    run.stdout
        .lines()
        .filter(|l| l.starts_with("✓ ") || l.starts_with("✗ ") || l.starts_with("– "))
        .collect()
}

/// The one check line that starts with `prefix` (e.g. "✗ acme: UKG credentials").
fn line<'a>(run: &'a Run, prefix: &str) -> &'a str {
    let found: Vec<&str> = check_lines(run).into_iter().filter(|l| l.starts_with(prefix)).collect();
    assert_eq!(found.len(), 1, "one line {prefix:?} expected: {run:?}");
    found[0]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_good_tenant_passes_every_check() {
    let (ukg, _) = ukg_sim(12, 5, "acme.example", PASSWORD, API_KEY).await;
    let scim = ScimServer::start(&["acme"], TOKEN).await;
    let setup = Setup::new(&[&conf("acme", &ukg, scim.base_url("acme"))]);
    let run = check(&setup, &[]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains(": valid; 1 tenant(s): acme"), "{run:?}");
    let lines = check_lines(&run);
    // host, credentials, 4 endpoints, SCIM.
    assert_eq!(lines.len(), 7, "{run:?}");
    assert!(lines.iter().all(|l| l.starts_with("✓ acme: ")), "{run:?}");
    assert!(line(&run, "✓ acme: UKG host").contains("plain http"), "{run:?}");
    line(&run, "✓ acme: UKG credentials and Customer API Key accepted");
    for (path, permission) in [
        (
            "/personnel/v1/employment-details?page=1&per_Page=1",
            "Personnel Integration",
        ),
        (
            "/personnel/v1/employee-demographic-details?page=1&per_Page=1",
            "Personnel Integration",
        ),
        ("/configuration/v1/org-levels", "Company Configuration Integration"),
        ("/configuration/v1/jobs", "Company Configuration Integration"),
    ] {
        line(&run, &format!("✓ acme: UKG {path} ({permission}): access granted"));
    }
    assert!(
        line(&run, "✓ acme: SCIM").contains("token accepted, /Users answers a ListResponse"),
        "{run:?}"
    );
    assert!(run.stdout.contains("all 7 checks passed"), "{run:?}");
    // Page size 1 on the roster endpoints, one attempt each, nothing else.
    let requests = ukg.requests();
    assert_eq!(requests.len(), 4, "{requests:?}");
    for r in requests.iter().filter(|r| r.path.starts_with("/personnel")) {
        assert_eq!(r.query, "page=1&per_Page=1", "{r:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_ukg_password_fails_the_credentials_check_with_its_fix() {
    let (ukg, _) = ukg_sim(5, 5, "acme.example", PASSWORD, API_KEY).await;
    let scim = ScimServer::start(&["acme"], TOKEN).await;
    let mut tenant = conf("acme", &ukg, scim.base_url("acme"));
    tenant.ukg_password = "wrong-CANARY-pw".into();
    let setup = Setup::new(&[&tenant]);
    let run = check(&setup, &[]).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    line(&run, "✓ acme: UKG host");
    let credentials = line(&run, "✗ acme: UKG credentials");
    assert!(
        credentials.contains("(401)")
            && credentials.contains("check the web service account user name and password, and the Customer API Key"),
        "{run:?}"
    );
    line(&run, "– acme: UKG endpoint permissions: not checked");
    line(&run, "✓ acme: SCIM");
    assert!(run.stdout.contains("1 of 3 checks failed"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_scim_token_and_an_unknown_scim_tenant_are_named() {
    let (ukg, _) = ukg_sim(5, 5, "acme.example", PASSWORD, API_KEY).await;
    let scim = ScimServer::start(&["acme"], TOKEN).await;
    let mut bad_token = conf("badtoken", &ukg, scim.base_url("acme"));
    bad_token.scim_token = "wrong-CANARY-token".into();
    let bad_base = conf("badbase", &ukg, scim.base_url("nope"));
    let setup = Setup::new(&[&bad_token, &bad_base]);
    let run = check(&setup, &[]).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    let token = line(&run, "✗ badtoken: SCIM");
    assert!(
        token.contains("rejected the token (401)") && token.contains("tenants[0].scim.token_env"),
        "{run:?}"
    );
    let base = line(&run, "✗ badbase: SCIM");
    assert!(
        base.contains("/nope/v2/Users does not exist (404)") && base.contains("check tenants[1].scim.base_url"),
        "{run:?}"
    );
    // Their UKG side is fine.
    for id in ["badtoken", "badbase"] {
        line(&run, &format!("✓ {id}: UKG credentials and Customer API Key accepted"));
    }
    assert!(run.stdout.contains("2 of 14 checks failed"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ukg_host_that_is_down_is_unreachable() {
    let (ukg, _) = ukg_sim(5, 5, "acme.example", PASSWORD, API_KEY).await;
    let scim = ScimServer::start(&["acme"], TOKEN).await;
    let setup = Setup::new(&[&conf("acme", &ukg, scim.base_url("acme"))]);
    let base = ukg.base_url();
    ukg.shutdown().await;
    let started = Instant::now();
    let run = check(&setup, &[]).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "one attempt, no retries");
    let host = line(&run, "✗ acme: UKG host");
    assert!(
        host.contains(&base)
            && host.contains("UKG Pro API unreachable")
            && host.contains("check the API host URL")
            && host.contains("tenants[0].ukg.base_url"),
        "{run:?}"
    );
    line(&run, "– acme: UKG credentials and endpoint permissions: not checked");
    line(&run, "✓ acme: SCIM");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_permission_is_named_per_endpoint() {
    let (ukg, _) = ukg_sim(5, 5, "acme.example", PASSWORD, API_KEY).await;
    ukg.inject(Fault::ForbiddenPath("/configuration/v1/jobs".into()));
    ukg.inject(Fault::ForbiddenPath("/personnel/v1/employment-details".into()));
    let scim = ScimServer::start(&["acme"], TOKEN).await;
    let setup = Setup::new(&[&conf("acme", &ukg, scim.base_url("acme"))]);
    let run = check(&setup, &[]).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    line(&run, "✓ acme: UKG credentials and Customer API Key accepted");
    let jobs = line(&run, "✗ acme: UKG /configuration/v1/jobs");
    assert!(
        jobs.contains("(403)")
            && jobs.contains("give the web service account the Company Configuration Integration permission"),
        "{run:?}"
    );
    let employment = line(&run, "✗ acme: UKG /personnel/v1/employment-details");
    assert!(
        employment.contains("give the web service account the Personnel Integration permission"),
        "{run:?}"
    );
    line(&run, "✓ acme: UKG /personnel/v1/employee-demographic-details");
    line(&run, "✓ acme: UKG /configuration/v1/org-levels");
    assert!(run.stdout.contains("2 of 7 checks failed"), "{run:?}");
}

fn with_smtp(setup: &Setup, port: u16) {
    setup.edit(|t| {
        t.replacen(
            "\n[[tenants]]",
            &format!(
                "\n[smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"hrsync@example.com\"\n\n[[tenants]]"
            ),
            1,
        )
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn the_smtp_server_is_greeted_or_named_with_its_fix() {
    let (ukg, _) = ukg_sim(5, 5, "acme.example", PASSWORD, API_KEY).await;
    let scim = ScimServer::start(&["acme"], TOKEN).await;
    let tenant = conf("acme", &ukg, scim.base_url("acme"));

    let port = free_port();
    let maildir = tempfile::tempdir().unwrap();
    let _smtp = Smtp::start(port, maildir.path());
    let up = Setup::new(&[&tenant]);
    with_smtp(&up, port);
    let run = check(&up, &[]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        line(&run, "✓ smtp:"),
        format!("✓ smtp: 127.0.0.1:{port} (tls none): connected and greeted")
    );
    assert!(run.stdout.contains("all 8 checks passed"), "{run:?}");

    let closed = free_port();
    let down = Setup::new(&[&tenant]);
    with_smtp(&down, closed);
    let run = check(&down, &[]).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    let smtp = line(&run, "✗ smtp:");
    assert!(
        smtp.contains(&format!("127.0.0.1:{closed}"))
            && smtp.contains("check smtp.host, smtp.port and smtp.tls, and that the server is reachable"),
        "{run:?}"
    );
    assert!(run.stdout.contains("1 of 8 checks failed"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_option_limits_the_checks_to_one_tenant() {
    let (ukg, _) = ukg_sim(5, 5, "acme.example", PASSWORD, API_KEY).await;
    let (broken, _) = ukg_sim(5, 5, "beta.example", PASSWORD, API_KEY).await;
    let scim = ScimServer::start(&["acme", "beta"], TOKEN).await;
    let setup = Setup::new(&[
        &conf("acme", &ukg, scim.base_url("acme")),
        &conf("beta", &broken, scim.base_url("beta")),
    ]);
    broken.shutdown().await;

    let run = check(&setup, &["--tenant", "acme"]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let lines = check_lines(&run);
    assert_eq!(lines.len(), 7, "{run:?}");
    assert!(lines.iter().all(|l| l.starts_with("✓ acme: ")), "{run:?}");

    let run = check(&setup, &["--tenant", "beta"]).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        check_lines(&run).iter().all(|l| l[4..].starts_with("beta: ")),
        "{run:?}"
    );
    line(&run, "✗ beta: UKG host");

    let all = check(&setup, &[]).await;
    assert_eq!(all.code, Some(1), "{all:?}");
    line(&all, "✓ acme: UKG host");
    line(&all, "✗ beta: UKG host");

    let unknown = check(&setup, &["--tenant", "nope"]).await;
    assert_eq!(unknown.code, Some(1), "{unknown:?}");
    assert!(
        unknown.stderr.contains("\"nope\"") && unknown.stderr.contains("acme, beta"),
        "{unknown:?}"
    );
}
