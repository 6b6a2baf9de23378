//! Clients that send as fast as they can and never read: the server's memory stays
//! bounded (a ping flood leaves few pongs waiting), a connection whose socket takes no more
//! stops reading (TCP pushes back on the peer), and another client's echoes keep coming
//! back meanwhile.

mod support;

#[path = "../examples/echo/resource.rs"]
mod resource;

echo_resource!(
    DroppingEcho,
    "/dropping",
    max_queue = 65536,
    slow_consumer = "drop"
);

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use support::{
    connect, counting::Counting, counting::allocated, masked, round_trip, stalled_client,
    start_with_handle,
};
use tokio::{io::AsyncWriteExt, net::TcpStream};
use ws_server::Server;

#[global_allocator]
static COUNTING: Counting = Counting;

/// How long the flood lasts.
const FLOOD: Duration = Duration::from_secs(3);
/// What the flood may cost the server's heap, at its peak: a read buffer's worth of pongs
/// and the connection's buffers, whatever the client sends. Without the bound, a second of
/// flooding took hundreds of MiB.
const HEAP_BOUND: usize = 4 << 20;

/// Writes `frame` to `path`, many per write, for [`FLOOD`], reading nothing; returns the
/// bytes the server took, and the socket, still open.
async fn flood(addr: SocketAddr, path: &str, frame: &[u8]) -> (usize, TcpStream) {
    let mut stream = stalled_client(addr, path).await;
    let batch = frame.repeat((64 * 1024 / frame.len()).max(1));
    let deadline = tokio::time::Instant::now() + FLOOD;
    let mut sent = 0;
    // A write blocks once the server stops reading: that is the point.
    while let Ok(Ok(())) = tokio::time::timeout_at(deadline, stream.write_all(&batch)).await {
        sent += batch.len();
    }
    (sent, stream)
}

/// Floods with pings of `payload` bytes while another client echoes; returns the peak heap
/// growth and the slowest echo.
async fn flood_beside_an_echo(payload: usize) -> (usize, Duration, usize) {
    let (addr, server) = start_with_handle(Server::builder().route::<resource::Echo>()).await;
    let mut echo = connect(addr, "/echo").await;
    // Warm up the thread's buffers before the baseline.
    for _ in 0..10 {
        round_trip(&mut echo, "warm").await;
    }
    let baseline = allocated();
    let ping = masked(true, 0x9, &vec![b'p'; payload]);
    let flooding = tokio::spawn(async move { flood(addr, "/echo", &ping).await });
    let mut peak = 0;
    let mut slowest = Duration::ZERO;
    while !flooding.is_finished() {
        let sent = Instant::now();
        assert_eq!(round_trip(&mut echo, "still here").await, "still here");
        slowest = slowest.max(sent.elapsed());
        peak = peak.max(allocated().saturating_sub(baseline));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (sent, _flooder) = flooding.await.expect("flood");
    assert_eq!(server.connection_count(), 2, "both connections stay open");
    (peak, slowest, sent)
}

async fn check(payload: usize) {
    let (peak, slowest, sent) = flood_beside_an_echo(payload).await;
    println!(
        "{payload}-byte pings: the server took {sent} bytes of them; heap peak +{peak} bytes; \
         slowest echo beside them {slowest:?}"
    );
    assert!(
        peak < HEAP_BOUND,
        "{payload}-byte pings grew the heap by {peak} bytes"
    );
    assert!(
        slowest < Duration::from_secs(1),
        "an echo took {slowest:?} beside the flood"
    );
}

/// One test for both sizes: the heap is counted process-wide, so they run one at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_never_read_leave_the_heap_bounded_and_others_served() {
    check(125).await;
    check(0).await;
}

/// Under the drop policy a full queue never closes the connection, so only the socket
/// can stop a peer that sends without reading: once the server's writes back up, it reads
/// nothing more, and the peer's writes stall. Without that, the server would read (and drop
/// echoes) at the speed of loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_cannot_write_stops_reading() {
    let (addr, _server) = start_with_handle(Server::builder().route::<DroppingEcho>()).await;
    let message = masked(true, 0x2, &[7; 4096]);
    let (sent, _flooder) = flood(addr, "/dropping", &message).await;
    println!("the server took {sent} bytes from a client that reads nothing");
    // The socket buffers on both sides, which Linux grows to a few MiB at most.
    assert!(sent < 64 << 20, "the server kept reading: {sent} bytes");
}
