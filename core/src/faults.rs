//! Test-only fault injection: one-shot panics at chosen points inside actor handlers, so
//! tests can prove that a crashed actor is restarted and resumes from committed progress.
//! The service never arms any (it passes no hook); tests arm them through `RootArgs`.

use std::sync::Mutex;

/// Where to panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PanicPoint {
    /// In the mapper, when it maps this employee of this tenant.
    Map { tenant: String, employee_id: String },
    /// In the writer, right after page `page` of this tenant was committed and flushed
    /// (before the fetcher is acked).
    AfterCommit { tenant: String, page: u32 },
    /// In the writer, when a create deferred to the end of a first sync was applied and its
    /// user recorded, before its pending entry is dropped.
    DeferredCreateRecorded { tenant: String, employee_id: String },
    /// In the file writer, after the run's file was delivered and before the run's states
    /// were committed.
    BeforeFileCommit { tenant: String },
    /// In the first-run review's worker, before it computes the plan.
    Review { tenant: String },
}

/// A set of armed one-shot panic points.
#[derive(Debug, Default)]
pub struct FaultHook {
    armed: Mutex<Vec<PanicPoint>>,
}

impl FaultHook {
    /// Arms a point: the next time it is reached, the actor panics (once).
    pub fn arm(&self, point: PanicPoint) {
        self.armed.lock().unwrap_or_else(|p| p.into_inner()).push(point);
    }

    /// Panics if `point` is armed, disarming it.
    pub fn check(&self, point: &PanicPoint) {
        let mut armed = self.armed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = armed.iter().position(|p| p == point) {
            armed.remove(i);
            drop(armed);
            panic!("injected fault at {point:?}");
        }
    }
}

/// Checks `point` against an optional hook.
pub fn check(hook: &Option<std::sync::Arc<FaultHook>>, point: impl FnOnce() -> PanicPoint) {
    if let Some(h) = hook {
        h.check(&point());
    }
}
