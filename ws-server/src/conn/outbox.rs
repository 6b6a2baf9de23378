//! A connection's queue of outgoing frames, shared by its handle clones and its task.

use std::{
    collections::VecDeque,
    sync::{
        Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::sync::Notify;

use crate::{CloseCode, SendError, proto::OutFrame};

/// The close this side decided on: its code and reason.
pub(crate) type CloseStatus = (CloseCode, String);

#[derive(Debug, Default)]
pub(crate) struct Outbox {
    state: Mutex<State>,
    /// Set once a close frame is queued: from then on nothing else is accepted.
    closing: AtomicBool,
    wake: Notify,
}

#[derive(Debug, Default)]
struct State {
    frames: VecDeque<OutFrame>,
    /// The connection task is running and will flush before it waits again, so pushes
    /// need not wake it.
    owner_busy: bool,
    close: Option<CloseStatus>,
}

impl Outbox {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a data frame.
    pub(crate) fn push(&self, frame: OutFrame) -> Result<(), SendError> {
        let mut state = self.lock();
        if state.close.is_some() {
            return Err(SendError::Closed);
        }
        self.enqueue(&mut state, frame);
        Ok(())
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
        self.enqueue(&mut state, frame);
        true
    }

    fn enqueue(&self, state: &mut State, frame: OutFrame) {
        let was_empty = state.frames.is_empty();
        state.frames.push_back(frame);
        if was_empty && !state.owner_busy {
            self.wake.notify_one();
        }
    }

    /// Moves every queued frame to `into` for writing; the task is idle from here on until
    /// [`set_busy`](Outbox::set_busy), so later pushes wake it.
    pub(crate) fn take(&self, into: &mut VecDeque<OutFrame>) {
        let mut state = self.lock();
        into.append(&mut state.frames);
        state.owner_busy = false;
    }

    pub(crate) fn set_busy(&self) {
        self.lock().owner_busy = true;
    }

    /// Whether a close frame has been queued.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// The close this side queued, if any.
    pub(crate) fn close_status(&self) -> Option<CloseStatus> {
        self.lock().close.clone()
    }

    /// The connection is gone: refuse every later send and free what is queued.
    pub(crate) fn shut(&self) {
        let mut state = self.lock();
        state.frames = VecDeque::new();
        if state.close.is_none() {
            state.close = Some((CloseCode::ABNORMAL, String::new()));
        }
        self.closing.store(true, Ordering::Release);
    }

    /// Resolves once a frame was queued while the task was idle.
    ///
    /// # Cancel safety
    /// Cancel safe: a wake-up that arrives while nobody waits is kept for the next call.
    pub(crate) async fn queued(&self) {
        self.wake.notified().await;
    }
}
