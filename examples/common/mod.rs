//! What every example shares: its listen address and log set-up.

/// The address from `--addr HOST:PORT`, else `127.0.0.1:9001`.
pub(crate) fn addr() -> String {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--addr" {
            if let Some(addr) = args.next() {
                return addr;
            }
        } else if let Some(addr) = arg.strip_prefix("--addr=") {
            return addr.to_owned();
        }
    }
    "127.0.0.1:9001".to_owned()
}

/// Logs to stderr; `RUST_LOG` overrides the default level (info).
pub(crate) fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}
