//! `hrsync tenant add`: the guided setup against the UKG simulator and a real scim2-server,
//! with flags and with answers piped into stdin. A tenant is appended (old bytes kept, the
//! secrets as references, first_run_review = true) only when every live check passed;
//! otherwise the file is left byte for byte as it was. Canary secrets never appear in the
//! file, stdout or stderr.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use hrsync_sim::{Fault, UkgSim};
use tokio::io::AsyncWriteExt;

use crate::harness::{ukg_sim, Run, ScimServer, UKG_USER};

const PASSWORD: &str = "CANARY-add-pw-58";
const API_KEY: &str = "CANARY-add-key-2c";
const TOKEN: &str = "CANARY-add-token-e4";
const WRONG: &str = "wrong-CANARY-add-9d";
const CANARIES: [&str; 4] = [PASSWORD, API_KEY, TOKEN, WRONG];

/// A config file with comments, another tenant (whose variables are not set here) and no
/// newline at the end, plus the API key in a file beside it.
struct Fixture {
    dir: tempfile::TempDir,
    config: PathBuf,
    api_key_file: PathBuf,
    before: Vec<u8>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("hrsync.toml");
        let text = format!(
            "# hrsync config: `tenant add` keeps every byte of this, comments included.\n\
             [service]\n\
             data_dir = \"{}\"   # a trailing comment\n\
             \n\
             [[tenants]]\n\
             id = \"globex\"\n\
             technical_contact = \"hr@globex.example\"\n\
             [tenants.ukg]\n\
             base_url = \"https://service5.ultipro.com\"\n\
             username = \"svc\"\n\
             password_env = \"GLOBEX_UKG_PASSWORD\"\n\
             api_key_env = \"GLOBEX_UKG_API_KEY\"\n\
             [tenants.scim]\n\
             base_url = \"https://globex.example/scim/v2\"\n\
             token_env = \"GLOBEX_SCIM_TOKEN\"\n\
             # the last line has no newline",
            dir.path().join("data").display()
        );
        std::fs::write(&config, &text).unwrap();
        let api_key_file = dir.path().join("acme-ukg-api-key");
        std::fs::write(&api_key_file, format!("{API_KEY}\n")).unwrap();
        Fixture {
            dir,
            config,
            api_key_file,
            before: text.into_bytes(),
        }
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.config).unwrap()
    }

    /// The file is exactly as it was, and no temporary file was left beside it.
    fn assert_unchanged(&self, run: &Run) {
        assert_eq!(
            std::fs::read(&self.config).unwrap(),
            self.before,
            "the file changed: {run:?}"
        );
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["acme-ukg-api-key", "hrsync.toml"], "{run:?}");
    }

    /// The text appended after the old bytes (which must be kept exactly).
    fn appended(&self) -> String {
        let text = self.text();
        let old = std::str::from_utf8(&self.before).unwrap();
        assert!(text.starts_with(old), "the old bytes were not kept:\n{text}");
        text[old.len()..].to_string()
    }

    /// The `hrsync tenant add` flags for a tenant `acme` that passes every check.
    fn flags(&self, ukg: &UkgSim, scim: &ScimServer) -> Vec<String> {
        [
            "--id",
            "acme",
            "--ukg-url",
            &ukg.base_url(),
            "--ukg-username",
            UKG_USER,
            "--ukg-password-env",
            "ACME_UKG_PASSWORD",
            "--ukg-api-key-file",
            self.api_key_file.to_str().unwrap(),
            "--scim-url",
            &scim.base_url("acme"),
            "--scim-token-env",
            "ACME_SCIM_TOKEN",
            "--contact",
            "it-alerts@acme.example",
        ]
        .map(String::from)
        .to_vec()
    }
}

/// The environment of `tenant add`: acme's secrets (GLOBEX_* deliberately unset).
fn env() -> HashMap<&'static str, &'static str> {
    HashMap::from([
        ("ACME_UKG_PASSWORD", PASSWORD),
        ("ACME_SCIM_TOKEN", TOKEN),
        ("WRONG_SECRET", WRONG),
    ])
}

/// `hrsync tenant add --config FILE ARGS`, with `stdin` piped in (or none), `env` set.
/// Asserts that no canary secret was printed.
async fn tenant_add(config: &Path, args: &[String], env: &HashMap<&str, &str>, stdin: Option<&str>) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hrsync"));
    cmd.args(["tenant", "add", "--config", config.to_str().unwrap()])
        .args(args)
        .envs(env.iter())
        .env_remove("RUST_LOG")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input.as_bytes()).await.unwrap();
        drop(pipe);
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("hrsync tenant add did not finish")
        .unwrap();
    let run = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    for secret in CANARIES {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "a secret was printed: {run:?}"
        );
    }
    run
}

/// Parses the file as the service would (GLOBEX_* stand-ins, acme's secrets for real) and
/// returns the acme tenant.
fn parsed_acme(fixture: &Fixture) -> hrsync_actors::spec::TenantSpec {
    let env = env();
    let lookup = |name: &str| {
        env.get(name)
            .map(|v| v.to_string())
            .or_else(|| name.starts_with("GLOBEX_").then(|| "globex-secret".to_string()))
    };
    let settings = hrsync::config::parse(&fixture.text(), &fixture.config, &lookup).unwrap();
    settings.tenants.into_iter().find(|t| t.id == "acme").unwrap()
}

fn assert_no_secret_in_file(fixture: &Fixture) {
    let text = fixture.text();
    for secret in CANARIES {
        assert!(!text.contains(secret), "a secret was written:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn flags_add_a_checked_tenant_with_references_and_first_run_review() {
    let (ukg, _) = ukg_sim(5, 5, "acme.example", PASSWORD, API_KEY).await;
    let scim = ScimServer::start(&["acme"], TOKEN).await;
    let fixture = Fixture::new();
    let run = tenant_add(&fixture.config, &fixture.flags(&ukg, &scim), &env(), None).await;
    assert_eq!(run.code, Some(0), "{run:?}");

    // The old bytes kept, one block appended, secrets as references only.
    let appended = fixture.appended();
    assert!(appended.starts_with("\n\n# Added by `hrsync tenant add`"), "{appended}");
    assert_eq!(appended.matches("[[tenants]]").count(), 1, "{appended}");
    for expected in [
        "id = \"acme\"",
        "first_run_review = true",
        "password_env = \"ACME_UKG_PASSWORD\"",
        &format!("api_key_file = \"{}\"", fixture.api_key_file.display()),
        "token_env = \"ACME_SCIM_TOKEN\"",
        "technical_contact = \"it-alerts@acme.example\"",
    ] {
        assert!(appended.contains(expected), "{expected:?} missing:\n{appended}");
    }
    assert_no_secret_in_file(&fixture);
    let acme = parsed_acme(&fixture);
    assert!(acme.first_run_review);
    assert_eq!(acme.ukg.base_url, ukg.base_url());
    assert_eq!(
        acme.target.scim().map(|s| s.base_url.clone()),
        Some(scim.base_url("acme"))
    );

    // It said what was checked and written, and what comes next.
    assert!(
        run.stderr.contains("✓ UKG credentials and Customer API Key accepted")
            && run
                .stderr
                .contains("(Company Configuration Integration): access granted")
            && run.stderr.contains("token accepted"),
        "{run:?}"
    );
    let config = fixture.config.display();
    for next in [
        format!("Added tenant \"acme\" to {config}"),
        format!("hrsync plan --config {config} --tenant acme"),
        format!("hrsync sync --config {config} --tenant acme"),
        "held for review".to_string(),
        format!("hrsync approve --config {config} --tenant acme"),
    ] {
        assert!(run.stdout.contains(&next), "{next:?} missing: {run:?}");
    }

    // `hrsync check` accepts the new tenant as written.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .args([
            "check",
            "--config",
            fixture.config.to_str().unwrap(),
            "--tenant",
            "acme",
        ])
        .envs(env())
        .envs([
            ("GLOBEX_UKG_PASSWORD", "x"),
            ("GLOBEX_UKG_API_KEY", "x"),
            ("GLOBEX_SCIM_TOKEN", "x"),
        ])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("all 7 checks passed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_named_and_nothing_is_written() {
    let (ukg, _) = ukg_sim(5, 5, "acme.example", PASSWORD, API_KEY).await;
    let scim = ScimServer::start(&["acme"], TOKEN).await;
    let fixture = Fixture::new();
    let mut env = env();
    env.insert("ACME_UKG_PASSWORD", WRONG);
    let run = tenant_add(&fixture.config, &fixture.flags(&ukg, &scim), &env, None).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .contains("✗ UKG credentials: UKG Pro rejected the credentials (401)")
            && run.stderr.contains("nothing written to")
            && run
                .stderr
                .contains("- wrong user name or password, or wrong Customer API Key"),
        "{run:?}"
    );
    assert!(run.stdout.is_empty(), "{run:?}");
    fixture.assert_unchanged(&run);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_permission_is_named_and_nothing_is_written() {
    let (ukg, _) = ukg_sim(5, 5, "acme.example", PASSWORD, API_KEY).await;
    ukg.inject(Fault::ForbiddenPath("/configuration/v1/jobs".into()));
    ukg.inject(Fault::ForbiddenPath("/personnel/v1/employment-details".into()));
    let scim = ScimServer::start(&["acme"], TOKEN).await;
    let fixture = Fixture::new();
    let run = tenant_add(&fixture.config, &fixture.flags(&ukg, &scim), &env(), None).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("✓ UKG credentials and Customer API Key accepted")
            && run
                .stderr
                .contains("✗ UKG /configuration/v1/jobs (Company Configuration Integration): UKG Pro denied access")
            && run.stderr.contains(
                "- the web service account lacks the Personnel Integration and Company Configuration Integration \
                 permissions"
            )
            && run
                .stderr
                .contains("System Configuration > Security > Service Account Administration"),
        "{run:?}"
    );
    fixture.assert_unchanged(&run);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http_url_is_normalised_and_told() {
    let (ukg, _) = ukg_sim(5, 5, "acme.example", PASSWORD, API_KEY).await;
    let scim = ScimServer::start(&["acme"], TOKEN).await;

    // A URL copied from UKG's Web Services page, towards a host that is not loopback: upgraded
    // to https and told; that host cannot be reached from here, so nothing is written.
    let fixture = Fixture::new();
    let mut flags = fixture.flags(&ukg, &scim);
    flags[3] = "http://ukg.example.invalid/services/".into();
    let run = tenant_add(&fixture.config, &flags, &env(), None).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .contains("note: UKG URL: upgraded http://ukg.example.invalid to https://ukg.example.invalid")
            && run.stderr.contains("note: UKG URL: dropped path /services/")
            && run
                .stderr
                .contains("- the UKG host https://ukg.example.invalid could not be reached"),
        "{run:?}"
    );
    fixture.assert_unchanged(&run);

    // The same kind of URL towards the (loopback) simulator: the path is dropped and told, the
    // scheme kept (plain http is allowed towards loopback only), and the tenant written.
    let fixture = Fixture::new();
    let mut flags = fixture.flags(&ukg, &scim);
    flags[3] = format!("{}/services/rest/", ukg.base_url());
    let run = tenant_add(&fixture.config, &flags, &env(), None).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stderr.contains("note: UKG URL: dropped path /services/rest/"),
        "{run:?}"
    );
    assert!(
        fixture
            .appended()
            .contains(&format!("base_url = \"{}\"\n", ukg.base_url())),
        "{}",
        fixture.text()
    );
    assert_eq!(parsed_acme(&fixture).ukg.base_url, ukg.base_url());
}

#[tokio::test(flavor = "multi_thread")]
async fn interactive_answers_are_checked_and_a_failed_value_is_asked_again() {
    let (ukg, _) = ukg_sim(5, 5, "acme.example", PASSWORD, API_KEY).await;
    let scim = ScimServer::start(&["acme"], TOKEN).await;
    let fixture = Fixture::new();
    let answers = [
        "Acme!",                                     // not an id: asked again
        "acme",                                      //
        "http://ukg.example.invalid/services/rest",  // upgraded and told, unreachable: asked again
        &ukg.base_url(),                             //
        UKG_USER,                                    //
        PASSWORD,                                    // the secret itself, pasted: refused, not echoed
        "WRONG_SECRET",                              // a variable holding a wrong password: 401
        fixture.api_key_file.to_str().unwrap(),      //
        "",                                          // after the 401: keep the user name
        "ACME_UKG_PASSWORD",                         // the right password
        "",                                          // keep the API key file
        "",                                          // the target: Enter keeps [scim]
        &format!("{}/Users", scim.base_url("acme")), // "/Users" dropped and told
        "WRONG_SECRET",                              // a wrong token: 401, asked again
        "ACME_SCIM_TOKEN",                           // (the contact comes from a flag: not asked)
    ]
    .join("\n")
        + "\n";
    let contact = ["--contact".to_string(), "it-alerts@acme.example".to_string()];
    let run = tenant_add(&fixture.config, &contact, &env(), Some(&answers)).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(!run.stderr.contains("Technical contact"), "{run:?}");
    for told in [
        "✗ expected 1 to 63 characters of a-z",
        "note: upgraded http://ukg.example.invalid to https://ukg.example.invalid",
        "✗ UKG host https://ukg.example.invalid: UKG Pro API unreachable",
        "never the secret itself",
        "✗ wrong user name or password, or wrong Customer API Key: UKG Pro refused them (401)",
        "[svc-hrsync]",
        "[WRONG_SECRET]",
        "✓ UKG credentials and Customer API Key accepted",
        "note: dropped /Users",
        "✗ the app refused the SCIM token (401)",
        "token accepted",
    ] {
        assert!(run.stderr.contains(told), "{told:?} not told: {run:?}");
    }
    let appended = fixture.appended();
    assert!(
        appended.contains("password_env = \"ACME_UKG_PASSWORD\"")
            && appended.contains("token_env = \"ACME_SCIM_TOKEN\"")
            && !appended.contains("WRONG_SECRET"),
        "{appended}"
    );
    assert_no_secret_in_file(&fixture);
    let acme = parsed_acme(&fixture);
    assert!(acme.first_run_review);
    assert_eq!(
        acme.target.scim().map(|s| s.base_url.clone()),
        Some(scim.base_url("acme"))
    );
    assert_eq!(acme.technical_contact, "it-alerts@acme.example");
}

#[tokio::test(flavor = "multi_thread")]
async fn interactive_input_that_ends_early_writes_nothing() {
    let (ukg, _) = ukg_sim(5, 5, "acme.example", PASSWORD, API_KEY).await;
    let fixture = Fixture::new();
    let answers = format!("acme\n{}\n{UKG_USER}\n", ukg.base_url());
    let run = tenant_add(&fixture.config, &[], &env(), Some(&answers)).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .contains("the input ended before the setup was complete; nothing was written"),
        "{run:?}"
    );
    fixture.assert_unchanged(&run);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duplicate_id_and_bad_flags_are_all_listed_and_nothing_is_written() {
    let (ukg, _) = ukg_sim(5, 5, "acme.example", PASSWORD, API_KEY).await;
    let scim = ScimServer::start(&["acme"], TOKEN).await;
    let fixture = Fixture::new();
    let mut flags = fixture.flags(&ukg, &scim);
    flags[1] = "globex".into(); // --id: taken
    flags[7] = PASSWORD.into(); // --ukg-password-env: the secret itself
    flags[15] = "nobody".into(); // --contact
    let run = tenant_add(&fixture.config, &flags, &env(), None).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    for problem in [
        "nothing written to",
        "3 problems",
        "- --id: the config file has a tenant \"globex\" already",
        "- --ukg-password-env: that is not an environment variable name",
        "- --contact: expected an email address",
    ] {
        assert!(run.stderr.contains(problem), "{problem:?} missing: {run:?}");
    }
    fixture.assert_unchanged(&run);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_config_file_is_created_with_a_service_table() {
    let (ukg, _) = ukg_sim(5, 5, "acme.example", PASSWORD, API_KEY).await;
    let scim = ScimServer::start(&["acme"], TOKEN).await;
    let fixture = Fixture::new();
    let elsewhere = tempfile::tempdir().unwrap();
    let config = elsewhere.path().join("new.toml");
    let mut flags = fixture.flags(&ukg, &scim);
    flags.extend(["--data-dir".to_string(), "state".to_string()]);
    let run = tenant_add(&config, &flags, &env(), None).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let text = std::fs::read_to_string(&config).unwrap();
    let env = env();
    let settings = hrsync::config::parse(&text, &config, &|n| env.get(n).map(|v| v.to_string())).unwrap();
    assert_eq!(settings.service.data_dir, elsewhere.path().join("state"));
    assert_eq!(settings.tenants.len(), 1);
    assert!(settings.tenants[0].first_run_review);
    // --data-dir is refused for a file that exists.
    let run = tenant_add(&fixture.config, &flags, &env, None).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run
        .stderr
        .contains("--data-dir is only used when the config file is created"));
    fixture.assert_unchanged(&run);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_target_is_asked_for_and_written_as_a_file_table() {
    let (ukg, _) = ukg_sim(5, 6, "acme.example", PASSWORD, API_KEY).await;
    let fixture = Fixture::new();
    let outbox = fixture.dir.path().join("outbox");
    // Interactive: the target question answered "file", then the folder.
    let answers = format!(
        "acme\n{}\n{UKG_USER}\nACME_UKG_PASSWORD\n{}\nfile\n{}\nit-alerts@acme.example\n",
        ukg.base_url(),
        fixture.api_key_file.display(),
        outbox.display()
    );
    let run = tenant_add(&fixture.config, &[], &env(), Some(&answers)).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let appended = fixture.appended();
    assert!(appended.contains("[tenants.file]\n"), "{appended}");
    assert!(
        appended.contains(&format!("directory = \"{}\"", outbox.display())),
        "{appended}"
    );
    assert!(!appended.contains("[tenants.scim]"), "{appended}");
    assert_no_secret_in_file(&fixture);
    let acme = parsed_acme(&fixture);
    assert!(acme.first_run_review);
    assert!(acme.target.scim().is_none(), "a file tenant");

    // Non-interactive with --file-dir: a file where the folder should be is refused.
    let fixture = Fixture::new();
    let not_a_folder = fixture.api_key_file.display().to_string();
    let flags: Vec<String> = [
        "--id",
        "acme",
        "--ukg-url",
        &ukg.base_url(),
        "--ukg-username",
        UKG_USER,
        "--ukg-password-env",
        "ACME_UKG_PASSWORD",
        "--ukg-api-key-file",
        fixture.api_key_file.to_str().unwrap(),
        "--file-dir",
        &not_a_folder,
        "--contact",
        "it@acme.example",
    ]
    .map(String::from)
    .to_vec();
    let refused = tenant_add(&fixture.config, &flags, &env(), None).await;
    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert!(
        refused
            .stderr
            .contains(&format!("--file-dir: {not_a_folder} is not a folder")),
        "{refused:?}"
    );
    fixture.assert_unchanged(&refused);
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_that_may_be_a_secret_is_echoed_back_at_any_prompt() {
    let (ukg, _) = ukg_sim(5, 5, "acme.example", PASSWORD, API_KEY).await;
    let scim = ScimServer::start(&["acme"], TOKEN).await;
    let fixture = Fixture::new();
    const TYPED: [&str; 3] = ["Pw!CANARY-id#1", "CANARY-url-s3cret", "S3cr3t!CANARY-usr"];
    let answers = [
        TYPED[0],                               // a secret pasted as the id: refused, not quoted
        "acme",                                 //
        TYPED[1],                               // ... as the UKG URL: refused, not quoted
        &ukg.base_url(),                        //
        PASSWORD,                               // ... as the user name (the password itself)
        "ACME_UKG_PASSWORD",                    // the password: now the user name holds a secret
        fixture.api_key_file.to_str().unwrap(), // 401: the user name is asked again, its default hidden
        TYPED[2],                               // a password-shaped user name: 401, default hidden
        "",                                     //
        "",                                     //
        UKG_USER,                               // the right one
        "",                                     //
        "",                                     //
        "",                                     // the target: [scim]
        &scim.base_url("acme"),                 //
        "ACME_SCIM_TOKEN",                      //
    ]
    .join("\n")
        + "\n";
    let contact = ["--contact".to_string(), "it-alerts@acme.example".to_string()];
    // tenant_add() itself asserts that PASSWORD (and the other canaries) never appear.
    let run = tenant_add(&fixture.config, &contact, &env(), Some(&answers)).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    for typed in TYPED {
        assert!(
            !run.stdout.contains(typed) && !run.stderr.contains(typed),
            "{typed:?} was echoed: {run:?}"
        );
    }
    assert!(run.stderr.contains("(what you typed, not shown)"), "{run:?}");
    assert_eq!(
        run.stderr
            .matches("Web service account user name [Enter keeps the previous answer, not shown]")
            .count(),
        2,
        "{run:?}"
    );
    let text = fixture.text();
    for typed in TYPED {
        assert!(!text.contains(typed), "{text}");
    }
    assert_eq!(parsed_acme(&fixture).ukg.username, UKG_USER);
}
