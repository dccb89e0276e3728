//! `hostup-sim`: runs the local HostUp API (contract: docs/hostup-sim.md).
//!
//! A process of its own so terraform tests, the demo, benchmarks and users' offline CI can point
//! the provider at it; the first stdout line carries the bound address for whoever spawned it.

#![warn(missing_docs)]

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use hostup_provider::sim::{
    self, parse_duration, ApiKey, FaultKind, FaultRule, Faults, FixtureSource, GateCodeKey,
    JobInitialStatus, JobShape, JobTypes, SimConfig, SnapshotDeleteMode, SnapshotVisibility,
    VmIdForm,
};

/// A local HostUp API (VPS inventory, snapshots, backups, job polling) with an admin API under
/// /_sim/ and fault injection. The first stdout line is
/// `hostup-sim listening on http://HOST:PORT`; logs go to stderr. SIGINT/SIGTERM stop it
/// cleanly (exit 0) after saving --state-file. Durations are Go-style: 250ms, 2s, 1m30s, 24h (a
/// bare number is seconds). Full contract: docs/hostup-sim.md.
#[derive(Parser, Debug)]
#[command(name = "hostup-sim", version, about, long_about, after_help = AFTER_HELP)]
struct Cli {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to bind; 0 = any free port (read it from the first stdout line).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// JSON fixture file (docs/hostup-sim.md §5.2) instead of the built-in default set.
    #[arg(long, value_name = "FILE")]
    fixture: Option<PathBuf>,
    /// Add N generated VPSs (load-001 …) for load tests.
    #[arg(long, value_name = "N", default_value_t = 0)]
    extra_vps: usize,
    /// Add or redefine an API key: KEY=SCOPE[,SCOPE…] (repeatable).
    #[arg(long = "key", value_name = "KEY=SCOPES")]
    keys: Vec<ApiKey>,
    /// Drop the built-in keys (test-key, read-only-key, backup-only-key, admin-key).
    #[arg(long)]
    no_default_keys: bool,
    /// Snapshot lifetime (expiresAt = createdAt + TTL; expired snapshots vanish).
    #[arg(long, value_name = "DUR", default_value = "24h", value_parser = parse_duration)]
    snapshot_ttl: Duration,
    /// Time from job creation to completion; 0s = complete on first poll.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_duration)]
    job_duration: Duration,
    /// Body of GET /api/jobs/{id}: legacy | operation | bare.
    #[arg(long, value_name = "SHAPE", default_value = "legacy")]
    job_shape: JobShape,
    /// DELETE …/snapshots/{name}: async (202 + job) | sync (204).
    #[arg(long, value_name = "MODE", default_value = "async")]
    snapshot_delete: SnapshotDeleteMode,
    /// Status of a new job (202 and first polls): queued | pending (pending, then queued).
    #[arg(long, value_name = "STATUS", default_value = "queued")]
    job_initial_status: JobInitialStatus,
    /// `code` of gates without a code: null ("code": null) | omit (no code key).
    #[arg(long, value_name = "MODE", default_value = "null")]
    gate_code_key: GateCodeKey,
    /// When a snapshot being created is listed: completed (once its job completes) |
    /// immediate (at once, createdAt/expiresAt null until then).
    #[arg(long, value_name = "WHEN", default_value = "completed")]
    snapshot_visibility: SnapshotVisibility,
    /// Vocabulary of job `type`: current (snapshot_restore …) | legacy (snapshot_rollback …) |
    /// proxmox (qmrollback, vzdump …).
    #[arg(long, value_name = "VOCAB", default_value = "current")]
    job_types: JobTypes,
    /// Form of a job's `vmId`: public (vps_…) | numeric (legacy number as a string).
    #[arg(long, value_name = "FORM", default_value = "public")]
    vm_id: VmIdForm,
    /// Whether paginated lists carry `hasMore` beside `nextCursor`: true | false.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    has_more: bool,
    /// Requests per window per API key; 0 = off (and no X-RateLimit-* headers).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    rate_limit: u32,
    /// Length of the fixed rate-limit window.
    #[arg(long, value_name = "DUR", default_value = "1s", value_parser = parse_duration)]
    rate_window: Duration,
    /// Add a fault rule: KIND[:ARG][,count=N][,rate=P][,route=PATTERN][,method=M][,after]
    /// with KIND one of latency:MS, error:STATUS, html502, rate-limit:RETRY_AFTER, truncate,
    /// reset, busy[:CODE] (409 CODE, default job_in_progress; `,gates` closes the gates of list
    /// reads with CODE instead) (repeatable).
    #[arg(long = "fault", value_name = "SPEC")]
    fault: Vec<FaultRule>,
    /// Load faults from a JSON file (same body as POST /_sim/faults).
    #[arg(long, value_name = "FILE")]
    faults: Option<PathBuf>,
    /// Shortcut for --fault latency:N (all API requests).
    #[arg(long, value_name = "N", default_value_t = 0)]
    latency_ms: u64,
    /// The next N jobs fail.
    #[arg(long, value_name = "N", default_value_t = 0)]
    fail_next_jobs: u64,
    /// The next N jobs never finish (stay in_progress).
    #[arg(long, value_name = "N", default_value_t = 0)]
    stuck_next_jobs: u64,
    /// Failure message of failed jobs (default per job type, e.g. "Backup storage unavailable").
    #[arg(long, value_name = "TEXT")]
    fail_message: Option<String>,
    /// Use a seeded RNG for `rate` faults instead of even spreading.
    #[arg(long, value_name = "N")]
    fault_seed: Option<u64>,
    /// Load state from PATH on start (if it exists); save it on every change and on shutdown.
    #[arg(long, value_name = "PATH")]
    state_file: Option<PathBuf>,
    /// One line per API request on stderr (never the API key).
    #[arg(long)]
    log_requests: bool,
}

const AFTER_HELP: &str = "\
Built-in keys: test-key (read:vm, backup:vm, write:vm), read-only-key (read:vm),
backup-only-key (backup:vm), admin-key (read:all, write:all).

Default VPSs: app-01 vps_01hxa3b4c5d6e7f8g9h0j1k2m3 (snapshot before-upgrade, 1 backup),
web-01 …m4 (plan without snapshots), db-01 …m5 (slots and backup quota full),
staging-01 …m6 (pending order), cloud-01 …m7 (PAYG, unlimited backups).

Admin API (no key): GET /_sim/health, GET|DELETE /_sim/requests[?since=SEQ],
GET /_sim/counters, GET|POST|DELETE /_sim/faults, GET|PATCH /_sim/config,
POST /_sim/reset, GET /_sim/state, POST /_sim/jobs/{jobId}/complete,
POST /_sim/jobs/{jobId}/fail {\"message\":…}, DELETE /_sim/jobs/{jobId},
PATCH /_sim/vps/{id} {\"serviceStatus\",\"powerState\",\"revertAfterMs\"},
POST /_sim/vps/{id}/terminate, DELETE /_sim/vps/{id},
POST /_sim/vps/{id}/snapshots/{name}/expire.

Examples:
  hostup-sim --port 0 --job-duration 2s
  hostup-sim --fault error:503,rate=0.1 --fault html502,count=2,method=GET
  hostup-sim --fault busy:vps_not_ready,count=1,method=POST
  hostup-sim --rate-limit 10 --fail-next-jobs 1 --fail-message 'Backup storage unavailable'";

fn config(cli: Cli) -> Result<SimConfig, String> {
    let mut faults = match &cli.faults {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read faults file {}: {e}", path.display()))?;
            serde_json::from_str::<Faults>(&text)
                .map_err(|e| format!("faults file {} is not valid: {e}", path.display()))?
        }
        None => Faults::default(),
    };
    if cli.latency_ms > 0 {
        let mut r = FaultRule::new(FaultKind::Latency);
        r.ms = Some(cli.latency_ms);
        faults.rules.push(r);
    }
    faults.rules.extend(cli.fault);
    if cli.fail_next_jobs > 0 {
        faults.jobs.fail_next = cli.fail_next_jobs;
    }
    if cli.stuck_next_jobs > 0 {
        faults.jobs.stuck_next = cli.stuck_next_jobs;
    }
    if cli.fail_message.is_some() {
        faults.jobs.fail_message = cli.fail_message;
    }
    if cli.fault_seed.is_some() {
        faults.seed = cli.fault_seed;
    }
    faults.validate()?;
    Ok(SimConfig {
        host: cli.host,
        port: cli.port,
        fixture: cli
            .fixture
            .map(FixtureSource::File)
            .unwrap_or(FixtureSource::Default),
        keys: cli.keys,
        default_keys: !cli.no_default_keys,
        extra_vps: cli.extra_vps,
        snapshot_ttl: cli.snapshot_ttl,
        job_duration: cli.job_duration,
        job_shape: cli.job_shape,
        snapshot_delete: cli.snapshot_delete,
        rate_limit: cli.rate_limit,
        rate_window: cli.rate_window,
        faults,
        state_file: cli.state_file,
        log_requests: cli.log_requests,
        job_initial_status: cli.job_initial_status,
        gate_code_key: cli.gate_code_key,
        snapshot_visibility: cli.snapshot_visibility,
        job_types: cli.job_types,
        vm_id: cli.vm_id,
        has_more: cli.has_more,
    })
}

/// Installs the SIGINT/SIGTERM handlers and returns a future that resolves on either.
///
/// Installed before the address line is printed, so a signal sent by whoever read that line is
/// never met by the default action (death without saving the state file).
#[cfg(unix)]
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match config(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hostup-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hostup-sim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let stop = match stop_signal() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("hostup-sim: cannot install signal handlers: {e}");
                return ExitCode::FAILURE;
            }
        };
        let handle = match sim::start(config).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("hostup-sim: {e}");
                return ExitCode::FAILURE;
            }
        };
        {
            let mut out = std::io::stdout().lock();
            if writeln!(out, "hostup-sim listening on {}", handle.base_url())
                .and_then(|_| out.flush())
                .is_err()
            {
                // Whoever started us is gone; keep serving anyway (stdout is only the address).
            }
        }
        stop.await;
        eprintln!("hostup-sim: stopping");
        handle.shutdown().await;
        ExitCode::SUCCESS
    })
}
