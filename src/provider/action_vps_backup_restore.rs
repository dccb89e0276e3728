//! Action `hostup_vps_backup_restore` (Terraform 1.14 and later): replace a VPS's disk with one
//! of its backups, or with a backup of another VPS, and wait until HostUp has done it, with no
//! resource in state. Destructive: PlanAction warns that the disk will be replaced.
//!
//! The checks are the resource's (the backup is listed; `canRestore` in place,
//! `canRestoreFromAnotherVps` from another VPS), at plan and again before the POST.

use async_trait::async_trait;
use serde::Deserialize;

use crate::hostup::{Client, RestoreFromVps};
use crate::plugin::framework::{
    Action, Ctx, Field, InvokeActionRequest, InvokeActionResponse, PlanActionRequest,
    PlanActionResponse, ValidateRequest, ValidateResponse,
};
use crate::plugin::schema::{Attribute, Block, Schema};

use super::data::HostupData;
use super::errors::{Paths, RunBy, Subject};
use super::invoke::{self, timeout_argument, validate_timeout, Run};
use super::operation::{GateFuture, SendFuture};
use super::resource_vps_backup_restore::{
    check_gate, destructive_warning, subject, validate_arguments, CREATE, TYPE_NAME,
};
use super::values::{known, required};

/// The `hostup_vps_backup_restore` action.
#[derive(Debug, Default)]
pub struct VpsBackupRestoreAction;

/// The action's configuration.
#[derive(Debug, Deserialize)]
struct Model {
    vps_id: Field<String>,
    backup_id: Field<String>,
    source_vps_id: Field<String>,
}

fn invoked(vps_id: &str, backup_id: &str, source: Option<&str>) -> Subject {
    subject(vps_id, backup_id, source).invoked()
}

#[async_trait]
impl Action<HostupData> for VpsBackupRestoreAction {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .description(
                    "Replaces the disk of a HostUp VPS with one of its backups, or with a \
                    backup of another VPS (`source_vps_id`), and waits until HostUp reports \
                    the restore job completed (Terraform 1.14 and later), typically on \
                    demand: `terraform apply -invoke=action.hostup_vps_backup_restore.NAME`.\
                    \n\n**Warning: this is destructive. Invoking it replaces the VPS disk \
                    with the backup: everything written since the backup was taken is lost. \
                    It cannot be undone.** The plan warns about it every time.\n\n\
                    Plan fails when the backup is not listed, or when HostUp's gate is \
                    closed (`canRestore` for a restore in place, `canRestoreFromAnotherVps` \
                    for one from another VPS); the invocation checks again just before \
                    queuing, and waits within `timeout` while another job runs on the VPS. \
                    Progress is shown while it runs. Nothing is kept in the Terraform \
                    state.\n\n\
                    Needs an API key with scopes `read:vm` and `backup:vm`.",
                )
                .attribute(
                    Attribute::string("vps_id")
                        .required()
                        .description("The VPS whose disk is replaced (`vps_…`)."),
                )
                .attribute(Attribute::string("backup_id").required().description(
                    "The backup to restore (`bkp_…`), as listed by the `hostup_vps_backups` \
                    or `hostup_vps_restore_sources` data source.",
                ))
                .attribute(Attribute::string("source_vps_id").optional().description(
                    "The VPS the backup belongs to, when it is not `vps_id` itself (a \
                    restore from another VPS); unset for a restore in place.",
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
        validate_arguments(&m.vps_id, &m.backup_id, &m.source_vps_id, diags);
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
        let (vps_id, backup_id) = (known(&m.vps_id), known(&m.backup_id));
        let source = m.source_vps_id.as_deref();
        let unknown = "(known after apply)";
        resp.diagnostics.push(destructive_warning(
            vps_id.unwrap_or(unknown),
            backup_id.unwrap_or(unknown),
            source,
            RunBy::Invoke,
        ));
        let (Some(data), Some(vps_id), Some(backup_id)) = (req.provider.get(), vps_id, backup_id)
        else {
            return;
        };
        if m.source_vps_id.is_unknown() {
            return;
        }
        let client = data.client(ctx);
        let check = check_gate(data, &client, vps_id, backup_id, source, false).await;
        resp.diagnostics
            .extend(check.into_plan_diagnostics(data, &invoked(vps_id, backup_id, source)));
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
        let (Some(id), Some(b)) = (
            required(&m.vps_id, "vps_id", diags),
            required(&m.backup_id, "backup_id", diags),
        ) else {
            return;
        };
        let source = m.source_vps_id.as_deref();
        let body = source.map(|s| RestoreFromVps {
            source_vps_id: s.to_owned(),
            backup_id: b.to_owned(),
        });
        let paths = Paths::vps_and_target("backup_id").with_pointers(&[
            ("/backupId", "backup_id"),
            ("/sourceVpsId", "source_vps_id"),
        ]);
        let run = Run {
            subject: invoked(id, b, source),
            timeout,
            gate: |c: Client| -> GateFuture<'_> {
                Box::pin(async move { check_gate(data, &c, id, b, source, true).await })
            },
            send: |c: Client| -> SendFuture<'_, _> {
                let body = &body;
                Box::pin(async move {
                    match body {
                        Some(body) => c.restore_backup_from_vps(id, body).await,
                        None => c.restore_backup(id, b).await,
                    }
                })
            },
            refused: format!("Could not queue the restore of backup {b} on VPS {id}"),
            paths: &paths,
        };
        invoke::run(data, ctx, run, resp).await;
    }
}
