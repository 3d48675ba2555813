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
//!
//! A tenant's `[tenants.mapping]` changes it: `active_statuses`, and `attributes`, SCIM path
//! → expression (see `expr`), applied over the defaults.

use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::expr::Expr;
use crate::model::is_sensitive;
use crate::model::{AppUser, Employee};
use crate::spec::MappingSpec;

/// Why an employee cannot be synced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    #[error("no work email (emailAddress) in UKG; add the employee's work email in UKG")]
    MissingEmail,
    #[error("work email {0:?} is not a valid address; correct it in UKG")]
    InvalidEmail(String),
    #[error("userName {0:?} holds control characters; check the mapping and the record's data in UKG")]
    InvalidUserName(String),
    #[error("no first name in UKG; add it in UKG")]
    MissingFirstName,
    #[error("no last name in UKG; add it in UKG")]
    MissingLastName,
    #[error("the tenant's mapping gives no value for {0}; check the mapping and the record's data in UKG")]
    MissingMapped(String),
}

/// The enterprise extension's attribute prefix in mapping paths.
pub const ENTERPRISE_PREFIX: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:";

/// SCIM attribute paths a tenant's mapping may set.
pub const MAPPABLE: [&str; 21] = [
    "userName",
    "name.givenName",
    "name.familyName",
    "name.middleName",
    "name.honorificPrefix",
    "name.honorificSuffix",
    "displayName",
    "nickName",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "profileUrl",
    "emails",
    "addresses",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division",
];

/// UKG fields (API names) a mapping may read: employment-details, demographics, and the
/// resolved `department`. Sensitive fields are not among them.
pub const UKG_FIELDS: [&str; 32] = [
    "companyID",
    "companyCode",
    "employeeID",
    "employeeNumber",
    "employeeTypeCode",
    "jobTitle",
    "jobDescription",
    "primaryJobCode",
    "orgLevel1Code",
    "orgLevel2Code",
    "orgLevel3Code",
    "orgLevel4Code",
    "primaryWorkLocationCode",
    "employeeStatusCode",
    "originalHireDate",
    "lastHireDate",
    "dateOfTermination",
    "supervisorID",
    "supervisorCompanyID",
    "fullTimeOrPartTimeCode",
    "hourlyOrSalaryCode",
    "isHomeCompany",
    "personId",
    "firstName",
    "middleName",
    "lastName",
    "preferredName",
    "emailAddress",
    "emailAddressAlternate",
    "department",
    "dateTimeCreated",
    "dateTimeChanged",
];

/// Checks a mapping entry at start: the attribute may be set, the fields exist and are not
/// sensitive. The error is the reason, for a message naming the key.
pub fn check_mapping_entry(path: &str, expr: &Expr) -> Result<(), String> {
    if !MAPPABLE.contains(&path) {
        let reserved = [
            "externalId",
            "active",
            "id",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        ];
        if reserved.contains(&path) {
            return Err(format!(
                "{path} is set by hrsync itself and cannot be mapped (use active_statuses for active)"
            ));
        }
        return Err(format!(
            "{path} is not an attribute hrsync can set; expected one of {}",
            MAPPABLE.join(", ")
        ));
    }
    for f in expr.fields() {
        if is_sensitive(f) {
            return Err(format!("{f} is a sensitive HR field and is never read"));
        }
        if !UKG_FIELDS.contains(&f) {
            return Err(format!(
                "{f} is not a UKG field hrsync reads; expected one of {}",
                UKG_FIELDS.join(", ")
            ));
        }
    }
    Ok(())
}

/// Maps one employee as of `today` (the tenant's local date: a termination dated in the
/// future leaves the user active until that day), with the tenant's mapping applied over
/// the default one.
pub fn map_employee(e: &Employee, today: NaiveDate, spec: &MappingSpec) -> Result<AppUser, MapError> {
    let text = |v: Option<&str>| v.map(clean).unwrap_or_default();
    let optional = |v: Option<&str>| v.map(clean).filter(|s| !s.is_empty());
    let mut user = AppUser {
        external_id: e.employee_id.clone(),
        user_name: String::new(),
        given_name: text(e.preferred_name.as_deref().or(e.first_name.as_deref())),
        family_name: text(e.last_name.as_deref()),
        display_name: String::new(),
        email: e.email.as_deref().map(str::trim).unwrap_or_default().to_string(),
        title: optional(e.job_title.as_deref()),
        department: optional(e.department.as_deref()),
        employee_number: optional(e.employee_number.as_deref()),
        location: optional(e.work_location.as_deref()),
        active: is_active_on(e, today, spec.active_statuses.as_deref()),
        termination_date: None,
        manager_external_id: e.supervisor_id.clone().filter(|m| *m != e.employee_id),
        extra: Default::default(),
    };
    for (path, expr) in &spec.attributes {
        // userName and emails are checked, not cleaned: a control character there sets the
        // record aside rather than silently becoming another address.
        let value = match path.as_str() {
            "userName" | "emails" => expr.eval(&e.fields).map(|v| v.trim().nfc().collect()),
            _ => optional(expr.eval(&e.fields).as_deref()),
        };
        set_attribute(&mut user, path, value)?;
    }
    if user.email.is_empty() {
        return Err(MapError::MissingEmail);
    }
    if !is_plausible_email(&user.email) {
        return Err(MapError::InvalidEmail(user.email));
    }
    user.email = user.email.to_lowercase();
    if user.user_name.is_empty() {
        user.user_name = user.email.clone();
    }
    user.user_name = user.user_name.to_lowercase();
    if user.user_name.chars().any(char::is_control) {
        return Err(MapError::InvalidUserName(user.user_name));
    }
    if !user.active {
        user.termination_date = e.termination_date;
    }
    if user.given_name.is_empty() {
        return Err(MapError::MissingFirstName);
    }
    if user.family_name.is_empty() {
        return Err(MapError::MissingLastName);
    }
    if user.display_name.is_empty() {
        user.display_name = format!("{} {}", user.given_name, user.family_name);
    }
    Ok(user)
}

/// Sets one mapped attribute; an empty value clears an optional one and fails a required one.
fn set_attribute(user: &mut AppUser, path: &str, value: Option<String>) -> Result<(), MapError> {
    let required = |v: Option<String>| v.ok_or_else(|| MapError::MissingMapped(path.to_string()));
    match path {
        "userName" => user.user_name = required(value)?,
        "name.givenName" => user.given_name = required(value)?,
        "name.familyName" => user.family_name = required(value)?,
        "emails" => user.email = required(value)?,
        "displayName" => user.display_name = value.unwrap_or_default(),
        "title" => user.title = value,
        "addresses" => user.location = value,
        p if p == format!("{ENTERPRISE_PREFIX}department") => user.department = value,
        p if p == format!("{ENTERPRISE_PREFIX}employeeNumber") => user.employee_number = value,
        other => match value {
            Some(v) => {
                user.extra.insert(other.to_string(), v);
            }
            None => {
                user.extra.remove(other);
            }
        },
    }
    Ok(())
}

/// Whether a UKG status code means the user should be active: one of `active_statuses`
/// when the tenant lists them, else anything but `T` (terminated).
pub fn is_active_status(code: &str, active_statuses: Option<&[String]>) -> bool {
    let code = code.trim();
    match active_statuses {
        Some(list) => list.iter().any(|s| s.eq_ignore_ascii_case(code)),
        None => !code.eq_ignore_ascii_case("T"),
    }
}

/// Whether the employee should be active on `today`: terminated employees stay active until
/// their termination date (effective dates are acted on, not anticipated).
pub fn is_active_on(e: &Employee, today: NaiveDate, active_statuses: Option<&[String]>) -> bool {
    is_active_status(&e.status, active_statuses) || e.termination_date.is_some_and(|d| d > today)
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

/// Text as written to the app and the user file: control characters (NUL, escapes, line
/// breaks, …) never pass — a tab or line break becomes a space, the others are dropped —
/// then trimmed and NFC-normalised.
fn clean(s: &str) -> String {
    let visible: String = s
        .chars()
        .filter_map(|c| match c {
            c if !c.is_control() => Some(c),
            c if c.is_whitespace() => Some(' '),
            _ => None,
        })
        .collect();
    visible.trim().nfc().collect()
}

/// Strict enough that what passes is one address: exactly one `@`; a local part of letters,
/// digits and `!#$%&'*+-/=?^_`{|}~.` (no leading, trailing or double dot, at most 64 bytes);
/// a domain of two or more dot-separated labels of letters, digits and inner hyphens. So no
/// comma, semicolon, quote, bracket, whitespace or control character anywhere. Letters and
/// digits may be non-ASCII (internationalised addresses).
pub fn is_plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
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
            fields: [
                ("firstName", "Zoe"),
                ("lastName", "Smith"),
                ("orgLevel3Code", "CC-7"),
                ("emailAddress", "zoe@alt.example"),
            ]
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect(),
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
    }

    #[test]
    fn maps_names_email_and_manager() {
        let u = map_employee(&employee(), today(), &MappingSpec::default()).unwrap();
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
        let u = map_employee(&e, today(), &MappingSpec::default()).unwrap();
        assert_eq!(u.display_name, "Zed Smith");
        assert!(!u.active);
    }

    #[test]
    fn a_future_termination_waits_for_its_day() {
        let mut e = employee();
        e.status = "T".into();
        e.termination_date = NaiveDate::from_ymd_opt(2026, 12, 1);
        assert!(
            map_employee(&e, today(), &MappingSpec::default()).unwrap().active,
            "before the date"
        );
        let before = map_employee(&e, today(), &MappingSpec::default()).unwrap();
        assert_eq!(
            before.termination_date, None,
            "an active user carries no termination date"
        );
        let on_the_day = map_employee(
            &e,
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            &MappingSpec::default(),
        )
        .unwrap();
        assert!(!on_the_day.active, "on the date");
        assert_eq!(on_the_day.termination_date, NaiveDate::from_ymd_opt(2026, 12, 1));
        e.termination_date = None;
        assert!(
            !map_employee(&e, today(), &MappingSpec::default()).unwrap().active,
            "no date: at once"
        );
    }

    #[test]
    fn bad_records_get_precise_reasons() {
        let mut e = employee();
        e.email = None;
        assert_eq!(
            map_employee(&e, today(), &MappingSpec::default()),
            Err(MapError::MissingEmail)
        );
        e.email = Some("not an email".into());
        assert!(matches!(
            map_employee(&e, today(), &MappingSpec::default()),
            Err(MapError::InvalidEmail(_))
        ));
        let mut e = employee();
        e.last_name = Some("  ".into());
        assert_eq!(
            map_employee(&e, today(), &MappingSpec::default()),
            Err(MapError::MissingLastName)
        );
    }

    #[test]
    fn emails_are_checked_strictly() {
        for good in [
            "zoe.smith@acme.example",
            "o'brien+hr@sub.acme-corp.example",
            "zoë@bücher.example",
        ] {
            assert!(is_plausible_email(good), "{good}");
        }
        for bad in [
            "zoe,smith@acme.example",
            "zoe@acme.example,eve@evil.example",
            "zoe smith@acme.example",
            "zoe\u{0}@acme.example",
            "zoe@acme.example\u{0}",
            "zoe\t@acme.example",
            "zoe@@acme.example",
            "zoe@a@acme.example",
            "zoe;eve@acme.example",
            "\"zoe\"@acme.example",
            "<zoe@acme.example>",
            ".zoe@acme.example",
            "zoe..s@acme.example",
            "zoe@acme",
            "zoe@-acme.example",
            "zoe@acme..example",
            "@acme.example",
        ] {
            assert!(!is_plausible_email(bad), "{bad:?}");
        }
        let mut e = employee();
        e.email = Some("zoe,smith@acme.example".into());
        assert_eq!(
            map_employee(&e, today(), &MappingSpec::default()),
            Err(MapError::InvalidEmail("zoe,smith@acme.example".into()))
        );
        e.email = Some("zoe\u{0}@acme.example".into());
        let reason = map_employee(&e, today(), &MappingSpec::default())
            .unwrap_err()
            .to_string();
        assert!(
            !reason.contains('\u{0}'),
            "the reason shows the NUL escaped: {reason:?}"
        );
    }

    #[test]
    fn control_characters_never_reach_the_app() {
        let mut e = employee();
        e.first_name = Some("Zo\u{0}e".into());
        e.last_name = Some("Smith\r\nInjected: yes".into());
        e.job_title = Some("\u{1b}[31mEngineer\u{7f}".into());
        e.department = Some("\u{0}".into());
        e.employee_number = Some("00\u{0}42".into());
        let u = map_employee(&e, today(), &MappingSpec::default()).unwrap();
        assert_eq!(u.given_name, "Zoe");
        assert_eq!(u.family_name, "Smith  Injected: yes");
        assert_eq!(u.title.as_deref(), Some("[31mEngineer"));
        assert_eq!(u.department, None, "nothing visible left: no value");
        assert_eq!(u.employee_number.as_deref(), Some("0042"));
        let all = serde_json::to_string(&u).unwrap();
        assert!(!all.chars().any(char::is_control), "{all}");
        assert!(!all.contains("\\u0000") && !all.contains("\\r"), "{all}");
        // A mapped userName with a control character sets the record aside.
        let spec = MappingSpec {
            active_statuses: None,
            attributes: vec![("userName".into(), Expr::parse("{firstName}").unwrap())],
        };
        e.fields.insert("firstName", "zoe\u{0}admin".into());
        assert!(matches!(
            map_employee(&e, today(), &spec),
            Err(MapError::InvalidUserName(_))
        ));
    }

    #[test]
    fn tenant_mapping_overrides_and_adds_attributes() {
        let spec = MappingSpec {
            active_statuses: Some(vec!["A".into()]),
            attributes: vec![
                (
                    "userName".into(),
                    Expr::parse(r#"lowercase("{firstName}.{lastName}@acme.example")"#).unwrap(),
                ),
                (
                    format!("{ENTERPRISE_PREFIX}costCenter"),
                    Expr::parse("{orgLevel3Code}").unwrap(),
                ),
                ("title".into(), Expr::parse("{jobDescription}").unwrap()),
                ("nickName".into(), Expr::parse("Zed").unwrap()),
            ],
        };
        let mut e = employee();
        let u = map_employee(&e, today(), &spec).unwrap();
        assert_eq!(u.user_name, "zoe.smith@acme.example");
        assert_eq!(u.extra[&format!("{ENTERPRISE_PREFIX}costCenter")], "CC-7");
        assert_eq!(u.extra["nickName"], "Zed");
        assert_eq!(u.title, None, "no jobDescription: the default is cleared, not kept");
        e.status = "L".into();
        assert!(
            !map_employee(&e, today(), &spec).unwrap().active,
            "only A counts as active here"
        );
        let required = MappingSpec {
            active_statuses: None,
            attributes: vec![("userName".into(), Expr::parse("{middleName}").unwrap())],
        };
        assert_eq!(
            map_employee(&e, today(), &required),
            Err(MapError::MissingMapped("userName".into()))
        );
    }

    #[test]
    fn mapping_entries_are_checked_at_start() {
        let ok = Expr::parse("{orgLevel3Code}").unwrap();
        assert!(check_mapping_entry("nickName", &ok).is_ok());
        assert!(check_mapping_entry("externalId", &ok)
            .unwrap_err()
            .contains("set by hrsync"));
        assert!(check_mapping_entry("shoeSize", &ok)
            .unwrap_err()
            .contains("not an attribute"));
        assert!(check_mapping_entry("title", &Expr::parse("{ssn}").unwrap())
            .unwrap_err()
            .contains("sensitive"));
        assert!(check_mapping_entry("title", &Expr::parse("{jobTitel}").unwrap())
            .unwrap_err()
            .contains("not a UKG field"));
    }

    #[test]
    fn self_manager_is_dropped() {
        let mut e = employee();
        e.supervisor_id = Some("E1".into());
        assert_eq!(
            map_employee(&e, today(), &MappingSpec::default())
                .unwrap()
                .manager_external_id,
            None
        );
    }

    #[test]
    fn hash_ignores_manager_but_not_attributes() {
        let a = map_employee(&employee(), today(), &MappingSpec::default()).unwrap();
        let mut b = a.clone();
        b.manager_external_id = Some("E9".into());
        assert_eq!(content_hash(&a), content_hash(&b));
        b.department = Some("Sales".into());
        assert_ne!(content_hash(&a), content_hash(&b));
    }
}
