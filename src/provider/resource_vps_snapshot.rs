//! Resource `hostup_vps_snapshot`: a named snapshot of a VPS, created and deleted through
//! HostUp's snapshot jobs.
//!
//! Completes the "snapshot, upgrade, roll back if needed" workflow: unlike the action-style
//! resources, this one manages a real object. Create waits for the snapshot job; destroy
//! deletes the snapshot; refresh drops a snapshot that expired (HostUp keeps them about 24
//! hours) so the next plan creates it again.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::hostup::{Client, CreateSnapshot, JobRef, Snapshot, SnapshotList};
use crate::plugin::diag::{AttributePath, Diagnostic, Diagnostics};
use crate::plugin::framework::{
    timeouts, CreateRequest, CreateResponse, Ctx, DeleteRequest, DeleteResponse, Field,
    ImportRequest, ImportResponse, PlanDestroyRequest, PlanDestroyResponse, PlanRequest,
    PlanResponse, ReadRequest, ReadResponse, Resource, UpdateRequest, UpdateResponse,
    ValidateRequest, ValidateResponse,
};
use crate::plugin::schema::{Attribute, Block, Schema};

use super::data::HostupData;
use super::errors::{api_error, Paths, Subject};
use super::operation::{
    no_gate, prepare, read_for_gate, read_then_check, GateCheck, GateFuture, OpTimeout, SendFuture,
};
use super::replacement;
use super::schema_parts::{timeouts_block, vps_id_argument};
use super::values::{
    known, parse_time, required, split_import_id, validate_snapshot_name, validate_vps_id,
};

/// Type name.
pub const TYPE_NAME: &str = "hostup_vps_snapshot";
/// `timeouts.create`.
pub const CREATE: OpTimeout = OpTimeout::new("create", Duration::from_secs(30 * 60));
/// `timeouts.delete`.
pub const DELETE: OpTimeout = OpTimeout::new("delete", Duration::from_secs(30 * 60));
const MAX_DESCRIPTION: usize = 255;

/// Checks a description's length (the resource's and the action's validation).
pub(super) fn validate_description(description: &Field<String>, diags: &mut Diagnostics) {
    if let Some(d) = description.as_deref() {
        if d.chars().count() > MAX_DESCRIPTION {
            diags
                .error(
                    "Description too long",
                    format!("HostUp accepts at most {MAX_DESCRIPTION} characters."),
                )
                .at(AttributePath::root("description"));
        }
    }
}

/// The `hostup_vps_snapshot` resource.
#[derive(Debug, Default)]
pub struct VpsSnapshot;

pub(super) fn subject(vps_id: &str, name: &str, what: &str) -> Subject {
    Subject::new(TYPE_NAME, vps_id, format!("{what} of snapshot {name:?}"))
}

/// Whether HostUp's `expiresAt` has passed.
fn expired(s: &Snapshot) -> bool {
    s.expires_at
        .as_deref()
        .and_then(parse_time)
        .is_some_and(|t| t <= time::OffsetDateTime::now_utc())
}

/// The resource's typed model: its attributes as config, plan and state hold them.
#[derive(Debug, Deserialize)]
struct Model {
    vps_id: Field<String>,
    name: Field<String>,
    description: Field<String>,
    job_id: Field<String>,
    created_at: Field<String>,
    expires_at: Field<String>,
}

impl Model {
    /// The create job of a snapshot whose create never saw the snapshot listed
    /// (`created_at` is still null in state: the wait ended before the job did).
    fn unconfirmed_create_job(&self) -> Option<&str> {
        self.job_id.as_deref().filter(|_| self.created_at.is_null())
    }
}

/// What the state records of the snapshot as HostUp lists it.
#[derive(Serialize)]
struct Listed<'a> {
    id: String,
    display_id: Option<&'a str>,
    created_at: Option<&'a str>,
    expires_at: Option<&'a str>,
    includes_memory_state: Option<bool>,
    parent_name: Option<&'a str>,
}

impl<'a> Listed<'a> {
    fn of(vps_id: &str, s: &'a Snapshot) -> Self {
        Listed {
            id: format!("{vps_id}/{}", s.name),
            display_id: s.display_id.as_deref(),
            created_at: s.created_at.as_deref(),
            expires_at: s.expires_at.as_deref(),
            includes_memory_state: s.includes_memory_state,
            parent_name: s.parent_name.as_deref(),
        }
    }
}

/// What a create records as soon as HostUp accepted the snapshot job.
#[derive(Serialize)]
struct Started<'a> {
    id: String,
    job_id: &'a str,
}

/// The arguments an import recovers from the list (`job_id` null: no job of this resource is
/// pending).
#[derive(Serialize)]
struct Arguments<'a> {
    vps_id: &'a str,
    name: &'a str,
    description: Option<&'a str>,
    job_id: Option<&'a str>,
}

/// The description as HostUp lists it (refresh: drift from outside Terraform).
#[derive(Serialize)]
struct Described<'a> {
    description: Option<&'a str>,
}

/// What the plan knows of the run's other snapshots on the VPS (see [`super::this_run`]).
pub(super) struct RunView {
    /// Names planned for creation on the VPS in this run (this one included).
    creating: Vec<String>,
    /// Snapshots that planned replacements delete first.
    replaced: Vec<String>,
}

/// Plan/apply checks of a snapshot create: the name is free and there is a slot for it.
///
/// At plan (`run` given), a name that a planned replacement deletes first is free, and the
/// slots are counted for all the snapshots the run creates on the VPS (freed ones returned);
/// HostUp's create gate closed for `snapshot_limit_reached` is then judged by that count. At
/// apply (`run` is `None`) HostUp's list and gate are the truth: the deletes have happened.
fn check_create(
    list: &SnapshotList,
    vps_id: &str,
    name: &str,
    by: CheckedFor,
    at_apply: bool,
) -> GateCheck {
    let run = match by {
        CheckedFor::Plan(view) => Some(view),
        CheckedFor::Apply | CheckedFor::Action => None,
    };
    let mut check = GateCheck::default();
    let empty = Vec::new();
    let replaced = run.map_or(&empty, |r| &r.replaced);
    let in_list = |n: &String| list.find(n).is_some();
    let freed = replaced.iter().filter(|n| in_list(n)).count() as i64;
    let new = run.map_or(1, |r| {
        r.creating
            .iter()
            .filter(|n| !in_list(n) || replaced.contains(n))
            .count() as i64
    });
    let total = list.total_snapshots();
    let used = list.used_snapshots();
    let over = total.is_some_and(|t| used - freed + new > t);
    let gate = list.actions.as_ref().and_then(|a| a.can_create.as_ref());
    let limit_gate = gate.is_some_and(|g| g.code.as_deref() == Some("snapshot_limit_reached"));
    // At plan, the run's own count judges a closed "limit" gate: replacements free slots.
    let gate = gate.filter(|_| !(limit_gate && run.is_some() && !over));
    let subj = subject(vps_id, name, "creation");
    check.gate(
        &subj,
        "canCreate",
        gate,
        AttributePath::root("vps_id"),
        at_apply,
    );
    if let (Some(t), true, true) = (total, over, run.is_some() && check.problems.is_empty()) {
        let free = (t - used + freed).max(0);
        check.problems.push(
            Diagnostic::error(
                format!("Not enough snapshot slots on VPS {vps_id}"),
                format!(
                    "This configuration creates {new} new snapshots on the VPS, and it has \
                    {free} free of {t} slots. Remove snapshots from the configuration, delete \
                    some on HostUp (or let them expire), or add slots to the VPS plan. \
                    Nothing was sent to HostUp."
                ),
            )
            .with_path(AttributePath::root("name")),
        );
    }
    if list.find(name).is_some() && !replaced.iter().any(|r| r == name) {
        // A replacement with `create_before_destroy` lands here too: Terraform tells the
        // provider nothing of the lifecycle block, and creates before it destroys.
        let detail = if matches!(by, CheckedFor::Action) {
            "Choose a name that changes with each invocation, e.g. one that ends with \
            `formatdate(\"YYYYMMDDhhmm\", plantimestamp())`: HostUp names are unique per VPS, \
            and a snapshot an earlier invocation took stays until it expires or is deleted. \
            Nothing was sent to HostUp."
                .to_owned()
        } else {
            format!(
                "Choose another name, or adopt the existing snapshot with `terraform import \
                {TYPE_NAME}.NAME {vps_id}/{name}`. With `create_before_destroy`, a \
                replacement needs a new name: HostUp names are unique per VPS. Nothing was \
                sent to HostUp."
            )
        };
        check.problems.push(
            Diagnostic::error(
                format!("VPS {vps_id} already has a snapshot named {name:?}"),
                detail,
            )
            .with_path(AttributePath::root("name")),
        );
    }
    check
}

/// Who checks a snapshot create, which decides what counts and what the advice says.
#[derive(Clone, Copy)]
pub(super) enum CheckedFor<'a> {
    /// The resource's plan, with what the run's other snapshots on the VPS change.
    Plan(&'a RunView),
    /// The resource's apply: HostUp's list and gate are the truth.
    Apply,
    /// The `hostup_vps_snapshot` action (plan or invoke): no resource to import into.
    Action,
}

/// Plan's and apply's create check: reads the snapshot list, then [`check_create`].
pub(super) async fn check_gate(
    data: &HostupData,
    client: &Client,
    vps_id: &str,
    name: &str,
    by: CheckedFor<'_>,
    at_apply: bool,
) -> GateCheck {
    let reads = &data.run.snapshot_reads;
    read_then_check(
        read_for_gate(
            reads,
            client,
            vps_id,
            at_apply,
            client.list_snapshots(vps_id),
        )
        .await,
        |list| check_create(list, vps_id, name, by, at_apply),
        || format!("Could not check the snapshots of VPS {vps_id}"),
        &Paths::vps(),
        &data.config.sources,
    )
}

/// The error for a second resource of the run that wants a snapshot name already taken.
pub(super) fn duplicate(vps_id: &str, name: &str) -> Diagnostic {
    Diagnostic::error(
        format!("Two snapshots of this plan are named {name:?} on VPS {vps_id}"),
        "Another hostup_vps_snapshot resource, or an invocation of the hostup_vps_snapshot \
        action, in this plan takes a snapshot of the same name on the same VPS; HostUp names \
        are unique per VPS. Give each snapshot its own name. Nothing was sent to HostUp.",
    )
    .with_path(AttributePath::root("name"))
}

/// Whether the snapshot's create job is still queued or running on HostUp.
async fn being_taken(client: &Client, state: &Model) -> bool {
    let Some(job_id) = state.unconfirmed_create_job() else {
        return false;
    };
    match client.get_job(&JobRef::new(job_id)).await {
        Ok(s) => !s.job_state().is_terminal(),
        Err(_) => false,
    }
}

#[async_trait]
impl Resource<HostupData> for VpsSnapshot {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn identity(&self) -> Option<crate::plugin::framework::IdentitySchema> {
        use crate::plugin::framework::{IdentityAttribute, IdentitySchema};
        Some(
            IdentitySchema::new()
                .attribute(
                    IdentityAttribute::string("vps_id")
                        .required_for_import()
                        .description(
                            "Id of the VPS the snapshot is of, as listed by HostUp (`vps_…`, \
                             e.g. `vps_01hxa3b4c5d6e7f8g9h0j1k2m3`).",
                        ),
                )
                .attribute(
                    IdentityAttribute::string("name")
                        .required_for_import()
                        .description("The snapshot's name, unique on its VPS."),
                )
                .import_id("{vps_id}/{name}"),
        )
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
                        .computed()
                        .use_state_for_unknown()
                        .requires_replace()
                        .description(
                            "Free-text description stored with the snapshot (at most 255 \
                            characters). Changing it forces replacement; leaving it unset \
                            keeps what HostUp has (e.g. after an import).",
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
                .block(timeouts_block("the snapshot jobs", &[CREATE, DELETE])),
        )
    }

    async fn validate(&self, _ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
        let diags = &mut resp.diagnostics;
        timeouts::validate(&req.config, diags);
        let Some(m) = req.config.model::<Model>(diags) else {
            return;
        };
        validate_vps_id(&m.vps_id, diags);
        validate_snapshot_name(&m.name, "name", diags);
        validate_description(&m.description, diags);
    }

    async fn plan(&self, ctx: &Ctx, req: PlanRequest<HostupData>, resp: &mut PlanResponse) {
        let Some(data) = req.provider.get() else {
            return;
        };
        if let Some(prior) = &req.prior_state {
            let Some(prior) = prior.model::<Model>(&mut resp.diagnostics) else {
                return;
            };
            let (Some(vps_id), name) = (prior.vps_id.as_deref(), prior.name.as_deref()) else {
                return;
            };
            // Whether a replacement follows is not known here (`-replace` looks like any
            // plan): note the prior snapshot for the second call, and claim its name unless an
            // argument change already says it is replaced.
            replacement::note_prior(vps_id, name, resp);
            if let (true, Some(name)) = (resp.requires_replace.is_empty(), name) {
                if data.run.keep_snapshot(vps_id, name).is_err() {
                    resp.diagnostics.push(duplicate(vps_id, name));
                }
            }
            return;
        }
        let Some(m) = req.config.model::<Model>(&mut resp.diagnostics) else {
            return;
        };
        let (Some(vps_id), Some(name)) = (known(&m.vps_id), known(&m.name)) else {
            return;
        };
        // The snapshot this create replaces: the one the first call noted (an argument change
        // or `-replace`), or a tainted one of this name refreshed in this run (Terraform plans
        // a tainted object's replacement as a plain create).
        let replaces = match replacement::replaced(&req.prior_private, vps_id) {
            Some(r) => r.name,
            None => data
                .run
                .in_state_unclaimed(vps_id, name)
                .then(|| name.to_owned()),
        };
        if data
            .run
            .create_snapshot(vps_id, name, replaces.as_deref())
            .is_err()
        {
            resp.diagnostics.push(duplicate(vps_id, name));
            return;
        }
        let (creating, replaced) = data.run.snapshots_on(vps_id);
        let view = RunView { creating, replaced };
        let client = data.client(ctx);
        let check = check_gate(data, &client, vps_id, name, CheckedFor::Plan(&view), false).await;
        let diags = check.into_plan_diagnostics(data, &subject(vps_id, name, "creation"));
        resp.diagnostics.extend(diags);
    }

    async fn plan_destroy(
        &self,
        _ctx: &Ctx,
        req: PlanDestroyRequest<HostupData>,
        resp: &mut PlanDestroyResponse,
    ) {
        let Some(prior) = req.prior_state.model::<Model>(&mut resp.diagnostics) else {
            return;
        };
        resp.diagnostics.push(Diagnostic::warning(
            format!(
                "Destroying deletes snapshot {:?} of VPS {} on HostUp",
                prior.name.as_deref().unwrap_or("?"),
                prior.vps_id.as_deref().unwrap_or("?")
            ),
            "The VPS can no longer be rolled back to it.",
        ));
    }

    async fn create(&self, ctx: &Ctx, req: CreateRequest<HostupData>, resp: &mut CreateResponse) {
        let diags = &mut resp.diagnostics;
        let Some(data) = req.provider.require(diags) else {
            return;
        };
        let planned = &req.planned_state;
        let Some(m) = planned.model::<Model>(diags) else {
            return;
        };
        let (Some(vps_id), Some(name)) = (
            required(&m.vps_id, "vps_id", diags),
            required(&m.name, "name", diags),
        ) else {
            return;
        };
        let subject = subject(vps_id, name, "creation").retaken();
        let timeout = CREATE;
        let (id, n) = (vps_id, name);
        let gate = move |c: Client| -> GateFuture<'_> {
            Box::pin(async move { check_gate(data, &c, id, n, CheckedFor::Apply, true).await })
        };
        let Some(job) = prepare(data, ctx, &subject, planned, timeout, diags, gate).await else {
            return;
        };
        let client = &job.client;
        let body = CreateSnapshot {
            name: name.to_owned(),
            description: m.description.as_deref().map(str::to_owned),
        };
        let send = |c: Client| -> SendFuture<'_, _> {
            let body = &body;
            Box::pin(async move { c.create_snapshot(id, body).await })
        };
        let op = match job.send(&subject, send).await {
            Ok(op) => op,
            Err(e) => {
                diags.push(
                    e.diagnostic(
                        &subject,
                        format!("Could not queue the snapshot {name:?} of VPS {vps_id}"),
                        &Paths::vps_and_target("name")
                            .with_pointers(&[("/name", "name"), ("/description", "description")]),
                        &data.config.sources,
                    ),
                );
                return;
            }
        };
        tracing::info!(job_id = %op.job_id, vps_id = %vps_id, snapshot = %name,
            "HostUp snapshot queued");
        let mut state = planned.clone();
        state.set_fields(&Started {
            id: format!("{vps_id}/{name}"),
            job_id: op.job_id.as_str(),
        });
        if m.description.is_unknown() {
            state.set_fields(&Described {
                description: body.description.as_deref(),
            });
        }
        replacement::forget(&mut resp.private);
        resp.state = state;
        let end = job.wait(&op.job_ref(), &subject).await;
        if let Some(e) = end.error {
            resp.diagnostics.push(e);
            return;
        }
        match client.list_snapshots(vps_id).await {
            Ok(list) => match list.find(name) {
                Some(s) => {
                    resp.state.set_fields(&Listed::of(vps_id, s));
                }
                None => {
                    resp.diagnostics.error(
                        format!(
                            "Snapshot {name:?} of VPS {vps_id} is missing after its job \
                            completed"
                        ),
                        format!(
                            "HostUp reported job {} completed, but the snapshot list does not \
                            contain it. The resource is marked tainted; check the VPS in \
                            HostUp and apply again.",
                            op.job_id
                        ),
                    );
                }
            },
            Err(e) => {
                resp.diagnostics.push(api_error(
                    format!("Could not read snapshot {name:?} of VPS {vps_id} after creating it"),
                    &e,
                    &Paths::vps(),
                    &data.config.sources,
                ));
            }
        }
    }

    async fn read(&self, ctx: &Ctx, req: ReadRequest<HostupData>, resp: &mut ReadResponse) {
        let Some(data) = req.provider.require(&mut resp.diagnostics) else {
            return;
        };
        let Some(cur) = req.current_state.model::<Model>(&mut resp.diagnostics) else {
            return;
        };
        let (Some(vps_id), Some(name)) = (cur.vps_id.as_deref(), cur.name.as_deref()) else {
            return;
        };
        let client = data.client(ctx);
        match client.list_snapshots(vps_id).await {
            Ok(list) => match list.find(name).filter(|s| !expired(s)) {
                Some(s) => {
                    data.run.saw_snapshot(vps_id, name);
                    if let Some(st) = resp.state.as_mut() {
                        st.set_fields(&Listed::of(vps_id, s))
                            .set_fields(&Described {
                                description: s.description.as_deref(),
                            });
                    }
                }
                None if being_taken(&client, &cur).await => {
                    // Its create job (of an apply that stopped waiting) is still running:
                    // the snapshot is not listed yet, but it is this resource's.
                    data.run.saw_snapshot(vps_id, name);
                }
                None => {
                    tracing::info!(vps_id = %vps_id, snapshot = %name,
                        "snapshot expired or was deleted outside Terraform; dropping it from state");
                    // Terraform plans a create next, silently: say that it is a new snapshot
                    // of the disk as it is now.
                    let past = |t: Option<&str>| {
                        t.and_then(parse_time)
                            .is_some_and(|t| t <= time::OffsetDateTime::now_utc())
                    };
                    let why = if list.find(name).is_some() || past(cur.expires_at.as_deref()) {
                        "It expired"
                    } else {
                        "HostUp no longer lists it (deleted outside Terraform, or expired)"
                    };
                    resp.diagnostics.warning(
                        format!("Snapshot {name:?} of VPS {vps_id} is gone"),
                        format!(
                            "{why}. Terraform will plan a new snapshot of that name, which \
                             captures the VPS disk as it is now, not as it was. To keep no \
                             snapshot, remove the resource from the configuration."
                        ),
                    );
                    resp.remove();
                }
            },
            Err(e) if e.is_vps_gone() => {
                tracing::info!(vps_id = %vps_id, "VPS is gone; dropping its snapshot from state");
                resp.remove();
            }
            Err(e) => {
                resp.diagnostics.push(api_error(
                    format!("Could not refresh snapshot {name:?} of VPS {vps_id}"),
                    &e,
                    &Paths::vps(),
                    &data.config.sources,
                ));
            }
        }
    }

    async fn update(&self, _ctx: &Ctx, _req: UpdateRequest<HostupData>, resp: &mut UpdateResponse) {
        // Only `timeouts` change in place.
        replacement::forget(&mut resp.private);
    }

    async fn delete(&self, ctx: &Ctx, req: DeleteRequest<HostupData>, resp: &mut DeleteResponse) {
        let diags = &mut resp.diagnostics;
        let Some(data) = req.provider.require(diags) else {
            return;
        };
        let prior = &req.prior_state;
        let Some(m) = prior.model::<Model>(diags) else {
            return;
        };
        let (Some(vps_id), Some(name)) = (
            required(&m.vps_id, "vps_id", diags),
            required(&m.name, "name", diags),
        ) else {
            return;
        };
        let subject = subject(vps_id, name, "deletion").bounded_by("delete");
        let timeout = DELETE;
        let Some(job) = prepare(data, ctx, &subject, prior, timeout, diags, no_gate).await else {
            return;
        };
        if let Some(create_job) = m.unconfirmed_create_job() {
            // A create whose wait ended early (a tainted snapshot being replaced): its job may
            // still be taking the snapshot, which could not be deleted before it exists.
            let end = job
                .wait(&JobRef::new(create_job).on_vps(vps_id), &subject)
                .await;
            if end.outcome.is_none() {
                if let Some(e) = end.error {
                    diags.push(e);
                    return;
                }
            }
        }
        let (id, n) = (vps_id, name);
        let send = |c: Client| -> SendFuture<'_, _> {
            Box::pin(async move { c.delete_snapshot(id, n).await })
        };
        match job.send(&subject, send).await {
            Ok(None) => {}
            Ok(Some(op)) => {
                tracing::info!(job_id = %op.job_id, vps_id = %vps_id, snapshot = %name,
                    "HostUp snapshot deletion queued");
                let end = job.wait(&op.job_ref(), &subject).await;
                if let Some(e) = end.error {
                    diags.push(e);
                }
            }
            Err(e) if e.error.is_not_found() => {
                tracing::info!(vps_id = %vps_id, snapshot = %name, "snapshot already gone");
            }
            Err(e) => {
                diags.push(e.diagnostic(
                    &subject,
                    format!("Could not delete snapshot {name:?} of VPS {vps_id}"),
                    &Paths::vps_and_target("name"),
                    &data.config.sources,
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
                        .set_fields(&Arguments {
                            vps_id,
                            name,
                            description: s.description.as_deref(),
                            job_id: None,
                        })
                        .set_fields(&Listed::of(vps_id, s));
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
                    &data.config.sources,
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::framework::{ObjectValue, SchemaInfo};

    #[test]
    fn the_model_fits_the_schema() {
        let mut o = ObjectValue::empty(SchemaInfo::new(VpsSnapshot.schema()));
        let s = Snapshot {
            name: "a".into(),
            includes_memory_state: Some(false),
            ..Snapshot::default()
        };
        o.set_fields(&Arguments {
            vps_id: "vps_1",
            name: "a",
            description: None,
            job_id: Some("job_1"),
        })
        .set_fields(&Listed::of("vps_1", &s))
        .set_fields(&Described { description: None });
        assert!(o.take_misuse().is_empty());
        let m: Model = o.decode().expect("decodes");
        assert_eq!(m.unconfirmed_create_job(), Some("job_1"));
        assert_eq!(o.string("id"), Some("vps_1/a"));
    }
}
