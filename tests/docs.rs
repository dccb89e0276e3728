//! The registry docs in `docs/` are generated from the provider's schema descriptions and the
//! examples; this test fails when the committed pages differ from what the schemas say now.
//!
//! Regenerate with `UPDATE_DOCS=1 cargo test --test docs` (or `scripts/gen-docs`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hostup_provider::plugin::docs::{Examples, Options, Page, ProviderDocs};

/// The directories the generator owns inside `docs/` (other files there, such as
/// `hostup-sim.md`, are hand-written and left alone).
const GENERATED_DIRS: [&str; 3] = ["actions", "data-sources", "resources"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn provider_docs() -> ProviderDocs {
    ProviderDocs::from_provider(&hostup_provider::provider::new())
}

fn examples() -> Examples {
    Examples::load(&root().join("examples")).unwrap_or_else(|e| panic!("{e}"))
}

fn pages() -> Vec<Page> {
    let options = Options {
        generated_notice: Some(
            "Generated from the provider's schema descriptions and examples/ by scripts/gen-docs. \
             Edit those, not this file."
                .to_owned(),
        ),
    };
    provider_docs().render(&examples(), &options)
}

/// Generated pages currently on disk, as paths relative to `docs/`.
fn pages_on_disk(docs: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    if docs.join("index.md").exists() {
        found.insert("index.md".to_owned());
    }
    for dir in GENERATED_DIRS {
        let Ok(entries) = std::fs::read_dir(docs.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".md") {
                found.insert(format!("{dir}/{name}"));
            }
        }
    }
    found
}

#[test]
fn docs_match_the_schemas() {
    let docs = root().join("docs");
    let pages = pages();
    let wanted: BTreeSet<String> = pages.iter().map(|p| p.path.clone()).collect();
    let stale: Vec<String> = pages_on_disk(&docs).difference(&wanted).cloned().collect();

    if std::env::var_os("UPDATE_DOCS").is_some_and(|v| !v.is_empty() && v != "0") {
        for page in &pages {
            let path = docs.join(&page.path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("create docs dir");
            }
            if std::fs::read_to_string(&path).ok().as_deref() != Some(page.content.as_str()) {
                std::fs::write(&path, &page.content).expect("write page");
                eprintln!("wrote docs/{}", page.path);
            }
        }
        for rel in &stale {
            std::fs::remove_file(docs.join(rel)).expect("remove stale page");
            eprintln!("removed docs/{rel}");
        }
        return;
    }

    let mut drift = Vec::new();
    for page in &pages {
        match std::fs::read_to_string(docs.join(&page.path)) {
            Ok(text) if text == page.content => {}
            Ok(text) => drift.push(format!(
                "docs/{} differs from the schema (first difference at line {})",
                page.path,
                first_difference(&text, &page.content)
            )),
            Err(_) => drift.push(format!("docs/{} is missing", page.path)),
        }
    }
    for rel in &stale {
        drift.push(format!(
            "docs/{rel} documents a type the provider does not have"
        ));
    }
    assert!(
        drift.is_empty(),
        "docs/ is out of date with the schemas:\n  {}\nRun `scripts/gen-docs` (UPDATE_DOCS=1 cargo test --test docs) and commit the result.",
        drift.join("\n  ")
    );
}

fn first_difference(a: &str, b: &str) -> usize {
    a.lines()
        .zip(b.lines())
        .position(|(x, y)| x != y)
        .unwrap_or_else(|| a.lines().count().min(b.lines().count()))
        + 1
}

/// Every attribute, block and type is described, every type has an example, and every example
/// belongs to a registered type.
#[test]
fn docs_are_complete() {
    let problems = provider_docs().problems(&examples());
    assert!(
        problems.is_empty(),
        "the docs would be incomplete:\n  {}",
        problems.join("\n  ")
    );
}

/// Each managed resource documents how to import it (HostUp users import backups and restores
/// started outside Terraform).
#[test]
fn every_resource_page_has_an_import_section() {
    for page in pages().iter().filter(|p| p.path.starts_with("resources/")) {
        assert!(
            page.content.contains("\n## Import\n") && page.content.contains("terraform import "),
            "{} has no import section: add examples/resources/<type>/import.sh",
            page.path
        );
    }
}

/// The restore pages must warn, in a registry callout (`!>` or `~>`), that the VPS disk is
/// replaced: restores are the operations here that destroy data.
#[test]
fn restore_page_warns_that_it_replaces_the_disk() {
    let pages = pages();
    for path in [
        "resources/vps_snapshot_restore.md",
        "actions/vps_snapshot_restore.md",
        "actions/vps_backup_restore.md",
    ] {
        let Some(page) = pages.iter().find(|p| p.path == path) else {
            panic!("{path} is missing: its type is not registered");
        };
        assert_warns_of_disk_replacement(page);
    }
}

fn assert_warns_of_disk_replacement(page: &Page) {
    let body = page
        .content
        .split("\n## Example Usage")
        .next()
        .unwrap_or_default();
    let loud = body.split("\n\n").any(|para| {
        let lower = para.to_lowercase();
        (para.starts_with("!>") || para.starts_with("~>"))
            && lower.contains("disk")
            && lower.contains("replace")
    });
    assert!(
        loud,
        "{} must say in a `!>` callout, before the example, that the VPS disk is replaced; its \
         description is:\n{body}",
        page.path
    );
}

/// Each action page says, before its example, that only Terraform 1.14 and later run actions,
/// and which resource to use with OpenTofu and older Terraform (every action here has a
/// resource of the same name).
#[test]
fn every_action_page_says_which_terraform_runs_it() {
    let pages = pages();
    let actions: Vec<&Page> = pages
        .iter()
        .filter(|p| p.path.starts_with("actions/"))
        .collect();
    assert_eq!(
        actions.len(),
        4,
        "{:?}",
        pages.iter().map(|p| &p.path).collect::<Vec<_>>()
    );
    for page in actions {
        let name = page
            .path
            .trim_start_matches("actions/")
            .trim_end_matches(".md");
        let body = page
            .content
            .split("\n## Example Usage")
            .next()
            .unwrap_or_default();
        let note = body
            .split("\n\n")
            .find(|para| para.starts_with("-> "))
            .unwrap_or_default();
        for needle in [
            "Terraform 1.14 and later".to_owned(),
            "OpenTofu".to_owned(),
            format!("`hostup_{name}` resource"),
        ] {
            assert!(
                note.contains(&needle),
                "{}: the callout before the example lacks {needle:?}:\n{body}",
                page.path
            );
        }
        assert!(
            page.content.contains("## Example Usage\n\n```terraform\n"),
            "{} has no example",
            page.path
        );
    }
}

/// The pages the registry shows must exist for every type docs/ARCHITECTURE.md, "Resources" names,
/// and for the four actions.
#[test]
fn every_designed_type_has_a_page() {
    let paths: BTreeSet<String> = pages().into_iter().map(|p| p.path).collect();
    let missing: Vec<&str> = [
        "index.md",
        "data-sources/vps.md",
        "data-sources/vps_snapshots.md",
        "data-sources/vps_backups.md",
        "resources/vps_backup.md",
        "resources/vps_snapshot_restore.md",
        "resources/vps_snapshot.md",
        "actions/vps_backup.md",
        "actions/vps_snapshot.md",
        "actions/vps_snapshot_restore.md",
        "actions/vps_backup_restore.md",
    ]
    .into_iter()
    .filter(|p| !paths.contains(*p))
    .collect();
    assert!(missing.is_empty(), "no page for {missing:?}");
}
