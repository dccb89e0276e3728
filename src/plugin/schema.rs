//! Schemas: what a provider, resource or data source accepts, as plain data.
//!
//! Terraform learns every attribute, nested block and flag from GetSchema and then enforces them
//! itself, so the schema is the contract between HCL and our code. It is also the single source
//! of the generated docs, which is why every field here is a plain `pub` field: a doc generator
//! (or a test) walks it without going through the protocol types.
//!
//! Builders keep resource files readable:
//!
//! ```
//! use hostup_provider::plugin::schema::{Attribute, Block, NestedBlock, Schema};
//! use hostup_provider::plugin::value::Type;
//!
//! let schema = Schema::new(
//!     Block::new()
//!         .description("Queues an offsite backup of a VPS.")
//!         .attribute(Attribute::string("vps_id").required().requires_replace()
//!             .description("The VPS to back up."))
//!         .attribute(Attribute::map("triggers", Type::String).optional().requires_replace()
//!             .description("Arbitrary values; changing any of them runs the backup again."))
//!         .attribute(Attribute::string("id").computed().use_state_for_unknown()
//!             .description("The backup job id."))
//!         .block(NestedBlock::single("timeouts", Block::new()
//!             .attribute(Attribute::string("create").optional()
//!                 .description("How long to wait, e.g. `60m`.")))),
//! );
//! assert!(schema.validate().is_empty());
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::plugin::value::Type;

/// A versioned schema: the unit GetSchema reports for the provider and for each resource type.
///
/// `version` is stored by Terraform in state as `schema_version` and handed back in
/// UpgradeResourceState, so it is how a resource learns that stored state has an old shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// The resource schema version (≥ 0). Bump it when stored state must be migrated.
    pub version: i64,
    /// The top-level block.
    pub block: Block,
}

impl Schema {
    /// A version-0 schema around `block`: what almost every schema starts as.
    pub fn new(block: Block) -> Self {
        Schema { version: 0, block }
    }

    /// Sets the schema version, for resources whose stored state changed shape.
    pub fn version(mut self, version: i64) -> Self {
        self.version = version;
        self
    }

    /// The cty type of values of this schema (config, plan and state objects).
    pub fn implied_type(&self) -> Type {
        self.block.implied_type()
    }

    /// Every problem that would make Terraform reject or crash on this schema, as readable
    /// messages (empty when the schema is fine). Run over every registered schema in a test:
    /// Terraform's own checks only run when a user loads the provider.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.version < 0 {
            errors.push(format!(
                "schema version {} is negative; Terraform rejects negative versions",
                self.version
            ));
        }
        self.block.validate_into("", false, &mut errors);
        errors
    }

    /// Like [`Schema::validate`], plus the rule that only managed resources may have write-only
    /// attributes (Terraform rejects them in provider and data source schemas).
    pub fn validate_without_write_only(&self) -> Vec<String> {
        let mut errors = self.validate();
        self.block.each_attribute("", &mut |path, a| {
            if a.write_only {
                errors.push(format!(
                    "{path}: write_only is only allowed in managed resource schemas"
                ));
            }
        });
        errors
    }
}

/// A block: the body of a provider/resource/data source configuration, or of a nested block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Block {
    /// Attributes (`name = value` in HCL), in declaration order (docs keep this order).
    pub attributes: Vec<Attribute>,
    /// Nested blocks (`name { ... }` in HCL), in declaration order.
    pub blocks: Vec<NestedBlock>,
    /// Markdown description of the block, shown in docs and by language servers.
    pub description: String,
    /// Marks the whole block as deprecated: Terraform warns when it is used.
    pub deprecated: bool,
    /// What to use instead, shown with the deprecation (Terraform ≥ 1.15 shows it; older
    /// versions only warn that the block is deprecated). Empty when not deprecated.
    pub deprecation_message: String,
}

impl Block {
    /// An empty block; add attributes and nested blocks with the builder methods.
    pub fn new() -> Self {
        Block::default()
    }

    /// Adds an attribute (builder).
    pub fn attribute(mut self, attribute: Attribute) -> Self {
        self.attributes.push(attribute);
        self
    }

    /// Adds a nested block (builder).
    pub fn block(mut self, block: NestedBlock) -> Self {
        self.blocks.push(block);
        self
    }

    /// Sets the markdown description (builder).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Marks the block deprecated (builder), with a message saying what to use instead:
    /// Terraform ≥ 1.15 shows it in its warning, and the generated docs show it.
    pub fn deprecated(mut self, message: impl Into<String>) -> Self {
        self.deprecated = true;
        self.deprecation_message = message.into();
        self
    }

    /// The attribute called `name`, if any.
    pub fn get_attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The nested block called `type_name`, if any.
    pub fn get_block(&self, type_name: &str) -> Option<&NestedBlock> {
        self.blocks.iter().find(|b| b.type_name == type_name)
    }

    /// The cty object type of this block's values (tfplugin5 reference §5.1): one attribute per
    /// attribute, and per nested block an object (SINGLE, GROUP), list/set/map of objects.
    pub fn implied_type(&self) -> Type {
        let mut attrs = BTreeMap::new();
        for a in &self.attributes {
            attrs.insert(a.name.clone(), a.ty.clone());
        }
        for b in &self.blocks {
            let inner = b.block.implied_type();
            let ty = match b.nesting {
                Nesting::Single | Nesting::Group => inner,
                Nesting::List => Type::List(Box::new(inner)),
                Nesting::Set => Type::Set(Box::new(inner)),
                Nesting::Map => Type::Map(Box::new(inner)),
            };
            attrs.insert(b.type_name.clone(), ty);
        }
        Type::Object(attrs)
    }

    /// Calls `f` with a dotted path and each attribute, nested blocks included.
    pub(crate) fn each_attribute(&self, prefix: &str, f: &mut dyn FnMut(&str, &Attribute)) {
        for a in &self.attributes {
            f(&join(prefix, &a.name), a);
        }
        for b in &self.blocks {
            b.block.each_attribute(&join(prefix, &b.type_name), f);
        }
    }

    fn validate_into(&self, prefix: &str, in_set: bool, errors: &mut Vec<String>) {
        let mut seen = BTreeSet::new();
        for a in &self.attributes {
            let path = join(prefix, &a.name);
            check_name(&path, &a.name, errors);
            if !seen.insert(a.name.as_str()) {
                errors.push(format!("{path}: declared twice"));
            }
            a.validate_into(&path, in_set, errors);
        }
        for b in &self.blocks {
            let path = join(prefix, &b.type_name);
            check_name(&path, &b.type_name, errors);
            if !seen.insert(b.type_name.as_str()) {
                errors.push(format!(
                    "{path}: the name is used by more than one attribute or block"
                ));
            }
            b.validate_into(&path, in_set, errors);
        }
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn check_name(path: &str, name: &str, errors: &mut Vec<String>) {
    if name.is_empty()
        || !name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
    {
        errors.push(format!(
            "{path}: name {name:?} must match ^[a-z0-9_]+$ (Terraform rejects the schema otherwise)"
        ));
    }
}

fn contains_dynamic(ty: &Type) -> bool {
    match ty {
        Type::Dynamic => true,
        Type::String | Type::Number | Type::Bool => false,
        Type::List(t) | Type::Set(t) | Type::Map(t) => contains_dynamic(t),
        Type::Object(m) => m.values().any(contains_dynamic),
        Type::Tuple(v) => v.iter().any(contains_dynamic),
    }
}

/// One attribute of a block.
///
/// Exactly one of three shapes is valid: `required`; `optional` (optionally with `computed`:
/// the provider fills it when the user does not); `computed` alone (read-only output).
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The HCL name (snake_case).
    pub name: String,
    /// The cty type of the value.
    pub ty: Type,
    /// Markdown description: the single source of the attribute's docs.
    pub description: String,
    /// The user must set it.
    pub required: bool,
    /// The user may set it.
    pub optional: bool,
    /// The provider sets it (alone: read-only; with `optional`: a default the provider picks).
    pub computed: bool,
    /// Terraform redacts the value in plan output and UI.
    pub sensitive: bool,
    /// Terraform warns when the attribute is set.
    pub deprecated: bool,
    /// What to use instead, shown with the deprecation (Terraform ≥ 1.15 shows it; older
    /// versions only warn that the attribute is deprecated). Empty when not deprecated.
    pub deprecation_message: String,
    /// Never stored in plan or state (Terraform ≥ 1.11, managed resources only).
    pub write_only: bool,
    /// Framework plan modifier: a change of this attribute (against prior state) replaces the
    /// resource instead of updating it in place.
    pub requires_replace: bool,
    /// Framework plan modifier: on update, a computed value that would become unknown keeps its
    /// prior state value instead (for values that never change once set, like ids).
    pub use_state_for_unknown: bool,
}

impl Attribute {
    /// An attribute of any type; prefer the typed shorthands below.
    pub fn new(name: impl Into<String>, ty: Type) -> Self {
        Attribute {
            name: name.into(),
            ty,
            description: String::new(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            deprecated: false,
            deprecation_message: String::new(),
            write_only: false,
            requires_replace: false,
            use_state_for_unknown: false,
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

    /// A `list(element)` attribute.
    pub fn list(name: impl Into<String>, element: Type) -> Self {
        Self::new(name, Type::List(Box::new(element)))
    }

    /// A `set(element)` attribute.
    pub fn set(name: impl Into<String>, element: Type) -> Self {
        Self::new(name, Type::Set(Box::new(element)))
    }

    /// A `map(element)` attribute.
    pub fn map(name: impl Into<String>, element: Type) -> Self {
        Self::new(name, Type::Map(Box::new(element)))
    }

    /// An `object({...})` attribute (e.g. a computed structured result).
    pub fn object<N: Into<String>>(
        name: impl Into<String>,
        attributes: impl IntoIterator<Item = (N, Type)>,
    ) -> Self {
        Self::new(name, object_type(attributes))
    }

    /// The user must set it (builder).
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The user may set it (builder). Combine with [`Attribute::computed`] for
    /// provider-chosen defaults.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// The provider sets it (builder).
    pub fn computed(mut self) -> Self {
        self.computed = true;
        self
    }

    /// Redacted in plan output (builder). Use for every secret.
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// Markdown description (builder).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Deprecated (builder): Terraform warns when it is set; `message` says what to use
    /// instead (Terraform ≥ 1.15 shows it in the warning, and the generated docs show it).
    pub fn deprecated(mut self, message: impl Into<String>) -> Self {
        self.deprecated = true;
        self.deprecation_message = message.into();
        self
    }

    /// Write-only (builder): Terraform ≥ 1.11 sends its value in the configuration only, and
    /// it is never stored in plan or state (the framework nulls it in every answer). Only on
    /// managed resources; optional or required, never computed. Older Terraform versions
    /// cannot handle one: a value set there is refused at validation.
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }

    /// A change forces replacement (builder); honoured by the framework's default plan.
    pub fn requires_replace(mut self) -> Self {
        self.requires_replace = true;
        self
    }

    /// Keep the prior state value instead of planning unknown (builder); honoured by the
    /// framework's default plan.
    pub fn use_state_for_unknown(mut self) -> Self {
        self.use_state_for_unknown = true;
        self
    }

    fn validate_into(&self, path: &str, in_set: bool, errors: &mut Vec<String>) {
        if !self.required && !self.optional && !self.computed {
            errors.push(format!(
                "{path}: must be required, optional or computed (Terraform rejects it otherwise)"
            ));
        }
        if self.required && self.optional {
            errors.push(format!("{path}: cannot be both required and optional"));
        }
        if self.required && self.computed {
            errors.push(format!("{path}: cannot be both required and computed"));
        }
        if self.write_only && self.computed {
            errors.push(format!("{path}: a write-only attribute cannot be computed"));
        }
        if self.write_only && self.requires_replace {
            // Prior and planned values are both null, so the default plan never sees a change
            // and the flag would do nothing; naming the path anyway makes Terraform replace on
            // every plan (v1.11.4, internal/terraform/node_resource_abstract_instance.go,
            // `getRequiredReplaces`, l.2951-2961).
            errors.push(format!(
                "{path}: a write-only attribute cannot force replacement (its changes are never \
                 seen); force it on an argument that changes with it, e.g. a version number"
            ));
        }
        if self.write_only && in_set {
            errors.push(format!(
                "{path}: write-only attributes are not allowed inside SET blocks"
            ));
        }
        if in_set && contains_dynamic(&self.ty) {
            errors.push(format!(
                "{path}: dynamic types are not allowed inside SET blocks"
            ));
        }
        if self.use_state_for_unknown && !self.computed {
            errors.push(format!(
                "{path}: use_state_for_unknown only makes sense on a computed attribute"
            ));
        }
        if self.requires_replace && !self.required && !self.optional {
            errors.push(format!(
                "{path}: requires_replace on a computed-only attribute would replace on every \
                 refresh drift; put it on the arguments instead"
            ));
        }
    }
}

/// Builds an object type from `(name, type)` pairs; the shorthand for computed structured
/// results such as `can_create = { allowed, reason, code }`.
pub fn object_type<N: Into<String>>(attributes: impl IntoIterator<Item = (N, Type)>) -> Type {
    Type::Object(attributes.into_iter().map(|(n, t)| (n.into(), t)).collect())
}

/// How a nested block may repeat in HCL, and therefore the shape of its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// At most one block; value is an object or null.
    Single,
    /// Ordered repeated blocks; value is a list of objects.
    List,
    /// Unordered repeated blocks; value is a set of objects.
    Set,
    /// Labelled blocks (`name "label" {}`); value is a map of objects.
    Map,
    /// Exactly one block that may be omitted; value is always an object (attributes null
    /// when omitted).
    Group,
}

/// A nested block type of a block.
#[derive(Debug, Clone, PartialEq)]
pub struct NestedBlock {
    /// The HCL block name (snake_case).
    pub type_name: String,
    /// What goes inside it.
    pub block: Block,
    /// How it repeats.
    pub nesting: Nesting,
    /// Minimum number of blocks (LIST/SET only; SINGLE: 1 makes it required).
    pub min_items: i64,
    /// Maximum number of blocks (LIST/SET; 0 = unlimited; SINGLE: 1).
    pub max_items: i64,
    /// Framework plan modifier: any change inside the block replaces the resource.
    pub requires_replace: bool,
}

impl NestedBlock {
    fn new(type_name: impl Into<String>, nesting: Nesting, block: Block) -> Self {
        NestedBlock {
            type_name: type_name.into(),
            block,
            nesting,
            min_items: 0,
            max_items: 0,
            requires_replace: false,
        }
    }

    /// An optional single block (`timeouts { ... }`).
    pub fn single(type_name: impl Into<String>, block: Block) -> Self {
        Self::new(type_name, Nesting::Single, block)
    }

    /// An ordered repeatable block.
    pub fn list(type_name: impl Into<String>, block: Block) -> Self {
        Self::new(type_name, Nesting::List, block)
    }

    /// An unordered repeatable block.
    pub fn set(type_name: impl Into<String>, block: Block) -> Self {
        Self::new(type_name, Nesting::Set, block)
    }

    /// A labelled repeatable block.
    pub fn map(type_name: impl Into<String>, block: Block) -> Self {
        Self::new(type_name, Nesting::Map, block)
    }

    /// A block whose value is always present (attributes null when omitted).
    pub fn group(type_name: impl Into<String>, block: Block) -> Self {
        Self::new(type_name, Nesting::Group, block)
    }

    /// Bounds on the number of blocks (builder; LIST/SET, or 1..1 to make a SINGLE required).
    pub fn items(mut self, min: i64, max: i64) -> Self {
        self.min_items = min;
        self.max_items = max;
        self
    }

    /// Any change inside the block replaces the resource (builder).
    pub fn requires_replace(mut self) -> Self {
        self.requires_replace = true;
        self
    }

    /// The min/max Terraform expects on the wire: for SINGLE blocks both must be equal, 0
    /// (optional) or 1 (required); Terraform rejects the schema otherwise ("MinItems and MaxItems
    /// must match in NestingSingle mode").
    pub(crate) fn wire_items(&self) -> (i64, i64) {
        match self.nesting {
            Nesting::Single => (self.min_items, self.min_items),
            _ => (self.min_items, self.max_items),
        }
    }

    fn validate_into(&self, path: &str, in_set: bool, errors: &mut Vec<String>) {
        let (min, max) = self.wire_items();
        match self.nesting {
            Nesting::Single => {
                if !(0..=1).contains(&min) || self.max_items > 1 {
                    errors.push(format!(
                        "{path}: a SINGLE block has min_items 0 or 1 and max_items 1"
                    ));
                }
            }
            Nesting::Group | Nesting::Map => {
                if min != 0 || max != 0 {
                    errors.push(format!(
                        "{path}: GROUP and MAP blocks cannot have min_items/max_items"
                    ));
                }
            }
            Nesting::List | Nesting::Set => {
                if min < 0 || max < 0 {
                    errors.push(format!("{path}: min_items/max_items cannot be negative"));
                }
                if max != 0 && min > max {
                    errors.push(format!(
                        "{path}: min_items {min} is greater than max_items {max}"
                    ));
                }
            }
        }
        let inner_in_set = in_set || self.nesting == Nesting::Set;
        if matches!(self.nesting, Nesting::List | Nesting::Map)
            && contains_dynamic(&self.block.implied_type())
        {
            errors.push(format!(
                "{path}: dynamic attributes inside LIST/MAP blocks change the implied type to \
                 tuple/object; not supported"
            ));
        }
        self.block.validate_into(path, inner_in_set, errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implied_type_follows_nesting() {
        let b = Block::new()
            .attribute(Attribute::string("a").required())
            .block(NestedBlock::single(
                "s",
                Block::new().attribute(Attribute::bool("x").optional()),
            ))
            .block(NestedBlock::list(
                "l",
                Block::new().attribute(Attribute::number("n").optional()),
            ))
            .block(NestedBlock::map("m", Block::new()))
            .block(NestedBlock::set("t", Block::new()));
        let inner_s = object_type([("x", Type::Bool)]);
        let inner_l = object_type([("n", Type::Number)]);
        let empty = Type::Object(BTreeMap::new());
        assert_eq!(
            b.implied_type(),
            object_type([
                ("a", Type::String),
                ("s", inner_s),
                ("l", Type::List(Box::new(inner_l))),
                ("m", Type::Map(Box::new(empty.clone()))),
                ("t", Type::Set(Box::new(empty))),
            ])
        );
    }

    #[test]
    fn validation_catches_what_terraform_rejects() {
        let bad = Schema::new(
            Block::new()
                .attribute(Attribute::string("Bad-Name").required())
                .attribute(Attribute::string("nothing"))
                .attribute(Attribute::string("both").required().optional())
                .attribute(Attribute::string("rc").required().computed())
                .attribute(Attribute::string("dup").optional())
                .block(NestedBlock::single("dup", Block::new()))
                .block(NestedBlock::list("l", Block::new()).items(3, 2))
                .block(NestedBlock::group("g", Block::new()).items(1, 1))
                .block(NestedBlock::set(
                    "s",
                    Block::new().attribute(Attribute::new("d", Type::Dynamic).optional()),
                )),
        )
        .version(-1);
        let errs = bad.validate();
        let joined = errs.join("\n");
        for needle in [
            "negative",
            "Bad-Name",
            "nothing: must be required",
            "both: cannot be both required and optional",
            "rc: cannot be both required and computed",
            "dup: the name is used",
            "l: min_items 3 is greater than max_items 2",
            "g: GROUP and MAP",
            "s.d: dynamic types",
        ] {
            assert!(joined.contains(needle), "missing {needle:?} in:\n{joined}");
        }
        assert_eq!(errs.len(), 9, "{joined}");
    }

    #[test]
    fn write_only_rules() {
        let s =
            Schema::new(Block::new().attribute(Attribute::string("pw").optional().write_only()));
        assert!(s.validate().is_empty());
        assert_eq!(s.validate_without_write_only().len(), 1);
        let s = Schema::new(
            Block::new().attribute(Attribute::string("pw").optional().computed().write_only()),
        );
        assert_eq!(s.validate().len(), 1);
        let s = Schema::new(
            Block::new().attribute(
                Attribute::string("pw")
                    .optional()
                    .write_only()
                    .requires_replace(),
            ),
        );
        let errors = s.validate();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("cannot force replacement"), "{errors:?}");
    }

    #[test]
    fn single_block_wire_items() {
        let b = NestedBlock::single("timeouts", Block::new());
        assert_eq!(b.wire_items(), (0, 0));
        let required = NestedBlock::single("r", Block::new()).items(1, 1);
        assert_eq!(required.wire_items(), (1, 1));
        assert!(Schema::new(Block::new().block(b)).validate().is_empty());
    }
}
