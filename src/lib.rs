//! hrsync: the process shell around the actors: command line, config file, wiring, HTTP
//! face, logging. `service::run_service` starts the whole service on a given listener so
//! tests can run it in-process.

pub mod check;
pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod employee_sync;
pub mod http;
pub mod rebaseline;
pub mod service;
pub mod shutdown;
pub mod status_table;
pub mod telemetry;
pub mod tenant_add;
