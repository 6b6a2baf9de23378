//! WebSockets on HTTP/2 streams (RFC 8441), opened by hyper's HTTP/2 client with an
//! extended CONNECT: several on one connection, each keeping every guarantee it has on a
//! TCP connection of its own, and the connection-level limits.

mod support;

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;
use ws_server::{Connection, Handler, Server, Text, ws_resource};

use support::{
    Recorder, STEP, connect,
    deflate::{deflate, inflate},
    events,
    h2::{H2Client, H2Socket},
    masked, next, read_frame, start, start_with_handle, unique_tag, wait_for,
};

echo_resource!(Echo, "/echo", max_message = 100_000);

/// On "flood N", sends N messages of 64 KiB, waiting for room as the queue fills.
#[ws_resource("/flood", slow_consumer = "wait")]
#[derive(Default)]
struct Flood;

impl Handler for Flood {
    async fn on_text(&mut self, conn: &Connection, text: Text) {
        if let Some(count) = text.strip_prefix("flood ") {
            let chunk = Bytes::from(vec![7u8; 64 * 1024]);
            for _ in 0..count.parse::<usize>().expect("a count") {
                if conn.send_binary(chunk.clone()).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn builder() -> ws_server::Builder {
    Server::builder()
        .route::<Echo>()
        .route::<Recorder>()
        .route::<Flood>()
}

async fn close_of(socket: &mut H2Socket) -> (u16, String) {
    match next(socket).await {
        Message::Close(Some(frame)) => (u16::from(frame.code), frame.reason.to_string()),
        other => panic!("expected a close, got {other:?}"),
    }
}

async fn echo_text(socket: &mut H2Socket, text: &str) {
    socket.send(Message::text(text)).await.expect("send");
    assert_eq!(next(socket).await, Message::text(text));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_websockets_on_one_connection_echo_interleaved_text_and_70_kb_binary() {
    let addr = start(builder()).await;
    let mut client = H2Client::connect(addr).await;
    let mut sockets = Vec::new();
    for _ in 0..3 {
        sockets.push(client.open("/echo").await);
    }
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(index, mut socket)| {
            tokio::spawn(async move {
                for round in 0..5u8 {
                    let text = format!("socket {index} round {round}");
                    let binary = vec![round ^ index as u8; 70_000];
                    socket
                        .send(Message::text(text.clone()))
                        .await
                        .expect("send");
                    socket
                        .send(Message::binary(binary.clone()))
                        .await
                        .expect("send");
                    assert_eq!(next(&mut socket).await, Message::text(text));
                    assert_eq!(next(&mut socket).await, Message::binary(binary));
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("every socket echoed in order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protocol_error_or_a_reset_on_one_stream_ends_that_websocket_only() {
    let addr = start(builder()).await;
    let mut client = H2Client::connect(addr).await;
    let (broken_tag, reset_tag) = (unique_tag(), unique_tag());
    let mut healthy = client.open("/echo").await;
    let (_, mut broken) = client
        .open_raw(&format!("/record?tag={broken_tag}"), &[])
        .await;
    let reset = client.open(&format!("/record?tag={reset_tag}")).await;
    wait_for(&reset_tag, |events| events == ["open"]).await;

    // An unmasked frame from the client: 1002.
    broken
        .write_all(&[0x81, 0x02, b'h', b'i'])
        .await
        .expect("write");
    let (opcode, payload) = read_frame(&mut broken).await;
    assert_eq!(opcode, 0x88);
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1002);
    // The client ends its side of the stream, as a client that got a close does.
    broken.shutdown().await.expect("END_STREAM");
    let events = wait_for(&broken_tag, |events| events.len() == 2).await;
    assert!(events[1].starts_with("close:1002"), "{events:?}");

    // A stream dropped by the client (RST_STREAM): 1006 for that connection.
    drop(reset);
    let events = wait_for(&reset_tag, |events| events.len() == 2).await;
    assert_eq!(events[1], "close:1006:");

    echo_text(&mut healthy, "still served").await;
    let mut another = client.open("/echo").await;
    echo_text(&mut another, "and new streams too").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_is_not_read_does_not_slow_the_others_down() {
    let addr = start(builder()).await;
    let mut client = H2Client::connect(addr).await;
    let mut stalled = client.open("/flood").await;
    let mut busy = client.open("/echo").await;
    // 64 MiB the client never reads: far past every window and queue.
    stalled
        .send(Message::text("flood 1000"))
        .await
        .expect("send");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = tokio::time::Instant::now();
    for round in 0..200 {
        echo_text(&mut busy, &format!("round {round}")).await;
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "200 echoes beside a stalled stream took {took:?}"
    );
}

#[tokio::test]
async fn limits_hold_on_a_stream_a_message_too_big_is_1009() {
    let addr = start(builder()).await;
    let mut client = H2Client::connect(addr).await;
    let mut socket = client.open("/echo").await;
    socket
        .send(Message::binary(vec![0u8; 100_001]))
        .await
        .expect("send");
    assert_eq!(close_of(&mut socket).await.0, 1009);
}

#[tokio::test]
async fn compression_is_negotiated_on_a_stream() {
    let addr = start(builder()).await;
    let mut client = H2Client::connect(addr).await;
    let (response, mut stream) = client
        .open_raw(
            "/echo",
            &[("sec-websocket-extensions", "permessage-deflate")],
        )
        .await;
    let agreed = response.headers()["sec-websocket-extensions"]
        .to_str()
        .expect("ASCII");
    assert!(agreed.starts_with("permessage-deflate"), "{agreed}");
    let text = "compressible ".repeat(100);
    let mut frame = masked(true, 0x1, &deflate(text.as_bytes()));
    frame[0] |= 0x40;
    stream.write_all(&frame).await.expect("write");
    let (head, payload) = read_frame(&mut stream).await;
    assert_eq!(head, 0x80 | 0x40 | 0x1, "a compressed text frame");
    assert!(payload.len() < text.len() / 4);
    assert_eq!(inflate(&payload), text.as_bytes());
}

#[tokio::test]
async fn shutdown_closes_websockets_on_streams_with_1001_and_runs_on_close_once() {
    let (addr, handle) = start_with_handle(builder()).await;
    let mut client = H2Client::connect(addr).await;
    let tags: Vec<String> = (0..3).map(|_| unique_tag()).collect();
    let mut sockets = Vec::new();
    for tag in &tags {
        let mut socket = client.open(&format!("/record?tag={tag}")).await;
        echo_text(&mut socket, "hi").await;
        sockets.push(socket);
    }
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| tokio::spawn(async move { close_of(&mut socket).await }))
        .collect();
    tokio::time::timeout(STEP, handle.shutdown())
        .await
        .expect("shutdown finished");
    for reader in readers {
        let (code, reason) = reader.await.expect("reader");
        assert_eq!((code, reason.as_str()), (1001, "server shutting down"));
    }
    for tag in &tags {
        assert_eq!(
            events(tag),
            ["open", "text:hi", "close:1001:server shutting down"]
        );
    }
}

#[tokio::test]
async fn switched_off_the_protocol_is_not_advertised_and_http1_still_upgrades() {
    let addr = start(builder().http2_websockets(false)).await;
    let mut client = H2Client::connect(addr).await;
    let refused = client.try_open("/echo", &[]).await;
    assert!(
        refused.is_err(),
        "an extended CONNECT went through: {refused:?}"
    );
    let mut socket = connect(addr, "/echo").await;
    socket.send(Message::text("over 1.1")).await.expect("send");
    assert_eq!(next(&mut socket).await, Message::text("over 1.1"));
}

#[tokio::test]
async fn streams_per_connection_and_per_address_caps_count_websockets_on_streams() {
    // Two streams at once per HTTP/2 connection: a third waits for one to end.
    let addr = start(builder().max_http2_streams(2)).await;
    let mut client = H2Client::connect(addr).await;
    let first = client.open("/echo").await;
    let mut second = client.open("/echo").await;
    let mut waiting = Box::pin(client.open("/echo"));
    let third = tokio::time::timeout(Duration::from_millis(300), &mut waiting).await;
    assert!(third.is_err(), "a third stream opened beside two");
    drop(first);
    let mut third = tokio::time::timeout(STEP, waiting)
        .await
        .expect("the third stream opens once the first ends");
    echo_text(&mut third, "third").await;
    echo_text(&mut second, "second").await;

    // Two WebSockets per address: streams count like connections of their own.
    let addr = start(builder().max_connections_per_ip(2)).await;
    let mut client = H2Client::connect(addr).await;
    let _first = client.open("/echo").await;
    let _second = client.open("/echo").await;
    let refused = client.try_open("/echo", &[]).await.expect("an answer");
    assert_eq!(refused.status(), 429);
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_but_not_while_a_websocket_is_open_on_it() {
    let timeout = Duration::from_millis(300);
    let addr = start(builder().handshake_timeout(timeout)).await;
    let mut client = H2Client::connect(addr).await;
    let mut socket = client.open("/echo").await;
    // Past the deadline, and past the grace a closing connection gets.
    tokio::time::sleep(timeout + Duration::from_secs(2)).await;
    echo_text(&mut socket, "past the handshake timeout").await;
    socket.close(None).await.expect("close");
    while socket.next().await.is_some() {}
    drop(socket);
    tokio::time::timeout(STEP, &mut client.connection)
        .await
        .expect("the idle connection is closed")
        .expect("connection task");
}

#[tokio::test]
async fn the_origin_check_compares_with_the_authority_of_an_http2_request() {
    let addr = start(builder()).await;
    let mut client = H2Client::connect(addr).await;
    let own = format!("http://{addr}");
    let (response, _stream) = client.open_raw("/echo", &[("origin", &own)]).await;
    assert_eq!(response.status(), 200);
    let foreign = client
        .try_open("/echo", &[("origin", "https://evil.example")])
        .await
        .expect("an answer");
    assert_eq!(foreign.status(), 403);
}
