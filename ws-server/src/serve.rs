//! [`Serve`]: what `serve!` returns.

use std::{
    fmt,
    future::{Future, IntoFuture},
    io,
    pin::Pin,
};

use tokio::net::ToSocketAddrs;

use crate::{Builder, Server, ServerHandle};

type Signal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A server for every `#[ws_resource]` in the program, not yet started: what
/// [`serve!`](crate::serve) returns. Await it to run the server; it shuts down gracefully
/// on Ctrl-C (SIGINT) or SIGTERM (what `docker stop`, systemd and Kubernetes send) unless
/// [`with_graceful_shutdown`](Serve::with_graceful_shutdown) says otherwise, as the
/// builder's [`shutdown_mode`](Builder::shutdown_mode) says.
///
/// ```no_run
/// use ws_server::{Handler, serve, ws_resource};
///
/// #[ws_resource("/news")]
/// #[derive(Default)]
/// struct News;
/// impl Handler for News {}
///
/// struct Config {
///     motd: String,
/// }
///
/// #[tokio::main]
/// async fn main() -> std::io::Result<()> {
///     let serve = serve!("127.0.0.1:9001").state(Config { motd: "hello".into() });
///     let server = serve.handle();
///     tokio::spawn(async move {
///         // From outside any handler:
///         if let Some(config) = server.state::<Config>() {
///             let _ = server.broadcast_at("/news", config.motd.clone()).await;
///         }
///     });
///     serve.await
/// }
/// ```
#[must_use = "a server does nothing until awaited"]
pub struct Serve<A> {
    addr: A,
    builder: Builder,
    shutdown: Option<Signal>,
}

impl<A: ToSocketAddrs + Send + 'static> Serve<A> {
    #[doc(hidden)]
    pub fn new(addr: A) -> Serve<A> {
        Serve {
            addr,
            builder: Server::builder().registered_routes(),
            shutdown: None,
        }
    }

    /// Adds a server-wide state value; see [`Builder::state`].
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Serve<A> {
        self.builder = self.builder.state(value);
        self
    }

    /// Changes server-wide settings on the underlying [`Builder`].
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// use ws_server::{Limits, serve};
    /// serve!("127.0.0.1:9001")
    ///     .configure(|builder| builder.limits(Limits::DEFAULT.with_max_message(1 << 16)))
    ///     .await
    /// # }
    /// # let _ = run;
    /// ```
    pub fn configure(mut self, configure: impl FnOnce(Builder) -> Builder) -> Serve<A> {
        self.builder = configure(self.builder);
        self
    }

    /// Shuts down gracefully when `signal` resolves, instead of on Ctrl-C or SIGTERM.
    pub fn with_graceful_shutdown(
        mut self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Serve<A> {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// The handle of the server, to broadcast, publish or shut down from outside handlers.
    pub fn handle(&self) -> ServerHandle {
        self.builder.handle()
    }
}

impl<A: ToSocketAddrs + Send + 'static> IntoFuture for Serve<A> {
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let server = self.builder.bind(self.addr).await?;
            let signal = self.shutdown.unwrap_or_else(|| Box::pin(stop_signal()));
            server.with_graceful_shutdown(signal).await
        })
    }
}

/// Ctrl-C, or SIGTERM where there is such a thing.
async fn stop_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No signal handling here: run until shut down through the handle.
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

impl<A> fmt::Debug for Serve<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve")
            .field("builder", &self.builder)
            .finish_non_exhaustive()
    }
}
