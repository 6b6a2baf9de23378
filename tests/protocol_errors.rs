//! Protocol violations close the connection with 1002, and `on_close` sees the code.

mod support;

use support::{Recorder, close_frame_of, masked, raw_upgrade, start, unique_tag, wait_for};
use tokio::io::AsyncWriteExt;
use ws_server::Server;

/// Sends `bytes` after a good handshake; returns the server's close code and the code
/// `on_close` recorded.
async fn close_codes_after(bytes: &[u8]) -> (u16, String) {
    let addr = start(Server::builder().route::<Recorder>()).await;
    let tag = unique_tag();
    let mut stream = raw_upgrade(addr, &format!("/record?tag={tag}"), &[]).await;
    stream.write_all(bytes).await.expect("write");
    let (code, _) = close_frame_of(stream).await;
    let events = wait_for(&tag, |events| {
        events.iter().any(|e| e.starts_with("close:"))
    })
    .await;
    let recorded = events
        .into_iter()
        .find(|e| e.starts_with("close:"))
        .expect("close");
    (code, recorded)
}

async fn assert_protocol_error(bytes: &[u8]) {
    let (code, recorded) = close_codes_after(bytes).await;
    assert_eq!(code, 1002, "{bytes:x?}");
    assert!(recorded.starts_with("close:1002:"), "{recorded}");
}

#[tokio::test]
async fn unmasked_frame() {
    assert_protocol_error(&[0x81, 0x02, b'h', b'i']).await;
}

#[tokio::test]
async fn reserved_opcode() {
    assert_protocol_error(&masked(true, 0x3, b"")).await;
    assert_protocol_error(&masked(true, 0xB, b"")).await;
}

#[tokio::test]
async fn reserved_bits_without_an_extension() {
    let mut frame = masked(true, 1, b"hi");
    frame[0] |= 0x40;
    assert_protocol_error(&frame).await;
}

#[tokio::test]
async fn fragmented_or_oversized_control_frames() {
    assert_protocol_error(&masked(false, 0x9, b"ping")).await;
    assert_protocol_error(&masked(true, 0x9, &[0u8; 126])).await;
}

#[tokio::test]
async fn continuation_without_a_message_and_message_inside_a_message() {
    assert_protocol_error(&masked(true, 0x0, b"orphan")).await;
    let mut two_starts = masked(false, 1, b"first");
    two_starts.extend(masked(true, 1, b"second"));
    assert_protocol_error(&two_starts).await;
}

#[tokio::test]
async fn bad_close_payloads() {
    assert_protocol_error(&masked(true, 0x8, &[0x03])).await;
    assert_protocol_error(&masked(true, 0x8, &1005u16.to_be_bytes())).await;
    assert_protocol_error(&masked(true, 0x8, &999u16.to_be_bytes())).await;
    let mut bad_reason = 1000u16.to_be_bytes().to_vec();
    bad_reason.extend_from_slice(&[0xff, 0xfe]);
    assert_protocol_error(&masked(true, 0x8, &bad_reason)).await;
}

#[tokio::test]
async fn garbage_after_a_valid_message_still_gets_a_close() {
    let mut bytes = masked(true, 1, b"fine");
    bytes.extend_from_slice(&[0xff; 32]);
    let (code, recorded) = close_codes_after(&bytes).await;
    assert_eq!(code, 1002);
    assert!(recorded.starts_with("close:1002:"));
}
