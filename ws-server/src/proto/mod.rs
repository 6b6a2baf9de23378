//! The WebSocket protocol engine (RFC 6455 and RFC 7692's permessage-deflate), sans-IO: no sockets, no runtime.
//!
//! The server drives it; it is public for tests, fuzzing and tools that want to speak the
//! protocol over their own transport.

mod close;
mod decoder;
mod deflate;
mod encode;
mod error;
mod frame;
mod mask;
mod opcode;
mod utf8;

pub use close::{CloseCode, MAX_CLOSE_REASON, parse_close_payload, truncate_reason};
pub use decoder::{Decoder, Event};
pub use deflate::DeflateParams;
/// The server's own permessage-deflate machinery, public for the fuzzers and benchmarks
/// only: not an API to build on.
#[doc(hidden)]
pub use deflate::{Inflater, compress, negotiate_deflate};
pub use encode::OutFrame;
pub use error::ProtocolError;
pub use frame::{FrameHeader, MAX_HEADER_LEN};
pub use mask::apply_mask;
pub use opcode::OpCode;
pub use utf8::{InvalidUtf8, Utf8Validator};

use crate::Text;

/// A received close frame's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason, possibly empty.
    pub reason: Text,
}
