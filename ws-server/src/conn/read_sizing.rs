//! How much memory a connection takes for reading: nothing while idle, and for a frame,
//! room in proportion to what has arrived.

use crate::proto::FrameHeader;

/// Room added to a read buffer that holds part of a header.
pub(super) const READ_CHUNK: usize = 8 * 1024;
/// What one read takes when nothing is buffered: into the stack, then copied out.
pub(super) const STACK_READ: usize = 16 * 1024;
/// How far a frame's header is trusted when sizing the buffer for the rest: up to this
/// many times the bytes that came with it.
const TRUST_FACTOR: usize = 8;

/// The capacity of a new read buffer for the bytes of a first read: room for the whole of
/// the first frame if its header says so, but never more than `TRUST_FACTOR` times what
/// arrived, so that a header alone buys no memory.
pub(super) fn first_buffer_len(read: &[u8]) -> usize {
    if read.len() < STACK_READ {
        // The socket had no more: whatever follows arrives later, and the decoder grows
        // the buffer for it then.
        return read.len();
    }
    let frame_len = match FrameHeader::parse(read) {
        Ok(Some((header, header_len))) => usize::try_from(header.payload_len)
            .map_or(usize::MAX, |len| len.saturating_add(header_len)),
        _ => 0,
    };
    frame_len
        .min(read.len().saturating_mul(TRUST_FACTOR))
        .max(read.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(len: u64) -> Vec<u8> {
        let mut out = vec![0x82, 0x80 | 127];
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&[1, 2, 3, 4]);
        out
    }

    #[test]
    fn a_short_read_gets_exactly_its_size() {
        let mut read = header(100);
        read.extend_from_slice(&[0; 100]);
        assert_eq!(first_buffer_len(&read), read.len());
        assert_eq!(first_buffer_len(&header(65536)), 14);
    }

    #[test]
    fn a_large_frame_gets_room_in_proportion_to_what_came() {
        let mut read = header(65536);
        read.resize(16 * 1024, 0);
        assert_eq!(first_buffer_len(&read), 65536 + 14);
        let mut claim = header(1 << 30);
        claim.resize(STACK_READ, 0);
        assert_eq!(first_buffer_len(&claim), STACK_READ * TRUST_FACTOR);
    }
}
