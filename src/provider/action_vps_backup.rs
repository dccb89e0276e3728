//! Action `hostup_vps_backup` (Terraform 1.14 and later): queue an offsite backup of a VPS and
//! wait until HostUp has completed it, with no resource in state.
//!
//! The resource of the same name is the stand-in for Terraforms without actions; this action
//! runs the same gate check (from the resource's file) at plan and again before the POST, and
//! streams the job's progress (see [`super::invoke`]).

use async_trait::async_trait;
use serde::Deserialize;

use crate::hostup::{Client, CreateBackup};
use crate::plugin::framework::{
    Action, Ctx, Field, InvokeActionRequest, InvokeActionResponse, PlanActionRequest,
    PlanActionResponse, ValidateRequest, ValidateResponse,
};
use crate::plugin::schema::{Attribute, Block, Schema};

use super::data::HostupData;
use super::errors::{Paths, Subject};
use super::invoke::{self, timeout_argument, validate_timeout, Run};
use super::operation::{GateFuture, SendFuture};
use super::resource_vps_backup::{check_gate, subject, validate_note, CREATE, TYPE_NAME};
use super::values::{known, required, validate_vps_id};

/// The `hostup_vps_backup` action.
#[derive(Debug, Default)]
pub struct VpsBackupAction;

/// The action's configuration.
#[derive(Debug, Deserialize)]
struct Model {
    vps_id: Field<String>,
    note: Field<String>,
}

fn invoked(vps_id: &str) -> Subject {
    subject(vps_id).invoked()
}

#[async_trait]
impl Action<HostupData> for VpsBackupAction {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .description(
                    "Queues an offsite backup of a HostUp VPS and waits until HostUp reports \
                    the backup job completed (Terraform 1.14 and later). Run it before \
                    another resource changes, with `lifecycle { action_trigger { events = \
                    [before_update] actions = [action.hostup_vps_backup.NAME] } }`, or on \
                    demand with `terraform apply -invoke=action.hostup_vps_backup.NAME`.\n\n\
                    Nothing is kept in the Terraform state: each invocation queues a new \
                    backup, and the backup stays on HostUp. Plan checks HostUp's backup gate \
                    (`canCreateBackup`: quota, plan, service status) and fails with HostUp's \
                    reason and code when a backup would be refused; the invocation checks it \
                    again just before queuing. While another job runs on the VPS the \
                    invocation waits for it, within `timeout`. Progress (the job id, then \
                    each change of the job's status) is shown while it runs.\n\n\
                    Needs an API key with scopes `read:vm` and `backup:vm`.",
                )
                .attribute(
                    Attribute::string("vps_id")
                        .required()
                        .description("The VPS to back up (`vps_…`)."),
                )
                .attribute(Attribute::string("note").optional().description(
                    "A note stored with the backup on HostUp (at most 255 characters), e.g. \
                    `Before upgrade`.",
                ))
                .attribute(timeout_argument(CREATE, "backup")),
        )
    }

    async fn validate(&self, _ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
        let diags = &mut resp.diagnostics;
        validate_timeout(&req.config, diags);
        let Some(m) = req.config.model::<Model>(diags) else {
            return;
        };
        validate_vps_id(&m.vps_id, diags);
        validate_note(&m.note, diags);
    }

    async fn plan(
        &self,
        ctx: &Ctx,
        req: PlanActionRequest<HostupData>,
        resp: &mut PlanActionResponse,
    ) {
        // A `timeout` unknown at validate is known here.
        validate_timeout(&req.config, &mut resp.diagnostics);
        let Some(m) = req.config.model::<Model>(&mut resp.diagnostics) else {
            return;
        };
        let (Some(data), Some(vps_id)) = (req.provider.get(), known(&m.vps_id)) else {
            return;
        };
        let client = data.client(ctx);
        let check = check_gate(data, &client, vps_id, false, None).await;
        let subject = invoked(vps_id);
        resp.diagnostics
            .extend(check.into_plan_diagnostics(data, &subject));
    }

    async fn invoke(
        &self,
        ctx: &Ctx,
        req: InvokeActionRequest<HostupData>,
        resp: &mut InvokeActionResponse,
    ) {
        let begun = invoke::begin::<Model>(&req, CREATE, &mut resp.diagnostics);
        let Some((data, timeout, m)) = begun else {
            return;
        };
        let Some(id) = required(&m.vps_id, "vps_id", &mut resp.diagnostics) else {
            return;
        };
        let body = CreateBackup {
            note: m.note.as_deref().map(str::to_owned),
        };
        let paths = Paths::vps().with_pointers(&[("/note", "note")]);
        let run = Run {
            subject: invoked(id),
            timeout,
            gate: |c: Client| -> GateFuture<'_> {
                Box::pin(async move { check_gate(data, &c, id, true, None).await })
            },
            send: |c: Client| -> SendFuture<'_, _> {
                let body = &body;
                Box::pin(async move { c.create_backup(id, body).await })
            },
            refused: format!("Could not queue the backup of VPS {id}"),
            paths: &paths,
        };
        invoke::run(data, ctx, run, resp).await;
    }
}
