//! permessage-deflate's compression as a client does it, with flate2: independent of the
//! server's own.

use std::io::Write;

use flate2::{Compression, Decompress, FlushDecompress, write::DeflateEncoder};

/// Raw deflate with the sync flush's `00 00 ff ff` removed, as RFC 7692 sends a message.
pub(crate) fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).expect("compress");
    encoder.flush().expect("sync flush");
    let mut out = encoder.get_ref().clone();
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

/// A message's payload inflated, the removed `00 00 ff ff` put back.
pub(crate) fn inflate(data: &[u8]) -> Vec<u8> {
    let mut input = data.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut inflater = Decompress::new(false);
    let mut out = Vec::with_capacity(8 << 20);
    inflater
        .decompress_vec(&input, &mut out, FlushDecompress::Sync)
        .expect("inflate");
    out
}
