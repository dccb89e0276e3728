//! One thin adapter per tfplugin5 RPC: decode the request, call the framework, encode the
//! answer. The longer operations live in `operations`.

use std::sync::Arc;

use tonic::{Request, Response};

use crate::plugin::diag::Diagnostics;
use crate::plugin::framework::{
    ConfigureRequest, ConfigureResponse, ImportRequest, ImportResponse, ObjectValue, Private,
    Provider, ReadDataSourceRequest, ReadDataSourceResponse, ReadRequest, ReadResponse,
    ValidateRequest, ValidateResponse,
};
use crate::plugin::proto::tfplugin5 as pb;
use crate::plugin::proto::tfplugin5::provider_server::Provider as ProviderRpc;

use super::identity::IdentityOp;
use super::values::*;
use super::*;

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

    async fn get_resource_identity_schemas(
        &self,
        _request: Request<pb::get_resource_identity_schemas::Request>,
    ) -> RpcResult<pb::get_resource_identity_schemas::Response> {
        Ok(Response::new(self.identity_response.clone()))
    }

    async fn upgrade_resource_identity(
        &self,
        request: Request<pb::upgrade_resource_identity::Request>,
    ) -> RpcResult<pb::upgrade_resource_identity::Response> {
        let req = request.into_inner();
        let mut diags = Diagnostics::new();
        let upgraded = self.upgrade_identity(&req, &mut diags);
        Ok(Response::new(pb::upgrade_resource_identity::Response {
            upgraded_identity: upgraded,
            diagnostics: self.reply(&format!("resource {}", req.type_name), diags),
        }))
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
            diagnostics: self.reply("provider", diags),
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
            // Terraform >= 1.11 announces it (internal/terraform/eval_context_builtin.go,
            // `ClientCapabilities`, v1.11.4 l.617-622); older versions send no capabilities.
            let write_only_allowed = req
                .client_capabilities
                .as_ref()
                .is_some_and(|c| c.write_only_attributes_allowed);
            let block = &e.info.schema.block;
            self.validate_with(
                req.config.as_ref(),
                &e.info,
                &mut diags,
                async |ctx, req, resp| {
                    if !write_only_allowed {
                        refuse_write_only(block, req.config.value(), &mut resp.diagnostics);
                    }
                    imp.validate(ctx, req, resp).await
                },
            )
            .await;
        }
        Ok(Response::new(pb::validate_resource_type_config::Response {
            diagnostics: self.reply(&format!("resource {}", req.type_name), diags),
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
            diagnostics: self.reply(&format!("data {}", req.type_name), diags),
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
            diagnostics: self.reply(&format!("resource {}", req.type_name), diags),
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
            diagnostics: self.reply("provider", diags),
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
            new_identity: req.current_identity.clone(),
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
                        None => {
                            out.new_state = Some(null_dv());
                            out.new_identity = None;
                        }
                        Some(mut s) => {
                            drain_misuse(&mut s, &req.type_name, "read", &mut diags);
                            resolve_unknowns(&mut s, &req.type_name, "read", &mut diags);
                            null_write_only(&e.info.schema.block, s.value_mut());
                            if let Some(dv) = encode(s.value(), &e.info.ty, "state", &mut diags) {
                                out.new_state = Some(dv);
                            }
                            if !diags.has_errors() {
                                out.new_identity = self.answer_identity(
                                    e,
                                    &req.type_name,
                                    &s,
                                    req.current_identity.as_ref(),
                                    IdentityOp::Read,
                                    false,
                                    &mut diags,
                                );
                            }
                        }
                    }
                }
            }
        }
        out.diagnostics = self.reply(&format!("resource {}", req.type_name), diags);
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
        // A destroy plan's warnings bypass the memory of shown warnings: the apply walk never
        // plans a destroy again, and the normal plan `terraform destroy` runs first, whose
        // warnings Terraform drops (internal/terraform/context_plan.go, `destroyPlan`, v1.11.4
        // l.500-514), plans the destroy of a resource gone from the configuration with the very
        // warning the destroy plan must then show.
        let destroy = out.planned_state.as_ref() == Some(&null_dv());
        out.diagnostics = if destroy {
            diags.to_proto()
        } else {
            self.reply(&format!("resource {}", req.type_name), diags)
        };
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
        out.diagnostics = self.reply(&format!("resource {}", req.type_name), diags);
        Ok(Response::new(out))
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> RpcResult<pb::import_resource_state::Response> {
        let req = request.into_inner();
        let mut diags = Diagnostics::new();
        let mut imported = Vec::new();
        // Terraform >= 1.12 sends either an id or, for `import { identity = {...} }`, an
        // identity, which stands for the id the identity schema's template renders.
        let by_identity = req.id.is_empty() && req.identity.is_some();
        let entry = self.resource(&req.type_name, &mut diags);
        let target = match entry {
            None => None,
            Some(_) if by_identity => {
                self.import_id_of(&req.type_name, req.identity.as_ref(), &mut diags)
            }
            Some(_) => Some((req.id.clone(), String::new())),
        };
        if let (Some(e), Some((id, shown))) = (entry, target) {
            let ctx = self.ctx();
            let mut resp = ImportResponse {
                state: ObjectValue::empty(e.info.clone()),
                private: Private::new(),
                diagnostics: Diagnostics::new(),
            };
            let ireq = ImportRequest {
                id: id.clone(),
                provider: self.provider_data(),
            };
            guarded("import", &mut diags, e.imp.import(&ctx, ireq, &mut resp)).await;
            if by_identity {
                for d in resp.diagnostics.0.iter_mut().filter(|d| d.is_error()) {
                    d.detail = format!(
                        "{} (Imported by identity {shown}, which is import id {id:?}.)",
                        d.detail
                    );
                }
            }
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
                        let identity = self.answer_identity(
                            e,
                            &req.type_name,
                            &state,
                            None,
                            IdentityOp::Import { by_identity },
                            false,
                            &mut diags,
                        );
                        if !diags.has_errors() {
                            imported.push(pb::import_resource_state::ImportedResource {
                                type_name: req.type_name.clone(),
                                state: Some(dv),
                                private: resp.private.to_bytes(),
                                identity,
                            });
                        }
                    }
                }
            }
        }
        Ok(Response::new(pb::import_resource_state::Response {
            imported_resources: imported,
            diagnostics: self.reply(&format!("resource {}", req.type_name), diags),
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
            diagnostics: self.reply(&format!("data {}", req.type_name), diags),
            ..Default::default()
        }))
    }

    async fn validate_action_config(
        &self,
        request: Request<pb::validate_action_config::Request>,
    ) -> RpcResult<pb::validate_action_config::Response> {
        Ok(Response::new(
            self.action_validation(request.into_inner()).await,
        ))
    }

    async fn plan_action(
        &self,
        request: Request<pb::plan_action::Request>,
    ) -> RpcResult<pb::plan_action::Response> {
        Ok(Response::new(self.action_plan(request.into_inner()).await))
    }

    async fn invoke_action(
        &self,
        request: Request<pb::invoke_action::Request>,
    ) -> RpcResult<tonic::codegen::BoxStream<pb::invoke_action::Event>> {
        Ok(Response::new(self.action_stream(request.into_inner())))
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
