//! `hrsync status`: every tenant's state as a table, from the running service's `/status`
//! or, when the service is not running, from the store.
//!
//! The service shows failure reasons and errors only to a request carrying the admin token:
//! [`fetch`] sends it when `service.admin_token_*` is set, and [`render`] says when the
//! details were hidden. Every reason printed is cleaned first (no control characters or
//! escape sequences reach the terminal).

use anyhow::{bail, Context};
use hrsync_actors::sanitize;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::config::Settings;

/// `GET /status` of the running service, with the admin token when one is configured.
pub async fn fetch(settings: &Settings) -> anyhow::Result<Value> {
    let url = format!("http://{}/status", settings.service.listen);
    let mut request = reqwest::Client::new()
        .get(url)
        .timeout(std::time::Duration::from_secs(10));
    if let Some(token) = &settings.service.admin_token {
        request = request.bearer_auth(token.expose_secret());
    }
    let response = request.send().await?;
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() {
        bail!("the service answered {status}");
    }
    serde_json::from_str(&body).context("the service answered unreadable JSON")
}

/// The `/status` shape built from the store (last run, held deactivations, quarantine).
pub fn from_store(settings: &Settings) -> anyhow::Result<Value> {
    let store = crate::service::open_store(&settings.service.data_dir)?;
    let mut tenants = serde_json::Map::new();
    for t in &settings.tenants {
        let tenant = store.tenant(&t.id).context("cannot read the store")?;
        let last = tenant
            .runs(1)
            .context("cannot read the run history")?
            .into_iter()
            .next();
        let review = tenant.review()?.filter(|r| !r.approved).map(|r| r.summary);
        let health = tenant.health()?.unwrap_or_default();
        let held = tenant.held()?;
        let state = match (&last, &held) {
            _ if review.is_some() => "awaiting review",
            _ if health.quarantine.is_some() => "quarantined",
            (_, Some(_)) => "held",
            (None, None) => "idle",
            (Some(r), None) => match r.outcome {
                hrsync_actors::model::Outcome::Ok => "ok",
                hrsync_actors::model::Outcome::CompletedWithFailures => "degraded",
                // Its deactivations were released or dropped since (`hrsync approve`).
                hrsync_actors::model::Outcome::Held => "ok",
                hrsync_actors::model::Outcome::AwaitingReview => "awaiting review",
                hrsync_actors::model::Outcome::Failed => "failed",
            },
        };
        let next_run_at = health.quarantine.as_ref().and_then(|q| q.until);
        tenants.insert(
            t.id.clone(),
            json!({
                "state": state,
                "last_run": last,
                "next_run_at": next_run_at,
                "review": review,
                "deactivations_held": held.as_ref().map_or(0, |h| h.deactivations.len()),
                "held_run": held.as_ref().map(|h| h.run_id),
                "consecutive_failures": health.consecutive_failures,
                "quarantine": health.quarantine,
            }),
        );
    }
    for t in &settings.misconfigured {
        let state = json!({ "state": "misconfigured", "last_run": null, "next_run_at": null, "config_error": t.error });
        tenants.insert(t.id.clone(), state);
    }
    Ok(json!({ "tenants": tenants }))
}

/// A table for a person.
pub fn render(status: &Value) -> String {
    let mut rows = vec![[
        "TENANT".to_string(),
        "STATE".into(),
        "LAST RUN".into(),
        "FINISHED".into(),
        "CREATED".into(),
        "UPDATED".into(),
        "DEACTIVATED".into(),
        "FAILED".into(),
        "HELD".into(),
        "NEXT RUN".into(),
    ]];
    let empty = serde_json::Map::new();
    for (id, t) in status["tenants"].as_object().unwrap_or(&empty) {
        let run = &t["last_run"];
        let c = &run["counts"];
        let n = |k: &str| c[k].as_u64().unwrap_or(0);
        let has_run = !run.is_null();
        let cell = |v: String| if has_run { v } else { "-".to_string() };
        rows.push([
            sanitize::reason(id),
            t["state"].as_str().unwrap_or("?").to_string(),
            cell(run["run_id"].to_string()),
            cell(run["finished_at"].as_str().map(short_time).unwrap_or_default()),
            cell((n("created") + n("adopted")).to_string()),
            cell((n("updated") + n("reactivated")).to_string()),
            cell(n("deactivated").to_string()),
            cell(n("failed").to_string()),
            t["deactivations_held"].as_u64().unwrap_or(0).to_string(),
            t["next_run_at"].as_str().map(short_time).unwrap_or_else(|| "-".into()),
        ]);
    }
    let widths: Vec<usize> = (0..10)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    let hidden = status["details"] == false;
    for (id, t) in status["tenants"].as_object().unwrap_or(&empty) {
        if let (Some(e), false) = (t["last_run"]["error"].as_str(), hidden) {
            out.push_str(&format!("{}: {}\n", sanitize::reason(id), sanitize::reason(e)));
        }
        if let Some(e) = t["config_error"].as_str() {
            out.push_str(&format!(
                "{}: misconfigured, not syncing: {}\n",
                sanitize::reason(id),
                sanitize::reason(e)
            ));
        }
        if let Some(q) = t["quarantine"]["reason"].as_str() {
            out.push_str(&format!(
                "{}: quarantined: {}\n",
                sanitize::reason(id),
                sanitize::reason(q)
            ));
        }
        let held = t["deactivations_held"].as_u64().unwrap_or(0);
        if held > 0 {
            let run = &t["held_run"];
            out.push_str(&format!(
                "{id}: {held} deactivation(s) held: hrsync approve --config FILE --tenant {id} --run {run} (or --reject)\n"
            ));
        }
    }
    if hidden {
        out.push_str(
            "(errors and failure reasons hidden: the service shows them only with the admin token; set service.admin_token_env and its variable)\n",
        );
    }
    out
}

/// `2026-11-29T03:19:00.123Z` → `2026-11-29 03:19`.
fn short_time(t: &str) -> String {
    t.get(..16).unwrap_or(t).replace('T', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_aligned_rows_and_errors() {
        let status = json!({"tenants": {
            "acme": {"state": "ok", "next_run_at": "2026-11-30T03:19:00Z", "last_run": {"run_id": 4, "finished_at": "2026-11-29T03:19:00Z", "counts": {"created": 2, "adopted": 1, "updated": 5, "reactivated": 0, "deactivated": 1, "failed": 0}, "error": null}},
            "beta": {"state": "idle", "next_run_at": null, "last_run": null},
            "gamma": {"state": "failed", "next_run_at": null, "last_run": {"run_id": 1, "finished_at": "2026-11-29T03:00:00Z", "counts": {}, "error": "UKG Pro API unreachable: timed out"}}
        }});
        let table = render(&status);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("TENANT  STATE"), "{table}");
        assert!(
            lines[1].starts_with("acme    ok      4") && lines[1].contains("2026-11-29 03:19  3"),
            "{table}"
        );
        assert!(lines[2].starts_with("beta    idle    -"), "{table}");
        assert!(table.contains("gamma: UKG Pro API unreachable: timed out"), "{table}");
        assert!(!table.contains("hidden"), "{table}");
    }

    #[test]
    fn says_when_details_are_hidden_and_cleans_what_it_prints() {
        let mut status = json!({"details": false, "tenants": {
            "gamma": {"state": "failed", "next_run_at": null, "last_run": {"run_id": 1, "finished_at": "2026-11-29T03:00:00Z", "counts": {}, "error": "(hidden: send the admin token to see details)"}}
        }});
        let table = render(&status);
        assert!(
            table.contains("hidden: the service shows them only with the admin token"),
            "{table}"
        );
        assert!(!table.contains("gamma: "), "{table}");
        status["details"] = json!(true);
        status["tenants"]["gamma"]["last_run"]["error"] = json!("bad \u{1b}[2Jthing\u{0}");
        let table = render(&status);
        assert!(table.contains("gamma: bad thing\n"), "{table}");
    }

    #[test]
    fn a_misconfigured_tenant_shows_its_state_and_error() {
        let status = json!({"tenants": {
            "acme": {"state": "ok", "next_run_at": null, "last_run": null},
            "globex": {"state": "misconfigured", "next_run_at": null, "last_run": null, "config_error": "hrsync.toml: tenant globex: ukg.password_env: environment variable GLOBEX_UKG_PASSWORD is not set (or empty)"}
        }});
        let table = render(&status);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[2].starts_with("globex  misconfigured  -"), "{table}");
        assert!(
            table.contains("globex: misconfigured, not syncing: hrsync.toml: tenant globex: ukg.password_env: environment variable GLOBEX_UKG_PASSWORD"),
            "{table}"
        );
    }

    #[test]
    fn a_held_tenant_shows_the_count_and_the_approve_command() {
        let status = json!({"tenants": {
            "storm": {"state": "held", "next_run_at": null, "deactivations_held": 80, "held_run": 2, "last_run": {"run_id": 2, "finished_at": "2026-11-29T03:19:00Z", "counts": {"held": 80}, "error": null}}
        }});
        let table = render(&status);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].contains("FAILED  HELD  NEXT RUN"), "{table}");
        assert!(
            lines[1].starts_with("storm   held   2") && lines[1].contains(" 80 "),
            "{table}"
        );
        assert!(
            table.contains(
                "storm: 80 deactivation(s) held: hrsync approve --config FILE --tenant storm --run 2 (or --reject)"
            ),
            "{table}"
        );
    }
}
