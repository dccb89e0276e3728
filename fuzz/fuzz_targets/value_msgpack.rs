//! The msgpack cty codec (DynamicValue.msgpack, what Terraform sends on every RPC): decoding
//! arbitrary bytes against an arbitrary type never panics, and our own encoding of whatever
//! decodes is a fixed point of decode + encode.
#![no_main]

mod common;

use hostup_provider::plugin::value::{decode_msgpack, encode_msgpack};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((ty, bytes)) = common::split(data) else {
        return;
    };
    let Ok(v) = decode_msgpack(bytes, &ty) else {
        return;
    };
    // Decoding keeps what Terraform sent; encoding writes only what carries meaning (e.g. a
    // refinement that applies to the type). So the first encoding may normalise, and from
    // there on encode and decode must be exact inverses.
    let first = encode_msgpack(&v, &ty).expect("a decoded value encodes");
    let w = decode_msgpack(&first, &ty).expect("our own encoding decodes");
    let second = encode_msgpack(&w, &ty).expect("a re-decoded value encodes");
    assert_eq!(
        first, second,
        "re-encoding our own output changed the bytes"
    );
    assert_eq!(
        decode_msgpack(&second, &ty).ok(),
        Some(w),
        "decode is not stable on our output"
    );
});
