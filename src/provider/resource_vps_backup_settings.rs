//! Resource `hostup_vps_backup_settings`: how many backups a VPS keeps in all and whether
//! HostUp deletes the oldest to make room (`PATCH /api/v2/vps/{id}/backup-schedules`).
//!
//! A setting of the VPS, not an object: there is nothing to delete, so destroy only forgets it
//! (the plan says so) and the VPS keeps the values last set. Refresh reads them back, so a
//! change made in the dashboard shows as drift of the arguments the configuration sets.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::hostup::{BackupSettings, SetBackupSettings};
use crate::plugin::diag::{AttributePath, Diagnostic, Diagnostics};
use crate::plugin::framework::{
    CreateRequest, CreateResponse, Ctx, DeleteRequest, DeleteResponse, Field, ImportRequest,
    ImportResponse, ObjectValue, PlanDestroyRequest, PlanDestroyResponse, PlanRequest,
    PlanResponse, ReadRequest, ReadResponse, Resource, UpdateRequest, UpdateResponse,
    ValidateRequest, ValidateResponse,
};
use crate::plugin::schema::{Attribute, Block, Schema};

use super::data::HostupData;
use super::errors::{api_error, Paths};
use super::replacement;
use super::schema_parts::vps_id_argument;
use super::values::{import_vps_id, known, required, validate_vps_id};

/// Type name.
pub const TYPE_NAME: &str = "hostup_vps_backup_settings";

/// The `hostup_vps_backup_settings` resource.
#[derive(Debug, Default)]
pub struct VpsBackupSettings;

/// The resource's typed model (its arguments).
#[derive(Debug, Deserialize)]
struct Model {
    vps_id: Field<String>,
    max_total_backups: Field<f64>,
    auto_delete_oldest: Field<bool>,
}

/// What HostUp reports of the settings.
#[derive(Serialize)]
struct Reported<'a> {
    id: &'a str,
    total_backup_limit: Option<i64>,
    manual_backups_active: Option<i64>,
    scheduled_backups_active: Option<i64>,
    available_scheduled_slots: Option<i64>,
}

impl<'a> Reported<'a> {
    fn of(vps_id: &'a str, s: &BackupSettings) -> Self {
        Reported {
            id: vps_id,
            total_backup_limit: s.total_backup_limit,
            manual_backups_active: s.manual_backups_active,
            scheduled_backups_active: s.scheduled_backups_active,
            available_scheduled_slots: s.available_scheduled_slots,
        }
    }
}

/// The arguments as HostUp has them (refresh and import).
#[derive(Serialize)]
struct Arguments<'a> {
    vps_id: &'a str,
    max_total_backups: Option<i64>,
    auto_delete_oldest: Option<bool>,
}

/// The PATCH body of a configuration, after the checks of `terraform validate` (`None` when
/// something is unknown or invalid).
fn body(m: &Model, diags: &mut Diagnostics) -> Option<SetBackupSettings> {
    let max = match &m.max_total_backups {
        Field::Value(v) if v.fract() != 0.0 || *v < 1.0 => {
            diags.push(
                Diagnostic::error(
                    "Invalid max_total_backups",
                    format!("`max_total_backups` must be a whole number of 1 or more; {v} is not."),
                )
                .with_path(AttributePath::root("max_total_backups")),
            );
            return None;
        }
        Field::Value(v) => Some(*v as i64),
        Field::Null => None,
        Field::Unknown => return None,
    };
    let auto = match &m.auto_delete_oldest {
        Field::Unknown => return None,
        f => f.get().copied(),
    };
    if max.is_none() && auto.is_none() {
        diags.push(
            Diagnostic::error(
                "No backup setting to set",
                "Set `max_total_backups`, `auto_delete_oldest` or both: HostUp changes only the \
                 settings it is given.",
            )
            .with_path(AttributePath::root("vps_id")),
        );
        return None;
    }
    Some(SetBackupSettings {
        max_total_backups: max,
        auto_delete_oldest: auto,
    })
}

/// Sends the settings; what HostUp answered, else what it lists afterwards.
async fn send(
    data: &HostupData,
    ctx: &Ctx,
    vps_id: &str,
    req: &SetBackupSettings,
    diags: &mut Diagnostics,
) -> Option<BackupSettings> {
    let client = data.client(ctx);
    let paths = Paths::vps().with_pointers(&[
        ("/maxTotalBackups", "max_total_backups"),
        ("/autoDeleteOldest", "auto_delete_oldest"),
    ]);
    match client.set_backup_settings(vps_id, req).await {
        Ok(Some(s)) => return Some(s),
        Ok(None) => {}
        Err(e) => {
            diags.push(api_error(
                format!("Could not set the backup settings of VPS {vps_id}"),
                &e,
                &paths,
                &data.config.sources,
            ));
            return None;
        }
    }
    match client.backup_schedules(vps_id).await {
        Ok(list) => Some(list.settings.unwrap_or_default()),
        Err(e) => {
            diags.push(api_error(
                format!("Could not read the backup settings of VPS {vps_id} back"),
                &e,
                &paths,
                &data.config.sources,
            ));
            None
        }
    }
}

#[async_trait]
impl Resource<HostupData> for VpsBackupSettings {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn identity(&self) -> Option<crate::plugin::framework::IdentitySchema> {
        Some(super::schema_parts::vps_identity(
            "whose backup settings these are",
        ))
    }

    fn schema(&self) -> Schema {
        let count = |name: &str, text: &str| Attribute::number(name).computed().description(text);
        Schema::new(
            Block::new()
                .description(
                    "The backup settings of a HostUp VPS: how many backups it keeps in all \
                    (manual and scheduled) and whether HostUp deletes the oldest backup to make \
                    room for a new one. Creating or changing this resource sets them; only the \
                    arguments given are sent, the others stay as HostUp has them.\n\n\
                    **Destroying it only removes it from the Terraform state**: the settings \
                    are not an object HostUp can delete, so the VPS keeps the values last set. \
                    Refresh shows values changed outside Terraform.\n\n\
                    Needs an API key with scopes `read:vm` and `write:vm`.\n\n\
                    Import with `terraform import hostup_vps_backup_settings.NAME <vps_id>`.",
                )
                .attribute(vps_id_argument("whose backup settings to set"))
                .attribute(
                    Attribute::number("max_total_backups")
                        .optional()
                        .description(
                        "How many backups the VPS keeps in all, manual and scheduled (1 or more).",
                    ),
                )
                .attribute(
                    Attribute::bool("auto_delete_oldest")
                        .optional()
                        .description(
                            "Whether HostUp deletes the oldest backup when a new one would exceed \
                    `max_total_backups` (else the new backup is refused).",
                        ),
                )
                .attribute(
                    Attribute::string("id")
                        .computed()
                        .use_state_for_unknown()
                        .description("The VPS id: a VPS has one set of backup settings."),
                )
                .attribute(count(
                    "total_backup_limit",
                    "The total backup limit HostUp applies now.",
                ))
                .attribute(count(
                    "manual_backups_active",
                    "How many manual backups the VPS has now.",
                ))
                .attribute(count(
                    "scheduled_backups_active",
                    "How many scheduled backups the VPS has now.",
                ))
                .attribute(count(
                    "available_scheduled_slots",
                    "How many more scheduled backups fit under the limit now.",
                )),
        )
    }

    async fn validate(&self, _ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
        let diags = &mut resp.diagnostics;
        let Some(m) = req.config.model::<Model>(diags) else {
            return;
        };
        validate_vps_id(&m.vps_id, diags);
        body(&m, diags);
    }

    async fn plan(&self, _ctx: &Ctx, req: PlanRequest<HostupData>, resp: &mut PlanResponse) {
        let Some(data) = req.provider.get() else {
            return;
        };
        let Some(m) = req.config.model::<Model>(&mut resp.diagnostics) else {
            return;
        };
        let Some(vps_id) = known(&m.vps_id) else {
            return;
        };
        if !replacement::claim_singleton(&data.run, TYPE_NAME, vps_id, &req, resp) {
            resp.diagnostics.push(
                Diagnostic::error(
                    format!("Two backup settings for VPS {vps_id}"),
                    "Another hostup_vps_backup_settings in this configuration has the same \
                     vps_id, and each would undo the other's values. Keep one of them.",
                )
                .with_path(AttributePath::root("vps_id")),
            );
        }
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
                "Destroying keeps the backup settings of VPS {} on HostUp",
                prior.vps_id.as_deref().unwrap_or("?")
            ),
            "Only the Terraform state forgets them: the VPS keeps the values last set.",
        ));
    }

    async fn create(&self, ctx: &Ctx, req: CreateRequest<HostupData>, resp: &mut CreateResponse) {
        let diags = &mut resp.diagnostics;
        let Some(data) = req.provider.require(diags) else {
            return;
        };
        let Some(m) = req.planned_state.model::<Model>(diags) else {
            return;
        };
        let (Some(vps_id), Some(b)) = (required(&m.vps_id, "vps_id", diags), body(&m, diags))
        else {
            return;
        };
        let Some(s) = send(data, ctx, vps_id, &b, diags).await else {
            return;
        };
        tracing::info!(vps_id = %vps_id, "backup settings set");
        let mut state = req.planned_state.clone();
        state.set_fields(&Reported::of(vps_id, &s));
        resp.state = state;
        replacement::forget(&mut resp.private);
    }

    async fn read(&self, ctx: &Ctx, req: ReadRequest<HostupData>, resp: &mut ReadResponse) {
        let Some(data) = req.provider.require(&mut resp.diagnostics) else {
            return;
        };
        let Some(cur) = req.current_state.model::<Model>(&mut resp.diagnostics) else {
            return;
        };
        let Some(vps_id) = cur.vps_id.as_deref() else {
            return;
        };
        match data.client(ctx).backup_schedules(vps_id).await {
            Ok(list) => {
                let s = list.settings.unwrap_or_default();
                if let Some(st) = resp.state.as_mut() {
                    record(st, vps_id, &s, &cur);
                }
            }
            Err(e) if e.is_vps_gone() => resp.remove(),
            Err(e) => {
                resp.diagnostics.push(api_error(
                    format!("Could not refresh the backup settings of VPS {vps_id}"),
                    &e,
                    &Paths::vps(),
                    &data.config.sources,
                ));
            }
        }
    }

    async fn update(&self, ctx: &Ctx, req: UpdateRequest<HostupData>, resp: &mut UpdateResponse) {
        let diags = &mut resp.diagnostics;
        let Some(data) = req.provider.require(diags) else {
            return;
        };
        let Some(m) = req.planned_state.model::<Model>(diags) else {
            return;
        };
        let (Some(vps_id), Some(b)) = (required(&m.vps_id, "vps_id", diags), body(&m, diags))
        else {
            return;
        };
        let Some(s) = send(data, ctx, vps_id, &b, diags).await else {
            resp.state = req.prior_state.clone();
            return;
        };
        resp.state.set_fields(&Reported::of(vps_id, &s));
        replacement::forget(&mut resp.private);
    }

    async fn delete(&self, _ctx: &Ctx, req: DeleteRequest<HostupData>, _resp: &mut DeleteResponse) {
        // Nothing to delete on HostUp: the plan said that the settings stay.
        tracing::info!(
            vps_id = req.prior_state.string("vps_id").unwrap_or("?"),
            "backup settings forgotten; HostUp keeps them"
        );
    }

    async fn import(&self, ctx: &Ctx, req: ImportRequest<HostupData>, resp: &mut ImportResponse) {
        let vps_id = match import_vps_id(&req.id) {
            Ok(id) => id,
            Err(d) => {
                resp.diagnostics.push(d);
                return;
            }
        };
        let Some(data) = req.provider.require(&mut resp.diagnostics) else {
            return;
        };
        match data.client(ctx).backup_schedules(vps_id).await {
            Ok(list) => {
                let s = list.settings.unwrap_or_default();
                resp.state.set_fields(&Arguments {
                    vps_id,
                    max_total_backups: s.total_backup_limit,
                    auto_delete_oldest: s.auto_delete_oldest,
                });
                resp.state.set_fields(&Reported::of(vps_id, &s));
            }
            Err(e) => {
                resp.diagnostics.push(api_error(
                    format!("Could not import the backup settings of VPS {vps_id}"),
                    &e,
                    &Paths::default(),
                    &data.config.sources,
                ));
            }
        }
    }
}

/// Refresh: the reported values, and the arguments the state holds as HostUp has them now.
fn record(state: &mut ObjectValue, vps_id: &str, s: &BackupSettings, cur: &Model) {
    let max = cur
        .max_total_backups
        .get()
        .map(|prior| s.total_backup_limit.unwrap_or(*prior as i64));
    let auto = cur
        .auto_delete_oldest
        .get()
        .map(|prior| s.auto_delete_oldest.unwrap_or(*prior));
    state.set_fields(&Arguments {
        vps_id,
        max_total_backups: max,
        auto_delete_oldest: auto,
    });
    state.set_fields(&Reported::of(vps_id, s));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::framework::SchemaInfo;

    #[test]
    fn the_model_fits_the_schema() {
        let mut o = ObjectValue::empty(SchemaInfo::new(VpsBackupSettings.schema()));
        o.set_fields(&Arguments {
            vps_id: "vps_1",
            max_total_backups: Some(5),
            auto_delete_oldest: None,
        })
        .set_fields(&Reported::of("vps_1", &BackupSettings::default()));
        assert!(o.take_misuse().is_empty());
        let m: Model = o.decode().expect("decodes");
        let b = body(&m, &mut Diagnostics::new()).expect("a body");
        assert_eq!((b.max_total_backups, b.auto_delete_oldest), (Some(5), None));
    }

    #[test]
    fn at_least_one_setting_and_a_whole_limit() {
        let m = |max: Field<f64>, auto: Field<bool>| Model {
            vps_id: Field::Value("vps_1".into()),
            max_total_backups: max,
            auto_delete_oldest: auto,
        };
        let summaries = |m: &Model| {
            let mut d = Diagnostics::new();
            body(m, &mut d);
            d.iter().map(|d| d.summary.clone()).collect::<Vec<_>>()
        };
        assert_eq!(
            summaries(&m(Field::Null, Field::Null)),
            ["No backup setting to set"]
        );
        assert_eq!(
            summaries(&m(Field::Value(0.0), Field::Null)),
            ["Invalid max_total_backups"]
        );
        assert_eq!(
            summaries(&m(Field::Value(2.5), Field::Null)),
            ["Invalid max_total_backups"]
        );
        assert!(summaries(&m(Field::Null, Field::Value(false))).is_empty());
    }
}
