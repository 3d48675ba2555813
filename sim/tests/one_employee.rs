//! The UKG simulator's single-employee reads (one-person syncs and the change feed):
//! demographics filtered by `employeeId` / `companyId`, one employment's
//! employment-details, 404 for an unknown employee, and the same auth and faults as the
//! list endpoints.

use hrsync_sim::{sample_roster, Fault, UkgSim, UkgSimConfig};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::Value;

const USER: &str = "svc-hrsync";
const PASS: &str = "s3cret!";
const KEY: &str = "K9X2Q";

async fn start(n: usize) -> UkgSim {
    let data = sample_roster(n, 42, "acme.test");
    UkgSim::start(UkgSimConfig::new(USER, PASS, KEY, data))
        .await
        .expect("simulator starts")
}

fn get(sim: &UkgSim, path_and_query: &str) -> RequestBuilder {
    Client::new()
        .get(format!("{}{path_and_query}", sim.base_url()))
        .basic_auth(USER, Some(PASS))
        .header("US-Customer-Api-Key", KEY)
}

async fn json(sim: &UkgSim, path_and_query: &str) -> (StatusCode, Value) {
    let resp = get(sim, path_and_query).send().await.expect("request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn one_employee_by_filter_and_by_path() {
    let sim = start(12).await;
    let e = sim.employees()[3].clone();
    let (status, rows) = json(
        &sim,
        &format!(
            "/personnel/v1/employee-demographic-details?employeeId={}",
            e.employee_id
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let rows = rows.as_array().cloned().expect("a list");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["employeeId"], e.employee_id.as_str());
    assert_eq!(rows[0]["companyId"], e.company_id.as_str());

    // Both filters, in another letter case.
    let (status, rows) = json(
        &sim,
        &format!(
            "/personnel/v1/employee-demographic-details?EMPLOYEEID={}&companyID={}",
            e.employee_id, e.company_id
        ),
    )
    .await;
    assert_eq!((status, rows.as_array().map(Vec::len)), (StatusCode::OK, Some(1)));

    // The employment as an object, the same as its row in the list.
    let path = format!(
        "/personnel/v1/companies/{}/employees/{}/employment-details",
        e.company_id, e.employee_id
    );
    let (status, one) = json(&sim, &path).await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = json(&sim, "/personnel/v1/employment-details").await;
    let row = list
        .as_array()
        .and_then(|l| l.iter().find(|r| r["employeeID"] == e.employee_id.as_str()).cloned())
        .expect("in the list");
    assert_eq!(one, row);
}

#[tokio::test]
async fn unknown_employees_are_404_and_auth_and_faults_apply() {
    let sim = start(6).await;
    let e = sim.employees()[1].clone();
    let (status, body) = json(&sim, "/personnel/v1/employee-demographic-details?employeeId=NOPE").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "404");
    let (status, _) = json(
        &sim,
        &format!(
            "/personnel/v1/companies/{}/employees/NOPE/employment-details",
            e.company_id
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The right employee in the wrong company is unknown too.
    let (status, _) = json(
        &sim,
        &format!(
            "/personnel/v1/companies/XXXXX/employees/{}/employment-details",
            e.employee_id
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let path = format!(
        "/personnel/v1/companies/{}/employees/{}/employment-details",
        e.company_id, e.employee_id
    );
    let wrong = Client::new()
        .get(format!("{}{path}", sim.base_url()))
        .basic_auth(USER, Some("wrong"))
        .header("US-Customer-Api-Key", KEY)
        .send()
        .await
        .expect("request");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    sim.inject(Fault::StatusNext { n: 1, status: 503 });
    assert_eq!(json(&sim, &path).await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json(&sim, &path).await.0, StatusCode::OK);
    let logged = sim.requests().iter().filter(|r| r.path == path).count();
    assert_eq!(logged, 3);
}
