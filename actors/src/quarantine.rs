//! Quarantine: a tenant that keeps failing stops following its schedule and backs off
//! (6 h → 12 h → 24 h) until a run succeeds, so a broken tenant neither hammers UKG or the
//! app nor floods its contact. Refused credentials quarantine at once. Pure, no I/O.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Waits between runs of a quarantined tenant, by how many times it failed in quarantine.
pub const STEPS: [Duration; 3] = [
    Duration::from_secs(6 * 3600),
    Duration::from_secs(12 * 3600),
    Duration::from_secs(24 * 3600),
];

/// Why and since when a tenant is quarantined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quarantine {
    pub since: DateTime<Utc>,
    /// The failure that put (or keeps) the tenant in quarantine.
    pub reason: String,
    /// Failed runs in quarantine so far (0 for the first wait).
    pub level: usize,
}

/// A tenant's run health.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
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
            });
            return Transition::Entered;
        }
        Transition::None
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
    fn a_success_resets_the_count() {
        let mut h = Health::default();
        h.failed("x", false, 3, Utc::now());
        h.failed("x", false, 3, Utc::now());
        assert_eq!(h.succeeded(), Transition::None);
        assert_eq!(h.failed("x", false, 3, Utc::now()), Transition::None);
    }
}
