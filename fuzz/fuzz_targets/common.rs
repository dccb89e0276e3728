//! Shared by the value targets: the types a fuzz input is decoded against.
//!
//! An input is `TYPE_JSON \0 VALUE_BYTES`: the type comes from the fuzzer too (cty's JSON type
//! syntax, as Terraform writes it in `DynamicValue` and in state), so every type shape is
//! reached. Without a `\0`, the first byte picks one of a few fixed types that resemble our
//! schemas, so plain corpora of values still make progress.

use hostup_provider::plugin::value::Type;

const FIXED: &[&str] = &[
    r#""dynamic""#,
    r#"["object",{"vps_id":"string","note":"string","triggers":["map","string"],"timeouts":["object",{"create":"string"}],"id":"string","job_id":"string","status":"string","completed_at":"string"}]"#,
    r#"["object",{"snapshots":["list",["object",{"name":"string","created_at":"string","includes_memory_state":"bool","size":"number"}]],"can_restore":["object",{"allowed":"bool","reason":"string","code":"string"}]}]"#,
    r#"["tuple",["string","number","bool",["set","string"],["map","dynamic"]]]"#,
    r#"["list",["set",["map","number"]]]"#,
];

/// Splits a fuzz input into a type and the bytes to decode against it.
pub fn split(data: &[u8]) -> Option<(Type, &[u8])> {
    if let Some(i) = data.iter().position(|&b| b == 0) {
        let ty = Type::from_json(&data[..i]).ok()?;
        Some((ty, &data[i + 1..]))
    } else {
        let (&first, rest) = data.split_first()?;
        let ty = Type::from_json(FIXED[usize::from(first) % FIXED.len()].as_bytes()).ok()?;
        Some((ty, rest))
    }
}
