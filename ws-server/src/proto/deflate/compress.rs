//! Compressing a message: one compressor per thread and window size, reset after every
//! message, so that connections share it and a broadcast is compressed once per window.

use std::cell::RefCell;

use bytes::Bytes;
use flate2::{Compress, Compression as Level, FlushCompress, Status};

use super::SYNC_TAIL;

thread_local! {
    /// Compressors by window bits (9 to 15) and level, made on first use.
    static COMPRESSORS: RefCell<Vec<((u8, u8), Compress)>> = const { RefCell::new(Vec::new()) };
}

/// The message payload of `data` compressed with a `window_bits` window (9 to 15) at
/// `level` (0 to 9): raw deflate, sync flushed, without the trailing `00 00 ff ff`, as
/// permessage-deflate sends it. The compressor is the thread's, reset after each message.
///
/// ```
/// use ws_server::proto::{Inflater, compress};
/// let text = "hello hello hello hello".repeat(10);
/// let payload = compress(text.as_bytes(), 15, 1);
/// assert!(payload.len() < text.len());
///
/// let mut inflater = Inflater::new(15);
/// let mut out = Vec::new();
/// inflater.inflate(&payload, &mut out, 1 << 20).unwrap();
/// inflater.finish_message(&mut out, 1 << 20).unwrap();
/// assert_eq!(out, text.as_bytes());
/// ```
pub fn compress(data: &[u8], window_bits: u8, level: u8) -> Bytes {
    COMPRESSORS.with(|cell| {
        let mut compressors = cell.borrow_mut();
        let key = (window_bits, level);
        let index = match compressors.iter().position(|(k, _)| *k == key) {
            Some(index) => index,
            None => {
                let compressor = Compress::new_with_window_bits(
                    Level::new(u32::from(level)),
                    false,
                    window_bits,
                );
                compressors.push((key, compressor));
                compressors.len() - 1
            }
        };
        let compressor = &mut compressors[index].1;
        let out = deflate(compressor, data);
        compressor.reset();
        out
    })
}

fn deflate(compressor: &mut Compress, data: &[u8]) -> Bytes {
    // Incompressible data grows by a few bytes per block: leave room for that at once.
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    let start_in = compressor.total_in();
    loop {
        let consumed = (compressor.total_in() - start_in) as usize;
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(64));
        }
        let status = compressor
            .compress_vec(&data[consumed..], &mut out, FlushCompress::Sync)
            .unwrap_or(Status::StreamEnd);
        let done = (compressor.total_in() - start_in) as usize == data.len()
            && out.len() < out.capacity()
            && out.ends_with(&SYNC_TAIL);
        if done || status == Status::StreamEnd {
            break;
        }
    }
    if out.ends_with(&SYNC_TAIL) {
        out.truncate(out.len() - SYNC_TAIL.len());
    }
    Bytes::from(out)
}
