//! The restart policy: exponential backoff between restarts (1 s doubling to 5 min), and
//! what a supervision event says about a stopped child. Pure, no I/O.

use std::time::Duration;

/// Doubling backoff with a ceiling.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(300))
    }
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff { base, max, failures: 0 }
    }

    /// Records a failure and returns how long to wait before the next restart.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.base.saturating_mul(1u32 << self.failures.min(20)).min(self.max);
        self.failures += 1;
        delay
    }

    /// Consecutive failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Forgets past failures (after a successful run).
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// The child a supervision event says has stopped (failed or terminated), with why; None
/// for the events that are not about a stop.
pub fn stopped_child(event: ractor::SupervisionEvent) -> Option<(ractor::ActorCell, String)> {
    match event {
        ractor::SupervisionEvent::ActorFailed(cell, e) => Some((cell, e.to_string())),
        ractor::SupervisionEvent::ActorTerminated(cell, _, reason) => {
            Some((cell, reason.unwrap_or_else(|| "stopped".to_string())))
        }
        ractor::SupervisionEvent::ActorStarted(_) | ractor::SupervisionEvent::ProcessGroupChanged(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_ceiling_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        let waits: Vec<u64> = (0..5).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 5, 5]);
        assert_eq!(b.failures(), 5);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }
}
