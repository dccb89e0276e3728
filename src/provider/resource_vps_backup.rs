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

use crate::hostup::{BackupList, CreateBackup, Gate, JobRef, JobSnapshot};
use crate::plugin::diag::{AttributePath, Diagnostics};
use crate::plugin::framework::{
    timeouts, CreateRequest, CreateResponse, Ctx, DeleteRequest, DeleteResponse, ImportRequest,
    ImportResponse, PlanRequest, PlanResponse, ReadRequest, ReadResponse, Resource, UpdateRequest,
    UpdateResponse, ValidateRequest, ValidateResponse,
};
use crate::plugin::schema::{Attribute, Block, Schema};
use crate::plugin::value::Value;

use super::common::{
    known_str, lock_vps, opt_str, post_error, record_and_wait, split_import_id, timeout_of,
    timeouts_block, triggers_argument, vps_id_argument, HostupData,
};
use super::errors::{api_error, gate_closed, Paths, Subject};

/// Type name.
pub const TYPE_NAME: &str = "hostup_vps_backup";
/// Default `timeouts.create`: backups of large disks take long (Vultr's 20 min proved short).
pub const DEFAULT_CREATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// Private-state key marking a freshly imported instance, whose null `note`/`triggers` adopt
/// the configuration's values without running a new backup.
pub(crate) const IMPORTED_KEY: &str = "imported";
const MAX_NOTE: usize = 255;

/// The `hostup_vps_backup` resource.
#[derive(Debug, Default)]
pub struct VpsBackup;

fn subject(vps_id: &str) -> Subject {
    Subject::new(TYPE_NAME, vps_id, "backup")
}

/// The backup gate from a backup list (None = HostUp did not report it: not blocking).
fn backup_gate(list: &BackupList) -> Option<&Gate> {
    list.actions
        .as_ref()
        .and_then(|a| a.can_create_backup.as_ref())
}

/// Drops `attrs` from the replacement paths when the prior state is a fresh import whose
/// value is null there (import cannot recover them, the config supplies them).
pub(crate) fn adopt_after_import(
    req_prior: &crate::plugin::framework::ObjectValue,
    prior_private: &crate::plugin::framework::Private,
    attrs: &[&str],
    resp: &mut PlanResponse,
) {
    if prior_private.get::<bool>(IMPORTED_KEY) != Some(true) {
        return;
    }
    for a in attrs {
        if req_prior.attr(a).is_null() {
            let p = AttributePath::root(*a);
            resp.requires_replace.retain(|x| x != &p);
        }
    }
}

/// Reads the status and finish time of a job for import.
pub(crate) fn job_state_values(snap: &JobSnapshot) -> (Value, Value) {
    let status = snap
        .status
        .clone()
        .or_else(|| snap.raw_state.clone())
        .unwrap_or_else(|| format!("{:?}", snap.job_state()).to_ascii_lowercase());
    (Value::from(status), opt_str(snap.finished_at.as_deref()))
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
                     plan, service status, another job running) and fails with HostUp's reason \
                     and code when a backup would be refused; apply checks it again just \
                     before queuing. The job id is saved in state as soon as HostUp accepts \
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
        validate_common(&req.config, &mut resp.diagnostics);
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
        match client.list_backups(vps_id).await {
            Ok(list) => {
                if let Some(g) = backup_gate(&list).filter(|g| !g.allowed) {
                    resp.diagnostics.push(gate_closed(
                        &subject(vps_id),
                        "canCreateBackup",
                        g,
                        AttributePath::root("vps_id"),
                        false,
                    ));
                }
            }
            Err(e) => {
                resp.diagnostics.push(api_error(
                    format!("Could not check whether VPS {vps_id} can be backed up"),
                    &e,
                    &Paths::vps(),
                ));
            }
        }
    }

    async fn create(&self, ctx: &Ctx, req: CreateRequest<HostupData>, resp: &mut CreateResponse) {
        let diags = &mut resp.diagnostics;
        let Some(data) = req.provider.require(diags) else {
            return;
        };
        let planned = &req.planned_state;
        let Some(vps_id) = planned.string("vps_id").map(str::to_owned) else {
            diags
                .error("Missing vps_id", "`vps_id` must be known at apply.")
                .at(AttributePath::root("vps_id"));
            return;
        };
        let Some(timeout) = timeout_of(planned, "create", DEFAULT_CREATE_TIMEOUT, diags) else {
            return;
        };
        let subject = subject(&vps_id);
        let client = data.client(ctx);
        let Some(_guard) = lock_vps(&client, &vps_id, &subject, diags).await else {
            return;
        };
        // The gate again, just before the POST: the plan may be old.
        match client.list_backups(&vps_id).await {
            Ok(list) => {
                if let Some(g) = backup_gate(&list).filter(|g| !g.allowed) {
                    diags.push(gate_closed(
                        &subject,
                        "canCreateBackup",
                        g,
                        AttributePath::root("vps_id"),
                        true,
                    ));
                    return;
                }
            }
            Err(e) => {
                diags.push(api_error(
                    format!("Could not check whether VPS {vps_id} can be backed up"),
                    &e,
                    &Paths::vps(),
                ));
                return;
            }
        }
        let body = CreateBackup {
            note: planned.string("note").map(str::to_owned),
        };
        let op = match client.create_backup(&vps_id, &body).await {
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
        record_and_wait(&client, ctx, &op, &subject, timeout, planned, resp).await;
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
        let (vps_id, job_id) = match split_import_id(&req.id, "job_id") {
            Ok(p) => p,
            Err(d) => {
                resp.diagnostics.push(d);
                return;
            }
        };
        let Some(data) = req.provider.require(&mut resp.diagnostics) else {
            return;
        };
        let client = data.client(ctx);
        let snap = match client.get_job(&JobRef::new(job_id)).await {
            Ok(s) => s,
            Err(e) => {
                resp.diagnostics.push(api_error(
                    format!("Could not import backup job {job_id} of VPS {vps_id}"),
                    &e,
                    &Paths::default(),
                ));
                return;
            }
        };
        if let Some(t) = snap.job_type.as_deref() {
            if !t.contains("backup") || t.contains("restore") {
                resp.diagnostics.error(
                    "Not a backup job",
                    format!(
                        "HostUp job {job_id} is a {t:?} job, not a backup; import it into the \
                         matching resource type."
                    ),
                );
                return;
            }
        }
        let note = snap
            .result
            .as_ref()
            .and_then(|r| r.get("backup"))
            .and_then(|b| b.get("note"))
            .and_then(|n| n.as_str());
        let (status, completed_at) = job_state_values(&snap);
        resp.state
            .set_attr("vps_id", vps_id)
            .set_attr("id", job_id)
            .set_attr("job_id", job_id)
            .set_attr("status", status)
            .set_attr("completed_at", completed_at)
            .set_attr("note", opt_str(note));
        resp.private.set(IMPORTED_KEY, &true);
    }
}

/// Checks shared by the action resources: a known `vps_id` must not be blank.
pub(crate) fn validate_common(
    config: &crate::plugin::framework::ObjectValue,
    diags: &mut Diagnostics,
) {
    if config.string("vps_id").is_some_and(|s| s.trim().is_empty()) {
        diags
            .error(
                "Empty vps_id",
                "`vps_id` must be a HostUp VPS id such as `vps_01hxa3b4c5d6e7f8g9h0j1k2m3`.",
            )
            .at(AttributePath::root("vps_id"));
    }
}
