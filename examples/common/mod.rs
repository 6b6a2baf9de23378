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

/// TLS from `--tls-cert PEM --tls-key PEM`, if given: the server then serves `wss://` and
/// `https://`, with HTTP/2 offered (ALPN), so browsers may open WebSockets on its streams.
#[allow(dead_code)] // Not every example takes every option.
pub(crate) fn tls() -> std::io::Result<Option<ws_server::TlsConfig>> {
    match (option("--tls-cert"), option("--tls-key")) {
        (Some(cert), Some(key)) => ws_server::TlsConfig::from_pem_files(cert, key).map(Some),
        (None, None) => Ok(None),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "--tls-cert and --tls-key go together",
        )),
    }
}
