//! Reports reach the technical contact through a real SMTP server (aiosmtpd): a failed run
//! is mailed once with its fix, never with a secret; the same failure is not mailed again
//! within 24 h; a recovery is mailed; emails survive an SMTP outage and go out later.

use crate::harness::{free_port, ukg_sim, ScimServer, Setup, Smtp, TenantConf};

const CANARIES: [&str; 3] = ["CANARY-mail-pw-4d1", "CANARY-mail-key-8e", "CANARY-mail-token-0c"];

fn with_smtp(setup: &Setup, port: u16) {
    setup.edit(|t| t.replacen("\n[[tenants]]", &format!("\n[smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"hrsync@example.com\"\n\n[[tenants]]"), 1));
}

fn subjects(messages: &[String]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| m.lines().find(|l| l.starts_with("Subject: ")).map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_mailed_once_with_the_fix_and_recovery_is_mailed() {
    let (ukg, _) = ukg_sim(10, 51, "mail.example", CANARIES[0], CANARIES[1]).await;
    let scim = ScimServer::start(&["mail"], CANARIES[2]).await;
    let tenant = TenantConf {
        id: "mail".into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url("mail"),
        page_size: 50,
        ukg_password: "wrong-password".into(),
        ukg_api_key: CANARIES[1].into(),
        scim_token: CANARIES[2].into(),
    };
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(free_port(), &dir.path().join("maildir"));
    let mut setup = Setup::new(&[&tenant]);
    with_smtp(&setup, smtp.port);

    assert_eq!(setup.sync("mail").await.code, Some(1));
    let first = smtp.messages();
    let subs = subjects(&first);
    assert!(subs.iter().any(|s| s.contains("mail: sync failed")), "{subs:?}");
    assert!(
        subs.iter().any(|s| s.contains("quarantined")),
        "credentials refused: quarantined at once: {subs:?}"
    );
    let report = first.iter().find(|m| m.contains("sync failed")).unwrap();
    assert!(report.contains("X-RcptTo: it-alerts@mail.example"), "{report}");
    assert!(report.contains("Customer API Key"), "the fix is in the email: {report}");
    assert!(report.contains("text/html"), "plain text and HTML: {report}");

    // The same failure again: not mailed again within 24 h.
    assert_eq!(setup.sync("mail").await.code, Some(1));
    assert_eq!(smtp.messages().len(), first.len(), "{:?}", subjects(&smtp.messages()));

    // Fixed: a recovery email.
    for (name, value) in setup.env.iter_mut() {
        if name == "MAIL_UKG_PASSWORD" {
            *value = CANARIES[0].into();
        }
    }
    setup.sync("mail").await.assert_ok();
    let all = smtp.messages();
    assert!(
        subjects(&all).iter().any(|s| s.contains("sync recovered")),
        "{:?}",
        subjects(&all)
    );
    for m in &all {
        for canary in CANARIES {
            assert!(!m.contains(canary), "secret {canary} in an email: {m}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_smtp_outage_neither_blocks_the_sync_nor_loses_the_email() {
    let (ukg, data) = ukg_sim(10, 52, "outage.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["outage"], "tok").await;
    let managers: Vec<&str> = data
        .employees
        .iter()
        .filter_map(|e| e.supervisor_id.as_deref())
        .collect();
    let bad = data
        .employees
        .iter()
        .find(|e| e.status == "A" && !managers.contains(&e.employee_id.as_str()))
        .unwrap()
        .employee_id
        .clone();
    ukg.update(&bad, |e| e.email = Some("broken address".into()));
    let tenant = TenantConf {
        id: "outage".into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url("outage"),
        page_size: 50,
        ukg_password: "pw".into(),
        ukg_api_key: "KEY01".into(),
        scim_token: "tok".into(),
    };
    let setup = Setup::new(&[&tenant]);
    let port = free_port();
    with_smtp(&setup, port);
    // No SMTP server yet: the run completes anyway, the report waits in the store.
    let run = setup.sync("outage").await;
    run.assert_ok();
    assert_eq!(run.count("failed"), 1, "{run:?}");

    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(port, &dir.path().join("maildir"));
    // The next process sends what was queued (the new run's same report is not sent twice).
    setup.sync("outage").await.assert_ok();
    let subs = subjects(&smtp.messages());
    assert_eq!(subs.len(), 1, "{subs:?}");
    assert!(subs[0].contains("1 employee(s) could not be synced"), "{subs:?}");
    assert!(smtp.messages()[0].contains(&bad), "the employee id is named");
}
