//! A HostUp API that never answers, and awaiting the RPCs Stop should end.

use hostup_provider::plugin::proto::tfplugin5 as pb;
use tokio::io::AsyncReadExt;

use crate::plugin_client::{bounded, within};
use crate::AFTER_STOP;

/// A local TCP endpoint that accepts connections, reads the request and never answers: a
/// HostUp API that hangs. `hit` fires when a request has arrived, so a test knows the RPC is
/// waiting on it.
pub(crate) struct BlackHole {
    pub(crate) url: String,
    hits: tokio::sync::mpsc::UnboundedReceiver<()>,
    task: tokio::task::JoinHandle<()>,
}

impl BlackHole {
    pub(crate) async fn start() -> BlackHole {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, hits) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut s, _)) = listener.accept().await {
                let tx = tx.clone();
                held.push(tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut announced = false;
                    // Read whatever comes, never answer; the socket stays open until dropped.
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        if !announced {
                            announced = true;
                            let _ = tx.send(());
                        }
                    }
                }));
            }
        });
        BlackHole { url, hits, task }
    }

    /// Waits (bounded) until a request has reached the endpoint.
    pub(crate) async fn hit(&mut self, what: &str) {
        bounded(&format!("{what} reaching the API"), self.hits.recv())
            .await
            .expect("black hole running");
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An RPC future launched in the background, so Stop can be sent while it is in flight.
pub(crate) type InFlight<T> = tokio::task::JoinHandle<Result<T, tonic::Status>>;

/// Awaits an RPC that Stop should have ended, within [`AFTER_STOP`].
pub(crate) async fn after_stop<T>(what: &str, h: InFlight<T>) -> T {
    within(AFTER_STOP, &format!("{what} after Stop"), h)
        .await
        .expect("task")
        .unwrap_or_else(|s| panic!("{what}: gRPC error after Stop: {s:?}"))
}

pub(crate) fn mentions_stop(d: &[pb::Diagnostic]) -> bool {
    d.iter().any(|d| {
        let t = format!("{} {}", d.summary, d.detail).to_ascii_lowercase();
        t.contains("stop") || t.contains("cancel") || t.contains("interrupt")
    })
}
