//! The three action RPCs (tfplugin5 5.10, Terraform 1.14 and later): ValidateActionConfig,
//! PlanAction and InvokeAction, over [`Action`](crate::plugin::framework::Action).
//!
//! What Terraform sends and expects, from its client (internal/plugin/grpc_provider.go of
//! v1.15.9, `PlanAction` l.1477-1520, `InvokeAction` l.1522-1593, `ValidateActionConfig`
//! l.1595-1630) and the graph nodes that call it:
//! - ValidateActionConfig carries the configuration of the validate walk, unknowns included
//!   (internal/terraform/node_action_validate.go l.118-123).
//! - PlanAction carries the configuration as planned. For `-invoke` Terraform refuses an
//!   unknown configuration itself before calling (node_action_invoke.go l.169-186); for an
//!   `action_trigger` the configuration may refer to values only known after apply
//!   (node_action_trigger_instance_plan.go l.161). Error diagnostics stop the plan
//!   (grpc_provider.go l.1504-1517).
//! - InvokeAction carries the configuration Terraform checked to be wholly known
//!   (node_action_trigger_instance_apply.go l.125-131) and reads the stream until it ends: each
//!   Progress event goes to the UI hook, each Completed event's diagnostics to the apply's
//!   (l.166-190); a gRPC error on the stream becomes a Completed error (grpc_provider.go
//!   l.1564-1570), and an event of no known type panics Terraform (l.1586-1587), so every event
//!   this server sends has its type set.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::plugin::diag::Diagnostics;
use crate::plugin::framework::{
    Ctx, InvokeActionRequest, InvokeActionResponse, ObjectValue, PlanActionRequest,
    PlanActionResponse, Progress, Provider,
};
use crate::plugin::proto::tfplugin5 as pb;

use super::values::*;
use super::*;

/// The InvokeAction stream: progress events, then one Completed event.
pub(super) type EventStream = tonic::codegen::BoxStream<pb::invoke_action::Event>;

/// Events waiting for Terraform to read them; past this, progress waits in the forwarder's
/// queue (a slow reader holds back progress, never the job).
const EVENT_BUFFER: usize = 16;

impl<P: Provider> ProviderService<P> {
    pub(super) fn action(
        &self,
        type_name: &str,
        diags: &mut Diagnostics,
    ) -> Option<&Entry<dyn crate::plugin::framework::Action<P::Data>>> {
        let e = self.actions.get(type_name);
        if e.is_none() {
            diags.error(
                "Unknown action type",
                format!(
                    "This provider has no action type {type_name:?}. Known types: {}.",
                    known(self.actions.keys())
                ),
            );
        }
        e
    }

    pub(super) async fn action_validation(
        &self,
        req: pb::validate_action_config::Request,
    ) -> pb::validate_action_config::Response {
        let mut diags = Diagnostics::new();
        if let Some(e) = self.action(&req.type_name, &mut diags) {
            let imp = Arc::clone(&e.imp);
            self.validate_with(
                req.config.as_ref(),
                &e.info,
                &mut diags,
                async |ctx, req, resp| imp.validate(ctx, req, resp).await,
            )
            .await;
        }
        pb::validate_action_config::Response {
            diagnostics: self.reply(&format!("action {}", req.type_name), diags),
        }
    }

    pub(super) async fn action_plan(
        &self,
        req: pb::plan_action::Request,
    ) -> pb::plan_action::Response {
        let mut diags = Diagnostics::new();
        if let Some(e) = self.action(&req.action_type, &mut diags) {
            if let Some(config) = decode(req.config.as_ref(), &e.info, "configuration", &mut diags)
            {
                let ctx = self.ctx();
                let mut resp = PlanActionResponse::default();
                let preq = PlanActionRequest {
                    config,
                    provider: self.provider_data(),
                };
                guarded("action plan", &mut diags, e.imp.plan(&ctx, preq, &mut resp)).await;
                diags.extend(resp.diagnostics);
            }
        }
        pb::plan_action::Response {
            diagnostics: self.reply(&format!("action {}", req.action_type), diags),
            deferred: None,
        }
    }

    /// Starts the action on a task of its own and returns the stream Terraform reads. A request
    /// that cannot run (unknown type, bad or unknown configuration) is one Completed event with
    /// the error: Terraform shows a stream's diagnostics, not a gRPC status, in the user's terms.
    pub(super) fn action_stream(&self, req: pb::invoke_action::Request) -> EventStream {
        let mut diags = Diagnostics::new();
        let (events, rx) = mpsc::channel(EVENT_BUFFER);
        let stream = Box::pin(ReceiverStream::new(rx));
        let started = self.action(&req.action_type, &mut diags).and_then(|e| {
            let config = decode(req.config.as_ref(), &e.info, "configuration", &mut diags)
                .filter(|c| wholly_known(c, &req.action_type, "configuration", &mut diags))?;
            Some((Arc::clone(&e.imp), config))
        });
        let Some((imp, config)) = started else {
            let _ = events.try_send(Ok(completed(diags)));
            return stream;
        };
        // Its own child of the Stop token, so that Terraform ceasing to read this stream (it
        // dropped the call) cancels this action and nothing else.
        let stop = self.ctx();
        let token = stop.token().child_token();
        let ctx = Ctx::new(token.clone(), stop.terraform_version().map(Arc::from));
        let provider = self.provider_data();
        tokio::spawn(async move {
            let _cancel_when_done = token.clone().drop_guard();
            run_action(imp, ctx, config, provider, events).await;
        });
        stream
    }
}

/// Runs one invocation and streams its progress as it comes, then its end.
///
/// Progress goes through a forwarder task of its own, so a reader slower than the job never
/// holds the job back (its waits and deadline keep running while events queue); the forwarder
/// keeps the order, and the Completed event goes out only after it has sent everything.
async fn run_action<D: Send + Sync + 'static>(
    imp: Arc<dyn crate::plugin::framework::Action<D>>,
    ctx: Ctx,
    config: ObjectValue,
    provider: crate::plugin::framework::ProviderData<D>,
    events: mpsc::Sender<Result<pb::invoke_action::Event, Status>>,
) {
    let (progress, messages) = Progress::channel();
    let (done, finished) = oneshot::channel();
    let forwarder = tokio::spawn(forward(messages, finished, events.clone()));
    let mut resp = InvokeActionResponse::new(progress);
    let mut diags = Diagnostics::new();
    let request = InvokeActionRequest { config, provider };
    let token = ctx.token().clone();
    {
        let run = guarded("action", &mut diags, imp.invoke(&ctx, request, &mut resp));
        tokio::pin!(run);
        let mut reading = true;
        loop {
            tokio::select! {
                biased;
                () = &mut run => break,
                // Terraform stopped reading (the call was dropped): end the action as Stop
                // would, and let it finish its own way.
                () = events.closed(), if reading => {
                    reading = false;
                    token.cancel();
                }
            }
        }
    }
    diags.extend(std::mem::take(&mut resp.diagnostics));
    drop(resp);
    // The invocation is over: what it sent is queued; a sender it leaked cannot hold the end.
    let _ = done.send(());
    let _ = forwarder.await;
    let _ = events.send(Ok(completed(diags))).await;
}

/// Sends the progress messages to the stream in order until the invocation is `finished`,
/// then what is still queued.
async fn forward(
    mut messages: mpsc::UnboundedReceiver<String>,
    mut finished: oneshot::Receiver<()>,
    events: mpsc::Sender<Result<pb::invoke_action::Event, Status>>,
) {
    loop {
        tokio::select! {
            biased;
            message = messages.recv() => match message {
                Some(m) => {
                    if events.send(Ok(progress_event(m))).await.is_err() {
                        return;
                    }
                }
                None => return,
            },
            _ = &mut finished => break,
        }
    }
    while let Ok(m) = messages.try_recv() {
        if events.send(Ok(progress_event(m))).await.is_err() {
            return;
        }
    }
}

fn progress_event(message: String) -> pb::invoke_action::Event {
    pb::invoke_action::Event {
        r#type: Some(pb::invoke_action::event::Type::Progress(
            pb::invoke_action::event::Progress { message },
        )),
    }
}

fn completed(diags: Diagnostics) -> pb::invoke_action::Event {
    pb::invoke_action::Event {
        r#type: Some(pb::invoke_action::event::Type::Completed(
            pb::invoke_action::event::Completed {
                diagnostics: diags.to_proto(),
            },
        )),
    }
}
