//! The API key wrapper.

use std::fmt;
use std::sync::Arc;

/// A HostUp API key that cannot be printed by accident.
///
/// It exists because the key must never reach logs, error texts, plans or state: `Debug` and
/// `Display` both print `<redacted>`, and the only way to read the key is the explicitly named
/// [`ApiKey::expose_secret`], used once, to build the `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(Arc<str>);

impl ApiKey {
    /// Wraps a key (leading/trailing whitespace, e.g. a newline from a file, is trimmed).
    pub fn new(key: impl AsRef<str>) -> Self {
        ApiKey(Arc::from(key.as_ref().trim()))
    }

    /// The key itself; named loudly so every use is easy to audit.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Whether no key was given, so callers can say "set api_key or HOSTUP_API_KEY".
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Replaces every occurrence of the key in `text` (a server could echo it in an error
    /// page), so quoted bodies can never leak it.
    pub(crate) fn scrub(&self, text: &str) -> String {
        if self.0.len() < 4 || !text.contains(&*self.0) {
            return text.to_string();
        }
        text.replace(&*self.0, "<redacted>")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for ApiKey {
    fn from(s: String) -> Self {
        ApiKey::new(s)
    }
}

impl From<&str> for ApiKey {
    fn from(s: &str) -> Self {
        ApiKey::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let k = ApiKey::new("super-secret-value\n");
        assert_eq!(format!("{k}"), "<redacted>");
        assert_eq!(format!("{k:?}"), "ApiKey(<redacted>)");
        assert!(!format!("{:?}", Some(k.clone())).contains("super"));
        assert_eq!(k.expose_secret(), "super-secret-value");
        assert_eq!(k.scrub("echo super-secret-value!"), "echo <redacted>!");
    }
}
