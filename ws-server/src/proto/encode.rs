//! Server frames, encoded once and shareable between connections.

use bytes::Bytes;

use super::{CloseCode, FrameHeader, MAX_HEADER_LEN, OpCode, truncate_reason};
use crate::{Message, Text};

/// An encoded, unmasked server frame: a header and a shared payload.
///
/// Cloning it is cheap (the payload is reference counted), so a broadcast encodes a
/// message once and queues clones of the same frame to every recipient.
///
/// ```
/// use ws_server::proto::OutFrame;
/// let frame = OutFrame::text("hi".into());
/// assert_eq!(frame.header(), &[0x81, 2]);
/// assert_eq!(&frame.payload()[..], b"hi");
/// ```
#[derive(Clone)]
pub struct OutFrame {
    head: [u8; MAX_HEADER_LEN],
    head_len: u8,
    opcode: OpCode,
    payload: Bytes,
}

impl OutFrame {
    #[inline]
    fn new(opcode: OpCode, payload: Bytes) -> OutFrame {
        OutFrame::with_rsv1(opcode, payload, false)
    }

    #[inline]
    fn with_rsv1(opcode: OpCode, payload: Bytes, rsv1: bool) -> OutFrame {
        let mut head = [0u8; MAX_HEADER_LEN];
        let mut header = FrameHeader::server(opcode, payload.len() as u64);
        header.rsv1 = rsv1;
        let head_len = header.encode(&mut head) as u8;
        OutFrame {
            head,
            head_len,
            opcode,
            payload,
        }
    }

    /// A text message in one frame.
    #[inline]
    pub fn text(text: Text) -> OutFrame {
        OutFrame::new(OpCode::Text, text.into_bytes())
    }

    /// A binary message in one frame.
    #[inline]
    pub fn binary(data: Bytes) -> OutFrame {
        OutFrame::new(OpCode::Binary, data)
    }

    /// A data message in one frame.
    #[inline]
    pub fn message(message: Message) -> OutFrame {
        match message {
            Message::Text(text) => OutFrame::text(text),
            Message::Binary(data) => OutFrame::binary(data),
        }
    }

    /// A message in one frame whose payload is compressed with permessage-deflate: RSV1 is
    /// set.
    pub fn compressed(message: &Message, payload: Bytes) -> OutFrame {
        let opcode = match message {
            Message::Text(_) => OpCode::Text,
            Message::Binary(_) => OpCode::Binary,
        };
        OutFrame::with_rsv1(opcode, payload, true)
    }

    /// A pong answering a ping with `payload`.
    pub fn pong(payload: Bytes) -> OutFrame {
        OutFrame::new(OpCode::Pong, payload)
    }

    /// A ping with `payload` (at most 125 bytes).
    pub fn ping(payload: Bytes) -> OutFrame {
        OutFrame::new(OpCode::Ping, payload)
    }

    /// A close frame with a code and a reason cut to fit; `None` sends an empty close frame.
    pub fn close(status: Option<(CloseCode, &str)>) -> OutFrame {
        let payload = match status {
            None => Bytes::new(),
            Some((code, reason)) => {
                let reason = truncate_reason(reason);
                let mut payload = Vec::with_capacity(2 + reason.len());
                payload.extend_from_slice(&code.as_u16().to_be_bytes());
                payload.extend_from_slice(reason.as_bytes());
                payload.into()
            }
        };
        OutFrame::new(OpCode::Close, payload)
    }

    /// The encoded header.
    #[inline]
    pub fn header(&self) -> &[u8] {
        &self.head[..usize::from(self.head_len)]
    }

    /// The header in an array of the longest header's size (zero after the header): copied
    /// whole, it costs a fixed move instead of a copy of variable length.
    #[inline]
    pub(crate) fn padded_header(&self) -> &[u8; MAX_HEADER_LEN] {
        &self.head
    }

    /// The payload.
    #[inline]
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The frame's opcode.
    pub fn opcode(&self) -> OpCode {
        self.opcode
    }

    /// Header and payload length together.
    #[inline]
    pub fn wire_len(&self) -> usize {
        usize::from(self.head_len) + self.payload.len()
    }
}

impl std::fmt::Debug for OutFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutFrame")
            .field("opcode", &self.opcode)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_frame_carries_code_and_truncated_reason() {
        let frame = OutFrame::close(Some((CloseCode::NORMAL, &"x".repeat(200))));
        assert_eq!(frame.payload().len(), 125);
        assert_eq!(&frame.payload()[..2], &[0x03, 0xe8]);
        assert_eq!(frame.header(), &[0x88, 125]);
        assert_eq!(OutFrame::close(None).header(), &[0x88, 0]);
    }

    #[test]
    fn compressed_frames_set_rsv1() {
        let frame = OutFrame::compressed(&Message::from("hi"), Bytes::from_static(b"\x01"));
        assert_eq!(frame.header(), &[0xc1, 1]);
    }

    #[test]
    fn long_payloads_use_extended_lengths() {
        let frame = OutFrame::binary(Bytes::from(vec![0u8; 70_000]));
        assert_eq!(frame.header()[..2], [0x82, 127]);
        assert_eq!(frame.wire_len(), 70_010);
    }
}
