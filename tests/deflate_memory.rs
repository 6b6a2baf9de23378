//! What a compressed connection costs in memory, for each window size, with and without
//! the client's context takeover: heap bytes counted by this binary's allocator while the
//! server (in this process) holds connections that negotiated compression and exchanged a
//! compressed message. Prints the table quoted in README; asserts the documented bounds.

mod support;

use flate2::Compression as Level;
use tokio::{io::AsyncWriteExt, net::TcpStream};
use ws_server::{Bytes, Compression, Connection, Handler, Server, ws_resource};

use support::{
    counting::{Counting, allocated},
    deflate::deflate,
    deflate_upgrade, masked, raw_upgrade, read_frame, start_with_handle,
};

#[global_allocator]
static COUNTING: Counting = Counting;

#[ws_resource("/echo")]
#[derive(Default)]
struct Echo;

impl Handler for Echo {
    async fn on_binary(&mut self, conn: &Connection, data: Bytes) {
        let _ = conn.send_binary(data).await;
    }
}

const CONNECTIONS: usize = 200;

/// Heap bytes per connection held by a server with `compression`, after each connection
/// exchanged one compressed (or, without compression, plain) 4 KiB message.
async fn bytes_per_connection(compression: Compression) -> usize {
    let (addr, server) =
        start_with_handle(Server::builder().route::<Echo>().compression(compression)).await;
    let message: Vec<u8> = b"a compressible message. ".repeat(170);
    let compressed = deflate(&message);
    let mut clients: Vec<TcpStream> = Vec::with_capacity(CONNECTIONS);
    // Warm up (thread-local compressors, timers, first allocations), then measure.
    let mut warm = open(addr, compression).await;
    exchange(&mut warm, compression, &message, &compressed).await;
    let before = allocated();
    for _ in 0..CONNECTIONS {
        let mut stream = open(addr, compression).await;
        exchange(&mut stream, compression, &message, &compressed).await;
        clients.push(stream);
    }
    support::eventually("all connected", || {
        server.connection_count() == CONNECTIONS + 1
    })
    .await;
    let after = allocated();
    drop(clients);
    after.saturating_sub(before) / CONNECTIONS
}

async fn open(addr: std::net::SocketAddr, compression: Compression) -> TcpStream {
    if compression.enabled() {
        deflate_upgrade(addr, "/echo", "permessage-deflate; client_max_window_bits")
            .await
            .0
    } else {
        raw_upgrade(addr, "/echo", b"").await
    }
}

async fn exchange(
    stream: &mut TcpStream,
    compression: Compression,
    message: &[u8],
    compressed: &[u8],
) {
    let frame = if compression.enabled() {
        masked(true, 0x40 | 0x2, compressed)
    } else {
        masked(true, 0x2, message)
    };
    stream.write_all(&frame).await.expect("send");
    let (head, _) = read_frame(stream).await;
    assert_eq!(head & 0x40 != 0, compression.enabled(), "compressed echo");
}

/// Heap bytes of a level-1 raw deflate compressor with a `bits` window, as the server keeps
/// one per worker thread and window size.
fn compressor_bytes(bits: u8) -> usize {
    let before = allocated();
    let mut compressor = flate2::Compress::new_with_window_bits(Level::new(1), false, bits);
    let mut out = Vec::with_capacity(8192);
    compressor
        .compress_vec(&[7u8; 4096], &mut out, flate2::FlushCompress::Sync)
        .expect("compress");
    let held = allocated().saturating_sub(before + out.capacity());
    drop(compressor);
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_per_compressed_connection_by_window_size() {
    // Measured first, while no server runs and frees memory meanwhile.
    let compressors: Vec<usize> = (9..=15).map(compressor_bytes).collect();
    let baseline = bytes_per_connection(Compression::OFF).await;
    println!("per connection, beyond an uncompressed one ({baseline} B):");
    println!(
        "| window bits | no context takeover (default) | client context takeover | compressor, once per thread |"
    );
    println!("| --- | --- | --- | --- |");
    let mut takeover_costs = Vec::new();
    for bits in 9..=15u8 {
        let settings = Compression::DEFAULT.with_window_bits(bits);
        let default = bytes_per_connection(settings)
            .await
            .saturating_sub(baseline);
        let takeover = bytes_per_connection(settings.with_client_context_takeover(true))
            .await
            .saturating_sub(baseline);
        let compressor = compressors[usize::from(bits - 9)];
        println!("| {bits} | {default} B | {takeover} B | {compressor} B |");
        // Without context takeover no inflater (over 40 KiB) stays with a connection; the
        // few per thread that are reused count here too, spread over the connections.
        assert!(default < 4096, "{bits} bits: {default} B without takeover");
        takeover_costs.push(takeover);
    }
    // With takeover the inflater (its window and state) stays, and is bounded. zlib-rs
    // allocates its inflate window whole, so the cost hardly depends on the window bits.
    for (bits, cost) in (9..).zip(&takeover_costs) {
        assert!(
            (8 * 1024..64 * 1024).contains(cost),
            "{bits} bits: {cost} B"
        );
    }
}
