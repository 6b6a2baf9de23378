//! Sends from a connection's own callback skip the outbox's queue while nothing is
//! queued before them. Seen by a real client: they keep their order with sends from
//! other tasks and broadcasts, count as queued, and the queue's bound applies to them.

mod support;

use tokio_tungstenite::tungstenite::Message;
use ws_server::{Connection, Handler, SendError, Server, Text, ws_resource};

use support::{connect, next, round_trip, start};

#[ws_resource("/order")]
#[derive(Default)]
struct Order;

impl Handler for Order {
    async fn on_text(&mut self, conn: &Connection, text: Text) {
        match text.as_str() {
            "mix" => {
                let _ = conn.send_text("1").await;
                let _ = conn.server().broadcast_at("/order", "2").await;
                // Another task's send, awaited, so it comes after "2" and before "4".
                let other = conn.clone();
                let sent = tokio::spawn(async move { other.send_text("3").await }).await;
                assert!(matches!(sent, Ok(Ok(()))), "the other task sent");
                let _ = conn.send_text("4").await;
                tokio::task::yield_now().await;
                let _ = conn.send_text("5").await;
            }
            "queued" => {
                let _ = conn.send_binary(vec![0u8; 1000]).await;
                let queued = conn.queued_bytes();
                let _ = conn.send_text(format!("queued:{queued}")).await;
            }
            _ => {}
        }
    }
}

/// A queue of 100 bytes that drops what does not fit.
#[ws_resource("/small", max_queue = 100, slow_consumer = "drop")]
#[derive(Default)]
struct Small;

impl Handler for Small {
    async fn on_text(&mut self, conn: &Connection, _: Text) {
        let first = conn.send_binary(vec![1u8; 80]).await;
        let second = conn.send_binary(vec![2u8; 80]).await;
        // Waiting lets the task write the first, which makes room for the report.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let _ = conn
            .send_text(format!("{first:?} {second:?}", second = second.err()))
            .await;
    }
}

async fn server() -> std::net::SocketAddr {
    start(Server::builder().route::<Order>().route::<Small>()).await
}

#[tokio::test]
async fn sends_from_the_callback_and_from_elsewhere_arrive_in_the_order_made() {
    let addr = server().await;
    let mut client = connect(addr, "/order").await;
    for round in 0..3 {
        assert_eq!(round_trip(&mut client, "mix").await, "1", "round {round}");
        for expected in ["2", "3", "4", "5"] {
            assert_eq!(next(&mut client).await, Message::text(expected));
        }
    }
}

#[tokio::test]
async fn a_send_from_the_callback_counts_as_queued_until_written() {
    let addr = server().await;
    let mut client = connect(addr, "/order").await;
    futures_util::SinkExt::send(&mut client, Message::text("queued"))
        .await
        .expect("send");
    assert_eq!(next(&mut client).await, Message::binary(vec![0u8; 1000]));
    // 1,000 bytes of payload and a 4-byte header.
    assert_eq!(next(&mut client).await, Message::text("queued:1004"));
}

#[tokio::test]
async fn the_queue_bound_applies_to_sends_from_the_callback() {
    let addr = server().await;
    let mut client = connect(addr, "/small").await;
    let expected = format!("Ok(()) {:?}", Some(SendError::Dropped));
    futures_util::SinkExt::send(&mut client, Message::text("go"))
        .await
        .expect("send");
    assert_eq!(next(&mut client).await, Message::binary(vec![1u8; 80]));
    assert_eq!(next(&mut client).await, Message::text(expected));
}
