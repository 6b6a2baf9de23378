//! A connection's queue of outgoing frames, shared by its handle clones and its task:
//! bounded in bytes, with the resource's slow-consumer policy.

use std::{
    collections::VecDeque,
    mem,
    sync::{
        Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    task::Waker,
};

use futures_util::task::AtomicWaker;
use tokio::sync::Notify;

use super::outgoing::{FrameSource, SendDeflate};
use crate::{Backpressure, CloseCode, SendError, SlowConsumer, proto::OutFrame};

/// The close this side decided on: its code and reason.
pub(crate) type CloseStatus = (CloseCode, String);

/// What became of a message offered to the queue.
pub(crate) enum Offer {
    Queued,
    /// Wait policy: the message does not fit yet.
    Full,
    Refused(SendError),
}

#[derive(Debug)]
pub(crate) struct Outbox {
    state: Mutex<State>,
    /// Set once a close frame is queued: from then on nothing else is accepted.
    closing: AtomicBool,
    /// Set by [`abort`](Outbox::abort): stop at once, whatever is in progress (the end of
    /// a graceful shutdown).
    aborted: AtomicBool,
    /// A frame overflowed the queue under the close policy (set under the lock).
    slow: AtomicBool,
    /// Wakes the task for a close, a slow consumer or an abort, whatever it is doing.
    signal: AtomicWaker,
    /// Wakes senders waiting for room (wait policy) when bytes drain or the queue closes.
    room: Notify,
    backpressure: Backpressure,
    /// How messages are compressed for this connection, if at all.
    deflate: Option<SendDeflate>,
}

#[derive(Debug, Default)]
struct State {
    frames: VecDeque<OutFrame>,
    /// Bytes queued or taken by the task and not yet written.
    bytes: usize,
    /// The connection task, when it waits for frames.
    owner: Option<Waker>,
    close: Option<CloseStatus>,
}

/// A wake-up to deliver once the lock is released.
#[must_use]
struct Wake(Option<Waker>);

impl Drop for Wake {
    fn drop(&mut self) {
        if let Some(waker) = self.0.take() {
            waker.wake();
        }
    }
}

impl Outbox {
    pub(crate) fn new(backpressure: Backpressure, deflate: Option<SendDeflate>) -> Outbox {
        Outbox {
            state: Mutex::default(),
            closing: AtomicBool::new(false),
            aborted: AtomicBool::new(false),
            slow: AtomicBool::new(false),
            signal: AtomicWaker::new(),
            room: Notify::new(),
            backpressure,
            deflate,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a message if it fits; otherwise applies the slow-consumer policy.
    pub(crate) fn offer(&self, out: &impl FrameSource) -> Offer {
        // Encoded (and compressed) outside the lock, at most once per message and window.
        let frame = out.frame(self.deflate.as_ref());
        let mut state = self.lock();
        if state.close.is_some() {
            return Offer::Refused(SendError::Closed);
        }
        if self.slow.load(Ordering::Relaxed) {
            return Offer::Refused(SendError::SlowConsumer);
        }
        let len = frame.wire_len();
        if state.bytes == 0 || state.bytes + len <= self.backpressure.max_queue_len() {
            let _wake = enqueue(&mut state, frame);
            return Offer::Queued;
        }
        match self.backpressure.slow_consumer() {
            SlowConsumer::Close => {
                self.slow.store(true, Ordering::Release);
                self.signal.wake();
                Offer::Refused(SendError::SlowConsumer)
            }
            SlowConsumer::Drop => Offer::Refused(SendError::Dropped),
            SlowConsumer::Wait => Offer::Full,
        }
    }

    /// Queues a message, waiting for room under the wait policy.
    ///
    /// # Cancel safety
    /// Cancel safe: the message is queued whole or not at all.
    pub(crate) async fn push(&self, out: impl FrameSource) -> Result<(), SendError> {
        let out = &out;
        match self.offer(out) {
            Offer::Queued => return Ok(()),
            Offer::Refused(error) => return Err(error),
            Offer::Full => {}
        }
        loop {
            // Listen before offering again, so that room freed in between is not missed.
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.offer(out) {
                Offer::Queued => return Ok(()),
                Offer::Refused(error) => return Err(error),
                Offer::Full => {}
            }
            room.await;
        }
    }

    /// Queues a message without waiting.
    pub(crate) fn try_push(&self, out: &impl FrameSource) -> Result<(), SendError> {
        match self.offer(out) {
            Offer::Queued => Ok(()),
            Offer::Full => Err(SendError::Full),
            Offer::Refused(error) => Err(error),
        }
    }

    /// Queues a ping or pong, which the bound does not apply to; refused once closing.
    pub(crate) fn push_control(&self, frame: OutFrame) -> bool {
        let mut state = self.lock();
        if state.close.is_some() {
            return false;
        }
        let _wake = enqueue(&mut state, frame);
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
        let wake = enqueue(&mut state, frame);
        drop(state);
        drop(wake);
        self.signal.wake();
        self.room.notify_waiters();
        true
    }

    /// Registers the task to be woken when a close is queued, a consumer turns slow or the
    /// server aborts the connection.
    pub(crate) fn watch(&self, waker: &Waker) {
        self.signal.register(waker);
    }

    /// Moves every queued frame to `into` for writing; `false` if none was queued.
    ///
    /// The task is awake and will take again before it sleeps, so pushes need not wake it
    /// until it [parks](Outbox::park): waking a running task only makes it poll again.
    pub(crate) fn take(&self, into: &mut VecDeque<OutFrame>) -> bool {
        let mut state = self.lock();
        state.owner = None;
        if state.frames.is_empty() {
            return false;
        }
        into.append(&mut state.frames);
        true
    }

    /// The task is about to sleep: registers `waker` for the next push, unless frames
    /// were queued since the last [`take`](Outbox::take) (then returns `false`: take them).
    pub(crate) fn park(&self, waker: &Waker) -> bool {
        let mut state = self.lock();
        if !state.frames.is_empty() {
            return false;
        }
        match &state.owner {
            Some(owner) if owner.will_wake(waker) => {}
            _ => state.owner = Some(waker.clone()),
        }
        true
    }

    /// `bytes` of taken frames were written: that much room is free again.
    pub(crate) fn written(&self, bytes: usize) {
        let mut state = self.lock();
        state.bytes = state.bytes.saturating_sub(bytes);
        drop(state);
        if self.backpressure.slow_consumer() == SlowConsumer::Wait {
            self.room.notify_waiters();
        }
    }

    /// Bytes queued or being written.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Whether a frame overflowed the queue under the close policy.
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
        state.bytes = in_flight;
    }

    /// Whether a close frame has been queued.
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
        self.signal.wake();
    }

    pub(crate) fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    /// The connection is gone: refuse every later send and free what is queued.
    pub(crate) fn shut(&self) {
        let mut state = self.lock();
        let frames = mem::take(&mut state.frames);
        state.bytes = 0;
        if state.close.is_none() {
            state.close = Some((CloseCode::ABNORMAL, String::new()));
        }
        self.closing.store(true, Ordering::Release);
        drop(state);
        drop(frames);
        self.room.notify_waiters();
    }
}

#[cfg(test)]
impl Outbox {
    /// The payloads queued, to check that broadcasts share them.
    pub(crate) fn queued_payloads(&self) -> Vec<bytes::Bytes> {
        self.lock()
            .frames
            .iter()
            .map(|frame| frame.payload().clone())
            .collect()
    }
}

fn enqueue(state: &mut State, frame: OutFrame) -> Wake {
    state.bytes += frame.wire_len();
    state.frames.push_back(frame);
    Wake(state.owner.take())
}
