//! Every example the docs embed, and the quickstart, must be what `terraform fmt` writes and
//! must pass `terraform validate` against the provider's real schemas. The project's scripts
//! that users run by hand (demo, filesystem-mirror install, release) are exercised here too.
//!
//! Set `HOSTUP_EXTRA_TERRAFORM` to a `:`-separated list of other terraform binaries (e.g.
//! Terraform 1.0.3) to validate the examples with those as well.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hostup_provider::plugin::docs::ProviderDocs;
use hostup_provider::plugin::schema::Schema;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn provider_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_terraform-provider-hostup"))
}

/// The terraform on PATH, then any listed in HOSTUP_EXTRA_TERRAFORM.
fn terraforms() -> Vec<PathBuf> {
    let mut list = vec![PathBuf::from("terraform")];
    if let Some(extra) = std::env::var_os("HOSTUP_EXTRA_TERRAFORM") {
        list.extend(std::env::split_paths(&extra).filter(|p| !p.as_os_str().is_empty()));
    }
    list
}

/// Every example directory that `terraform validate` checks: provider/, data-sources/*,
/// resources/*, quickstart/, policy/, restore-backup/.
///
/// Not examples/actions/*: Terraform before 1.14 rejects their `action` blocks ("Blocks of type
/// "action" are not expected here"), because `action` is a top-level block only since 1.14
/// (internal/configs/parser_config.go: `configFileSchema` lists `Type: "action"` in v1.14.0, not
/// in v1.11.4, the terraform on PATH). [`action_examples_match_the_action_schemas`] checks them
/// instead, and validates what is left of each without its actions.
fn example_dirs() -> Vec<PathBuf> {
    let examples = root().join("examples");
    let mut dirs = vec![
        examples.join("provider"),
        examples.join("quickstart"),
        examples.join("policy"),
        examples.join("restore-backup"),
    ];
    for kind in ["data-sources", "resources"] {
        let entries = std::fs::read_dir(examples.join(kind))
            .unwrap_or_else(|e| panic!("examples/{kind}: {e}"));
        for entry in entries {
            let path = entry.expect("read examples dir").path();
            if path.is_dir() {
                dirs.push(path);
            }
        }
    }
    dirs.sort();
    dirs
}

/// A scratch area with a CLI config whose dev_overrides run the provider cargo built.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("tempdir");
        // A directory holding only the provider binary: target/debug also holds
        // `terraform-provider-hostup.d`, which dev_overrides could pick up instead.
        let plugins = dir.path().join("plugins");
        std::fs::create_dir_all(&plugins).expect("plugins dir");
        std::os::unix::fs::symlink(provider_bin(), plugins.join("terraform-provider-hostup"))
            .expect("symlink provider");
        Scratch::with_cli_config(
            dir,
            &format!(
                "provider_installation {{\n  dev_overrides {{\n    \"hostup/hostup\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
                plugins.display()
            ),
        )
    }

    fn with_cli_config(dir: tempfile::TempDir, config: &str) -> Scratch {
        std::fs::write(dir.path().join("terraform.rc"), config).expect("write cli config");
        Scratch { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A terraform command isolated from the user's environment.
    fn terraform(&self, terraform: &Path, workdir: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new(terraform);
        cmd.args(args).current_dir(workdir);
        for k in [
            "TF_LOG",
            "TF_LOG_PATH",
            "TF_LOG_PROVIDER",
            "TF_REATTACH_PROVIDERS",
            "TF_DATA_DIR",
            "TF_PLUGIN_CACHE_DIR",
            "HOSTUP_API_KEY",
            "HOSTUP_ENDPOINT",
        ] {
            cmd.env_remove(k);
        }
        cmd.env("TF_CLI_CONFIG_FILE", self.path().join("terraform.rc"))
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", terraform.display()))
    }

    /// Copies the `.tf` files of `example` into a fresh working directory. Examples in the
    /// registry layout (data-sources/, resources/) show only the resource, as registry pages
    /// do; for those a `terraform` block naming the provider's source address is added.
    fn copy_example(&self, example: &Path) -> PathBuf {
        let rel = example
            .strip_prefix(root().join("examples"))
            .expect("example under examples/");
        let work = self.path().join("work").join(rel);
        std::fs::create_dir_all(&work).expect("work dir");
        let mut declares_source = false;
        for entry in std::fs::read_dir(example).expect("read example") {
            let path = entry.expect("example entry").path();
            // `import { identity = {…} }` needs Terraform >= 1.12 (1.11 rejects the argument);
            // `examples_are_formatted` still checks the file, and the identity it shows is
            // replayed against the provider in tests/protocol_identity.rs.
            let identity_import = path
                .file_name()
                .is_some_and(|n| n == "import-by-identity.tf");
            if path.extension().is_some_and(|e| e == "tf") && !identity_import {
                let text = std::fs::read_to_string(&path).expect("read example file");
                declares_source |= text.contains("required_providers");
                std::fs::write(work.join(path.file_name().expect("file name")), text)
                    .expect("copy example file");
            }
        }
        if !declares_source {
            std::fs::write(
                work.join("zz_test_providers.tf"),
                "terraform {\n  required_providers {\n    hostup = {\n      source = \"hostup/hostup\"\n    }\n  }\n}\n",
            )
            .expect("write providers file");
        }
        work
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// examples/actions/*, one directory per action type.
fn action_example_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("examples/actions"))
        .unwrap_or_else(|e| panic!("examples/actions: {e}"))
        .map(|entry| entry.expect("read examples/actions").path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// `terraform fmt` is syntax-only (hclwrite knows no block types), so Terraform 1.11.4 formats
/// the examples with `action` blocks as well: examples/actions/ is covered here.
#[test]
fn examples_are_formatted() {
    let scratch = Scratch::new();
    for terraform in terraforms() {
        let out = scratch.terraform(
            &terraform,
            &root(),
            &[
                "fmt",
                "-check",
                "-diff",
                "-recursive",
                "-no-color",
                "examples",
            ],
        );
        assert!(
            out.status.success(),
            "`{} fmt -check -recursive examples` wants changes (run `terraform fmt -recursive examples`):\n{}",
            terraform.display(),
            text(&out)
        );
    }
}

#[test]
fn every_example_validates() {
    let scratch = Scratch::new();
    let dirs = example_dirs();
    assert!(
        dirs.len() >= 8,
        "expected the registry layout, found {dirs:?}"
    );
    let mut failures = Vec::new();
    for terraform in terraforms() {
        for dir in &dirs {
            let work = scratch.copy_example(dir);
            let out = scratch.terraform(&terraform, &work, &["validate", "-no-color"]);
            let stdout = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() || !stdout.contains("The configuration is valid") {
                failures.push(format!(
                    "{} validate {}:\n{}",
                    terraform.display(),
                    dir.display(),
                    text(&out)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The action examples cannot go through `terraform validate` here (see [`example_dirs`]), so:
/// every `action` block names a registered action type, its `config` holds only that action's
/// arguments and all its required ones; every `action.TYPE.NAME` (in `action_trigger` or in a
/// comment showing `-invoke`) names an action the example declares, with the events Terraform
/// knows; each `hostup_` resource and data source uses arguments of its schema. What is left
/// with the actions and `action_trigger` blocks cut out must pass `terraform validate`.
#[test]
fn action_examples_match_the_action_schemas() {
    let schemas = Schemas::new();
    let dirs = action_example_dirs();
    let names: Vec<String> = dirs
        .iter()
        .map(|d| d.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    let registered: Vec<&str> = schemas.actions.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(names, {
        let mut r = registered.clone();
        r.sort();
        r
    });

    let scratch = Scratch::new();
    let mut failures = Vec::new();
    for (dir, name) in dirs.iter().zip(&names) {
        let path = dir.join("action.tf");
        let source =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let problems = check_action_example(name, &source, &schemas);
        failures.extend(
            problems
                .into_iter()
                .map(|p| format!("{}: {p}", path.display())),
        );

        // The rest of the example against the real schemas.
        let Ok(blocks) = parse_hcl(&source) else {
            continue;
        };
        let rest = without_actions(&source, &blocks);
        let work = scratch.path().join("work/actions-rest").join(name);
        std::fs::create_dir_all(&work).expect("work dir");
        std::fs::write(work.join("main.tf"), rest).expect("write rest");
        std::fs::write(
            work.join("zz_test_providers.tf"),
            "terraform {\n  required_providers {\n    hostup = {\n      source = \"hostup/hostup\"\n    }\n  }\n}\n",
        )
        .expect("write providers file");
        let out = scratch.terraform(Path::new("terraform"), &work, &["validate", "-no-color"]);
        if !out.status.success() {
            failures.push(format!(
                "{} without its actions does not validate:\n{}",
                path.display(),
                text(&out)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The scan above finds what Terraform 1.14 would reject.
#[test]
fn action_example_check_catches_mistakes() {
    let schemas = Schemas::new();
    let good = "action \"hostup_vps_backup\" \"b\" {\n  config {\n    vps_id = \"vps_1\"\n  }\n}\n\
                # terraform apply -invoke=action.hostup_vps_backup.b\n";
    assert_eq!(
        check_action_example("hostup_vps_backup", good, &schemas),
        Vec::<String>::new()
    );
    for (text, wanted) in [
        (
            "action \"hostup_vps_backup\" \"b\" {\n  config {\n    vps_id = \"v\"\n    triggers = {}\n  }\n}\n",
            "argument `triggers`",
        ),
        (
            "action \"hostup_vps_backup\" \"b\" {\n  config {\n    note = \"x\"\n  }\n}\n",
            "lacks required argument `vps_id`",
        ),
        (
            "action \"hostup_vps_reboot\" \"b\" {\n  config {}\n}\n",
            "no action type `hostup_vps_reboot`",
        ),
        (
            "action \"hostup_vps_backup\" \"b\" {\n  config {\n    vps_id = \"v\"\n  }\n}\n\
             # terraform apply -invoke=action.hostup_vps_backup.c\n",
            "`action.hostup_vps_backup.c`",
        ),
        (
            "action \"hostup_vps_backup\" \"b\" {\n  config {\n    vps_id = \"v\"\n  }\n}\n\
             resource \"hostup_vps_snapshot_schedule\" \"s\" {\n  vps_id = \"v\"\n  \
             lifecycle {\n    action_trigger {\n      events  = [before_destroy]\n      \
             actions = [action.hostup_vps_backup.b]\n    }\n  }\n}\n",
            "event `before_destroy`",
        ),
        (
            "resource \"hostup_vps_snapshot_schedule\" \"s\" {\n  vps = \"v\"\n}\n",
            "argument `vps`",
        ),
        ("action \"hostup_vps_backup\" \"b\" {\n  config {\n", "unclosed"),
    ] {
        let problems = check_action_example("hostup_vps_backup", text, &schemas);
        assert!(
            problems.iter().any(|p| p.contains(wanted)),
            "{wanted:?} not in {problems:?} for:\n{text}"
        );
    }
}

/// The provider's schemas by kind, as the docs see them.
struct Schemas {
    resources: Vec<(String, Schema)>,
    data_sources: Vec<(String, Schema)>,
    actions: Vec<(String, Schema)>,
}

impl Schemas {
    fn new() -> Schemas {
        let docs = ProviderDocs::from_provider(&hostup_provider::provider::new());
        Schemas {
            resources: docs.resources,
            data_sources: docs.data_sources,
            actions: docs.actions,
        }
    }
}

fn find<'a>(list: &'a [(String, Schema)], type_name: &str) -> Option<&'a Schema> {
    list.iter().find(|(t, _)| t == type_name).map(|(_, s)| s)
}

/// What Terraform 1.14 would reject in an action example (see
/// [`action_examples_match_the_action_schemas`]); `dir` is the action type it documents.
fn check_action_example(dir: &str, text: &str, schemas: &Schemas) -> Vec<String> {
    let blocks = match parse_hcl(text) {
        Ok(blocks) => blocks,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    let mut declared = Vec::new();
    for b in blocks.iter().filter(|b| b.kind == "action") {
        let [ty, name] = b.labels.as_slice() else {
            problems.push(format!(
                "line {}: an action block needs a type and a name",
                b.line
            ));
            continue;
        };
        declared.push(format!("action.{ty}.{name}"));
        let Some(schema) = find(&schemas.actions, ty) else {
            problems.push(format!(
                "line {}: the provider has no action type `{ty}`",
                b.line
            ));
            continue;
        };
        // internal/configs/action.go, actionBlockSchema: these arguments and one `config`.
        for a in &b.attributes {
            if !["count", "for_each", "provider"].contains(&a.name.as_str()) {
                problems.push(format!(
                    "line {}: `{}` is not an action argument",
                    a.line, a.name
                ));
            }
        }
        let configs: Vec<&HclBlock> = b.blocks.iter().filter(|c| c.kind == "config").collect();
        if let Some(other) = b.blocks.iter().find(|c| c.kind != "config") {
            problems.push(format!(
                "line {}: no `{}` block in an action",
                other.line, other.kind
            ));
        }
        match configs.as_slice() {
            [config] => check_arguments(&format!("action {ty}"), config, schema, &mut problems),
            [] => check_arguments(
                &format!("action {ty}"),
                &HclBlock::empty(b.line),
                schema,
                &mut problems,
            ),
            _ => problems.push(format!("line {}: more than one config block", b.line)),
        }
    }
    if !declared
        .iter()
        .any(|d| d.starts_with(&format!("action.{dir}.")))
    {
        problems.push(format!("no `action \"{dir}\"` block"));
    }
    for reference in action_references(text) {
        if !declared.contains(&reference) {
            problems.push(format!("`{reference}` names no action declared here"));
        }
    }
    for b in &blocks {
        let (list, what) = match b.kind.as_str() {
            "resource" => (&schemas.resources, "resource"),
            "data" => (&schemas.data_sources, "data source"),
            _ => continue,
        };
        let Some(ty) = b.labels.first() else { continue };
        if let Some(lifecycle) = b.blocks.iter().find(|l| l.kind == "lifecycle") {
            for trigger in lifecycle
                .blocks
                .iter()
                .filter(|t| t.kind == "action_trigger")
            {
                check_trigger(trigger, &mut problems);
            }
        }
        if !ty.starts_with("hostup_") {
            continue;
        }
        let Some(schema) = find(list, ty) else {
            problems.push(format!(
                "line {}: the provider has no {what} type `{ty}`",
                b.line
            ));
            continue;
        };
        let mut own = b.clone();
        own.attributes.retain(|a| {
            !["count", "for_each", "provider", "depends_on"].contains(&a.name.as_str())
        });
        own.blocks.retain(|x| x.kind != "lifecycle");
        check_arguments(&format!("{what} {ty}"), &own, schema, &mut problems);
    }
    problems
}

/// The arguments of `block` against a schema: each one known and settable, the required all
/// there. Nested blocks are checked by name.
fn check_arguments(what: &str, block: &HclBlock, schema: &Schema, problems: &mut Vec<String>) {
    for a in &block.attributes {
        match schema.block.attributes.iter().find(|s| s.name == a.name) {
            Some(s) if s.required || s.optional => {}
            Some(_) => problems.push(format!(
                "line {}: {what}: argument `{}` is read-only",
                a.line, a.name
            )),
            None => problems.push(format!(
                "line {}: {what} has no argument `{}`",
                a.line, a.name
            )),
        }
    }
    for s in schema.block.attributes.iter().filter(|s| s.required) {
        if !block.attributes.iter().any(|a| a.name == s.name) {
            problems.push(format!(
                "line {}: {what} lacks required argument `{}`",
                block.line, s.name
            ));
        }
    }
    for b in &block.blocks {
        if !schema.block.blocks.iter().any(|s| s.type_name == b.kind) {
            problems.push(format!("line {}: {what} has no block `{}`", b.line, b.kind));
        }
    }
}

/// An `action_trigger` block (internal/configs/action.go, actionTriggerSchema and the events
/// decodeActionTriggerBlock accepts).
fn check_trigger(trigger: &HclBlock, problems: &mut Vec<String>) {
    for a in &trigger.attributes {
        if !["events", "actions", "condition"].contains(&a.name.as_str()) {
            problems.push(format!(
                "line {}: `{}` is not an action_trigger argument",
                a.line, a.name
            ));
        }
    }
    for required in ["events", "actions"] {
        if !trigger.attributes.iter().any(|a| a.name == required) {
            problems.push(format!(
                "line {}: action_trigger lacks `{required}`",
                trigger.line
            ));
        }
    }
    if let Some(events) = trigger.attributes.iter().find(|a| a.name == "events") {
        for word in &events.words {
            if ![
                "before_create",
                "after_create",
                "before_update",
                "after_update",
            ]
            .contains(&word.as_str())
            {
                problems.push(format!(
                    "line {}: Terraform has no action_trigger event `{word}`",
                    events.line
                ));
            }
        }
    }
}

/// Every `action.TYPE.NAME` in the text, comments included (where `-invoke` is shown).
fn action_references(text: &str) -> Vec<String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("action.") {
        let before = rest[..at].chars().next_back();
        let tail = &rest[at + "action.".len()..];
        rest = tail;
        if before.is_some_and(|c| word(c) || c == '.') {
            continue;
        }
        let ty: String = tail.chars().take_while(|&c| word(c)).collect();
        let Some(after) = tail[ty.len()..].strip_prefix('.') else {
            continue;
        };
        let name: String = after.chars().take_while(|&c| word(c)).collect();
        if !ty.is_empty() && !name.is_empty() {
            found.push(format!("action.{ty}.{name}"));
        }
    }
    found
}

/// `text` with its top-level `action` blocks and its `action_trigger` blocks cut out: what
/// Terraform before 1.14 can validate.
fn without_actions(text: &str, blocks: &[HclBlock]) -> String {
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    for b in blocks {
        if b.kind == "action" {
            cuts.push(b.span);
        }
        for lifecycle in b.blocks.iter().filter(|l| l.kind == "lifecycle") {
            cuts.extend(
                lifecycle
                    .blocks
                    .iter()
                    .filter(|t| t.kind == "action_trigger")
                    .map(|t| t.span),
            );
        }
    }
    cuts.sort();
    let mut out = String::new();
    let mut from = 0;
    for (start, end) in cuts {
        out.push_str(&text[from..start]);
        from = end;
    }
    out.push_str(&text[from..]);
    out
}

/// A block as the small HCL scan below sees it.
#[derive(Debug, Clone)]
struct HclBlock {
    kind: String,
    labels: Vec<String>,
    attributes: Vec<HclAttribute>,
    blocks: Vec<HclBlock>,
    /// 1-based line of the block's first token.
    line: usize,
    /// Byte range from the block type to its closing brace.
    span: (usize, usize),
}

impl HclBlock {
    fn empty(line: usize) -> HclBlock {
        HclBlock {
            kind: String::new(),
            labels: Vec::new(),
            attributes: Vec::new(),
            blocks: Vec::new(),
            line,
            span: (0, 0),
        }
    }
}

/// An argument: its name, and the bare words of its expression (`before_update`, `var.x`).
#[derive(Debug, Clone)]
struct HclAttribute {
    name: String,
    words: Vec<String>,
    line: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
    Eq,
    Newline,
    Other(char),
}

/// Tokens with their line and byte range. Enough of HCL's native syntax for the examples:
/// comments, quoted strings with `${…}` inside, words, braces, brackets; heredocs are refused.
fn lex(text: &str) -> Result<Vec<(Tok, usize, usize, usize)>, String> {
    let bytes = text.as_bytes();
    let mut toks = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < bytes.len() {
        let c = bytes[i] as char;
        let start = i;
        match c {
            '\n' => {
                toks.push((Tok::Newline, line, i, i + 1));
                line += 1;
                i += 1;
            }
            ' ' | '\t' | '\r' => i += 1,
            '#' => i = text[i..].find('\n').map_or(bytes.len(), |n| i + n),
            '/' if bytes.get(i + 1) == Some(&b'/') => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n)
            }
            '/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = text[i + 2..]
                    .find("*/")
                    .ok_or(format!("line {line}: unclosed comment"))?;
                line += text[i..i + 2 + end].matches('\n').count();
                i += end + 4;
            }
            '"' => {
                let end = string_end(text, i + 1).ok_or(format!("line {line}: unclosed string"))?;
                toks.push((Tok::Str(text[i + 1..end].to_owned()), line, start, end + 1));
                line += text[i..end].matches('\n').count();
                i = end + 1;
            }
            '<' if bytes.get(i + 1) == Some(&b'<') => {
                return Err(format!("line {line}: heredocs are beyond this scan"))
            }
            '{' => {
                toks.push((Tok::Open, line, i, i + 1));
                i += 1;
            }
            '}' => {
                toks.push((Tok::Close, line, i, i + 1));
                i += 1;
            }
            '=' | '!' | '<' | '>' if bytes.get(i + 1) == Some(&b'=') => {
                toks.push((Tok::Other(c), line, i, i + 2));
                i += 2;
            }
            '=' if bytes.get(i + 1) == Some(&b'>') => {
                toks.push((Tok::Other(c), line, i, i + 2));
                i += 2;
            }
            '=' => {
                toks.push((Tok::Eq, line, i, i + 1));
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || c == '_' => {
                let len = text[i..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "_-.".contains(c)))
                    .unwrap_or(text.len() - i);
                toks.push((Tok::Word(text[i..i + len].to_owned()), line, i, i + len));
                i += len;
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or(c);
                toks.push((Tok::Other(ch), line, i, i + ch.len_utf8()));
                i += ch.len_utf8();
            }
        }
    }
    Ok(toks)
}

/// The index of the quote closing a string whose text starts at `from`, skipping escapes and
/// the strings inside `${…}` / `%{…}`.
fn string_end(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut i, mut depth) = (from, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'$' | b'%' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'{' if depth > 0 => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            b'"' if depth > 0 => i = string_end(text, i + 1)?,
            b'"' => return Some(i),
            b'\n' if depth == 0 => return None,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The top-level blocks of a file (top-level attributes are not HCL configuration).
fn parse_hcl(text: &str) -> Result<Vec<HclBlock>, String> {
    let toks = lex(text)?;
    let mut pos = 0;
    let body = parse_body(&toks, &mut pos, false)?;
    if let Some(a) = body.0.first() {
        return Err(format!("line {}: `{}` outside any block", a.line, a.name));
    }
    Ok(body.1)
}

type Toks = [(Tok, usize, usize, usize)];

fn parse_body(
    toks: &Toks,
    pos: &mut usize,
    nested: bool,
) -> Result<(Vec<HclAttribute>, Vec<HclBlock>), String> {
    let (mut attributes, mut blocks) = (Vec::new(), Vec::new());
    loop {
        while matches!(toks.get(*pos), Some((Tok::Newline, ..))) {
            *pos += 1;
        }
        let Some((tok, line, start, _)) = toks.get(*pos).cloned() else {
            return if nested {
                Err("a block is unclosed at the end of the file".to_owned())
            } else {
                Ok((attributes, blocks))
            };
        };
        let name = match tok {
            Tok::Close if nested => return Ok((attributes, blocks)),
            Tok::Word(name) => name,
            other => return Err(format!("line {line}: unexpected {other:?}")),
        };
        *pos += 1;
        if matches!(toks.get(*pos), Some((Tok::Eq, ..))) {
            *pos += 1;
            let words = skip_expression(toks, pos, line)?;
            attributes.push(HclAttribute { name, words, line });
            continue;
        }
        let mut labels = Vec::new();
        loop {
            match toks.get(*pos) {
                Some((Tok::Str(s) | Tok::Word(s), ..)) => labels.push(s.clone()),
                Some((Tok::Open, ..)) => break,
                _ => {
                    return Err(format!(
                        "line {line}: `{name}` is neither argument nor block"
                    ))
                }
            }
            *pos += 1;
        }
        *pos += 1;
        let (inner_attributes, inner_blocks) = parse_body(toks, pos, true)?;
        let end = toks[*pos].3;
        *pos += 1;
        blocks.push(HclBlock {
            kind: name,
            labels,
            attributes: inner_attributes,
            blocks: inner_blocks,
            line,
            span: (start, end),
        });
    }
}

/// Moves past an expression (to the end of its line, or to the brace closing a one-line
/// block), returning its bare words.
fn skip_expression(toks: &Toks, pos: &mut usize, line: usize) -> Result<Vec<String>, String> {
    let mut depth = 0usize;
    let mut words = Vec::new();
    while let Some((tok, ..)) = toks.get(*pos) {
        match tok {
            Tok::Newline | Tok::Close if depth == 0 => return Ok(words),
            Tok::Open | Tok::Other('[' | '(') => depth += 1,
            Tok::Close | Tok::Other(']' | ')') => {
                depth = depth
                    .checked_sub(1)
                    .ok_or(format!("line {line}: unbalanced brackets"))?
            }
            Tok::Word(w) => words.push(w.clone()),
            _ => {}
        }
        *pos += 1;
    }
    if depth == 0 {
        Ok(words)
    } else {
        Err(format!(
            "line {line}: an expression is unclosed at the end of the file"
        ))
    }
}

/// The quickstart is the workflow the README promises: it must use every piece of it.
#[test]
fn quickstart_covers_the_workflow() {
    let mut all = String::new();
    for entry in std::fs::read_dir(root().join("examples/quickstart")).expect("quickstart") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "tf") {
            all.push_str(&std::fs::read_to_string(&path).expect("read"));
        }
    }
    for needle in [
        "data \"hostup_vps\"",
        "default     = \"app-01\"",
        "data \"hostup_vps_snapshots\"",
        "resource \"hostup_vps_backup\"",
        "resource \"hostup_vps_snapshot_restore\"",
        "default     = \"before-upgrade\"",
        "depends_on = [hostup_vps_backup.",
        "output \"backup_job_id\"",
        "output \"restore_job_id\"",
    ] {
        assert!(all.contains(needle), "quickstart lacks {needle:?}");
    }
}

/// `scripts/install-mirror` lays the binary out so that `terraform init` installs it from a
/// filesystem mirror with no network (no `direct` installation method at all).
#[test]
fn install_mirror_lets_terraform_init_work_offline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mirror = dir.path().join("mirror");
    let out = Command::new(root().join("scripts/install-mirror"))
        .arg("--dir")
        .arg(&mirror)
        .arg("--binary")
        .arg(provider_bin())
        .output()
        .expect("run scripts/install-mirror");
    assert!(
        out.status.success(),
        "install-mirror failed:\n{}",
        text(&out)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("filesystem_mirror"), "{printed}");

    let version = env!("CARGO_PKG_VERSION");
    let installed = mirror.join(format!(
        "registry.terraform.io/hostup/hostup/{version}/{target}/terraform-provider-hostup_v{version}",
        target = terraform_target()
    ));
    assert!(installed.is_file(), "{} not installed", installed.display());

    let scratch = Scratch::with_cli_config(
        dir,
        &format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"registry.terraform.io/hostup/hostup\"]\n  }}\n}}\n",
            mirror.display()
        ),
    );
    let work = scratch.copy_example(&root().join("examples/quickstart"));
    let terraform = Path::new("terraform");
    let out = scratch.terraform(terraform, &work, &["init", "-no-color"]);
    assert!(out.status.success(), "offline init failed:\n{}", text(&out));
    let lock = std::fs::read_to_string(work.join(".terraform.lock.hcl")).expect("lock file");
    assert!(
        lock.contains("provider \"registry.terraform.io/hostup/hostup\"")
            && lock.contains(&format!("version = \"{version}\"")),
        "{lock}"
    );
    let out = scratch.terraform(terraform, &work, &["validate", "-no-color"]);
    assert!(
        out.status.success(),
        "validate after init failed:\n{}",
        text(&out)
    );
}

/// `scripts/release` produces the registry's release layout: a zip holding
/// `terraform-provider-hostup_v<version>`, a manifest with protocol 5.0, and SHA256SUMS that
/// verify.
#[test]
fn release_script_produces_the_registry_layout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dist = dir.path().join("dist");
    let out = Command::new(root().join("scripts/release"))
        .arg("--dist")
        .arg(&dist)
        .arg("--binary")
        .arg(provider_bin())
        .output()
        .expect("run scripts/release");
    assert!(out.status.success(), "release failed:\n{}", text(&out));

    let version = env!("CARGO_PKG_VERSION");
    let target = terraform_target();
    let zip = dist.join(format!("terraform-provider-hostup_{version}_{target}.zip"));
    let bytes = std::fs::read(&zip).unwrap_or_else(|e| panic!("{}: {e}", zip.display()));
    assert_eq!(
        first_zip_entry(&bytes),
        format!("terraform-provider-hostup_v{version}")
    );

    for manifest in [
        format!("terraform-provider-hostup_{version}_manifest.json"),
        "terraform-registry-manifest.json".to_owned(),
    ] {
        let text = std::fs::read_to_string(dist.join(&manifest)).expect("manifest");
        let json: serde_json::Value = serde_json::from_str(&text).expect("manifest JSON");
        assert_eq!(json["version"], 1, "{manifest}");
        assert_eq!(
            json["metadata"]["protocol_versions"],
            serde_json::json!(["5.0"]),
            "{manifest}"
        );
    }

    let sums_name = format!("terraform-provider-hostup_{version}_SHA256SUMS");
    let sums = std::fs::read_to_string(dist.join(&sums_name)).expect("SHA256SUMS");
    assert!(sums.contains(&format!(
        "  terraform-provider-hostup_{version}_{target}.zip\n"
    )));
    assert!(sums.contains(&format!(
        "  terraform-provider-hostup_{version}_manifest.json\n"
    )));
    let check = Command::new("sha256sum")
        .args(["-c", &sums_name])
        .current_dir(&dist)
        .output()
        .expect("run sha256sum");
    assert!(
        check.status.success(),
        "checksums do not verify:\n{}",
        text(&check)
    );
}

/// Terraform's OS_ARCH name for this machine (`linux_amd64`), as the scripts compute it.
fn terraform_target() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("{}_{arch}", std::env::consts::OS)
}

/// The name of the first file in a zip archive (its first local file header).
fn first_zip_entry(zip: &[u8]) -> String {
    assert!(
        zip.len() > 30 && zip.starts_with(b"PK\x03\x04"),
        "not a zip archive"
    );
    let name_len = u16::from_le_bytes([zip[26], zip[27]]) as usize;
    String::from_utf8_lossy(&zip[30..30 + name_len]).into_owned()
}

/// The README's first command: the demo applies the quickstart against hostup-sim, shows the
/// outputs, plans nothing more, destroys, and stops the simulator.
#[test]
fn demo_script_applies_and_destroys_the_quickstart() {
    let bin_dir = provider_bin()
        .parent()
        .expect("binary directory")
        .to_path_buf();
    for terraform in terraforms() {
        run_demo(&bin_dir, &terraform);
    }
}

fn run_demo(bin_dir: &Path, terraform: &Path) {
    let out = Command::new(root().join("scripts/demo"))
        .args(["--no-build", "--job-duration", "1s"])
        .env("HOSTUP_BIN_DIR", bin_dir)
        .env("TERRAFORM", terraform)
        .env_remove("TF_LOG")
        .output()
        .expect("run scripts/demo");
    let all = text(&out);
    assert!(
        out.status.success(),
        "demo with {} failed:\n{all}",
        terraform.display()
    );
    for needle in [
        "hostup-sim listening on http://127.0.0.1:",
        "Apply complete!",
        "backup_status = \"completed\"",
        "restore_status = \"completed\"",
        "before-upgrade",
        "No changes.",
        "Destroy complete!",
    ] {
        assert!(all.contains(needle), "demo output lacks {needle:?}:\n{all}");
    }
    // With curl, the demo also shows the simulator's counters: exactly one POST per
    // operation, and no mutating request from destroy.
    let has_curl = Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if has_curl {
        for needle in [
            "   1  POST /api/v2/vps/{id}/backups\n",
            "   1  POST /api/v2/vps/{id}/snapshots/{snapshotId}/actions/restore\n",
            "Mutating requests sent by destroy: 0\n",
        ] {
            assert!(all.contains(needle), "demo output lacks {needle:?}:\n{all}");
        }
    }
}
