//! A message on its way to one or many connections: its plain frame and, made on demand
//! and at most once each, its compressed frames per window size.

use std::sync::OnceLock;

use crate::{
    Message,
    proto::{DeflateParams, OutFrame, compress},
};

/// Window sizes a compressed frame can be made for: 9 to 15 bits.
const WINDOWS: usize = 7;

/// Makes the frame a connection sends for a message.
pub(crate) trait FrameSource {
    /// The frame for a connection with these compression settings (`None`: no
    /// compression).
    fn into_frame(self, deflate: Option<&SendDeflate>) -> OutFrame;
}

/// A message for one connection: encoded when queued, its payload moved into the frame.
pub(crate) struct Single(pub(crate) Message);

impl FrameSource for Single {
    #[inline]
    fn into_frame(self, deflate: Option<&SendDeflate>) -> OutFrame {
        let payload = self.0.payload();
        match deflate {
            Some(deflate) if payload.len() >= deflate.threshold => {
                let bits = deflate.params.server_max_window_bits;
                OutFrame::compressed(&self.0, compress(payload, bits, deflate.level))
            }
            _ => OutFrame::message(self.0),
        }
    }
}

/// A message for many connections.
pub(crate) struct Outgoing {
    message: Message,
    plain: OnceLock<OutFrame>,
    compressed: [OnceLock<OutFrame>; WINDOWS],
}

impl Outgoing {
    pub(crate) fn new(message: Message) -> Outgoing {
        Outgoing {
            message,
            plain: OnceLock::new(),
            compressed: Default::default(),
        }
    }
}

impl FrameSource for &Outgoing {
    /// Every connection with the same settings gets the same bytes.
    fn into_frame(self, deflate: Option<&SendDeflate>) -> OutFrame {
        let payload = self.message.payload();
        match deflate {
            Some(deflate) if payload.len() >= deflate.threshold => {
                let bits = deflate.params.server_max_window_bits;
                let slot = usize::from(bits.clamp(9, 15) - 9);
                self.compressed[slot]
                    .get_or_init(|| {
                        OutFrame::compressed(&self.message, compress(payload, bits, deflate.level))
                    })
                    .clone()
            }
            _ => self
                .plain
                .get_or_init(|| OutFrame::message(self.message.clone()))
                .clone(),
        }
    }
}

/// How one connection compresses what it sends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendDeflate {
    pub(crate) params: DeflateParams,
    pub(crate) threshold: usize,
    pub(crate) level: u8,
}
