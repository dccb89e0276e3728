//! Registry documentation generated from schemas, as `tfplugindocs` does for Go providers.
//!
//! Schema descriptions are the single source of a provider's docs (docs/ARCHITECTURE.md, "Layers
//! and walls"): the same text Terraform shows in language servers ends up on the registry pages,
//! and a test compares the committed `docs/` with what this module renders, so the two cannot
//! drift. It knows nothing of any particular provider: it walks [`Schema`]s and reads example files
//! from the registry's `examples/` layout.
//!
//! Output layout (what the Terraform Registry reads):
//! - `index.md`: the provider block, with `examples/provider/provider.tf`;
//! - `data-sources/<name>.md`: with `examples/data-sources/<type>/data-source.tf`;
//! - `resources/<name>.md`: with `examples/resources/<type>/resource.tf` and, when present,
//!   an import section from `examples/resources/<type>/import.sh`;
//! - `actions/<name>.md`: with `examples/actions/<type>/action.tf`, and a note that only
//!   Terraform 1.14 and later run actions (naming the resource of the same type, if any, for
//!   the others).
//!
//! `<name>` is the type name without the provider prefix (`hostup_vps_backup` →
//! `vps_backup.md`), as the registry expects.
//!
//! ```
//! use hostup_provider::plugin::docs::{Examples, Options, ProviderDocs};
//! use hostup_provider::plugin::schema::{Attribute, Block, Schema};
//!
//! let docs = ProviderDocs {
//!     name: "toy".into(),
//!     schema: Schema::new(Block::new().description("A toy.")),
//!     resources: vec![("toy_thing".into(), Schema::new(Block::new()
//!         .description("A thing.")
//!         .attribute(Attribute::string("id").computed().description("Its id."))))],
//!     data_sources: vec![],
//!     actions: vec![],
//!     identities: Default::default(),
//! };
//! let pages = docs.render(&Examples::default(), &Options::default());
//! let page = pages.iter().find(|p| p.path == "resources/thing.md").unwrap();
//! assert!(page.content.contains("- `id` (String) Its id."));
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::plugin::framework::{IdentitySchema, Provider};
use crate::plugin::schema::{Attribute, Block, NestedBlock, Nesting, Schema};
use crate::plugin::value::Type;

/// Everything the docs are made of: the provider's name and schemas. Built from a live
/// provider with [`ProviderDocs::from_provider`], or by hand (tests, other front ends).
#[derive(Debug, Clone)]
pub struct ProviderDocs {
    /// The provider's local name and type-name prefix (`hostup`).
    pub name: String,
    /// The `provider` block schema.
    pub schema: Schema,
    /// Managed resource types: full type name and schema, in registration order.
    pub resources: Vec<(String, Schema)>,
    /// Data source types: full type name and schema, in registration order.
    pub data_sources: Vec<(String, Schema)>,
    /// Action types (Terraform 1.14 and later): full type name and the schema of the `config`
    /// block, in registration order. A name may also be a resource type's.
    pub actions: Vec<(String, Schema)>,
    /// Identity schemas (Terraform >= 1.12) by resource type name.
    pub identities: BTreeMap<String, IdentitySchema>,
}

/// Knobs that are not part of any schema.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// An HTML comment placed under each page's front matter, e.g. telling readers which
    /// command regenerates the page. Plain text; `--` is escaped.
    pub generated_notice: Option<String>,
}

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Path relative to the docs directory, `/`-separated (`resources/vps_backup.md`).
    pub path: String,
    /// The Markdown text.
    pub content: String,
}

/// The example files the pages embed, keyed by their path relative to the examples directory
/// (`provider/provider.tf`, `resources/<type>/resource.tf`, ...).
#[derive(Debug, Clone, Default)]
pub struct Examples {
    /// Relative path → file text.
    pub files: BTreeMap<String, String>,
}

/// Which kind of page a type gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Provider,
    DataSource,
    Resource,
    Action,
}

impl Kind {
    fn title(self) -> &'static str {
        match self {
            Kind::Provider => "Provider",
            Kind::DataSource => "Data Source",
            Kind::Resource => "Resource",
            Kind::Action => "Action",
        }
    }

    fn dir(self) -> &'static str {
        match self {
            Kind::Provider => "provider",
            Kind::DataSource => "data-sources",
            Kind::Resource => "resources",
            Kind::Action => "actions",
        }
    }

    fn example_file(self) -> &'static str {
        match self {
            Kind::Provider => "provider.tf",
            Kind::DataSource => "data-source.tf",
            Kind::Resource => "resource.tf",
            Kind::Action => "action.tf",
        }
    }

    /// How messages name a type of this kind: actions share type names with resources, so
    /// they go by their address prefix (`action.hostup_vps_backup`).
    fn label(self, type_name: &str) -> String {
        match self {
            Kind::Action => format!("action.{type_name}"),
            _ => type_name.to_owned(),
        }
    }
}

impl Examples {
    /// Reads the example files the pages use from an `examples/` directory in the registry
    /// layout. Missing files are simply absent; unreadable ones are an error naming the file.
    pub fn load(dir: &Path) -> Result<Examples, String> {
        let mut files = BTreeMap::new();
        let mut read = |rel: String| -> Result<(), String> {
            let path = dir.join(&rel);
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    files.insert(rel, text);
                    Ok(())
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(format!("cannot read {}: {e}", path.display())),
            }
        };
        read("provider/provider.tf".to_owned())?;
        for kind in [Kind::DataSource, Kind::Resource, Kind::Action] {
            let sub = dir.join(kind.dir());
            let entries = match std::fs::read_dir(&sub) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(format!("cannot list {}: {e}", sub.display())),
            };
            let mut names = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|e| format!("cannot list {}: {e}", sub.display()))?;
                if entry.path().is_dir() {
                    names.push(entry.file_name().to_string_lossy().into_owned());
                }
            }
            names.sort();
            for name in names {
                read(format!("{}/{name}/{}", kind.dir(), kind.example_file()))?;
                if kind == Kind::Resource {
                    read(format!("{}/{name}/import.sh", kind.dir()))?;
                    read(format!("{}/{name}/import-by-identity.tf", kind.dir()))?;
                }
            }
        }
        Ok(Examples { files })
    }

    fn example(&self, kind: Kind, type_name: &str) -> Option<&str> {
        let key = match kind {
            Kind::Provider => "provider/provider.tf".to_owned(),
            _ => format!("{}/{type_name}/{}", kind.dir(), kind.example_file()),
        };
        self.files.get(&key).map(String::as_str)
    }

    fn import(&self, type_name: &str) -> Option<&str> {
        self.files
            .get(&format!("resources/{type_name}/import.sh"))
            .map(String::as_str)
    }

    fn import_by_identity(&self, type_name: &str) -> Option<&str> {
        self.files
            .get(&format!("resources/{type_name}/import-by-identity.tf"))
            .map(String::as_str)
    }

    /// Type names that have an example directory (`resources/<type>/...`) for `kind_dir`
    /// (`resources`, `data-sources` or `actions`).
    fn type_names(&self, kind_dir: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .files
            .keys()
            .filter_map(|k| {
                let rest = k.strip_prefix(kind_dir)?.strip_prefix('/')?;
                let (name, _) = rest.split_once('/')?;
                Some(name.to_owned())
            })
            .collect();
        names.dedup();
        names
    }
}

impl ProviderDocs {
    /// Collects the schemas of a live provider (the same calls GetSchema makes).
    pub fn from_provider<P: Provider>(provider: &P) -> ProviderDocs {
        ProviderDocs {
            name: provider.type_name_prefix().to_owned(),
            schema: provider.schema(),
            resources: provider
                .resources()
                .iter()
                .map(|r| (r.type_name().to_owned(), r.schema()))
                .collect(),
            data_sources: provider
                .data_sources()
                .iter()
                .map(|d| (d.type_name().to_owned(), d.schema()))
                .collect(),
            actions: provider
                .actions()
                .iter()
                .map(|a| (a.type_name().to_owned(), a.schema()))
                .collect(),
            identities: provider
                .resources()
                .iter()
                .filter_map(|r| Some((r.type_name().to_owned(), r.identity()?)))
                .collect(),
        }
    }

    /// Each kind of typed page with its types.
    fn typed(&self) -> [(Kind, &Vec<(String, Schema)>); 3] {
        [
            (Kind::DataSource, &self.data_sources),
            (Kind::Resource, &self.resources),
            (Kind::Action, &self.actions),
        ]
    }

    /// Every page, index first, then actions, data sources and resources sorted by path.
    pub fn render(&self, examples: &Examples, options: &Options) -> Vec<Page> {
        let mut pages = vec![Page {
            path: "index.md".to_owned(),
            content: self.render_page(Kind::Provider, &self.name, &self.schema, examples, options),
        }];
        let mut typed: Vec<Page> = Vec::new();
        for (kind, list) in self.typed() {
            for (type_name, schema) in list {
                typed.push(Page {
                    path: format!("{}/{}.md", kind.dir(), self.short_name(type_name)),
                    content: self.render_page(kind, type_name, schema, examples, options),
                });
            }
        }
        typed.sort_by(|a, b| a.path.cmp(&b.path));
        pages.extend(typed);
        pages
    }

    /// What makes the docs incomplete, as readable messages (empty = complete): an attribute,
    /// block or type without a description, an object attribute whose members its description
    /// does not mention (their only docs), a type without an example (or, with an identity,
    /// without an `import-by-identity.tf`), or an example for a type the provider does not
    /// register.
    pub fn problems(&self, examples: &Examples) -> Vec<String> {
        let mut problems = Vec::new();
        if examples.example(Kind::Provider, &self.name).is_none() {
            problems.push("provider: no example at provider/provider.tf".to_owned());
        }
        check_block("provider", &self.schema.block, true, &mut problems);
        for (kind, list) in self.typed() {
            for (type_name, schema) in list {
                let label = kind.label(type_name);
                check_block(&label, &schema.block, true, &mut problems);
                if examples.example(kind, type_name).is_none() {
                    problems.push(format!(
                        "{label}: no example at {}/{type_name}/{}",
                        kind.dir(),
                        kind.example_file()
                    ));
                }
                if kind == Kind::Resource
                    && self.identities.contains_key(type_name)
                    && examples.import_by_identity(type_name).is_none()
                {
                    problems.push(format!(
                        "{type_name}: has an identity but no example at \
                         resources/{type_name}/import-by-identity.tf"
                    ));
                }
            }
            for name in examples.type_names(kind.dir()) {
                if !list.iter().any(|(t, _)| *t == name) {
                    problems.push(format!(
                        "examples/{}/{name}: the provider has no {} of that type",
                        kind.dir(),
                        kind.title().to_lowercase()
                    ));
                }
            }
        }
        problems
    }

    fn short_name<'a>(&self, type_name: &'a str) -> &'a str {
        type_name
            .strip_prefix(self.name.as_str())
            .and_then(|rest| rest.strip_prefix('_'))
            .filter(|rest| !rest.is_empty())
            .unwrap_or(type_name)
    }

    /// The callout every action page carries: which Terraform runs actions, and what to use
    /// elsewhere when the provider has a resource of the same type name.
    fn action_note(&self, type_name: &str) -> String {
        let mut note = "-> **Note:** Only Terraform 1.14 and later run actions; OpenTofu and \
                        earlier Terraform versions do not."
            .to_owned();
        if self.resources.iter().any(|(t, _)| t == type_name) {
            let _ = write!(note, " With those, use the `{type_name}` resource instead.");
        }
        note
    }

    fn render_page(
        &self,
        kind: Kind,
        type_name: &str,
        schema: &Schema,
        examples: &Examples,
        options: &Options,
    ) -> String {
        let mut out = String::new();
        let description = schema.block.description.trim();
        // Front matter: what the registry uses for the page title and the search summary.
        out.push_str("---\n");
        if kind == Kind::Provider {
            let _ = writeln!(out, "page_title: \"{type_name} Provider\"");
        } else {
            let _ = writeln!(
                out,
                "page_title: \"{type_name} {} - {}\"",
                kind.title(),
                self.name
            );
        }
        out.push_str("subcategory: \"\"\n");
        out.push_str("description: |-\n");
        for line in first_paragraph(description).lines() {
            let _ = writeln!(out, "  {line}");
        }
        out.push_str("---\n\n");
        if let Some(notice) = &options.generated_notice {
            let _ = writeln!(out, "<!-- {} -->\n", notice.replace("--", "- -"));
        }
        let _ = writeln!(out, "# {type_name} ({})\n", kind.title());
        if schema.block.deprecated {
            let _ = writeln!(
                out,
                "~> **Deprecated:** {}\n",
                deprecation_text(&schema.block.deprecation_message)
            );
        }
        if !description.is_empty() {
            out.push_str(&with_callouts(description));
            out.push_str("\n\n");
        }
        if kind == Kind::Action {
            out.push_str(&self.action_note(type_name));
            out.push_str("\n\n");
        }
        if let Some(example) = examples.example(kind, type_name) {
            out.push_str("## Example Usage\n\n```terraform\n");
            out.push_str(example.trim_end());
            out.push_str("\n```\n\n");
        }
        out.push_str("## Schema\n");
        let mut nested = Vec::new();
        render_groups(&mut out, &schema.block, "", &mut nested, true);
        while !nested.is_empty() {
            let pending = std::mem::take(&mut nested);
            for item in pending {
                render_nested(&mut out, item, &mut nested);
            }
        }
        if kind == Kind::Resource {
            let identity = self.identities.get(type_name);
            let import = examples.import(type_name);
            if import.is_some() || identity.is_some() {
                out.push_str("\n## Import\n");
            }
            if let Some(import) = import {
                out.push_str("\nImport is supported using the following syntax:\n\n```shell\n");
                out.push_str(import.trim_end());
                out.push_str("\n```\n");
            }
            if let Some(identity) = identity {
                render_identity(&mut out, identity, examples.import_by_identity(type_name));
            }
        }
        out
    }
}

/// The "Import by identity" part of a resource's import section: the `import` block example
/// and the identity's attributes, as tfplugindocs renders them.
fn render_identity(out: &mut String, identity: &IdentitySchema, example: Option<&str>) {
    out.push_str(
        "\n### Import by identity\n\nTerraform 1.12 and later can also import by identity, in \
         an `import` block",
    );
    if identity.import_id.is_some() {
        out.push_str(" (the same object as the import by id above)");
    }
    out.push_str(":\n\n");
    if let Some(example) = example {
        out.push_str("```terraform\n");
        out.push_str(example.trim_end());
        out.push_str("\n```\n\n");
    }
    out.push_str("### Identity Schema\n");
    for (title, required) in [("Required", true), ("Optional", false)] {
        let attrs: Vec<_> = identity
            .attributes
            .iter()
            .filter(|a| a.required_for_import == required && (required || a.optional_for_import))
            .collect();
        if attrs.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n#### {title}\n");
        for a in attrs {
            let _ = writeln!(
                out,
                "- `{}` ({}) {}",
                a.name,
                type_label(&a.ty).0,
                a.description.trim()
            );
        }
    }
}

/// A nested schema section still to be written below the main one.
enum Nested<'a> {
    /// A nested block.
    Block {
        anchor: String,
        path: String,
        block: &'a Block,
    },
    /// The members of an object-typed attribute (or of its collection's element).
    Object {
        anchor: String,
        path: String,
        members: &'a BTreeMap<String, Type>,
    },
}

fn render_nested<'a>(out: &mut String, item: Nested<'a>, more: &mut Vec<Nested<'a>>) {
    match item {
        Nested::Block {
            anchor,
            path,
            block,
        } => {
            let _ = write!(
                out,
                "\n<a id=\"{anchor}\"></a>\n### Nested Schema for `{path}`\n"
            );
            if !block.description.trim().is_empty() {
                let _ = write!(out, "\n{}\n", block.description.trim());
            }
            render_groups(out, block, &path, more, false);
        }
        Nested::Object {
            anchor,
            path,
            members,
        } => {
            let _ = write!(
                out,
                "\n<a id=\"{anchor}\"></a>\n### Nested Schema for `{path}`\n\n"
            );
            for (name, ty) in members {
                let (text, inner) = type_label(ty);
                let _ = write!(out, "- `{name}` ({text})");
                if let Some(members) = inner {
                    let child = format!("{anchor}--{name}");
                    let _ = write!(out, " (see [below for nested schema](#{child}))");
                    more.push(Nested::Object {
                        anchor: child,
                        path: format!("{path}.{name}"),
                        members,
                    });
                }
                out.push('\n');
            }
        }
    }
}

/// Writes the Required / Optional / Read-Only lists of a block's attributes and nested blocks.
/// `parent_path` is the dotted path of the block (empty at the top); `top` selects `### Heading`
/// lists (top-level schema) or `Label:` lists (nested sections).
fn render_groups<'a>(
    out: &mut String,
    block: &'a Block,
    parent_path: &str,
    more: &mut Vec<Nested<'a>>,
    top: bool,
) {
    #[derive(PartialEq, Clone, Copy)]
    enum Group {
        Required,
        Optional,
        ReadOnly,
    }
    let group_of = |a: &Attribute| {
        if a.required {
            Group::Required
        } else if a.optional {
            Group::Optional
        } else {
            Group::ReadOnly
        }
    };
    let block_group = |b: &NestedBlock| {
        if b.min_items > 0 {
            Group::Required
        } else {
            Group::Optional
        }
    };
    let path_of = |name: &str| -> String {
        if parent_path.is_empty() {
            name.to_owned()
        } else {
            format!("{parent_path}.{name}")
        }
    };
    let anchor_of =
        |kind: &str, name: &str| format!("{kind}--{}", path_of(name).replace('.', "--"));
    for (group, label) in [
        (Group::Required, "Required"),
        (Group::Optional, "Optional"),
        (Group::ReadOnly, "Read-Only"),
    ] {
        let attrs: Vec<&Attribute> = block
            .attributes
            .iter()
            .filter(|a| group_of(a) == group)
            .collect();
        let blocks: Vec<&NestedBlock> = block
            .blocks
            .iter()
            .filter(|b| group != Group::ReadOnly && block_group(b) == group)
            .collect();
        if attrs.is_empty() && blocks.is_empty() {
            continue;
        }
        if top {
            let _ = write!(out, "\n### {label}\n\n");
        } else {
            let _ = write!(out, "\n{label}:\n\n");
        }
        for a in attrs {
            let (text, inner) = type_label(&a.ty);
            let mut flags = vec![text];
            if a.sensitive {
                flags.push("Sensitive".to_owned());
            }
            if a.write_only {
                flags.push("Write-only".to_owned());
            }
            if a.deprecated {
                flags.push("Deprecated".to_owned());
            }
            if a.requires_replace {
                flags.push("Forces replacement".to_owned());
            }
            let _ = write!(out, "- `{}` ({})", a.name, flags.join(", "));
            write_description(out, &a.description);
            if a.deprecated {
                write_deprecation(out, &a.deprecation_message);
            }
            if let Some(members) = inner {
                let anchor = anchor_of("nestedatt", &a.name);
                let _ = write!(out, " (see [below for nested schema](#{anchor}))");
                more.push(Nested::Object {
                    anchor,
                    path: path_of(&a.name),
                    members,
                });
            }
            out.push('\n');
        }
        for b in blocks {
            let mut flags = vec![block_label(b)];
            if b.block.deprecated {
                flags.push("Deprecated".to_owned());
            }
            if b.requires_replace {
                flags.push("Forces replacement".to_owned());
            }
            let _ = write!(out, "- `{}` ({})", b.type_name, flags.join(", "));
            write_description(out, &b.block.description);
            if b.block.deprecated {
                write_deprecation(out, &b.block.deprecation_message);
            }
            let anchor = anchor_of("nestedblock", &b.type_name);
            let _ = write!(out, " (see [below for nested schema](#{anchor}))");
            more.push(Nested::Block {
                anchor,
                path: path_of(&b.type_name),
                block: &b.block,
            });
            out.push('\n');
        }
    }
}

/// What a deprecation says: its message, or a plain notice when it has none.
fn deprecation_text(message: &str) -> &str {
    match message.trim() {
        "" => "This is deprecated and will be removed in a future version.",
        m => m,
    }
}

/// Appends a list item's deprecation notice after its description.
fn write_deprecation(out: &mut String, message: &str) {
    let text = deprecation_text(message);
    let _ = write!(
        out,
        " **Deprecated:** {}",
        text.lines().collect::<Vec<_>>().join("\n  ")
    );
}

/// Appends a description after a list item's label, keeping multi-line text inside the item.
fn write_description(out: &mut String, description: &str) {
    let description = description.trim();
    if description.is_empty() {
        return;
    }
    out.push(' ');
    let mut first = true;
    for line in description.lines() {
        if !first {
            out.push('\n');
            if !line.trim().is_empty() {
                out.push_str("  ");
            }
        }
        out.push_str(line.trim_end());
        first = false;
    }
}

/// The label of a type in docs (`String`, `List of Object`, ...), and the object members to
/// document below when it is (a collection of) an object.
fn type_label(ty: &Type) -> (String, Option<&BTreeMap<String, Type>>) {
    match ty {
        Type::String => ("String".into(), None),
        Type::Number => ("Number".into(), None),
        Type::Bool => ("Boolean".into(), None),
        Type::Dynamic => ("Dynamic".into(), None),
        Type::Object(members) => ("Object".into(), Some(members)),
        Type::Tuple(items) => {
            let parts: Vec<String> = items.iter().map(|t| type_label(t).0).collect();
            (format!("Tuple of ({})", parts.join(", ")), None)
        }
        Type::List(t) | Type::Set(t) | Type::Map(t) => {
            let kind = match ty {
                Type::List(_) => "List",
                Type::Set(_) => "Set",
                _ => "Map",
            };
            let (inner, members) = type_label(t);
            (format!("{kind} of {inner}"), members)
        }
    }
}

fn block_label(b: &NestedBlock) -> String {
    let base = match b.nesting {
        Nesting::Single | Nesting::Group => "Block",
        Nesting::List => "Block List",
        Nesting::Set => "Block Set",
        Nesting::Map => "Block Map",
    };
    let mut parts = vec![base.to_owned()];
    if matches!(b.nesting, Nesting::List | Nesting::Set) {
        if b.min_items > 0 {
            parts.push(format!("Min: {}", b.min_items));
        }
        if b.max_items > 0 {
            parts.push(format!("Max: {}", b.max_items));
        }
    }
    parts.join(", ")
}

/// Turns paragraphs that open with a bold `**Warning:`, `**Caution:`/`**Important:` or
/// `**Note:` into the registry's callouts (`!>` red, `~>` yellow, `->` blue).
///
/// Descriptions are also shown by language servers, where the registry's callout syntax would
/// be noise; plain bold text reads well in both places, and the registry page gets the box.
fn with_callouts(description: &str) -> String {
    description
        .split("\n\n")
        .map(|para| {
            let lead = para.trim_start();
            let lower = lead.to_ascii_lowercase();
            let marker = [
                ("**warning", "!>"),
                ("**danger", "!>"),
                ("**caution", "~>"),
                ("**important", "~>"),
                ("**note", "->"),
            ]
            .iter()
            .find(|(word, _)| {
                lower.starts_with(word) && lower[word.len()..].starts_with([':', '*'])
            })
            .map(|(_, marker)| *marker);
            match marker {
                Some(marker) => format!("{marker} {lead}"),
                None => para.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The first paragraph of a description, for the front matter summary.
fn first_paragraph(description: &str) -> &str {
    description.split("\n\n").next().unwrap_or_default().trim()
}

fn check_block(path: &str, block: &Block, top: bool, problems: &mut Vec<String>) {
    if block.description.trim().is_empty() {
        let what = if top { "the type" } else { "the block" };
        problems.push(format!("{path}: {what} has no description"));
    }
    for a in &block.attributes {
        let at = format!("{path}.{}", a.name);
        if a.description.trim().is_empty() {
            problems.push(format!("{at}: no description"));
        }
        if let (_, Some(members)) = type_label(&a.ty) {
            check_members(&at, &a.description, members, problems);
        }
    }
    for b in &block.blocks {
        check_block(
            &format!("{path}.{}", b.type_name),
            &b.block,
            false,
            problems,
        );
    }
}

/// Object members have no description field of their own, so the attribute's description must
/// name each of them (as `` `member` ``) for the docs to explain them.
fn check_members(
    path: &str,
    description: &str,
    members: &BTreeMap<String, Type>,
    problems: &mut Vec<String>,
) {
    for (name, ty) in members {
        if !description.contains(&format!("`{name}`")) {
            problems.push(format!(
                "{path}.{name}: the description of `{path}` does not explain `{name}`"
            ));
        }
        if let (_, Some(inner)) = type_label(ty) {
            check_members(&format!("{path}.{name}"), description, inner, problems);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::schema::object_type;

    fn toy() -> ProviderDocs {
        let thing = Schema::new(
            Block::new()
                .description("Makes a thing.\n\n!> **Warning:** it is loud.")
                .attribute(
                    Attribute::string("parent_id")
                        .required()
                        .requires_replace()
                        .description("The parent."),
                )
                .attribute(
                    Attribute::map("tags", Type::String)
                        .optional()
                        .description("Free-form tags.\nSecond line."),
                )
                .attribute(
                    Attribute::string("secret")
                        .optional()
                        .sensitive()
                        .description("A secret."),
                )
                .attribute(Attribute::string("id").computed().description("The id."))
                .attribute(
                    Attribute::object("gate", [("allowed", Type::Bool), ("reason", Type::String)])
                        .computed()
                        .description("The gate: `allowed` and `reason`."),
                )
                .attribute(
                    Attribute::list(
                        "items",
                        object_type([
                            ("name", Type::String),
                            ("size", object_type([("gb", Type::Number)])),
                        ]),
                    )
                    .computed()
                    .description("Items: `name`, `size` with `gb`."),
                )
                .block(NestedBlock::single(
                    "timeouts",
                    Block::new().description("How long to wait.").attribute(
                        Attribute::string("create")
                            .optional()
                            .description("Create."),
                    ),
                ))
                .block(
                    NestedBlock::list(
                        "rule",
                        Block::new()
                            .description("A rule.")
                            .attribute(Attribute::number("port").required().description("Port."))
                            .block(NestedBlock::set(
                                "match",
                                Block::new()
                                    .description("A match.")
                                    .attribute(Attribute::bool("on").computed().description("On.")),
                            )),
                    )
                    .items(1, 3),
                ),
        );
        let lookup = Schema::new(
            Block::new()
                .description("Looks a thing up.")
                .attribute(
                    Attribute::string("name")
                        .required()
                        .description("Its name."),
                )
                .attribute(
                    Attribute::bool("ok")
                        .computed()
                        .description("Whether it is ok."),
                ),
        );
        // An action named like the resource (its page names the resource for older
        // Terraform), and one with no such resource.
        let poke = Schema::new(
            Block::new()
                .description("Pokes a thing now.")
                .attribute(
                    Attribute::string("parent_id")
                        .required()
                        .description("The parent."),
                )
                .attribute(
                    Attribute::string("timeout")
                        .optional()
                        .description("How long to wait."),
                ),
        );
        let ping = Schema::new(
            Block::new()
                .description("Pings.")
                .attribute(Attribute::string("host").required().description("Where.")),
        );
        ProviderDocs {
            name: "toy".into(),
            schema: Schema::new(
                Block::new()
                    .description("The toy provider.\n\nMore text.")
                    .attribute(
                        Attribute::string("token")
                            .optional()
                            .sensitive()
                            .description("The token."),
                    ),
            ),
            resources: vec![("toy_thing".into(), thing)],
            data_sources: vec![("toy_lookup".into(), lookup)],
            actions: vec![("toy_thing".into(), poke), ("toy_ping".into(), ping)],
            identities: Default::default(),
        }
    }

    fn examples() -> Examples {
        let mut files = BTreeMap::new();
        for (k, v) in [
            ("provider/provider.tf", "provider \"toy\" {}\n"),
            (
                "resources/toy_thing/resource.tf",
                "resource \"toy_thing\" \"a\" {}\n\n",
            ),
            (
                "resources/toy_thing/import.sh",
                "terraform import toy_thing.a p/1\n",
            ),
            (
                "data-sources/toy_lookup/data-source.tf",
                "data \"toy_lookup\" \"a\" {}\n",
            ),
            (
                "actions/toy_thing/action.tf",
                "action \"toy_thing\" \"a\" {\n  config {\n    parent_id = \"p\"\n  }\n}\n",
            ),
            (
                "actions/toy_ping/action.tf",
                "action \"toy_ping\" \"a\" {}\n",
            ),
        ] {
            files.insert(k.to_owned(), v.to_owned());
        }
        Examples { files }
    }

    fn page(pages: &[Page], path: &str) -> String {
        pages
            .iter()
            .find(|p| p.path == path)
            .map(|p| p.content.clone())
            .unwrap_or_else(|| panic!("no page {path}"))
    }

    #[test]
    fn an_identity_adds_import_by_identity_and_its_schema() {
        use crate::plugin::framework::IdentityAttribute;
        let mut docs = toy();
        let mut ex = examples();
        assert!(docs.problems(&ex).is_empty(), "{:?}", docs.problems(&ex));
        docs.identities.insert(
            "toy_thing".into(),
            IdentitySchema::new()
                .attribute(
                    IdentityAttribute::string("p")
                        .required_for_import()
                        .description("The p."),
                )
                .attribute(
                    IdentityAttribute::string("q")
                        .optional_for_import()
                        .description("The q."),
                )
                .import_id("{p}"),
        );
        assert!(docs.problems(&ex)[0].contains("import-by-identity.tf"));
        ex.files.insert(
            "resources/toy_thing/import-by-identity.tf".into(),
            "import {\n  to = toy_thing.a\n  identity = { p = \"p\" }\n}\n".into(),
        );
        assert!(docs.problems(&ex).is_empty());
        let text = page(&docs.render(&ex, &Options::default()), "resources/thing.md");
        let tail = &text[text.find("## Import").unwrap()..];
        assert_eq!(tail.matches("## Import\n").count(), 1, "{tail}");
        for want in [
            "### Import by identity\n",
            "identity = { p = \"p\" }",
            "### Identity Schema\n\n#### Required\n\n- `p` (String) The p.\n",
            "#### Optional\n\n- `q` (String) The q.\n",
        ] {
            assert!(tail.contains(want), "{want:?} not in:\n{tail}");
        }
    }

    #[test]
    fn pages_follow_the_registry_layout() {
        let pages = toy().render(&examples(), &Options::default());
        let paths: Vec<&str> = pages.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "index.md",
                "actions/ping.md",
                "actions/thing.md",
                "data-sources/lookup.md",
                "resources/thing.md"
            ]
        );
    }

    #[test]
    fn action_page_in_full() {
        let text = page(
            &toy().render(&examples(), &Options::default()),
            "actions/thing.md",
        );
        let expected = r#"---
page_title: "toy_thing Action - toy"
subcategory: ""
description: |-
  Pokes a thing now.
---

# toy_thing (Action)

Pokes a thing now.

-> **Note:** Only Terraform 1.14 and later run actions; OpenTofu and earlier Terraform versions do not. With those, use the `toy_thing` resource instead.

## Example Usage

```terraform
action "toy_thing" "a" {
  config {
    parent_id = "p"
  }
}
```

## Schema

### Required

- `parent_id` (String) The parent.

### Optional

- `timeout` (String) How long to wait.
"#;
        assert_eq!(text, expected, "got:\n{text}");
    }

    #[test]
    fn action_note_names_a_resource_only_when_there_is_one() {
        let pages = toy().render(&examples(), &Options::default());
        let ping = page(&pages, "actions/ping.md");
        assert!(
            ping.contains("earlier Terraform versions do not.\n"),
            "{ping}"
        );
        assert!(!ping.contains("resource instead"), "{ping}");
    }

    #[test]
    fn resource_page_in_full() {
        let options = Options {
            generated_notice: Some("generated -- do not edit".into()),
        };
        let text = page(&toy().render(&examples(), &options), "resources/thing.md");
        let expected = r#"---
page_title: "toy_thing Resource - toy"
subcategory: ""
description: |-
  Makes a thing.
---

<!-- generated - - do not edit -->

# toy_thing (Resource)

Makes a thing.

!> **Warning:** it is loud.

## Example Usage

```terraform
resource "toy_thing" "a" {}
```

## Schema

### Required

- `parent_id` (String, Forces replacement) The parent.
- `rule` (Block List, Min: 1, Max: 3) A rule. (see [below for nested schema](#nestedblock--rule))

### Optional

- `tags` (Map of String) Free-form tags.
  Second line.
- `secret` (String, Sensitive) A secret.
- `timeouts` (Block) How long to wait. (see [below for nested schema](#nestedblock--timeouts))

### Read-Only

- `id` (String) The id.
- `gate` (Object) The gate: `allowed` and `reason`. (see [below for nested schema](#nestedatt--gate))
- `items` (List of Object) Items: `name`, `size` with `gb`. (see [below for nested schema](#nestedatt--items))

<a id="nestedblock--rule"></a>
### Nested Schema for `rule`

A rule.

Required:

- `port` (Number) Port.

Optional:

- `match` (Block Set) A match. (see [below for nested schema](#nestedblock--rule--match))

<a id="nestedblock--timeouts"></a>
### Nested Schema for `timeouts`

How long to wait.

Optional:

- `create` (String) Create.

<a id="nestedatt--gate"></a>
### Nested Schema for `gate`

- `allowed` (Boolean)
- `reason` (String)

<a id="nestedatt--items"></a>
### Nested Schema for `items`

- `name` (String)
- `size` (Object) (see [below for nested schema](#nestedatt--items--size))

<a id="nestedblock--rule--match"></a>
### Nested Schema for `rule.match`

A match.

Read-Only:

- `on` (Boolean) On.

<a id="nestedatt--items--size"></a>
### Nested Schema for `items.size`

- `gb` (Number)

## Import

Import is supported using the following syntax:

```shell
terraform import toy_thing.a p/1
```
"#;
        assert_eq!(text, expected, "got:\n{text}");
    }

    #[test]
    fn index_and_data_source_pages() {
        let pages = toy().render(&examples(), &Options::default());
        let index = page(&pages, "index.md");
        assert!(index.starts_with("---\npage_title: \"toy Provider\"\n"));
        assert!(index.contains("description: |-\n  The toy provider.\n---\n"));
        assert!(index.contains("# toy (Provider)\n\nThe toy provider.\n\nMore text.\n"));
        assert!(index.contains("```terraform\nprovider \"toy\" {}\n```"));
        assert!(index.contains("- `token` (String, Sensitive) The token."));
        assert!(!index.contains("## Import"));
        let ds = page(&pages, "data-sources/lookup.md");
        assert!(ds.contains("# toy_lookup (Data Source)"));
        assert!(ds.contains("### Required\n\n- `name` (String) Its name.\n"));
        assert!(ds.contains("### Read-Only\n\n- `ok` (Boolean) Whether it is ok.\n"));
        assert!(!ds.contains("## Import"));
    }

    #[test]
    fn missing_examples_leave_sections_out() {
        let pages = toy().render(&Examples::default(), &Options::default());
        let text = page(&pages, "resources/thing.md");
        assert!(!text.contains("## Example Usage"));
        assert!(!text.contains("## Import"));
        assert!(text.contains("## Schema"));
    }

    #[test]
    fn deprecations_show_their_message() {
        let mut docs = toy();
        let thing = &mut docs.resources[0].1;
        thing.block = std::mem::take(&mut thing.block).deprecated("Use `toy_other` instead.");
        thing.block.attributes[1] = thing.block.attributes[1]
            .clone()
            .deprecated("Set `labels` instead.");
        thing.block.blocks[0].block =
            std::mem::take(&mut thing.block.blocks[0].block).deprecated("");
        let text = page(
            &docs.render(&examples(), &Options::default()),
            "resources/thing.md",
        );
        assert!(
            text.contains(
                "# toy_thing (Resource)\n\n~> **Deprecated:** Use `toy_other` instead.\n\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "- `tags` (Map of String, Deprecated) Free-form tags.\n  Second line. \
                 **Deprecated:** Set `labels` instead.\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "- `timeouts` (Block, Deprecated) How long to wait. **Deprecated:** \
                 This is deprecated and will be removed in a future version. (see"
            ),
            "{text}"
        );
    }

    #[test]
    fn complete_docs_have_no_problems() {
        assert_eq!(toy().problems(&examples()), Vec::<String>::new());
    }

    #[test]
    fn problems_name_what_is_missing() {
        let mut docs = toy();
        docs.resources.push((
            "toy_bare".into(),
            Schema::new(
                Block::new()
                    .attribute(Attribute::string("x").optional())
                    .attribute(
                        Attribute::object("o", [("a", Type::Bool), ("b", Type::Bool)])
                            .computed()
                            .description("Only `a`."),
                    )
                    .block(NestedBlock::single("t", Block::new())),
            ),
        ));
        let mut ex = examples();
        ex.files.remove("provider/provider.tf");
        ex.files
            .insert("data-sources/toy_gone/data-source.tf".into(), String::new());
        ex.files.remove("actions/toy_ping/action.tf");
        ex.files
            .insert("actions/toy_gone/action.tf".into(), String::new());
        docs.actions.push((
            "toy_bare".into(),
            Schema::new(Block::new().attribute(Attribute::string("y").required())),
        ));
        let problems = docs.problems(&ex);
        let expected = [
            "provider: no example at provider/provider.tf",
            "examples/data-sources/toy_gone: the provider has no data source of that type",
            "toy_bare: the type has no description",
            "toy_bare.x: no description",
            "toy_bare.o.b: the description of `toy_bare.o` does not explain `b`",
            "toy_bare.t: the block has no description",
            "toy_bare: no example at resources/toy_bare/resource.tf",
            "action.toy_ping: no example at actions/toy_ping/action.tf",
            "action.toy_bare: the type has no description",
            "action.toy_bare.y: no description",
            "action.toy_bare: no example at actions/toy_bare/action.tf",
            "examples/actions/toy_gone: the provider has no action of that type",
        ];
        assert_eq!(problems, expected, "{problems:#?}");
    }

    #[test]
    fn short_names_strip_only_the_provider_prefix() {
        let docs = toy();
        assert_eq!(docs.short_name("toy_thing"), "thing");
        assert_eq!(docs.short_name("toyota_car"), "toyota_car");
        assert_eq!(docs.short_name("toy_"), "toy_");
    }

    #[test]
    fn bold_warnings_become_registry_callouts() {
        let text = with_callouts(
            "Intro.\n\n**Warning: this destroys data.**\n\n**Note:** fine.\n\n\
             **Important**: read.\n\n**Warnings are** not a label.\n\nA **Warning:** inside.",
        );
        assert_eq!(
            text,
            "Intro.\n\n!> **Warning: this destroys data.**\n\n-> **Note:** fine.\n\n\
             ~> **Important**: read.\n\n**Warnings are** not a label.\n\nA **Warning:** inside."
        );
    }

    #[test]
    fn type_labels() {
        assert_eq!(
            type_label(&Type::Set(Box::new(Type::Number))).0,
            "Set of Number"
        );
        assert_eq!(
            type_label(&Type::Map(Box::new(Type::List(Box::new(Type::Bool))))).0,
            "Map of List of Boolean"
        );
        assert_eq!(
            type_label(&Type::Tuple(vec![Type::String, Type::Dynamic])).0,
            "Tuple of (String, Dynamic)"
        );
    }

    #[test]
    fn examples_load_from_the_registry_layout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for (rel, text) in [
            ("provider/provider.tf", "p"),
            ("resources/toy_thing/resource.tf", "r"),
            ("resources/toy_thing/import.sh", "i"),
            ("resources/toy_thing/other.txt", "ignored"),
            ("data-sources/toy_lookup/data-source.tf", "d"),
            ("actions/toy_thing/action.tf", "a"),
            ("actions/toy_thing/import.sh", "ignored"),
            ("quickstart/main.tf", "ignored"),
        ] {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        let ex = Examples::load(root).expect("load");
        let keys: Vec<&str> = ex.files.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "actions/toy_thing/action.tf",
                "data-sources/toy_lookup/data-source.tf",
                "provider/provider.tf",
                "resources/toy_thing/import.sh",
                "resources/toy_thing/resource.tf",
            ]
        );
        assert_eq!(ex.type_names("resources"), ["toy_thing"]);
        assert_eq!(ex.type_names("actions"), ["toy_thing"]);
        assert!(Examples::load(&root.join("absent"))
            .expect("absent dir is empty")
            .files
            .is_empty());
    }
}
