//! The longer operations behind UpgradeResourceState, PlanResourceChange and
//! ApplyResourceChange: Terraform's rules for plans and applies, checked before answering.

use crate::plugin::diag::Diagnostics;
use crate::plugin::framework::plan::{default_plan, inconsistent_with_plan, non_computed_changes};
use crate::plugin::framework::{
    values_equal, CreateRequest, CreateResponse, DeleteRequest, DeleteResponse, ObjectValue,
    PlanDestroyRequest, PlanDestroyResponse, PlanRequest, PlanResponse, Provider, Resource,
    UpdateRequest, UpdateResponse, UpgradeStateRequest, UpgradeStateResponse,
};
use crate::plugin::proto::tfplugin5 as pb;
use crate::plugin::value::Value;

use crate::plugin::value;

use super::identity::IdentityOp;
use super::values::*;
use super::*;

impl<P: Provider> ProviderService<P> {
    pub(super) async fn upgrade(
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

    pub(super) async fn plan(
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
            // The identity of an object being destroyed stays what Terraform holds.
            if self.identity_info(&req.type_name).is_some() {
                out.planned_identity = req.prior_identity.clone();
            }
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
        // Terraform wants write-only attributes null in every plan, also when the resource's
        // own plan set one.
        null_write_only(block, planned.value_mut());
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
        let op = if prior.is_null() {
            IdentityOp::PlanCreate
        } else {
            let replacing = resp.requires_replace.iter().any(|p| {
                let null = Value::Null;
                !values_equal(
                    prior.get_path(p).unwrap_or(&null),
                    planned.get_path(p).unwrap_or(&null),
                )
            });
            IdentityOp::PlanUpdate { replacing }
        };
        out.planned_identity = self.answer_identity(
            e,
            &req.type_name,
            &planned,
            req.prior_identity.as_ref(),
            op,
            false,
            diags,
        );
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

    pub(super) async fn apply(
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
            } else if self.identity_info(type_name).is_some() {
                // Planned identity of a delete = the object's identity: kept with its state.
                out.new_identity = req.planned_identity.clone();
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
        // Before the comparison with the plan, where they are null: a create that copied the
        // configuration into the state must not look inconsistent, nor store the value.
        null_write_only(&info.schema.block, state.value_mut());
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
        out.new_state = if state.is_null() {
            Some(null_dv())
        } else {
            encode(state.value(), &info.ty, "new state", diags)
        };
        let failed = diags.has_errors();
        out.new_identity = self.answer_identity(
            e,
            type_name,
            &state,
            req.planned_identity.as_ref(),
            IdentityOp::Apply,
            failed,
            diags,
        );
        out.private = private.to_bytes();
    }
}
