//! Data source `hostup_vps_restore_sources`: whose backups can be restored onto a VPS: the
//! account's other VPSs, and the retained backups of terminated ones.
//!
//! Exists because it is the only way to reach retained backups of a terminated VPS, and so a
//! `hostup_vps_backup_restore` with `source_vps_id` can take its ids from data instead of the
//! dashboard.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::hostup::{RestoreSource, RestoreSources};
use crate::plugin::framework::{
    Ctx, DataSource, Field, ReadDataSourceRequest, ReadDataSourceResponse, ValidateRequest,
    ValidateResponse,
};
use crate::plugin::schema::{object_type, Attribute, Block, Schema};
use crate::plugin::value::Type;

use super::data::HostupData;
use super::data_vps_backups::{backup_type, BackupModel};
use super::errors::{api_error, Paths};
use super::values::validate_vps_id;

/// The `hostup_vps_restore_sources` data source.
#[derive(Debug, Default)]
pub struct VpsRestoreSources;

/// The data source's argument.
#[derive(Debug, Deserialize)]
struct Config {
    vps_id: Field<String>,
}

/// What a read records.
#[derive(Serialize)]
struct Listed<'a> {
    id: &'a str,
    sources: Vec<SourceModel<'a>>,
}

/// One element of `sources`.
#[derive(Serialize)]
struct SourceModel<'a> {
    id: &'a str,
    name: Option<&'a str>,
    service_status: Option<&'a str>,
    source_type: Option<&'a str>,
    backups: Vec<BackupModel<'a>>,
}

impl<'a> SourceModel<'a> {
    fn of(s: &'a RestoreSource) -> Self {
        SourceModel {
            id: &s.id,
            name: s.name.as_deref(),
            service_status: s.service_status.as_deref(),
            source_type: s.source_type.as_deref(),
            backups: s.backups.iter().map(BackupModel::of).collect(),
        }
    }
}

impl<'a> Listed<'a> {
    fn of(vps_id: &'a str, list: &'a RestoreSources) -> Self {
        Listed {
            id: vps_id,
            sources: list.sources.iter().map(SourceModel::of).collect(),
        }
    }
}

fn source_type() -> Type {
    object_type([
        ("id", Type::String),
        ("name", Type::String),
        ("service_status", Type::String),
        ("source_type", Type::String),
        ("backups", Type::List(Box::new(backup_type()))),
    ])
}

#[async_trait]
impl DataSource<HostupData> for VpsRestoreSources {
    fn type_name(&self) -> &str {
        "hostup_vps_restore_sources"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .description(
                    "Reads whose backups HostUp can restore onto a VPS: the account's other \
                     VPSs with their backups, and the retained backups of terminated VPSs (the \
                     only way to reach those). Use a source's `id` as `source_vps_id` and one \
                     of its backups' `id` as `backup_id` of a `hostup_vps_backup_restore`.\n\n\
                     Needs an API key with scope `backup:vm`.",
                )
                .attribute(Attribute::string("vps_id").required().description(
                    "Id of the VPS to restore onto (`vps_…`, e.g. \
                     `vps_01hxa3b4c5d6e7f8g9h0j1k2m3`); see the `hostup_vps` data source to \
                     look one up by name.",
                ))
                .attribute(
                    Attribute::string("id")
                        .computed()
                        .description("Same as `vps_id`."),
                )
                .attribute(
                    Attribute::list("sources", source_type())
                        .computed()
                        .description(
                            "The restore sources. Each element has `id` (the source VPS's id), \
                             `name`, `service_status`, `source_type` (`server` for a VPS of \
                             the account, `retained` for a terminated VPS's kept backups) and \
                             `backups`, whose elements have `id` (`bkp_…`), `display_id`, \
                             `storage_key`, `created_at`, `size_gb`, `backup_type` and `note`, \
                             as in `hostup_vps_backups`.",
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
        match data.client(ctx).restore_sources(&vps_id).await {
            Ok(list) => {
                resp.state.set_fields(&Listed::of(&vps_id, &list));
            }
            Err(e) => {
                resp.diagnostics.push(api_error(
                    format!("Could not list the restore sources of VPS {vps_id}"),
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

    #[test]
    fn fills_every_computed_attribute() {
        let list: RestoreSources = serde_json::from_value(serde_json::json!({"sources":[
            {"id":"vps_2","name":"cloud-01","serviceStatus":"active","sourceType":"server",
             "backups":[{"id":"bkp_1","displayId":"d","storageKey":"k","createdAt":null,
                         "sizeGb":12}]},
            {"id":"vps_3","name":null,"serviceStatus":"terminated","sourceType":"retained",
             "backups":[]}
        ]}))
        .unwrap_or_default();
        let mut st = ObjectValue::empty(SchemaInfo::new(VpsRestoreSources.schema()));
        st.set_attr("vps_id", "vps_1");
        st.set_fields(&Listed::of("vps_1", &list));
        assert!(st.take_misuse().is_empty());
        assert!(st.is_wholly_known());
        assert_eq!(list.sources[0].backups[0].size_gb, Some(12.0));
    }
}
