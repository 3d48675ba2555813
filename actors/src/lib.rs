//! hrsync-actors: everything that runs under supervision.
//!
//! Per tenant: `TenantSupervisor` spawns `Fetcher → Mapper → Writer` and a `Notifier`; the
//! root `Supervisor` spawns and watches one `TenantSupervisor` per tenant. The UKG client, the
//! SCIM client, the mapping and the store live here too; the binary (`src/`) only turns the
//! config file into [`spec`] values and wires the HTTP face.

pub mod approve;
pub mod brake;
pub mod change_feed;
pub mod error;
pub mod expr;
pub mod faults;
pub mod mapping;
pub mod model;
pub mod scim;
pub mod spec;
pub mod store;
pub mod ukg;
pub mod upstream;

pub mod fetcher;
pub mod mailer;
pub mod mapper;
pub mod notifier;
pub mod one_sync;
pub mod plan;
pub mod quarantine;
pub mod report;
pub mod restart;
pub mod root;
pub mod status;
pub mod tenant;
pub mod writer;
