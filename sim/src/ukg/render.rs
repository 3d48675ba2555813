//! How each UKG endpoint renders a record, quirks included: capital `ID` and `null`
//! empties on employment details, lowercase `Id` and a mix of `null` and `""` on
//! demographics, US-locale dates and `""` empties on the change feed, timestamps
//! without offset and with 0 to 3 fraction digits.

use chrono::{Duration, NaiveDate, NaiveDateTime, Timelike};
use serde_json::{json, Value};

use crate::roster::{Company, Job, Location, OrgLevel, SimEmployee, COMPONENT_COMPANY_ID};

/// `/personnel/v1/employment-details` row.
pub(crate) fn employment(e: &SimEmployee) -> Value {
    let h = fnv(&e.employee_id);
    let created = e.original_hire_date.and_hms_opt(9, 30, 0).unwrap_or_default() - Duration::days(14)
        + Duration::milliseconds((h % 3_600_000) as i64);
    let terminated = e.status == "T";
    let status_start = e.date_of_termination.filter(|_| terminated).unwrap_or(e.last_hire_date);
    json!({
        "companyID": e.company_id,
        "companyCode": e.company_code,
        "employeeID": e.employee_id,
        "employeeNumber": e.employee_number,
        "jobTitle": e.job_title,
        "jobDescription": e.job_description,
        "primaryJobCode": e.job_code,
        "orgLevel1Code": e.org_level1_code,
        "orgLevel2Code": e.org_level2_code,
        "orgLevel3Code": e.org_level3_code,
        "orgLevel4Code": e.org_level4_code,
        "primaryWorkLocationCode": e.work_location_code,
        "primaryProjectCode": null,
        "employeeStatusCode": e.status,
        "employeeTypeCode": e.employee_type,
        "fullTimeOrPartTimeCode": if h.is_multiple_of(9) { "P" } else { "F" },
        "hourlyOrSalaryCode": if h.is_multiple_of(3) { "H" } else { "S" },
        "payGroup": if e.company_id == COMPONENT_COMPANY_ID { "CABW" } else { "USBW" },
        "originalHireDate": date_ts(e.original_hire_date),
        "lastHireDate": date_ts(e.last_hire_date),
        "seniorityDate": date_ts(e.original_hire_date),
        "dateInJob": date_ts(e.last_hire_date),
        "dateOfTermination": e.date_of_termination.map(date_ts),
        "termReason": if terminated { Some("VOL") } else { None },
        "leaveReasonCode": if e.status == "L" { Some("MED") } else { None },
        "employeeStatusStartDate": date_ts(status_start),
        "supervisorID": e.supervisor_id,
        "supervisorCompanyID": e.supervisor_company_id,
        "isHomeCompany": true,
        "dateTimeCreated": frac_ts(created, (h >> 8) % 4),
        "dateTimeChanged": frac_ts(e.changed_at, (h >> 16) % 4),
    })
}

/// Home addresses the demographics rows are given: (street, city, state, zip, country).
const ADDRESSES: &[(&str, &str, &str, &str, &str)] = &[
    ("Maple Ave", "Springfield", "IL", "62704", "USA"),
    ("Oak Street", "Austin", "TX", "78701", "USA"),
    ("Elm Road", "Brooklyn", "NY", "11201", "USA"),
    ("Pine Lane", "Oakland", "CA", "94607", "USA"),
    ("Cedar Court", "Evanston", "IL", "60201", "USA"),
];

/// `/personnel/v1/employee-demographic-details` row (sensitive fields included).
pub(crate) fn demographics(e: &SimEmployee) -> Value {
    let h = fnv(&e.person_id);
    let (street, city, state, zip, country) = if e.company_id == COMPONENT_COMPANY_ID {
        ("Queen Street West", "Toronto", "ON", "M5V 2T6", "CAN")
    } else {
        ADDRESSES[(h % ADDRESSES.len() as u64) as usize]
    };
    json!({
        "employeeId": e.employee_id,
        "companyId": e.company_id,
        "personId": e.person_id,
        "firstName": e.first_name,
        "middleName": e.middle_name.as_deref().unwrap_or(""),
        "lastName": e.last_name,
        "preferredName": e.preferred_name,
        "formerName": "",
        "prefix": null,
        "suffix": "",
        "emailAddress": e.email,
        "emailAddressAlternate": e.email_alternate.as_deref().unwrap_or(""),
        "addressLine1": format!("{} {}", 100 + h % 9_000, street),
        "addressLine2": if h.is_multiple_of(5) { "Apt 4B" } else { "" },
        "city": city,
        "state": state,
        "zipCode": zip,
        "country": country,
        "homePhone": format!("555{:07}", (h >> 12) % 10_000_000),
        "ssn": e.ssn,
        "dateOfBirth": date_ts(e.date_of_birth),
    })
}

/// `/personnel/v1/employee-supervisor-details` row.
pub(crate) fn supervisor(e: &SimEmployee, sup: Option<&SimEmployee>) -> Value {
    json!({
        "employeeID": e.employee_id,
        "companyID": e.company_id,
        "employeeNumber": e.employee_number,
        "firstName": e.first_name,
        "lastName": e.last_name,
        "employeeStatusCode": e.status,
        "supervisorEmployeeID": e.supervisor_id,
        "supervisorCompanyID": e.supervisor_company_id,
        "supervisorEmployeeNumber": sup.map(|s| &s.employee_number),
        "supervisorEmail": sup.and_then(|s| s.email.as_ref()),
        "supervisorFirstName": sup.map(|s| &s.first_name),
        "supervisorLastName": sup.map(|s| &s.last_name),
    })
}

/// `/personnel/v1/employee-changes` row: a snapshot, US-locale dates, `""` for empty.
pub(crate) fn change(e: &SimEmployee, sup: Option<&SimEmployee>) -> Value {
    let h = fnv(&e.employee_id);
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut row = json!({
        "employeeId": e.employee_id,
        "companyId": e.company_id,
        "personId": e.person_id,
        "firstName": e.first_name,
        "lastName": e.last_name,
        "preferredName": text(&e.preferred_name),
        "emailAddress": text(&e.email),
        "employeeNumber": e.employee_number,
        "supervisorId": text(&e.supervisor_id),
        "supervisorName": sup.map(|s| format!("{} {}", s.first_name, s.last_name)).unwrap_or_default(),
        "isActive": e.status != "T",
        "employeeStatus": e.status,
        "jobCode": text(&e.job_code),
        "alternateJobTitle": text(&e.job_title),
        "orgLevel1Code": text(&e.org_level1_code),
        "orgLevel2Code": text(&e.org_level2_code),
        "orgLevel3Code": text(&e.org_level3_code),
        "orgLevel4Code": text(&e.org_level4_code),
        "hireDate": us_date(e.original_hire_date),
        "dateOfLastHire": us_date(e.last_hire_date),
        "terminationDate": e.date_of_termination.map(us_date).unwrap_or_default(),
    });
    // Both spellings are seen in the wild.
    let location_field = if h.is_multiple_of(2) {
        "workLocation"
    } else {
        "workLocationCode"
    };
    if let Value::Object(map) = &mut row {
        map.insert(location_field.to_owned(), json!(text(&e.work_location_code)));
    }
    row
}

/// `/configuration/v1/org-levels` row.
pub(crate) fn org_level(o: &OrgLevel) -> Value {
    json!({"level": o.level, "code": o.code, "description": o.description, "isActive": o.is_active})
}

/// `/configuration/v1/jobs` row.
pub(crate) fn job(j: &Job) -> Value {
    json!({"code": j.code, "title": j.title, "isActive": j.is_active, "jobGroupCode": null})
}

/// `/configuration/v1/locations` row.
pub(crate) fn location(l: &Location) -> Value {
    json!({
        "locationCode": l.code,
        "description": l.description,
        "addressLine1": "",
        "city": l.city,
        "state": l.state,
        "zipOrPostalCode": "",
        "countryCode": l.country_code,
        "isActive": l.is_active,
    })
}

/// `/configuration/v1/company-details` row.
pub(crate) fn company(c: &Company) -> Value {
    json!({
        "companyID": c.company_id,
        "companyCode": c.company_code,
        "companyName": c.company_name,
        "isMasterCompany": if c.is_master { "Y" } else { "N" },
    })
}

/// "2021-09-20T00:00:00".
fn date_ts(d: NaiveDate) -> String {
    d.format("%Y-%m-%dT00:00:00").to_string()
}

/// "2023-03-29T11:43:28" plus `digits` (0..=3) digits of milliseconds, e.g. ".927".
fn frac_ts(t: NaiveDateTime, digits: u64) -> String {
    let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let millis = format!("{:03}", (t.nanosecond() / 1_000_000).min(999));
    let digits = (digits as usize).min(3);
    if digits > 0 {
        s.push('.');
        s.push_str(&millis[..digits]);
    }
    s
}

/// "1/1/1996 12:00:00 AM".
fn us_date(d: NaiveDate) -> String {
    d.format("%-m/%-d/%Y 12:00:00 AM").to_string()
}

/// FNV-1a: a stable hash to vary rendering details per record.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_formats() {
        let t = NaiveDate::from_ymd_opt(2023, 3, 29)
            .and_then(|d| d.and_hms_milli_opt(11, 43, 28, 927))
            .unwrap_or_default();
        assert_eq!(frac_ts(t, 0), "2023-03-29T11:43:28");
        assert_eq!(frac_ts(t, 1), "2023-03-29T11:43:28.9");
        assert_eq!(frac_ts(t, 3), "2023-03-29T11:43:28.927");
        assert_eq!(date_ts(t.date()), "2023-03-29T00:00:00");
        let d = NaiveDate::from_ymd_opt(1996, 1, 1).unwrap_or_default();
        assert_eq!(us_date(d), "1/1/1996 12:00:00 AM");
    }
}
