//! The safety brakes: a deactivation storm is held for a person to approve, and a roster
//! that comes back empty or sharply shrunken fails the run instead of deactivating anyone.
//! Pure functions, no I/O.

use serde::{Deserialize, Serialize};

pub use crate::spec::BrakeSpec;

/// Why the deactivations of a run are held, or None when they may be applied.
pub fn deactivation_brake(deactivations: u64, active_users: u64, spec: &BrakeSpec) -> Option<String> {
    if let Some(max) = spec.max_deactivations {
        if deactivations > max {
            return Some(format!(
                "{deactivations} deactivations exceed max_deactivations = {max}"
            ));
        }
    }
    if active_users >= spec.min_population
        && deactivations * 100 > active_users * u64::from(spec.max_deactivation_percent)
    {
        return Some(format!(
            "{deactivations} deactivations are more than {}% of the {active_users} active users",
            spec.max_deactivation_percent
        ));
    }
    None
}

/// Why a roster read cannot be trusted, or None. `last_complete` is the size of the last
/// complete read (None before the first).
pub fn roster_guard(read: u64, last_complete: Option<u64>, spec: &BrakeSpec) -> Option<String> {
    if read == 0 {
        return Some(
            "UKG returned no employees; nothing was deactivated. Check the service account's Personnel Integration permission and the company's data in UKG".to_string(),
        );
    }
    match last_complete {
        Some(last) if read * 100 < last * u64::from(spec.min_roster_percent) => Some(format!(
            "UKG returned {read} employees, fewer than {}% of the {last} read last time; nothing was deactivated. Check the service account's permissions and company access in UKG; if the roster really shrank, lower min_roster_percent",
            spec.min_roster_percent
        )),
        _ => None,
    }
}

/// A deactivation waiting for approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldDeactivation {
    pub employee_id: String,
    pub app_id: String,
    /// "terminated in UKG" or "absent from the roster".
    pub reason: String,
    /// The employee's content hash in the store when the run held them: a different one at
    /// approval means their state changed since, and the deactivation is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// A later run whose complete roster read did not plan this deactivation (the employee
    /// is active in UKG again): approval skips them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub back_since: Option<u64>,
}

/// The deactivations a run held back, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub run_id: u64,
    pub reason: String,
    pub deactivations: Vec<HeldDeactivation>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brake_trips_above_the_share_only_for_big_tenants() {
        let spec = BrakeSpec::default();
        assert_eq!(deactivation_brake(20, 100, &spec), None, "20% is allowed");
        assert!(deactivation_brake(21, 100, &spec).unwrap().contains("20%"));
        assert_eq!(deactivation_brake(40, 99, &spec), None, "small tenant");
        let spec = BrakeSpec {
            max_deactivations: Some(5),
            ..spec
        };
        assert!(deactivation_brake(6, 10, &spec).unwrap().contains("max_deactivations"));
    }

    #[test]
    fn empty_or_shrunken_rosters_are_refused() {
        let spec = BrakeSpec::default();
        assert!(roster_guard(0, None, &spec).is_some());
        assert!(roster_guard(0, Some(10), &spec).is_some());
        assert_eq!(roster_guard(10, None, &spec), None);
        assert_eq!(roster_guard(50, Some(100), &spec), None);
        assert!(roster_guard(49, Some(100), &spec).unwrap().contains("49"));
    }
}
