//! Frame headers: parsing and encoding (RFC 6455 section 5.2).

use super::{OpCode, ProtocolError};

/// The largest header on the wire: 2 bytes, an 8-byte length and a 4-byte mask.
pub const MAX_HEADER_LEN: usize = 14;

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The final fragment of a message.
    pub fin: bool,
    /// Extension bit 1 (permessage-deflate marks compressed messages with it).
    pub rsv1: bool,
    /// Extension bit 2.
    pub rsv2: bool,
    /// Extension bit 3.
    pub rsv3: bool,
    /// What the payload is.
    pub opcode: OpCode,
    /// The masking key; clients must mask every frame.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// A final, unmasked header as a server sends it.
    pub const fn server(opcode: OpCode, payload_len: u64) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// Parses a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` holds only part of a header, and otherwise the header
    /// with its length on the wire.
    ///
    /// # Errors
    /// A reserved opcode, or a 64-bit length with its most significant bit set.
    ///
    /// ```
    /// use ws_server::proto::{FrameHeader, OpCode};
    /// // RFC 6455 section 5.7: a masked "Hello".
    /// let wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    /// let (header, len) = FrameHeader::parse(&wire).unwrap().unwrap();
    /// assert_eq!((header.opcode, header.payload_len, len), (OpCode::Text, 5, 6));
    /// assert_eq!(FrameHeader::parse(&wire[..3]).unwrap(), None);
    /// ```
    #[inline]
    pub fn parse(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        let [b0, b1, ..] = *buf else {
            return Ok(None);
        };
        let opcode = OpCode::from_u8(b0 & 0x0F).ok_or(ProtocolError::ReservedOpcode(b0 & 0x0F))?;
        let masked = b1 & 0x80 != 0;
        let (payload_len, mut pos) = match b1 & 0x7F {
            126 => match buf.get(2..4) {
                Some(bytes) => (u64::from(u16::from_be_bytes([bytes[0], bytes[1]])), 4),
                None => return Ok(None),
            },
            127 => match buf.get(2..10) {
                Some(bytes) => {
                    let mut be = [0u8; 8];
                    be.copy_from_slice(bytes);
                    let len = u64::from_be_bytes(be);
                    if len >> 63 != 0 {
                        return Err(ProtocolError::InvalidLength);
                    }
                    (len, 10)
                }
                None => return Ok(None),
            },
            len => (u64::from(len), 2),
        };
        let mask = if masked {
            let Some(key) = buf.get(pos..pos + 4) else {
                return Ok(None);
            };
            pos += 4;
            Some([key[0], key[1], key[2], key[3]])
        } else {
            None
        };
        let header = FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            rsv2: b0 & 0x20 != 0,
            rsv3: b0 & 0x10 != 0,
            opcode,
            mask,
            payload_len,
        };
        Ok(Some((header, pos)))
    }

    /// Writes the header into `out` and returns how many bytes it took, using the shortest
    /// length encoding as the RFC requires.
    ///
    /// ```
    /// use ws_server::proto::{FrameHeader, OpCode, MAX_HEADER_LEN};
    /// let mut out = [0u8; MAX_HEADER_LEN];
    /// let len = FrameHeader::server(OpCode::Binary, 300).encode(&mut out);
    /// assert_eq!(&out[..len], &[0x82, 126, 0x01, 0x2c]);
    /// ```
    #[inline]
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = u8::from(self.fin) << 7
            | u8::from(self.rsv1) << 6
            | u8::from(self.rsv2) << 5
            | u8::from(self.rsv3) << 4
            | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut pos = match self.payload_len {
            len @ 0..=125 => {
                out[1] = mask_bit | len as u8;
                2
            }
            len @ 126..=0xFFFF => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&len.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            out[pos..pos + 4].copy_from_slice(&key);
            pos += 4;
        }
        pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(header: FrameHeader) {
        let mut out = [0u8; MAX_HEADER_LEN];
        let len = header.encode(&mut out);
        for cut in 0..len {
            assert_eq!(FrameHeader::parse(&out[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(FrameHeader::parse(&out[..len]), Ok(Some((header, len))));
    }

    #[test]
    fn round_trips_every_length_class_with_and_without_mask() {
        for payload_len in [0, 1, 125, 126, 127, 0xFFFF, 0x1_0000, u64::MAX >> 1] {
            for mask in [None, Some([1, 2, 3, 4])] {
                for opcode in [OpCode::Text, OpCode::Continuation, OpCode::Ping] {
                    round_trip(FrameHeader {
                        fin: payload_len % 2 == 0,
                        rsv1: true,
                        rsv2: false,
                        rsv3: true,
                        opcode,
                        mask,
                        payload_len,
                    });
                }
            }
        }
    }

    #[test]
    fn rejects_reserved_opcodes_and_oversized_lengths() {
        assert_eq!(
            FrameHeader::parse(&[0x83, 0x80]),
            Err(ProtocolError::ReservedOpcode(3))
        );
        let mut huge = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(FrameHeader::parse(&huge), Err(ProtocolError::InvalidLength));
        huge[2] = 0x7F;
        assert!(
            matches!(FrameHeader::parse(&huge), Ok(None)),
            "needs the mask key"
        );
    }

    #[test]
    fn reads_the_bits() {
        let (header, len) = FrameHeader::parse(&[0x09 | 0x40, 0x00]).unwrap().unwrap();
        assert_eq!(len, 2);
        assert!(!header.fin && header.rsv1 && !header.rsv2 && !header.rsv3);
        assert_eq!(header.opcode, OpCode::Ping);
        assert_eq!(header.mask, None);
    }
}
