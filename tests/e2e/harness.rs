//! The test harness: starts the real `scim2-server` and `aiosmtpd` (PyPI) on free loopback
//! ports, the UKG simulator in-process, and the `hrsync` binary as a child process with a
//! config file and secrets in its environment.

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hrsync_sim::{sample_roster, SampleData, UkgSim, UkgSimConfig};
use serde_json::Value;

pub const UKG_USER: &str = "svc-hrsync";

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn scim2_server_bin() -> PathBuf {
    if let Ok(p) = std::env::var("HRSYNC_SCIM2_SERVER") {
        return p.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/scim2-server");
    if venv.exists() {
        return venv;
    }
    "scim2-server".into()
}

/// A real scim2-server process serving the given tenants.
pub struct ScimServer {
    child: std::process::Child,
    pub port: u16,
    pub token: String,
}

impl ScimServer {
    pub async fn start(tenants: &[&str], token: &str) -> ScimServer {
        for _ in 0..3 {
            let port = free_port();
            let mut cmd = std::process::Command::new(scim2_server_bin());
            cmd.args([
                "--hostname",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--bearer-token",
                token,
            ]);
            for t in tenants {
                cmd.args(["--tenant", t]);
            }
            let child = cmd
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start scim2-server ({e}); run scripts/test.sh, which installs it into .venv")
                });
            let server = ScimServer {
                child,
                port,
                token: token.to_string(),
            };
            if server.wait_ready(tenants[0]).await {
                return server;
            }
        }
        panic!("scim2-server did not start")
    }

    async fn wait_ready(&self, tenant: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = reqwest::Client::new();
        while Instant::now() < deadline {
            let r = client
                .get(format!("{}/Users", self.base_url(tenant)))
                .bearer_auth(&self.token)
                .send()
                .await;
            if r.is_ok_and(|r| r.status() == 200) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    pub fn base_url(&self, tenant: &str) -> String {
        format!("http://127.0.0.1:{}/{tenant}/v2", self.port)
    }

    /// Every user of a tenant, keyed by externalId (users without one under their id).
    pub async fn users(&self, tenant: &str) -> BTreeMap<String, Value> {
        let client = reqwest::Client::new();
        let mut out = BTreeMap::new();
        let mut start = 1;
        loop {
            let page: Value = client
                .get(format!("{}/Users?startIndex={start}&count=100", self.base_url(tenant)))
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let resources = page["Resources"].as_array().cloned().unwrap_or_default();
            let n = resources.len();
            for u in resources {
                let key = u["externalId"].as_str().or(u["id"].as_str()).unwrap().to_string();
                out.insert(key, u);
            }
            let total = page["totalResults"].as_u64().unwrap_or(0) as usize;
            start += n;
            if n == 0 || start > total {
                return out;
            }
        }
    }

    /// Creates a user directly in the app (as an admin or a CSV import would).
    pub async fn create_user(&self, tenant: &str, user: Value) -> Value {
        let r = reqwest::Client::new()
            .post(format!("{}/Users", self.base_url(tenant)))
            .bearer_auth(&self.token)
            .header("content-type", "application/scim+json")
            .body(user.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }
}

impl Drop for ScimServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a UKG simulator with `n` sample employees.
pub async fn ukg_sim(n: usize, seed: u64, domain: &str, password: &str, api_key: &str) -> (UkgSim, SampleData) {
    let data = sample_roster(n, seed, domain);
    let sim = UkgSim::start(UkgSimConfig::new(UKG_USER, password, api_key, data.clone()))
        .await
        .unwrap();
    (sim, data)
}

/// One tenant's part of a config file and the secrets it refers to.
pub struct TenantConf {
    pub id: String,
    pub ukg_base: String,
    pub scim_base: String,
    pub page_size: u32,
    pub ukg_password: String,
    pub ukg_api_key: String,
    pub scim_token: String,
}

impl TenantConf {
    /// A tenant of the simulator `ukg` (password "pw", API key "KEY01") writing to `scim`.
    pub fn on(id: &str, ukg: &UkgSim, scim: &ScimServer, page_size: u32) -> TenantConf {
        TenantConf {
            id: id.into(),
            ukg_base: ukg.base_url(),
            scim_base: scim.base_url(id),
            page_size,
            ukg_password: "pw".into(),
            ukg_api_key: "KEY01".into(),
            scim_token: scim.token.clone(),
        }
    }

    fn env_prefix(&self) -> String {
        self.id.to_uppercase().replace('-', "_")
    }

    pub fn toml(&self) -> String {
        let p = self.env_prefix();
        format!(
            r#"
[[tenants]]
id = "{id}"
schedule = "24h"
technical_contact = "it-alerts@{id}.example"

[tenants.ukg]
base_url = "{ukg}"
username = "{user}"
password_env = "{p}_UKG_PASSWORD"
api_key_env = "{p}_UKG_API_KEY"
page_size = {page_size}
requests_per_second = 200
{scim}"#,
            id = self.id,
            ukg = self.ukg_base,
            user = UKG_USER,
            page_size = self.page_size,
            scim = self.scim_toml(),
        )
    }

    /// The tenant's `[tenants.scim]` table, as `toml()` writes it.
    pub fn scim_toml(&self) -> String {
        format!(
            "\n[tenants.scim]\nbase_url = \"{}\"\ntoken_env = \"{}_SCIM_TOKEN\"\nrequests_per_second = 500\n",
            self.scim_base,
            self.env_prefix()
        )
    }

    pub fn env(&self) -> Vec<(String, String)> {
        let p = self.env_prefix();
        vec![
            (format!("{p}_UKG_PASSWORD"), self.ukg_password.clone()),
            (format!("{p}_UKG_API_KEY"), self.ukg_api_key.clone()),
            (format!("{p}_SCIM_TOKEN"), self.scim_token.clone()),
        ]
    }
}

/// A config file in a fresh temporary folder (the data_dir lives there too).
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub listen: u16,
    pub env: Vec<(String, String)>,
}

impl Setup {
    pub fn new(tenants: &[&TenantConf]) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let listen = free_port();
        let mut text = format!(
            "[service]\ndata_dir = \"{}\"\nlisten = \"127.0.0.1:{listen}\"\nstart_spread = \"0s\"\n",
            dir.path().join("data").display()
        );
        let mut env = Vec::new();
        for t in tenants {
            text.push_str(&t.toml());
            env.extend(t.env());
        }
        let config = dir.path().join("hrsync.toml");
        std::fs::write(&config, text).unwrap();
        Setup {
            dir,
            config,
            listen,
            env,
        }
    }

    /// Rewrites the config file (e.g. to add a key or change a limit).
    pub fn edit(&self, f: impl FnOnce(String) -> String) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        std::fs::write(&self.config, f(text)).unwrap();
    }

    /// Writes `tenant`'s users to another target: its `[tenants.scim]` table is replaced by
    /// `target` (e.g. a `[tenants.file]` table).
    pub fn set_target(&self, tenant: &TenantConf, target: &str) {
        let scim = tenant.scim_toml();
        self.edit(|t| {
            assert!(t.contains(&scim), "no [tenants.scim] table for {}", tenant.id);
            t.replacen(&scim, &format!("\n{target}"), 1)
        });
    }

    /// Short retry waits, so tests of failing upstreams finish quickly.
    pub fn fast_retries(&self) {
        self.edit(|t| {
            t.replacen(
                "[service]\n",
                "[service]\nretry_attempts = 4\nretry_base_delay = \"50ms\"\nretry_max_delay = \"200ms\"\n",
                1,
            )
        });
    }

    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hrsync"));
        cmd.args(args)
            .envs(self.env.iter().cloned())
            .env_remove("RUST_LOG")
            .kill_on_drop(true);
        cmd
    }

    /// `hrsync sync --tenant ID`, to completion.
    pub async fn sync(&self, tenant: &str) -> Run {
        let config = self.config.to_str().unwrap();
        self.run(&["sync", "--config", config, "--tenant", tenant]).await
    }

    /// `hrsync ARGS`, to completion.
    pub async fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().await.unwrap();
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// What one `hrsync` invocation printed.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The counts of the summary line: "created 3, adopted 0, …".
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let line = self
            .stdout
            .lines()
            .find(|l| l.starts_with("tenant "))
            .unwrap_or_else(|| panic!("no summary in {self:?}"));
        let (_, counts) = line.split_once(": ").unwrap();
        counts
            .split(", ")
            .map(|part| {
                let (name, n) = part.rsplit_once(' ').unwrap();
                (name.to_string(), n.parse().unwrap())
            })
            .collect()
    }

    pub fn count(&self, name: &str) -> u64 {
        *self
            .counts()
            .get(name)
            .unwrap_or_else(|| panic!("no count {name:?} in {self:?}"))
    }

    /// The request count printed for an upstream ("UKG" or "SCIM").
    pub fn requests(&self, upstream: &str) -> u64 {
        let suffix = format!(" {upstream} requests");
        let line = self
            .stdout
            .lines()
            .find(|l| l.contains(&suffix))
            .unwrap_or_else(|| panic!("no request counts in {self:?}"));
        let part = line.split(',').find(|p| p.ends_with(&suffix)).unwrap();
        part.trim().split(' ').next().unwrap().parse().unwrap()
    }

    /// (retries, retries after 429) printed for an upstream ("UKG" or "SCIM").
    pub fn retries(&self, upstream: &str) -> (u64, u64) {
        let line = self
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with("retries:"))
            .unwrap_or_else(|| panic!("no retries in {self:?}"));
        let part = line.split(&format!("{upstream} ")).nth(1).unwrap();
        let mut numbers = part
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|n| n.parse::<u64>().unwrap());
        (numbers.next().unwrap(), numbers.next().unwrap())
    }

    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, Some(0), "hrsync failed: {self:?}");
        self
    }
}

/// A real aiosmtpd saving every message into a Maildir.
pub struct Smtp {
    child: Child,
    pub port: u16,
    maildir: PathBuf,
}

impl Smtp {
    pub fn start(port: u16, maildir: &Path) -> Smtp {
        let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
        let child = Command::new(python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start aiosmtpd; run scripts/test.sh, which installs it into .venv");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Smtp {
            child,
            port,
            maildir: maildir.to_path_buf(),
        }
    }

    /// Every message received so far, as text.
    pub fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) {
                for e in entries {
                    out.push(std::fs::read_to_string(e.unwrap().path()).unwrap());
                }
            }
        }
        out
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
