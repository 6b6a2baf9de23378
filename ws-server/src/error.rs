//! Errors of the public API.

/// Why a message or close was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The connection is closing or closed: a close frame was queued or received, or the
    /// socket is gone.
    #[error("the connection is closed")]
    Closed,
    /// The queue was full and the resource's policy is [`SlowConsumer::Drop`]: this message
    /// was dropped, the connection stays open.
    ///
    /// [`SlowConsumer::Drop`]: crate::SlowConsumer::Drop
    #[error("the connection's queue is full; the message was dropped")]
    Dropped,
    /// The queue was full and the resource's policy is [`SlowConsumer::Close`]: this
    /// message was not queued and the connection is being closed with 1008.
    ///
    /// [`SlowConsumer::Close`]: crate::SlowConsumer::Close
    #[error("the connection reads too slowly and is being closed")]
    SlowConsumer,
    /// Only from `try_send`, under [`SlowConsumer::Wait`]: the queue is full and nothing was
    /// queued; `send(...).await` would wait for room.
    ///
    /// [`SlowConsumer::Wait`]: crate::SlowConsumer::Wait
    #[error("the connection's queue is full")]
    Full,
    /// The close code may not be sent in a close frame (such as 1005 or 1006).
    #[error("close code {0} may not be sent")]
    InvalidCloseCode(u16),
}
