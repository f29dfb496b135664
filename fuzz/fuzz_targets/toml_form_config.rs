//! Arbitrary text as a form configuration: accepted configurations validate.
#![no_main]

use stretchwatch::form::FormConfig;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = FormConfig::from_toml_str(text) {
        assert!(c.validate().is_ok());
    }
});
