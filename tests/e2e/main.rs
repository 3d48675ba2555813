//! End-to-end tests of the `hrsync` binary against the UKG simulator and the real
//! `scim2-server` (installed by scripts/test.sh). One test binary, several modules.

mod harness;
mod sshd;

mod app_down;
mod approve_later;
mod change_feed;
mod check;
mod config_errors;
mod crash;
mod file_writer;
mod hostile_roster;
mod http_face;
mod hygiene;
mod isolation;
mod notify;
mod one_sync;
mod outcomes;
mod page;
mod proxy;
mod quarantine;
mod reconcile;
mod resilience;
mod safety;
mod scope_review;
mod secrets;
mod service;
mod store;
mod sync_flow;
mod tenant_add;
