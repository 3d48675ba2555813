//! `hrsync plan`: the full diff of the next run — creates, updates field by field, manager
//! links, reactivations, deactivations (terminated or absent), records set aside, and
//! whether the brake or the roster guard would stop the run — read from UKG and the store,
//! with nothing written anywhere.

use chrono::Utc;
use serde::Serialize;
use serde_json::Value;

use crate::brake::{deactivation_brake, roster_guard};
use crate::error::{StoreError, UkgError};
use crate::fetcher::{read_employment, read_reference_data};
use crate::mapper::{plan_employees, Emails};
use crate::model::{Action, RecordFailure};
use crate::spec::TenantSpec;
use crate::store::ProgressStore;
use crate::ukg::UkgClient;

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Ukg(#[from] UkgError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Scim(#[from] crate::error::ScimError),
}

/// One attribute that would change.
#[derive(Debug, Clone, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub from: Value,
    pub to: Value,
}

/// One employee's planned change.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub employee_id: String,
    pub user_name: String,
    /// For updates and reactivations: what changes (empty when the applied attributes are
    /// not known, e.g. state written before they were recorded).
    pub changes: Vec<FieldChange>,
}

/// A planned deactivation.
#[derive(Debug, Clone, Serialize)]
pub struct Deactivation {
    pub employee_id: String,
    pub reason: String,
}

/// The next run, as it would go.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub tenant: String,
    /// Employees read from UKG.
    pub read: u64,
    pub creates: Vec<Change>,
    pub updates: Vec<Change>,
    pub reactivations: Vec<Change>,
    pub manager_links: Vec<Change>,
    pub deactivations: Vec<Deactivation>,
    pub set_aside: Vec<RecordFailure>,
    /// Employees out of the tenant's scope, with the rule that excluded each.
    pub out_of_scope: Vec<RecordFailure>,
    pub unchanged: u64,
    /// Why the run would hold its deactivations (None: they would be applied).
    pub brake: Option<String>,
    /// Why the run would fail on its roster read (None: the read looks complete).
    pub roster_guard: Option<String>,
}

/// Plans the next run of `tenant` without writing anything.
pub async fn plan(tenant: &TenantSpec, store: &dyn ProgressStore, ukg: &UkgClient) -> Result<PlanReport, PlanError> {
    Ok(plan_with_items(tenant, store, ukg).await?.0)
}

/// [`plan`], with the planned changes themselves (for first-run review).
pub async fn plan_with_items(
    tenant: &TenantSpec,
    store: &dyn ProgressStore,
    ukg: &UkgClient,
) -> Result<(PlanReport, Vec<crate::model::PlanItem>), PlanError> {
    let (people, lookups) = read_reference_data(ukg).await?;
    let joined = read_employment(ukg, &people, &lookups, tenant.ukg.department_org_level).await?;
    let (employees, failures) = (joined.employees, joined.failures);
    let today = Utc::now().with_timezone(&tenant.timezone).date_naive();
    let mut planned = plan_employees(
        &employees,
        failures,
        store,
        today,
        &tenant.mapping,
        &tenant.scope,
        &mut Emails::default(),
    )?;

    // Rows set aside while reading are in UKG all the same: never absent.
    planned.seen.extend(joined.present);
    let mut report = PlanReport {
        tenant: tenant.id.clone(),
        read: planned.read,
        creates: Vec::new(),
        updates: Vec::new(),
        reactivations: Vec::new(),
        manager_links: Vec::new(),
        deactivations: Vec::new(),
        set_aside: planned.failures,
        out_of_scope: planned.excluded,
        unchanged: planned.unchanged,
        brake: None,
        roster_guard: roster_guard(planned.read, store.last_roster_size()?, &tenant.brake),
    };
    let items = planned.items.clone();
    for item in planned.items {
        let change = Change {
            employee_id: item.user.external_id.clone(),
            user_name: item.user.user_name.clone(),
            changes: item
                .prior
                .as_ref()
                .and_then(|p| p.user.as_ref())
                .map(|before| field_changes(before, &item.user))
                .unwrap_or_default(),
        };
        match item.action {
            Action::Create => report.creates.push(change),
            Action::Update { .. } => report.updates.push(change),
            Action::Reactivate { .. } => report.reactivations.push(change),
            Action::LinkManager { .. } => report.manager_links.push(change),
            Action::Deactivate { reason, .. } => report.deactivations.push(Deactivation {
                employee_id: item.user.external_id,
                reason,
            }),
        }
    }
    let seen: std::collections::HashSet<&String> = planned.seen.iter().collect();
    let active_ids = store.active_employees()?;
    for id in &active_ids {
        if !seen.contains(id) {
            report.deactivations.push(Deactivation {
                employee_id: id.clone(),
                reason: "absent from the UKG roster".into(),
            });
        }
    }
    report.deactivations.sort_by(|a, b| a.employee_id.cmp(&b.employee_id));
    let active = active_ids.len() as u64;
    report.brake = deactivation_brake(report.deactivations.len() as u64, active, &tenant.brake);
    Ok((report, items))
}

/// The attributes that differ between what was applied and what would be.
fn field_changes(before: &crate::model::AppUser, after: &crate::model::AppUser) -> Vec<FieldChange> {
    let (Ok(Value::Object(b)), Ok(Value::Object(a))) = (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return Vec::new();
    };
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, v)| FieldChange {
            field: k.clone(),
            from: b.get(k).cloned().unwrap_or(Value::Null),
            to: v.clone(),
        })
        .collect()
}

impl PlanReport {
    /// The plan for a person to read.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "plan for tenant {}: {} employees read; {} create, {} update, {} reactivate, {} manager link, {} deactivate, {} set aside, {} out of scope, {} unchanged",
            self.tenant,
            self.read,
            self.creates.len(),
            self.updates.len(),
            self.reactivations.len(),
            self.manager_links.len(),
            self.deactivations.len(),
            self.set_aside.len(),
            self.out_of_scope.len(),
            self.unchanged
        );
        for c in &self.creates {
            let _ = writeln!(out, "  create      {} {}", c.employee_id, c.user_name);
        }
        for (verb, list) in [
            ("update", &self.updates),
            ("reactivate", &self.reactivations),
            ("link", &self.manager_links),
        ] {
            for c in list {
                let _ = writeln!(out, "  {verb:<11} {} {}", c.employee_id, c.user_name);
                for f in &c.changes {
                    let _ = writeln!(out, "      {}: {} → {}", f.field, f.from, f.to);
                }
            }
        }
        for d in &self.deactivations {
            let _ = writeln!(out, "  deactivate  {} ({})", d.employee_id, d.reason);
        }
        for f in &self.set_aside {
            let _ = writeln!(out, "  set aside   {}: {}", f.employee_id, f.reason);
        }
        for f in &self.out_of_scope {
            let _ = writeln!(out, "  out of scope {} ({})", f.employee_id, f.reason);
        }
        if let Some(b) = &self.brake {
            let _ = writeln!(
                out,
                "the deactivation brake would trip: {b}; the run would hold its deactivations for approval"
            );
        }
        if let Some(g) = &self.roster_guard {
            let _ = writeln!(out, "the run would fail: {g}");
        }
        let _ = writeln!(
            out,
            "nothing was written (creates look the user up in the app first and adopt an existing one)"
        );
        out
    }
}
