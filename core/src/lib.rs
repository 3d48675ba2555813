//! hrsync-core: everything hrsync knows and decides that does not need an actor. No ractor
//! dependency (checked by `scripts/check-floors.sh`).
//!
//! # Layout: floors that import only downwards
//!
//! Ground first; a module may import its own floor and the floors below it, never one
//! above, and modules never import each other in a circle. The floors are listed in
//! `core/FLOORS` and checked in CI by `scripts/check-floors.sh`.
//!
//! 1. **ground** — the data that flows and the validated settings: [`model`] (employees,
//!    app users, states, run summaries, review summary), [`spec`] (validated tenant specs,
//!    including the brake, scope, user-file and SFTP settings), [`expr`] (parsed column and
//!    attribute expressions, part of a validated spec), [`error`], [`faults`] (test fault
//!    hooks) and [`sanitize`] (what may be shown of a text or a spec's secrets).
//! 2. **engine** — [`engine`]: mapping, scope, brake, quarantine, backoff; pure functions.
//! 3. **clients** — [`clients`]: upstream retry and rate limits, the UKG client and the
//!    roster read (with `ukg_json`, how UKG's rows read), SCIM, SFTP, SMTP mail and the
//!    emails' text (`report`), the user file's rendering and its delivery.
//! 4. **store** — [`store`]: the progress-store trait and its sled implementation, with
//!    the integrity check (splitting the trait by concern is the next stage).
//!
//! `hrsync-actors` re-exports these modules under their old names (`hrsync_actors::model`,
//! `hrsync_actors::ukg`, …) as a temporary bridge.

pub mod error;
pub mod expr;
pub mod faults;
pub mod model;
pub mod sanitize;
pub mod spec;

pub mod clients;
pub mod engine;
pub mod store;
