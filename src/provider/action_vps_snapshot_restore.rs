//! Action `hostup_vps_snapshot_restore` (Terraform 1.14 and later): roll a VPS back to one of
//! its snapshots and wait until HostUp has done it, with no resource in state. Destructive:
//! PlanAction warns that the disk will be replaced.
//!
//! The checks are the resource's (the snapshot exists, or this run's plan creates it; the
//! restore gate `canRestore`), at plan and again before the POST.

use async_trait::async_trait;
use serde::Deserialize;

use crate::hostup::Client;
use crate::plugin::framework::{
    Action, Ctx, Field, InvokeActionRequest, InvokeActionResponse, PlanActionRequest,
    PlanActionResponse, ValidateRequest, ValidateResponse,
};
use crate::plugin::schema::{Attribute, Block, Schema};

use super::data::HostupData;
use super::errors::{Paths, RunBy, Subject};
use super::invoke::{self, timeout_argument, validate_timeout, Run};
use super::operation::{GateFuture, SendFuture};
use super::resource_vps_snapshot_restore::{
    check_gate, destructive_warning, subject, CREATE, TYPE_NAME,
};
use super::values::{known, required, validate_snapshot_name, validate_vps_id};

/// The `hostup_vps_snapshot_restore` action.
#[derive(Debug, Default)]
pub struct VpsSnapshotRestoreAction;

/// The action's configuration.
#[derive(Debug, Deserialize)]
struct Model {
    vps_id: Field<String>,
    snapshot_name: Field<String>,
}

fn invoked(vps_id: &str, name: &str) -> Subject {
    subject(vps_id, name).invoked()
}

#[async_trait]
impl Action<HostupData> for VpsSnapshotRestoreAction {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .description(
                    "Rolls a HostUp VPS back to one of its snapshots and waits until HostUp \
                    reports the rollback job completed (Terraform 1.14 and later), typically \
                    on demand: `terraform apply -invoke=action.hostup_vps_snapshot_restore.NAME`.\
                    \n\n**Warning: this is destructive. Invoking it replaces the VPS disk \
                    with the snapshot: everything written since the snapshot was taken is \
                    lost. It cannot be undone.** The plan warns about it every time.\n\n\
                    Plan fails at `snapshot_name` when the snapshot does not exist (listing \
                    the ones that do) or HostUp's restore gate (`canRestore`) is closed; the \
                    invocation checks again just before queuing, and waits within `timeout` \
                    while another job runs on the VPS. Progress is shown while it runs. \
                    Nothing is kept in the Terraform state.\n\n\
                    Needs an API key with scopes `read:vm` and `backup:vm`.",
                )
                .attribute(
                    Attribute::string("vps_id")
                        .required()
                        .description("The VPS to roll back (`vps_…`)."),
                )
                .attribute(Attribute::string("snapshot_name").required().description(
                    "Name of the snapshot to roll back to (e.g. `before-upgrade`), as listed \
                    by the `hostup_vps_snapshots` data source.",
                ))
                .attribute(timeout_argument(CREATE, "restore")),
        )
    }

    async fn validate(&self, _ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
        let diags = &mut resp.diagnostics;
        validate_timeout(&req.config, diags);
        let Some(m) = req.config.model::<Model>(diags) else {
            return;
        };
        validate_vps_id(&m.vps_id, diags);
        validate_snapshot_name(&m.snapshot_name, "snapshot_name", diags);
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
        let (vps_id, name) = (known(&m.vps_id), known(&m.snapshot_name));
        let unknown = "(known after apply)";
        resp.diagnostics.push(destructive_warning(
            vps_id.unwrap_or(unknown),
            name.unwrap_or(unknown),
            RunBy::Invoke,
        ));
        let (Some(data), Some(vps_id), Some(name)) = (req.provider.get(), vps_id, name) else {
            return;
        };
        let client = data.client(ctx);
        // A snapshot this plan creates (the resource, planned earlier in this process) is
        // accepted though it is not listed yet.
        let created_here = data.run.creates_snapshot(vps_id, name);
        let check = check_gate(data, &client, vps_id, name, created_here, false).await;
        resp.diagnostics
            .extend(check.into_plan_diagnostics(data, &invoked(vps_id, name)));
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
        let diags = &mut resp.diagnostics;
        let (Some(id), Some(n)) = (
            required(&m.vps_id, "vps_id", diags),
            required(&m.snapshot_name, "snapshot_name", diags),
        ) else {
            return;
        };
        let paths = Paths::vps_and_target("snapshot_name");
        let run = Run {
            subject: invoked(id, n),
            timeout,
            gate: |c: Client| -> GateFuture<'_> {
                Box::pin(async move { check_gate(data, &c, id, n, false, true).await })
            },
            send: |c: Client| -> SendFuture<'_, _> {
                Box::pin(async move { c.restore_snapshot(id, n).await })
            },
            refused: format!("Could not queue the restore of snapshot {n:?} on VPS {id}"),
            paths: &paths,
        };
        invoke::run(data, ctx, run, resp).await;
    }
}
