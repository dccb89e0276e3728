//! The tfplugin5 `Provider` gRPC service on top of the [framework](crate::plugin::framework).
//!
//! This is where Terraform's protocol rules live, so providers never see them: which RPCs 1.11
//! calls and in what form (reference tfplugin5.md §4.3–4.9), DynamicValue decoding against the
//! right schema, msgpack-only responses, private-state echo, create/update/delete dispatch,
//! Stop cancelling every operation in flight, and invariant checks that turn Terraform's
//! cryptic "Provider produced invalid plan/inconsistent result" into diagnostics naming the
//! attribute. Business errors are always diagnostics with gRPC status OK; bad input from
//! Terraform is a diagnostic too, never a panic or a gRPC error.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, RwLock};

use futures_util::FutureExt as _;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::plugin::diag::{AttributePath, Diagnostics};
use crate::plugin::framework::plan::{default_plan, inconsistent_with_plan, non_computed_changes};
use crate::plugin::framework::{
    ConfigureRequest, ConfigureResponse, CreateRequest, CreateResponse, Ctx, DataSource,
    DeleteRequest, DeleteResponse, ImportRequest, ImportResponse, ObjectValue, PlanDestroyRequest,
    PlanDestroyResponse, PlanRequest, PlanResponse, Private, Provider, ProviderData,
    ReadDataSourceRequest, ReadDataSourceResponse, ReadRequest, ReadResponse, Resource, SchemaInfo,
    UpdateRequest, UpdateResponse, UpgradeStateRequest, UpgradeStateResponse, ValidateRequest,
    ValidateResponse,
};
use crate::plugin::proto::tfplugin5 as pb;
use crate::plugin::proto::tfplugin5::provider_server::Provider as ProviderRpc;
use crate::plugin::schema::{Block, Schema};
use crate::plugin::value::{Type, Value};

use crate::plugin::value;

type RpcResult<T> = Result<Response<T>, Status>;

struct Entry<T: ?Sized> {
    imp: Arc<T>,
    info: Arc<SchemaInfo>,
}

/// Serves a framework [`Provider`] as tfplugin5; hand it to
/// [`serve`](crate::plugin::serve::serve).
///
/// Schemas are collected and converted once, at construction, because Terraform asks for them
/// at the start of every one of its many provider processes.
pub struct ProviderService<P: Provider> {
    provider: P,
    provider_schema: Arc<SchemaInfo>,
    resources: HashMap<String, Entry<dyn Resource<P::Data>>>,
    data_sources: HashMap<String, Entry<dyn DataSource<P::Data>>>,
    schema_response: pb::get_provider_schema::Response,
    metadata_response: pb::get_metadata::Response,
    data: RwLock<Option<Arc<P::Data>>>,
    stop: Mutex<CancellationToken>,
    terraform_version: RwLock<Option<Arc<str>>>,
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
        let mut data_sources = HashMap::new();
        for d in provider.data_sources() {
            let name = d.type_name().to_owned();
            let info = SchemaInfo::new(d.schema());
            data_sources.insert(name, Entry { imp: d, info });
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
            get_provider_schema_optional: false,
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
            diagnostics: diagnostics.to_proto(),
            server_capabilities: Some(caps),
            ..Default::default()
        };
        let mut resource_names: Vec<_> = resources.keys().cloned().collect();
        resource_names.sort();
        let mut data_source_names: Vec<_> = data_sources.keys().cloned().collect();
        data_source_names.sort();
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
            ..Default::default()
        };
        ProviderService {
            provider,
            provider_schema,
            resources,
            data_sources,
            schema_response,
            metadata_response,
            data: RwLock::new(None),
            stop: Mutex::new(CancellationToken::new()),
            terraform_version: RwLock::new(None),
        }
    }

    /// The context of a new operation: cancelled by the next Stop.
    fn ctx(&self) -> Ctx {
        let token = lock(&self.stop).clone();
        let version = self
            .terraform_version
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Ctx::new(token, version)
    }

    fn provider_data(&self) -> ProviderData<P::Data> {
        ProviderData::new(self.data.read().unwrap_or_else(|e| e.into_inner()).clone())
    }

    fn resource(
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
    async fn validate_with(
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

    fn data_source(
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

fn known<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let mut v: Vec<&str> = names.map(String::as_str).collect();
    if v.is_empty() {
        return "none".into();
    }
    v.sort_unstable();
    v.join(", ")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs one operation, turning a panic into an error diagnostic: a bug in one resource must not
/// kill the process Terraform is talking to ("Plugin did not respond").
async fn guarded<F: Future<Output = ()>>(what: &str, diags: &mut Diagnostics, fut: F) {
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

// ---------------------------------------------------------------------------------------------
// Value plumbing
// ---------------------------------------------------------------------------------------------

/// Decodes a DynamicValue the way Terraform does: msgpack if present, else JSON, else null.
fn decode(
    dv: Option<&pb::DynamicValue>,
    info: &Arc<SchemaInfo>,
    what: &str,
    diags: &mut Diagnostics,
) -> Option<ObjectValue> {
    let res = match dv {
        Some(dv) if !dv.msgpack.is_empty() => value::decode_msgpack(&dv.msgpack, &info.ty),
        Some(dv) if !dv.json.is_empty() => value::decode_json(&dv.json, &info.ty),
        _ => Ok(Value::Null),
    };
    match res {
        Ok(v) => Some(ObjectValue::new(v, info.clone())),
        Err(e) => {
            diags.error(
                format!("Invalid {what} received from Terraform"),
                format!(
                    "The provider could not decode the {what}: {e}. This usually means \
                     Terraform and the provider disagree on the schema; run with the same \
                     provider binary that wrote the state, or report a bug."
                ),
            );
            None
        }
    }
}

/// True when `obj` holds no unknown value; otherwise adds an error naming the first unknown
/// path. For values Terraform always sends wholly known (states, apply-time configuration,
/// data source configuration), so that a broken client gets a diagnostic saying so instead of
/// the provider acting on, or blaming itself for, values that cannot be there.
fn wholly_known(obj: &ObjectValue, type_name: &str, what: &str, diags: &mut Diagnostics) -> bool {
    if obj.is_wholly_known() {
        return true;
    }
    let mut paths = Vec::new();
    crate::plugin::framework::unknown_paths(obj.value(), &AttributePath::default(), &mut paths);
    let first = paths.into_iter().next().filter(|p| !p.steps.is_empty());
    let shown = first
        .as_ref()
        .map_or_else(|| "the whole object".to_owned(), ToString::to_string);
    let d = diags.error(
        format!("Invalid {what} received from Terraform"),
        format!(
            "The {what} of this {type_name} contains unknown values ({shown}), which Terraform \
             never sends there. Nothing was done. This is a bug in Terraform or in the tool \
             calling the provider."
        ),
    );
    if let Some(p) = first {
        d.at(p);
    }
    false
}

/// Encodes a response value (always msgpack). An encoding failure is a provider bug.
fn encode(v: &Value, ty: &Type, what: &str, diags: &mut Diagnostics) -> Option<pb::DynamicValue> {
    match value::encode_msgpack(v, ty) {
        Ok(msgpack) => Some(pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        }),
        Err(e) => {
            diags.error(
                "Provider bug",
                format!(
                    "The provider produced a {what} that does not match its schema: {e}. \
                     Please report this bug."
                ),
            );
            None
        }
    }
}

fn null_dv() -> pb::DynamicValue {
    pb::DynamicValue {
        msgpack: vec![0xc0],
        json: Vec::new(),
    }
}

fn drain_misuse(obj: &mut ObjectValue, type_name: &str, op: &str, diags: &mut Diagnostics) {
    for m in obj.take_misuse() {
        diags.push(crate::plugin::framework::misuse(type_name, op, &m));
    }
}

/// Terraform requires write-only attributes to be null in every plan and state.
fn null_write_only(block: &Block, v: &mut Value) {
    if !block_has_write_only(block) {
        return;
    }
    crate::plugin::framework::plan::null_write_only(block, v);
}

fn block_has_write_only(block: &Block) -> bool {
    block.attributes.iter().any(|a| a.write_only)
        || block.blocks.iter().any(|b| block_has_write_only(&b.block))
}

/// Errors (one per path) for unknowns left in a result, and the unknowns replaced with null,
/// so Terraform never sees them.
fn resolve_unknowns(obj: &mut ObjectValue, type_name: &str, op: &str, diags: &mut Diagnostics) {
    if obj.is_wholly_known() {
        return;
    }
    let mut paths = Vec::new();
    crate::plugin::framework::unknown_paths(obj.value(), &AttributePath::default(), &mut paths);
    for p in paths {
        diags
            .error(
                "Provider returned an unknown value",
                format!(
                    "The provider's {op} of {type_name} left {p} unknown; every value must be \
                     known after {op}. It is saved as null. This is a bug in the provider; \
                     please report it."
                ),
            )
            .at(p);
    }
    crate::plugin::framework::unknowns_to_null(obj.value_mut());
}

/// Replaces null nested-block values with what an absent block means in Terraform (empty
/// collection for LIST/SET/MAP, an object of nulls for GROUP), recursively; SINGLE stays null.
fn fill_absent_blocks(block: &Block, v: &mut Value) {
    use crate::plugin::schema::Nesting;
    let Value::Object(m) = v else { return };
    for nb in &block.blocks {
        let Some(slot) = m.get_mut(&nb.type_name) else {
            continue;
        };
        if slot.is_null() {
            *slot = match nb.nesting {
                Nesting::Single => Value::Null,
                Nesting::Group => {
                    let mut o = Value::Object(
                        nb.block
                            .attributes
                            .iter()
                            .map(|a| (a.name.clone(), Value::Null))
                            .chain(
                                nb.block
                                    .blocks
                                    .iter()
                                    .map(|b| (b.type_name.clone(), Value::Null)),
                            )
                            .collect(),
                    );
                    fill_absent_blocks(&nb.block, &mut o);
                    o
                }
                Nesting::List => Value::List(Vec::new()),
                Nesting::Set => Value::Set(Vec::new()),
                Nesting::Map => Value::Map(Default::default()),
            };
            continue;
        }
        match slot {
            Value::List(xs) | Value::Set(xs) => {
                xs.iter_mut().for_each(|x| fill_absent_blocks(&nb.block, x));
            }
            Value::Map(m) => m
                .values_mut()
                .for_each(|x| fill_absent_blocks(&nb.block, x)),
            other => fill_absent_blocks(&nb.block, other),
        }
    }
}

fn private_of(bytes: &[u8]) -> Private {
    Private::from_bytes(bytes)
}

// ---------------------------------------------------------------------------------------------
// Schema conversion
// ---------------------------------------------------------------------------------------------

/// The protocol form of a schema (descriptions as markdown).
pub fn schema_to_proto(s: &Schema) -> pb::Schema {
    pb::Schema {
        version: s.version,
        block: Some(block_to_proto(&s.block)),
    }
}

fn block_to_proto(b: &Block) -> pb::schema::Block {
    use crate::plugin::schema::Nesting;
    use pb::schema::nested_block::NestingMode;
    pb::schema::Block {
        version: 0,
        attributes: b
            .attributes
            .iter()
            .map(|a| pb::schema::Attribute {
                name: a.name.clone(),
                r#type: a.ty.to_json().into_bytes(),
                description: a.description.clone(),
                required: a.required,
                optional: a.optional,
                computed: a.computed,
                sensitive: a.sensitive,
                description_kind: pb::StringKind::Markdown as i32,
                deprecated: a.deprecated,
                write_only: a.write_only,
                deprecation_message: String::new(),
            })
            .collect(),
        block_types: b
            .blocks
            .iter()
            .map(|nb| {
                let (min_items, max_items) = nb.wire_items();
                pb::schema::NestedBlock {
                    type_name: nb.type_name.clone(),
                    block: Some(block_to_proto(&nb.block)),
                    nesting: match nb.nesting {
                        Nesting::Single => NestingMode::Single,
                        Nesting::List => NestingMode::List,
                        Nesting::Set => NestingMode::Set,
                        Nesting::Map => NestingMode::Map,
                        Nesting::Group => NestingMode::Group,
                    } as i32,
                    min_items,
                    max_items,
                }
            })
            .collect(),
        description: b.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: b.deprecated,
        deprecation_message: String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// The RPCs
// ---------------------------------------------------------------------------------------------

#[tonic::async_trait]
impl<P: Provider> ProviderRpc for ProviderService<P> {
    async fn get_metadata(
        &self,
        _request: Request<pb::get_metadata::Request>,
    ) -> RpcResult<pb::get_metadata::Response> {
        Ok(Response::new(self.metadata_response.clone()))
    }

    async fn get_schema(
        &self,
        _request: Request<pb::get_provider_schema::Request>,
    ) -> RpcResult<pb::get_provider_schema::Response> {
        Ok(Response::new(self.schema_response.clone()))
    }

    async fn get_functions(
        &self,
        _request: Request<pb::get_functions::Request>,
    ) -> RpcResult<pb::get_functions::Response> {
        Ok(Response::new(pb::get_functions::Response::default()))
    }

    async fn prepare_provider_config(
        &self,
        request: Request<pb::prepare_provider_config::Request>,
    ) -> RpcResult<pb::prepare_provider_config::Response> {
        let req = request.into_inner();
        let mut diags = Diagnostics::new();
        if let Some(config) = decode(
            req.config.as_ref(),
            &self.provider_schema,
            "provider configuration",
            &mut diags,
        ) {
            let ctx = self.ctx();
            let mut resp = ValidateResponse::default();
            guarded("provider validation", &mut diags, async {
                self.provider
                    .validate_config(&ctx, ValidateRequest { config }, &mut resp)
                    .await;
            })
            .await;
            diags.extend(resp.diagnostics);
        }
        Ok(Response::new(pb::prepare_provider_config::Response {
            prepared_config: req.config,
            diagnostics: diags.to_proto(),
        }))
    }

    async fn validate_resource_type_config(
        &self,
        request: Request<pb::validate_resource_type_config::Request>,
    ) -> RpcResult<pb::validate_resource_type_config::Response> {
        let req = request.into_inner();
        let mut diags = Diagnostics::new();
        if let Some(e) = self.resource(&req.type_name, &mut diags) {
            let imp = Arc::clone(&e.imp);
            self.validate_with(
                req.config.as_ref(),
                &e.info,
                &mut diags,
                async |ctx, req, resp| imp.validate(ctx, req, resp).await,
            )
            .await;
        }
        Ok(Response::new(pb::validate_resource_type_config::Response {
            diagnostics: diags.to_proto(),
        }))
    }

    async fn validate_data_source_config(
        &self,
        request: Request<pb::validate_data_source_config::Request>,
    ) -> RpcResult<pb::validate_data_source_config::Response> {
        let req = request.into_inner();
        let mut diags = Diagnostics::new();
        if let Some(e) = self.data_source(&req.type_name, &mut diags) {
            let imp = Arc::clone(&e.imp);
            self.validate_with(
                req.config.as_ref(),
                &e.info,
                &mut diags,
                async |ctx, req, resp| imp.validate(ctx, req, resp).await,
            )
            .await;
        }
        Ok(Response::new(pb::validate_data_source_config::Response {
            diagnostics: diags.to_proto(),
        }))
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<pb::upgrade_resource_state::Request>,
    ) -> RpcResult<pb::upgrade_resource_state::Response> {
        let req = request.into_inner();
        let mut diags = Diagnostics::new();
        let mut upgraded = None;
        if let Some(e) = self.resource(&req.type_name, &mut diags) {
            upgraded = self.upgrade(e, &req, &mut diags).await;
        }
        Ok(Response::new(pb::upgrade_resource_state::Response {
            upgraded_state: upgraded,
            diagnostics: diags.to_proto(),
        }))
    }

    async fn configure(
        &self,
        request: Request<pb::configure::Request>,
    ) -> RpcResult<pb::configure::Response> {
        let req = request.into_inner();
        let mut diags = Diagnostics::new();
        let version: Arc<str> = Arc::from(req.terraform_version.as_str());
        *self
            .terraform_version
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(version);
        if let Some(config) = decode(
            req.config.as_ref(),
            &self.provider_schema,
            "provider configuration",
            &mut diags,
        ) {
            let ctx = self.ctx();
            let mut resp = ConfigureResponse::default();
            let creq = ConfigureRequest {
                config,
                terraform_version: req.terraform_version.clone(),
            };
            guarded(
                "configure",
                &mut diags,
                self.provider.configure(&ctx, creq, &mut resp),
            )
            .await;
            diags.extend(resp.diagnostics);
            *self.data.write().unwrap_or_else(|e| e.into_inner()) = resp.data.map(Arc::new);
        }
        Ok(Response::new(pb::configure::Response {
            diagnostics: diags.to_proto(),
        }))
    }

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> RpcResult<pb::read_resource::Response> {
        let req = request.into_inner();
        let mut diags = Diagnostics::new();
        let mut out = pb::read_resource::Response {
            new_state: req.current_state.clone(),
            private: req.private.clone(),
            ..Default::default()
        };
        if let Some(e) = self.resource(&req.type_name, &mut diags) {
            if let Some(current) = decode(
                req.current_state.as_ref(),
                &e.info,
                "current state",
                &mut diags,
            ) {
                if current.is_null() {
                    out.new_state = Some(null_dv());
                } else if !wholly_known(&current, &req.type_name, "current state", &mut diags) {
                    // Answer with the state as it was, minus the unknowns it cannot hold.
                    let mut kept = current;
                    crate::plugin::framework::unknowns_to_null(kept.value_mut());
                    out.new_state = encode(kept.value(), &e.info.ty, "state", &mut diags);
                } else {
                    let ctx = self.ctx();
                    let mut resp = ReadResponse {
                        state: Some(current.clone()),
                        private: private_of(&req.private),
                        diagnostics: Diagnostics::new(),
                    };
                    let rreq = ReadRequest {
                        current_state: current,
                        private: private_of(&req.private),
                        provider: self.provider_data(),
                    };
                    guarded("read", &mut diags, e.imp.read(&ctx, rreq, &mut resp)).await;
                    diags.extend(resp.diagnostics);
                    out.private = resp.private.to_bytes();
                    match resp.state {
                        None => out.new_state = Some(null_dv()),
                        Some(mut s) => {
                            drain_misuse(&mut s, &req.type_name, "read", &mut diags);
                            resolve_unknowns(&mut s, &req.type_name, "read", &mut diags);
                            null_write_only(&e.info.schema.block, s.value_mut());
                            if let Some(dv) = encode(s.value(), &e.info.ty, "state", &mut diags) {
                                out.new_state = Some(dv);
                            }
                        }
                    }
                }
            }
        }
        out.diagnostics = diags.to_proto();
        Ok(Response::new(out))
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> RpcResult<pb::plan_resource_change::Response> {
        let req = request.into_inner();
        let mut diags = Diagnostics::new();
        let mut out = pb::plan_resource_change::Response::default();
        if let Some(e) = self.resource(&req.type_name, &mut diags) {
            self.plan(e, &req, &mut out, &mut diags).await;
        }
        out.diagnostics = diags.to_proto();
        Ok(Response::new(out))
    }

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> RpcResult<pb::apply_resource_change::Response> {
        let req = request.into_inner();
        let mut diags = Diagnostics::new();
        let mut out = pb::apply_resource_change::Response {
            new_state: req.prior_state.clone(),
            private: req.planned_private.clone(),
            ..Default::default()
        };
        if let Some(e) = self.resource(&req.type_name, &mut diags) {
            self.apply(e, &req, &mut out, &mut diags).await;
        }
        out.diagnostics = diags.to_proto();
        Ok(Response::new(out))
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> RpcResult<pb::import_resource_state::Response> {
        let req = request.into_inner();
        let mut diags = Diagnostics::new();
        let mut imported = Vec::new();
        if let Some(e) = self.resource(&req.type_name, &mut diags) {
            let ctx = self.ctx();
            let mut resp = ImportResponse {
                state: ObjectValue::empty(e.info.clone()),
                private: Private::new(),
                diagnostics: Diagnostics::new(),
            };
            let ireq = ImportRequest {
                id: req.id.clone(),
                provider: self.provider_data(),
            };
            guarded("import", &mut diags, e.imp.import(&ctx, ireq, &mut resp)).await;
            diags.extend(resp.diagnostics);
            let mut state = resp.state;
            drain_misuse(&mut state, &req.type_name, "import", &mut diags);
            if !diags.has_errors() {
                if state.is_null() {
                    diags.error(
                        "Provider bug",
                        format!(
                            "The import of {} returned no object. Please report this bug.",
                            req.type_name
                        ),
                    );
                } else {
                    resolve_unknowns(&mut state, &req.type_name, "import", &mut diags);
                    null_write_only(&e.info.schema.block, state.value_mut());
                    if let Some(dv) =
                        encode(state.value(), &e.info.ty, "imported state", &mut diags)
                    {
                        if !diags.has_errors() {
                            imported.push(pb::import_resource_state::ImportedResource {
                                type_name: req.type_name.clone(),
                                state: Some(dv),
                                private: resp.private.to_bytes(),
                                ..Default::default()
                            });
                        }
                    }
                }
            }
        }
        Ok(Response::new(pb::import_resource_state::Response {
            imported_resources: imported,
            diagnostics: diags.to_proto(),
            ..Default::default()
        }))
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> RpcResult<pb::read_data_source::Response> {
        let req = request.into_inner();
        let mut diags = Diagnostics::new();
        let mut state_dv = None;
        if let Some(e) = self.data_source(&req.type_name, &mut diags) {
            if let Some(config) = decode(req.config.as_ref(), &e.info, "configuration", &mut diags)
                .filter(|c| wholly_known(c, &req.type_name, "configuration", &mut diags))
            {
                let ctx = self.ctx();
                let mut resp = ReadDataSourceResponse {
                    state: config.clone(),
                    diagnostics: Diagnostics::new(),
                };
                let rreq = ReadDataSourceRequest {
                    config,
                    provider: self.provider_data(),
                };
                guarded(
                    "data source read",
                    &mut diags,
                    e.imp.read(&ctx, rreq, &mut resp),
                )
                .await;
                diags.extend(resp.diagnostics);
                let mut state = resp.state;
                drain_misuse(&mut state, &req.type_name, "read", &mut diags);
                if !diags.has_errors() {
                    if state.is_null() {
                        diags.error(
                            "Provider bug",
                            format!("The read of data source {} returned no object. Please report this bug.", req.type_name),
                        );
                    } else {
                        resolve_unknowns(&mut state, &req.type_name, "read", &mut diags);
                        state_dv =
                            encode(state.value(), &e.info.ty, "data source result", &mut diags);
                    }
                }
            }
        }
        Ok(Response::new(pb::read_data_source::Response {
            state: state_dv,
            diagnostics: diags.to_proto(),
            ..Default::default()
        }))
    }

    async fn stop(&self, _request: Request<pb::stop::Request>) -> RpcResult<pb::stop::Response> {
        // Cancel everything in flight, then give later operations a fresh token (Terraform may
        // still call e.g. Apply on the same process after a Stop), as terraform-plugin-go does.
        let old = std::mem::take(&mut *lock(&self.stop));
        old.cancel();
        tracing::info!(
            tf_rpc = "Stop",
            "stop requested: cancelling operations in flight"
        );
        Ok(Response::new(pb::stop::Response {
            error: String::new(),
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// The longer operations
// ---------------------------------------------------------------------------------------------

impl<P: Provider> ProviderService<P> {
    async fn upgrade(
        &self,
        e: &Entry<dyn Resource<P::Data>>,
        req: &pb::upgrade_resource_state::Request,
        diags: &mut Diagnostics,
    ) -> Option<pb::DynamicValue> {
        let raw = req.raw_state.clone().unwrap_or_default();
        if raw.json.is_empty() {
            if !raw.flatmap.is_empty() {
                diags.error(
                    "Unsupported state format",
                    format!(
                        "The state of this {} was written by Terraform before 0.12 (flatmap \
                         format), which this provider cannot read. Remove it from state \
                         (`terraform state rm`) and import or re-create it.",
                        req.type_name
                    ),
                );
                return None;
            }
            return encode(&Value::Null, &e.info.ty, "state", diags);
        }
        let raw_json: serde_json::Value = match serde_json::from_slice(&raw.json) {
            Ok(v) => v,
            Err(err) => {
                diags.error(
                    "Invalid stored state",
                    format!(
                        "The stored state of this {} is not valid JSON: {err}.",
                        req.type_name
                    ),
                );
                return None;
            }
        };
        if !raw_json.is_object() {
            // Terraform stores every instance as a JSON object; `null` or a scalar here is a
            // hand-edited or corrupted state, and passing it on would quietly lose the instance.
            diags.error(
                "Invalid stored state",
                format!(
                    "The stored state of this {} is JSON {}, not an object. Restore the state \
                     from a backup, or remove the instance (`terraform state rm`) and import it \
                     again.",
                    req.type_name,
                    json_kind(&raw_json)
                ),
            );
            return None;
        }
        let lenient = value::decode_json_lenient(&raw.json, &e.info.ty).map(|mut v| {
            // Blocks added since the state was written are absent: Terraform wants empty
            // collections (not null) for LIST/SET/MAP blocks and an object for GROUP ones.
            fill_absent_blocks(&e.info.schema.block, &mut v);
            v
        });
        let lenient_error = lenient.as_ref().err().map(ToString::to_string);
        let mut resp = UpgradeStateResponse {
            state: lenient.ok().map(|v| ObjectValue::new(v, e.info.clone())),
            diagnostics: Diagnostics::new(),
        };
        let ctx = self.ctx();
        let ureq = UpgradeStateRequest {
            version: req.version,
            raw_state: raw_json,
        };
        guarded(
            "state upgrade",
            diags,
            e.imp.upgrade_state(&ctx, ureq, &mut resp),
        )
        .await;
        diags.extend(resp.diagnostics);
        if diags.has_errors() {
            return None;
        }
        let Some(mut state) = resp.state else {
            diags.error(
                "Cannot upgrade stored state",
                format!(
                    "The stored state of this {} (schema version {}) does not match the current \
                     schema: {}.",
                    req.type_name,
                    req.version,
                    lenient_error.unwrap_or_else(|| "the provider returned no state".into())
                ),
            );
            return None;
        };
        drain_misuse(&mut state, &req.type_name, "state upgrade", diags);
        resolve_unknowns(&mut state, &req.type_name, "state upgrade", diags);
        null_write_only(&e.info.schema.block, state.value_mut());
        encode(state.value(), &e.info.ty, "upgraded state", diags)
    }

    async fn plan(
        &self,
        e: &Entry<dyn Resource<P::Data>>,
        req: &pb::plan_resource_change::Request,
        out: &mut pb::plan_resource_change::Response,
        diags: &mut Diagnostics,
    ) {
        let info = &e.info;
        let (Some(prior), Some(proposed), Some(config)) = (
            decode(req.prior_state.as_ref(), info, "prior state", diags),
            decode(
                req.proposed_new_state.as_ref(),
                info,
                "proposed new state",
                diags,
            ),
            decode(req.config.as_ref(), info, "configuration", diags),
        ) else {
            return;
        };
        if !wholly_known(&prior, &req.type_name, "prior state", diags) {
            return;
        }
        if proposed.is_null() {
            // A destroy: Terraform >= 1.3 asks because we declare plan_destroy. The planned
            // state must be null; the resource may warn about what destroying does.
            out.planned_state = Some(null_dv());
            out.planned_private = req.prior_private.clone();
            if prior.is_null() {
                return;
            }
            let mut resp = PlanDestroyResponse {
                planned_private: private_of(&req.prior_private),
                diagnostics: Diagnostics::new(),
            };
            let dreq = PlanDestroyRequest {
                prior_state: prior,
                prior_private: private_of(&req.prior_private),
                provider: self.provider_data(),
            };
            let ctx = self.ctx();
            guarded(
                "destroy plan",
                diags,
                e.imp.plan_destroy(&ctx, dreq, &mut resp),
            )
            .await;
            diags.extend(resp.diagnostics);
            out.planned_private = resp.planned_private.to_bytes();
            return;
        }
        let block = &info.schema.block;
        let (planned, replace) =
            default_plan(block, prior.value(), proposed.value(), config.value());
        let mut resp = PlanResponse {
            planned_state: ObjectValue::new(planned, info.clone()),
            requires_replace: replace,
            planned_private: private_of(&req.prior_private),
            diagnostics: Diagnostics::new(),
        };
        let preq = PlanRequest {
            prior_state: (!prior.is_null()).then(|| prior.clone()),
            proposed_new_state: proposed,
            config: config.clone(),
            prior_private: private_of(&req.prior_private),
            provider: self.provider_data(),
        };
        let ctx = self.ctx();
        guarded("plan", diags, e.imp.plan(&ctx, preq, &mut resp)).await;
        diags.extend(resp.diagnostics);
        let mut planned = resp.planned_state;
        drain_misuse(&mut planned, &req.type_name, "plan", diags);
        if diags.has_errors() {
            return;
        }
        if planned.is_null() {
            diags.error(
                "Provider bug",
                format!("The plan of {} is null although the configuration is not. Please report this bug.", req.type_name),
            );
            return;
        }
        for p in non_computed_changes(block, planned.value(), config.value()) {
            diags
                .error(
                    "Provider produced an invalid plan",
                    format!(
                        "The plan of {} changes {p}, which is not computed (or is write-only): \
                         Terraform only lets a provider plan values for computed attributes. \
                         This is a bug in the provider; please report it.",
                        req.type_name
                    ),
                )
                .at(p);
        }
        for p in &resp.requires_replace {
            if planned.get_path(p).is_none() && prior.get_path(p).is_none() {
                diags.error(
                    "Provider produced an invalid plan",
                    format!(
                        "The plan of {} asks to replace on a change of {p}, which exists in \
                         neither the prior nor the planned state. Please report this bug.",
                        req.type_name
                    ),
                );
            }
        }
        if diags.has_errors() {
            return;
        }
        out.planned_state = encode(planned.value(), &info.ty, "plan", diags);
        out.requires_replace = if prior.is_null() {
            Vec::new()
        } else {
            resp.requires_replace
                .iter()
                .map(pb::AttributePath::from)
                .collect()
        };
        out.planned_private = resp.planned_private.to_bytes();
    }

    async fn apply(
        &self,
        e: &Entry<dyn Resource<P::Data>>,
        req: &pb::apply_resource_change::Request,
        out: &mut pb::apply_resource_change::Response,
        diags: &mut Diagnostics,
    ) {
        let info = &e.info;
        let (Some(prior), Some(planned), Some(config)) = (
            decode(req.prior_state.as_ref(), info, "prior state", diags),
            decode(req.planned_state.as_ref(), info, "planned state", diags),
            decode(req.config.as_ref(), info, "configuration", diags),
        ) else {
            return;
        };
        let type_name = req.type_name.as_str();
        // Terraform evaluates the configuration again at apply and refuses to apply one with
        // unknowns, and states never hold unknowns: these only come from a broken client.
        if !wholly_known(&prior, type_name, "prior state", diags)
            || !wholly_known(&config, type_name, "configuration", diags)
        {
            return;
        }
        let ctx = self.ctx();
        let planned_private = private_of(&req.planned_private);
        if planned.is_null() {
            if prior.is_null() {
                out.new_state = Some(null_dv());
                return;
            }
            let mut resp = DeleteResponse::default();
            let dreq = DeleteRequest {
                prior_state: prior,
                prior_private: planned_private,
                provider: self.provider_data(),
            };
            guarded("delete", diags, e.imp.delete(&ctx, dreq, &mut resp)).await;
            diags.extend(resp.diagnostics);
            if !diags.has_errors() {
                out.new_state = Some(null_dv());
                out.private = Vec::new();
            }
            // On error the prior state (already in `out`) is kept.
            return;
        }
        let (mut state, private, op) = if prior.is_null() {
            let mut resp = CreateResponse {
                state: ObjectValue::null(info.clone()),
                private: planned_private.clone(),
                diagnostics: Diagnostics::new(),
            };
            let creq = CreateRequest {
                planned_state: planned.clone(),
                config,
                planned_private,
                provider: self.provider_data(),
            };
            guarded("create", diags, e.imp.create(&ctx, creq, &mut resp)).await;
            diags.extend(resp.diagnostics);
            (resp.state, resp.private, "create")
        } else {
            let mut resp = UpdateResponse {
                state: planned.clone(),
                private: planned_private.clone(),
                diagnostics: Diagnostics::new(),
            };
            let ureq = UpdateRequest {
                prior_state: prior.clone(),
                planned_state: planned.clone(),
                config,
                planned_private,
                provider: self.provider_data(),
            };
            guarded("update", diags, e.imp.update(&ctx, ureq, &mut resp)).await;
            diags.extend(resp.diagnostics);
            let mut state = resp.state;
            if diags.has_errors() && !state.is_wholly_known() {
                // Nothing trustworthy came back: keep what Terraform had.
                state = prior.clone();
            }
            (state, resp.private, "update")
        };
        drain_misuse(&mut state, type_name, op, diags);
        if diags.has_errors() {
            // Save what is known (Terraform taints a failed create); unknowns become null.
            crate::plugin::framework::unknowns_to_null(state.value_mut());
        } else if state.is_null() {
            diags.error(
                "Provider bug",
                format!(
                    "The {op} of {type_name} succeeded but returned no state. This is a bug in \
                     the provider; please report it."
                ),
            );
        } else {
            resolve_unknowns(&mut state, type_name, op, diags);
            for p in inconsistent_with_plan(planned.value(), state.value()) {
                diags
                    .error(
                        "Provider produced inconsistent result after apply",
                        format!(
                            "The {op} of {type_name} returned a value for {p} that differs from \
                             the value known in the plan. This is a bug in the provider; please \
                             report it."
                        ),
                    )
                    .at(p);
            }
        }
        null_write_only(&info.schema.block, state.value_mut());
        out.new_state = if state.is_null() {
            Some(null_dv())
        } else {
            encode(state.value(), &info.ty, "new state", diags)
        };
        out.private = private.to_bytes();
    }
}

/// Makes a protocol diagnostic list readable in test failures.
/// A JSON value's kind, for messages about state that is not an object.
fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
fn summaries(d: &[pb::Diagnostic]) -> Vec<String> {
    d.iter()
        .map(|d| format!("{}: {}", d.summary, d.detail))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::plugin::framework::timeouts;
    use crate::plugin::schema::{Attribute, NestedBlock};
    use crate::plugin::value::{decode_msgpack, encode_msgpack};

    /// A provider with one resource, `toy_thing`, whose create for `name = "slow"` waits until
    /// cancelled: enough to drive every RPC the way Terraform does.
    struct Toy {
        started: Arc<AtomicUsize>,
    }

    struct Thing {
        started: Arc<AtomicUsize>,
    }

    #[async_trait::async_trait]
    impl Provider for Toy {
        type Data = ();

        fn type_name_prefix(&self) -> &str {
            "toy"
        }

        fn schema(&self) -> Schema {
            Schema::new(Block::new().attribute(Attribute::string("region").optional()))
        }

        async fn configure(&self, _: &Ctx, _: ConfigureRequest, resp: &mut ConfigureResponse<()>) {
            resp.data = Some(());
        }

        fn resources(&self) -> Vec<Arc<dyn Resource<()>>> {
            vec![Arc::new(Thing {
                started: self.started.clone(),
            })]
        }

        fn data_sources(&self) -> Vec<Arc<dyn DataSource<()>>> {
            Vec::new()
        }
    }

    #[async_trait::async_trait]
    impl Resource<()> for Thing {
        fn type_name(&self) -> &str {
            "toy_thing"
        }

        fn schema(&self) -> Schema {
            Schema::new(
                Block::new()
                    .attribute(Attribute::string("id").computed())
                    .attribute(Attribute::string("name").required().requires_replace())
                    .attribute(Attribute::map("tags", Type::String).optional())
                    .block(NestedBlock::list(
                        "rule",
                        Block::new().attribute(Attribute::number("port").optional()),
                    ))
                    .block(timeouts::block(&["create"])),
            )
            .version(1)
        }

        async fn create(&self, ctx: &Ctx, req: CreateRequest<()>, resp: &mut CreateResponse) {
            let mut state = req.planned_state.clone();
            state.set_attr("id", "thing-1");
            resp.state = state;
            if req.planned_state.string("name") == Some("slow") {
                self.started.fetch_add(1, Ordering::SeqCst);
                let why = ctx.cancelled().await;
                resp.diagnostics.error(
                    "Create interrupted",
                    format!("thing-1 may still be running: {why}"),
                );
            }
        }

        async fn read(&self, _: &Ctx, _: ReadRequest<()>, _: &mut ReadResponse) {}

        async fn delete(&self, _: &Ctx, _: DeleteRequest<()>, _: &mut DeleteResponse) {}
    }

    fn service() -> (Arc<ProviderService<Toy>>, Arc<AtomicUsize>) {
        let started = Arc::new(AtomicUsize::new(0));
        let svc = ProviderService::new(Toy {
            started: started.clone(),
        });
        (Arc::new(svc), started)
    }

    fn thing_type(svc: &ProviderService<Toy>) -> Type {
        svc.resources["toy_thing"].info.ty.clone()
    }

    fn dv(v: &Value, ty: &Type) -> Option<pb::DynamicValue> {
        Some(pb::DynamicValue {
            msgpack: encode_msgpack(v, ty).expect("test value fits the schema"),
            json: Vec::new(),
        })
    }

    fn config(name: &str) -> Value {
        let mut m = std::collections::BTreeMap::new();
        m.insert("id".to_string(), Value::Null);
        m.insert("name".to_string(), name.into());
        m.insert("tags".to_string(), Value::Null);
        m.insert("rule".to_string(), Value::List(Vec::new()));
        m.insert("timeouts".to_string(), Value::Null);
        Value::Object(m)
    }

    #[tokio::test]
    async fn schema_types_are_valid_type_json() {
        let (svc, _) = service();
        let resp = svc
            .get_schema(Request::new(pb::get_provider_schema::Request {}))
            .await
            .expect("GetSchema")
            .into_inner();
        let block = resp.resource_schemas["toy_thing"]
            .block
            .as_ref()
            .expect("block");
        let tags = block
            .attributes
            .iter()
            .find(|a| a.name == "tags")
            .expect("tags");
        assert_eq!(tags.r#type, br#"["map","string"]"#);
        for a in &block.attributes {
            Type::from_json(&a.r#type).expect("every attribute type parses back");
        }
    }

    #[tokio::test]
    async fn plan_then_apply_create() {
        let (svc, _) = service();
        let ty = thing_type(&svc);
        let cfg = config("fast");
        let plan = svc
            .plan_resource_change(Request::new(pb::plan_resource_change::Request {
                type_name: "toy_thing".into(),
                prior_state: dv(&Value::Null, &ty),
                proposed_new_state: dv(&cfg, &ty),
                config: dv(&cfg, &ty),
                ..Default::default()
            }))
            .await
            .expect("plan")
            .into_inner();
        assert!(
            plan.diagnostics.is_empty(),
            "{:?}",
            summaries(&plan.diagnostics)
        );
        let planned_dv = plan.planned_state.expect("planned state");
        let planned = decode_msgpack(&planned_dv.msgpack, &ty).expect("planned decodes");
        assert!(
            !planned.attr("id").is_some_and(Value::is_known),
            "{planned:?}"
        );

        let apply = svc
            .apply_resource_change(Request::new(pb::apply_resource_change::Request {
                type_name: "toy_thing".into(),
                prior_state: dv(&Value::Null, &ty),
                planned_state: Some(planned_dv),
                config: dv(&cfg, &ty),
                ..Default::default()
            }))
            .await
            .expect("apply")
            .into_inner();
        assert!(
            apply.diagnostics.is_empty(),
            "{:?}",
            summaries(&apply.diagnostics)
        );
        let state = decode_msgpack(&apply.new_state.expect("state").msgpack, &ty).expect("decode");
        assert_eq!(state.attr("id").and_then(Value::as_str), Some("thing-1"));
        assert_eq!(state.attr("name").and_then(Value::as_str), Some("fast"));
    }

    #[tokio::test]
    async fn upgrade_resource_state_refuses_json_that_is_not_an_object() {
        let (svc, _) = service();
        for (raw, kind) in [("null", "null"), ("[1]", "an array"), ("\"x\"", "a string")] {
            let resp = svc
                .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
                    type_name: "toy_thing".into(),
                    version: 0,
                    raw_state: Some(pb::RawState {
                        json: raw.as_bytes().to_vec(),
                        flatmap: Default::default(),
                    }),
                }))
                .await
                .expect("upgrade answers")
                .into_inner();
            assert!(resp.upgraded_state.is_none(), "{raw}");
            assert_eq!(resp.diagnostics.len(), 1, "{raw}");
            assert_eq!(resp.diagnostics[0].summary, "Invalid stored state", "{raw}");
            assert!(
                resp.diagnostics[0]
                    .detail
                    .contains(&format!("is JSON {kind}, not")),
                "{raw}: {}",
                resp.diagnostics[0].detail
            );
        }
    }

    #[tokio::test]
    async fn upgrade_resource_state_from_json() {
        let (svc, _) = service();
        let ty = thing_type(&svc);
        // Written by an older version: no `rule` or `timeouts` blocks yet, and an attribute
        // that no longer exists.
        let raw = br#"{"id":"thing-9","name":"old","tags":{"a":"b"},"legacy":42}"#;
        let resp = svc
            .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
                type_name: "toy_thing".into(),
                version: 0,
                raw_state: Some(pb::RawState {
                    json: raw.to_vec(),
                    flatmap: Default::default(),
                }),
            }))
            .await
            .expect("upgrade")
            .into_inner();
        assert!(
            resp.diagnostics.is_empty(),
            "{:?}",
            summaries(&resp.diagnostics)
        );
        let upgraded = resp.upgraded_state.expect("upgraded state");
        assert!(upgraded.json.is_empty(), "responses are msgpack only");
        let v = decode_msgpack(&upgraded.msgpack, &ty).expect("msgpack of the current schema");
        assert_eq!(v.attr("id").and_then(Value::as_str), Some("thing-9"));
        assert_eq!(
            v.attr("tags"),
            Some(&Value::Map([("a".to_string(), Value::from("b"))].into()))
        );
        assert_eq!(
            v.attr("rule"),
            Some(&Value::List(Vec::new())),
            "absent LIST block"
        );
        assert_eq!(
            v.attr("timeouts"),
            Some(&Value::Null),
            "absent SINGLE block"
        );
        assert!(v.attr("legacy").is_none());

        // Broken JSON is a diagnostic, not a crash.
        let resp = svc
            .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
                type_name: "toy_thing".into(),
                version: 1,
                raw_state: Some(pb::RawState {
                    json: br#"{"id": 5"#.to_vec(),
                    flatmap: Default::default(),
                }),
            }))
            .await
            .expect("upgrade")
            .into_inner();
        assert!(resp.upgraded_state.is_none());
        assert!(
            summaries(&resp.diagnostics)
                .iter()
                .any(|d| d.contains("not valid JSON")),
            "{:?}",
            summaries(&resp.diagnostics)
        );
    }

    #[tokio::test]
    async fn bad_msgpack_from_terraform_is_a_diagnostic() {
        let (svc, _) = service();
        let resp = svc
            .validate_resource_type_config(Request::new(
                pb::validate_resource_type_config::Request {
                    type_name: "toy_thing".into(),
                    config: Some(pb::DynamicValue {
                        msgpack: vec![0x85, 0xa2, b'i'],
                        json: Vec::new(),
                    }),
                    ..Default::default()
                },
            ))
            .await
            .expect("validate")
            .into_inner();
        let s = summaries(&resp.diagnostics);
        assert!(s.iter().any(|d| d.contains("could not decode")), "{s:?}");
    }

    #[tokio::test]
    async fn stop_cancels_operations_in_flight() {
        let (svc, started) = service();
        let ty = thing_type(&svc);
        let planned = |name: &str| {
            let mut v = config(name);
            if let Value::Object(m) = &mut v {
                m.insert("id".into(), Value::unknown());
            }
            v
        };
        let cfg = planned("slow");
        let apply = |svc: Arc<ProviderService<Toy>>, cfg: Value| {
            let ty = ty.clone();
            // The configuration has the computed id null (Terraform never sends unknowns in
            // an apply-time configuration); the plan has it unknown.
            let mut config = cfg.clone();
            if let Value::Object(m) = &mut config {
                m.insert("id".into(), Value::Null);
            }
            tokio::spawn(async move {
                svc.apply_resource_change(Request::new(pb::apply_resource_change::Request {
                    type_name: "toy_thing".into(),
                    prior_state: dv(&Value::Null, &ty),
                    planned_state: dv(&cfg, &ty),
                    config: dv(&config, &ty),
                    ..Default::default()
                }))
                .await
                .map(Response::into_inner)
            })
        };
        let first = apply(svc.clone(), cfg.clone());
        let second = apply(svc.clone(), cfg.clone());
        // Wait (bounded) until both creates are blocked inside the resource.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while started.load(Ordering::SeqCst) < 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the creates never started"
            );
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let stop = svc
            .stop(Request::new(pb::stop::Request {}))
            .await
            .expect("stop")
            .into_inner();
        assert_eq!(stop.error, "");
        for h in [first, second] {
            let resp = tokio::time::timeout(Duration::from_secs(5), h)
                .await
                .expect("Stop ends the create within the bound")
                .expect("task")
                .expect("rpc");
            let s = summaries(&resp.diagnostics);
            assert!(
                s.iter().any(|d| d.contains("asked the provider to stop")),
                "{s:?}"
            );
            // The id was saved before the wait, so nothing is orphaned.
            let state =
                decode_msgpack(&resp.new_state.expect("state").msgpack, &ty).expect("decode");
            assert_eq!(state.attr("id").and_then(Value::as_str), Some("thing-1"));
        }
        // Operations after the Stop get a fresh context.
        let later = apply(svc.clone(), planned("fast"));
        let resp = tokio::time::timeout(Duration::from_secs(5), later)
            .await
            .expect("bounded")
            .expect("task")
            .expect("rpc");
        assert!(
            resp.diagnostics.is_empty(),
            "{:?}",
            summaries(&resp.diagnostics)
        );
    }
}
