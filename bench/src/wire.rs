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

/// The length field's bytes for a payload of `len` bytes, after the opcode byte.
fn length_field(len: usize, masked: bool, out: &mut Vec<u8>) {
    let mask_bit = if masked { 0x80 } else { 0 };
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len <= usize::from(u16::MAX) {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// A final, masked client frame.
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x80 | opcode);
    length_field(payload.len(), true, &mut out);
    out.extend_from_slice(&MASK);
    out.extend(
        payload
            .iter()
            .zip(MASK.iter().cycle())
            .map(|(byte, key)| byte ^ key),
    );
    out
}

/// Masks `payload` in place, as [`client_frame`] does (the mask starts at its first byte).
pub fn mask_in_place(payload: &mut [u8]) {
    for (byte, key) in payload.iter_mut().zip(MASK.iter().cycle()) {
        *byte ^= key;
    }
}

/// A final, unmasked server frame: what an echo server answers to [`client_frame`].
pub fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.push(0x80 | opcode);
    length_field(payload.len(), false, &mut out);
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

/// The head of a server frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerHead {
    /// FIN, RSV and opcode: the first byte.
    pub first: u8,
    /// Bytes of the head (2 to 10: servers do not mask).
    pub head_len: usize,
    /// Bytes of payload that follow.
    pub payload_len: usize,
}

/// Reads the head of a server frame from the start of `buf`; `None` until it is all there.
/// `Err` for a masked frame, which a server must not send.
pub fn parse_server_head(buf: &[u8]) -> Result<Option<ServerHead>, String> {
    let [first, second, ..] = *buf else {
        return Ok(None);
    };
    if second & 0x80 != 0 {
        return Err("masked server frame".to_owned());
    }
    let (head_len, payload_len) = match second & 0x7f {
        126 if buf.len() >= 4 => (4, usize::from(u16::from_be_bytes([buf[2], buf[3]]))),
        127 if buf.len() >= 10 => {
            let mut len = [0u8; 8];
            len.copy_from_slice(&buf[2..10]);
            (10, u64::from_be_bytes(len) as usize)
        }
        126 | 127 => return Ok(None),
        len => (2, usize::from(len)),
    };
    Ok(Some(ServerHead {
        first,
        head_len,
        payload_len,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
