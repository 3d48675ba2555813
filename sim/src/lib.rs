//! hrsync-sim: stand-ins for the systems hrsync talks to. [`UkgSim`] is a UKG Pro REST
//! API simulator (the real shapes and quirks, paging, auth, a request log, roster control
//! and fault injection); [`ScimSim`] is a small in-process SCIM 2.0 target for demos;
//! [`sample_roster`] makes deterministic, realistic data for both.

pub mod faults;
pub mod roster;
pub mod scim;
mod server;
pub mod ukg;

pub use faults::Fault;
pub use roster::{sample_roster, Company, Job, Location, OrgLevel, SampleData, SimEmployee};
pub use scim::ScimSim;
pub use ukg::{RequestRecord, UkgSim, UkgSimConfig};
