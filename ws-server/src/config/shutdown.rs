use std::time::Duration;

/// How a graceful shutdown closes the connections it finds open.
///
/// A server going down for good says so at once ([`GoingAway`](ShutdownMode::GoingAway), the
/// default). A node of several restarting for a deploy should not send all its clients to
/// the other nodes in the same millisecond: [`Restart`](ShutdownMode::Restart) closes them
/// with 1012 one by one, at random moments spread over a window, so they come back
/// gradually (clients should still back off with jitter; see README).
///
/// ```no_run
/// use std::time::Duration;
/// use ws_server::{ShutdownMode, serve};
///
/// # async fn run() -> std::io::Result<()> {
/// serve!("127.0.0.1:9001")
///     .configure(|builder| {
///         builder.shutdown_mode(ShutdownMode::Restart { window: Duration::from_secs(20) })
///     })
///     .await
/// # }
/// # let _ = run;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ShutdownMode {
    /// Every connection at once, with 1001 (going away) "server shutting down".
    #[default]
    GoingAway,
    /// Each connection with 1012 (service restart) "server restarting", at a random moment
    /// within `window` from the start of the shutdown; at an even rate over the window,
    /// whatever the number of connections. The shutdown timeout counts from the end of the
    /// window.
    Restart {
        /// The time over which the closes are spread.
        window: Duration,
    },
}

impl ShutdownMode {
    /// How long the closes are spread over: zero when they all go at once.
    pub fn window(&self) -> Duration {
        match self {
            ShutdownMode::GoingAway => Duration::ZERO,
            ShutdownMode::Restart { window } => *window,
        }
    }
}
