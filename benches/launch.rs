//! Launch benchmarks: what Terraform pays every time it starts a provider process (2 times per
//! validate, 3 per plan, 4 per apply, see docs/ARCHITECTURE.md, "Targets"), measured the way Terraform's go-plugin
//! client does it, side by side for our binary and the peers bench/setup-peers builds.
//!
//! `cargo bench --bench launch` alone measures our own binary (20 runs). `bench/run` passes the
//! peers and the run counts:
//!
//! ```text
//! launch handshake --runs 40 --target ours=PATH --target null=PATH --floor --json out.json
//! launch session   --runs 40 --target ours=PATH --target null=PATH --json out.json
//! launch hyperfine --title validate ours=a.json null=b.json   # a table from hyperfine exports
//! launch job-schedule --job-secs 30 --job-secs 1800           # hcloud's poll schedule
//! ```
//!
//! * `handshake`: time from `spawn` to the handshake line on stdout, with only the magic cookie
//!   and `PLUGIN_PROTOCOL_VERSIONS` set, and with `PLUGIN_CLIENT_CERT` too (as Terraform launches
//!   it: the plugin then generates its server certificate before it can answer). The floor is
//!   `/bin/echo` of a handshake line through the same loop. Targets are interleaved per run so
//!   that drift of the shared machine hits every column alike.
//! * `session`: one whole launch as Terraform drives it for the schema load: handshake, TCP or
//!   unix connect, mutual TLS with a Terraform-shaped client certificate (ECDSA P-521, CA:true)
//!   and HTTP/2, the first GetSchema (tfplugin5 `GetSchema`, or tfplugin6 `GetProviderSchema` for a
//!   protocol-6 peer, through a raw-bytes codec so no peer proto is needed), warm GetSchema
//!   repeats, idle RSS, then `GRPCController.Shutdown`, connection close, and the time until the
//!   process has exited.
//!
//! Nothing here asserts a speed; it prints tables (markdown) and writes every sample as JSON.

use std::io::Read as _;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, Subcommand};
use serde_json::{json, Value};

// Terraform's side of AutoMTLS, shared with the tests (it uses nothing of the provider crate).
#[path = "../tests/plugin_client/mtls.rs"]
mod mtls;
use mtls::{terraform_client_cert, tls_channel_over, BoxError, ClientCert, Io, RawCodec};

/// go-plugin's magic cookie for Terraform providers.
const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// Bound for anything that normally takes milliseconds: a stuck peer fails the run, never hangs it.
const DEADLINE: Duration = Duration::from_secs(10);
/// What the floor target prints: a well-formed handshake line and nothing else.
const FLOOR_LINE: &str = "1|5|unix|/floor|grpc|";

/// Command line of the benchmark binary.
#[derive(Parser)]
#[command(about = "Provider launch benchmarks (handshake, GetSchema, Shutdown, RSS)")]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, global = true, hide = true)]
    bench: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Exec-to-handshake latency, cookie only and with PLUGIN_CLIENT_CERT.
    Handshake(HandshakeArgs),
    /// Handshake + mTLS connect + GetSchema + idle RSS + Shutdown-to-exit, per launch.
    Session(SessionArgs),
    /// Markdown table (median, min–max, CPU) from hyperfine `--export-json` files.
    Hyperfine(HyperfineArgs),
    /// hcloud's job poll schedule (0.5 s doubling to 60 s) and ours replayed against the sim's
    /// job model, for jobs of the given lengths.
    JobSchedule(JobScheduleArgs),
}

#[derive(clap::Args)]
struct HandshakeArgs {
    /// Timed spawns per target and mode.
    #[arg(long, default_value_t = 40)]
    runs: usize,
    /// Untimed spawns per target and mode first (page cache, dynamic loader).
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Pause between two spawns, as the peer-bench harness does (lets the killed process go).
    #[arg(long, default_value_t = 50)]
    pause_ms: u64,
    /// `NAME=PATH` of a provider binary; repeatable.
    #[arg(long = "target", value_parser = parse_target)]
    targets: Vec<Target>,
    /// Also time `/bin/echo` of a handshake line (the spawner's own floor).
    #[arg(long)]
    floor: bool,
    /// Write every sample here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(clap::Args)]
struct SessionArgs {
    /// Timed launches per target.
    #[arg(long, default_value_t = 40)]
    runs: usize,
    /// Untimed launches per target first.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Warm GetSchema calls per launch, after the first.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Idle time before reading RSS (after the handshake and again after the calls).
    #[arg(long, default_value_t = 100)]
    idle_ms: u64,
    /// Pause between two launches.
    #[arg(long, default_value_t = 50)]
    pause_ms: u64,
    /// `NAME=PATH` of a provider binary; repeatable.
    #[arg(long = "target", value_parser = parse_target)]
    targets: Vec<Target>,
    /// Write every sample here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(clap::Args)]
struct HyperfineArgs {
    /// Heading of the table's first column.
    #[arg(long, default_value = "command")]
    title: String,
    /// Column that the ratio columns divide by, e.g. `null` (repeatable).
    #[arg(long = "ratio-to")]
    ratio_to: Vec<String>,
    /// `LABEL=FILE` of a hyperfine `--export-json` file; repeatable, in table order.
    #[arg(value_parser = parse_labelled)]
    files: Vec<(String, PathBuf)>,
}

#[derive(clap::Args)]
struct JobScheduleArgs {
    /// Job lengths in seconds; repeatable.
    #[arg(long = "job-secs")]
    job_secs: Vec<f64>,
    /// Replays of our own schedule per length (each with fresh jitter draws).
    #[arg(long, default_value_t = 201)]
    replays: usize,
    /// Also a table over the 61 lengths len − 30 s … len + 30 s.
    #[arg(long)]
    spread: bool,
    /// Replay our planner with this `eta_target_percent` instead of the default (what-if).
    #[arg(long)]
    eta_target: Option<f64>,
}

/// A binary to launch, with the name used in tables.
#[derive(Clone, Debug)]
struct Target {
    name: String,
    program: PathBuf,
    args: Vec<String>,
}

fn parse_target(s: &str) -> Result<Target, String> {
    let (name, path) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=PATH, got {s:?}"))?;
    Ok(Target {
        name: name.to_owned(),
        program: PathBuf::from(path),
        args: Vec::new(),
    })
}

fn parse_labelled(s: &str) -> Result<(String, PathBuf), String> {
    let (name, path) = s
        .split_once('=')
        .ok_or_else(|| format!("expected LABEL=FILE, got {s:?}"))?;
    Ok((name.to_owned(), PathBuf::from(path)))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Some(Cmd::Handshake(a)) => handshake_bench(&a),
        Some(Cmd::Session(a)) => session_bench(&a),
        Some(Cmd::Hyperfine(a)) => hyperfine_table(&a),
        Some(Cmd::JobSchedule(a)) => {
            job_schedule(&a);
            if a.spread {
                println!();
                job_schedule_spread(&a);
            }
            Ok(())
        }
        None => own_binary_only(),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("launch bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `cargo bench --bench launch` without arguments: our binary only, fewer runs.
fn own_binary_only() -> Result<(), BoxError> {
    let ours = Target {
        name: "ours".to_owned(),
        program: PathBuf::from(env!("CARGO_BIN_EXE_terraform-provider-hostup")),
        args: Vec::new(),
    };
    handshake_bench(&HandshakeArgs {
        runs: 20,
        warmup: 2,
        pause_ms: 50,
        targets: vec![ours.clone()],
        floor: true,
        json: None,
    })?;
    session_bench(&SessionArgs {
        runs: 20,
        warmup: 2,
        repeats: 5,
        idle_ms: 100,
        pause_ms: 50,
        targets: vec![ours],
        json: None,
    })
}

// ---------------------------------------------------------------------------------------------
// Spawning like go-plugin

/// The environment go-plugin gives a plugin (on top of Terraform's own environment, minus
/// variables of the bench's caller that would change the plugin's behaviour).
fn plugin_command(target: &Target, client_cert_pem: Option<&str>) -> Command {
    let mut cmd = Command::new(&target.program);
    for var in [
        "TF_LOG",
        "TF_LOG_PROVIDER",
        "TF_LOG_PATH",
        "PLUGIN_CLIENT_CERT",
        "PLUGIN_MULTIPLEX_GRPC",
        "TF_REATTACH_PROVIDERS",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env("PLUGIN_MIN_PORT", "10000")
        .env("PLUGIN_MAX_PORT", "25000");
    if let Some(pem) = client_cert_pem {
        cmd.env("PLUGIN_CLIENT_CERT", pem);
    }
    cmd.args(&target.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    cmd
}

/// A spawned plugin: the child (killed on drop if still running), its stdout (kept open, as
/// Terraform keeps it: a Go plugin dies of SIGPIPE if its stdout is closed), the handshake line
/// and the time it took to appear.
struct Launched {
    child: Child,
    _stdout: ChildStdout,
    line: String,
    to_handshake: Duration,
}

impl Drop for Launched {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn launch(cmd: &mut Command) -> Result<Launched, BoxError> {
    let t0 = Instant::now();
    let mut child = cmd.spawn()?;
    let Some(mut stdout) = child.stdout.take() else {
        let _ = child.kill();
        let _ = child.wait();
        return Err("stdout was not piped".into());
    };
    let line = match read_handshake_line(&mut stdout, t0 + DEADLINE) {
        Ok(line) => line,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    let to_handshake = t0.elapsed();
    Ok(Launched {
        child,
        _stdout: stdout,
        line,
        to_handshake,
    })
}

/// A go-plugin handshake line starts with `CORE|APP|`.
fn is_handshake_line(line: &str) -> bool {
    let mut fields = line.split('|');
    let numeric =
        |f: Option<&str>| f.is_some_and(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    numeric(fields.next()) && numeric(fields.next()) && fields.next().is_some()
}

/// Reads stdout until a handshake line, with poll(2) so that a silent plugin costs the deadline
/// and not a hang, and without a helper thread inside the timed window.
fn read_handshake_line(stdout: &mut ChildStdout, deadline: Instant) -> Result<String, BoxError> {
    let fd = stdout.as_raw_fd();
    let mut pending: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = pending.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&raw).trim_end().to_owned();
            if is_handshake_line(&line) {
                return Ok(line);
            }
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err("no handshake line within the deadline".into());
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let timeout_ms = i32::try_from(remaining.as_millis())
            .unwrap_or(i32::MAX)
            .max(1);
        // SAFETY: `pfd` is a valid pollfd for the duration of the call; nfds is 1.
        let ready = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if ready < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e.into());
        }
        if ready == 0 {
            continue;
        }
        let n = stdout.read(&mut chunk)?;
        if n == 0 {
            return Err(format!(
                "stdout closed before a handshake line (got {:?})",
                String::from_utf8_lossy(&pending)
            )
            .into());
        }
        pending.extend_from_slice(&chunk[..n]);
    }
}

/// The fields of a handshake line that a client needs.
struct Handshake {
    app_protocol: u32,
    network: String,
    address: String,
    server_cert_der: Option<Vec<u8>>,
}

fn parse_handshake(line: &str) -> Result<Handshake, BoxError> {
    use base64::Engine as _;
    let fields: Vec<&str> = line.split('|').collect();
    if fields.len() < 5 {
        return Err(format!("handshake line with {} fields: {line:?}", fields.len()).into());
    }
    let app_protocol = fields[1].parse()?;
    let server_cert_der = match fields.get(5).copied().unwrap_or("") {
        "" => None,
        b64 => {
            let engine = base64::engine::GeneralPurpose::new(
                &base64::alphabet::STANDARD,
                base64::engine::GeneralPurposeConfig::new()
                    .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
            );
            Some(engine.decode(b64)?)
        }
    };
    Ok(Handshake {
        app_protocol,
        network: fields[2].to_owned(),
        address: fields[3].to_owned(),
        server_cert_der,
    })
}

fn rss_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(field)?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    })
}

// ---------------------------------------------------------------------------------------------
// handshake

fn handshake_bench(args: &HandshakeArgs) -> Result<(), BoxError> {
    let cert = terraform_client_cert();
    let mut targets = Vec::new();
    if args.floor {
        targets.push(Target {
            name: "floor (/bin/echo)".to_owned(),
            program: PathBuf::from("/bin/echo"),
            args: vec![FLOOR_LINE.to_owned()],
        });
    }
    targets.extend(args.targets.iter().cloned());
    if targets.is_empty() {
        return Err("no targets".into());
    }
    let modes: [(&str, Option<&str>); 2] = [("cookie", None), ("mtls", Some(cert.pem.as_str()))];
    // samples[target][mode]
    let mut samples = vec![[Vec::new(), Vec::new()]; targets.len()];
    let mut first_lines = vec![String::new(); targets.len()];
    for run in 0..args.warmup + args.runs {
        for (ti, target) in targets.iter().enumerate() {
            for (mi, (_, pem)) in modes.iter().enumerate() {
                let launched = launch(&mut plugin_command(target, *pem))
                    .map_err(|e| format!("{}: {e}", target.name))?;
                let took = launched.to_handshake;
                if first_lines[ti].is_empty() && pem.is_some() {
                    first_lines[ti] = shorten(&launched.line);
                }
                drop(launched); // SIGKILL + reap, outside the timed window
                if run >= args.warmup {
                    samples[ti][mi].push(took);
                }
                std::thread::sleep(Duration::from_millis(args.pause_ms));
            }
        }
    }

    println!(
        "### Exec to handshake line (ms, median (min–max), n = {})\n",
        args.runs
    );
    println!("| target | cookie + PLUGIN_PROTOCOL_VERSIONS only | + PLUGIN_CLIENT_CERT (as Terraform launches it) |");
    println!("|---|---|---|");
    let mut out = Vec::new();
    for (ti, target) in targets.iter().enumerate() {
        let [cookie, mtls] = &samples[ti];
        println!(
            "| {} | {} | {} |",
            target.name,
            fmt_stats(&stats(cookie)),
            fmt_stats(&stats(mtls))
        );
        out.push(json!({
            "target": target.name,
            "program": target.program,
            "handshake_line": first_lines[ti],
            "cookie": stats_json(cookie),
            "mtls": stats_json(mtls),
        }));
    }
    println!();
    write_json(
        args.json.as_ref(),
        &json!({ "runs": args.runs, "targets": out }),
    )
}

fn shorten(line: &str) -> String {
    match line.rsplit_once('|') {
        Some((head, cert)) if cert.len() > 16 => format!("{head}|<{} base64 chars>", cert.len()),
        _ => line.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// session

/// One launch, every phase timed.
#[derive(Default, Clone)]
struct SessionSample {
    handshake: Duration,
    connect: Duration,
    schema_first: Duration,
    schema_warm: Duration,
    shutdown_rpc: Duration,
    shutdown_to_exit: Duration,
    rss_after_handshake_kib: u64,
    rss_idle_kib: u64,
    hwm_kib: u64,
    schema_bytes: usize,
}

impl SessionSample {
    /// What Terraform pays for one schema-load launch (the idle pauses excluded).
    fn launch_total(&self) -> Duration {
        self.handshake + self.connect + self.schema_first + self.shutdown_to_exit
    }
}

fn session_bench(args: &SessionArgs) -> Result<(), BoxError> {
    if args.targets.is_empty() {
        return Err("no targets".into());
    }
    let cert = terraform_client_cert();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut samples: Vec<Vec<SessionSample>> = vec![Vec::new(); args.targets.len()];
    let mut notes: Vec<String> = vec![String::new(); args.targets.len()];
    for run in 0..args.warmup + args.runs {
        for (ti, target) in args.targets.iter().enumerate() {
            let sample = runtime
                .block_on(one_session(target, &cert, args))
                .map_err(|e| format!("{}: {e}", target.name))?;
            if notes[ti].is_empty() {
                notes[ti] = format!("schema {} B", sample.schema_bytes);
            }
            if run >= args.warmup {
                samples[ti].push(sample);
            }
            std::thread::sleep(Duration::from_millis(args.pause_ms));
        }
    }

    let col = |s: &[SessionSample], f: fn(&SessionSample) -> Duration| {
        stats(&s.iter().map(f).collect::<Vec<_>>())
    };
    println!(
        "### One launch over mTLS (ms, median (min–max), n = {})\n",
        args.runs
    );
    println!("| target | exec→handshake | connect (TCP/unix + mTLS + h2) | first GetSchema | warm GetSchema | Shutdown RPC | Shutdown→exit | launch total |");
    println!("|---|---|---|---|---|---|---|---|");
    for (ti, target) in args.targets.iter().enumerate() {
        let s = &samples[ti];
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            target.name,
            fmt_stats(&col(s, |x| x.handshake)),
            fmt_stats(&col(s, |x| x.connect)),
            fmt_stats(&col(s, |x| x.schema_first)),
            fmt_stats(&col(s, |x| x.schema_warm)),
            fmt_stats(&col(s, |x| x.shutdown_rpc)),
            fmt_stats(&col(s, |x| x.shutdown_to_exit)),
            fmt_stats(&col(s, SessionSample::launch_total)),
        );
    }
    println!(
        "\n### Provider memory after launch (MiB, median (min–max), n = {})\n",
        args.runs
    );
    println!("| target | RSS {} ms after handshake | RSS idle after GetSchema | peak (VmHWM) | schema size |", args.idle_ms);
    println!("|---|---|---|---|---|");
    let mut out = Vec::new();
    for (ti, target) in args.targets.iter().enumerate() {
        let s = &samples[ti];
        let mib = |f: fn(&SessionSample) -> u64| {
            let v: Vec<f64> = s.iter().map(|x| f(x) as f64 / 1024.0).collect();
            fmt_f64_stats(&v, 1)
        };
        println!(
            "| {} | {} | {} | {} | {} |",
            target.name,
            mib(|x| x.rss_after_handshake_kib),
            mib(|x| x.rss_idle_kib),
            mib(|x| x.hwm_kib),
            notes[ti]
        );
        let ms =
            |f: fn(&SessionSample) -> Duration| stats_json(&s.iter().map(f).collect::<Vec<_>>());
        let kib = |f: fn(&SessionSample) -> u64| s.iter().map(f).collect::<Vec<_>>();
        out.push(json!({
            "target": target.name,
            "program": target.program,
            "handshake": ms(|x| x.handshake),
            "connect": ms(|x| x.connect),
            "schema_first": ms(|x| x.schema_first),
            "schema_warm": ms(|x| x.schema_warm),
            "shutdown_rpc": ms(|x| x.shutdown_rpc),
            "shutdown_to_exit": ms(|x| x.shutdown_to_exit),
            "launch_total": ms(SessionSample::launch_total),
            "rss_after_handshake_kib": kib(|x| x.rss_after_handshake_kib),
            "rss_idle_kib": kib(|x| x.rss_idle_kib),
            "hwm_kib": kib(|x| x.hwm_kib),
            "schema_bytes": s.first().map(|x| x.schema_bytes),
        }));
    }
    println!();
    write_json(
        args.json.as_ref(),
        &json!({ "runs": args.runs, "idle_ms": args.idle_ms, "targets": out }),
    )
}

async fn one_session(
    target: &Target,
    cert: &ClientCert,
    args: &SessionArgs,
) -> Result<SessionSample, BoxError> {
    let mut sample = SessionSample::default();
    let mut launched = launch(&mut plugin_command(target, Some(&cert.pem)))?;
    sample.handshake = launched.to_handshake;
    let pid = launched.child.id();
    let hs = parse_handshake(&launched.line)?;

    tokio::time::sleep(Duration::from_millis(args.idle_ms)).await;
    sample.rss_after_handshake_kib = rss_kib(pid, "VmRSS:").unwrap_or(0);

    let t = Instant::now();
    let channel = tokio::time::timeout(DEADLINE, connect(&hs, cert))
        .await
        .map_err(|_| "connect timed out")??;
    sample.connect = t.elapsed();

    let schema_path = match hs.app_protocol {
        5 => "/tfplugin5.Provider/GetSchema",
        6 => "/tfplugin6.Provider/GetProviderSchema",
        p => return Err(format!("unknown app protocol {p}").into()),
    };
    let t = Instant::now();
    let body = unary(&channel, schema_path).await?;
    sample.schema_first = t.elapsed();
    sample.schema_bytes = body.len();
    let mut warm = Vec::with_capacity(args.repeats);
    for _ in 0..args.repeats {
        let t = Instant::now();
        unary(&channel, schema_path).await?;
        warm.push(t.elapsed());
    }
    sample.schema_warm = stats(&warm).map_or(Duration::ZERO, |s| s.median);

    tokio::time::sleep(Duration::from_millis(args.idle_ms)).await;
    sample.rss_idle_kib = rss_kib(pid, "VmRSS:").unwrap_or(0);
    sample.hwm_kib = rss_kib(pid, "VmHWM:").unwrap_or(0);

    // Terraform's go-plugin client: Shutdown, then close the connection, then wait (2 s) for
    // the process to exit before killing it.
    let exit = ExitWatch::new(pid)?;
    let t = Instant::now();
    let shutdown = unary(&channel, "/plugin.GRPCController/Shutdown").await;
    sample.shutdown_rpc = t.elapsed();
    drop(channel);
    if let Err(e) = shutdown {
        // A transport error here is normal when the server exits before its answer is read.
        if e.code() != tonic::Code::Unavailable && e.code() != tonic::Code::Unknown {
            return Err(format!("Shutdown failed: {e}").into());
        }
    }
    exit.wait(DEADLINE).await?;
    sample.shutdown_to_exit = t.elapsed();
    launched.child.wait()?;
    Ok(sample)
}

/// Waits for a child's exit without reaping it and without polling on a timer: a pidfd
/// becomes readable when the process ends.
struct ExitWatch {
    fd: tokio::io::unix::AsyncFd<OwnedFd>,
}

impl ExitWatch {
    fn new(pid: u32) -> Result<Self, BoxError> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; the child is not
        // reaped yet, so the pid still names it.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        let fd = i32::try_from(fd)?;
        // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: the OwnedFd moves into the AsyncFd and stays open, the same fd, until the
        // AsyncFd is dropped.
        let fd = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE)
        }
        .map_err(std::io::Error::from)?;
        Ok(Self { fd })
    }

    async fn wait(&self, bound: Duration) -> Result<(), BoxError> {
        let ready = tokio::time::timeout(bound, self.fd.readable())
            .await
            .map_err(|_| format!("process still running {bound:?} after Shutdown"))?;
        ready?.retain_ready();
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// gRPC client over mTLS with a raw-bytes codec

/// Connects the way Terraform does: the announced network and address, TLS with the announced
/// server certificate pinned, SNI localhost, ALPN h2, Terraform's client certificate; then
/// HTTP/2.
async fn connect(hs: &Handshake, cert: &ClientCert) -> Result<tonic::transport::Channel, BoxError> {
    let stream: Box<dyn Io> = match hs.network.as_str() {
        "tcp" => {
            let s = tokio::net::TcpStream::connect(&hs.address).await?;
            s.set_nodelay(true)?; // Go's net package sets TCP_NODELAY on every TCP conn
            Box::new(s)
        }
        "unix" => Box::new(tokio::net::UnixStream::connect(&hs.address).await?),
        other => return Err(format!("unknown network {other:?}").into()),
    };
    let server_der = hs
        .server_cert_der
        .clone()
        .ok_or("no server certificate in the handshake line although PLUGIN_CLIENT_CERT was set")?;
    let (channel, _alpn) = tls_channel_over(stream, &server_der, Some(cert)).await?;
    Ok(channel)
}

/// Sends an empty request message to `path` and returns the undecoded response message, so
/// the same client calls tfplugin5, tfplugin6 and go-plugin without their protos.
async fn unary(
    channel: &tonic::transport::Channel,
    path: &'static str,
) -> Result<Bytes, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone()).max_decoding_message_size(256 << 20);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("channel not ready: {e}")))?;
    let call = grpc.unary(
        tonic::Request::new(Bytes::new()),
        http::uri::PathAndQuery::from_static(path),
        RawCodec,
    );
    match tokio::time::timeout(DEADLINE, call).await {
        Ok(r) => r.map(tonic::Response::into_inner),
        Err(_) => Err(tonic::Status::deadline_exceeded(format!(
            "{path} took too long"
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// hyperfine tables

fn hyperfine_table(args: &HyperfineArgs) -> Result<(), BoxError> {
    let mut rows = Vec::new();
    for (label, path) in &args.files {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let r = v
            .get("results")
            .and_then(|r| r.get(0))
            .ok_or_else(|| format!("{}: no results", path.display()))?;
        let times: Vec<f64> = r
            .get("times")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_f64)
                    .map(|s| s * 1000.0)
                    .collect()
            })
            .unwrap_or_default();
        let num = |k: &str| r.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN) * 1000.0;
        let exit_codes: Vec<i64> = r
            .get("exit_codes")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        let failures = exit_codes.iter().filter(|&&c| c != 0).count();
        rows.push((label.clone(), times, num("user") + num("system"), failures));
    }
    let median_of = |label: &str| {
        rows.iter()
            .find(|r| r.0 == label)
            .and_then(|r| f64_stats(&r.1))
            .map(|s| s.0)
    };
    let ratio_cols: Vec<(String, Option<f64>)> = args
        .ratio_to
        .iter()
        .map(|l| (l.clone(), median_of(l)))
        .collect();
    print!(
        "| {} | wall ms, median (min–max) | n | CPU ms (user+sys, mean) |",
        args.title
    );
    for (l, _) in &ratio_cols {
        print!(" ÷ {l} |");
    }
    println!();
    println!("|---|---|---|---|{}", "---|".repeat(ratio_cols.len()));
    for (label, times, cpu, failures) in &rows {
        let n = if *failures > 0 {
            format!("{} ({} FAILED)", times.len(), failures)
        } else {
            times.len().to_string()
        };
        print!("| {label} | {} | {n} | {cpu:.0} |", fmt_f64_stats(times, 0));
        for (_, base) in &ratio_cols {
            match (f64_stats(times), base) {
                (Some((m, _, _)), Some(b)) if *b > 0.0 => print!(" {:.2} |", m / b),
                _ => print!(" – |"),
            }
        }
        println!();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// hcloud's poll schedule, the docs/ARCHITECTURE.md, "Targets" yardstick for job waits

fn job_schedule(args: &JobScheduleArgs) {
    println!(
        "| job length | hcloud polls (0.5 s doubling to 60 s) | detected at | detection latency \
         | ours: polls median (min–max) | ours: detection latency median (min–max) |"
    );
    println!("|---|---|---|---|---|---|");
    for &len in &args.job_secs {
        let (polls, at) = hcloud_schedule(len);
        let (our_polls, our_latency) = our_schedule(len, args.replays, args.eta_target);
        println!(
            "| {} s | {polls} | {at:.1} s | {:.1} s | {} | {} s |",
            len,
            at - len,
            fmt_f64_stats(&our_polls, 0),
            fmt_f64_stats(&our_latency, 2)
        );
    }
}

/// The same comparison over 61 job lengths around each length (len − 30 s … len + 30 s, 1 s
/// apart): where a 60 s poll lands relative to the job's end is luck of alignment, so one length
/// alone can flatter either schedule.
fn job_schedule_spread(args: &JobScheduleArgs) {
    println!(
        "| job lengths | hcloud polls median (min–max) | hcloud detection latency median (min–max) \
         | ours: polls median (min–max) | ours: detection latency median (min–max) |"
    );
    println!("|---|---|---|---|---|");
    for &len in &args.job_secs {
        let (mut hp, mut hl, mut op, mut ol) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for k in -30..=30 {
            let l = len + f64::from(k);
            if l <= 0.0 {
                continue;
            }
            let (p, at) = hcloud_schedule(l);
            hp.push(f64::from(p));
            hl.push(at - l);
            let (mut p, mut lat) = our_schedule(l, 5, args.eta_target);
            op.append(&mut p);
            ol.append(&mut lat);
        }
        println!(
            "| {} s ± 30 s | {} | {} s | {} | {} s |",
            len,
            fmt_f64_stats(&hp, 0),
            fmt_f64_stats(&hl, 1),
            fmt_f64_stats(&op, 0),
            fmt_f64_stats(&ol, 2)
        );
    }
}

/// Our client's poll planner (`PollSchedule::default()`, the one the provider uses) replayed by
/// `hostup::simulate_wait` against hostup-sim's job model (docs/hostup-sim.md; src/sim/state.rs):
/// `queued` with progress 0 for the first tenth of the job, then `in_progress` with progress
/// `floor(100·elapsed/len)` capped at 99, `completed` at `len`. Whole-percent progress, as the
/// sim reports it. Polls are instantaneous here; `replays` runs with different jitter draws.
/// Returns (polls, detection latency in s) per replay.
fn our_schedule(job_secs: f64, replays: usize, eta_target: Option<f64>) -> (Vec<f64>, Vec<f64>) {
    use hostup_provider::hostup::{simulate_wait, PollSchedule};
    let mut schedule = PollSchedule::default();
    if let Some(p) = eta_target {
        schedule.eta_target_percent = p;
    }
    let len = Duration::from_secs_f64(job_secs);
    let job = |t: Duration| -> (bool, Option<f64>) {
        if t >= len {
            return (true, Some(100.0));
        }
        let frac = t.as_secs_f64() / job_secs;
        if frac < 0.1 {
            (false, Some(0.0))
        } else {
            (false, Some((frac * 100.0).floor().min(99.0)))
        }
    };
    // A fixed xorshift stream: the same draws every run, spread over [0, 1).
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut jitter = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut polls = Vec::with_capacity(replays);
    let mut latency = Vec::with_capacity(replays);
    for _ in 0..replays.max(1) {
        let w = simulate_wait(&schedule, job, Some(len * 10), &mut jitter);
        polls.push(w.poll_times.len() as f64);
        latency.push(
            w.detected_at
                .map_or(f64::INFINITY, |d| d.as_secs_f64() - job_secs),
        );
    }
    (polls, latency)
}

/// Polls made (and the time of the first poll that sees completion) by a waiter that sleeps
/// 0.5 s, 1 s, 2 s, … capped at 60 s between polls, starting after the first sleep.
fn hcloud_schedule(job_secs: f64) -> (u32, f64) {
    let mut t = 0.0;
    let mut delay: f64 = 0.5;
    let mut polls = 0;
    loop {
        t += delay;
        polls += 1;
        if t >= job_secs {
            return (polls, t);
        }
        delay = (delay * 2.0).min(60.0);
    }
}

// ---------------------------------------------------------------------------------------------
// statistics

/// Median, min, max of a sample.
struct Stats {
    median: Duration,
    min: Duration,
    max: Duration,
    n: usize,
}

fn stats(samples: &[Duration]) -> Option<Stats> {
    if samples.is_empty() {
        return None;
    }
    let mut v = samples.to_vec();
    v.sort();
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    };
    Some(Stats {
        median,
        min: v[0],
        max: v[n - 1],
        n,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn fmt_stats(s: &Option<Stats>) -> String {
    match s {
        Some(s) => format!(
            "**{:.1}** ({:.1}–{:.1})",
            ms(s.median),
            ms(s.min),
            ms(s.max)
        ),
        None => "–".to_owned(),
    }
}

fn stats_json(samples: &[Duration]) -> Value {
    let s = stats(samples);
    json!({
        "median_ms": s.as_ref().map(|s| ms(s.median)),
        "min_ms": s.as_ref().map(|s| ms(s.min)),
        "max_ms": s.as_ref().map(|s| ms(s.max)),
        "n": s.as_ref().map_or(0, |s| s.n),
        "samples_ms": samples.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
    })
}

/// (median, min, max) of plain numbers.
fn f64_stats(v: &[f64]) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((median, v[0], v[n - 1]))
}

fn fmt_f64_stats(v: &[f64], decimals: usize) -> String {
    match f64_stats(v) {
        Some((m, lo, hi)) => format!("**{m:.decimals$}** ({lo:.decimals$}–{hi:.decimals$})"),
        None => "–".to_owned(),
    }
}

fn write_json(path: Option<&PathBuf>, value: &Value) -> Result<(), BoxError> {
    if let Some(path) = path {
        std::fs::write(path, serde_json::to_vec_pretty(value)?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
