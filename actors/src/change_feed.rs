//! Changes within 3 hours: between full runs, a tenant with `changes_every` reads UKG's
//! `employee-changes` feed for the window since the last applied one and applies each
//! changed employee through the one-person path ([`crate::one_sync`]).
//!
//! Driven by the tenant supervisor, which owns a [`ChangeFeed`] and routes two messages to
//! it: `TenantMsg::FeedTick` (its timer: time for a window?) and `TenantMsg::FeedStep` (apply
//! the next employee of the window in progress). Each returns a [`FeedNext`]: what the
//! supervisor does next (send itself a step, set the timer, start a full run). One employee
//! per message, so admin requests and the schedule's ticks are served between them, and a
//! window never runs beside a full run (a step that finds a run in progress abandons it).
//!
//! UKG's rule — at most 8 calls a day, at least 3 hours apart — is enforced here, not left
//! to the schedule: every call (one window: its pages are read back to back) is recorded
//! in the store and flushed *before* it is made, and [`FeedRules::next_allowed`] (at least
//! [`MIN_SPACING`] after the last call, at most [`MAX_CALLS_PER_DAY`] in any 24 h) decides
//! from that record, so restarts and crashes never reset it. Tests may shorten the spacing
//! with [`shorten_spacing_for_tests`] (the binary reads `HRSYNC_TEST_CHANGES_SPACING`); the
//! daily cap cannot be changed.
//!
//! Windows: from the end of the last fully applied window, or the start of the last
//! completed full run if later (that run read everything older), minus [`OVERLAP`] (late
//! commits), to now. Rows are read tolerantly (US-format dates, `""` empties); an employee
//! listed several times (a rehire) resolves to its latest row (by `dateOfLastHire`, then row
//! order). Each employee is then read whole from the per-employee endpoints, so its content
//! hash is the full run's: an employee already applied (overlapping windows, or the full
//! run) costs no write. The persisted window end advances only after every employee of the
//! window was applied; a crash or an upstream failure mid-window loses nothing, the next
//! window overlaps it. More than [`FULL_RUN_ABOVE`] employees in a window, or deactivations
//! that would trip the tenant's brake: a full run instead (which holds them for approval).
//! The daily full run stays the source of truth (absence from the roster).

use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use tracing::{info, warn};

use crate::brake::deactivation_brake;
use crate::error::StoreError;
use crate::fetcher::read_lookups;
use crate::model::Outcome;
pub use crate::model::{FeedState, WindowSummary};
use crate::one_sync::{sync_employee_with, OneSyncError, SyncCtx};
use crate::status::StatusBoard;
use crate::ukg::{self, Lookups};

/// UKG's rule: calls to employee-changes at least this far apart.
pub const MIN_SPACING: Duration = Duration::from_secs(3 * 3600);
/// UKG's rule: at most this many calls in any 24 hours.
pub const MAX_CALLS_PER_DAY: usize = 8;
/// Each window starts this much before the previous one ended (changes committed late).
pub const OVERLAP: Duration = Duration::from_secs(15 * 60);
/// Rows per page of employee-changes (`per_page`; clients use ≤ 200).
pub const PAGE_SIZE: u32 = 200;
/// A window listing more employees than this is applied by a full run instead.
pub const FULL_RUN_ABOVE: usize = 500;
/// How soon the feed looks again when it is waiting (for a full run to end, a first one
/// to complete); shorter when the interval is.
const RECHECK: Duration = Duration::from_secs(60);
const DAY: chrono::Duration = chrono::Duration::hours(24);

static TEST_SPACING: OnceLock<Duration> = OnceLock::new();

/// For tests only: lets windows come `spacing` apart instead of [`MIN_SPACING`] (and every
/// `spacing`), with an overlap of a tenth of it instead of [`OVERLAP`] (so a test can tell a
/// window that advanced too far), for the whole process. The daily cap still holds.
/// Returns false when it was set already. The config file cannot set this; the binary takes it from the environment
/// variable `HRSYNC_TEST_CHANGES_SPACING` and says so loudly.
pub fn shorten_spacing_for_tests(spacing: Duration) -> bool {
    TEST_SPACING.set(spacing).is_ok()
}

/// The overlap in force in this process.
fn overlap() -> chrono::Duration {
    let d = match TEST_SPACING.get() {
        Some(spacing) => OVERLAP.min(*spacing / 10),
        None => OVERLAP,
    };
    chrono::Duration::from_std(d).unwrap_or_default()
}

/// The rule in force in this process.
pub fn rules() -> FeedRules {
    FeedRules {
        min_spacing: TEST_SPACING.get().copied().unwrap_or(MIN_SPACING),
        max_per_day: MAX_CALLS_PER_DAY,
    }
}

/// How often employee-changes may be called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedRules {
    pub min_spacing: Duration,
    pub max_per_day: usize,
}

impl FeedRules {
    /// UKG's published rule.
    pub const UKG: FeedRules = FeedRules {
        min_spacing: MIN_SPACING,
        max_per_day: MAX_CALLS_PER_DAY,
    };

    /// The earliest moment (never before `now`) at which another call keeps the rule, given
    /// the calls made. A call recorded in the future (the clock went back) counts as made now.
    pub fn next_allowed(&self, calls: &[DateTime<Utc>], now: DateTime<Utc>) -> DateTime<Utc> {
        let mut calls: Vec<DateTime<Utc>> = calls.iter().map(|t| (*t).min(now)).collect();
        calls.sort();
        let spacing = chrono::Duration::from_std(self.min_spacing).unwrap_or(DAY);
        let mut at = now;
        if let Some(last) = calls.last() {
            at = at.max(*last + spacing);
        }
        let recent: Vec<&DateTime<Utc>> = calls.iter().filter(|t| now - **t < DAY).collect();
        if self.max_per_day == 0 {
            return now + DAY;
        }
        if recent.len() >= self.max_per_day {
            // The oldest of the last `max_per_day` calls must leave the 24 h.
            at = at.max(*recent[recent.len() - self.max_per_day] + DAY);
        }
        at
    }

    /// Whether a call now keeps the rule.
    pub fn allows(&self, calls: &[DateTime<Utc>], now: DateTime<Utc>) -> bool {
        self.next_allowed(calls, now) <= now
    }
}

/// The feed as `/status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedStatus {
    /// `changes_every`, in seconds.
    pub every_secs: u64,
    /// Calls to employee-changes in the last 24 h (UKG allows 8).
    pub calls_last_24h: usize,
    pub last_call_at: Option<DateTime<Utc>>,
    /// The earliest moment UKG's rule allows the next call.
    pub next_call_allowed_at: Option<DateTime<Utc>>,
    /// Changes up to here are applied.
    pub applied_until: Option<DateTime<Utc>>,
    pub last_window: Option<WindowSummary>,
    /// What the feed is doing or waiting for.
    pub note: String,
}

/// A row of `/personnel/v1/employee-changes`: the fields hrsync needs to pick the row and
/// the company; the rest is read from the per-employee endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRow {
    #[serde(default, alias = "employeeID", deserialize_with = "crate::ukg::opt_text")]
    pub employee_id: Option<String>,
    #[serde(default, alias = "companyID", deserialize_with = "crate::ukg::opt_text")]
    pub company_id: Option<String>,
    /// US format (`1/1/1996 12:00:00 AM`) or ISO; `""` is empty.
    #[serde(default, deserialize_with = "crate::ukg::opt_date")]
    pub date_of_last_hire: Option<NaiveDate>,
    #[serde(default, deserialize_with = "crate::ukg::opt_date")]
    pub termination_date: Option<NaiveDate>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub is_active: Option<bool>,
    #[serde(default, deserialize_with = "crate::ukg::opt_text")]
    pub employee_status: Option<String>,
}

/// `true`/`false`, `"true"`/`"Y"`/`"1"`…; `""` or anything else is None.
fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let text = crate::ukg::opt_text(d)?;
    Ok(match text.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("true" | "y" | "yes" | "1") => Some(true),
        Some("false" | "n" | "no" | "0") => Some(false),
        _ => None,
    })
}

/// One employee the feed says changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub employee_id: String,
    pub company_id: Option<String>,
    /// The feed says the employee is not active (`isActive` false or status `T`): a
    /// deactivation, if hrsync has them active (counted against the brake before any).
    pub inactive: bool,
}

/// One entry per employee: the latest of its rows (by `dateOfLastHire`, then row order),
/// in the order of those rows. Rows without an employee id are counted, not returned.
pub fn latest_per_employee(rows: Vec<ChangeRow>) -> (Vec<Changed>, usize) {
    let mut best: HashMap<String, (Option<NaiveDate>, usize, ChangeRow)> = HashMap::new();
    let mut unreadable = 0;
    for (i, row) in rows.into_iter().enumerate() {
        let Some(id) = row.employee_id.clone() else {
            unreadable += 1;
            continue;
        };
        let key = (row.date_of_last_hire, i);
        match best.get(&id) {
            // Later rows win ties; a row without a hire date never beats one with it.
            Some((date, j, _)) if (*date, *j) > key => {}
            _ => {
                best.insert(id, (row.date_of_last_hire, i, row));
            }
        }
    }
    let mut chosen: Vec<(usize, Changed)> = best
        .into_iter()
        .map(|(id, (_, i, row))| {
            (
                i,
                Changed {
                    employee_id: id,
                    inactive: row.is_active == Some(false) || row.employee_status.as_deref() == Some("T"),
                    company_id: row.company_id,
                },
            )
        })
        .collect();
    chosen.sort_by_key(|(i, _)| *i);
    (chosen.into_iter().map(|(_, c)| c).collect(), unreadable)
}

/// Where the next window starts: after what was applied — by the feed, or by the last
/// completed full run (which read everything changed before it started) — minus the
/// overlap. None before any full run completed (the first full run is the baseline).
pub fn window_start(
    applied_until: Option<DateTime<Utc>>,
    last_full_run_start: Option<DateTime<Utc>>,
    overlap: chrono::Duration,
) -> Option<DateTime<Utc>> {
    let from = match (applied_until, last_full_run_start) {
        (Some(a), Some(b)) => a.max(b),
        (a, b) => a.or(b)?,
    };
    Some(from - overlap)
}

/// A moment as UKG's query parameters take it: ISO, tenant-local, no offset.
pub fn ukg_time(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// What the tenant supervisor does after a feed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedNext {
    /// Nothing (the feed is off, or a window is already being applied).
    Nothing,
    /// Send yourself `FeedStep`: the next employee of the window.
    Step,
    /// Send yourself `FeedTick` after this long.
    TickIn(Duration),
    /// Start a full run now (the window listed too many employees), then tick after this long.
    FullRun(Duration),
}

/// The window being applied.
struct Window {
    summary: WindowSummary,
    pending: VecDeque<Changed>,
    lookups: Lookups,
}

/// The change feed of one tenant (held by its supervisor; its progress is in the store).
pub struct ChangeFeed {
    /// `changes_every`; None: the feed is off.
    every: Option<Duration>,
    window: Option<Window>,
}

/// What a feed message needs from the tenant supervisor.
pub struct FeedCtx<'a> {
    pub sync: SyncCtx<'a>,
    pub status: &'a StatusBoard,
    /// A full run of the tenant is in progress.
    pub run_in_progress: bool,
}

impl ChangeFeed {
    /// A feed every `every` (None: off).
    pub fn new(every: Option<Duration>) -> ChangeFeed {
        ChangeFeed { every, window: None }
    }

    /// The interval in force (shortened in tests, see [`shorten_spacing_for_tests`]).
    fn interval(&self) -> Option<Duration> {
        let every = self.every?;
        Some(TEST_SPACING.get().copied().unwrap_or(every))
    }

    /// When the first tick should come after the supervisor starts: as soon as the rule
    /// allows (after a restart, the persisted calls say when), but not at once.
    pub fn first_tick(&self, ctx: &FeedCtx<'_>) -> Result<Option<Duration>, StoreError> {
        let Some(interval) = self.interval() else {
            return Ok(None);
        };
        let state = ctx.sync.store.feed_state()?.unwrap_or_default();
        let now = Utc::now();
        let allowed = rules().next_allowed(&state.calls, now);
        self.publish(ctx, &state, "waiting for the first window".into());
        Ok(Some(until(allowed, now).max(interval.min(RECHECK))))
    }

    /// The timer fired: read a window if the rule allows and nothing else is going on.
    pub async fn tick(&mut self, ctx: &FeedCtx<'_>) -> Result<FeedNext, StoreError> {
        let Some(interval) = self.interval() else {
            return Ok(FeedNext::Nothing);
        };
        if self.window.is_some() {
            return Ok(FeedNext::Nothing);
        }
        let store = ctx.sync.store;
        let tenant = &ctx.sync.spec.id;
        let recheck = interval.min(RECHECK);
        let mut state = store.feed_state()?.unwrap_or_default();
        if ctx.run_in_progress {
            self.publish(ctx, &state, "window skipped: a full run is in progress".into());
            return Ok(FeedNext::TickIn(recheck));
        }
        let Some(start) = window_start(state.applied_until, last_full_run_start(ctx)?, overlap()) else {
            self.publish(ctx, &state, "waiting for a first complete full run".into());
            return Ok(FeedNext::TickIn(recheck));
        };
        let now = Utc::now();
        let allowed = rules().next_allowed(&state.calls, now);
        if allowed > now {
            self.publish(ctx, &state, "waiting for UKG's rule (8 calls a day, 3 h apart)".into());
            return Ok(FeedNext::TickIn(until(allowed, now)));
        }
        // The call is recorded durably before it is made: a crash never resets the budget.
        state.record_call(now);
        let end = now;
        let mut summary = WindowSummary {
            start,
            end,
            employees: 0,
            applied: 0,
            writes: 0,
            outcome: "reading".into(),
        };
        state.last_window = Some(summary.clone());
        store.set_feed_state(&state)?;
        store.flush().await?;
        self.publish(ctx, &state, "reading a window".into());
        let rows = match read_window(ctx, start, end).await {
            Ok(rows) => rows,
            Err(e) => {
                warn!(tenant = %tenant, error = %e, "change feed window could not be read; the next window covers it");
                summary.outcome = format!("not read: {e}");
                return self.stop(ctx, state, summary, interval).await;
            }
        };
        let (changed, unreadable) = latest_per_employee(rows);
        summary.employees = changed.len();
        info!(tenant = %tenant, start = %start, end = %end, employees = changed.len(), unreadable, "change feed window read");
        if changed.len() > FULL_RUN_ABOVE {
            summary.outcome = format!(
                "{} or more employees changed: a full run applies them",
                FULL_RUN_ABOVE + 1
            );
            info!(tenant = %tenant, employees = changed.len(), "change feed window too large; starting a full run instead");
            state.last_window = Some(summary);
            store.set_feed_state(&state)?;
            store.flush().await?;
            self.publish(ctx, &state, "a full run applies the last window".into());
            return Ok(FeedNext::FullRun(self.wait_after_window(&state, interval)));
        }
        // The brake weighs the window's deactivations together, as a run's: when they would
        // trip it, a full run applies the window and holds them for approval.
        if let Some(reason) = brake(ctx, &changed)? {
            summary.outcome = format!("{reason}: a full run applies the window and holds them for approval");
            warn!(tenant = %tenant, %reason, "change feed window would trip the deactivation brake; starting a full run instead");
            state.last_window = Some(summary);
            store.set_feed_state(&state)?;
            store.flush().await?;
            self.publish(ctx, &state, "a full run applies the last window".into());
            return Ok(FeedNext::FullRun(self.wait_after_window(&state, interval)));
        }
        let lookups = match read_lookups(ctx.sync.ukg).await {
            Ok(l) => l,
            Err(e) => {
                warn!(tenant = %tenant, error = %e, "change feed cannot read the lookups; the next window covers it");
                summary.outcome = format!("not applied: {e}");
                return self.stop(ctx, state, summary, interval).await;
            }
        };
        summary.outcome = "applying".into();
        state.last_window = Some(summary.clone());
        self.publish(ctx, &state, "applying a window".into());
        self.window = Some(Window {
            summary,
            pending: changed.into(),
            lookups,
        });
        Ok(FeedNext::Step)
    }

    /// Applies the next employee of the window in progress; closes the window after the last.
    pub async fn step(&mut self, ctx: &FeedCtx<'_>) -> Result<FeedNext, StoreError> {
        let Some(interval) = self.interval() else {
            return Ok(FeedNext::Nothing);
        };
        let Some(mut window) = self.window.take() else {
            return Ok(FeedNext::Nothing);
        };
        let store = ctx.sync.store;
        let tenant = &ctx.sync.spec.id;
        let state = store.feed_state()?.unwrap_or_default();
        if ctx.run_in_progress {
            window.summary.outcome =
                "stopped: a full run started (it applies everyone; the next window overlaps)".into();
            return self.stop(ctx, state, window.summary, interval).await;
        }
        let Some(next) = window.pending.pop_front() else {
            return self.complete(ctx, state, window.summary, interval).await;
        };
        let result = sync_employee_with(
            &ctx.sync,
            &next.employee_id,
            next.company_id.as_deref(),
            &window.lookups,
        )
        .await;
        match result {
            Ok(report) => window.summary.writes += report.writes(),
            // Gone from UKG since it changed: absence is the full run's to act on.
            Err(OneSyncError::NotInUkg { .. } | OneSyncError::NoEmployment { .. }) => {
                info!(tenant = %tenant, employee = %next.employee_id, "change feed: employee no longer in UKG; left to the full run")
            }
            Err(OneSyncError::BadId(id)) => {
                warn!(tenant = %tenant, employee = %id, "change feed: unusable employee id skipped")
            }
            Err(OneSyncError::Store(e)) => return Err(e),
            Err(e) => {
                warn!(tenant = %tenant, employee = %next.employee_id, error = %e, "change feed window stopped; the next window covers it");
                window.summary.outcome = format!("stopped at employee {}: {e}", next.employee_id);
                return self.stop(ctx, state, window.summary, interval).await;
            }
        }
        window.summary.applied += 1;
        self.window = Some(window);
        Ok(FeedNext::Step)
    }

    /// Every employee of the window applied: the window's end is the new starting point.
    async fn complete(
        &mut self,
        ctx: &FeedCtx<'_>,
        mut state: FeedState,
        mut summary: WindowSummary,
        interval: Duration,
    ) -> Result<FeedNext, StoreError> {
        summary.outcome = "applied".into();
        info!(tenant = %ctx.sync.spec.id, start = %summary.start, end = %summary.end, employees = summary.employees, writes = summary.writes, "change feed window applied");
        state.applied_until = Some(state.applied_until.map_or(summary.end, |a| a.max(summary.end)));
        state.last_window = Some(summary);
        ctx.sync.store.set_feed_state(&state)?;
        ctx.sync.store.flush().await?;
        self.publish(ctx, &state, "last window applied".into());
        Ok(FeedNext::TickIn(self.wait_after_window(&state, interval)))
    }

    /// The window stops without advancing: the next one overlaps it.
    async fn stop(
        &mut self,
        ctx: &FeedCtx<'_>,
        mut state: FeedState,
        summary: WindowSummary,
        interval: Duration,
    ) -> Result<FeedNext, StoreError> {
        self.window = None;
        let note = format!("last window {}", summary.outcome);
        state.last_window = Some(summary);
        ctx.sync.store.set_feed_state(&state)?;
        ctx.sync.store.flush().await?;
        self.publish(ctx, &state, note);
        Ok(FeedNext::TickIn(self.wait_after_window(&state, interval)))
    }

    /// Until the next window: an interval after the last call, and no sooner than the rule allows.
    fn wait_after_window(&self, state: &FeedState, interval: Duration) -> Duration {
        let now = Utc::now();
        let last = state.calls.iter().max().copied().unwrap_or(now);
        let by_interval = last + chrono::Duration::from_std(interval).unwrap_or(DAY);
        until(by_interval.max(rules().next_allowed(&state.calls, now)), now).max(Duration::from_millis(100))
    }

    /// Shows the feed in `/status`.
    fn publish(&self, ctx: &FeedCtx<'_>, state: &FeedState, note: String) {
        let Some(interval) = self.interval() else {
            return;
        };
        let now = Utc::now();
        let status = FeedStatus {
            every_secs: interval.as_secs(),
            calls_last_24h: state.calls_within_day(now),
            last_call_at: state.calls.iter().max().copied(),
            next_call_allowed_at: Some(rules().next_allowed(&state.calls, now)),
            applied_until: state.applied_until,
            last_window: state.last_window.clone(),
            note,
        };
        ctx.status.update(&ctx.sync.spec.id, |s| s.changes = Some(status));
    }
}

/// From `now` until `t` (zero when past).
fn until(t: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (t - now).to_std().unwrap_or(Duration::ZERO)
}

/// The start of the newest full run that completed (read the whole roster).
fn last_full_run_start(ctx: &FeedCtx<'_>) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(ctx
        .sync
        .store
        .runs(20)?
        .into_iter()
        .find(|r| r.outcome != Outcome::Failed)
        .map(|r| r.started_at))
}

/// Why the window's deactivations would trip the tenant's brake, if they would.
fn brake(ctx: &FeedCtx<'_>, changed: &[Changed]) -> Result<Option<String>, StoreError> {
    let store = ctx.sync.store;
    let mut leaving = 0u64;
    for c in changed.iter().filter(|c| c.inactive) {
        if store.employee(&c.employee_id)?.is_some_and(|s| s.active) {
            leaving += 1;
        }
    }
    if leaving == 0 {
        return Ok(None);
    }
    let active = store.employees()?.iter().filter(|(_, s)| s.active).count() as u64;
    Ok(deactivation_brake(leaving, active, &ctx.sync.spec.brake))
}

/// Reads the window's rows, page by page, stopping once it is past [`FULL_RUN_ABOVE`].
async fn read_window(
    ctx: &FeedCtx<'_>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<ChangeRow>, crate::error::UkgError> {
    let tz = ctx.sync.spec.timezone;
    let mut rows = Vec::new();
    let mut page = 1u32;
    loop {
        let query = [
            ("startDate", ukg_time(start, tz)),
            ("endDate", ukg_time(end, tz)),
            ("page", page.to_string()),
            ("per_page", PAGE_SIZE.to_string()),
        ];
        let batch: Vec<ChangeRow> = ctx.sync.ukg.get_list(ukg::EMPLOYEE_CHANGES, &query).await?;
        let n = batch.len();
        rows.extend(batch);
        if n < PAGE_SIZE as usize || rows.len() > FULL_RUN_ABOVE {
            return Ok(rows);
        }
        page += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// The fake clock: minutes after a fixed moment.
    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).single().unwrap_or_default() + chrono::Duration::minutes(minute)
    }

    /// The rule applied to attempts at these minutes: the calls it lets through.
    fn calls_made(rules: FeedRules, attempts: impl Iterator<Item = i64>) -> Vec<DateTime<Utc>> {
        let mut state = FeedState::default();
        let mut made = Vec::new();
        for minute in attempts {
            let now = at(minute);
            if rules.allows(&state.calls, now) {
                state.record_call(now);
                made.push(now);
            }
        }
        made
    }

    #[test]
    fn ukg_rule_three_hours_apart() {
        let r = FeedRules::UKG;
        let calls = vec![at(0)];
        assert!(!r.allows(&calls, at(179)));
        assert!(r.allows(&calls, at(180)));
        assert_eq!(r.next_allowed(&calls, at(60)), at(180));
        assert!(r.allows(&[], at(0)));
        // Trying every minute for two days: calls land exactly 3 h apart, 8 a day.
        let made = calls_made(r, 0..2 * 24 * 60);
        for pair in made.windows(2) {
            assert!(pair[1] - pair[0] >= chrono::Duration::hours(3), "{pair:?}");
        }
        let day_one = made.iter().filter(|t| **t < at(24 * 60)).count();
        assert_eq!(day_one, 8);
    }

    #[test]
    fn at_most_eight_a_day_even_with_a_short_spacing() {
        let r = FeedRules {
            min_spacing: Duration::from_secs(60),
            max_per_day: 8,
        };
        // A call attempted every minute for 3 days: never more than 8 in any 24 h.
        let state_calls = calls_made(r, 0..3 * 24 * 60);
        for (i, t) in state_calls.iter().enumerate() {
            let in_day = state_calls[i..].iter().filter(|u| **u - *t < DAY).count();
            assert!(in_day <= 8, "{in_day} calls within 24 h from {t}");
        }
        assert_eq!(state_calls.len(), 24);
        assert_eq!(state_calls[8], state_calls[0] + DAY);
    }

    #[test]
    fn a_call_recorded_in_the_future_counts_as_now() {
        let r = FeedRules::UKG;
        // The clock went back an hour after a call.
        assert_eq!(r.next_allowed(&[at(60)], at(0)), at(180));
    }

    #[test]
    fn the_budget_survives_a_reopened_store() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let r = FeedRules::UKG;
        {
            let store = crate::store::Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
            let t = store.tenant("t").unwrap_or_else(|e| panic!("{e}"));
            let mut state = t.feed_state().unwrap_or_default().unwrap_or_default();
            assert!(r.allows(&state.calls, at(0)));
            state.record_call(at(0));
            t.set_feed_state(&state).unwrap_or_else(|e| panic!("{e}"));
            futures::executor::block_on(t.flush()).unwrap_or_else(|e| panic!("{e}"));
        }
        let store = crate::store::Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let t = store.tenant("t").unwrap_or_else(|e| panic!("{e}"));
        let state = t.feed_state().unwrap_or_default().unwrap_or_default();
        assert_eq!(state.calls, vec![at(0)]);
        assert!(
            !r.allows(&state.calls, at(10)),
            "a reopened store must remember the call"
        );
    }

    #[test]
    fn old_calls_are_forgotten_but_the_last_is_kept() {
        let mut s = FeedState::default();
        s.record_call(at(0));
        s.record_call(at(25 * 60));
        assert_eq!(s.calls, vec![at(25 * 60)]);
        s.record_call(at(60 * 60));
        assert_eq!(s.calls, vec![at(60 * 60)]);
        assert_eq!(s.calls_within_day(at(60 * 60 + 1)), 1);
    }

    #[test]
    fn feed_rows_parse_us_dates_and_empties_and_rehires_resolve_to_the_latest() {
        let rows: Vec<ChangeRow> = serde_json::from_str(
            r#"[
              {"employeeId":"E1","companyId":"C1","isActive":false,"employeeStatus":"T",
               "hireDate":"1/1/1996 12:00:00 AM","dateOfLastHire":"1/1/1996 12:00:00 AM",
               "terminationDate":"3/15/2020 12:00:00 AM","supervisorId":"","workLocation":""},
              {"employeeId":"E2","companyId":"C1","isActive":true,"dateOfLastHire":"","terminationDate":""},
              {"employeeId":"E1","companyId":"C2","isActive":"true","employeeStatus":"A",
               "dateOfLastHire":"6/1/2021 12:00:00 AM","terminationDate":""},
              {"employeeId":"E1","companyId":"C3","isActive":false,"dateOfLastHire":"1/1/1996 12:00:00 AM"},
              {"employeeId":"","companyId":"C1"}
            ]"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows[0].date_of_last_hire, NaiveDate::from_ymd_opt(1996, 1, 1));
        assert_eq!(rows[0].termination_date, NaiveDate::from_ymd_opt(2020, 3, 15));
        assert_eq!(rows[0].is_active, Some(false));
        assert_eq!(rows[1].date_of_last_hire, None);
        assert_eq!(rows[1].termination_date, None);
        assert_eq!(rows[2].is_active, Some(true));
        let (changed, unreadable) = latest_per_employee(rows);
        assert_eq!(unreadable, 1);
        assert_eq!(
            changed,
            vec![
                Changed {
                    employee_id: "E2".into(),
                    company_id: Some("C1".into()),
                    inactive: false,
                },
                // The rehire (latest dateOfLastHire) wins over the older and the later rows.
                Changed {
                    employee_id: "E1".into(),
                    company_id: Some("C2".into()),
                    inactive: false,
                },
            ]
        );
        // Same hire date: the later row wins.
        let rows: Vec<ChangeRow> = serde_json::from_str(
            r#"[{"employeeId":"E1","companyId":"A","dateOfLastHire":"2/2/2022 12:00:00 AM"},
                {"employeeId":"E1","companyId":"B","dateOfLastHire":"2/2/2022 12:00:00 AM"}]"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(latest_per_employee(rows).0[0].company_id.as_deref(), Some("B"));
        let rows: Vec<ChangeRow> = serde_json::from_str(
            r#"[{"employeeId":"E1","isActive":false},{"employeeId":"E2","isActive":"","employeeStatus":"T"},
                {"employeeId":"E3","isActive":true,"employeeStatus":"L"}]"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let inactive: Vec<bool> = latest_per_employee(rows).0.iter().map(|c| c.inactive).collect();
        assert_eq!(inactive, vec![true, true, false]);
    }

    #[test]
    fn windows_start_after_what_was_applied_with_overlap() {
        let overlap = chrono::Duration::from_std(OVERLAP).unwrap_or_default();
        assert_eq!(overlap, chrono::Duration::minutes(15));
        assert_eq!(window_start(None, None, overlap), None);
        assert_eq!(window_start(None, Some(at(100)), overlap), Some(at(100) - overlap));
        assert_eq!(
            window_start(Some(at(300)), Some(at(100)), overlap),
            Some(at(300) - overlap)
        );
        assert_eq!(
            window_start(Some(at(300)), Some(at(500)), overlap),
            Some(at(500) - overlap)
        );
        assert_eq!(ukg_time(at(61), chrono_tz::Tz::UTC), "2026-03-01T01:01:00");
        assert_eq!(
            ukg_time(at(61), chrono_tz::Tz::America__New_York),
            "2026-02-28T20:01:00"
        );
    }
}
