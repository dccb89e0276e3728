//! Private state: bytes Terraform stores beside a resource's state and hands back unchanged.
//!
//! Useful for what must survive between operations but is no attribute (e.g. the id of a job
//! still in flight when an apply failed). Terraform treats the bytes as opaque; we keep a JSON
//! object of keys so independent pieces of code do not overwrite each other.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value as Json};

/// The private state of one resource instance, as JSON key/value pairs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Private {
    map: Map<String, Json>,
    /// Bytes that were not a JSON object (written by something else): echoed unchanged until
    /// a key is set.
    foreign: Option<Vec<u8>>,
}

impl Private {
    /// Empty private state.
    pub fn new() -> Self {
        Private::default()
    }

    /// Parses the bytes Terraform sent. Never fails: bytes that are not a JSON object are kept
    /// verbatim (and passed back) so nothing is lost.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        if bytes.is_empty() {
            return Private::default();
        }
        match serde_json::from_slice::<Json>(bytes) {
            Ok(Json::Object(map)) => Private { map, foreign: None },
            _ => Private {
                map: Map::new(),
                foreign: Some(bytes.to_vec()),
            },
        }
    }

    /// The bytes to send back to Terraform (empty when there is nothing).
    pub fn to_bytes(&self) -> Vec<u8> {
        if let Some(f) = &self.foreign {
            return f.clone();
        }
        if self.map.is_empty() {
            return Vec::new();
        }
        serde_json::to_vec(&self.map).unwrap_or_default()
    }

    /// The value under `key`, if present and of the expected shape.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.map
            .get(key)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// Stores `value` under `key`. Values that cannot be serialized are ignored (and reported
    /// as `false`).
    pub fn set<T: Serialize>(&mut self, key: &str, value: &T) -> bool {
        match serde_json::to_value(value) {
            Ok(v) => {
                self.foreign = None;
                self.map.insert(key.to_owned(), v);
                true
            }
            Err(_) => false,
        }
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) {
        self.map.remove(key);
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty() && self.foreign.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_foreign_bytes() {
        let mut p = Private::new();
        assert!(p.to_bytes().is_empty());
        assert!(p.set("job_id", &"j-1"));
        let q = Private::from_bytes(&p.to_bytes());
        assert_eq!(q.get::<String>("job_id").as_deref(), Some("j-1"));
        assert_eq!(q.get::<u32>("job_id"), None);
        let f = Private::from_bytes(b"\x01\x02");
        assert_eq!(f.to_bytes(), b"\x01\x02");
        assert!(!f.is_empty());
    }
}
