//! Each limit and invalid UTF-8 close the offending connection with the RFC's code, and
//! only that connection.

mod support;

use bytes::Bytes;
use futures_util::SinkExt;
use support::{
    Recorder, close_frame_of, connect, expect_close, masked, raw_upgrade, read_frame, round_trip,
    send_fragments, start, unique_tag, wait_for,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::{Message, protocol::frame::coding::Data};
use ws_server::Server;

async fn server() -> std::net::SocketAddr {
    start(Server::builder().route::<Recorder>()).await
}

/// Waits for the recorder's close event and returns it.
async fn recorded_close(tag: &str) -> String {
    let events = wait_for(tag, |events| events.iter().any(|e| e.starts_with("close:"))).await;
    events
        .into_iter()
        .find(|e| e.starts_with("close:"))
        .expect("close event")
}

#[tokio::test]
async fn oversized_frame_is_refused_on_its_header_with_1009() {
    let addr = server().await;
    let tag = unique_tag();
    let mut stream = raw_upgrade(addr, &format!("/record?tag={tag}"), &[]).await;
    // Announce 10 MB (the resource allows 1000 bytes per frame) and send no payload: the
    // answer must not wait for it.
    let header = &masked(true, 2, &vec![0u8; 10_000_000])[..14];
    stream.write_all(header).await.expect("write");
    let (code, reason) = close_frame_of(stream).await;
    assert_eq!(code, 1009, "{reason}");
    assert!(recorded_close(&tag).await.starts_with("close:1009:"));
}

/// The payload a refused header announced may never come: the server cannot tell the
/// client's close reply from it, so it half-closes after its close and ends the connection
/// when the client closes its side, not at the close timeout (5 s).
#[tokio::test]
async fn after_a_refused_header_the_client_closing_ends_the_connection_at_once() {
    let addr = server().await;
    let mut stream = raw_upgrade(addr, "/record", &[]).await;
    let header = &masked(true, 2, &vec![0u8; 10_000_000])[..14];
    stream.write_all(header).await.expect("write");
    let (opcode, payload) = read_frame(&mut stream).await;
    assert_eq!((opcode, &payload[..2]), (0x88, &1009u16.to_be_bytes()[..]));
    let started = std::time::Instant::now();
    stream
        .write_all(&masked(true, 8, &payload[..2]))
        .await
        .expect("close reply");
    let mut rest = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(2),
        stream.read_to_end(&mut rest),
    )
    .await
    .expect("the server ended the connection")
    .expect("read");
    assert!(rest.is_empty(), "nothing after the close frame");
    println!("ended {:?} after the reply", started.elapsed());
}

/// A client that sends the whole oversized frame, as a real one does, still reads the
/// 1009: the server discards the payload instead of resetting the socket under it.
#[tokio::test]
async fn a_client_sending_the_whole_oversized_frame_gets_1009() {
    let addr = server().await;
    let mut client = connect(addr, "/record").await;
    client
        .send(Message::binary(vec![5u8; 2_000_000]))
        .await
        .expect("the server reads the payload it refused");
    assert_eq!(expect_close(&mut client).await.0, 1009);
}

#[tokio::test]
async fn too_many_frames_in_one_message_is_1009_counting_the_first() {
    let addr = server().await;
    let tag = unique_tag();
    let mut client = connect(addr, &format!("/record?tag={tag}")).await;
    // Four frames are allowed...
    send_fragments(&mut client, Data::Text, &[b"x"; 4]).await;
    assert_eq!(support::next(&mut client).await, Message::text("xxxx"));
    // ...five are not.
    send_fragments(&mut client, Data::Text, &[b"x"; 5]).await;
    assert_eq!(expect_close(&mut client).await.0, 1009);
    assert!(recorded_close(&tag).await.starts_with("close:1009:"));
}

#[tokio::test]
async fn message_over_the_size_limit_across_fragments_is_1009() {
    let addr = server().await;
    let tag = unique_tag();
    let mut client = connect(addr, &format!("/record?tag={tag}")).await;
    // Each frame is within max_payload (1000); together they exceed max_message (2000).
    send_fragments(&mut client, Data::Binary, &[&[1u8; 900]; 3]).await;
    assert_eq!(expect_close(&mut client).await.0, 1009);
    assert!(recorded_close(&tag).await.starts_with("close:1009:"));
}

#[tokio::test]
async fn invalid_utf8_is_1007_without_waiting_for_the_end_of_the_frame() {
    let addr = server().await;
    let tag = unique_tag();
    let mut stream = raw_upgrade(addr, &format!("/record?tag={tag}"), &[]).await;
    let mut payload = b"valid start ".to_vec();
    payload.extend_from_slice(&[0xf4, 0x90, 0x80, 0x80]);
    payload.extend_from_slice(&[b'z'; 500]);
    let frame = masked(true, 1, &payload);
    // Only the frame's first part, up to and including the offending byte.
    let cut = frame.len() - payload.len() + 12 + 2;
    stream.write_all(&frame[..cut]).await.expect("write");
    let (code, _) = close_frame_of(stream).await;
    assert_eq!(code, 1007);
    assert!(recorded_close(&tag).await.starts_with("close:1007:"));
}

#[tokio::test]
async fn invalid_utf8_split_across_fragments_is_1007() {
    let addr = server().await;
    let mut client = connect(addr, &format!("/record?tag={}", unique_tag())).await;
    // The second fragment is a UTF-16 surrogate.
    send_fragments(
        &mut client,
        Data::Text,
        &["κόσμε".as_bytes(), &[0xed, 0xa0, 0x80]],
    )
    .await;
    assert_eq!(expect_close(&mut client).await.0, 1007);
}

#[tokio::test]
async fn a_failed_connection_does_not_disturb_the_others() {
    let addr = server().await;
    let mut healthy = connect(addr, &format!("/record?tag={}", unique_tag())).await;
    assert_eq!(round_trip(&mut healthy, "before").await, "before");
    for _ in 0..5 {
        let mut bad = connect(addr, &format!("/record?tag={}", unique_tag())).await;
        bad.send(Message::Binary(Bytes::from(vec![0u8; 5000])))
            .await
            .expect("send");
        assert_eq!(expect_close(&mut bad).await.0, 1009);
    }
    assert_eq!(round_trip(&mut healthy, "after").await, "after");
}
