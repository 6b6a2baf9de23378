//! The fan-out load: one publisher, many subscribers on one topic. The publisher keeps a
//! window of messages in flight: message `k` goes out once every subscriber has received
//! message `k - WINDOW`, so no server is pushed into dropping slow consumers.

use std::{
    cell::Cell,
    io,
    net::SocketAddr,
    rc::Rc,
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::Notify,
    task::LocalSet,
};

use crate::{cpu, handshake::Setup, wire};

/// Messages the publisher may be ahead of the slowest subscriber.
const WINDOW: u64 = 16;
/// Slots of the per-message delivery counts; more than the window.
const RING: usize = 64;
/// How long the publisher waits for a message to reach everyone before giving up.
const STALL: Duration = Duration::from_secs(10);

/// One fan-out run.
#[derive(Debug, Clone)]
pub struct FanoutLoad {
    /// The server (loopback only).
    pub addr: SocketAddr,
    /// Subscribers (on `/sub`); the publisher is on `/pub`.
    pub subscribers: usize,
    /// Payload bytes per message (at least 8: the sequence number).
    pub size: usize,
    /// Load before measuring starts.
    pub warmup: Duration,
    /// How long to measure.
    pub duration: Duration,
    /// The server's process, for its CPU time.
    pub server_pid: Option<u32>,
}

/// What one fan-out run measured.
#[derive(Debug, Clone)]
pub struct FanoutReport {
    /// Messages received by subscribers in the window.
    pub deliveries: u64,
    /// Messages published in the window.
    pub published: u64,
    /// The measured window.
    pub elapsed: Duration,
    /// The server's CPU time in the window.
    pub server_cpu: Option<Duration>,
    /// Connections that failed, or the publisher stalling.
    pub failed: usize,
}

impl FanoutReport {
    /// Deliveries per second.
    pub fn rate(&self) -> f64 {
        self.deliveries as f64 / self.elapsed.as_secs_f64()
    }

    /// The server's CPU time per delivery.
    pub fn cpu_per_delivery(&self) -> Option<Duration> {
        self.server_cpu
            .filter(|_| self.deliveries > 0)
            .map(|cpu| cpu / self.deliveries as u32)
    }
}

struct Shared {
    subscribers: usize,
    measuring: Cell<bool>,
    done: Cell<bool>,
    /// Subscribers that have received anything (the topic reaches them).
    joined: Cell<usize>,
    /// For message `k`, how many subscribers have it, at `k % RING`.
    reached: [Cell<usize>; RING],
    /// The last subscriber to receive a message wakes the publisher.
    progress: Notify,
    deliveries: Cell<u64>,
    published: Cell<u64>,
    failed: Cell<usize>,
}

/// Runs the load on a single-threaded runtime of its own (the caller's thread).
pub fn run(load: &FanoutLoad) -> io::Result<FanoutReport> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    LocalSet::new().block_on(&runtime, drive(load))
}

async fn drive(load: &FanoutLoad) -> io::Result<FanoutReport> {
    let shared = Rc::new(Shared {
        subscribers: load.subscribers,
        measuring: Cell::new(false),
        done: Cell::new(false),
        joined: Cell::new(0),
        reached: std::array::from_fn(|_| Cell::new(0)),
        progress: Notify::new(),
        deliveries: Cell::new(0),
        published: Cell::new(0),
        failed: Cell::new(0),
    });
    let setup = Rc::new(Setup::new());
    let mut tasks = Vec::with_capacity(load.subscribers);
    for _ in 0..load.subscribers {
        let (shared, setup, addr) = (shared.clone(), setup.clone(), load.addr);
        tasks.push(tokio::task::spawn_local(async move {
            let result = match setup.connect(addr, "/sub", false).await {
                Ok((stream, early)) => subscriber(stream, early, &shared).await,
                Err(error) => Err(error),
            };
            if result.is_err() {
                shared.failed.set(shared.failed.get() + 1);
                shared.progress.notify_one();
            }
        }));
    }
    setup.wait_for(load.subscribers).await;
    let (publisher_stream, _) = crate::handshake::connect(load.addr, "/pub", false).await?;
    let publishing =
        tokio::task::spawn_local(publisher(publisher_stream, load.size, shared.clone()));

    tokio::time::sleep(load.warmup).await;
    let cpu_at = |pid: Option<u32>| pid.map(cpu::cpu_time).transpose();
    let cpu_start = cpu_at(load.server_pid)?;
    let (deliveries, published) = (shared.deliveries.get(), shared.published.get());
    let started = Instant::now();
    shared.measuring.set(true);
    tokio::time::sleep(load.duration).await;
    shared.measuring.set(false);
    let elapsed = started.elapsed();
    let cpu_end = cpu_at(load.server_pid)?;
    let report = FanoutReport {
        deliveries: shared.deliveries.get() - deliveries,
        published: shared.published.get() - published,
        elapsed,
        server_cpu: cpu_start
            .zip(cpu_end)
            .map(|(start, end)| end.saturating_sub(start)),
        failed: 0,
    };
    shared.done.set(true);
    shared.progress.notify_one();
    let publisher_failed = publishing.await.map_or(true, |result| result.is_err());
    for task in tasks {
        task.abort();
    }
    Ok(FanoutReport {
        failed: shared.failed.get() + usize::from(publisher_failed),
        ..report
    })
}

/// Sends numbered messages within the window until the run is done.
async fn publisher(mut stream: TcpStream, size: usize, shared: Rc<Shared>) -> io::Result<()> {
    let mut payload = wire::payload(size.max(8));
    let mut send = async |stream: &mut TcpStream, seq: u64| {
        payload[..8].copy_from_slice(&seq.to_be_bytes());
        stream
            .write_all(&wire::client_frame(wire::BINARY, &payload))
            .await
    };
    // Message 0 again and again until the topic reaches every subscriber.
    while shared.joined.get() + shared.failed.get() < shared.subscribers {
        send(&mut stream, 0).await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut seq = 1u64;
    while !shared.done.get() {
        if seq > WINDOW {
            let behind = &shared.reached[((seq - WINDOW) as usize) % RING];
            if behind.get() < shared.subscribers {
                if shared.failed.get() > 0 {
                    return Err(io::Error::other("a subscriber failed"));
                }
                tokio::time::timeout(STALL, shared.progress.notified())
                    .await
                    .map_err(|_| io::Error::other("fan-out stalled"))?;
                continue;
            }
        }
        shared.reached[(seq as usize) % RING].set(0);
        send(&mut stream, seq).await?;
        if shared.measuring.get() {
            shared.published.set(shared.published.get() + 1);
        }
        seq += 1;
    }
    Ok(())
}

/// Reads the topic's messages and counts them.
async fn subscriber(mut stream: TcpStream, early: Vec<u8>, shared: &Shared) -> io::Result<()> {
    let mut buf = early;
    buf.reserve(64 * 1024);
    let mut joined = false;
    loop {
        let mut start = 0;
        while let Some(head) = wire::parse_server_head(&buf[start..]).map_err(io::Error::other)? {
            let end = start + head.head_len + head.payload_len;
            if buf.len() < end {
                break;
            }
            let payload = &buf[start + head.head_len..end];
            if head.first == 0x82 && payload.len() >= 8 {
                if !joined {
                    joined = true;
                    shared.joined.set(shared.joined.get() + 1);
                }
                let mut seq = [0u8; 8];
                seq.copy_from_slice(&payload[..8]);
                let seq = u64::from_be_bytes(seq);
                if seq > 0 {
                    let reached = &shared.reached[(seq as usize) % RING];
                    reached.set(reached.get() + 1);
                    if reached.get() == shared.subscribers {
                        shared.progress.notify_one();
                    }
                    if shared.measuring.get() {
                        shared.deliveries.set(shared.deliveries.get() + 1);
                    }
                }
            }
            start = end;
        }
        buf.drain(..start);
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}
