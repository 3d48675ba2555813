//! What `/status` and `hrsync status` read: one [`TenantStatus`] per tenant, written by the
//! tenant supervisors. Holds no secrets and no upstream host names.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{Outcome, RunSummary};
use crate::quarantine::Quarantine;

/// Where a tenant stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantState {
    /// No run yet.
    Idle,
    /// A run is in progress.
    Running,
    /// The last run applied everything.
    Ok,
    /// The last run completed with some records set aside.
    Degraded,
    /// The last run could not complete.
    Failed,
    /// The last run held its deactivations for approval (the brake tripped).
    Held,
    /// Failing repeatedly (or credentials refused): runs back off until one succeeds.
    Quarantined,
}

/// The status of one tenant.
#[derive(Debug, Clone, Serialize)]
pub struct TenantStatus {
    pub state: TenantState,
    /// The run in progress, if any.
    pub current_run: Option<u64>,
    pub last_run: Option<RunSummary>,
    pub next_run_at: Option<DateTime<Utc>>,
    /// Pipeline restarts since the process started.
    pub restarts: u64,
    /// Whether the tenant's actors are up.
    pub up: bool,
    /// Failed runs in a row.
    pub consecutive_failures: u32,
    /// Set while the tenant is quarantined.
    pub quarantine: Option<Quarantine>,
    pub emails_sent: u64,
    /// Failed send attempts (each email is retried until sent or expired).
    pub emails_failed: u64,
    pub last_email_error: Option<String>,
}

impl Default for TenantStatus {
    fn default() -> Self {
        TenantStatus {
            state: TenantState::Idle,
            current_run: None,
            last_run: None,
            next_run_at: None,
            restarts: 0,
            up: false,
            consecutive_failures: 0,
            quarantine: None,
            emails_sent: 0,
            emails_failed: 0,
            last_email_error: None,
        }
    }
}

/// Shared, cheap-to-clone map of tenant statuses.
#[derive(Debug, Clone, Default)]
pub struct StatusBoard(Arc<RwLock<BTreeMap<String, TenantStatus>>>);

impl StatusBoard {
    /// Changes one tenant's status.
    pub fn update(&self, tenant: &str, f: impl FnOnce(&mut TenantStatus)) {
        let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
        f(map.entry(tenant.to_string()).or_default());
    }

    /// A copy of every tenant's status.
    pub fn snapshot(&self) -> BTreeMap<String, TenantStatus> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether every listed tenant's actors are up.
    pub fn all_up(&self) -> bool {
        self.0.read().unwrap_or_else(|p| p.into_inner()).values().all(|s| s.up)
    }

    /// Records a finished run.
    pub fn finished(&self, summary: &RunSummary) {
        self.update(&summary.tenant, |s| {
            s.state = match summary.outcome {
                Outcome::Ok => TenantState::Ok,
                Outcome::CompletedWithFailures => TenantState::Degraded,
                Outcome::Failed => TenantState::Failed,
                Outcome::Held => TenantState::Held,
            };
            s.current_run = None;
            let mut last = summary.clone();
            last.failures.truncate(20);
            s.last_run = Some(last);
        });
    }
}
