//! Benchmark: what creating many sled trees costs (why the store keeps one tree per tenant).
//!
//! sled 0.34 rewrites its list of trees each time one is created, so creating T trees costs
//! time, memory and disk in proportion to T². The store once had 8 trees per tenant
//! (8,000 for 1,000 tenants); it now has one.
//!
//! ```sh
//! cargo build --release --example sled_trees
//! ./target/release/examples/sled_trees 1000     # TREES (each gets one small entry)
//! ./target/release/examples/sled_trees 8000
//! ```

use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let trees: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let dir = tempfile::tempdir()?;
    let db = sled::Config::new().path(dir.path()).open()?;
    let started = Instant::now();
    let mut open = Vec::with_capacity(trees);
    for i in 0..trees {
        let tree = db.open_tree(format!("t{i:05}/employees"))?;
        tree.insert(b"E1", b"{}")?;
        open.push(tree);
    }
    db.flush()?;
    let secs = started.elapsed().as_secs_f64();
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib = |field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let disk: u64 = walk(dir.path())?;
    println!(
        "{trees} trees created in {secs:.1} s; RSS {} MiB (peak {} MiB); on disk {} MiB",
        kib("VmRSS:") / 1024,
        kib("VmHWM:") / 1024,
        disk / (1024 * 1024)
    );
    Ok(())
}

/// Bytes of the files under `dir`.
fn walk(dir: &std::path::Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            walk(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}
