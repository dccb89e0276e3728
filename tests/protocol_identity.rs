//! Resource identity (Terraform ≥ 1.12) at the protocol level: the real provider binary over
//! gRPC with AutoMTLS, against hostup-sim on 127.0.0.1, driven the way Terraform v1.15.9 drives
//! it. No Terraform here can (1.11.4 on PATH never sends identity), so [`Tf`] replays Terraform's
//! client side: the calls, their order, what each request carries and the checks Terraform
//! makes on each answer, each citing the Terraform v1.15.9 source lines it replays.
//!
//! The rule every case checks: identity round-trips unchanged through import, read, plan and
//! apply; an import by identity gives what the import by the equivalent id gives; a bad
//! identity is an error diagnostic naming the attribute, never a crash or a hang.

#[path = "plugin_client/mod.rs"]
mod plugin_client;

use std::collections::BTreeMap;

use hostup_provider::plugin::proto::tfplugin5 as pb;
use hostup_provider::plugin::value::{decode_msgpack, encode_msgpack, Type, Value};
use hostup_provider::sim::fixture::{
    BACKUP_APP, KEY_TEST, SNAPSHOT_APP, VPS_APP, VPS_FULL, VPS_PAYG,
};

use plugin_client::{block_type, bounded, object, provider_schema, Plugin, Sim};

const SNAPSHOT: &str = "hostup_vps_snapshot";
const BACKUP: &str = "hostup_vps_backup";
const BACKUP_SCHEDULE: &str = "hostup_vps_backup_schedule";
const SNAPSHOT_SCHEDULE: &str = "hostup_vps_snapshot_schedule";
const BACKUP_SETTINGS: &str = "hostup_vps_backup_settings";

/// Every resource type and the identity attributes it must declare (DESIGN, issue 14).
const IDENTITIES: &[(&str, &[&str])] = &[
    (SNAPSHOT, &["name", "vps_id"]),
    (BACKUP, &["job_id", "vps_id"]),
    ("hostup_vps_snapshot_restore", &["job_id", "vps_id"]),
    ("hostup_vps_backup_restore", &["job_id", "vps_id"]),
    (SNAPSHOT_SCHEDULE, &["vps_id"]),
    (BACKUP_SCHEDULE, &["vps_id"]),
    (BACKUP_SETTINGS, &["vps_id"]),
];

// ------------------------------------------------------------------ Terraform's client side

/// What Terraform keeps of one resource instance between calls.
#[derive(Debug, Clone)]
struct Instance {
    state: Value,
    private: Vec<u8>,
    /// Null when Terraform holds none (state written before 1.12, or a provider without one).
    identity: Value,
}

/// A planned change, as Terraform records it (plans.Change: After, AfterIdentity, Private).
#[derive(Debug, Clone)]
struct Planned {
    state: Value,
    private: Vec<u8>,
    identity: Value,
    requires_replace: Vec<pb::AttributePath>,
}

/// The provider as Terraform v1.15.9's GRPCProvider sees it: its schemas (resource and
/// identity), and one method per RPC that applies Terraform's checks to the answer.
struct Tf {
    plugin: Plugin,
    provider_ty: Type,
    types: BTreeMap<String, Type>,
    blocks: BTreeMap<String, pb::schema::Block>,
    identity_schemas: BTreeMap<String, pb::ResourceIdentitySchema>,
    identity_types: BTreeMap<String, Type>,
}

fn dv(v: &Value, ty: &Type) -> pb::DynamicValue {
    pb::DynamicValue {
        msgpack: encode_msgpack(v, ty).expect("value fits its type"),
        json: Vec::new(),
    }
}

fn errors(d: &[pb::Diagnostic]) -> Vec<String> {
    d.iter()
        .filter(|d| d.severity == pb::diagnostic::Severity::Error as i32)
        .map(|d| {
            let at = d
                .attribute
                .as_ref()
                .map(|p| format!(" [at {p:?}]"))
                .unwrap_or_default();
            format!("{}: {}{at}", d.summary, d.detail)
        })
        .collect()
}

fn no_errors(what: &str, d: &[pb::Diagnostic]) {
    let e = errors(d);
    assert!(e.is_empty(), "{what}: {e:#?}");
}

/// The root attribute name a diagnostic points at.
fn attribute_of(d: &pb::Diagnostic) -> Option<String> {
    use pb::attribute_path::step::Selector;
    let step = d.attribute.as_ref()?.steps.first()?;
    match step.selector.as_ref()? {
        Selector::AttributeName(n) => Some(n.clone()),
        _ => None,
    }
}

fn attr<'a>(v: &'a Value, name: &str) -> &'a Value {
    v.attr(name).unwrap_or_else(|| panic!("no {name} in {v:?}"))
}

impl Tf {
    /// A provider process as Terraform 1.15.9 starts one: GetProviderSchema = GetSchema, then
    /// GetResourceIdentitySchemas (internal/plugin/grpc_provider.go l.80-204, identity at
    /// l.133-149: Unimplemented tolerated, error diagnostics stop), identity attribute types
    /// parsed as cty type JSON (a bad one panics Terraform: convert/schema.go l.250-271), then
    /// ConfigureProvider.
    async fn start(sim: &Sim) -> Tf {
        let plugin = Plugin::launch(&[]).await;
        let s = provider_schema(&plugin).await;
        no_errors("GetSchema", &s.diagnostics);
        let ids = bounded(
            "GetResourceIdentitySchemas",
            plugin
                .client()
                .get_resource_identity_schemas(pb::get_resource_identity_schemas::Request {}),
        )
        .await
        .expect("GetResourceIdentitySchemas answers (Terraform tolerates only Unimplemented)")
        .into_inner();
        no_errors("GetResourceIdentitySchemas", &ids.diagnostics);
        let mut identity_types = BTreeMap::new();
        for (name, schema) in &ids.identity_schemas {
            let mut attrs = BTreeMap::new();
            for a in &schema.identity_attributes {
                let ty = Type::from_json(&a.r#type).unwrap_or_else(|e| {
                    panic!(
                        "{name}.{}: type JSON Terraform would panic on: {e:?}",
                        a.name
                    )
                });
                attrs.insert(a.name.clone(), ty);
            }
            identity_types.insert(name.clone(), Type::Object(attrs));
        }
        let blocks: BTreeMap<String, pb::schema::Block> = s
            .resource_schemas
            .iter()
            .map(|(k, v)| (k.clone(), v.block.clone().expect("block")))
            .collect();
        let tf = Tf {
            provider_ty: block_type(s.provider.as_ref().and_then(|p| p.block.as_ref()).unwrap()),
            types: blocks
                .iter()
                .map(|(k, b)| (k.clone(), block_type(b)))
                .collect(),
            blocks,
            identity_schemas: ids.identity_schemas.into_iter().collect(),
            identity_types,
            plugin,
        };
        let config = object(
            &tf.provider_ty,
            &[
                ("endpoint", sim.url.as_str().into()),
                ("api_key", KEY_TEST.into()),
            ],
        );
        let d = bounded(
            "Configure",
            tf.plugin.client().configure(pb::configure::Request {
                terraform_version: "1.15.9".into(),
                config: Some(dv(&config, &tf.provider_ty)),
                client_capabilities: None,
            }),
        )
        .await
        .expect("Configure")
        .into_inner()
        .diagnostics;
        no_errors("Configure", &d);
        tf
    }

    fn ty(&self, t: &str) -> &Type {
        &self.types[t]
    }

    fn id_ty(&self, t: &str) -> &Type {
        self.identity_types
            .get(t)
            .unwrap_or_else(|| panic!("{t} has no identity schema"))
    }

    /// What Terraform puts in a request's identity field: nothing for a null identity
    /// (grpc_provider.go l.574-587 read, l.687-700 plan, l.797-810 apply, l.861-879 import).
    fn send_identity(&self, t: &str, id: &Value) -> Option<pb::ResourceIdentityData> {
        (!id.is_null()).then(|| pb::ResourceIdentityData {
            identity_data: Some(dv(id, self.id_ty(t))),
        })
    }

    /// What Terraform makes of an answer's identity: decoded against the identity schema's
    /// type (grpc_provider.go l.605-612, l.726-733, l.830-840, l.908-919: a mismatch is an
    /// error), then `validateIdentityKnown` where the node calls it
    /// (node_resource_abstract_instance.go l.2949-2962) — conformance (`validateIdentity`,
    /// l.2964-3003) holds once the msgpack decodes against the type.
    fn take_identity(
        &self,
        t: &str,
        data: Option<&pb::ResourceIdentityData>,
        must_be_known: bool,
    ) -> Value {
        let Some(dv) = data.and_then(|d| d.identity_data.as_ref()) else {
            return Value::Null;
        };
        let v = decode_msgpack(&dv.msgpack, self.id_ty(t))
            .unwrap_or_else(|e| panic!("{t}: identity does not match its schema: {e:?}"));
        if must_be_known {
            assert!(
                v.is_wholly_known(),
                "{t}: Provider produced invalid identity (unknown values): {v:?}"
            );
        }
        v
    }

    fn take_state(&self, t: &str, d: Option<&pb::DynamicValue>) -> Value {
        let d = d.expect("a state");
        decode_msgpack(&d.msgpack, self.ty(t)).expect("state decodes")
    }

    /// ImportResourceState as node_resource_plan_instance.go `importState` sends it (l.690-705:
    /// `Identity` for an identity import, else `ID`) and checks it (l.733-790: one object, a
    /// type name, and an identity when imported by identity), then the refresh that follows
    /// (l.826-834 → `refresh`, ReadResource).
    async fn import(
        &self,
        t: &str,
        target: ImportTarget<'_>,
    ) -> Result<Instance, Vec<pb::Diagnostic>> {
        let (id, identity, by_identity) = match target {
            ImportTarget::Id(id) => (id.to_owned(), None, false),
            ImportTarget::Identity(v) => (String::new(), self.send_identity(t, v), true),
        };
        let r = bounded(
            "ImportResourceState",
            self.plugin
                .client()
                .import_resource_state(pb::import_resource_state::Request {
                    type_name: t.into(),
                    id,
                    client_capabilities: None,
                    identity,
                }),
        )
        .await
        .expect("ImportResourceState")
        .into_inner();
        if !errors(&r.diagnostics).is_empty() {
            assert!(r.imported_resources.is_empty(), "no object with errors");
            return Err(r.diagnostics);
        }
        assert_eq!(r.imported_resources.len(), 1, "one imported object");
        let imp = &r.imported_resources[0];
        assert_eq!(imp.type_name, t, "import sets the type");
        let identity = self.take_identity(t, imp.identity.as_ref(), false);
        if by_identity {
            assert!(
                !identity.is_null(),
                "import of {t} didn't return an identity"
            );
        }
        let state = self.take_state(t, imp.state.as_ref());
        assert!(!state.is_null(), "Import returned null resource");
        let imported = Instance {
            state,
            private: imp.private.clone(),
            identity,
        };
        Ok(self.read(t, &imported).await)
    }

    /// ReadResource as `refresh` sends it (node_resource_abstract_instance.go l.670-678:
    /// `CurrentIdentity: state.Identity`) and checks it (l.686-689; the state then keeps the
    /// answer's identity, l.769).
    async fn read(&self, t: &str, cur: &Instance) -> Instance {
        let r = bounded(
            "ReadResource",
            self.plugin
                .client()
                .read_resource(pb::read_resource::Request {
                    type_name: t.into(),
                    current_state: Some(dv(&cur.state, self.ty(t))),
                    private: cur.private.clone(),
                    provider_meta: None,
                    client_capabilities: None,
                    current_identity: self.send_identity(t, &cur.identity),
                }),
        )
        .await
        .expect("ReadResource")
        .into_inner();
        no_errors(&format!("ReadResource {t}"), &r.diagnostics);
        Instance {
            state: self.take_state(t, r.new_state.as_ref()),
            private: r.private,
            identity: self.take_identity(t, r.new_identity.as_ref(), true),
        }
    }

    /// PlanResourceChange as `plan` sends it (node_resource_abstract_instance.go l.985-1000:
    /// `PriorIdentity` of a prior object that is not tainted). The identity check depends on
    /// the action (l.1142-1148: known unless a create or a replacement), which the caller
    /// states as `create_or_replace`.
    async fn plan(
        &self,
        t: &str,
        prior: Option<&Instance>,
        config: &Value,
        create_or_replace: bool,
    ) -> Result<Planned, Vec<pb::Diagnostic>> {
        let null = Value::Null;
        let prior_state = prior.map_or(&null, |p| &p.state);
        let proposed = proposed_new(&self.blocks[t], prior_state, config);
        self.plan_raw(
            t,
            prior_state,
            &proposed,
            config,
            prior.map(|p| p.private.clone()).unwrap_or_default(),
            prior.map_or(&null, |p| &p.identity),
            create_or_replace,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn plan_raw(
        &self,
        t: &str,
        prior: &Value,
        proposed: &Value,
        config: &Value,
        prior_private: Vec<u8>,
        prior_identity: &Value,
        may_be_unknown: bool,
    ) -> Result<Planned, Vec<pb::Diagnostic>> {
        let ty = self.ty(t);
        let r = bounded(
            "PlanResourceChange",
            self.plugin
                .client()
                .plan_resource_change(pb::plan_resource_change::Request {
                    type_name: t.into(),
                    prior_state: Some(dv(prior, ty)),
                    proposed_new_state: Some(dv(proposed, ty)),
                    config: Some(dv(config, ty)),
                    prior_private,
                    provider_meta: None,
                    client_capabilities: None,
                    prior_identity: self.send_identity(t, prior_identity),
                }),
        )
        .await
        .expect("PlanResourceChange")
        .into_inner();
        if !errors(&r.diagnostics).is_empty() {
            return Err(r.diagnostics);
        }
        Ok(Planned {
            state: self.take_state(t, r.planned_state.as_ref()),
            private: r.planned_private,
            identity: self.take_identity(t, r.planned_identity.as_ref(), !may_be_unknown),
            requires_replace: r.requires_replace,
        })
    }

    /// ApplyResourceChange as `apply` sends it (node_resource_abstract_instance.go l.2684-2693:
    /// `PlannedIdentity: change.AfterIdentity`) and checks it (l.2695-2698); the new state
    /// keeps the answer's identity (l.2911-2936).
    async fn apply(
        &self,
        t: &str,
        prior: Option<&Instance>,
        planned: &Planned,
        config: &Value,
    ) -> Result<Option<Instance>, Vec<pb::Diagnostic>> {
        let ty = self.ty(t);
        let null = Value::Null;
        let r = bounded(
            "ApplyResourceChange",
            self.plugin
                .client()
                .apply_resource_change(pb::apply_resource_change::Request {
                    type_name: t.into(),
                    prior_state: Some(dv(prior.map_or(&null, |p| &p.state), ty)),
                    planned_state: Some(dv(&planned.state, ty)),
                    config: Some(dv(config, ty)),
                    planned_private: planned.private.clone(),
                    provider_meta: None,
                    planned_identity: self.send_identity(t, &planned.identity),
                }),
        )
        .await
        .expect("ApplyResourceChange")
        .into_inner();
        let identity = self.take_identity(t, r.new_identity.as_ref(), true);
        if !errors(&r.diagnostics).is_empty() {
            return Err(r.diagnostics);
        }
        let state = self.take_state(t, r.new_state.as_ref());
        if state.is_null() {
            assert!(identity.is_null(), "a deleted object has no identity");
            return Ok(None);
        }
        Ok(Some(Instance {
            state,
            private: r.private,
            identity,
        }))
    }

    /// The destroy plan (node_resource_abstract_instance.go `planDestroy` l.449-472: null
    /// config and proposed state, `PriorIdentity: currentState.Identity`; an identity answer
    /// must be known, and may differ).
    async fn plan_destroy(&self, t: &str, prior: &Instance) -> Planned {
        let p = self
            .plan_raw(
                t,
                &prior.state,
                &Value::Null,
                &Value::Null,
                prior.private.clone(),
                &prior.identity,
                false,
            )
            .await
            .unwrap_or_else(|d| panic!("destroy plan of {t}: {:#?}", errors(&d)));
        assert!(p.state.is_null(), "a destroy plans null");
        p
    }

    /// The configuration of an object like `state`: its arguments, nothing computed-only, no
    /// blocks (what a configuration that matches the object holds).
    fn config_like(&self, t: &str, state: &Value, set: &[(&str, Value)]) -> Value {
        let block = &self.blocks[t];
        let mut m = BTreeMap::new();
        for a in &block.attributes {
            let v = if a.computed && !a.optional {
                Value::Null
            } else {
                attr(state, &a.name).clone()
            };
            m.insert(a.name.clone(), v);
        }
        for b in &block.block_types {
            m.insert(b.type_name.clone(), Value::Null);
        }
        for (k, v) in set {
            m.insert((*k).to_owned(), v.clone());
        }
        Value::Object(m)
    }
}

enum ImportTarget<'a> {
    Id(&'a str),
    Identity(&'a Value),
}

/// objchange.ProposedNew for flat schemas (internal/plans/objchange/objchange.go): the
/// configuration, with computed attributes the configuration leaves null taken from the prior
/// state (null on create), and nested blocks from the configuration.
fn proposed_new(block: &pb::schema::Block, prior: &Value, config: &Value) -> Value {
    let mut m = BTreeMap::new();
    for a in &block.attributes {
        let c = attr(config, &a.name).clone();
        let v = if a.computed && c.is_null() {
            prior.attr(&a.name).cloned().unwrap_or(Value::Null)
        } else {
            c
        };
        m.insert(a.name.clone(), v);
    }
    for b in &block.block_types {
        m.insert(b.type_name.clone(), attr(config, &b.type_name).clone());
    }
    Value::Object(m)
}

fn identity_of(tf: &Tf, t: &str, set: &[(&str, &str)]) -> Value {
    let set: Vec<(&str, Value)> = set.iter().map(|(k, v)| (*k, Value::from(*v))).collect();
    object(tf.id_ty(t), &set)
}

// ------------------------------------------------------------------ cases

/// GetResourceIdentitySchemas as Terraform reads it (grpc_provider.go l.206-238 and
/// convert/schema.go `ProtoToIdentitySchema` l.250-271): every resource type has an identity
/// of version 0 whose attributes are required for import, typed, and described.
#[tokio::test]
async fn every_resource_type_declares_its_identity() {
    let sim = Sim::start(&["--job-duration", "0s"]).await;
    let tf = Tf::start(&sim).await;
    let mut declared: Vec<&str> = tf.identity_schemas.keys().map(String::as_str).collect();
    declared.sort_unstable();
    let mut resources: Vec<&str> = tf.types.keys().map(String::as_str).collect();
    resources.sort_unstable();
    assert_eq!(declared, resources, "an identity for every resource type");
    for (t, want) in IDENTITIES {
        let s = &tf.identity_schemas[*t];
        assert_eq!(s.version, 0, "{t}");
        let mut names: Vec<&str> = s
            .identity_attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        names.sort_unstable();
        assert_eq!(&names, want, "{t}");
        for a in &s.identity_attributes {
            assert!(
                a.required_for_import && !a.optional_for_import,
                "{t}.{}",
                a.name
            );
            assert!(
                !a.description.trim().is_empty(),
                "{t}.{} has a description",
                a.name
            );
            assert_eq!(
                Type::from_json(&a.r#type).ok(),
                Some(Type::String),
                "{t}.{}",
                a.name
            );
            // Each identity attribute is the state attribute of the same name and type.
            let Type::Object(state_attrs) = tf.ty(t) else {
                unreachable!()
            };
            assert_eq!(
                state_attrs.get(&a.name),
                Some(&Type::String),
                "{t}.{}",
                a.name
            );
        }
    }
    tf.plugin.shutdown().await;
}

/// `import { to = hostup_vps_snapshot.x identity = { vps_id = …, name = … } }` then plan and
/// apply, in Terraform's order: import by identity gives the import by id's object and
/// identity; the refresh, a no-op plan, the two plans of a replacement
/// (node_resource_abstract_instance.go l.1150-1210: the second with a null prior state and
/// `PriorIdentity: plannedIdentity`), the destroy plan and the delete keep it.
#[tokio::test]
async fn snapshot_identity_round_trips_through_import_read_plan_and_apply() {
    let sim = Sim::start(&["--job-duration", "0s"]).await;
    let tf = Tf::start(&sim).await;
    let want = identity_of(
        &tf,
        SNAPSHOT,
        &[("vps_id", VPS_APP), ("name", SNAPSHOT_APP)],
    );

    let by_identity = tf
        .import(SNAPSHOT, ImportTarget::Identity(&want))
        .await
        .unwrap_or_else(|d| panic!("{:#?}", errors(&d)));
    assert_eq!(
        by_identity.identity, want,
        "identity unchanged by import and refresh"
    );
    let id = format!("{VPS_APP}/{SNAPSHOT_APP}");
    let by_id = tf
        .import(SNAPSHOT, ImportTarget::Id(&id))
        .await
        .unwrap_or_else(|d| panic!("{:#?}", errors(&d)));
    assert_eq!(by_id.state, by_identity.state, "same object either way");
    assert_eq!(by_id.identity, want, "import by id gets the identity too");

    // The next plan: refresh, then a plan of the unchanged configuration.
    let inst = tf.read(SNAPSHOT, &by_identity).await;
    assert_eq!(inst.identity, want, "refresh keeps the identity");
    let config = tf.config_like(SNAPSHOT, &inst.state, &[]);
    let noop = tf
        .plan(SNAPSHOT, Some(&inst), &config, false)
        .await
        .unwrap_or_else(|d| panic!("{:#?}", errors(&d)));
    assert_eq!(noop.identity, want, "planned identity = prior identity");
    assert!(noop.requires_replace.is_empty());

    // A renamed snapshot is a replacement: first call with the prior object, then the create
    // half with a null prior and the first call's planned identity as prior identity.
    let renamed = tf.config_like(SNAPSHOT, &inst.state, &[("name", "after-upgrade".into())]);
    let first = tf
        .plan(SNAPSHOT, Some(&inst), &renamed, true)
        .await
        .unwrap_or_else(|d| panic!("{:#?}", errors(&d)));
    assert!(!first.requires_replace.is_empty(), "a rename replaces");
    let proposed = proposed_new(&tf.blocks[SNAPSHOT], &Value::Null, &renamed);
    let second = tf
        .plan_raw(
            SNAPSHOT,
            &Value::Null,
            &proposed,
            &renamed,
            first.private.clone(),
            &first.identity,
            true,
        )
        .await
        .unwrap_or_else(|d| panic!("{:#?}", errors(&d)));
    assert_eq!(
        second.identity,
        identity_of(
            &tf,
            SNAPSHOT,
            &[("vps_id", VPS_APP), ("name", "after-upgrade")]
        ),
        "the new object's identity is planned"
    );

    // Destroy: the plan keeps the identity; the delete returns none.
    let destroy = tf.plan_destroy(SNAPSHOT, &inst).await;
    assert_eq!(destroy.identity, want, "a destroy plan keeps the identity");
    let gone = tf
        .apply(SNAPSHOT, Some(&inst), &destroy, &Value::Null)
        .await
        .unwrap_or_else(|d| panic!("{:#?}", errors(&d)));
    assert!(gone.is_none());
    tf.plugin.shutdown().await;
}

/// A backup schedule from create to destroy, with an update in place between, one provider
/// process per Terraform walk as Terraform runs them (the apply walk plans again, then
/// applies): the identity planned for the create is known (its `vps_id` is an argument) and
/// equals what apply, the refresh, the update's plan and apply return.
#[tokio::test]
async fn schedule_identity_round_trips_from_create_to_destroy() {
    let sim = Sim::start(&["--job-duration", "0s"]).await;
    let t = BACKUP_SCHEDULE;

    // `terraform apply` (create): the apply walk's plan, then apply.
    let tf = Tf::start(&sim).await;
    let want = identity_of(&tf, t, &[("vps_id", VPS_APP)]);
    let ty = tf.ty(t).clone();
    let config = object(
        &ty,
        &[
            ("vps_id", VPS_APP.into()),
            ("frequency", "daily".into()),
            ("hour", Value::from(2i64)),
            ("retention_count", Value::from(3i64)),
        ],
    );
    let create = tf
        .plan(t, None, &config, true)
        .await
        .unwrap_or_else(|d| panic!("{:#?}", errors(&d)));
    assert_eq!(create.identity, want, "create plans the identity");
    let inst = tf
        .apply(t, None, &create, &config)
        .await
        .unwrap_or_else(|d| panic!("{:#?}", errors(&d)))
        .expect("created");
    assert_eq!(inst.identity, want, "create returns the planned identity");
    tf.plugin.shutdown().await;

    // `terraform apply` after a change of `hour`: refresh, plan, apply.
    let tf = Tf::start(&sim).await;
    let inst = tf.read(t, &inst).await;
    assert_eq!(inst.identity, want, "refresh keeps the identity");
    let later = tf.config_like(t, &inst.state, &[("hour", Value::from(5i64))]);
    let update = tf
        .plan(t, Some(&inst), &later, false)
        .await
        .unwrap_or_else(|d| panic!("{:#?}", errors(&d)));
    assert!(
        update.requires_replace.is_empty(),
        "an hour changes in place"
    );
    assert_eq!(update.identity, want);
    let inst = tf
        .apply(t, Some(&inst), &update, &later)
        .await
        .unwrap_or_else(|d| panic!("{:#?}", errors(&d)))
        .expect("updated");
    assert_eq!(inst.identity, want, "update keeps the identity");
    tf.plugin.shutdown().await;

    // `terraform destroy`.
    let tf = Tf::start(&sim).await;
    let destroy = tf.plan_destroy(t, &inst).await;
    assert_eq!(destroy.identity, want);
    assert!(tf
        .apply(t, Some(&inst), &destroy, &Value::Null)
        .await
        .unwrap_or_else(|d| panic!("{:#?}", errors(&d)))
        .is_none());
    tf.plugin.shutdown().await;
}

/// The action-style resources: a backup and each restore is created (its planned identity
/// holds the unknown `job_id`, which Terraform allows for a create, l.1142-1145), its identity
/// after apply names the job, and `import { identity = { vps_id, job_id } }` gives what the id
/// `<vps_id>/<job_id>` gives. The per-VPS singletons import by `{ vps_id }` like by the id.
#[tokio::test]
async fn import_by_identity_equals_import_by_id_for_every_kind() {
    let sim = Sim::start(&["--job-duration", "0s"]).await;
    let tf = Tf::start(&sim).await;
    let ty = tf.ty(BACKUP).clone();
    let config = object(&ty, &[("vps_id", VPS_APP.into())]);
    let plan = tf
        .plan(BACKUP, None, &config, true)
        .await
        .unwrap_or_else(|d| panic!("{:#?}", errors(&d)));
    assert_eq!(attr(&plan.identity, "vps_id"), &Value::from(VPS_APP));
    assert!(
        !attr(&plan.identity, "job_id").is_known(),
        "job id known after apply"
    );
    let made = tf
        .apply(BACKUP, None, &plan, &config)
        .await
        .unwrap_or_else(|d| panic!("{:#?}", errors(&d)))
        .expect("created");
    let job_id = attr(&made.state, "job_id")
        .as_str()
        .expect("job id")
        .to_owned();
    let want = identity_of(&tf, BACKUP, &[("vps_id", VPS_APP), ("job_id", &job_id)]);
    assert_eq!(made.identity, want);
    let by_identity = tf
        .import(BACKUP, ImportTarget::Identity(&want))
        .await
        .unwrap();
    let by_id = tf
        .import(BACKUP, ImportTarget::Id(&format!("{VPS_APP}/{job_id}")))
        .await
        .unwrap();
    assert_eq!(by_identity.identity, want);
    assert_eq!(by_identity.state, by_id.state);

    // The restores, likewise: run one, then import it both ways.
    for (t, arg, value) in [
        ("hostup_vps_snapshot_restore", "snapshot_name", SNAPSHOT_APP),
        ("hostup_vps_backup_restore", "backup_id", BACKUP_APP),
    ] {
        let config = object(tf.ty(t), &[("vps_id", VPS_APP.into()), (arg, value.into())]);
        let plan = tf
            .plan(t, None, &config, true)
            .await
            .unwrap_or_else(|d| panic!("{t}: {:#?}", errors(&d)));
        let made = tf
            .apply(t, None, &plan, &config)
            .await
            .unwrap_or_else(|d| panic!("{t}: {:#?}", errors(&d)))
            .expect("created");
        let job_id = attr(&made.state, "job_id")
            .as_str()
            .expect("job id")
            .to_owned();
        let want = identity_of(&tf, t, &[("vps_id", VPS_APP), ("job_id", &job_id)]);
        assert_eq!(made.identity, want, "{t}");
        let a = tf.import(t, ImportTarget::Identity(&want)).await.unwrap();
        let b = tf
            .import(t, ImportTarget::Id(&format!("{VPS_APP}/{job_id}")))
            .await
            .unwrap();
        assert_eq!(a.identity, want, "{t}");
        assert_eq!(a.state, b.state, "{t}");
    }

    for (t, vps) in [
        (BACKUP_SCHEDULE, VPS_FULL),
        (SNAPSHOT_SCHEDULE, VPS_PAYG),
        (BACKUP_SETTINGS, VPS_APP),
    ] {
        let want = identity_of(&tf, t, &[("vps_id", vps)]);
        let a = tf
            .import(t, ImportTarget::Identity(&want))
            .await
            .unwrap_or_else(|d| panic!("{t}: {:#?}", errors(&d)));
        let b = tf
            .import(t, ImportTarget::Id(vps))
            .await
            .unwrap_or_else(|d| panic!("{t}: {:#?}", errors(&d)));
        assert_eq!(a.identity, want, "{t}");
        assert_eq!(a.state, b.state, "{t}");
        assert_eq!(b.identity, want, "{t}");
    }
    tf.plugin.shutdown().await;
}

/// Identities Terraform could send that name nothing: each is an error diagnostic naming the
/// attribute (or the import identity), the provider keeps serving, and HostUp is not called
/// with a made-up id.
#[tokio::test]
async fn bad_import_identities_are_diagnostics_naming_the_attribute() {
    let sim = Sim::start(&["--job-duration", "0s"]).await;
    let mut tf = Tf::start(&sim).await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "name missing",
            object(tf.id_ty(SNAPSHOT), &[("vps_id", VPS_APP.into())]),
            "name",
        ),
        (
            "empty name",
            identity_of(&tf, SNAPSHOT, &[("vps_id", VPS_APP), ("name", "")]),
            "name",
        ),
        (
            "a `/` in the name",
            identity_of(&tf, SNAPSHOT, &[("vps_id", VPS_APP), ("name", "a/b")]),
            "name",
        ),
        (
            "unknown name",
            object(
                tf.id_ty(SNAPSHOT),
                &[("vps_id", VPS_APP.into()), ("name", Value::unknown())],
            ),
            "name",
        ),
    ];
    for (case, identity, attribute) in cases {
        let d = tf
            .import(SNAPSHOT, ImportTarget::Identity(&identity))
            .await
            .expect_err(case);
        let e = d
            .iter()
            .find(|d| d.severity == pb::diagnostic::Severity::Error as i32)
            .unwrap();
        assert_eq!(attribute_of(e).as_deref(), Some(attribute), "{case}: {e:?}");
        assert!(
            e.detail.contains(&format!("`{attribute}`")),
            "{case}: {}",
            e.detail
        );
    }
    // A VPS id HostUp rejects: the resource's own import error, saying it came from an
    // identity.
    let bad_vps = identity_of(&tf, SNAPSHOT, &[("vps_id", "web-01"), ("name", "x")]);
    let d = tf
        .import(SNAPSHOT, ImportTarget::Identity(&bad_vps))
        .await
        .expect_err("a name is not a VPS id");
    let e = errors(&d).join("\n");
    assert!(
        e.contains("Imported by identity") && e.contains("vps_id"),
        "{e}"
    );
    // An identity that is not of the schema's type (a number where a string is).
    let r = bounded(
        "ImportResourceState",
        tf.plugin
            .client()
            .import_resource_state(pb::import_resource_state::Request {
                type_name: SNAPSHOT.into(),
                id: String::new(),
                client_capabilities: None,
                identity: Some(pb::ResourceIdentityData {
                    identity_data: Some(pb::DynamicValue {
                        msgpack: vec![0x81, 0xa6, b'v', b'p', b's', b'_', b'i', b'd', 0x01],
                        json: Vec::new(),
                    }),
                }),
            }),
    )
    .await
    .expect("answers")
    .into_inner();
    assert!(!errors(&r.diagnostics).is_empty(), "undecodable identity");
    assert!(r.imported_resources.is_empty());
    assert_eq!(
        sim.count("GET /api/v2/vps/{id}/snapshots").await,
        0,
        "no bad identity reached HostUp"
    );
    tf.plugin.assert_healthy("bad identities").await;
    tf.plugin.shutdown().await;
}

/// Terraform before 1.12 (and 1.12+ with a state written before identity) sends no identity:
/// every answer still works, and the first refresh fills the identity in.
#[tokio::test]
async fn requests_without_identity_still_work_and_get_one() {
    let sim = Sim::start(&["--job-duration", "0s"]).await;
    let tf = Tf::start(&sim).await;
    let inst = tf
        .import(
            SNAPSHOT,
            ImportTarget::Id(&format!("{VPS_APP}/{SNAPSHOT_APP}")),
        )
        .await
        .unwrap();
    let old = Instance {
        identity: Value::Null,
        ..inst
    };
    let read = tf.read(SNAPSHOT, &old).await;
    let want = identity_of(
        &tf,
        SNAPSHOT,
        &[("vps_id", VPS_APP), ("name", SNAPSHOT_APP)],
    );
    assert_eq!(read.identity, want, "the refresh fills the identity in");
    let config = tf.config_like(SNAPSHOT, &old.state, &[]);
    let plan = tf.plan(SNAPSHOT, Some(&old), &config, false).await.unwrap();
    assert_eq!(plan.identity, want);
    tf.plugin.shutdown().await;
}

/// An identity Terraform holds that the object no longer matches (a hand-edited state): the
/// refresh says which attribute changed instead of replacing the identity silently.
#[tokio::test]
async fn a_changed_identity_is_refused_naming_the_attribute() {
    let sim = Sim::start(&["--job-duration", "0s"]).await;
    let tf = Tf::start(&sim).await;
    let inst = tf
        .import(
            SNAPSHOT,
            ImportTarget::Id(&format!("{VPS_APP}/{SNAPSHOT_APP}")),
        )
        .await
        .unwrap();
    let stale = Instance {
        identity: identity_of(&tf, SNAPSHOT, &[("vps_id", VPS_APP), ("name", "other")]),
        ..inst
    };
    let r = bounded(
        "ReadResource",
        tf.plugin
            .client()
            .read_resource(pb::read_resource::Request {
                type_name: SNAPSHOT.into(),
                current_state: Some(dv(&stale.state, tf.ty(SNAPSHOT))),
                private: stale.private.clone(),
                provider_meta: None,
                client_capabilities: None,
                current_identity: tf.send_identity(SNAPSHOT, &stale.identity),
            }),
    )
    .await
    .expect("answers")
    .into_inner();
    let e = r
        .diagnostics
        .iter()
        .find(|d| d.severity == pb::diagnostic::Severity::Error as i32)
        .expect("an error");
    assert_eq!(attribute_of(e).as_deref(), Some("name"), "{e:?}");
    tf.plugin.shutdown().await;
}

/// UpgradeResourceIdentity (Terraform calls it for a stored version below the schema's,
/// upgrade_resource_state.go l.155-230, and checks the answer known and of the schema's type,
/// l.195-216; grpc_provider.go l.440-484): version 0 JSON decodes against the current schema;
/// a newer version, bad JSON, a non-object and an unknown type are error diagnostics.
#[tokio::test]
async fn upgrade_resource_identity_decodes_or_explains() {
    let sim = Sim::start(&["--job-duration", "0s"]).await;
    let mut tf = Tf::start(&sim).await;
    let call = |type_name: &str, version: i64, json: &[u8]| {
        let req = pb::upgrade_resource_identity::Request {
            type_name: type_name.into(),
            version,
            raw_identity: Some(pb::RawState {
                json: json.to_vec(),
                flatmap: Default::default(),
            }),
        };
        let mut client = tf.plugin.client();
        async move {
            bounded(
                "UpgradeResourceIdentity",
                client.upgrade_resource_identity(req),
            )
            .await
            .expect("answers")
            .into_inner()
        }
    };
    let ok = call(
        SNAPSHOT,
        0,
        format!(r#"{{"vps_id":"{VPS_APP}","name":"{SNAPSHOT_APP}","gone":1}}"#).as_bytes(),
    )
    .await;
    no_errors("upgrade v0", &ok.diagnostics);
    let v = tf.take_identity(SNAPSHOT, ok.upgraded_identity.as_ref(), true);
    assert_eq!(
        v,
        identity_of(
            &tf,
            SNAPSHOT,
            &[("vps_id", VPS_APP), ("name", SNAPSHOT_APP)]
        )
    );
    for (case, t, version, json, words) in [
        ("future version", SNAPSHOT, 1, &b"{}"[..], "newer provider"),
        ("negative version", SNAPSHOT, -1, b"{}", "never negative"),
        ("bad JSON", SNAPSHOT, 0, b"{\"vps_id\":", "not valid JSON"),
        ("not an object", SNAPSHOT, 0, b"[1]", "not an object"),
        (
            "wrong type",
            SNAPSHOT,
            0,
            b"{\"vps_id\":[1]}",
            "identity schema",
        ),
        ("unknown type", "hostup_nope", 0, b"{}", "hostup_nope"),
    ] {
        let r = call(t, version, json).await;
        let e = errors(&r.diagnostics).join("\n");
        assert!(e.contains(words), "{case}: {e}");
        assert!(r.upgraded_identity.is_none(), "{case}");
    }
    tf.plugin.assert_healthy("identity upgrades").await;
    tf.plugin.shutdown().await;
}

/// A create whose HostUp job fails: apply answers the error with the partial state, which
/// Terraform saves tainted with the answer's identity (node_resource_abstract_instance.go
/// l.2911-2923) after checking that identity known even then (l.2695-2698). The identity names
/// the failed job, so the object can still be imported by it.
#[tokio::test]
async fn a_failed_create_keeps_a_known_identity_naming_the_job() {
    let sim = Sim::start(&["--job-duration", "0s", "--fail-next-jobs", "1"]).await;
    let tf = Tf::start(&sim).await;
    let config = object(tf.ty(BACKUP), &[("vps_id", VPS_APP.into())]);
    let plan = tf
        .plan(BACKUP, None, &config, true)
        .await
        .unwrap_or_else(|d| panic!("{:#?}", errors(&d)));
    let r = bounded(
        "ApplyResourceChange",
        tf.plugin
            .client()
            .apply_resource_change(pb::apply_resource_change::Request {
                type_name: BACKUP.into(),
                prior_state: Some(dv(&Value::Null, tf.ty(BACKUP))),
                planned_state: Some(dv(&plan.state, tf.ty(BACKUP))),
                config: Some(dv(&config, tf.ty(BACKUP))),
                planned_private: plan.private.clone(),
                provider_meta: None,
                planned_identity: tf.send_identity(BACKUP, &plan.identity),
            }),
    )
    .await
    .expect("answers")
    .into_inner();
    assert!(!errors(&r.diagnostics).is_empty(), "the job failed");
    let state = tf.take_state(BACKUP, r.new_state.as_ref());
    let job_id = attr(&state, "job_id")
        .as_str()
        .expect("job id saved")
        .to_owned();
    let identity = tf.take_identity(BACKUP, r.new_identity.as_ref(), true);
    assert_eq!(
        identity,
        identity_of(&tf, BACKUP, &[("vps_id", VPS_APP), ("job_id", &job_id)])
    );
    tf.plugin.shutdown().await;
}
