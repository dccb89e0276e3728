//! Resource identity (Terraform ≥ 1.12): a small object that names a remote object, stored by
//! Terraform beside the state and usable in `import { to = … identity = { … } }`.
//!
//! A resource declares its identity as plain data ([`IdentitySchema`], from
//! [`Resource::identity`](super::Resource::identity)); the framework does the rest:
//! - the identity of every object the resource returns (read, plan, apply, import) is taken
//!   from the state attributes of the same names, then handed to
//!   [`Resource::complete_identity`](super::Resource::complete_identity) for attributes that
//!   are not state attributes (the default does nothing);
//! - import by identity renders the schema's [import id](IdentitySchema::import_id) from the
//!   identity and runs the resource's ordinary import with it, so both ways of importing give
//!   the same result;
//! - once known, an identity attribute never changes for an existing object (only a
//!   replacement makes a new object): a change is reported as a provider bug naming the
//!   attribute, the rule terraform-plugin-framework enforces.
//!
//! Terraform < 1.12 never asks for identity and ignores it in answers.

use std::sync::Arc;

use crate::plugin::diag::{AttributePath, Diagnostics};
use crate::plugin::schema::{Attribute, Block, Schema};
use crate::plugin::value::{Type, Value};

use super::object::{values_equal, ObjectValue, SchemaInfo};

/// The identity schema of a resource type: which attributes name one of its objects.
///
/// ```
/// use hostup_provider::plugin::framework::{IdentityAttribute, IdentitySchema};
///
/// let id = IdentitySchema::new()
///     .attribute(IdentityAttribute::string("vps_id").required_for_import()
///         .description("The VPS."))
///     .attribute(IdentityAttribute::string("name").required_for_import()
///         .description("The snapshot's name."))
///     .import_id("{vps_id}/{name}");
/// assert_eq!(id.version, 0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct IdentitySchema {
    /// The identity schema version (0 until the identity's shape changes).
    pub version: i64,
    /// The attributes, in the order the docs list them.
    pub attributes: Vec<IdentityAttribute>,
    /// How an identity becomes the resource's import id: `{name}` stands for the value of
    /// identity attribute `name`, everything else is literal (e.g. `{vps_id}/{job_id}`).
    /// Without it the type cannot be imported by identity.
    pub import_id: Option<String>,
}

/// One attribute of an [`IdentitySchema`].
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityAttribute {
    /// The name (snake_case); by default the value comes from the state attribute so named.
    pub name: String,
    /// Its type: a string, number or bool, or a list of those.
    pub ty: Type,
    /// Markdown description (docs and language servers).
    pub description: String,
    /// An `import { identity = {…} }` block must set it.
    pub required_for_import: bool,
    /// An `import { identity = {…} }` block may set it.
    pub optional_for_import: bool,
}

impl Default for IdentitySchema {
    fn default() -> Self {
        Self::new()
    }
}

impl IdentitySchema {
    /// An empty identity schema, version 0.
    pub fn new() -> Self {
        IdentitySchema {
            version: 0,
            attributes: Vec::new(),
            import_id: None,
        }
    }

    /// Sets the version.
    pub fn version(mut self, version: i64) -> Self {
        self.version = version;
        self
    }

    /// Adds an attribute.
    pub fn attribute(mut self, attribute: IdentityAttribute) -> Self {
        self.attributes.push(attribute);
        self
    }

    /// Sets the import id template (see [`IdentitySchema::import_id`]).
    pub fn import_id(mut self, template: impl Into<String>) -> Self {
        self.import_id = Some(template.into());
        self
    }

    /// The attribute `name`.
    pub fn get_attribute(&self, name: &str) -> Option<&IdentityAttribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The identity's cty type (an object of its attributes).
    pub fn implied_type(&self) -> Type {
        Type::Object(
            self.attributes
                .iter()
                .map(|a| (a.name.clone(), a.ty.clone()))
                .collect(),
        )
    }

    /// The problems of this schema for a resource with schema `state` (empty = fine).
    pub fn validate(&self, state: &Schema) -> Vec<String> {
        let mut errors = Vec::new();
        if self.version < 0 {
            errors.push(format!("identity version {} is negative", self.version));
        }
        if self.attributes.is_empty() {
            errors.push("identity has no attributes".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for a in &self.attributes {
            let at = format!("identity attribute {:?}", a.name);
            if a.name.is_empty()
                || !a
                    .name
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
            {
                errors.push(format!("{at}: the name must match ^[a-z0-9_]+$"));
            }
            if !seen.insert(a.name.as_str()) {
                errors.push(format!("{at}: declared twice"));
            }
            if !allowed_type(&a.ty) {
                errors.push(format!(
                    "{at}: type {} is not allowed (a string, number or bool, or a list of those)",
                    a.ty.friendly_name()
                ));
            }
            if a.required_for_import == a.optional_for_import {
                errors.push(format!(
                    "{at}: set exactly one of required_for_import and optional_for_import"
                ));
            }
            if a.description.trim().is_empty() {
                errors.push(format!("{at}: has no description"));
            }
            if let Some(s) = state.block.get_attribute(&a.name) {
                if s.ty != a.ty {
                    errors.push(format!(
                        "{at}: its type {} differs from the state attribute's {}",
                        a.ty.friendly_name(),
                        s.ty.friendly_name()
                    ));
                }
            }
        }
        if let Some(t) = &self.import_id {
            match parse_template(t) {
                Err(e) => errors.push(format!("identity import id {t:?}: {e}")),
                Ok(parts) => {
                    let mut any = false;
                    for p in parts {
                        let Part::Attr(name) = p else { continue };
                        any = true;
                        match self.get_attribute(name) {
                            None => errors.push(format!(
                                "identity import id {t:?}: {{{name}}} is not an identity attribute"
                            )),
                            Some(a) if !a.required_for_import || a.ty != Type::String => errors
                                .push(format!(
                                    "identity import id {t:?}: {{{name}}} must be a string \
                                     attribute that is required_for_import"
                                )),
                            Some(_) => {}
                        }
                    }
                    if !any {
                        errors.push(format!("identity import id {t:?} names no attribute"));
                    }
                }
            }
        }
        errors
    }
}

impl IdentityAttribute {
    /// An attribute of type `ty`; prefer the typed shorthands.
    pub fn new(name: impl Into<String>, ty: Type) -> Self {
        IdentityAttribute {
            name: name.into(),
            ty,
            description: String::new(),
            required_for_import: false,
            optional_for_import: false,
        }
    }

    /// A string attribute.
    pub fn string(name: impl Into<String>) -> Self {
        Self::new(name, Type::String)
    }

    /// A number attribute.
    pub fn number(name: impl Into<String>) -> Self {
        Self::new(name, Type::Number)
    }

    /// A bool attribute.
    pub fn bool(name: impl Into<String>) -> Self {
        Self::new(name, Type::Bool)
    }

    /// A list attribute.
    pub fn list(name: impl Into<String>, element: Type) -> Self {
        Self::new(name, Type::List(Box::new(element)))
    }

    /// An import by identity must set it.
    pub fn required_for_import(mut self) -> Self {
        self.required_for_import = true;
        self
    }

    /// An import by identity may set it.
    pub fn optional_for_import(mut self) -> Self {
        self.optional_for_import = true;
        self
    }

    /// Sets the markdown description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }
}

fn allowed_type(ty: &Type) -> bool {
    match ty {
        Type::String | Type::Number | Type::Bool => true,
        Type::List(e) => matches!(**e, Type::String | Type::Number | Type::Bool),
        _ => false,
    }
}

/// A piece of an import id template.
#[derive(Debug, PartialEq)]
enum Part<'a> {
    Literal(&'a str),
    Attr(&'a str),
}

fn parse_template(t: &str) -> Result<Vec<Part<'_>>, String> {
    let mut parts = Vec::new();
    let mut rest = t;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                parts.push(Part::Literal(rest));
                break;
            }
            Some(i) if rest.as_bytes()[i] == b'}' => return Err("an unmatched `}`".into()),
            Some(i) => {
                if i > 0 {
                    parts.push(Part::Literal(&rest[..i]));
                }
                let after = &rest[i + 1..];
                let end = after.find('}').ok_or("an unclosed `{`")?;
                let name = &after[..end];
                if name.is_empty() || name.contains('{') {
                    return Err("an empty or nested `{}`".into());
                }
                if matches!(parts.last(), Some(Part::Attr(_))) {
                    return Err("two attributes with nothing between them".into());
                }
                parts.push(Part::Attr(name));
                rest = &after[end + 1..];
            }
        }
    }
    Ok(parts)
}

/// An identity schema ready for serving: the schema, and the [`SchemaInfo`] that lets an
/// identity be an [`ObjectValue`].
#[derive(Debug)]
pub struct IdentityInfo {
    /// What the resource declared.
    pub schema: IdentitySchema,
    /// The identity as an object schema (one optional attribute per identity attribute).
    pub info: Arc<SchemaInfo>,
}

impl IdentityInfo {
    /// Wraps a declared identity schema.
    pub fn new(schema: IdentitySchema) -> Arc<Self> {
        let mut block = Block::new();
        for a in &schema.attributes {
            block = block.attribute(
                Attribute::new(a.name.clone(), a.ty.clone())
                    .optional()
                    .description(a.description.clone()),
            );
        }
        let info = SchemaInfo::new(Schema::new(block).version(schema.version));
        Arc::new(IdentityInfo { schema, info })
    }

    /// The identity taken from `state` by attribute name (attributes the state lacks are
    /// null), before the resource's own [`complete_identity`](super::Resource::complete_identity).
    pub fn from_state(&self, state: &ObjectValue) -> ObjectValue {
        let mut id = ObjectValue::empty(self.info.clone());
        for a in &self.schema.attributes {
            if state.schema().block.get_attribute(&a.name).is_some() {
                id.set_attr(&a.name, state.attr(&a.name).clone());
            }
        }
        id
    }

    /// The `required_for_import` attributes that are null in `identity`: an identity of an
    /// existing object without them names nothing.
    pub fn missing(&self, identity: &ObjectValue) -> Vec<&str> {
        self.schema
            .attributes
            .iter()
            .filter(|a| a.required_for_import && identity.attr(&a.name).is_null())
            .map(|a| a.name.as_str())
            .collect()
    }

    /// The attributes whose value in `prior` was known and not null and differs in `new`: an
    /// identity attribute, once known, names the object for good.
    pub fn changed(&self, prior: &ObjectValue, new: &ObjectValue) -> Vec<&str> {
        if prior.is_null() {
            return Vec::new();
        }
        self.schema
            .attributes
            .iter()
            .filter(|a| {
                let p = prior.attr(&a.name);
                p.is_known() && !p.is_null() && !values_equal(p, new.attr(&a.name))
            })
            .map(|a| a.name.as_str())
            .collect()
    }

    /// The import id an import by `identity` stands for, rendered from the schema's
    /// template; errors name the identity attribute they are about.
    pub fn import_id(
        &self,
        type_name: &str,
        identity: &ObjectValue,
    ) -> Result<String, Diagnostics> {
        let mut diags = Diagnostics::new();
        let Some(template) = &self.schema.import_id else {
            diags.error(
                "Import by identity not supported",
                format!("{type_name} can only be imported by id: use `import {{ id = … }}`."),
            );
            return Err(diags);
        };
        let Ok(parts) = parse_template(template) else {
            diags.error(
                "Provider bug",
                format!(
                    "The import id template of {type_name} is invalid. Please report this bug."
                ),
            );
            return Err(diags);
        };
        let literals: Vec<&str> = parts
            .iter()
            .filter_map(|p| match p {
                Part::Literal(l) => Some(*l),
                Part::Attr(_) => None,
            })
            .collect();
        let mut id = String::new();
        for p in &parts {
            match p {
                Part::Literal(l) => id.push_str(l),
                Part::Attr(name) => {
                    let v = identity.attr(name);
                    let path = AttributePath::root(*name);
                    match v {
                        Value::String(s) if s.trim().is_empty() => {
                            diags
                                .error(
                                    "Invalid import identity",
                                    format!("`{name}` in the import identity is empty; set it to the value that names the {type_name} to import."),
                                )
                                .at(path);
                        }
                        Value::String(s) => {
                            if let Some(l) = literals.iter().find(|l| s.contains(**l)) {
                                diags
                                    .error(
                                        "Invalid import identity",
                                        format!("`{name}` in the import identity is {s:?}, which contains {l:?}; no {type_name} has such a {name}. Check the value."),
                                    )
                                    .at(path);
                            }
                            id.push_str(s);
                        }
                        Value::Null => {
                            diags
                                .error(
                                    "Invalid import identity",
                                    format!(
                                        "The import identity of {type_name} must set `{name}`."
                                    ),
                                )
                                .at(path);
                        }
                        _ => {
                            diags
                                .error(
                                    "Invalid import identity",
                                    format!(
                                        "`{name}` in the import identity must be a known string."
                                    ),
                                )
                                .at(path);
                        }
                    }
                }
            }
        }
        if diags.has_errors() {
            Err(diags)
        } else {
            Ok(id)
        }
    }
}

/// The identity as HCL-like text for messages: `{vps_id = "vps_1", name = "a"}`.
pub fn describe(identity: &ObjectValue) -> String {
    let Value::Object(m) = identity.value() else {
        return "null".into();
    };
    let parts: Vec<String> = m
        .iter()
        .map(|(k, v)| {
            let shown = match v {
                Value::Null => "null".to_owned(),
                Value::String(s) => format!("{s:?}"),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_decimal_string().unwrap_or_else(|| "…".into()),
                Value::Unknown(_) => "(known after apply)".into(),
                _ => "…".into(),
            };
            format!("{k} = {shown}")
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot_identity() -> IdentitySchema {
        IdentitySchema::new()
            .attribute(
                IdentityAttribute::string("vps_id")
                    .required_for_import()
                    .description("v"),
            )
            .attribute(
                IdentityAttribute::string("name")
                    .required_for_import()
                    .description("n"),
            )
            .import_id("{vps_id}/{name}")
    }

    fn state_schema() -> Schema {
        Schema::new(
            Block::new()
                .attribute(Attribute::string("vps_id").required().description("v"))
                .attribute(Attribute::string("name").required().description("n"))
                .attribute(Attribute::string("note").optional().description("x")),
        )
    }

    fn identity(info: &Arc<IdentityInfo>, vps: Value, name: Value) -> ObjectValue {
        let mut o = ObjectValue::empty(info.info.clone());
        o.set_attr("vps_id", vps).set_attr("name", name);
        o
    }

    #[test]
    fn a_good_schema_validates() {
        assert!(snapshot_identity().validate(&state_schema()).is_empty());
    }

    #[test]
    fn schema_mistakes_are_named() {
        let bad = IdentitySchema::new()
            .version(-1)
            .attribute(IdentityAttribute::string("Vps").description("v"))
            .attribute(
                IdentityAttribute::new("m", Type::Map(Box::new(Type::String)))
                    .required_for_import(),
            )
            .attribute(
                IdentityAttribute::number("name")
                    .optional_for_import()
                    .description("n"),
            )
            .import_id("{name}/{nope}");
        let e = bad.validate(&state_schema()).join("\n");
        for want in [
            "negative",
            "must match",
            "exactly one of",
            "not allowed",
            "no description",
            "differs from the state attribute's",
            "{nope} is not an identity attribute",
            "{name} must be a string attribute that is required_for_import",
        ] {
            assert!(e.contains(want), "{want:?} missing in:\n{e}");
        }
        assert!(IdentitySchema::new().validate(&state_schema())[0].contains("no attributes"));
    }

    #[test]
    fn templates_parse_or_say_why_not() {
        assert_eq!(
            parse_template("{a}/{b}").unwrap(),
            vec![Part::Attr("a"), Part::Literal("/"), Part::Attr("b")]
        );
        for bad in ["{a", "a}", "{}", "{a}{b}", "{{a}}"] {
            assert!(parse_template(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn identity_comes_from_state_by_name() {
        let info = IdentityInfo::new(snapshot_identity());
        let state_info = SchemaInfo::new(state_schema());
        let mut state = ObjectValue::empty(state_info);
        state.set_attr("vps_id", "vps_1").set_attr("name", "a");
        let id = info.from_state(&state);
        assert_eq!(id.string("vps_id"), Some("vps_1"));
        assert_eq!(id.string("name"), Some("a"));
        assert!(info.missing(&id).is_empty());
        assert_eq!(describe(&id), r#"{name = "a", vps_id = "vps_1"}"#);
    }

    #[test]
    fn changes_count_only_once_known() {
        let info = IdentityInfo::new(snapshot_identity());
        let a = identity(&info, "vps_1".into(), Value::Null);
        let b = identity(&info, "vps_1".into(), "x".into());
        let c = identity(&info, "vps_2".into(), "x".into());
        assert!(info.changed(&a, &b).is_empty(), "null → value fills in");
        assert_eq!(info.changed(&b, &c), vec!["vps_id"]);
        assert_eq!(info.changed(&b, &a), vec!["name"]);
        assert_eq!(info.missing(&a), vec!["name"]);
    }

    #[test]
    fn import_ids_render_and_bad_values_are_named() {
        let info = IdentityInfo::new(snapshot_identity());
        let ok = identity(&info, "vps_1".into(), "before".into());
        assert_eq!(info.import_id("t", &ok).unwrap(), "vps_1/before");
        for (v, n, attr, words) in [
            (Value::Null, Value::from("a"), "vps_id", "must set `vps_id`"),
            ("vps_1".into(), " ".into(), "name", "is empty"),
            ("vps_1".into(), "a/b".into(), "name", "contains \"/\""),
            ("vps_1".into(), Value::unknown(), "name", "known string"),
        ] {
            let d = info.import_id("t", &identity(&info, v, n)).unwrap_err();
            let e = d.iter().next().unwrap();
            assert!(e.detail.contains(words), "{}", e.detail);
            assert_eq!(e.attribute, Some(AttributePath::root(attr)));
        }
        let no_template = IdentityInfo::new(IdentitySchema {
            import_id: None,
            ..snapshot_identity()
        });
        let d = no_template.import_id("t", &ok).unwrap_err();
        assert!(d
            .iter()
            .next()
            .unwrap()
            .detail
            .contains("only be imported by id"));
    }
}
