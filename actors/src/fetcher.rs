//! The fetcher: reads the roster from UKG Pro, one page at a time, and hands joined pages
//! to the mapper.
//!
//! Receives [`FetcherMsg`]: `Start` (from the tenant supervisor), `FetchNext` (from itself),
//! `PageCommitted` (the writer's ack). Sends `MapperMsg::Page` downstream and
//! `TenantMsg::RunFailed` up when UKG cannot be read.
//!
//! A run first reads the lookups (org levels, jobs) and every page of
//! employee-demographic-details (names and emails, joined on company id + employee id) —
//! the whole roster, so an empty or sharply shrunken one fails the run before anything is
//! written — then pages employment-details from the page after the committed cursor.
//! Both lists are read by the rules of [`crate::roster_read`]: rows one by one (a bad row is
//! set aside), the end at an empty page (or, for employment-details, a short page holding
//! the demographics' count), a repeated page or one past the count fails the run, and a
//! complete read must cover every employee of the demographics before its last page goes
//! downstream (where absence turns into deactivations). Flow control:
//! at most [`MAX_IN_FLIGHT`] pages are between the fetcher and the writer's commit, so memory
//! stays flat whatever the roster size (ractor mailboxes are unbounded).

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tracing::{debug, info, warn};

use std::sync::Arc;

use crate::brake::{roster_guard, BrakeSpec};
use crate::error::{RunFailure, UkgError};
use crate::mapper::MapperMsg;
use crate::model::{Page, RunCtx};
use crate::roster_read::{check_coverage, join_page, take_demographics, Joined, Keyed, ListRead, Row};
use crate::store::ProgressStore;
use crate::tenant::TenantMsg;
use crate::ukg::{self, DemographicRow, EmploymentRow, JobRow, Lookups, OrgLevelRow, People, UkgClient};

/// Pages handed downstream and not yet committed, at most.
pub const MAX_IN_FLIGHT: u32 = 2;

/// Messages the fetcher receives.
#[derive(Debug)]
pub enum FetcherMsg {
    /// Begin a run (or resume it): employment-details pages `1..=resume_after` are already
    /// committed and are skipped.
    Start { run: RunCtx, resume_after: u32 },
    /// Fetch the next page if credit allows (sent to itself).
    FetchNext,
    /// The writer committed page `index` of run `run_id`: one credit back.
    PageCommitted { run_id: u64, index: u32 },
}

pub struct Fetcher;

pub struct FetcherArgs {
    pub client: UkgClient,
    pub department_org_level: u8,
    pub mapper: ActorRef<MapperMsg>,
    pub tenant: ActorRef<TenantMsg>,
    /// For the shrunken-roster guard (the last complete roster size).
    pub store: Arc<dyn ProgressStore>,
    pub brake: BrakeSpec,
}

pub struct FetcherState {
    args: FetcherArgs,
    run: Option<ActiveRun>,
}

/// The run being fetched.
struct ActiveRun {
    ctx: RunCtx,
    people: People,
    lookups: Lookups,
    /// Next employment-details page to read.
    next_page: u32,
    in_flight: u32,
    /// The last page has been handed downstream.
    done: bool,
    /// Where employment-details stands: end, repeats, duplicates, coverage.
    employment: ListRead,
}

impl Actor for Fetcher {
    type Msg = FetcherMsg;
    type State = FetcherState;
    type Arguments = FetcherArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: FetcherArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(FetcherState { args, run: None })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: FetcherMsg,
        state: &mut FetcherState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            FetcherMsg::Start { run, resume_after } => {
                state.run = None;
                info!(tenant = %run.tenant, run = run.run_id, resume_after, "reading lookups and demographics");
                match read_reference_data(&state.args.client).await {
                    Ok((people, lookups)) => {
                        // The demographics are the whole roster: refuse an empty or shrunken
                        // one before anything is written.
                        let last = state.args.store.last_roster_size()?;
                        if let Some(reason) = roster_guard(people.len() as u64, last, &state.args.brake) {
                            warn!(tenant = %run.tenant, run = run.run_id, %reason, "roster guard tripped");
                            state.args.tenant.cast(TenantMsg::RunFailed {
                                run,
                                error: RunFailure::UkgData(reason),
                            })?;
                            return Ok(());
                        }
                        let employment = ListRead::new(
                            "employment-details",
                            state.args.client.page_size(),
                            Some(people.rows()),
                            resume_after + 1,
                        );
                        state.run = Some(ActiveRun {
                            ctx: run,
                            people,
                            lookups,
                            next_page: resume_after + 1,
                            in_flight: 0,
                            done: false,
                            employment,
                        });
                        myself.cast(FetcherMsg::FetchNext)?;
                    }
                    Err(e) => fail(state, run, &e)?,
                }
            }
            FetcherMsg::FetchNext => fetch_next(&myself, state).await?,
            FetcherMsg::PageCommitted { run_id, index } => {
                if let Some(run) = state.run.as_mut().filter(|r| r.ctx.run_id == run_id) {
                    debug!(tenant = %run.ctx.tenant, run = run_id, page = index, "page committed");
                    run.in_flight = run.in_flight.saturating_sub(1);
                    if run.done && run.in_flight == 0 {
                        state.run = None;
                    } else {
                        myself.cast(FetcherMsg::FetchNext)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Reads the lookups and every demographics page (what a run needs before paging the roster).
/// Each page is folded into the join table as it arrives, so only one page of raw rows is
/// held at a time. The list ends at an empty page ([`ListRead`]).
pub async fn read_reference_data(client: &UkgClient) -> Result<(People, Lookups), UkgError> {
    let lookups = read_lookups(client).await?;
    let mut people = People::default();
    let mut read = ListRead::new("employee-demographic-details", client.page_size(), None, 1);
    for index in 1.. {
        let rows: Vec<Row<DemographicRow>> = client.rows(ukg::DEMOGRAPHIC_DETAILS, index).await?;
        let keys: Vec<_> = rows.iter().map(Keyed::key).collect();
        let check = read.page(index, &keys).map_err(UkgError::Roster)?;
        drop(keys);
        take_demographics(&mut people, rows, &check, index);
        if check.end {
            break;
        }
    }
    Ok((people, lookups))
}

/// Reads every employment-details page and joins it (`hrsync plan`): the same end, repeat,
/// duplicate and coverage rules as a run's fetcher.
pub async fn read_employment(
    client: &UkgClient,
    people: &People,
    lookups: &Lookups,
    department_level: u8,
) -> Result<Joined, UkgError> {
    let mut read = ListRead::new("employment-details", client.page_size(), Some(people.rows()), 1);
    let mut all = Joined::default();
    for index in 1.. {
        let rows: Vec<Row<EmploymentRow>> = client.rows(ukg::EMPLOYMENT_DETAILS, index).await?;
        let keys: Vec<_> = rows.iter().map(Keyed::key).collect();
        let check = read.page(index, &keys).map_err(UkgError::Roster)?;
        drop(keys);
        let page = join_page(rows, &check, people, lookups, department_level, index);
        all.employees.extend(page.employees);
        all.failures.extend(page.failures);
        all.present.extend(page.present);
        if check.end {
            break;
        }
    }
    check_coverage(people, &read).map_err(UkgError::Roster)?;
    Ok(all)
}

/// Reads the lookups `ukg::join` resolves (org levels, jobs).
pub async fn read_lookups(client: &UkgClient) -> Result<Lookups, UkgError> {
    let org_levels: Vec<OrgLevelRow> = client.lookup(ukg::ORG_LEVELS).await?;
    let jobs: Vec<JobRow> = client.lookup(ukg::JOBS).await?;
    Ok(Lookups::new(org_levels, jobs))
}

async fn fetch_next(myself: &ActorRef<FetcherMsg>, state: &mut FetcherState) -> Result<(), ActorProcessingErr> {
    let Some(run) = state.run.as_mut() else {
        return Ok(());
    };
    if run.done || run.in_flight >= MAX_IN_FLIGHT {
        return Ok(());
    }
    let index = run.next_page;
    let rows: Vec<Row<EmploymentRow>> = match state.args.client.rows(ukg::EMPLOYMENT_DETAILS, index).await {
        Ok(rows) => rows,
        Err(e) => {
            let ctx = run.ctx.clone();
            return fail(state, ctx, &e);
        }
    };
    let keys: Vec<_> = rows.iter().map(Keyed::key).collect();
    let checked = run.employment.page(index, &keys);
    drop(keys);
    // The end of a complete read: every employment of the demographics must have been read,
    // or absence means nothing (a resumed run never deactivates by absence).
    let checked = checked.and_then(|check| {
        if check.end && run.employment.rows().is_some() {
            check_coverage(&run.people, &run.employment)?;
        }
        Ok(check)
    });
    let check = match checked {
        Ok(check) => check,
        Err(reason) => {
            let ctx = run.ctx.clone();
            return fail(state, ctx, &UkgError::Roster(reason));
        }
    };
    let last = check.end;
    let level = state.args.department_org_level;
    let Joined {
        employees,
        failures,
        present,
    } = join_page(rows, &check, &run.people, &run.lookups, level, index);
    debug!(tenant = %run.ctx.tenant, run = run.ctx.run_id, page = index, records = employees.len(), last, "page read");
    run.next_page += 1;
    run.in_flight += 1;
    run.done = last;
    state.args.mapper.cast(MapperMsg::Page(Page {
        run: run.ctx.clone(),
        index,
        last,
        employees,
        failures,
        present,
        ack: myself.clone(),
    }))?;
    if !last {
        myself.cast(FetcherMsg::FetchNext)?;
    }
    Ok(())
}

/// Reports a run that cannot complete and forgets it.
fn fail(state: &mut FetcherState, run: RunCtx, error: &UkgError) -> Result<(), ActorProcessingErr> {
    warn!(tenant = %run.tenant, run = run.run_id, %error, "run cannot read UKG");
    state.run = None;
    state.args.tenant.cast(TenantMsg::RunFailed {
        run,
        error: RunFailure::from(error),
    })?;
    Ok(())
}
