//! Resource `hostup_vps_snapshot_restore`: roll a VPS back to one of its snapshots
//! (destructive) and wait until HostUp has completed the rollback.
//!
//! An action-style resource like `hostup_vps_backup`: create runs the restore once, any
//! argument change runs it again through a replacement, destroy only forgets it (a restore
//! cannot be undone). Plan reads the snapshot list and fails at `snapshot_name` when the
//! snapshot does not exist (listing those that do) or HostUp's restore gate is closed, and
//! always warns that the VPS disk will be replaced.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::hostup::{Client, JobKind, JobRef, SnapshotList};
use crate::plugin::diag::{AttributePath, Diagnostic};
use crate::plugin::framework::{
    timeouts, CreateRequest, CreateResponse, Ctx, DeleteRequest, DeleteResponse, Field,
    ImportRequest, ImportResponse, PlanDestroyRequest, PlanDestroyResponse, PlanRequest,
    PlanResponse, ReadRequest, ReadResponse, Resource, UpdateRequest, UpdateResponse,
    ValidateRequest, ValidateResponse,
};
use crate::plugin::schema::{Attribute, Block, Schema};

use super::action::{
    adopt_unfinished, adoption_notice, forget, import_job, job_attributes, job_key, job_result_str,
    known, plan_prior, prepare, read_for_gate, read_then_check, record_and_wait, refresh_job,
    required, settle_private, timeouts_block, triggers_argument, validate_snapshot_name,
    validate_vps_id, vps_id_argument, Adoption, GateCheck, GateFuture, JobKey, OpTimeout,
    SendFuture, Triggers,
};
use super::data::HostupData;
use super::errors::{Paths, RunBy, Subject};

/// Type name.
pub const TYPE_NAME: &str = "hostup_vps_snapshot_restore";
/// `timeouts.create`.
pub const CREATE: OpTimeout = OpTimeout::new("create", Duration::from_secs(30 * 60));

/// The arguments besides `vps_id` that make one restore run (the attributes of
/// [`Model::run_args`]).
const RUN_ARGS: &[&str] = &["snapshot_name", "triggers"];

/// The resource's typed model: its arguments as config, plan and state hold them (the job's
/// attributes are the action room's).
#[derive(Debug, Deserialize)]
struct Model {
    vps_id: Field<String>,
    snapshot_name: Field<String>,
    triggers: Field<Triggers>,
    job_id: Field<String>,
}

impl Model {
    /// The arguments that make one restore run ([`RUN_ARGS`]), for [`job_key`].
    fn run_args(&self) -> impl std::fmt::Debug + '_ {
        (&self.snapshot_name, &self.triggers)
    }

    fn key(&self) -> Option<JobKey> {
        job_key(TYPE_NAME, &self.vps_id, &self.run_args())
    }
}

/// What an import recovers besides the job: the snapshot, when the job's result names it.
#[derive(Serialize)]
struct Imported<'a> {
    snapshot_name: Option<&'a str>,
}

/// The `hostup_vps_snapshot_restore` resource.
#[derive(Debug, Default)]
pub struct VpsSnapshotRestore;

pub(super) fn subject(vps_id: &str, name: &str) -> Subject {
    Subject::new(TYPE_NAME, vps_id, format!("restore of snapshot {name:?}")).destructive()
}

/// The warning every restore plan carries (docs/ARCHITECTURE.md, "Resources": restore is
/// destructive).
pub fn destructive_warning(vps_id: &str, name: &str, by: RunBy) -> Diagnostic {
    let (verb, who, undo) = match by {
        RunBy::Apply => (
            "Applying",
            "hostup_vps_snapshot_restore",
            " (destroying the resource does not undo it)",
        ),
        RunBy::Invoke => ("Invoking", "The action", ""),
    };
    Diagnostic::warning(
        format!("{verb} this replaces the disk of VPS {vps_id} with snapshot {name:?}"),
        format!(
            "{who} rolls the VPS back to the snapshot: everything written to the VPS disk \
             since the snapshot was taken is lost, and the VPS restarts from the snapshot's \
             state. This cannot be undone{undo}. Take a backup or snapshot first if you may \
             need the current data."
        ),
    )
    .with_path(AttributePath::root("snapshot_name"))
}

/// Checks a snapshot list for a restore of `name`: the snapshot must exist (or, at plan, be
/// created earlier in this run: `created_here`) and the restore gate be open. Returns the
/// problems as diagnostics at `snapshot_name`.
pub fn check_restore(
    list: &SnapshotList,
    vps_id: &str,
    name: &str,
    created_here: bool,
    at_apply: bool,
) -> GateCheck {
    let mut check = GateCheck::default();
    let subj = subject(vps_id, name);
    let path = AttributePath::root("snapshot_name");
    let gate = list.actions.as_ref().and_then(|a| a.can_restore.as_ref());
    check.gate(&subj, "canRestore", gate, path.clone(), at_apply);
    let unavailable = list.available == Some(false) || list.total_snapshots() == Some(0);
    // A gate closed for a lasting reason already says why; one that is merely busy does not.
    if unavailable && gate.is_none_or(|g| g.allowed || g.is_busy()) {
        check.problems.push(
            Diagnostic::error(
                format!("VPS {vps_id} has no snapshots in its plan"),
                format!(
                    "{} Nothing was sent to HostUp.",
                    list.reason
                        .as_deref()
                        .unwrap_or("HostUp reports snapshots as not available for this VPS.")
                ),
            )
            .with_path(path.clone()),
        );
    }
    if !unavailable && list.find(name).is_none() && !created_here {
        let names: Vec<String> = list.data.iter().map(|s| format!("{:?}", s.name)).collect();
        let existing = if names.is_empty() {
            "The VPS has no snapshots at all.".to_owned()
        } else {
            format!("Existing snapshots: {}.", names.join(", "))
        };
        check.problems.push(
            Diagnostic::error(
                format!("VPS {vps_id} has no snapshot named {name:?}"),
                format!(
                    "{existing} Snapshots expire about 24 hours after they are taken (the \
                    `hostup_vps_snapshots` data source lists those that exist). To restore a \
                    snapshot this configuration takes, refer to it: `snapshot_name = \
                    hostup_vps_snapshot.NAME.name`. Nothing was sent to HostUp."
                ),
            )
            .with_path(path),
        );
    }
    check
}

/// Plan's and apply's restore check: reads the snapshot list, then [`check_restore`].
pub(super) async fn check_gate(
    data: &HostupData,
    client: &Client,
    vps_id: &str,
    name: &str,
    created_here: bool,
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
        |list| check_restore(list, vps_id, name, created_here, at_apply),
        || format!("Could not check the snapshots of VPS {vps_id} for the restore"),
        &Paths::vps_and_target("snapshot_name"),
        &data.config.sources,
    )
}

#[async_trait]
impl Resource<HostupData> for VpsSnapshotRestore {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn identity(&self) -> Option<crate::plugin::framework::IdentitySchema> {
        Some(super::schema_parts::job_identity(
            "whose disk was rolled back",
            "rollback",
        ))
    }

    fn schema(&self) -> Schema {
        let block = Block::new()
            .description(
                "Rolls a HostUp VPS back to one of its snapshots and waits until HostUp \
                reports the rollback job completed.\n\n\
                **Warning: this is destructive. Applying it replaces the VPS disk with \
                the snapshot: everything written since the snapshot was taken is lost. \
                It cannot be undone.** The plan warns about it when the resource is \
                created, when an argument change replaces it, and when a tainted one is \
                replaced. `terraform apply -replace=ADDRESS` also runs it again, but its \
                plan shows no such warning: Terraform does not tell the provider about \
                `-replace`.\n\n\
                This is an action-style resource: creating it runs the restore once. \
                Changing any argument (`vps_id`, `snapshot_name`, `triggers`) plans a \
                replacement, which runs the restore again; nothing else ever does. \
                **Destroying it only removes it from the Terraform state; it does not \
                undo the restore.**\n\n\
                `terraform plan` reads the VPS's snapshots and fails at `snapshot_name` \
                when the snapshot does not exist (listing the ones that do) or when \
                HostUp's restore gate (`canRestore`) is closed, with its reason and \
                code; apply checks again just before queuing. Another job running on the \
                VPS (code `job_in_progress`) is not an error: plan warns and apply waits \
                for it, within `timeouts.create`. The job id is saved in \
                state as soon as HostUp accepts the restore: if the wait then fails (the \
                job fails, `timeouts.create` passes, or you press Ctrl-C) the resource \
                is kept with its job id and marked tainted. The next apply replaces it: \
                if that job is still queued or running, or has completed, apply adopts \
                it instead of restoring again; only a failed job is run anew. Operations \
                on one VPS in one run are queued one after another.\n\n\
                To roll back to a snapshot the same configuration takes, refer to it \
                (`snapshot_name = hostup_vps_snapshot.NAME.name`): plan then accepts the \
                snapshot it has not created yet, and Terraform restores only after it \
                exists. Usually the restore is added later (e.g. with `count = \
                var.rollback ? 1 : 0`), once the change it undoes went wrong.\n\n\
                Needs an API key with scopes `read:vm` and `backup:vm`.\n\n\
                Import an existing restore job with `terraform import \
                hostup_vps_snapshot_restore.NAME <vps_id>/<job_id>`.",
            )
            .attribute(vps_id_argument("to roll back"))
            .attribute(
                Attribute::string("snapshot_name")
                    .required()
                    .requires_replace()
                    .description(
                        "Name of the snapshot to roll back to (e.g. `before-upgrade`), as \
                        listed by the `hostup_vps_snapshots` data source. Plan fails \
                        when it does not exist. Changing it forces replacement, i.e. \
                        another restore.",
                    ),
            )
            .attribute(triggers_argument("restore"));
        Schema::new(
            job_attributes(block, "restore").block(timeouts_block("the restore job", &[CREATE])),
        )
    }

    async fn validate(&self, _ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
        let diags = &mut resp.diagnostics;
        timeouts::validate(&req.config, diags);
        let Some(m) = req.config.model::<Model>(diags) else {
            return;
        };
        validate_vps_id(&m.vps_id, diags);
        validate_snapshot_name(&m.snapshot_name, "snapshot_name", diags);
    }

    async fn plan(&self, ctx: &Ctx, req: PlanRequest<HostupData>, resp: &mut PlanResponse) {
        let Some(m) = req.config.model::<Model>(&mut resp.diagnostics) else {
            return;
        };
        let name = known(&m.snapshot_name);
        if let Some(prior) = &req.prior_state {
            plan_prior(&req, RUN_ARGS, resp);
            // The first of a replacement's two calls: Terraform drops the warnings of the
            // second (node_resource_abstract_instance.go, `plan`: "only append these new
            // diagnostics if there's at least one error"), so the warning is given here.
            if !resp.requires_replace.is_empty() {
                let Some(before) = prior.model::<Model>(&mut resp.diagnostics) else {
                    return;
                };
                let vps_id = known(&m.vps_id).or(before.vps_id.as_deref());
                resp.diagnostics.push(destructive_warning(
                    vps_id.unwrap_or("(known after apply)"),
                    name.unwrap_or("(known after apply)"),
                    RunBy::Apply,
                ));
            }
            return;
        }
        let vps_id = known(&m.vps_id);
        resp.diagnostics.push(destructive_warning(
            vps_id.unwrap_or("(known after apply)"),
            name.unwrap_or("(known after apply)"),
            RunBy::Apply,
        ));
        let (Some(data), Some(vps_id), Some(name)) = (req.provider.get(), vps_id, name) else {
            return;
        };
        if let Some(notice) = adoption_notice(data, m.key().as_ref(), "restore", resp) {
            resp.diagnostics.push(notice);
            return;
        }
        let client = data.client(ctx);
        let created_here = data.run.creates_snapshot(vps_id, name);
        let check = check_gate(data, &client, vps_id, name, created_here, false).await;
        let diags = check.into_plan_diagnostics(data, &subject(vps_id, name));
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
                "Destroying does not undo the restore of VPS {}",
                prior.vps_id.as_deref().unwrap_or("?")
            ),
            "Only the Terraform state forgets it; nothing is sent to HostUp.",
        ));
    }

    async fn create(&self, ctx: &Ctx, req: CreateRequest<HostupData>, resp: &mut CreateResponse) {
        let Some(data) = req.provider.require(&mut resp.diagnostics) else {
            return;
        };
        let planned = &req.planned_state;
        let diags = &mut resp.diagnostics;
        let Some(m) = planned.model::<Model>(diags) else {
            return;
        };
        let (Some(vps_id), Some(name)) = (
            required(&m.vps_id, "vps_id", diags),
            required(&m.snapshot_name, "snapshot_name", diags),
        ) else {
            return;
        };
        let subject = subject(vps_id, name);
        let timeout = CREATE;
        if let Adoption::Adopted(_) = adopt_unfinished(
            data,
            ctx,
            &subject,
            planned,
            m.key().as_ref(),
            timeout,
            resp,
        )
        .await
        {
            return;
        }
        let diags = &mut resp.diagnostics;
        let (id, n) = (vps_id, name);
        let gate = move |c: Client| -> GateFuture<'_> {
            Box::pin(async move { check_gate(data, &c, id, n, false, true).await })
        };
        let Some(job) = prepare(data, ctx, &subject, planned, timeout, diags, gate).await else {
            return;
        };
        let send = |c: Client| -> SendFuture<'_, _> {
            Box::pin(async move { c.restore_snapshot(id, n).await })
        };
        let op = match job.send(&subject, send).await {
            Ok(op) => op,
            Err(e) => {
                diags.push(e.diagnostic(
                    &subject,
                    format!("Could not queue the restore of snapshot {name:?} on VPS {vps_id}"),
                    &Paths::vps_and_target("snapshot_name"),
                    &data.config.sources,
                ));
                return;
            }
        };
        tracing::info!(job_id = %op.job_id, vps_id = %vps_id, snapshot = %name,
            "HostUp snapshot restore queued");
        let status = op.status.as_ref().map_or("queued", |s| s.as_str());
        let job_ref: JobRef = op.job_ref();
        record_and_wait(&job, &job_ref, status, &subject, planned, resp).await;
    }

    async fn read(&self, ctx: &Ctx, req: ReadRequest<HostupData>, resp: &mut ReadResponse) {
        // Never re-runs the restore and never drifts; a job unfinished in state is read.
        if let Some(data) = req.provider.get() {
            let Some(m) = req.current_state.model::<Model>(&mut resp.diagnostics) else {
                return;
            };
            refresh_job(data, ctx, &req, m.key(), resp).await;
        }
    }

    async fn update(&self, _ctx: &Ctx, _req: UpdateRequest<HostupData>, resp: &mut UpdateResponse) {
        settle_private(&mut resp.private);
    }

    async fn delete(&self, _ctx: &Ctx, req: DeleteRequest<HostupData>, resp: &mut DeleteResponse) {
        let prior = &req.prior_state;
        let Some(m) = prior.model::<Model>(&mut resp.diagnostics) else {
            return;
        };
        forget(req.provider.get(), m.key(), prior, &req.prior_private);
        tracing::info!(
            job_id = m.job_id.as_deref().unwrap_or(""),
            "forgetting hostup_vps_snapshot_restore; a restore cannot be undone"
        );
    }

    async fn import(&self, ctx: &Ctx, req: ImportRequest<HostupData>, resp: &mut ImportResponse) {
        let Some(data) = req.provider.require(&mut resp.diagnostics) else {
            return;
        };
        let kinds = [JobKind::SnapshotRestore];
        let kind = "snapshot restore";
        if let Some(job) = import_job(data, ctx, &req.id, kind, &kinds, resp).await {
            let snapshot_name = job_result_str(&job, &["snapshotName"]);
            resp.state.set_fields(&Imported { snapshot_name });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: serde_json::Value) -> SnapshotList {
        serde_json::from_value(v).unwrap_or_default()
    }

    #[test]
    fn unknown_snapshot_lists_existing_names() {
        let l = list(
            serde_json::json!({"data":[{"name":"a"},{"name":"b"}],"available":true,
            "limits":{"totalSnapshots":3},
            "actions":{"canRestore":{"allowed":true,"reason":null,"code":null}}}),
        );
        let d = check_restore(&l, "vps_1", "zzz", false, false).problems;
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].attribute, Some(AttributePath::root("snapshot_name")));
        assert!(d[0].detail.contains("\"a\", \"b\""), "{}", d[0].detail);
        assert!(check_restore(&l, "vps_1", "a", false, false)
            .problems
            .is_empty());
    }

    #[test]
    fn closed_gate_and_not_in_plan() {
        let l = list(serde_json::json!({"data":[],"available":false,
            "reason":"Snapshots are not included in this VPS plan.",
            "limits":{"totalSnapshots":0},
            "actions":{"canRestore":{"allowed":false,"reason":"Snapshots are not included in this VPS plan.","code":"feature_not_in_plan"}}}));
        let d = check_restore(&l, "vps_1", "x", false, false).problems;
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].detail.contains("feature_not_in_plan"));
        assert!(d[0].detail.contains("not included"));
    }

    #[test]
    fn a_gate_closed_by_another_job_is_busy_not_a_problem() {
        let l = list(serde_json::json!({"data":[{"name":"a"}],"available":true,
            "limits":{"totalSnapshots":3},
            "actions":{"canRestore":{"allowed":false,"reason":"Another operation is in progress",
                "code":"job_in_progress"}}}));
        let c = check_restore(&l, "vps_1", "a", false, true);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        let busy = c.busy.expect("busy");
        assert_eq!(busy.gate_name, "canRestore");
        assert_eq!(busy.path, AttributePath::root("snapshot_name"));
        // A missing snapshot is still a problem while the VPS is busy.
        let c = check_restore(&l, "vps_1", "zzz", false, false);
        assert_eq!(c.problems.len(), 1);
        assert!(c.busy.is_some());
    }

    #[test]
    fn names_follow_hostup_rule() {
        use crate::plugin::diag::Diagnostics;
        for (name, ok) in [("before-upgrade", true), ("a b", false), ("", false)] {
            let mut d = Diagnostics::new();
            validate_snapshot_name(&Field::Value(name.to_owned()), "snapshot_name", &mut d);
            assert_eq!(d.is_empty(), ok, "{name}");
        }
    }

    #[test]
    fn the_model_fits_the_schema() {
        use crate::plugin::framework::{ObjectValue, SchemaInfo};
        let mut o = ObjectValue::empty(SchemaInfo::new(VpsSnapshotRestore.schema()));
        o.set_fields(&Imported {
            snapshot_name: Some("a"),
        });
        assert!(o.take_misuse().is_empty());
        let m: Model = o.decode().expect("decodes");
        assert_eq!(m.snapshot_name.as_deref(), Some("a"));
    }
}
