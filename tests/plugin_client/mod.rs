//! Terraform's side of the plugin connection, for tests that drive the real provider binary
//! over gRPC without the `terraform` CLI: launch it with go-plugin's environment, parse the
//! handshake line, connect with AutoMTLS (a P-521 client certificate shaped like the one
//! Terraform generates, the server certificate pinned from the handshake), and call it through
//! the generated tfplugin5 client. Also: a raw-bytes gRPC codec (to send what prost would never
//! encode), a `hostup-sim` process, and schema types read back from GetSchema.
//!
//! Shared by tests/plugin_transport.rs (handshake, mTLS, Shutdown) and
//! tests/protocol_robustness/. Every wait is bounded: a call that does not answer fails the
//! test.
#![allow(dead_code)]

pub mod mtls;

pub use mtls::{terraform_client_cert, BoxError, ClientCert, RawCodec};

use std::collections::BTreeMap;
use std::future::Future;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hostup_provider::plugin::proto::plugin::grpc_controller_client::GrpcControllerClient;
use hostup_provider::plugin::proto::plugin::Empty;
use hostup_provider::plugin::proto::tfplugin5 as pb;
use hostup_provider::plugin::proto::tfplugin5::provider_client::ProviderClient;
use hostup_provider::plugin::value::{encode_msgpack, Type, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tonic::transport::Channel;

/// The provider binary cargo built for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-hostup");
/// go-plugin's magic cookie value for Terraform providers.
pub const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// Bound for any single call that should take milliseconds (generous for slow CI machines).
pub const DEADLINE: Duration = Duration::from_secs(10);
/// Largest message the test client sends or accepts: the server's own limit (256 MiB) plus
/// room, so that the server's limit, not the client's, is what a test meets.
pub const CLIENT_MAX_MESSAGE: usize = 512 << 20;

/// Awaits `fut` for at most `limit`; on expiry the test fails naming `what` (a hang is a bug).
pub async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("HANG: {what} did not answer within {limit:?}"),
    }
}

/// Awaits `fut` for at most [`DEADLINE`].
pub async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    within(DEADLINE, what, fut).await
}

// ------------------------------------------------------------------ AutoMTLS client side

/// The parsed handshake line `1|5|tcp|ADDR|grpc|CERT`.
pub struct Handshake {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The server certificate (DER), empty for plaintext.
    pub server_cert_der: Vec<u8>,
}

/// Parses the handshake line, failing the test on any deviation from go-plugin's format.
pub fn parse_handshake(line: &str) -> Handshake {
    let parts: Vec<&str> = line.split('|').collect();
    assert_eq!(parts.len(), 6, "handshake line has 6 fields: {line:?}");
    assert_eq!(parts[0], "1", "core protocol");
    assert_eq!(parts[1], "5", "app protocol");
    assert_eq!(parts[2], "tcp", "network");
    assert!(parts[3].starts_with("127.0.0.1:"), "address {:?}", parts[3]);
    assert_eq!(parts[4], "grpc");
    assert!(!parts[5].contains('='), "field 6 must not be padded");
    use base64::Engine as _;
    let server_cert_der = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(parts[5])
        .expect("field 6 is standard base64 without padding");
    Handshake {
        addr: parts[3].to_owned(),
        server_cert_der,
    }
}

/// Connects over TLS the way Terraform does (ALPN h2, SNI localhost, optional client cert) and
/// returns a gRPC channel plus the negotiated ALPN protocol.
pub async fn tls_channel(
    hs: &Handshake,
    client: Option<&ClientCert>,
) -> Result<(Channel, Option<Vec<u8>>), BoxError> {
    let tcp = TcpStream::connect(&hs.addr).await?;
    tcp.set_nodelay(true)?;
    mtls::tls_channel_over(Box::new(tcp), &hs.server_cert_der, client).await
}

// ------------------------------------------------------------------ the provider process

/// A running provider process connected over AutoMTLS, killed when dropped.
pub struct Plugin {
    child: Child,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_task: tokio::task::JoinHandle<()>,
    /// The gRPC channel (one mTLS connection), cheap to clone.
    pub channel: Channel,
    /// This launch's own temp directory: the processes a test launches share a parent (the
    /// test binary), and the provider's memory of shown warnings is kept per parent under the
    /// temp directory, so without it one launch would hide the warnings of another.
    _tmp: tempfile::TempDir,
}

impl Plugin {
    /// Launches the binary as Terraform does (cookie, `PLUGIN_PROTOCOL_VERSIONS`, AutoMTLS) with
    /// `extra` variables, reads the handshake line and connects. The test runner's own TF_LOG,
    /// HOSTUP_* etc. are removed so they cannot change the outcome.
    pub async fn launch(extra: &[(&str, &str)]) -> Plugin {
        let cert = terraform_client_cert();
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut cmd = Command::new(BIN);
        for var in [
            "TF_LOG",
            "TF_LOG_PROVIDER",
            "TF_LOG_PATH",
            "PLUGIN_MULTIPLEX_GRPC",
            "HOSTUP_API_KEY",
            "HOSTUP_ENDPOINT",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
            .env("PLUGIN_PROTOCOL_VERSIONS", "6,5")
            .env("PLUGIN_CLIENT_CERT", &cert.pem)
            .env("TMPDIR", tmp.path())
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn provider binary");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout piped"));
        // Drain stderr all along (a full pipe would block the provider) and keep it.
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut pipe = child.stderr.take().expect("stderr piped");
        let sink = stderr.clone();
        let stderr_task = tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = sink.lock() {
                    s.extend_from_slice(&buf[..n]);
                }
            }
        });
        let mut line = String::new();
        let n = bounded("the handshake line", stdout.read_line(&mut line))
            .await
            .expect("read stdout");
        assert!(n > 0, "stdout closed before the handshake line");
        // Keep draining stdout as go-plugin does (nothing should come; a full pipe would block).
        tokio::spawn(async move {
            let mut sink = Vec::new();
            let _ = stdout.read_to_end(&mut sink).await;
        });
        let hs = parse_handshake(line.trim_end());
        assert!(
            !hs.server_cert_der.is_empty(),
            "AutoMTLS: field 6 carries the server certificate"
        );
        let (channel, _alpn) = bounded("the mTLS connection", tls_channel(&hs, Some(&cert)))
            .await
            .expect("mTLS connect");
        Plugin {
            child,
            stderr,
            stderr_task,
            channel,
            _tmp: tmp,
        }
    }

    /// A tfplugin5 client on the connection, with message limits above the server's.
    pub fn client(&self) -> ProviderClient<Channel> {
        ProviderClient::new(self.channel.clone())
            .max_decoding_message_size(CLIENT_MAX_MESSAGE)
            .max_encoding_message_size(CLIENT_MAX_MESSAGE)
    }

    /// The provider's process id, to signal it as a terminal's Ctrl-C would.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// What the provider wrote to stderr so far.
    pub fn stderr(&self) -> String {
        let bytes = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Fails the test unless the process is alive, answers GetSchema with a provider schema
    /// within the deadline, and has not written "panic" to stderr. `after` names what was
    /// just done, for the failure message.
    pub async fn assert_healthy(&mut self, after: &str) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "CRASH: the provider exited ({status}) after {after}; stderr:\n{}",
                self.stderr()
            );
        }
        let schema = within(
            DEADLINE,
            &format!("GetSchema after {after}"),
            self.client()
                .get_schema(pb::get_provider_schema::Request {}),
        )
        .await
        .unwrap_or_else(|s| {
            panic!(
                "GetSchema failed after {after}: {s:?}; stderr:\n{}",
                self.stderr()
            )
        })
        .into_inner();
        assert!(
            schema.provider.and_then(|p| p.block).is_some(),
            "GetSchema after {after} has the provider schema"
        );
        let err = self.stderr();
        assert!(
            !err.to_ascii_lowercase().contains("panic"),
            "the provider wrote a panic to stderr after {after}:\n{err}"
        );
    }

    /// Calls GRPCController.Shutdown and checks that the process exits cleanly, without a
    /// panic on stderr.
    pub async fn shutdown(mut self) {
        bounded(
            "GRPCController.Shutdown",
            GrpcControllerClient::new(self.channel.clone()).shutdown(Empty {}),
        )
        .await
        .expect("Shutdown succeeds");
        let status = bounded("provider exit after Shutdown", self.child.wait())
            .await
            .expect("wait for the provider");
        let _ = bounded("stderr EOF", &mut self.stderr_task).await;
        let err = self.stderr();
        assert!(
            status.success(),
            "clean exit after Shutdown: {status}; stderr:\n{err}"
        );
        assert!(
            !err.to_ascii_lowercase().contains("panic"),
            "panic on stderr:\n{err}"
        );
    }
}

// ------------------------------------------------------------------ schema types

/// The implied cty type of a protocol schema block (configschema/implied_type.go), so tests
/// encode values against the schema the binary announces, as Terraform does.
pub fn block_type(block: &pb::schema::Block) -> Type {
    use pb::schema::nested_block::NestingMode;
    let mut attrs = BTreeMap::new();
    for a in &block.attributes {
        let ty = Type::from_json(&a.r#type).expect("attribute type JSON parses");
        attrs.insert(a.name.clone(), ty);
    }
    for nb in &block.block_types {
        let inner = block_type(nb.block.as_ref().expect("nested block has a block"));
        let ty = match NestingMode::try_from(nb.nesting).expect("nesting mode") {
            NestingMode::Single | NestingMode::Group => inner,
            NestingMode::List => Type::List(Box::new(inner)),
            NestingMode::Set => Type::Set(Box::new(inner)),
            NestingMode::Map => Type::Map(Box::new(inner)),
            NestingMode::Invalid => panic!("invalid nesting of {}", nb.type_name),
        };
        attrs.insert(nb.type_name.clone(), ty);
    }
    Type::Object(attrs)
}

/// An object of type `ty` (an object type) with every attribute null except `set`.
pub fn object(ty: &Type, set: &[(&str, Value)]) -> Value {
    let Type::Object(attrs) = ty else {
        panic!("not an object type: {ty:?}")
    };
    let mut m: BTreeMap<String, Value> = attrs.keys().map(|k| (k.clone(), Value::Null)).collect();
    for (k, v) in set {
        assert!(m.contains_key(*k), "no attribute {k} in {ty:?}");
        m.insert((*k).to_owned(), v.clone());
    }
    Value::Object(m)
}

/// `v` as the msgpack DynamicValue Terraform sends for type `ty`.
pub fn dynamic(v: &Value, ty: &Type) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: encode_msgpack(v, ty).expect("the value fits its type"),
        json: Vec::new(),
    })
}

/// GetSchema's answer, as Terraform asks first in every provider process.
pub async fn provider_schema(plugin: &Plugin) -> pb::get_provider_schema::Response {
    bounded(
        "GetSchema",
        plugin
            .client()
            .get_schema(pb::get_provider_schema::Request {}),
    )
    .await
    .expect("GetSchema")
    .into_inner()
}

/// The types of everything the provider serves, read from its GetSchema answer.
pub struct Types {
    /// The provider block.
    pub provider: Type,
    /// Resource type name → type.
    pub resources: BTreeMap<String, Type>,
    /// Data source type name → type.
    pub data_sources: BTreeMap<String, Type>,
}

impl Types {
    /// Asks the running provider for its schemas.
    pub async fn of(plugin: &Plugin) -> Types {
        let s = bounded(
            "GetSchema",
            plugin
                .client()
                .get_schema(pb::get_provider_schema::Request {}),
        )
        .await
        .expect("GetSchema")
        .into_inner();
        let of = |s: &pb::Schema| block_type(s.block.as_ref().expect("schema has a block"));
        Types {
            provider: of(s.provider.as_ref().expect("provider schema")),
            resources: s
                .resource_schemas
                .iter()
                .map(|(k, v)| (k.clone(), of(v)))
                .collect(),
            data_sources: s
                .data_source_schemas
                .iter()
                .map(|(k, v)| (k.clone(), of(v)))
                .collect(),
        }
    }

    /// The type of resource `name`.
    pub fn resource(&self, name: &str) -> &Type {
        self.resources
            .get(name)
            .unwrap_or_else(|| panic!("no resource type {name}"))
    }

    /// The type of data source `name`.
    pub fn data_source(&self, name: &str) -> &Type {
        self.data_sources
            .get(name)
            .unwrap_or_else(|| panic!("no data source type {name}"))
    }
}

// ------------------------------------------------------------------ raw gRPC

/// Sends `body` as the request message of `/tfplugin5.Provider/<method>` and returns the raw
/// response message (or the gRPC status).
pub async fn raw_call(
    channel: &Channel,
    method: &str,
    body: Vec<u8>,
) -> Result<Vec<u8>, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone())
        .max_decoding_message_size(CLIENT_MAX_MESSAGE)
        .max_encoding_message_size(CLIENT_MAX_MESSAGE);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path: http::uri::PathAndQuery = format!("/tfplugin5.Provider/{method}")
        .parse()
        .map_err(|_| tonic::Status::internal("bad method path"))?;
    grpc.unary(
        tonic::Request::new(bytes::Bytes::from(body)),
        path,
        RawCodec,
    )
    .await
    .map(|r| r.into_inner().to_vec())
}

// ------------------------------------------------------------------ hostup-sim

/// A running `hostup-sim` process on 127.0.0.1 (port 0), killed when dropped. Started the way
/// tests/support does (the binary, its first stdout line carries the address), but async.
pub struct Sim {
    child: Child,
    /// Origin, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    http: reqwest::Client,
}

impl Sim {
    /// Starts hostup-sim with extra CLI arguments.
    pub async fn start(args: &[&str]) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hostup-sim"))
            .args(["--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn hostup-sim");
        let mut stdout = BufReader::new(child.stdout.take().expect("sim stdout"));
        let mut line = String::new();
        bounded("hostup-sim's address line", stdout.read_line(&mut line))
            .await
            .expect("read sim address");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in sim's first line: {line:?}"))
            .trim_end_matches('/')
            .to_string();
        Sim {
            child,
            url,
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("admin client"),
        }
    }

    /// POSTs `body` to `path`: with `key` as a client outside Terraform would call the HostUp
    /// API, without it for the admin API (`/_sim/...`). Returns the answer's JSON (null when
    /// there is none).
    pub async fn post(
        &self,
        path: &str,
        key: Option<&str>,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let mut req = self.http.post(format!("{}{path}", self.url)).json(&body);
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        let resp = bounded(&format!("POST {path}"), req.send())
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        resp.json().await.unwrap_or(serde_json::Value::Null)
    }

    /// Number of requests the sim counted for `"METHOD /route/{template}"` (counted when
    /// answered).
    pub async fn count(&self, route: &str) -> u64 {
        let v: serde_json::Value = bounded(
            "sim counters",
            self.http.get(format!("{}/_sim/counters", self.url)).send(),
        )
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("GET /_sim/counters")
        .json()
        .await
        .expect("counters JSON");
        v.get(route)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    }
}
