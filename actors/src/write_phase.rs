//! Runs a phase of per-employee writes to the app — a page, or an end-of-run phase
//! (deferred creates, reconciliation, manager links, deactivations) — and holds the one rule
//! that stops a run when the app itself fails ([`drain_writes`]). Used by the writer and by
//! `reconcile`; the writer ends the run (`writer::end_run_on_app_failure`).

use futures::StreamExt;

use crate::error::{ScimError, StoreError};
use crate::store::ProgressStore;
use crate::writer::WriteError;

/// Writes confirmed by the app between two flushes in the end-of-run phases (deactivations,
/// manager links), so a kill there costs at most this many replays, like a page.
pub(crate) const FLUSH_EVERY: usize = 100;

/// What [`drain_writes`] gathered.
pub(crate) struct Drained<T> {
    /// Each write tried, with its result (app failures that end the run excluded).
    pub results: Vec<(String, Result<T, WriteError>)>,
    /// The app failure that stopped the writes, if one did: the run must end failed.
    pub app_failed: Option<ScimError>,
}

/// Runs one write per item, `concurrency` at a time, for a page or an end-of-run phase
/// (deferred creates, reconciliation, manager links, deactivations), flushing the store every `flush_every`
/// results when set. It keeps the one rule that stops a run on the app's failure, for every
/// phase alike: a write that failed on the app itself after its retries (unreachable, token
/// refused, base path missing, 429 or 5xx past the retry budget:
/// [`ScimError::is_fatal_for_run`]) stops the phase. No further write is started; the
/// writes already in flight finish (each retried as usual), so an app that went down costs
/// at most `concurrency` writes' retries, not one per remaining user. What was not tried
/// stays pending in the store (a pending create, link or deactivation), dropped and planned
/// again by the next run; what was confirmed is flushed before the phase returns.
pub(crate) async fn drain_writes<I, F, Fut, T>(
    items: I,
    concurrency: usize,
    store: &dyn ProgressStore,
    flush_every: Option<usize>,
    write: F,
) -> Result<Drained<T>, StoreError>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: std::future::Future<Output = (String, Result<T, WriteError>)>,
{
    let stop = std::sync::atomic::AtomicBool::new(false);
    let stream = futures::stream::iter(items)
        .take_while(|_| std::future::ready(!stop.load(std::sync::atomic::Ordering::Relaxed)))
        .map(write)
        .buffer_unordered(concurrency.max(1));
    futures::pin_mut!(stream);
    let mut drained = Drained {
        results: Vec::new(),
        app_failed: None,
    };
    let mut seen = 0usize;
    while let Some((id, result)) = stream.next().await {
        seen += 1;
        match result {
            Err(WriteError::Scim(e)) if e.is_fatal_for_run() => {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                drained.app_failed.get_or_insert(e);
            }
            result => drained.results.push((id, result)),
        }
        if flush_every.is_some_and(|n| seen.is_multiple_of(n.max(1))) {
            store.flush().await?;
        }
    }
    if drained.app_failed.is_some() {
        // What the app confirmed before it failed is made durable before the run ends.
        store.flush().await?;
    }
    Ok(drained)
}
