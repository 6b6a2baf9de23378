//! The inflater on arbitrary input must stop at its limit and never allocate past it; on
//! data that zlib compressed, it must give back exactly the original.

#![no_main]

use arbitrary::Arbitrary;
use flate2::{Compress, Compression, FlushCompress};
use libfuzzer_sys::fuzz_target;
use ws_server::proto::Inflater;

#[derive(Debug, Arbitrary)]
enum Input {
    /// Arbitrary compressed bytes, in pieces, as one message.
    Raw {
        window_bits: u8,
        max: u16,
        pieces: Vec<Vec<u8>>,
    },
    /// Messages compressed by zlib, inflated with one context (client takeover).
    RoundTrip {
        window_bits: u8,
        level: u8,
        messages: Vec<Vec<u8>>,
    },
}

fuzz_target!(|input: Input| match input {
    Input::Raw {
        window_bits,
        max,
        pieces,
    } => {
        let max = usize::from(max);
        let mut inflater = Inflater::new(8 + window_bits % 8);
        let mut out = Vec::new();
        let mut result = Ok(());
        for piece in &pieces {
            result = inflater.inflate(piece, &mut out, max);
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = inflater.finish_message(&mut out, max);
        }
        // The one byte of room past `max` tells an overflow from an exact fit; an
        // overflow is an error, and the caller drops the buffer.
        let bound = if result.is_ok() { max } else { max + 1 };
        assert!(
            out.len() <= bound,
            "{} bytes inflated past {max}: {result:?}",
            out.len()
        );
        assert!(
            out.capacity() <= max + 1,
            "capacity {} past {max}",
            out.capacity()
        );
    }
    Input::RoundTrip {
        window_bits,
        level,
        messages,
    } => {
        let bits = 9 + window_bits % 7;
        let mut compress =
            Compress::new_with_window_bits(Compression::new(u32::from(level % 10)), false, bits);
        let mut inflater = Inflater::new(bits);
        for message in &messages {
            let mut wire = Vec::with_capacity(message.len() * 2 + 64);
            compress
                .compress_vec(message, &mut wire, FlushCompress::Sync)
                .expect("compress");
            if wire.ends_with(&[0, 0, 0xff, 0xff]) {
                wire.truncate(wire.len() - 4);
            } else {
                // zlib writes nothing for a flush with nothing new; a sender then sends
                // the one byte RFC 7692 section 7.2.3.6 gives for an empty message.
                assert!(wire.is_empty(), "{wire:?}");
                wire.push(0x00);
            }
            let mut out = Vec::new();
            inflater
                .inflate(&wire, &mut out, message.len())
                .expect("inflate");
            inflater
                .finish_message(&mut out, message.len())
                .expect("finish");
            assert_eq!(&out, message);
        }
    }
});
