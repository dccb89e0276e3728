//! The provider framework: typed traits a provider and its resources implement, in the spirit
//! of terraform-plugin-framework.
//!
//! The gRPC layer ([`crate::plugin::rpc`]) decodes every request against the right schema,
//! runs the standard behaviour Terraform expects (default plan, private-state echo, lenient
//! state upgrade, invariant checks) and calls these traits with plain values, so a resource
//! file holds only HostUp logic. Every operation gets a [`Ctx`] that Terraform's Stop cancels.
//!
//! What the server guarantees to implementations:
//! - `schema()` is called once per process; values handed in always match it.
//! - `validate*` may see unknown values ([`ObjectValue::is_known`]); everything else except
//!   `config`/`proposed_new_state`/`planned_state` is wholly known.
//! - `create`/`update`/`delete` are chosen from prior/planned null-ness.
//! - Results are checked: unknowns left after apply/read, changes to values that were known
//!   in the plan, plans that change non-computed attributes, or wrong attribute names/types
//!   become error diagnostics naming the attribute, never a Terraform crash.
//! - A panic inside an operation becomes an error diagnostic, not a dead provider.
//! - A resource with an [identity](identity) (Terraform ≥ 1.12) gets it answered in every read,
//!   plan, apply and import from its state, and import by identity as import by an id.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::plugin::diag::{AttributePath, Diagnostics};
use crate::plugin::schema::Schema;

pub mod action;
pub mod ctx;
pub mod identity;
mod object;
pub(crate) mod plan;
mod private;
pub mod timeouts;

pub use crate::plugin::value::Field;
pub use action::{
    Action, InvokeActionRequest, InvokeActionResponse, PlanActionRequest, PlanActionResponse,
    Progress,
};
pub use ctx::{Cancelled, Ctx};
pub use identity::{IdentityAttribute, IdentityInfo, IdentitySchema};
pub(crate) use object::{misuse_diagnostic as misuse, unknown_paths, unknowns_to_null};
pub use object::{value_error_diagnostic, values_equal, ObjectValue, SchemaInfo};
pub use private::Private;

/// What the provider's `configure` produced (e.g. an API client), shared by every operation
/// after Configure.
///
/// It is absent in validation (Terraform never configures there), and absent when configure
/// chose not to produce it (e.g. the provider config holds values unknown until apply).
pub struct ProviderData<D>(Option<Arc<D>>);

impl<D> ProviderData<D> {
    /// Wraps what the server holds (tests build these directly).
    pub fn new(data: Option<Arc<D>>) -> Self {
        ProviderData(data)
    }

    /// The data, if the provider is configured.
    pub fn get(&self) -> Option<&D> {
        self.0.as_deref()
    }

    /// The data, or `None` after adding an error saying the provider is not configured. Use in
    /// operations that cannot work without it (apply, read, import).
    pub fn require(&self, diagnostics: &mut Diagnostics) -> Option<&D> {
        if self.0.is_none() {
            diagnostics.error(
                "Provider not configured",
                "This operation needs the provider configuration, which is not available yet \
                 (it may depend on values only known after apply). Make the provider block's \
                 values known at plan time.",
            );
        }
        self.get()
    }

    /// A shared handle, for work that outlives the request (spawned tasks).
    pub fn arc(&self) -> Option<Arc<D>> {
        self.0.clone()
    }
}

impl<D> Clone for ProviderData<D> {
    fn clone(&self) -> Self {
        ProviderData(self.0.clone())
    }
}

impl<D> fmt::Debug for ProviderData<D> {
    /// Never prints the data itself (it may hold credentials).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "ProviderData(configured)"
        } else {
            "ProviderData(none)"
        })
    }
}

/// The provider: its own schema and configuration, and the resource types it serves.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// What `configure` produces and every resource receives (an API client, a config).
    type Data: Send + Sync + 'static;

    /// The type-name prefix (`hostup`): every resource and data source type name must be
    /// `<prefix>_<something>`, which is how Terraform maps types to this provider.
    fn type_name_prefix(&self) -> &str;

    /// The `provider "..." {}` block schema. Called once per process.
    fn schema(&self) -> Schema;

    /// Checks the provider block without side effects (values may be unknown).
    async fn validate_config(&self, ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
        let _ = (ctx, req, resp);
    }

    /// Builds [`Provider::Data`] from the provider block (values may still be unknown: then
    /// either produce data that copes, or leave `resp.data` empty).
    async fn configure(
        &self,
        ctx: &Ctx,
        req: ConfigureRequest,
        resp: &mut ConfigureResponse<Self::Data>,
    );

    /// The managed resource types. Called once per process.
    fn resources(&self) -> Vec<Arc<dyn Resource<Self::Data>>>;

    /// The data source types. Called once per process.
    fn data_sources(&self) -> Vec<Arc<dyn DataSource<Self::Data>>>;

    /// The action types (Terraform 1.14 and later; earlier versions never see them). Called
    /// once per process.
    fn actions(&self) -> Vec<Arc<dyn Action<Self::Data>>> {
        Vec::new()
    }
}

/// A managed resource type (`resource "hostup_..." {}`).
///
/// Implement `type_name`, `schema`, `create`, `read` and `delete`; the other operations have
/// defaults (no extra validation; the standard plan; update refused; import refused; state
/// upgrade by lenient decoding against the current schema).
///
/// ```
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use hostup_provider::plugin::diag::AttributePath;
/// use hostup_provider::plugin::framework::{
///     timeouts, CreateRequest, CreateResponse, Ctx, DeleteRequest, DeleteResponse,
///     ReadRequest, ReadResponse, Resource, ValidateRequest, ValidateResponse,
/// };
/// use hostup_provider::plugin::schema::{Attribute, Block, Schema};
/// use hostup_provider::plugin::value::Type;
///
/// /// What the provider's configure produced.
/// struct Client;
///
/// struct Backup;
///
/// #[async_trait]
/// impl Resource<Client> for Backup {
///     fn type_name(&self) -> &str {
///         "hostup_vps_backup"
///     }
///
///     fn schema(&self) -> Schema {
///         Schema::new(
///             Block::new()
///                 .description("Queues an offsite backup and waits for it.")
///                 .attribute(Attribute::string("vps_id").required().requires_replace()
///                     .description("The VPS to back up."))
///                 .attribute(Attribute::map("triggers", Type::String).optional()
///                     .requires_replace().description("Change to run the backup again."))
///                 .attribute(Attribute::string("id").computed().use_state_for_unknown()
///                     .description("The job id."))
///                 .attribute(Attribute::string("status").computed()
///                     .description("Last job status."))
///                 .block(timeouts::block(&["create"])),
///         )
///     }
///
///     async fn validate(&self, _ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
///         timeouts::validate(&req.config, &mut resp.diagnostics);
///         if let Some(id) = req.config.string("vps_id") {
///             if id.is_empty() {
///                 resp.diagnostics
///                     .error("Invalid vps_id", "`vps_id` cannot be empty.")
///                     .at(AttributePath::root("vps_id"));
///             }
///         }
///     }
///
///     async fn create(&self, ctx: &Ctx, req: CreateRequest<Client>, resp: &mut CreateResponse) {
///         let Some(_client) = req.provider.require(&mut resp.diagnostics) else { return };
///         let timeout = match timeouts::get(&req.planned_state, "create",
///             std::time::Duration::from_secs(3600)) {
///             Ok(t) => t,
///             Err(d) => { resp.diagnostics.push(d); return; }
///         };
///         let ctx = ctx.with_timeout(timeout);
///         // POST the job, then save its id at once so a failed wait leaves it in state.
///         let mut state = req.planned_state.clone();
///         state.set_attr("id", "job-1");
///         resp.state = state;
///         if let Err(why) = ctx.sleep(std::time::Duration::from_millis(1)).await {
///             resp.diagnostics.error("Backup not finished", format!("job job-1: {why}"));
///             return; // state is saved; the remaining unknowns become null; tainted.
///         }
///         resp.state.set_attr("status", "completed");
///     }
///
///     async fn read(&self, _ctx: &Ctx, req: ReadRequest<Client>, resp: &mut ReadResponse) {
///         // `resp.state` starts as the current state and `resp.private` as the stored
///         // private bytes: an action-style resource never re-queues work here.
///         let _ = req;
///     }
///
///     async fn delete(&self, _ctx: &Ctx, _req: DeleteRequest<Client>, _resp: &mut DeleteResponse) {
///         // Destroy only forgets the resource: the backup is kept on HostUp.
///     }
/// }
///
/// let r: Arc<dyn Resource<Client>> = Arc::new(Backup);
/// assert!(r.schema().validate().is_empty());
/// ```
#[async_trait]
pub trait Resource<D: Send + Sync + 'static>: Send + Sync + 'static {
    /// The full type name as written in HCL (`hostup_vps_backup`).
    fn type_name(&self) -> &str;

    /// The schema. Called once per process; every value handed to the operations follows it.
    fn schema(&self) -> Schema;

    /// Checks a configuration without side effects or API calls. Values may be unknown (also
    /// in `terraform validate`): never report an error just because a value is unknown.
    async fn validate(&self, ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
        let _ = (ctx, req, resp);
    }

    /// Adjusts the plan of a create or update (never called for destroy).
    ///
    /// `resp.planned_state` already holds the framework's default plan: the proposed new
    /// state, with computed attributes whose config is null made unknown when anything
    /// changes (or on create), write-only attributes nulled, `use_state_for_unknown` and
    /// `requires_replace` applied (`resp.requires_replace` filled). Here a resource may set
    /// planned values, add replacement paths, and add errors (to stop the plan) or warnings.
    /// `req.prior_state` is `None` on create (and on the create half of a replacement).
    async fn plan(&self, ctx: &Ctx, req: PlanRequest<D>, resp: &mut PlanResponse) {
        let _ = (ctx, req, resp);
    }

    /// Plans the destroy of an object. Terraform ≥ 1.3 asks for it because the provider
    /// declares `ServerCapabilities.plan_destroy` (it calls PlanResourceChange with a null
    /// proposed state for `terraform destroy` and for objects removed from the configuration;
    /// Terraform 1.11, internal/terraform/node_resource_abstract_instance.go, `planDestroy`);
    /// older versions never do. Warnings are shown in the plan, errors stop it. The planned
    /// state is always null.
    async fn plan_destroy(
        &self,
        ctx: &Ctx,
        req: PlanDestroyRequest<D>,
        resp: &mut PlanDestroyResponse,
    ) {
        let _ = (ctx, req, resp);
    }

    /// Creates the remote object. `resp.state` starts **null**: set it (usually from
    /// `req.planned_state` with the unknowns filled in) as soon as something exists remotely,
    /// so that a later failure still records it (Terraform then marks it tainted; unknowns
    /// left at that point are saved as null). Without errors, every unknown must be resolved.
    async fn create(&self, ctx: &Ctx, req: CreateRequest<D>, resp: &mut CreateResponse);

    /// Refreshes the state from the remote object. `resp.state` starts as the current state
    /// and `resp.private` as the stored private state (echoed unless changed); call
    /// [`ReadResponse::remove`] when the object is gone so Terraform plans a create.
    async fn read(&self, ctx: &Ctx, req: ReadRequest<D>, resp: &mut ReadResponse);

    /// Updates in place. `resp.state` starts as the planned state (fill in its unknowns).
    /// The default refuses: a resource whose arguments all carry `requires_replace` never
    /// gets here.
    async fn update(&self, ctx: &Ctx, req: UpdateRequest<D>, resp: &mut UpdateResponse) {
        let _ = (ctx, req);
        resp.diagnostics.error(
            "Update not supported",
            format!(
                "{} cannot be updated in place; this is a bug in the provider (its \
                 arguments should force replacement).",
                self.type_name()
            ),
        );
    }

    /// Deletes the remote object (or only forgets it, for action-style resources). On
    /// success Terraform drops the state; on error it is kept.
    async fn delete(&self, ctx: &Ctx, req: DeleteRequest<D>, resp: &mut DeleteResponse);

    /// Turns `terraform import` / an `import` block's id into a state. `resp.state` starts as
    /// an object with every attribute null; set at least the identifying attributes. Read
    /// runs next and fills in the rest. The default refuses import.
    async fn import(&self, ctx: &Ctx, req: ImportRequest<D>, resp: &mut ImportResponse) {
        let _ = (ctx, req);
        resp.diagnostics.error(
            "Import not supported",
            format!("{} does not support import.", self.type_name()),
        );
    }

    /// Converts stored state (any schema version) to the current schema. Called for every
    /// resource instance in state on every plan, even when the version is current.
    /// `resp.state` starts as the stored JSON decoded leniently against the current schema
    /// (unknown attributes dropped, missing ones null) or `None` when that failed; override
    /// when `req.version` is older than the schema version and the shape changed.
    async fn upgrade_state(
        &self,
        ctx: &Ctx,
        req: UpgradeStateRequest,
        resp: &mut UpgradeStateResponse,
    ) {
        let _ = (ctx, req, resp);
    }

    /// The identity schema (Terraform ≥ 1.12; see [`identity`]), as plain data. Called once
    /// per process. `None` (the default): the type has no identity. With one, the framework
    /// answers identity in every read, plan, apply and import, taking each identity attribute
    /// from the state attribute of the same name.
    fn identity(&self) -> Option<IdentitySchema> {
        None
    }

    /// Sets the identity attributes that are not state attributes (e.g. one taken from the
    /// provider configuration). `identity` starts with the state's attributes of the same
    /// names copied in; the default leaves it so.
    fn complete_identity(&self, req: IdentityRequest<'_, D>, identity: &mut ObjectValue) {
        let _ = (req, identity);
    }
}

/// Input of [`Resource::complete_identity`].
#[derive(Debug)]
pub struct IdentityRequest<'a, D> {
    /// The state the identity is for (planned, new or imported; never null).
    pub state: &'a ObjectValue,
    /// What the provider's configure produced.
    pub provider: &'a ProviderData<D>,
}

/// A data source type (`data "hostup_..." {}`).
#[async_trait]
pub trait DataSource<D: Send + Sync + 'static>: Send + Sync + 'static {
    /// The full type name as written in HCL (`hostup_vps_snapshots`).
    fn type_name(&self) -> &str;

    /// The schema. Called once per process.
    fn schema(&self) -> Schema;

    /// Checks a configuration (values may be unknown).
    async fn validate(&self, ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
        let _ = (ctx, req, resp);
    }

    /// Reads the data. `resp.state` starts as the (wholly known) config; set every computed
    /// attribute. The result must be wholly known.
    async fn read(
        &self,
        ctx: &Ctx,
        req: ReadDataSourceRequest<D>,
        resp: &mut ReadDataSourceResponse,
    );
}

/// Input of every validation (provider, resource, data source).
#[derive(Debug)]
pub struct ValidateRequest {
    /// The configuration; may contain unknown values.
    pub config: ObjectValue,
}

/// Output of every validation.
#[derive(Debug, Default)]
pub struct ValidateResponse {
    /// Errors stop the run; warnings are shown.
    pub diagnostics: Diagnostics,
}

/// Input of [`Provider::configure`].
#[derive(Debug)]
pub struct ConfigureRequest {
    /// The provider block; may contain unknowns.
    pub config: ObjectValue,
    /// The Terraform CLI version (`1.11.4`), e.g. for the User-Agent.
    pub terraform_version: String,
}

/// Output of [`Provider::configure`].
pub struct ConfigureResponse<D> {
    /// The data every later operation receives; leave `None` when it cannot be built.
    pub data: Option<D>,
    /// Errors fail the run.
    pub diagnostics: Diagnostics,
}

impl<D> Default for ConfigureResponse<D> {
    fn default() -> Self {
        ConfigureResponse {
            data: None,
            diagnostics: Diagnostics::new(),
        }
    }
}

/// Input of [`Resource::plan`].
#[derive(Debug)]
pub struct PlanRequest<D> {
    /// The state before this plan; `None` on create.
    pub prior_state: Option<ObjectValue>,
    /// Terraform's proposal: config merged with prior computed values.
    pub proposed_new_state: ObjectValue,
    /// The configuration; may contain unknowns.
    pub config: ObjectValue,
    /// The stored private state.
    pub prior_private: Private,
    /// What the provider's configure produced.
    pub provider: ProviderData<D>,
}

impl<D> PlanRequest<D> {
    /// True when this plans a create (or the create half of a replacement).
    pub fn is_create(&self) -> bool {
        self.prior_state.is_none()
    }
}

/// Output of [`Resource::plan`]; pre-filled with the default plan.
#[derive(Debug)]
pub struct PlanResponse {
    /// The planned new state; unknown where apply will decide.
    pub planned_state: ObjectValue,
    /// Attribute paths whose change forces replacement.
    pub requires_replace: Vec<AttributePath>,
    /// Private state handed to apply (starts as the prior private state).
    pub planned_private: Private,
    /// Errors stop the plan; warnings are shown in it.
    pub diagnostics: Diagnostics,
}

impl PlanResponse {
    /// Forces replacement when the value at `path` changes (idempotent).
    pub fn add_requires_replace(&mut self, path: AttributePath) {
        if !self.requires_replace.contains(&path) {
            self.requires_replace.push(path);
        }
    }
}

/// Input of [`Resource::plan_destroy`].
#[derive(Debug)]
pub struct PlanDestroyRequest<D> {
    /// The state to be destroyed.
    pub prior_state: ObjectValue,
    /// Its stored private state.
    pub prior_private: Private,
    /// What the provider's configure produced.
    pub provider: ProviderData<D>,
}

/// Output of [`Resource::plan_destroy`].
#[derive(Debug)]
pub struct PlanDestroyResponse {
    /// Private state handed to the delete (starts as the prior private state).
    pub planned_private: Private,
    /// Warnings are shown in the plan; errors stop it.
    pub diagnostics: Diagnostics,
}

/// Input of [`Resource::create`].
#[derive(Debug)]
pub struct CreateRequest<D> {
    /// The plan: known argument values, unknown computed values to fill in.
    pub planned_state: ObjectValue,
    /// The configuration (wholly known at apply).
    pub config: ObjectValue,
    /// Private state from the plan.
    pub planned_private: Private,
    /// What the provider's configure produced.
    pub provider: ProviderData<D>,
}

/// Output of [`Resource::create`].
#[derive(Debug)]
pub struct CreateResponse {
    /// The new state; starts null (nothing created).
    pub state: ObjectValue,
    /// Private state to store (starts as the planned private state).
    pub private: Private,
    /// Errors fail the apply.
    pub diagnostics: Diagnostics,
}

/// Input of [`Resource::read`].
#[derive(Debug)]
pub struct ReadRequest<D> {
    /// The state as stored (after upgrade).
    pub current_state: ObjectValue,
    /// The stored private state.
    pub private: Private,
    /// What the provider's configure produced.
    pub provider: ProviderData<D>,
}

/// Output of [`Resource::read`].
#[derive(Debug)]
pub struct ReadResponse {
    /// The refreshed state (starts as the current state); `None` = gone.
    pub state: Option<ObjectValue>,
    /// Private state to store (starts as the stored one, so it is echoed).
    pub private: Private,
    /// Errors fail the refresh.
    pub diagnostics: Diagnostics,
}

impl ReadResponse {
    /// The remote object no longer exists: Terraform drops it from state and plans a create.
    pub fn remove(&mut self) {
        self.state = None;
    }
}

/// Input of [`Resource::update`].
#[derive(Debug)]
pub struct UpdateRequest<D> {
    /// The state before the update.
    pub prior_state: ObjectValue,
    /// The plan.
    pub planned_state: ObjectValue,
    /// The configuration.
    pub config: ObjectValue,
    /// Private state from the plan.
    pub planned_private: Private,
    /// What the provider's configure produced.
    pub provider: ProviderData<D>,
}

/// Output of [`Resource::update`].
#[derive(Debug)]
pub struct UpdateResponse {
    /// The new state; starts as the planned state. On error, a state still holding unknowns
    /// is replaced by the prior state.
    pub state: ObjectValue,
    /// Private state to store (starts as the planned private state).
    pub private: Private,
    /// Errors fail the apply.
    pub diagnostics: Diagnostics,
}

/// Input of [`Resource::delete`].
#[derive(Debug)]
pub struct DeleteRequest<D> {
    /// The state being destroyed.
    pub prior_state: ObjectValue,
    /// Its private state.
    pub prior_private: Private,
    /// What the provider's configure produced.
    pub provider: ProviderData<D>,
}

/// Output of [`Resource::delete`].
#[derive(Debug, Default)]
pub struct DeleteResponse {
    /// Errors keep the resource in state.
    pub diagnostics: Diagnostics,
}

/// Input of [`Resource::import`].
#[derive(Debug)]
pub struct ImportRequest<D> {
    /// The id the user gave (`terraform import ADDR ID` or `import { id = ... }`).
    pub id: String,
    /// What the provider's configure produced.
    pub provider: ProviderData<D>,
}

/// Output of [`Resource::import`].
#[derive(Debug)]
pub struct ImportResponse {
    /// The imported state; starts with every attribute null. Must end non-null and known.
    pub state: ObjectValue,
    /// Private state to store.
    pub private: Private,
    /// Errors fail the import.
    pub diagnostics: Diagnostics,
}

/// Input of [`Resource::upgrade_state`].
#[derive(Debug)]
pub struct UpgradeStateRequest {
    /// The schema version that wrote the state.
    pub version: i64,
    /// The stored attributes as JSON (cty JSON form of that version's schema).
    pub raw_state: serde_json::Value,
}

/// Output of [`Resource::upgrade_state`].
#[derive(Debug)]
pub struct UpgradeStateResponse {
    /// The state in the current schema; pre-filled by lenient decoding (`None` if it failed).
    pub state: Option<ObjectValue>,
    /// Errors fail the run.
    pub diagnostics: Diagnostics,
}

/// Input of [`DataSource::read`].
#[derive(Debug)]
pub struct ReadDataSourceRequest<D> {
    /// The configuration (wholly known: Terraform defers reads with unknown config).
    pub config: ObjectValue,
    /// What the provider's configure produced.
    pub provider: ProviderData<D>,
}

/// Output of [`DataSource::read`].
#[derive(Debug)]
pub struct ReadDataSourceResponse {
    /// The result; starts as the config. Must end wholly known.
    pub state: ObjectValue,
    /// Errors fail the run.
    pub diagnostics: Diagnostics,
}

/// Every schema problem of a provider and its resource types, as messages (empty = fine):
/// schema validation, type names outside the provider's prefix, duplicate names. Run it in a
/// unit test over the real provider; the server also reports these at GetSchema.
pub fn check_provider<P: Provider>(provider: &P) -> Vec<String> {
    let mut errors = Vec::new();
    let prefix = format!("{}_", provider.type_name_prefix());
    for e in provider.schema().validate_without_write_only() {
        errors.push(format!("provider schema: {e}"));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut check_name = |kind: &str, name: &str, errors: &mut Vec<String>| {
        if !name.starts_with(&prefix)
            || name.len() == prefix.len()
            || !name
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
        {
            errors.push(format!(
                "{kind} type name {name:?} must be {prefix}<snake_case name>"
            ));
        }
        if !seen.insert((kind.to_owned(), name.to_owned())) {
            errors.push(format!("{kind} type {name:?} is registered twice"));
        }
    };
    for r in provider.resources() {
        let name = r.type_name().to_owned();
        check_name("resource", &name, &mut errors);
        for e in r.schema().validate() {
            errors.push(format!("{name}: {e}"));
        }
        if let Some(id) = r.identity() {
            for e in id.validate(&r.schema()) {
                errors.push(format!("{name}: {e}"));
            }
        }
    }
    for d in provider.data_sources() {
        let name = d.type_name().to_owned();
        check_name("data source", &name, &mut errors);
        for e in d.schema().validate_without_write_only() {
            errors.push(format!("{name}: {e}"));
        }
    }
    for a in provider.actions() {
        let name = a.type_name().to_owned();
        check_name("action", &name, &mut errors);
        for e in action::schema_problems(&a.schema()) {
            errors.push(format!("action {name}: {e}"));
        }
    }
    errors
}
