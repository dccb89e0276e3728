//! Turning HostUp's answers into cty values and reading the arguments of a configuration: the
//! small conversions and checks every resource and data source makes the same way.

use std::collections::BTreeMap;

use crate::hostup::Gate;
use crate::plugin::diag::{AttributePath, Diagnostic, Diagnostics};
use crate::plugin::framework::ObjectValue;
use crate::plugin::value::{Number, Value};

/// An optional string as a cty value.
pub fn opt_str(s: Option<&str>) -> Value {
    s.map_or(Value::Null, Value::from)
}

/// An optional integer as a cty value.
pub fn opt_i64(n: Option<i64>) -> Value {
    n.map_or(Value::Null, Value::from)
}

/// An optional float as a cty value.
pub fn opt_f64(n: Option<f64>) -> Value {
    n.filter(|f| f.is_finite())
        .map_or(Value::Null, |f| Value::Number(Number::from(f)))
}

/// An object value from pairs.
pub fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// A gate as the `{allowed, reason, code}` object (null when HostUp did not report it).
pub fn gate_value(gate: Option<&Gate>) -> Value {
    match gate {
        None => Value::Null,
        Some(g) => object([
            ("allowed", Value::Bool(g.allowed)),
            ("reason", opt_str(g.reason.as_deref())),
            ("code", opt_str(g.code.as_deref())),
        ]),
    }
}

/// The current time in RFC 3339 (UTC, milliseconds, as HostUp writes its times), for
/// `completed_at` when HostUp gave no finish time.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let ms = now
        .replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .unwrap_or(now);
    ms.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Parses an RFC 3339 time; `None` when HostUp sent something else.
pub fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// Splits an import id `<vps_id>/<second>`; both parts non-empty.
pub fn split_import_id<'a>(id: &'a str, second: &str) -> Result<(&'a str, &'a str), Diagnostic> {
    match id.trim().split_once('/') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() && !b.contains('/') => Ok((a, b)),
        _ => Err(Diagnostic::error(
            "Invalid import id",
            format!(
                "Expected `<vps_id>/<{second}>` (e.g. `vps_01hxa3b4c5d6e7f8g9h0j1k2m3/…`), got \
                 {id:?}."
            ),
        )),
    }
}

/// The known string at `name` of the config/plan, or `None` when unknown or null.
pub fn known_str<'a>(obj: &'a ObjectValue, name: &str) -> Option<&'a str> {
    obj.string(name).filter(|s| !s.is_empty())
}

/// The known strings `names` of a planned or prior state, or an error naming them: resources
/// need their identifying arguments at apply, and the plan guarantees them.
pub fn required_strs<const N: usize>(
    obj: &ObjectValue,
    names: [&str; N],
    diags: &mut Diagnostics,
) -> Option<[String; N]> {
    let mut out: [String; N] = std::array::from_fn(|_| String::new());
    for (slot, name) in out.iter_mut().zip(names) {
        match obj.string(name) {
            Some(v) => *slot = v.to_owned(),
            None => {
                let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                diags
                    .error(
                        format!("Missing {name}"),
                        format!("{} must be known at apply.", list.join(" and ")),
                    )
                    .at(AttributePath::root(name));
                return None;
            }
        }
    }
    Some(out)
}

/// Checks every resource shares: a known `vps_id` must not be blank.
pub fn validate_vps_id(config: &ObjectValue, diags: &mut Diagnostics) {
    if config.string("vps_id").is_some_and(|s| s.trim().is_empty()) {
        diags
            .error(
                "Empty vps_id",
                "`vps_id` must be a HostUp VPS id such as `vps_01hxa3b4c5d6e7f8g9h0j1k2m3`.",
            )
            .at(AttributePath::root("vps_id"));
    }
}

/// A known snapshot name at `attr` must match HostUp's rule `^[A-Za-z0-9_-]{1,40}$`.
pub fn validate_snapshot_name(config: &ObjectValue, attr: &str, diags: &mut Diagnostics) {
    if let Some(n) = config.string(attr) {
        let ok = !n.is_empty()
            && n.len() <= 40
            && n.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
        if !ok {
            diags
                .error(
                    "Invalid snapshot name",
                    format!(
                        "{n:?} is not a valid HostUp snapshot name: use 1 to 40 letters, \
                         digits, `_` or `-` (e.g. `before-upgrade`)."
                    ),
                )
                .at(AttributePath::root(attr));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_ids() {
        assert_eq!(
            split_import_id("vps_1/job_2", "job_id").ok(),
            Some(("vps_1", "job_2"))
        );
        for bad in ["vps_1", "/job", "vps_1/", "a/b/c", ""] {
            assert!(split_import_id(bad, "job_id").is_err(), "{bad}");
        }
    }

    #[test]
    fn gate_values() {
        assert_eq!(gate_value(None), Value::Null);
        let g = Gate {
            allowed: false,
            reason: Some("r".into()),
            code: None,
        };
        let v = gate_value(Some(&g));
        assert_eq!(v.attr("allowed"), Some(&Value::Bool(false)));
        assert_eq!(v.attr("code"), Some(&Value::Null));
    }
}
