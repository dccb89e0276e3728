//! Warnings this Terraform command has already shown, so that each appears once.
//!
//! Terraform starts a fresh provider process for every graph walk of a command and shows the
//! warnings of all of them (v1.11.4):
//!
//! - a plan or apply first validates the configuration (internal/backend/local/backend_local.go
//!   l.134, `Core.Validate`), and planning an instance validates it again
//!   (internal/terraform/node_resource_abstract_instance.go l.868);
//! - the apply walk plans every instance once more right before applying it and keeps that
//!   plan's diagnostics (internal/terraform/node_resource_apply_instance.go l.268-269).
//!
//! So a plan-time warning such as "Applying this replaces the disk" is shown before the
//! approval prompt (internal/backend/local/backend_apply.go l.168) and again after "Apply
//! complete!", or, under `-auto-approve`, folded by Terraform into "(and one more similar
//! warning elsewhere)" (l.456). No request field tells the walks apart, and each walk is its
//! own process, so the memory is a file the provider processes of one Terraform process share.
//!
//! - **Key**: the parent (Terraform) process id and its start time (`/proc/<pid>/stat` field 22),
//!   so a reused pid never inherits an old run's memory.
//! - **Place**: `<temp dir>/terraform-provider-hostup-<uid>/<pid>-<start>`; the directory is
//!   created 0700 and used only when it is a real directory owned by this user that no one else
//!   can write (anyone who could write it could hide warnings); files are 0600 and opened
//!   without following symlinks. Files of Terraform processes that are gone are removed.
//! - **Content**: one line per shown warning, `<writer pid> <writer start> <fingerprint>`, the
//!   fingerprint a 64-bit hash of the type, summary, detail and attribute path: no text, so no
//!   secret can reach the file.
//! - **Rule**: a warning is dropped when a provider process of the same Terraform process that
//!   has since exited showed the same one, each earlier showing dropping one later copy (two
//!   resources with the same warning show it twice per walk). Processes still running belong to
//!   the same walk (they serve another provider configuration, e.g. an alias) and are not
//!   counted. Errors are never dropped.
//!
//! The memory is off in debug mode (one process serves every walk and every command), where
//! `/proc` is missing (not Linux), and after any I/O error: then every warning is shown, as
//! Terraform would show it. One Terraform process running many plans shows a warning once for
//! all of them: under `terraform test`, a warning of a later run block that an earlier one
//! already showed is not repeated.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::plugin::diag::{Diagnostic, Diagnostics, Severity};

/// A process, told apart from a later one with the same pid by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Process {
    pid: u32,
    /// Clock ticks after boot (`/proc/<pid>/stat` field 22).
    start: u64,
}

impl Process {
    /// `pid`, when it runs now (a zombie has exited: it is not running).
    fn running(pid: u32) -> Option<Process> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let start = running_since(&stat)?;
        Some(Process { pid, start })
    }

    fn is_running(self) -> bool {
        Process::running(self.pid) == Some(self)
    }
}

/// The start time in a `/proc/<pid>/stat` line, unless the process has exited. The line is
/// `pid (comm) state ppid …`; comm may hold spaces and parentheses, so the fields are counted
/// from the last `)`: state is field 3, starttime field 22.
fn running_since(stat: &str) -> Option<u64> {
    let (_, fields) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = fields.split_whitespace().collect();
    if matches!(fields.first(), None | Some(&"Z") | Some(&"X") | Some(&"x")) {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// The shown-warnings memory of one provider process; see the [module docs](self).
#[derive(Debug, Default)]
pub struct ShownWarnings {
    memory: Option<Memory>,
}

#[derive(Debug)]
struct Memory {
    dir: PathBuf,
    file: PathBuf,
    me: Process,
    /// The earlier walks' showings still to drop, per fingerprint; read on first use (by then
    /// every earlier walk has ended, and nothing they wrote can change).
    earlier: Mutex<Option<HashMap<u64, usize>>>,
}

impl ShownWarnings {
    /// No memory: every warning is shown (tests, debug mode).
    pub fn off() -> Self {
        ShownWarnings::default()
    }

    /// The memory shared with the other provider processes of the Terraform process that
    /// launched this one, under the system temp directory; off when it cannot be had safely.
    pub fn of_this_terraform_run() -> Self {
        let memory = (|| {
            let me = Process::running(std::process::id())?;
            let terraform = Process::running(std::os::unix::process::parent_id())?;
            // SAFETY: geteuid has no preconditions and cannot fail.
            let uid = unsafe { libc::geteuid() };
            let dir = std::env::temp_dir().join(format!("terraform-provider-hostup-{uid}"));
            private_dir(&dir, uid)?;
            let file = dir.join(run_file_name(terraform));
            Some(Memory {
                dir,
                file,
                me,
                earlier: Mutex::new(None),
            })
        })();
        if memory.is_none() {
            tracing::debug!("no shared memory of shown warnings: every warning is shown");
        }
        ShownWarnings { memory }
    }

    /// Drops from `diags` the warnings an earlier walk of this Terraform command showed, and
    /// remembers the ones left. `scope` names what answered (e.g. `resource hostup_vps_backup`),
    /// so equal texts of different types are told apart.
    pub fn filter(&self, scope: &str, diags: &mut Diagnostics) {
        let Some(m) = &self.memory else { return };
        if !diags.iter().any(|d| d.severity == Severity::Warning) {
            return;
        }
        let mut earlier = m.earlier.lock().unwrap_or_else(|p| p.into_inner());
        let earlier = earlier.get_or_insert_with(|| m.load());
        let mut lines = String::new();
        let before = diags.len();
        diags.0.retain(|d| {
            if d.severity != Severity::Warning {
                return true;
            }
            let fp = fingerprint(scope, d);
            if let Some(n) = earlier.get_mut(&fp).filter(|n| **n > 0) {
                *n -= 1;
                return false;
            }
            lines.push_str(&format!("{} {} {fp:016x}\n", m.me.pid, m.me.start));
            true
        });
        if before != diags.len() {
            tracing::debug!(
                dropped = before - diags.len(),
                "warnings an earlier walk of this terraform command showed are not repeated"
            );
        }
        if !lines.is_empty() {
            m.remember(&lines);
        }
    }
}

impl Memory {
    /// The showings of the processes of this run that have exited, counted per fingerprint.
    fn load(&self) -> HashMap<u64, usize> {
        let mut counts = HashMap::new();
        let Some(text) = read_private(&self.file) else {
            return counts;
        };
        let mut running: HashMap<(u32, u64), bool> = HashMap::new();
        for line in text.lines() {
            let mut parts = line.split(' ');
            let (Some(pid), Some(start), Some(fp), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let (Ok(pid), Ok(start), Ok(fp)) = (
                pid.parse::<u32>(),
                start.parse::<u64>(),
                u64::from_str_radix(fp, 16),
            ) else {
                continue;
            };
            let writer = Process { pid, start };
            let alive = *running
                .entry((pid, start))
                .or_insert_with(|| writer == self.me || writer.is_running());
            if !alive {
                *counts.entry(fp).or_insert(0) += 1;
            }
        }
        counts
    }

    /// Appends `lines` in one write (appends of one small write do not interleave), and on
    /// this process's first write removes the files of Terraform processes that are gone.
    fn remember(&self, lines: &str) {
        let new = !self.file.exists();
        let written = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.file)
            .and_then(|mut f| f.write_all(lines.as_bytes()));
        if let Err(e) = written {
            tracing::debug!(error = %e, "could not remember the warnings shown");
        }
        if new {
            remove_finished_runs(&self.dir, &self.file);
        }
    }
}

fn run_file_name(terraform: Process) -> String {
    format!("{}-{}", terraform.pid, terraform.start)
}

/// Creates `dir` 0700, or checks that the one there is a directory (not a symlink) of `uid`
/// that no one else can write or read.
fn private_dir(dir: &Path, uid: u32) -> Option<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(_) => return None,
    }
    let meta = std::fs::symlink_metadata(dir).ok()?;
    (meta.is_dir() && meta.uid() == uid && meta.mode() & 0o077 == 0).then_some(())
}

/// The file's text when it is a regular file (not followed through a symlink), at most 4 MiB:
/// some 100 000 warnings, far more than any run shows.
fn read_private(file: &Path) -> Option<String> {
    let f: File = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(file)
        .ok()?;
    let mut text = String::new();
    f.take(4 << 20).read_to_string(&mut text).ok()?;
    Some(text)
}

/// Removes the memories of Terraform processes that no longer run, except `keep`.
fn remove_finished_runs(dir: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path == keep {
            continue;
        }
        let name = entry.file_name();
        let Some((pid, start)) = name.to_str().and_then(|n| n.split_once('-')) else {
            continue;
        };
        let (Ok(pid), Ok(start)) = (pid.parse(), start.parse()) else {
            continue;
        };
        if !(Process { pid, start }).is_running() {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// A stable hash of what the user reads: the same binary gives the same value in every process
/// (`DefaultHasher::new` has fixed keys).
fn fingerprint(scope: &str, d: &Diagnostic) -> u64 {
    let mut h = DefaultHasher::new();
    scope.hash(&mut h);
    d.summary.hash(&mut h);
    d.detail.hash(&mut h);
    d.attribute.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::diag::AttributePath;

    fn memory(dir: &Path, me: Process) -> ShownWarnings {
        ShownWarnings {
            memory: Some(Memory {
                dir: dir.to_owned(),
                file: dir.join("1-1"),
                me,
                earlier: Mutex::new(None),
            }),
        }
    }

    fn warnings(texts: &[&str]) -> Diagnostics {
        let mut d = Diagnostics::new();
        for t in texts {
            d.warning(*t, "detail");
        }
        d
    }

    fn summaries(d: &Diagnostics) -> Vec<&str> {
        d.iter().map(|d| d.summary.as_str()).collect()
    }

    /// A process that ran and has exited (its pid is not reused within the test).
    fn exited() -> Process {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        child.wait().expect("wait");
        Process { pid, start: 7 }
    }

    #[test]
    fn a_later_walk_drops_what_an_exited_walk_showed_counting_copies() {
        let dir = tempfile::tempdir().unwrap();
        let first = memory(dir.path(), exited());
        let mut plan = warnings(&["A", "A", "B"]);
        plan.error("E", "detail");
        first.filter("resource t", &mut plan);
        assert_eq!(summaries(&plan), ["A", "A", "B", "E"]);

        let me = Process::running(std::process::id()).unwrap();
        let apply = memory(dir.path(), me);
        let mut d = warnings(&["A", "B", "C", "A", "A"]);
        d.error("E", "detail");
        apply.filter("resource t", &mut d);
        // Two A and one B were shown; the third A and C are new; errors always stay.
        assert_eq!(summaries(&d), ["C", "A", "E"]);
        // What this process showed is not dropped by itself.
        let mut again = warnings(&["C"]);
        apply.filter("resource t", &mut again);
        assert_eq!(summaries(&again), ["C"]);
    }

    #[test]
    fn running_writers_other_types_and_other_paths_are_not_counted() {
        let dir = tempfile::tempdir().unwrap();
        // A concurrent process of the same walk (this test process: it runs).
        let me = Process::running(std::process::id()).unwrap();
        let alias = memory(dir.path(), me);
        alias.filter("resource t", &mut warnings(&["A"]));
        let later = memory(dir.path(), me);
        let mut d = warnings(&["A"]);
        later.filter("resource t", &mut d);
        assert_eq!(summaries(&d), ["A"]);

        let dir = tempfile::tempdir().unwrap();
        memory(dir.path(), exited()).filter("resource t", &mut warnings(&["A"]));
        let later = memory(dir.path(), me);
        let mut other_type = warnings(&["A"]);
        later.filter("resource u", &mut other_type);
        assert_eq!(summaries(&other_type), ["A"]);
        let mut other_path = warnings(&["A"]);
        other_path.0[0].attribute = Some(AttributePath::root("vps_id"));
        later.filter("resource t", &mut other_path);
        assert_eq!(summaries(&other_path), ["A"]);
    }

    #[test]
    fn the_file_holds_fingerprints_only_and_junk_lines_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let m = memory(dir.path(), exited());
        let mut d = Diagnostics::new();
        d.warning("Secret-ish summary", "key hu_live_123");
        m.filter("resource t", &mut d);
        let text = std::fs::read_to_string(dir.path().join("1-1")).unwrap();
        assert!(
            !text.contains("Secret") && !text.contains("hu_live"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 1, "{text}");
        let mode = std::fs::metadata(dir.path().join("1-1")).unwrap().mode();
        assert_eq!(mode & 0o777, 0o600);

        std::fs::write(dir.path().join("1-1"), "junk\n1 2\nx y z\n\u{0}\n").unwrap();
        let me = Process::running(std::process::id()).unwrap();
        let mut d = warnings(&["A"]);
        memory(dir.path(), me).filter("resource t", &mut d);
        assert_eq!(summaries(&d), ["A"]);
    }

    #[test]
    fn a_directory_others_can_write_or_a_symlink_is_not_used() {
        let uid = unsafe { libc::geteuid() };
        let base = tempfile::tempdir().unwrap();
        let fresh = base.path().join("fresh");
        assert!(private_dir(&fresh, uid).is_some());
        assert_eq!(std::fs::metadata(&fresh).unwrap().mode() & 0o777, 0o700);

        let open = base.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        assert!(private_dir(&open, uid).is_none());

        let link = base.path().join("link");
        std::os::unix::fs::symlink(&fresh, &link).unwrap();
        assert!(private_dir(&link, uid).is_none());
        assert!(private_dir(&fresh, uid.wrapping_add(1)).is_none());
    }

    #[test]
    fn files_of_finished_runs_are_removed_and_running_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let gone = exited();
        let me = Process::running(std::process::id()).unwrap();
        for p in [gone, me] {
            std::fs::write(dir.path().join(run_file_name(p)), "").unwrap();
        }
        std::fs::write(dir.path().join("notes"), "").unwrap();
        memory(dir.path(), me).filter("resource t", &mut warnings(&["A"]));
        assert!(!dir.path().join(run_file_name(gone)).exists());
        assert!(dir.path().join(run_file_name(me)).exists());
        assert!(dir.path().join("notes").exists());
        assert!(dir.path().join("1-1").exists());
    }

    #[test]
    fn proc_stat_is_read_past_a_command_name_with_parentheses() {
        let me = Process::running(std::process::id()).expect("this process runs");
        assert!(me.start > 0);
        assert!(me.is_running());
        assert!(!Process {
            start: me.start + 1,
            ..me
        }
        .is_running());
        assert!(!exited().is_running());
        let tail = "S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4242 20";
        assert_eq!(running_since(&format!("9 (a) b) (c) {tail}")), Some(4242));
        assert_eq!(running_since(&format!("9 (x) Z{}", &tail[1..])), None);
        assert_eq!(running_since("9 (cut"), None);
    }
}
