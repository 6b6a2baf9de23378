//! The outbox's bound, with control frames among the messages.

use super::*;
use crate::{Message, outbox::Single, proto::OpCode};

/// xorshift64*: reproducible sequences without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n.max(1)
    }
}

fn wire(frames: &[OutFrame]) -> usize {
    frames.iter().map(OutFrame::wire_len).sum()
}

/// Random sends, pings, pongs, takes and writes against one outbox: the bytes it counts
/// are always those it holds plus those taken and unwritten; data stays within the bound
/// (or is one message alone); at most `MAX_WAITING_PONGS` pongs wait, and the last one
/// answers the latest ping.
#[test]
fn control_frames_keep_within_the_bound_whatever_the_order() {
    for seed in 1..=300u64 {
        let mut rng = Rng(seed);
        let max_queue = 64 + rng.below(4096);
        let policy = [SlowConsumer::Close, SlowConsumer::Drop][rng.below(2)];
        let outbox = Outbox::new(
            "/test",
            Backpressure::DEFAULT
                .with_max_queue(max_queue)
                .with_slow_consumer(policy),
            None,
        );
        let mut writer: VecDeque<OutFrame> = VecDeque::new();
        let mut biggest_alone = 0;
        // From a task that takes often to one whose socket is full.
        let take_odds = [4, 40, 400][rng.below(3)];
        for step in 0..400 {
            let context = format!("seed {seed} step {step}");
            let op = match rng.below(take_odds) {
                0 => 4,
                _ => [0, 1, 2, 2, 3, 5][rng.below(6)],
            };
            match op {
                0 | 1 => {
                    let len = rng.below(max_queue * 2);
                    let alone = outbox.queued_bytes() == 0;
                    let message = Message::Binary(Bytes::from(vec![1; len]));
                    if outbox.try_push(Single(message)).is_ok() && alone {
                        biggest_alone = biggest_alone.max(len + 14);
                    }
                }
                2 => {
                    let payload = Bytes::from(vec![step as u8; rng.below(126)]);
                    if outbox.push_pong(payload.clone()) {
                        let frames = outbox.queued_frames();
                        let last = frames.iter().rev().find(|f| f.opcode() == OpCode::Pong);
                        assert_eq!(last.map(OutFrame::payload), Some(&payload), "{context}");
                    }
                }
                3 => {
                    outbox.push_ping();
                }
                4 => {
                    outbox.take(&mut writer);
                }
                _ => {
                    let done = rng.below(writer.len() + 1);
                    let written: Vec<_> = writer.drain(..done).collect();
                    outbox.written(wire(&written));
                }
            }
            let queued = outbox.queued_frames();
            let in_flight: Vec<_> = writer.iter().cloned().collect();
            assert_eq!(
                outbox.queued_bytes(),
                wire(&queued) + wire(&in_flight),
                "{context}"
            );
            let data: Vec<_> = queued
                .iter()
                .filter(|f| f.opcode() == OpCode::Binary)
                .cloned()
                .collect();
            assert!(
                wire(&data) <= max_queue.max(biggest_alone),
                "{context}: {} bytes of data",
                wire(&data)
            );
            let pongs = queued.iter().filter(|f| f.opcode() == OpCode::Pong).count();
            assert!(pongs <= MAX_WAITING_PONGS, "{context}: {pongs} pongs");
        }
    }
}

/// What a message touches (the flags, the byte count, the lock, the queue and its count)
/// lies on the outbox's first cache line, as its layout means it to.
#[test]
fn a_message_touches_one_line_of_the_outbox() {
    let outbox = Outbox::new("/test", Backpressure::DEFAULT, None);
    let start = std::ptr::from_ref(&outbox).addr();
    assert_eq!(start % 64, 0, "the outbox starts a line");
    let end_of = |field: usize, len: usize| field - start + len;
    let state = outbox.lock();
    let lock = std::ptr::from_ref(&outbox.state).addr();
    // The lock's word comes before what it guards (std lays it out so today).
    assert!(std::ptr::from_ref(&*state).addr() - lock >= 4);
    let hot = [
        end_of(std::ptr::from_ref(&outbox.flags).addr(), 2),
        end_of(std::ptr::from_ref(&outbox.bytes).addr(), 8),
        end_of(lock, 4),
        end_of(std::ptr::from_ref(&state.frames).addr(), 32),
        end_of(std::ptr::from_ref(&state.sent).addr(), 8),
    ];
    assert!(hot.iter().all(|&end| end <= 64), "ends at {hot:?}");
}
