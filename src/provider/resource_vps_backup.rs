//! Resource `hostup_vps_backup`: queue an offsite backup of a VPS and wait until HostUp has
//! completed it.
//!
//! An action-style resource (DESIGN §2): create runs the backup; any argument change (besides
//! `timeouts`) runs it again through a replacement; read never queues anything; destroy only
//! forgets it (the backup stays on HostUp). Plan checks HostUp's backup gate, apply checks it
//! again before the POST, and the job id is saved before waiting so a failed or interrupted
//! wait leaves a tainted resource instead of an orphaned job.

use std::time::Duration;

use async_trait::async_trait;

use crate::hostup::{BackupList, Client, CreateBackup};
use crate::plugin::diag::AttributePath;
use crate::plugin::framework::{
    timeouts, CreateRequest, CreateResponse, Ctx, DeleteRequest, DeleteResponse, ImportRequest,
    ImportResponse, PlanRequest, PlanResponse, ReadRequest, ReadResponse, Resource, UpdateRequest,
    UpdateResponse, ValidateRequest, ValidateResponse,
};
use crate::plugin::schema::{Attribute, Block, Schema};

use super::common::{
    adopt_after_import, import_job, job_result_str, known_str, opt_str, post_error, prepare,
    read_then_check, record_and_wait, required_strs, timeouts_block, triggers_argument,
    validate_vps_id, vps_id_argument, GateCheck, GateFuture, HostupData, SendFuture, IMPORTED_KEY,
};
use super::errors::{Paths, Subject};

/// Type name.
pub const TYPE_NAME: &str = "hostup_vps_backup";
/// Default `timeouts.create`: backups of large disks take long (Vultr's 20 min proved short).
pub const DEFAULT_CREATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
const MAX_NOTE: usize = 255;

/// The `hostup_vps_backup` resource.
#[derive(Debug, Default)]
pub struct VpsBackup;

fn subject(vps_id: &str) -> Subject {
    Subject::new(TYPE_NAME, vps_id, "backup")
}

/// Plan's and apply's check of HostUp's backup gate (`canCreateBackup`: quota, plan, service
/// status, another job running); `at_apply` words the error for an apply that sent nothing.
async fn check_gate(client: &Client, vps_id: &str, at_apply: bool) -> GateCheck {
    read_then_check(
        client.list_backups(vps_id).await,
        |list: &BackupList| {
            let mut check = GateCheck::default();
            let gate = list
                .actions
                .as_ref()
                .and_then(|a| a.can_create_backup.as_ref());
            let path = AttributePath::root("vps_id");
            check.gate(&subject(vps_id), "canCreateBackup", gate, path, at_apply);
            check
        },
        || format!("Could not check whether VPS {vps_id} can be backed up"),
        &Paths::vps(),
    )
}

#[async_trait]
impl Resource<HostupData> for VpsBackup {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .description(
                    "Queues an offsite backup of a HostUp VPS and waits until HostUp reports \
                     the backup job completed, so later steps (an upgrade, a restore) run only \
                     once the backup exists.\n\n\
                     This is an action-style resource: creating it runs the backup once. \
                     Changing any argument (`vps_id`, `note`, `triggers`) plans a replacement, \
                     which runs a new backup; nothing else ever runs it again (refresh and \
                     provider upgrades never do). **Destroying it only removes it from the \
                     Terraform state: the backup is kept on HostUp.** Delete backups in the \
                     HostUp dashboard when you no longer need them.\n\n\
                     `terraform plan` checks HostUp's backup gate (`canCreateBackup`: quota, \
                     plan, service status) and fails with HostUp's reason and code when a \
                     backup would be refused; apply checks it again just before queuing. When \
                     the gate is closed only because another job is running on the VPS (code \
                     `job_in_progress`, e.g. one started from the dashboard), plan warns and \
                     apply waits for that job to finish, within `timeouts.create`. The job id is saved in state as soon as HostUp accepts \
                     the backup: if the wait then fails (the job fails, `timeouts.create` \
                     passes, or you press Ctrl-C) the resource is kept with its job id and \
                     marked tainted, and the next apply runs the backup again. Backups of one \
                     VPS (and restores, snapshots) in one run are queued one after another.\n\n\
                     Needs an API key with scopes `read:vm` and `backup:vm`.\n\n\
                     Import an existing backup job with `terraform import \
                     hostup_vps_backup.NAME <vps_id>/<job_id>`.",
                )
                .attribute(vps_id_argument("to back up"))
                .attribute(
                    Attribute::string("note")
                        .optional()
                        .requires_replace()
                        .description(
                            "A note stored with the backup on HostUp (at most 255 \
                             characters), e.g. `Before upgrade`. Changing it forces \
                             replacement, i.e. a new backup.",
                        ),
                )
                .attribute(triggers_argument("backup"))
                .attribute(
                    Attribute::string("id")
                        .computed()
                        .use_state_for_unknown()
                        .description("The backup job id (same as `job_id`)."),
                )
                .attribute(
                    Attribute::string("job_id")
                        .computed()
                        .use_state_for_unknown()
                        .description(
                            "Id of the HostUp job that ran the backup (`job_…`). Saved in \
                             state as soon as HostUp accepted the backup, before waiting.",
                        ),
                )
                .attribute(
                    Attribute::string("status")
                        .computed()
                        .use_state_for_unknown()
                        .description(
                            "Last known status of the job: `completed` after a successful \
                             apply; `failed`, or the status seen last (e.g. `in_progress`), \
                             on a tainted resource whose wait failed.",
                        ),
                )
                .attribute(
                    Attribute::string("completed_at")
                        .computed()
                        .use_state_for_unknown()
                        .description(
                            "When HostUp finished the job (RFC 3339), or null when it has not.",
                        ),
                )
                .block(timeouts_block("the backup job", &[("create", "60m")])),
        )
    }

    async fn validate(&self, _ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
        timeouts::validate(&req.config, &mut resp.diagnostics);
        validate_vps_id(&req.config, &mut resp.diagnostics);
        if let Some(note) = req.config.string("note") {
            if note.chars().count() > MAX_NOTE {
                resp.diagnostics
                    .error(
                        "Note too long",
                        format!(
                            "HostUp accepts notes of at most {MAX_NOTE} characters; this one \
                             has {}.",
                            note.chars().count()
                        ),
                    )
                    .at(AttributePath::root("note"));
            }
        }
    }

    async fn plan(&self, ctx: &Ctx, req: PlanRequest<HostupData>, resp: &mut PlanResponse) {
        if let Some(prior) = &req.prior_state {
            adopt_after_import(prior, &req.prior_private, &["note", "triggers"], resp);
            return;
        }
        let (Some(data), Some(vps_id)) = (req.provider.get(), known_str(&req.config, "vps_id"))
        else {
            return;
        };
        let client = data.client(ctx);
        let check = check_gate(&client, vps_id, false).await;
        let diags = check.into_plan_diagnostics(&client, &subject(vps_id));
        resp.diagnostics.extend(diags);
    }

    async fn create(&self, ctx: &Ctx, req: CreateRequest<HostupData>, resp: &mut CreateResponse) {
        let diags = &mut resp.diagnostics;
        let Some(data) = req.provider.require(diags) else {
            return;
        };
        let planned = &req.planned_state;
        let Some([vps_id]) = required_strs(planned, ["vps_id"], diags) else {
            return;
        };
        let subject = subject(&vps_id);
        let timeout = ("create", DEFAULT_CREATE_TIMEOUT);
        let id = &vps_id;
        let gate = move |c: Client| -> GateFuture<'_> {
            Box::pin(async move { check_gate(&c, id, true).await })
        };
        let Some(job) = prepare(data, ctx, &subject, planned, timeout, diags, gate).await else {
            return;
        };
        let body = CreateBackup {
            note: planned.string("note").map(str::to_owned),
        };
        let send = |c: Client| -> SendFuture<'_, _> {
            let body = &body;
            Box::pin(async move { c.create_backup(id, body).await })
        };
        let op = match job.send(ctx, &subject, send).await {
            Ok(op) => op,
            Err(e) => {
                diags.push(post_error(
                    &subject,
                    format!("Could not queue the backup of VPS {vps_id}"),
                    &e,
                    &Paths::vps().with_pointers(&[("/note", "note")]),
                ));
                return;
            }
        };
        tracing::info!(job_id = %op.job_id, vps_id = %vps_id, "HostUp backup queued");
        record_and_wait(&job, ctx, &op, &subject, planned, resp).await;
    }

    async fn read(&self, _ctx: &Ctx, _req: ReadRequest<HostupData>, _resp: &mut ReadResponse) {
        // Never re-queues work and never drifts: the backup job happened (or is tainted).
    }

    async fn update(&self, _ctx: &Ctx, _req: UpdateRequest<HostupData>, resp: &mut UpdateResponse) {
        // Only `timeouts` (or values adopted after import) change in place: nothing to send.
        resp.private.remove(IMPORTED_KEY);
    }

    async fn delete(&self, _ctx: &Ctx, req: DeleteRequest<HostupData>, _resp: &mut DeleteResponse) {
        tracing::info!(
            job_id = req.prior_state.string("job_id").unwrap_or(""),
            "forgetting hostup_vps_backup; the backup stays on HostUp"
        );
    }

    async fn import(&self, ctx: &Ctx, req: ImportRequest<HostupData>, resp: &mut ImportResponse) {
        let Some(data) = req.provider.require(&mut resp.diagnostics) else {
            return;
        };
        let is_backup = |t: &str| t.contains("backup") && !t.contains("restore");
        if let Some(job) = import_job(data, ctx, &req.id, "backup", is_backup, resp).await {
            let note = job_result_str(&job, &["backup", "note"]);
            resp.state.set_attr("note", opt_str(note));
        }
    }
}
