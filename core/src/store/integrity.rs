//! Knowing that the store opened is the store that was written: a header inside the
//! database and a run ledger beside it.
//!
//! sled 0.34 recovers its log up to the first damaged message and silently drops the rest:
//! zeroed bytes in the middle of `db`, or a truncated `db`, open as an older (or an empty)
//! store, with no error. hrsync would then plan every employee again, lose who is to be
//! deactivated, and restart its run numbering. So:
//! - the database holds a header (`hrsync/header` in sled's default tree: format version,
//!   store id, creation time), written when the store is created;
//! - the data directory holds a ledger, `hrsync.ledger.json`, outside sled's log: the same
//!   header and, per tenant, the id of its last finished run. It is rewritten (to a temporary
//!   file, then renamed) only after that run's summary was flushed, so the record it names is
//!   always on disk.
//!
//! On open, [`check`] refuses ([`StoreError::Damaged`]) a database whose header is missing
//! or differs from the ledger's, or in which a tenant's last finished run has no record. A
//! store written before the header existed (no header, no ledger) is given both. A missing
//! ledger beside a header is rebuilt from the database (it only names records that exist).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// The key of the header in sled's default tree.
const HEADER_KEY: &[u8] = b"hrsync/header";
/// The ledger's file name in the data directory.
pub const LEDGER_FILE: &str = "hrsync.ledger.json";
/// The store's format version.
pub const FORMAT: u32 = 1;

/// What identifies a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The store's format version ([`FORMAT`]).
    pub format: u32,
    /// A random id given when the store was created.
    pub store_id: String,
    pub created_at: DateTime<Utc>,
}

/// The file beside the database: its header and each tenant's last finished run.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ledger {
    header: Header,
    /// Tenant id → id of its last finished run.
    tenants: BTreeMap<String, u64>,
}

fn ledger_path(dir: &Path) -> PathBuf {
    dir.join(LEDGER_FILE)
}

fn damaged(dir: &Path, what: impl Into<String>) -> StoreError {
    StoreError::Damaged {
        dir: dir.display().to_string(),
        what: what.into(),
    }
}

fn read_ledger(dir: &Path) -> Result<Option<Ledger>, StoreError> {
    let path = ledger_path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(damaged(dir, format!("cannot read {LEDGER_FILE}: {e}"))),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| damaged(dir, format!("{LEDGER_FILE} is unreadable: {e}")))
}

fn write_ledger(dir: &Path, ledger: &Ledger) -> Result<(), StoreError> {
    let tmp = dir.join(format!("{LEDGER_FILE}.tmp"));
    let bytes = serde_json::to_vec_pretty(ledger).unwrap_or_default();
    let io = |e: std::io::Error| StoreError::Sled(sled::Error::Io(e));
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, ledger_path(dir)).map_err(io)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn header(db: &sled::Db) -> Result<Option<Header>, StoreError> {
    match db.get(HEADER_KEY)? {
        None => Ok(None),
        Some(v) => serde_json::from_slice(&v).map(Some).map_err(|e| StoreError::Corrupt {
            key: "hrsync/header".into(),
            detail: e.to_string(),
        }),
    }
}

/// The id of the last finished run recorded in each tenant's tree.
fn last_runs(db: &sled::Db) -> Result<BTreeMap<String, u64>, StoreError> {
    let mut out = BTreeMap::new();
    for name in db.tree_names() {
        if name.as_ref() == b"__sled__default" {
            continue;
        }
        let tree = db.open_tree(&name)?;
        if let Some((k, _)) = tree.scan_prefix(super::RUNS).next_back().transpose()? {
            if let Ok(id) = <[u8; 8]>::try_from(&k[super::RUNS.len()..]) {
                out.insert(String::from_utf8_lossy(&name).into_owned(), u64::from_be_bytes(id));
            }
        }
    }
    Ok(out)
}

fn has_data(db: &sled::Db) -> bool {
    db.tree_names()
        .iter()
        .filter(|n| n.as_ref() != b"__sled__default")
        .any(|n| db.open_tree(n).is_ok_and(|t| !t.is_empty()))
}

/// Checks the database in `dir` against its header and ledger; creates them for a new store
/// (or one written before they existed).
pub fn check(db: &sled::Db, dir: &Path) -> Result<(), StoreError> {
    let ledger = read_ledger(dir)?;
    let header = header(db).map_err(|e| damaged(dir, format!("the store header is unreadable ({e})")))?;
    match (header, ledger) {
        (None, None) => {
            let fresh = Header {
                format: FORMAT,
                store_id: format!("{:016x}", rand::random::<u64>()),
                created_at: Utc::now(),
            };
            if has_data(db) {
                tracing::info!(data_dir = %dir.display(), "store written before store headers: header and ledger added");
            }
            db.insert(HEADER_KEY, serde_json::to_vec(&fresh).unwrap_or_default())?;
            db.flush()?;
            write_ledger(
                dir,
                &Ledger {
                    header: fresh,
                    tenants: last_runs(db)?,
                },
            )
        }
        (None, Some(_)) => Err(damaged(
            dir,
            format!("the store header is missing from the database while {LEDGER_FILE} says it was written (the database lost data)"),
        )),
        (Some(header), None) => {
            tracing::warn!(data_dir = %dir.display(), "{LEDGER_FILE} missing; rebuilt from the database");
            write_ledger(
                dir,
                &Ledger {
                    header,
                    tenants: last_runs(db)?,
                },
            )
        }
        (Some(header), Some(ledger)) => {
            if header != ledger.header {
                return Err(damaged(
                    dir,
                    format!(
                        "the database is store {} but {LEDGER_FILE} names store {}",
                        header.store_id, ledger.header.store_id
                    ),
                ));
            }
            if header.format > FORMAT {
                return Err(damaged(
                    dir,
                    format!("store format {} is newer than this hrsync understands ({FORMAT}); upgrade hrsync", header.format),
                ));
            }
            for (tenant, run) in &ledger.tenants {
                let key = [super::RUNS, &run.to_be_bytes()].concat();
                let found = db.open_tree(tenant)?.contains_key(key)?;
                if !found {
                    return Err(damaged(
                        dir,
                        format!("tenant {tenant}: the record of its last run ({run}) is missing (the database lost data)"),
                    ));
                }
            }
            Ok(())
        }
    }
}

/// Records in the ledger that `tenant` finished run `run` (after the run's record was
/// flushed). A failure is returned to the caller, who only logs it: a ledger behind the
/// database still names records that exist.
pub fn record_run(dir: &Path, tenant: &str, run: u64) -> Result<(), StoreError> {
    let Some(mut ledger) = read_ledger(dir)? else {
        return Ok(());
    };
    let last = ledger.tenants.entry(tenant.to_string()).or_default();
    if *last >= run {
        return Ok(());
    }
    *last = run;
    write_ledger(dir, &ledger)
}

/// Forgets `tenant` in the ledger (`hrsync rebaseline`), and writes the database's header
/// there again (and into the database if it lost it), so the store opens.
pub fn forget_tenant(db: &sled::Db, dir: &Path, tenant: &str) -> Result<(), StoreError> {
    let ledger = read_ledger(dir).ok().flatten();
    let header = match (header(db).ok().flatten(), ledger.as_ref()) {
        (Some(h), _) => h,
        (None, Some(l)) => l.header.clone(),
        (None, None) => Header {
            format: FORMAT,
            store_id: format!("{:016x}", rand::random::<u64>()),
            created_at: Utc::now(),
        },
    };
    db.insert(HEADER_KEY, serde_json::to_vec(&header).unwrap_or_default())?;
    db.flush()?;
    let mut tenants = ledger.map(|l| l.tenants).unwrap_or_default();
    tenants.remove(tenant);
    write_ledger(dir, &Ledger { header, tenants })
}
