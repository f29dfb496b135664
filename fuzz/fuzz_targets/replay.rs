//! Arbitrary bytes as a recording, replayed end to end (calibrating from its own windows).
#![no_main]

#[path = "common/mod.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::fuzz_replay(data, None);
});
