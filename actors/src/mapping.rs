//! The mapping: a UKG [`Employee`] becomes the [`AppUser`] hrsync wants in the app, or a
//! precise reason why it cannot. Pure functions, no I/O.
//!
//! Default mapping (UKG API name → SCIM attribute):
//! employeeID → `externalId`; emailAddress → `userName` and the primary work email;
//! preferredName or firstName → `name.givenName`; lastName → `name.familyName`;
//! both → `displayName`; jobTitle (→ jobDescription → jobs lookup) → `title`;
//! org level N description → enterprise `department`; employeeNumber → enterprise
//! `employeeNumber`; supervisorID → enterprise `manager`; primaryWorkLocationCode → work
//! address; employeeStatusCode → `active` (`T` inactive, anything else active).

use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::model::{AppUser, Employee};

/// Why an employee cannot be synced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    #[error("no work email (emailAddress) in UKG; add the employee's work email in UKG")]
    MissingEmail,
    #[error("work email {0:?} is not a valid address; correct it in UKG")]
    InvalidEmail(String),
    #[error("no first name in UKG; add it in UKG")]
    MissingFirstName,
    #[error("no last name in UKG; add it in UKG")]
    MissingLastName,
}

/// Maps one employee as of `today` (the tenant's local date: a termination dated in the
/// future leaves the user active until that day).
pub fn map_employee(e: &Employee, today: NaiveDate) -> Result<AppUser, MapError> {
    let email = e.email.as_deref().map(str::trim).unwrap_or_default();
    if email.is_empty() {
        return Err(MapError::MissingEmail);
    }
    if !is_plausible_email(email) {
        return Err(MapError::InvalidEmail(email.to_string()));
    }
    let email = email.to_lowercase();
    let given = e
        .preferred_name
        .as_deref()
        .or(e.first_name.as_deref())
        .map(nfc)
        .filter(|s| !s.is_empty())
        .ok_or(MapError::MissingFirstName)?;
    let family = e
        .last_name
        .as_deref()
        .map(nfc)
        .filter(|s| !s.is_empty())
        .ok_or(MapError::MissingLastName)?;
    let manager = e.supervisor_id.clone().filter(|m| *m != e.employee_id);
    Ok(AppUser {
        external_id: e.employee_id.clone(),
        user_name: email.clone(),
        display_name: format!("{given} {family}"),
        given_name: given,
        family_name: family,
        email,
        title: e.job_title.as_deref().map(nfc),
        department: e.department.as_deref().map(nfc),
        employee_number: e.employee_number.clone(),
        location: e.work_location.clone(),
        active: is_active_on(e, today),
        manager_external_id: manager,
    })
}

/// Whether a UKG status code means the user should be active (`T` is terminated).
pub fn is_active_status(code: &str) -> bool {
    !code.trim().eq_ignore_ascii_case("T")
}

/// Whether the employee should be active on `today`: terminated employees stay active until
/// their termination date (effective dates are acted on, not anticipated).
pub fn is_active_on(e: &Employee, today: NaiveDate) -> bool {
    is_active_status(&e.status) || e.termination_date.is_some_and(|d| d > today)
}

/// Content hash of the user's attributes, manager excluded (manager links are tracked
/// separately because they can only be written once the manager exists in the app).
pub fn content_hash(user: &AppUser) -> String {
    let mut canonical = user.clone();
    canonical.manager_external_id = None;
    // Serialising a plain struct of strings cannot fail.
    let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn nfc(s: &str) -> String {
    s.trim().nfc().collect()
}

/// A light check: one `@`, a non-empty local part, a dotted domain, no spaces.
fn is_plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn employee() -> Employee {
        Employee {
            company_id: "C1".into(),
            employee_id: "E1".into(),
            employee_number: Some("000042".into()),
            first_name: Some("Zoe\u{0308}".into()), // decomposed ë
            preferred_name: None,
            last_name: Some(" Smith ".into()),
            email: Some("Zoe.Smith@Acme.Example".into()),
            job_title: Some("Engineer".into()),
            department: Some("R&D".into()),
            work_location: Some("NYC".into()),
            status: "A".into(),
            termination_date: None,
            supervisor_id: Some("E0".into()),
            supervisor_in_roster: true,
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
    }

    #[test]
    fn maps_names_email_and_manager() {
        let u = map_employee(&employee(), today()).unwrap();
        assert_eq!(u.given_name, "Zoë"); // NFC: one code point
        assert_eq!(u.given_name.chars().count(), 3);
        assert_eq!(u.family_name, "Smith");
        assert_eq!(u.user_name, "zoe.smith@acme.example");
        assert_eq!(u.manager_external_id.as_deref(), Some("E0"));
        assert!(u.active);
    }

    #[test]
    fn preferred_name_wins_and_terminated_is_inactive() {
        let mut e = employee();
        e.preferred_name = Some("Zed".into());
        e.status = "T".into();
        let u = map_employee(&e, today()).unwrap();
        assert_eq!(u.display_name, "Zed Smith");
        assert!(!u.active);
    }

    #[test]
    fn a_future_termination_waits_for_its_day() {
        let mut e = employee();
        e.status = "T".into();
        e.termination_date = NaiveDate::from_ymd_opt(2026, 12, 1);
        assert!(map_employee(&e, today()).unwrap().active, "before the date");
        assert!(
            !map_employee(&e, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap())
                .unwrap()
                .active,
            "on the date"
        );
        e.termination_date = None;
        assert!(!map_employee(&e, today()).unwrap().active, "no date: at once");
    }

    #[test]
    fn bad_records_get_precise_reasons() {
        let mut e = employee();
        e.email = None;
        assert_eq!(map_employee(&e, today()), Err(MapError::MissingEmail));
        e.email = Some("not an email".into());
        assert!(matches!(map_employee(&e, today()), Err(MapError::InvalidEmail(_))));
        let mut e = employee();
        e.last_name = Some("  ".into());
        assert_eq!(map_employee(&e, today()), Err(MapError::MissingLastName));
    }

    #[test]
    fn self_manager_is_dropped() {
        let mut e = employee();
        e.supervisor_id = Some("E1".into());
        assert_eq!(map_employee(&e, today()).unwrap().manager_external_id, None);
    }

    #[test]
    fn hash_ignores_manager_but_not_attributes() {
        let a = map_employee(&employee(), today()).unwrap();
        let mut b = a.clone();
        b.manager_external_id = Some("E9".into());
        assert_eq!(content_hash(&a), content_hash(&b));
        b.department = Some("Sales".into());
        assert_ne!(content_hash(&a), content_hash(&b));
    }
}
