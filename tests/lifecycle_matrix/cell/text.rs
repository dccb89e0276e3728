//! Reading terraform's output and writing findings short enough for the table.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::TfOutput;

/// `(severity, "summary detail")` of each diagnostic in a `-json` run's output.
pub fn json_diagnostics(out: &TfOutput) -> Vec<(String, String)> {
    out.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["type"] == "diagnostic")
        // Every run under dev_overrides says so; it is no finding of the provider's.
        .filter(|m| m["diagnostic"]["summary"] != "Provider development overrides are in effect")
        .map(|m| {
            let d = &m["diagnostic"];
            (
                d["severity"].as_str().unwrap_or("").to_owned(),
                flat(&format!(
                    "{} {}",
                    d["summary"].as_str().unwrap_or(""),
                    d["detail"].as_str().unwrap_or("")
                )),
            )
        })
        .collect()
}

/// The first error summary of a run (`-json` or human output).
pub fn first_error(out: &TfOutput) -> String {
    let json = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["type"] == "diagnostic" && m["diagnostic"]["severity"] == "error")
        .and_then(|m| m["diagnostic"]["summary"].as_str().map(str::to_owned));
    if let Some(e) = json {
        return e;
    }
    let human: Vec<String> = format!("{}\n{}", out.stderr, out.stdout)
        .lines()
        .map(|l| l.trim_start_matches(['│', '╷', ' ']).trim())
        .filter_map(|l| l.strip_prefix("Error: ").map(str::to_owned))
        .collect();
    human
        .first()
        .cloned()
        .unwrap_or_else(|| "no error message".to_owned())
}

/// Every run of whitespace made one space (Terraform wraps diagnostics wherever it likes).
pub fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `n` characters of `s`.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// Job ids and ports differ on every run: the table shows `job_…` and `127.0.0.1:…`, so it
/// changes only when behaviour does.
pub fn redact(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    loop {
        let j = rest.find("job_");
        let p = rest.find("127.0.0.1:");
        let (i, skip, alnum): (usize, usize, bool) = match (j, p) {
            (Some(j), Some(p)) if p < j => (p, 10, false),
            (Some(j), _) => (j, 4, true),
            (None, Some(p)) => (p, 10, false),
            (None, None) => break,
        };
        out.push_str(&rest[..i + skip]);
        let tail = &rest[i + skip..];
        let n = tail
            .find(|c: char| !(c.is_ascii_digit() || (alnum && c.is_ascii_alphanumeric())))
            .unwrap_or(tail.len());
        if n > 0 {
            out.push('…');
        }
        rest = &tail[n..];
    }
    out.push_str(rest);
    out
}

/// `POST backups ×1, DELETE snapshots/{snapshotId} ×1`, or `nothing`.
pub fn requests_text(m: &BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "nothing".to_owned();
    }
    m.iter()
        .map(|(r, n)| format!("{} ×{n}", r.replace("/api/v2/vps/{id}/", "")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `delete,create` (one resource) or `t: create; u: no-op`.
pub fn actions_text(v: &[(String, Vec<String>)]) -> String {
    match v {
        [] => "no changes".to_owned(),
        [(_, a)] => a.join(","),
        _ => v
            .iter()
            .map(|(addr, a)| {
                format!(
                    "{}: {}",
                    addr.rsplit('.').next().unwrap_or(addr),
                    a.join(",")
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    }
}
