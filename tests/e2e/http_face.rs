//! The HTTP face of `hrsync run`: Prometheus metrics, the status page, and the admin API
//! behind its bearer token; no secret and no upstream host in any answer.

use crate::harness::{ukg_sim, ScimServer, Setup, TenantConf};
use crate::service::{outcome, Service};

const ADMIN: &str = "CANARY-admin-token-5f2";

#[tokio::test(flavor = "multi_thread")]
async fn metrics_status_page_and_admin_api() {
    let (ukg, _) = ukg_sim(12, 61, "face.example", "pw", "KEY01").await;
    let scim = ScimServer::start(&["face", "locked"], "tok").await;
    let conf = |id: &str, password: &str| TenantConf {
        id: id.into(),
        ukg_base: ukg.base_url(),
        scim_base: scim.base_url(id),
        page_size: 50,
        ukg_password: password.into(),
        ukg_api_key: "KEY01".into(),
        scim_token: "tok".into(),
    };
    let setup = Setup::new(&[&conf("face", "pw"), &conf("locked", "wrong")]);
    setup.edit(|t| {
        t.replacen(
            "[service]\n",
            "[service]\nadmin_token_env = \"HRSYNC_ADMIN_TOKEN\"\n",
            1,
        )
    });
    let service = Service::start(&setup, &[("HRSYNC_ADMIN_TOKEN", ADMIN)]);
    service
        .wait_status(|v| outcome(v, "face").is_some() && outcome(v, "locked").is_some())
        .await;

    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://127.0.0.1:{}{path}", service.listen);
    let metrics = client.get(url("/metrics")).send().await.unwrap();
    assert!(metrics.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let metrics = metrics.text().await.unwrap();
    for line in [
        "hrsync_runs_total{tenant=\"face\",outcome=\"ok\"} 1",
        "hrsync_runs_total{tenant=\"locked\",outcome=\"failed\"} 1",
        "hrsync_quarantined{tenant=\"locked\"} 1",
        "hrsync_quarantined{tenant=\"face\"} 0",
        "hrsync_api_requests_total{tenant=\"locked\",upstream=\"ukg\",status=\"4xx\"} 1",
        "hrsync_run_duration_seconds_count{tenant=\"face\"} 1",
        "# TYPE hrsync_run_duration_seconds histogram",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in\n{metrics}");
    }
    let created = metrics
        .lines()
        .find(|l| l.starts_with("hrsync_records_total{tenant=\"face\",outcome=\"created\"}"))
        .unwrap();
    assert!(!created.ends_with(" 0"), "{created}");

    // The page shows run errors to a reader with the admin token only.
    let page = client
        .get(url("/"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<td>face</td>") && page.contains("quarantined") && page.contains("rejected the credentials"),
        "{page}"
    );

    // Admin API: no token, a wrong one, then the right one.
    let sync = |token: Option<&str>| {
        let mut r = client.post(url("/tenants/face/sync"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_eq!(sync(None).await.unwrap().status(), 401);
    assert_eq!(sync(Some("CANARY-admin-token-5f3")).await.unwrap().status(), 401);
    assert_eq!(sync(Some(ADMIN)).await.unwrap().status(), 202);
    service
        .wait_status(|v| v["tenants"]["face"]["last_run"]["run_id"] == 2)
        .await;
    let unknown = client
        .post(url("/tenants/nope/sync"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let nothing = client
        .post(url("/tenants/face/approve"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({"run": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(nothing.status(), 409);
    assert!(nothing.text().await.unwrap().contains("nothing is held"));
    let too_big = reqwest::Client::new()
        .post(url("/tenants/face/approve"))
        .bearer_auth(ADMIN)
        .body(vec![b' '; 64 * 1024])
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    // (Its own client: the server closes that connection without reading the body.)
    assert_eq!(too_big.status(), 413, "bodies are capped");

    // No secret, no upstream host in anything the face answers.
    let status = client
        .get(url("/status"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(status.contains("rejected the credentials"), "{status}");
    let host = ukg.base_url().replace("http://", "");
    for text in [&metrics, &page, &status] {
        assert!(
            !text.contains(ADMIN) && !text.contains("KEY01") && !text.contains(&host),
            "leak in {text}"
        );
    }
    // `hrsync status`: from the running service, then from the store once it stopped.
    let config = setup.config.to_str().unwrap().to_string();
    let status_cmd = || async {
        let out = setup
            .command(&["status", "--config", &config])
            .env("HRSYNC_ADMIN_TOKEN", ADMIN)
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let live = status_cmd().await;
    assert!(live.contains("(from the running service)"), "{live}");
    let row = live
        .lines()
        .find(|l| l.starts_with("locked "))
        .unwrap_or_else(|| panic!("{live}"));
    assert!(row.contains("quarantined"), "{live}");
    assert!(live.contains("locked: UKG Pro rejected the credentials"), "{live}");
    let (code, _) = service.terminate().await;
    assert_eq!(code, Some(0));
    let stored = status_cmd().await;
    assert!(
        stored.contains("(from the store (the service is not running))"),
        "{stored}"
    );
    let row = stored
        .lines()
        .find(|l| l.starts_with("face "))
        .unwrap_or_else(|| panic!("{stored}"));
    assert!(
        row.contains(" ok ") && row.contains(" 2 "),
        "the last run is run 2: {stored}"
    );
}
