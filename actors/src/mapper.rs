//! The mapper: turns a page of employees into a plan for the writer.
//!
//! Receives [`MapperMsg::Page`] from the fetcher; sends `WriterMsg::Apply` downstream. For
//! each employee: map (or set aside with a reason), hash, compare with what the store says
//! was applied, and decide: create, update, deactivate, reactivate, link manager, or
//! nothing. Reads the store, never writes it.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tracing::debug;

use crate::faults::{self, FaultHook, PanicPoint};
use crate::mapping::{content_hash, map_employee};
use crate::model::{Action, Page, PagePlan, PlanItem, RecordFailure};
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
    /// Test-only panic points.
    pub faults: Option<Arc<FaultHook>>,
}

impl Actor for Mapper {
    type Msg = MapperMsg;
    type State = MapperArgs;
    type Arguments = MapperArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: MapperArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: MapperMsg,
        state: &mut MapperArgs,
    ) -> Result<(), ActorProcessingErr> {
        let MapperMsg::Page(page) = msg;
        for e in &page.employees {
            faults::check(&state.faults, || PanicPoint::Map {
                tenant: page.run.tenant.clone(),
                employee_id: e.employee_id.clone(),
            });
        }
        let plan = plan_page(page, state.store.as_ref())?;
        debug!(tenant = %plan.run.tenant, run = plan.run.run_id, page = plan.index, changes = plan.items.len(), unchanged = plan.unchanged, failures = plan.failures.len(), "page planned");
        state.writer.cast(WriterMsg::Apply(plan))?;
        Ok(())
    }
}

/// Decides what to do for every employee of a page.
pub fn plan_page(page: Page, store: &dyn ProgressStore) -> Result<PagePlan, crate::error::StoreError> {
    let mut items = Vec::new();
    let mut failures = page.failures;
    let mut unchanged = 0;
    for employee in &page.employees {
        let user = match map_employee(employee) {
            Ok(u) => u,
            Err(e) => {
                failures.push(RecordFailure {
                    employee_id: employee.employee_id.clone(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let hash = content_hash(&user);
        let prior = store.employee(&user.external_id)?;
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
    Ok(PagePlan {
        run: page.run,
        index: page.index,
        last: page.last,
        items,
        unchanged,
        failures,
        ack: page.ack,
    })
}
