//! The engine floor: pure decisions over the ground floor's data, no I/O — the mapping of an
//! employee to an app user, scoping rules, the safety brakes, quarantine of a failing
//! tenant, and the restart backoff. Imports only the ground floor (`model`, `spec`, `expr`,
//! `error`) and its own modules.

pub mod backoff;
pub mod brake;
pub mod mapping;
pub mod quarantine;
pub mod scope;
