//! Data source `hostup_vps_backups`: a VPS's offsite backups, its backup quota and the
//! create/restore gates.
//!
//! Exists so a configuration can check the quota and the backup gate before queuing a
//! `hostup_vps_backup`, and list what a restore could use.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::hostup::{Backup, BackupList, QuotaInfo};
use crate::plugin::framework::{
    Ctx, DataSource, Field, ReadDataSourceRequest, ReadDataSourceResponse, ValidateRequest,
    ValidateResponse,
};
use crate::plugin::schema::{object_type, Attribute, Block, Schema};
use crate::plugin::value::Type;

use super::data::HostupData;
use super::errors::{api_error, Paths};
use super::schema_parts::gate_attribute;
use super::values::{newest, validate_vps_id, GateModel};

/// The `hostup_vps_backups` data source.
#[derive(Debug, Default)]
pub struct VpsBackups;

/// The object type of one backup (also the restore sources' backups).
pub(super) fn backup_type() -> Type {
    object_type([
        ("id", Type::String),
        ("display_id", Type::String),
        ("storage_key", Type::String),
        ("created_at", Type::String),
        ("size_gb", Type::Number),
        ("backup_type", Type::String),
        ("note", Type::String),
    ])
}

/// The data source's arguments.
#[derive(Debug, Deserialize)]
struct Config {
    vps_id: Field<String>,
    backup_type: Field<String>,
}

/// What a read records: the list, the quota and the gates as HostUp reports them.
#[derive(Serialize)]
struct Listed<'a> {
    id: &'a str,
    backups: Vec<BackupModel<'a>>,
    latest: Option<BackupModel<'a>>,
    quota_info: Option<QuotaModel>,
    can_create_backup: Option<GateModel<'a>>,
    can_restore: Option<GateModel<'a>>,
    can_restore_from_another_vps: Option<GateModel<'a>>,
}

/// One element of `backups` (a size that is not a finite number is null).
#[derive(Serialize)]
pub(super) struct BackupModel<'a> {
    id: &'a str,
    display_id: Option<&'a str>,
    storage_key: Option<&'a str>,
    created_at: Option<&'a str>,
    size_gb: Option<f64>,
    backup_type: Option<&'a str>,
    note: Option<&'a str>,
}

impl<'a> BackupModel<'a> {
    pub(super) fn of(b: &'a Backup) -> Self {
        BackupModel {
            id: &b.id,
            display_id: b.display_id.as_deref(),
            storage_key: b.storage_key.as_deref(),
            created_at: b.created_at.as_deref(),
            size_gb: b.size_gb.filter(|f| f.is_finite()),
            backup_type: b.backup_type.as_deref(),
            note: b.note.as_deref(),
        }
    }
}

/// `quota_info`.
#[derive(Serialize)]
struct QuotaModel {
    used: Option<i64>,
    limit: Option<i64>,
    remaining: Option<i64>,
}

impl QuotaModel {
    fn of(q: &QuotaInfo) -> Self {
        QuotaModel {
            used: q.used,
            limit: q.limit,
            remaining: q.remaining,
        }
    }
}

impl<'a> Listed<'a> {
    /// The list, its newest backup and the gates; with `only`, the backups of that type
    /// (`manual`, `scheduled`; any case).
    fn of(vps_id: &'a str, list: &'a BackupList, only: Option<&str>) -> Self {
        let actions = list.actions.as_ref();
        let kept: Vec<&Backup> = list
            .backups
            .iter()
            .filter(|b| {
                only.is_none_or(|t| {
                    b.backup_type
                        .as_deref()
                        .is_some_and(|bt| bt.eq_ignore_ascii_case(t.trim()))
                })
            })
            .collect();
        Listed {
            id: vps_id,
            latest: newest(&kept, |b| b.created_at.as_deref()).map(BackupModel::of),
            backups: kept.into_iter().map(BackupModel::of).collect(),
            quota_info: list.quota_info.as_ref().map(QuotaModel::of),
            can_create_backup: GateModel::of(actions.and_then(|a| a.can_create_backup.as_ref())),
            can_restore: GateModel::of(actions.and_then(|a| a.can_restore.as_ref())),
            can_restore_from_another_vps: GateModel::of(
                actions.and_then(|a| a.can_restore_from_another_vps.as_ref()),
            ),
        }
    }
}

#[async_trait]
impl DataSource<HostupData> for VpsBackups {
    fn type_name(&self) -> &str {
        "hostup_vps_backups"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .description(
                    "Reads the offsite backups of a HostUp VPS, its backup quota, and whether \
                     HostUp allows creating or restoring a backup right now. Backups are kept \
                     off the VPS for the long term, unlike snapshots.\n\nNeeds an API key with \
                     scope `read:vm`.",
                )
                .attribute(Attribute::string("vps_id").required().description(
                    "Id of the VPS (`vps_…`, e.g. `vps_01hxa3b4c5d6e7f8g9h0j1k2m3`), as \
                     listed by HostUp; see the `hostup_vps` data source to look one up by \
                     name.",
                ))
                .attribute(Attribute::string("backup_type").optional().description(
                    "Only the backups of this type: `manual` or `scheduled`. Unset: all.",
                ))
                .attribute(
                    Attribute::string("id")
                        .computed()
                        .description("Same as `vps_id`."),
                )
                .attribute(
                    Attribute::list("backups", backup_type())
                        .computed()
                        .description(
                            "The VPS's backups. Each element has `id` (`bkp_…`), \
                             `display_id`, `storage_key`, `created_at` (RFC 3339 or null), \
                             `size_gb`, `backup_type` (`manual` or `scheduled`) and `note` \
                             (or null).",
                        ),
                )
                .attribute(
                    Attribute::object(
                        "quota_info",
                        [
                            ("used", Type::Number),
                            ("limit", Type::Number),
                            ("remaining", Type::Number),
                        ],
                    )
                    .computed()
                    .description(
                        "The backup quota: `used` (backups counted against it), `limit` and \
                         `remaining` (both null when the plan has no limit). Null when HostUp \
                         does not report it.",
                    ),
                )
                .attribute(
                    Attribute::new("latest", backup_type())
                        .computed()
                        .description(
                            "The newest backup of `backups` (by `created_at`), or null when \
                             there is none, with the same attributes: `id`, `display_id`, \
                             `storage_key`, `created_at`, `size_gb`, `backup_type` and `note`. \
                             E.g. `backup_id = data.hostup_vps_backups.web.latest.id` restores \
                             the last backup.",
                        ),
                )
                .attribute(gate_attribute("can_create_backup", "queuing a new backup"))
                .attribute(gate_attribute("can_restore", "restoring a backup"))
                .attribute(gate_attribute(
                    "can_restore_from_another_vps",
                    "restoring a backup of another VPS onto this one",
                )),
        )
    }

    async fn validate(&self, _ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
        if let Some(c) = req.config.model::<Config>(&mut resp.diagnostics) {
            validate_vps_id(&c.vps_id, &mut resp.diagnostics);
        }
    }

    async fn read(
        &self,
        ctx: &Ctx,
        req: ReadDataSourceRequest<HostupData>,
        resp: &mut ReadDataSourceResponse,
    ) {
        let Some(data) = req.provider.require(&mut resp.diagnostics) else {
            return;
        };
        let Some(Config {
            vps_id: Field::Value(vps_id),
            backup_type,
        }) = req.config.model(&mut resp.diagnostics)
        else {
            return;
        };
        match data.client(ctx).list_backups(&vps_id).await {
            Ok(list) => {
                let only = backup_type.as_deref().filter(|t| !t.trim().is_empty());
                resp.state.set_fields(&Listed::of(&vps_id, &list, only));
            }
            Err(e) => {
                resp.diagnostics.push(api_error(
                    format!("Could not list the backups of VPS {vps_id}"),
                    &e,
                    &Paths::vps(),
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
    use crate::plugin::value::Value;

    #[test]
    fn fills_every_computed_attribute() {
        let list: BackupList = serde_json::from_value(serde_json::json!({
            "backups":[{"id":"bkp_1","displayId":"d","storageKey":"k","createdAt":null,
                        "sizeGb":12.4,"backupType":"manual","note":"n"}],
            "quotaInfo":{"used":1,"limit":null,"remaining":null},
            "actions":{"canCreateBackup":{"allowed":true,"reason":null,"code":null}}
        }))
        .unwrap_or_default();
        let mut st = ObjectValue::empty(SchemaInfo::new(VpsBackups.schema()));
        st.set_attr("vps_id", "vps_1");
        st.set_fields(&Listed::of("vps_1", &list, None));
        assert!(st.take_misuse().is_empty());
        assert_eq!(st.attr("can_restore"), &Value::Null);
        assert_eq!(st.attr("quota_info").attr("used"), Some(&Value::from(1i64)));
        assert!(st.is_wholly_known());
    }

    #[test]
    fn latest_is_the_newest_of_the_filtered_backups() {
        let list: BackupList = serde_json::from_value(serde_json::json!({"backups":[
            {"id":"bkp_1","createdAt":"2026-11-01T02:00:00.000Z","backupType":"scheduled"},
            {"id":"bkp_2","createdAt":"2026-11-03T02:00:00.000Z","backupType":"manual"},
            {"id":"bkp_3","createdAt":null,"backupType":"scheduled"},
            {"id":"bkp_4","createdAt":"2026-11-02T02:00:00.000Z","backupType":"Scheduled"}
        ]}))
        .unwrap_or_default();
        let all = Listed::of("vps_1", &list, None);
        assert_eq!(all.latest.map(|b| b.id), Some("bkp_2"));
        assert_eq!(all.backups.len(), 4);
        let scheduled = Listed::of("vps_1", &list, Some("scheduled"));
        assert_eq!(scheduled.latest.map(|b| b.id), Some("bkp_4"));
        assert_eq!(scheduled.backups.len(), 3);
        assert!(Listed::of("vps_1", &list, Some("other")).latest.is_none());
    }
}
