//! Incoming bytes to events: frame parsing, unmasking, fragment reassembly, limits and
//! fast-fail UTF-8 validation.

use bytes::{Buf, Bytes, BytesMut};

use super::{
    CloseFrame, DeflateParams, FrameHeader, Inflater, OpCode, ProtocolError, Utf8Validator,
    apply_mask, parse_close_payload,
};
use crate::{Limits, Message, Text};

/// The least room made in the buffer for an incomplete payload.
const MIN_RESERVE: usize = 16 * 1024;

/// What the peer said: a complete message or a control frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete (reassembled, validated) text or binary message.
    Message(Message),
    /// A ping with its payload, to be answered with a pong carrying the same payload.
    Ping(Bytes),
    /// A pong with its payload.
    Pong(Bytes),
    /// A close frame: `None` if it carried no status code.
    Close(Option<CloseFrame>),
}

/// A sans-IO decoder of client frames.
///
/// Feed it a buffer of received bytes; each [`decode`](Decoder::decode) call consumes what
/// it can and returns at most one event. Limits are checked on each frame header, before
/// the payload is buffered, and text is validated as its bytes arrive, so invalid UTF-8 is
/// reported before the rest of the frame is read.
///
/// ```
/// use bytes::BytesMut;
/// use ws_server::{proto::{Decoder, Event}, Limits, Message};
///
/// let mut decoder = Decoder::new(Limits::DEFAULT);
/// // RFC 6455 section 5.7: a masked "Hello", fed in two pieces.
/// let wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// let mut buf = BytesMut::from(&wire[..4]);
/// assert_eq!(decoder.decode(&mut buf), Ok(None));
/// buf.extend_from_slice(&wire[4..]);
/// assert_eq!(decoder.decode(&mut buf), Ok(Some(Event::Message(Message::from("Hello")))));
/// ```
#[derive(Debug)]
#[repr(C)] // What each frame reads comes first, in as few cache lines as can be.
pub struct Decoder {
    frame: Option<PendingFrame>,
    message: Option<PartialMessage>,
    limits: Limits,
    discarding: bool,
    /// permessage-deflate, if negotiated.
    deflate: Option<DeflateParams>,
    utf8: Utf8Validator,
    /// The inflater: kept between messages only if the client takes its context over.
    inflater: Option<Box<Inflater>>,
    /// The inflated bytes of the compressed message in progress.
    inflated: Vec<u8>,
}

/// A frame whose header is consumed and whose payload is (partly) at the front of the buffer.
#[derive(Debug)]
struct PendingFrame {
    header: FrameHeader,
    /// Payload bytes not yet consumed from the buffer.
    len: usize,
    /// Of those, how many are already unmasked and validated.
    seen: usize,
    /// Whether the payload belongs to a text message.
    text: bool,
    /// Whether the payload belongs to a compressed message.
    compressed: bool,
}

/// A frame that is a whole message on its own, as found at the front of a buffer.
#[derive(Debug, PartialEq, Eq)]
struct WholeFrame {
    header: FrameHeader,
    header_len: usize,
    len: usize,
    key: [u8; 4],
    text: bool,
}

/// A complete message; text is already validated.
fn message(text: bool, payload: Bytes) -> Message {
    if text {
        Message::Text(Text::from_validated(payload))
    } else {
        Message::Binary(payload)
    }
}

/// A fragmented message: the fragments received so far.
#[derive(Debug)]
struct PartialMessage {
    text: bool,
    compressed: bool,
    frames: usize,
    data: BytesMut,
}

impl Decoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            frame: None,
            message: None,
            utf8: Utf8Validator::default(),
            discarding: false,
            deflate: None,
            inflater: None,
            inflated: Vec::new(),
        }
    }

    /// With permessage-deflate as negotiated: RSV1 marks compressed messages, which are
    /// inflated (never beyond `max_message`) before validation and delivery.
    pub fn with_deflate(mut self, deflate: Option<DeflateParams>) -> Decoder {
        self.deflate = deflate;
        self
    }

    /// Stops delivering data: from now on frames are skipped unread and only a close frame
    /// is reported, as [`Event::Close(None)`](Event::Close). Used once this side has sent a
    /// close frame or failed the connection.
    pub fn discard(&mut self) {
        self.discarding = true;
        self.message = None;
        self.inflater = None;
        self.inflated = Vec::new();
    }

    /// Whether [`decode`](Decoder::decode) could return an event with nothing in `buf`:
    /// `false` between frames.
    pub(crate) fn is_in_frame(&self) -> bool {
        self.frame.is_some()
    }

    /// Decodes the next event from the front of `buf`, consuming its bytes.
    ///
    /// Returns `Ok(None)` when `buf` holds no complete event yet; the bytes of a partial
    /// frame stay in `buf` (unmasked) and `buf` is given room for more of the payload, in
    /// proportion to what has arrived rather than to what the header announces.
    ///
    /// # Errors
    /// Any [`ProtocolError`]; its [`close_code`](ProtocolError::close_code) is the answer.
    /// Call [`discard`](Decoder::discard) before decoding further.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, ProtocolError> {
        if buf.is_empty() && self.frame.is_none() {
            return Ok(None);
        }
        if let Some(event) = self.decode_whole(buf)? {
            return Ok(Some(event));
        }
        loop {
            if self.frame.is_none() {
                let Some((header, header_len)) = FrameHeader::parse(buf)? else {
                    return Ok(None);
                };
                buf.advance(header_len);
                let len = usize::try_from(header.payload_len).unwrap_or(usize::MAX);
                self.frame = Some(PendingFrame {
                    header,
                    len,
                    seen: 0,
                    text: false,
                    compressed: false,
                });
                if !self.discarding {
                    self.check_frame()?;
                }
            }
            if self.discarding {
                match self.skip_frame(buf) {
                    None => return Ok(None),
                    Some(OpCode::Close) => return Ok(Some(Event::Close(None))),
                    Some(_) => continue,
                }
            }
            let Some((header, payload)) = self.take_payload(buf)? else {
                return Ok(None);
            };
            if let Some(event) = self.finish_frame(header, payload)? {
                return Ok(Some(event));
            }
        }
    }

    /// The common case in one step: a whole, final, uncompressed, valid text or binary
    /// frame within the limits, with no message in progress, at the front of `buf`. Every
    /// other case (`Ok(None)`) is left untouched to the general path.
    fn decode_whole(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, ProtocolError> {
        let Some(WholeFrame {
            header,
            header_len,
            len,
            key,
            text,
        }) = self.whole_frame(buf)
        else {
            return Ok(None);
        };
        buf.advance(header_len);
        apply_mask(&mut buf[..len], key, 0);
        if text && simdutf8::basic::from_utf8(&buf[..len]).is_err() {
            // As the general path leaves it: the frame pending, its payload unmasked.
            self.frame = Some(PendingFrame {
                header,
                len,
                seen: len,
                text,
                compressed: false,
            });
            return Err(ProtocolError::InvalidUtf8);
        }
        let payload = if len == buf.len() {
            std::mem::take(buf).freeze()
        } else {
            buf.split_to(len).freeze()
        };
        Ok(Some(Event::Message(message(text, payload))))
    }

    /// The frame at the front of `buf`, if it is whole and a message on its own: final,
    /// uncompressed, text or binary, masked and within the limits, with no message or
    /// frame in progress and nothing being discarded.
    #[inline]
    fn whole_frame(&self, buf: &[u8]) -> Option<WholeFrame> {
        if self.frame.is_some() || self.message.is_some() || self.discarding {
            return None;
        }
        match *buf {
            [b0 @ (0x81 | 0x82), b1 @ 0x80..=0xFD, ..] => self.whole_short_frame(buf, b0, b1),
            _ => self.whole_parsed_frame(buf),
        }
    }

    /// [`whole_frame`](Decoder::whole_frame) for the commonest header, read off its two
    /// bytes `b0` and `b1`, which must be final text or binary without extension bits,
    /// and masked with a length under 126: what a client sends most.
    #[inline]
    fn whole_short_frame(&self, buf: &[u8], b0: u8, b1: u8) -> Option<WholeFrame> {
        debug_assert!(matches!((b0, b1), (0x81 | 0x82, 0x80..=0xFD)));
        let [_, _, k0, k1, k2, k3, ref payload @ ..] = *buf else {
            return None;
        };
        let len = usize::from(b1 & 0x7F);
        if !(self.limits.admits_one_frame_message(len) && payload.len() >= len) {
            return None;
        }
        let opcode = if b0 == 0x81 {
            OpCode::Text
        } else {
            OpCode::Binary
        };
        let key = [k0, k1, k2, k3];
        Some(WholeFrame {
            header: FrameHeader {
                mask: Some(key),
                ..FrameHeader::server(opcode, len as u64)
            },
            header_len: 6,
            len,
            key,
            text: b0 == 0x81,
        })
    }

    /// [`whole_frame`](Decoder::whole_frame) for any header.
    fn whole_parsed_frame(&self, buf: &[u8]) -> Option<WholeFrame> {
        let Ok(Some((header, header_len))) = FrameHeader::parse(buf) else {
            return None;
        };
        let key = header.mask?;
        let len = usize::try_from(header.payload_len).unwrap_or(usize::MAX);
        let whole = header.fin
            && !(header.rsv1 || header.rsv2 || header.rsv3)
            && matches!(header.opcode, OpCode::Text | OpCode::Binary)
            && self.limits.admits_one_frame_message(len)
            && buf.len() - header_len >= len;
        whole.then_some(WholeFrame {
            header,
            header_len,
            len,
            key,
            text: header.opcode == OpCode::Text,
        })
    }

    /// Validates the pending frame's header against the RFC, the limits and the state of
    /// the message in progress.
    fn check_frame(&mut self) -> Result<(), ProtocolError> {
        let Some(frame) = self.frame.as_mut() else {
            return Ok(());
        };
        let header = frame.header;
        let limits = self.limits;
        // The length first: a frame over a limit cannot be skipped to find the next one,
        // whatever else is wrong with it (see `ProtocolError::loses_framing`).
        if header.opcode.is_control() && header.payload_len > 125 {
            return Err(ProtocolError::ControlTooLong);
        }
        if !header.opcode.is_control() && frame.len > limits.max_payload() {
            return Err(ProtocolError::PayloadTooLarge {
                len: header.payload_len,
                max: limits.max_payload(),
            });
        }
        if header.rsv2 || header.rsv3 {
            return Err(ProtocolError::ReservedBits);
        }
        // RSV1 is permessage-deflate's "compressed" flag, on a message's first frame only.
        let starts_message = matches!(header.opcode, OpCode::Text | OpCode::Binary);
        if header.rsv1 && (self.deflate.is_none() || !starts_message) {
            return Err(ProtocolError::ReservedBits);
        }
        if header.mask.is_none() {
            return Err(ProtocolError::UnmaskedFrame);
        }
        if header.opcode.is_control() {
            if !header.fin {
                return Err(ProtocolError::FragmentedControl);
            }
            return Ok(());
        }
        let (frames, size) = match (header.opcode, self.message.as_mut()) {
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Continuation, Some(partial)) => {
                partial.frames += 1;
                frame.text = partial.text;
                frame.compressed = partial.compressed;
                (partial.frames, partial.data.len().saturating_add(frame.len))
            }
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (opcode, None) => {
                frame.text = opcode == OpCode::Text;
                frame.compressed = header.rsv1;
                self.utf8.reset();
                if !header.fin {
                    self.message = Some(PartialMessage {
                        text: frame.text,
                        compressed: frame.compressed,
                        frames: 1,
                        data: BytesMut::new(),
                    });
                }
                (1, frame.len)
            }
        };
        if frames > limits.max_frames() {
            return Err(ProtocolError::TooManyFrames {
                max: limits.max_frames(),
            });
        }
        // A compressed message's limit applies to its inflated size, checked as it inflates.
        if !frame.compressed && size > limits.max_message() {
            return Err(ProtocolError::MessageTooLarge {
                max: limits.max_message(),
            });
        }
        Ok(())
    }

    /// Unmasks and validates the newly arrived part of the pending payload; once all of it
    /// is there, takes it out of `buf`.
    fn take_payload(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<(FrameHeader, Bytes)>, ProtocolError> {
        let Some(frame) = self.frame.as_mut() else {
            return Ok(None);
        };
        let compressed = frame.compressed;
        let available = buf.len().min(frame.len);
        if available > frame.seen {
            let fresh = &mut buf[frame.seen..available];
            if let Some(key) = frame.header.mask {
                apply_mask(fresh, key, frame.seen);
            }
            if frame.text && !frame.compressed {
                self.utf8
                    .feed(fresh)
                    .map_err(|_| ProtocolError::InvalidUtf8)?;
            }
            frame.seen = available;
        }
        if available < frame.len {
            // Grow with what arrives (doubling, so a large frame costs few copies) rather
            // than trusting the announced length: a header alone must not buy memory.
            let want = (frame.len - available).min(buf.capacity().max(MIN_RESERVE));
            buf.reserve(want);
            return Ok(None);
        }
        // The last frame in the buffer takes the buffer itself: no shared header to
        // allocate, and nothing is left behind to hold memory while the peer is quiet.
        let payload = if frame.len == buf.len() {
            std::mem::take(buf).freeze()
        } else {
            buf.split_to(frame.len).freeze()
        };
        let header = frame.header;
        let text = frame.text;
        self.frame = None;
        if compressed {
            self.inflate(&payload, text, header.fin)?;
        }
        Ok(Some((header, payload)))
    }

    /// Turns a complete frame into an event, or folds a fragment into its message.
    fn finish_frame(
        &mut self,
        header: FrameHeader,
        payload: Bytes,
    ) -> Result<Option<Event>, ProtocolError> {
        match header.opcode {
            OpCode::Ping => return Ok(Some(Event::Ping(payload))),
            OpCode::Pong => return Ok(Some(Event::Pong(payload))),
            OpCode::Close => return Ok(Some(Event::Close(close_frame(payload)?))),
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {}
        }
        let compressed = match &self.message {
            Some(partial) => partial.compressed,
            None => header.rsv1,
        };
        if !header.fin {
            if let Some(partial) = self.message.as_mut().filter(|_| !compressed) {
                partial.data.extend_from_slice(&payload);
            }
            return Ok(None);
        }
        let (text, payload) = match self.message.take() {
            Some(partial) if compressed => (partial.text, self.take_inflated()),
            Some(mut partial) => {
                partial.data.extend_from_slice(&payload);
                (partial.text, partial.data.freeze())
            }
            None if compressed => (header.opcode == OpCode::Text, self.take_inflated()),
            None => (header.opcode == OpCode::Text, payload),
        };
        if text {
            self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(Some(Event::Message(message(text, payload))))
    }

    /// Inflates a compressed frame's payload onto the message, validating text as it comes
    /// out; on the last frame, ends the message's deflate block.
    fn inflate(&mut self, payload: &[u8], text: bool, fin: bool) -> Result<(), ProtocolError> {
        let Some(params) = self.deflate else {
            return Err(ProtocolError::ReservedBits);
        };
        let max = self.limits.max_message();
        let bits = params.client_max_window_bits;
        let inflater = self.inflater.get_or_insert_with(|| Inflater::take(bits));
        let start = self.inflated.len();
        inflater.inflate(payload, &mut self.inflated, max)?;
        if fin {
            inflater.finish_message(&mut self.inflated, max)?;
            if params.client_no_context_takeover {
                // The next message starts afresh: no need to hold the window meanwhile.
                if let Some(inflater) = self.inflater.take() {
                    inflater.give_back(bits);
                }
            }
        }
        if text {
            self.utf8
                .feed(&self.inflated[start..])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }

    fn take_inflated(&mut self) -> Bytes {
        Bytes::from(std::mem::take(&mut self.inflated))
    }

    /// Drops the pending frame's payload as it arrives; returns its opcode once it is gone.
    fn skip_frame(&mut self, buf: &mut BytesMut) -> Option<OpCode> {
        let frame = self.frame.as_mut()?;
        let n = buf.len().min(frame.len);
        buf.advance(n);
        frame.len -= n;
        if frame.len > 0 {
            return None;
        }
        self.frame.take().map(|frame| frame.header.opcode)
    }
}

fn close_frame(payload: Bytes) -> Result<Option<CloseFrame>, ProtocolError> {
    Ok(parse_close_payload(&payload)?.map(|(code, _)| CloseFrame {
        code,
        reason: Text::from_validated(payload.slice(2..)),
    }))
}

#[cfg(test)]
mod tests;
