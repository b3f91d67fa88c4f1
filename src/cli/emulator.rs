//! `tenantgit emulator serve`: the Graph emulator as a standalone server.

use std::path::PathBuf;
use std::time::Duration;

use crate::emulator::{self, EmulatorConfig, FaultRule, SyntheticSpec, READ_THROTTLE_LARGE_TENANT};
use crate::error::Error;

use super::Global;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Serve Graph v1.0 and the token endpoint on 127.0.0.1 until stopped. The first line of
    /// stdout is `listening on http://127.0.0.1:PORT`.
    Serve(ServeArgs),
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Load the tenant from a snapshot repository's files (e.g. example-repo).
    #[arg(long, value_name = "DIR")]
    pub seed: Option<PathBuf>,
    /// Generate a tenant: users=N,groups=N,members=N,apps=N,policies=N (each optional).
    #[arg(long, value_name = "SPEC")]
    pub synthetic: Option<SyntheticSpec>,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Client id the token endpoint accepts.
    #[arg(long, default_value = "tenantgit-emulator")]
    pub client_id: String,
    /// Client secret the token endpoint accepts.
    #[arg(long, default_value = "emulator-secret")]
    pub client_secret: String,
    /// Resource units per 10 s before reads are throttled with 429 and a Retry-After; the
    /// default is Graph's quota for one app in a large tenant (0 = off).
    #[arg(long, value_name = "RU", default_value_t = READ_THROTTLE_LARGE_TENANT)]
    pub read_throttle: u32,
    /// Writes per 150 s before writes are throttled with 429 and a Retry-After; the default is
    /// Graph's quota for one app in a tenant (0 = off).
    #[arg(long, value_name = "N", default_value_t = 3000)]
    pub write_throttle: u32,
    /// Latency added to every Graph request, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Fault rules as a JSON file (the same shape `POST /_emulator/faults` takes).
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
}

pub fn run(global: &Global, command: Command) -> Result<i32, Error> {
    let Command::Serve(args) = command;
    let faults: Vec<FaultRule> = match &args.faults {
        None => Vec::new(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
            serde_json::from_str(&text).map_err(|e| {
                Error::usage(
                    format!("{}: invalid fault rules: {e}", path.display()),
                    "the file holds a JSON array of rules, as POST /_emulator/faults takes",
                )
            })?
        }
    };
    let config = EmulatorConfig {
        port: args.port,
        client_id: args.client_id.clone(),
        client_secret: args.client_secret.clone(),
        seed_dir: args.seed.clone(),
        synthetic: args.synthetic,
        read_throttle: (args.read_throttle > 0).then_some(args.read_throttle),
        write_throttle: (args.write_throttle > 0).then_some(args.write_throttle),
        latency: Duration::from_millis(args.latency_ms),
        faults,
        ..EmulatorConfig::default()
    };
    let quiet = global.quiet;
    let client_id = args.client_id.clone();
    super::runtime()?.block_on(emulator::serve(config, move |addr| {
        println!("listening on http://{addr}");
        if !quiet {
            eprintln!("point tenantgit at it with:");
            eprintln!("  export TENANTGIT_GRAPH_URL=http://{addr} AZURE_AUTHORITY_HOST=http://{addr}");
            eprintln!("  export AZURE_TENANT_ID=emulator AZURE_CLIENT_ID={client_id}");
            eprintln!("  export AZURE_CLIENT_SECRET=...   # the --client-secret value (default: emulator-secret)");
        }
    }))?;
    Ok(0)
}
