//! The closed-loop echo load: every connection keeps one message in flight and sends the
//! next as soon as the echo is back, like uWebSockets' load_test.

use std::{
    cell::{Cell, RefCell},
    io,
    net::SocketAddr,
    num::NonZeroUsize,
    rc::Rc,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::Notify,
    task::{JoinHandle, LocalSet},
};

use crate::{cpu, handshake::Setup, wire};

/// One echo run.
#[derive(Debug, Clone)]
pub struct EchoLoad {
    /// The server (loopback only; see [`loopback_target`](crate::loopback::loopback_target)).
    pub addr: SocketAddr,
    /// The WebSocket path; ignored for `raw`.
    pub path: String,
    /// Connections, each with one message in flight.
    pub connections: usize,
    /// Payload bytes per message.
    pub size: usize,
    /// Each message is written in this many pieces, with a yield to the runtime between
    /// them, so that the server reads frames in parts as it would from a real network
    /// (1: in one write).
    pub pieces: NonZeroUsize,
    /// Load before measuring starts.
    pub warmup: Duration,
    /// How long to measure.
    pub duration: Duration,
    /// Plain TCP: no handshake, and the server returns the client's frame as it is.
    pub raw: bool,
    /// The server's process, whose CPU time is read at both ends of the measured window.
    pub server_pid: Option<u32>,
}

/// What one echo run measured.
#[derive(Debug, Clone)]
pub struct EchoReport {
    /// Echoes completed in the measured window.
    pub messages: u64,
    /// The measured window.
    pub elapsed: Duration,
    /// Round-trip times in the window, in nanoseconds.
    pub latency: Histogram<u64>,
    /// The server's CPU time in the window.
    pub server_cpu: Option<Duration>,
    /// Connections that failed (refused, closed, or a wrong echo).
    pub failed: usize,
}

impl EchoReport {
    /// Echoes per second.
    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64()
    }

    /// The server's CPU time per echo.
    pub fn cpu_per_message(&self) -> Option<Duration> {
        self.server_cpu
            .filter(|_| self.messages > 0)
            .map(|cpu| cpu / self.messages as u32)
    }
}

/// Where a fleet's connections are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Each connection finishes the echo it has in flight, then waits.
    Paused,
    Warmup,
    Measure,
    /// Each connection finishes the echo it has in flight, then ends.
    Done,
}

impl Phase {
    fn is_loading(self) -> bool {
        matches!(self, Phase::Warmup | Phase::Measure)
    }
}

#[derive(Debug)]
struct Shared {
    phase: Cell<Phase>,
    /// Told when the phase leaves `Paused`.
    resumed: Notify,
    /// Connections with a message sent and its echo not yet back.
    in_flight: Cell<usize>,
    /// Told when the last echo in flight is back.
    drained: Notify,
    messages: Cell<u64>,
    latency: RefCell<Histogram<u64>>,
    failed: Cell<usize>,
}

/// Runs the load on a single-threaded runtime of its own (the caller's thread): connects,
/// measures one window, disconnects.
pub fn run(load: &EchoLoad) -> io::Result<EchoReport> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    LocalSet::new().block_on(&runtime, async {
        let mut fleet = Fleet::connect(load).await?;
        let report = fleet.window(load.warmup, load.duration).await;
        fleet.close().await;
        report
    })
}

/// Connections to one server, open from [`connect`](Fleet::connect) to
/// [`close`](Fleet::close): they echo during each [`window`](Fleet::window) and sit idle
/// between windows, so that windows on several servers can take turns without connecting
/// again. Must run inside a [`LocalSet`].
#[derive(Debug)]
pub struct Fleet {
    shared: Rc<Shared>,
    tasks: Vec<JoinHandle<io::Result<()>>>,
    server_pid: Option<u32>,
    /// Failures already reported by a window.
    failed_reported: usize,
}

impl Fleet {
    /// Opens `load.connections` connections (the load's timing is not used) and waits
    /// until every one has opened or failed.
    pub async fn connect(load: &EchoLoad) -> io::Result<Fleet> {
        let data = wire::payload(load.size);
        let request: Rc<[u8]> = wire::client_frame(wire::BINARY, &data).into();
        let reply: Rc<[u8]> = if load.raw {
            request.clone()
        } else {
            wire::server_frame(wire::BINARY, &data).into()
        };
        let shared = Rc::new(Shared {
            phase: Cell::new(Phase::Paused),
            resumed: Notify::new(),
            in_flight: Cell::new(0),
            drained: Notify::new(),
            messages: Cell::new(0),
            latency: RefCell::new(
                Histogram::new_with_bounds(1, 60_000_000_000, 3).map_err(io::Error::other)?,
            ),
            failed: Cell::new(0),
        });
        let setup = Rc::new(Setup::new());
        let tasks = (0..load.connections)
            .map(|_| {
                let (load, request, reply) = (load.clone(), request.clone(), reply.clone());
                let piece_len = request.len().div_ceil(load.pieces.get());
                let (setup, shared) = (setup.clone(), shared.clone());
                tokio::task::spawn_local(async move {
                    let result = match setup.connect(load.addr, &load.path, load.raw).await {
                        Ok(stream) => echo_loop(stream, &request, piece_len, &reply, &shared).await,
                        Err(error) => Err(error),
                    };
                    if result.is_err() {
                        shared.failed.set(shared.failed.get() + 1);
                    }
                    result
                })
            })
            .collect();
        // Everyone connects first, so that setting up is not measured.
        setup.wait_for(load.connections).await;
        Ok(Fleet {
            shared,
            tasks,
            server_pid: load.server_pid,
            failed_reported: 0,
        })
    }

    /// Load for `warmup`, then measures `duration`; returns once every echo in flight is
    /// back, so that the next window, on this server or another, starts on a quiet
    /// machine.
    pub async fn window(&mut self, warmup: Duration, duration: Duration) -> io::Result<EchoReport> {
        let shared = &self.shared;
        shared.messages.set(0);
        shared.latency.borrow_mut().reset();
        shared.phase.set(Phase::Warmup);
        shared.resumed.notify_waiters();
        tokio::time::sleep(warmup).await;

        let cpu_at = |pid: Option<u32>| pid.map(cpu::cpu_time).transpose();
        let cpu_start = cpu_at(self.server_pid)?;
        let started = Instant::now();
        shared.phase.set(Phase::Measure);
        tokio::time::sleep(duration).await;
        shared.phase.set(Phase::Paused);
        let elapsed = started.elapsed();
        let cpu_end = cpu_at(self.server_pid)?;
        self.drain().await;

        let failed = shared.failed.get();
        let report = EchoReport {
            messages: shared.messages.get(),
            elapsed,
            latency: shared.latency.borrow().clone(),
            server_cpu: cpu_start
                .zip(cpu_end)
                .map(|(start, end)| end.saturating_sub(start)),
            failed: failed - self.failed_reported,
        };
        self.failed_reported = failed;
        Ok(report)
    }

    /// Lets every connection finish its echo in flight and end.
    pub async fn close(self) {
        self.shared.phase.set(Phase::Done);
        self.shared.resumed.notify_waiters();
        for task in self.tasks {
            let _ = task.await;
        }
    }

    async fn drain(&self) {
        loop {
            let drained = self.shared.drained.notified();
            if self.shared.in_flight.get() == 0 {
                return;
            }
            drained.await;
        }
    }
}

/// Sends `request` (in pieces of `piece_len` bytes) and waits for `reply`, over and over,
/// while the fleet is loading; idle while it is paused; until it is done.
async fn echo_loop(
    (mut stream, early): (tokio::net::TcpStream, Vec<u8>),
    request: &[u8],
    piece_len: usize,
    reply: &[u8],
    shared: &Shared,
) -> io::Result<()> {
    if !early.is_empty() {
        return Err(io::Error::other("the server spoke first"));
    }
    let mut inbox = Inbox::new(reply.len());
    let head = reply.len().min(14);
    let mut checked = false;
    loop {
        match shared.phase.get() {
            Phase::Done => return Ok(()),
            // A `Notified` hears `notify_waiters` from its creation on, and this runtime
            // runs one task at a time: the phase cannot change unheard in between.
            Phase::Paused => {
                shared.resumed.notified().await;
                continue;
            }
            Phase::Warmup | Phase::Measure => {}
        }
        let sent = Instant::now();
        shared.in_flight.set(shared.in_flight.get() + 1);
        let echoed = echo(&mut stream, request, piece_len, &mut inbox).await;
        shared.in_flight.set(shared.in_flight.get() - 1);
        if shared.in_flight.get() == 0 && !shared.phase.get().is_loading() {
            shared.drained.notify_waiters();
        }
        let echo = echoed?;
        // The whole echo once, then its head: enough to notice a server out of step.
        let wrong = if checked {
            echo[..head] != reply[..head]
        } else {
            checked = true;
            echo != reply
        };
        if wrong {
            return Err(io::Error::other("the echo differs from the message"));
        }
        if shared.phase.get() == Phase::Measure {
            shared.messages.set(shared.messages.get() + 1);
            let nanos = sent.elapsed().as_nanos() as u64;
            let _ = shared.latency.borrow_mut().record(nanos.max(1));
        }
    }
}

/// Sends `request` in pieces of `piece_len` bytes and returns its echo.
async fn echo<'a>(
    stream: &mut tokio::net::TcpStream,
    request: &[u8],
    piece_len: usize,
    inbox: &'a mut Inbox,
) -> io::Result<&'a [u8]> {
    if piece_len >= request.len() {
        stream.write_all(request).await?;
    } else {
        for piece in request.chunks(piece_len) {
            stream.write_all(piece).await?;
            // The server gets a moment to read what has arrived.
            tokio::task::yield_now().await;
        }
    }
    inbox.read_echo(stream).await
}

/// What a connection has read: the echo it waits for, and ahead of it any pings, which it
/// answers (ws-server, with its defaults, pings every 30 seconds, and windows that take
/// turns between servers keep connections open for minutes).
#[derive(Debug)]
struct Inbox {
    buf: Vec<u8>,
    /// Bytes read; those past the echo last returned, from `consumed` on, are next.
    filled: usize,
    consumed: usize,
    echo_len: usize,
}

impl Inbox {
    fn new(echo_len: usize) -> Inbox {
        // Room for a ping of the largest payload besides the echo.
        Inbox {
            buf: vec![0; echo_len + 2 + 125],
            filled: 0,
            consumed: 0,
            echo_len,
        }
    }

    async fn read_echo(&mut self, stream: &mut tokio::net::TcpStream) -> io::Result<&[u8]> {
        self.buf.copy_within(self.consumed..self.filled, 0);
        self.filled -= self.consumed;
        self.consumed = 0;
        loop {
            if self.filled >= 2 && self.buf[0] == wire::PING_HEAD {
                let end = 2 + usize::from(self.buf[1] & 0x7f);
                if self.filled >= end {
                    let pong = wire::client_frame(wire::PONG, &self.buf[2..end]);
                    stream.write_all(&pong).await?;
                    self.buf.copy_within(end..self.filled, 0);
                    self.filled -= end;
                    continue;
                }
            } else if self.filled >= self.echo_len {
                self.consumed = self.echo_len;
                return Ok(&self.buf[..self.echo_len]);
            }
            let read = stream.read(&mut self.buf[self.filled..]).await?;
            if read == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.filled += read;
        }
    }
}
