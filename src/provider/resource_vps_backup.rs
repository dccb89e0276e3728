//! Resource `hostup_vps_backup`: queue an offsite backup of a VPS and wait until HostUp has
//! completed it.
//!
//! An action-style resource (docs/ARCHITECTURE.md, "Resources"): create runs the backup; any
//! argument change (besides `timeouts`) runs it again through a replacement; read never queues
//! anything; destroy only forgets it (the backup stays on HostUp). Plan checks HostUp's backup
//! gate, apply checks it again before the POST, and the job id is saved before waiting so a failed
//! or interrupted wait leaves a tainted resource instead of an orphaned job.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::hostup::{BackupList, Client, CreateBackup, JobKind, JobOutcome, JobRef};
use crate::plugin::diag::{AttributePath, Diagnostic, Diagnostics};
use crate::plugin::framework::{
    timeouts, CreateRequest, CreateResponse, Ctx, DeleteRequest, DeleteResponse, Field,
    ImportRequest, ImportResponse, ObjectValue, PlanDestroyRequest, PlanDestroyResponse,
    PlanRequest, PlanResponse, ReadRequest, ReadResponse, Resource, UpdateRequest, UpdateResponse,
    ValidateRequest, ValidateResponse,
};
use crate::plugin::schema::{Attribute, Block, Schema};

use super::action::{
    adopt_unfinished, adoption_notice, forget, import_job, job_attributes, job_key, job_result_str,
    known, no_gate, plan_prior, prepare, read_for_gate, read_then_check, record_and_wait,
    refresh_job, required, settle_private, timeouts_block, triggers_argument, validate_vps_id,
    vps_id_argument, Adoption, GateCheck, GateFuture, JobKey, OpTimeout, SendFuture, Triggers,
};
use super::data::HostupData;
use super::errors::{Paths, Subject};

/// Type name.
pub const TYPE_NAME: &str = "hostup_vps_backup";
/// `timeouts.create`: backups of large disks take long (Vultr's 20 min proved short).
pub const CREATE: OpTimeout = OpTimeout::new("create", Duration::from_secs(60 * 60));
/// `timeouts.delete` (only used with `delete_on_destroy`).
pub const DELETE: OpTimeout = OpTimeout::new("delete", Duration::from_secs(10 * 60));
/// The arguments besides `vps_id` that make one backup run (the attributes of
/// [`Model::run_args`]).
const RUN_ARGS: &[&str] = &["note", "triggers"];
const MAX_NOTE: usize = 255;

/// Checks a note's length (the resource's and the action's validation).
pub(super) fn validate_note(note: &Field<String>, diags: &mut Diagnostics) {
    if let Some(n) = note.as_deref() {
        let count = n.chars().count();
        if count > MAX_NOTE {
            diags
                .error(
                    "Note too long",
                    format!(
                        "HostUp accepts notes of at most {MAX_NOTE} characters; this one has \
                        {count}."
                    ),
                )
                .at(AttributePath::root("note"));
        }
    }
}

/// The `hostup_vps_backup` resource.
#[derive(Debug, Default)]
pub struct VpsBackup;

pub(super) fn subject(vps_id: &str) -> Subject {
    Subject::new(TYPE_NAME, vps_id, "backup")
}

/// The resource's typed model: its attributes as config, plan and state hold them (those of
/// the job every action-style resource has are read and written by the action room).
#[derive(Debug, Deserialize)]
struct Model {
    vps_id: Field<String>,
    note: Field<String>,
    triggers: Field<Triggers>,
    delete_on_destroy: Field<bool>,
    backup_id: Field<String>,
    job_id: Field<String>,
}

impl Model {
    /// The arguments that make one backup run ([`RUN_ARGS`]), for [`job_key`].
    fn run_args(&self) -> impl std::fmt::Debug + '_ {
        (&self.note, &self.triggers)
    }

    fn key(&self) -> Option<JobKey> {
        job_key(TYPE_NAME, &self.vps_id, &self.run_args())
    }

    /// What plan_destroy and delete call the backup: by its id once known, else by its job.
    fn backup_words(&self) -> String {
        match self.backup_id.as_deref() {
            Some(b) => format!("backup {b}"),
            None => format!(
                "the backup of job {}",
                self.job_id.as_deref().unwrap_or("?")
            ),
        }
    }
}

/// What a backup records besides its job: the id of the backup it made, once known.
#[derive(Serialize)]
struct Made<'a> {
    backup_id: Option<&'a str>,
}

/// What an import recovers besides the job: the note and the backup, when the job's result
/// names them (`delete_on_destroy` is the configuration's to give).
#[derive(Serialize)]
struct Imported<'a> {
    note: Option<&'a str>,
    backup_id: Option<&'a str>,
    delete_on_destroy: Option<bool>,
}

/// The id of the backup a completed job made: from the job's result when HostUp gives it (the
/// reference leaves its shape open: `backupId`, `backup.id`, or any `bkp_…` value near the top),
/// else the one backup that appeared in `after` since `before` (preferring the one with our
/// note).
fn backup_id_of(
    result: Option<&Json>,
    before: Option<&BTreeSet<String>>,
    after: Option<&BackupList>,
    note: Option<&str>,
) -> Option<String> {
    fn find(v: &Json, depth: u8) -> Option<String> {
        match v {
            Json::String(s) if s.starts_with("bkp_") => Some(s.clone()),
            Json::Object(m) if depth > 0 => ["backupId", "backup_id", "backup", "id"]
                .iter()
                .filter_map(|k| m.get(*k))
                .chain(m.values())
                .find_map(|x| find(x, depth - 1)),
            _ => None,
        }
    }
    if let Some(id) = result.and_then(|r| find(r, 3)) {
        return Some(id);
    }
    let (before, after) = (before?, after?);
    let new: Vec<_> = after
        .backups
        .iter()
        .filter(|b| !before.contains(&b.id))
        .collect();
    match new.as_slice() {
        [one] => Some(one.id.clone()),
        many => {
            let noted: Vec<_> = many
                .iter()
                .filter(|b| note.is_some() && b.note.as_deref() == note)
                .collect();
            (noted.len() == 1).then(|| noted[0].id.clone())
        }
    }
}

/// Plan's and apply's check of HostUp's backup gate (`canCreateBackup`: quota, plan, service
/// status, another job running); `at_apply` words the error for an apply that sent nothing.
/// The ids listed go into `seen` when given (apply: to find the new backup afterwards).
pub(super) async fn check_gate(
    data: &HostupData,
    client: &Client,
    vps_id: &str,
    at_apply: bool,
    seen: Option<&Mutex<Option<BTreeSet<String>>>>,
) -> GateCheck {
    let reads = &data.run.backup_reads;
    read_then_check(
        read_for_gate(reads, client, vps_id, at_apply, client.list_backups(vps_id)).await,
        |list: &BackupList| {
            if let Some(seen) = seen {
                let ids = list.backups.iter().map(|b| b.id.clone()).collect();
                *seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(ids);
            }
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
        &data.config.sources,
    )
}

/// Checks the gate, queues a backup and waits for it. Returns the job's end when it completed,
/// and the ids the backup list held just before the POST.
async fn run_backup(
    data: &HostupData,
    ctx: &Ctx,
    subject: &Subject,
    planned: &ObjectValue,
    note: Option<&str>,
    resp: &mut CreateResponse,
) -> (Option<JobOutcome>, Option<BTreeSet<String>>) {
    let diags = &mut resp.diagnostics;
    let timeout = CREATE;
    let id = subject.vps_id.as_str();
    let seen = Mutex::new(None);
    let gate = |c: Client| -> GateFuture<'_> {
        let seen = &seen;
        Box::pin(async move { check_gate(data, &c, id, true, Some(seen)).await })
    };
    let Some(job) = prepare(data, ctx, subject, planned, timeout, diags, gate).await else {
        return (None, None);
    };
    let body = CreateBackup {
        note: note.map(str::to_owned),
    };
    let send = |c: Client| -> SendFuture<'_, _> {
        let body = &body;
        Box::pin(async move { c.create_backup(id, body).await })
    };
    let op = match job.send(subject, send).await {
        Ok(op) => op,
        Err(e) => {
            diags.push(e.diagnostic(
                subject,
                format!("Could not queue the backup of VPS {id}"),
                &Paths::vps().with_pointers(&[("/note", "note")]),
                &data.config.sources,
            ));
            return (None, None);
        }
    };
    tracing::info!(job_id = %op.job_id, vps_id = %id, "HostUp backup queued");
    let status = op.status.as_ref().map_or("queued", |s| s.as_str());
    let job_ref: JobRef = op.job_ref();
    let end = record_and_wait(&job, &job_ref, status, subject, planned, resp).await;
    (end, seen.into_inner().unwrap_or_else(|p| p.into_inner()))
}

#[async_trait]
impl Resource<HostupData> for VpsBackup {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn identity(&self) -> Option<crate::plugin::framework::IdentitySchema> {
        Some(super::schema_parts::job_identity("backed up", "backup"))
    }

    fn schema(&self) -> Schema {
        let block = Block::new()
            .description(
                "Queues an offsite backup of a HostUp VPS and waits until HostUp reports \
                the backup job completed, so later steps (an upgrade, a restore) run only \
                once the backup exists.\n\n\
                This is an action-style resource: creating it runs the backup once. \
                Changing `vps_id`, `note` or `triggers` plans a replacement, which runs a \
                new backup; nothing else ever runs it again (refresh and provider \
                upgrades never do). **Destroying it only removes it from the Terraform \
                state: the backup is kept on HostUp**, unless `delete_on_destroy` is \
                true; the destroy plan says which (Terraform 1.3 and later).\n\n\
                `terraform plan` checks HostUp's backup gate (`canCreateBackup`: quota, \
                plan, service status) and fails with HostUp's reason and code when a \
                backup would be refused; apply checks it again just before queuing. When \
                the gate is closed only because another job is running on the VPS (code \
                `job_in_progress`, e.g. one started from the dashboard), plan warns and \
                apply waits for that job to finish, within `timeouts.create`. The job id \
                is saved in state as soon as HostUp accepts \
                the backup: if the wait then fails (the job fails, `timeouts.create` \
                passes, or you press Ctrl-C) the resource is kept with its job id and \
                marked tainted. The next apply replaces it: if that job is still queued \
                or running, or has completed, apply adopts it instead of queuing \
                another backup; if it failed, it runs a new one. Backups of one \
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
            .attribute(Attribute::bool("delete_on_destroy").optional().description(
                "Whether destroying this resource deletes the backup on HostUp \
                (default false: the backup is kept, and only the Terraform state \
                forgets it). Changing it updates in place; it never runs a \
                backup.",
            ))
            .attribute(
                Attribute::string("backup_id")
                    .computed()
                    .use_state_for_unknown()
                    .description(
                        "Id of the backup the job made (`bkp_…`), as HostUp's job result \
                        gives it, or else the one new backup in the VPS's backup list \
                        once the job completed. Null when neither tells (e.g. an \
                        imported job whose result does not name it).",
                    ),
            );
        Schema::new(
            job_attributes(block, "backup")
                .block(timeouts_block("the backup job", &[CREATE, DELETE])),
        )
    }

    async fn validate(&self, _ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
        timeouts::validate(&req.config, &mut resp.diagnostics);
        let Some(m) = req.config.model::<Model>(&mut resp.diagnostics) else {
            return;
        };
        validate_vps_id(&m.vps_id, &mut resp.diagnostics);
        validate_note(&m.note, &mut resp.diagnostics);
    }

    async fn plan(&self, ctx: &Ctx, req: PlanRequest<HostupData>, resp: &mut PlanResponse) {
        if req.prior_state.is_some() {
            plan_prior(&req, RUN_ARGS, resp);
            return;
        }
        let Some(m) = req.config.model::<Model>(&mut resp.diagnostics) else {
            return;
        };
        let (Some(data), Some(vps_id)) = (req.provider.get(), known(&m.vps_id)) else {
            return;
        };
        if let Some(notice) = adoption_notice(data, m.key().as_ref(), "backup", resp) {
            resp.diagnostics.push(notice);
            return;
        }
        let client = data.client(ctx);
        let check = check_gate(data, &client, vps_id, false, None).await;
        let diags = check.into_plan_diagnostics(data, &subject(vps_id));
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
        let vps = prior.vps_id.as_deref().unwrap_or("?");
        let what = prior.backup_words();
        let d = if prior.delete_on_destroy.get() == Some(&true) {
            Diagnostic::warning(
                format!("Destroying deletes {what} of VPS {vps} on HostUp"),
                "delete_on_destroy is true: the backup is deleted on HostUp and cannot be \
                restored afterwards.",
            )
        } else {
            Diagnostic::warning(
                format!("Destroying keeps {what} of VPS {vps} on HostUp"),
                "Only the Terraform state forgets it; set `delete_on_destroy = true` to delete \
                backups on destroy.",
            )
        };
        resp.diagnostics.push(d);
    }

    async fn create(&self, ctx: &Ctx, req: CreateRequest<HostupData>, resp: &mut CreateResponse) {
        let Some(data) = req.provider.require(&mut resp.diagnostics) else {
            return;
        };
        let planned = &req.planned_state;
        let Some(m) = planned.model::<Model>(&mut resp.diagnostics) else {
            return;
        };
        let Some(vps_id) = required(&m.vps_id, "vps_id", &mut resp.diagnostics) else {
            return;
        };
        let subject = subject(vps_id);
        let timeout = CREATE;
        let note = m.note.as_deref();
        let (end, before) = match adopt_unfinished(
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
            Adoption::Adopted(end) => (end.map(|e| *e), None),
            Adoption::None => run_backup(data, ctx, &subject, planned, note, resp).await,
        };
        let Some(end) = end else {
            // Not completed: a job in state (tainted) has made no backup yet.
            if !resp.state.is_null() {
                resp.state.set_fields(&Made { backup_id: None });
            }
            return;
        };
        let mut id = backup_id_of(end.last.result.as_ref(), None, None, note);
        if let (None, Some(before)) = (&id, &before) {
            // The result does not name the backup: the list does, as its one new entry.
            if let Ok(list) = data.client(ctx).list_backups(vps_id).await {
                id = backup_id_of(None, Some(before), Some(&list), note);
            }
        }
        resp.state.set_fields(&Made {
            backup_id: id.as_deref(),
        });
    }

    async fn read(&self, ctx: &Ctx, req: ReadRequest<HostupData>, resp: &mut ReadResponse) {
        // Never re-queues work and never drifts: the backup job happened (or is tainted).
        let Some(data) = req.provider.get() else {
            return;
        };
        let Some(m) = req.current_state.model::<Model>(&mut resp.diagnostics) else {
            return;
        };
        let Some(job) = refresh_job(data, ctx, &req, m.key(), resp).await else {
            return;
        };
        if m.backup_id.is_null() {
            let note = m.note.as_deref();
            if let Some(id) = backup_id_of(job.result.as_ref(), None, None, note) {
                if let Some(st) = resp.state.as_mut() {
                    st.set_fields(&Made {
                        backup_id: Some(&id),
                    });
                }
            }
        }
    }

    async fn update(&self, _ctx: &Ctx, _req: UpdateRequest<HostupData>, resp: &mut UpdateResponse) {
        // Only `timeouts`, `delete_on_destroy` (or values adopted after import) change in
        // place: nothing to send.
        settle_private(&mut resp.private);
    }

    async fn delete(&self, ctx: &Ctx, req: DeleteRequest<HostupData>, resp: &mut DeleteResponse) {
        let diags = &mut resp.diagnostics;
        let prior = &req.prior_state;
        let Some(m) = prior.model::<Model>(diags) else {
            return;
        };
        forget(req.provider.get(), m.key(), prior, &req.prior_private);
        if m.delete_on_destroy.get() != Some(&true) {
            tracing::info!(
                job_id = m.job_id.as_deref().unwrap_or(""),
                "forgetting hostup_vps_backup; the backup stays on HostUp"
            );
            return;
        }
        let Some(data) = req.provider.require(diags) else {
            return;
        };
        let Some(vps_id) = required(&m.vps_id, "vps_id", diags) else {
            return;
        };
        let Some(backup_id) = m.backup_id.as_deref() else {
            diags.push(Diagnostic::warning(
                format!(
                    "The backup of job {} was not deleted",
                    m.job_id.as_deref().unwrap_or("?")
                ),
                "delete_on_destroy is true, but the id of the backup this job made is not \
                known, so nothing was deleted on HostUp. Delete it in the HostUp dashboard.",
            ));
            return;
        };
        let subject = Subject::new(TYPE_NAME, vps_id, format!("deletion of backup {backup_id}"))
            .bounded_by("delete");
        let timeout = DELETE;
        let Some(job) = prepare(data, ctx, &subject, prior, timeout, diags, no_gate).await else {
            return;
        };
        let id = vps_id;
        let send = |c: Client| -> SendFuture<'_, _> {
            Box::pin(async move { c.delete_backup(id, backup_id).await })
        };
        match job.send(&subject, send).await {
            Ok(None) => {}
            Ok(Some(op)) => {
                if let Some(e) = job.wait(&op.job_ref(), &subject).await.error {
                    diags.push(e);
                }
            }
            Err(e) if e.error.is_not_found() => {
                tracing::info!(vps_id = %vps_id, backup_id, "backup already gone");
            }
            Err(e) => {
                diags.push(e.diagnostic(
                    &subject,
                    format!("Could not delete backup {backup_id} of VPS {vps_id}"),
                    &Paths::vps(),
                    &data.config.sources,
                ));
            }
        }
    }

    async fn import(&self, ctx: &Ctx, req: ImportRequest<HostupData>, resp: &mut ImportResponse) {
        let Some(data) = req.provider.require(&mut resp.diagnostics) else {
            return;
        };
        let kinds = [JobKind::BackupCreate];
        if let Some(job) = import_job(data, ctx, &req.id, "backup", &kinds, resp).await {
            let note = job_result_str(&job, &["backup", "note"]);
            let id = backup_id_of(job.result.as_ref(), None, None, note);
            resp.state.set_fields(&Imported {
                note,
                backup_id: id.as_deref(),
                delete_on_destroy: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::framework::SchemaInfo;

    #[test]
    fn the_model_fits_the_schema() {
        let mut o = ObjectValue::empty(SchemaInfo::new(VpsBackup.schema()));
        o.set_fields(&Imported {
            note: Some("n"),
            backup_id: Some("bkp_1"),
            delete_on_destroy: None,
        })
        .set_fields(&Made { backup_id: None });
        assert!(o.take_misuse().is_empty());
        let m: Model = o.decode().expect("decodes");
        assert_eq!(m.note.as_deref(), Some("n"));
        assert!(m.backup_id.is_null());
        assert_eq!(m.backup_words(), "the backup of job ?");
    }

    #[test]
    fn a_trigger_unknown_at_plan_is_a_value_of_the_model() {
        use crate::plugin::value::Value;
        let mut o = ObjectValue::empty(SchemaInfo::new(VpsBackup.schema()));
        o.set_attr("vps_id", "vps_1").set_attr(
            "triggers",
            Value::Map([("release".to_owned(), Value::unknown())].into()),
        );
        let m: Model = o.decode().expect("an unknown trigger decodes");
        let t = m.triggers.get().expect("the map is known");
        assert!(t["release"].is_unknown());
        // The key of an unknown trigger differs from any known one: no adoption across it.
        let mut known = o.clone();
        known.set_attr(
            "triggers",
            Value::Map([("release".to_owned(), Value::from("v1"))].into()),
        );
        let k: Model = known.decode().expect("decodes");
        assert_ne!(m.key(), k.key());
    }
}
