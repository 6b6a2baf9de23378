//! A connection's queue of outgoing frames, shared by its handle clones and its task:
//! bounded in bytes, with the resource's slow-consumer policy.

use std::{
    collections::VecDeque,
    mem,
    sync::{
        Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    task::Waker,
};

use bytes::Bytes;
use tokio::sync::Notify;

use super::{
    direct,
    outgoing::{FrameSource, SendDeflate},
    push::Push,
};
use crate::{Backpressure, CloseCode, SendError, SlowConsumer, proto::OutFrame};

/// How many pongs may wait in a queue; enough to answer every ping of a burst, as
/// Autobahn's cases check.
const MAX_WAITING_PONGS: usize = 16;

/// The close this side decided on: its code and reason.
pub(crate) type CloseStatus = (CloseCode, String);

/// What became of a message offered to the queue.
pub(crate) enum Offer {
    Queued,
    /// Wait policy: the message does not fit yet (here it is back).
    Full(OutFrame),
    Refused(SendError),
}

impl Offer {
    /// Queued, or why not, for a sender that does not wait.
    fn into_result(self) -> Result<(), SendError> {
        match self {
            Offer::Queued => Ok(()),
            Offer::Full(_) => Err(SendError::Full),
            Offer::Refused(error) => Err(error),
        }
    }
}

/// Laid out by hand (`repr(C)`), aligned to a cache line: everything a send and a step
/// of the connection's task touch comes first and shares one line, which with many
/// connections is usually out of cache when a message arrives.
#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct Outbox {
    /// Set once a close frame is queued (under the lock): from then on nothing else is
    /// accepted.
    closing: AtomicBool,
    /// Set by [`abort`](Outbox::abort): stop at once, whatever is in progress (the end of
    /// a graceful shutdown).
    aborted: AtomicBool,
    /// A frame overflowed the queue under the close policy (set under the lock).
    slow: AtomicBool,
    /// Frames are queued that the task has not taken.
    pending: AtomicBool,
    /// The task is running and will look for frames before it sleeps: pushes need not
    /// wake it (waking a running task only makes it poll again).
    awake: AtomicBool,
    /// Copies of `deflate.is_some()` and of whether the policy is to wait for room, for
    /// the first cache line.
    compresses: bool,
    waits_for_room: bool,
    /// Bytes queued or taken by the task and not yet written.
    bytes: AtomicUsize,
    state: Mutex<State>,
    /// How messages are compressed for this connection, if at all.
    deflate: Option<SendDeflate>,
    backpressure: Backpressure,
    /// Wakes senders waiting for room (wait policy) when bytes drain or the queue closes.
    room: Notify,
}

#[derive(Debug, Default)]
#[repr(C)] // The queue first, in the outbox's first cache line.
struct State {
    frames: VecDeque<OutFrame>,
    close: Option<CloseStatus>,
    /// The connection's task, registered once: woken for frames while it sleeps, and for a
    /// close, a slow consumer or an abort whatever it is doing. Kept (not taken) on waking,
    /// so that the task need not register again on every poll.
    task: Option<Waker>,
    pongs: WaitingPongs,
}

/// The pongs in the queue, which the task has not taken yet.
#[derive(Debug, Default)]
struct WaitingPongs {
    count: usize,
    /// Where in the queue the last one is.
    last: usize,
}

impl State {
    fn wake_task(&self) {
        if let Some(task) = &self.task {
            task.wake_by_ref();
        }
    }
}

impl Outbox {
    pub(crate) fn new(backpressure: Backpressure, deflate: Option<SendDeflate>) -> Outbox {
        Outbox {
            closing: AtomicBool::new(false),
            aborted: AtomicBool::new(false),
            slow: AtomicBool::new(false),
            pending: AtomicBool::new(false),
            awake: AtomicBool::new(false),
            compresses: deflate.is_some(),
            waits_for_room: backpressure.slow_consumer() == SlowConsumer::Wait,
            bytes: AtomicUsize::new(0),
            state: Mutex::default(),
            deflate,
            backpressure,
            room: Notify::new(),
        }
    }

    #[inline]
    pub(super) fn deflate(&self) -> Option<&SendDeflate> {
        if self.compresses {
            self.deflate.as_ref()
        } else {
            None
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        crate::lock::lock(&self.state)
    }

    /// Queues a message if it fits; otherwise applies the slow-consumer policy.
    #[inline]
    pub(super) fn offer(&self, frame: OutFrame) -> Offer {
        // From the connection's own callback, mostly: no lock, no wake-up.
        let Err(frame) = direct::offer(self, frame) else {
            return Offer::Queued;
        };
        self.offer_queued(frame)
    }

    /// As [`offer`](Outbox::offer), always through the queue.
    fn offer_queued(&self, frame: OutFrame) -> Offer {
        let state = self.lock();
        // Set under the lock, as `state.close` is, but in the first cache line.
        if self.closing.load(Ordering::Relaxed) {
            return Offer::Refused(SendError::Closed);
        }
        if self.slow.load(Ordering::Relaxed) {
            return Offer::Refused(SendError::SlowConsumer);
        }
        let len = frame.wire_len();
        let bytes = self.bytes.load(Ordering::Acquire);
        if bytes == 0 || bytes + len <= self.backpressure.max_queue_len() {
            self.enqueue(state, frame);
            return Offer::Queued;
        }
        match self.backpressure.slow_consumer() {
            SlowConsumer::Close => {
                self.slow.store(true, Ordering::Release);
                state.wake_task();
                Offer::Refused(SendError::SlowConsumer)
            }
            SlowConsumer::Drop => Offer::Refused(SendError::Dropped),
            SlowConsumer::Wait => Offer::Full(frame),
        }
    }

    /// Queues a message, waiting for room under the wait policy.
    pub(crate) fn push<F: FrameSource>(&self, out: F) -> Push<'_, F> {
        Push::new(self, out)
    }

    /// Notified when bytes drain or the queue closes.
    pub(super) fn room(&self) -> &Notify {
        &self.room
    }

    /// Whether a frame of `len` bytes, sent by the callback the task is polling, may skip
    /// the queue (see [`direct`]): nothing is queued that it would overtake, no close or
    /// slow consumer is flagged, and it fits with the `uncounted` bytes sent so far.
    #[inline]
    pub(super) fn admits_directly(&self, uncounted: usize, len: usize) -> bool {
        if self.pending.load(Ordering::Acquire)
            || self.closing.load(Ordering::Acquire)
            || self.slow.load(Ordering::Acquire)
        {
            return false;
        }
        let bytes = self.bytes.load(Ordering::Acquire) + uncounted;
        bytes == 0 || bytes + len <= self.backpressure.max_queue_len()
    }

    /// Adds `bytes` of frames that skipped the queue to the bytes queued.
    #[inline]
    pub(super) fn count(&self, bytes: usize) {
        if bytes > 0 {
            self.bytes.fetch_add(bytes, Ordering::AcqRel);
        }
    }

    /// Queues a message without waiting.
    pub(crate) fn try_push(&self, out: impl FrameSource) -> Result<(), SendError> {
        self.offer(out.into_frame(self.deflate())).into_result()
    }

    /// Queues a message without waiting, through the queue even from the connection's
    /// own callback: for broadcasts, which offer to many connections and could skip the
    /// queue of one at most.
    pub(crate) fn try_push_queued(&self, out: impl FrameSource) -> Result<(), SendError> {
        self.offer_queued(out.into_frame(self.deflate()))
            .into_result()
    }

    /// Queues the heartbeat's ping (one per interval, counted as queued); refused once
    /// closing.
    pub(crate) fn push_ping(&self) -> bool {
        let state = self.lock();
        if state.close.is_some() {
            return false;
        }
        self.enqueue(state, OutFrame::ping(Bytes::new()));
        true
    }

    /// Queues the answer to a peer's ping; refused once closing. At most
    /// [`MAX_WAITING_PONGS`] wait in the queue: past that, the pong queued last answers the
    /// latest ping instead (RFC 6455 section 5.5.3 allows answering only the latest), so that
    /// a peer that pings faster than it reads cannot grow the queue.
    pub(crate) fn push_pong(&self, payload: Bytes) -> bool {
        let mut state = self.lock();
        if state.close.is_some() {
            return false;
        }
        let pong = OutFrame::pong(payload);
        let last = state.pongs.last;
        if state.pongs.count == MAX_WAITING_PONGS
            && let Some(last) = state.frames.get_mut(last)
        {
            let (added, replaced) = (pong.wire_len(), mem::replace(last, pong).wire_len());
            self.bytes.fetch_add(added, Ordering::AcqRel);
            self.bytes.fetch_sub(replaced, Ordering::AcqRel);
            return true;
        }
        state.pongs = WaitingPongs {
            count: state.pongs.count + 1,
            last: state.frames.len(),
        };
        self.enqueue(state, pong);
        true
    }

    /// Queues a close frame; everything queued before it is still sent, nothing after it.
    /// Returns `false` (and queues nothing) if a close was queued already.
    pub(crate) fn push_close(&self, status: Option<CloseStatus>) -> bool {
        let mut state = self.lock();
        if state.close.is_some() {
            return false;
        }
        let frame = OutFrame::close(
            status
                .as_ref()
                .map(|(code, reason)| (*code, reason.as_str())),
        );
        state.close = Some(status.unwrap_or((CloseCode::NO_STATUS, String::new())));
        self.closing.store(true, Ordering::Release);
        state.wake_task();
        self.enqueue(state, frame);
        self.room.notify_waiters();
        true
    }

    /// Registers the task to be woken when frames are queued while it sleeps, a close is
    /// queued, a consumer turns slow or the server aborts the connection. Once is enough
    /// while the task's waker stays the same.
    pub(crate) fn register(&self, task: &Waker) {
        self.lock().task = Some(task.clone());
    }

    /// Notes that the task is awake and will look for frames, until it
    /// [parks](Outbox::park).
    #[inline]
    pub(crate) fn unpark(&self) {
        self.awake.store(true, Ordering::Relaxed);
    }

    /// Moves every queued frame to `into` for writing; `false` if none was queued.
    #[inline]
    pub(crate) fn take(&self, into: &mut VecDeque<OutFrame>) -> bool {
        self.pending.load(Ordering::Acquire) && self.take_queued(into)
    }

    /// [`take`](Outbox::take) once frames were queued.
    #[inline(never)]
    fn take_queued(&self, into: &mut VecDeque<OutFrame>) -> bool {
        let mut state = self.lock();
        self.pending.store(false, Ordering::Relaxed);
        state.pongs = WaitingPongs::default();
        if state.frames.is_empty() {
            return false;
        }
        if into.is_empty() {
            // The usual case (the task takes once all it holds is written): trade queues.
            mem::swap(into, &mut state.frames);
        } else {
            into.append(&mut state.frames);
        }
        true
    }

    /// The task is about to sleep: from now on a push wakes it. Returns `false` (stay
    /// awake and take them) if frames were queued since the last [`take`](Outbox::take).
    #[inline]
    pub(crate) fn park(&self) -> bool {
        // Either this load sees a push's `pending`, or that push sees `awake` cleared and
        // wakes the task (both sides store, then load, sequentially consistent).
        self.awake.store(false, Ordering::SeqCst);
        if self.pending.load(Ordering::SeqCst) {
            self.awake.store(true, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// `bytes` of taken frames were written: that much room is free again.
    pub(crate) fn written(&self, bytes: usize) {
        let _ = self
            .bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                Some(queued.saturating_sub(bytes))
            });
        if self.waits_for_room {
            self.room.notify_waiters();
        }
    }

    /// Appends `frame` and releases the lock; wakes the task if it sleeps.
    fn enqueue(&self, mut state: MutexGuard<'_, State>, frame: OutFrame) {
        self.bytes.fetch_add(frame.wire_len(), Ordering::AcqRel);
        state.frames.push_back(frame);
        self.pending.store(true, Ordering::SeqCst);
        if !self.awake.load(Ordering::SeqCst) {
            state.wake_task();
        }
    }

    /// Bytes queued or being written.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire) + direct::uncounted(self)
    }

    /// Whether a frame overflowed the queue under the close policy.
    #[inline]
    pub(crate) fn is_slow(&self) -> bool {
        self.slow.load(Ordering::Acquire)
    }

    /// How long a slow consumer's queue may take to drain.
    pub(crate) fn grace(&self) -> std::time::Duration {
        self.backpressure.grace_period()
    }

    /// Drops every frame not yet taken by the task (a slow consumer's grace ran out);
    /// `in_flight` is what the task still holds.
    pub(crate) fn drop_queued(&self, in_flight: usize) {
        let mut state = self.lock();
        state.frames = VecDeque::new();
        state.pongs = WaitingPongs::default();
        self.bytes.store(in_flight, Ordering::Release);
    }

    /// Whether a close frame has been queued.
    #[inline]
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// The close this side queued, if any.
    pub(crate) fn close_status(&self) -> Option<CloseStatus> {
        self.lock().close.clone()
    }

    /// Tells the task to stop at once.
    pub(crate) fn abort(&self) {
        self.aborted.store(true, Ordering::Release);
        self.lock().wake_task();
    }

    #[inline]
    pub(crate) fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    /// The connection is gone: refuse every later send and free what is queued.
    pub(crate) fn shut(&self) {
        let mut state = self.lock();
        let frames = mem::take(&mut state.frames);
        state.pongs = WaitingPongs::default();
        self.bytes.store(0, Ordering::Release);
        if state.close.is_none() {
            state.close = Some((CloseCode::ABNORMAL, String::new()));
        }
        self.closing.store(true, Ordering::Release);
        // Handles may outlive the task: they must not keep it allocated.
        let task = state.task.take();
        drop(state);
        drop((frames, task));
        self.room.notify_waiters();
    }
}

#[cfg(test)]
impl Outbox {
    /// The payloads queued, to check that broadcasts share them.
    pub(crate) fn queued_payloads(&self) -> Vec<bytes::Bytes> {
        self.queued_frames()
            .iter()
            .map(|frame| frame.payload().clone())
            .collect()
    }

    /// The frames queued and not taken.
    fn queued_frames(&self) -> Vec<OutFrame> {
        self.lock().frames.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, conn::outgoing::Single, proto::OpCode};

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
                Backpressure::DEFAULT.max_queue(max_queue).policy(policy),
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
}
