//! Fault injection for the UKG simulator: the [`Fault`] kinds a test can switch on, and
//! the bookkeeping that decides, request by request, which fault fires.
//!
//! Faults apply to requests under `/personnel` and `/configuration`. Delays, statuses,
//! resets and "down" are decided before authentication (like a gateway in front of the
//! API); truncation and wrong content type alter the response of a request that got
//! through. When several faults would fire on one request, `Down` wins, then the
//! earliest injected. `ForbiddenPath` is decided after authentication, like UKG's own
//! permission check: bad credentials still get 401 there.

use std::time::Duration;

/// A misbehaviour of the UKG simulator, switched on with `UkgSim::inject`.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Every k-th request (counting from the moment it was injected) answers this status;
    /// with retry_after Some(s) a `Retry-After: s` header is added. Body empty for 429
    /// and 503, the documented error JSON otherwise. k = 0 never fires.
    StatusEvery {
        /// Period: the k-th, 2k-th, … request fails.
        k: usize,
        /// Status to answer.
        status: u16,
        /// Seconds for a `Retry-After` header.
        retry_after: Option<u64>,
    },
    /// The next n requests answer this status (e.g. 500, 503).
    StatusNext {
        /// How many requests fail.
        n: usize,
        /// Status to answer.
        status: u16,
    },
    /// Every request is delayed this long before answering.
    Delay(Duration),
    /// The next n JSON responses (status 200) are cut in half: invalid JSON, status 200.
    TruncateNext {
        /// How many responses are cut.
        n: usize,
    },
    /// The next n responses come with Content-Type text/html and an HTML body (status kept).
    WrongContentTypeNext {
        /// How many responses are replaced.
        n: usize,
    },
    /// The next n requests get their connection closed without a response.
    ResetNext {
        /// How many connections are dropped.
        n: usize,
    },
    /// All requests fail with 503 until cleared ("down").
    Down,
    /// Authorized requests to exactly this path (e.g. `/configuration/v1/jobs`) answer 403
    /// with the documented error JSON until cleared, as when the web service account lacks
    /// the permission for that endpoint.
    ForbiddenPath(String),
}

/// What happens to a request before it reaches the handler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Before {
    /// Handle it normally.
    Pass,
    /// Answer this status right away.
    Status { status: u16, retry_after: Option<u64> },
    /// Close the connection without answering.
    Reset,
}

/// What happens to the handler's response.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum After {
    /// Send it as is.
    Pass,
    /// Send the first half of the body only.
    Truncate,
    /// Replace it with an HTML page.
    Html,
}

/// The active faults and their counters.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    active: Vec<Active>,
}

#[derive(Debug)]
struct Active {
    fault: Fault,
    /// Requests seen since injection (used by `StatusEvery`).
    seen: usize,
}

impl Faults {
    /// Switches a fault on (in addition to those already active).
    pub(crate) fn inject(&mut self, fault: Fault) {
        self.active.push(Active { fault, seen: 0 });
    }

    /// Switches every fault off.
    pub(crate) fn clear(&mut self) {
        self.active.clear();
    }

    /// The longest active delay, if any.
    pub(crate) fn delay(&self) -> Option<Duration> {
        self.active
            .iter()
            .filter_map(|a| match a.fault {
                Fault::Delay(d) => Some(d),
                _ => None,
            })
            .max()
    }

    /// Whether an authorized request to `path` is refused with 403 (`ForbiddenPath`).
    pub(crate) fn forbids(&self, path: &str) -> bool {
        self.active
            .iter()
            .any(|a| matches!(&a.fault, Fault::ForbiddenPath(p) if p == path))
    }

    /// Decides the fate of one incoming request and advances the counters.
    pub(crate) fn before(&mut self) -> Before {
        for a in &mut self.active {
            if matches!(a.fault, Fault::StatusEvery { .. }) {
                a.seen += 1;
            }
        }
        if self.active.iter().any(|a| a.fault == Fault::Down) {
            return Before::Status {
                status: 503,
                retry_after: None,
            };
        }
        let mut decision = Before::Pass;
        for a in &mut self.active {
            decision = match &mut a.fault {
                Fault::StatusEvery { k, status, retry_after } if *k > 0 && a.seen.is_multiple_of(*k) => {
                    Before::Status {
                        status: *status,
                        retry_after: *retry_after,
                    }
                }
                Fault::StatusNext { n, status } if *n > 0 => {
                    *n -= 1;
                    Before::Status {
                        status: *status,
                        retry_after: None,
                    }
                }
                Fault::ResetNext { n } if *n > 0 => {
                    *n -= 1;
                    Before::Reset
                }
                _ => continue,
            };
            break;
        }
        self.drop_spent();
        decision
    }

    /// Decides the fate of a response; `json_ok` tells whether it is a 200 JSON body.
    pub(crate) fn after(&mut self, json_ok: bool) -> After {
        let mut decision = After::Pass;
        if let Some(n) = self.counter(|f| matches!(f, Fault::WrongContentTypeNext { .. })) {
            *n -= 1;
            decision = After::Html;
        } else if json_ok {
            if let Some(n) = self.counter(|f| matches!(f, Fault::TruncateNext { .. })) {
                *n -= 1;
                decision = After::Truncate;
            }
        }
        self.drop_spent();
        decision
    }

    /// The remaining-count of the first matching "next n" fault that still has some left.
    fn counter(&mut self, kind: impl Fn(&Fault) -> bool) -> Option<&mut usize> {
        self.active
            .iter_mut()
            .filter(|a| kind(&a.fault))
            .find_map(|a| match &mut a.fault {
                Fault::TruncateNext { n } | Fault::WrongContentTypeNext { n } if *n > 0 => Some(n),
                _ => None,
            })
    }

    /// Forgets "next n" faults that have fired n times.
    fn drop_spent(&mut self) {
        self.active.retain(|a| {
            !matches!(
                a.fault,
                Fault::StatusNext { n: 0, .. }
                    | Fault::TruncateNext { n: 0 }
                    | Fault::WrongContentTypeNext { n: 0 }
                    | Fault::ResetNext { n: 0 }
            )
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(s: u16) -> Before {
        Before::Status {
            status: s,
            retry_after: None,
        }
    }

    #[test]
    fn status_every_counts_from_injection() {
        let mut f = Faults::default();
        f.inject(Fault::StatusEvery {
            k: 3,
            status: 429,
            retry_after: Some(2),
        });
        let got: Vec<_> = (0..6).map(|_| f.before()).collect();
        let hit = Before::Status {
            status: 429,
            retry_after: Some(2),
        };
        assert_eq!(got, [Before::Pass, Before::Pass, hit, Before::Pass, Before::Pass, hit]);
    }

    #[test]
    fn next_faults_run_out_and_down_wins() {
        let mut f = Faults::default();
        f.inject(Fault::StatusNext { n: 2, status: 500 });
        f.inject(Fault::ResetNext { n: 1 });
        assert_eq!(f.before(), status(500));
        assert_eq!(f.before(), status(500));
        assert_eq!(f.before(), Before::Reset);
        assert_eq!(f.before(), Before::Pass);
        f.inject(Fault::Down);
        assert_eq!(f.before(), status(503));
        f.clear();
        assert_eq!(f.before(), Before::Pass);
    }

    #[test]
    fn after_faults() {
        let mut f = Faults::default();
        f.inject(Fault::TruncateNext { n: 1 });
        f.inject(Fault::WrongContentTypeNext { n: 1 });
        f.inject(Fault::Delay(Duration::from_millis(5)));
        assert_eq!(f.delay(), Some(Duration::from_millis(5)));
        assert_eq!(f.after(true), After::Html);
        assert_eq!(f.after(false), After::Pass, "truncation waits for a JSON 200");
        assert_eq!(f.after(true), After::Truncate);
        assert_eq!(f.after(true), After::Pass);
    }

    #[test]
    fn forbidden_path_matches_exactly_and_stays_until_cleared() {
        let mut f = Faults::default();
        f.inject(Fault::ForbiddenPath("/configuration/v1/jobs".into()));
        for _ in 0..3 {
            assert_eq!(f.before(), Before::Pass, "decided after authentication, not here");
            assert!(f.forbids("/configuration/v1/jobs"));
        }
        assert!(!f.forbids("/configuration/v1/jobs/x"));
        assert!(!f.forbids("/configuration/v1/org-levels"));
        f.clear();
        assert!(!f.forbids("/configuration/v1/jobs"));
    }
}
