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
use crate::model::{Action, Page, PagePlan, PlanItem, RecordFailure};
use crate::spec::MappingSpec;
use crate::store::ProgressStore;
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
    /// Test-only panic points.
    pub faults: Option<Arc<FaultHook>>,
}

pub struct MapperState {
    args: MapperArgs,
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
        let plan = plan_page(
            page,
            state.args.store.as_ref(),
            today,
            &state.args.mapping,
            &mut state.emails,
        )?;
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
    emails: &mut Emails,
) -> Result<PagePlan, crate::error::StoreError> {
    if emails.run_id != page.run.run_id {
        *emails = Emails {
            run_id: page.run.run_id,
            owners: HashMap::new(),
        };
    }
    let planned = plan_employees(&page.employees, page.failures, store, today, mapping, emails)?;
    Ok(PagePlan {
        run: page.run,
        index: page.index,
        last: page.last,
        items: planned.items,
        unchanged: planned.unchanged,
        failures: planned.failures,
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
    pub seen: Vec<String>,
    pub read: u64,
}

/// Maps, checks and diffs `employees` against the store. `failures` are rows already set aside.
pub fn plan_employees(
    employees: &[crate::model::Employee],
    mut failures: Vec<RecordFailure>,
    store: &dyn ProgressStore,
    today: NaiveDate,
    mapping: &MappingSpec,
    emails: &mut Emails,
) -> Result<Planned, crate::error::StoreError> {
    let mut items = Vec::new();
    let mut unchanged = 0;
    let read = (employees.len() + failures.len()) as u64;
    let seen = employees.iter().map(|e| e.employee_id.clone()).collect();
    for employee in employees {
        let id = &employee.employee_id;
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
            // A leaver hrsync never synced: nothing to create.
            None if !user.active => None,
            None => Some(Action::Create),
            Some(p) if !user.active => p.active.then(|| Action::Deactivate {
                app_id: p.app_id.clone(),
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
        seen,
        read,
    })
}
