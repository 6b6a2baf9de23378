//! Sends from a connection's own callback, handed to its task without the outbox.
//!
//! While a connection's task polls one of its callbacks with nothing left to write, the
//! frames that callback sends to its own connection gather in a slot of the thread's, and
//! after the poll the task writes them from there. An echo, the commonest send of all,
//! then takes no lock, wakes nothing, and touches no queue of the connection's: with many
//! connections, those queues are out of cache by the time a connection's next message
//! comes, and the thread's slot is not.
//!
//! Order is kept: a frame goes to the slot only while the outbox holds nothing, and the
//! task writes the slot before it takes anything queued later. Once the outbox holds
//! frames (another task's, or this callback's own that did not fit the slot), sends take
//! the outbox's path, behind them.

use std::{cell::RefCell, collections::VecDeque, mem, ptr};

use super::outbox::Outbox;
use crate::proto::OutFrame;

thread_local! {
    static SLOT: RefCell<Slot> = const {
        RefCell::new(Slot {
            owner: ptr::null(),
            first: None,
            frames: VecDeque::new(),
            uncounted: 0,
            counted: false,
        })
    };
}

struct Slot {
    /// The outbox of the connection whose callback this thread is polling; only compared,
    /// never dereferenced.
    owner: *const Outbox,
    /// The first frame taken: usually the only one (an echo), kept out of the queue.
    first: Option<OutFrame>,
    /// The frames taken after `first`.
    frames: VecDeque<OutFrame>,
    /// Bytes of `first` and `frames`, while the outbox's count of queued bytes leaves
    /// them out.
    uncounted: usize,
    /// The frames taken are in the outbox's count: a send had to take the outbox's path,
    /// and its bound had to see them.
    counted: bool,
}

/// Starts taking `outbox`'s sends made on this thread directly (if `enabled`: nothing is
/// left to write before them), until [`Collecting::end`].
#[inline]
pub(super) fn begin(outbox: &Outbox, enabled: bool) -> Collecting {
    let active = enabled
        && SLOT.with_borrow_mut(|slot| {
            // Taken already only if polled from inside another connection's callback.
            let free = slot.owner.is_null();
            if free {
                slot.owner = outbox;
            }
            free
        });
    Collecting { active }
}

/// Sends to one connection being taken directly; see [`begin`].
#[must_use = "the frames taken must be written"]
pub(super) struct Collecting {
    active: bool,
}

impl Collecting {
    /// Stops taking sends and hands the frames taken to `write`: the first, the others in
    /// order, and whether they are counted as queued already; `write` must take them all.
    /// Returns what `write` does, `None` if nothing was taken.
    #[inline]
    pub(super) fn end<R>(
        mut self,
        write: impl FnOnce(OutFrame, &mut VecDeque<OutFrame>, bool) -> R,
    ) -> Option<R> {
        if !mem::take(&mut self.active) {
            return None;
        }
        SLOT.with_borrow_mut(|slot| {
            slot.owner = ptr::null();
            slot.uncounted = 0;
            let counted = mem::take(&mut slot.counted);
            let first = slot.first.take()?;
            let written = write(first, &mut slot.frames, counted);
            debug_assert!(
                slot.frames.is_empty(),
                "every frame taken is written or kept"
            );
            Some(written)
        })
    }
}

impl Drop for Collecting {
    /// Only if [`end`](Collecting::end) was never reached: no other poll may inherit the
    /// slot.
    #[inline]
    fn drop(&mut self) {
        if self.active {
            release_slot();
        }
    }
}

/// Frees the slot of a [`Collecting`] dropped without [`end`](Collecting::end): only by
/// unwinding.
#[cold]
fn release_slot() {
    let _ = SLOT.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            slot.owner = ptr::null();
            slot.first = None;
            slot.frames.clear();
            slot.uncounted = 0;
            slot.counted = false;
        }
    });
}

/// Takes `frame` if `outbox`'s task is polling the sending callback on this thread and
/// the frame may skip the outbox; otherwise gives it back, with every frame already taken
/// counted as queued, so that the outbox's bound sees them.
pub(super) fn offer(outbox: &Outbox, frame: OutFrame) -> Result<(), OutFrame> {
    SLOT.with_borrow_mut(|slot| {
        if !ptr::eq(slot.owner, outbox) {
            return Err(frame);
        }
        let len = frame.wire_len();
        if !slot.counted && outbox.admits_directly(slot.uncounted, len) {
            slot.uncounted += len;
            if slot.first.is_none() {
                slot.first = Some(frame);
            } else {
                slot.frames.push_back(frame);
            }
            return Ok(());
        }
        if !slot.counted {
            outbox.count(mem::take(&mut slot.uncounted));
            slot.counted = true;
        }
        Err(frame)
    })
}

/// Bytes that `outbox`'s callback sent directly in the poll running now, which the
/// outbox's count leaves out.
pub(super) fn uncounted(outbox: &Outbox) -> usize {
    SLOT.with_borrow(|slot| {
        if ptr::eq(slot.owner, outbox) {
            slot.uncounted
        } else {
            0
        }
    })
}
