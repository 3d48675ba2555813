//! The restart policy: the backoff between restarts ([`Backoff`], pure, in
//! `hrsync_core::engine::backoff`: 1 s doubling to 5 min), and what a supervision event says
//! about a stopped child.

pub use hrsync_core::engine::backoff::Backoff;

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
