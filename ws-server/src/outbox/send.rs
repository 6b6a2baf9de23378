//! The future of one send: queue the frame, or wait for room under the wait policy.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use tokio::sync::futures::Notified;

use super::{FrameSource, Offer, Outbox};
use crate::{SendError, proto::OutFrame};

/// What [`Outbox::push`] returns. Written by hand rather than as an `async fn`: it lives
/// inside every callback future that sends, and the wait for room (a large future, rarely
/// needed) is boxed only when the queue is full, which keeps those futures small.
///
/// # Cancel safety
/// Cancel safe: the message is queued whole or not at all.
#[must_use = "futures do nothing unless polled"]
pub(crate) struct Sending<'a, F> {
    outbox: &'a Outbox,
    /// The message, until first polled.
    out: Option<F>,
    /// Wait policy, queue full: the frame, and the listener for room.
    waiting: Option<(OutFrame, Pin<Box<Notified<'a>>>)>,
}

impl<'a, F> Sending<'a, F> {
    pub(super) fn new(outbox: &'a Outbox, out: F) -> Sending<'a, F> {
        Sending {
            outbox,
            out: Some(out),
            waiting: None,
        }
    }
}

impl<F: FrameSource + Unpin> Future for Sending<'_, F> {
    type Output = Result<(), SendError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let outbox = this.outbox;
        let (mut frame, mut room) = match this.out.take() {
            // Encoded (and compressed) outside the lock, once per message and window.
            Some(out) => match outbox.offer(out.into_frame(outbox.deflate())) {
                Offer::Queued => return Poll::Ready(Ok(())),
                Offer::Refused(error) => return Poll::Ready(Err(error)),
                Offer::Full(frame) => (frame, Box::pin(outbox.room().notified())),
            },
            None => this
                .waiting
                .take()
                .expect("`Sending` polled after completion"),
        };
        loop {
            // Listen before offering again, so that room freed in between is not missed.
            room.as_mut().enable();
            frame = match outbox.offer_again(frame) {
                Offer::Queued => return Poll::Ready(Ok(())),
                Offer::Refused(error) => return Poll::Ready(Err(error)),
                Offer::Full(frame) => frame,
            };
            if room.as_mut().poll(cx).is_pending() {
                this.waiting = Some((frame, room));
                return Poll::Pending;
            }
            // Room was freed (and taken by someone else): listen afresh.
            room = Box::pin(outbox.room().notified());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::VecDeque, future::poll_fn, pin::pin};

    use bytes::Bytes;

    use super::*;
    use crate::{Backpressure, Message, SlowConsumer, outbox::Single};

    fn binary(len: usize) -> Single {
        Single(Message::Binary(Bytes::from(vec![7; len])))
    }

    /// An outbox of 100 bytes under the wait policy, with 80 queued.
    async fn nearly_full() -> Outbox {
        let policy = Backpressure::DEFAULT
            .with_max_queue(100)
            .with_slow_consumer(SlowConsumer::Wait);
        let outbox = Outbox::new("/test", policy, None);
        outbox.push(binary(80)).await.expect("fits");
        outbox
    }

    /// Polls `push` once: whether it has to wait.
    async fn waits(mut push: Pin<&mut Sending<'_, Single>>) -> bool {
        poll_fn(|cx| Poll::Ready(push.as_mut().poll(cx).is_pending())).await
    }

    #[tokio::test]
    async fn a_full_queue_makes_the_sender_wait_until_room_is_freed() {
        let outbox = nearly_full().await;
        let mut second = pin!(outbox.push(binary(80)));
        assert!(waits(second.as_mut()).await, "no room yet");
        // The task writes the first frame: its bytes are free again.
        let mut taken = VecDeque::new();
        assert!(outbox.take(&mut taken));
        outbox.written(taken.iter().map(OutFrame::wire_len).sum());
        tokio::time::timeout(std::time::Duration::from_secs(5), second)
            .await
            .expect("woken once room is free")
            .expect("queued");
        assert_eq!(outbox.queued_payloads().len(), 1);
    }

    #[tokio::test]
    async fn a_wait_given_up_queues_nothing() {
        let outbox = nearly_full().await;
        {
            let second = pin!(outbox.push(binary(80)));
            assert!(waits(second).await);
        }
        let mut taken = VecDeque::new();
        assert!(outbox.take(&mut taken));
        assert_eq!(taken.len(), 1, "only the first message was queued");
    }
}
