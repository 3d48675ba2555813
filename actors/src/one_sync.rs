//! One person, now: syncs a single employee end to end — read from UKG, mapped, validated,
//! planned and written exactly as a run would — plus the managers above them that are not
//! in the app yet, so the manager link can be made at once.
//!
//! Used by `hrsync sync --employee` (in-process when the service is not running), by the
//! tenant supervisor for `TenantMsg::SyncEmployee` (the admin API), and by the change feed
//! for each changed employee. It is a library, not an actor: the tenant supervisor calls it
//! from its own handler, so it never runs beside a full run of the same tenant.
//!
//! Reads from UKG, per person: `employee-demographic-details?employeeId=X` (names, email,
//! and the company), `companies/{companyId}/employees/{employeeId}/employment-details`
//! (the employment row), and the supervisor's demographics (whether the manager is in the
//! roster, as `ukg::join` decides in a run); plus the org-levels and jobs lookups once.
//!
//! Invariants: the same mapping, plan and writer code as a run ([`plan_employees`],
//! [`apply_one`]), so the stored state — content hash, manager, app id — is what a run would
//! store and the next full run sees no change; state is stored only after the app confirmed
//! the write; the brake aside, a leaver is deactivated at once. An employee UKG does not
//! know is an error that writes nothing. The manager walk is bounded
//! ([`MAX_MANAGER_CHAIN`]) and stops at the first manager already in the app, or seen
//! before (a cycle in UKG's supervisors).

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use serde::Serialize;
use tracing::{info, warn};

use crate::error::{ScimError, StoreError, UkgError};
use crate::fetcher::read_lookups;
use crate::mapper::{plan_employees, Emails};
use crate::model::{Action, Employee};
use crate::scim::ScimClient;
use crate::spec::TenantSpec;
use crate::store::ProgressStore;
use crate::ukg::{self, DemographicRow, EmploymentRow, Lookups, UkgClient};
use crate::writer::{apply_one, link_one, WriteError};

/// Managers synced ahead of the employee, at most (a longer chain of managers missing from
/// the app is left to the next full run).
pub const MAX_MANAGER_CHAIN: usize = 20;

/// What a one-person sync needs: the tenant and its clients (built on the tenant's own
/// rate limiters) and store.
pub struct SyncCtx<'a> {
    pub spec: &'a TenantSpec,
    pub store: &'a dyn ProgressStore,
    pub ukg: &'a UkgClient,
    pub scim: &'a ScimClient,
}

/// Why a one-person sync did not happen (or stopped).
#[derive(Debug, thiserror::Error)]
pub enum OneSyncError {
    /// Not something UKG could hold as an employee id (and never sent anywhere).
    #[error("{0:?} is not a UKG employee id: expected 1 to 64 letters, digits, '-', '_' or '.'")]
    BadId(String),
    /// UKG does not know this employee: nothing was written.
    #[error("{}", not_in_ukg(.tenant, .employee_id, *.known))]
    NotInUkg {
        tenant: String,
        employee_id: String,
        /// hrsync synced this employee before.
        known: bool,
    },
    /// UKG knows the person but returned no employment-details for them.
    #[error("UKG has demographics for employee {employee_id} in company {company_id} but no employment-details (404 on {path}); check the employee in UKG; nothing was written")]
    NoEmployment {
        employee_id: String,
        company_id: String,
        path: String,
    },
    /// A full run of the tenant is in progress (a one-person write could race its creates).
    #[error("tenant {tenant}: a full run (run {run}) is in progress; try again when it has finished (it applies everyone anyway)")]
    RunInProgress { tenant: String, run: u64 },
    /// The tenant's supervisor is not running (restarting, or unknown to this process).
    #[error("tenant {0} is not running in this process")]
    TenantDown(String),
    /// The tenant writes a user file, which is written whole by each full run.
    #[error("tenant {0} writes a user file ([tenants.file]): one-person sync applies to SCIM targets; run `hrsync sync --tenant {0}` to write a new file")]
    NotScim(String),
    #[error(transparent)]
    Ukg(#[from] UkgError),
    #[error(transparent)]
    Scim(#[from] ScimError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn not_in_ukg(tenant: &str, employee_id: &str, known: bool) -> String {
    let mut s =
        format!("employee {employee_id} is not in UKG (tenant {tenant}): check the employee id; nothing was written");
    if known {
        s.push_str(". hrsync synced this employee before: the next full run deactivates them if they are still absent");
    }
    s
}

/// What a one-person sync did: one step per person, managers first.
#[derive(Debug, Clone, Serialize)]
pub struct OneSyncReport {
    pub tenant: String,
    /// The employee asked for (the last step).
    pub employee_id: String,
    pub steps: Vec<Step>,
}

/// What happened to one person.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub employee_id: String,
    /// Set when this person was synced first as the (missing) manager of that employee.
    pub manager_of: Option<String>,
    pub user_name: Option<String>,
    /// The app's id of the user, when there is one.
    pub app_id: Option<String>,
    pub outcome: StepOutcome,
    /// What happened to the manager link.
    pub manager: Option<ManagerNote>,
    /// Other things a person should know (e.g. the supervisor is not in the roster).
    pub notes: Vec<String>,
}

/// What was written for one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum StepOutcome {
    Created,
    /// An existing app user (same externalId, or same userName and no other externalId).
    Adopted,
    Updated,
    Reactivated,
    Deactivated,
    /// Attributes unchanged; only the manager link was to change (see `Step::manager`).
    ManagerLinked,
    /// The app already matches UKG.
    Unchanged,
    /// Not active in UKG and never synced: nothing to create.
    InactiveNeverSynced,
    /// Set aside (or refused by the app), with the reason: nothing written for this person.
    NotSynced {
        reason: String,
    },
}

/// The manager link after the sync, when it changed or could not be made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ManagerNote {
    Linked {
        employee_id: String,
        user_name: Option<String>,
    },
    Removed {
        was: String,
    },
    Skipped {
        employee_id: String,
        reason: String,
    },
}

impl OneSyncReport {
    /// Whether the employee asked for is in step with UKG (a skipped manager link aside).
    pub fn is_ok(&self) -> bool {
        self.steps
            .last()
            .is_some_and(|s| !matches!(s.outcome, StepOutcome::NotSynced { .. }))
    }

    /// What was done, one line per person, managers first, for a person to read.
    pub fn lines(&self) -> Vec<String> {
        self.steps.iter().map(|s| s.line(&self.tenant)).collect()
    }

    /// People something was written to the app for (their user, or their manager link).
    pub fn writes(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| {
                let wrote = matches!(
                    s.outcome,
                    StepOutcome::Created
                        | StepOutcome::Adopted
                        | StepOutcome::Updated
                        | StepOutcome::Reactivated
                        | StepOutcome::Deactivated
                );
                wrote
                    || matches!(
                        s.manager,
                        Some(ManagerNote::Linked { .. } | ManagerNote::Removed { .. })
                    )
            })
            .count()
    }
}

impl Step {
    fn line(&self, tenant: &str) -> String {
        let who = match &self.manager_of {
            Some(report) => format!(
                "tenant {tenant} employee {} (manager of {report}, not in the app yet)",
                self.employee_id
            ),
            None => format!("tenant {tenant} employee {}", self.employee_id),
        };
        let user = self.user_name.as_deref().unwrap_or("(no userName)");
        let app = self.app_id.as_deref().unwrap_or("?");
        let mut line = match &self.outcome {
            StepOutcome::Created => format!("{who}: created user {user} (app id {app})"),
            StepOutcome::Adopted => format!("{who}: adopted existing user {user} (app id {app})"),
            StepOutcome::Updated => format!("{who}: updated user {user} (app id {app})"),
            StepOutcome::Reactivated => format!("{who}: reactivated user {user} (app id {app})"),
            StepOutcome::Deactivated => {
                format!("{who}: deactivated user {user} (app id {app}): not active in UKG")
            }
            StepOutcome::ManagerLinked => format!("{who}: user {user} (app id {app})"),
            StepOutcome::Unchanged => format!("{who}: unchanged: user {user} (app id {app}) already matches UKG"),
            StepOutcome::InactiveNeverSynced => {
                format!("{who}: not active in UKG and never synced: nothing to do")
            }
            StepOutcome::NotSynced { reason } => format!("{who}: not synced: {reason}"),
        };
        match &self.manager {
            Some(ManagerNote::Linked { employee_id, user_name }) => line.push_str(&format!(
                "; linked manager {employee_id} ({})",
                user_name.as_deref().unwrap_or("?")
            )),
            Some(ManagerNote::Removed { was }) => line.push_str(&format!("; removed the manager link (was {was})")),
            Some(ManagerNote::Skipped { employee_id, reason }) => {
                line.push_str(&format!("; manager {employee_id} not linked: {reason}"))
            }
            None => {}
        }
        for n in &self.notes {
            line.push_str(&format!("; note: {n}"));
        }
        line
    }
}

/// Whether `id` can be a UKG employee id (it is put in a URL path and query).
pub fn check_employee_id(id: &str) -> Result<(), OneSyncError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(OneSyncError::BadId(id.chars().take(80).collect()))
    }
}

/// Syncs one employee (and the managers above them missing from the app) now.
pub async fn sync_employee(ctx: &SyncCtx<'_>, employee_id: &str) -> Result<OneSyncReport, OneSyncError> {
    check_employee_id(employee_id)?;
    let lookups = read_lookups(ctx.ukg).await?;
    sync_employee_with(ctx, employee_id, None, &lookups).await
}

/// Same, with the lookups already read (the change feed reads them once per window) and
/// optionally the company the employee is known to be in.
pub async fn sync_employee_with(
    ctx: &SyncCtx<'_>,
    employee_id: &str,
    company_id: Option<&str>,
    lookups: &Lookups,
) -> Result<OneSyncReport, OneSyncError> {
    check_employee_id(employee_id)?;
    let tenant = ctx.spec.id.clone();
    let mut reader = Reader {
        ukg: ctx.ukg,
        lookups,
        department_level: ctx.spec.ukg.department_org_level,
        demographics: HashMap::new(),
    };
    let first = match reader.employee(employee_id, company_id).await? {
        Ok(e) => e,
        Err(Missing::Person) => {
            let known = ctx.store.employee(employee_id)?.is_some();
            return Err(OneSyncError::NotInUkg {
                tenant,
                employee_id: employee_id.to_string(),
                known,
            });
        }
        Err(Missing::Employment { company_id, path }) => {
            return Err(OneSyncError::NoEmployment {
                employee_id: employee_id.to_string(),
                company_id,
                path,
            })
        }
    };
    // The managers missing from the app, nearest first.
    let mut chain = vec![first];
    let mut seen: HashSet<String> = HashSet::from([employee_id.to_string()]);
    while let Some(last) = chain.last() {
        let Some(manager) = last.supervisor_id.clone() else {
            break;
        };
        if !last.supervisor_in_roster || !seen.insert(manager.clone()) || ctx.store.employee(&manager)?.is_some() {
            break;
        }
        if chain.len() > MAX_MANAGER_CHAIN {
            warn!(tenant = %tenant, employee = %employee_id, "more than {MAX_MANAGER_CHAIN} managers missing from the app; the next full run links the rest");
            break;
        }
        let company = last.fields.get("supervisorCompanyID").cloned();
        match reader.employee(&manager, company.as_deref()).await? {
            Ok(m) => chain.push(m),
            // Linking then reports the manager as missing, as a run would.
            Err(_) => break,
        }
    }
    let mut steps = Vec::with_capacity(chain.len());
    for (i, employee) in chain.iter().enumerate().rev() {
        let manager_of = i.checked_sub(1).map(|j| chain[j].employee_id.clone());
        steps.push(apply_employee(ctx, employee, manager_of).await?);
    }
    ctx.store.flush().await?;
    let report = OneSyncReport {
        tenant,
        employee_id: employee_id.to_string(),
        steps,
    };
    for line in report.lines() {
        info!(tenant = %report.tenant, employee = %employee_id, "{line}");
    }
    Ok(report)
}

/// Why UKG returned no employee.
enum Missing {
    /// No demographics for the id: UKG does not know them.
    Person,
    /// Demographics, but no employment-details record.
    Employment { company_id: String, path: String },
}

/// Reads single employees from UKG, caching demographics by employee id.
struct Reader<'a> {
    ukg: &'a UkgClient,
    lookups: &'a Lookups,
    department_level: u8,
    demographics: HashMap<String, Vec<DemographicRow>>,
}

impl Reader<'_> {
    /// The demographics rows of one employee id (one per company it is employed in).
    async fn demographics(&mut self, employee_id: &str) -> Result<Vec<DemographicRow>, UkgError> {
        if let Some(rows) = self.demographics.get(employee_id) {
            return Ok(rows.clone());
        }
        let mut rows: Vec<DemographicRow> = self
            .ukg
            .get_list(ukg::DEMOGRAPHIC_DETAILS, &[("employeeId", employee_id.to_string())])
            .await?;
        // Should the filter be ignored, never take someone else's record.
        rows.retain(|r| r.employee_id.as_deref() == Some(employee_id));
        self.demographics.insert(employee_id.to_string(), rows.clone());
        Ok(rows)
    }

    /// One employee joined as a run joins it, or why there is none.
    async fn employee(
        &mut self,
        employee_id: &str,
        company_id: Option<&str>,
    ) -> Result<Result<Employee, Missing>, UkgError> {
        let rows = self.demographics(employee_id).await?;
        let row = rows
            .iter()
            .find(|r| company_id.is_some_and(|c| r.company_id.as_deref() == Some(c)))
            .or(rows.first());
        let Some(company) = row.and_then(|r| r.company_id.clone()) else {
            return Ok(Err(Missing::Person));
        };
        let path = ukg::employment_details_of(&company, employee_id);
        let Some(employment) = self.ukg.record::<EmploymentRow>(&path).await? else {
            return Ok(Err(Missing::Employment {
                company_id: company,
                path,
            }));
        };
        let mut known = rows.clone();
        if let Some(s) = employment.supervisor_id.as_deref().filter(|s| *s != employee_id) {
            known.extend(self.demographics(s).await?);
        }
        let people = ukg::people(known);
        // A row without its ids (which the path gave) is as good as none.
        Ok(ukg::join(employment, &people, self.lookups, self.department_level).ok_or(Missing::Person))
    }
}

/// Plans and applies one employee as a run would, then makes their manager link.
async fn apply_employee(
    ctx: &SyncCtx<'_>,
    employee: &Employee,
    manager_of: Option<String>,
) -> Result<Step, OneSyncError> {
    let id = employee.employee_id.clone();
    let store = ctx.store;
    let today = Utc::now().with_timezone(&ctx.spec.timezone).date_naive();
    let prior = store.employee(&id)?;
    let planned = plan_employees(
        std::slice::from_ref(employee),
        Vec::new(),
        store,
        today,
        &ctx.spec.mapping,
        &ctx.spec.scope,
        &mut Emails::default(),
    )?;
    let reasons: Vec<String> = planned.failures.into_iter().map(|f| f.reason).collect();
    let mut step = Step {
        employee_id: id.clone(),
        manager_of,
        user_name: prior
            .as_ref()
            .and_then(|p| p.user.as_ref())
            .map(|u| u.user_name.clone()),
        app_id: prior.as_ref().map(|p| p.app_id.clone()),
        outcome: StepOutcome::Unchanged,
        manager: None,
        notes: Vec::new(),
    };
    let Some(item) = planned.items.into_iter().next() else {
        if let Some(rule) = planned.excluded.first() {
            // Out of the tenant's scope, and not synced before (or ignored).
            step.outcome = StepOutcome::NotSynced {
                reason: format!("out of scope ({})", rule.reason),
            };
        } else if planned.unchanged == 0 {
            // Set aside by the mapper: the failures say why.
            step.outcome = StepOutcome::NotSynced {
                reason: reasons.join("; "),
            };
        } else {
            step.notes = reasons;
            if prior.is_none() {
                step.outcome = StepOutcome::InactiveNeverSynced;
            }
        }
        return Ok(step);
    };
    step.notes = reasons;
    step.user_name = Some(item.user.user_name.clone());
    let action = item.action.clone();
    match apply_one(ctx.scim, store, item).await {
        Ok(counts) => {
            step.outcome = if counts.created > 0 {
                StepOutcome::Created
            } else if counts.adopted > 0 {
                StepOutcome::Adopted
            } else if counts.reactivated > 0 {
                StepOutcome::Reactivated
            } else if counts.updated > 0 {
                StepOutcome::Updated
            } else if counts.deactivated > 0 {
                StepOutcome::Deactivated
            } else if matches!(action, Action::LinkManager { .. }) {
                // A link the app cannot take yet stays pending (made below).
                StepOutcome::ManagerLinked
            } else {
                StepOutcome::Unchanged
            };
        }
        Err(WriteError::Store(e)) => return Err(e.into()),
        Err(WriteError::Scim(e)) if e.is_fatal_for_run() => return Err(e.into()),
        Err(WriteError::Scim(e)) => {
            step.outcome = StepOutcome::NotSynced { reason: e.to_string() };
            return Ok(step);
        }
        Err(WriteError::Record(reason)) => {
            step.outcome = StepOutcome::NotSynced { reason };
            return Ok(step);
        }
    }
    // A link the writer left pending (the manager was not in the app when the user was
    // written, or would close a cycle): try it now, as a run's second pass would.
    let pending = store.pending_links()?.into_iter().find(|(e, _)| *e == id);
    if let Some((_, manager)) = pending {
        match link_one(&id, &manager, ctx.scim, store, 0).await {
            Ok(_) => {}
            Err(WriteError::Store(e)) => return Err(e.into()),
            Err(WriteError::Scim(e)) if e.is_fatal_for_run() => return Err(e.into()),
            Err(WriteError::Scim(e)) => {
                step.manager = Some(ManagerNote::Skipped {
                    employee_id: manager,
                    reason: format!("manager link failed: {e}"),
                })
            }
            Err(WriteError::Record(reason)) => {
                step.manager = Some(ManagerNote::Skipped {
                    employee_id: manager,
                    reason,
                })
            }
        }
    }
    let after = store.employee(&id)?;
    if let Some(after) = &after {
        step.app_id = Some(after.app_id.clone());
        if after.active {
            // An interrupted run may have planned this employee's deactivation: UKG now says
            // active, and that is what the app holds.
            store.remove_pending_deactivation(&id)?;
        }
    }
    if step.manager.is_none() {
        let before = prior.and_then(|p| p.manager);
        let now = after.and_then(|a| a.manager);
        step.manager = match (before, now) {
            (b, Some(m)) if b.as_deref() != Some(m.as_str()) => Some(ManagerNote::Linked {
                user_name: store.employee(&m)?.and_then(|s| s.user).map(|u| u.user_name),
                employee_id: m,
            }),
            (Some(b), None) => Some(ManagerNote::Removed { was: b }),
            _ => None,
        };
    }
    // Only the link was to change, and it did not: the user itself is unchanged.
    if step.outcome == StepOutcome::ManagerLinked && step.manager.is_none() {
        step.outcome = StepOutcome::Unchanged;
    }
    Ok(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn employee_ids_that_could_change_a_url_are_refused() {
        for ok in ["AB12C0000K1", "1001", "a-b_c.d"] {
            assert!(check_employee_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "../x", "a/b", "a?b=c", "a b", "é", &"x".repeat(65)] {
            assert!(matches!(check_employee_id(bad), Err(OneSyncError::BadId(_))), "{bad}");
        }
    }

    #[test]
    fn lines_say_what_was_done() {
        let report = OneSyncReport {
            tenant: "acme".into(),
            employee_id: "E2".into(),
            steps: vec![
                Step {
                    employee_id: "M1".into(),
                    manager_of: Some("E2".into()),
                    user_name: Some("bob@acme.example".into()),
                    app_id: Some("a1".into()),
                    outcome: StepOutcome::Created,
                    manager: None,
                    notes: vec![],
                },
                Step {
                    employee_id: "E2".into(),
                    manager_of: None,
                    user_name: Some("jane@acme.example".into()),
                    app_id: Some("a2".into()),
                    outcome: StepOutcome::Created,
                    manager: Some(ManagerNote::Linked {
                        employee_id: "M1".into(),
                        user_name: Some("bob@acme.example".into()),
                    }),
                    notes: vec![],
                },
            ],
        };
        assert_eq!(
            report.lines(),
            vec![
                "tenant acme employee M1 (manager of E2, not in the app yet): created user bob@acme.example (app id a1)",
                "tenant acme employee E2: created user jane@acme.example (app id a2); linked manager M1 (bob@acme.example)",
            ]
        );
        assert!(report.is_ok());
        assert_eq!(report.writes(), 2);
        let err = OneSyncError::NotInUkg {
            tenant: "acme".into(),
            employee_id: "X9".into(),
            known: false,
        };
        assert_eq!(
            err.to_string(),
            "employee X9 is not in UKG (tenant acme): check the employee id; nothing was written"
        );
    }
}
