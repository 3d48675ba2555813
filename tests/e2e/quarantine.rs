//! A quarantine outlives a restart: a tenant quarantined by refused credentials under
//! `hrsync run` is still quarantined after the process restarts — no UKG request at start,
//! `/status` and `hrsync status` (live and from the store) show it — until `hrsync sync
//! --force` with fixed credentials runs and lifts it.

use serde_json::Value;

use crate::harness::{ukg_sim, ScimServer, Setup, TenantConf};
use crate::service::Service;

const ADMIN: &str = "admin-token-qr-1";

fn quarantined(v: &Value) -> bool {
    let t = &v["tenants"]["qr"];
    t["state"] == "quarantined" && t["up"] == true
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quarantine_survives_a_restart_until_a_forced_sync_lifts_it() {
    let (ukg, data) = ukg_sim(10, 91, "qr.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["qr"], "tok").await;
    let tenant = TenantConf {
        id: "qr".into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url("qr"),
        page_size: 50,
        ukg_password: "wrong-password".into(),
        ukg_api_key: "KEY01".into(),
        scim_token: "tok".into(),
    };
    let mut setup = Setup::new(&[&tenant]);
    // The quarantine's reason is a detail: /status shows it with the admin token only.
    setup.edit(|t| {
        t.replacen(
            "[service]\n",
            "[service]\nadmin_token_env = \"HRSYNC_ADMIN_TOKEN\"\n",
            1,
        )
    });
    setup.env.push(("HRSYNC_ADMIN_TOKEN".into(), ADMIN.into()));
    let config = setup.config.to_str().unwrap().to_string();

    // Refused credentials: quarantined at once.
    let service = Service::start(&setup, &[]);
    let first = service.wait_status_with_token(Some(ADMIN), quarantined).await;
    let q = &first["tenants"]["qr"]["quarantine"];
    assert!(q["reason"].as_str().unwrap().contains("credentials"), "{first}");
    let until = q["until"].as_str().unwrap().to_string();
    assert!(ukg.request_count() > 0);
    let (code, log) = service.terminate().await;
    assert_eq!(code, Some(0), "{log}");

    let stored = setup.run(&["status", "--config", &config]).await;
    assert!(stored.stdout.contains("qr      quarantined"), "{stored:?}");
    assert!(stored.stdout.contains("qr: quarantined: "), "{stored:?}");

    // Restarted: still quarantined, waiting for the same due time, and UKG is not asked.
    ukg.reset_requests();
    let service = Service::start(&setup, &[]);
    let again = service.wait_status_with_token(Some(ADMIN), quarantined).await;
    let t = &again["tenants"]["qr"];
    assert_eq!(t["quarantine"]["until"], until.as_str(), "{again}");
    assert_eq!(t["next_run_at"], until.as_str(), "{again}");
    assert_eq!(t["consecutive_failures"], 1, "{again}");
    assert_eq!(service.get("/readyz").await.map(|r| r.0), Some(200));
    let (_, metrics) = service.get("/metrics").await.unwrap();
    assert!(metrics.contains("hrsync_quarantined{tenant=\"qr\"} 1"), "{metrics}");
    let live = setup.run(&["status", "--config", &config]).await;
    assert!(
        live.stdout.contains("qr      quarantined") && live.stdout.contains("(from the running service)"),
        "{live:?}"
    );
    assert_eq!(ukg.request_count(), 0, "no UKG request after the restart");
    let (code, log) = service.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(ukg.request_count(), 0, "none before the stop either");

    // Credentials fixed: a forced sync runs now and lifts the quarantine.
    for (name, value) in setup.env.iter_mut() {
        if name == "QR_UKG_PASSWORD" {
            *value = "pw".into();
        }
    }
    let forced = setup
        .run(&["sync", "--config", &config, "--tenant", "qr", "--force"])
        .await;
    forced.assert_ok();
    assert!(forced.stderr.contains("tenant qr is quarantined"), "{forced:?}");
    let active = data.employees.iter().filter(|e| e.status != "T").count() as u64;
    assert_eq!(forced.count("created"), active, "{forced:?}");
    let stored = setup.run(&["status", "--config", &config]).await;
    assert!(stored.stdout.contains("qr      ok"), "{stored:?}");
    assert!(!stored.stdout.contains("quarantined"), "{stored:?}");
}
