//! The mapper: turns a page of employees into a plan for the writer.
//!
//! Receives [`MapperMsg::Page`] from the fetcher; sends `WriterMsg::Apply` downstream. For
//! each employee: map (or set aside with a reason), hash, compare with what the store says
//! was applied, and decide: create, update, deactivate, reactivate, link manager, or
//! nothing. Reads the store, never writes it. Within a run it remembers which work emails it
//! has seen, so a second active employee with the same email is set aside instead of taking
//! over the first one's account.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tracing::debug;

use crate::faults::{self, FaultHook, PanicPoint};
use crate::mapping::{content_hash, map_employee};
use crate::model::{Action, AppUser, Page, PagePlan, PlanItem, RecordFailure};
use crate::review::Review;
use crate::scope::{OutOfScope, ScopeSpec};
use crate::spec::MappingSpec;
use crate::store::{EmployeeState, ProgressStore};
use crate::writer::WriterMsg;

/// Messages the mapper receives.
#[derive(Debug)]
pub enum MapperMsg {
    /// A joined page of the roster to plan.
    Page(Page),
}

pub struct Mapper;

pub struct MapperArgs {
    pub store: Arc<dyn ProgressStore>,
    pub writer: ActorRef<WriterMsg>,
    /// The tenant's time zone (for effective dates).
    pub timezone: chrono_tz::Tz,
    /// The tenant's changes to the default mapping.
    pub mapping: MappingSpec,
    /// Who the tenant syncs.
    pub scope: ScopeSpec,
    /// Test-only panic points.
    pub faults: Option<Arc<FaultHook>>,
}

pub struct MapperState {
    args: MapperArgs,
    /// The approved first-run review that limits this run's changes (read once per run).
    review: Option<(u64, Option<Arc<Review>>)>,
    /// Work emails of this run's active employees so far → their employee id.
    emails: Emails,
}

impl Actor for Mapper {
    type Msg = MapperMsg;
    type State = MapperState;
    type Arguments = MapperArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: MapperArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(MapperState {
            args,
            review: None,
            emails: Emails::default(),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: MapperMsg,
        state: &mut MapperState,
    ) -> Result<(), ActorProcessingErr> {
        let MapperMsg::Page(page) = msg;
        for e in &page.employees {
            faults::check(&state.args.faults, || PanicPoint::Map {
                tenant: page.run.tenant.clone(),
                employee_id: e.employee_id.clone(),
            });
        }
        let today = Utc::now().with_timezone(&state.args.timezone).date_naive();
        let run_id = page.run.run_id;
        if state.review.as_ref().is_none_or(|(run, _)| *run != run_id) {
            let approved = state.args.store.review()?.filter(|r| r.approved).map(Arc::new);
            state.review = Some((run_id, approved));
        }
        let mut plan = plan_page(
            page,
            state.args.store.as_ref(),
            today,
            &state.args.mapping,
            &state.args.scope,
            &mut state.emails,
        )?;
        if let Some((_, Some(review))) = &state.review {
            // An approved review: apply exactly the reviewed plan.
            let before = plan.items.len();
            plan.items.retain(|item| review.allows(item));
            plan.deferred = (before - plan.items.len()) as u64;
        }
        debug!(tenant = %plan.run.tenant, run = plan.run.run_id, page = plan.index, changes = plan.items.len(), unchanged = plan.unchanged, failures = plan.failures.len(), "page planned");
        state.args.writer.cast(WriterMsg::Apply(plan))?;
        Ok(())
    }
}

/// Work emails already claimed in a run, by lower-cased email.
#[derive(Debug, Default)]
pub struct Emails {
    run_id: u64,
    owners: HashMap<String, String>,
}

/// Decides what to do for every employee of a page.
pub fn plan_page(
    page: Page,
    store: &dyn ProgressStore,
    today: NaiveDate,
    mapping: &MappingSpec,
    scope: &ScopeSpec,
    emails: &mut Emails,
) -> Result<PagePlan, crate::error::StoreError> {
    if emails.run_id != page.run.run_id {
        *emails = Emails {
            run_id: page.run.run_id,
            owners: HashMap::new(),
        };
    }
    let mut planned = plan_employees(&page.employees, page.failures, store, today, mapping, scope, emails)?;
    // Rows the fetcher set aside are in UKG all the same: never absent.
    planned.seen.extend(page.present);
    Ok(PagePlan {
        run: page.run,
        index: page.index,
        last: page.last,
        items: planned.items,
        unchanged: planned.unchanged,
        failures: planned.failures,
        excluded: planned.excluded,
        deferred: 0,
        seen: planned.seen,
        read: planned.read,
        ack: page.ack,
    })
}

/// The plan for some employees (a page, or the whole roster for `hrsync plan`).
#[derive(Debug, Default)]
pub struct Planned {
    pub items: Vec<PlanItem>,
    pub unchanged: u64,
    pub failures: Vec<RecordFailure>,
    /// Employees out of scope, with the rule that excluded each.
    pub excluded: Vec<RecordFailure>,
    pub seen: Vec<String>,
    pub read: u64,
}

/// Maps, checks and diffs `employees` against the store. `failures` are rows already set aside.
/// Employees out of `scope` are not mapped: one hrsync synced before is deactivated (unless
/// the scope says to ignore them), and each is listed with the rule that excluded them.
#[allow(clippy::too_many_arguments)]
pub fn plan_employees(
    employees: &[crate::model::Employee],
    mut failures: Vec<RecordFailure>,
    store: &dyn ProgressStore,
    today: NaiveDate,
    mapping: &MappingSpec,
    scope: &ScopeSpec,
    emails: &mut Emails,
) -> Result<Planned, crate::error::StoreError> {
    let mut items = Vec::new();
    let mut excluded = Vec::new();
    let mut unchanged = 0;
    let read = (employees.len() + failures.len()) as u64;
    let seen = employees.iter().map(|e| e.employee_id.clone()).collect();
    // A tenant started afresh by `hrsync rebaseline` also looks for its leavers in the app:
    // the writer adopts an active user of theirs and deactivates it.
    let adopt_leavers = store.rebaselined()?;
    for employee in employees {
        let id = &employee.employee_id;
        if let Some(rule) = scope.excluded_by(employee) {
            excluded.push(RecordFailure {
                employee_id: id.clone(),
                reason: rule.to_string(),
            });
            if scope.out_of_scope == OutOfScope::Deactivate {
                if let Some(item) = out_of_scope_deactivation(store.employee(id)?, id, rule) {
                    items.push(item);
                }
            }
            continue;
        }
        let mut user = match map_employee(employee, today, mapping) {
            Ok(u) => u,
            Err(e) => {
                failures.push(RecordFailure {
                    employee_id: id.clone(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if user.active {
            if let Some(owner) = emails.owners.get(&user.user_name).filter(|o| *o != id) {
                failures.push(RecordFailure {
                    employee_id: id.clone(),
                    reason: format!(
                        "work email {} is also the work email of employee {owner} in UKG; each user needs their own: correct it in UKG",
                        user.user_name
                    ),
                });
                continue;
            }
            emails.owners.insert(user.user_name.clone(), id.clone());
        }
        match &employee.supervisor_id {
            Some(m) if m == id => failures.push(RecordFailure {
                employee_id: id.clone(),
                reason: "is their own supervisor in UKG; manager link skipped (the user is synced): correct the supervisor in UKG".into(),
            }),
            Some(m) if !employee.supervisor_in_roster => {
                user.manager_external_id = None;
                failures.push(RecordFailure {
                    employee_id: id.clone(),
                    reason: format!("manager {m} is not in the UKG roster; manager link skipped (the user is synced): check the supervisor in UKG"),
                });
            }
            _ => {}
        }
        let hash = content_hash(&user);
        let prior = store.employee(id)?;
        let action = match &prior {
            // A leaver hrsync never synced: nothing to create (after a rebaseline, the
            // writer only adopts an active app user of theirs, to deactivate it).
            None if !user.active => adopt_leavers.then_some(Action::Create),
            None => Some(Action::Create),
            Some(p) if !user.active => p.active.then(|| Action::Deactivate {
                app_id: p.app_id.clone(),
                reason: "terminated in UKG".into(),
            }),
            Some(p) if !p.active => Some(Action::Reactivate {
                app_id: p.app_id.clone(),
            }),
            Some(p) if p.hash != hash => Some(Action::Update {
                app_id: p.app_id.clone(),
            }),
            Some(p) if p.manager != user.manager_external_id => Some(Action::LinkManager {
                app_id: p.app_id.clone(),
            }),
            Some(_) => None,
        };
        match action {
            Some(action) => items.push(PlanItem {
                user,
                hash,
                action,
                prior,
            }),
            None => unchanged += 1,
        }
    }
    Ok(Planned {
        items,
        unchanged,
        failures,
        excluded,
        seen,
        read,
    })
}

/// The deactivation of a synced, active employee who is now out of scope (None otherwise).
fn out_of_scope_deactivation(prior: Option<EmployeeState>, id: &str, rule: &str) -> Option<PlanItem> {
    let prior = prior.filter(|p| p.active)?;
    let mut user = prior.user.clone().unwrap_or_else(|| AppUser {
        external_id: id.to_string(),
        user_name: String::new(),
        given_name: String::new(),
        family_name: String::new(),
        display_name: String::new(),
        email: String::new(),
        title: None,
        department: None,
        employee_number: None,
        location: None,
        active: true,
        manager_external_id: None,
        termination_date: None,
        extra: Default::default(),
    });
    user.active = false;
    Some(PlanItem {
        hash: prior.hash.clone(),
        action: Action::Deactivate {
            app_id: prior.app_id.clone(),
            reason: format!("out of scope: {rule}"),
        },
        user,
        prior: Some(prior),
    })
}
