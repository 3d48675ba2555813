//! The status page renders in a real browser (headless Chromium, installed by
//! scripts/test.sh) and shows each tenant's state.

use std::process::Command;

use crate::harness::{ukg_sim, ScimServer, Setup, TenantConf};
use crate::service::{outcome, Service};

fn chromium() -> String {
    std::env::var("HRSYNC_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_page_renders_in_chromium_with_each_tenants_state() {
    let (ukg, _) = ukg_sim(8, 71, "page.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["pageok", "pagebad"], "tok").await;
    let conf = |id: &str, password: &str| TenantConf {
        id: id.into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url(id),
        page_size: 50,
        ukg_password: password.into(),
        ukg_api_key: "KEY01".into(),
        scim_token: "tok".into(),
    };
    let setup = Setup::new(&[&conf("pageok", "pw"), &conf("pagebad", "wrong")]);
    let service = Service::start(&setup, &[]);
    service
        .wait_status(|v| outcome(v, "pageok").is_some() && outcome(v, "pagebad").is_some())
        .await;

    let url = format!("http://127.0.0.1:{}/", service.listen);
    let profile = tempfile::tempdir().unwrap();
    let shot = std::env::var("HRSYNC_KEEP_SCREENSHOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| setup.dir.path().join("status.png"));
    let browser = |extra: &[String]| {
        let mut cmd = Command::new(chromium());
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1200,500",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(&url);
        cmd.output()
            .unwrap_or_else(|e| panic!("cannot run {} ({e}); scripts/test.sh installs chromium", chromium()))
    };
    let dom = browser(&["--dump-dom".to_string()]);
    assert!(dom.status.success(), "{}", String::from_utf8_lossy(&dom.stderr));
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("<h1>hrsync</h1>"), "{dom}");
    assert!(dom.contains("<td>pageok</td><td class=\"ok\">ok</td>"), "{dom}");
    assert!(
        dom.contains("<td>pagebad</td><td class=\"bad\">quarantined</td>"),
        "{dom}"
    );

    let out = browser(&[format!("--screenshot={}", shot.display())]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    // A blank 1200x500 page compresses to a few hundred bytes; a table of text does not.
    assert!(png.len() > 8_000, "the screenshot looks empty ({} bytes)", png.len());
    let (code, _) = service.terminate().await;
    assert_eq!(code, Some(0));
}
