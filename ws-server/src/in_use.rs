//! What keeps one HTTP/2 connection in use: its requests in progress and the WebSockets
//! open on its streams. A connection in use is not closed as idle. (An HTTP/1.1 connection
//! has the handshake deadline for its whole exchange, and becomes its WebSocket's.)

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

/// The count of one HTTP connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct InUse(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    /// Requests in progress and WebSockets open.
    users: AtomicUsize,
    /// The connection speaks HTTP/2 (a request came in over it).
    http2: AtomicBool,
}

impl InUse {
    /// The connection speaks HTTP/2 (a request came in over it).
    pub(crate) fn mark_http2(&self) {
        self.0.http2.store(true, Ordering::Release);
    }

    pub(crate) fn is_http2(&self) -> bool {
        self.0.http2.load(Ordering::Acquire)
    }

    /// One more user, until the returned guard (and every clone of it) is dropped.
    pub(crate) fn enter(&self) -> InUseGuard {
        self.0.users.fetch_add(1, Ordering::AcqRel);
        InUseGuard(Arc::new(Leave(self.0.clone())))
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.0.users.load(Ordering::Acquire) == 0
    }
}

/// A request's share of its connection's [`InUse`], carried in the request's extensions
/// (hence `Clone`: the share ends when the last clone is dropped); an upgrade moves it into
/// the WebSocket, which holds it until it ends.
#[derive(Debug, Clone)]
pub(crate) struct InUseGuard(#[allow(dead_code)] Arc<Leave>);

#[derive(Debug)]
struct Leave(Arc<Counts>);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0.users.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::InUse;

    #[test]
    fn in_use_until_the_last_clone_of_every_guard_is_dropped() {
        let in_use = InUse::default();
        assert!(in_use.is_idle());
        let first = in_use.enter();
        let copy = first.clone();
        let second = in_use.enter();
        drop(first);
        drop(second);
        assert!(!in_use.is_idle(), "a clone still holds the first share");
        drop(copy);
        assert!(in_use.is_idle());
    }
}
