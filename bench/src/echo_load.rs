//! The closed-loop echo load: every connection keeps one message in flight and sends the
//! next as soon as the echo is back, like uWebSockets' load_test.

use std::{
    cell::{Cell, RefCell},
    io,
    net::SocketAddr,
    rc::Rc,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::watch,
    task::LocalSet,
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

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Warmup,
    Measure,
    Done,
}

struct Shared {
    phase: Cell<Phase>,
    messages: Cell<u64>,
    latency: RefCell<Histogram<u64>>,
    failed: Cell<usize>,
}

/// Runs the load on a single-threaded runtime of its own (the caller's thread).
pub fn run(load: &EchoLoad) -> io::Result<EchoReport> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    LocalSet::new().block_on(&runtime, drive(load))
}

async fn drive(load: &EchoLoad) -> io::Result<EchoReport> {
    let data = wire::payload(load.size);
    let request: Rc<[u8]> = wire::client_frame(wire::BINARY, &data).into();
    let reply: Rc<[u8]> = if load.raw {
        request.clone()
    } else {
        wire::server_frame(wire::BINARY, &data).into()
    };
    let shared = Rc::new(Shared {
        phase: Cell::new(Phase::Warmup),
        messages: Cell::new(0),
        latency: RefCell::new(
            Histogram::new_with_bounds(1, 60_000_000_000, 3).map_err(io::Error::other)?,
        ),
        failed: Cell::new(0),
    });
    let (start_tx, start_rx) = watch::channel(false);
    let setup = Rc::new(Setup::new());
    let mut tasks = Vec::with_capacity(load.connections);
    for _ in 0..load.connections {
        let (load, request, reply, shared) =
            (load.clone(), request.clone(), reply.clone(), shared.clone());
        let (setup, mut start) = (setup.clone(), start_rx.clone());
        tasks.push(tokio::task::spawn_local(async move {
            let stream = setup.connect(load.addr, &load.path, load.raw).await;
            let result = match stream {
                Ok(stream) => {
                    start.wait_for(|go| *go).await.map_err(io::Error::other)?;
                    echo_loop(stream, &request, &reply, &shared).await
                }
                Err(error) => Err(error),
            };
            if result.is_err() {
                shared.failed.set(shared.failed.get() + 1);
            }
            result
        }));
    }
    // Everyone connects first, so that setting up is not measured.
    setup.wait_for(load.connections).await;
    let _ = start_tx.send(true);
    tokio::time::sleep(load.warmup).await;

    let cpu_at = |pid: Option<u32>| pid.map(cpu::cpu_time).transpose();
    let cpu_start = cpu_at(load.server_pid)?;
    let started = Instant::now();
    shared.phase.set(Phase::Measure);
    tokio::time::sleep(load.duration).await;
    shared.phase.set(Phase::Done);
    let elapsed = started.elapsed();
    let cpu_end = cpu_at(load.server_pid)?;

    for task in tasks {
        let _ = task.await;
    }
    let latency = shared.latency.borrow().clone();
    Ok(EchoReport {
        messages: shared.messages.get(),
        elapsed,
        latency,
        server_cpu: cpu_start
            .zip(cpu_end)
            .map(|(start, end)| end.saturating_sub(start)),
        failed: shared.failed.get(),
    })
}

/// Sends `request` and waits for `reply`, over and over, until the run is done.
async fn echo_loop(
    (mut stream, early): (tokio::net::TcpStream, Vec<u8>),
    request: &[u8],
    reply: &[u8],
    shared: &Shared,
) -> io::Result<()> {
    if !early.is_empty() {
        return Err(io::Error::other("the server spoke first"));
    }
    let mut buf = vec![0u8; reply.len()];
    let head = reply.len().min(14);
    let mut checked = false;
    loop {
        let phase = shared.phase.get();
        if phase == Phase::Done {
            return Ok(());
        }
        let sent = Instant::now();
        stream.write_all(request).await?;
        stream.read_exact(&mut buf).await?;
        // The whole echo once, then its head: enough to notice a server out of step.
        let wrong = if checked {
            buf[..head] != reply[..head]
        } else {
            checked = true;
            buf != reply
        };
        if wrong {
            return Err(io::Error::other("the echo differs from the message"));
        }
        if phase == Phase::Measure {
            shared.messages.set(shared.messages.get() + 1);
            let nanos = sent.elapsed().as_nanos() as u64;
            let _ = shared.latency.borrow_mut().record(nanos.max(1));
        }
    }
}
