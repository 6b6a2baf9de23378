//! Client-to-server payload masking (RFC 6455 section 5.3).

/// XORs `buf` with the 4-byte masking `key`, as if `buf` started `offset` bytes into the
/// payload. Masking is its own inverse, so this both masks and unmasks.
///
/// The offset lets a payload be unmasked piecewise as it arrives, which is what allows
/// invalid UTF-8 to be rejected before the rest of a frame is read.
///
/// ```
/// use ws_server::proto::apply_mask;
/// let key = [1, 2, 3, 4];
/// let mut whole = *b"hello world";
/// apply_mask(&mut whole, key, 0);
/// let mut parts = *b"hello world";
/// apply_mask(&mut parts[..5], key, 0);
/// apply_mask(&mut parts[5..], key, 5);
/// assert_eq!(whole, parts);
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    if buf.len() >= ALIGN_FROM {
        apply_mask_aligned(buf, key, offset);
    } else {
        mask_words(buf, key, offset);
    }
}

/// [`apply_mask`] for long payloads.
#[inline(never)]
fn apply_mask_aligned(buf: &mut [u8], key: [u8; 4], offset: usize) {
    // A payload lies behind its frame's header and so is never aligned by itself: the
    // bytes up to a 16-byte boundary go first, so that the wide loads and stores of the
    // rest are aligned (half as fast again at 64 KiB; below a few KiB, not worth it).
    let head = buf.as_ptr().align_offset(16).min(buf.len());
    let (head_bytes, rest) = buf.split_at_mut(head);
    mask_words(head_bytes, key, offset);
    mask_words(rest, key, offset + head);
}

/// A copy of `src` XORed with the masking `key`, from the payload's start: unmasking while
/// copying goes over the payload once instead of twice.
pub(crate) fn copy_masked(src: &[u8], key: [u8; 4]) -> Vec<u8> {
    let len = src.len();
    let mut out = Vec::with_capacity(len);
    let word = key_word(key);
    let mut dst_chunks = out.spare_capacity_mut()[..len].chunks_exact_mut(8);
    let mut src_chunks = src.chunks_exact(8);
    for (dst, src) in (&mut dst_chunks).zip(&mut src_chunks) {
        let masked = (u64::from_ne_bytes(src.try_into().expect("8 bytes")) ^ word).to_ne_bytes();
        for (dst, byte) in dst.iter_mut().zip(masked) {
            dst.write(byte);
        }
    }
    let rest = dst_chunks.into_remainder().iter_mut();
    for (i, (dst, byte)) in rest.zip(src_chunks.remainder()).enumerate() {
        dst.write(byte ^ key[i % 4]);
    }
    // SAFETY: the loops above wrote all `len` bytes, `len` is within the capacity.
    #[allow(unsafe_code)]
    unsafe {
        out.set_len(len);
    }
    out
}

/// From this length on, aligning first pays for itself.
const ALIGN_FROM: usize = 4096;

#[inline]
fn mask_words(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate(key, offset % 4);
    // Eight bytes at a time: the compiler turns this into wide XORs without `unsafe`.
    let word = key_word(key);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

/// The key twice over, to XOR eight bytes at a time: in memory, its bytes are the key's
/// twice on either byte order.
#[inline]
fn key_word(key: [u8; 4]) -> u64 {
    let half = u64::from(u32::from_ne_bytes(key));
    half | (half << 32)
}

fn rotate(key: [u8; 4], by: usize) -> [u8; 4] {
    [
        key[by],
        key[(by + 1) % 4],
        key[(by + 2) % 4],
        key[(by + 3) % 4],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, byte) in buf.iter_mut().enumerate() {
            *byte ^= key[(offset + i) % 4];
        }
    }

    #[test]
    fn matches_the_bytewise_definition_at_every_offset_length_and_alignment() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..ALIGN_FROM + 64)
            .map(|b| (b as u8).wrapping_mul(31))
            .collect();
        // Every start within a 16-byte line, so that the aligned part begins anywhere.
        for start in 0..16 {
            for len in (0..200).chain(ALIGN_FROM - 1..ALIGN_FROM + 40) {
                for offset in 0..8 {
                    let mut fast = data.clone();
                    let mut slow = data.clone();
                    apply_mask(&mut fast[start..start + len], key, offset);
                    naive(&mut slow[start..start + len], key, offset);
                    assert_eq!(fast, slow, "start {start} len {len} offset {offset}");
                }
            }
        }
    }

    #[test]
    fn a_masked_copy_matches_the_bytewise_definition_at_every_length_and_alignment() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..300).map(|b| (b as u8).wrapping_mul(31)).collect();
        for start in 0..16 {
            for len in 0..200 {
                let src = &data[start..start + len];
                let mut slow = src.to_vec();
                naive(&mut slow, key, 0);
                assert_eq!(copy_masked(src, key), slow, "start {start} len {len}");
            }
        }
    }

    #[test]
    fn rfc_example_hello() {
        // RFC 6455 section 5.7: a masked "Hello".
        let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&payload, b"Hello");
    }
}
