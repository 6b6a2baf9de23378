//! Writing queued frames with few syscalls.

use std::{
    cell::RefCell,
    collections::VecDeque,
    io,
    io::IoSlice,
    mem::MaybeUninit,
    pin::Pin,
    task::{Context, Poll},
};

use tokio::io::{AsyncWrite, ReadBuf};

use crate::proto::{MAX_HEADER_LEN, OutFrame};

/// At most this many buffers go into one vectored write.
const MAX_SLICES: usize = 64;
/// Without vectored writes, frames are copied together up to this many bytes per write.
const COALESCE_LIMIT: usize = 64 * 1024;
/// Up to this many bytes (an 8 KiB message with its header), frames are copied together
/// on the stack even where vectored writes exist: a plain `send` costs the kernel less
/// than `writev` (no iovec to import, one segment to copy), more than copying bytes that
/// were just read costs. Measured against a line at 1 KiB, server CPU per echo went down
/// by 3 to 4% at 2 and 4 KiB, by 2 to 3% at 8 KiB; at 1 KiB, copying saves 4 to 5%
/// against `writev`.
const COPY_LIMIT: usize = 8 * 1024 + MAX_HEADER_LEN;

/// Frames taken from the outbox and being written, with how far writing got.
#[derive(Default)]
pub(crate) struct Writer {
    frames: VecDeque<OutFrame>,
    /// Bytes of the first frame already written.
    offset: usize,
    /// Bytes were written since the last flush.
    unflushed: bool,
}

thread_local! {
    /// Frames copied together for one write, shared by the thread's connections.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// What one round of writing achieved.
pub(crate) struct Progress {
    /// Everything is written and flushed (`Ready(Ok)`), the socket is full (`Pending`, the
    /// waker is registered) or writing failed.
    pub(crate) state: Poll<io::Result<()>>,
    /// Bytes of frames completed in this round.
    pub(crate) completed: usize,
}

impl Writer {
    /// The queue to append frames to.
    pub(crate) fn frames(&mut self) -> &mut VecDeque<OutFrame> {
        &mut self.frames
    }

    /// Everything taken is written and flushed.
    pub(crate) fn is_idle(&self) -> bool {
        self.frames.is_empty() && !self.unflushed
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Bytes held, counting the unwritten part of the first frame as whole.
    pub(crate) fn held_bytes(&self) -> usize {
        self.frames.iter().map(OutFrame::wire_len).sum()
    }

    /// Keeps only a frame that is partly written (it must be finished for the stream to
    /// stay parseable); drops the rest.
    pub(crate) fn keep_partial(&mut self) {
        let keep = usize::from(self.offset > 0);
        self.frames.truncate(keep);
    }

    /// Writes what the socket takes now, then flushes.
    ///
    /// # Cancel safety
    /// Polls the socket once per write: nothing is lost when the caller stops polling.
    pub(crate) fn poll_write<S>(&mut self, io: &mut S, cx: &mut Context<'_>) -> Progress
    where
        S: AsyncWrite + Unpin,
    {
        let Writer {
            frames,
            offset,
            unflushed,
        } = self;
        let progress = poll_frames(frames, offset, unflushed, io, cx);
        if frames.is_empty() && frames.capacity() > 0 {
            // Given back: the next frames get memory the thread has just used, where a
            // queue kept for each connection would be out of cache by the next message
            // (and an idle connection would hold it).
            *frames = VecDeque::new();
        }
        progress
    }
}

/// Flushes if anything was written since the last flush.
fn poll_flush<S>(unflushed: &mut bool, io: &mut S, cx: &mut Context<'_>) -> Poll<io::Result<()>>
where
    S: AsyncWrite + Unpin,
{
    if !*unflushed {
        return Poll::Ready(Ok(()));
    }
    let flushed = Pin::new(&mut *io).poll_flush(cx);
    if let Poll::Ready(Ok(())) = flushed {
        *unflushed = false;
    }
    flushed
}

/// Writes `frames`, `offset` bytes into the first, until they are all written and
/// flushed or the socket is full.
fn poll_frames<S>(
    frames: &mut VecDeque<OutFrame>,
    offset: &mut usize,
    unflushed: &mut bool,
    io: &mut S,
    cx: &mut Context<'_>,
) -> Progress
where
    S: AsyncWrite + Unpin,
{
    let mut completed = 0;
    while !frames.is_empty() {
        let vectored = io.is_write_vectored();
        // Uninitialized: only what is copied in is read.
        let mut space = [MaybeUninit::<u8>::uninit(); COPY_LIMIT];
        let mut small = ReadBuf::uninit(&mut space);
        let poll = if vectored && copy_small(frames, *offset, &mut small) {
            // A few small frames: copied together on the stack for one `send`.
            Pin::new(&mut *io).poll_write(cx, small.filled())
        } else if vectored {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let count = fill_slices(frames, *offset, &mut slices);
            Pin::new(&mut *io).poll_write_vectored(cx, &slices[..count])
        } else {
            // Copied into a buffer of the thread's, not the connection's: an idle
            // connection owns no write buffer.
            SCRATCH.with_borrow_mut(|scratch| {
                scratch.clear();
                coalesce(frames, *offset, scratch);
                let poll = Pin::new(&mut *io).poll_write(cx, scratch);
                if scratch.capacity() > COALESCE_LIMIT {
                    *scratch = Vec::new();
                }
                poll
            })
        };
        let written = match poll {
            Poll::Ready(Ok(0)) => Err(io::ErrorKind::WriteZero.into()),
            Poll::Ready(Ok(written)) => Ok(written),
            Poll::Ready(Err(error)) => Err(error),
            Poll::Pending => {
                return Progress {
                    state: Poll::Pending,
                    completed,
                };
            }
        };
        match written {
            Ok(written) => {
                *unflushed = true;
                let (rest, done) = advance(frames, *offset + written);
                *offset = rest;
                completed += done;
            }
            Err(error) => {
                return Progress {
                    state: Poll::Ready(Err(error)),
                    completed,
                };
            }
        }
    }
    Progress {
        state: poll_flush(unflushed, io, cx),
        completed,
    }
}

/// The byte ranges still to write, in order, skipping `offset` bytes of the first frame.
fn pieces(frames: &VecDeque<OutFrame>, offset: usize) -> impl Iterator<Item = &[u8]> {
    let mut skip = offset;
    frames
        .iter()
        .flat_map(|frame| [frame.header(), &frame.payload()[..]])
        .filter_map(move |piece| {
            let start = skip.min(piece.len());
            skip -= start;
            let rest = &piece[start..];
            (!rest.is_empty()).then_some(rest)
        })
}

fn fill_slices<'a>(
    frames: &'a VecDeque<OutFrame>,
    offset: usize,
    slices: &mut [IoSlice<'a>],
) -> usize {
    let mut count = 0;
    for (slot, piece) in slices.iter_mut().zip(pieces(frames, offset)) {
        *slot = IoSlice::new(piece);
        count += 1;
    }
    count
}

/// Appends `frame` to `out`, which must have room for it and for the longest header: the
/// header goes as one fixed-size move, a cheaper copy than one of variable length, and
/// only its own bytes are kept.
#[inline(always)]
fn put_frame(out: &mut ReadBuf<'_>, frame: &OutFrame) {
    let start = out.filled().len();
    out.put_slice(frame.padded_header());
    out.set_filled(start + frame.header().len());
    out.put_slice(frame.payload());
}

/// Copies the bytes still to write, `skip` bytes into the first frame, into `out`;
/// `false` (with `out` partly filled) if they do not fit.
fn copy_small(frames: &VecDeque<OutFrame>, mut skip: usize, out: &mut ReadBuf<'_>) -> bool {
    if let (Some(frame), 1, 0) = (frames.front(), frames.len(), skip) {
        // The commonest case by far (one reply to one message), without the loop.
        if frame.wire_len().max(MAX_HEADER_LEN) > out.remaining() {
            return false;
        }
        put_frame(out, frame);
        return true;
    }
    for frame in frames {
        if frame.wire_len() - skip > out.remaining() {
            return false;
        }
        let (header, payload) = (frame.header(), &frame.payload()[..]);
        if let Some(rest) = header.get(skip..) {
            out.put_slice(rest);
            skip = 0;
        } else {
            skip -= header.len();
        }
        out.put_slice(&payload[skip..]);
        skip = 0;
    }
    true
}

fn coalesce(frames: &VecDeque<OutFrame>, offset: usize, out: &mut Vec<u8>) {
    for piece in pieces(frames, offset) {
        let room = COALESCE_LIMIT.saturating_sub(out.len()).max(1);
        out.extend_from_slice(&piece[..piece.len().min(room)]);
        if out.len() >= COALESCE_LIMIT {
            break;
        }
    }
}

/// Pops the frames that `written` bytes (counted from the start of the first frame)
/// complete; returns how far into the new first frame writing got and the bytes of the
/// frames popped.
fn advance(frames: &mut VecDeque<OutFrame>, mut written: usize) -> (usize, usize) {
    if frames.len() == 1
        && frames
            .front()
            .is_some_and(|frame| frame.wire_len() == written)
    {
        frames.pop_front();
        return (0, written);
    }
    let mut done = 0;
    while let Some(frame) = frames.front() {
        if written < frame.wire_len() {
            break;
        }
        written -= frame.wire_len();
        done += frame.wire_len();
        frames.pop_front();
    }
    (written, done)
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use bytes::Bytes;

    use super::*;
    use crate::proto::OutFrame;

    /// Accepts at most `chunk` bytes per write, to exercise partial writes, and `room`
    /// bytes in all, after which it is full until given more.
    struct Trickle {
        out: Vec<u8>,
        chunk: usize,
        room: usize,
        vectored: bool,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.poll_write_vectored(cx, &[IoSlice::new(buf)])
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            if self.room == 0 {
                return Poll::Pending;
            }
            let mut budget = self.chunk.min(self.room);
            let mut total = 0;
            for buf in bufs {
                let n = buf.len().min(budget);
                self.out.extend_from_slice(&buf[..n]);
                budget -= n;
                total += n;
            }
            self.room -= total;
            Poll::Ready(Ok(total))
        }

        fn is_write_vectored(&self) -> bool {
            self.vectored
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Small frames, copied together for one write, and one too large to copy, written
    /// with `writev`.
    fn sample_frames() -> Vec<OutFrame> {
        vec![
            OutFrame::text("hello".into()),
            OutFrame::binary(Bytes::from(vec![7u8; 300])),
            OutFrame::binary(Bytes::new()),
            OutFrame::binary(Bytes::from(vec![5u8; COPY_LIMIT + 1])),
            OutFrame::close(None),
        ]
    }

    /// The bytes that `frames` put on the wire.
    fn wire(frames: &[OutFrame]) -> Vec<u8> {
        frames
            .iter()
            .flat_map(|f| {
                f.header()
                    .iter()
                    .chain(f.payload().iter())
                    .copied()
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[tokio::test]
    async fn partial_writes_lose_and_duplicate_nothing() {
        let frames = sample_frames();
        let expected = wire(&frames);
        for vectored in [true, false] {
            for chunk in [1, 3, 7, 64, 10_000] {
                let mut sink = Trickle {
                    out: Vec::new(),
                    chunk,
                    room: usize::MAX,
                    vectored,
                };
                let mut writer = Writer::default();
                writer.frames().extend(frames.iter().cloned());
                let mut completed = 0;
                poll_fn(|cx| {
                    let progress = writer.poll_write(&mut sink, cx);
                    completed += progress.completed;
                    progress.state
                })
                .await
                .expect("write");
                assert!(writer.is_empty());
                assert_eq!(completed, expected.len());
                assert_eq!(sink.out, expected, "chunk {chunk} vectored {vectored}");
            }
        }
    }
}
