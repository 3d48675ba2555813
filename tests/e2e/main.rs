//! End-to-end tests of the `hrsync` binary against the UKG simulator and the real
//! `scim2-server` (installed by scripts/test.sh). One test binary, several modules.

mod harness;
mod sshd;

mod change_feed;
mod check;
mod config_errors;
mod crash;
mod file_writer;
mod http_face;
mod notify;
mod one_sync;
mod page;
mod proxy;
mod resilience;
mod safety;
mod scope_review;
mod secrets;
mod service;
mod store;
mod sync_flow;
mod tenant_add;
