//! A connection's queue of outgoing frames, shared by its handles and its task: bounded in
//! bytes, with the resource's slow-consumer policy.
//!
//! The task is generic over the handler, so it is compiled in the user's crate: the small
//! methods it calls on every step are `#[inline]`, which they need to be inlined across
//! crates.

mod outgoing;
mod send;
#[cfg(test)]
mod tests;

use std::{
    collections::VecDeque,
    mem,
    sync::{
        Mutex, MutexGuard,
        atomic::{AtomicU16, AtomicUsize, Ordering},
    },
    task::Waker,
};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::{
    Backpressure, CloseCode, SendError, SlowConsumer, metrics::ConnectionMetrics, proto::OutFrame,
};
pub(crate) use outgoing::{FrameSource, Outgoing, SendDeflate, Single};
use send::Sending;

/// How many pongs may wait in a queue: enough to answer every ping of a burst, as
/// Autobahn's cases check, and few enough that a peer pinging without reading costs
/// nothing to speak of.
const MAX_WAITING_PONGS: usize = 16;

/// What the task must follow: [`Outbox::news`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct News {
    /// A close frame is queued.
    pub(crate) closing: bool,
    /// The queue overflowed under the close policy.
    pub(crate) slow: bool,
    /// The server stopped the connection.
    pub(crate) aborted: bool,
}

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

/// The outbox's state that is read without its lock, as bits of one word.
///
/// The ordering argument, the only one the outbox relies on: every change is one
/// read-modify-write of this word, so any two changes are ordered and the later sees the
/// earlier. A push sets `QUEUED` and the task's [`park`](Outbox::park) sets `SLEEPING`;
/// whichever comes second sees the other's bit: the push then wakes the task, or the task
/// stays awake and takes the frame. The frames themselves are under the lock.
///
/// `WAIT` and `DEFLATE` never change: they are here because a message reads this word
/// anyway, where the policy and the compression settings lie on other cache lines.
mod flags {
    /// Frames are queued that the task has not taken.
    pub(super) const QUEUED: u16 = 1 << 0;
    /// The task is parked: a push must wake it.
    pub(super) const SLEEPING: u16 = 1 << 1;
    /// A close frame is queued (set under the lock): nothing more is accepted.
    pub(super) const CLOSING: u16 = 1 << 2;
    /// A frame overflowed the queue under the close policy (set under the lock).
    pub(super) const SLOW: u16 = 1 << 3;
    /// The server stopped the connection: end at once.
    pub(super) const ABORTED: u16 = 1 << 4;
    /// The connection's timer fired since the task last looked.
    pub(super) const ALARM: u16 = 1 << 5;
    /// Pongs are queued that the task has not taken (set under the lock).
    pub(super) const PONGS: u16 = 1 << 6;
    /// The wait policy: senders wait for room, and are told when bytes drain.
    pub(super) const WAIT: u16 = 1 << 7;
    /// Messages are compressed.
    pub(super) const DEFLATE: u16 = 1 << 8;
}

/// A connection's outgoing frames: queued by any handle, taken and written by its task.
///
/// Laid out (`repr(C)`, from a line's start) so that a message touches one cache line of
/// it: the flags, the byte count, the lock and the queue, in order; what is rarely used
/// comes after. With many connections each message finds its connection's state out of
/// cache, and every line it fetches costs.
#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct Outbox {
    flags: AtomicU16,
    /// Bytes queued or taken by the task and not yet written.
    bytes: AtomicUsize,
    state: Mutex<State>,
    backpressure: Backpressure,
    /// How messages are compressed for this connection, if at all.
    deflate: Option<SendDeflate>,
    /// Wakes senders waiting for room (wait policy) when bytes drain or the queue closes.
    room: Notify,
    metrics: ConnectionMetrics,
}

#[derive(Debug, Default)]
#[repr(C)]
struct State {
    frames: VecDeque<OutFrame>,
    /// Messages queued since the task last [took the count](Outbox::take_sent_count).
    sent: u64,
    pongs: WaitingPongs,
    close: Option<CloseStatus>,
    /// The connection's task, registered once (again only if its waker changes): woken
    /// for frames while it sleeps, and for a close, a slow consumer or an abort whatever it
    /// is doing.
    task: Option<Waker>,
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
    /// The queue of a connection to `resource`.
    pub(crate) fn new(
        resource: &'static str,
        backpressure: Backpressure,
        deflate: Option<SendDeflate>,
    ) -> Outbox {
        Outbox {
            metrics: ConnectionMetrics::new(resource, backpressure.slow_consumer()),
            flags: AtomicU16::new(
                match backpressure.slow_consumer() {
                    SlowConsumer::Wait => flags::WAIT,
                    SlowConsumer::Close | SlowConsumer::Drop => 0,
                } | if deflate.is_some() { flags::DEFLATE } else { 0 },
            ),
            bytes: AtomicUsize::new(0),
            state: Mutex::default(),
            deflate,
            backpressure,
            room: Notify::new(),
        }
    }

    /// The connection's series.
    pub(crate) fn metrics(&self) -> &ConnectionMetrics {
        &self.metrics
    }

    #[inline]
    pub(super) fn deflate(&self) -> Option<&SendDeflate> {
        // The flag lies on the line a send touches anyway.
        if !self.has(flags::DEFLATE) {
            return None;
        }
        self.deflate.as_ref()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        crate::lock::lock(&self.state)
    }

    #[inline]
    fn has(&self, flag: u16) -> bool {
        self.flags.load(Ordering::Acquire) & flag != 0
    }

    /// Sets `flag` (a close, a slow consumer, an abort) and wakes the task, whatever it is
    /// doing: it must notice.
    fn raise(&self, state: &State, flag: u16) {
        self.flags.fetch_or(flag, Ordering::AcqRel);
        state.wake_task();
    }

    /// Queues a message if it fits; otherwise applies the slow-consumer policy.
    #[inline]
    pub(super) fn offer(&self, frame: OutFrame) -> Offer {
        self.offer_counted(frame, true)
    }

    /// [`offer`](Self::offer) again, for a message already counted as waiting for room.
    pub(super) fn offer_again(&self, frame: OutFrame) -> Offer {
        self.offer_counted(frame, false)
    }

    fn offer_counted(&self, frame: OutFrame, first: bool) -> Offer {
        let mut state = self.lock();
        // Both set under this lock.
        if self.has(flags::CLOSING) {
            return Offer::Refused(SendError::Closed);
        }
        if self.has(flags::SLOW) {
            return Offer::Refused(SendError::SlowConsumer);
        }
        let bytes = self.bytes.load(Ordering::Acquire);
        if bytes == 0 || bytes + frame.wire_len() <= self.backpressure.max_queue() {
            self.enqueue(&mut state, frame);
            state.sent += 1;
            return Offer::Queued;
        }
        if first {
            self.metrics.slow_consumers.increment(1);
        }
        match self.backpressure.slow_consumer() {
            SlowConsumer::Close => {
                self.raise(&state, flags::SLOW);
                Offer::Refused(SendError::SlowConsumer)
            }
            SlowConsumer::Drop => Offer::Refused(SendError::Dropped),
            SlowConsumer::Wait => Offer::Full(frame),
        }
    }

    /// Queues a message, waiting for room under the wait policy.
    pub(crate) fn push<F: FrameSource>(&self, out: F) -> Sending<'_, F> {
        Sending::new(self, out)
    }

    /// Queues a message without waiting.
    pub(crate) fn try_push(&self, out: impl FrameSource) -> Result<(), SendError> {
        self.offer(out.into_frame(self.deflate())).into_result()
    }

    /// Notified when bytes drain or the queue closes.
    pub(super) fn room(&self) -> &Notify {
        &self.room
    }

    /// Queues the heartbeat's ping (one per interval, counted as queued); refused once
    /// closing.
    pub(crate) fn push_ping(&self) -> bool {
        let mut state = self.lock();
        if state.close.is_some() {
            return false;
        }
        self.enqueue(&mut state, OutFrame::ping(Bytes::new()));
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
        self.flags.fetch_or(flags::PONGS, Ordering::AcqRel);
        self.enqueue(&mut state, pong);
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
        self.raise(&state, flags::CLOSING);
        self.enqueue(&mut state, frame);
        drop(state);
        self.room.notify_waiters();
        true
    }

    /// Appends `frame`; wakes the task if it sleeps.
    fn enqueue(&self, state: &mut State, frame: OutFrame) {
        self.bytes.fetch_add(frame.wire_len(), Ordering::AcqRel);
        state.frames.push_back(frame);
        let before = self.flags.fetch_or(flags::QUEUED, Ordering::AcqRel);
        if before & flags::SLEEPING != 0 {
            state.wake_task();
        }
    }

    /// Registers the task to be woken; once is enough while its waker stays the same.
    pub(crate) fn register(&self, task: &Waker) {
        self.lock().task = Some(task.clone());
    }

    /// How many messages were queued since the last call, for the task's [`Tally`].
    ///
    /// [`Tally`]: crate::metrics::Tally
    pub(crate) fn take_sent_count(&self) -> u64 {
        std::mem::take(&mut self.lock().sent)
    }

    /// Moves every queued frame to `into` for writing; `false` if none was queued.
    #[inline]
    pub(crate) fn take(&self, into: &mut VecDeque<OutFrame>) -> bool {
        // Inlined into the task, which looks on every step: mostly there is nothing.
        self.has(flags::QUEUED) && self.take_queued(into)
    }

    fn take_queued(&self, into: &mut VecDeque<OutFrame>) -> bool {
        let mut state = self.lock();
        let before = self
            .flags
            .fetch_and(!(flags::QUEUED | flags::PONGS), Ordering::AcqRel);
        if before & flags::PONGS != 0 {
            state.pongs = WaitingPongs::default();
        }
        if into.is_empty() {
            // The usual case (the task takes once all it holds is written): trade queues.
            mem::swap(into, &mut state.frames);
        } else {
            into.append(&mut state.frames);
        }
        !into.is_empty()
    }

    /// The task is about to sleep: from now on a push wakes it. Returns `false` (stay
    /// awake and take them) if frames were queued since the last [`take`](Outbox::take).
    #[inline]
    pub(crate) fn park(&self) -> bool {
        let before = self.flags.fetch_or(flags::SLEEPING, Ordering::AcqRel);
        if before & flags::QUEUED != 0 {
            self.unpark();
            return false;
        }
        true
    }

    /// The task runs and will look for frames before it sleeps again: pushes need not
    /// wake it.
    #[inline]
    pub(crate) fn unpark(&self) {
        // Only the task sets or clears the bit, so a plain look tells whether it is set.
        if self.has(flags::SLEEPING) {
            self.flags.fetch_and(!flags::SLEEPING, Ordering::AcqRel);
        }
    }

    /// `bytes` of taken frames were written: that much room is free again.
    #[inline]
    pub(crate) fn written(&self, bytes: usize) {
        self.bytes.fetch_sub(bytes, Ordering::AcqRel);
        if self.has(flags::WAIT) {
            self.room.notify_waiters();
        }
    }

    /// Bytes queued or being written.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }

    /// The close, slow consumer and abort flags, in one look.
    #[inline]
    pub(crate) fn news(&self) -> News {
        let flags = self.flags.load(Ordering::Acquire);
        News {
            closing: flags & flags::CLOSING != 0,
            slow: flags & flags::SLOW != 0,
            aborted: flags & flags::ABORTED != 0,
        }
    }

    /// Whether a frame overflowed the queue under the close policy.
    pub(crate) fn is_slow(&self) -> bool {
        self.has(flags::SLOW)
    }

    /// Whether a close frame has been queued.
    pub(crate) fn is_closing(&self) -> bool {
        self.has(flags::CLOSING)
    }

    /// Whether the server stopped the connection.
    pub(crate) fn is_aborted(&self) -> bool {
        self.has(flags::ABORTED)
    }

    /// How long a slow consumer's queue may take to drain.
    pub(crate) fn grace(&self) -> std::time::Duration {
        self.backpressure.grace()
    }

    /// Drops every frame not yet taken by the task (a slow consumer's grace ran out);
    /// `in_flight` is what the task still holds.
    pub(crate) fn drop_queued(&self, in_flight: usize) {
        let mut state = self.lock();
        drop(self.empty(&mut state));
        self.bytes.store(in_flight, Ordering::Release);
    }

    /// Takes every frame not taken by the task, leaving nothing queued (and the flags
    /// saying so). The task's [`take`](Self::take) is the other way frames leave.
    fn empty(&self, state: &mut State) -> VecDeque<OutFrame> {
        self.flags
            .fetch_and(!(flags::QUEUED | flags::PONGS), Ordering::AcqRel);
        state.pongs = WaitingPongs::default();
        mem::take(&mut state.frames)
    }

    /// The close this side queued, if any.
    pub(crate) fn close_status(&self) -> Option<CloseStatus> {
        self.lock().close.clone()
    }

    /// The connection's timer fired: wakes the task, which finds out why with
    /// [`take_alarm`](Self::take_alarm). The timer rings here rather than waking the task
    /// itself because the task looks at this word on every wake anyway, while the timer
    /// lies apart, on a line that is cold by the next message when there are many
    /// connections.
    pub(crate) fn ring_alarm(&self) {
        let state = self.lock();
        self.raise(&state, flags::ALARM);
    }

    /// Whether the timer fired since the last call.
    #[inline]
    pub(crate) fn take_alarm(&self) -> bool {
        // Only the task clears the bit, so a plain look tells whether it is set.
        self.has(flags::ALARM)
            && self.flags.fetch_and(!flags::ALARM, Ordering::AcqRel) & flags::ALARM != 0
    }

    /// Tells the task to stop at once.
    pub(crate) fn abort(&self) {
        let state = self.lock();
        self.raise(&state, flags::ABORTED);
    }

    /// The connection is gone: refuse every later send and free what is queued.
    pub(crate) fn shut(&self) {
        let mut state = self.lock();
        let frames = self.empty(&mut state);
        self.bytes.store(0, Ordering::Release);
        if state.close.is_none() {
            state.close = Some((CloseCode::ABNORMAL, String::new()));
        }
        self.flags.fetch_or(flags::CLOSING, Ordering::AcqRel);
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
    pub(crate) fn queued_payloads(&self) -> Vec<Bytes> {
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
