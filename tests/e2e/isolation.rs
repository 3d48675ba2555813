//! One tenant's configuration never stops the others: a tenant whose secret does not
//! resolve is `misconfigured` — shown in `/status` and `/metrics`, mailed once to its
//! contact, named by id by `hrsync check`, `sync` and `plan` — while the other tenants run.
//! A secret pasted into a `*_file` key is never echoed.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::harness::{free_port, ukg_sim, ScimServer, Setup, Smtp, TenantConf};
use crate::service::{outcome, Service};

const CANARIES: [&str; 2] = ["CANARY-globex-key-77", "CANARY-globex-token-31"];

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_with_an_unset_secret_is_misconfigured_and_the_others_run() {
    let (ukg, data) = ukg_sim(12, 61, "iso.example", "pw-iso", "KEYIS").await;
    let scim = ScimServer::start(&["alpha", "beta", "globex"], "tok-iso").await;
    let conf = |id: &str, key: &str, token: &str| TenantConf {
        id: id.into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url(id),
        page_size: 5,
        ukg_password: "pw-iso".into(),
        ukg_api_key: key.into(),
        scim_token: token.into(),
    };
    let (a, b) = (conf("alpha", "KEYIS", "tok-iso"), conf("beta", "KEYIS", "tok-iso"));
    let g = conf("globex", CANARIES[0], CANARIES[1]);
    let mut setup = Setup::new(&[&a, &b, &g]);
    setup.env.retain(|(name, _)| name != "GLOBEX_UKG_PASSWORD");
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(free_port(), &dir.path().join("maildir"));
    setup.edit(|t| t.replacen("\n[[tenants]]", &format!("\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"hrsync@example.com\"\n\n[[tenants]]", smtp.port), 1));
    let config = setup.config.to_str().unwrap().to_string();

    // `check` names the tenant by id, the key and the variable; the others are valid.
    let check = setup.run(&["check", "--config", &config, "--config-only"]).await;
    assert_eq!(check.code, Some(1), "{check:?}");
    assert!(
        check
            .stdout
            .contains("2 tenant(s) valid: alpha, beta; 1 misconfigured (they would not sync): globex"),
        "{check:?}"
    );
    assert!(
        check.stderr.contains(&format!(
            "{config}: tenant globex: ukg.password_env: environment variable GLOBEX_UKG_PASSWORD is not set"
        )) && !check.stderr.contains("tenants[2]"),
        "{check:?}"
    );
    let only_alpha = setup
        .run(&["check", "--config", &config, "--config-only", "--tenant", "alpha"])
        .await;
    assert_eq!(only_alpha.code, Some(0), "{only_alpha:?}");

    let service = Service::start(&setup, &[]);
    let status = service
        .wait_status(|v| {
            outcome(v, "alpha").is_some()
                && outcome(v, "beta").is_some()
                && v["tenants"]["globex"]["state"] == "misconfigured"
        })
        .await;
    assert_eq!(outcome(&status, "alpha"), Some("ok"), "{status}");
    assert_eq!(outcome(&status, "beta"), Some("ok"), "{status}");
    let error = status["tenants"]["globex"]["config_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("tenant globex: ukg.password_env: environment variable GLOBEX_UKG_PASSWORD is not set"),
        "{status}"
    );
    let active: BTreeSet<String> = data
        .employees
        .iter()
        .filter(|e| e.status != "T")
        .map(|e| e.employee_id.clone())
        .collect();
    for tenant in ["alpha", "beta"] {
        let users: BTreeSet<String> = scim.users(tenant).await.keys().cloned().collect();
        assert_eq!(users, active, "{tenant}");
    }
    assert!(scim.users("globex").await.is_empty());

    let (_, metrics) = service.get("/metrics").await.unwrap();
    for line in [
        "hrsync_tenant_misconfigured{tenant=\"globex\"} 1",
        "hrsync_tenant_up{tenant=\"globex\"} 0",
        "hrsync_tenant_misconfigured{tenant=\"alpha\"} 0",
        "hrsync_tenant_up{tenant=\"alpha\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} not in\n{metrics}");
    }
    // The process serves what it can: readiness is not held hostage by one tenant's config.
    assert_eq!(service.get("/readyz").await.map(|r| r.0), Some(200));
    let (_, page) = service.get("/").await.unwrap();
    assert!(
        page.contains("misconfigured") && page.contains("GLOBEX_UKG_PASSWORD"),
        "{page}"
    );

    // The contact is told, by the tenant's notifier.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mail = loop {
        let found: Vec<String> = smtp
            .messages()
            .into_iter()
            .filter(|m| m.contains("X-RcptTo: it-alerts@globex.example"))
            .collect();
        if !found.is_empty() {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "no email to globex's contact; log:\n{}",
            service.output()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert!(
        mail[0].contains("globex: not syncing") && mail[0].contains("GLOBEX_UKG_PASSWORD"),
        "{}",
        mail[0]
    );

    // One tenant's commands fail with its error; the service keeps running meanwhile.
    let sync = setup.sync("globex").await;
    assert_eq!(sync.code, Some(1), "{sync:?}");
    assert!(
        sync.stderr
            .contains("tenant globex: ukg.password_env: environment variable GLOBEX_UKG_PASSWORD"),
        "{sync:?}"
    );
    let plan = setup.run(&["plan", "--config", &config, "--tenant", "globex"]).await;
    assert_eq!(plan.code, Some(1), "{plan:?}");
    assert!(plan.stderr.contains("GLOBEX_UKG_PASSWORD"), "{plan:?}");

    let (code, log) = service.terminate().await;
    assert_eq!(code, Some(0), "exit code after SIGTERM; log:\n{log}");
    // The other tenants' commands work.
    setup.sync("alpha").await.assert_ok();
    let text = format!("{log}{status}{metrics}{page}{}", smtp.messages().join("\n"));
    for canary in CANARIES {
        assert!(!text.contains(canary), "secret {canary} leaked");
    }
}

#[tokio::test]
async fn a_secret_pasted_into_a_file_key_is_not_echoed() {
    const CANARY: &str = "pw-Sup3rS3cret!CANARY";
    let t = TenantConf {
        id: "acme".into(),
        ukg_base: "https://service4.ultipro.com".into(),
        scim_base: "https://app.example.com/scim/v2".into(),
        page_size: 100,
        ukg_password: "pw".into(),
        ukg_api_key: "KEY01".into(),
        scim_token: "tok".into(),
    };
    let setup = Setup::new(&[&t]);
    let config = setup.config.to_str().unwrap().to_string();
    for value in [CANARY.to_string(), format!("/{CANARY}"), format!("~/{CANARY}")] {
        setup.edit(|text| {
            let start = text.find("password").unwrap();
            let end = start + text[start..].find('\n').unwrap();
            format!("{}password_file = \"{value}\"{}", &text[..start], &text[end..])
        });
        let run = setup.run(&["check", "--config", &config, "--config-only"]).await;
        assert_eq!(run.code, Some(1), "{run:?}");
        assert!(run.stderr.contains("tenant acme: ukg.password_file: "), "{run:?}");
        assert!(
            !run.stderr.contains(CANARY) && !run.stdout.contains(CANARY),
            "the value is echoed: {run:?}"
        );
    }
}
