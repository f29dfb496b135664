//! Arbitrary bytes as a recording, replayed end to end with the shipped nominal profile.
#![no_main]

#[path = "common/mod.rs"]
mod common;

const PROFILE: &str = include_str!("../../calibration/default-lateral-x-up.toml");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::fuzz_replay(data, Some(PROFILE));
});
