//! An example's binary run as its own process, as a user runs it: built if needed (`cargo
//! test` builds the examples, a filtered run may not), its log read from stderr.

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, ChildStderr, Command},
};

use super::STEP;

/// A running example, killed when dropped.
pub(crate) struct Example {
    process: Child,
    /// Where its WebSocket server listens.
    pub(crate) addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Example {
    /// Runs example `name` with `args` (its server on a free port: `--addr 127.0.0.1:0`
    /// is added) and waits until it listens.
    pub(crate) async fn start(name: &str, args: &[&str]) -> Example {
        let mut process = Command::new(binary(name).await)
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("example starts");
        let stderr = process.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let addr = tokio::time::timeout(STEP, read_log(stderr, log.clone()))
            .await
            .expect("the example listens in time");
        Example { process, addr, log }
    }

    /// The lines it has logged so far.
    pub(crate) fn log(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.process.id().expect("running")
    }

    /// Waits for it to exit; whether it exited successfully.
    pub(crate) async fn wait(&mut self) -> bool {
        self.process.wait().await.expect("wait").success()
    }
}

/// Follows the log: returns the listening address once logged, and keeps collecting
/// lines (a full pipe would stall the server) until the process ends.
async fn read_log(stderr: ChildStderr, log: Arc<Mutex<Vec<String>>>) -> SocketAddr {
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next_line()
            .await
            .expect("read stderr")
            .expect("the example exited before listening");
        let line = strip_colors(&line);
        log.lock().expect("log").push(line.clone());
        if line.contains("WebSocket server listening") {
            break field(&line, "addr")
                .and_then(|addr| addr.parse().ok())
                .unwrap_or_else(|| panic!("no address in {line:?}"));
        }
    };
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            log.lock().expect("log").push(strip_colors(&line));
        }
    });
    addr
}

/// The value of `name=VALUE` in a log line.
pub(crate) fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(name)?.strip_prefix('='))
}

/// The line without terminal color codes (`ESC [ ... m`), in case they are on.
fn strip_colors(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

/// The example's binary, built (or brought up to date) by cargo with this test's profile.
async fn binary(name: &str) -> PathBuf {
    let mut build = Command::new(env!("CARGO"));
    build
        .args(["build", "--quiet", "--all-features", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    let status = build.status().await.expect("cargo runs");
    assert!(status.success(), "cargo build --example {name}");
    let exe = std::env::current_exe().expect("test binary");
    // target/<profile>/deps/<test> -> target/<profile>/examples/<name>
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    profile.join("examples").join(name)
}
