//! Chunk encoding of sample and angle columns as BLOBs.
//!
//! A chunk is a run of rows of one stream (one sensor's samples, or the angle frames) stored
//! column by column as little-endian `f32`. Time is stored as the offset from the chunk's start
//! time (`t0_s`, a REAL column beside the blob), so `f32` keeps microsecond resolution within a
//! chunk. Two codecs:
//!
//! * [`Codec::F32`]: the columns as they are (4 bytes per value).
//! * [`Codec::ShuffleDeflate`]: the bytes of each column split into four planes (all first bytes,
//!   then all second bytes, ...) and the whole deflated at the fastest level. Sign and exponent
//!   bytes of slowly varying signals repeat, so the planes compress well; noisy mantissa bytes
//!   do not, and stay about their size. This is what the store writes (figures in `benches/store.rs`).

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use std::io::{Read as _, Write as _};

/// How a chunk's columns are laid out in its BLOB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Plain little-endian `f32` columns.
    F32,
    /// Byte planes per column, then raw deflate.
    ShuffleDeflate,
}

impl Codec {
    /// Tag stored in the `codec` column.
    pub fn tag(self) -> i64 {
        match self {
            Codec::F32 => 0,
            Codec::ShuffleDeflate => 1,
        }
    }

    /// Codec of a stored tag.
    pub fn from_tag(tag: i64) -> Option<Codec> {
        match tag {
            0 => Some(Codec::F32),
            1 => Some(Codec::ShuffleDeflate),
            _ => None,
        }
    }
}

/// Encodes `columns` (all of equal length) with `codec`.
pub fn encode(columns: &[&[f32]], codec: Codec) -> Vec<u8> {
    let n = columns.first().map_or(0, |c| c.len());
    let mut raw = Vec::with_capacity(n * 4 * columns.len());
    match codec {
        Codec::F32 => {
            for c in columns {
                for v in c.iter() {
                    raw.extend_from_slice(&v.to_le_bytes());
                }
            }
            raw
        }
        Codec::ShuffleDeflate => {
            for c in columns {
                for plane in 0..4 {
                    raw.extend(c.iter().map(|v| v.to_le_bytes()[plane]));
                }
            }
            let mut enc =
                DeflateEncoder::new(Vec::with_capacity(raw.len() / 2), Compression::fast());
            // Writing into a Vec cannot fail.
            let _ = enc.write_all(&raw);
            enc.finish().unwrap_or_default()
        }
    }
}

/// Decodes a BLOB of `n_columns` columns of `n_rows` values; `None` if it is malformed.
pub fn decode(blob: &[u8], codec: Codec, n_columns: usize, n_rows: usize) -> Option<Vec<Vec<f32>>> {
    let len = n_columns * n_rows * 4;
    let raw: Vec<u8> = match codec {
        Codec::F32 => blob.to_vec(),
        Codec::ShuffleDeflate => {
            let mut out = Vec::with_capacity(len);
            DeflateDecoder::new(blob).read_to_end(&mut out).ok()?;
            out
        }
    };
    if raw.len() != len {
        return None;
    }
    let cols = raw
        .chunks_exact((n_rows * 4).max(1))
        .take(n_columns)
        .map(|col| match codec {
            Codec::F32 => col
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Codec::ShuffleDeflate => (0..n_rows)
                .map(|i| {
                    f32::from_le_bytes([
                        col[i],
                        col[n_rows + i],
                        col[2 * n_rows + i],
                        col[3 * n_rows + i],
                    ])
                })
                .collect(),
        })
        .collect::<Vec<Vec<f32>>>();
    if n_rows == 0 {
        return Some(vec![Vec::new(); n_columns]);
    }
    Some(cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_both_codecs() {
        let a: Vec<f32> = (0..1000).map(|i| i as f32 * 0.01).collect();
        let b: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.1).sin() * 9.81).collect();
        let nan = vec![f32::NAN; 1000];
        for codec in [Codec::F32, Codec::ShuffleDeflate] {
            let blob = encode(&[&a, &b, &nan], codec);
            let cols = decode(&blob, codec, 3, 1000).unwrap();
            assert_eq!(cols[0], a);
            assert_eq!(cols[1], b);
            assert!(cols[2].iter().all(|v| v.is_nan()));
            assert!(decode(&blob, codec, 3, 999).is_none());
        }
        assert!(
            decode(
                &encode(&[&[], &[]], Codec::ShuffleDeflate),
                Codec::ShuffleDeflate,
                2,
                0
            )
            .is_some()
        );
    }
}
