//! Data source `hostup_vps`: one VPS looked up by id or by exact name.
//!
//! Exists because every other HostUp resource needs the opaque `vps_…` id, while people know
//! their servers by name; HostUp's docs insist names and IPs are never valid ids.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::hostup::Vps;
use crate::plugin::diag::AttributePath;
use crate::plugin::framework::{
    Ctx, DataSource, Field, ReadDataSourceRequest, ReadDataSourceResponse, ValidateRequest,
    ValidateResponse,
};
use crate::plugin::schema::{Attribute, Block, Schema};

use super::data::HostupData;
use super::errors::{api_error, Paths};
use super::values::validate_vps_id_at;

/// The `hostup_vps` data source.
#[derive(Debug, Default)]
pub struct VpsData;

/// The data source's arguments: exactly one of them is set.
#[derive(Debug, Deserialize)]
struct Config {
    id: Field<String>,
    name: Field<String>,
}

/// What a read records of the VPS found.
#[derive(Serialize)]
struct Found<'a> {
    id: &'a str,
    name: Option<&'a str>,
    primary_ip: Option<&'a str>,
    service_status: Option<&'a str>,
    power_state: Option<&'a str>,
}

impl<'a> Found<'a> {
    fn of(v: &'a Vps) -> Self {
        Found {
            id: &v.id,
            name: v.name.as_deref(),
            primary_ip: v.primary_ip.as_deref(),
            service_status: v.service_status.as_ref().map(|s| s.as_str()),
            power_state: v.power_state.as_ref().map(|s| s.as_str()),
        }
    }
}

#[async_trait]
impl DataSource<HostupData> for VpsData {
    fn type_name(&self) -> &str {
        "hostup_vps"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .description(
                    "Looks up one HostUp VPS by its id or by its exact name, to get the \
                     `vps_…` id every other HostUp resource needs. Set exactly one of `id` \
                     and `name`. A name must match exactly one VPS (case-insensitive); when \
                     several VPSs share a name, the error lists their ids.\n\nNeeds an API key \
                     with scope `read:vm`.",
                )
                .attribute(Attribute::string("id").optional().computed().description(
                    "Id of the VPS (`vps_…`). Set it to look the VPS up by id; \
                             otherwise it is the id of the VPS found by `name`.",
                ))
                .attribute(Attribute::string("name").optional().computed().description(
                    "Display name of the VPS (e.g. `app-01`). Set it to look the VPS \
                             up by exact name (case-insensitive); otherwise it is the name of \
                             the VPS found by `id`.",
                ))
                .attribute(
                    Attribute::string("primary_ip")
                        .computed()
                        .description("Primary IPv4 address of the VPS, or null."),
                )
                .attribute(Attribute::string("service_status").computed().description(
                    "Service (billing) status: `active`, `pending`, `suspended`, \
                     `terminated`, `cancelled`, `expired`, `fraud` or `unknown`; snapshots and \
                     backups need `active`.",
                ))
                .attribute(Attribute::string("power_state").computed().description(
                    "Power state, e.g. `running` or `stopped`; null when HostUp does not \
                     know.",
                )),
        )
    }

    async fn validate(&self, _ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
        let Some(c) = req.config.model::<Config>(&mut resp.diagnostics) else {
            return;
        };
        if c.id.is_unknown() || c.name.is_unknown() {
            return;
        }
        if c.id.is_null() == c.name.is_null() {
            resp.diagnostics
                .error(
                    "Set exactly one of id and name",
                    "`hostup_vps` looks a VPS up either by `id` or by `name`; set one of them \
                     (not both, not neither).",
                )
                .at(AttributePath::root(if c.id.is_null() {
                    "id"
                } else {
                    "name"
                }));
        }
        validate_vps_id_at(&c.id, "id", &mut resp.diagnostics);
        for (attr, value) in [("name", &c.name)] {
            if value.as_deref().is_some_and(|s| s.trim().is_empty()) {
                resp.diagnostics
                    .error(
                        format!("Empty {attr}"),
                        format!("`{attr}` cannot be empty."),
                    )
                    .at(AttributePath::root(attr));
            }
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
        let Some(config) = req.config.model::<Config>(&mut resp.diagnostics) else {
            return;
        };
        let client = data.client(ctx);
        if let Some(id) = config.id.as_deref() {
            match client.get_vps(id).await {
                Ok(v) => {
                    resp.state.set_fields(&Found::of(&v));
                }
                Err(e) => {
                    let paths = Paths {
                        vps_id: Some("id"),
                        ..Paths::default()
                    };
                    resp.diagnostics.push(api_error(
                        format!("Could not read VPS {id}"),
                        &e,
                        &paths,
                        &data.config.sources,
                    ));
                }
            }
            return;
        }
        let Some(name) = config.name.as_deref() else {
            resp.diagnostics.error(
                "Set exactly one of id and name",
                "`hostup_vps` needs `id` or `name`.",
            );
            return;
        };
        match client.find_vps_by_name(name).await {
            Ok(found) => match found.as_slice() {
                [one] => {
                    resp.state.set_fields(&Found::of(one));
                }
                [] => {
                    resp.diagnostics
                        .error(
                            format!("No VPS named {name:?}"),
                            "HostUp lists no VPS with this name (names are matched exactly, \
                             ignoring case). Check the name in the HostUp dashboard, or look \
                             the VPS up by `id`.",
                        )
                        .at(AttributePath::root("name"));
                }
                many => {
                    let ids: Vec<&str> = many.iter().map(|v| v.id.as_str()).collect();
                    resp.diagnostics
                        .error(
                            format!("{} VPSs are named {name:?}", many.len()),
                            format!(
                                "The name is ambiguous: it matches {}. Look the VPS up by \
                                 `id` instead.",
                                ids.join(", ")
                            ),
                        )
                        .at(AttributePath::root("name"));
                }
            },
            Err(e) => {
                let paths = Paths {
                    vps_id: Some("name"),
                    ..Paths::default()
                };
                resp.diagnostics.push(api_error(
                    format!("Could not look up the VPS named {name:?}"),
                    &e,
                    &paths,
                    &data.config.sources,
                ));
            }
        }
    }
}
