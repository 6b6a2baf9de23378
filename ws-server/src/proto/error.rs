//! What a peer can do wrong, and the close code each gets.

use super::CloseCode;

/// A violation of RFC 6455 or of a configured limit by the peer. Each maps to the close code
/// the connection is failed with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An opcode the RFC reserves.
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// RSV bits set without an extension that defines them.
    #[error("reserved bits set without a negotiated extension")]
    ReservedBits,
    /// A client frame without a mask.
    #[error("unmasked client frame")]
    UnmaskedFrame,
    /// A 64-bit payload length with the most significant bit set.
    #[error("invalid payload length")]
    InvalidLength,
    /// A control frame with FIN clear.
    #[error("fragmented control frame")]
    FragmentedControl,
    /// A control frame with more than 125 bytes of payload.
    #[error("control frame payload over 125 bytes")]
    ControlTooLong,
    /// A continuation frame with no message to continue.
    #[error("continuation frame without a message in progress")]
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is unfinished.
    #[error("new message before the previous one was finished")]
    ExpectedContinuation,
    /// Text that is not valid UTF-8.
    #[error("invalid utf-8 in a text message")]
    InvalidUtf8,
    /// A close payload of one byte.
    #[error("close payload of one byte")]
    CloseTooShort,
    /// A close code that may not be sent on the wire.
    #[error("invalid close code {0}")]
    InvalidCloseCode(u16),
    /// A close reason that is not valid UTF-8.
    #[error("invalid utf-8 in the close reason")]
    InvalidCloseReason,
    /// A frame payload over `max_payload`.
    #[error("frame payload of {len} bytes exceeds the limit of {max}")]
    PayloadTooLarge {
        /// The announced payload length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// A message of more frames than `max_frames`.
    #[error("message exceeds the limit of {max} frames")]
    TooManyFrames {
        /// The limit.
        max: usize,
    },
    /// A compressed message that does not inflate.
    #[error("invalid compressed data")]
    BadCompression,
    /// A message larger than `max_message`.
    #[error("message exceeds the limit of {max} bytes")]
    MessageTooLarge {
        /// The limit.
        max: usize,
    },
}

impl ProtocolError {
    /// The close code that answers this error: 1007 for invalid text, 1009 for a breached
    /// limit, 1002 for everything else.
    ///
    /// ```
    /// use ws_server::{proto::ProtocolError, CloseCode};
    /// assert_eq!(ProtocolError::InvalidUtf8.close_code(), CloseCode::INVALID_DATA);
    /// assert_eq!(ProtocolError::TooManyFrames { max: 4 }.close_code(), CloseCode::TOO_BIG);
    /// assert_eq!(ProtocolError::UnmaskedFrame.close_code(), CloseCode::PROTOCOL_ERROR);
    /// ```
    pub fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 => CloseCode::INVALID_DATA,
            ProtocolError::PayloadTooLarge { .. }
            | ProtocolError::TooManyFrames { .. }
            | ProtocolError::MessageTooLarge { .. } => CloseCode::TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// Whether the error is in the peer's close frame. After one, no other close frame will
    /// come, so the close handshake is over once this side answers.
    ///
    /// ```
    /// use ws_server::proto::ProtocolError;
    /// assert!(ProtocolError::InvalidCloseCode(1005).is_in_close_frame());
    /// assert!(!ProtocolError::InvalidUtf8.is_in_close_frame());
    /// ```
    pub fn is_in_close_frame(&self) -> bool {
        matches!(
            self,
            ProtocolError::CloseTooShort
                | ProtocolError::InvalidCloseCode(_)
                | ProtocolError::InvalidCloseReason
        )
    }

    /// Whether the stream cannot be followed past the error: the frame's header is
    /// unreadable, or announces a payload over a limit, which may be huge or never come,
    /// so where the next frame starts is unknown.
    pub(crate) fn loses_framing(&self) -> bool {
        matches!(
            self,
            ProtocolError::ReservedOpcode(_)
                | ProtocolError::InvalidLength
                | ProtocolError::ControlTooLong
                | ProtocolError::PayloadTooLarge { .. }
        )
    }
}
