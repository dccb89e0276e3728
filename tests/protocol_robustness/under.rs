//! The provider under test: the plugin plus its schema types, and the RPCs the cases send.

use std::time::Duration;

use hostup_provider::plugin::proto::tfplugin5 as pb;
use hostup_provider::plugin::value::{Type, Value};

use crate::plugin_client::{bounded, within, Plugin, Types, DEADLINE};
use crate::values::{dv, object};

/// The plugin plus its schema types.
pub(crate) struct Under {
    pub(crate) plugin: Plugin,
    pub(crate) types: Types,
}

impl Under {
    pub(crate) async fn launch(extra: &[(&str, &str)]) -> Under {
        let plugin = Plugin::launch(extra).await;
        let types = Types::of(&plugin).await;
        Under { plugin, types }
    }

    pub(crate) fn rt(&self, name: &str) -> Type {
        self.types.resource(name).clone()
    }

    pub(crate) fn dt(&self, name: &str) -> Type {
        self.types.data_source(name).clone()
    }

    pub(crate) async fn configure(&self, endpoint: &str, api_key: Value) -> Vec<pb::Diagnostic> {
        let ty = self.types.provider.clone();
        let config = object(&ty, &[("endpoint", endpoint.into()), ("api_key", api_key)]);
        bounded(
            "Configure",
            self.plugin.client().configure(pb::configure::Request {
                terraform_version: "1.11.4".into(),
                config: dv(&config, &ty),
                client_capabilities: None,
            }),
        )
        .await
        .expect("Configure answers OK")
        .into_inner()
        .diagnostics
    }

    pub(crate) async fn validate_resource(
        &self,
        type_name: &str,
        config: Option<pb::DynamicValue>,
    ) -> Result<Vec<pb::Diagnostic>, tonic::Status> {
        self.validate_resource_within(DEADLINE, type_name, config)
            .await
    }

    /// [`Under::validate_resource`] with its own hang bound (for 100 MiB messages).
    pub(crate) async fn validate_resource_within(
        &self,
        limit: Duration,
        type_name: &str,
        config: Option<pb::DynamicValue>,
    ) -> Result<Vec<pb::Diagnostic>, tonic::Status> {
        within(
            limit,
            "ValidateResourceTypeConfig",
            self.plugin.client().validate_resource_type_config(
                pb::validate_resource_type_config::Request {
                    type_name: type_name.into(),
                    config,
                    client_capabilities: None,
                },
            ),
        )
        .await
        .map(|r| r.into_inner().diagnostics)
    }

    pub(crate) async fn validate_data(
        &self,
        type_name: &str,
        config: Option<pb::DynamicValue>,
    ) -> Result<Vec<pb::Diagnostic>, tonic::Status> {
        bounded(
            "ValidateDataSourceConfig",
            self.plugin.client().validate_data_source_config(
                pb::validate_data_source_config::Request {
                    type_name: type_name.into(),
                    config,
                },
            ),
        )
        .await
        .map(|r| r.into_inner().diagnostics)
    }

    pub(crate) async fn plan(
        &self,
        type_name: &str,
        prior: Option<pb::DynamicValue>,
        proposed: Option<pb::DynamicValue>,
        config: Option<pb::DynamicValue>,
    ) -> Result<pb::plan_resource_change::Response, tonic::Status> {
        bounded(
            "PlanResourceChange",
            self.plugin
                .client()
                .plan_resource_change(pb::plan_resource_change::Request {
                    type_name: type_name.into(),
                    prior_state: prior,
                    proposed_new_state: proposed,
                    config,
                    ..Default::default()
                }),
        )
        .await
        .map(tonic::Response::into_inner)
    }

    pub(crate) async fn apply(
        &self,
        type_name: &str,
        prior: Option<pb::DynamicValue>,
        planned: Option<pb::DynamicValue>,
        config: Option<pb::DynamicValue>,
    ) -> Result<pb::apply_resource_change::Response, tonic::Status> {
        bounded(
            "ApplyResourceChange",
            self.plugin
                .client()
                .apply_resource_change(pb::apply_resource_change::Request {
                    type_name: type_name.into(),
                    prior_state: prior,
                    planned_state: planned,
                    config,
                    ..Default::default()
                }),
        )
        .await
        .map(tonic::Response::into_inner)
    }

    pub(crate) async fn read(
        &self,
        type_name: &str,
        current: Option<pb::DynamicValue>,
    ) -> Result<pb::read_resource::Response, tonic::Status> {
        bounded(
            "ReadResource",
            self.plugin
                .client()
                .read_resource(pb::read_resource::Request {
                    type_name: type_name.into(),
                    current_state: current,
                    ..Default::default()
                }),
        )
        .await
        .map(tonic::Response::into_inner)
    }

    pub(crate) async fn read_data(
        &self,
        type_name: &str,
        config: Option<pb::DynamicValue>,
    ) -> Result<pb::read_data_source::Response, tonic::Status> {
        bounded(
            "ReadDataSource",
            self.plugin
                .client()
                .read_data_source(pb::read_data_source::Request {
                    type_name: type_name.into(),
                    config,
                    ..Default::default()
                }),
        )
        .await
        .map(tonic::Response::into_inner)
    }

    pub(crate) async fn import(
        &self,
        type_name: &str,
        id: &str,
    ) -> Result<pb::import_resource_state::Response, tonic::Status> {
        bounded(
            "ImportResourceState",
            self.plugin
                .client()
                .import_resource_state(pb::import_resource_state::Request {
                    type_name: type_name.into(),
                    id: id.into(),
                    ..Default::default()
                }),
        )
        .await
        .map(tonic::Response::into_inner)
    }

    pub(crate) async fn upgrade(
        &self,
        type_name: &str,
        version: i64,
        raw: Option<pb::RawState>,
    ) -> Result<pb::upgrade_resource_state::Response, tonic::Status> {
        self.upgrade_within(DEADLINE, type_name, version, raw).await
    }

    /// [`Under::upgrade`] with its own hang bound (a 100 MiB state takes a debug build
    /// seconds to decode on a loaded 2-core machine; the bound only tells a hang).
    pub(crate) async fn upgrade_within(
        &self,
        limit: Duration,
        type_name: &str,
        version: i64,
        raw: Option<pb::RawState>,
    ) -> Result<pb::upgrade_resource_state::Response, tonic::Status> {
        within(
            limit,
            "UpgradeResourceState",
            self.plugin
                .client()
                .upgrade_resource_state(pb::upgrade_resource_state::Request {
                    type_name: type_name.into(),
                    version,
                    raw_state: raw,
                }),
        )
        .await
        .map(tonic::Response::into_inner)
    }

    pub(crate) async fn stop(&self) -> String {
        bounded("Stop", self.plugin.client().stop(pb::stop::Request {}))
            .await
            .expect("Stop answers OK")
            .into_inner()
            .error
    }
}

pub(crate) fn raw_json(s: &[u8]) -> Option<pb::RawState> {
    Some(pb::RawState {
        json: s.to_vec(),
        flatmap: Default::default(),
    })
}
