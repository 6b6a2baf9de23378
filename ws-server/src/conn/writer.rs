//! Writing queued frames with few syscalls.

use std::{collections::VecDeque, io, io::IoSlice};

use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::proto::OutFrame;

/// At most this many buffers go into one vectored write.
const MAX_SLICES: usize = 64;
/// Without vectored writes, frames are copied together up to this many bytes per write.
const COALESCE_LIMIT: usize = 64 * 1024;

/// Writes every frame in `frames`, popping each once it is fully written.
///
/// # Cancel safety
/// Not cancel safe: a frame may be partly written.
pub(crate) async fn write_frames<S>(io: &mut S, frames: &mut VecDeque<OutFrame>) -> io::Result<()>
where
    S: AsyncWrite + Unpin,
{
    let mut offset = 0;
    let mut scratch = Vec::new();
    while !frames.is_empty() {
        let written = if io.is_write_vectored() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let count = fill_slices(frames, offset, &mut slices);
            io.write_vectored(&slices[..count]).await?
        } else {
            scratch.clear();
            coalesce(frames, offset, &mut scratch);
            io.write(&scratch).await?
        };
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        offset = advance(frames, offset + written);
    }
    io.flush().await
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
/// complete; returns how far into the new first frame writing got.
fn advance(frames: &mut VecDeque<OutFrame>, mut written: usize) -> usize {
    while let Some(frame) = frames.front() {
        if written < frame.wire_len() {
            break;
        }
        written -= frame.wire_len();
        frames.pop_front();
    }
    written
}

#[cfg(test)]
mod tests {
    use std::{
        pin::Pin,
        task::{Context, Poll},
    };

    use bytes::Bytes;

    use super::*;
    use crate::proto::OutFrame;

    /// Accepts at most `chunk` bytes per write, to exercise partial writes.
    struct Trickle {
        out: Vec<u8>,
        chunk: usize,
        vectored: bool,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.chunk);
            self.out.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let mut budget = self.chunk;
            let mut total = 0;
            for buf in bufs {
                let n = buf.len().min(budget);
                self.out.extend_from_slice(&buf[..n]);
                budget -= n;
                total += n;
            }
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

    #[tokio::test]
    async fn partial_writes_lose_and_duplicate_nothing() {
        let frames: Vec<OutFrame> = vec![
            OutFrame::text("hello".into()),
            OutFrame::binary(Bytes::from(vec![7u8; 300])),
            OutFrame::binary(Bytes::new()),
            OutFrame::close(None),
        ];
        let expected: Vec<u8> = frames
            .iter()
            .flat_map(|f| {
                f.header()
                    .iter()
                    .chain(f.payload().iter())
                    .copied()
                    .collect::<Vec<_>>()
            })
            .collect();
        for vectored in [true, false] {
            for chunk in [1, 3, 7, 64, 10_000] {
                let mut sink = Trickle {
                    out: Vec::new(),
                    chunk,
                    vectored,
                };
                let mut queue: VecDeque<OutFrame> = frames.iter().cloned().collect();
                write_frames(&mut sink, &mut queue).await.expect("write");
                assert!(queue.is_empty());
                assert_eq!(sink.out, expected, "chunk {chunk} vectored {vectored}");
            }
        }
    }
}
