//! The messages that carry one page of a run down the pipeline (fetcher → mapper →
//! writer): they hold the fetcher's `ActorRef` for the page's acknowledgement, so they live
//! with the actors, not in `hrsync_core::model`.

use crate::model::{Employee, PlanItem, RecordFailure, RunCtx};

/// One page of the roster, joined, on its way to the mapper.
#[derive(Debug, Clone)]
pub struct Page {
    pub run: RunCtx,
    /// 1-based index of this employment-details page in the run.
    pub index: u32,
    /// True when this is the last page of the roster.
    pub last: bool,
    pub employees: Vec<Employee>,
    /// Rows of this page that could not be read as an employee.
    pub failures: Vec<RecordFailure>,
    /// Employee ids of rows set aside here (unreadable, listed twice, no demographics): present
    /// in UKG, so never deactivated by absence.
    pub present: Vec<String>,
    /// Where the writer sends `PageCommitted` (the fetcher that read this page).
    pub ack: ractor::ActorRef<crate::fetcher::FetcherMsg>,
}

/// What the mapper decided for one page.
#[derive(Debug, Clone)]
pub struct PagePlan {
    pub run: RunCtx,
    pub index: u32,
    pub last: bool,
    pub items: Vec<PlanItem>,
    /// Employees read and found unchanged.
    pub unchanged: u64,
    /// Employees set aside by the mapper (and manager links it skipped).
    pub failures: Vec<RecordFailure>,
    /// Employees out of scope on this page, with the rule that excluded each.
    pub excluded: Vec<RecordFailure>,
    /// Changes left for the next run: not in the approved first-run review.
    pub deferred: u64,
    /// Employee ids present on this page (for deactivation by absence).
    pub seen: Vec<String>,
    /// Rows on this page (employees read).
    pub read: u64,
    /// Where the writer sends `PageCommitted`.
    pub ack: ractor::ActorRef<crate::fetcher::FetcherMsg>,
}
