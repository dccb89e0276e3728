//! The provider binary seen from Terraform's side of go-plugin: launch it with Terraform's
//! environment, parse the handshake line, connect over AutoMTLS (or h2c) and call it.
//! Every wait is bounded; nothing here measures speed except the Shutdown exit bound, which is
//! a correctness bound (Terraform kills a plugin that is still alive 2 s after Shutdown).

use std::process::Stdio;
use std::time::Duration;

use hostup_provider::plugin::proto::plugin::grpc_controller_client::GrpcControllerClient;
use hostup_provider::plugin::proto::plugin::Empty;
use hostup_provider::plugin::proto::tfplugin5::get_provider_schema;
use hostup_provider::plugin::proto::tfplugin5::provider_client::ProviderClient;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};
use tonic::transport::{Channel, Endpoint};

mod plugin_client;

use plugin_client::{
    parse_handshake, terraform_client_cert, tls_channel, ClientCert, BIN, COOKIE, DEADLINE,
};

/// A running provider process and its pipes.
struct Plugin {
    child: Child,
    stdout: BufReader<ChildStdout>,
    stderr: Option<ChildStderr>,
}

/// Starts the binary with only the given variables from Terraform's plugin environment (the
/// test runner's own TF_LOG etc. are removed so they cannot change the outcome).
fn launch(env: &[(&str, &str)], args: &[&str]) -> Plugin {
    let mut cmd = Command::new(BIN);
    for var in [
        "TF_PLUGIN_MAGIC_COOKIE",
        "PLUGIN_PROTOCOL_VERSIONS",
        "PLUGIN_CLIENT_CERT",
        "TF_LOG",
        "TF_LOG_PROVIDER",
        "PLUGIN_MULTIPLEX_GRPC",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawn provider binary");
    let stdout = BufReader::new(child.stdout.take().expect("stdout piped"));
    let stderr = child.stderr.take();
    Plugin {
        child,
        stdout,
        stderr,
    }
}

impl Plugin {
    /// The next stdout line (without newline), within the deadline.
    async fn line(&mut self) -> String {
        let mut line = String::new();
        let n = tokio::time::timeout(DEADLINE, self.stdout.read_line(&mut line))
            .await
            .expect("a stdout line within the deadline")
            .expect("read stdout");
        assert!(n > 0, "stdout closed before a line was printed");
        line.trim_end_matches('\n').to_owned()
    }

    /// Everything still to come on stdout until it closes.
    async fn rest_of_stdout(&mut self) -> String {
        let mut rest = String::new();
        tokio::time::timeout(DEADLINE, self.stdout.read_to_string(&mut rest))
            .await
            .expect("stdout closes within the deadline")
            .expect("read stdout");
        rest
    }

    async fn all_stderr(&mut self) -> String {
        let mut err = String::new();
        if let Some(mut s) = self.stderr.take() {
            tokio::time::timeout(DEADLINE, s.read_to_string(&mut err))
                .await
                .expect("stderr closes within the deadline")
                .expect("read stderr");
        }
        err
    }

    async fn wait(&mut self, bound: Duration) -> std::process::ExitStatus {
        tokio::time::timeout(bound, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("provider did not exit within {bound:?}"))
            .expect("wait for provider")
    }
}

async fn plain_channel(addr: &str) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("h2c connect")
}

async fn get_schema(channel: Channel) -> Result<get_provider_schema::Response, tonic::Status> {
    tokio::time::timeout(
        DEADLINE,
        ProviderClient::new(channel).get_schema(get_provider_schema::Request {}),
    )
    .await
    .map_err(|_| tonic::Status::deadline_exceeded("GetSchema took too long"))
    .map(|r| r.map(tonic::Response::into_inner))?
}

/// Terraform's normal launch: cookie, both protocols offered, AutoMTLS.
fn launch_managed(cert: &ClientCert, extra: &[(&str, &str)]) -> Plugin {
    let mut env = vec![
        ("TF_PLUGIN_MAGIC_COOKIE", COOKIE),
        ("PLUGIN_PROTOCOL_VERSIONS", "6,5"),
        ("PLUGIN_CLIENT_CERT", cert.pem.as_str()),
    ];
    env.extend_from_slice(extra);
    launch(&env, &[])
}

async fn shutdown(channel: Channel) {
    tokio::time::timeout(
        DEADLINE,
        GrpcControllerClient::new(channel).shutdown(Empty {}),
    )
    .await
    .expect("Shutdown answers within the deadline")
    .expect("Shutdown succeeds");
}

#[tokio::test]
async fn mtls_get_schema_with_terraform_shaped_cert_negotiates_h2() {
    let cert = terraform_client_cert();
    let mut plugin = launch_managed(&cert, &[]);
    let hs = parse_handshake(&plugin.line().await);
    assert!(
        hs.server_cert_der.len() > 50,
        "field 6 carries the server certificate"
    );

    let (channel, alpn) = tls_channel(&hs, Some(&cert)).await.expect("mTLS connect");
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]), "ALPN h2 negotiated");
    let schema = get_schema(channel.clone())
        .await
        .expect("GetSchema over mTLS");
    assert!(
        schema.provider.and_then(|p| p.block).is_some(),
        "provider schema with a block"
    );

    shutdown(channel).await;
    assert!(plugin.wait(DEADLINE).await.success());
    assert_eq!(
        plugin.rest_of_stdout().await,
        "",
        "nothing on stdout after the handshake line"
    );
}

#[tokio::test]
async fn mtls_refuses_other_client_cert_and_no_client_cert() {
    let cert = terraform_client_cert();
    let intruder = terraform_client_cert();
    let mut plugin = launch_managed(&cert, &[]);
    let hs = parse_handshake(&plugin.line().await);

    // In TLS 1.3 the client may finish its side before the server rejects the certificate, so
    // the refusal can surface at connect time or on the first call: either way no answer.
    let other = match tls_channel(&hs, Some(&intruder)).await {
        Ok((channel, _)) => get_schema(channel)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    assert!(other.is_err(), "a different client certificate is refused");

    let none = match tls_channel(&hs, None).await {
        Ok((channel, _)) => get_schema(channel)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    assert!(none.is_err(), "a client without certificate is refused");

    // The server is still healthy for the legitimate client afterwards.
    let (channel, _) = tls_channel(&hs, Some(&cert)).await.expect("mTLS connect");
    get_schema(channel.clone())
        .await
        .expect("GetSchema still works");
    shutdown(channel).await;
    plugin.wait(DEADLINE).await;
}

#[tokio::test]
async fn run_by_hand_explains_on_stderr_and_exits_1() {
    let mut plugin = launch(&[], &[]);
    let status = plugin.wait(DEADLINE).await;
    assert_eq!(status.code(), Some(1));
    assert_eq!(plugin.rest_of_stdout().await, "", "stdout stays empty");
    let err = plugin.all_stderr().await;
    assert!(
        err.contains("This binary is a plugin. These are not meant to be executed directly."),
        "stderr: {err:?}"
    );
}

#[tokio::test]
async fn protocol_6_only_is_refused_before_any_stdout() {
    let mut plugin = launch(
        &[
            ("TF_PLUGIN_MAGIC_COOKIE", COOKIE),
            ("PLUGIN_PROTOCOL_VERSIONS", "6"),
        ],
        &[],
    );
    let status = plugin.wait(DEADLINE).await;
    assert!(!status.success());
    assert_eq!(plugin.rest_of_stdout().await, "");
    assert!(plugin.all_stderr().await.contains("protocol 5"));
}

#[tokio::test]
async fn shutdown_ends_the_process_with_a_stdio_stream_open() {
    let cert = terraform_client_cert();
    let mut plugin = launch_managed(&cert, &[]);
    let hs = parse_handshake(&plugin.line().await);
    let (channel, _) = tls_channel(&hs, Some(&cert)).await.expect("mTLS connect");
    get_schema(channel.clone()).await.expect("GetSchema");
    // Keep a GRPCStdio stream open, as Terraform does for the whole session.
    let stdio = hostup_provider::plugin::proto::plugin::grpc_stdio_client::GrpcStdioClient::new(
        channel.clone(),
    )
    .stream_stdio(())
    .await
    .expect("StreamStdio opens");
    shutdown(channel).await;
    // How fast is a benchmark's question (docs/PERFORMANCE.md: ~1 ms); here: it exits, cleanly.
    let status = plugin.wait(DEADLINE).await;
    assert!(status.success(), "clean exit after Shutdown: {status:?}");
    drop(stdio);
}

/// A port held by the test, and the next one, free when this returns (some other process could
/// take it before the provider does; the OS hands out ephemeral ports at random, so unlikely).
fn busy_port_then_free_one() -> (std::net::TcpListener, u16) {
    for _ in 0..100 {
        let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a test port");
        let port = held.local_addr().expect("local addr").port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return (held, port + 1);
        }
    }
    panic!("no two neighbouring free ports on 127.0.0.1 in 100 tries");
}

#[tokio::test]
async fn plugin_port_range_is_honoured_and_busy_ports_skipped() {
    let (held, free) = busy_port_then_free_one();
    let busy = held.local_addr().expect("local addr").port();
    let (min, max) = (busy.to_string(), free.to_string());
    let cert = terraform_client_cert();
    let mut plugin = launch_managed(
        &cert,
        &[("PLUGIN_MIN_PORT", &min), ("PLUGIN_MAX_PORT", &max)],
    );
    let hs = parse_handshake(&plugin.line().await);
    assert_eq!(
        hs.addr,
        format!("127.0.0.1:{free}"),
        "the first free port of the range"
    );
    let (channel, _) = tls_channel(&hs, Some(&cert)).await.expect("mTLS connect");
    get_schema(channel.clone()).await.expect("GetSchema");
    shutdown(channel).await;
    assert!(plugin.wait(DEADLINE).await.success());
}

#[tokio::test]
async fn plugin_port_range_without_a_free_port_fails_clearly_before_stdout() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a test port");
    let busy = held.local_addr().expect("local addr").port().to_string();
    let cert = terraform_client_cert();
    for (min, max, expect) in [
        (
            busy.as_str(),
            busy.as_str(),
            format!("({busy}-{busy}) is free"),
        ),
        (
            "10",
            "nine",
            "PLUGIN_MAX_PORT=\"nine\" is not a TCP port".to_owned(),
        ),
        (
            "20",
            "10",
            "PLUGIN_MIN_PORT=20 is above PLUGIN_MAX_PORT=10".to_owned(),
        ),
    ] {
        let mut plugin =
            launch_managed(&cert, &[("PLUGIN_MIN_PORT", min), ("PLUGIN_MAX_PORT", max)]);
        let status = plugin.wait(DEADLINE).await;
        assert_eq!(status.code(), Some(1), "{min}-{max}");
        assert_eq!(plugin.rest_of_stdout().await, "", "no handshake line");
        let err = plugin.all_stderr().await;
        assert!(err.contains(&expect), "{min}-{max}: stderr {err:?}");
    }
    drop(held);
}

#[tokio::test]
async fn plaintext_when_no_client_cert() {
    let mut plugin = launch(
        &[
            ("TF_PLUGIN_MAGIC_COOKIE", COOKIE),
            ("PLUGIN_PROTOCOL_VERSIONS", "5,6"),
        ],
        &[],
    );
    let line = plugin.line().await;
    assert!(line.ends_with("|grpc|"), "field 6 empty: {line:?}");
    let hs = parse_handshake(&line);
    assert!(hs.server_cert_der.is_empty());
    let channel = plain_channel(&hs.addr).await;
    get_schema(channel.clone())
        .await
        .expect("GetSchema over h2c");
    shutdown(channel).await;
    assert!(plugin.wait(DEADLINE).await.success());
    assert_eq!(plugin.rest_of_stdout().await, "", "exactly one stdout line");
}

#[tokio::test]
async fn debug_mode_prints_reattach_line_and_serves_plaintext() {
    let mut plugin = launch(&[], &["-debug"]);
    let first = plugin.line().await;
    assert!(
        first.starts_with(
            "Provider started. To attach Terraform CLI, set the TF_REATTACH_PROVIDERS"
        ),
        "{first:?}"
    );
    let mut json = None;
    for _ in 0..4 {
        let l = plugin.line().await;
        if let Some(rest) = l.strip_prefix("\tTF_REATTACH_PROVIDERS='") {
            json = rest.strip_suffix('\'').map(str::to_owned);
            break;
        }
    }
    let json = json.expect("tab-indented TF_REATTACH_PROVIDERS line");
    let v: serde_json::Value = serde_json::from_str(&json).expect("reattach value is JSON");
    let p = &v["registry.terraform.io/hostup/hostup"];
    assert_eq!(p["Pid"].as_u64(), plugin.child.id().map(u64::from));
    assert_eq!(p["Protocol"], "grpc");
    assert_eq!(p["ProtocolVersion"], 5);
    assert_eq!(p["Test"], true);
    assert_eq!(p["Addr"]["Network"], "tcp");
    let addr = p["Addr"]["String"].as_str().expect("address string");

    get_schema(plain_channel(addr).await)
        .await
        .expect("GetSchema against the debug server");

    let pid = i32::try_from(plugin.child.id().expect("pid")).expect("pid fits");
    // SAFETY: sending SIGTERM to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    assert!(
        plugin.wait(DEADLINE).await.success(),
        "debug mode ends cleanly on SIGTERM"
    );
}

/// `2006-01-02T15:04:05.000000Z07:00`: exactly six fractional digits, `Z` or `±hh:mm`.
fn is_hclog_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    if b.len() < 27 {
        return false;
    }
    let head = digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..26);
    let tail = &s[26..];
    let tz = tail == "Z"
        || (tail.len() == 6
            && (tail.starts_with('+') || tail.starts_with('-'))
            && tail[1..3].bytes().all(|c| c.is_ascii_digit())
            && &tail[3..4] == ":"
            && tail[4..6].bytes().all(|c| c.is_ascii_digit()));
    head && tz
}

#[test]
fn timestamp_checker_rejects_wrong_precision() {
    assert!(is_hclog_timestamp("2026-11-22T15:04:05.123456Z"));
    assert!(is_hclog_timestamp("2026-11-22T15:04:05.123456+02:00"));
    assert!(!is_hclog_timestamp("2026-11-22T15:04:05.123Z"));
    assert!(!is_hclog_timestamp("2026-11-22T15:04:05.123456789Z"));
    assert!(!is_hclog_timestamp("2026-11-22T15:04:05Z"));
}

#[tokio::test]
async fn debug_logs_are_hclog_json_lines() {
    let cert = terraform_client_cert();
    let mut plugin = launch_managed(&cert, &[("TF_LOG", "debug")]);
    let hs = parse_handshake(&plugin.line().await);
    let (channel, _) = tls_channel(&hs, Some(&cert)).await.expect("mTLS connect");
    shutdown(channel).await;
    assert!(plugin.wait(DEADLINE).await.success());
    let err = plugin.all_stderr().await;
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "TF_LOG=debug produces log lines");
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
        let ts = v["@timestamp"].as_str().unwrap_or_default();
        assert!(is_hclog_timestamp(ts), "bad @timestamp {ts:?} in {line}");
        assert!(
            ["trace", "debug", "info", "warn", "error"]
                .contains(&v["@level"].as_str().unwrap_or_default()),
            "{line}"
        );
        assert!(v["@message"].is_string(), "{line}");
        assert_eq!(v["@module"], "provider.terraform-provider-hostup");
    }
}
