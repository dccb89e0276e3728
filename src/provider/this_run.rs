//! What this provider process has seen of the other resources of the same run.
//!
//! Terraform plans each resource instance on its own, but HostUp's limits are per VPS: two
//! `hostup_vps_snapshot`s with one name, or more new snapshots than free slots, would only fail
//! when HostUp refuses the second POST, halfway through an apply. Terraform starts a fresh
//! provider process for every graph walk (validate, plan, the plan before a destroy, apply;
//! internal/terraform/graph_walk_context.go keeps one provider cache per walk and closes it at
//! the end) and plans each instance once per walk, so what one walk's plans claim can be
//! counted here and checked at plan time.
//!
//! It also remembers what refresh and destroy saw in state, for the two cases where Terraform
//! tells a create nothing about the object it replaces: a tainted object is planned as a plain
//! create with no prior state (internal/terraform/node_resource_abstract_instance.go, `plan`),
//! after its refresh in the same walk; and in the apply walk the destroy half of a replacement
//! runs before the create half, which is planned again with no prior state.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use crate::hostup::{BackupList, SnapshotList};

/// What this process has seen planned, refreshed and destroyed.
#[derive(Debug, Default)]
pub struct ThisRun {
    inner: Mutex<Inner>,
    /// The backup lists plans read for their gate checks.
    pub backup_reads: GateReads<BackupList>,
    /// The snapshot lists plans read for their gate checks.
    pub snapshot_reads: GateReads<SnapshotList>,
}

/// The last list a plan read per VPS for a gate check, with the VPS's change count then
/// (`Client::vps_changes`). In the apply walk Terraform plans each instance again right before
/// applying it, in the same process, so the check just before the POST can take the list that
/// re-plan read instead of reading it once more, when this process has not changed the VPS
/// since.
#[derive(Debug)]
pub struct GateReads<T> {
    map: Mutex<HashMap<String, (u64, T)>>,
}

impl<T> Default for GateReads<T> {
    fn default() -> Self {
        GateReads {
            map: Mutex::default(),
        }
    }
}

impl<T> GateReads<T> {
    /// Keeps `list`, read for `vps_id` at change count `changes`.
    pub fn keep(&self, vps_id: &str, changes: u64, list: T) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(vps_id.to_owned(), (changes, list));
    }

    /// Takes the kept list of `vps_id` when it was read at change count `changes` (once: a
    /// second check reads again).
    pub fn take(&self, vps_id: &str, changes: u64) -> Option<T> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.remove(vps_id) {
            Some((c, list)) if c == changes => Some(list),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    snapshots: BTreeMap<String, VpsSnapshots>,
    unfinished: BTreeMap<JobKey, String>,
    /// The per-VPS singletons (type, VPS) planned in this run.
    singletons: BTreeSet<(String, String)>,
}

#[derive(Debug, Default)]
struct VpsSnapshots {
    /// Names of snapshots in state (refreshed, or planned with a prior state).
    in_state: BTreeSet<String>,
    /// Who plans each name: kept as it is, or created.
    claims: BTreeMap<String, Claimant>,
    /// Snapshots that planned replacements delete before creating their successor.
    replaced: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claimant {
    /// A resource in state that keeps its snapshot.
    Kept,
    /// A resource that creates a snapshot of this name.
    Created,
}

/// An action resource's arguments, to pair the create half of a replacement with the object
/// its destroy half (or refresh) saw: the type, the VPS and the other arguments as text.
pub type JobKey = (String, String, String);

/// Two resources of this run want one snapshot name on one VPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duplicate;

impl ThisRun {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Claims the one object of `type_name` a VPS can have (its snapshot schedule, its backup
    /// settings) for the resource being planned: false when another resource of this run
    /// claimed it already. The create half of a replacement does not claim again: its first
    /// plan call did.
    pub fn claim_singleton(&self, type_name: &str, vps_id: &str) -> bool {
        self.with(|i| {
            i.singletons
                .insert((type_name.to_owned(), vps_id.to_owned()))
        })
    }

    /// Refresh saw snapshot `name` of `vps_id` in state.
    pub fn saw_snapshot(&self, vps_id: &str, name: &str) {
        self.with(|i| {
            let v = i.snapshots.entry(vps_id.to_owned()).or_default();
            v.in_state.insert(name.to_owned());
        });
    }

    /// A resource in state plans to keep its snapshot (a plan with a prior state that forces
    /// no replacement, or the first call of a `-replace`, whose second call takes over).
    pub fn keep_snapshot(&self, vps_id: &str, name: &str) -> Result<(), Duplicate> {
        self.with(|i| {
            let v = i.snapshots.entry(vps_id.to_owned()).or_default();
            v.in_state.insert(name.to_owned());
            match v.claims.get(name) {
                Some(Claimant::Created) => Err(Duplicate),
                _ => {
                    v.claims.insert(name.to_owned(), Claimant::Kept);
                    Ok(())
                }
            }
        })
    }

    /// Whether snapshot `name` of `vps_id` is in state and no resource has said it keeps it:
    /// then a create of that name is the replacement of a tainted object.
    pub fn in_state_unclaimed(&self, vps_id: &str, name: &str) -> bool {
        self.with(|i| {
            i.snapshots
                .get(vps_id)
                .is_some_and(|v| v.in_state.contains(name) && !v.claims.contains_key(name))
        })
    }

    /// A snapshot `name` of `vps_id` is planned for creation, replacing the snapshot
    /// `replaces` (deleted first) if any. The first call of a `-replace` kept the name; its
    /// second call (`replaces` = the same name) takes it over.
    pub fn create_snapshot(
        &self,
        vps_id: &str,
        name: &str,
        replaces: Option<&str>,
    ) -> Result<(), Duplicate> {
        self.with(|i| {
            let v = i.snapshots.entry(vps_id.to_owned()).or_default();
            if let Some(r) = replaces {
                v.replaced.insert(r.to_owned());
            }
            match v.claims.get(name) {
                None => {}
                Some(Claimant::Kept) if replaces == Some(name) => {}
                Some(_) => return Err(Duplicate),
            }
            v.claims.insert(name.to_owned(), Claimant::Created);
            Ok(())
        })
    }

    /// The snapshot names planned for creation on `vps_id`, and those that planned
    /// replacements delete first.
    pub fn snapshots_on(&self, vps_id: &str) -> (Vec<String>, Vec<String>) {
        self.with(|i| {
            i.snapshots.get(vps_id).map_or_else(Default::default, |v| {
                let creating = v.claims.iter().filter(|(_, c)| **c == Claimant::Created);
                (
                    creating.map(|(n, _)| n.clone()).collect(),
                    v.replaced.iter().cloned().collect(),
                )
            })
        })
    }

    /// Whether this run plans to create snapshot `name` of `vps_id`.
    pub fn creates_snapshot(&self, vps_id: &str, name: &str) -> bool {
        self.with(|i| {
            i.snapshots
                .get(vps_id)
                .is_some_and(|v| v.claims.get(name) == Some(&Claimant::Created))
        })
    }

    /// Refresh or destroy saw an action resource whose job `job_id` had not finished.
    pub fn saw_unfinished_job(&self, key: JobKey, job_id: &str) {
        self.with(|i| i.unfinished.insert(key, job_id.to_owned()));
    }

    /// The unfinished job of an action resource with these arguments, if this run saw one.
    pub fn unfinished_job(&self, key: &JobKey) -> Option<String> {
        self.with(|i| i.unfinished.get(key).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_claimed_once_per_vps() {
        let run = ThisRun::default();
        assert_eq!(run.create_snapshot("vps_a", "x", None), Ok(()));
        assert_eq!(run.create_snapshot("vps_b", "x", None), Ok(()));
        assert_eq!(run.create_snapshot("vps_a", "y", Some("old")), Ok(()));
        assert_eq!(run.create_snapshot("vps_a", "x", None), Err(Duplicate));
        let (creating, replaced) = run.snapshots_on("vps_a");
        assert_eq!(creating, ["x", "y"]);
        assert_eq!(replaced, ["old"]);
        assert!(run.creates_snapshot("vps_b", "x"));
        assert!(!run.creates_snapshot("vps_b", "y"));
    }

    #[test]
    fn a_replace_takes_over_its_own_name_but_not_anothers() {
        let run = ThisRun::default();
        // `-replace`: the first call keeps, the second (noting the same name) creates.
        assert_eq!(run.keep_snapshot("vps_a", "x"), Ok(()));
        assert_eq!(run.create_snapshot("vps_a", "x", Some("x")), Ok(()));
        // Another resource keeping "k": a create of "k" that replaces nothing is a duplicate.
        assert_eq!(run.keep_snapshot("vps_a", "k"), Ok(()));
        assert_eq!(run.create_snapshot("vps_a", "k", None), Err(Duplicate));
        // And the other order: created first, then a resource in state says it keeps it.
        assert_eq!(run.create_snapshot("vps_a", "z", None), Ok(()));
        assert_eq!(run.keep_snapshot("vps_a", "z"), Err(Duplicate));
    }

    #[test]
    fn tainted_objects_are_in_state_but_unclaimed() {
        let run = ThisRun::default();
        run.saw_snapshot("vps_a", "t");
        assert!(run.in_state_unclaimed("vps_a", "t"));
        assert_eq!(run.keep_snapshot("vps_a", "k"), Ok(()));
        assert!(!run.in_state_unclaimed("vps_a", "k"));
        assert!(!run.in_state_unclaimed("vps_a", "nope"));
    }

    #[test]
    fn gate_reads_are_taken_once_and_only_while_fresh() {
        let reads = GateReads::<u32>::default();
        reads.keep("vps_a", 3, 7);
        assert_eq!(reads.take("vps_a", 4), None, "the VPS changed since");
        reads.keep("vps_a", 3, 7);
        assert_eq!(reads.take("vps_a", 3), Some(7));
        assert_eq!(reads.take("vps_a", 3), None, "taken once");
        assert_eq!(reads.take("vps_b", 0), None);
    }

    #[test]
    fn unfinished_jobs_by_arguments() {
        let run = ThisRun::default();
        let key: JobKey = ("t".into(), "vps_a".into(), "args".into());
        run.saw_unfinished_job(key.clone(), "job_1");
        assert_eq!(run.unfinished_job(&key), Some("job_1".into()));
        let other: JobKey = ("t".into(), "vps_a".into(), "other".into());
        assert_eq!(run.unfinished_job(&other), None);
    }
}
