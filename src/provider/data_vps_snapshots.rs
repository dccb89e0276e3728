//! Data source `hostup_vps_snapshots`: a VPS's snapshots, snapshot slots and the create and
//! restore gates.
//!
//! Exists so a configuration (and a CI plan) can see what a restore would roll back to and
//! whether HostUp would accept a snapshot or restore right now, before changing anything.

use async_trait::async_trait;

use crate::hostup::{Snapshot, SnapshotList};
use crate::plugin::framework::{
    Ctx, DataSource, ReadDataSourceRequest, ReadDataSourceResponse, ValidateRequest,
    ValidateResponse,
};
use crate::plugin::schema::{object_type, Attribute, Block, Schema};
use crate::plugin::value::{Type, Value};

use super::data::HostupData;
use super::errors::{api_error, Paths};
use super::schema_parts::gate_attribute;
use super::values::{gate_value, object, opt_str, validate_vps_id};

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

/// One snapshot as an element of `snapshots`.
pub fn snapshot_value(s: &Snapshot) -> Value {
    object([
        ("name", Value::from(s.name.as_str())),
        ("display_id", opt_str(s.display_id.as_deref())),
        ("description", opt_str(s.description.as_deref())),
        ("created_at", opt_str(s.created_at.as_deref())),
        ("expires_at", opt_str(s.expires_at.as_deref())),
        (
            "includes_memory_state",
            s.includes_memory_state.map_or(Value::Null, Value::Bool),
        ),
        ("parent_name", opt_str(s.parent_name.as_deref())),
    ])
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
                ),
        )
    }

    async fn validate(&self, _ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
        validate_vps_id(&req.config, &mut resp.diagnostics);
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
        let Some(vps_id) = req.config.string("vps_id").map(str::to_owned) else {
            return;
        };
        let client = data.client(ctx);
        match client.list_snapshots(&vps_id).await {
            Ok(list) => fill(&mut resp.state, &vps_id, &list),
            Err(e) => {
                resp.diagnostics.push(api_error(
                    format!("Could not list the snapshots of VPS {vps_id}"),
                    &e,
                    &Paths::vps(),
                ));
            }
        }
    }
}

fn fill(state: &mut crate::plugin::framework::ObjectValue, vps_id: &str, list: &SnapshotList) {
    let actions = list.actions.as_ref();
    state
        .set_attr("id", vps_id)
        .set_attr(
            "available",
            Value::Bool(list.available.unwrap_or(list.total_snapshots() != Some(0))),
        )
        .set_attr("reason", opt_str(list.reason.as_deref()))
        .set_attr(
            "total_snapshots",
            super::values::opt_i64(list.total_snapshots()),
        )
        .set_attr("used_snapshots", list.used_snapshots())
        .set_attr(
            "can_create",
            gate_value(actions.and_then(|a| a.can_create.as_ref())),
        )
        .set_attr(
            "can_restore",
            gate_value(actions.and_then(|a| a.can_restore.as_ref())),
        )
        .set_attr(
            "snapshots",
            Value::List(list.data.iter().map(snapshot_value).collect()),
        );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::framework::{ObjectValue, SchemaInfo};

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
        fill(&mut st, "vps_1", &list);
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
