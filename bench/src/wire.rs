//! Client frames, encoded once before a run, and the server frames an echo sends back.

/// The masking key of every client frame. RFC 6455 wants it unpredictable to protect
/// proxies; a benchmark on loopback has none, and a fixed key lets frames be pre-encoded.
pub const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// The binary opcode.
pub const BINARY: u8 = 0x2;

/// The pong opcode.
pub const PONG: u8 = 0xa;

/// The first byte of a server's ping: FIN and the ping opcode. Its payload length, in the
/// second byte, is at most 125.
pub const PING_HEAD: u8 = 0x89;

/// The head of a final frame with first byte `first` and `len` bytes of payload, without
/// a masking key, and how many of its bytes are used (2 to 10). `masked` sets the bit that
/// announces a key.
#[inline]
pub fn head(first: u8, len: usize, masked: bool) -> ([u8; 10], usize) {
    let mask_bit = if masked { 0x80 } else { 0 };
    let mut out = [first, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let used = if len < 126 {
        out[1] = mask_bit | len as u8;
        2
    } else if len <= usize::from(u16::MAX) {
        out[1] = mask_bit | 126;
        out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        out[1] = mask_bit | 127;
        out[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    };
    (out, used)
}

/// A final, masked client frame.
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    let (head, used) = head(0x80 | opcode, payload.len(), true);
    out.extend_from_slice(&head[..used]);
    out.extend_from_slice(&MASK);
    let start = out.len();
    out.extend_from_slice(payload);
    mask_in_place(&mut out[start..]);
    out
}

/// Masks `payload` in place, as [`client_frame`] does (the mask starts at its first byte).
pub fn mask_in_place(payload: &mut [u8]) {
    apply_mask(payload, MASK);
}

/// Masks or unmasks `payload` in place with `key`, starting at the key's first byte; eight
/// bytes at a time, which the compiler vectorizes.
#[inline]
pub fn apply_mask(payload: &mut [u8], key: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut words = payload.chunks_exact_mut(8);
    for word in &mut words {
        let masked = u64::from_ne_bytes((&*word).try_into().expect("8 bytes")) ^ wide;
        word.copy_from_slice(&masked.to_ne_bytes());
    }
    // A multiple of 8 bytes in, the key starts over.
    for (byte, key) in words.into_remainder().iter_mut().zip(key.iter().cycle()) {
        *byte ^= key;
    }
}

/// A final, unmasked server frame: what an echo server answers to [`client_frame`].
pub fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    let (head, used) = head(0x80 | opcode, payload.len(), false);
    out.extend_from_slice(&head[..used]);
    out.extend_from_slice(payload);
    out
}

/// A payload of `len` bytes that no compressor or cache makes special.
pub fn payload(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// The head of a frame, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// FIN, RSV and opcode: the first byte.
    pub first: u8,
    /// Bytes of the head, the masking key included if there is one (2 to 14).
    pub head_len: usize,
    /// Bytes of payload that follow.
    pub payload_len: usize,
}

/// Reads the head of a frame, masked or not, from the start of `buf`; `None` until it is
/// all there (with its masking key, if the frame has one).
#[inline]
pub fn parse_head(buf: &[u8]) -> Option<Head> {
    let [first, second, ..] = *buf else {
        return None;
    };
    let (len_len, payload_len) = match second & 0x7f {
        126 => (
            4,
            usize::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?)),
        ),
        127 => (
            10,
            u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize,
        ),
        len => (2, usize::from(len)),
    };
    let head_len = if second & 0x80 != 0 {
        len_len + 4
    } else {
        len_len
    };
    (buf.len() >= head_len).then_some(Head {
        first,
        head_len,
        payload_len,
    })
}

/// Reads the head of a server frame from the start of `buf`; `None` until it is all there.
/// `Err` for a masked frame, which a server must not send.
pub fn parse_server_head(buf: &[u8]) -> Result<Option<Head>, String> {
    if buf.get(1).is_some_and(|second| second & 0x80 != 0) {
        return Err("masked server frame".to_owned());
    }
    Ok(parse_head(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_follows_the_key_byte_by_byte() {
        // RFC 6455, section 5.7: "Hello" masked with 37 fa 21 3d.
        let mut hello = *b"Hello";
        apply_mask(&mut hello, [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(hello, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
        // Across the eight-byte words and the rest, byte i takes key byte i mod 4.
        let key = [1, 2, 4, 8];
        for len in 0..40 {
            let mut data = payload(len);
            let expected: Vec<u8> = data
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[i % 4])
                .collect();
            apply_mask(&mut data, key);
            assert_eq!(data, expected, "{len} bytes");
        }
    }

    #[test]
    fn frames_of_each_length_form_read_back() {
        for len in [0, 16, 125, 126, 1024, 65535, 65536] {
            let data = payload(len);
            let frame = server_frame(BINARY, &data);
            let head = parse_server_head(&frame).unwrap().unwrap();
            assert_eq!(head.first, 0x82);
            assert_eq!(head.payload_len, len);
            assert_eq!(&frame[head.head_len..], &data[..]);

            let client = client_frame(BINARY, &data);
            let client_head = parse_head(&client).unwrap();
            assert_eq!(client_head.head_len, head.head_len + 4);
            assert_eq!(client_head.payload_len, len);
            let mut unmasked = client[client.len() - len..].to_vec();
            mask_in_place(&mut unmasked);
            assert_eq!(unmasked, data);
            assert_eq!(client.len(), frame.len() + 4);
        }
    }

    #[test]
    fn a_masked_or_partial_head_is_told_apart() {
        assert_eq!(parse_server_head(&[0x82]), Ok(None));
        assert_eq!(parse_server_head(&[0x82, 126, 1]), Ok(None));
        assert!(parse_server_head(&[0x82, 0x85]).is_err());
        assert_eq!(
            parse_head(&[0x82, 0x85, 1, 2, 3]),
            None,
            "the key is not all there"
        );
    }
}
