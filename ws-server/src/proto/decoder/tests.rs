use bytes::{Bytes, BytesMut};

use super::*;
use crate::CloseCode;

const KEY: [u8; 4] = [0xa1, 0x05, 0x7e, 0x33];

/// A masked client frame.
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        fin,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode: OpCode::from_u8(opcode).expect("test opcode"),
        mask: Some(KEY),
        payload_len: payload.len() as u64,
    };
    let mut head = [0u8; super::super::MAX_HEADER_LEN];
    let len = header.encode(&mut head);
    let mut out = head[..len].to_vec();
    let mut body = payload.to_vec();
    apply_mask(&mut body, KEY, 0);
    out.extend_from_slice(&body);
    out
}

fn decode_all(decoder: &mut Decoder, wire: &[u8]) -> Result<Vec<Event>, ProtocolError> {
    let mut buf = BytesMut::from(wire);
    let mut events = Vec::new();
    while let Some(event) = decoder.decode(&mut buf)? {
        events.push(event);
    }
    Ok(events)
}

/// Feeds one byte at a time, as a slow network would.
fn decode_bytewise(decoder: &mut Decoder, wire: &[u8]) -> Result<Vec<Event>, ProtocolError> {
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    for byte in wire {
        buf.extend_from_slice(&[*byte]);
        while let Some(event) = decoder.decode(&mut buf)? {
            events.push(event);
        }
    }
    Ok(events)
}

fn text(s: &str) -> Event {
    Event::Message(Message::from(s))
}

#[test]
fn reassembles_fragments_around_an_interleaved_ping() {
    let mut wire = frame(false, 1, "Hello, ".as_bytes());
    wire.extend(frame(true, 9, b"are you there"));
    wire.extend(frame(false, 0, "wörld".as_bytes()));
    wire.extend(frame(true, 0, b"!"));
    wire.extend(frame(true, 2, &[0, 1, 2]));
    let expected = vec![
        Event::Ping(Bytes::from_static(b"are you there")),
        text("Hello, wörld!"),
        Event::Message(Message::Binary(Bytes::from_static(&[0, 1, 2]))),
    ];
    assert_eq!(
        decode_all(&mut Decoder::new(Limits::DEFAULT), &wire),
        Ok(expected.clone())
    );
    assert_eq!(
        decode_bytewise(&mut Decoder::new(Limits::DEFAULT), &wire),
        Ok(expected)
    );
}

#[test]
fn empty_messages_and_control_frames() {
    let mut wire = frame(true, 1, b"");
    wire.extend(frame(true, 2, b""));
    wire.extend(frame(true, 10, b""));
    wire.extend(frame(true, 8, b""));
    let events = decode_all(&mut Decoder::new(Limits::DEFAULT), &wire);
    assert_eq!(
        events,
        Ok(vec![
            text(""),
            Event::Message(Message::Binary(Bytes::new())),
            Event::Pong(Bytes::new()),
            Event::Close(None)
        ])
    );
}

#[test]
fn invalid_utf8_fails_before_the_frame_is_complete() {
    let mut payload = "κόσμε".as_bytes().to_vec();
    payload.extend_from_slice(&[0xf4, 0x90, 0x80, 0x80]);
    payload.extend_from_slice(b"rest of a long frame");
    let wire = frame(true, 1, &payload);
    let invalid_at = wire.len() - payload.len() + "κόσμε".len() + 1;
    let mut decoder = Decoder::new(Limits::DEFAULT);
    let mut buf = BytesMut::from(&wire[..invalid_at]);
    assert_eq!(
        decoder.decode(&mut buf),
        Ok(None),
        "0xf4 alone is still a valid prefix"
    );
    buf.extend_from_slice(&wire[invalid_at..invalid_at + 1]);
    assert_eq!(decoder.decode(&mut buf), Err(ProtocolError::InvalidUtf8));
}

#[test]
fn invalid_utf8_across_fragments_fails_on_the_fragment_that_breaks_it() {
    let mut wire = frame(false, 1, "κόσμε".as_bytes());
    let first = wire.len();
    wire.extend(frame(false, 0, &[0xf4]));
    let second = wire.len();
    wire.extend(frame(true, 0, &[0x90, 0x80, 0x80]));
    let mut decoder = Decoder::new(Limits::DEFAULT);
    assert_eq!(decode_all(&mut decoder, &wire[..first]), Ok(vec![]));
    assert_eq!(decode_all(&mut decoder, &wire[first..second]), Ok(vec![]));
    assert_eq!(
        decode_all(&mut decoder, &wire[second..]),
        Err(ProtocolError::InvalidUtf8)
    );
}

#[test]
fn text_ending_mid_code_point_is_invalid() {
    let wire = frame(true, 1, &[0x61, 0xe2, 0x82]);
    assert_eq!(
        decode_all(&mut Decoder::new(Limits::DEFAULT), &wire),
        Err(ProtocolError::InvalidUtf8)
    );
}

#[test]
fn payload_limit_is_checked_on_the_header_alone() {
    let limits = Limits::DEFAULT.with_max_payload(10);
    let wire = frame(true, 2, &[7; 11]);
    let header_only = &wire[..2 + 4];
    let err = decode_all(&mut Decoder::new(limits), header_only);
    assert_eq!(
        err,
        Err(ProtocolError::PayloadTooLarge { len: 11, max: 10 })
    );
    assert_eq!(
        decode_all(&mut Decoder::new(limits), &frame(true, 2, &[7; 10])).map(|e| e.len()),
        Ok(1)
    );
}

#[test]
fn frame_count_limit_counts_the_first_frame() {
    let limits = Limits::DEFAULT.with_max_frames(2);
    let mut ok = frame(false, 1, b"a");
    ok.extend(frame(true, 0, b"b"));
    assert_eq!(
        decode_all(&mut Decoder::new(limits), &ok),
        Ok(vec![text("ab")])
    );
    let mut too_many = frame(false, 1, b"a");
    too_many.extend(frame(false, 0, b"b"));
    too_many.extend(frame(true, 0, b"c"));
    assert_eq!(
        decode_all(&mut Decoder::new(limits), &too_many),
        Err(ProtocolError::TooManyFrames { max: 2 })
    );
}

#[test]
fn message_limit_applies_to_the_reassembled_size() {
    let limits = Limits::DEFAULT.with_max_message(5);
    let mut wire = frame(false, 2, b"abc");
    wire.extend(frame(true, 0, b"def"));
    assert_eq!(
        decode_all(&mut Decoder::new(limits), &wire),
        Err(ProtocolError::MessageTooLarge { max: 5 })
    );
    assert_eq!(
        decode_all(&mut Decoder::new(limits), &frame(true, 2, b"abcdef")),
        Err(ProtocolError::MessageTooLarge { max: 5 })
    );
}

#[test]
fn protocol_violations_are_reported() {
    let cases: Vec<(Vec<u8>, ProtocolError)> = vec![
        (
            {
                let mut f = frame(true, 1, b"x");
                f[0] |= 0x40;
                f
            },
            ProtocolError::ReservedBits,
        ),
        (
            {
                let mut f = frame(true, 1, b"x");
                f[0] |= 0x10;
                f
            },
            ProtocolError::ReservedBits,
        ),
        (vec![0x81, 0x01, b'x'], ProtocolError::UnmaskedFrame),
        (frame(false, 9, b"x"), ProtocolError::FragmentedControl),
        (frame(true, 9, &[0; 126]), ProtocolError::ControlTooLong),
        (frame(true, 0, b"x"), ProtocolError::UnexpectedContinuation),
        (
            {
                let mut f = frame(false, 1, b"x");
                f.extend(frame(true, 2, b"y"));
                f
            },
            ProtocolError::ExpectedContinuation,
        ),
        (
            vec![0x85, 0x80, 0, 0, 0, 0],
            ProtocolError::ReservedOpcode(5),
        ),
        (frame(true, 8, &[0x03]), ProtocolError::CloseTooShort),
        (
            frame(true, 8, &[0x03, 0xed]),
            ProtocolError::InvalidCloseCode(1005),
        ),
        (
            frame(true, 8, &[0x03, 0xe8, 0xff]),
            ProtocolError::InvalidCloseReason,
        ),
    ];
    for (wire, expected) in cases {
        assert_eq!(
            decode_all(&mut Decoder::new(Limits::DEFAULT), &wire),
            Err(expected.clone()),
            "{expected}"
        );
    }
}

#[test]
fn close_frames_carry_code_and_reason() {
    let events = decode_all(
        &mut Decoder::new(Limits::DEFAULT),
        &frame(true, 8, b"\x0f\xa0going"),
    );
    let close = CloseFrame {
        code: CloseCode::new(4000),
        reason: Text::from("going"),
    };
    assert_eq!(events, Ok(vec![Event::Close(Some(close))]));
}

#[test]
fn discarding_skips_everything_up_to_a_close() {
    let mut decoder = Decoder::new(Limits::DEFAULT.with_max_payload(4));
    let mut wire = frame(true, 2, &[1; 100]);
    let after_header = 2 + 4;
    assert!(matches!(
        decode_all(&mut decoder, &wire[..after_header]),
        Err(ProtocolError::PayloadTooLarge { .. })
    ));
    decoder.discard();
    wire.extend(frame(true, 1, &[0xff; 3]));
    wire.extend(frame(true, 9, b"ping"));
    wire.extend(frame(true, 8, b"\x03\xe8"));
    assert_eq!(
        decode_bytewise(&mut decoder, &wire[after_header..]),
        Ok(vec![Event::Close(None)])
    );
}

#[test]
fn large_single_frame_is_delivered_without_loss() {
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let wire = frame(true, 2, &payload);
    let events = decode_all(&mut Decoder::new(Limits::DEFAULT), &wire);
    assert_eq!(
        events,
        Ok(vec![Event::Message(Message::Binary(payload.into()))])
    );
}

#[test]
fn an_announced_payload_does_not_reserve_memory_before_it_arrives() {
    let mut decoder = Decoder::new(
        Limits::DEFAULT
            .with_max_payload(64 << 20)
            .with_max_message(64 << 20),
    );
    let wire = frame(true, 2, &vec![0u8; 32 << 20]);
    let mut buf = BytesMut::from(&wire[..14]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert!(
        buf.capacity() <= 64 * 1024,
        "reserved {} bytes for a bare header",
        buf.capacity()
    );
    // Fed in pieces, the whole frame still arrives intact.
    for chunk in wire[14..].chunks(1 << 20) {
        buf.extend_from_slice(chunk);
        if let Some(event) = decoder.decode(&mut buf).expect("valid") {
            assert!(matches!(event, Event::Message(Message::Binary(ref b)) if b.len() == 32 << 20));
            return;
        }
    }
    panic!("the frame was never completed");
}

#[test]
fn a_whole_invalid_text_frame_fails_and_is_skipped_once_discarding() {
    let mut wire = frame(true, 0x1, &[b'o', b'k', 0xff, b'!']);
    wire.extend(frame(true, 0x2, b"after"));
    wire.extend(frame(true, 0x8, &[0x03, 0xe8]));
    let mut decoder = Decoder::new(Limits::DEFAULT);
    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(decoder.decode(&mut buf), Err(ProtocolError::InvalidUtf8));
    decoder.discard();
    // The bad frame's payload and the binary frame are skipped; only the close is seen.
    assert_eq!(decoder.decode(&mut buf), Ok(Some(Event::Close(None))));
    assert!(buf.is_empty());
}

#[test]
fn whole_frames_decode_alike_at_once_and_byte_by_byte() {
    let mut wire = Vec::new();
    for (opcode, payload) in [
        (0x1, "héllo".as_bytes()),
        (0x2, &[0u8, 1, 2][..]),
        (0x1, b""),
    ] {
        wire.extend(frame(true, opcode, payload));
    }
    wire.extend(frame(true, 0x2, &vec![7u8; 70_000]));
    let at_once = decode_all(&mut Decoder::new(Limits::DEFAULT), &wire).unwrap();
    let bytewise = decode_bytewise(&mut Decoder::new(Limits::DEFAULT), &wire).unwrap();
    assert_eq!(at_once, bytewise);
    assert_eq!(at_once.len(), 4);
    assert_eq!(at_once[0], text("héllo"));
}

#[test]
fn whole_frames_over_a_limit_still_fail() {
    let limits = Limits::DEFAULT.with_max_payload(4);
    let wire = frame(true, 0x2, b"12345");
    assert!(matches!(
        decode_all(&mut Decoder::new(limits), &wire),
        Err(ProtocolError::PayloadTooLarge { .. })
    ));
    let wire = frame(true, 0x2, b"1");
    assert!(matches!(
        decode_all(&mut Decoder::new(Limits::DEFAULT.with_max_frames(0)), &wire),
        Err(ProtocolError::TooManyFrames { .. })
    ));
}

#[test]
fn the_short_header_path_agrees_with_the_parsed_one() {
    // Each with the frames it admits: a frame of the largest length admitted, or none.
    let cases = [
        (Limits::DEFAULT, Some(125)),
        (Limits::DEFAULT.with_max_payload(100), Some(100)),
        (Limits::DEFAULT.with_max_message(50), Some(50)),
        (Limits::DEFAULT.with_max_frames(0), None),
    ];
    for (limits, largest) in cases {
        let decoder = Decoder::new(limits);
        let mut checked = 0;
        for b0 in [0x81, 0x82] {
            for b1 in 0x80..=0xFD_u8 {
                let len = usize::from(b1 & 0x7F);
                let mut wire = vec![b0, b1];
                wire.extend_from_slice(&KEY);
                wire.extend(std::iter::repeat_n(b'a', len + 1));
                // Cut anywhere: inside the key, short of the payload, exactly at its end, past it.
                for cut in [3, 6, 6 + len.saturating_sub(1), 6 + len, 7 + len] {
                    let buf = &wire[..cut];
                    let short = decoder.whole_short_frame(buf, b0, b1);
                    assert_eq!(
                        short,
                        decoder.whole_parsed_frame(buf),
                        "{b0:x} {b1:x} {cut}"
                    );
                    assert_eq!(short, decoder.whole_frame(buf));
                    checked += usize::from(short.is_some());
                }
            }
        }
        // Two cuts hold a whole frame of each admitted length (four of an empty one), for
        // text and for binary.
        let expected = largest.map_or(0, |largest| 2 * (4 + 2 * largest));
        assert_eq!(checked, expected, "{limits:?}");
    }
}
