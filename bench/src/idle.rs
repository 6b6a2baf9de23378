//! Idle memory: how much a server's resident memory grows per open, idle connection.

use std::{io, net::SocketAddr, rc::Rc, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    task::LocalSet,
};

use crate::{cpu, handshake::Setup, wire};

/// How long the server gets to settle before its memory is read.
const SETTLE: Duration = Duration::from_secs(1);

/// What one idle run measured.
#[derive(Debug, Clone, Copy)]
pub struct IdleReport {
    /// Connections open when memory was read.
    pub connections: usize,
    /// Resident memory with one connection opened and closed.
    pub rss_before: u64,
    /// Resident memory with every connection open.
    pub rss_after: u64,
    /// Sampled connections that still echo afterwards.
    pub alive: usize,
    /// Connections sampled.
    pub sampled: usize,
}

impl IdleReport {
    /// Bytes of resident memory per connection.
    pub fn per_connection(&self) -> f64 {
        self.rss_after.saturating_sub(self.rss_before) as f64 / self.connections.max(1) as f64
    }
}

/// Opens `connections` WebSocket connections to `path` on the server with process `pid`,
/// keeps them idle, and reads the server's resident memory before and after.
pub fn run(addr: SocketAddr, path: &str, connections: usize, pid: u32) -> io::Result<IdleReport> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    LocalSet::new().block_on(&runtime, drive(addr, path, connections, pid))
}

async fn drive(
    addr: SocketAddr,
    path: &str,
    connections: usize,
    pid: u32,
) -> io::Result<IdleReport> {
    // One round trip first, so that what any first connection sets up is in the baseline.
    let (mut first, _) = crate::handshake::connect(addr, path, false).await?;
    echo_once(&mut first).await?;
    drop(first);
    tokio::time::sleep(SETTLE).await;
    let rss_before = cpu::rss_bytes(pid)?;

    let setup = Rc::new(Setup::new());
    let mut opening = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (setup, path) = (setup.clone(), path.to_owned());
        opening.push(tokio::task::spawn_local(async move {
            setup.connect(addr, &path, false).await
        }));
    }
    let mut open = Vec::with_capacity(connections);
    for task in opening {
        let (stream, _) = task.await.map_err(io::Error::other)??;
        open.push(stream);
    }
    tokio::time::sleep(SETTLE).await;
    let rss_after = cpu::rss_bytes(pid)?;

    // Idle, but alive: every hundredth connection still echoes.
    let mut alive = 0;
    let mut sampled = 0;
    for stream in open.iter_mut().step_by(100) {
        sampled += 1;
        alive += usize::from(echo_once(stream).await.is_ok());
    }
    Ok(IdleReport {
        connections: open.len(),
        rss_before,
        rss_after,
        alive,
        sampled,
    })
}

async fn echo_once(stream: &mut TcpStream) -> io::Result<()> {
    let data = wire::payload(16);
    let reply = wire::server_frame(wire::BINARY, &data);
    stream
        .write_all(&wire::client_frame(wire::BINARY, &data))
        .await?;
    let mut buf = vec![0u8; reply.len()];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut buf)).await??;
    if buf == reply {
        Ok(())
    } else {
        Err(io::Error::other("wrong echo"))
    }
}
