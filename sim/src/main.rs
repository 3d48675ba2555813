//! `hrsync-sim`: runs the UKG simulator or the SCIM target standalone, for trying hrsync
//! by hand. Prints the base URL and serves until Ctrl-C.

use std::net::SocketAddr;

use clap::{Parser, Subcommand};
use hrsync_sim::{sample_roster, ScimSim, UkgSim, UkgSimConfig};

/// Simulators for the systems hrsync talks to.
#[derive(Parser)]
#[command(name = "hrsync-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a simulated UKG Pro REST API with a generated roster.
    Ukg {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8088")]
        addr: SocketAddr,
        /// Number of employees.
        #[arg(long, default_value_t = 50)]
        employees: usize,
        /// Seed of the generated roster.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Email domain of the employees.
        #[arg(long, default_value = "acme.example")]
        domain: String,
        /// Web service account user name.
        #[arg(long, default_value = "hrsync")]
        username: String,
        /// Web service account password.
        #[arg(long, default_value = "secret")]
        password: String,
        /// Customer API key (US-Customer-Api-Key).
        #[arg(long, default_value = "ABCDE")]
        api_key: String,
        /// Default and maximum page size.
        #[arg(long, default_value_t = 10_000)]
        max_page_size: usize,
    },
    /// Serve a small in-memory SCIM 2.0 target.
    Scim {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8089")]
        addr: SocketAddr,
        /// Bearer token clients must send.
        #[arg(long, default_value = "demo-token")]
        token: String,
    },
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    match Cli::parse().command {
        Command::Ukg {
            addr,
            employees,
            seed,
            domain,
            username,
            password,
            api_key,
            max_page_size,
        } => {
            let mut config = UkgSimConfig::new(&username, &password, &api_key, sample_roster(employees, seed, &domain));
            config.max_page_size = max_page_size;
            let sim = UkgSim::start_on(config, addr).await?;
            println!("UKG simulator: {} ({employees} employees)", sim.base_url());
            tokio::signal::ctrl_c().await?;
            sim.shutdown().await;
        }
        Command::Scim { addr, token } => {
            let sim = ScimSim::start_on(&token, addr).await?;
            println!("SCIM target: {}", sim.base_url());
            tokio::signal::ctrl_c().await?;
            println!("{} users, {} writes", sim.users().len(), sim.write_count());
            sim.shutdown().await;
        }
    }
    Ok(())
}
