//! The `timeouts { create = "60m" }` block, as terraform-plugin-framework-timeouts offers it.
//!
//! Users of every major provider expect this block with Go-style durations, and each resource
//! would otherwise parse it its own way. The framework does not apply the deadline by itself
//! (the resource decides the default and which operation it covers): read it with [`get`] and
//! wrap the context with [`crate::plugin::framework::Ctx::with_timeout`].

use std::time::Duration;

use crate::plugin::diag::{AttributePath, Diagnostic, Diagnostics};
use crate::plugin::schema::{Attribute, Block, NestedBlock};
use crate::plugin::value::Value;

use super::ObjectValue;

/// The name of the block.
pub const BLOCK_NAME: &str = "timeouts";

/// A `timeouts` SINGLE block with one optional string attribute per operation
/// (`create`, `read`, `update`, `delete`). Changing it never forces replacement.
pub fn block(operations: &[&str]) -> NestedBlock {
    let mut b = Block::new().description(
        "How long to wait for each operation, as a duration such as `30s`, `10m` or `2h45m` \
         (units `s`, `m`, `h`).",
    );
    for op in operations {
        b = b.attribute(Attribute::string(*op).optional().description(format!(
            "How long `{op}` may take before Terraform gives up waiting, e.g. `60m`."
        )));
    }
    NestedBlock::single(BLOCK_NAME, b)
}

/// Parses a Go-style duration (`1h30m`, `90s`, `1.5h`, `500ms`). Zero and negative durations
/// are refused: a timeout of zero would fail every operation.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("an empty string is not a duration".into());
    }
    if s.starts_with('-') {
        return Err(format!("{text:?} is negative"));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!(
                "{text:?} is not a duration: expected a number at {rest:?}"
            ));
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| {
            format!(
                "{text:?} is not a duration: bad number {:?}",
                &rest[..num_len]
            )
        })?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let secs = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => {
                return Err(format!(
                    "{text:?} is missing a unit: write e.g. \"{n}m\" or \"{n}s\""
                ))
            }
            other => {
                return Err(format!(
                    "{text:?} has unknown unit {other:?}: use s, m or h (e.g. \"60m\")"
                ))
            }
        };
        total += n * secs;
    }
    if !total.is_finite() || total > 1e9 {
        return Err(format!("{text:?} is too long"));
    }
    if total <= 0.0 {
        return Err(format!("{text:?} is zero; a timeout must be positive"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// The timeout for `operation` from `timeouts.<operation>` in `obj` (plan, state or config),
/// or `default` when the block or value is absent. A value that does not parse is an error
/// pointing at it.
pub fn get(obj: &ObjectValue, operation: &str, default: Duration) -> Result<Duration, Diagnostic> {
    let path = AttributePath::root(BLOCK_NAME).attr(operation);
    match obj.get_path(&path) {
        Some(Value::String(s)) => parse_duration(s).map_err(|e| invalid(e, path)),
        _ => Ok(default),
    }
}

/// Validation for the block: every known value must parse (unknowns are skipped).
pub fn validate(config: &ObjectValue, diagnostics: &mut Diagnostics) {
    let Some(Value::Object(m)) = config.get_path(&AttributePath::root(BLOCK_NAME)) else {
        return;
    };
    for (op, v) in m {
        if let Value::String(s) = v {
            if let Err(e) = parse_duration(s) {
                diagnostics.push(invalid(e, AttributePath::root(BLOCK_NAME).attr(op)));
            }
        }
    }
}

fn invalid(message: String, path: AttributePath) -> Diagnostic {
    Diagnostic::error(
        "Invalid timeout",
        format!("{message}. Timeouts are durations such as \"30s\", \"10m\" or \"2h45m\"."),
    )
    .with_path(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::framework::SchemaInfo;
    use crate::plugin::schema::Schema;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_duration("60m"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        for bad in ["", "60", "1x", "-5m", "0s", "m", "1h-3m"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn get_and_validate_point_at_the_attribute() {
        let info = SchemaInfo::new(Schema::new(Block::new().block(block(&["create"]))));
        let mut obj = ObjectValue::empty(info);
        let d = Duration::from_secs(7);
        assert_eq!(get(&obj, "create", d), Ok(d));
        obj.set_attr(
            "timeouts",
            Value::Object(
                [("create".to_string(), Value::from("2m"))]
                    .into_iter()
                    .collect(),
            ),
        );
        assert_eq!(get(&obj, "create", d), Ok(Duration::from_secs(120)));
        obj.set_path(&AttributePath::root("timeouts").attr("create"), "soon");
        let err = get(&obj, "create", d).err();
        assert_eq!(
            err.and_then(|e| e.attribute)
                .map(|p| p.to_string())
                .as_deref(),
            Some("timeouts.create")
        );
        let mut diags = Diagnostics::new();
        validate(&obj, &mut diags);
        assert!(diags.has_errors());
        obj.set_path(
            &AttributePath::root("timeouts").attr("create"),
            Value::unknown(),
        );
        let mut diags = Diagnostics::new();
        validate(&obj, &mut diags);
        assert!(diags.is_empty());
    }
}
