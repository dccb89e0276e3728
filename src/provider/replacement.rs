//! What the create half of a replacement knows of the object it replaces.
//!
//! Terraform plans a replacement in two PlanResourceChange calls. The first gets the prior
//! state (for `-replace` it cannot tell that a replacement follows: nothing in the request says
//! so). The second plans the new object with a null prior state, and Terraform hands it the
//! first call's planned private state as its prior private state (Terraform 1.11 and 1.0,
//! internal/terraform/node_resource_abstract_instance.go, `plan`: the replace branch sends
//! `PriorPrivate: plannedPrivate`). So the first call writes down the object it saw, and the
//! second call reads it back: a snapshot replaced under its own name frees that name and its
//! slot. A tainted object is different: Terraform plans it as a plain create with no prior
//! state and no private state at all (same function, the `ObjectTainted` branch), which
//! [`super::this_run`] covers instead.
//!
//! The note travels in private state only; when the plan replaces nothing, the update drops it
//! (or nothing applies it: a no-op plan sends no apply).

use serde::{Deserialize, Serialize};

use crate::plugin::framework::{PlanRequest, PlanResponse, Private};

use super::this_run::ThisRun;

/// Private-state key of the note.
const KEY: &str = "replaces";

/// The object the first plan call saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Replaced {
    /// Its `vps_id`.
    pub vps_id: String,
    /// Its name (a snapshot's `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The first plan call: notes the prior object (its VPS and name) in the planned private
/// state. Call it in every plan with a prior state: whether a replacement follows is not
/// known here.
pub fn note_prior(vps_id: &str, name: Option<&str>, resp: &mut PlanResponse) {
    let note = Replaced {
        vps_id: vps_id.to_owned(),
        name: name.map(str::to_owned),
    };
    resp.planned_private.set(KEY, &note);
}

/// The object this create half of a replacement replaces, when the first call noted one on
/// the same VPS as the configuration's `vps_id`.
pub fn replaced(private: &Private, vps_id: &str) -> Option<Replaced> {
    let note = private.get::<Replaced>(KEY)?;
    (note.vps_id == vps_id).then_some(note)
}

/// Drops the note from the private state a create or update stores: it only ever describes
/// the plan it was made in.
pub fn forget(private: &mut Private) {
    private.remove(KEY);
}

/// Claims the one `type_name` object of `vps_id` (a schedule, the settings) for the instance
/// being planned, once per instance: false when another resource of this run claimed it. A
/// call with a prior state claims and notes the VPS, so the create half of its replacement
/// (`-replace`, or an argument change on the same VPS) does not claim it a second time.
pub fn claim_singleton<D>(
    run: &ThisRun,
    type_name: &str,
    vps_id: &str,
    req: &PlanRequest<D>,
    resp: &mut PlanResponse,
) -> bool {
    if req.prior_state.is_some() {
        note_prior(vps_id, None, resp);
    } else if replaced(&req.prior_private, vps_id).is_some() {
        return true;
    }
    run.claim_singleton(type_name, vps_id)
}
