//! Resource `hostup_vps_snapshot`: a named snapshot of a VPS, created and deleted through
//! HostUp's snapshot jobs.
//!
//! Completes the "snapshot, upgrade, roll back if needed" workflow: unlike the action-style
//! resources, this one manages a real object. Create waits for the snapshot job; destroy
//! deletes the snapshot; refresh drops a snapshot that expired (HostUp keeps them about 24
//! hours) so the next plan creates it again.

use std::time::Duration;

use async_trait::async_trait;

use crate::hostup::{Client, CreateSnapshot, Snapshot, SnapshotList};
use crate::plugin::diag::{AttributePath, Diagnostic};
use crate::plugin::framework::{
    timeouts, CreateRequest, CreateResponse, Ctx, DeleteRequest, DeleteResponse, ImportRequest,
    ImportResponse, ObjectValue, PlanRequest, PlanResponse, ReadRequest, ReadResponse, Resource,
    UpdateRequest, UpdateResponse, ValidateRequest, ValidateResponse,
};
use crate::plugin::schema::{Attribute, Block, Schema};
use crate::plugin::value::Value;

use super::common::{
    known_str, no_gate, opt_str, parse_time, post_error, prepare, read_then_check, required_strs,
    split_import_id, timeouts_block, validate_snapshot_name, validate_vps_id, vps_id_argument,
    GateCheck, GateFuture, HostupData, SendFuture,
};
use super::errors::{api_error, Paths, Subject};

/// Type name.
pub const TYPE_NAME: &str = "hostup_vps_snapshot";
/// Default `timeouts.create`.
pub const DEFAULT_CREATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Default `timeouts.delete`.
pub const DEFAULT_DELETE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const MAX_DESCRIPTION: usize = 255;

/// The `hostup_vps_snapshot` resource.
#[derive(Debug, Default)]
pub struct VpsSnapshot;

fn subject(vps_id: &str, name: &str, what: &str) -> Subject {
    Subject::new(TYPE_NAME, vps_id, format!("{what} of snapshot {name:?}"))
}

/// Whether HostUp's `expiresAt` has passed.
fn expired(s: &Snapshot) -> bool {
    s.expires_at
        .as_deref()
        .and_then(parse_time)
        .is_some_and(|t| t <= time::OffsetDateTime::now_utc())
}

fn fill(state: &mut ObjectValue, vps_id: &str, s: &Snapshot) {
    state
        .set_attr("id", format!("{vps_id}/{}", s.name))
        .set_attr("display_id", opt_str(s.display_id.as_deref()))
        .set_attr("created_at", opt_str(s.created_at.as_deref()))
        .set_attr("expires_at", opt_str(s.expires_at.as_deref()))
        .set_attr(
            "includes_memory_state",
            s.includes_memory_state.map_or(Value::Null, Value::Bool),
        )
        .set_attr("parent_name", opt_str(s.parent_name.as_deref()));
}

/// Plan/apply checks of a snapshot create: the name is free and the create gate open.
/// `replaced` names this VPS's snapshots that a planned replacement destroys first (see
/// [`super::common::Replacing`]; empty at apply, where the destroy has already happened): their
/// names are free, and a full set of slots is not a problem, since the destroy frees one.
fn check_create(
    list: &SnapshotList,
    vps_id: &str,
    name: &str,
    replaced: &[String],
    at_apply: bool,
) -> GateCheck {
    let mut check = GateCheck::default();
    let frees_a_slot = !replaced.is_empty();
    let gate = list
        .actions
        .as_ref()
        .and_then(|a| a.can_create.as_ref())
        .filter(|g| !(frees_a_slot && g.code.as_deref() == Some("snapshot_limit_reached")));
    let subj = subject(vps_id, name, "creation");
    check.gate(
        &subj,
        "canCreate",
        gate,
        AttributePath::root("vps_id"),
        at_apply,
    );
    let replaced_here = replaced.iter().any(|r| r == name);
    if list.find(name).is_some() && !replaced_here {
        check.problems.push(
            Diagnostic::error(
                format!("VPS {vps_id} already has a snapshot named {name:?}"),
                format!(
                    "Choose another name, or adopt the existing snapshot with `terraform \
                     import {TYPE_NAME}.NAME {vps_id}/{name}`. Nothing was sent to HostUp."
                ),
            )
            .with_path(AttributePath::root("name")),
        );
    }
    check
}

/// Plan's and apply's create check: reads the snapshot list, then [`check_create`].
async fn check_gate(
    client: &Client,
    vps_id: &str,
    name: &str,
    replaced: &[String],
    at_apply: bool,
) -> GateCheck {
    read_then_check(
        client.list_snapshots(vps_id).await,
        |list| check_create(list, vps_id, name, replaced, at_apply),
        || format!("Could not check the snapshots of VPS {vps_id}"),
        &Paths::vps(),
    )
}

#[async_trait]
impl Resource<HostupData> for VpsSnapshot {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .description(
                    "A named snapshot of a HostUp VPS. Creating it queues a snapshot job and \
                     waits until HostUp reports it completed; destroying it deletes the \
                     snapshot on HostUp (and waits for the delete job).\n\n\
                     HostUp snapshots are short-lived: they expire about 24 hours after they \
                     are taken. When a refresh finds that the snapshot expired (or was \
                     deleted outside Terraform), it is dropped from state and the next plan \
                     creates it again. Changing any argument replaces the snapshot: the old one is \
                     deleted first, so the new one may keep its name and reuse its slot.\n\n\
                     Plan checks HostUp's create gate (`canCreate`: snapshot slots, plan) and \
                     that the name is free; apply checks again just before queuing. Another \
                     job running on the VPS (code `job_in_progress`) is not an error: plan \
                     warns and apply waits for it, within `timeouts.create`. Operations on one VPS in \
                     one run are queued one after another, so a `hostup_vps_snapshot_restore` \
                     or `hostup_vps_backup` of the same VPS waits its turn.\n\n\
                     Needs an API key with scopes `read:vm` and `backup:vm`.\n\n\
                     Import an existing snapshot with `terraform import \
                     hostup_vps_snapshot.NAME <vps_id>/<name>`.",
                )
                .attribute(vps_id_argument("to snapshot"))
                .attribute(
                    Attribute::string("name")
                        .required()
                        .requires_replace()
                        .description(
                            "Name of the snapshot, unique on the VPS: 1 to 40 letters, digits, \
                             `_` or `-` (e.g. `before-upgrade`). It is the name a \
                             `hostup_vps_snapshot_restore` refers to. Changing it forces \
                             replacement.",
                        ),
                )
                .attribute(
                    Attribute::string("description")
                        .optional()
                        .requires_replace()
                        .description(
                            "Free-text description stored with the snapshot (at most 255 \
                             characters). Changing it forces replacement.",
                        ),
                )
                .attribute(
                    Attribute::string("id")
                        .computed()
                        .use_state_for_unknown()
                        .description("`<vps_id>/<name>`."),
                )
                .attribute(
                    Attribute::string("job_id")
                        .computed()
                        .use_state_for_unknown()
                        .description(
                            "Id of the HostUp job that created the snapshot (`job_…`); null \
                             for an imported snapshot.",
                        ),
                )
                .attribute(
                    Attribute::string("display_id")
                        .computed()
                        .use_state_for_unknown()
                        .description("HostUp's display id of the snapshot."),
                )
                .attribute(
                    Attribute::string("created_at")
                        .computed()
                        .use_state_for_unknown()
                        .description("When the snapshot was taken (RFC 3339)."),
                )
                .attribute(
                    Attribute::string("expires_at")
                        .computed()
                        .use_state_for_unknown()
                        .description(
                            "When HostUp deletes the snapshot by itself (RFC 3339); after \
                             that, refresh drops it from state and the next plan creates it \
                             again.",
                        ),
                )
                .attribute(
                    Attribute::bool("includes_memory_state")
                        .computed()
                        .use_state_for_unknown()
                        .description("Whether the snapshot includes the VPS's RAM state."),
                )
                .attribute(
                    Attribute::string("parent_name")
                        .computed()
                        .use_state_for_unknown()
                        .description("Name of the snapshot this one builds on, or null."),
                )
                .block(timeouts_block(
                    "the snapshot jobs",
                    &[("create", "30m"), ("delete", "30m")],
                )),
        )
    }

    async fn validate(&self, _ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
        timeouts::validate(&req.config, &mut resp.diagnostics);
        validate_vps_id(&req.config, &mut resp.diagnostics);
        validate_snapshot_name(&req.config, "name", &mut resp.diagnostics);
        if let Some(d) = req.config.string("description") {
            if d.chars().count() > MAX_DESCRIPTION {
                resp.diagnostics
                    .error(
                        "Description too long",
                        format!("HostUp accepts at most {MAX_DESCRIPTION} characters."),
                    )
                    .at(AttributePath::root("description"));
            }
        }
    }

    async fn plan(&self, ctx: &Ctx, req: PlanRequest<HostupData>, resp: &mut PlanResponse) {
        if let Some(prior) = &req.prior_state {
            // The first of a replacement's two plan calls: remember what it destroys first.
            if let (false, Some(data), Some(vps_id), Some(name)) = (
                resp.requires_replace.is_empty(),
                req.provider.get(),
                prior.string("vps_id"),
                prior.string("name"),
            ) {
                data.replacing.mark(vps_id, name);
            }
            return;
        }
        let (Some(data), Some(vps_id), Some(name)) = (
            req.provider.get(),
            known_str(&req.config, "vps_id"),
            known_str(&req.config, "name"),
        ) else {
            return;
        };
        let client = data.client(ctx);
        let replaced = data.replacing.on(vps_id);
        let check = check_gate(&client, vps_id, name, &replaced, false).await;
        let diags = check.into_plan_diagnostics(&client, &subject(vps_id, name, "creation"));
        resp.diagnostics.extend(diags);
    }

    async fn create(&self, ctx: &Ctx, req: CreateRequest<HostupData>, resp: &mut CreateResponse) {
        let diags = &mut resp.diagnostics;
        let Some(data) = req.provider.require(diags) else {
            return;
        };
        let planned = &req.planned_state;
        let Some([vps_id, name]) = required_strs(planned, ["vps_id", "name"], diags) else {
            return;
        };
        let subject = subject(&vps_id, &name, "creation");
        let timeout = ("create", DEFAULT_CREATE_TIMEOUT);
        let (id, n) = (&vps_id, &name);
        let gate = move |c: Client| -> GateFuture<'_> {
            Box::pin(async move { check_gate(&c, id, n, &[], true).await })
        };
        let Some(job) = prepare(data, ctx, &subject, planned, timeout, diags, gate).await else {
            return;
        };
        let client = &job.client;
        let body = CreateSnapshot {
            name: name.clone(),
            description: planned.string("description").map(str::to_owned),
        };
        let send = |c: Client| -> SendFuture<'_, _> {
            let body = &body;
            Box::pin(async move { c.create_snapshot(id, body).await })
        };
        let op = match job.send(ctx, &subject, send).await {
            Ok(op) => op,
            Err(e) => {
                diags.push(post_error(
                    &subject,
                    format!("Could not queue the snapshot {name:?} of VPS {vps_id}"),
                    &e,
                    &Paths::vps_and_target("name")
                        .with_pointers(&[("/name", "name"), ("/description", "description")]),
                ));
                return;
            }
        };
        tracing::info!(job_id = %op.job_id, vps_id = %vps_id, snapshot = %name,
            "HostUp snapshot queued");
        let mut state = planned.clone();
        state
            .set_attr("id", format!("{vps_id}/{name}"))
            .set_attr("job_id", op.job_id.as_str());
        resp.state = state;
        let end = job.wait(ctx, &op.job_ref(), &subject).await;
        if let Some(e) = end.error {
            resp.diagnostics.push(e);
            return;
        }
        match client.list_snapshots(&vps_id).await {
            Ok(list) => {
                match list.find(&name) {
                    Some(s) => fill(&mut resp.state, &vps_id, s),
                    None => {
                        resp.diagnostics.error(
                        format!("Snapshot {name:?} of VPS {vps_id} is missing after its job completed"),
                        format!(
                            "HostUp reported job {} completed, but the snapshot list does not \
                             contain it. The resource is marked tainted; check the VPS in \
                             HostUp and apply again.",
                            op.job_id
                        ),
                    );
                    }
                }
            }
            Err(e) => {
                resp.diagnostics.push(api_error(
                    format!("Could not read snapshot {name:?} of VPS {vps_id} after creating it"),
                    &e,
                    &Paths::vps(),
                ));
            }
        }
    }

    async fn read(&self, ctx: &Ctx, req: ReadRequest<HostupData>, resp: &mut ReadResponse) {
        let Some(data) = req.provider.require(&mut resp.diagnostics) else {
            return;
        };
        let cur = &req.current_state;
        let (Some(vps_id), Some(name)) = (cur.string("vps_id"), cur.string("name")) else {
            return;
        };
        match data.client(ctx).list_snapshots(vps_id).await {
            Ok(list) => match list.find(name).filter(|s| !expired(s)) {
                Some(s) => {
                    if let Some(st) = resp.state.as_mut() {
                        fill(st, vps_id, s);
                        st.set_attr("description", opt_str(s.description.as_deref()));
                    }
                }
                None => {
                    tracing::info!(vps_id = %vps_id, snapshot = %name,
                        "snapshot expired or was deleted outside Terraform; dropping it from state");
                    resp.remove();
                }
            },
            Err(e) if e.code() == Some("vps_not_found") => {
                tracing::info!(vps_id = %vps_id, "VPS is gone; dropping its snapshot from state");
                resp.remove();
            }
            Err(e) => {
                resp.diagnostics.push(api_error(
                    format!("Could not refresh snapshot {name:?} of VPS {vps_id}"),
                    &e,
                    &Paths::vps(),
                ));
            }
        }
    }

    async fn update(
        &self,
        _ctx: &Ctx,
        _req: UpdateRequest<HostupData>,
        _resp: &mut UpdateResponse,
    ) {
        // Only `timeouts` change in place.
    }

    async fn delete(&self, ctx: &Ctx, req: DeleteRequest<HostupData>, resp: &mut DeleteResponse) {
        let diags = &mut resp.diagnostics;
        let Some(data) = req.provider.require(diags) else {
            return;
        };
        let prior = &req.prior_state;
        let Some([vps_id, name]) = required_strs(prior, ["vps_id", "name"], diags) else {
            return;
        };
        let subject = subject(&vps_id, &name, "deletion").bounded_by("delete");
        let timeout = ("delete", DEFAULT_DELETE_TIMEOUT);
        let Some(job) = prepare(data, ctx, &subject, prior, timeout, diags, no_gate).await else {
            return;
        };
        let (id, n) = (&vps_id, &name);
        let send = |c: Client| -> SendFuture<'_, _> {
            Box::pin(async move { c.delete_snapshot(id, n).await })
        };
        match job.send(ctx, &subject, send).await {
            Ok(None) => {}
            Ok(Some(op)) => {
                tracing::info!(job_id = %op.job_id, vps_id = %vps_id, snapshot = %name,
                    "HostUp snapshot deletion queued");
                let end = job.wait(ctx, &op.job_ref(), &subject).await;
                if let Some(e) = end.error {
                    diags.push(e);
                }
            }
            Err(e) if e.is_not_found() => {
                tracing::info!(vps_id = %vps_id, snapshot = %name, "snapshot already gone");
            }
            Err(e) => {
                diags.push(post_error(
                    &subject,
                    format!("Could not delete snapshot {name:?} of VPS {vps_id}"),
                    &e,
                    &Paths::vps_and_target("name"),
                ));
            }
        }
    }

    async fn import(&self, ctx: &Ctx, req: ImportRequest<HostupData>, resp: &mut ImportResponse) {
        let (vps_id, name) = match split_import_id(&req.id, "name") {
            Ok(p) => p,
            Err(d) => {
                resp.diagnostics.push(d);
                return;
            }
        };
        let Some(data) = req.provider.require(&mut resp.diagnostics) else {
            return;
        };
        match data.client(ctx).list_snapshots(vps_id).await {
            Ok(list) => match list.find(name) {
                Some(s) => {
                    resp.state
                        .set_attr("vps_id", vps_id)
                        .set_attr("name", name)
                        .set_attr("description", opt_str(s.description.as_deref()))
                        .set_attr("job_id", Value::Null);
                    fill(&mut resp.state, vps_id, s);
                }
                None => {
                    let names: Vec<&str> = list.data.iter().map(|s| s.name.as_str()).collect();
                    resp.diagnostics.error(
                        format!("VPS {vps_id} has no snapshot named {name:?}"),
                        format!("Existing snapshots: {:?}.", names),
                    );
                }
            },
            Err(e) => {
                resp.diagnostics.push(api_error(
                    format!("Could not import snapshot {name:?} of VPS {vps_id}"),
                    &e,
                    &Paths::default(),
                ));
            }
        }
    }
}
