//! Diagnostics: how every problem reaches the user.
//!
//! Terraform shows a provider's errors and warnings only as diagnostics (a gRPC error becomes
//! an unreadable "Plugin error"), and attaches a diagnostic to the offending line of HCL when it
//! carries an attribute path. So business errors are always collected here, never returned as
//! gRPC statuses.
//!
//! ```
//! use hostup_provider::plugin::diag::{AttributePath, Diagnostics};
//!
//! let mut diags = Diagnostics::new();
//! diags
//!     .error("Invalid timeout", "`timeouts.create` must be a duration such as `60m`.")
//!     .at(AttributePath::root("timeouts").attr("create"));
//! assert!(diags.has_errors());
//! ```

use std::fmt;

use crate::plugin::proto::tfplugin5 as pb;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Stops the operation; Terraform fails the run.
    Error,
    /// Shown to the user; the run goes on.
    Warning,
}

/// One step of an [`AttributePath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// An attribute or nested block name.
    Attr(String),
    /// A map key, or the label of a MAP block.
    Key(String),
    /// A list index, or the index of a LIST block. Set elements cannot be addressed.
    Index(i64),
}

/// Where in a configuration object a diagnostic points; Terraform underlines that expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AttributePath {
    /// The steps from the top-level object, outermost first.
    pub steps: Vec<PathStep>,
}

impl AttributePath {
    /// A path to the top-level attribute or block `name`.
    pub fn root(name: impl Into<String>) -> Self {
        AttributePath {
            steps: vec![PathStep::Attr(name.into())],
        }
    }

    /// Descends into attribute (or nested block) `name` (builder).
    pub fn attr(mut self, name: impl Into<String>) -> Self {
        self.steps.push(PathStep::Attr(name.into()));
        self
    }

    /// Descends into a map element or MAP-block label (builder).
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.steps.push(PathStep::Key(key.into()));
        self
    }

    /// Descends into a list element or LIST-block index (builder).
    pub fn index(mut self, index: i64) -> Self {
        self.steps.push(PathStep::Index(index));
        self
    }

    /// True for the empty path (the whole object).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

impl fmt::Display for AttributePath {
    /// HCL-like rendering (`timeouts.create`, `triggers["release"]`, `rule[0].port`), for
    /// messages that name an attribute.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.steps.iter().enumerate() {
            match s {
                PathStep::Attr(n) if i == 0 => write!(f, "{n}")?,
                PathStep::Attr(n) => write!(f, ".{n}")?,
                PathStep::Key(k) => write!(f, "[{k:?}]")?,
                PathStep::Index(ix) => write!(f, "[{ix}]")?,
            }
        }
        Ok(())
    }
}

/// One error or warning for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// One line saying what went wrong, in user terms.
    pub summary: String,
    /// What we know and what to do next.
    pub detail: String,
    /// The attribute the problem is about, so Terraform points at the right HCL line.
    pub attribute: Option<AttributePath>,
}

impl Diagnostic {
    /// An error not yet tied to an attribute.
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            attribute: None,
        }
    }

    /// A warning not yet tied to an attribute.
    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            summary: summary.into(),
            detail: detail.into(),
            attribute: None,
        }
    }

    /// Ties an owned diagnostic to `path` (builder form of [`Diagnostic::at`]).
    pub fn with_path(mut self, path: AttributePath) -> Self {
        self.attribute = Some(path);
        self
    }

    /// Ties this diagnostic (already pushed into a [`Diagnostics`]) to `path`.
    pub fn at(&mut self, path: AttributePath) -> &mut Self {
        self.attribute = Some(path);
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}: {}", self.summary)?;
        if let Some(p) = &self.attribute {
            write!(f, " (at {p})")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// The diagnostics of one operation; every response carries one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// No diagnostics yet.
    pub fn new() -> Self {
        Diagnostics(Vec::new())
    }

    /// Adds an error; chain `.at(path)` to point at an attribute.
    pub fn error(
        &mut self,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> &mut Diagnostic {
        self.push(Diagnostic::error(summary, detail))
    }

    /// Adds a warning; chain `.at(path)` to point at an attribute.
    pub fn warning(
        &mut self,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> &mut Diagnostic {
        self.push(Diagnostic::warning(summary, detail))
    }

    /// Adds a ready-made diagnostic and returns it for further tweaks.
    pub fn push(&mut self, diagnostic: Diagnostic) -> &mut Diagnostic {
        self.0.push(diagnostic);
        let last = self.0.len() - 1;
        &mut self.0[last]
    }

    /// Moves all of `other` in (e.g. from a helper that returned its own diagnostics).
    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.0.extend(other);
    }

    /// True when any diagnostic is an error: the operation failed.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    /// True when there is nothing to report.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many diagnostics there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Iterates over the diagnostics in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Extend<Diagnostic> for Diagnostics {
    fn extend<T: IntoIterator<Item = Diagnostic>>(&mut self, iter: T) {
        self.0.extend(iter);
    }
}

impl From<&AttributePath> for pb::AttributePath {
    fn from(p: &AttributePath) -> Self {
        use pb::attribute_path::{step::Selector, Step};
        pb::AttributePath {
            steps: p
                .steps
                .iter()
                .map(|s| Step {
                    selector: Some(match s {
                        PathStep::Attr(n) => Selector::AttributeName(n.clone()),
                        PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                        PathStep::Index(i) => Selector::ElementKeyInt(*i),
                    }),
                })
                .collect(),
        }
    }
}

impl From<&pb::AttributePath> for AttributePath {
    /// Steps without a selector (never sent by Terraform) are skipped.
    fn from(p: &pb::AttributePath) -> Self {
        use pb::attribute_path::step::Selector;
        AttributePath {
            steps: p
                .steps
                .iter()
                .filter_map(|s| {
                    Some(match s.selector.as_ref()? {
                        Selector::AttributeName(n) => PathStep::Attr(n.clone()),
                        Selector::ElementKeyString(k) => PathStep::Key(k.clone()),
                        Selector::ElementKeyInt(i) => PathStep::Index(*i),
                    })
                })
                .collect(),
        }
    }
}

impl From<&Diagnostic> for pb::Diagnostic {
    fn from(d: &Diagnostic) -> Self {
        pb::Diagnostic {
            severity: match d.severity {
                Severity::Error => pb::diagnostic::Severity::Error,
                Severity::Warning => pb::diagnostic::Severity::Warning,
            } as i32,
            summary: d.summary.clone(),
            detail: d.detail.clone(),
            attribute: d
                .attribute
                .as_ref()
                .filter(|p| !p.is_empty())
                .map(pb::AttributePath::from),
        }
    }
}

impl Diagnostics {
    /// The protocol form every response carries.
    pub fn to_proto(&self) -> Vec<pb::Diagnostic> {
        self.0.iter().map(pb::Diagnostic::from).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_and_display() {
        let mut d = Diagnostics::new();
        d.warning("w", "");
        assert!(!d.has_errors());
        d.error("Bad", "because")
            .at(AttributePath::root("triggers").key("release"));
        assert!(d.has_errors());
        assert_eq!(d.len(), 2);
        assert_eq!(
            d.0[1].to_string(),
            "error: Bad (at triggers[\"release\"]): because"
        );
        let p = AttributePath::root("rule").index(0).attr("port");
        assert_eq!(p.to_string(), "rule[0].port");
    }
}
