//! hrsync-actors: everything that runs under supervision.
//!
//! Per tenant: `TenantSupervisor` spawns `Fetcher → Mapper → Writer` (SCIM) or `FileWriter`
//! (a user file, in a folder or over SFTP) and a `Notifier`; the
//! root `Supervisor` spawns and watches one `TenantSupervisor` per tenant. The UKG client, the
//! SCIM client, the mapping and the store live here too; the binary (`src/`) only turns the
//! config file into [`spec`] values and wires the HTTP face.

pub mod approve;
pub mod brake;
pub mod change_feed;
pub mod delivery;
pub mod error;
pub mod expr;
pub mod faults;
pub mod mapping;
pub mod model;
pub mod roster_read;
pub mod sanitize;
pub mod scim;
pub mod scope;
pub mod sftp;
pub mod spec;
pub mod store;
pub mod ukg;
pub mod upstream;
pub mod user_file;

pub mod fetcher;
pub mod file_writer;
pub mod mailer;
pub mod mapper;
pub mod misconfigured;
pub mod notifier;
pub mod one_sync;
pub mod plan;
pub mod quarantine;
pub mod reconcile;
pub mod report;
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
