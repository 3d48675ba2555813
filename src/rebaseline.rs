//! `hrsync rebaseline`: starts a tenant (or, with `--all`, every tenant) afresh after its
//! state was damaged or lost, explicitly — the commands never do it silently.
//!
//! `--tenant ID` drops that tenant's state from the database (the other tenants keep
//! theirs) and forgets it in the run ledger; its next run is a first sync, which adopts the
//! app's users by externalId (then userName) instead of creating them, and deactivates the
//! leavers. `--all` is for a database that cannot be opened at all: the data directory is
//! moved aside to `DATA_DIR.corrupt-<timestamp>` (never deleted) and an empty one made.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use chrono::Utc;
use hrsync_actors::store::Store;

/// Runs `hrsync rebaseline` on `data_dir`.
pub fn run(data_dir: &Path, tenant: Option<&str>, all: bool) -> anyhow::Result<ExitCode> {
    if all {
        let aside = move_aside(data_dir)?;
        println!(
            "moved {} aside to {}; every tenant starts afresh: its next run adopts the app's users by externalId",
            data_dir.display(),
            aside.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let Some(tenant) = tenant else {
        bail!("say which tenant to start afresh (--tenant ID), or --all");
    };
    let store = Store::open_unchecked(data_dir).map_err(|e| match e {
        e if e.is_unreadable() => anyhow!(
            "the state database in {} cannot be read at all; restore it from a backup, or move it aside with `hrsync rebaseline --config FILE --all`",
            data_dir.display()
        ),
        e => anyhow!(e).context(format!(
            "cannot open the state database in {} (stop `hrsync run` first)",
            data_dir.display()
        )),
    })?;
    store.rebaseline(tenant)?;
    drop(store);
    println!(
        "tenant {tenant} starts afresh: its next run adopts the app's users by externalId and deactivates the leavers"
    );
    // Other tenants may be damaged too: say so now rather than at the next command.
    if let Err(e) = Store::open(data_dir) {
        println!("still refused: {e}");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Renames `dir` to `dir.corrupt-<timestamp>` and creates it again, empty.
fn move_aside(dir: &Path) -> anyhow::Result<PathBuf> {
    if !dir.exists() {
        bail!("data_dir {} does not exist: nothing to move aside", dir.display());
    }
    // sled holds a lock on `db` while a process has the database open. (Not opened with
    // sled here: its recovery would write over the damaged part kept for inspection.)
    if let Ok(f) = std::fs::File::open(dir.join("db")) {
        if f.try_lock().is_err() {
            bail!(
                "the state database in {} is in use; stop `hrsync run` first",
                dir.display()
            );
        }
    }
    let name = format!(
        "{}.corrupt-{}",
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "data".into()),
        Utc::now().format("%Y%m%dT%H%M%SZ")
    );
    let aside = dir.with_file_name(name);
    std::fs::rename(dir, &aside).with_context(|| format!("cannot move {} to {}", dir.display(), aside.display()))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(aside)
}
