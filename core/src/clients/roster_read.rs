//! Reading UKG's two roster lists so that a wrong answer can never pass for the whole roster.
//!
//! UKG gives no total count, drops a row now and then, and a misconfigured gateway may
//! ignore `page`. So, for employee-demographic-details (read first, in full) and
//! employment-details (paged by the fetcher, or in full by `hrsync plan`):
//! - rows are parsed one by one ([`parse_rows`]): a row that does not read (an array where
//!   text belongs) is set aside with why — its employee id when that can be read — and the
//!   page goes on; a body that is not a JSON array still fails the page (retried);
//! - a list ends at an empty page, or at a short page only when employment-details has read
//!   exactly as many rows as employee-demographic-details held ([`ListRead::page`]): a short
//!   page in the middle (a dropped row) does not end the read;
//! - a page whose rows were all read before (or with the previous page's first and last
//!   ids), or a non-empty employment page more than one page past the demographics' count,
//!   fails the read: UKG is repeating itself (ignoring `page`);
//! - an employment listed twice (same company and employee id) is set aside, never written
//!   from one of two rows that may disagree;
//! - before anyone can be deactivated by absence, every employment of the demographics must
//!   have had its employment-details row ([`check_coverage`]); otherwise the run fails with
//!   the counts. An employment row without a demographics row is set aside on its own (a
//!   hire between the two reads explains it; it causes no deactivation).

use std::collections::HashMap;

use crate::clients::ukg::{self, key_hash, DemographicRow, EmploymentRow, Lookups, People};
pub use crate::clients::ukg_json::{parse_rows, BadRow, Row};
use crate::model::{Employee, RecordFailure};

/// A row's join key, when it has one.
pub trait Keyed {
    /// (company id, employee id).
    fn key(&self) -> Option<(&str, &str)>;
}

impl Keyed for EmploymentRow {
    fn key(&self) -> Option<(&str, &str)> {
        Some((self.company_id.as_deref()?, self.employee_id.as_deref()?))
    }
}

impl Keyed for DemographicRow {
    fn key(&self) -> Option<(&str, &str)> {
        Some((self.company_id.as_deref()?, self.employee_id.as_deref()?))
    }
}

impl<T: Keyed> Keyed for Row<T> {
    fn key(&self) -> Option<(&str, &str)> {
        match self {
            Row::Read(t) => t.key(),
            Row::Unreadable(b) => Some((b.company_id.as_deref()?, b.employee_id.as_deref()?)),
        }
    }
}

/// One paged list being read: where it ends, whether UKG repeats itself, which rows are
/// listed twice.
#[derive(Debug)]
pub struct ListRead {
    list: &'static str,
    page_size: u64,
    /// Rows the other list held (employment-details: the demographics' rows).
    expected: Option<u64>,
    /// Rows read since page 1; None when the read began later (a resumed run).
    rows: Option<u64>,
    /// Key hash → the page it was first read on.
    keys: HashMap<u64, u32>,
    /// (page, first key, last key) of the last page with keyed rows.
    previous: Option<(u32, u64, u64)>,
}

/// What one page means for its list.
#[derive(Debug, Default, PartialEq)]
pub struct PageCheck {
    /// This page ends the list.
    pub end: bool,
    /// Rows (by position on the page) whose employment is listed twice: the earlier page
    /// that listed it, or None when it is twice on this page.
    pub duplicates: HashMap<usize, Option<u32>>,
}

impl ListRead {
    /// A read of `list` from page `first_page`; `expected` is the other list's row count.
    pub fn new(list: &'static str, page_size: u32, expected: Option<u64>, first_page: u32) -> Self {
        ListRead {
            list,
            page_size: u64::from(page_size.max(1)),
            expected,
            rows: (first_page <= 1).then_some(0),
            keys: HashMap::new(),
            previous: None,
        }
    }

    /// Rows read since page 1 (None when the read did not start there).
    pub fn rows(&self) -> Option<u64> {
        self.rows
    }

    /// Whether an employment with this key was read.
    pub fn has(&self, company_id: &str, employee_id: &str) -> bool {
        self.keys.contains_key(&key_hash(company_id, employee_id))
    }

    /// Takes page `index` (its rows' keys, in order): whether it ends the list, which rows
    /// are duplicates; Err with the reason when UKG is repeating itself.
    pub fn page(&mut self, index: u32, keys: &[Option<(&str, &str)>]) -> Result<PageCheck, String> {
        let hashes: Vec<Option<u64>> = keys.iter().map(|k| k.map(|(c, e)| key_hash(c, e))).collect();
        let keyed: Vec<u64> = hashes.iter().flatten().copied().collect();
        if let (Some(&first), Some(&last)) = (keyed.first(), keyed.last()) {
            let same = self.previous.filter(|&(_, f, l)| f == first && l == last);
            if same.is_some() || keyed.iter().all(|h| self.keys.contains_key(h)) {
                return Err(format!(
                    "UKG returned page {index} of {} again (its rows were all read on earlier pages): it may be ignoring the page parameter. The read stopped there and nothing was deactivated; check the API host URL, or ask UKG support",
                    self.list
                ));
            }
            self.previous = Some((index, first, last));
        }
        if let Some(expected) = self.expected {
            let most = expected.div_ceil(self.page_size) + 1;
            if !keys.is_empty() && u64::from(index) > most {
                return Err(format!(
                    "UKG returned more pages of {} than the roster holds: page {index} is not empty, though employee-demographic-details listed {expected} employees ({most} pages of {} at most); it may be ignoring the page parameter. Nothing was deactivated",
                    self.list, self.page_size
                ));
            }
        }
        let mut on_page: HashMap<u64, usize> = HashMap::new();
        for h in hashes.iter().flatten() {
            *on_page.entry(*h).or_default() += 1;
        }
        let mut duplicates = HashMap::new();
        for (i, h) in hashes.iter().enumerate() {
            let Some(h) = h else { continue };
            if let Some(&earlier) = self.keys.get(h) {
                duplicates.insert(i, Some(earlier));
            } else if on_page[h] > 1 {
                duplicates.insert(i, None);
            }
        }
        for h in hashes.iter().flatten() {
            self.keys.entry(*h).or_insert(index);
        }
        if let Some(rows) = self.rows.as_mut() {
            *rows += keys.len() as u64;
        }
        let short = (keys.len() as u64) < self.page_size;
        let all_expected = self.rows.is_some() && self.rows == self.expected;
        Ok(PageCheck {
            end: keys.is_empty() || (short && all_expected),
            duplicates,
        })
    }
}

/// The reason for setting aside an employment listed twice in `list`.
pub fn duplicate_reason(list: &str, company_id: &str, employee_id: &str, earlier: Option<u32>, index: u32) -> String {
    let pages = match earlier {
        Some(p) => format!("pages {p} and {index}"),
        None => format!("page {index}"),
    };
    format!("duplicate rows in UKG for company {company_id} employee {employee_id} ({list}, {pages}); set aside so nothing ambiguous is written: remove the duplicate in UKG")
}

/// Folds a demographics page into the join table: unreadable and duplicated employments are
/// set aside (the employment row then reports why), every row counts.
pub fn take_demographics(people: &mut People, rows: Vec<Row<DemographicRow>>, check: &PageCheck, index: u32) {
    let total = rows.len();
    let mut readable = Vec::with_capacity(total);
    let mut aside = Vec::new();
    for (i, row) in rows.into_iter().enumerate() {
        match row {
            Row::Read(r) => match (check.duplicates.get(&i), r.key()) {
                (Some(earlier), Some((c, e))) => {
                    let reason = duplicate_reason("employee-demographic-details", c, e, *earlier, index);
                    aside.push((c.to_string(), e.to_string(), reason));
                }
                _ => readable.push(r),
            },
            Row::Unreadable(bad) => {
                if let (Some(c), Some(e)) = (bad.company_id, bad.employee_id) {
                    let reason = format!(
                        "employee-demographic-details row unreadable ({}); set aside: correct the record in UKG",
                        bad.reason
                    );
                    aside.push((c, e, reason));
                }
            }
        }
    }
    // `extend` counts the readable rows; the others count here.
    people.count_rows((total - readable.len()) as u64);
    people.extend(readable);
    for (c, e, reason) in aside {
        people.set_aside(&c, &e, reason);
    }
}

/// One employment-details page, joined.
#[derive(Debug, Default)]
pub struct Joined {
    pub employees: Vec<Employee>,
    /// Rows set aside, with why.
    pub failures: Vec<RecordFailure>,
    /// Employee ids of rows set aside: present in UKG, so never absent.
    pub present: Vec<String>,
}

/// Joins an employment-details page with the demographics and lookups; rows that cannot be
/// synced (unreadable, without ids, listed twice, with control characters in an id, without
/// or with a set-aside demographics row) become failures with their reason.
pub fn join_page(
    rows: Vec<Row<EmploymentRow>>,
    check: &PageCheck,
    people: &People,
    lookups: &Lookups,
    department_level: u8,
    index: u32,
) -> Joined {
    let mut out = Joined::default();
    for (i, row) in rows.into_iter().enumerate() {
        let at = || format!("(page {index}, row {})", i + 1);
        let row = match row {
            Row::Read(r) => r,
            Row::Unreadable(bad) => {
                let reason = format!(
                    "employment-details row unreadable ({}); set aside: correct the record in UKG",
                    bad.reason
                );
                match bad.employee_id {
                    Some(id) => {
                        out.present.push(id.clone());
                        out.failures.push(RecordFailure {
                            employee_id: id,
                            reason,
                        });
                    }
                    None => out.failures.push(RecordFailure {
                        employee_id: at(),
                        reason,
                    }),
                }
                continue;
            }
        };
        let Some((company_id, employee_id)) = row.key() else {
            out.failures.push(RecordFailure {
                employee_id: at(),
                reason: "employment-details row without companyID or employeeID; check the record in UKG".into(),
            });
            continue;
        };
        let reason = if company_id.chars().chain(employee_id.chars()).any(char::is_control) {
            Some(
                "the company or employee id in UKG holds control characters; set aside: correct the record in UKG"
                    .to_string(),
            )
        } else if let Some(earlier) = check.duplicates.get(&i) {
            Some(duplicate_reason(
                "employment-details",
                company_id,
                employee_id,
                *earlier,
                index,
            ))
        } else if let Some(why) = people.set_aside_reason(company_id, employee_id) {
            Some(why.to_string())
        } else if !people.contains(company_id, employee_id) {
            Some(format!("no employee-demographic-details row in UKG for company {company_id} (names and work email come from it); set aside this run: hired during the read, or check the record in UKG"))
        } else {
            None
        };
        if let Some(reason) = reason {
            let id = employee_id.to_string();
            out.present.push(id.clone());
            out.failures.push(RecordFailure {
                employee_id: id,
                reason,
            });
            continue;
        }
        if let Some(e) = ukg::join(row, people, lookups, department_level) {
            out.employees.push(e);
        }
    }
    out
}

/// Whether the employment read covers every employment of the demographics: if not, rows
/// were lost while paging, and absence means nothing. Err names the counts and one example.
pub fn check_coverage(people: &People, employment: &ListRead) -> Result<(), String> {
    let mut missing = 0u64;
    let mut example: Option<(&str, &str)> = None;
    for (c, e) in people.keys() {
        if !employment.has(c, e) {
            missing += 1;
            example = Some(example.map_or((c, e), |x| x.min((c, e))));
        }
    }
    let Some((c, e)) = example else {
        return Ok(());
    };
    let read = employment
        .rows()
        .map_or("an unknown number of".to_string(), |n| n.to_string());
    Err(format!(
        "UKG's roster lists disagree: employee-demographic-details listed {} employees and employment-details {read}, and {missing} of the demographics' employees had no employment-details row (e.g. company {c} employee {e}): rows were probably lost while paging. The run failed and nothing was deactivated; the next run reads both lists again",
        people.rows()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys<'a>(ids: &'a [&'a str]) -> Vec<Option<(&'a str, &'a str)>> {
        ids.iter().map(|e| Some(("C1", *e))).collect()
    }

    #[test]
    fn a_bad_row_is_set_aside_with_its_id_and_the_field_named() {
        let body = br#"[{"companyID":"C1","employeeID":"E1","jobTitle":"Engineer"},
                        {"companyID":"C1","employeeID":"E2","jobTitle":["Engineer","Manager"]},
                        {"companyID":"C1","employeeID":"E3"}]"#;
        let rows: Vec<Row<EmploymentRow>> = parse_rows(body).unwrap();
        assert_eq!(rows.len(), 3);
        assert!(matches!(&rows[0], Row::Read(r) if r.job_title.as_deref() == Some("Engineer")));
        assert!(matches!(&rows[2], Row::Read(_)));
        let Row::Unreadable(bad) = &rows[1] else {
            panic!("row 2 must be set aside: {rows:?}")
        };
        assert_eq!(bad.employee_id.as_deref(), Some("E2"));
        assert_eq!(bad.company_id.as_deref(), Some("C1"));
        assert_eq!(bad.reason, "field jobTitle holds a list where text was expected");
        let not_an_object: Vec<Row<EmploymentRow>> = parse_rows(br#"[{"employeeID":"E1"}, 7]"#).unwrap();
        assert!(
            matches!(&not_an_object[1], Row::Unreadable(b) if b.employee_id.is_none() && b.reason.contains("a number"))
        );
    }

    #[test]
    fn a_truncated_or_non_array_body_still_fails_the_page() {
        assert!(parse_rows::<EmploymentRow>(br#"[{"companyID":"C1","employeeID":"E1"},{"comp"#).is_err());
        assert!(parse_rows::<EmploymentRow>(br#"{"message":"no"}"#).is_err());
    }

    #[test]
    fn a_short_page_in_the_middle_does_not_end_the_list() {
        // 8 employees at 3 a page, one row of page 2 lost: 3, 2, 2, then the empty page.
        let mut read = ListRead::new("employment-details", 3, Some(8), 1);
        assert!(!read.page(1, &keys(&["E1", "E2", "E3"])).unwrap().end);
        assert!(!read.page(2, &keys(&["E4", "E5"])).unwrap().end, "short, 5 of 8 read");
        assert!(!read.page(3, &keys(&["E7", "E8"])).unwrap().end, "short, 7 of 8 read");
        assert!(read.page(4, &[]).unwrap().end, "an empty page ends it");
        assert!(!read.has("C1", "E6") && read.has("C1", "E8"));
    }

    #[test]
    fn a_short_page_ends_the_list_when_the_counts_match() {
        let mut read = ListRead::new("employment-details", 3, Some(5), 1);
        assert!(!read.page(1, &keys(&["E1", "E2", "E3"])).unwrap().end);
        assert!(read.page(2, &keys(&["E4", "E5"])).unwrap().end);
        // The demographics list knows no count: only an empty page ends it.
        let mut demographics = ListRead::new("employee-demographic-details", 3, None, 1);
        assert!(!demographics.page(1, &keys(&["E1", "E2"])).unwrap().end);
        assert!(demographics.page(2, &[]).unwrap().end);
        // A resumed read does not know its count either.
        let mut resumed = ListRead::new("employment-details", 3, Some(5), 2);
        assert!(!resumed.page(2, &keys(&["E4", "E5"])).unwrap().end);
        assert_eq!(resumed.rows(), None);
    }

    #[test]
    fn a_repeated_page_fails_the_read() {
        let mut read = ListRead::new("employee-demographic-details", 2, None, 1);
        read.page(1, &keys(&["E1", "E2"])).unwrap();
        let err = read.page(2, &keys(&["E1", "E2"])).unwrap_err();
        assert!(err.contains("page 2 of employee-demographic-details again"), "{err}");
        assert!(err.contains("ignoring the page parameter"), "{err}");
        // Same first and last ids as the page before is a repeat too.
        let mut read = ListRead::new("employment-details", 3, None, 1);
        read.page(1, &keys(&["E1", "E2", "E3"])).unwrap();
        assert!(read.page(2, &keys(&["E1", "E9", "E3"])).is_err());
    }

    #[test]
    fn pages_past_the_other_lists_count_fail_the_read() {
        // 4 demographics rows at 2 a page: page 3 may hold a late hire, page 4 may not.
        let mut read = ListRead::new("employment-details", 2, Some(4), 1);
        for (i, ids) in [["E1", "E2"], ["E3", "E4"], ["E5", "E6"]].iter().enumerate() {
            read.page(i as u32 + 1, &keys(ids)).unwrap();
        }
        let err = read.page(4, &keys(&["E7", "E8"])).unwrap_err();
        assert!(
            err.contains("more pages of employment-details than the roster holds"),
            "{err}"
        );
        assert!(err.contains("listed 4 employees"), "{err}");
    }

    #[test]
    fn duplicates_are_found_on_one_page_and_across_pages() {
        let mut read = ListRead::new("employment-details", 4, None, 1);
        let one = read.page(1, &keys(&["E1", "E2", "E2", "E3"])).unwrap();
        assert_eq!(one.duplicates, HashMap::from([(1, None), (2, None)]));
        let two = read.page(2, &keys(&["E3", "E4", "E5"])).unwrap();
        assert_eq!(two.duplicates, HashMap::from([(0, Some(1))]));
        let reason = duplicate_reason("employment-details", "C1", "E3", Some(1), 2);
        assert!(
            reason.starts_with("duplicate rows in UKG for company C1 employee E3"),
            "{reason}"
        );
    }

    fn demographics(ids: &[&str]) -> Vec<Row<DemographicRow>> {
        ids.iter()
            .map(|id| {
                Row::Read(
                    serde_json::from_value(serde_json::json!({
                        "companyId": "C1", "employeeId": id, "firstName": "F", "lastName": "L",
                        "emailAddress": format!("{id}@x.example")
                    }))
                    .unwrap(),
                )
            })
            .collect()
    }

    fn employment(ids: &[&str]) -> Vec<Row<EmploymentRow>> {
        ids.iter()
            .map(|id| {
                Row::Read(
                    serde_json::from_value(
                        serde_json::json!({"companyID": "C1", "employeeID": id, "employeeStatusCode": "A"}),
                    )
                    .unwrap(),
                )
            })
            .collect()
    }

    fn people_of(ids: &[&str]) -> People {
        let mut people = People::default();
        let rows = demographics(ids);
        let k: Vec<_> = rows.iter().map(Keyed::key).collect();
        let check = ListRead::new("employee-demographic-details", 100, None, 1)
            .page(1, &k)
            .unwrap();
        take_demographics(&mut people, rows, &check, 1);
        people
    }

    #[test]
    fn coverage_fails_when_an_employment_row_is_missing() {
        let people = people_of(&["E1", "E2", "E3"]);
        let mut read = ListRead::new("employment-details", 2, Some(people.rows()), 1);
        read.page(1, &keys(&["E1"])).unwrap();
        read.page(2, &keys(&["E3"])).unwrap();
        let err = check_coverage(&people, &read).unwrap_err();
        assert!(
            err.contains("employee-demographic-details listed 3 employees and employment-details 2"),
            "{err}"
        );
        assert!(
            err.contains(
                "1 of the demographics' employees had no employment-details row (e.g. company C1 employee E2)"
            ),
            "{err}"
        );
        read.page(3, &keys(&["E2"])).unwrap();
        assert_eq!(check_coverage(&people, &read), Ok(()));
    }

    #[test]
    fn duplicated_demographics_set_the_employee_aside() {
        let people = people_of(&["E1", "E2", "E2"]);
        assert_eq!(people.rows(), 3);
        assert!(people.contains("C1", "E1") && !people.contains("C1", "E2"));
        let why = people.set_aside_reason("C1", "E2").unwrap();
        assert!(
            why.contains("duplicate rows in UKG for company C1 employee E2 (employee-demographic-details"),
            "{why}"
        );
        assert!(people.has_supervisor(None, "E2"), "still in the roster");
    }

    #[test]
    fn join_page_sets_aside_what_cannot_be_synced_and_keeps_it_present() {
        let people = people_of(&["E1", "E2", "E4"]);
        let mut rows = employment(&["E1", "E2", "E2", "E3", "E4\u{0}x"]);
        rows.push(Row::Unreadable(BadRow {
            company_id: Some("C1".into()),
            employee_id: Some("E4".into()),
            reason: "field jobTitle holds a list where text was expected".into(),
        }));
        let k: Vec<_> = rows.iter().map(Keyed::key).collect();
        let check = ListRead::new("employment-details", 100, None, 1).page(1, &k).unwrap();
        let joined = join_page(rows, &check, &people, &Lookups::default(), 1, 1);
        let ids: Vec<&str> = joined.employees.iter().map(|e| e.employee_id.as_str()).collect();
        assert_eq!(ids, ["E1"]);
        let why = |id: &str| {
            joined
                .failures
                .iter()
                .filter(|f| f.employee_id == id)
                .map(|f| f.reason.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(why("E2").len(), 2, "both rows of a duplicate are set aside");
        assert!(why("E2")[0].starts_with("duplicate rows in UKG for company C1 employee E2"));
        assert!(why("E3")[0].contains("no employee-demographic-details row"));
        assert!(why("E4\u{0}x")[0].contains("control characters"));
        assert!(why("E4")[0].contains("unreadable (field jobTitle holds a list"));
        assert_eq!(joined.present, ["E2", "E2", "E3", "E4\u{0}x", "E4"]);
    }
}
