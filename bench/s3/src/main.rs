//! `s3-load`: closed-loop S3 load generator used by `bench/s3/run.sh`.
//!
//! Runs SigV4-signed PUT or GET requests of one object size against one S3
//! endpoint with `--concurrency` requests in flight for `--duration` seconds
//! (after `--warmup` seconds that are not recorded), then prints one JSON line:
//! {"op","size","concurrency","ops","ops_per_sec","p50_ms","p99_ms","errors","client_cpu_pct",...}
//! `client_cpu_pct` is this process's user+system CPU time over the measured
//! wall time (100 = one full core), to show the generator is not the bottleneck;
//! `server_cpu_pct` is the same for `--server-pid` (null without it).
//! With `--rate N` the requests are paced to N per second in total (see
//! `load::Pacer`) and the line also carries `"rate":N`.

mod load;
mod sigv4;
mod stats;

use clap::{Parser, ValueEnum};
use hyper::Method;
use load::Target;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Op {
    Put,
    Get,
}

#[derive(Debug, Parser)]
#[command(about = "SigV4-signed closed-loop S3 PUT/GET load generator", args_override_self = true)]
struct Args {
    /// Server base URL, e.g. http://127.0.0.1:9000 (path-style addressing).
    #[arg(long)]
    endpoint: String,
    #[arg(long)]
    access_key: String,
    #[arg(long)]
    secret_key: String,
    /// SigV4 region in the credential scope.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    #[arg(long)]
    bucket: String,
    /// Create the bucket first (an "already exists" answer is accepted).
    #[arg(long)]
    create_bucket: bool,
    #[arg(long, value_enum)]
    op: Op,
    /// Object size in bytes.
    #[arg(long, default_value_t = 4096)]
    size: usize,
    /// Requests in flight (one per worker, each with a keep-alive connection).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Unmeasured seconds of load before the measured window.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Distinct keys: GET pre-populates this many objects; PUT cycles over
    /// about this many keys (each worker overwriting keys/concurrency of its
    /// own), which bounds disk/memory use on the server.
    #[arg(long, default_value_t = 1000)]
    keys: usize,
    /// Tokio worker threads of the generator (1 = current-thread runtime).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Sign with x-amz-content-sha256: UNSIGNED-PAYLOAD instead of the body hash.
    #[arg(long)]
    unsigned_payload: bool,
    /// Also report this process's CPU share over the measured window (the
    /// server under test, when it runs on this machine).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Per-request timeout in seconds (a timeout counts as an error).
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Target requests per second over all workers (paced from a shared
    /// schedule; late slots are caught up). Default: no limit (closed loop).
    #[arg(long)]
    rate: Option<f64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.concurrency == 0 || args.keys == 0 || args.threads == 0 || args.duration <= 0.0 {
        eprintln!("s3-load: --concurrency, --keys, --threads and --duration must be positive");
        return ExitCode::from(2);
    }
    if args.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        eprintln!("s3-load: --rate must be a positive number of requests per second");
        return ExitCode::from(2);
    }
    let rt = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .expect("tokio runtime");
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("s3-load: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let target = Arc::new(Target::new(
        &args.endpoint,
        (&args.access_key, &args.secret_key, &args.region),
        &args.bucket,
        args.size,
        args.unsigned_payload,
        Duration::from_secs_f64(args.timeout),
    )?);
    if args.create_bucket {
        target
            .session()
            .create_bucket()
            .await
            .map_err(|e| format!("create bucket {}: {e}", args.bucket))?;
    }
    let (method, prefix) = match args.op {
        Op::Put => (Method::PUT, format!("put-{}-", args.size)),
        Op::Get => (Method::GET, format!("get-{}-", args.size)),
    };
    if args.op == Op::Get {
        load::populate(target.clone(), prefix.clone(), args.keys, args.concurrency)
            .await
            .map_err(|e| format!("pre-populating {} keys: {e}", args.keys))?;
    }

    let load_start = Instant::now();
    let measure_from = load_start + Duration::from_secs_f64(args.warmup);
    let plan = Arc::new(load::Plan {
        method: method.clone(),
        prefix,
        concurrency: args.concurrency,
        keys: args.keys,
        measure_from,
        end: measure_from + Duration::from_secs_f64(args.duration),
        pacer: args.rate.map(|r| load::Pacer::new(load_start, r)),
    });
    let workers: Vec<_> = (0..args.concurrency)
        .map(|w| tokio::spawn(load::worker(target.clone(), plan.clone(), w)))
        .collect();

    tokio::time::sleep_until(measure_from).await;
    let cpu0 = stats::process_cpu_time(None).unwrap_or_default();
    let server_cpu0 = args.server_pid.and_then(|p| stats::process_cpu_time(Some(p)));
    let wall0 = Instant::now();
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut last_done = wall0;
    for w in workers {
        let s = w.await.map_err(|e| e.to_string())?;
        latencies.extend_from_slice(&s.latencies_us);
        errors += s.errors;
        last_done = last_done.max(s.last_done.unwrap_or(wall0));
    }
    let cpu = stats::process_cpu_time(None).unwrap_or_default().saturating_sub(cpu0);
    let server_cpu = args.server_pid.and_then(|p| stats::process_cpu_time(Some(p))).zip(server_cpu0);
    let wall = (Instant::now() - wall0).as_secs_f64().max(1e-9);
    let server_cpu_pct = match server_cpu {
        Some((after, before)) => format!("{:.1}", 100.0 * after.saturating_sub(before).as_secs_f64() / wall),
        None => "null".to_owned(),
    };
    let window = (last_done - measure_from).as_secs_f64().max(1e-9);

    latencies.sort_unstable();
    let ops = latencies.len();
    let rate = args.rate.map(|r| format!(r#","rate":{r}"#)).unwrap_or_default();
    println!(
        "{{\"op\":\"{}\",\"size\":{},\"concurrency\":{},\"ops\":{},\"ops_per_sec\":{:.1},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"errors\":{},\"client_cpu_pct\":{:.1},\"server_cpu_pct\":{},\"elapsed_s\":{:.3},\"threads\":{}{}}}",
        method.as_str().to_lowercase(),
        args.size,
        args.concurrency,
        ops,
        ops as f64 / window,
        stats::percentile_ms(&latencies, 0.50),
        stats::percentile_ms(&latencies, 0.99),
        errors,
        100.0 * cpu.as_secs_f64() / wall,
        server_cpu_pct,
        window,
        args.threads,
        rate,
    );
    Ok(())
}
