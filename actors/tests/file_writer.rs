//! The file writer under supervision, in-process against the UKG simulator: a crash between
//! two pages, and a crash after the run's file was delivered but before its states were
//! committed, each restart the pipeline; the resumed run delivers the same file again (same
//! name, every row) and only then records progress; the next run has nothing to do.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hrsync_actors::faults::{FaultHook, PanicPoint};
use hrsync_actors::model::{Outcome, RunSummary};
use hrsync_actors::root::{RootArgs, RootMsg, Supervisor};
use hrsync_actors::spec::{FileSpec, TargetSpec, TenantSpec};
use hrsync_actors::status::StatusBoard;
use hrsync_actors::store::Store;
use hrsync_actors::upstream::RetryPolicy;
use hrsync_actors::user_file::{self, FileFormat};
use hrsync_sim::{sample_roster, UkgSim, UkgSimConfig};
use ractor::{Actor, ActorRef};

const TENANT: &str = "file-crash";

fn spec(ukg: &UkgSim, dir: &Path) -> TenantSpec {
    let mut t = TenantSpec::local(
        TENANT,
        ukg.base_url(),
        ("svc", "pw", "KEY01"),
        "http://127.0.0.1:9/unused".into(),
        "unused",
        10,
    );
    t.target = TargetSpec::File(FileSpec {
        format: FileFormat::Csv,
        columns: user_file::default_columns(),
        date_format: user_file::DEFAULT_DATE_FORMAT.into(),
        directory: Some(dir.to_path_buf()),
        keep: 30,
        sftp: None,
    });
    t
}

async fn run_now(root: &ActorRef<RootMsg>) -> RunSummary {
    let (tx, rx) = tokio::sync::oneshot::channel();
    root.cast(RootMsg::RunNow {
        tenant: TENANT.into(),
        reply: tx.into(),
    })
    .unwrap();
    tokio::time::timeout(Duration::from_secs(60), rx)
        .await
        .expect("run timed out")
        .expect("tenant stopped")
}

fn run_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            !name.starts_with('.') && name.contains("-run")
        })
        .collect();
    files.sort();
    files
}

/// The `email` column of a user CSV, read with a real CSV reader.
fn emails(path: &Path) -> BTreeSet<String> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records().map(|rec| rec.unwrap()[0].to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_after_delivery_rewrites_the_same_file_before_progress_is_recorded() {
    let data = sample_roster(45, 9, "crashfile.example");
    let ukg = UkgSim::start(UkgSimConfig::new("svc", "pw", "KEY01", data))
        .await
        .unwrap();
    let expected: BTreeSet<String> = ukg
        .employees()
        .into_iter()
        .filter(|e| e.status != "T")
        .map(|e| e.email.unwrap().to_lowercase())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let faults = Arc::new(FaultHook::default());
    faults.arm(PanicPoint::AfterCommit {
        tenant: TENANT.into(),
        page: 2,
    });
    faults.arm(PanicPoint::BeforeFileCommit { tenant: TENANT.into() });
    let store = Store::temporary().unwrap();
    let status = StatusBoard::default();
    let (root, _) = Actor::spawn(
        None,
        Supervisor,
        RootArgs {
            tenants: vec![spec(&ukg, dir.path())],
            store: store.clone(),
            status: status.clone(),
            smtp: None,
            autostart: false,
            retry: RetryPolicy::default(),
            faults: Some(faults),
            max_concurrent_runs: None,
            start_spread: Duration::ZERO,
        },
    )
    .await
    .unwrap();
    let tenant_store = store.tenant(TENANT).unwrap();

    let run = tokio::spawn({
        let root = root.clone();
        async move { run_now(&root).await }
    });
    // The file is delivered, then the writer crashes before committing: nothing is recorded
    // yet (the restart waits a backoff of 1 s).
    let deadline = Instant::now() + Duration::from_secs(30);
    while run_files(dir.path()).is_empty() {
        assert!(Instant::now() < deadline, "no file delivered");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        tenant_store.employee_count(),
        0,
        "delivered, but no employee's state recorded before the commit"
    );
    let first_delivery = run_files(dir.path());

    let summary = run.await.unwrap();
    assert_eq!(summary.outcome, Outcome::Ok, "{summary:?}");
    assert_eq!(
        status.snapshot()[TENANT].restarts,
        2,
        "a crash between pages, one after delivery"
    );
    assert_eq!(
        summary.counts.created,
        expected.len() as u64,
        "counts survive: {summary:?}"
    );
    assert_eq!(
        tenant_store.employee_count(),
        expected.len(),
        "recorded after the re-delivery"
    );
    let files = run_files(dir.path());
    assert_eq!(files, first_delivery, "the resumed run wrote the same file name");
    assert_eq!(emails(&files[0]), expected, "every row, once");
    assert_eq!(
        std::fs::read(&files[0]).unwrap(),
        std::fs::read(dir.path().join(format!("{TENANT}-users-latest.csv"))).unwrap()
    );

    // Nothing left to do: the next run's file has the same rows.
    let next = run_now(&root).await;
    assert_eq!(next.outcome, Outcome::Ok, "{next:?}");
    assert_eq!(
        (next.counts.created, next.counts.unchanged),
        (0, ukg.employees().len() as u64),
        "{next:?}"
    );
    let files = run_files(dir.path());
    assert_eq!(files.len(), 2);
    assert_eq!(std::fs::read(&files[0]).unwrap(), std::fs::read(&files[1]).unwrap());
    root.stop_and_wait(None, Some(Duration::from_secs(30))).await.unwrap();
}
