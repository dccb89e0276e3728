//! Reading terraform's output: whitespace-flattened text, error summaries, job ids redacted.

use crate::support::TfOutput;

/// Terraform wraps diagnostics at 78 columns wherever a line happens to break: phrases are
/// matched on the text with every run of whitespace made one space.
pub(crate) fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `Error: …` summaries terraform printed, without the box-drawing prefix, joined.
/// Terraform's own "execution halted" after an interrupt is left out: whether it prints it
/// depends on timing, and the table should change only when the provider's behaviour does.
pub(crate) fn first_error(out: &TfOutput) -> Option<String> {
    let mut all: Vec<String> = format!("{}\n{}", out.stderr, out.stdout)
        .lines()
        .map(|l| l.trim_start_matches(['│', '╷', ' ']).trim())
        .filter_map(|l| l.strip_prefix("Error: ").map(str::to_owned))
        .filter(|e| e != "execution halted")
        .collect();
    all.dedup();
    (!all.is_empty()).then(|| all.join("; then: "))
}

/// Job ids differ on every run; the table shows `job_…` so the document only changes when
/// behaviour does.
pub(crate) fn redact_job_ids(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("job_") {
        out.push_str(&rest[..i + 4]);
        let tail = &rest[i + 4..];
        let n = tail
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(tail.len());
        if n > 0 {
            out.push('…');
        }
        rest = &tail[n..];
    }
    out.push_str(rest);
    out
}
