//! The servers under test, and starting one as a process pinned to a core.

use std::{
    fmt, io,
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    str::FromStr,
};

use std::io::{BufRead, BufReader};

/// A server `bench-server` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// This project.
    WsServer,
    /// tokio-tungstenite, the most used.
    Tungstenite,
    /// fastwebsockets (Deno's), over hyper's upgrade.
    FastWebSockets,
    /// tokio-websockets.
    TokioWebSockets,
    /// A plain TCP echo: no WebSocket at all, the floor for the echo matrix.
    RawTcp,
    /// The least a WebSocket echo can do, in place and without a framework: what framing
    /// itself costs over the raw TCP echo. Echo only, and only when asked for.
    WsFloor,
    /// ws-server again, in a second process of the same binary: how far two runs of one
    /// server differ (the echo matrix's noise floor).
    WsServerControl,
    /// ws-server as an older build has it (`--before` names that build's `bench-server`):
    /// what a change costs or saves, side by side in one run.
    WsServerBefore,
    /// ws-server with `metrics-exporter-prometheus`'s recorder installed: what its metrics
    /// cost once recorded.
    WsServerMetrics,
}

impl Kind {
    /// Every kind, ws-server first.
    pub const ALL: [Kind; 9] = [
        Kind::WsServer,
        Kind::Tungstenite,
        Kind::FastWebSockets,
        Kind::TokioWebSockets,
        Kind::RawTcp,
        Kind::WsFloor,
        Kind::WsServerControl,
        Kind::WsServerBefore,
        Kind::WsServerMetrics,
    ];

    /// The name on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Kind::WsServer => "ws-server",
            Kind::Tungstenite => "tokio-tungstenite",
            Kind::FastWebSockets => "fastwebsockets",
            Kind::TokioWebSockets => "tokio-websockets",
            Kind::RawTcp => "raw-tcp",
            Kind::WsFloor => "ws-floor",
            Kind::WsServerControl => "ws-server-again",
            Kind::WsServerBefore => "ws-server-before",
            Kind::WsServerMetrics => "ws-server-metrics",
        }
    }

    /// A WebSocket server (ws-server or a peer), not the TCP anchor.
    pub fn is_websocket(self) -> bool {
        self != Kind::RawTcp
    }

    /// One of the peers ws-server is compared with.
    pub fn is_peer(self) -> bool {
        !matches!(
            self,
            Kind::WsServer
                | Kind::RawTcp
                | Kind::WsFloor
                | Kind::WsServerControl
                | Kind::WsServerBefore
                | Kind::WsServerMetrics
        )
    }

    /// A WebSocket server with every endpoint (`/echo`, `/sub`, `/pub`): ws-server and the
    /// peers, measured for idle memory and fan-out too; not the anchors.
    pub fn is_full_server(self) -> bool {
        self.is_websocket() && self != Kind::WsFloor
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = String;

    fn from_str(name: &str) -> Result<Kind, String> {
        Kind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| {
                let names: Vec<_> = Kind::ALL.iter().map(|kind| kind.name()).collect();
                format!("unknown server {name:?}; one of {}", names.join(", "))
            })
    }
}

/// How server processes are started: where, on how many worker threads, and which older
/// build plays `ws-server-before`.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// The core every server is pinned to; `None`: wherever the kernel puts it.
    pub server_core: Option<usize>,
    /// Worker threads of a multi-threaded runtime; `None`: a single-threaded runtime.
    pub workers: Option<usize>,
    /// An older build's `bench-server`, for `ws-server-before`.
    pub before: Option<PathBuf>,
}

/// A `bench-server` process, killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `kind` as `launch` says, on an ephemeral loopback port, and waits until it
    /// listens.
    pub fn start(kind: Kind, launch: &Launch) -> io::Result<ServerProcess> {
        let binary = match (kind, &launch.before) {
            (Kind::WsServerBefore, Some(before)) => before.clone(),
            (Kind::WsServerBefore, None) => {
                return Err(io::Error::other(
                    "ws-server-before needs --before PATH: an older build's bench-server",
                ));
            }
            _ => sibling_binary("bench-server")?,
        };
        ServerProcess::start_binary(&binary, kind, launch)
    }

    /// [`start`](ServerProcess::start), with the `bench-server` binary at `binary`.
    pub fn start_binary(
        binary: &std::path::Path,
        kind: Kind,
        launch: &Launch,
    ) -> io::Result<ServerProcess> {
        // An older build runs as ws-server: it has no other name for it.
        let name = match kind {
            Kind::WsServerBefore => Kind::WsServer.name(),
            kind => kind.name(),
        };
        let mut command = match launch.server_core {
            Some(core) => {
                let mut command = Command::new("taskset");
                command.arg("-c").arg(core.to_string()).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        command.arg(name);
        if let Some(workers) = launch.workers {
            command.arg(workers.to_string());
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        let mut line = String::new();
        // `taskset` execs the server, so the child's PID is the server's.
        let mut server = ServerProcess {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        BufReader::new(stdout).read_line(&mut line)?;
        server.addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|addr| addr.parse().ok())
            .ok_or_else(|| io::Error::other(format!("{kind} did not start: {line:?}")))?;
        Ok(server)
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's process ID, for its CPU time and memory.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A binary built next to the running one (`target/release/`).
fn sibling_binary(name: &str) -> io::Result<PathBuf> {
    let path = std::env::current_exe()?.with_file_name(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(io::Error::other(format!(
            "{} not found: build it with `cargo build --release -p ws-bench`",
            path.display()
        )))
    }
}

/// Whether `taskset` can pin processes here (a machine with two cores or more).
pub fn can_pin() -> bool {
    std::thread::available_parallelism().is_ok_and(|cores| cores.get() >= 2)
        && Command::new("taskset")
            .args(["-c", "0", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
}

/// Pins this process (all its threads) to `core`.
pub fn pin_self(core: usize) -> io::Result<()> {
    let status = Command::new("taskset")
        .args([
            "-a",
            "-c",
            "-p",
            &core.to_string(),
            &std::process::id().to_string(),
        ])
        .stdout(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other("taskset failed"))
    }
}
