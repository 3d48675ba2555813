//! `hrsync demo`: a real sync with no account and no network. Starts the UKG Pro simulator
//! (sample roster with a manager hierarchy) and a small SCIM app on loopback, syncs, makes a
//! hire, a manager change and a termination in "UKG", syncs again, then once more with no
//! change, and prints what happened at each step. Beside it a second tenant writes the same
//! roster as a user file (the file writer, Betterworks' CSV columns) into a temporary folder;
//! the demo prints the file's path and first lines.

use anyhow::Context;
use chrono::Utc;
use hrsync_actors::delivery;
use hrsync_actors::model::RunSummary;
use hrsync_actors::spec::{FileSpec, TargetSpec, TenantSpec};
use hrsync_actors::store::Store;
use hrsync_actors::upstream::RetryPolicy;
use hrsync_actors::user_file::{self, FileFormat};
use hrsync_sim::{sample_roster, ScimSim, UkgSim, UkgSimConfig};
use serde_json::Value;

use crate::service::{print_summary, sync_once};

/// Runs the demo with `employees` sample employees.
pub async fn run(employees: usize) -> anyhow::Result<()> {
    let (user, password, api_key, token) = ("svc-demo", "demo-password", "DEMO1", "demo-token");
    let data = sample_roster(employees.max(10), 7, "demo.example");
    let ukg = UkgSim::start(UkgSimConfig::new(user, password, api_key, data))
        .await
        .context("cannot start the UKG simulator")?;
    let app = ScimSim::start(token).await.context("cannot start the SCIM app")?;
    println!("hrsync demo");
    println!(
        "  UKG Pro simulator: {} ({} employees)",
        ukg.base_url(),
        ukg.employees().len()
    );
    println!("  SCIM app:          {}", app.base_url());
    let mut tenant = TenantSpec::local(
        "demo",
        ukg.base_url(),
        (user, password, api_key),
        app.base_url(),
        token,
        50,
    );
    tenant.ukg.requests_per_second = 50;
    if let Some(scim) = tenant.target.scim_mut() {
        scim.requests_per_second = 200;
    }
    let store = Store::temporary().context("cannot create a temporary state database")?;
    let sync = || sync_once(store.clone(), tenant.clone(), None, RetryPolicy::default());
    // The same roster, written as a user file for an app without SCIM.
    let folder = std::env::temp_dir().join(format!("hrsync-demo-{}", std::process::id()));
    let mut file_tenant = tenant.clone();
    file_tenant.id = "demo-file".into();
    file_tenant.target = TargetSpec::File(FileSpec {
        format: FileFormat::Csv,
        columns: user_file::default_columns(),
        date_format: user_file::DEFAULT_DATE_FORMAT.into(),
        directory: Some(folder.clone()),
        keep: 30,
        sftp: None,
    });
    let sync_file = || sync_once(store.clone(), file_tenant.clone(), None, RetryPolicy::default());

    println!("\n1. First sync: the app is empty, everyone in UKG is created (terminated people are not).");
    let first = sync().await?;
    report(&first, &app);
    sync_file().await?;

    println!("\n2. Changes in UKG:");
    let people = ukg.employees();
    let active: Vec<_> = people.iter().filter(|e| e.status != "T").collect();
    let managers: Vec<&str> = active.iter().filter_map(|e| e.supervisor_id.as_deref()).collect();
    let manager = active
        .iter()
        .find(|e| managers.contains(&e.employee_id.as_str()))
        .context("the sample roster has no manager")?;
    let mut hire = (*manager).clone();
    hire.employee_id = "DEMO0HIRE1".into();
    hire.employee_number = "000099999".into();
    hire.person_id = "demo-person-hire-1".into();
    hire.first_name = "Ada".into();
    hire.preferred_name = None;
    hire.last_name = "Lovelace".into();
    hire.email = Some("ada.lovelace@demo.example".into());
    hire.job_title = Some("Analyst".into());
    hire.supervisor_id = Some(manager.employee_id.clone());
    hire.supervisor_company_id = Some(manager.company_id.clone());
    ukg.hire(hire);
    println!(
        "   - hired Ada Lovelace (DEMO0HIRE1), reporting to {} {}",
        manager.first_name, manager.last_name
    );
    let mover = active
        .iter()
        .find(|e| {
            e.supervisor_id.is_some()
                && e.supervisor_id.as_deref() != Some(manager.employee_id.as_str())
                && e.employee_id != manager.employee_id
        })
        .context("the sample roster has nobody to move")?;
    ukg.update(&mover.employee_id, |e| {
        e.supervisor_id = Some(manager.employee_id.clone())
    });
    println!(
        "   - {} {} ({}) now reports to {} {}",
        mover.first_name, mover.last_name, mover.employee_id, manager.first_name, manager.last_name
    );
    let leaver = active
        .iter()
        .find(|e| !managers.contains(&e.employee_id.as_str()) && e.employee_id != mover.employee_id)
        .context("the sample roster has nobody to terminate")?;
    ukg.terminate(&leaver.employee_id, Utc::now().date_naive());
    println!(
        "   - terminated {} {} ({})",
        leaver.first_name, leaver.last_name, leaver.employee_id
    );

    println!("\n3. Second sync: only the three changes are written.");
    let second = sync().await?;
    report(&second, &app);
    let users = app.users();
    let by_ext = |id: &str| users.iter().find(|u| u["externalId"] == id).cloned();
    let manager_name = |u: &Value| {
        let id = u[hrsync_actors::scim::ENTERPRISE_SCHEMA]["manager"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        users
            .iter()
            .find(|m| m["id"] == id.as_str())
            .map_or("(none)".to_string(), |m| {
                m["displayName"].as_str().unwrap_or_default().to_string()
            })
    };
    if let Some(u) = by_ext("DEMO0HIRE1") {
        println!(
            "   app: {} active={} manager={}",
            u["userName"].as_str().unwrap_or_default(),
            u["active"],
            manager_name(&u)
        );
    }
    if let Some(u) = by_ext(&mover.employee_id) {
        println!(
            "   app: {} manager={}",
            u["userName"].as_str().unwrap_or_default(),
            manager_name(&u)
        );
    }
    if let Some(u) = by_ext(&leaver.employee_id) {
        println!(
            "   app: {} active={}",
            u["userName"].as_str().unwrap_or_default(),
            u["active"]
        );
    }

    let file_run = sync_file().await?;

    println!("\n4. Third sync: nothing changed in UKG, nothing is written.");
    let writes_before = app.write_count();
    let third = sync().await?;
    report(&third, &app);
    println!("   SCIM writes during this sync: {}", app.write_count() - writes_before);

    println!("\n5. The file writer, for apps that take users as a file (e.g. Betterworks' user CSV):");
    println!("   a second tenant wrote the same roster after the changes, one row per employee:");
    let path = folder.join(delivery::run_file_name(
        "demo-file",
        file_run.started_at,
        file_run.run_id,
        FileFormat::Csv,
    ));
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    println!("   {}", path.display());
    let first: Vec<&str> = text.lines().take(6).collect();
    for line in &first {
        println!("   | {line}");
    }
    let leaver_email = format!("{},", leaver.email.as_deref().unwrap_or_default().to_lowercase());
    if let Some(row) = text.lines().find(|l| l.starts_with(&leaver_email)) {
        if !first.contains(&row) {
            println!("   | …");
            println!("   | {row}");
        }
        println!(
            "   ({} {}'s row carries a deactivation_date; beside the file, a -latest copy)",
            leaver.first_name, leaver.last_name
        );
    }

    ukg.shutdown().await;
    app.shutdown().await;
    println!(
        "\nDone. Point hrsync at your own tenant with `hrsync run --config FILE` (see config/hrsync.example.toml)."
    );
    Ok(())
}

fn report(s: &RunSummary, app: &ScimSim) {
    print_summary(s);
    let users = app.users();
    let active = users.iter().filter(|u| u["active"] == true).count();
    println!("   the app holds {} users ({} active)", users.len(), active);
}
