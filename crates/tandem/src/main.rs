//! The `tandem` command: run a region node (`serve`), or the local two-region
//! development setup (`dev`).

mod app_cmd;
mod config;
mod control_client;
mod deployment;
mod dev;
mod dev_config;
mod dev_edge;
mod dev_identity;
mod dns_cmd;
mod drill;
mod drill_load;
mod drill_report;
mod drill_verify;
mod edge_cmd;
mod exposure;
mod history_cmd;
mod output;
mod replication_cmd;
mod site;
mod status_cmd;
mod user_cmd;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::deployment::ConfigArg;

#[derive(Parser)]
#[command(
    name = "tandem",
    version,
    about = "Self-hosted multi-region platform: S3 and DynamoDB APIs, replication, failover"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one region node.
    Serve {
        /// Path of tandem.toml.
        #[arg(long, default_value = "tandem.toml")]
        config: PathBuf,
        /// Which region of the config this node is.
        #[arg(long)]
        region: String,
        /// Which of the region's `[[regions.nodes]]` this is (its listen
        /// address, URL and scratch directory); without it, the region's own.
        #[arg(long)]
        node: Option<String>,
        /// Override the region's listen address.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Override the region's data directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Run two regions locally with built-in defaults; nothing to configure.
    Dev {
        /// Where the regions keep their data.
        #[arg(long, default_value = ".tandem")]
        data_dir: PathBuf,
        /// Port of the first region (1 to 65534); the second uses the next one.
        #[arg(long, default_value_t = 9000, value_parser = clap::value_parser!(u16).range(1..=65534))]
        port: u16,
        /// The built photos web app to serve through the edge (default:
        /// apps/photos/dist here or in the source tree tandem was built from).
        #[arg(long)]
        site: Option<PathBuf>,
    },
    /// Run an edge node (front door: TLS, origin failover, app routing, cache), or invalidate paths on every edge node.
    Edge(edge_cmd::EdgeArgs),
    /// Health of every region and replication lag and backlog per peer.
    Status {
        #[command(flatten)]
        target: ConfigArg,
        #[arg(long, value_enum, default_value_t)]
        output: output::Output,
    },
    /// Replication between regions: backlog, resync, diff.
    Replication {
        #[command(subcommand)]
        command: ReplicationCommand,
    },
    /// Make every region match the apps of the config (buckets, rules, tables); never deletes.
    Apply {
        #[command(flatten)]
        config: ConfigArg,
        /// Print the plan only.
        #[arg(long)]
        dry_run: bool,
        /// Stop enforcing an app that is gone from the config (its data is kept). Repeatable.
        #[arg(long, value_name = "APP")]
        forget: Vec<String>,
    },
    /// An application's state: get it, or set it (active, fenced, failover).
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Move an app's writes to its secondary region.
    Failover {
        #[command(flatten)]
        config: ConfigArg,
        app: String,
        /// Fence first and wait until the secondary has every change (no data loss).
        #[arg(long)]
        planned: bool,
        /// Seconds to wait for replication before giving up (planned only).
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// If the wait cannot finish, leave the app fenced instead of restoring its state.
        #[arg(long)]
        stay_fenced: bool,
    },
    /// Serve the `[dns]` zones: authoritative DNS with health-checked failover records.
    Dns {
        /// Path of tandem.toml.
        #[arg(long, default_value = "tandem.toml")]
        config: PathBuf,
    },
    /// Delete an app's buckets (every version) and tables in every region.
    Destroy {
        #[command(flatten)]
        config: ConfigArg,
        app: String,
        /// Required: confirms that the data is to be deleted.
        #[arg(long)]
        delete_data: bool,
    },
    /// The users of an app's user pool: create, list, disable, enable, delete, reset-password.
    User {
        #[command(subcommand)]
        command: user_cmd::UserCommand,
    },
    /// Fail a region on purpose under a workload through the edge and measure RTO, RPO, errors and lag.
    Drill {
        #[command(flatten)]
        config: ConfigArg,
        app: String,
        #[command(flatten)]
        failure: DrillFailure,
        /// Seconds of steady workload before the failure and after recovery.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=600))]
        steady: u64,
        /// Milliseconds between writes (each writes one object and one item).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(5..=10_000))]
        interval_ms: u64,
        /// Also write the report, with every write and its outcome, as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Bring an app's writes back to its primary region after a failover.
    Failback {
        #[command(flatten)]
        config: ConfigArg,
        app: String,
        /// Seconds to wait for the secondary's writes to reach the primary.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// If the wait cannot finish, leave the app fenced instead of restoring its state.
        #[arg(long)]
        stay_fenced: bool,
    },
}

/// The failure a drill injects: exactly one.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct DrillFailure {
    /// A planned failover, then a failback.
    #[arg(long)]
    planned: bool,
    /// Stop the primary's process (`[drill] kill`, then `restart`).
    #[arg(long)]
    kill_primary: bool,
    /// Cut replication for SECS seconds (`[drill] partition`, `heal`).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    partition: Option<u64>,
    /// Add MS milliseconds of latency to the primary (`[drill] slow`, `unslow`).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=60_000))]
    slow_primary: Option<u64>,
}

impl DrillFailure {
    fn failure(&self) -> Result<drill::Failure, String> {
        match (self.planned, self.kill_primary, self.partition, self.slow_primary) {
            (true, ..) => Ok(drill::Failure::Planned),
            (_, true, ..) => Ok(drill::Failure::KillPrimary),
            (_, _, Some(secs), _) => Ok(drill::Failure::Partition(secs)),
            (_, _, _, Some(ms)) => Ok(drill::Failure::SlowPrimary(ms)),
            _ => Err("say which failure to drill: --planned, --kill-primary, --partition SECS or --slow-primary MS".into()),
        }
    }
}

#[derive(Subcommand)]
enum StateCommand {
    /// The state as every region sees it.
    Get {
        #[command(flatten)]
        config: ConfigArg,
        app: String,
        #[arg(long, value_enum, default_value_t)]
        output: output::Output,
    },
    /// Every state change of the app: who, from where, when, from which state to which, why, where applied.
    History {
        #[command(flatten)]
        config: ConfigArg,
        app: String,
        /// The latest N changes.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1000))]
        limit: u64,
        #[arg(long, value_enum, default_value_t)]
        output: output::Output,
    },
    /// Set the state (replicates to every region).
    Set {
        #[command(flatten)]
        config: ConfigArg,
        app: String,
        /// active, fenced or failover
        state: String,
        #[arg(long, default_value = "set by tandem state set")]
        reason: String,
        /// Set it even if it leaves the app with no working write region (fenced, or its write region down), with no bound.
        #[arg(long)]
        force: bool,
        /// Fence for at most SECS seconds (1 to 300), then put the previous state back.
        #[arg(long = "for", value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=app_cmd::MAX_FENCED_SECS), conflicts_with = "force")]
        fenced_for: Option<u64>,
    },
}

/// A bucket or a table.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct TargetArg {
    /// A bucket (its replication rules say where it goes).
    #[arg(long)]
    bucket: Option<String>,
    /// A global table.
    #[arg(long)]
    table: Option<String>,
}

impl TargetArg {
    fn target(&self) -> replication_cmd::Target {
        // clap makes exactly one of the two present.
        match (&self.bucket, &self.table) {
            (Some(b), _) => replication_cmd::Target::Bucket(b.clone()),
            (None, t) => replication_cmd::Target::Table(t.clone().unwrap_or_default()),
        }
    }
}

#[derive(Subcommand)]
enum ReplicationCommand {
    /// What waits to ship, per region, peer and bucket/table.
    Backlog {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long, value_enum, default_value_t)]
        output: output::Output,
    },
    /// Ship what existed before a rule or replica did, and wait until it is applied.
    Resync {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        target: TargetArg,
        /// Queue the data and return without waiting for the peers.
        #[arg(long)]
        no_wait: bool,
    },
    /// List versions or items that differ between regions (exit status 1 if any).
    Diff {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        target: TargetArg,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TANDEM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,s3s=off,hickory_server=warn"));
    // Colours only on a terminal, and never with NO_COLOR set.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tandem: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve {
                config,
                region,
                node,
                listen,
                data_dir,
            } => serve(config, region, node, listen, data_dir).await,
            Command::Dev { data_dir, port, site } => dev::run(&data_dir, port, site).await,
            Command::Edge(args) => edge_cmd::run(args).await,
            Command::Status { target, output } => status_cmd::status(&target.load().await?, output).await,
            Command::Replication { command } => replication(command).await,
            Command::Apply { config, dry_run, forget } => app_cmd::apply(&config.load().await?, dry_run, &forget, "plan").await,
            Command::State {
                command: StateCommand::Get { config, app, output },
            } => app_cmd::state_get(&config.load().await?, &app, output).await,
            Command::State {
                command:
                    StateCommand::History {
                        config,
                        app,
                        limit,
                        output,
                    },
            } => history_cmd::history(&config.load().await?, &app, limit as usize, output).await,
            Command::State {
                command:
                    StateCommand::Set {
                        config,
                        app,
                        state,
                        reason,
                        force,
                        fenced_for,
                    },
            } => match tandem_control::AppState::parse(&state) {
                Some(s) => {
                    let safety = app_cmd::SetSafety {
                        force,
                        fenced_for: fenced_for.map(std::time::Duration::from_secs),
                    };
                    app_cmd::state_set(&config.load().await?, &app, s.as_str(), &reason, safety).await
                }
                None => Err(format!("unknown state {state:?}: use active, fenced or failover")),
            },
            Command::Failover {
                config,
                app,
                planned,
                timeout,
                stay_fenced,
            } => {
                app_cmd::failover(
                    &config.load().await?,
                    &app,
                    planned,
                    stay_fenced,
                    std::time::Duration::from_secs(timeout),
                )
                .await
            }
            Command::Dns { config } => dns_cmd::run(&config).await,
            Command::Destroy { config, app, delete_data } => app_cmd::destroy(&config.load().await?, &app, delete_data).await,
            Command::Failback {
                config,
                app,
                timeout,
                stay_fenced,
            } => app_cmd::failback(&config.load().await?, &app, stay_fenced, std::time::Duration::from_secs(timeout)).await,
            Command::User { command } => user_cmd::run(command).await,
            Command::Drill {
                config,
                app,
                failure,
                steady,
                interval_ms,
                json,
            } => {
                let pacing = drill::Pacing {
                    steady: std::time::Duration::from_secs(steady),
                    interval: std::time::Duration::from_millis(interval_ms),
                };
                drill::run(&config.load().await?, &app, failure.failure()?, pacing, json.as_deref()).await
            }
        }
    });
    let code = match result {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("tandem: {message}");
            1
        }
    };
    // Exit without dropping the runtime. Dropping it shuts its timers down
    // while a task may still be inside `block_in_place` (a read waiting for
    // PostgreSQL): that task would resume into a stopped timer and panic.
    // Nothing is lost: every acknowledged write is durable, logs are unbuffered.
    std::mem::forget(runtime);
    std::process::exit(code)
}

async fn replication(command: ReplicationCommand) -> Result<(), String> {
    match command {
        ReplicationCommand::Backlog { config, output } => replication_cmd::backlog_as(&config.load().await?, output).await,
        ReplicationCommand::Resync { config, target, no_wait } => {
            replication_cmd::resync(&config.load().await?, target.target(), !no_wait).await
        }
        ReplicationCommand::Diff { config, target } => match replication_cmd::diff(&config.load().await?, target.target()).await? {
            true => Ok(()),
            false => Err("the regions differ".into()),
        },
    }
}

async fn serve(
    path: PathBuf,
    region: String,
    named: Option<String>,
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
) -> Result<(), String> {
    let config = Config::load(&path).map_err(|e| e.to_string())?;
    let region = config.region(&region).map_err(|e| e.to_string())?;
    let mut node = config.node(region);
    if let Some(name) = &named {
        let entry = region.named_node(name)?;
        node.listen = entry.listen;
        node.data_dir = entry.data_dir.clone().unwrap_or_else(|| region.data_dir.join("nodes").join(name));
    }
    if let Some(listen) = listen {
        node.listen = listen;
    }
    if let Some(dir) = data_dir {
        node.data_dir = dir;
    }
    let running = tandem_node::start(&node).await.map_err(|e| e.to_string())?;
    match &named {
        Some(name) => println!(
            "tandem: region {} node {name} listening on http://{}",
            node.region, running.local_addr
        ),
        None => println!("tandem: region {} listening on http://{}", node.region, running.local_addr),
    }
    dev::wait_for_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}
