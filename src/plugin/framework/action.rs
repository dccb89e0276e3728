//! Actions (tfplugin5 5.10, Terraform 1.14 and later): provider-defined operations that change
//! no state, declared in an `action "TYPE" "NAME" { config { … } }` block and run either from
//! `lifecycle { action_trigger { … } }` of a resource or with
//! `terraform apply -invoke=action.TYPE.NAME`.
//!
//! An action gets three calls from Terraform, each with the action's configuration only (there
//! is no prior state, no planned state and nothing computed to return):
//! - `validate` in the validate walk (values may be unknown);
//! - `plan` when a plan includes the action (values may still be unknown when the action's
//!   configuration refers to a resource this plan creates);
//! - `invoke` during apply, with a wholly known configuration; while it runs it sends progress
//!   messages, which Terraform shows as they come, and it ends with diagnostics.
//!
//! The server guarantees: `invoke` sees a wholly known configuration (anything else is answered
//! with an error without calling it); at least one progress message reaches Terraform before the
//! end when the action sends one; Stop cancels the [`Ctx`] of every action in flight, as it does
//! for every other operation, and the stream also ends when Terraform stops reading it; a panic is
//! an error diagnostic on the last event.
//!
//! ```
//! use async_trait::async_trait;
//! use hostup_provider::plugin::framework::{
//!     Action, Ctx, InvokeActionRequest, InvokeActionResponse,
//! };
//! use hostup_provider::plugin::schema::{Attribute, Block, Schema};
//!
//! struct Client;
//! struct Reboot;
//!
//! #[async_trait]
//! impl Action<Client> for Reboot {
//!     fn type_name(&self) -> &str {
//!         "hostup_vps_reboot"
//!     }
//!
//!     fn schema(&self) -> Schema {
//!         Schema::new(
//!             Block::new()
//!                 .description("Reboots a VPS.")
//!                 .attribute(Attribute::string("vps_id").required().description("The VPS.")),
//!         )
//!     }
//!
//!     async fn invoke(&self, ctx: &Ctx, req: InvokeActionRequest<Client>,
//!                     resp: &mut InvokeActionResponse) {
//!         let vps = req.config.string("vps_id").unwrap_or_default();
//!         resp.progress(format!("Rebooting VPS {vps}"));
//!         if let Err(why) = ctx.sleep(std::time::Duration::from_millis(1)).await {
//!             resp.diagnostics.error("VPS not rebooted", format!("VPS {vps}: {why}"));
//!         }
//!     }
//! }
//! ```

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{Ctx, ObjectValue, ProviderData, ValidateRequest, ValidateResponse};
use crate::plugin::diag::Diagnostics;
use crate::plugin::schema::Schema;

/// An action type (`action "hostup_…" "NAME" {}`).
///
/// Implement `type_name`, `schema` and `invoke`; `validate` and `plan` default to no checks.
#[async_trait]
pub trait Action<D: Send + Sync + 'static>: Send + Sync + 'static {
    /// The action type name, `<provider prefix>_<name>`; it may equal a resource type's name
    /// (actions live in their own namespace).
    fn type_name(&self) -> &str;

    /// The schema of the action's `config` block. Called once per process. Arguments only:
    /// an action has no state, so nothing may be computed (checked at start-up).
    fn schema(&self) -> Schema;

    /// Checks the configuration without side effects (values may be unknown).
    async fn validate(&self, ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
        let _ = (ctx, req, resp);
    }

    /// Checks, when a plan includes the action, that invoking it would work (values may be
    /// unknown; read what is known). An error stops the plan.
    async fn plan(&self, ctx: &Ctx, req: PlanActionRequest<D>, resp: &mut PlanActionResponse) {
        let _ = (ctx, req, resp);
    }

    /// Runs the action. Send progress with [`InvokeActionResponse::progress`]; errors in
    /// `resp.diagnostics` fail the apply.
    async fn invoke(&self, ctx: &Ctx, req: InvokeActionRequest<D>, resp: &mut InvokeActionResponse);
}

/// Input of [`Action::plan`].
#[derive(Debug)]
pub struct PlanActionRequest<D> {
    /// The action's configuration; may contain unknown values.
    pub config: ObjectValue,
    /// What the provider's configure produced (absent when the provider block is not known).
    pub provider: ProviderData<D>,
}

/// Output of [`Action::plan`].
#[derive(Debug, Default)]
pub struct PlanActionResponse {
    /// Errors stop the plan; warnings are shown.
    pub diagnostics: Diagnostics,
}

/// Input of [`Action::invoke`].
#[derive(Debug)]
pub struct InvokeActionRequest<D> {
    /// The action's configuration, wholly known.
    pub config: ObjectValue,
    /// What the provider's configure produced.
    pub provider: ProviderData<D>,
}

/// Output of [`Action::invoke`]: progress as it happens, diagnostics at the end.
#[derive(Debug)]
pub struct InvokeActionResponse {
    /// Sent to Terraform with the last event; errors fail the apply.
    pub diagnostics: Diagnostics,
    progress: Progress,
}

impl InvokeActionResponse {
    /// A response whose progress messages go to `progress` (the server builds these).
    pub fn new(progress: Progress) -> Self {
        InvokeActionResponse {
            diagnostics: Diagnostics::new(),
            progress,
        }
    }

    /// Sends a progress message to Terraform now (shown as
    /// `Action action.TYPE.NAME (triggered by …): MESSAGE`).
    pub fn progress(&self, message: impl Into<String>) {
        self.progress.send(message);
    }

    /// A handle that sends progress, for code that runs apart from the response (e.g. a job
    /// waiter's callback).
    pub fn progress_sender(&self) -> Progress {
        self.progress.clone()
    }
}

/// Sends an action's progress messages to the stream Terraform reads. Cheap to clone; a
/// message sent after Terraform stopped reading is dropped.
#[derive(Debug, Clone)]
pub struct Progress(Option<mpsc::UnboundedSender<String>>);

impl Progress {
    /// A sender and the receiver the server streams from.
    pub fn channel() -> (Progress, mpsc::UnboundedReceiver<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Progress(Some(tx)), rx)
    }

    /// A sender that drops every message (tests, callers with nobody listening).
    pub fn discard() -> Progress {
        Progress(None)
    }

    /// Sends one message.
    pub fn send(&self, message: impl Into<String>) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(message.into());
        }
    }
}

/// The problems with an action schema that Terraform would reject or that make no sense for
/// an action (nothing can be computed: Terraform never reads values back from an action).
pub(crate) fn schema_problems(schema: &Schema) -> Vec<String> {
    let mut errors = schema.validate_without_write_only();
    schema.block.each_attribute("", &mut |path, a| {
        if a.computed {
            errors.push(format!(
                "{path}: an action's arguments cannot be computed (an action has no state)"
            ));
        }
    });
    errors
}
