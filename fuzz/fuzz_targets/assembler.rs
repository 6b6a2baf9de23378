//! Well-formed frames with arbitrary opcodes, flags, fragmentation and payloads, cut into
//! arbitrary reads: the decoder's events must match a plain model of RFC 6455's message
//! rules (fragments, interleaved control frames, UTF-8, frame and size limits) up to the
//! first error, which must come at the same frame.

#![no_main]

use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use ws_server::{
    Limits, Message,
    proto::{Decoder, Event, apply_mask, parse_close_payload},
};

#[derive(Debug, Arbitrary)]
struct Frame {
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: [u8; 4],
    payload: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
struct Input {
    max_payload: u8,
    max_frames: u8,
    max_message: u16,
    cuts: Vec<u8>,
    frames: Vec<Frame>,
}

/// What the model expects of one frame.
#[derive(Debug, PartialEq)]
enum Expect {
    Nothing,
    Event(Event),
    Error,
}

/// A message being reassembled, in the model.
struct Partial {
    text: bool,
    data: Vec<u8>,
    frames: usize,
}

fn model(frame: &Frame, limits: &Limits, partial: &mut Option<Partial>) -> Expect {
    let opcode = frame.opcode & 0x0f;
    if frame.rsv & 0x07 != 0 || matches!(opcode, 3..=7 | 11..=15) {
        return Expect::Error;
    }
    let payload = &frame.payload;
    if opcode >= 8 {
        if !frame.fin || payload.len() > 125 {
            return Expect::Error;
        }
        let bytes = Bytes::copy_from_slice(payload);
        return match opcode {
            9 => Expect::Event(Event::Ping(bytes)),
            10 => Expect::Event(Event::Pong(bytes)),
            _ => match parse_close_payload(payload) {
                Ok(_) => Expect::Nothing, // compared by kind below
                Err(_) => Expect::Error,
            },
        };
    }
    if payload.len() > limits.max_payload() {
        return Expect::Error;
    }
    let current = match (opcode, partial.as_mut()) {
        (0, None) => return Expect::Error,
        (0, Some(current)) => current,
        (_, Some(_)) => return Expect::Error,
        (_, None) => partial.insert(Partial {
            text: opcode == 1,
            data: Vec::new(),
            frames: 0,
        }),
    };
    current.frames += 1;
    current.data.extend_from_slice(payload);
    if current.frames > limits.max_frames() || current.data.len() > limits.max_message() {
        return Expect::Error;
    }
    if current.text
        && let Err(error) = std::str::from_utf8(&current.data)
        // An incomplete last character is fine until the message ends.
        && (error.error_len().is_some() || frame.fin)
    {
        return Expect::Error;
    }
    if !frame.fin {
        return Expect::Nothing;
    }
    let Some(done) = partial.take() else {
        return Expect::Error;
    };
    let message = if done.text {
        Message::from(String::from_utf8(done.data).expect("checked above"))
    } else {
        Message::Binary(Bytes::from(done.data))
    };
    Expect::Event(Event::Message(message))
}

fn encode(frame: &Frame, wire: &mut Vec<u8>) {
    wire.push(u8::from(frame.fin) << 7 | (frame.rsv & 0x07) << 4 | (frame.opcode & 0x0f));
    let len = frame.payload.len();
    match len {
        0..=125 => wire.push(0x80 | len as u8),
        126..=0xffff => {
            wire.push(0x80 | 126);
            wire.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            wire.push(0x80 | 127);
            wire.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    wire.extend_from_slice(&frame.mask);
    let start = wire.len();
    wire.extend_from_slice(&frame.payload);
    apply_mask(&mut wire[start..], frame.mask, 0);
}

fuzz_target!(|input: Input| {
    let limits = Limits::DEFAULT
        .with_max_payload(usize::from(input.max_payload) * 4)
        .with_max_frames(usize::from(input.max_frames % 8).max(1))
        .with_max_message(usize::from(input.max_message % 2048));
    // The model's expectations, frame by frame, up to the first error or close.
    let mut expected = Vec::new();
    let mut partial = None;
    let mut wire = Vec::new();
    for frame in &input.frames {
        encode(frame, &mut wire);
        let expect = model(frame, &limits, &mut partial);
        let is_close = frame.opcode & 0x0f == 8 && expect == Expect::Nothing;
        let stop = expect == Expect::Error || is_close;
        if is_close {
            expected.push(Expect::Event(Event::Close(None)));
        } else if expect != Expect::Nothing {
            expected.push(expect);
        }
        if stop {
            break;
        }
    }
    // What the decoder makes of the same bytes, read in arbitrary pieces.
    let mut decoder = Decoder::new(limits);
    let mut got = Vec::new();
    let mut buf = BytesMut::new();
    let mut rest = &wire[..];
    let mut cuts = input.cuts.iter().copied().cycle();
    'read: while !rest.is_empty() {
        let take = usize::from(cuts.next().unwrap_or(u8::MAX)).clamp(1, rest.len());
        buf.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(Event::Close(_))) => {
                    got.push(Expect::Event(Event::Close(None)));
                    break 'read;
                }
                Ok(Some(event)) => got.push(Expect::Event(event)),
                Ok(None) => break,
                Err(_) => {
                    got.push(Expect::Error);
                    break 'read;
                }
            }
        }
    }
    assert_eq!(got, expected);
});
