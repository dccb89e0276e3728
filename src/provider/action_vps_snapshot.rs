//! Action `hostup_vps_snapshot` (Terraform 1.14 and later): take a named snapshot of a VPS and
//! wait until HostUp has made it, with no resource in state.
//!
//! The snapshot is not managed afterwards: it stays on HostUp until it expires or is deleted
//! there (the resource of the same name manages one for its lifetime). The checks are the
//! resource's (name free, a snapshot slot, `canCreate`), at plan and again before the POST.

use async_trait::async_trait;
use serde::Deserialize;

use crate::hostup::{Client, CreateSnapshot};
use crate::plugin::framework::{
    Action, Ctx, Field, InvokeActionRequest, InvokeActionResponse, PlanActionRequest,
    PlanActionResponse, ValidateRequest, ValidateResponse,
};
use crate::plugin::schema::{Attribute, Block, Schema};

use super::data::HostupData;
use super::errors::{Paths, Subject};
use super::invoke::{self, timeout_argument, validate_timeout, Run};
use super::operation::{GateFuture, SendFuture};
use super::resource_vps_snapshot::{
    check_gate, duplicate, subject, validate_description, CheckedFor, CREATE, TYPE_NAME,
};
use super::values::{known, required, validate_snapshot_name, validate_vps_id};

/// The `hostup_vps_snapshot` action.
#[derive(Debug, Default)]
pub struct VpsSnapshotAction;

/// The action's configuration.
#[derive(Debug, Deserialize)]
struct Model {
    vps_id: Field<String>,
    name: Field<String>,
    description: Field<String>,
}

fn invoked(vps_id: &str, name: &str) -> Subject {
    subject(vps_id, name, "creation").invoked()
}

#[async_trait]
impl Action<HostupData> for VpsSnapshotAction {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .description(
                    "Takes a named snapshot of a HostUp VPS and waits until HostUp reports the \
                    snapshot job completed (Terraform 1.14 and later), e.g. right before \
                    another resource changes the VPS: `lifecycle { action_trigger { events = \
                    [before_update] actions = [action.hostup_vps_snapshot.NAME] } }`.\n\n\
                    Nothing is kept in the Terraform state: the snapshot stays on HostUp \
                    until it expires or is deleted there, and as HostUp snapshot names are \
                    unique per VPS, invoking the action again with the same `name` fails \
                    at plan until then (use a name that changes, e.g. with a timestamp). \
                    Plan checks that the name is free, that the VPS has a free snapshot \
                    slot and HostUp's gate (`canCreate`); the invocation checks again just \
                    before queuing, and waits within `timeout` while another job runs on \
                    the VPS. Progress is shown while it runs.\n\n\
                    Needs an API key with scopes `read:vm` and `backup:vm`.",
                )
                .attribute(
                    Attribute::string("vps_id")
                        .required()
                        .description("The VPS to snapshot (`vps_…`)."),
                )
                .attribute(Attribute::string("name").required().description(
                    "The snapshot's name, unique per VPS (letters, digits, `-` and `_`, e.g. \
                    `before-upgrade`).",
                ))
                .attribute(Attribute::string("description").optional().description(
                    "A description stored with the snapshot (at most 255 characters).",
                ))
                .attribute(timeout_argument(CREATE, "snapshot")),
        )
    }

    async fn validate(&self, _ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
        let diags = &mut resp.diagnostics;
        validate_timeout(&req.config, diags);
        let Some(m) = req.config.model::<Model>(diags) else {
            return;
        };
        validate_vps_id(&m.vps_id, diags);
        validate_snapshot_name(&m.name, "name", diags);
        validate_description(&m.description, diags);
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
        let (Some(data), Some(vps_id), Some(name)) =
            (req.provider.get(), known(&m.vps_id), known(&m.name))
        else {
            return;
        };
        // Claimed like the resource's create: a resource or another invocation of this plan
        // with the same name would be refused by HostUp after the first.
        if data.run.create_snapshot(vps_id, name, None).is_err() {
            resp.diagnostics.push(duplicate(vps_id, name));
            return;
        }
        let client = data.client(ctx);
        let check = check_gate(data, &client, vps_id, name, CheckedFor::Action, false).await;
        let subject = invoked(vps_id, name);
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
        let diags = &mut resp.diagnostics;
        let (Some(id), Some(n)) = (
            required(&m.vps_id, "vps_id", diags),
            required(&m.name, "name", diags),
        ) else {
            return;
        };
        let body = CreateSnapshot {
            name: n.to_owned(),
            description: m.description.as_deref().map(str::to_owned),
        };
        let paths = Paths::vps_and_target("name")
            .with_pointers(&[("/name", "name"), ("/description", "description")]);
        let run = Run {
            subject: invoked(id, n),
            timeout,
            gate: |c: Client| -> GateFuture<'_> {
                Box::pin(async move { check_gate(data, &c, id, n, CheckedFor::Action, true).await })
            },
            send: |c: Client| -> SendFuture<'_, _> {
                let body = &body;
                Box::pin(async move { c.create_snapshot(id, body).await })
            },
            refused: format!("Could not queue the snapshot {n:?} of VPS {id}"),
            paths: &paths,
        };
        invoke::run(data, ctx, run, resp).await;
    }
}
