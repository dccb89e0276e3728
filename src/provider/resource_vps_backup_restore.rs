//! Resource `hostup_vps_backup_restore`: restore an offsite backup onto a VPS (destructive),
//! in place or from another VPS, and wait until HostUp has completed it.
//!
//! An action-style resource like `hostup_vps_snapshot_restore`: create runs the restore once,
//! any argument change runs it again through a replacement, destroy only forgets it (a restore
//! cannot be undone). Plan checks that the backup exists where the restore looks for it (the
//! VPS's own backups, or the restore sources of the VPS for a backup of another one), listing
//! the backups that do exist, and that HostUp's gate is open (`canRestore`, or
//! `canRestoreFromAnotherVps`); and it always warns that the VPS disk will be replaced.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::hostup::{BackupList, Client, JobKind, JobRef, RestoreFromVps, RestoreSources};
use crate::plugin::diag::{AttributePath, Diagnostic, Diagnostics};
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
    required, settle_private, timeouts_block, triggers_argument, validate_vps_id, vps_id_argument,
    Adoption, GateCheck, GateFuture, JobKey, OpTimeout, SendFuture, Triggers,
};
use super::data::HostupData;
use super::errors::{api_error, Paths, RunBy, Subject};
use super::values::validate_vps_id_at;

/// Type name.
pub const TYPE_NAME: &str = "hostup_vps_backup_restore";
/// `timeouts.create`: backups take longer to restore than snapshots.
pub const CREATE: OpTimeout = OpTimeout::new("create", Duration::from_secs(60 * 60));

/// The arguments besides `vps_id` that make one restore run.
const RUN_ARGS: &[&str] = &["backup_id", "source_vps_id", "triggers"];

/// The resource's typed model.
#[derive(Debug, Deserialize)]
struct Model {
    vps_id: Field<String>,
    backup_id: Field<String>,
    source_vps_id: Field<String>,
    triggers: Field<Triggers>,
    job_id: Field<String>,
}

impl Model {
    fn key(&self) -> Option<JobKey> {
        job_key(
            TYPE_NAME,
            &self.vps_id,
            &(&self.backup_id, &self.source_vps_id, &self.triggers),
        )
    }
}

/// What an import recovers besides the job, when the job's result names it.
#[derive(Serialize)]
struct Imported<'a> {
    backup_id: Option<&'a str>,
    source_vps_id: Option<&'a str>,
}

/// The `hostup_vps_backup_restore` resource.
#[derive(Debug, Default)]
pub struct VpsBackupRestore;

pub(super) fn subject(vps_id: &str, backup_id: &str, source: Option<&str>) -> Subject {
    let action = match source {
        Some(s) => format!("restore of backup {backup_id} from VPS {s}"),
        None => format!("restore of backup {backup_id}"),
    };
    Subject::new(TYPE_NAME, vps_id, action).destructive()
}

/// The warning every plan that runs a restore carries.
pub(super) fn destructive_warning(
    vps_id: &str,
    backup_id: &str,
    source: Option<&str>,
    by: RunBy,
) -> Diagnostic {
    let from = source.map(|s| format!(" of VPS {s}")).unwrap_or_default();
    let (verb, who, undo) = match by {
        RunBy::Apply => (
            "Applying",
            "hostup_vps_backup_restore",
            " (destroying the resource does not undo it)",
        ),
        RunBy::Invoke => ("Invoking", "The action", ""),
    };
    Diagnostic::warning(
        format!("{verb} this replaces the disk of VPS {vps_id} with backup {backup_id}{from}"),
        format!(
            "{who} stops the VPS and replaces its disk with the backup: everything written \
             since the backup was taken is lost. This cannot be undone{undo}. Take a backup or \
             snapshot first if you may need the current data."
        ),
    )
    .with_path(AttributePath::root("backup_id"))
}

/// The backup ids of a list, for messages.
fn listed<'a>(ids: impl Iterator<Item = &'a str>, what: &str) -> String {
    let ids: Vec<&str> = ids.collect();
    if ids.is_empty() {
        format!("{what} no backups.")
    } else {
        format!("{what} these backups: {}.", ids.join(", "))
    }
}

/// The in-place check: the backup is the VPS's own and `canRestore` is open.
fn check_in_place(list: &BackupList, vps_id: &str, backup_id: &str, at_apply: bool) -> GateCheck {
    let mut check = GateCheck::default();
    let subj = subject(vps_id, backup_id, None);
    let gate = list.actions.as_ref().and_then(|a| a.can_restore.as_ref());
    check.gate(
        &subj,
        "canRestore",
        gate,
        AttributePath::root("backup_id"),
        at_apply,
    );
    if !list.backups.iter().any(|b| b.id == backup_id) {
        let has = listed(list.backups.iter().map(|b| b.id.as_str()), "It has");
        let lists = if list.backups.is_empty() {
            ""
        } else {
            " The `hostup_vps_backups` data source lists them."
        };
        check.problems.push(
            Diagnostic::error(
                format!("VPS {vps_id} has no backup {backup_id}"),
                format!(
                    "{has}{lists} To restore another VPS's backup, set `source_vps_id` to that \
                     VPS. Nothing was sent to HostUp."
                ),
            )
            .with_path(AttributePath::root("backup_id")),
        );
    }
    check
}

/// The cross-VPS check: the source is one HostUp offers for this VPS and has the backup.
fn check_source(
    sources: &RestoreSources,
    vps_id: &str,
    source: &str,
    backup_id: &str,
) -> Vec<Diagnostic> {
    let Some(s) = sources.sources.iter().find(|s| s.id == source) else {
        let ids: Vec<&str> = sources.sources.iter().map(|s| s.id.as_str()).collect();
        let offered = if ids.is_empty() {
            "HostUp offers no VPS to restore from.".to_owned()
        } else {
            format!("HostUp offers these: {}.", ids.join(", "))
        };
        return vec![Diagnostic::error(
            format!("VPS {vps_id} cannot restore backups of VPS {source}"),
            format!(
                "{source} is not among the restore sources of VPS {vps_id}. {offered} The \
                 `hostup_vps_restore_sources` data source lists them with their backups. \
                 Nothing was sent to HostUp."
            ),
        )
        .with_path(AttributePath::root("source_vps_id"))];
    };
    if s.backups.iter().any(|b| b.id == backup_id) {
        return Vec::new();
    }
    let has = listed(
        s.backups.iter().map(|b| b.id.as_str()),
        &format!("VPS {source} has"),
    );
    vec![Diagnostic::error(
        format!("VPS {source} has no backup {backup_id} to restore"),
        format!("{has} Nothing was sent to HostUp."),
    )
    .with_path(AttributePath::root("backup_id"))]
}

/// Plan's and apply's restore check.
pub(super) async fn check_gate(
    data: &HostupData,
    client: &Client,
    vps_id: &str,
    backup_id: &str,
    source: Option<&str>,
    at_apply: bool,
) -> GateCheck {
    let read = read_for_gate(
        &data.run.backup_reads,
        client,
        vps_id,
        at_apply,
        client.list_backups(vps_id),
    )
    .await;
    let paths = Paths::vps_and_target("backup_id");
    let what = || format!("Could not check the backups of VPS {vps_id} for the restore");
    let Some(source) = source else {
        return read_then_check(
            read,
            |list| check_in_place(list, vps_id, backup_id, at_apply),
            what,
            &paths,
            &data.config.sources,
        );
    };
    let mut check = read_then_check(
        read,
        |list| {
            let mut c = GateCheck::default();
            let gate = list
                .actions
                .as_ref()
                .and_then(|a| a.can_restore_from_another_vps.as_ref());
            let subj = subject(vps_id, backup_id, Some(source));
            c.gate(
                &subj,
                "canRestoreFromAnotherVps",
                gate,
                AttributePath::root("vps_id"),
                at_apply,
            );
            c
        },
        what,
        &paths,
        &data.config.sources,
    );
    if !check.problems.is_empty() {
        return check;
    }
    match client.restore_sources(vps_id).await {
        Ok(sources) => check
            .problems
            .extend(check_source(&sources, vps_id, source, backup_id)),
        Err(e) => check.problems.push(api_error(
            format!("Could not list the restore sources of VPS {vps_id}"),
            &e,
            &Paths::vps(),
            &data.config.sources,
        )),
    }
    check
}

#[async_trait]
impl Resource<HostupData> for VpsBackupRestore {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn identity(&self) -> Option<crate::plugin::framework::IdentitySchema> {
        Some(super::schema_parts::job_identity(
            "whose disk was restored",
            "restore",
        ))
    }

    fn schema(&self) -> Schema {
        let block = Block::new()
            .description(
                "Restores an offsite backup onto a HostUp VPS and waits until HostUp reports \
                the restore job completed: one of the VPS's own backups, or, with \
                `source_vps_id`, a backup of another VPS of the account (also the retained \
                backups of a terminated VPS).\n\n\
                **Warning: this is destructive. Applying it stops the VPS and replaces its \
                disk with the backup: everything written since the backup was taken is lost. \
                It cannot be undone.** The plan warns about it when the resource is created \
                and when an argument change replaces it.\n\n\
                This is an action-style resource: creating it runs the restore once. Changing \
                any argument (`vps_id`, `backup_id`, `source_vps_id`, `triggers`) plans a \
                replacement, which runs the restore again; nothing else ever does. \
                **Destroying it only removes it from the Terraform state; it does not undo \
                the restore.**\n\n\
                `terraform plan` checks that the backup exists where the restore takes it \
                from (listing the backups that do) and that HostUp allows the restore \
                (`canRestore`, or `canRestoreFromAnotherVps` with `source_vps_id`); apply \
                checks again just before queuing. The job id is saved in state as soon as \
                HostUp accepts the restore; a wait that fails leaves the resource tainted \
                with its job id, and the next apply adopts that job unless it failed. \
                Operations on one VPS in one run are queued one after another.\n\n\
                Needs an API key with scopes `read:vm` and `backup:vm`.\n\n\
                Import an existing restore job with `terraform import \
                hostup_vps_backup_restore.NAME <vps_id>/<job_id>`.",
            )
            .attribute(vps_id_argument("whose disk the backup replaces"))
            .attribute(
                Attribute::string("backup_id")
                    .required()
                    .requires_replace()
                    .description(
                        "Id of the backup to restore (`bkp_…`), as listed by the \
                        `hostup_vps_backups` data source (or `hostup_vps_restore_sources` for \
                        another VPS's). Changing it forces replacement, i.e. another restore.",
                    ),
            )
            .attribute(
                Attribute::string("source_vps_id")
                    .optional()
                    .requires_replace()
                    .description(
                        "Id of the VPS the backup belongs to, when it is not `vps_id` \
                        (restore from another VPS). Unset: the VPS's own backup is restored in \
                        place. Changing it forces replacement.",
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
        validate_arguments(&m.vps_id, &m.backup_id, &m.source_vps_id, diags);
    }

    async fn plan(&self, ctx: &Ctx, req: PlanRequest<HostupData>, resp: &mut PlanResponse) {
        let Some(m) = req.config.model::<Model>(&mut resp.diagnostics) else {
            return;
        };
        let backup_id = known(&m.backup_id);
        let source = m.source_vps_id.as_deref();
        let unknown = "(known after apply)";
        if let Some(prior) = &req.prior_state {
            plan_prior(&req, RUN_ARGS, resp);
            // Terraform drops the warnings of a replacement's second call: warn in the first.
            if !resp.requires_replace.is_empty() {
                let Some(before) = prior.model::<Model>(&mut resp.diagnostics) else {
                    return;
                };
                let vps_id = known(&m.vps_id).or(before.vps_id.as_deref());
                resp.diagnostics.push(destructive_warning(
                    vps_id.unwrap_or(unknown),
                    backup_id.unwrap_or(unknown),
                    source,
                    RunBy::Apply,
                ));
            }
            return;
        }
        let vps_id = known(&m.vps_id);
        resp.diagnostics.push(destructive_warning(
            vps_id.unwrap_or(unknown),
            backup_id.unwrap_or(unknown),
            source,
            RunBy::Apply,
        ));
        let (Some(data), Some(vps_id), Some(backup_id)) = (req.provider.get(), vps_id, backup_id)
        else {
            return;
        };
        if m.source_vps_id.is_unknown() {
            return;
        }
        if let Some(notice) = adoption_notice(data, m.key().as_ref(), "restore", resp) {
            resp.diagnostics.push(notice);
            return;
        }
        let client = data.client(ctx);
        let check = check_gate(data, &client, vps_id, backup_id, source, false).await;
        let diags = check.into_plan_diagnostics(data, &subject(vps_id, backup_id, source));
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
                "Destroying does not undo the backup restore of VPS {}",
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
        let (Some(vps_id), Some(backup_id)) = (
            required(&m.vps_id, "vps_id", diags),
            required(&m.backup_id, "backup_id", diags),
        ) else {
            return;
        };
        let source = m.source_vps_id.as_deref();
        let subject = subject(vps_id, backup_id, source);
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
        let (id, b) = (vps_id, backup_id);
        let gate = move |c: Client| -> GateFuture<'_> {
            Box::pin(async move { check_gate(data, &c, id, b, source, true).await })
        };
        let Some(job) = prepare(data, ctx, &subject, planned, timeout, diags, gate).await else {
            return;
        };
        let body = source.map(|s| RestoreFromVps {
            source_vps_id: s.to_owned(),
            backup_id: b.to_owned(),
        });
        let send = |c: Client| -> SendFuture<'_, _> {
            let body = &body;
            Box::pin(async move {
                match body {
                    Some(body) => c.restore_backup_from_vps(id, body).await,
                    None => c.restore_backup(id, b).await,
                }
            })
        };
        let op = match job.send(&subject, send).await {
            Ok(op) => op,
            Err(e) => {
                diags.push(e.diagnostic(
                    &subject,
                    format!("Could not queue the restore of backup {backup_id} on VPS {vps_id}"),
                    &Paths::vps_and_target("backup_id").with_pointers(&[
                        ("/backupId", "backup_id"),
                        ("/sourceVpsId", "source_vps_id"),
                    ]),
                    &data.config.sources,
                ));
                return;
            }
        };
        tracing::info!(job_id = %op.job_id, vps_id = %vps_id, backup = %backup_id,
            "HostUp backup restore queued");
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
            "forgetting hostup_vps_backup_restore; a restore cannot be undone"
        );
    }

    async fn import(&self, ctx: &Ctx, req: ImportRequest<HostupData>, resp: &mut ImportResponse) {
        let Some(data) = req.provider.require(&mut resp.diagnostics) else {
            return;
        };
        let kinds = [JobKind::BackupRestore];
        if let Some(job) = import_job(data, ctx, &req.id, "backup restore", &kinds, resp).await {
            let backup_id = job_result_str(&job, &["backupId"]);
            let source_vps_id = job_result_str(&job, &["sourceVpsId"]);
            resp.state.set_fields(&Imported {
                backup_id,
                source_vps_id,
            });
        }
    }
}

/// The checks of the restore's arguments (the resource's and the action's validation).
pub(super) fn validate_arguments(
    vps_id: &Field<String>,
    backup_id: &Field<String>,
    source_vps_id: &Field<String>,
    diags: &mut Diagnostics,
) {
    validate_vps_id(vps_id, diags);
    validate_vps_id_at(source_vps_id, "source_vps_id", diags);
    validate_backup_id(backup_id, diags);
    if let (Some(a), Some(b)) = (vps_id.as_deref(), source_vps_id.as_deref()) {
        if a.trim() == b.trim() {
            diags
                .error(
                    "source_vps_id is the VPS itself",
                    "To restore one of the VPS's own backups, leave `source_vps_id` unset: \
                     HostUp restores from another VPS only when the two differ.",
                )
                .at(AttributePath::root("source_vps_id"));
        }
    }
}

/// A known `backup_id` must look like HostUp's backup ids (`bkp_…`): a display id or a storage
/// key is the usual mistake.
fn validate_backup_id(backup_id: &Field<String>, diags: &mut Diagnostics) {
    let Some(id) = backup_id.as_deref() else {
        return;
    };
    if id.trim() != id {
        diags
            .error(
                "backup_id has surrounding whitespace",
                format!(
                    "{id:?} starts or ends with whitespace; HostUp ids have none. Remove it (e.g. \
                     with `trimspace()`)."
                ),
            )
            .at(AttributePath::root("backup_id"));
    } else if !id.starts_with("bkp_") {
        diags
            .error(
                "backup_id is not a HostUp backup id",
                format!(
                    "HostUp backup ids start with `bkp_` (like `bkp_01hxa3b4c5d6e7f8g9h0j1k2m3`); \
                     {id:?} is not one. Take the `id` from the `hostup_vps_backups` data source, \
                     not its `display_id` or `storage_key`."
                ),
            )
            .at(AttributePath::root("backup_id"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::framework::{ObjectValue, SchemaInfo};

    #[test]
    fn the_model_fits_the_schema() {
        let mut o = ObjectValue::empty(SchemaInfo::new(VpsBackupRestore.schema()));
        o.set_fields(&Imported {
            backup_id: Some("bkp_1"),
            source_vps_id: None,
        });
        assert!(o.take_misuse().is_empty());
        let m: Model = o.decode().expect("decodes");
        assert_eq!(m.backup_id.as_deref(), Some("bkp_1"));
    }

    #[test]
    fn a_missing_backup_lists_those_that_exist() {
        let list: BackupList = serde_json::from_value(serde_json::json!({
            "backups": [{"id": "bkp_a"}, {"id": "bkp_b"}],
            "actions": {"canRestore": {"allowed": true}}
        }))
        .unwrap();
        let c = check_in_place(&list, "vps_1", "bkp_z", false);
        assert_eq!(c.problems.len(), 1);
        assert!(
            c.problems[0].detail.contains("bkp_a, bkp_b"),
            "{:?}",
            c.problems
        );
        assert!(check_in_place(&list, "vps_1", "bkp_a", false)
            .problems
            .is_empty());

        let sources: RestoreSources = serde_json::from_value(serde_json::json!({
            "sources": [{"id": "vps_2", "sourceType": "server", "backups": [{"id": "bkp_c"}]}]
        }))
        .unwrap();
        assert!(check_source(&sources, "vps_1", "vps_2", "bkp_c").is_empty());
        let d = check_source(&sources, "vps_1", "vps_2", "bkp_a");
        assert!(d[0].detail.contains("bkp_c"), "{d:?}");
        let d = check_source(&sources, "vps_1", "vps_3", "bkp_c");
        assert_eq!(d[0].attribute, Some(AttributePath::root("source_vps_id")));
        assert!(d[0].detail.contains("vps_2"), "{d:?}");
    }

    #[test]
    fn backup_ids_have_hostups_form() {
        for (id, ok) in [
            ("bkp_01", true),
            ("vzdump.vma.zst", false),
            (" bkp_1", false),
        ] {
            let mut d = Diagnostics::new();
            validate_backup_id(&Field::Value(id.to_owned()), &mut d);
            assert_eq!(d.is_empty(), ok, "{id}");
        }
    }
}
