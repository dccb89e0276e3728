//! The HostUp provider: glue between the plugin framework and the HostUp API.
//!
//! One file per resource or data source (docs/ARCHITECTURE.md, "Layers and walls"); this file only
//! registers them and owns the provider block (in [`config`]).

use std::sync::Arc;

use async_trait::async_trait;

use crate::hostup::{Client, ClientConfig, ConfigError};
use crate::plugin::framework::{
    Action, ConfigureRequest, ConfigureResponse, Ctx, DataSource, Provider, Resource,
    ValidateRequest, ValidateResponse,
};
use crate::plugin::schema::Schema;

pub mod action;
pub mod action_vps_backup;
pub mod action_vps_backup_restore;
pub mod action_vps_snapshot;
pub mod action_vps_snapshot_restore;
#[cfg(test)]
mod catalogue_tests;
pub mod config;
pub mod data;
pub mod data_vps;
pub mod data_vps_backups;
pub mod data_vps_restore_sources;
pub mod data_vps_snapshots;
pub mod errors;
pub mod invoke;
pub mod operation;
pub mod plan_checks;
pub mod replacement;
pub mod resource_vps_backup;
pub mod resource_vps_backup_restore;
pub mod resource_vps_backup_schedule;
pub mod resource_vps_backup_settings;
pub mod resource_vps_snapshot;
pub mod resource_vps_snapshot_restore;
pub mod resource_vps_snapshot_schedule;
pub mod schema_parts;
#[cfg(test)]
mod sim_tests;
pub mod this_run;
pub mod values;

pub use config::HostupConfig;
pub use data::HostupData;

/// The `hostup` provider. Stateless: everything configure learns goes into [`HostupData`].
#[derive(Debug, Default, Clone, Copy)]
pub struct HostupProvider;

/// The provider `main` serves.
pub fn new() -> HostupProvider {
    HostupProvider
}

#[async_trait]
impl Provider for HostupProvider {
    type Data = HostupData;

    fn type_name_prefix(&self) -> &str {
        "hostup"
    }

    fn schema(&self) -> Schema {
        config::schema()
    }

    async fn validate_config(&self, _ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
        config::validate(&req.config, &mut resp.diagnostics);
    }

    async fn configure(
        &self,
        _ctx: &Ctx,
        req: ConfigureRequest,
        resp: &mut ConfigureResponse<HostupData>,
    ) {
        let env = |name: &str| std::env::var(name).ok();
        let Some(config) = config::configure(
            &req.config,
            &req.terraform_version,
            &env,
            &mut resp.diagnostics,
        ) else {
            return;
        };
        match build_client(&config) {
            Ok(client) => {
                resp.data = Some(HostupData {
                    config,
                    client,
                    run: Default::default(),
                })
            }
            Err(e) => {
                resp.diagnostics.error(
                    "Could not set up the HostUp client",
                    format!("{e}. Check the provider's `endpoint` and `api_key`."),
                );
            }
        }
    }

    fn resources(&self) -> Vec<Arc<dyn Resource<HostupData>>> {
        vec![
            Arc::new(resource_vps_backup::VpsBackup),
            Arc::new(resource_vps_snapshot_restore::VpsSnapshotRestore),
            Arc::new(resource_vps_snapshot::VpsSnapshot),
            Arc::new(resource_vps_snapshot_schedule::VpsSnapshotSchedule),
            Arc::new(resource_vps_backup_schedule::VpsBackupSchedule),
            Arc::new(resource_vps_backup_settings::VpsBackupSettings),
            Arc::new(resource_vps_backup_restore::VpsBackupRestore),
        ]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<HostupData>>> {
        vec![
            Arc::new(data_vps_snapshots::VpsSnapshots),
            Arc::new(data_vps::VpsData),
            Arc::new(data_vps_backups::VpsBackups),
            Arc::new(data_vps_restore_sources::VpsRestoreSources),
        ]
    }

    fn actions(&self) -> Vec<Arc<dyn Action<HostupData>>> {
        vec![
            Arc::new(action_vps_backup::VpsBackupAction),
            Arc::new(action_vps_snapshot::VpsSnapshotAction),
            Arc::new(action_vps_snapshot_restore::VpsSnapshotRestoreAction),
            Arc::new(action_vps_backup_restore::VpsBackupRestoreAction),
        ]
    }
}

/// Builds the one HostUp client of this provider process from the provider block (and
/// `HOSTUP_REQUEST_TIMEOUT`, see [`config::ENV_REQUEST_TIMEOUT`]).
pub fn build_client(config: &HostupConfig) -> Result<Client, ConfigError> {
    let mut cc = ClientConfig::new(config.endpoint.as_str(), config.api_key.as_str())?
        .with_terraform_version(&config.terraform_version);
    if let Some(t) = config.request_timeout {
        cc.timeouts.request = t;
    }
    Client::new(cc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::framework::check_provider;

    /// Every registered schema passes the checks Terraform would otherwise fail (or crash) on.
    #[test]
    fn every_registered_schema_is_valid() {
        let errors = check_provider(&new());
        assert!(errors.is_empty(), "{}", errors.join("\n"));
    }

    /// Docs are generated from schema descriptions: every attribute and block needs one.
    #[test]
    fn every_attribute_is_described() {
        let p = new();
        let mut schemas = vec![("provider".to_owned(), p.schema())];
        schemas.extend(
            p.resources()
                .iter()
                .map(|r| (r.type_name().to_owned(), r.schema())),
        );
        schemas.extend(
            p.data_sources()
                .iter()
                .map(|d| (d.type_name().to_owned(), d.schema())),
        );
        // Actions share type names with resources: name them by their address prefix.
        schemas.extend(
            p.actions()
                .iter()
                .map(|a| (format!("action.{}", a.type_name()), a.schema())),
        );
        let mut missing = Vec::new();
        for (name, s) in &schemas {
            if s.block.description.trim().is_empty() {
                missing.push(name.clone());
            }
            for b in &s.block.blocks {
                if b.block.description.trim().is_empty() {
                    missing.push(format!("{name}.{}", b.type_name));
                }
            }
            s.block.each_attribute("", &mut |path, a| {
                if a.description.trim().is_empty() {
                    missing.push(format!("{name}.{path}"));
                }
            });
        }
        assert!(missing.is_empty(), "undescribed: {missing:?}");
        // The provider, 7 resources, 4 data sources and 4 actions.
        assert_eq!(schemas.len(), 16);
    }

    #[test]
    fn api_key_is_sensitive() {
        let s = new().schema();
        let key = s.block.get_attribute("api_key").map(|a| a.sensitive);
        assert_eq!(key, Some(true));
    }
}
