//! The graceful shutdown: where the server is in it, closing the connections (at once, or
//! spread over a window for a restart), and waiting for every connection task's `on_close`.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{
    sync::{Notify, watch},
    time::{Instant, sleep_until, timeout},
};
use tracing::{info, warn};

use super::{Connection, Hub};
use crate::{CloseCode, ShutdownMode};

/// The reason of the 1001 close a shutdown sends (and records for stopped connections).
pub(crate) const SHUTDOWN_REASON: &str = "server shutting down";

/// The reason of the 1012 close a restart sends.
const RESTART_REASON: &str = "server restarting";

/// How long a graceful shutdown waits for connections to finish, unless configured.
pub(crate) const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a server is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Stopping(ShutdownMode),
    Stopped(ShutdownMode),
}

/// The hub's part of the shutdown.
#[derive(Debug)]
pub(super) struct Shutdown {
    phase: watch::Sender<Phase>,
    /// Connection tasks that have not finished `on_close` yet.
    live_tasks: AtomicUsize,
    all_done: Notify,
}

impl Shutdown {
    pub(super) fn new() -> Shutdown {
        Shutdown {
            phase: watch::Sender::new(Phase::Running),
            live_tasks: AtomicUsize::new(0),
            all_done: Notify::new(),
        }
    }

    /// How the server is shutting down; `None` while it runs.
    pub(super) fn mode(&self) -> Option<ShutdownMode> {
        match *self.phase.borrow() {
            Phase::Running => None,
            Phase::Stopping(mode) | Phase::Stopped(mode) => Some(mode),
        }
    }
}

impl ShutdownMode {
    /// The close frame this mode sends.
    pub(super) fn close_frame(&self) -> (CloseCode, &'static str) {
        match self {
            ShutdownMode::GoingAway => (CloseCode::GOING_AWAY, SHUTDOWN_REASON),
            ShutdownMode::Restart { .. } => (CloseCode::RESTART, RESTART_REASON),
        }
    }
}

impl Hub {
    /// Counts a connection task until the guard drops (after its `on_close`).
    pub(crate) fn task_started(self: &Arc<Hub>) -> TaskGuard {
        self.shutdown.live_tasks.fetch_add(1, Ordering::AcqRel);
        TaskGuard(self.clone())
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutdown.mode().is_some()
    }

    /// Resolves once a shutdown has started.
    pub(crate) async fn stopping(&self) {
        let mut phase = self.shutdown.phase.subscribe();
        let _ = phase.wait_for(|phase| *phase != Phase::Running).await;
    }

    /// The shutdown mode the builder set.
    pub(crate) fn shutdown_mode(&self) -> ShutdownMode {
        self.bound
            .get()
            .map_or(ShutdownMode::default(), |bound| bound.shutdown_mode)
    }

    /// Closes every connection as `mode` says and waits for their tasks to finish, up to
    /// the shutdown timeout (after the mode's window); then stops the rest. Whoever calls
    /// first does the work, in their mode; every caller returns once it is done.
    pub(crate) async fn shutdown(&self, mode: ShutdownMode) {
        let started = self.shutdown.phase.send_if_modified(|phase| {
            let first = *phase == Phase::Running;
            if first {
                *phase = Phase::Stopping(mode);
            }
            first
        });
        if started {
            self.close_everything(mode).await;
            self.shutdown.phase.send_replace(Phase::Stopped(mode));
        } else {
            let mut phase = self.shutdown.phase.subscribe();
            let _ = phase
                .wait_for(|phase| matches!(phase, Phase::Stopped(_)))
                .await;
        }
    }

    async fn close_everything(&self, mode: ShutdownMode) {
        let deadline = self
            .bound
            .get()
            .map_or(DEFAULT_SHUTDOWN_TIMEOUT, |bound| bound.shutdown_timeout);
        let conns = self.connections();
        let (code, reason) = mode.close_frame();
        info!(
            connections = conns.len(),
            %code,
            window = ?mode.window(),
            "shutting down: closing every connection"
        );
        close_spread(conns, mode.window(), code, reason).await;
        if timeout(deadline, self.tasks_finished()).await.is_ok() {
            info!("shutdown complete");
            return;
        }
        let stuck = self.connections();
        warn!(
            connections = stuck.len(),
            "shutdown deadline passed; stopping the remaining connections"
        );
        for conn in &stuck {
            conn.outbox().abort();
        }
        drop(stuck);
        // Stopped tasks still run `on_close`; give them a moment, not forever.
        if timeout(Duration::from_secs(1), self.tasks_finished())
            .await
            .is_err()
        {
            warn!("some handlers did not finish on_close in time");
        }
    }

    async fn tasks_finished(&self) {
        loop {
            let done = self.shutdown.all_done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if self.shutdown.live_tasks.load(Ordering::Acquire) == 0 {
                return;
            }
            done.await;
        }
    }
}

/// Closes `conns` in random order over `window`: the i-th of n at a random moment of the
/// window's i-th n-th, so that the closes come at an even rate (no bursts for the clients
/// to reconnect in), yet no two restarts close the same connections in lockstep.
async fn close_spread(mut conns: Vec<Connection>, window: Duration, code: CloseCode, reason: &str) {
    if window.is_zero() {
        for conn in conns {
            let _ = conn.close(code, reason);
        }
        return;
    }
    fastrand::shuffle(&mut conns);
    let start = Instant::now();
    let count = conns.len() as f64;
    for (index, conn) in conns.into_iter().enumerate() {
        let at = start + window.mul_f64((index as f64 + fastrand::f64()) / count);
        sleep_until(at).await;
        // A connection that ended meanwhile has nothing to close.
        let _ = conn.close(code, reason);
    }
}

/// Keeps a connection task counted as live.
#[derive(Debug)]
pub(crate) struct TaskGuard(Arc<Hub>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.0.shutdown.live_tasks.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.shutdown.all_done.notify_waiters();
        }
    }
}
