//! The action RPCs over a toy provider: the stream's order, a panic, Stop, a reader that goes
//! away, and schema checks. tests/protocol_actions.rs drives the real binary against
//! hostup-sim.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::StreamExt as _;
use tonic::Request;

use super::*;
use crate::plugin::framework::{
    Action, ConfigureRequest, ConfigureResponse, DataSource, InvokeActionRequest,
    InvokeActionResponse, Resource,
};
use crate::plugin::proto::tfplugin5::provider_server::Provider as ProviderRpc;
use crate::plugin::schema::{Attribute, Block, Schema};
use crate::plugin::value::{encode_msgpack, Type, Value};

/// Its `mode` says what the invocation does: `burst` sends 100 progress messages and ends,
/// `panic` sends one and panics, `wait` sends one and waits for cancellation (recording it).
struct Toy {
    cancelled: Arc<AtomicBool>,
    seen: Arc<tokio::sync::Notify>,
    computed_action: bool,
}

/// `seen` is told when a `wait` invocation sees its cancellation (a permit is kept if nobody
/// waits yet).
struct Wait {
    cancelled: Arc<AtomicBool>,
    seen: Arc<tokio::sync::Notify>,
}

struct Computed;

#[async_trait::async_trait]
impl Provider for Toy {
    type Data = ();

    fn type_name_prefix(&self) -> &str {
        "toy"
    }

    fn schema(&self) -> Schema {
        Schema::new(Block::new())
    }

    async fn configure(&self, _: &Ctx, _: ConfigureRequest, resp: &mut ConfigureResponse<()>) {
        resp.data = Some(());
    }

    fn resources(&self) -> Vec<Arc<dyn Resource<()>>> {
        Vec::new()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<()>>> {
        Vec::new()
    }

    fn actions(&self) -> Vec<Arc<dyn Action<()>>> {
        let mut v: Vec<Arc<dyn Action<()>>> = vec![Arc::new(Wait {
            cancelled: self.cancelled.clone(),
            seen: self.seen.clone(),
        })];
        if self.computed_action {
            v.push(Arc::new(Computed));
        }
        v
    }
}

#[async_trait::async_trait]
impl Action<()> for Wait {
    fn type_name(&self) -> &str {
        "toy_wait"
    }

    fn schema(&self) -> Schema {
        Schema::new(Block::new().attribute(Attribute::string("mode").required()))
    }

    async fn invoke(
        &self,
        ctx: &Ctx,
        req: InvokeActionRequest<()>,
        resp: &mut InvokeActionResponse,
    ) {
        match req.config.string("mode") {
            Some("burst") => {
                for i in 0..100 {
                    resp.progress(format!("step {i}"));
                }
            }
            Some("flood") => {
                // Each message followed by an await, as a job waiter's are: the job goes on
                // while nobody reads them.
                for i in 0..100 {
                    resp.progress(format!("step {i}"));
                    tokio::task::yield_now().await;
                }
                self.seen.notify_one();
            }
            Some("panic") => {
                resp.progress("about to fail");
                panic!("toy action broke");
            }
            _ => {
                resp.progress("waiting");
                let why = ctx.cancelled().await;
                self.cancelled.store(true, Ordering::SeqCst);
                self.seen.notify_one();
                resp.diagnostics
                    .error("Wait interrupted", format!("job toy-1: {why}"));
            }
        }
    }
}

#[async_trait::async_trait]
impl Action<()> for Computed {
    fn type_name(&self) -> &str {
        "toy_computed"
    }

    fn schema(&self) -> Schema {
        Schema::new(Block::new().attribute(Attribute::string("out").computed()))
    }

    async fn invoke(&self, _: &Ctx, _: InvokeActionRequest<()>, _: &mut InvokeActionResponse) {}
}

fn service(computed_action: bool) -> (Arc<ProviderService<Toy>>, Arc<AtomicBool>) {
    let (svc, cancelled, _) = service_seen(computed_action);
    (svc, cancelled)
}

fn service_seen(
    computed_action: bool,
) -> (
    Arc<ProviderService<Toy>>,
    Arc<AtomicBool>,
    Arc<tokio::sync::Notify>,
) {
    let cancelled = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(tokio::sync::Notify::new());
    let svc = ProviderService::new(Toy {
        cancelled: cancelled.clone(),
        seen: seen.clone(),
        computed_action,
    });
    (Arc::new(svc), cancelled, seen)
}

fn config(mode: Value) -> Option<pb::DynamicValue> {
    let ty = Type::Object(BTreeMap::from([("mode".to_owned(), Type::String)]));
    let v = Value::Object(BTreeMap::from([("mode".to_owned(), mode)]));
    Some(pb::DynamicValue {
        msgpack: encode_msgpack(&v, &ty).expect("fits"),
        json: Vec::new(),
    })
}

async fn invoke(
    svc: &ProviderService<Toy>,
    mode: &str,
) -> tonic::codegen::BoxStream<pb::invoke_action::Event> {
    svc.invoke_action(Request::new(pb::invoke_action::Request {
        action_type: "toy_wait".into(),
        config: config(mode.into()),
        client_capabilities: None,
    }))
    .await
    .expect("a stream")
    .into_inner()
}

/// Progress messages, then the Completed diagnostics, failing on anything after Completed.
async fn drain(
    mut stream: tonic::codegen::BoxStream<pb::invoke_action::Event>,
) -> (Vec<String>, Vec<pb::Diagnostic>) {
    use pb::invoke_action::event::Type as T;
    let mut progress = Vec::new();
    let mut completed = None;
    while let Some(ev) = stream.next().await {
        assert!(completed.is_none(), "an event after Completed");
        match ev.expect("no gRPC error").r#type.expect("type set") {
            T::Progress(p) => progress.push(p.message),
            T::Completed(c) => completed = Some(c.diagnostics),
        }
    }
    (progress, completed.expect("ends with Completed"))
}

#[tokio::test]
async fn every_progress_message_arrives_in_order_before_completed() {
    let (svc, _) = service(false);
    let (progress, diags) = drain(invoke(&svc, "burst").await).await;
    let expected: Vec<String> = (0..100).map(|i| format!("step {i}")).collect();
    assert_eq!(progress, expected);
    assert!(diags.is_empty());
}

#[tokio::test]
async fn a_panic_is_a_completed_error_after_the_progress_sent() {
    let (svc, _) = service(false);
    let (progress, diags) = drain(invoke(&svc, "panic").await).await;
    assert_eq!(progress, ["about to fail"]);
    assert_eq!(diags.len(), 1);
    assert!(
        diags[0].detail.contains("toy action broke"),
        "{}",
        diags[0].detail
    );
    // The service still answers.
    let (progress, _) = drain(invoke(&svc, "burst").await).await;
    assert_eq!(progress.len(), 100);
}

#[tokio::test]
async fn stop_cancels_a_running_invocation() {
    let (svc, cancelled) = service(false);
    let mut stream = invoke(&svc, "wait").await;
    let first = stream.next().await.expect("an event").expect("ok");
    assert!(matches!(
        first.r#type,
        Some(pb::invoke_action::event::Type::Progress(_))
    ));
    svc.stop(Request::new(pb::stop::Request {}))
        .await
        .expect("stop");
    let (_, diags) = drain(stream).await;
    assert!(cancelled.load(Ordering::SeqCst));
    assert_eq!(diags.len(), 1);
    assert!(diags[0].detail.contains("toy-1"), "{}", diags[0].detail);
}

/// Terraform ceasing to read the stream (the call dropped) cancels that invocation.
#[tokio::test]
async fn a_dropped_stream_cancels_the_invocation() {
    let (svc, cancelled, seen) = service_seen(false);
    let mut stream = invoke(&svc, "wait").await;
    stream.next().await.expect("first progress").expect("ok");
    drop(stream);
    // The invocation sees its cancellation, then sends its Completed event into a closed
    // channel and ends (bounded: a hang fails the test).
    tokio::time::timeout(std::time::Duration::from_secs(10), seen.notified())
        .await
        .expect("the invocation was cancelled when its reader went away");
    assert!(cancelled.load(Ordering::SeqCst));
}

#[tokio::test]
async fn unknown_values_and_unknown_types_end_with_one_completed_error() {
    let (svc, cancelled) = service(false);
    let s = svc
        .invoke_action(Request::new(pb::invoke_action::Request {
            action_type: "toy_wait".into(),
            config: config(Value::unknown()),
            client_capabilities: None,
        }))
        .await
        .expect("stream")
        .into_inner();
    let (progress, diags) = drain(s).await;
    assert!(progress.is_empty());
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(
        diags[0].detail.contains("unknown values"),
        "{}",
        diags[0].detail
    );
    assert!(!cancelled.load(Ordering::SeqCst), "never invoked");
    let plan = svc
        .plan_action(Request::new(pb::plan_action::Request {
            action_type: "toy_nope".into(),
            config: None,
            client_capabilities: None,
        }))
        .await
        .expect("plan")
        .into_inner();
    assert_eq!(plan.diagnostics.len(), 1);
    assert!(plan.diagnostics[0].detail.contains("toy_wait"));
}

#[tokio::test]
async fn a_computed_action_argument_is_a_schema_error() {
    let (svc, _) = service(true);
    let schema = svc
        .get_schema(Request::new(pb::get_provider_schema::Request {}))
        .await
        .expect("schema")
        .into_inner();
    let errors: Vec<_> = schema
        .diagnostics
        .iter()
        .map(|d| d.detail.clone())
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("toy_computed") && e.contains("computed")),
        "{errors:?}"
    );
    assert!(schema.action_schemas.contains_key("toy_wait"));
}

/// A reader that does not keep up never holds the invocation back: with 100 messages unread
/// (more than the stream buffers), the action still runs to its end; the reader then gets
/// every message in order, then Completed.
#[tokio::test]
async fn a_slow_reader_does_not_stall_the_invocation() {
    let (svc, _, seen) = service_seen(false);
    let stream = invoke(&svc, "flood").await;
    tokio::time::timeout(std::time::Duration::from_secs(10), seen.notified())
        .await
        .expect("the invocation ran on while its progress was unread");
    let (progress, diags) = drain(stream).await;
    assert_eq!(progress.len(), 100);
    assert_eq!(progress[99], "step 99");
    assert!(diags.is_empty());
}
