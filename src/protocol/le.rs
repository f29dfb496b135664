//! Bounds-checked little-endian field readers shared by the decoders.
//!
//! Every reader returns `None` instead of panicking when the field runs past the end of the slice.

/// Reads a `u16` at `offset`.
pub(crate) fn u16_at(bytes: &[u8], offset: usize) -> Option<u16> {
    let b = bytes.get(offset..offset.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

/// Reads an `i16` at `offset`.
pub(crate) fn i16_at(bytes: &[u8], offset: usize) -> Option<i16> {
    u16_at(bytes, offset).map(|v| v as i16)
}

/// Reads a `u32` at `offset`.
pub(crate) fn u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    let b = bytes.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads an `f32` at `offset`.
pub(crate) fn f32_at(bytes: &[u8], offset: usize) -> Option<f32> {
    u32_at(bytes, offset).map(f32::from_bits)
}

/// Reads three consecutive `i16` values at `offset`.
pub(crate) fn i16x3_at(bytes: &[u8], offset: usize) -> Option<[i16; 3]> {
    Some([
        i16_at(bytes, offset)?,
        i16_at(bytes, offset.checked_add(2)?)?,
        i16_at(bytes, offset.checked_add(4)?)?,
    ])
}

/// Reads three consecutive `f32` values at `offset`.
pub(crate) fn f32x3_at(bytes: &[u8], offset: usize) -> Option<[f32; 3]> {
    Some([
        f32_at(bytes, offset)?,
        f32_at(bytes, offset.checked_add(4)?)?,
        f32_at(bytes, offset.checked_add(8)?)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_are_little_endian_and_bounds_checked() {
        let b = [0x34, 0x12, 0xff, 0xff, 0x00, 0x00, 0x80, 0x3f];
        assert_eq!(u16_at(&b, 0), Some(0x1234));
        assert_eq!(i16_at(&b, 2), Some(-1));
        assert_eq!(f32_at(&b, 4), Some(1.0));
        assert_eq!(u32_at(&b, 5), None);
        assert_eq!(u16_at(&b, usize::MAX), None);
        assert_eq!(i16x3_at(&b, 4), None);
    }
}
