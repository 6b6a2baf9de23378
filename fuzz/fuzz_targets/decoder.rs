//! Arbitrary bytes, cut into arbitrary pieces, through the frame decoder: it must return
//! events or a protocol error, never panic, hang or allocate beyond its limits. Taken as one
//! read (where whole frames take the decoder's fast path), the same bytes give the same
//! events up to the first error.

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
    let at_once = events(
        &mut Decoder::new(limits).with_deflate(deflate),
        &mut BytesMut::from(&input.wire[..]),
    );
    let mut in_pieces = Vec::new();
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
                    in_pieces.push(Event::Message(message));
                }
                Ok(Some(Event::Close(_))) if failed => return,
                Ok(Some(event)) => {
                    if !failed {
                        in_pieces.push(event);
                    }
                }
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
    if !failed {
        assert_eq!(at_once, Ok(in_pieces), "the same bytes, read at once");
    } else if let Ok(events) = at_once {
        panic!("an error in pieces, none at once ({} events)", events.len());
    }
});

/// Every event in `buf` up to the first error.
fn events(
    decoder: &mut Decoder,
    buf: &mut BytesMut,
) -> Result<Vec<Event>, ws_server::proto::ProtocolError> {
    let mut events = Vec::new();
    while let Some(event) = decoder.decode(buf)? {
        events.push(event);
    }
    Ok(events)
}
