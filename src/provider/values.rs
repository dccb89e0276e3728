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

/// Splits an import id `<vps_id>/<second>`: both parts non-empty, without whitespace around
/// the slash, and the first one not certainly something else than a VPS id (a name, an IP
/// address: [`vps_id_problem`]'s errors, which `vps_id` in a configuration gets too). The id as
/// a whole is trimmed, as Terraform users paste it.
pub fn split_import_id<'a>(id: &'a str, second: &str) -> Result<(&'a str, &'a str), Diagnostic> {
    let form = format!("`<vps_id>/<{second}>` (e.g. `vps_01hxa3b4c5d6e7f8g9h0j1k2m3/…`)");
    let invalid = |why: String| Diagnostic::error("Invalid import id", why);
    let (vps_id, rest) = match id.trim().split_once('/') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() && !b.contains('/') => (a, b),
        _ => return Err(invalid(format!("Expected {form}, got {id:?}."))),
    };
    if vps_id.trim() != vps_id || rest.trim() != rest {
        return Err(invalid(format!(
            "{id:?} has whitespace around the `/`. Expected {form}, without spaces."
        )));
    }
    match vps_id_problem(vps_id, "vps_id", IMPORT_LOOKUP) {
        Some(d) if d.is_error() => Err(invalid(format!(
            "The part before the `/` must be the VPS's id: {} Expected {form}.",
            d.detail
        ))),
        _ => Ok((vps_id, rest)),
    }
}

/// The import id of a per-VPS singleton (a schedule, settings): the VPS id, trimmed, held to
/// [`vps_id_problem`]'s errors like `vps_id` in a configuration.
pub fn import_vps_id(id: &str) -> Result<&str, Diagnostic> {
    let vps_id = id.trim();
    match vps_id_problem(vps_id, "vps_id", IMPORT_LOOKUP) {
        Some(d) if d.is_error() => Err(Diagnostic::error(
            "Invalid import id",
            format!("The import id must be the VPS's id: {}", d.detail),
        )),
        _ => Ok(vps_id),
    }
}

/// The newest of `items` by the RFC 3339 time `at` gives; items without a (readable) time
/// count as oldest, and the first listed wins a tie.
pub fn newest<'a, T>(items: &[&'a T], at: impl Fn(&T) -> Option<&str>) -> Option<&'a T> {
    let mut best: Option<(&'a T, Option<time::OffsetDateTime>)> = None;
    for item in items {
        let t = at(item).and_then(parse_time);
        if best.as_ref().is_none_or(|(_, bt)| t > *bt) {
            best = Some((item, t));
        }
    }
    best.map(|(item, _)| item)
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

/// Checks every resource shares: a known `vps_id` must have the form HostUp documents
/// (`vps_` and 26 lowercase letters and digits, like `vps_01hxa3b4c5d6e7f8g9h0j1k2m3`;
/// the prefix is documented, the length inferred). Blank, padded with whitespace, an IP
/// address, or without the prefix (a name) is an error at `terraform validate`; the prefix
/// with another tail only a warning, HostUp having the last word at plan.
pub fn validate_vps_id(vps_id: &Field<String>, diags: &mut Diagnostics) {
    validate_vps_id_at(vps_id, "vps_id", diags);
}

/// [`validate_vps_id`] for an argument of another name (the `hostup_vps` data source's `id`).
pub fn validate_vps_id_at(vps_id: &Field<String>, attr: &str, diags: &mut Diagnostics) {
    let Some(id) = vps_id.as_deref() else {
        return;
    };
    if let Some(d) = vps_id_problem(id, attr, LOOKUP_IN_CONFIG) {
        diags.push(d.with_path(AttributePath::root(attr)));
    }
}

/// Where a user running `terraform import` finds a VPS's id.
const IMPORT_LOOKUP: &str = "The HostUp dashboard shows the VPS's id, and so does `terraform \
                             console` with `data.hostup_vps.NAME.id` where a `hostup_vps` data \
                             source looks it up.";

/// How a configuration turns a VPS name into its id.
const LOOKUP_IN_CONFIG: &str = "To use a VPS by name, look its id up with the `hostup_vps` \
                                data source (`data \"hostup_vps\" \"app\" { name = \"app-01\" \
                                }`, then `data.hostup_vps.app.id`).";

/// What is wrong with `id` as the VPS id `attr`, if anything (`lookup` says how to find the
/// id where it is needed): an error for what is certainly
/// not an id (blank, padded, an IP address, no `vps_` prefix), a warning for the prefix with an
/// unusual tail (HostUp has the last word at plan).
fn vps_id_problem(id: &str, attr: &str, lookup: &str) -> Option<Diagnostic> {
    if id.trim().is_empty() {
        Some(Diagnostic::error(
            format!("Empty {attr}"),
            format!("`{attr}` must be a HostUp VPS id such as `vps_01hxa3b4c5d6e7f8g9h0j1k2m3`."),
        ))
    } else if id.trim() != id {
        Some(Diagnostic::error(
            format!("{attr} has surrounding whitespace"),
            format!(
                "{id:?} starts or ends with whitespace; HostUp ids have none. Remove it (e.g. \
                 with `trimspace()`)."
            ),
        ))
    } else if id.parse::<std::net::IpAddr>().is_ok() {
        Some(Diagnostic::error(
            format!("{attr} is an IP address, not a VPS id"),
            format!("HostUp addresses a VPS by its id (`vps_…`), never by its IP {id}. {lookup}"),
        ))
    } else if !id.starts_with("vps_") {
        Some(Diagnostic::error(
            format!("{attr} is not a HostUp VPS id"),
            format!(
                "HostUp VPS ids start with `vps_` (like `vps_01hxa3b4c5d6e7f8g9h0j1k2m3`); \
                 {id:?} looks like a name. {lookup}"
            ),
        ))
    } else {
        let tail = &id["vps_".len()..];
        let usual = tail.len() == 26
            && tail
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        (!usual).then(|| {
            Diagnostic::warning(
                format!("{attr} {id:?} does not have the usual form of a VPS id"),
                "HostUp VPS ids are `vps_` and 26 lowercase letters and digits (like \
                 `vps_01hxa3b4c5d6e7f8g9h0j1k2m3`). The plan asks HostUp, which says \
                 whether it knows this one.",
            )
        })
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
    fn completed_at_of_our_own_clock_has_hostups_milliseconds() {
        let t = now_rfc3339();
        assert!(t.ends_with('Z') && parse_time(&t).is_some(), "{t}");
        // `…:08.275Z` or `…:08Z` (a whole second), never nanoseconds.
        let fraction = t.rsplit_once('.').map_or("Z", |(_, f)| f);
        assert!(fraction.len() <= 4, "{t}");
    }

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

    #[test]
    fn vps_ids_have_hostups_form() {
        use crate::plugin::diag::Severity;
        let check = |id: &str| {
            let mut d = Diagnostics::new();
            validate_vps_id(&Field::Value(id.to_owned()), &mut d);
            d.0.first().map(|x| (x.severity, x.summary.clone()))
        };
        assert_eq!(check("vps_01hxa3b4c5d6e7f8g9h0j1k2m3"), None);
        for (id, summary) in [
            ("", "Empty vps_id"),
            (
                " vps_01hxa3b4c5d6e7f8g9h0j1k2m3\n",
                "vps_id has surrounding whitespace",
            ),
            ("203.0.113.7", "vps_id is an IP address, not a VPS id"),
            ("::1", "vps_id is an IP address, not a VPS id"),
            ("app-01", "vps_id is not a HostUp VPS id"),
        ] {
            assert_eq!(
                check(id),
                Some((Severity::Error, summary.to_owned())),
                "{id:?}"
            );
        }
        let (severity, _) = check("vps_legacy").expect("a warning");
        assert_eq!(severity, Severity::Warning);
    }
}
