//! Data source `hostup_vps_snapshots`: a VPS's snapshots, snapshot slots and the create and
//! restore gates.
//!
//! Exists so a configuration (and a CI plan) can see what a restore would roll back to and
//! whether HostUp would accept a snapshot or restore right now, before changing anything.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::hostup::{Snapshot, SnapshotList};
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

/// The `hostup_vps_snapshots` data source.
#[derive(Debug, Default)]
pub struct VpsSnapshots;

/// The element type of `snapshots`.
pub fn snapshot_object_type() -> Type {
    object_type([
        ("name", Type::String),
        ("display_id", Type::String),
        ("description", Type::String),
        ("created_at", Type::String),
        ("expires_at", Type::String),
        ("includes_memory_state", Type::Bool),
        ("parent_name", Type::String),
    ])
}

/// The data source's argument.
#[derive(Debug, Deserialize)]
struct Config {
    vps_id: Field<String>,
}

/// What a read records: the list, the slots and the gates as HostUp reports them.
#[derive(Serialize)]
struct Listed<'a> {
    id: &'a str,
    available: bool,
    reason: Option<&'a str>,
    total_snapshots: Option<i64>,
    used_snapshots: i64,
    can_create: Option<GateModel<'a>>,
    can_restore: Option<GateModel<'a>>,
    snapshots: Vec<SnapshotModel<'a>>,
    latest: Option<SnapshotModel<'a>>,
}

/// One element of `snapshots`.
#[derive(Serialize)]
struct SnapshotModel<'a> {
    name: &'a str,
    display_id: Option<&'a str>,
    description: Option<&'a str>,
    created_at: Option<&'a str>,
    expires_at: Option<&'a str>,
    includes_memory_state: Option<bool>,
    parent_name: Option<&'a str>,
}

impl<'a> SnapshotModel<'a> {
    fn of(s: &'a Snapshot) -> Self {
        SnapshotModel {
            name: &s.name,
            display_id: s.display_id.as_deref(),
            description: s.description.as_deref(),
            created_at: s.created_at.as_deref(),
            expires_at: s.expires_at.as_deref(),
            includes_memory_state: s.includes_memory_state,
            parent_name: s.parent_name.as_deref(),
        }
    }
}

impl<'a> Listed<'a> {
    fn of(vps_id: &'a str, list: &'a SnapshotList) -> Self {
        let actions = list.actions.as_ref();
        Listed {
            id: vps_id,
            available: list.available.unwrap_or(list.total_snapshots() != Some(0)),
            reason: list.reason.as_deref(),
            total_snapshots: list.total_snapshots(),
            used_snapshots: list.used_snapshots(),
            can_create: GateModel::of(actions.and_then(|a| a.can_create.as_ref())),
            can_restore: GateModel::of(actions.and_then(|a| a.can_restore.as_ref())),
            snapshots: list.data.iter().map(SnapshotModel::of).collect(),
            latest: newest(&list.data.iter().collect::<Vec<_>>(), |s| {
                s.created_at.as_deref()
            })
            .map(SnapshotModel::of),
        }
    }
}

#[async_trait]
impl DataSource<HostupData> for VpsSnapshots {
    fn type_name(&self) -> &str {
        "hostup_vps_snapshots"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .description(
                    "Reads the snapshots of a HostUp VPS, its snapshot slots, and whether \
                     HostUp allows creating or restoring a snapshot right now. Snapshots are \
                     short-lived (they expire about 24 hours after creation) and are kept on \
                     the VPS's own storage; for longer-term offsite copies see \
                     `hostup_vps_backups`.\n\nNeeds an API key with scope `read:vm`.",
                )
                .attribute(Attribute::string("vps_id").required().description(
                    "Id of the VPS (`vps_…`, e.g. `vps_01hxa3b4c5d6e7f8g9h0j1k2m3`), \
                             as listed by HostUp; see the `hostup_vps` data source to look one \
                             up by name.",
                ))
                .attribute(
                    Attribute::string("id")
                        .computed()
                        .description("Same as `vps_id`."),
                )
                .attribute(
                    Attribute::bool("available").computed().description(
                        "Whether the VPS's plan includes snapshots (at least one slot).",
                    ),
                )
                .attribute(Attribute::string("reason").computed().description(
                    "Why snapshots are not available, in HostUp's words; null when they are.",
                ))
                .attribute(
                    Attribute::number("total_snapshots").computed().description(
                        "Snapshot slots in the VPS's plan (null if HostUp does not say).",
                    ),
                )
                .attribute(Attribute::number("used_snapshots").computed().description(
                    "Snapshot slots in use (HostUp's count, else the number of snapshots \
                     listed).",
                ))
                .attribute(gate_attribute("can_create", "creating a snapshot"))
                .attribute(gate_attribute(
                    "can_restore",
                    "restoring (rolling back to) a snapshot",
                ))
                .attribute(
                    Attribute::list("snapshots", snapshot_object_type())
                        .computed()
                        .description(
                            "The VPS's snapshots, as HostUp lists them. Each element has \
                             `name` (the id used to restore it, e.g. `before-upgrade`), \
                             `display_id`, `description` (or null), `created_at` and \
                             `expires_at` (RFC 3339 times), `includes_memory_state` (whether \
                             RAM state was saved) and `parent_name` (the snapshot it builds \
                             on, or null).",
                        ),
                )
                .attribute(
                    Attribute::new("latest", snapshot_object_type())
                        .computed()
                        .description(
                            "The newest snapshot of `snapshots` (by `created_at`), or null \
                             when the VPS has none, with the same attributes: `name`, \
                             `display_id`, `description`, `created_at`, `expires_at`, \
                             `includes_memory_state` and `parent_name`.",
                        ),
                ),
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
        }) = req.config.model(&mut resp.diagnostics)
        else {
            return;
        };
        let client = data.client(ctx);
        match client.list_snapshots(&vps_id).await {
            Ok(list) => {
                resp.state.set_fields(&Listed::of(&vps_id, &list));
            }
            Err(e) => {
                resp.diagnostics.push(api_error(
                    format!("Could not list the snapshots of VPS {vps_id}"),
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
        let list: SnapshotList = serde_json::from_value(serde_json::json!({
            "data":[{"name":"before-upgrade","displayId":"before-upgrade","description":null,
                     "createdAt":"2026-11-22T10:00:00.000Z","expiresAt":"2026-11-23T10:00:00.000Z",
                     "includesMemoryState":false,"parentName":null}],
            "available":true,"reason":null,"limits":{"totalSnapshots":3},
            "actions":{"canCreate":{"allowed":true,"reason":null,"code":null},
                       "canRestore":{"allowed":false,"reason":"busy","code":"job_in_progress"}}
        }))
        .unwrap_or_default();
        let info = SchemaInfo::new(VpsSnapshots.schema());
        let mut st = ObjectValue::empty(info);
        st.set_attr("vps_id", "vps_1");
        st.set_fields(&Listed::of("vps_1", &list));
        assert!(st.take_misuse().is_empty());
        assert_eq!(st.i64("total_snapshots"), Some(3));
        assert_eq!(st.i64("used_snapshots"), Some(1));
        assert_eq!(
            st.attr("can_restore").attr("code").and_then(Value::as_str),
            Some("job_in_progress")
        );
        assert!(st.is_wholly_known());
    }
}
