//! A real OpenSSH `sshd` (Debian's openssh-server, `/usr/sbin/sshd`) on a loopback port, for
//! the file writer's SFTP tests, and a TCP relay in front of it that can cut the connection
//! (and kill sshd) in the middle of an upload.
//!
//! sshd runs as the current user with its own `sshd_config` in a temporary folder: a
//! throwaway host key and user key, `AuthorizedKeysFile` there, `UsePAM no`, `StrictModes
//! no`, the internal SFTP server. Under root it needs the privilege separation folder
//! `/run/sshd`, which is created when missing (scripts/test.sh installs openssh-server).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::free_port;

const SSHD: &str = "/usr/sbin/sshd";

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "hrsync-test", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (openssh-client) is needed; scripts/test.sh installs openssh-server");
    assert!(status.success(), "ssh-keygen failed");
}

/// `TYPE BASE64` of a public key file.
fn public_key(path: &Path) -> String {
    let text = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    text.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// The user the tests run as (sshd logs it in).
pub fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A running sshd; killed on drop.
pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    /// The listener's pid (0 when stopped), for the relay to kill it mid-upload.
    pid: Arc<AtomicU32>,
}

impl Sshd {
    pub fn start() -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing; scripts/test.sh installs Debian's openssh-server"
        );
        if unsafe { libc::geteuid() } == 0 && !Path::new("/run/sshd").exists() {
            std::fs::create_dir_all("/run/sshd").unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        keygen(&dir.path().join("host_key"));
        keygen(&dir.path().join("user_key"));
        keygen(&dir.path().join("other_host_key"));
        std::fs::write(
            dir.path().join("authorized_keys"),
            public_key(&dir.path().join("user_key")) + "\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("inbound")).unwrap();
        let mut sshd = Sshd {
            dir,
            port: free_port(),
            child: None,
            pid: Arc::new(AtomicU32::new(0)),
        };
        sshd.restart();
        sshd
    }

    /// Starts (again) on the same port with the same keys.
    pub fn restart(&mut self) {
        self.kill();
        let d = self.dir.path().display();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nPubkeyAuthentication yes\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n\
             Subsystem sftp internal-sftp\nLogLevel ERROR\n",
            port = self.port
        );
        let config_path = self.dir.path().join("sshd_config");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start sshd");
        self.pid.store(child.id(), Ordering::SeqCst);
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!(
                        "sshd exited at start ({status}); run it by hand: {SSHD} -D -e -f {}",
                        config_path.display()
                    );
                }
            }
            assert!(Instant::now() < deadline, "sshd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops sshd (SIGKILL) if it runs.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.pid.store(0, Ordering::SeqCst);
    }

    /// The folder the tests upload to.
    pub fn inbound(&self) -> PathBuf {
        self.dir.path().join("inbound")
    }

    pub fn user_key(&self) -> PathBuf {
        self.dir.path().join("user_key")
    }

    /// A known_hosts file (in the sshd folder) that lists this server at `port` with its real
    /// host key, or with another key.
    pub fn known_hosts(&self, port: u16, right_key: bool) -> PathBuf {
        let key = if right_key { "host_key" } else { "other_host_key" };
        let path = self.dir.path().join(format!("known_hosts_{port}_{key}"));
        let line = format!("[127.0.0.1]:{port} {}\n", public_key(&self.dir.path().join(key)));
        std::fs::write(&path, format!("# test\nexample.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAxdgn+rME2kwo7K9QWUuARmkF4rWPU7GrUAWkq1qAV6\n{line}")).unwrap();
        path
    }

    /// The `[tenants.file]` sftp table for this server at `port` (sshd's own or a relay's).
    pub fn sftp_toml(&self, port: u16, right_key: bool) -> String {
        format!(
            "sftp = {{ host = \"127.0.0.1\", port = {port}, username = \"{user}\", key_file = \"{key}\", remote_dir = \"{dir}\", known_hosts = \"{kh}\", timeout = \"10s\" }}\n",
            user = current_user(),
            key = self.user_key().display(),
            dir = self.inbound().display(),
            kh = self.known_hosts(port, right_key).display(),
        )
    }

    /// Names of the files in the inbound folder (hidden ones included), sorted.
    pub fn inbound_files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.inbound())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP relay to sshd that, once armed, cuts the connection after `after` bytes went from
/// the client to the server, killing sshd (SIGKILL) at that moment.
pub struct CutRelay {
    pub port: u16,
    cut_after: Arc<AtomicUsize>,
    cut: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl CutRelay {
    pub async fn start(sshd: &Sshd) -> CutRelay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (upstream, pid) = (sshd.port, sshd.pid.clone());
        let cut_after = Arc::new(AtomicUsize::new(usize::MAX));
        let cut = Arc::new(AtomicBool::new(false));
        let (after, fired) = (cut_after.clone(), cut.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (after, fired, pid) = (after.clone(), fired.clone(), pid.clone());
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    relay(client, server, &after, &fired, &pid).await;
                });
            }
        });
        CutRelay {
            port,
            cut_after,
            cut,
            task,
        }
    }

    /// Cuts the next connection once `bytes` went upstream.
    pub fn arm(&self, bytes: usize) {
        self.cut_after.store(bytes, Ordering::SeqCst);
    }

    /// Whether a cut happened.
    pub fn fired(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }
}

impl Drop for CutRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(
    client: tokio::net::TcpStream,
    server: tokio::net::TcpStream,
    after: &AtomicUsize,
    fired: &AtomicBool,
    pid: &AtomicU32,
) {
    let (mut cr, cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let (drop_client, mut dropped) = tokio::sync::oneshot::channel::<()>();
    // Server → client until told to drop the client; then the server's output is drained
    // (never left unread, which would reset the connection and lose what sshd has not read).
    let down = tokio::spawn(async move {
        let mut cw = Some(cw);
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            tokio::select! {
                _ = &mut dropped, if cw.is_some() => cw = None,
                read = sr.read(&mut buf) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if let Some(w) = cw.as_mut() {
                            if w.write_all(&buf[..n]).await.is_err() {
                                cw = None;
                            }
                        }
                    }
                },
            }
        }
    });
    let mut sent = 0usize;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match cr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if sw.write_all(&buf[..n]).await.is_err() {
            break;
        }
        sent += n;
        if sent >= after.load(Ordering::SeqCst) {
            // The server goes away in the middle of the upload: sshd is killed, the client
            // loses its connection; the session process gets what was sent, then the end.
            after.store(usize::MAX, Ordering::SeqCst);
            fired.store(true, Ordering::SeqCst);
            let p = pid.swap(0, Ordering::SeqCst);
            if p != 0 {
                unsafe { libc::kill(p as i32, libc::SIGKILL) };
            }
            let _ = sw.shutdown().await;
            let _ = drop_client.send(());
            drop(cr);
            let _ = down.await;
            return;
        }
    }
    let _ = sw.shutdown().await;
    let _ = down.await;
}
