//! `dynamo-load`: closed-loop DynamoDB load generator used by `bench/dynamo/run.sh`.
//!
//! Sends SigV4-signed PutItem, GetItem or Query requests (JSON protocol) to
//! one endpoint from `--concurrency` workers, each with its own keep-alive
//! HTTP/1.1 connection and one request in flight, for `--duration` seconds
//! after `--warmup` unrecorded seconds. GetItem and Query runs first write
//! the `--items` items. Prints one JSON line:
//! {"op","concurrency","ops","ops_per_sec","p50_ms","p99_ms","errors","client_cpu_pct","server_cpu_pct",...}
//! CPU percentages are CPU time over the measured wall time (100 = one core):
//! `client_cpu_pct` for this process, `server_cpu_pct` for `--server-pid`.

mod client;
mod stats;
mod workload;

use clap::Parser;
use client::Endpoint;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use workload::{ErrorLog, Op, Requests, Window};

#[derive(Debug, Parser)]
#[command(about = "SigV4-signed closed-loop DynamoDB PutItem/GetItem/Query load generator")]
struct Args {
    /// Server base URL, e.g. http://127.0.0.1:8000.
    #[arg(long)]
    endpoint: String,
    #[arg(long)]
    access_key: String,
    #[arg(long)]
    secret_key: String,
    /// SigV4 region in the credential scope.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    #[arg(long, value_enum)]
    op: Op,
    /// Requests in flight (= workers = connections).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Unrecorded seconds of load before the measured window.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Distinct items (10 per partition); PutItem overwrites them in turn.
    #[arg(long, default_value_t = 1000)]
    items: usize,
    /// Bytes of each item's `data` attribute.
    #[arg(long, default_value_t = 200)]
    item_size: usize,
    /// Create the table first (an existing one is accepted) and wait until it is ACTIVE.
    #[arg(long)]
    create_table: bool,
    /// Also report the CPU share of this process (the server under test).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Runtime threads of the generator (1 = current-thread runtime).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Per-request timeout in seconds (a timeout counts as an error).
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.concurrency == 0 || args.items == 0 || args.threads == 0 || args.duration <= 0.0 || args.warmup < 0.0 {
        eprintln!("dynamo-load: --concurrency, --items, --threads and --duration must be positive");
        return ExitCode::from(2);
    }
    let runtime = match args.threads {
        1 => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        n => tokio::runtime::Builder::new_multi_thread().worker_threads(n).enable_all().build(),
    };
    match runtime.expect("tokio runtime").block_on(run(&args)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dynamo-load: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<String, String> {
    let endpoint = Arc::new(Endpoint::new(
        &args.endpoint,
        &args.access_key,
        &args.secret_key,
        &args.region,
        Duration::from_secs_f64(args.timeout),
    )?);
    if args.create_table {
        workload::create_table(endpoint.clone()).await?;
    }
    if args.op != Op::Put {
        let puts = Arc::new(Requests::new(Op::Put, args.items, args.item_size));
        workload::populate(endpoint.clone(), puts, args.concurrency)
            .await
            .map_err(|e| format!("writing the items: {e}"))?;
    }
    let reqs = Arc::new(Requests::new(args.op, args.items, args.item_size));

    let start = Instant::now() + Duration::from_secs_f64(args.warmup);
    let window = Arc::new(Window {
        start,
        end: start + Duration::from_secs_f64(args.duration),
    });
    let errors = Arc::new(ErrorLog::new());
    let n = args.concurrency;
    let workers: Vec<_> = (0..n)
        .map(|w| {
            tokio::spawn(workload::worker(
                endpoint.clone(),
                reqs.clone(),
                window.clone(),
                errors.clone(),
                w,
                n,
            ))
        })
        .collect();

    tokio::time::sleep_until(start).await;
    let server_pid = args.server_pid.map(|p| p.to_string());
    let cpu_at_start = (stats::cpu_seconds("self"), server_pid.as_deref().and_then(stats::cpu_seconds));
    let wall_at_start = Instant::now();
    let (mut latencies, mut failed, mut last_done) = (Vec::new(), 0, start);
    for w in workers {
        let t = w.await.map_err(|e| format!("worker: {e}"))?;
        latencies.extend(t.latencies_us);
        failed += t.errors;
        last_done = last_done.max(t.last_done.unwrap_or(start));
    }
    let wall = wall_at_start.elapsed().as_secs_f64().max(1e-9);
    let cpu_pct = |before: Option<f64>, pid: Option<&str>| match (before, pid.and_then(stats::cpu_seconds)) {
        (Some(b), Some(a)) => format!("{:.1}", 100.0 * (a - b) / wall),
        _ => "null".into(),
    };
    let client_cpu = cpu_pct(cpu_at_start.0, Some("self"));
    let server_cpu = cpu_pct(cpu_at_start.1, server_pid.as_deref());

    latencies.sort_unstable();
    let measured = (last_done - start).as_secs_f64().max(1e-9);
    Ok(format!(
        r#"{{"op":"{}","concurrency":{},"ops":{},"ops_per_sec":{:.1},"p50_ms":{:.3},"p99_ms":{:.3},"errors":{},"client_cpu_pct":{},"server_cpu_pct":{},"elapsed_s":{:.3},"items":{},"item_size":{},"threads":{}}}"#,
        args.op.name(),
        n,
        latencies.len(),
        latencies.len() as f64 / measured,
        stats::quantile_ms(&latencies, 0.50),
        stats::quantile_ms(&latencies, 0.99),
        failed,
        client_cpu,
        server_cpu,
        measured,
        args.items,
        args.item_size,
        args.threads,
    ))
}
