//! The clients floor: everything that talks to the outside — the shared upstream retry and
//! rate limiting, the UKG client and the roster read, the SCIM client, SFTP upload, SMTP mail and the emails' text, the user
//! file's rendering and its delivery. Imports the ground and engine floors and its own
//! modules; never the store.

pub mod delivery;
pub mod mailer;
pub mod report;
pub mod roster_read;
pub mod scim;
pub mod sftp;
pub mod ukg;
pub mod ukg_json;
pub mod upstream;
pub mod user_file;
