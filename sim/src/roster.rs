//! Sample HR data for the simulators: the employee record the UKG simulator serves
//! ([`SimEmployee`]), the lookup tables (org levels, jobs, locations, companies) and a
//! deterministic generator of a realistic roster ([`sample_roster`]) with the quirks
//! real tenants have (Unicode names, null job titles, leaves, terminations, a component
//! company with a cross-company supervisor, duplicate names).

use std::collections::HashSet;

use chrono::{Duration, NaiveDate, NaiveDateTime};

/// One employment record as the UKG simulator knows it; the endpoints render it in
/// their own shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct SimEmployee {
    /// UKG company id, e.g. "J9A6Y".
    pub company_id: String,
    /// Company code, e.g. "ACME".
    pub company_code: String,
    /// UKG-style opaque id, e.g. "AB12C0000K1"; unique per company.
    pub employee_id: String,
    /// Zero-padded string, e.g. "000012444".
    pub employee_number: String,
    /// uuid-like person id.
    pub person_id: String,
    /// Legal first name.
    pub first_name: String,
    /// Middle name, if any.
    pub middle_name: Option<String>,
    /// Last name.
    pub last_name: String,
    /// Preferred (display) first name, if any.
    pub preferred_name: Option<String>,
    /// Work email (demographics `emailAddress`).
    pub email: Option<String>,
    /// Alternate (personal) email.
    pub email_alternate: Option<String>,
    /// Primary job code.
    pub job_code: Option<String>,
    /// Job title; may be None (real tenants have null job titles).
    pub job_title: Option<String>,
    /// Job description.
    pub job_description: Option<String>,
    /// Org level 1 code.
    pub org_level1_code: Option<String>,
    /// Org level 2 code.
    pub org_level2_code: Option<String>,
    /// Org level 3 code.
    pub org_level3_code: Option<String>,
    /// Org level 4 code.
    pub org_level4_code: Option<String>,
    /// Primary work location code.
    pub work_location_code: Option<String>,
    /// "A" active, "L" leave, "T" terminated.
    pub status: String,
    /// Employee type code, e.g. "REG" (regular) or "CON" (contractor).
    pub employee_type: String,
    /// First hire date.
    pub original_hire_date: NaiveDate,
    /// Most recent hire date (differs from the original one after a rehire).
    pub last_hire_date: NaiveDate,
    /// Termination date, if terminated.
    pub date_of_termination: Option<NaiveDate>,
    /// employee_id of the manager.
    pub supervisor_id: Option<String>,
    /// Company of the manager (may differ from the employee's).
    pub supervisor_company_id: Option<String>,
    /// Sensitive: served by demographics as `ssn`; a client must never store or forward it.
    pub ssn: String,
    /// Sensitive: served as `dateOfBirth`.
    pub date_of_birth: NaiveDate,
    /// Served as `dateTimeChanged`.
    pub changed_at: NaiveDateTime,
}

/// An org level (`/configuration/v1/org-levels`).
#[derive(Debug, Clone, PartialEq)]
pub struct OrgLevel {
    /// 1..4.
    pub level: u8,
    /// Code, e.g. "ENG".
    pub code: String,
    /// Human name, e.g. "Engineering".
    pub description: String,
    /// Whether the org level is still in use.
    pub is_active: bool,
}

/// A job (`/configuration/v1/jobs`).
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Job code, e.g. "SWE".
    pub code: String,
    /// Job title, e.g. "Software Engineer".
    pub title: String,
    /// Whether the job is still in use.
    pub is_active: bool,
}

/// A work location (`/configuration/v1/locations`).
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// Location code, e.g. "NYC".
    pub code: String,
    /// Human name.
    pub description: String,
    /// City.
    pub city: String,
    /// State or province code.
    pub state: String,
    /// Three-letter country code, e.g. "USA".
    pub country_code: String,
    /// Whether the location is still in use.
    pub is_active: bool,
}

/// A company (`/configuration/v1/company-details`).
#[derive(Debug, Clone, PartialEq)]
pub struct Company {
    /// Company id, e.g. "J9A6Y".
    pub company_id: String,
    /// Company code, e.g. "ACME".
    pub company_code: String,
    /// Company name.
    pub company_name: String,
    /// The master company (exactly one); the others are component companies.
    pub is_master: bool,
}

/// Everything the UKG simulator serves.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SampleData {
    /// The roster.
    pub employees: Vec<SimEmployee>,
    /// Org levels lookup.
    pub org_levels: Vec<OrgLevel>,
    /// Jobs lookup.
    pub jobs: Vec<Job>,
    /// Locations lookup.
    pub locations: Vec<Location>,
    /// Master and component companies.
    pub companies: Vec<Company>,
}

/// Company id of the master company in [`sample_roster`].
pub const MASTER_COMPANY_ID: &str = "J9A6Y";
/// Company id of the component company in [`sample_roster`].
pub const COMPONENT_COMPANY_ID: &str = "K3B7Z";

const FIRST_NAMES: &[&str] = &[
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "James",
    "Sophia",
    "William",
    "Isabella",
    "Benjamin",
    "Mia",
    "Lucas",
    "Charlotte",
    "Henry",
    "Amelia",
    "Alexander",
    "Harper",
    "Daniel",
    "Evelyn",
    "Michael",
    "Abigail",
    "Robert",
    "Elizabeth",
    "David",
    "Sofia",
    "Joseph",
    "Camila",
    "Samuel",
    "Priya",
    "Wei",
    "Aisha",
    "Mateo",
    "Hiroshi",
    "Fatima",
    "Dmitri",
    "Ingrid",
    "Kwame",
    "Chloé",
    "Søren",
    "Márta",
];

/// Names the first employees get, so small rosters carry Unicode too.
const UNICODE_FIRST_NAMES: &[&str] = &["José", "Zoë", "Łukasz", "Renée"];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernández",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Nguyễn",
    "Müller",
    "O'Brien",
    "Kowalski",
    "Dubois",
    "Søndergaard",
    "Patel",
    "Kim",
    "Okafor",
    "Van der Berg",
    "Núñez",
    "Smith-Jones",
];

const NICKNAMES: &[(&str, &str)] = &[
    ("Robert", "Bob"),
    ("William", "Will"),
    ("Elizabeth", "Liz"),
    ("Alexander", "Alex"),
    ("Benjamin", "Ben"),
    ("Michael", "Mike"),
    ("Daniel", "Dan"),
    ("Samuel", "Sam"),
    ("Joseph", "Joe"),
    ("Abigail", "Abby"),
    ("Łukasz", "Luke"),
];

/// (level-1 code, description, level-2 departments as (code, description, job code of their staff)).
type Division = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str, &'static str)],
);

const DIVISIONS: &[Division] = &[
    (
        "CORP",
        "Corporate",
        &[
            ("FIN", "Finance", "ACCT"),
            ("HR", "Human Resources", "HRG"),
            ("LEGAL", "Legal", "LEGC"),
        ],
    ),
    (
        "ENG",
        "Engineering",
        &[("PLAT", "Platform", "SSWE"), ("APPS", "Applications", "SWE")],
    ),
    (
        "SALES",
        "Sales",
        &[("NA", "North America Sales", "AE"), ("EMEA", "EMEA Sales", "AE")],
    ),
    (
        "OPS",
        "Operations",
        &[
            ("SUP", "Customer Support", "SUPS"),
            ("IT", "Information Technology", "ANL"),
        ],
    ),
];

const JOBS: &[(&str, &str, bool)] = &[
    ("CEO", "Chief Executive Officer", true),
    ("VP", "Vice President", true),
    ("DIR", "Director", true),
    ("MGR", "Manager", true),
    ("SWE", "Software Engineer", true),
    ("SSWE", "Senior Software Engineer", true),
    ("ACCT", "Accountant", true),
    ("HRG", "HR Generalist", true),
    ("LEGC", "Legal Counsel", true),
    ("AE", "Account Executive", true),
    ("SUPS", "Support Specialist", true),
    ("ANL", "Business Analyst", true),
    ("CLRK", "Data Entry Clerk", false),
];

const LOCATIONS: &[(&str, &str, &str, &str, &str, bool)] = &[
    ("NYC", "New York HQ", "New York", "NY", "USA", true),
    ("AUS", "Austin Office", "Austin", "TX", "USA", true),
    ("SFO", "San Francisco Office", "San Francisco", "CA", "USA", true),
    ("CHI", "Chicago Office", "Chicago", "IL", "USA", true),
    ("TOR", "Toronto Office", "Toronto", "ON", "CAN", true),
    ("BOS", "Boston Office", "Boston", "MA", "USA", false),
];

/// US locations the master company's employees work at.
const MASTER_LOCATIONS: &[&str] = &["NYC", "AUS", "SFO", "CHI"];

/// Each manager has up to this many direct reports: employee `i` reports to `(i - 1) / SPAN`.
const SPAN: usize = 5;

/// Deterministic sample data: `n` employees (n >= 1; 0 is treated as 1) with a manager
/// hierarchy (one CEO with no supervisor, managers, reports; every supervisor_id refers to
/// an employee in the roster), realistic names including some Unicode ("José", "Zoë",
/// "Łukasz", "Renée"), unique work emails "first.last@<domain>" (lowercase, ASCII-folded,
/// duplicates get a digit), a few null job titles (job_code set), a few on leave "L", two
/// terminated "T" when n >= 6, a master and a component company (the component company's
/// first employee reports to the CEO in the master company), org levels 1..2 and locations.
/// Same (n, seed, domain) → same output.
pub fn sample_roster(n: usize, seed: u64, domain: &str) -> SampleData {
    let n = n.max(1);
    let mut rng = Rng(seed ^ 0x5EED_0F4C_4D45_u64);
    let mut ids = HashSet::new();
    let mut emails = HashSet::new();
    let mut employees: Vec<SimEmployee> = Vec::with_capacity(n);
    let terminated = |i: usize| n >= 6 && (i == n - 1 || i == n - 3);

    for i in 0..n {
        let parent = (i > 0).then(|| (i - 1) / SPAN);
        let has_reports = i * SPAN + 1 < n;
        let component = i % 4 == 1;
        let (company_id, company_code) = if component {
            (COMPONENT_COMPANY_ID, "ACMEC")
        } else {
            (MASTER_COMPANY_ID, "ACME")
        };

        // Names: forced Unicode for the first few; employee 7 shares employee 6's name.
        let mut first = if (1..=UNICODE_FIRST_NAMES.len()).contains(&i) {
            UNICODE_FIRST_NAMES[i - 1].to_owned()
        } else {
            rng.pick(FIRST_NAMES).to_string()
        };
        let mut last = rng.pick(LAST_NAMES).to_string();
        if i == 7 {
            first.clone_from(&employees[6].first_name);
            last.clone_from(&employees[6].last_name);
        }
        let middle = rng.chance(35).then(|| rng.pick(FIRST_NAMES).to_string());
        let preferred = NICKNAMES
            .iter()
            .find(|(full, _)| *full == first)
            .filter(|_| rng.chance(70))
            .map(|(_, nick)| nick.to_string());
        let email = unique_email(&mut emails, &first, &last, domain);
        let email_alternate = rng
            .chance(30)
            .then(|| format!("{}{}@personal.example", email_part(&first), email_part(&last)));

        // Organisation: VPs head a division, everybody below inherits it.
        let (division, dept) = match parent {
            None => (&DIVISIONS[0], &DIVISIONS[0].2[0]),
            Some(p) => {
                let div = if p == 0 {
                    &DIVISIONS[(i - 1) % DIVISIONS.len()]
                } else {
                    let code = employees[p].org_level1_code.as_deref().unwrap_or("CORP");
                    DIVISIONS.iter().find(|d| d.0 == code).unwrap_or(&DIVISIONS[0])
                };
                (div, rng.pick(div.2))
            }
        };
        let job_code = match parent {
            None => "CEO",
            Some(0) => "VP",
            Some(p) if has_reports && p <= SPAN => "DIR",
            Some(_) if has_reports => "MGR",
            Some(_) => dept.2,
        };
        let job = JOBS.iter().find(|j| j.0 == job_code).map_or("", |j| j.1);
        let (job_title, job_description) = match i % 14 {
            6 => (None, Some(job.to_owned())),
            13 => (None, None),
            _ => (Some(job.to_owned()), Some(job.to_owned())),
        };
        let location = if component {
            "TOR"
        } else if i == 0 {
            "NYC"
        } else {
            rng.pick(MASTER_LOCATIONS)
        };

        // Dates, all in the past whatever day it is.
        let original_hire_date = if i == 0 {
            date(2005, 1, 3) + days(rng.below(60))
        } else {
            date(2006, 1, 1) + days(rng.below(5840))
        };
        let last_hire_date = if i % 11 == 8 {
            original_hire_date + days(200 + rng.below(700))
        } else {
            original_hire_date
        };
        let status = if terminated(i) {
            "T"
        } else if i % 10 == 7 {
            "L"
        } else {
            "A"
        };
        let date_of_termination = terminated(i).then(|| last_hire_date + days(30 + rng.below(170)));
        let changed_at = date(2024, 6, 1).and_hms_opt(0, 0, 0).unwrap_or_default()
            + Duration::seconds(rng.below(180 * 86_400) as i64)
            + Duration::milliseconds(rng.below(1000) as i64);

        employees.push(SimEmployee {
            company_id: company_id.to_owned(),
            company_code: company_code.to_owned(),
            employee_id: unique_employee_id(&mut rng, &mut ids),
            employee_number: format!("{:09}", 12_000 + i * 7 + rng.below(7) as usize),
            person_id: uuid_like(&mut rng),
            first_name: first,
            middle_name: middle,
            last_name: last,
            preferred_name: preferred,
            email: Some(email),
            email_alternate,
            job_code: Some(job_code.to_owned()),
            job_title,
            job_description,
            org_level1_code: Some(division.0.to_owned()),
            org_level2_code: Some(dept.0.to_owned()),
            org_level3_code: None,
            org_level4_code: None,
            work_location_code: Some(location.to_owned()),
            status: status.to_owned(),
            employee_type: "REG".to_owned(),
            original_hire_date,
            last_hire_date,
            date_of_termination,
            supervisor_id: parent.map(|p| employees[p].employee_id.clone()),
            supervisor_company_id: parent.map(|p| employees[p].company_id.clone()),
            ssn: format!(
                "9{:02}-{:02}-{:04}",
                rng.below(100),
                1 + rng.below(99),
                1 + rng.below(9999)
            ),
            date_of_birth: date(1960, 1, 1) + days(rng.below(14_600)),
            changed_at,
        });
    }

    SampleData {
        employees,
        org_levels: org_levels(),
        jobs: JOBS
            .iter()
            .map(|&(code, title, is_active)| Job {
                code: code.to_owned(),
                title: title.to_owned(),
                is_active,
            })
            .collect(),
        locations: LOCATIONS
            .iter()
            .map(|&(code, description, city, state, country, is_active)| Location {
                code: code.to_owned(),
                description: description.to_owned(),
                city: city.to_owned(),
                state: state.to_owned(),
                country_code: country.to_owned(),
                is_active,
            })
            .collect(),
        companies: vec![
            Company {
                company_id: MASTER_COMPANY_ID.to_owned(),
                company_code: "ACME".to_owned(),
                company_name: "Acme Corporation".to_owned(),
                is_master: true,
            },
            Company {
                company_id: COMPONENT_COMPANY_ID.to_owned(),
                company_code: "ACMEC".to_owned(),
                company_name: "Acme Canada Ltd.".to_owned(),
                is_master: false,
            },
        ],
    }
}

/// Org levels 1 (divisions) and 2 (departments), plus one retired level-1 code.
fn org_levels() -> Vec<OrgLevel> {
    let level = |level, code: &str, description: &str, is_active| OrgLevel {
        level,
        code: code.to_owned(),
        description: description.to_owned(),
        is_active,
    };
    let mut out: Vec<OrgLevel> = DIVISIONS.iter().map(|d| level(1, d.0, d.1, true)).collect();
    out.push(level(1, "LEGACY", "Legacy Holdings", false));
    for d in DIVISIONS {
        out.extend(d.2.iter().map(|dept| level(2, dept.0, dept.1, true)));
    }
    out
}

/// `first.last@domain`, with a digit appended before the `@` when taken.
fn unique_email(taken: &mut HashSet<String>, first: &str, last: &str, domain: &str) -> String {
    let local = format!("{}.{}", email_part(first), email_part(last));
    let mut candidate = format!("{local}@{domain}");
    let mut k = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{local}{k}@{domain}");
        k += 1;
    }
    candidate
}

/// Lowercase ASCII form of a name for an email address: "Łukasz" → "lukasz",
/// "O'Brien" → "obrien", "Van der Berg" → "vanderberg".
pub fn email_part(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || c == '-' {
            out.push(c);
        } else {
            out.push_str(fold_char(c));
        }
    }
    out
}

/// ASCII replacement for the accented letters the name lists use; "" for anything else.
fn fold_char(c: char) -> &'static str {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ą' | 'ā' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'ę' | 'ě' | 'ē' | 'ễ' | 'ế' | 'ệ' => "e",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'ł' => "l",
        'ñ' | 'ń' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ő' => "o",
        'ß' => "ss",
        'ś' | 'š' => "s",
        'ù' | 'ú' | 'û' | 'ü' | 'ű' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => "",
    }
}

/// An id shaped like UKG's, e.g. "AB12C0000K1", not yet in `taken`.
fn unique_employee_id(rng: &mut Rng, taken: &mut HashSet<String>) -> String {
    const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    loop {
        let letter = |rng: &mut Rng| *rng.pick(LETTERS) as char;
        let id = format!(
            "{}{}{:02}{}0000{}{}",
            letter(rng),
            letter(rng),
            rng.below(100),
            letter(rng),
            *rng.pick(ALNUM) as char,
            rng.below(10)
        );
        if taken.insert(id.clone()) {
            return id;
        }
    }
}

/// A lowercase 8-4-4-4-12 hex string.
fn uuid_like(rng: &mut Rng) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn days(n: u64) -> Duration {
    Duration::days(n as i64)
}

/// SplitMix64: a tiny PRNG whose output never changes between library versions.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-enough number in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn same_inputs_same_output_and_seed_matters() {
        let a = sample_roster(40, 7, "acme.test");
        assert_eq!(a, sample_roster(40, 7, "acme.test"));
        assert_ne!(a.employees, sample_roster(40, 8, "acme.test").employees);
        assert_eq!(a.employees.len(), 40);
        assert_eq!(sample_roster(0, 1, "x.test").employees.len(), 1);
    }

    #[test]
    fn hierarchy_is_a_tree_with_one_root() {
        for n in [1, 2, 6, 25, 300] {
            let data = sample_roster(n, 3, "acme.test");
            let by_id: HashMap<_, _> = data
                .employees
                .iter()
                .map(|e| ((e.company_id.clone(), e.employee_id.clone()), e))
                .collect();
            assert_eq!(by_id.len(), n, "(company, employee) ids unique");
            let roots = data.employees.iter().filter(|e| e.supervisor_id.is_none()).count();
            assert_eq!(roots, 1);
            for e in &data.employees {
                // Walk up: must reach the root without revisiting anybody.
                let mut seen = HashSet::new();
                let mut cur: &SimEmployee = e;
                while let Some(sup) = &cur.supervisor_id {
                    assert!(seen.insert(cur.employee_id.clone()), "cycle at {}", cur.employee_id);
                    let key = (cur.supervisor_company_id.clone().unwrap_or_default(), sup.clone());
                    cur = by_id.get(&key).copied().expect("supervisor exists");
                    assert_ne!(cur.status, "T", "no terminated managers");
                }
            }
        }
    }

    #[test]
    fn quirks_are_present() {
        let data = sample_roster(25, 11, "acme.test");
        let emps = &data.employees;
        let firsts: Vec<&str> = emps.iter().map(|e| e.first_name.as_str()).collect();
        for name in UNICODE_FIRST_NAMES {
            assert!(firsts.contains(name), "{name} missing");
        }
        let emails: HashSet<_> = emps.iter().filter_map(|e| e.email.clone()).collect();
        assert_eq!(emails.len(), emps.len(), "emails unique and present");
        assert!(emails.iter().all(|m| m.is_ascii() && m.ends_with("@acme.test")));
        assert!(emails.iter().any(|m| m.starts_with("jose.")));
        assert!(emails.iter().any(|m| m.starts_with("lukasz.")));
        assert!(emails.iter().any(|m| m.contains("2@")), "duplicate name disambiguated");
        assert!(emps.iter().any(|e| e.job_title.is_none() && e.job_code.is_some()));
        assert_eq!(emps.iter().filter(|e| e.status == "T").count(), 2);
        assert!(emps
            .iter()
            .filter(|e| e.status == "T")
            .all(|e| e.date_of_termination.is_some()));
        assert!(emps.iter().any(|e| e.status == "L"));
        assert!(emps.iter().any(|e| e.last_hire_date > e.original_hire_date), "a rehire");
        assert!(emps
            .iter()
            .any(|e| e.supervisor_company_id.as_deref().is_some_and(|c| c != e.company_id)));
        assert_eq!(data.companies.iter().filter(|c| c.is_master).count(), 1);
        assert!(data.org_levels.iter().any(|o| o.level == 1));
        assert!(data.org_levels.iter().any(|o| o.level == 2));
        for e in emps {
            let job = e.job_code.as_deref().unwrap_or_default();
            assert!(data.jobs.iter().any(|j| j.code == job), "job {job} in lookup");
            let loc = e.work_location_code.as_deref().unwrap_or_default();
            assert!(data.locations.iter().any(|l| l.code == loc));
            assert_eq!(e.employee_number.len(), 9);
        }
    }

    #[test]
    fn email_part_folds_to_ascii() {
        assert_eq!(email_part("Łukasz"), "lukasz");
        assert_eq!(email_part("Zoë"), "zoe");
        assert_eq!(email_part("O'Brien"), "obrien");
        assert_eq!(email_part("Van der Berg"), "vanderberg");
        assert_eq!(email_part("Nguyễn"), "nguyen");
        assert_eq!(email_part("Smith-Jones"), "smith-jones");
    }
}
