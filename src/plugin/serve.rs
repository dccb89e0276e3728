//! The go-plugin server side: everything between `exec` by Terraform and the first RPC.
//!
//! Terraform starts a fresh provider process several times per command (2 per validate, 3 per
//! plan, 4 per apply), so start-up and shut-down are on the critical path: this module uses a
//! single-threaded tokio runtime, prints the handshake line as soon as the listener is bound,
//! sets `TCP_NODELAY` on every connection (without it each small gRPC reply can wait ~40 ms on
//! Nagle), and exits as soon as `GRPCController.Shutdown` has been answered.
//!
//! Transport: TCP on `127.0.0.1:0` (accepted by every go-plugin client on every OS, no socket file
//! to clean up, no path length limit), or on the first free port from `PLUGIN_MIN_PORT` to
//! `PLUGIN_MAX_PORT` when both are set, as go-plugin does. With `PLUGIN_CLIENT_CERT` set: TLS with
//! mutual authentication (see [`tls`]); without it (`TF_DISABLE_PLUGIN_TLS`, debug mode): plaintext
//! h2c.

mod handshake;
mod tls;

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::plugin::proto::plugin::grpc_controller_server::{GrpcController, GrpcControllerServer};
use crate::plugin::proto::plugin::grpc_stdio_server::{GrpcStdio, GrpcStdioServer};
use crate::plugin::proto::plugin::{Empty, StdioData};
use crate::plugin::proto::tfplugin5::provider_server::{Provider, ProviderServer};

pub use handshake::{negotiate, NegotiationError, MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};
pub use tls::{parse_client_cert, TlsSetupError};

/// Largest gRPC message accepted or sent, as terraform-plugin-go does: big configurations and
/// states exceed tonic's 4 MiB default and would fail with RESOURCE_EXHAUSTED.
pub const MAX_MESSAGE_SIZE: usize = 256 << 20;

/// How long in-flight RPCs may take to finish after Shutdown before the process exits anyway.
/// Terraform only calls Shutdown when it is done with the process, so normally nothing is in
/// flight and the exit is immediate; the cap keeps a stuck call from costing Terraform's 2 s
/// kill timeout.
const SHUTDOWN_DRAIN_CAP: Duration = Duration::from_millis(500);

/// A TLS handshake that has not completed by then is dropped, so a silent client cannot hold
/// resources forever (other connections are never blocked by it: handshakes run concurrently).
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How the plugin process presents itself; built by `main`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Provider source address, e.g. `"registry.terraform.io/hostup/hostup"`: the key of the
    /// `TF_REATTACH_PROVIDERS` line printed in debug mode, and named in logs.
    pub provider_address: String,
    /// Debug ("managed debug") mode, the `-debug` flag: no magic cookie needed, plaintext,
    /// prints `TF_REATTACH_PROVIDERS` instructions instead of the handshake line, and runs
    /// until SIGINT/SIGTERM so it can be attached to a debugger and to many Terraform runs.
    pub debug: bool,
}

impl ServeConfig {
    /// A normal (Terraform-managed) configuration for `provider_address`.
    pub fn new(provider_address: impl Into<String>) -> Self {
        Self {
            provider_address: provider_address.into(),
            debug: false,
        }
    }
}

/// Why serving stopped before or during start-up; printed on stderr, never a panic.
#[derive(Debug, thiserror::Error)]
enum ServeError {
    #[error(transparent)]
    Negotiation(#[from] handshake::NegotiationError),
    #[error(transparent)]
    Tls(#[from] tls::TlsSetupError),
    #[error("could not start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Ports(#[from] handshake::PortRangeError),
    #[error("could not listen on 127.0.0.1: {0}")]
    Listen(std::io::Error),
    #[error("could not write the plugin handshake to stdout: {0}")]
    Stdout(std::io::Error),
    #[error("could not install the signal handler: {0}")]
    Signal(std::io::Error),
    #[error("gRPC server failed: {0}")]
    Grpc(#[from] tonic::transport::Error),
}

/// Runs the provider as a go-plugin plugin until `GRPCController.Shutdown` (or, in debug mode,
/// SIGINT/SIGTERM) and returns the process exit code, so `main` is just
/// `serve(ServeConfig::new(ADDR), provider)`.
///
/// Terraform-managed mode (the default): checks the magic cookie (else go-plugin's explanation on
/// stderr, exit 1), negotiates protocol 5, survives SIGINT (Ctrl-C stops the operations in flight,
/// as the `Stop` RPC does, and the process keeps serving), exits when Terraform is gone without
/// calling Shutdown, serves TLS with client-certificate pinning when `PLUGIN_CLIENT_CERT` is
/// set, and prints the handshake line. The provider is served with 256 MiB message limits next
/// to go-plugin's GRPCController, GRPCStdio and grpc.health.v1 (`"plugin"` = SERVING).
pub fn serve<S>(config: ServeConfig, provider: S) -> ExitCode
where
    S: Provider,
{
    match run(config, provider) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = %e, "plugin server failed");
            let _ = writeln!(std::io::stderr().lock(), "Error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run<S: Provider>(config: ServeConfig, provider: S) -> Result<ExitCode, ServeError> {
    // Before the handshake line: once Terraform has read it, it may already be gone.
    // SAFETY: getppid has no preconditions and cannot fail.
    let parent = unsafe { libc::getppid() };
    let tls = if config.debug {
        None
    } else {
        if std::env::var_os(MAGIC_COOKIE_KEY).as_deref()
            != Some(std::ffi::OsStr::new(MAGIC_COOKIE_VALUE))
        {
            let _ = std::io::stderr()
                .lock()
                .write_all(handshake::NOT_A_PROGRAM.as_bytes());
            return Ok(ExitCode::FAILURE);
        }
        handshake::negotiate(std::env::var("PLUGIN_PROTOCOL_VERSIONS").ok().as_deref())?;
        ignore_sigint();
        match std::env::var("PLUGIN_CLIENT_CERT") {
            Ok(pem) if !pem.trim().is_empty() => Some(tls::server_tls(&pem)?),
            _ => None,
        }
    };

    // Bind before the runtime exists: nothing here needs it, and it keeps the handshake early.
    let ports = handshake::port_range(
        std::env::var("PLUGIN_MIN_PORT").ok().as_deref(),
        std::env::var("PLUGIN_MAX_PORT").ok().as_deref(),
    )?;
    let std_listener = bind_loopback(ports).map_err(ServeError::Listen)?;
    std_listener
        .set_nonblocking(true)
        .map_err(ServeError::Listen)?;
    let addr = std_listener.local_addr().map_err(ServeError::Listen)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(ServeError::Runtime)?;

    let result = runtime.block_on(async move {
        let listener = TcpListener::from_std(std_listener).map_err(ServeError::Listen)?;

        let announcement = if config.debug {
            handshake::reattach_instructions(&config.provider_address, std::process::id(), addr)
        } else {
            let mut line = handshake::line(addr, tls.as_ref().map(|t| t.cert_der.as_slice()));
            line.push('\n');
            line
        };
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(announcement.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(ServeError::Stdout)?;
        drop(stdout);
        tracing::debug!(
            address = %addr,
            tls = tls.is_some(),
            debug = config.debug,
            provider = %config.provider_address,
            "plugin server listening"
        );

        let shutdown = CancellationToken::new();
        let provider = Arc::new(provider);
        if config.debug {
            watch_termination_signals(shutdown.clone())?;
        } else {
            stop_on_sigint(Arc::clone(&provider))?;
            watch_parent(parent, Arc::clone(&provider), shutdown.clone());
        }
        serve_on(listener, tls, provider, shutdown).await
    });
    // Do not wait for stray tasks (a connection still draining after the cap): exit now.
    runtime.shutdown_background();
    result.map(|()| ExitCode::SUCCESS)
}

/// Logs every RPC at trace level as `tf_rpc=<method>` (`GetSchema`, `Configure`, …), the key
/// terraform-plugin-go uses, so `TF_LOG_PROVIDER=trace` shows which RPCs each process served.
/// No span: the event is the whole record, skipped when logging is off.
fn log_request(request: &http::Request<()>) -> tracing::Span {
    let path = request.uri().path();
    let rpc = path.rsplit('/').next().unwrap_or(path);
    tracing::trace!(tf_rpc = rpc, "received request");
    tracing::Span::none()
}

/// Listens on loopback: on the first free port of `ports` (go-plugin's `PLUGIN_MIN_PORT` to
/// `PLUGIN_MAX_PORT`, tried in order as go-plugin does), or on any port when there is no range.
fn bind_loopback(
    ports: Option<std::ops::RangeInclusive<u16>>,
) -> std::io::Result<std::net::TcpListener> {
    let bind = |port| std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    let Some(ports) = ports else {
        return bind(0);
    };
    let (first, last) = (*ports.start(), *ports.end());
    let mut error = None;
    for port in ports {
        match bind(port) {
            Ok(l) => return Ok(l),
            Err(e) => error = Some(e),
        }
    }
    let why = error.map_or_else(|| "empty range".to_owned(), |e| e.to_string());
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        format!(
            "no port in PLUGIN_MIN_PORT..PLUGIN_MAX_PORT ({first}-{last}) is free (last error: \
             {why})"
        ),
    ))
}

async fn serve_on<S: Provider>(
    listener: TcpListener,
    tls: Option<tls::ServerTls>,
    provider: Arc<S>,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;

    let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(Arc::clone(&t.config)));
    let incoming = accept_loop(listener, acceptor, shutdown.clone());

    let router = tonic::transport::Server::builder()
        .trace_fn(log_request)
        .add_service(
            ProviderServer::from_arc(provider)
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
        )
        .add_service(GrpcControllerServer::new(Controller {
            shutdown: shutdown.clone(),
        }))
        .add_service(GrpcStdioServer::new(Stdio {
            shutdown: shutdown.clone(),
        }))
        .add_service(health_service);

    let serving = router.serve_with_incoming_shutdown(incoming, shutdown.clone().cancelled_owned());
    let drain_cap = async {
        shutdown.cancelled().await;
        tokio::time::sleep(SHUTDOWN_DRAIN_CAP).await;
    };
    tokio::select! {
        r = serving => r.map_err(ServeError::from),
        () = drain_cap => {
            tracing::warn!("RPCs still running after shutdown; exiting anyway");
            Ok(())
        }
    }
}

/// Accepts TCP connections, sets `TCP_NODELAY`, and runs each TLS handshake in its own task
/// so that a slow or hostile client never delays the others. Yields ready connections.
fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    shutdown: CancellationToken,
) -> tokio_stream::wrappers::ReceiverStream<std::io::Result<Conn>> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                () = shutdown.cancelled() => return,
            };
            let stream = match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // E.g. EMFILE: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            };
            if let Err(e) = stream.set_nodelay(true) {
                tracing::warn!(error = %e, "could not set TCP_NODELAY");
            }
            match &acceptor {
                None => {
                    if tx.send(Ok(Conn::Plain(stream))).await.is_err() {
                        return;
                    }
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(tls)) => {
                                let _ = tx.send(Ok(Conn::Tls(Box::new(tls)))).await;
                            }
                            Ok(Err(e)) => {
                                tracing::warn!(error = %e, "TLS handshake with client failed");
                            }
                            Err(_) => tracing::warn!("TLS handshake with client timed out"),
                        }
                    });
                }
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// An accepted connection, plaintext or TLS, as one type for tonic.
enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        match self {
            Conn::Plain(s) => s.connect_info(),
            Conn::Tls(s) => s.get_ref().0.connect_info(),
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// go-plugin's controller: Terraform calls Shutdown when done with the process and kills it
/// 2 s later if it is still there, so Shutdown answers and then ends the server at once.
struct Controller {
    shutdown: CancellationToken,
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(
        &self,
        _request: tonic::Request<Empty>,
    ) -> Result<tonic::Response<Empty>, tonic::Status> {
        tracing::debug!("GRPCController.Shutdown received");
        // The server drains gracefully: this response is still sent before connections close.
        self.shutdown.cancel();
        Ok(tonic::Response::new(Empty {}))
    }
}

/// go-plugin's stdio forwarding. We never write to stdout/stderr through it (logs go to
/// stderr directly), so the stream stays silent and ends on shutdown, which lets the graceful
/// drain finish instead of waiting for this never-ending call.
struct Stdio {
    shutdown: CancellationToken,
}

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    async fn stream_stdio(
        &self,
        _request: tonic::Request<()>,
    ) -> Result<tonic::Response<tonic::codegen::BoxStream<StdioData>>, tonic::Status> {
        let token = self.shutdown.clone();
        let stream = futures_util::stream::unfold(token, |token| async move {
            token.cancelled().await;
            None::<(Result<StdioData, tonic::Status>, CancellationToken)>
        });
        Ok(tonic::Response::new(Box::pin(stream)))
    }
}

/// Makes Ctrl-C (SIGINT to the whole process group) leave the provider running, as go-plugin
/// servers do: Terraform then sends the `Stop` RPC and in-flight work ends cleanly.
fn ignore_sigint() {
    // SAFETY: installing SIG_IGN for SIGINT has no preconditions; it runs before any thread
    // or runtime exists, and SIG_IGN calls no code in this process.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
}

/// How often a Terraform-managed provider checks that Terraform is still its parent.
const PARENT_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Ctrl-C in a terminal reaches the whole process group, the provider included. Terraform sends
/// `Stop` for the operations it is applying, but not while `terraform apply` is still planning
/// (a read hanging on HostUp then lasted until its request timeout). Treating our own SIGINT as
/// `Stop` ends every wait and request in flight at once, whatever phase Terraform is in; the
/// process keeps serving, so Terraform can still save state and shut it down as usual.
fn stop_on_sigint<S: Provider>(provider: Arc<S>) -> Result<(), ServeError> {
    use crate::plugin::proto::tfplugin5::stop;
    use tokio::signal::unix::{signal, SignalKind};
    // Replaces the SIG_IGN installed at start (which covered the window before the runtime).
    let mut int = signal(SignalKind::interrupt()).map_err(ServeError::Signal)?;
    tokio::spawn(async move {
        while int.recv().await.is_some() {
            tracing::info!("SIGINT received: stopping operations in flight, as Stop does");
            if let Err(status) = provider.stop(tonic::Request::new(stop::Request {})).await {
                tracing::warn!(error = %status, "stop after SIGINT failed");
            }
        }
    });
    Ok(())
}

/// When Terraform dies without calling `Shutdown` (SIGKILL, a crash, an OOM kill), nothing else
/// tells the provider: it would live on as an orphan, holding its waits and sockets. Checking
/// the parent pid once a second notices the re-parenting, stops everything in flight, and exits.
fn watch_parent<S: Provider>(parent: libc::pid_t, provider: Arc<S>, shutdown: CancellationToken) {
    use crate::plugin::proto::tfplugin5::stop;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PARENT_CHECK_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.cancelled() => return,
            }
            // SAFETY: getppid has no preconditions and cannot fail.
            if unsafe { libc::getppid() } != parent {
                tracing::warn!(parent, "Terraform (the parent process) is gone: exiting");
                let _ = provider.stop(tonic::Request::new(stop::Request {})).await;
                shutdown.cancel();
                return;
            }
        }
    });
}

/// Debug mode runs until the developer stops it: SIGINT or SIGTERM end the server gracefully.
fn watch_termination_signals(shutdown: CancellationToken) -> Result<(), ServeError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt()).map_err(ServeError::Signal)?;
    let mut term = signal(SignalKind::terminate()).map_err(ServeError::Signal)?;
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        tracing::debug!("termination signal received");
        shutdown.cancel();
    });
    Ok(())
}
