//! Black-box tests of the in-process SCIM target over real HTTP.

use hrsync_sim::ScimSim;
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

const TOKEN: &str = "t0ken";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn call(sim: &ScimSim, method: Method, path: &str) -> RequestBuilder {
    Client::new()
        .request(method, format!("{}{path}", sim.base_url()))
        .bearer_auth(TOKEN)
        .header("accept", "application/scim+json")
}

async fn send_json(sim: &ScimSim, method: Method, path: &str, body: &Value) -> (StatusCode, Value) {
    let resp = call(sim, method, path)
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = resp.bytes().await.expect("body");
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("json")
    };
    if !bytes.is_empty() {
        assert_eq!(ct, "application/scim+json");
    }
    (status, value)
}

async fn get(sim: &ScimSim, path: &str) -> (StatusCode, Value) {
    send_json(sim, Method::GET, path, &Value::Null).await
}

fn user(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": user_name,
        "externalId": external_id,
        "name": {"givenName": "Zoë", "familyName": "Kim"},
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "active": true,
    })
}

fn filter_path(filter: &str) -> String {
    let mut url = reqwest::Url::parse("http://x/Users").expect("url");
    url.query_pairs_mut().append_pair("filter", filter);
    format!("/Users?{}", url.query().unwrap_or_default())
}

#[tokio::test]
async fn base_url_and_auth() {
    let sim = ScimSim::start(TOKEN).await.expect("start");
    assert!(sim.base_url().starts_with("http://127.0.0.1:") && sim.base_url().ends_with("/scim/v2"));
    let url = format!("{}/Users", sim.base_url());
    let none = Client::new().get(&url).send().await.expect("request");
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let wrong = Client::new()
        .get(&url)
        .bearer_auth("other")
        .send()
        .await
        .expect("request");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let body: Value = wrong.json().await.expect("scim error");
    assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    let post = Client::new()
        .post(&url)
        .json(&user("a@x.test", "E1"))
        .send()
        .await
        .expect("request");
    assert_eq!(post.status(), StatusCode::UNAUTHORIZED);
    assert!(sim.users().is_empty());
    assert_eq!(sim.write_count(), 0);
    let (status, _) = get(&sim, "/Users").await;
    assert_eq!(status, StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn create_conflict_and_lookup() {
    let sim = ScimSim::start(TOKEN).await.expect("start");
    let (status, created) = send_json(&sim, Method::POST, "/Users", &user("Zoe.Kim@acme.test", "E100")).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().expect("generated id").to_owned();
    assert_eq!(created["meta"]["resourceType"], "User");
    assert!(created["meta"]["location"].as_str().is_some_and(|l| l.ends_with(&id)));
    assert_eq!(created["externalId"], "E100");

    // Same userName in another case: 409 uniqueness.
    let (status, err) = send_json(&sim, Method::POST, "/Users", &user("zoe.kim@ACME.test", "E200")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["scimType"], "uniqueness");
    assert_eq!(err["status"], "409");
    // No userName: 400.
    let (status, _) = send_json(&sim, Method::POST, "/Users", &json!({"externalId": "E9"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, list) = get(&sim, &filter_path(r#"externalId eq "E100""#)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:ListResponse");
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["startIndex"], 1);
    assert_eq!(list["itemsPerPage"], 1);
    assert_eq!(list["Resources"][0]["id"], id.as_str());
    let (_, list) = get(&sim, &filter_path(r#"userName eq "ZOE.KIM@acme.test""#)).await;
    assert_eq!(list["totalResults"], 1, "userName compares case-insensitively");
    let (_, list) = get(&sim, &filter_path(r#"externalId eq "E999""#)).await;
    assert_eq!(list["totalResults"], 0);
    assert_eq!(list["Resources"], json!([]));
    let (status, err) = get(&sim, &filter_path("userName sw \"z\"")).await;
    assert_eq!(
        (status, err["scimType"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalidFilter"))
    );

    let (status, one) = get(&sim, &format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["userName"], "Zoe.Kim@acme.test");
    let (status, err) = get(&sim, "/Users/does-not-exist").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["status"], "404");

    assert_eq!(sim.users().len(), 1);
    assert_eq!(sim.write_count(), 3, "every POST counts");
}

#[tokio::test]
async fn list_pages_with_start_index_and_count() {
    let sim = ScimSim::start(TOKEN).await.expect("start");
    for i in 0..5 {
        let (status, _) = send_json(
            &sim,
            Method::POST,
            "/Users",
            &user(&format!("u{i}@x.test"), &format!("E{i}")),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, all) = get(&sim, "/Users").await;
    assert_eq!(
        (all["totalResults"].as_u64(), all["itemsPerPage"].as_u64()),
        (Some(5), Some(5))
    );
    let (_, page) = get(&sim, "/Users?startIndex=4&count=10").await;
    assert_eq!(page["totalResults"], 5);
    assert_eq!(page["startIndex"], 4);
    assert_eq!(page["itemsPerPage"], 2);
    assert_eq!(page["Resources"][0]["userName"], "u3@x.test");
    let (_, page) = get(&sim, "/Users?startIndex=1&count=2").await;
    assert_eq!(page["itemsPerPage"], 2);
    let (status, _) = get(&sim, "/Users?count=lots").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn patch_and_put() {
    let sim = ScimSim::start(TOKEN).await.expect("start");
    let (_, boss) = send_json(&sim, Method::POST, "/Users", &user("boss@x.test", "E1")).await;
    let (_, worker) = send_json(&sim, Method::POST, "/Users", &user("worker@x.test", "E2")).await;
    let boss_id = boss["id"].as_str().expect("id").to_owned();
    let id = worker["id"].as_str().expect("id").to_owned();

    let patch = json!({
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "replace", "path": "active", "value": false},
            {"op": "replace", "path": "title", "value": "Engineer"},
            {"op": "replace", "path": "name.givenName", "value": "Łukasz"},
            {"op": "add", "path": format!("{ENTERPRISE}:manager"), "value": {"value": boss_id}},
            {"op": "replace", "value": {"displayName": "Łukasz Kim", ENTERPRISE: {"department": "ENG"}}},
        ],
    });
    let (status, patched) = send_json(&sim, Method::PATCH, &format!("/Users/{id}"), &patch).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["id"], id.as_str());
    assert_eq!(patched["active"], false);
    assert_eq!(patched["title"], "Engineer");
    assert_eq!(patched["name"], json!({"givenName": "Łukasz", "familyName": "Kim"}));
    assert_eq!(patched["displayName"], "Łukasz Kim");
    assert_eq!(patched[ENTERPRISE]["manager"]["value"], boss_id.as_str());
    assert_eq!(patched[ENTERPRISE]["department"], "ENG");
    assert_ne!(patched["meta"]["version"], worker["meta"]["version"]);

    let remove = json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "title"}]});
    let (_, patched) = send_json(&sim, Method::PATCH, &format!("/Users/{id}"), &remove).await;
    assert!(patched.get("title").is_none());
    let stored = sim
        .users()
        .into_iter()
        .find(|u| u["id"] == id.as_str())
        .expect("stored");
    assert_eq!(stored["active"], false);

    // PATCH errors: unknown id, bad body, taking another user's userName.
    let (status, _) = send_json(&sim, Method::PATCH, "/Users/nope", &remove).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send_json(&sim, Method::PATCH, &format!("/Users/{id}"), &json!({"x": 1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let steal =
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "userName", "value": "BOSS@x.test"}]});
    let (status, err) = send_json(&sim, Method::PATCH, &format!("/Users/{id}"), &steal).await;
    assert_eq!(
        (status, err["scimType"].as_str()),
        (StatusCode::CONFLICT, Some("uniqueness"))
    );

    // PUT replaces the whole resource and keeps the id.
    let mut replacement = user("worker@x.test", "E2");
    replacement["id"] = json!("client-chosen");
    replacement["title"] = json!("Staff Engineer");
    let (status, put) = send_json(&sim, Method::PUT, &format!("/Users/{id}"), &replacement).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(put["id"], id.as_str());
    assert_eq!(put["title"], "Staff Engineer");
    assert_eq!(put["active"], true);
    assert!(put.get("displayName").is_none(), "PUT replaces");
    assert_eq!(put["meta"]["created"], worker["meta"]["created"]);
    let (status, _) = send_json(&sim, Method::PUT, "/Users/nope", &replacement).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, err) = send_json(&sim, Method::PUT, &format!("/Users/{id}"), &user("boss@x.test", "E2")).await;
    assert_eq!(
        (status, err["scimType"].as_str()),
        (StatusCode::CONFLICT, Some("uniqueness"))
    );

    // DELETE is not offered.
    let resp = call(&sim, Method::DELETE, &format!("/Users/{id}"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(sim.users().len(), 2);
    // 2 POST + 5 PATCH + 3 PUT.
    assert_eq!(sim.write_count(), 10);
}

#[tokio::test]
async fn indexes_follow_renames_and_external_id_changes() {
    let sim = ScimSim::start(TOKEN).await.expect("start");
    let (_, a) = send_json(&sim, Method::POST, "/Users", &user("a@x.test", "E1")).await;
    let (_, b) = send_json(&sim, Method::POST, "/Users", &user("b@x.test", "E2")).await;
    let a_id = a["id"].as_str().expect("id").to_owned();
    let b_id = b["id"].as_str().expect("id").to_owned();
    let total = |filter: String| {
        let sim = sim.clone();
        async move { get(&sim, &filter_path(&filter)).await.1["totalResults"].clone() }
    };

    // Renaming a frees the old userName and takes the new one; the externalId moves with a PUT.
    let rename =
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "userName", "value": "A2@x.test"}]});
    let (status, _) = send_json(&sim, Method::PATCH, &format!("/Users/{a_id}"), &rename).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(total(r#"userName eq "a@x.test""#.into()).await, 0);
    assert_eq!(total(r#"userName eq "a2@X.test""#.into()).await, 1);
    let (status, _) = send_json(&sim, Method::POST, "/Users", &user("A@x.test", "E3")).await;
    assert_eq!(status, StatusCode::CREATED, "the old userName is free again");
    let (status, _) = send_json(&sim, Method::PUT, &format!("/Users/{b_id}"), &user("b@x.test", "E9")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(total(r#"externalId eq "E2""#.into()).await, 0);
    assert_eq!(total(r#"externalId eq "E9""#.into()).await, 1);
    assert_eq!(
        total(r#"externalId eq "e9""#.into()).await,
        0,
        "externalId is case-exact"
    );

    // externalId is not unique in the app: a filter answers every holder, in creation order.
    let (_, c) = send_json(&sim, Method::POST, "/Users", &user("c@x.test", "E9")).await;
    let (_, list) = get(&sim, &filter_path(r#"externalId eq "E9""#)).await;
    assert_eq!(list["Resources"][0]["id"], b_id.as_str());
    assert_eq!(list["Resources"][1]["id"], c["id"]);
    assert_eq!(total(format!("id eq \"{a_id}\"")).await, 1);
    assert_eq!(
        total(r#"emails.value eq "C@x.test""#.into()).await,
        1,
        "other filters scan"
    );
}

#[tokio::test]
async fn request_log() {
    let sim = ScimSim::start(TOKEN).await.expect("start");
    send_json(&sim, Method::POST, "/Users", &user("a@x.test", "E1")).await;
    get(&sim, "/Users?count=1").await;
    let resp = Client::new()
        .get(format!("{}/Users", sim.base_url()))
        .bearer_auth("wrong")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let log = sim.requests();
    let seen: Vec<(&str, &str, &str, u16, bool)> = log
        .iter()
        .map(|r| {
            (
                r.method.as_str(),
                r.path.as_str(),
                r.query.as_str(),
                r.status,
                r.authorized,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("POST", "/scim/v2/Users", "", 201, true),
            ("GET", "/scim/v2/Users", "count=1", 200, true),
            ("GET", "/scim/v2/Users", "", 401, false),
        ]
    );
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!((sim.request_count(), sim.write_count()), (3, 1));
    sim.reset_requests();
    assert_eq!((sim.request_count(), sim.write_count()), (0, 0));
}
