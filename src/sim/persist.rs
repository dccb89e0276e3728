//! The state file (`--state-file`): the account saved as JSON after each change and at
//! shutdown, and loaded at start-up, so a demo's VPSs, snapshots, backups and jobs survive a
//! restart of the simulator.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::clock::{iso, now_ms};
use super::state::State;

/// The state file: the account with a format version and when it was saved.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateFile {
    version: u32,
    saved_at: String,
    state: State,
}

/// Writes `state` to `path` (through a temporary file, so a crash never leaves half a file).
pub(crate) fn save_state(path: &Path, state: &State) -> std::io::Result<()> {
    let body = serde_json::to_vec_pretty(&StateFile {
        version: 1,
        saved_at: iso(now_ms()),
        state: state.clone(),
    })
    .map_err(std::io::Error::other)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, body)?;
    std::fs::rename(&tmp, path)
}

/// Reads the state at `path`; `Ok(None)` when there is no such file.
pub(crate) fn load_state(path: &Path) -> Result<Option<State>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read state file {}: {e}", path.display())),
    };
    let file: StateFile = serde_json::from_str(&text)
        .map_err(|e| format!("state file {} is not valid: {e}", path.display()))?;
    if file.version != 1 {
        return Err(format!(
            "state file {} has unsupported version {}",
            path.display(),
            file.version
        ));
    }
    let mut state = file.state;
    state.reindex();
    Ok(Some(state))
}
