//! The framework's default plan and the invariants Terraform enforces on plans and applies.
//!
//! Terraform rejects a plan or apply result that breaks its rules with messages such as
//! "Provider produced invalid plan" that name neither the attribute nor the cause. Doing the
//! standard plan here (terraform-plugin-framework's recipe) and checking the rules before
//! answering turns those into diagnostics that say what is wrong.

use crate::plugin::diag::{AttributePath, PathStep};
use crate::plugin::schema::{Block, Nesting};
use crate::plugin::value::Value;

use super::object::{value_at, values_equal};

/// The default plan: proposed new state with write-only attributes nulled; when it differs
/// from prior state, computed attributes that are null in config become unknown; then the
/// declarative modifiers (`use_state_for_unknown`, `requires_replace`). Returns the planned
/// value and the paths that force replacement.
pub fn default_plan(
    block: &Block,
    prior: &Value,
    proposed: &Value,
    config: &Value,
) -> (Value, Vec<AttributePath>) {
    let mut planned = proposed.clone();
    if planned.is_null() {
        return (planned, Vec::new());
    }
    null_write_only(block, &mut planned);
    if prior.is_null() || !values_equal(&planned, prior) {
        mark_computed_nils_unknown(block, &mut planned, config);
    }
    let mut replace = Vec::new();
    if !prior.is_null() {
        apply_modifiers(
            block,
            &AttributePath::default(),
            prior,
            &mut planned,
            config,
            &mut replace,
        );
    }
    (planned, replace)
}

pub(crate) fn null_write_only(block: &Block, planned: &mut Value) {
    let Value::Object(m) = planned else { return };
    for a in block.attributes.iter().filter(|a| a.write_only) {
        if let Some(v) = m.get_mut(&a.name) {
            *v = Value::Null;
        }
    }
    for b in &block.blocks {
        if let Some(v) = m.get_mut(&b.type_name) {
            for_each_element(b.nesting, v, &mut |elem| null_write_only(&b.block, elem));
        }
    }
}

fn for_each_element(nesting: Nesting, v: &mut Value, f: &mut dyn FnMut(&mut Value)) {
    match (nesting, v) {
        (Nesting::Single | Nesting::Group, v) => f(v),
        (Nesting::List | Nesting::Set, Value::List(xs) | Value::Set(xs)) => {
            xs.iter_mut().for_each(f)
        }
        (Nesting::Map, Value::Map(m)) => m.values_mut().for_each(f),
        _ => {}
    }
}

fn mark_computed_nils_unknown(block: &Block, planned: &mut Value, config: &Value) {
    let Value::Object(m) = planned else { return };
    for a in block.attributes.iter().filter(|a| a.computed) {
        let config_null = config.attr(&a.name).is_none_or(Value::is_null);
        if config_null {
            if let Some(v) = m.get_mut(&a.name) {
                *v = Value::unknown();
            }
        }
    }
    for b in &block.blocks {
        let Some(pv) = m.get_mut(&b.type_name) else {
            continue;
        };
        let cv = config.attr(&b.type_name).unwrap_or(&Value::Null);
        match (b.nesting, pv) {
            (Nesting::Single | Nesting::Group, pv) => {
                mark_computed_nils_unknown(&b.block, pv, cv);
            }
            (Nesting::List, Value::List(xs)) => {
                for (i, x) in xs.iter_mut().enumerate() {
                    let c = match cv {
                        Value::List(cs) => cs.get(i).unwrap_or(&Value::Null),
                        _ => &Value::Null,
                    };
                    mark_computed_nils_unknown(&b.block, x, c);
                }
            }
            (Nesting::Map, Value::Map(xs)) => {
                for (k, x) in xs.iter_mut() {
                    let c = match cv {
                        Value::Map(cs) => cs.get(k).unwrap_or(&Value::Null),
                        _ => &Value::Null,
                    };
                    mark_computed_nils_unknown(&b.block, x, c);
                }
            }
            (Nesting::Set, Value::Set(xs)) => {
                // Set elements cannot be paired with config; each element is its own config.
                for x in xs.iter_mut() {
                    let c = x.clone();
                    mark_computed_nils_unknown(&b.block, x, &c);
                }
            }
            _ => {}
        }
    }
}

fn apply_modifiers(
    block: &Block,
    path: &AttributePath,
    prior: &Value,
    planned: &mut Value,
    config: &Value,
    replace: &mut Vec<AttributePath>,
) {
    let Value::Object(m) = planned else { return };
    for a in &block.attributes {
        let p = path.clone().attr(&a.name);
        let prior_v = prior.attr(&a.name).unwrap_or(&Value::Null);
        let Some(pv) = m.get_mut(&a.name) else {
            continue;
        };
        if a.use_state_for_unknown
            && !pv.is_known()
            && config.attr(&a.name).is_none_or(Value::is_known)
            && !prior.is_null()
        {
            *pv = prior_v.clone();
        }
        if a.requires_replace && !values_equal(prior_v, pv) {
            replace.push(p);
        }
    }
    for b in &block.blocks {
        let p = path.clone().attr(&b.type_name);
        let prior_v = prior.attr(&b.type_name).unwrap_or(&Value::Null);
        let config_v = config.attr(&b.type_name).unwrap_or(&Value::Null);
        let Some(pv) = m.get_mut(&b.type_name) else {
            continue;
        };
        if b.requires_replace && !values_equal(prior_v, pv) {
            replace.push(p.clone());
        }
        match (b.nesting, pv) {
            (Nesting::Single | Nesting::Group, pv) => {
                apply_modifiers(&b.block, &p, prior_v, pv, config_v, replace);
            }
            (Nesting::List, Value::List(xs)) => {
                for (i, x) in xs.iter_mut().enumerate() {
                    let step = AttributePath {
                        steps: vec![PathStep::Index(i as i64)],
                    };
                    let pr = value_at(prior_v, &step).unwrap_or(&Value::Null);
                    let cf = value_at(config_v, &step).unwrap_or(&Value::Null);
                    apply_modifiers(&b.block, &p.clone().index(i as i64), pr, x, cf, replace);
                }
            }
            (Nesting::Map, Value::Map(xs)) => {
                for (k, x) in xs.iter_mut() {
                    let step = AttributePath {
                        steps: vec![PathStep::Key(k.clone())],
                    };
                    let pr = value_at(prior_v, &step).unwrap_or(&Value::Null);
                    let cf = value_at(config_v, &step).unwrap_or(&Value::Null);
                    apply_modifiers(&b.block, &p.clone().key(k), pr, x, cf, replace);
                }
            }
            _ => {}
        }
    }
}

/// Paths where a plan breaks Terraform's rule that non-computed attributes equal config (and
/// write-only attributes are null). Each becomes a clear error instead of "invalid plan".
pub fn non_computed_changes(block: &Block, planned: &Value, config: &Value) -> Vec<AttributePath> {
    let mut out = Vec::new();
    check_non_computed(block, &AttributePath::default(), planned, config, &mut out);
    out
}

fn check_non_computed(
    block: &Block,
    path: &AttributePath,
    planned: &Value,
    config: &Value,
    out: &mut Vec<AttributePath>,
) {
    if !matches!(planned, Value::Object(_)) {
        return;
    }
    for a in &block.attributes {
        let pv = planned.attr(&a.name).unwrap_or(&Value::Null);
        let cv = config.attr(&a.name).unwrap_or(&Value::Null);
        let bad = if a.write_only {
            !pv.is_null()
        } else {
            !a.computed && !values_equal(pv, cv)
        };
        if bad {
            out.push(path.clone().attr(&a.name));
        }
    }
    for b in &block.blocks {
        let p = path.clone().attr(&b.type_name);
        let pv = planned.attr(&b.type_name).unwrap_or(&Value::Null);
        let cv = config.attr(&b.type_name).unwrap_or(&Value::Null);
        match (b.nesting, pv, cv) {
            (Nesting::Single | Nesting::Group, pv, cv) => {
                check_non_computed(&b.block, &p, pv, cv, out);
            }
            (Nesting::List, Value::List(ps), Value::List(cs)) => {
                if ps.len() != cs.len() {
                    out.push(p);
                    continue;
                }
                for (i, (x, c)) in ps.iter().zip(cs).enumerate() {
                    check_non_computed(&b.block, &p.clone().index(i as i64), x, c, out);
                }
            }
            (Nesting::Map, Value::Map(ps), Value::Map(cs)) => {
                if ps.keys().ne(cs.keys()) {
                    out.push(p);
                    continue;
                }
                for (k, x) in ps {
                    if let Some(c) = cs.get(k) {
                        check_non_computed(&b.block, &p.clone().key(k), x, c, out);
                    }
                }
            }
            (Nesting::List | Nesting::Set | Nesting::Map, pv, _) if pv.is_null() => out.push(p),
            _ => {}
        }
    }
}

/// Paths where an apply result differs from a value that was known in the plan (Terraform's
/// "Provider produced inconsistent result after apply").
pub fn inconsistent_with_plan(planned: &Value, new: &Value) -> Vec<AttributePath> {
    let mut out = Vec::new();
    check_consistent(&AttributePath::default(), planned, new, &mut out);
    out
}

fn check_consistent(
    path: &AttributePath,
    planned: &Value,
    new: &Value,
    out: &mut Vec<AttributePath>,
) {
    if !planned.is_known() {
        return;
    }
    if planned.is_wholly_known() && values_equal(planned, new) {
        return;
    }
    match (planned, new) {
        (Value::Object(ps), Value::Object(ns)) => {
            for (k, p) in ps {
                check_consistent(
                    &path.clone().attr(k),
                    p,
                    ns.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Map(ps), Value::Map(ns)) if ps.keys().eq(ns.keys()) => {
            for (k, p) in ps {
                check_consistent(&path.clone().key(k), p, &ns[k], out);
            }
        }
        (Value::List(ps), Value::List(ns)) if ps.len() == ns.len() => {
            for (i, (p, n)) in ps.iter().zip(ns).enumerate() {
                check_consistent(&path.clone().index(i as i64), p, n, out);
            }
        }
        (Value::Set(_), Value::Set(_)) if !planned.is_wholly_known() => {}
        _ => out.push(path.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::schema::{Attribute, NestedBlock};
    use crate::plugin::value::Type;
    use std::collections::BTreeMap;

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    fn block() -> Block {
        Block::new()
            .attribute(Attribute::string("vps_id").required().requires_replace())
            .attribute(Attribute::string("note").optional())
            .attribute(Attribute::string("id").computed().use_state_for_unknown())
            .attribute(Attribute::string("status").computed())
            .attribute(Attribute::string("region").optional().computed())
            .attribute(Attribute::string("secret").optional().write_only())
            .block(NestedBlock::single(
                "timeouts",
                Block::new().attribute(Attribute::string("create").optional()),
            ))
            .block(NestedBlock::list(
                "rule",
                Block::new()
                    .attribute(Attribute::number("port").required().requires_replace())
                    .attribute(Attribute::string("rid").computed()),
            ))
    }

    fn config(vps: &str, note: Value, ports: &[i64]) -> Value {
        obj(&[
            ("vps_id", vps.into()),
            ("note", note),
            ("id", Value::Null),
            ("status", Value::Null),
            ("region", Value::Null),
            ("secret", "s3cret".into()),
            ("timeouts", Value::Null),
            (
                "rule",
                Value::List(
                    ports
                        .iter()
                        .map(|p| obj(&[("port", (*p).into()), ("rid", Value::Null)]))
                        .collect(),
                ),
            ),
        ])
    }

    fn prior() -> Value {
        obj(&[
            ("vps_id", "v1".into()),
            ("note", Value::Null),
            ("id", "job-1".into()),
            ("status", "completed".into()),
            ("region", "se".into()),
            ("secret", Value::Null),
            ("timeouts", Value::Null),
            (
                "rule",
                Value::List(vec![obj(&[("port", 22.into()), ("rid", "r1".into())])]),
            ),
        ])
    }

    /// Terraform's ProposedNew, enough for these tests: config, with computed attributes that
    /// are null in config taken from prior.
    fn proposed(prior: &Value, config: &Value) -> Value {
        let mut p = config.clone();
        if let (Value::Object(m), Value::Object(pm)) = (&mut p, prior) {
            for k in ["id", "status", "region"] {
                if m[k].is_null() {
                    m.insert(k.into(), pm[k].clone());
                }
            }
            if let (Some(Value::List(rs)), Some(Value::List(prs))) =
                (m.get_mut("rule"), pm.get("rule"))
            {
                for (r, pr) in rs.iter_mut().zip(prs) {
                    if let (Value::Object(rm), Some(rid)) = (r, pr.attr("rid")) {
                        rm.insert("rid".into(), rid.clone());
                    }
                }
            }
        }
        p
    }

    #[test]
    fn create_marks_computed_nils_unknown_and_nulls_write_only() {
        let cfg = config("v1", Value::Null, &[22]);
        let (planned, replace) = default_plan(&block(), &Value::Null, &cfg, &cfg);
        assert!(replace.is_empty());
        for k in ["id", "status", "region"] {
            assert!(
                !planned.attr(k).is_some_and(Value::is_known),
                "{k} should be unknown"
            );
        }
        assert_eq!(planned.attr("note"), Some(&Value::Null));
        assert_eq!(planned.attr("secret"), Some(&Value::Null));
        let rid = value_at(&planned, &AttributePath::root("rule").index(0).attr("rid"));
        assert!(rid.is_some_and(|v| !v.is_known()));
        assert!(non_computed_changes(&block(), &planned, &cfg).is_empty());
    }

    #[test]
    fn no_change_keeps_prior_values() {
        let pr = prior();
        let cfg = config("v1", Value::Null, &[22]);
        let prop = proposed(&pr, &cfg);
        let (planned, replace) = default_plan(&block(), &pr, &prop, &cfg);
        assert!(replace.is_empty(), "{replace:?}");
        let mut expected = pr.clone();
        if let Value::Object(m) = &mut expected {
            m.insert("secret".into(), Value::Null);
        }
        assert!(values_equal(&planned, &expected), "{planned:?}");
    }

    #[test]
    fn update_marks_unknown_but_use_state_for_unknown_keeps_id() {
        let pr = prior();
        let cfg = config("v1", "hello".into(), &[22]);
        let prop = proposed(&pr, &cfg);
        let (planned, replace) = default_plan(&block(), &pr, &prop, &cfg);
        assert!(replace.is_empty(), "{replace:?}");
        assert_eq!(planned.attr("id"), Some(&Value::from("job-1")));
        assert!(!planned.attr("status").is_some_and(Value::is_known));
        assert!(!planned.attr("region").is_some_and(Value::is_known));
    }

    #[test]
    fn requires_replace_on_changed_attributes_only() {
        let pr = prior();
        let cfg = config("v2", Value::Null, &[2222]);
        let prop = proposed(&pr, &cfg);
        let (_, replace) = default_plan(&block(), &pr, &prop, &cfg);
        let shown: Vec<String> = replace.iter().map(ToString::to_string).collect();
        assert_eq!(shown, vec!["vps_id", "rule[0].port"]);
        // Unknown new value counts as a change.
        let cfg = config("v1", Value::Null, &[22]);
        let mut cfg_unknown = cfg.clone();
        if let Value::Object(m) = &mut cfg_unknown {
            m.insert("vps_id".into(), Value::unknown());
        }
        let prop = proposed(&pr, &cfg_unknown);
        let (_, replace) = default_plan(&block(), &pr, &prop, &cfg_unknown);
        assert_eq!(replace, vec![AttributePath::root("vps_id")]);
    }

    #[test]
    fn invariant_checks_name_the_attribute() {
        let cfg = config("v1", Value::Null, &[22]);
        let (mut planned, _) = default_plan(&block(), &Value::Null, &cfg, &cfg);
        if let Value::Object(m) = &mut planned {
            m.insert("note".into(), "changed".into());
        }
        assert_eq!(
            non_computed_changes(&block(), &planned, &cfg),
            vec![AttributePath::root("note")]
        );
        let mut new = prior();
        let planned = prior();
        assert!(inconsistent_with_plan(&planned, &new).is_empty());
        if let Value::Object(m) = &mut new {
            m.insert("status".into(), "failed".into());
        }
        assert_eq!(
            inconsistent_with_plan(&planned, &new),
            vec![AttributePath::root("status")]
        );
        let mut planned_unknown = planned.clone();
        if let Value::Object(m) = &mut planned_unknown {
            m.insert("status".into(), Value::unknown());
        }
        assert!(inconsistent_with_plan(&planned_unknown, &new).is_empty());
        let _ = Type::String;
    }
}
