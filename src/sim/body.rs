//! Reading request bodies: a JSON object, and its fields by type, each mistake recorded as an
//! `errors[]` entry with its JSON pointer (docs/hostup-sim.md §3.8), so that every endpoint
//! words the same mistake the same way and bad input never panics.

use serde_json::{Map, Value};

use super::problem::{ApiError, FieldError};

/// The shape of a JSON value for error messages.
fn json_error_detail(e: &serde_json::Error) -> String {
    format!("The request body is not valid JSON: {e}.")
}

pub(crate) fn parse_object(body: &[u8], optional: bool) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        if optional {
            return Ok(Map::new());
        }
        return Err(ApiError::invalid_request(vec![FieldError::new(
            "",
            "A JSON request body is required.",
            "missing_required",
        )]));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) if optional => Ok(Map::new()),
        Ok(_) => Err(ApiError::invalid_request(vec![FieldError::new(
            "",
            "The request body must be a JSON object.",
            "invalid_type",
        )])),
        Err(e) => Err(ApiError::invalid_request(vec![FieldError::new(
            "",
            json_error_detail(&e),
            "invalid_json",
        )])),
    }
}

/// An optional nullable string field of at most `max` characters.
pub(crate) fn opt_string(
    m: &Map<String, Value>,
    field: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match m.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= max => Some(s.clone()),
        Some(Value::String(_)) => {
            errors.push(FieldError::new(
                &format!("/{field}"),
                format!("`{field}` must be at most {max} characters."),
                "too_long",
            ));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(
                &format!("/{field}"),
                format!("`{field}` must be a string or null."),
                "invalid_type",
            ));
            None
        }
    }
}

/// A required boolean field.
pub(crate) fn req_bool(
    m: &Map<String, Value>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<bool> {
    match m.get(field) {
        Some(Value::Bool(b)) => Some(*b),
        None | Some(Value::Null) => {
            errors.push(missing(field));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(
                &format!("/{field}"),
                format!("`{field}` must be a boolean."),
                "invalid_type",
            ));
            None
        }
    }
}

/// A required number field (any JSON number).
pub(crate) fn req_number(
    m: &Map<String, Value>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<f64> {
    match m.get(field) {
        Some(Value::Number(n)) => n.as_f64(),
        None | Some(Value::Null) => {
            errors.push(missing(field));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(
                &format!("/{field}"),
                format!("`{field}` must be a number."),
                "invalid_type",
            ));
            None
        }
    }
}

/// An optional boolean field (null = absent).
pub(crate) fn opt_bool(
    m: &Map<String, Value>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<bool> {
    match m.get(field) {
        None | Some(Value::Null) => None,
        Some(_) => req_bool(m, field, errors),
    }
}

/// An optional whole number in `min..=max` (null = absent; `5.0` counts as 5).
pub(crate) fn opt_whole(
    m: &Map<String, Value>,
    field: &str,
    min: i64,
    max: i64,
    errors: &mut Vec<FieldError>,
) -> Option<i64> {
    match m.get(field) {
        None | Some(Value::Null) => None,
        Some(_) => req_whole(m, field, min, max, errors),
    }
}

/// A required whole number in `min..=max` (`5.0` counts as 5).
pub(crate) fn req_whole(
    m: &Map<String, Value>,
    field: &str,
    min: i64,
    max: i64,
    errors: &mut Vec<FieldError>,
) -> Option<i64> {
    let n = req_number(m, field, errors)?;
    if n.fract() != 0.0 {
        errors.push(FieldError::new(
            &format!("/{field}"),
            format!("`{field}` must be a whole number."),
            "invalid_type",
        ));
        return None;
    }
    if n < min as f64 || n > max as f64 {
        errors.push(FieldError::new(
            &format!("/{field}"),
            format!("`{field}` must be between {min} and {max}."),
            "out_of_range",
        ));
        return None;
    }
    Some(n as i64)
}

/// The `errors[]` entry of a required field that is absent or null.
pub(crate) fn missing(field: &str) -> FieldError {
    FieldError::new(
        &format!("/{field}"),
        format!("`{field}` is required."),
        "missing_required",
    )
}

/// `Err(invalid_request)` when any field was wrong.
pub(crate) fn check(errors: Vec<FieldError>) -> Result<(), ApiError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid_request(errors))
    }
}
