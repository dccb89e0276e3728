//! The API keys the simulator accepts and what their scopes grant.
//!
//! A room of its own because the start-up configuration and the fixture format both carry keys,
//! and the API checks them; none of those needs the others to know what a key is.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An API key the simulator accepts, with its scopes.
///
/// Scopes are per key so that 401/403 paths can be exercised; the label is what the request log
/// shows, because the key itself is a secret and never logged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// The secret sent as Bearer token or X-API-Key.
    pub key: String,
    /// Scope strings, e.g. `read:vm`, `backup:vm`, `write:all`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Name shown in the request log instead of the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl ApiKey {
    /// Builds a key from a secret and scopes; exists so tests can write one line per key.
    pub fn new(key: impl Into<String>, scopes: &[&str]) -> Self {
        Self {
            key: key.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            label: None,
        }
    }
}

impl FromStr for ApiKey {
    type Err = String;
    /// Parses the CLI form `KEY=scope1,scope2` (`KEY=` gives a key without scopes).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (key, scopes) = s
            .split_once('=')
            .ok_or_else(|| "expected KEY=SCOPE[,SCOPE...]".to_string())?;
        if key.is_empty() {
            return Err("the key must not be empty".into());
        }
        let scopes = scopes
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        Ok(Self {
            key: key.to_string(),
            scopes,
            label: None,
        })
    }
}

/// Whether `scopes` grant `needed` (docs/hostup-sim.md §2: `read:all` ⊇ `read:*`,
/// `write:all` ⊇ every non-read scope).
pub(crate) fn has_scope(scopes: &[String], needed: &str) -> bool {
    scopes.iter().any(|s| {
        s == needed
            || (s == "read:all" && needed.starts_with("read:"))
            || (s == "write:all" && !needed.starts_with("read:"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(has_scope(&s(&["read:vm"]), "read:vm"));
        assert!(!has_scope(&s(&["read:vm"]), "backup:vm"));
        assert!(has_scope(&s(&["read:all"]), "read:vm"));
        assert!(!has_scope(&s(&["read:all"]), "backup:vm"));
        assert!(has_scope(&s(&["write:all"]), "backup:vm"));
        assert!(!has_scope(&s(&["write:all"]), "read:vm"));
        assert!(!has_scope(&s(&["write:vm"]), "backup:vm"));
    }

    #[test]
    fn keys() {
        let k: ApiKey = "ci=read:vm, backup:vm".parse().unwrap();
        assert_eq!(k.key, "ci");
        assert_eq!(k.scopes, vec!["read:vm", "backup:vm"]);
        assert!("noequals".parse::<ApiKey>().is_err());
        assert!("=read:vm".parse::<ApiKey>().is_err());
    }
}
