//! What `/status` and `hrsync status` read: one [`TenantStatus`] per tenant, written by the
//! tenant supervisors. Holds no secrets and no upstream host names.
//!
//! Every reason that enters the board (run errors, per-record failures, the last email
//! error, the quarantine reason) is cleaned with the tenant's [`Redactor`] (registered by
//! the root supervisor): capped, free of control characters, its secrets replaced.
//! [`TenantStatus::redacted`] is the view for readers without the admin token: states and
//! counts only, no reason (reasons name employees and their work emails).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde::Serialize;

use std::fmt::Write;

use crate::model::{Counts, Outcome, RunSummary};
use crate::quarantine::Quarantine;
use crate::sanitize::Redactor;
use crate::upstream::{Counters, STATUS_CLASSES};

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
    /// First-run review: a plan waits for approval (`hrsync approve --tenant ID`).
    AwaitingReview,
    /// The tenant's part of the config file cannot be used (a secret that does not resolve,
    /// a value that fails its check): it does not run; `config_error` says why. The other
    /// tenants run. A restart re-reads the file.
    Misconfigured,
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
    /// The run in progress: pages committed and employees read so far.
    pub progress: Option<(u32, u64)>,
    pub emails_sent: u64,
    /// Failed send attempts (each email is retried until sent or expired).
    pub emails_failed: u64,
    pub last_email_error: Option<String>,
    /// The plan waiting for approval (first-run review), if any.
    pub review: Option<crate::review::ReviewSummary>,
    /// Deactivations the brake held, waiting for `hrsync approve --run N` (0: none).
    pub deactivations_held: u64,
    /// The run whose deactivations are held (the N of `hrsync approve --run N`).
    pub held_run: Option<u64>,
    /// The change feed (tenants with `changes_every`): calls, last window, what it waits for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<crate::change_feed::FeedStatus>,
    /// Why the tenant is misconfigured: one line naming the file, the tenant, the key (and
    /// the environment variable); never a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_error: Option<String>,
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
            progress: None,
            emails_sent: 0,
            emails_failed: 0,
            last_email_error: None,
            review: None,
            deactivations_held: 0,
            held_run: None,
            changes: None,
            config_error: None,
        }
    }
}

/// Upper bounds (seconds) of the run-duration histogram buckets.
pub const DURATION_BUCKETS: [f64; 8] = [1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0];

/// Cumulative figures of one tenant, for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct TenantMetrics {
    /// Finished runs by outcome label.
    pub runs: BTreeMap<&'static str, u64>,
    /// Records by outcome, summed over runs.
    pub records: Counts,
    /// Run durations: counts per bucket (not cumulative), sum, count.
    pub duration_buckets: [u64; DURATION_BUCKETS.len()],
    pub duration_sum: f64,
    pub duration_count: u64,
}

#[derive(Debug, Default)]
struct Board {
    tenants: BTreeMap<String, TenantStatus>,
    metrics: BTreeMap<String, TenantMetrics>,
    /// Live request counters per tenant: (UKG, SCIM).
    counters: BTreeMap<String, (Arc<Counters>, Arc<Counters>)>,
    /// Each tenant's secrets, to clean what enters the board.
    redactors: BTreeMap<String, Arc<Redactor>>,
}

/// Shared, cheap-to-clone board of tenant statuses and metrics.
#[derive(Debug, Clone, Default)]
pub struct StatusBoard(Arc<RwLock<Board>>);

impl StatusBoard {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Board> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Board> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes one tenant's status. The free-text fields it may set (last email error,
    /// quarantine reason) are cleaned afterwards.
    pub fn update(&self, tenant: &str, f: impl FnOnce(&mut TenantStatus)) {
        let mut board = self.write();
        let redactor = board.redactors.get(tenant).cloned().unwrap_or_default();
        let s = board.tenants.entry(tenant.to_string()).or_default();
        f(s);
        if let Some(e) = &mut s.last_email_error {
            *e = redactor.reason(e);
        }
        if let Some(q) = &mut s.quarantine {
            q.reason = redactor.reason(&q.reason);
        }
    }

    /// Makes the board clean what enters it with `tenant`'s secrets.
    pub fn register_redactor(&self, tenant: &str, redactor: Redactor) {
        self.write().redactors.insert(tenant.to_string(), Arc::new(redactor));
    }

    /// `tenant`'s redactor (one that knows no secret when none was registered).
    pub fn redactor(&self, tenant: &str) -> Arc<Redactor> {
        self.read().redactors.get(tenant).cloned().unwrap_or_default()
    }

    /// A copy of every tenant's status.
    pub fn snapshot(&self) -> BTreeMap<String, TenantStatus> {
        self.read().tenants.clone()
    }

    /// Whether every listed tenant's actors are up. A misconfigured tenant has none and
    /// is left out: it does not make the process unready (its own gauge says so).
    pub fn all_up(&self) -> bool {
        self.read()
            .tenants
            .values()
            .all(|s| s.up || s.state == TenantState::Misconfigured)
    }

    /// Shows a tenant as misconfigured (it does not run), with why.
    pub fn misconfigured(&self, tenant: &str, error: &str) {
        self.update(tenant, |s| {
            s.state = TenantState::Misconfigured;
            s.up = false;
            s.config_error = Some(error.to_string());
        });
    }

    /// Makes a tenant's request counters visible in `/metrics`.
    pub fn register_counters(&self, tenant: &str, ukg: Arc<Counters>, scim: Arc<Counters>) {
        self.write().counters.insert(tenant.to_string(), (ukg, scim));
    }

    /// Records a finished run.
    pub fn finished(&self, summary: &RunSummary) {
        let mut board = self.write();
        let redactor = board.redactors.get(&summary.tenant).cloned().unwrap_or_default();
        let s = board.tenants.entry(summary.tenant.clone()).or_default();
        s.state = match summary.outcome {
            Outcome::Ok => TenantState::Ok,
            Outcome::CompletedWithFailures => TenantState::Degraded,
            Outcome::Failed => TenantState::Failed,
            Outcome::Held => TenantState::Held,
            Outcome::AwaitingReview => TenantState::AwaitingReview,
        };
        s.current_run = None;
        s.progress = None;
        // A later completed run that held nothing ends the hold in status (its
        // deactivations were applied, or are no longer planned); a failed one leaves it.
        (s.deactivations_held, s.held_run) = match summary.outcome {
            Outcome::Held => (summary.counts.held, Some(summary.run_id)),
            Outcome::Failed => (s.deactivations_held, s.held_run),
            _ => (0, None),
        };
        let mut last = summary.clone();
        last.failures.truncate(20);
        last.excluded.truncate(20);
        clean_summary(&mut last, &redactor);
        s.last_run = Some(last);
        let m = board.metrics.entry(summary.tenant.clone()).or_default();
        *m.runs.entry(outcome_label(&summary.outcome)).or_default() += 1;
        m.records.add(&summary.counts);
        let secs = (summary.finished_at - summary.started_at).num_milliseconds().max(0) as f64 / 1000.0;
        if let Some(i) = DURATION_BUCKETS.iter().position(|b| secs <= *b) {
            m.duration_buckets[i] += 1;
        }
        m.duration_sum += secs;
        m.duration_count += 1;
    }

    /// Every figure in the Prometheus text format (version 0.0.4).
    pub fn render_metrics(&self) -> String {
        let board = self.read();
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, String)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in rows {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        };
        let tenants: Vec<&String> = board.tenants.keys().collect();
        let per = |f: &dyn Fn(&str) -> Vec<(String, String)>| -> Vec<(String, String)> {
            tenants.iter().flat_map(|t| f(t)).collect()
        };
        let metrics = |t: &str| board.metrics.get(t).cloned().unwrap_or_default();
        let status = |t: &str| board.tenants.get(t).cloned().unwrap_or_default();
        family(
            "hrsync_tenant_up",
            "gauge",
            "1 while the tenant's actors are up.",
            per(&|t| vec![(format!("tenant=\"{t}\""), u8::from(status(t).up).to_string())]),
        );
        family(
            "hrsync_runs_total",
            "counter",
            "Finished runs, by outcome.",
            per(&|t| {
                ["ok", "completed_with_failures", "held", "failed"]
                    .iter()
                    .map(|o| {
                        (
                            format!("tenant=\"{t}\",outcome=\"{o}\""),
                            metrics(t).runs.get(o).copied().unwrap_or(0).to_string(),
                        )
                    })
                    .collect()
            }),
        );
        family(
            "hrsync_records_total",
            "counter",
            "Employees by what the runs did with them.",
            per(&|t| {
                let c = metrics(t).records;
                [
                    ("created", c.created),
                    ("adopted", c.adopted),
                    ("updated", c.updated),
                    ("deactivated", c.deactivated),
                    ("reactivated", c.reactivated),
                    ("manager_linked", c.managers_linked),
                    ("unchanged", c.unchanged),
                    ("failed", c.failed),
                    ("held", c.held),
                ]
                .iter()
                .map(|(o, n)| (format!("tenant=\"{t}\",outcome=\"{o}\""), n.to_string()))
                .collect()
            }),
        );
        let counters = |t: &str| board.counters.get(t).cloned();
        let upstreams = |t: &str, f: &dyn Fn(&Counters) -> Vec<(String, u64)>| -> Vec<(String, String)> {
            let Some((ukg, scim)) = counters(t) else {
                return Vec::new();
            };
            [("ukg", ukg), ("scim", scim)]
                .iter()
                .flat_map(|(u, c)| {
                    f(c).into_iter()
                        .map(move |(extra, n)| (format!("tenant=\"{t}\",upstream=\"{u}\"{extra}"), n.to_string()))
                })
                .collect()
        };
        family(
            "hrsync_api_requests_total",
            "counter",
            "API requests by upstream and answer class (error: no answer).",
            per(&|t| {
                upstreams(t, &|c| {
                    STATUS_CLASSES
                        .iter()
                        .enumerate()
                        .map(|(i, s)| (format!(",status=\"{s}\""), c.class(i)))
                        .collect()
                })
            }),
        );
        family(
            "hrsync_api_retries_total",
            "counter",
            "Retried API calls.",
            per(&|t| upstreams(t, &|c| vec![(String::new(), c.retries())])),
        );
        family(
            "hrsync_api_throttled_total",
            "counter",
            "429 answers.",
            per(&|t| upstreams(t, &|c| vec![(String::new(), c.throttled())])),
        );
        family(
            "hrsync_run_duration_seconds",
            "histogram",
            "Duration of finished runs.",
            Vec::new(),
        );
        for t in &tenants {
            let m = metrics(t);
            let mut cumulative = 0;
            for (i, b) in DURATION_BUCKETS.iter().enumerate() {
                cumulative += m.duration_buckets[i];
                let _ = writeln!(
                    out,
                    "hrsync_run_duration_seconds_bucket{{tenant=\"{t}\",le=\"{b}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "hrsync_run_duration_seconds_bucket{{tenant=\"{t}\",le=\"+Inf\"}} {}",
                m.duration_count
            );
            let _ = writeln!(
                out,
                "hrsync_run_duration_seconds_sum{{tenant=\"{t}\"}} {}",
                m.duration_sum
            );
            let _ = writeln!(
                out,
                "hrsync_run_duration_seconds_count{{tenant=\"{t}\"}} {}",
                m.duration_count
            );
        }
        let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, String)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in rows {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        };
        family(
            "hrsync_restarts_total",
            "counter",
            "Pipeline and tenant supervisor restarts.",
            per(&|t| vec![(format!("tenant=\"{t}\""), status(t).restarts.to_string())]),
        );
        family(
            "hrsync_quarantined",
            "gauge",
            "1 while the tenant is quarantined.",
            per(&|t| {
                vec![(
                    format!("tenant=\"{t}\""),
                    u8::from(status(t).quarantine.is_some()).to_string(),
                )]
            }),
        );
        family(
            "hrsync_tenant_misconfigured",
            "gauge",
            "1 while the tenant's part of the config file cannot be used (it does not run).",
            per(&|t| {
                vec![(
                    format!("tenant=\"{t}\""),
                    u8::from(status(t).state == TenantState::Misconfigured).to_string(),
                )]
            }),
        );
        family(
            "hrsync_deactivations_held",
            "gauge",
            "Deactivations the brake held, waiting for approval (0: none).",
            per(&|t| vec![(format!("tenant=\"{t}\""), status(t).deactivations_held.to_string())]),
        );
        family(
            "hrsync_emails_sent_total",
            "counter",
            "Emails sent to technical contacts.",
            per(&|t| vec![(format!("tenant=\"{t}\""), status(t).emails_sent.to_string())]),
        );
        family(
            "hrsync_emails_failed_total",
            "counter",
            "Failed email send attempts (each is retried).",
            per(&|t| vec![(format!("tenant=\"{t}\""), status(t).emails_failed.to_string())]),
        );
        out
    }
}

/// Cleans every reason a run summary carries.
pub fn clean_summary(summary: &mut RunSummary, redactor: &Redactor) {
    if let Some(e) = &mut summary.error {
        *e = redactor.reason(e);
    }
    for f in summary.failures.iter_mut().chain(summary.excluded.iter_mut()) {
        f.reason = redactor.reason(&f.reason);
        f.employee_id = redactor.reason(&f.employee_id);
    }
    if let Some(b) = summary.review.as_mut().and_then(|r| r.brake.as_mut()) {
        *b = redactor.reason(b);
    }
}

impl TenantStatus {
    /// The view for readers without the admin token: states, times and counts; no failure
    /// reason, run error, email error, quarantine reason or brake text (they name employees
    /// and their work emails).
    pub fn redacted(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(run) = v.get_mut("last_run").and_then(|r| r.as_object_mut()) {
            run.remove("failures");
            run.remove("excluded");
            if run.get("error").is_some_and(|e| !e.is_null()) {
                run.insert("error".into(), HIDDEN.into());
            }
            if let Some(review) = run.get_mut("review").and_then(|r| r.as_object_mut()) {
                review.remove("brake");
            }
        }
        if let Some(review) = v.get_mut("review").and_then(|r| r.as_object_mut()) {
            review.remove("brake");
        }
        if v.get("last_email_error").is_some_and(|e| !e.is_null()) {
            v["last_email_error"] = HIDDEN.into();
        }
        if let Some(q) = v.get_mut("quarantine").and_then(|q| q.as_object_mut()) {
            q.remove("reason");
        }
        if let Some(feed) = v.get_mut("changes").and_then(|c| c.as_object_mut()) {
            feed.remove("note");
            if let Some(w) = feed.get_mut("last_window").and_then(|w| w.as_object_mut()) {
                let known = ["applied", "reading", "applying"];
                if !w
                    .get("outcome")
                    .and_then(|o| o.as_str())
                    .is_some_and(|o| known.contains(&o))
                {
                    w.insert("outcome".into(), "stopped".into());
                }
            }
        }
        v
    }
}

/// What a redacted view shows in place of a reason.
pub const HIDDEN: &str = "(hidden: send the admin token to see details)";

fn outcome_label(o: &Outcome) -> &'static str {
    match o {
        Outcome::Ok => "ok",
        Outcome::CompletedWithFailures => "completed_with_failures",
        Outcome::Held => "held",
        Outcome::AwaitingReview => "awaiting_review",
        Outcome::Failed => "failed",
    }
}
