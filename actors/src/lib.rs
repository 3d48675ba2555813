//! hrsync-actors: everything that runs under supervision.
//!
//! Per tenant: `TenantSupervisor` spawns `Fetcher → Mapper → Writer` (SCIM) or `FileWriter`
//! (a user file, in a folder or over SFTP) and a `Notifier`; the
//! root `Supervisor` spawns and watches one `TenantSupervisor` per tenant; the flows they
//! drive (one-person sync, change feed, review, approve, plan) live here too. The binary
//! (`src/`) only turns the config file into [`spec`] values and wires the HTTP face.
//!
//! The data, the specs, the pure engine (mapping, scope, brake, quarantine, backoff), the
//! clients (UKG, SCIM, SFTP, mail, user file) and the store live in the ractor-free crate
//! `hrsync-core` (see its layout section).
//!
//! # Bridge (temporary)
//!
//! The `pub use hrsync_core::…` lines below re-export each module moved to `hrsync-core`
//! under its old name, so `hrsync_actors::model`, `crate::spec`, … keep compiling unchanged
//! in actors/, src/, tests/ and examples/. [`model`] is a small module rather than a plain
//! re-export: it adds [`page::Page`] and [`page::PagePlan`], which hold an `ActorRef` and so
//! stay here. The next stage rewrites those paths to `hrsync_core::…` and removes the bridge.

pub mod approve;
pub mod change_feed;

pub mod fetcher;
pub mod file_writer;
pub mod mapper;
pub mod misconfigured;
pub mod notifier;
pub mod one_sync;
pub mod page;
pub mod plan;
pub mod reconcile;
pub mod resources;
pub mod restart;
pub mod review;
pub mod review_actor;
pub mod root;
pub mod run_end;
pub mod run_storage;
pub mod status;
pub mod tenant;
pub mod write_phase;
pub mod writer;

// Bridge: modules moved to hrsync-core, under their old names (see the crate doc).
pub use hrsync_core::clients::{delivery, mailer, report, roster_read, scim, sftp, ukg, upstream, user_file};
pub use hrsync_core::engine::{brake, mapping, quarantine, scope};
pub use hrsync_core::{error, expr, faults, sanitize, spec, store};

/// Bridge: `hrsync_core::model` plus the page messages that hold an `ActorRef`.
pub mod model {
    pub use crate::page::{Page, PagePlan};
    pub use hrsync_core::model::*;
}
