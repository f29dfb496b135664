//! Arbitrary bytes as a raw notification log: errors, never a panic; values in range.
#![no_main]

use std::io::Cursor;
use std::path::Path;
use stretchwatch::record::RawLogReader;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(mut r) = RawLogReader::new(Cursor::new(data), Path::new("fuzz.raw.jsonl")) else {
        return;
    };
    for d in &r.header().devices {
        assert!(stretchwatch::limits::RATE_HZ.contains(&f64::from(d.rate_hz)));
    }
    while let Ok(Some(rec)) = r.next_record() {
        assert!(rec.t_host_s.abs() <= stretchwatch::limits::MAX_TIME_S);
    }
});
