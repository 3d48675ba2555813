//! Black-box tests of the UKG simulator over real HTTP: auth, paging, field shapes,
//! ordering, roster control, the request log, faults and shutdown.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use hrsync_sim::{sample_roster, Fault, OrgLevel, UkgSim, UkgSimConfig};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::Value;

const USER: &str = "svc-hrsync";
const PASS: &str = "s3cret!";
const KEY: &str = "K9X2Q";
const EMPLOYMENT: &str = "/personnel/v1/employment-details";
const DEMOGRAPHICS: &str = "/personnel/v1/employee-demographic-details";
const SUPERVISORS: &str = "/personnel/v1/employee-supervisor-details";
const CHANGES: &str = "/personnel/v1/employee-changes";

async fn start(n: usize) -> UkgSim {
    let data = sample_roster(n, 42, "acme.test");
    UkgSim::start(UkgSimConfig::new(USER, PASS, KEY, data))
        .await
        .expect("simulator starts")
}

/// An authorized GET of `path_and_query`.
fn get(sim: &UkgSim, path_and_query: &str) -> RequestBuilder {
    Client::new()
        .get(format!("{}{path_and_query}", sim.base_url()))
        .basic_auth(USER, Some(PASS))
        .header("US-Customer-Api-Key", KEY)
}

async fn rows(sim: &UkgSim, path_and_query: &str) -> Vec<Value> {
    let resp = get(sim, path_and_query).send().await.expect("request");
    assert_eq!(resp.status(), StatusCode::OK, "{path_and_query}");
    let value: Value = resp.json().await.expect("json");
    value.as_array().cloned().expect("a bare JSON array")
}

fn content_type(resp: &Response) -> String {
    resp.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn auth_needs_basic_credentials_and_api_key() {
    let sim = start(5).await;
    let url = format!("{}{EMPLOYMENT}", sim.base_url());
    let client = Client::new();

    let no_key = client
        .get(&url)
        .basic_auth(USER, Some(PASS))
        .send()
        .await
        .expect("request");
    assert_eq!(no_key.status(), StatusCode::UNAUTHORIZED);
    let wrong_pass = client
        .get(&url)
        .basic_auth(USER, Some("nope"))
        .header("US-Customer-Api-Key", KEY)
        .send()
        .await
        .expect("request");
    assert_eq!(wrong_pass.status(), StatusCode::UNAUTHORIZED);
    let wrong_key = client
        .get(&url)
        .basic_auth(USER, Some(PASS))
        .header("US-Customer-Api-Key", "XXXXX")
        .send()
        .await
        .expect("request");
    assert_eq!(wrong_key.status(), StatusCode::UNAUTHORIZED);
    let no_auth = client
        .get(&url)
        .header("US-Customer-Api-Key", KEY)
        .send()
        .await
        .expect("request");
    assert_eq!(no_auth.status(), StatusCode::UNAUTHORIZED);
    let ok = get(&sim, EMPLOYMENT).send().await.expect("request");
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(content_type(&ok), "application/json; charset=utf-8");

    let log = sim.requests();
    let seen: Vec<(u16, bool)> = log.iter().map(|r| (r.status, r.authorized)).collect();
    assert_eq!(
        seen,
        [(401, false), (401, false), (401, false), (401, false), (200, true)]
    );
    assert!(log.iter().all(|r| r.method == "GET" && r.path == EMPLOYMENT));
}

#[tokio::test]
async fn paging_ends_with_a_short_or_empty_page() {
    let sim = start(25).await;
    let mut sizes = Vec::new();
    for page in 1..=3 {
        sizes.push(rows(&sim, &format!("{EMPLOYMENT}?page={page}&per_Page=10")).await.len());
    }
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(rows(&sim, &format!("{EMPLOYMENT}?page=7&per_Page=10")).await.len(), 0);
    // Pages tile the roster: no overlap, nothing missing.
    let mut ids = HashSet::new();
    for page in 1..=3 {
        for row in rows(&sim, &format!("{DEMOGRAPHICS}?page={page}&PER_PAGE=10")).await {
            assert!(ids.insert(row["employeeId"].as_str().map(str::to_owned)));
        }
    }
    assert_eq!(ids.len(), 25);

    let sim = start(20).await;
    let mut sizes = Vec::new();
    for page in 1..=3 {
        sizes.push(rows(&sim, &format!("{EMPLOYMENT}?page={page}&per_page=10")).await.len());
    }
    assert_eq!(sizes, [10, 10, 0]);
    // Without parameters: page 1 with the default (maximum) size.
    assert_eq!(rows(&sim, EMPLOYMENT).await.len(), 20);
    assert_eq!(rows(&sim, "/configuration/v1/jobs?per_Page=2&page=2").await.len(), 2);
}

#[tokio::test]
async fn bad_paging_parameters_get_the_documented_400() {
    let mut config = UkgSimConfig::new(USER, PASS, KEY, sample_roster(5, 1, "acme.test"));
    assert_eq!(config.max_page_size, 10_000);
    config.max_page_size = 100;
    let sim = UkgSim::start(config).await.expect("start");
    for query in ["per_Page=101", "page=0", "page=abc", "per_Page=ten", "per_page=0"] {
        let resp = get(&sim, &format!("{EMPLOYMENT}?{query}"))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{query}");
        let body: Value = resp.json().await.expect("json body");
        for field in ["title", "type", "detail", "code", "message", "errors"] {
            assert!(body.get(field).is_some(), "{query}: {field} missing in {body}");
        }
    }
    assert_eq!(rows(&sim, &format!("{EMPLOYMENT}?per_Page=100")).await.len(), 5);
}

#[tokio::test]
async fn unknown_paths_are_404_without_body() {
    let sim = start(3).await;
    for path in [
        "/personnel/v1/person-details",
        "/services/personnel/v1/employment-details",
        "/",
    ] {
        let resp = get(&sim, path).send().await.expect("request");
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(resp.bytes().await.expect("body").is_empty());
    }
}

#[tokio::test]
async fn employment_details_shape() {
    let sim = start(25).await;
    let rows = rows(&sim, EMPLOYMENT).await;
    let expected = [
        "companyID",
        "companyCode",
        "employeeID",
        "employeeNumber",
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
        "isHomeCompany",
        "dateTimeCreated",
        "dateTimeChanged",
        "fullTimeOrPartTimeCode",
        "hourlyOrSalaryCode",
    ];
    for row in &rows {
        for field in expected {
            assert!(row.get(field).is_some(), "{field} missing in {row}");
        }
        assert!(row.get("employeeId").is_none(), "capital ID on this endpoint");
        assert_eq!(row["orgLevel3Code"], Value::Null, "empties are null here");
        assert_eq!(row["isHomeCompany"], Value::Bool(true));
        let number = row["employeeNumber"].as_str().expect("string");
        assert!(number.len() == 9 && number.chars().all(|c| c.is_ascii_digit()));
        let hired = row["originalHireDate"].as_str().expect("string");
        assert!(hired.ends_with("T00:00:00") && hired.len() == 19, "{hired}");
    }
    // Ordered by (companyID, employeeID).
    let keys: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r["companyID"].to_string(), r["employeeID"].to_string()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    // Null job titles, terminations, a CEO without supervisor, cross-company managers.
    assert!(rows
        .iter()
        .any(|r| r["jobTitle"].is_null() && r["primaryJobCode"].is_string()));
    assert!(rows
        .iter()
        .any(|r| r["employeeStatusCode"] == "T" && r["dateOfTermination"].is_string()));
    assert_eq!(rows.iter().filter(|r| r["supervisorID"].is_null()).count(), 1);
    assert!(rows
        .iter()
        .any(|r| r["supervisorCompanyID"].is_string() && r["supervisorCompanyID"] != r["companyID"]));
    // dateTimeChanged: no offset, 0 to 3 fraction digits, varying.
    let digits: HashSet<usize> = rows
        .iter()
        .map(|r| {
            let s = r["dateTimeChanged"].as_str().expect("string");
            assert!(!s.ends_with('Z') && !s.contains('+'), "{s}");
            s.split_once('.').map_or(0, |(_, f)| f.len())
        })
        .collect();
    assert!(digits.len() >= 2 && digits.iter().all(|d| *d <= 3), "{digits:?}");
}

#[tokio::test]
async fn demographics_shape_and_different_order() {
    let sim = start(25).await;
    let demo = rows(&sim, DEMOGRAPHICS).await;
    let expected = [
        "employeeId",
        "companyId",
        "personId",
        "firstName",
        "middleName",
        "lastName",
        "preferredName",
        "emailAddress",
        "emailAddressAlternate",
        "addressLine1",
        "city",
        "state",
        "zipCode",
        "country",
        "homePhone",
        "ssn",
        "dateOfBirth",
    ];
    for row in &demo {
        for field in expected {
            assert!(row.get(field).is_some(), "{field} missing in {row}");
        }
        assert!(row.get("employeeID").is_none(), "lowercase Id on this endpoint");
    }
    // Empties: "" for a missing middle name, null for a missing preferred name.
    assert!(demo.iter().any(|r| r["middleName"] == ""));
    assert!(demo.iter().any(|r| r["preferredName"].is_null()));
    assert!(demo.iter().any(|r| r["firstName"] == "Łukasz"));

    let employment = rows(&sim, EMPLOYMENT).await;
    let key = |r: &Value, c: &str, e: &str| (r[c].to_string(), r[e].to_string());
    let emp_keys: Vec<_> = employment.iter().map(|r| key(r, "companyID", "employeeID")).collect();
    let demo_keys: Vec<_> = demo.iter().map(|r| key(r, "companyId", "employeeId")).collect();
    assert_ne!(emp_keys, demo_keys, "orders must differ");
    let a: HashSet<_> = emp_keys.into_iter().collect();
    let b: HashSet<_> = demo_keys.into_iter().collect();
    assert_eq!(a, b, "the same people, joined on (companyId, employeeId)");

    // Sensitive values really are served (a client must drop them).
    let first = sim.employees().into_iter().next().expect("an employee");
    let row = demo
        .iter()
        .find(|r| r["employeeId"] == first.employee_id.as_str())
        .expect("row");
    assert_eq!(row["ssn"], first.ssn.as_str());
    assert_eq!(
        row["dateOfBirth"],
        first.date_of_birth.format("%Y-%m-%dT00:00:00").to_string().as_str()
    );
}

#[tokio::test]
async fn supervisor_details_and_lookups_shape() {
    let sim = start(12).await;
    let sups = rows(&sim, &format!("{SUPERVISORS}?page=1&per_Page=100")).await;
    assert_eq!(sups.len(), 12);
    let by_id: HashMap<String, &Value> = sups
        .iter()
        .map(|r| (r["employeeID"].as_str().unwrap_or_default().to_owned(), r))
        .collect();
    for e in sim.employees() {
        let row = by_id[&e.employee_id];
        for field in [
            "companyID",
            "supervisorEmployeeID",
            "supervisorCompanyID",
            "supervisorEmail",
            "supervisorFirstName",
            "supervisorLastName",
            "employeeStatusCode",
        ] {
            assert!(row.get(field).is_some(), "{field} missing in {row}");
        }
        if let Some(sup_id) = &e.supervisor_id {
            let boss = sim.employee(sup_id).expect("supervisor exists");
            assert_eq!(row["supervisorEmployeeID"], sup_id.as_str());
            assert_eq!(row["supervisorEmail"], boss.email.as_deref().unwrap_or_default());
            assert_eq!(row["supervisorFirstName"], boss.first_name.as_str());
        } else {
            assert!(row["supervisorEmployeeID"].is_null());
        }
    }

    let levels = rows(&sim, "/configuration/v1/org-levels").await;
    assert!(levels.iter().all(|r| r["level"].is_u64()
        && r["code"].is_string()
        && r["description"].is_string()
        && r["isActive"].is_boolean()));
    assert!(levels.iter().any(|r| r["level"] == 2));
    let jobs = rows(&sim, "/configuration/v1/jobs").await;
    assert!(jobs
        .iter()
        .all(|r| r["code"].is_string() && r["title"].is_string() && r["isActive"].is_boolean()));
    let locations = rows(&sim, "/configuration/v1/locations").await;
    for r in &locations {
        for field in [
            "locationCode",
            "description",
            "city",
            "state",
            "countryCode",
            "isActive",
        ] {
            assert!(r.get(field).is_some(), "{field} missing in {r}");
        }
    }
    let companies = rows(&sim, "/configuration/v1/company-details").await;
    let flags: Vec<&str> = companies.iter().filter_map(|c| c["isMasterCompany"].as_str()).collect();
    assert_eq!(flags, ["Y", "N"]);
    assert!(companies
        .iter()
        .all(|c| c["companyID"].is_string() && c["companyCode"].is_string() && c["companyName"].is_string()));

    // Lookups can be replaced.
    sim.set_org_levels(vec![OrgLevel {
        level: 1,
        code: "X".into(),
        description: "X".into(),
        is_active: true,
    }]);
    assert_eq!(rows(&sim, "/configuration/v1/org-levels").await.len(), 1);
}

#[tokio::test]
async fn roster_control_is_visible_on_the_next_request() {
    let sim = start(10).await;
    let find = |rows: &[Value], id: &str| rows.iter().find(|r| r["employeeID"] == id).cloned();

    // hire
    let mut newbie = sim.employees()[3].clone();
    newbie.employee_id = "ZZ99Z0000Z9".into();
    newbie.first_name = "Renée".into();
    newbie.email = Some("renee.new@acme.test".into());
    sim.hire(newbie.clone());
    let all = rows(&sim, EMPLOYMENT).await;
    assert_eq!(all.len(), 11);
    assert!(find(&all, "ZZ99Z0000Z9").is_some());
    let demo = rows(&sim, DEMOGRAPHICS).await;
    assert!(demo
        .iter()
        .any(|r| r["employeeId"] == "ZZ99Z0000Z9" && r["firstName"] == "Renée"));
    // hire again with the same ids replaces
    newbie.last_name = "Replaced".into();
    sim.hire(newbie);
    assert_eq!(sim.employees().len(), 11);
    assert_eq!(
        sim.employee("ZZ99Z0000Z9").map(|e| e.last_name),
        Some("Replaced".into())
    );

    // terminate
    let id = sim.employees()[5].employee_id.clone();
    let changed_before = find(&all, &id).map(|r| r["dateTimeChanged"].clone());
    let day = NaiveDate::from_ymd_opt(2025, 2, 28).expect("date");
    assert!(sim.terminate(&id, day));
    let row = find(&rows(&sim, EMPLOYMENT).await, &id).expect("still served");
    assert_eq!(row["employeeStatusCode"], "T");
    assert_eq!(row["dateOfTermination"], "2025-02-28T00:00:00");
    assert_ne!(
        Some(row["dateTimeChanged"].clone()),
        changed_before,
        "changed_at bumped"
    );

    // rehire
    let back = NaiveDate::from_ymd_opt(2025, 6, 2).expect("date");
    assert!(sim.rehire(&id, back));
    let row = find(&rows(&sim, EMPLOYMENT).await, &id).expect("served");
    assert_eq!(row["employeeStatusCode"], "A");
    assert_eq!(row["lastHireDate"], "2025-06-02T00:00:00");
    assert!(row["dateOfTermination"].is_null());

    // update
    assert!(sim.update(&id, |e| e.job_title = Some("Chief Tea Officer".into())));
    let row = find(&rows(&sim, EMPLOYMENT).await, &id).expect("served");
    assert_eq!(row["jobTitle"], "Chief Tea Officer");

    // remove
    assert!(sim.remove(&id));
    assert!(find(&rows(&sim, EMPLOYMENT).await, &id).is_none());
    assert!(!rows(&sim, DEMOGRAPHICS)
        .await
        .iter()
        .any(|r| r["employeeId"] == id.as_str()));
    assert!(!sim.remove(&id) && !sim.terminate(&id, day) && !sim.update(&id, |_| {}));
    assert_eq!(sim.employee(&id), None);
}

#[tokio::test]
async fn change_feed_returns_recent_changes_in_its_own_format() {
    let sim = start(10).await;
    let id = sim.employees()[4].employee_id.clone();
    // The sample roster changed in 2024; everything is in an open-ended range from 2000.
    assert_eq!(
        rows(&sim, &format!("{CHANGES}?startDate=2000-01-01T00:00:00"))
            .await
            .len(),
        10
    );

    let since = chrono::Local::now().naive_local() - chrono::Duration::seconds(1);
    assert!(sim.terminate(&id, NaiveDate::from_ymd_opt(2025, 3, 1).expect("date")));
    let query = format!(
        "{CHANGES}?startDate={}&endDate=2999-01-01&page=1&per_page=200",
        since.format("%Y-%m-%dT%H:%M:%S")
    );
    let changed = rows(&sim, &query).await;
    assert_eq!(changed.len(), 1);
    let row = &changed[0];
    assert_eq!(row["employeeId"], id.as_str());
    assert_eq!(row["isActive"], false);
    assert_eq!(row["terminationDate"], "3/1/2025 12:00:00 AM");
    assert!(row["hireDate"].as_str().is_some_and(|s| s.ends_with(" 12:00:00 AM")));
    for field in [
        "companyId",
        "personId",
        "firstName",
        "lastName",
        "preferredName",
        "emailAddress",
        "employeeNumber",
        "supervisorId",
        "supervisorName",
        "employeeStatus",
        "jobCode",
        "alternateJobTitle",
        "orgLevel1Code",
        "orgLevel4Code",
        "dateOfLastHire",
    ] {
        assert!(row.get(field).is_some(), "{field} missing in {row}");
    }
    assert_eq!(row["orgLevel4Code"], "", "empties are \"\" here");
    assert!(row.get("workLocation").is_some() || row.get("workLocationCode").is_some());

    let resp = get(&sim, CHANGES).send().await.expect("request");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "startDate is required");
}

#[tokio::test]
async fn request_log_records_everything_in_order() {
    let sim = start(3).await;
    rows(&sim, &format!("{EMPLOYMENT}?page=1&per_Page=2")).await;
    rows(&sim, "/configuration/v1/jobs").await;
    let _ = get(&sim, "/nope").send().await.expect("request");
    assert_eq!(sim.request_count(), 3);
    let log = sim.requests();
    assert_eq!(log[0].path, EMPLOYMENT);
    assert_eq!(log[0].query, "page=1&per_Page=2");
    assert_eq!(
        (log[1].path.as_str(), log[1].query.as_str(), log[1].status),
        ("/configuration/v1/jobs", "", 200)
    );
    assert_eq!(log[2].status, 404);
    assert!(log[0].at <= log[1].at && log[1].at <= log[2].at);
    sim.reset_requests();
    assert_eq!(sim.request_count(), 0);
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn fault_status_every_kth_with_retry_after() {
    let sim = start(3).await;
    rows(&sim, EMPLOYMENT).await; // before injection: not counted
    sim.inject(Fault::StatusEvery {
        k: 3,
        status: 429,
        retry_after: Some(7),
    });
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let resp = get(&sim, EMPLOYMENT).send().await.expect("request");
        statuses.push(resp.status().as_u16());
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(
                resp.headers().get("retry-after").and_then(|v| v.to_str().ok()),
                Some("7")
            );
            assert!(resp.bytes().await.expect("body").is_empty(), "429 has no body");
        }
    }
    assert_eq!(statuses, [200, 200, 429, 200, 200, 429]);
    assert_eq!(sim.requests().iter().filter(|r| r.status == 429).count(), 2);

    sim.clear_faults();
    sim.inject(Fault::StatusEvery {
        k: 1,
        status: 429,
        retry_after: None,
    });
    let resp = get(&sim, "/configuration/v1/jobs").send().await.expect("request");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().get("retry-after").is_none());
}

#[tokio::test]
async fn fault_status_next_n() {
    let sim = start(3).await;
    sim.inject(Fault::StatusNext { n: 2, status: 500 });
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(get(&sim, EMPLOYMENT).send().await.expect("request").status().as_u16());
    }
    assert_eq!(statuses, [500, 500, 200]);
    sim.inject(Fault::StatusNext { n: 1, status: 503 });
    assert_eq!(
        get(&sim, DEMOGRAPHICS).send().await.expect("request").status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        get(&sim, DEMOGRAPHICS).send().await.expect("request").status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn fault_delay() {
    let sim = start(3).await;
    sim.inject(Fault::Delay(Duration::from_millis(300)));
    let t = Instant::now();
    rows(&sim, EMPLOYMENT).await;
    assert!(t.elapsed() >= Duration::from_millis(300));
    sim.clear_faults();
    let t = Instant::now();
    rows(&sim, EMPLOYMENT).await;
    assert!(t.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn fault_truncate_next() {
    let sim = start(5).await;
    sim.inject(Fault::TruncateNext { n: 1 });
    let resp = get(&sim, EMPLOYMENT).send().await.expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.bytes().await.expect("body");
    assert!(!body.is_empty());
    assert!(
        serde_json::from_slice::<Value>(&body).is_err(),
        "truncated JSON is invalid"
    );
    assert_eq!(rows(&sim, EMPLOYMENT).await.len(), 5, "only the next one");
}

#[tokio::test]
async fn fault_wrong_content_type_next() {
    let sim = start(5).await;
    sim.inject(Fault::WrongContentTypeNext { n: 2 });
    for _ in 0..2 {
        let resp = get(&sim, "/configuration/v1/locations").send().await.expect("request");
        assert!(content_type(&resp).starts_with("text/html"));
        let body = resp.text().await.expect("body");
        assert!(body.contains("<html>"));
    }
    let resp = get(&sim, "/configuration/v1/locations").send().await.expect("request");
    assert!(content_type(&resp).starts_with("application/json"));
}

#[tokio::test]
async fn fault_reset_next() {
    let sim = start(5).await;
    rows(&sim, EMPLOYMENT).await; // a pooled keep-alive connection exists now
    sim.inject(Fault::ResetNext { n: 1 });
    let client = Client::new();
    let first = client
        .get(format!("{}{EMPLOYMENT}", sim.base_url()))
        .basic_auth(USER, Some(PASS))
        .header("US-Customer-Api-Key", KEY)
        .send()
        .await;
    assert!(first.is_err(), "connection closed without a response");
    assert_eq!(rows(&sim, EMPLOYMENT).await.len(), 5, "only the next one");
    let log = sim.requests();
    assert_eq!(log.iter().map(|r| r.status).collect::<Vec<_>>(), [200, 0, 200]);
}

#[tokio::test]
async fn fault_down_until_cleared() {
    let sim = start(5).await;
    sim.inject(Fault::Down);
    for path in [EMPLOYMENT, "/configuration/v1/company-details"] {
        assert_eq!(
            get(&sim, path).send().await.expect("request").status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
    // Down even for bad credentials: the gateway answers first.
    let resp = Client::new()
        .get(format!("{}{EMPLOYMENT}", sim.base_url()))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    sim.clear_faults();
    assert_eq!(rows(&sim, EMPLOYMENT).await.len(), 5);
}

#[tokio::test]
async fn fault_forbidden_path_after_authentication() {
    let sim = start(5).await;
    sim.inject(Fault::ForbiddenPath("/configuration/v1/jobs".into()));
    let resp = get(&sim, "/configuration/v1/jobs").send().await.expect("request");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(content_type(&resp).starts_with("application/json"));
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["code"], "403");
    // Only that path, and bad credentials still get 401 first.
    assert_eq!(rows(&sim, EMPLOYMENT).await.len(), 5);
    assert_eq!(
        get(&sim, "/configuration/v1/org-levels")
            .send()
            .await
            .expect("request")
            .status(),
        StatusCode::OK
    );
    let anonymous = Client::new()
        .get(format!("{}/configuration/v1/jobs", sim.base_url()))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    sim.clear_faults();
    assert_eq!(
        get(&sim, "/configuration/v1/jobs")
            .send()
            .await
            .expect("request")
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn shutdown_releases_the_port() {
    let sim = start(3).await;
    let addr = sim.addr();
    assert_eq!(sim.base_url(), format!("http://127.0.0.1:{}", addr.port()));
    rows(&sim, EMPLOYMENT).await;
    let handle = sim.clone();
    sim.shutdown().await;
    assert!(get(&handle, EMPLOYMENT).send().await.is_err(), "no longer serving");
    let again = UkgSim::start_on(UkgSimConfig::new(USER, PASS, KEY, sample_roster(2, 1, "a.test")), addr)
        .await
        .expect("port is free again");
    assert_eq!(rows(&again, EMPLOYMENT).await.len(), 2);
    again.shutdown().await;
}
