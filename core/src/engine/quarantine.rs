//! Quarantine: a tenant that keeps failing stops following its schedule and backs off
//! (6 h → 12 h → 24 h) until a run succeeds, so a broken tenant neither hammers UKG or the
//! app nor floods its contact. Refused credentials quarantine at once. Pure, no I/O.
//!
//! The tenant supervisor stores its [`Health`] in the tenant's store whenever it changes
//! (`ProgressStore::set_health`) and loads it at start, so a restart neither gives a
//! quarantined tenant a fresh try before its due time nor forgets its failure count.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Waits between runs of a quarantined tenant, by how many times it failed in quarantine.
pub const STEPS: [Duration; 3] = [
    Duration::from_secs(6 * 3600),
    Duration::from_secs(12 * 3600),
    Duration::from_secs(24 * 3600),
];

/// Why and since when a tenant is quarantined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantine {
    pub since: DateTime<Utc>,
    /// The failure that put (or keeps) the tenant in quarantine.
    pub reason: String,
    /// Failed runs in quarantine so far (0 for the first wait).
    pub level: usize,
    /// When the next run is due (set when the run that entered or kept the quarantine
    /// ended); a restarted process waits until then.
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

/// A tenant's run health.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub consecutive_failures: u32,
    pub quarantine: Option<Quarantine>,
}

/// What changed with a run's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// Nothing worth telling.
    None,
    /// The tenant enters quarantine.
    Entered,
    /// The tenant stays in quarantine.
    Stayed,
    /// The tenant leaves quarantine (a run succeeded).
    Left,
}

impl Health {
    /// Records a run that completed.
    pub fn succeeded(&mut self) -> Transition {
        self.consecutive_failures = 0;
        match self.quarantine.take() {
            Some(_) => Transition::Left,
            None => Transition::None,
        }
    }

    /// Records a run that could not complete; `auth` when credentials were refused.
    pub fn failed(&mut self, reason: &str, auth: bool, quarantine_after: u32, now: DateTime<Utc>) -> Transition {
        self.consecutive_failures += 1;
        if let Some(q) = self.quarantine.as_mut() {
            q.level = (q.level + 1).min(STEPS.len() - 1);
            q.reason = reason.to_string();
            return Transition::Stayed;
        }
        if auth || self.consecutive_failures >= quarantine_after {
            self.quarantine = Some(Quarantine {
                since: now,
                reason: reason.to_string(),
                level: 0,
                until: None,
            });
            return Transition::Entered;
        }
        Transition::None
    }

    /// Records when the next run is due (`now + delay`) in the quarantine, if any.
    pub fn set_due(&mut self, now: DateTime<Utc>, delay: Duration) {
        if let Some(q) = self.quarantine.as_mut() {
            q.until = chrono::Duration::from_std(delay).ok().map(|d| now + d);
        }
    }

    /// How long a quarantined tenant still waits before its next run at `now` (zero when
    /// due); None when it is not quarantined or no due time was recorded.
    pub fn wait_left(&self, now: DateTime<Utc>) -> Option<Duration> {
        let until = self.quarantine.as_ref()?.until?;
        Some((until - now).to_std().unwrap_or(Duration::ZERO))
    }

    /// How long to wait before the next run, given the tenant's schedule.
    pub fn next_delay(&self, schedule: Duration) -> Duration {
        match &self.quarantine {
            Some(q) => STEPS[q.level],
            None => schedule,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86400);

    #[test]
    fn quarantined_after_n_failures_backs_off_and_recovers() {
        let mut h = Health::default();
        let now = Utc::now();
        assert_eq!(h.failed("ukg down", false, 3, now), Transition::None);
        assert_eq!(h.failed("ukg down", false, 3, now), Transition::None);
        assert_eq!(h.next_delay(DAY), DAY);
        assert_eq!(h.failed("ukg down", false, 3, now), Transition::Entered);
        assert_eq!(h.next_delay(DAY), STEPS[0]);
        assert_eq!(h.failed("ukg down", false, 3, now), Transition::Stayed);
        assert_eq!(h.next_delay(DAY), STEPS[1]);
        h.failed("ukg down", false, 3, now);
        h.failed("ukg down", false, 3, now);
        assert_eq!(h.next_delay(DAY), STEPS[2], "capped at 24 h");
        assert_eq!(h.succeeded(), Transition::Left);
        assert_eq!(h, Health::default());
        assert_eq!(h.next_delay(DAY), DAY);
    }

    #[test]
    fn refused_credentials_quarantine_at_once() {
        let mut h = Health::default();
        assert_eq!(h.failed("401", true, 3, Utc::now()), Transition::Entered);
        assert_eq!(h.quarantine.as_ref().unwrap().reason, "401");
    }

    #[test]
    fn the_due_time_survives_a_round_trip_through_json() {
        let mut h = Health::default();
        let now = Utc::now();
        h.failed("401", true, 3, now);
        h.set_due(now, STEPS[0]);
        let back: Health = serde_json::from_slice(&serde_json::to_vec(&h).unwrap()).unwrap();
        assert_eq!(back, h);
        let left = back.wait_left(now + chrono::Duration::hours(1)).unwrap();
        assert_eq!(left, Duration::from_secs(5 * 3600));
        assert_eq!(back.wait_left(now + chrono::Duration::hours(7)), Some(Duration::ZERO));
        assert_eq!(Health::default().wait_left(now), None);
    }

    #[test]
    fn a_success_resets_the_count() {
        let mut h = Health::default();
        h.failed("x", false, 3, Utc::now());
        h.failed("x", false, 3, Utc::now());
        assert_eq!(h.succeeded(), Transition::None);
        assert_eq!(h.failed("x", false, 3, Utc::now()), Transition::None);
    }
}
