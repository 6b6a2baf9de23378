//! Reading from the socket. While a connection has nothing buffered, it reads into a
//! buffer of the thread's and keeps only what arrived, so that an idle connection owns no
//! read buffer, and a frame gets room in proportion to what has arrived of it; a large read
//! is kept where it lies.

use std::{
    cell::RefCell,
    io,
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::BytesMut;
use tokio::io::AsyncRead;
use tokio_util::io::poll_read_buf;

use crate::proto::{FrameHeader, MAX_HEADER_LEN};

/// Room added to a read buffer that holds part of a header.
const READ_CHUNK: usize = 8 * 1024;
/// What one read takes when the connection has nothing buffered: enough that a message of
/// 64 KiB and more arrives in one read.
const FIRST_READ: usize = 120 * 1024;
/// A first read of at least this much keeps the thread's buffer instead of a copy: half of
/// it, so that a message kept for long holds at most twice its size.
const LEND_AT: usize = FIRST_READ / 2;
/// How far a frame's header is trusted when sizing the buffer for the rest: up to this
/// many times the bytes that came with it.
const TRUST_FACTOR: usize = 8;

thread_local! {
    /// The first read of every connection on this thread with nothing buffered.
    static FIRST_READ_BUFFER: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// Reads what `io` has onto `buf`; with nothing in `buf`, through the thread's buffer.
pub(super) fn poll_read<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    if !buf.is_empty() {
        // The decoder makes room for the rest of a frame it has begun; a header still
        // needs room of its own.
        if buf.capacity() - buf.len() < MAX_HEADER_LEN {
            buf.reserve(READ_CHUNK);
        }
        return poll_read_buf(Pin::new(io), cx, buf);
    }
    FIRST_READ_BUFFER.with_borrow_mut(|read| {
        read.clear();
        read.reserve(FIRST_READ);
        let arrived = ready!(poll_read_buf(Pin::new(io), cx, read))?;
        if read.len() >= LEND_AT {
            // Lent, not copied: a large message then lies where it was read. The thread's
            // buffer gets its memory back (`reserve` reclaims it) once that message is
            // dropped, or makes a new one meanwhile.
            *buf = read.split();
        } else {
            *buf = BytesMut::with_capacity(first_buffer_len(read));
            buf.extend_from_slice(read);
        }
        Poll::Ready(Ok(arrived))
    })
}

/// The capacity of a connection's read buffer for `rest`, the bytes of a first read it
/// must keep: room for the whole of their first frame if its header says so, but never
/// more than `TRUST_FACTOR` times what arrived, so that a header alone buys no memory.
///
/// The same holds whether the socket had more or the rest of the frame is still on its
/// way: a frame that arrives in pieces (as from any real network) then fills this buffer
/// in place, instead of growing it from the first piece's size copy by copy.
fn first_buffer_len(rest: &[u8]) -> usize {
    let frame_len = match FrameHeader::parse(rest) {
        Ok(Some((header, header_len))) => usize::try_from(header.payload_len)
            .map_or(usize::MAX, |len| len.saturating_add(header_len)),
        _ => 0,
    };
    frame_len
        .min(rest.len().saturating_mul(TRUST_FACTOR))
        .max(rest.len())
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    /// Polls [`poll_read`] once, as a task would.
    fn read_once(io: &mut (impl AsyncRead + Unpin), buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        poll_read(io, buf, &mut Context::from_waker(Waker::noop()))
    }

    /// A buffer of `capacity` that holds `bytes` already.
    fn holding(bytes: &[u8], capacity: usize) -> BytesMut {
        let mut buf = BytesMut::with_capacity(capacity);
        buf.extend_from_slice(bytes);
        buf
    }

    #[test]
    fn a_read_appends_what_arrived_after_what_was_buffered() {
        let mut buf = holding(b"ab", 64);
        let mut socket: &[u8] = b"cdef";
        assert!(matches!(
            read_once(&mut socket, &mut buf),
            Poll::Ready(Ok(4))
        ));
        assert_eq!(&buf[..], b"abcdef");
    }

    #[test]
    fn an_ended_stream_reads_zero_bytes_and_keeps_the_buffer() {
        let mut buf = holding(b"xy", 64);
        let mut socket: &[u8] = b"";
        assert!(matches!(
            read_once(&mut socket, &mut buf),
            Poll::Ready(Ok(0))
        ));
        assert_eq!(&buf[..], b"xy");
    }

    #[test]
    fn with_nothing_buffered_the_connection_keeps_only_what_arrived() {
        let mut frame = header(100);
        frame.extend_from_slice(&[0; 100]);
        let mut buf = BytesMut::new();
        let mut socket = &frame[..];
        assert!(matches!(read_once(&mut socket, &mut buf), Poll::Ready(Ok(n)) if n == frame.len()));
        assert_eq!(&buf[..], &frame[..]);
        assert_eq!(buf.capacity(), frame.len());
    }

    fn header(len: u64) -> Vec<u8> {
        let mut out = vec![0x82, 0x80 | 127];
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&[1, 2, 3, 4]);
        out
    }

    #[test]
    fn whole_frames_get_exactly_their_size() {
        let mut read = header(100);
        read.extend_from_slice(&[0; 100]);
        assert_eq!(first_buffer_len(&read), read.len());
        // And the start of another frame behind them adds only what came of it.
        read.extend_from_slice(&header(100));
        assert_eq!(first_buffer_len(&read), read.len());
    }

    #[test]
    fn a_header_alone_buys_no_more_than_its_trust_factor() {
        assert_eq!(first_buffer_len(&header(65536)), 14 * TRUST_FACTOR);
        let mut claim = header(1 << 30);
        claim.resize(FIRST_READ, 0);
        assert_eq!(first_buffer_len(&claim), FIRST_READ * TRUST_FACTOR);
    }

    #[test]
    fn a_large_frame_gets_room_in_proportion_to_what_came() {
        let mut read = header(65536);
        read.resize(4096, 0);
        assert_eq!(first_buffer_len(&read), 4096 * TRUST_FACTOR);
        let mut read = header(1 << 19);
        read.resize(FIRST_READ, 0);
        assert_eq!(first_buffer_len(&read), (1 << 19) + 14);
    }
}
