//! The JSON cty codec (state files, DynamicValue.json, RawState.json in UpgradeResourceState):
//! strict and lenient decoding never panic, and our own encoding of a decoded
//! value is a fixed point of decode + encode.
#![no_main]

mod common;

use hostup_provider::plugin::value::{decode_json, decode_json_lenient, encode_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((ty, bytes)) = common::split(data) else {
        return;
    };
    let _ = decode_json_lenient(bytes, &ty);
    let Ok(v) = decode_json(bytes, &ty) else {
        return;
    };
    // Decoding keeps what Terraform sent; encoding writes only what carries meaning (e.g. a
    // refinement that applies to the type). So the first encoding may normalise, and from
    // there on encode and decode must be exact inverses.
    let first = encode_json(&v, &ty).expect("a decoded value encodes");
    let w = decode_json(&first, &ty).expect("our own encoding decodes");
    let second = encode_json(&w, &ty).expect("a re-decoded value encodes");
    assert_eq!(
        first, second,
        "re-encoding our own output changed the bytes"
    );
    assert_eq!(
        decode_json(&second, &ty).ok(),
        Some(w),
        "decode is not stable on our output"
    );
});
