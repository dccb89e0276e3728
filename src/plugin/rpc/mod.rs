//! The tfplugin5 `Provider` gRPC service on top of the [framework](crate::plugin::framework).
//!
//! This is where Terraform's protocol rules live, so providers never see them: which RPCs 1.11
//! calls and in what form (proto/tfplugin5.proto), DynamicValue decoding against the
//! right schema, msgpack-only responses, private-state echo, create/update/delete dispatch,
//! Stop cancelling every operation in flight, and invariant checks that turn Terraform's
//! cryptic "Provider produced invalid plan/inconsistent result" into diagnostics naming the
//! attribute. Business errors are always diagnostics with gRPC status OK; bad input from
//! Terraform is a diagnostic too, never a panic or a gRPC error.
//!
//! The service is split by idea: this file holds the service and its lookups, `adapters` one
//! thin adapter per RPC, `operations` the longer operations (upgrade, plan, apply), `values`
//! the DynamicValue plumbing, and `schema` the schema-to-proto conversion.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, RwLock};

use futures_util::FutureExt as _;
use tokio_util::sync::CancellationToken;
use tonic::{Response, Status};

use crate::plugin::diag::Diagnostics;
use crate::plugin::framework::{
    Action, Ctx, DataSource, Provider, ProviderData, Resource, SchemaInfo, ValidateRequest,
    ValidateResponse,
};
use crate::plugin::proto::tfplugin5 as pb;
use crate::plugin::shown::ShownWarnings;

mod actions;
#[cfg(test)]
mod actions_tests;
mod adapters;
mod identity;
mod operations;
mod schema;
#[cfg(test)]
mod tests;
mod values;

pub use schema::schema_to_proto;
use values::*;

pub(super) type RpcResult<T> = Result<Response<T>, Status>;

/// A registered resource or data source type: its implementation and its schema.
pub(super) struct Entry<T: ?Sized> {
    pub(super) imp: Arc<T>,
    pub(super) info: Arc<SchemaInfo>,
}

/// Serves a framework [`Provider`] as tfplugin5; hand it to
/// [`serve`](crate::plugin::serve::serve).
///
/// Schemas are collected and converted once, at construction: every RPC decodes against them,
/// and most processes are never sent GetSchema (see `get_provider_schema_optional` below).
pub struct ProviderService<P: Provider> {
    pub(super) provider: P,
    pub(super) provider_schema: Arc<SchemaInfo>,
    pub(super) resources: HashMap<String, Entry<dyn Resource<P::Data>>>,
    pub(super) data_sources: HashMap<String, Entry<dyn DataSource<P::Data>>>,
    pub(super) actions: HashMap<String, Entry<dyn Action<P::Data>>>,
    pub(super) identities: HashMap<String, Arc<crate::plugin::framework::IdentityInfo>>,
    pub(super) identity_response: pb::get_resource_identity_schemas::Response,
    pub(super) schema_response: pb::get_provider_schema::Response,
    pub(super) metadata_response: pb::get_metadata::Response,
    pub(super) data: RwLock<Option<Arc<P::Data>>>,
    pub(super) stop: Mutex<CancellationToken>,
    pub(super) terraform_version: RwLock<Option<Arc<str>>>,
    pub(super) shown: ShownWarnings,
}

impl<P: Provider> ProviderService<P> {
    /// Collects the provider's schemas and resource types. Schema problems do not panic: they
    /// are reported as error diagnostics of GetSchema, so Terraform shows them and stops.
    pub fn new(provider: P) -> Self {
        let mut diagnostics = Diagnostics::new();
        let mut schema_errors: Vec<String> = crate::plugin::framework::check_provider(&provider);
        let provider_schema = SchemaInfo::new(provider.schema());
        let mut resources = HashMap::new();
        for r in provider.resources() {
            let name = r.type_name().to_owned();
            let info = SchemaInfo::new(r.schema());
            resources.insert(name, Entry { imp: r, info });
        }
        let (identities, identity_response) = identity::collect(&resources);
        let mut data_sources = HashMap::new();
        for d in provider.data_sources() {
            let name = d.type_name().to_owned();
            let info = SchemaInfo::new(d.schema());
            data_sources.insert(name, Entry { imp: d, info });
        }
        let mut actions = HashMap::new();
        for a in provider.actions() {
            let name = a.type_name().to_owned();
            let info = SchemaInfo::new(a.schema());
            actions.insert(name, Entry { imp: a, info });
        }
        schema_errors.dedup();
        for e in schema_errors {
            diagnostics.error(
                "Invalid provider schema",
                format!("{e}. This is a bug in the provider; please report it."),
            );
        }
        let caps = pb::ServerCapabilities {
            // Destroy plans reach the resource's `plan_destroy` (Terraform >= 1.3).
            plan_destroy: true,
            // Terraform >= 1.6 then asks one process per command for the schema and answers
            // every later process from its global cache (v1.11.4: internal/plugin/
            // grpc_provider.go l.83-92 reads it, l.169 fills it; internal/providers/
            // schema_cache.go). So most processes never see GetSchema: nothing here may wait
            // for it, which holds because `new` builds every schema up front.
            get_provider_schema_optional: true,
            move_resource_state: false,
            generate_resource_config: false,
        };
        let schema_response = pb::get_provider_schema::Response {
            provider: Some(schema_to_proto(&provider_schema.schema)),
            resource_schemas: resources
                .iter()
                .map(|(k, e)| (k.clone(), schema_to_proto(&e.info.schema)))
                .collect(),
            data_source_schemas: data_sources
                .iter()
                .map(|(k, e)| (k.clone(), schema_to_proto(&e.info.schema)))
                .collect(),
            action_schemas: actions
                .iter()
                .map(|(k, e)| {
                    let schema = Some(schema_to_proto(&e.info.schema));
                    (k.clone(), pb::ActionSchema { schema })
                })
                .collect(),
            diagnostics: diagnostics.to_proto(),
            server_capabilities: Some(caps),
            ..Default::default()
        };
        let mut resource_names: Vec<_> = resources.keys().cloned().collect();
        resource_names.sort();
        let mut data_source_names: Vec<_> = data_sources.keys().cloned().collect();
        data_source_names.sort();
        let mut action_names: Vec<_> = actions.keys().cloned().collect();
        action_names.sort();
        let metadata_response = pb::get_metadata::Response {
            server_capabilities: Some(caps),
            diagnostics: diagnostics.to_proto(),
            resources: resource_names
                .into_iter()
                .map(|type_name| pb::get_metadata::ResourceMetadata { type_name })
                .collect(),
            data_sources: data_source_names
                .into_iter()
                .map(|type_name| pb::get_metadata::DataSourceMetadata { type_name })
                .collect(),
            // Field 8 as Terraform's own tfplugin5.proto numbers it (terraform-plugin-go 5.11
            // numbers it 9); Terraform never calls GetMetadata, so only tools read it.
            actions: action_names
                .into_iter()
                .map(|type_name| pb::get_metadata::ActionMetadata { type_name })
                .collect(),
            ..Default::default()
        };
        ProviderService {
            provider,
            provider_schema,
            resources,
            data_sources,
            actions,
            identities,
            identity_response,
            schema_response,
            metadata_response,
            data: RwLock::new(None),
            stop: Mutex::new(CancellationToken::new()),
            terraform_version: RwLock::new(None),
            shown: ShownWarnings::off(),
        }
    }

    /// Shares the memory of shown warnings with the other provider processes of a Terraform
    /// command (see [`ShownWarnings`]), so a warning an earlier walk showed is not repeated.
    pub fn with_shown_warnings(mut self, shown: ShownWarnings) -> Self {
        self.shown = shown;
        self
    }

    /// The diagnostics a response carries: `diags` minus the warnings an earlier walk of this
    /// Terraform command showed. `scope` names what answered, e.g. `resource hostup_vps_backup`.
    pub(super) fn reply(&self, scope: &str, mut diags: Diagnostics) -> Vec<pb::Diagnostic> {
        self.shown.filter(scope, &mut diags);
        diags.to_proto()
    }

    /// The context of a new operation: cancelled by the next Stop.
    pub(super) fn ctx(&self) -> Ctx {
        let token = lock(&self.stop).clone();
        let version = self
            .terraform_version
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Ctx::new(token, version)
    }

    pub(super) fn provider_data(&self) -> ProviderData<P::Data> {
        ProviderData::new(self.data.read().unwrap_or_else(|e| e.into_inner()).clone())
    }

    pub(super) fn resource(
        &self,
        type_name: &str,
        diags: &mut Diagnostics,
    ) -> Option<&Entry<dyn Resource<P::Data>>> {
        let e = self.resources.get(type_name);
        if e.is_none() {
            diags.error(
                "Unknown resource type",
                format!(
                    "This provider has no resource type {type_name:?}. Known types: {}.",
                    known(self.resources.keys())
                ),
            );
        }
        e
    }

    /// The body both validation RPCs share: decode the configuration against the type's
    /// schema, then run the type's own `validate` under the panic guard.
    pub(super) async fn validate_with(
        &self,
        config: Option<&pb::DynamicValue>,
        info: &Arc<SchemaInfo>,
        diags: &mut Diagnostics,
        validate: impl AsyncFnOnce(&Ctx, ValidateRequest, &mut ValidateResponse),
    ) {
        let Some(config) = decode(config, info, "configuration", diags) else {
            return;
        };
        let ctx = self.ctx();
        let mut resp = ValidateResponse::default();
        guarded(
            "validation",
            diags,
            validate(&ctx, ValidateRequest { config }, &mut resp),
        )
        .await;
        diags.extend(resp.diagnostics);
    }

    pub(super) fn data_source(
        &self,
        type_name: &str,
        diags: &mut Diagnostics,
    ) -> Option<&Entry<dyn DataSource<P::Data>>> {
        let e = self.data_sources.get(type_name);
        if e.is_none() {
            diags.error(
                "Unknown data source type",
                format!(
                    "This provider has no data source type {type_name:?}. Known types: {}.",
                    known(self.data_sources.keys())
                ),
            );
        }
        e
    }
}

pub(super) fn known<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let mut v: Vec<&str> = names.map(String::as_str).collect();
    if v.is_empty() {
        return "none".into();
    }
    v.sort_unstable();
    v.join(", ")
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs one operation, turning a panic into an error diagnostic: a bug in one resource must not
/// kill the process Terraform is talking to ("Plugin did not respond").
pub(super) async fn guarded<F: Future<Output = ()>>(what: &str, diags: &mut Diagnostics, fut: F) {
    if let Err(panic) = AssertUnwindSafe(fut).catch_unwind().await {
        let msg = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        diags.error(
            "Provider bug",
            format!("The provider panicked during {what}: {msg}. Please report this bug."),
        );
    }
}

/// A JSON value's kind, for messages about state that is not an object.
pub(super) fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
