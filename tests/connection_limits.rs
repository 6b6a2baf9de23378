//! Limits on the HTTP side: open connections server-wide, per resource and per address
//! (refused before upgrading), the request head's size, and the handshake deadline that
//! disconnects clients who never finish their request (slowloris).

mod support;

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::{Duration, Instant},
};

use support::{
    STEP, connect, eventually, round_trip, start, start_with_handle, status_of, try_upgrade,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use ws_server::Server;

const HOME: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const AWAY: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

echo_resource!(Small, "/small", max_connections = 2);
echo_resource!(Echo, "/echo");

/// The response status of an upgrade from `local`, and the socket (kept open by holding it).
async fn upgrade(local: IpAddr, addr: SocketAddr, path: &str) -> (u16, TcpStream) {
    let (stream, head) = try_upgrade(local, addr, path, "").await;
    (status_of(&head), stream)
}

#[tokio::test]
async fn a_full_resource_answers_503_until_a_connection_ends() {
    let (addr, server) =
        start_with_handle(Server::builder().route::<Small>().route::<Echo>()).await;
    let mut first = connect(addr, "/small").await;
    let _second = connect(addr, "/small").await;
    let (_, head) = try_upgrade(HOME, addr, "/small", "").await;
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    // Other resources are not affected.
    let mut echo = connect(addr, "/echo").await;
    assert_eq!(round_trip(&mut echo, "still here").await, "still here");
    first.close(None).await.expect("close");
    eventually("the closed connection to leave", || {
        server.connections_at("/small").len() == 1
    })
    .await;
    let mut again = None;
    for _ in 0..50 {
        match upgrade(HOME, addr, "/small").await {
            (101, stream) => {
                again = Some(stream);
                break;
            }
            (status, _) => assert_eq!(status, 503),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "the slot came back");
}

#[tokio::test]
async fn the_server_wide_cap_counts_every_resource() {
    let addr = start(
        Server::builder()
            .route::<Small>()
            .route::<Echo>()
            .max_connections(3),
    )
    .await;
    let _a = connect(addr, "/small").await;
    let _b = connect(addr, "/echo").await;
    let mut c = connect(addr, "/echo").await;
    assert_eq!(upgrade(HOME, addr, "/echo").await.0, 503);
    assert_eq!(round_trip(&mut c, "served").await, "served");
}

#[tokio::test]
async fn the_per_address_cap_answers_429_to_that_address_alone() {
    let addr = start(Server::builder().route::<Echo>().max_connections_per_ip(2)).await;
    let (first, _a) = upgrade(HOME, addr, "/echo").await;
    let (second, _b) = upgrade(HOME, addr, "/echo").await;
    assert_eq!((first, second), (101, 101));
    let (_, head) = try_upgrade(HOME, addr, "/echo", "").await;
    assert!(head.starts_with("HTTP/1.1 429"), "{head}");
    let (away, _c) = upgrade(AWAY, addr, "/echo").await;
    assert_eq!(away, 101, "another address has its own share");
}

#[tokio::test]
async fn an_oversized_request_head_gets_431_and_the_server_goes_on() {
    let addr = start(
        Server::builder()
            .route::<Echo>()
            .max_request_head(16 * 1024),
    )
    .await;
    let cookie = format!("Cookie: {}\r\n", "a".repeat(20 * 1024));
    let (_, head) = try_upgrade(HOME, addr, "/echo", &cookie).await;
    assert!(head.starts_with("HTTP/1.1 431"), "{head}");
    let fitting = format!("Cookie: {}\r\n", "a".repeat(4 * 1024));
    let (_, head) = try_upgrade(HOME, addr, "/echo", &fitting).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
}

/// Reads until the server closes the socket; returns how long that took.
async fn time_to_disconnect(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut sink = [0u8; 1024];
    let read_to_end = async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(STEP, read_to_end)
        .await
        .expect("the server never disconnected the stalled client");
    started.elapsed()
}

#[tokio::test]
async fn clients_that_stall_in_the_handshake_are_disconnected() {
    let timeout = Duration::from_millis(300);
    let addr = start(Server::builder().route::<Echo>().handshake_timeout(timeout)).await;
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    let mut half = TcpStream::connect(addr).await.expect("connect");
    half.write_all(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        .await
        .expect("write");
    // A slowloris client: one header byte now and then, never the blank line.
    let mut dribble = TcpStream::connect(addr).await.expect("connect");
    dribble
        .write_all(b"GET /echo HTTP/1.1\r\n")
        .await
        .expect("write");
    let dribbling = tokio::spawn(async move {
        for _ in 0..40 {
            if dribble.write_all(b"X").await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    });
    // Meanwhile, a prompt client is served, and outlives the handshake deadline.
    let mut client = connect(addr, "/echo").await;
    for waited in [
        time_to_disconnect(&mut silent).await,
        time_to_disconnect(&mut half).await,
    ] {
        assert!(
            waited < Duration::from_secs(2),
            "disconnected after {waited:?}"
        );
    }
    assert!(
        dribbling.await.expect("task"),
        "the dribbling client was cut off"
    );
    tokio::time::sleep(timeout * 2).await;
    assert_eq!(
        round_trip(&mut client, "upgraded: no deadline").await,
        "upgraded: no deadline"
    );
}
