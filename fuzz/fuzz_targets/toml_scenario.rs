//! Arbitrary text as a simulator scenario file: errors, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = stretchwatch::sim::scenario_file::parse_scenario(text);
});
