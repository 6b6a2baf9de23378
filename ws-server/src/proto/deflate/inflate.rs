//! Inflating a client's compressed message, never beyond the message size limit.

use std::cell::RefCell;

use flate2::{Decompress, FlushDecompress, Status};

use super::SYNC_TAIL;
use crate::proto::ProtocolError;

/// Output is produced in steps of at most this many bytes.
const STEP: usize = 32 * 1024;

/// Reset inflaters kept per thread for reuse, so that clients without context takeover
/// do not cost an allocation per message.
const POOL: usize = 8;

thread_local! {
    static SPARE: RefCell<Vec<(u8, Box<Inflater>)>> = const { RefCell::new(Vec::new()) };
}

/// A client's inflater: raw deflate with the negotiated window.
///
/// ```
/// use ws_server::proto::Inflater;
///
/// // "Hello" compressed as in RFC 7692 section 7.2.3.1.
/// let mut inflater = Inflater::new(15);
/// let mut out = Vec::new();
/// inflater.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], &mut out, 100).unwrap();
/// inflater.finish_message(&mut out, 100).unwrap();
/// assert_eq!(out, b"Hello");
/// ```
pub struct Inflater {
    inner: Decompress,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("total_in", &self.inner.total_in())
            .finish()
    }
}

impl Inflater {
    /// An inflater for a `window_bits` window (8 to 15). An 8-bit window is inflated with
    /// a 9-bit one: flate2 accepts no less, and a larger window reads any stream a smaller
    /// one wrote.
    pub fn new(window_bits: u8) -> Inflater {
        Inflater {
            inner: Decompress::new_with_window_bits(false, window_bits.clamp(9, 15)),
        }
    }

    /// Inflates `input` (part of a message) onto `out`, which may grow to `max` bytes.
    ///
    /// # Errors
    /// [`ProtocolError::MessageTooLarge`] as soon as the output would pass `max` (nothing
    /// beyond `max` is allocated); [`ProtocolError::BadCompression`] for invalid data.
    pub fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max: usize,
    ) -> Result<(), ProtocolError> {
        let mut input = input;
        loop {
            // One byte of room beyond the limit tells an exact fit from an overflow.
            let cap = max.saturating_add(1);
            let room = cap.saturating_sub(out.len()).min(STEP);
            if room == 0 {
                return Err(ProtocolError::MessageTooLarge { max });
            }
            if out.capacity() - out.len() < room {
                // Double as a Vec would, but never past the limit.
                let target = (out.len() * 2).max(out.len() + room).min(cap);
                out.reserve_exact(target - out.len());
            }
            let spare = out.capacity() - out.len();
            let before_in = self.inner.total_in();
            let before_out = out.len();
            let status = self
                .inner
                .decompress_vec(input, out, FlushDecompress::Sync)
                .map_err(|_| ProtocolError::BadCompression)?;
            let consumed = (self.inner.total_in() - before_in) as usize;
            input = &input[consumed..];
            if out.len() > max {
                return Err(ProtocolError::MessageTooLarge { max });
            }
            let filled = out.len() - before_out == spare;
            if status == Status::StreamEnd {
                // A final block ends the stream: nothing may follow in this context.
                return if input.is_empty() {
                    Ok(())
                } else {
                    Err(ProtocolError::BadCompression)
                };
            }
            if input.is_empty() && !filled {
                return Ok(());
            }
            if consumed == 0 && out.len() == before_out {
                return Err(ProtocolError::BadCompression);
            }
        }
    }

    /// Ends a message: inflates the `00 00 ff ff` the sender left out.
    ///
    /// # Errors
    /// As [`inflate`](Inflater::inflate).
    pub fn finish_message(&mut self, out: &mut Vec<u8>, max: usize) -> Result<(), ProtocolError> {
        self.inflate(&SYNC_TAIL, out, max)
    }

    /// Forgets the context, for a client that does not take it over.
    pub fn reset(&mut self) {
        self.inner.reset(false);
    }

    /// A fresh inflater for `window_bits`, reused from this thread's spares if it has one.
    /// Boxed: the decoder of a connection that never compresses holds just a pointer.
    pub(crate) fn take(window_bits: u8) -> Box<Inflater> {
        SPARE
            .with(|spare| {
                let mut spare = spare.borrow_mut();
                let index = spare.iter().position(|(bits, _)| *bits == window_bits)?;
                Some(spare.swap_remove(index).1)
            })
            .unwrap_or_else(|| Box::new(Inflater::new(window_bits)))
    }

    /// Resets the inflater and keeps it for [`take`](Inflater::take), up to a few per
    /// thread.
    pub(crate) fn give_back(mut self: Box<Self>, window_bits: u8) {
        self.reset();
        SPARE.with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.len() < POOL {
                spare.push((window_bits, self));
            }
        });
    }
}
