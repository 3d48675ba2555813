//! Bad configuration is rejected at start with a message naming the file, the key and what
//! is expected; inline secrets are refused without being echoed.

use crate::harness::{Run, Setup, TenantConf};

fn tenant() -> TenantConf {
    TenantConf {
        id: "acme".into(),
        ukg_base: "https://service4.ultipro.com".into(),
        scim_base: "https://app.example.com/scim/v2".into(),
        page_size: 100,
        ukg_password: "pw".into(),
        ukg_api_key: "KEY01".into(),
        scim_token: "tok".into(),
    }
}

/// Runs `hrsync <command> --config` on the setup's config after `edit`.
async fn with_config(command: &str, edit: impl Fn(String) -> String) -> (Run, String) {
    let t = tenant();
    let setup = Setup::new(&[&t]);
    let text = std::fs::read_to_string(&setup.config).unwrap();
    std::fs::write(&setup.config, edit(text)).unwrap();
    let config = setup.config.to_str().unwrap().to_string();
    let out = setup.command(&[command, "--config", &config]).output().await.unwrap();
    let run = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    (run, config)
}

#[tokio::test]
async fn a_valid_config_passes_check_config_only_without_touching_the_network() {
    let t = tenant();
    let setup = Setup::new(&[&t]);
    let config = setup.config.to_str().unwrap().to_string();
    let out = setup
        .command(&["check", "--config", &config, "--config-only"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout.contains(": valid; 1 tenant(s): acme") && !stdout.contains('✓'),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_valid_config_checks_ok() {
    // The live checks that follow the validation (tests/e2e/check.rs) fail here: the hosts
    // point at a closed loopback port, so no request leaves the machine.
    let closed = crate::harness::free_port();
    let (run, _) = with_config("check", |t| {
        t.replace("https://service4.ultipro.com", &format!("http://127.0.0.1:{closed}"))
            .replace("https://app.example.com", &format!("http://127.0.0.1:{closed}"))
    })
    .await;
    assert!(run.stdout.contains(": valid; 1 tenant(s): acme"), "{run:?}");
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("✗ acme: UKG host"), "{run:?}");
}

#[tokio::test]
async fn unknown_key_names_file_and_key() {
    let (run, config) = with_config("run", |t| t.replace("password_env", "pasword_env")).await;
    assert_ne!(run.code, Some(0));
    assert!(
        run.stderr.contains(&config) && run.stderr.contains("pasword_env"),
        "{run:?}"
    );
}

#[tokio::test]
async fn bad_value_names_key_and_expectation() {
    let (run, config) = with_config("check", |t| t.replace("page_size = 100", "page_size = 20000")).await;
    assert_ne!(run.code, Some(0));
    assert!(
        run.stderr.contains(&config) && run.stderr.contains("page_size") && run.stderr.contains("10000"),
        "{run:?}"
    );
}

#[tokio::test]
async fn inline_secret_is_refused_without_echoing_it() {
    let (run, _) = with_config("check", |t| {
        t.replace(
            "password_env = \"ACME_UKG_PASSWORD\"",
            "password = \"CANARY-inline-5ecret\"",
        )
    })
    .await;
    assert_ne!(run.code, Some(0));
    assert!(
        run.stderr.contains("password") && run.stderr.contains("inline"),
        "{run:?}"
    );
    assert!(
        !run.stderr.contains("CANARY-inline-5ecret") && !run.stdout.contains("CANARY-inline-5ecret"),
        "{run:?}"
    );
}

#[tokio::test]
async fn missing_secret_variable_is_named() {
    let (run, _) = with_config("check", |t| t.replace("ACME_UKG_API_KEY", "ACME_UKG_API_KEY_MISSING")).await;
    assert_ne!(run.code, Some(0));
    assert!(run.stderr.contains("ACME_UKG_API_KEY_MISSING"), "{run:?}");
}

#[tokio::test]
async fn unknown_tenant_lists_the_known_ones() {
    let t = tenant();
    let setup = Setup::new(&[&t]);
    let run = setup.sync("nope").await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("\"nope\"") && run.stderr.contains("acme"),
        "{run:?}"
    );
}
