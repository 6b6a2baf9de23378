//! How much memory a connection takes for reading: nothing while idle, and for a frame,
//! room in proportion to what has arrived; and the read into that room.

use std::{
    cell::RefCell,
    io,
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::BytesMut;
use tokio::io::{AsyncRead, ReadBuf};

use crate::proto::FrameHeader;

/// Room added to a read buffer that holds part of a header.
pub(super) const READ_CHUNK: usize = 8 * 1024;
/// What one read takes when the connection has nothing buffered: into a buffer of the
/// thread's, large enough that a message of 64 KiB and more arrives in one read, and small
/// enough that allocating a new one (when a large message keeps the old) stays below
/// glibc's threshold for `mmap`, whose fresh pages would cost a fault each.
pub(super) const FIRST_READ: usize = 120 * 1024;
/// A message that arrived as a whole read of at least this many bytes keeps the thread's
/// buffer as its payload instead of being copied out of it: shared, if it fills half the
/// buffer or more (the thread reads into the same memory again once the message is
/// dropped), or else taken and trimmed to the frame (see `Decoder::take_whole`).
pub(super) const KEEP_READ_AT: usize = 16 * 1024;
/// How far a frame's header is trusted when sizing the buffer for the rest: up to this
/// many times the bytes that came with it.
const TRUST_FACTOR: usize = 8;

thread_local! {
    /// The first read of every connection on this thread with nothing buffered.
    static FIRST_READ_BUFFER: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// Runs `read` with the thread's buffer for first reads: empty, with room for
/// [`FIRST_READ`] bytes. What `read` leaves in it is dropped; memory it lent to a message
/// comes back once the message is dropped, and is replaced while the message lives.
pub(super) fn with_first_read_buffer<R>(read: impl FnOnce(&mut BytesMut) -> R) -> R {
    FIRST_READ_BUFFER.with_borrow_mut(|buffer| {
        if buffer.capacity() < FIRST_READ {
            buffer.reserve(FIRST_READ);
        }
        let result = read(buffer);
        buffer.clear();
        result
    })
}

/// Reads what `io` has into the spare capacity of `buf`, which must have some: what
/// `AsyncReadExt::read_buf` does, without the future around it and the checks that a
/// `BytesMut` does not need (some 28 instructions less per read, two reads per echo).
#[inline]
pub(super) fn poll_read_into<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    debug_assert!(buf.capacity() > buf.len(), "no room to read into");
    let spare = buf.spare_capacity_mut();
    let start = spare.as_ptr();
    let mut read = ReadBuf::uninit(spare);
    ready!(Pin::new(io).poll_read(cx, &mut read))?;
    // A reader could have swapped in a buffer of its own.
    assert!(
        std::ptr::eq(read.filled().as_ptr().cast(), start),
        "the reader replaced the buffer"
    );
    let filled = read.filled().len();
    #[allow(unsafe_code)]
    // SAFETY: the reader initialized the first `filled` bytes of `buf`'s spare capacity,
    // as `ReadBuf` guarantees and the pointer check above confirms is the same memory.
    unsafe {
        buf.set_len(buf.len() + filled);
    }
    Poll::Ready(Ok(filled))
}

/// The capacity of a connection's read buffer for `rest`, the bytes of a first read it
/// must keep: room for the whole of their first frame if its header says so, but never
/// more than `TRUST_FACTOR` times what arrived, so that a header alone buys no memory.
///
/// The same holds whether the socket had more or the rest of the frame is still on its
/// way: a frame that arrives in pieces (as from any real network) then fills this buffer
/// in place, instead of growing it from the first piece's size copy by copy.
pub(super) fn first_buffer_len(rest: &[u8]) -> usize {
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

    /// Polls `poll_read_into` once, as a task would.
    fn read_once(io: &mut (impl AsyncRead + Unpin), buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        poll_read_into(io, buf, &mut Context::from_waker(Waker::noop()))
    }

    /// A buffer of `capacity` that holds `bytes` already.
    fn holding(bytes: &[u8], capacity: usize) -> BytesMut {
        let mut buf = BytesMut::with_capacity(capacity);
        buf.extend_from_slice(bytes);
        buf
    }

    #[test]
    fn a_read_appends_what_arrived_after_what_was_buffered() {
        let mut buf = holding(b"ab", 16);
        let mut socket: &[u8] = b"cdef";
        assert!(matches!(
            read_once(&mut socket, &mut buf),
            Poll::Ready(Ok(4))
        ));
        assert_eq!(&buf[..], b"abcdef");
    }

    #[test]
    fn a_read_takes_no_more_than_the_room_left() {
        let mut buf = holding(b"a", 4);
        let room = buf.capacity() - buf.len();
        let arrived = vec![7; room + 10];
        let mut socket = &arrived[..];
        assert!(matches!(read_once(&mut socket, &mut buf), Poll::Ready(Ok(n)) if n == room));
        assert_eq!(buf.len(), 1 + room);
        assert_eq!(socket.len(), 10, "the rest waits in the socket");
    }

    #[test]
    fn an_ended_stream_reads_zero_bytes_and_keeps_the_buffer() {
        let mut buf = holding(b"xy", 8);
        let mut socket: &[u8] = b"";
        assert!(matches!(
            read_once(&mut socket, &mut buf),
            Poll::Ready(Ok(0))
        ));
        assert_eq!(&buf[..], b"xy");
    }

    /// A reader that fills a buffer of its own instead of the one it was given.
    struct Swapper;

    impl AsyncRead for Swapper {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let mut own = ReadBuf::new(Box::leak(Box::new([0; 8])));
            own.advance(8);
            *buf = own;
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    #[should_panic(expected = "the reader replaced the buffer")]
    fn a_reader_that_swaps_the_buffer_is_caught_before_its_bytes_are_counted() {
        let mut buf = BytesMut::with_capacity(8);
        let _ = read_once(&mut Swapper, &mut buf);
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

    #[test]
    fn the_thread_buffer_is_empty_with_room_every_time() {
        for keep in [false, true, false] {
            with_first_read_buffer(|buffer| {
                assert!(buffer.is_empty());
                assert!(buffer.capacity() >= FIRST_READ);
                buffer.extend_from_slice(b"read");
                if keep {
                    drop(buffer.split());
                }
            });
        }
    }
}
