//! What a run does when the store itself fails (a full disk, an I/O error, a damaged
//! database): the run ends `failed` with the storage reason — never an endless restart of
//! the pipeline — and its summary carries the counts committed so far.
//!
//! Used by the tenant supervisor; plain functions, no messages.

use crate::model::{Counts, RecordFailure};
use crate::store::ProgressStore;

/// Every storage failure's message starts with this (see `error::StoreError`).
pub const STORAGE_PREFIX: &str = "storage: ";

/// The storage failure in an actor's crash reason, if that is why it crashed.
pub fn storage_reason(crash_reason: &str) -> Option<String> {
    crash_reason
        .find(STORAGE_PREFIX)
        .map(|at| crash_reason[at..].to_string())
}

/// What run `run_id` committed so far: counts (writes counted one by one, pages as
/// committed, across resumes), records set aside, employees out of scope, pages. Empty when
/// the store cannot say (it failed) or holds another run.
pub fn committed(store: &dyn ProgressStore, run_id: u64) -> (Counts, Vec<RecordFailure>, Vec<RecordFailure>, u32) {
    match store.cursor() {
        Ok(Some(c)) if c.run_id == run_id => (c.counts, c.failures, c.excluded, c.pages_committed),
        Ok(_) => Default::default(),
        Err(e) => {
            tracing::warn!(run = run_id, error = %e, "cannot read the run's committed counts");
            Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_storage_reason_in_a_crash_reason() {
        let r = "writer: storage: no space left on device in the data directory (data_dir)";
        assert_eq!(
            storage_reason(r).as_deref(),
            Some("storage: no space left on device in the data directory (data_dir)")
        );
        assert_eq!(storage_reason("the app answered 500"), None);
    }
}
