//! The harness against every server, briefly: each echoes, holds idle connections and fans
//! out without a failed connection. Rates are printed, never asserted (no timing here).

use std::{cell::Cell, num::NonZeroUsize, path::Path, rc::Rc, time::Duration};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ws_bench::{
    echo_load::{self, EchoLoad, Fleet},
    fanout_load::{self, FanoutLoad},
    idle,
    kind::{Kind, Launch, ServerProcess},
};

fn start(kind: Kind) -> ServerProcess {
    ServerProcess::start_binary(
        Path::new(env!("CARGO_BIN_EXE_bench-server")),
        kind,
        &Launch::default(),
    )
    .unwrap_or_else(|error| panic!("{kind} did not start: {error}"))
}

#[test]
fn every_server_echoes_every_size_under_load() {
    // The last: a large frame that the server reads in parts.
    let loads = [(16, 1), (1024, 1), (65536, 1), (65536, 16)];
    for kind in Kind::ALL {
        for (size, pieces) in loads {
            let pieces = NonZeroUsize::new(pieces).expect("non-zero");
            let server = start(kind);
            let report = echo_load::run(&EchoLoad {
                addr: server.addr(),
                path: "/echo".to_owned(),
                connections: 8,
                size,
                pieces,
                warmup: Duration::from_millis(50),
                duration: Duration::from_millis(200),
                raw: !kind.is_websocket(),
                server_pid: Some(server.pid()),
            })
            .expect("load");
            let load = format!("{kind} {size} B in {pieces} pieces");
            eprintln!("{load}: {:.0} msgs/s", report.rate());
            assert_eq!(report.failed, 0, "{load}");
            assert!(report.messages > 0, "{load}: nothing echoed");
            assert_eq!(report.latency.len(), report.messages);
            assert!(report.cpu_per_message().is_some());
        }
    }
}

#[test]
fn every_server_echoes_on_a_multi_threaded_runtime() {
    let launch = Launch {
        workers: Some(2),
        ..Launch::default()
    };
    for kind in Kind::ALL {
        let server = ServerProcess::start_binary(
            Path::new(env!("CARGO_BIN_EXE_bench-server")),
            kind,
            &launch,
        )
        .unwrap_or_else(|error| panic!("{kind} did not start: {error}"));
        let threads = std::fs::read_dir(format!("/proc/{}/task", server.pid()))
            .expect("the server's threads")
            .count();
        assert!(threads >= 3, "{kind}: {threads} threads, not two workers");
        let report = echo_load::run(&EchoLoad {
            addr: server.addr(),
            path: "/echo".to_owned(),
            connections: 8,
            size: 1024,
            pieces: NonZeroUsize::MIN,
            warmup: Duration::from_millis(50),
            duration: Duration::from_millis(200),
            raw: !kind.is_websocket(),
            server_pid: Some(server.pid()),
        })
        .expect("load");
        assert_eq!(report.failed, 0, "{kind}");
        assert!(report.messages > 0, "{kind}: nothing echoed");
    }
}

#[test]
fn every_full_server_holds_idle_connections() {
    for kind in Kind::ALL.into_iter().filter(|kind| kind.is_full_server()) {
        let server = start(kind);
        let report = idle::run(server.addr(), "/echo", 300, server.pid()).expect("idle");
        assert_eq!(report.connections, 300, "{kind}");
        assert_eq!(
            report.alive, report.sampled,
            "{kind}: idle connections died"
        );
        assert!(report.rss_after > 0 && report.rss_before > 0);
    }
}

#[test]
fn every_full_server_fans_out_to_every_subscriber() {
    for kind in Kind::ALL.into_iter().filter(|kind| kind.is_full_server()) {
        let server = start(kind);
        let report = fanout_load::run(&FanoutLoad {
            addr: server.addr(),
            subscribers: 50,
            size: 16,
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(300),
            server_pid: Some(server.pid()),
        })
        .expect("fan-out");
        eprintln!("{kind}: {:.0} deliveries/s", report.rate());
        assert_eq!(report.failed, 0, "{kind}");
        assert!(report.published > 0, "{kind} published nothing");
        // Every message reaches every subscriber, give or take those in flight at the ends.
        let expected = report.published * 50;
        assert!(
            report.deliveries.abs_diff(expected) <= 50 * 20,
            "{kind}: {} deliveries for {} messages",
            report.deliveries,
            report.published
        );
    }
}

#[test]
fn the_generator_refuses_remote_targets() {
    assert!(ws_bench::loopback::loopback_target("192.0.2.10:80").is_err());
    assert!(ws_bench::loopback::loopback_target("127.0.0.1:80").is_ok());
}

/// A WebSocket echo of 16-byte messages that pings along with every echo, alternately
/// before and after it in the same write, and counts the pongs that answer.
async fn pinging_echo(listener: tokio::net::TcpListener, pongs: Rc<Cell<usize>>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let pongs = pongs.clone();
        tokio::task::spawn_local(async move {
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                head.push(stream.read_u8().await?);
            }
            stream
                .write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
                .await?;
            const PING: [u8; 5] = [0x89, 3, b'h', b'e', b'y'];
            for echoes in 0usize.. {
                let mut frame = [0u8; 6];
                stream.read_exact(&mut frame).await?;
                let mut payload = vec![0; usize::from(frame[1] & 0x7f)];
                stream.read_exact(&mut payload).await?;
                for (i, byte) in payload.iter_mut().enumerate() {
                    *byte ^= frame[2 + i % 4];
                }
                if frame[0] == 0x8a {
                    assert_eq!(payload, b"hey", "a pong returns the ping's payload");
                    pongs.set(pongs.get() + 1);
                    continue;
                }
                let mut echo = vec![0x82, payload.len() as u8];
                echo.extend_from_slice(&payload);
                let out = if echoes % 2 == 0 {
                    [&PING[..], &echo].concat()
                } else {
                    [&echo[..], &PING].concat()
                };
                stream.write_all(&out).await?;
            }
            Ok::<(), std::io::Error>(())
        });
    }
}

#[test]
fn a_fleet_answers_pings_and_stays_open_between_windows() {
    let pongs = Rc::new(Cell::new(0));
    let server_pongs = pongs.clone();
    against_local_server(
        |listener| pinging_echo(listener, server_pongs),
        |addr| async move {
            let mut fleet = Fleet::connect(&EchoLoad {
                addr,
                path: "/echo".to_owned(),
                connections: 4,
                size: 16,
                pieces: NonZeroUsize::MIN,
                warmup: Duration::ZERO,
                duration: Duration::ZERO,
                raw: false,
                server_pid: None,
            })
            .await
            .expect("connect");
            let mut echoed = 0;
            for window in 0..2 {
                let report = fleet
                    .window(Duration::from_millis(20), Duration::from_millis(100))
                    .await
                    .expect("window");
                assert_eq!(report.failed, 0, "window {window}");
                assert!(report.messages > 0, "window {window} echoed nothing");
                echoed += report.messages as usize;
            }
            fleet.close().await;
            // Each echo came with a ping; only the last one's, sent after it, may go
            // unanswered.
            assert!(
                pongs.get() + 4 >= echoed,
                "{} pongs for {echoed} echoes",
                pongs.get()
            );
        },
    );
}

#[test]
fn a_message_in_pieces_reaches_the_server_in_several_reads() {
    let reads = Rc::new(Cell::new(0));
    let server_reads = reads.clone();
    against_local_server(
        |listener| counting_echo(listener, server_reads),
        |addr| async move {
            let mut fleet = Fleet::connect(&EchoLoad {
                addr,
                path: String::new(),
                connections: 1,
                size: 65536,
                pieces: NonZeroUsize::new(16).expect("non-zero"),
                warmup: Duration::ZERO,
                duration: Duration::ZERO,
                raw: true,
                server_pid: None,
            })
            .await
            .expect("connect");
            let report = fleet
                .window(Duration::ZERO, Duration::from_millis(100))
                .await
                .expect("window");
            fleet.close().await;
            assert_eq!(report.failed, 0);
            assert!(report.messages > 0, "nothing echoed");
            // Whole messages would take about one read each.
            assert!(
                reads.get() >= 8 * report.messages as usize,
                "{} reads for {} messages",
                reads.get(),
                report.messages
            );
        },
    );
}

/// Runs `test` with the address of a server of the test's own, which `serve` runs on a
/// listener it is given, both on one single-threaded runtime (as the generator runs).
fn against_local_server<S, T>(
    serve: impl FnOnce(tokio::net::TcpListener) -> S,
    test: impl FnOnce(std::net::SocketAddr) -> T,
) where
    S: Future<Output = ()> + 'static,
    T: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    tokio::task::LocalSet::new().block_on(&runtime, async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::task::spawn_local(serve(listener));
        test(addr).await;
    });
}

/// A plain TCP echo that counts its reads.
async fn counting_echo(listener: tokio::net::TcpListener, reads: Rc<Cell<usize>>) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let reads = reads.clone();
        tokio::task::spawn_local(async move {
            let mut buf = vec![0; 1 << 20];
            loop {
                let read = stream.read(&mut buf).await?;
                if read == 0 {
                    return Ok::<(), std::io::Error>(());
                }
                reads.set(reads.get() + 1);
                stream.write_all(&buf[..read]).await?;
            }
        });
    }
}
