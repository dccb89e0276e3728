//! Every example the docs embed, and the quickstart, must be what `terraform fmt` writes and
//! must pass `terraform validate` against the provider's real schemas. The project's scripts
//! that users run by hand (demo, filesystem-mirror install, release) are exercised here too.
//!
//! Set `HOSTUP_EXTRA_TERRAFORM` to a `:`-separated list of other terraform binaries (e.g.
//! Terraform 1.0.3) to validate the examples with those as well.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

/// Every example directory: provider/, data-sources/*, resources/*, quickstart/, policy/,
/// restore-backup/.
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
