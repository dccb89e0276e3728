//! Schema fragments several types share: `vps_id`, `triggers`, the gate object, the
//! `timeouts` block. One definition each, so their descriptions (the docs) say the same
//! everywhere.

use crate::plugin::framework::{timeouts, IdentityAttribute, IdentitySchema};
use crate::plugin::schema::{object_type, Attribute, NestedBlock};
use crate::plugin::value::Type;

use super::operation::OpTimeout;

/// The gate object type `{allowed, reason, code}`.
pub fn gate_type() -> Type {
    object_type([
        ("allowed", Type::Bool),
        ("reason", Type::String),
        ("code", Type::String),
    ])
}

/// A computed gate attribute with its description.
pub fn gate_attribute(name: &str, what: &str) -> Attribute {
    Attribute::new(name, gate_type())
        .computed()
        .description(format!(
            "Whether HostUp allows {what} right now, as an object: `allowed` (bool), `reason` \
         (string or null: why not, in HostUp's words) and `code` (string or null: a machine \
         code such as `job_in_progress`, `pending_order` or `feature_not_in_plan`). Null when \
         HostUp does not report this gate."
        ))
}

/// The `vps_id` argument of resources (forces replacement).
pub fn vps_id_argument(what: &str) -> Attribute {
    Attribute::string("vps_id")
        .required()
        .requires_replace()
        .description(format!(
            "Id of the VPS {what}, as listed by HostUp (`vps_…`, e.g. \
             `vps_01hxa3b4c5d6e7f8g9h0j1k2m3`; see the `hostup_vps` data source to look one \
             up by name). Not a name or an IP address. Changing it forces replacement."
        ))
}

/// The `triggers` argument of action-style resources.
pub fn triggers_argument(what: &str) -> Attribute {
    Attribute::map("triggers", Type::String)
        .optional()
        .requires_replace()
        .description(format!(
            "Arbitrary string values; changing any of them plans a replacement, i.e. runs the \
             {what} again. Use it to tie the operation to something else, e.g. \
             `{{ release = var.release }}`. Avoid values that change on every run such as \
             `timestamp()`."
        ))
}

/// The `timeouts` block with per-operation defaults in its descriptions.
pub fn timeouts_block(what: &str, ops: &[OpTimeout]) -> NestedBlock {
    let names: Vec<&str> = ops.iter().map(|op| op.name).collect();
    let mut b = timeouts::block(&names);
    b.block.description = format!(
        "How long to wait for {what}, as Go-style durations such as `30s`, `45m` or `2h30m`. \
         Changing these values never runs the operation again."
    );
    for a in &mut b.block.attributes {
        if let Some(t) = ops.iter().find(|op| op.name == a.name) {
            let (op, default) = (t.name, t.default_text());
            a.description = format!(
                "How long `{op}` may wait for HostUp's job before giving up (default \
                 `{default}`). When it passes, the job may still be running on HostUp; the \
                 resource is then tainted with its job id in state."
            );
        }
    }
    b
}

/// The `vps_id` identity attribute (Terraform ≥ 1.12 `import { identity = {…} }`).
fn vps_identity_attribute(what: &str) -> IdentityAttribute {
    IdentityAttribute::string("vps_id")
        .required_for_import()
        .description(format!(
            "Id of the VPS {what}, as listed by HostUp (`vps_…`, e.g. \
             `vps_01hxa3b4c5d6e7f8g9h0j1k2m3`)."
        ))
}

/// The identity of a per-VPS singleton (a schedule, settings): its VPS. Import by identity is
/// import by the id `<vps_id>`.
pub fn vps_identity(what: &str) -> IdentitySchema {
    IdentitySchema::new()
        .attribute(vps_identity_attribute(what))
        .import_id("{vps_id}")
}

/// The identity of an action-style resource: its VPS and its HostUp job. Import by identity is
/// import by the id `<vps_id>/<job_id>`.
pub fn job_identity(what: &str, job: &str) -> IdentitySchema {
    IdentitySchema::new()
        .attribute(vps_identity_attribute(what))
        .attribute(
            IdentityAttribute::string("job_id")
                .required_for_import()
                .description(format!("Id of the HostUp job that ran the {job}.")),
        )
        .import_id("{vps_id}/{job_id}")
}
