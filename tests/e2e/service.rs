//! `hrsync run`: several tenants in one process stay separate — each one's users land only
//! in its own app, and a tenant with bad credentials fails alone — and the process serves
//! health and status, then stops cleanly on SIGTERM.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{ukg_sim, ScimServer, Setup, TenantConf};

/// A running `hrsync run` process whose output goes to files.
pub struct Service {
    pub child: tokio::process::Child,
    pub listen: u16,
    pub stdout: std::path::PathBuf,
    pub stderr: std::path::PathBuf,
}

impl Service {
    pub fn start(setup: &Setup, extra_env: &[(&str, &str)]) -> Service {
        let stdout = setup.dir.path().join("stdout.log");
        let stderr = setup.dir.path().join("stderr.log");
        let child = setup
            .command(&["run", "--config", setup.config.to_str().unwrap()])
            .envs(extra_env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .stdout(Stdio::from(std::fs::File::create(&stdout).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()))
            .spawn()
            .unwrap();
        Service {
            child,
            listen: setup.listen,
            stdout,
            stderr,
        }
    }

    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        self.get_with_token(path, None).await
    }

    /// GET with `Authorization: Bearer <token>` (the admin token unlocks /status details).
    pub async fn get_with_token(&self, path: &str, token: Option<&str>) -> Option<(u16, String)> {
        let mut r = reqwest::Client::new().get(format!("http://127.0.0.1:{}{path}", self.listen));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let r = r.send().await.ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().await.ok()?))
    }

    /// Polls `/status` until `done` holds for it.
    pub async fn wait_status(&self, done: impl Fn(&Value) -> bool) -> Value {
        self.wait_status_with_token(None, done).await
    }

    /// Polls `/status` (with the admin token, when given: details shown) until `done` holds.
    pub async fn wait_status_with_token(&self, token: Option<&str>, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some((200, body)) = self.get_with_token("/status", token).await {
                let v: Value = serde_json::from_str(&body).unwrap();
                if done(&v) {
                    return v;
                }
            }
            assert!(
                Instant::now() < deadline,
                "status never reached the expected state; log:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGTERM, then the exit code.
    pub async fn terminate(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().unwrap() as i32;
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let status = tokio::time::timeout(Duration::from_secs(40), self.child.wait())
            .await
            .expect("hrsync did not stop within 40 s of SIGTERM")
            .unwrap();
        (status.code(), self.output())
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
            + &std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

pub fn outcome<'a>(status: &'a Value, tenant: &str) -> Option<&'a str> {
    status["tenants"][tenant]["last_run"]["outcome"].as_str()
}

#[tokio::test(flavor = "multi_thread")]
async fn tenants_in_one_process_stay_separate_and_the_service_stops_cleanly() {
    let (north_ukg, north) = ukg_sim(30, 21, "north.example", "pw-n", "KEYNN").await;
    let (south_ukg, south) = ukg_sim(20, 22, "south.example", "pw-s", "KEYSS").await;
    let scim = ScimServer::start(&["north", "south", "broken"], "tok-ns").await;
    let conf = |id: &str, ukg: &hrsync_sim::UkgSim, password: &str, key: &str| TenantConf {
        id: id.into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url(id),
        page_size: 7,
        ukg_password: password.into(),
        ukg_api_key: key.into(),
        scim_token: "tok-ns".into(),
    };
    let n = conf("north", &north_ukg, "pw-n", "KEYNN");
    let s = conf("south", &south_ukg, "pw-s", "KEYSS");
    // Same UKG as north, wrong password: fails alone.
    let b = conf("broken", &north_ukg, "wrong", "KEYNN");
    let mut setup = Setup::new(&[&n, &s, &b]);
    setup.edit(|t| {
        t.replacen(
            "[service]\n",
            "[service]\nadmin_token_env = \"HRSYNC_ADMIN_TOKEN\"\n",
            1,
        )
    });
    setup.env.push(("HRSYNC_ADMIN_TOKEN".into(), "admin-token-ns-1".into()));
    let service = Service::start(&setup, &[]);

    let status = service
        .wait_status(|v| {
            outcome(v, "north").is_some() && outcome(v, "south").is_some() && outcome(v, "broken").is_some()
        })
        .await;
    assert_eq!(outcome(&status, "north"), Some("ok"), "{status}");
    assert_eq!(outcome(&status, "south"), Some("ok"), "{status}");
    assert_eq!(outcome(&status, "broken"), Some("failed"), "{status}");
    // The run's error is a detail: shown with the admin token.
    let (_, body) = service
        .get_with_token("/status", Some("admin-token-ns-1"))
        .await
        .unwrap();
    let status: Value = serde_json::from_str(&body).unwrap();
    assert!(
        status["tenants"]["broken"]["last_run"]["error"]
            .as_str()
            .unwrap()
            .contains("credentials"),
        "{status}"
    );
    assert_eq!(status["tenants"]["north"]["state"], "ok");
    assert!(status["tenants"]["north"]["next_run_at"].is_string(), "{status}");

    let active = |d: &hrsync_sim::SampleData| {
        d.employees
            .iter()
            .filter(|e| e.status != "T")
            .map(|e| e.employee_id.clone())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        scim.users("north").await.keys().cloned().collect::<BTreeSet<_>>(),
        active(&north)
    );
    assert_eq!(
        scim.users("south").await.keys().cloned().collect::<BTreeSet<_>>(),
        active(&south)
    );
    assert!(scim.users("broken").await.is_empty());

    // A second process cannot open the database the service holds: it says why and what to do.
    let busy = setup.sync("north").await;
    assert_eq!(busy.code, Some(1), "{busy:?}");
    assert!(
        busy.stderr.contains("cannot open the state database") && busy.stderr.contains("POST /tenants/ID/sync"),
        "{busy:?}"
    );

    assert_eq!(service.get("/healthz").await.map(|r| r.0), Some(200));
    assert_eq!(service.get("/readyz").await.map(|r| r.0), Some(200));

    let (code, log) = service.terminate().await;
    assert_eq!(code, Some(0), "exit code after SIGTERM; log:\n{log}");
    assert!(log.contains("hrsync stopped"), "{log}");
}
