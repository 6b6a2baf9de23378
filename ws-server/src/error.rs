//! Errors of the public API.

/// Why a message or close could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The connection is closing or closed: a close frame was queued or received, or the
    /// socket is gone.
    #[error("the connection is closed")]
    Closed,
    /// The close code may not be sent in a close frame (such as 1005 or 1006).
    #[error("close code {0} may not be sent")]
    InvalidCloseCode(u16),
}
