//! What every example shares: its listen address and log set-up.

/// The address from `--addr HOST:PORT`, else `127.0.0.1:9001`.
pub(crate) fn addr() -> String {
    option("--addr").unwrap_or_else(|| "127.0.0.1:9001".to_owned())
}

/// The value of `--name VALUE` or `--name=VALUE` on the command line.
#[allow(dead_code)] // Not every example takes every option.
pub(crate) fn option(name: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == name {
            return args.next();
        }
        if let Some(value) = arg
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('='))
        {
            return Some(value.to_owned());
        }
    }
    None
}

/// Whether `name` is on the command line.
#[allow(dead_code)] // Not every example takes every option.
pub(crate) fn flag(name: &str) -> bool {
    std::env::args().skip(1).any(|arg| arg == name)
}

/// Logs to stderr; `RUST_LOG` overrides the default level (info).
pub(crate) fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}
