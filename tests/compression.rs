//! permessage-deflate on the wire, with frames built by hand: what the server negotiates,
//! what it sends, and its answer to every misuse of RSV1 and to a decompression bomb.

mod support;

use tokio::io::AsyncWriteExt;
use ws_server::{Handler, Server, ws_resource};

use support::{
    close_frame_of,
    deflate::{deflate, inflate},
    deflate_upgrade, masked, raw_upgrade, read_frame, start,
};

echo_resource!(Echo, "/echo", max_message = 100000);
echo_resource!(Defaults, "/defaults");

#[ws_resource("/plain", compression = "off")]
#[derive(Default)]
struct Plain;

impl Handler for Plain {}

async fn server() -> std::net::SocketAddr {
    start(
        Server::builder()
            .route::<Echo>()
            .route::<Plain>()
            .route::<Defaults>(),
    )
    .await
}

const OFFER: &str = "permessage-deflate; client_max_window_bits";
const RSV1: u8 = 0x40;

#[tokio::test]
async fn compressed_messages_go_both_ways() {
    let addr = server().await;
    let (mut stream, head) = deflate_upgrade(addr, "/echo", OFFER).await;
    assert!(
        head.contains("sec-websocket-extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
        "{head}"
    );
    let text = "compress me, compress me, compress me, compress me, compress me! ".repeat(20);
    // Sent compressed, in two fragments: RSV1 on the first only.
    let compressed = deflate(text.as_bytes());
    let (first, second) = compressed.split_at(compressed.len() / 2);
    stream
        .write_all(&masked(false, RSV1 | 0x1, first))
        .await
        .expect("send");
    stream
        .write_all(&masked(true, 0x0, second))
        .await
        .expect("send");
    let (head, payload) = read_frame(&mut stream).await;
    assert_eq!(head, 0x80 | RSV1 | 0x1, "a compressed text frame");
    assert!(payload.len() < text.len() / 4);
    assert_eq!(inflate(&payload), text.as_bytes());
    // Small messages go uncompressed (under the threshold), also when sent compressed.
    stream
        .write_all(&masked(true, RSV1 | 0x2, &deflate(b"tiny")))
        .await
        .expect("send");
    assert_eq!(read_frame(&mut stream).await, (0x82, b"tiny".to_vec()));
    // And uncompressed messages are fine on a compressed connection.
    stream
        .write_all(&masked(true, 0x1, b"as is"))
        .await
        .expect("send");
    assert_eq!(read_frame(&mut stream).await, (0x81, b"as is".to_vec()));
}

#[tokio::test]
async fn no_compression_without_negotiation_or_where_it_is_off() {
    let addr = server().await;
    let (_, head) = deflate_upgrade(addr, "/plain", OFFER).await;
    assert!(!head.contains("sec-websocket-extensions"), "{head}");
    let (_, head) = deflate_upgrade(
        addr,
        "/echo",
        "permessage-deflate; server_max_window_bits=8",
    )
    .await;
    assert!(!head.contains("sec-websocket-extensions"), "{head}");
}

#[tokio::test]
async fn rsv1_where_it_does_not_belong_is_1002() {
    let addr = server().await;
    // Not negotiated.
    let mut stream = raw_upgrade(addr, "/echo", b"").await;
    stream
        .write_all(&masked(true, RSV1 | 0x1, &deflate(b"hello")))
        .await
        .expect("send");
    assert_eq!(close_frame_of(stream).await.0, 1002);
    // On a continuation frame.
    let (mut stream, _) = deflate_upgrade(addr, "/echo", OFFER).await;
    stream
        .write_all(&masked(false, 0x1, b"plain "))
        .await
        .expect("send");
    stream
        .write_all(&masked(true, RSV1, b"more"))
        .await
        .expect("send");
    assert_eq!(close_frame_of(stream).await.0, 1002);
    // On a control frame.
    let (mut stream, _) = deflate_upgrade(addr, "/echo", OFFER).await;
    stream
        .write_all(&masked(true, RSV1 | 0x9, b""))
        .await
        .expect("send");
    assert_eq!(close_frame_of(stream).await.0, 1002);
    // Data that does not inflate.
    let (mut stream, _) = deflate_upgrade(addr, "/echo", OFFER).await;
    stream
        .write_all(&masked(true, RSV1 | 0x2, &[0xff; 16]))
        .await
        .expect("send");
    assert_eq!(close_frame_of(stream).await.0, 1002);
}

#[tokio::test]
async fn a_decompression_bomb_is_1009() {
    let addr = server().await;
    let (mut stream, _) = deflate_upgrade(addr, "/echo", OFFER).await;
    // 10 MB of zeros in about 10 KB, against a 100 KB message limit.
    let bomb = deflate(&vec![0u8; 10_000_000]);
    assert!(bomb.len() < 20_000);
    stream
        .write_all(&masked(true, RSV1 | 0x2, &bomb))
        .await
        .expect("send");
    assert_eq!(close_frame_of(stream).await.0, 1009);
}

#[tokio::test]
async fn compressed_invalid_utf8_is_1007() {
    let addr = server().await;
    let (mut stream, _) = deflate_upgrade(addr, "/echo", OFFER).await;
    stream
        .write_all(&masked(true, RSV1 | 0x1, &deflate(b"ok \xff\xfe not")))
        .await
        .expect("send");
    assert_eq!(close_frame_of(stream).await.0, 1007);
}

#[tokio::test]
async fn an_eight_bit_client_window_is_granted_and_read() {
    let addr = server().await;
    let (mut stream, head) = deflate_upgrade(
        addr,
        "/echo",
        "permessage-deflate; client_max_window_bits=8",
    )
    .await;
    assert!(head.contains("client_max_window_bits=8"), "{head}");
    stream
        .write_all(&masked(
            true,
            RSV1 | 0x2,
            &deflate(b"short enough for any window"),
        ))
        .await
        .expect("send");
    assert_eq!(
        read_frame(&mut stream).await,
        (0x82, b"short enough for any window".to_vec())
    );
}

/// Data that does not compress grows a little when compressed: with the default limits, a
/// message of exactly `max_message` (4 MiB) sent as one compressed frame is still accepted,
/// as browsers and most clients send it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_largest_message_sent_compressed_in_one_frame_is_accepted_by_default() {
    let addr = server().await;
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let random: Vec<u8> = (0..ws_server::Limits::DEFAULT.max_message())
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let compressed = deflate(&random);
    assert!(compressed.len() > random.len(), "random data grows");
    let (mut stream, head) = deflate_upgrade(addr, "/defaults", OFFER).await;
    assert!(head.contains("permessage-deflate"), "{head}");
    stream
        .write_all(&masked(true, RSV1 | 0x2, &compressed))
        .await
        .expect("send");
    let (head, payload) = read_frame(&mut stream).await;
    assert_eq!(head & 0x0f, 0x2, "the echo, not a close");
    let echoed = if head & RSV1 != 0 {
        inflate(&payload)
    } else {
        payload
    };
    assert!(echoed == random, "the echo differs");
}
