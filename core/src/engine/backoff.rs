//! The restart backoff: exponential backoff between restarts (1 s doubling to 5 min). Pure,
//! no I/O; the actors' restart policy (`hrsync_actors::restart`) uses it.

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
