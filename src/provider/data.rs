//! What configure produces and every operation of the provider process shares: the settings,
//! the one HostUp client, and what this process has seen of the run.

use crate::hostup::Client;
use crate::plugin::framework::Ctx;

use super::config::HostupConfig;
use super::this_run::ThisRun;

/// What configure produces: the provider block's settings and the one HostUp client every
/// operation of this provider process shares (connection pool, rate limiter, per-VPS locks).
pub struct HostupData {
    /// The settings (endpoint, Terraform version, plan-check mode); the key inside is never
    /// printed.
    pub config: HostupConfig,
    /// The shared client.
    pub client: Client,
    /// What this process has seen planned for the run's other resources.
    pub run: ThisRun,
}

impl std::fmt::Debug for HostupData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostupData")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl HostupData {
    /// A client handle whose requests and waits end when Terraform sends Stop.
    pub fn client(&self, ctx: &Ctx) -> Client {
        self.client.with_cancel(ctx.token().clone())
    }
}
