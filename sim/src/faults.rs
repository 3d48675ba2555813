//! Fault injection for the UKG simulator: the [`Fault`] kinds a test can switch on, and
//! the bookkeeping that decides, request by request, which fault fires.
//!
//! Faults apply to requests under `/personnel` and `/configuration`. Delays, statuses,
//! resets and "down" are decided before authentication (like a gateway in front of the
//! API); truncation and wrong content type alter the response of a request that got
//! through. When several faults would fire on one request, `Down` wins, then the
//! earliest injected. `ForbiddenPath` is decided after authentication, like UKG's own
//! permission check: bad credentials still get 401 there. Row faults (`DropRow`,
//! `IgnorePage`, `MalformedRow`, `DuplicateRow`) change the rows the two roster lists serve,
//! not the fate of the request.

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
    /// Page `page` of the roster list at `path` (employment-details or
    /// employee-demographic-details) loses its last row, every time it is served, until
    /// cleared: a short page that is not the last.
    DropRow {
        /// The list's path, e.g. `/personnel/v1/employment-details`.
        path: String,
        /// The page (from 1) that loses a row.
        page: usize,
    },
    /// The roster lists ignore the `page` parameter and serve page 1 every time, until cleared.
    IgnorePage,
    /// This employee's employment-details row carries a list where `jobTitle` text belongs,
    /// until cleared.
    MalformedRow {
        /// The employee whose row is spoilt.
        employee_id: String,
    },
    /// This employee's row is listed twice (one after the other) in the roster list at
    /// `path`, until cleared.
    DuplicateRow {
        /// The list's path, e.g. `/personnel/v1/employment-details`.
        path: String,
        /// The employee listed twice.
        employee_id: String,
    },
}

/// The row-level faults active on one roster list (see [`Faults::rows`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RowFaults {
    /// The page that loses its last row.
    pub(crate) drop_row_of_page: Option<usize>,
    /// Serve page 1 whatever was asked.
    pub(crate) ignore_page: bool,
    /// Employees whose row gets a list for `jobTitle`.
    pub(crate) malformed: Vec<String>,
    /// Employees listed twice.
    pub(crate) duplicated: Vec<String>,
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

    /// The row-level faults on the roster list at `path` (malformed rows: employment-details only).
    pub(crate) fn rows(&self, path: &str) -> RowFaults {
        let mut out = RowFaults::default();
        for a in &self.active {
            match &a.fault {
                Fault::DropRow { path: p, page } if p == path => out.drop_row_of_page = Some(*page),
                Fault::IgnorePage => out.ignore_page = true,
                Fault::MalformedRow { employee_id } if path.ends_with("/employment-details") => {
                    out.malformed.push(employee_id.clone())
                }
                Fault::DuplicateRow { path: p, employee_id } if p == path => out.duplicated.push(employee_id.clone()),
                _ => {}
            }
        }
        out
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
    fn row_faults_apply_to_their_list_until_cleared() {
        let mut f = Faults::default();
        let emp = "/personnel/v1/employment-details";
        let demo = "/personnel/v1/employee-demographic-details";
        f.inject(Fault::DropRow {
            path: emp.into(),
            page: 3,
        });
        f.inject(Fault::MalformedRow {
            employee_id: "E7".into(),
        });
        f.inject(Fault::DuplicateRow {
            path: demo.into(),
            employee_id: "E2".into(),
        });
        let on_emp = f.rows(emp);
        assert_eq!(on_emp.drop_row_of_page, Some(3));
        assert_eq!(on_emp.malformed, ["E7"]);
        assert!(on_emp.duplicated.is_empty() && !on_emp.ignore_page);
        let on_demo = f.rows(demo);
        assert_eq!((on_demo.drop_row_of_page, on_demo.malformed.len()), (None, 0));
        assert_eq!(on_demo.duplicated, ["E2"]);
        assert_eq!(f.before(), Before::Pass, "row faults change rows, not requests");
        f.inject(Fault::IgnorePage);
        assert!(f.rows(demo).ignore_page);
        f.clear();
        assert_eq!(f.rows(emp), RowFaults::default());
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
