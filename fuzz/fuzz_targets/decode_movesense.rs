//! Arbitrary notifications and host writes through the Movesense decoder.
#![no_main]

#[path = "common/mod.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::fuzz_decoder(stretchwatch::protocol::Family::Movesense, data);
});
