//! Secrets and sensitive HR fields never leak: canary values for the UKG password, the
//! Customer API Key and the SCIM token never appear in the output of a debug-level run, in
//! `/status`, or in errors; SSNs and birth dates served by UKG never reach the app or the
//! state database.

use std::path::Path;

use crate::harness::{ukg_sim, ScimServer, Setup, TenantConf};
use crate::service::{outcome, Service};

const CANARIES: [&str; 3] = ["CANARY-ukg-pw-7f3a", "CANARY-key-19", "CANARY-scim-token-b2"];

fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            hits.extend(files_containing(&path, needle));
        } else if std::fs::read(&path).unwrap().windows(needle.len()).any(|w| w == needle) {
            hits.push(path.display().to_string());
        }
    }
    hits
}

#[tokio::test(flavor = "multi_thread")]
async fn canaries_never_appear_in_logs_status_errors_app_or_store() {
    let (ukg, data) = ukg_sim(15, 9, "canary.example", CANARIES[0], CANARIES[1]).await;
    let scim = ScimServer::start(&["canary"], CANARIES[2]).await;
    let tenant = TenantConf {
        id: "canary".into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url("canary"),
        page_size: 4,
        ukg_password: CANARIES[0].into(),
        ukg_api_key: CANARIES[1].into(),
        scim_token: CANARIES[2].into(),
    };
    let setup = Setup::new(&[&tenant]);
    let service = Service::start(&setup, &[("RUST_LOG", "debug")]);
    let status = service.wait_status(|v| outcome(v, "canary").is_some()).await;
    assert_eq!(outcome(&status, "canary"), Some("ok"), "{status}");
    let (_, status_body) = service.get("/status").await.unwrap();
    let (code, log) = service.terminate().await;
    assert_eq!(code, Some(0));
    assert!(log.contains("DEBUG"), "the run logged at debug level");

    // A failing run (the app refuses the token) prints errors: no canary there either.
    let mut wrong = tenant;
    wrong.scim_token = "CANARY-wrong-token-c3".into();
    let failing = Setup::new(&[&wrong]);
    let failed = failing.sync("canary").await;
    assert_eq!(failed.code, Some(1), "{failed:?}");

    let users = serde_json::to_string(&scim.users("canary").await).unwrap();
    for text in [&log, &status_body, &failed.stdout, &failed.stderr, &users] {
        for canary in CANARIES.iter().chain(["CANARY-wrong-token-c3"].iter()) {
            assert!(!text.contains(canary), "secret {canary} leaked into: {text}");
        }
    }
    let data_dir = setup.dir.path().join("data");
    for canary in CANARIES {
        assert_eq!(
            files_containing(&data_dir, canary.as_bytes()),
            Vec::<String>::new(),
            "secret in the store"
        );
    }
    for e in &data.employees {
        let dob = e.date_of_birth.format("%Y-%m-%d").to_string();
        for sensitive in [e.ssn.as_str(), dob.as_str()] {
            assert!(
                !users.contains(sensitive),
                "sensitive field {sensitive} sent to the app"
            );
            assert!(!log.contains(sensitive), "sensitive field {sensitive} logged");
            assert_eq!(
                files_containing(&data_dir, sensitive.as_bytes()),
                Vec::<String>::new(),
                "sensitive field stored"
            );
        }
    }
}
