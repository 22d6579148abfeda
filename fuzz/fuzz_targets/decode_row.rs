//! cargo-fuzz target `decode_row`: the property lives in `fuzz/props.rs`, shared with `tests/fuzz_corpus.rs`.
#![no_main]

#[path = "../props.rs"]
mod props;

libfuzzer_sys::fuzz_target!(|data: &[u8]| props::decode_row(data));
