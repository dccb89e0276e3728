//! DynamicValue plumbing: decoding what Terraform sends against the right schema, encoding
//! answers as msgpack, and the clean-ups every answer gets (unknowns resolved, write-only
//! attributes nulled, misuse reported).

use std::sync::Arc;

use crate::plugin::diag::{AttributePath, Diagnostics};
use crate::plugin::framework::{ObjectValue, Private, SchemaInfo};
use crate::plugin::proto::tfplugin5 as pb;
use crate::plugin::schema::Block;
use crate::plugin::value::{Type, Value};

use crate::plugin::value;

/// Decodes a DynamicValue the way Terraform does: msgpack if present, else JSON, else null.
pub(super) fn decode(
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
pub(super) fn wholly_known(
    obj: &ObjectValue,
    type_name: &str,
    what: &str,
    diags: &mut Diagnostics,
) -> bool {
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
pub(super) fn encode(
    v: &Value,
    ty: &Type,
    what: &str,
    diags: &mut Diagnostics,
) -> Option<pb::DynamicValue> {
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

pub(super) fn null_dv() -> pb::DynamicValue {
    pb::DynamicValue {
        msgpack: vec![0xc0],
        json: Vec::new(),
    }
}

pub(super) fn drain_misuse(
    obj: &mut ObjectValue,
    type_name: &str,
    op: &str,
    diags: &mut Diagnostics,
) {
    for m in obj.take_misuse() {
        diags.push(crate::plugin::framework::misuse(type_name, op, &m));
    }
}

/// Terraform requires write-only attributes to be null in every plan and state.
pub(super) fn null_write_only(block: &Block, v: &mut Value) {
    if !block_has_write_only(block) {
        return;
    }
    crate::plugin::framework::plan::null_write_only(block, v);
}

/// Errors at every write-only attribute of `config` that holds a value, for a Terraform that
/// does not announce `write_only_attributes_allowed` (before 1.11): it would store the value
/// in plan and state, or fail later with "Provider produced invalid plan" when the provider
/// answers null. Null values are fine; an unknown one will hold a value, so it is refused too.
pub(super) fn refuse_write_only(block: &Block, config: &Value, diags: &mut Diagnostics) {
    if !block_has_write_only(block) {
        return;
    }
    let mut paths = Vec::new();
    write_only_values(block, &AttributePath::default(), config, &mut paths);
    for p in paths {
        diags
            .error(
                "Write-only attribute needs Terraform 1.11",
                format!(
                    "`{p}` is write-only: Terraform keeps its value out of plan and state only \
                     from version 1.11 on, and this Terraform does not. Upgrade Terraform to \
                     1.11 or later, or remove `{p}` from the configuration."
                ),
            )
            .at(p);
    }
}

fn write_only_values(block: &Block, path: &AttributePath, v: &Value, out: &mut Vec<AttributePath>) {
    use crate::plugin::schema::Nesting;
    let Value::Object(m) = v else { return };
    for a in block.attributes.iter().filter(|a| a.write_only) {
        if m.get(&a.name).is_some_and(|v| !v.is_null()) {
            out.push(path.clone().attr(&a.name));
        }
    }
    for nb in block
        .blocks
        .iter()
        .filter(|b| block_has_write_only(&b.block))
    {
        let p = path.clone().attr(&nb.type_name);
        match (nb.nesting, m.get(&nb.type_name)) {
            (Nesting::Single | Nesting::Group, Some(x)) => write_only_values(&nb.block, &p, x, out),
            (Nesting::List, Some(Value::List(xs))) => {
                for (i, x) in xs.iter().enumerate() {
                    write_only_values(&nb.block, &p.clone().index(i as i64), x, out);
                }
            }
            (Nesting::Map, Some(Value::Map(xs))) => {
                for (k, x) in xs {
                    write_only_values(&nb.block, &p.clone().key(k), x, out);
                }
            }
            // SET blocks cannot hold write-only attributes (Schema::validate); an unknown
            // block (a `dynamic` block over an unknown collection) cannot be looked into.
            _ => {}
        }
    }
}

pub(super) fn block_has_write_only(block: &Block) -> bool {
    block.attributes.iter().any(|a| a.write_only)
        || block.blocks.iter().any(|b| block_has_write_only(&b.block))
}

/// Errors (one per path) for unknowns left in a result, and the unknowns replaced with null,
/// so Terraform never sees them.
pub(super) fn resolve_unknowns(
    obj: &mut ObjectValue,
    type_name: &str,
    op: &str,
    diags: &mut Diagnostics,
) {
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
pub(super) fn fill_absent_blocks(block: &Block, v: &mut Value) {
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

pub(super) fn private_of(bytes: &[u8]) -> Private {
    Private::from_bytes(bytes)
}
