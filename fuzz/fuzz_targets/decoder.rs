//! Arbitrary bytes, cut into arbitrary pieces, through the frame decoder: it must return
//! events or a protocol error, never panic, hang or allocate beyond its limits. Taken as one
//! read, the same bytes through the whole-frame fast paths give what the general path gives.

#![no_main]

use arbitrary::Arbitrary;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use ws_server::{
    Limits, Message,
    proto::{Decoder, DeflateParams, Event},
};

#[derive(Debug, Arbitrary)]
struct Input {
    max_payload: u16,
    max_frames: u8,
    max_message: u16,
    /// `Some` negotiates permessage-deflate with these window bits.
    deflate: Option<(u8, bool)>,
    /// Where the wire is cut into the reads the server would see.
    cuts: Vec<u8>,
    wire: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let limits = Limits::DEFAULT
        .with_max_payload(usize::from(input.max_payload))
        .with_max_frames(usize::from(input.max_frames).max(1))
        .with_max_message(usize::from(input.max_message));
    let deflate = input.deflate.map(|(bits, takeover)| DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: !takeover,
        server_max_window_bits: 9 + bits % 7,
        client_max_window_bits: 8 + bits % 8,
    });
    let mut decoder = Decoder::new(limits).with_deflate(deflate);
    let general = Decoder::new(limits)
        .with_deflate(deflate)
        .decode(&mut BytesMut::from(&input.wire[..]));
    let mut read = BytesMut::from(&input.wire[..]);
    match decoder.take_whole(&mut read) {
        Some(message) => assert_eq!(general, Ok(Some(Event::Message(message)))),
        None => assert_eq!(
            read, input.wire,
            "a read left to the general path is as it came"
        ),
    }
    if let Some((message, used)) = decoder.decode_whole_from(&input.wire) {
        assert_eq!(general, Ok(Some(Event::Message(message))));
        assert!(used <= input.wire.len());
    }
    let mut buf = BytesMut::new();
    let mut rest = &input.wire[..];
    let mut cuts = input.cuts.iter().copied().cycle();
    let mut failed = false;
    while !rest.is_empty() {
        let take = usize::from(cuts.next().unwrap_or(u8::MAX)).clamp(1, rest.len());
        buf.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(Event::Message(message))) => {
                    assert!(!failed, "a message after a protocol error");
                    let len = match &message {
                        Message::Text(text) => text.len(),
                        Message::Binary(data) => data.len(),
                    };
                    assert!(len <= limits.max_message(), "message over the limit");
                }
                Ok(Some(Event::Close(_))) if failed => return,
                Ok(Some(_)) => {}
                Ok(None) => break,
                // While discarding, a header that makes no sense ends reading, as the
                // connection's driver does.
                Err(_) if failed => return,
                Err(error) => {
                    let _ = error.close_code();
                    decoder.discard();
                    failed = true;
                }
            }
        }
    }
});
