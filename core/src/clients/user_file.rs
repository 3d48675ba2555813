//! The user file: one row per employee known to hrsync, rendered as RFC 4180 CSV (UTF-8,
//! CRLF, a header row) or as JSON lines, with the columns of Betterworks' user CSV by default.
//! Pure functions, no I/O (`delivery` writes the bytes, `file_writer` decides the rows).
//!
//! A row is built from the [`AppUser`] that hrsync last wrote (or is about to write) for an
//! employee, plus two things a SCIM app works out for itself: the manager's email (from the
//! manager's own row) and the deactivation date (the UKG termination date, or the day hrsync
//! found the employee gone). The row's fields ([`ROW_FIELDS`] and the tenant's mapped
//! attributes) feed the columns, each an expression (`expr`) checked at start: the same rules
//! as the SCIM mapping, unknown fields refused.
//!
//! Invariants: every value is text (zero-padded employee numbers keep their zeros); a row's
//! `deactivation_date` is empty while the user is active, so a deactivation held by the brake
//! is written without one.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::engine::mapping::ENTERPRISE_PREFIX;
use crate::expr::Expr;
use crate::model::AppUser;
use crate::model::EmployeeState;
use crate::spec::MappingSpec;
pub use crate::spec::{Column, FileFormat};

/// The fields of a row that a column may read (plus the tenant's mapped attributes, by the
/// last part of their path, e.g. `costCenter`).
pub const ROW_FIELDS: [&str; 15] = [
    "email",
    "user_name",
    "first_name",
    "last_name",
    "display_name",
    "ukg_employee_id",
    "employee_number",
    "title",
    "department",
    "location",
    "manager_email",
    "manager_employee_number",
    "manager_ukg_employee_id",
    "deactivation_date",
    "active",
];

/// Dates as Betterworks reads them: `mm/dd/yyyy`.
pub const DEFAULT_DATE_FORMAT: &str = "%m/%d/%Y";

/// The columns of Betterworks' user CSV: email, first_name, last_name, employee_id (the
/// employee number, else UKG's employee id), title, department, manager_email, location,
/// deactivation_date.
pub fn default_columns() -> Vec<Column> {
    let field = |name: &str| Expr::Field(name.to_string());
    let column = |name: &str, value: Expr| Column {
        name: name.to_string(),
        value,
    };
    vec![
        column("email", field("email")),
        column("first_name", field("first_name")),
        column("last_name", field("last_name")),
        column(
            "employee_id",
            Expr::FirstNonEmpty(vec![field("employee_number"), field("ukg_employee_id")]),
        ),
        column("title", field("title")),
        column("department", field("department")),
        column("manager_email", field("manager_email")),
        column("location", field("location")),
        column("deactivation_date", field("deactivation_date")),
    ]
}

/// Mapping paths that land in [`AppUser`]'s own fields rather than in `extra`.
fn is_core_path(path: &str) -> bool {
    matches!(
        path,
        "userName" | "name.givenName" | "name.familyName" | "emails" | "displayName" | "title" | "addresses"
    ) || path == format!("{ENTERPRISE_PREFIX}department")
        || path == format!("{ENTERPRISE_PREFIX}employeeNumber")
}

/// The row field name of a mapped attribute: the last part of its path
/// (`name.middleName` → `middleName`, `…:User:costCenter` → `costCenter`).
fn short_name(path: &str) -> &str {
    path.rsplit([':', '.']).next().unwrap_or(path)
}

/// The row fields the tenant's mapping adds (its attributes beyond the core ones).
pub fn mapped_fields(mapping: &MappingSpec) -> Vec<String> {
    mapping
        .attributes
        .iter()
        .map(|(path, _)| path.as_str())
        .filter(|p| !is_core_path(p))
        .map(|p| short_name(p).to_string())
        .collect()
}

/// Checks one column at start: a non-empty header, an expression that reads only row fields
/// (or this tenant's mapped attributes). The error is the reason, for a message naming the key.
pub fn check_column(name: &str, value: &Expr, mapping: &MappingSpec) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("the column name must not be empty".to_string());
    }
    let mapped = mapped_fields(mapping);
    let known = |f: &str| ROW_FIELDS.contains(&f) || mapped.iter().any(|m| m == f);
    // A bare word is a constant: "email" would fill the column with the word itself.
    if let Expr::Template(parts) = value {
        if let [crate::expr::Part::Text(t)] = parts.as_slice() {
            if known(t.trim()) {
                return Err(format!(
                    "{t:?} is a constant; to read the field write \"{{{}}}\"",
                    t.trim()
                ));
            }
        }
    }
    for f in value.fields() {
        if !known(f) {
            let mut all: Vec<String> = ROW_FIELDS.iter().map(|s| s.to_string()).collect();
            all.extend(mapped.iter().cloned());
            return Err(format!(
                "{f} is not a field of the user file's rows; expected one of {} (a mapped attribute is read by the last part of its path, e.g. costCenter)",
                all.join(", ")
            ));
        }
    }
    Ok(())
}

/// Checks a date format at start (chrono `strftime`, date parts only).
pub fn check_date_format(format: &str) -> Result<(), String> {
    if !format.contains('%') {
        return Err(format!(
            "{format:?} has no date fields; expected a strftime format such as \"%m/%d/%Y\" (mm/dd/yyyy) or \"%Y-%m-%d\""
        ));
    }
    let sample = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap_or_default();
    format_date(sample, format).map(|_| ())
}

/// Formats a date; an error (not a panic) for a format chrono cannot apply to a date.
pub fn format_date(date: NaiveDate, format: &str) -> Result<String, String> {
    let mut out = String::new();
    write!(out, "{}", date.format(format)).map_err(|_| {
        format!(
            "{format:?} is not a date format (time fields such as %H have no value for a date); expected e.g. \"%m/%d/%Y\""
        )
    })?;
    Ok(out)
}

/// The fields of one employee's row. `manager` is the manager's user, when they have a row.
pub fn row_fields(
    user: &AppUser,
    manager: Option<&AppUser>,
    date_format: &str,
) -> Result<BTreeMap<String, String>, String> {
    let mut f = BTreeMap::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            f.insert(k.to_string(), v.to_string());
        }
    };
    put("email", Some(&user.email));
    put("user_name", Some(&user.user_name));
    put("first_name", Some(&user.given_name));
    put("last_name", Some(&user.family_name));
    put("display_name", Some(&user.display_name));
    put("ukg_employee_id", Some(&user.external_id));
    put("employee_number", user.employee_number.as_deref());
    put("title", user.title.as_deref());
    put("department", user.department.as_deref());
    put("location", user.location.as_deref());
    put("manager_email", manager.map(|m| m.email.as_str()));
    put(
        "manager_employee_number",
        manager.and_then(|m| m.employee_number.as_deref()),
    );
    put("manager_ukg_employee_id", manager.map(|m| m.external_id.as_str()));
    put("active", Some(if user.active { "true" } else { "false" }));
    if !user.active {
        if let Some(d) = user.termination_date {
            let text = format_date(d, date_format)?;
            put("deactivation_date", Some(&text));
        }
    }
    for (path, v) in &user.extra {
        put(short_name(path), Some(v));
    }
    Ok(f)
}

/// Why the file could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot format a date: {0}")]
    Date(String),
    #[error("cannot write the CSV: {0}")]
    Csv(String),
}

/// What a rendered file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    /// Rows, header not counted.
    pub rows: usize,
}

/// Renders one row per employee with a user (ordered by employee id). Managers are looked
/// up among the same employees.
pub fn render(
    employees: &BTreeMap<String, EmployeeState>,
    format: FileFormat,
    columns: &[Column],
    date_format: &str,
) -> Result<Rendered, RenderError> {
    let users: Vec<&AppUser> = employees.values().filter_map(|s| s.user.as_ref()).collect();
    let mut rows: Vec<Vec<Option<String>>> = Vec::with_capacity(users.len());
    for user in &users {
        let manager = user
            .manager_external_id
            .as_ref()
            .and_then(|m| employees.get(m))
            .and_then(|s| s.user.as_ref());
        let fields = row_fields(user, manager, date_format).map_err(RenderError::Date)?;
        rows.push(columns.iter().map(|c| c.value.eval(&fields)).collect());
    }
    let bytes = match format {
        FileFormat::Csv => csv_bytes(columns, &rows)?,
        FileFormat::JsonLines => json_lines(columns, &rows),
    };
    Ok(Rendered {
        bytes,
        rows: rows.len(),
    })
}

fn csv_bytes(columns: &[Column], rows: &[Vec<Option<String>>]) -> Result<Vec<u8>, RenderError> {
    let csv_err = |e: csv::Error| RenderError::Csv(e.to_string());
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(columns.iter().map(|c| c.name.as_str()))
        .map_err(csv_err)?;
    for row in rows {
        let cells: Vec<_> = row
            .iter()
            .map(|v| neutralise_cell(v.as_deref().unwrap_or_default()))
            .collect();
        w.write_record(cells.iter().map(|c| c.as_bytes())).map_err(csv_err)?;
    }
    w.into_inner().map_err(|e| RenderError::Csv(e.to_string()))
}

/// The characters that make a spreadsheet read a cell as a formula (OWASP, CSV Injection).
const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A CSV cell made safe to open in a spreadsheet, per OWASP's CSV-injection advice: a cell
/// that starts with `=`, `+`, `-`, `@`, tab or carriage return gets a single quote in front
/// and is otherwise kept as is (so a phone `+1 555` becomes `'+1 555`, and `-5` becomes
/// `'-5`: OWASP's rule is plain prefixing, with no exemption for numbers). The csv crate
/// quotes the cells that need it. JSON lines are not a spreadsheet: left raw.
pub fn neutralise_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(FORMULA_TRIGGERS) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

fn json_lines(columns: &[Column], rows: &[Vec<Option<String>>]) -> Vec<u8> {
    let mut out = String::new();
    for row in rows {
        // Written by hand to keep the columns' order (serde_json's map sorts keys).
        out.push('{');
        for (i, (c, v)) in columns.iter().zip(row).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::Value::from(c.name.as_str()).to_string());
            out.push(':');
            match v {
                Some(v) => out.push_str(&serde_json::Value::from(v.as_str()).to_string()),
                None => out.push_str("null"),
            }
        }
        out.push_str("}\n");
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn user(id: &str, first: &str, last: &str, email: &str, manager: Option<&str>) -> AppUser {
        AppUser {
            external_id: id.into(),
            user_name: email.into(),
            given_name: first.into(),
            family_name: last.into(),
            display_name: format!("{first} {last}"),
            email: email.into(),
            title: Some("Engineer".into()),
            department: Some("R&D".into()),
            employee_number: Some(format!("000{}", id.trim_start_matches('E'))),
            location: Some("NYC".into()),
            active: true,
            termination_date: None,
            manager_external_id: manager.map(str::to_string),
            extra: Default::default(),
        }
    }

    fn states(users: Vec<AppUser>) -> BTreeMap<String, EmployeeState> {
        users
            .into_iter()
            .map(|u| {
                (
                    u.external_id.clone(),
                    EmployeeState {
                        app_id: u.external_id.clone(),
                        hash: "h".into(),
                        active: u.active,
                        manager: u.manager_external_id.clone(),
                        user: Some(u),
                        applied_at: Utc::now(),
                    },
                )
            })
            .collect()
    }

    /// The CSV read back with a real CSV reader: header, then rows as maps.
    fn read_csv(bytes: &[u8]) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
        let mut r = csv::Reader::from_reader(bytes);
        let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
        let rows = r
            .records()
            .map(|rec| {
                let rec = rec.unwrap();
                header.iter().cloned().zip(rec.iter().map(str::to_string)).collect()
            })
            .collect();
        (header, rows)
    }

    fn roster() -> BTreeMap<String, EmployeeState> {
        let boss = user("E1", "Zoë", "Ångström", "zoe@acme.example", None);
        let mut tricky = user("E2", "Jean, \"JJ\"", "O'Brien\nSmith", "jj@acme.example", Some("E1"));
        tricky.title = Some("Lead, \"Platform\" team".into());
        let mut leaver = user("E3", "李", "小龍", "lee@acme.example", Some("E1"));
        leaver.active = false;
        leaver.termination_date = NaiveDate::from_ymd_opt(2026, 3, 7);
        let mut held = user("E4", "Held", "Back", "held@acme.example", Some("E9"));
        // Terminated in UKG but held by the brake: still active, so no date is written.
        held.termination_date = NaiveDate::from_ymd_opt(2026, 3, 8);
        states(vec![boss, tricky, leaver, held])
    }

    #[test]
    fn default_csv_reads_back_with_a_real_csv_reader() {
        let r = render(&roster(), FileFormat::Csv, &default_columns(), DEFAULT_DATE_FORMAT).unwrap();
        assert_eq!(r.rows, 4);
        let text = String::from_utf8(r.bytes.clone()).unwrap();
        assert!(
            text.starts_with(
                "email,first_name,last_name,employee_id,title,department,manager_email,location,deactivation_date\r\n"
            ),
            "{text}"
        );
        let (header, rows) = read_csv(&r.bytes);
        assert_eq!(header.len(), 9);
        assert_eq!(rows.len(), 4);
        let by_email = |e: &str| rows.iter().find(|r| r["email"] == e).unwrap().clone();

        let boss = by_email("zoe@acme.example");
        assert_eq!(
            (boss["first_name"].as_str(), boss["last_name"].as_str()),
            ("Zoë", "Ångström")
        );
        assert_eq!(boss["employee_id"], "0001", "leading zeros kept");
        assert_eq!(boss["manager_email"], "");
        assert_eq!(boss["deactivation_date"], "");
        assert_eq!(boss["department"], "R&D");

        let jj = by_email("jj@acme.example");
        assert_eq!(jj["first_name"], "Jean, \"JJ\"", "comma and quotes survive");
        assert_eq!(jj["last_name"], "O'Brien\nSmith", "newline survives");
        assert_eq!(jj["title"], "Lead, \"Platform\" team");
        assert_eq!(jj["manager_email"], "zoe@acme.example");

        let lee = by_email("lee@acme.example");
        assert_eq!((lee["first_name"].as_str(), lee["last_name"].as_str()), ("李", "小龍"));
        assert_eq!(lee["deactivation_date"], "03/07/2026", "mm/dd/yyyy");
        assert_eq!(lee["manager_email"], "zoe@acme.example");

        let held = by_email("held@acme.example");
        assert_eq!(held["deactivation_date"], "", "an active row carries no date");
        assert_eq!(held["manager_email"], "", "manager E9 has no row");
    }

    #[test]
    fn columns_date_format_and_json_lines_are_configurable() {
        let mut roster = roster();
        if let Some(u) = roster.get_mut("E1").and_then(|s| s.user.as_mut()) {
            u.extra.insert(format!("{ENTERPRISE_PREFIX}costCenter"), "CC-7".into());
        }
        let columns = vec![
            Column {
                name: "Work Email".into(),
                value: Expr::parse("uppercase(email)").unwrap(),
            },
            Column {
                name: "Name".into(),
                value: Expr::parse("{first_name} {last_name}").unwrap(),
            },
            Column {
                name: "cost_center".into(),
                value: Expr::parse("{costCenter}").unwrap(),
            },
            Column {
                name: "Ends".into(),
                value: Expr::parse("{deactivation_date}").unwrap(),
            },
            Column {
                name: "Company".into(),
                value: Expr::parse("Acme").unwrap(),
            },
        ];
        let r = render(&roster, FileFormat::Csv, &columns, "%Y-%m-%d").unwrap();
        let (header, rows) = read_csv(&r.bytes);
        assert_eq!(header, ["Work Email", "Name", "cost_center", "Ends", "Company"]);
        assert_eq!(rows[0]["Work Email"], "ZOE@ACME.EXAMPLE");
        assert_eq!(rows[0]["Name"], "Zoë Ångström");
        assert_eq!(rows[0]["cost_center"], "CC-7");
        assert_eq!(rows[1]["cost_center"], "");
        assert_eq!(rows[2]["Ends"], "2026-03-07");
        assert!(rows.iter().all(|r| r["Company"] == "Acme"));

        let j = render(&roster, FileFormat::JsonLines, &default_columns(), DEFAULT_DATE_FORMAT).unwrap();
        let text = String::from_utf8(j.bytes).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 4);
        assert!(
            text.lines().next().unwrap().starts_with("{\"email\":"),
            "column order kept"
        );
        assert_eq!(lines[1]["last_name"], "O'Brien\nSmith");
        assert_eq!(lines[0]["manager_email"], serde_json::Value::Null);
        assert_eq!(lines[2]["deactivation_date"], "03/07/2026");
        assert_eq!(lines[2]["employee_id"], "0003");
    }

    #[test]
    fn formula_cells_are_neutralised_in_csv_and_left_raw_in_json_lines() {
        let mut roster = roster();
        let cells = [
            (
                "=HYPERLINK(\"http://evil.example\",\"x\")",
                "'=HYPERLINK(\"http://evil.example\",\"x\")",
            ),
            ("+1 555 0100", "'+1 555 0100"),
            ("-5", "'-5"),
            ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
            ("\tTabbed", "'\tTabbed"),
            ("\rReturn", "'\rReturn"),
            ("O'Brien = fine", "O'Brien = fine"),
        ];
        if let Some(u) = roster.get_mut("E1").and_then(|s| s.user.as_mut()) {
            for (i, (raw, _)) in cells.iter().enumerate() {
                u.extra.insert(format!("{ENTERPRISE_PREFIX}c{i}"), raw.to_string());
            }
        }
        let columns: Vec<Column> = (0..cells.len())
            .map(|i| Column {
                name: format!("c{i}"),
                value: Expr::parse(&format!("{{c{i}}}")).unwrap(),
            })
            .collect();
        let r = render(&roster, FileFormat::Csv, &columns, DEFAULT_DATE_FORMAT).unwrap();
        let (_, rows) = read_csv(&r.bytes);
        for (i, (_, safe)) in cells.iter().enumerate() {
            assert_eq!(rows[0][&format!("c{i}")], *safe, "cell {i}");
        }
        assert_eq!(rows[1]["c0"], "", "an empty cell stays empty");

        let j = render(&roster, FileFormat::JsonLines, &columns, DEFAULT_DATE_FORMAT).unwrap();
        let first: serde_json::Value =
            serde_json::from_str(String::from_utf8(j.bytes).unwrap().lines().next().unwrap()).unwrap();
        for (i, (raw, _)) in cells.iter().enumerate() {
            assert_eq!(first[format!("c{i}")], *raw, "JSON lines keep cell {i} raw");
        }
    }

    #[test]
    fn columns_and_date_formats_are_checked_at_start() {
        let none = MappingSpec::default();
        let parse = |s: &str| Expr::parse(s).unwrap();
        assert!(check_column("email", &parse("{email}"), &none).is_ok());
        let e = check_column("email", &parse("{emial}"), &none).unwrap_err();
        assert!(e.contains("emial is not a field") && e.contains("manager_email"), "{e}");
        let e = check_column("email", &parse("email"), &none).unwrap_err();
        assert!(e.contains("write \"{email}\""), "{e}");
        assert!(check_column(" ", &parse("{email}"), &none).is_err());
        assert!(check_column("cc", &parse("{costCenter}"), &none).is_err());
        let mapped = MappingSpec {
            active_statuses: None,
            attributes: vec![(format!("{ENTERPRISE_PREFIX}costCenter"), parse("{orgLevel3Code}"))],
        };
        assert!(check_column("cc", &parse("{costCenter}"), &mapped).is_ok());

        assert!(check_date_format("%m/%d/%Y").is_ok());
        assert!(check_date_format("%d.%m.%Y").is_ok());
        assert!(check_date_format("mm/dd/yyyy").unwrap_err().contains("%m/%d/%Y"));
        assert!(check_date_format("%Y-%m-%d %H:%M").is_err(), "no time of day on a date");
        assert!(check_date_format("%Q").is_err());
    }
}
