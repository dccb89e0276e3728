//! Errors of the value codecs, carrying where in the value they happened.

use std::fmt;

/// One step into a value. The three kinds are exactly tfplugin5's `AttributePath.Step`
/// (`attribute_name`, `element_key_int`, `element_key_string`) so the framework can turn a
/// codec error into a diagnostic that points at the offending attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// An object attribute (or nested block) by name.
    Attr(String),
    /// A list or tuple element (or LIST block) by position.
    Index(i64),
    /// A map element (or MAP block) by key.
    Key(String),
}

/// Renders a path the way Terraform users read them: `.timeouts.create`, `.tags["env"]`,
/// `.snapshots[2].name`. Exists for error messages and logs.
pub fn display_path(path: &[PathStep]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            PathStep::Attr(name) => {
                out.push('.');
                out.push_str(name);
            }
            PathStep::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
            PathStep::Key(k) => {
                out.push('[');
                // Debug quoting escapes quotes and control characters.
                out.push_str(&format!("{k:?}"));
                out.push(']');
            }
        }
    }
    out
}

/// Why a value could not be decoded, encoded or converted, and where. Set elements cannot be
/// addressed in Terraform, so a path stops at the set and the message says "in a set element".
///
/// Display reads well in a diagnostic: `value at .timeouts.create is unknown`,
/// `value at .tags["env"]: a string is required, found an array`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValueError {
    /// Where the problem is, from the root of the value (empty = the root itself).
    pub path: Vec<PathStep>,
    /// What is wrong, in user terms, without the path.
    pub message: String,
    /// True when the problem is only that a value is not known yet (e.g. `from_value` on a
    /// config during plan). Callers often treat this differently from a malformed value.
    pub unknown: bool,
}

impl ValueError {
    /// An error at the root of the value.
    pub fn new(message: impl Into<String>) -> Self {
        ValueError {
            path: Vec::new(),
            message: message.into(),
            unknown: false,
        }
    }

    /// An error at `path`.
    pub fn at(path: Vec<PathStep>, message: impl Into<String>) -> Self {
        ValueError {
            path,
            message: message.into(),
            unknown: false,
        }
    }

    /// "The value at `path` is unknown".
    pub fn unknown_at(path: Vec<PathStep>) -> Self {
        ValueError {
            path,
            message: "value is unknown".into(),
            unknown: true,
        }
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.path.is_empty(), self.unknown) {
            (true, _) => f.write_str(&self.message),
            (false, true) => write!(f, "value at {} is unknown", display_path(&self.path)),
            (false, false) => write!(f, "value at {}: {}", display_path(&self.path), self.message),
        }
    }
}

/// A path being built while walking a value; set elements are kept so that errors can say
/// "in a set element" and cut the public path there.
#[derive(Debug, Default, Clone)]
pub(crate) struct Walk {
    steps: Vec<WalkStep>,
}

#[derive(Debug, Clone)]
enum WalkStep {
    Step(PathStep),
    SetElem(usize),
}

impl Walk {
    pub(crate) fn push(&mut self, step: PathStep) {
        self.steps.push(WalkStep::Step(step));
    }
    pub(crate) fn push_set(&mut self, index: usize) {
        self.steps.push(WalkStep::SetElem(index));
    }
    pub(crate) fn pop(&mut self) {
        self.steps.pop();
    }

    fn split(&self) -> (Vec<PathStep>, Option<String>) {
        let mut path = Vec::new();
        for (i, s) in self.steps.iter().enumerate() {
            match s {
                WalkStep::Step(p) => path.push(p.clone()),
                WalkStep::SetElem(n) => {
                    let rest: Vec<PathStep> = self.steps[i + 1..]
                        .iter()
                        .filter_map(|s| match s {
                            WalkStep::Step(p) => Some(p.clone()),
                            WalkStep::SetElem(_) => None,
                        })
                        .collect();
                    let inner = if rest.is_empty() {
                        String::new()
                    } else {
                        format!(" at {}", display_path(&rest))
                    };
                    return (path, Some(format!("in set element #{n}{inner}")));
                }
            }
        }
        (path, None)
    }

    /// An error here.
    pub(crate) fn err(&self, message: impl Into<String>) -> ValueError {
        let (path, set) = self.split();
        let message = message.into();
        match set {
            None => ValueError::at(path, message),
            Some(s) => ValueError::at(path, format!("{s}: {message}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display() {
        let p = vec![
            PathStep::Attr("timeouts".into()),
            PathStep::Attr("create".into()),
        ];
        assert_eq!(
            ValueError::unknown_at(p.clone()).to_string(),
            "value at .timeouts.create is unknown"
        );
        assert_eq!(
            ValueError::at(
                vec![
                    PathStep::Attr("tags".into()),
                    PathStep::Key("e\"nv".into()),
                    PathStep::Index(3)
                ],
                "a string is required"
            )
            .to_string(),
            "value at .tags[\"e\\\"nv\"][3]: a string is required"
        );
        assert_eq!(ValueError::new("boom").to_string(), "boom");
    }

    #[test]
    fn set_elements_cut_the_path() {
        let mut w = Walk::default();
        w.push(PathStep::Attr("rules".into()));
        w.push_set(2);
        w.push(PathStep::Attr("port".into()));
        let e = w.err("a number is required");
        assert_eq!(e.path, vec![PathStep::Attr("rules".into())]);
        assert_eq!(
            e.to_string(),
            "value at .rules: in set element #2 at .port: a number is required"
        );
    }
}
