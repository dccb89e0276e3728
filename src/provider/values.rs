//! Turning HostUp's answers into cty values and reading the arguments of a configuration: the
//! small conversions and checks every resource and data source makes the same way.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::hostup::Gate;
use crate::plugin::diag::{AttributePath, Diagnostic, Diagnostics};
use crate::plugin::framework::Field;

/// The `triggers` argument of the action-style resources, in their typed models. Its values
/// are [`Field`]s too: one of them may be unknown at plan (`{ release = var.release }` in
/// `terraform validate`) while the map itself is known.
pub type Triggers = BTreeMap<String, Field<String>>;

/// A gate as the `{allowed, reason, code}` object of the schema's gate attributes (see
/// `schema_parts::gate_type`); an absent gate is null.
#[derive(Debug, Serialize)]
pub struct GateModel<'a> {
    allowed: bool,
    reason: Option<&'a str>,
    code: Option<&'a str>,
}

impl<'a> GateModel<'a> {
    /// The gate HostUp reported, if it did.
    pub fn of(gate: Option<&'a Gate>) -> Option<Self> {
        gate.map(|g| GateModel {
            allowed: g.allowed,
            reason: g.reason.as_deref(),
            code: g.code.as_deref(),
        })
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

/// A known, non-empty string argument of a config or plan; `None` while it is unknown, null
/// or empty (plan-time checks skip what is not known yet).
pub fn known(field: &Field<String>) -> Option<&str> {
    field.as_deref().filter(|s| !s.is_empty())
}

/// An identifying argument a resource needs at apply (`vps_id`, a snapshot name), named
/// `name` in the error: the plan guarantees it, so its absence is reported, never guessed.
pub fn required<'a>(
    field: &'a Field<String>,
    name: &str,
    diags: &mut Diagnostics,
) -> Option<&'a str> {
    let value = field.as_deref();
    if value.is_none() {
        diags
            .error(
                format!("Missing {name}"),
                format!("`{name}` must be known at apply."),
            )
            .at(AttributePath::root(name));
    }
    value
}

/// Checks every resource shares: a known `vps_id` must not be blank.
pub fn validate_vps_id(vps_id: &Field<String>, diags: &mut Diagnostics) {
    if vps_id.as_deref().is_some_and(|s| s.trim().is_empty()) {
        diags
            .error(
                "Empty vps_id",
                "`vps_id` must be a HostUp VPS id such as `vps_01hxa3b4c5d6e7f8g9h0j1k2m3`.",
            )
            .at(AttributePath::root("vps_id"));
    }
}

/// A known snapshot name (the argument `attr`) must match HostUp's rule
/// `^[A-Za-z0-9_-]{1,40}$`.
pub fn validate_snapshot_name(name: &Field<String>, attr: &str, diags: &mut Diagnostics) {
    if let Some(n) = name.as_deref() {
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
    fn gate_models() {
        assert!(GateModel::of(None).is_none());
        let g = Gate {
            allowed: false,
            reason: Some("r".into()),
            code: None,
        };
        let v = serde_json::to_value(GateModel::of(Some(&g))).expect("serialises");
        assert_eq!(
            v,
            serde_json::json!({"allowed": false, "reason": "r", "code": null})
        );
    }

    #[test]
    fn known_and_required_arguments() {
        assert_eq!(known(&Field::Value("vps_1".into())), Some("vps_1"));
        for absent in [Field::Value(String::new()), Field::Null, Field::Unknown] {
            assert_eq!(known(&absent), None);
        }
        let mut d = Diagnostics::new();
        assert_eq!(required(&Field::Null, "vps_id", &mut d), None);
        assert_eq!(d.len(), 1);
        assert_eq!(d.0[0].attribute, Some(AttributePath::root("vps_id")));
    }
}
