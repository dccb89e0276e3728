//! Resource identity on the wire (tfplugin5.9, Terraform ≥ 1.12): GetResourceIdentitySchemas,
//! UpgradeResourceIdentity, and the identity every ReadResource, PlanResourceChange,
//! ApplyResourceChange and ImportResourceState answer carries.
//!
//! Terraform's rules, as Terraform v1.15.9 applies them:
//! - GetProviderSchema calls GetResourceIdentitySchemas right after GetSchema and stops on its
//!   error diagnostics (internal/plugin/grpc_provider.go l.133-161).
//! - A returned identity must be wholly known and of the identity schema's type, except in the
//!   plan of a create or a replacement (internal/terraform/node_resource_abstract_instance.go,
//!   `validateIdentityKnown`/`validateIdentity` l.2949-3003, called after read l.686-689, plan
//!   l.1142-1148 and l.1207-1210, destroy plan l.468-472, apply l.2695-2698).
//! - An import by identity must return an identity (node_resource_plan_instance.go l.786-790).
//! - UpgradeResourceIdentity is only called for a stored identity version below the schema's
//!   (upgrade_resource_state.go l.155-230).
//!
//! And terraform-plugin-framework's: an existing object's identity never changes ("Unexpected
//! Identity Change" in read, plan and update), and a successful read, create or update returns
//! one. Here an identity attribute counts as changed only once it was known and not null.

use std::sync::Arc;

use crate::plugin::diag::{AttributePath, Diagnostics};
use crate::plugin::framework::identity::describe;
use crate::plugin::framework::{IdentityInfo, IdentityRequest, ObjectValue, Provider};
use crate::plugin::proto::tfplugin5 as pb;
use crate::plugin::value;

use super::values::*;
use super::*;

/// What an identity answer is for, which decides the checks it gets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum IdentityOp {
    /// ReadResource: known, and what Terraform holds.
    Read,
    /// ApplyResourceChange of a create or update: known, and as planned.
    Apply,
    /// PlanResourceChange of a create (or of the create half of a replacement): may hold
    /// unknowns, need not match the prior identity.
    PlanCreate,
    /// PlanResourceChange of an existing object: unchanged and known unless replacing.
    PlanUpdate { replacing: bool },
    /// ImportResourceState: by identity, it must return a complete one.
    Import { by_identity: bool },
}

impl IdentityOp {
    fn words(self) -> &'static str {
        match self {
            IdentityOp::Read => "read",
            IdentityOp::Apply => "apply",
            IdentityOp::PlanCreate | IdentityOp::PlanUpdate { .. } => "plan",
            IdentityOp::Import { .. } => "import",
        }
    }
}

/// The identity schemas of `resources` ready to serve, and the GetResourceIdentitySchemas
/// answer (built once: Terraform asks at the start of every provider process).
pub(super) fn collect<D: Send + Sync + 'static>(
    resources: &HashMap<String, Entry<dyn Resource<D>>>,
) -> (
    HashMap<String, Arc<IdentityInfo>>,
    pb::get_resource_identity_schemas::Response,
) {
    let mut infos = HashMap::new();
    let mut schemas = HashMap::new();
    for (name, e) in resources {
        let Some(schema) = e.imp.identity() else {
            continue;
        };
        schemas.insert(
            name.clone(),
            pb::ResourceIdentitySchema {
                version: schema.version,
                identity_attributes: schema
                    .attributes
                    .iter()
                    .map(|a| pb::resource_identity_schema::IdentityAttribute {
                        name: a.name.clone(),
                        r#type: a.ty.to_json().into_bytes(),
                        required_for_import: a.required_for_import,
                        optional_for_import: a.optional_for_import,
                        description: a.description.clone(),
                    })
                    .collect(),
            },
        );
        infos.insert(name.clone(), IdentityInfo::new(schema));
    }
    let response = pb::get_resource_identity_schemas::Response {
        identity_schemas: schemas,
        diagnostics: Vec::new(),
    };
    (infos, response)
}

/// Decodes an identity Terraform sent: `None` after an error; a null object when absent.
pub(super) fn decode_identity(
    data: Option<&pb::ResourceIdentityData>,
    info: &IdentityInfo,
    what: &str,
    diags: &mut Diagnostics,
) -> Option<ObjectValue> {
    decode(
        data.and_then(|d| d.identity_data.as_ref()),
        &info.info,
        what,
        diags,
    )
}

fn encode_identity(id: &ObjectValue, diags: &mut Diagnostics) -> Option<pb::ResourceIdentityData> {
    encode(id.value(), id.ty(), "identity", diags).map(|dv| pb::ResourceIdentityData {
        identity_data: Some(dv),
    })
}

impl<P: Provider> ProviderService<P> {
    /// The identity schema of `type_name`, if it has one.
    pub(super) fn identity_info(&self, type_name: &str) -> Option<&Arc<IdentityInfo>> {
        self.identities.get(type_name)
    }

    /// The identity to answer for `state` after `op`, checked against `prior` (the identity
    /// Terraform sent with the request: current, prior or planned). `None` when the type has
    /// no identity or there is no object. With `lenient` (the operation failed), an identity
    /// is returned only when it is complete and known, and nothing is checked.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn answer_identity(
        &self,
        e: &Entry<dyn Resource<P::Data>>,
        type_name: &str,
        state: &ObjectValue,
        prior: Option<&pb::ResourceIdentityData>,
        op: IdentityOp,
        lenient: bool,
        diags: &mut Diagnostics,
    ) -> Option<pb::ResourceIdentityData> {
        let info = self.identity_info(type_name)?;
        if state.is_null() {
            return None;
        }
        let mut id = info.from_state(state);
        let provider = self.provider_data();
        let mut bug = Diagnostics::new();
        let completed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            e.imp.complete_identity(
                IdentityRequest {
                    state,
                    provider: &provider,
                },
                &mut id,
            );
        }));
        if completed.is_err() {
            bug.error(
                "Provider bug",
                format!("The provider panicked while naming the identity of {type_name}. Please report this bug."),
            );
        }
        drain_misuse(&mut id, type_name, "identity", &mut bug);
        let missing = info.missing(&id);
        let known = id.is_wholly_known();
        if lenient {
            return (bug.is_empty() && missing.is_empty() && known)
                .then(|| encode_identity(&id, diags))
                .flatten();
        }
        diags.extend(bug);
        let word = op.words();
        let may_be_unknown = matches!(
            op,
            IdentityOp::PlanCreate | IdentityOp::PlanUpdate { replacing: true }
        );
        if !known && !may_be_unknown {
            diags.error(
                "Provider produced an unknown identity",
                format!(
                    "The {word} of {type_name} left its identity {} partly unknown; Terraform \
                     requires it known. This is a bug in the provider; please report it.",
                    describe(&id)
                ),
            );
            return None;
        }
        if !missing.is_empty() {
            // An identity without a required attribute names nothing: none is returned (which
            // Terraform accepts), and only an import by identity, which must return one, fails.
            // Anything else would fail a refresh or taint a finished create over a bug that
            // changes nothing for the object.
            let missing = missing.join("`, `");
            if matches!(op, IdentityOp::Import { by_identity: true }) {
                diags.error(
                    "Provider produced an incomplete identity",
                    format!(
                        "The {word} of {type_name} gave no value for identity attribute \
                         `{missing}`. This is a bug in the provider; please report it."
                    ),
                );
            } else {
                tracing::warn!(
                    tf_resource_type = type_name,
                    "{word} answered no identity: identity attribute `{missing}` is null"
                );
            }
            return None;
        }
        let check_change = match op {
            IdentityOp::Read | IdentityOp::Apply => true,
            IdentityOp::PlanUpdate { replacing } => !replacing,
            IdentityOp::PlanCreate | IdentityOp::Import { .. } => false,
        };
        if check_change {
            if let Some(before) = decode_identity(prior, info, "identity", diags) {
                for attr in info.changed(&before, &id) {
                    diags
                        .error(
                            "Provider changed an identity",
                            format!(
                                "The {word} of {type_name} returned identity {} where Terraform \
                                 holds {}: `{attr}` changed, but an existing object's identity \
                                 never changes. This is a bug in the provider; please report it.",
                                describe(&id),
                                describe(&before)
                            ),
                        )
                        .at(AttributePath::root(attr));
                }
            }
        }
        if diags.has_errors() {
            return None;
        }
        encode_identity(&id, diags)
    }

    /// The import id an import by identity stands for; `None` after an error diagnostic.
    pub(super) fn import_id_of(
        &self,
        type_name: &str,
        identity: Option<&pb::ResourceIdentityData>,
        diags: &mut Diagnostics,
    ) -> Option<(String, String)> {
        let Some(info) = self.identity_info(type_name) else {
            diags.error(
                "Import by identity not supported",
                format!("{type_name} has no identity: import it by id (`import {{ id = … }}`)."),
            );
            return None;
        };
        let id = decode_identity(identity, info, "import identity", diags)?;
        if id.is_null() {
            diags.error(
                "Invalid import identity",
                format!("The import of {type_name} has neither an id nor an identity."),
            );
            return None;
        }
        match info.import_id(type_name, &id) {
            Ok(s) => Some((s, describe(&id))),
            Err(d) => {
                diags.extend(d);
                None
            }
        }
    }

    /// UpgradeResourceIdentity: the stored identity JSON decoded against the current identity
    /// schema. Terraform only calls it for a stored version below the schema's; versions above
    /// are refused (a newer provider wrote them).
    pub(super) fn upgrade_identity(
        &self,
        req: &pb::upgrade_resource_identity::Request,
        diags: &mut Diagnostics,
    ) -> Option<pb::ResourceIdentityData> {
        let type_name = req.type_name.as_str();
        self.resource(type_name, diags)?;
        let Some(info) = self.identity_info(type_name) else {
            diags.error(
                "Resource type has no identity",
                format!(
                    "{type_name} declares no identity, so there is no stored identity to \
                     upgrade. Remove `identity` from its state or use the provider version that \
                     wrote it."
                ),
            );
            return None;
        };
        let current = info.schema.version;
        if req.version < 0 {
            diags.error(
                "Invalid resource identity version",
                format!(
                    "The stored identity of this {type_name} has schema version {}; versions \
                     are never negative, so the state was not written by this provider. \
                     Remove the resource from the state and import it again.",
                    req.version
                ),
            );
            return None;
        }
        if req.version > current {
            diags.error(
                "Resource identity written by a newer provider version",
                format!(
                    "The stored identity of this {type_name} has schema version {}, but this \
                     provider knows versions up to {current}. Upgrade the provider to the \
                     version that wrote the state.",
                    req.version
                ),
            );
            return None;
        }
        let raw = req
            .raw_identity
            .as_ref()
            .map(|r| r.json.as_slice())
            .unwrap_or_default();
        if raw.is_empty() {
            return None;
        }
        let invalid = |why: String| {
            format!(
                "The stored identity of this {type_name} {why}. Restore the state from a \
                 backup, or remove the instance (`terraform state rm`) and import it again."
            )
        };
        match serde_json::from_slice::<serde_json::Value>(raw) {
            Err(e) => {
                diags.error(
                    "Invalid stored identity",
                    invalid(format!("is not valid JSON ({e})")),
                );
                return None;
            }
            Ok(v) if !v.is_object() => {
                diags.error(
                    "Invalid stored identity",
                    invalid(format!("is JSON {}, not an object", json_kind(&v))),
                );
                return None;
            }
            Ok(_) => {}
        }
        match value::decode_json_lenient(raw, &info.info.ty) {
            Ok(v) => encode_identity(&ObjectValue::new(v, info.info.clone()), diags),
            Err(e) => {
                diags.error(
                    "Invalid stored identity",
                    invalid(format!("does not match the identity schema: {e}")),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The identity rules over the RPC methods, with a toy resource whose identity has an
    //! attribute the state lacks (`region`, from `complete_identity`).

    use std::collections::BTreeMap;

    use tonic::Request;

    use super::*;
    use crate::plugin::framework::{
        ConfigureRequest, ConfigureResponse, CreateRequest, CreateResponse, Ctx, DataSource,
        DeleteRequest, DeleteResponse, IdentityAttribute, IdentitySchema, ImportRequest,
        ImportResponse, ReadRequest, ReadResponse, Resource, UpdateRequest, UpdateResponse,
    };
    use crate::plugin::proto::tfplugin5::provider_server::Provider as ProviderRpc;
    use crate::plugin::schema::{Attribute, Block, Schema};
    use crate::plugin::value::{decode_msgpack, encode_msgpack, Type, Value};

    struct Toy;
    struct Zone;

    #[async_trait::async_trait]
    impl Provider for Toy {
        type Data = ();
        fn type_name_prefix(&self) -> &str {
            "toy"
        }
        fn schema(&self) -> Schema {
            Schema::new(Block::new())
        }
        async fn configure(&self, _: &Ctx, _: ConfigureRequest, r: &mut ConfigureResponse<()>) {
            r.data = Some(());
        }
        fn resources(&self) -> Vec<Arc<dyn Resource<()>>> {
            vec![Arc::new(Zone)]
        }
        fn data_sources(&self) -> Vec<Arc<dyn DataSource<()>>> {
            Vec::new()
        }
    }

    #[async_trait::async_trait]
    impl Resource<()> for Zone {
        fn type_name(&self) -> &str {
            "toy_zone"
        }
        fn schema(&self) -> Schema {
            Schema::new(
                Block::new()
                    .attribute(Attribute::string("name").required().requires_replace())
                    .attribute(Attribute::string("label").optional())
                    .attribute(Attribute::string("id").computed().use_state_for_unknown()),
            )
        }
        fn identity(&self) -> Option<IdentitySchema> {
            Some(
                IdentitySchema::new()
                    .attribute(
                        IdentityAttribute::string("region")
                            .required_for_import()
                            .description("r"),
                    )
                    .attribute(
                        IdentityAttribute::string("name")
                            .required_for_import()
                            .description("n"),
                    )
                    .import_id("{region}/{name}"),
            )
        }
        fn complete_identity(&self, req: IdentityRequest<'_, ()>, id: &mut ObjectValue) {
            if req.state.string("name") == Some("boom") {
                panic!("boom");
            }
            id.set_attr("region", "eu");
        }
        async fn create(&self, _: &Ctx, req: CreateRequest<()>, resp: &mut CreateResponse) {
            resp.state = req.planned_state;
            resp.state.set_attr("id", "z-1");
        }
        async fn read(&self, _: &Ctx, _: ReadRequest<()>, resp: &mut ReadResponse) {
            // A misbehaving read: it renames what it reads.
            if let Some(s) = resp.state.as_mut() {
                if s.string("name") == Some("drift") {
                    s.set_attr("name", "drifted");
                }
            }
        }
        async fn update(&self, _: &Ctx, req: UpdateRequest<()>, resp: &mut UpdateResponse) {
            resp.state = req.planned_state;
        }
        async fn delete(&self, _: &Ctx, _: DeleteRequest<()>, _: &mut DeleteResponse) {}
        async fn import(&self, _: &Ctx, req: ImportRequest<()>, resp: &mut ImportResponse) {
            match req.id.split_once('/') {
                Some(("eu", name)) => {
                    resp.state.set_attr("name", name).set_attr("id", "z-1");
                }
                _ => {
                    resp.diagnostics.error(
                        "Invalid import id",
                        format!("{:?} is not eu/<name>", req.id),
                    );
                }
            }
        }
    }

    fn zone(name: &str, label: Value, id: Value) -> Value {
        Value::Object(BTreeMap::from([
            ("name".to_owned(), name.into()),
            ("label".to_owned(), label),
            ("id".to_owned(), id),
        ]))
    }

    fn ident(region: &str, name: &str) -> Value {
        Value::Object(BTreeMap::from([
            ("region".to_owned(), region.into()),
            ("name".to_owned(), name.into()),
        ]))
    }

    fn dv(v: &Value, ty: &Type) -> Option<pb::DynamicValue> {
        Some(pb::DynamicValue {
            msgpack: encode_msgpack(v, ty).expect("fits"),
            json: Vec::new(),
        })
    }

    struct T {
        svc: ProviderService<Toy>,
        ty: Type,
        id_ty: Type,
    }

    impl T {
        fn new() -> T {
            let svc = ProviderService::new(Toy);
            let ty = svc.resources["toy_zone"].info.ty.clone();
            let id_ty = svc.identities["toy_zone"].info.ty.clone();
            T { svc, ty, id_ty }
        }
        fn id(&self, v: &Value) -> Option<pb::ResourceIdentityData> {
            Some(pb::ResourceIdentityData {
                identity_data: dv(v, &self.id_ty),
            })
        }
        fn un_id(&self, d: &Option<pb::ResourceIdentityData>) -> Value {
            let d = d.as_ref().and_then(|d| d.identity_data.as_ref());
            decode_msgpack(&d.expect("an identity").msgpack, &self.id_ty).expect("decodes")
        }
        async fn plan(
            &self,
            prior: &Value,
            config: &Value,
            prior_identity: Option<pb::ResourceIdentityData>,
        ) -> pb::plan_resource_change::Response {
            let proposed = match (prior, config) {
                (Value::Object(p), Value::Object(c)) => {
                    let mut m = c.clone();
                    m.insert("id".into(), p["id"].clone());
                    Value::Object(m)
                }
                _ => config.clone(),
            };
            self.svc
                .plan_resource_change(Request::new(pb::plan_resource_change::Request {
                    type_name: "toy_zone".into(),
                    prior_state: dv(prior, &self.ty),
                    proposed_new_state: dv(&proposed, &self.ty),
                    config: dv(config, &self.ty),
                    prior_identity,
                    ..Default::default()
                }))
                .await
                .expect("OK")
                .into_inner()
        }
    }

    fn errors(d: &[pb::Diagnostic]) -> Vec<String> {
        d.iter()
            .filter(|d| d.severity == pb::diagnostic::Severity::Error as i32)
            .map(|d| format!("{}: {}", d.summary, d.detail))
            .collect()
    }

    #[tokio::test]
    async fn schemas_list_the_identity() {
        let t = T::new();
        let r = t
            .svc
            .get_resource_identity_schemas(Request::new(Default::default()))
            .await
            .unwrap()
            .into_inner();
        let s = &r.identity_schemas["toy_zone"];
        assert_eq!(s.version, 0);
        let names: Vec<&str> = s.identity_attributes.iter().map(|a| &*a.name).collect();
        assert_eq!(names, ["region", "name"]);
        assert_eq!(s.identity_attributes[0].r#type, b"\"string\"");
    }

    #[tokio::test]
    async fn an_identity_attribute_outside_the_state_comes_from_complete_identity() {
        let t = T::new();
        let config = zone("a", Value::Null, Value::Null);
        let p = t.plan(&Value::Null, &config, None).await;
        assert!(
            errors(&p.diagnostics).is_empty(),
            "{:?}",
            errors(&p.diagnostics)
        );
        assert_eq!(t.un_id(&p.planned_identity), ident("eu", "a"));
        let planned = decode_msgpack(&p.planned_state.unwrap().msgpack, &t.ty).unwrap();
        let a = t
            .svc
            .apply_resource_change(Request::new(pb::apply_resource_change::Request {
                type_name: "toy_zone".into(),
                prior_state: dv(&Value::Null, &t.ty),
                planned_state: dv(&planned, &t.ty),
                config: dv(&config, &t.ty),
                planned_identity: p.planned_identity.clone(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(
            errors(&a.diagnostics).is_empty(),
            "{:?}",
            errors(&a.diagnostics)
        );
        assert_eq!(t.un_id(&a.new_identity), ident("eu", "a"));
    }

    #[tokio::test]
    async fn import_by_identity_runs_the_import_of_the_rendered_id() {
        let t = T::new();
        let r = t
            .svc
            .import_resource_state(Request::new(pb::import_resource_state::Request {
                type_name: "toy_zone".into(),
                identity: t.id(&ident("eu", "a")),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(
            errors(&r.diagnostics).is_empty(),
            "{:?}",
            errors(&r.diagnostics)
        );
        assert_eq!(t.un_id(&r.imported_resources[0].identity), ident("eu", "a"));
        // The resource's own error says which identity it came from.
        let r = t
            .svc
            .import_resource_state(Request::new(pb::import_resource_state::Request {
                type_name: "toy_zone".into(),
                identity: t.id(&ident("us", "a")),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        let e = errors(&r.diagnostics).join("\n");
        assert!(
            e.contains(
                r#"Imported by identity {name = "a", region = "us"}, which is import id "us/a""#
            ),
            "{e}"
        );
        // An unknown type is one diagnostic, about the type.
        let r = t
            .svc
            .import_resource_state(Request::new(pb::import_resource_state::Request {
                type_name: "toy_nope".into(),
                identity: t.id(&ident("eu", "a")),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            errors(&r.diagnostics).len(),
            1,
            "{:?}",
            errors(&r.diagnostics)
        );
    }

    #[tokio::test]
    async fn updates_keep_the_identity_and_replacements_may_change_it() {
        let t = T::new();
        let prior = zone("a", Value::Null, "z-1".into());
        let held = t.id(&ident("eu", "a"));
        let p = t
            .plan(&prior, &zone("a", "x".into(), Value::Null), held.clone())
            .await;
        assert!(
            errors(&p.diagnostics).is_empty(),
            "{:?}",
            errors(&p.diagnostics)
        );
        assert_eq!(t.un_id(&p.planned_identity), ident("eu", "a"));
        let p = t
            .plan(&prior, &zone("b", Value::Null, Value::Null), held.clone())
            .await;
        assert!(
            errors(&p.diagnostics).is_empty(),
            "{:?}",
            errors(&p.diagnostics)
        );
        assert!(!p.requires_replace.is_empty());
        assert_eq!(t.un_id(&p.planned_identity), ident("eu", "b"));
        // Terraform holding another identity for an object planned in place: named.
        let p = t
            .plan(
                &prior,
                &zone("a", "x".into(), Value::Null),
                t.id(&ident("us", "a")),
            )
            .await;
        let e = &p.diagnostics[0];
        assert_eq!(e.summary, "Provider changed an identity");
        assert!(p.planned_state.is_some(), "the plan itself is kept");
    }

    #[tokio::test]
    async fn a_read_that_changes_the_identity_and_a_panicking_identity_are_errors() {
        let t = T::new();
        for (name, words) in [("drift", "`name` changed"), ("boom", "panicked")] {
            let r = t
                .svc
                .read_resource(Request::new(pb::read_resource::Request {
                    type_name: "toy_zone".into(),
                    current_state: dv(&zone(name, Value::Null, "z-1".into()), &t.ty),
                    current_identity: t.id(&ident("eu", name)),
                    ..Default::default()
                }))
                .await
                .unwrap()
                .into_inner();
            let e = errors(&r.diagnostics).join("\n");
            assert!(e.contains(words), "{name}: {e}");
        }
    }
}
