//! The HostUp provider: glue between the plugin framework and the HostUp API.
//!
//! One file per resource or data source (DESIGN.md §4); this file only registers them and owns
//! the provider block (in [`config`]).

use std::sync::Arc;

use async_trait::async_trait;

use crate::plugin::framework::{
    ConfigureRequest, ConfigureResponse, Ctx, DataSource, Provider, Resource, ValidateRequest,
    ValidateResponse,
};
use crate::plugin::schema::Schema;

pub mod config;

pub use config::HostupConfig;

/// The `hostup` provider. Stateless: everything configure learns goes into [`HostupConfig`].
#[derive(Debug, Default, Clone, Copy)]
pub struct HostupProvider;

/// The provider `main` serves.
pub fn new() -> HostupProvider {
    HostupProvider
}

#[async_trait]
impl Provider for HostupProvider {
    type Data = HostupConfig;

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
        resp: &mut ConfigureResponse<HostupConfig>,
    ) {
        let env = |name: &str| std::env::var(name).ok();
        resp.data = config::configure(
            &req.config,
            &req.terraform_version,
            &env,
            &mut resp.diagnostics,
        );
    }

    fn resources(&self) -> Vec<Arc<dyn Resource<HostupConfig>>> {
        Vec::new()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<HostupConfig>>> {
        Vec::new()
    }
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

    #[test]
    fn api_key_is_sensitive() {
        let s = new().schema();
        let key = s.block.get_attribute("api_key").map(|a| a.sensitive);
        assert_eq!(key, Some(true));
    }
}
