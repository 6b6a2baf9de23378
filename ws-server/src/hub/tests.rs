//! Broadcasts and publishes share one encoded payload between all recipients.

use std::sync::Arc;

use bytes::Bytes;

use super::Members;
use crate::{
    Backpressure, ConnId, Connection, Request, ServerHandle, hub::Hub, outbox::SendDeflate,
    proto::DeflateParams,
};

fn connections(server: &ServerHandle, members: &Arc<Members>, count: u64) -> Vec<Connection> {
    connections_with(server, members, 0..count, None)
}

fn connections_with(
    server: &ServerHandle,
    members: &Arc<Members>,
    ids: std::ops::Range<u64>,
    deflate: Option<SendDeflate>,
) -> Vec<Connection> {
    ids.map(|id| {
        let (parts, ()) = http::Request::get(members.path())
            .body(())
            .expect("request")
            .into_parts();
        let request = Request::new(parts, Some(([127, 0, 0, 1], 4000).into()), server.clone());
        let conn = Connection::new(
            ConnId::new(id),
            request,
            members.clone(),
            Backpressure::DEFAULT,
            deflate,
        );
        server.hub().register(&conn);
        conn
    })
    .collect()
}

fn deflate(bits: u8) -> Option<SendDeflate> {
    Some(SendDeflate {
        params: DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: bits,
            client_max_window_bits: 15,
        },
        threshold: 0,
        level: 1,
    })
}

#[tokio::test]
async fn a_broadcast_is_compressed_once_per_window_size() {
    let hub = Arc::new(Hub::new());
    let members = Arc::new(Members::new("/room"));
    hub.registry.set_routes(vec![members.clone()]);
    let server = ServerHandle::new(hub);
    let plain = connections_with(&server, &members, 0..3, None);
    let wide = connections_with(&server, &members, 3..6, deflate(15));
    let narrow = connections_with(&server, &members, 6..9, deflate(10));
    let text = "all the news that fits, all the news that fits. ".repeat(100);
    let payload = Bytes::from(text.clone());

    assert_eq!(server.broadcast_all(payload.clone()).await.queued(), 9);
    let first = |conns: &[Connection]| -> Vec<Bytes> {
        conns
            .iter()
            .map(|conn| conn.outbox().queued_payloads().remove(0))
            .collect()
    };
    for bytes in first(&plain) {
        assert_eq!(
            bytes.as_ptr(),
            payload.as_ptr(),
            "plain recipients share the message"
        );
    }
    for group in [first(&wide), first(&narrow)] {
        assert!(group[0].len() < payload.len() / 4, "compressed");
        for bytes in &group {
            assert_eq!(
                bytes.as_ptr(),
                group[0].as_ptr(),
                "compressed once per window"
            );
        }
    }
    assert_ne!(first(&wide)[0].as_ptr(), first(&narrow)[0].as_ptr());
}

#[tokio::test]
async fn a_broadcast_queues_the_same_bytes_to_every_recipient() {
    let hub = Arc::new(Hub::new());
    let members = Arc::new(Members::new("/room"));
    hub.registry.set_routes(vec![members.clone()]);
    let server = ServerHandle::new(hub);
    let conns = connections(&server, &members, 100);
    let payload = Bytes::from(vec![7u8; 64 * 1024]);

    let delivery = server.broadcast_at("/room", payload.clone()).await;
    assert_eq!(delivery.queued(), 100);
    for conn in &conns {
        let queued = conn.outbox().queued_payloads();
        assert_eq!(queued.len(), 1);
        assert_eq!(
            queued[0].as_ptr(),
            payload.as_ptr(),
            "the payload was copied for connection {}",
            conn.id()
        );
    }

    for conn in &conns {
        assert!(conn.subscribe("t"));
    }
    let published = Bytes::from_static(b"published once");
    assert_eq!(server.publish("t", published.clone()).await.queued(), 100);
    for conn in &conns {
        assert_eq!(
            conn.outbox().queued_payloads()[1].as_ptr(),
            published.as_ptr()
        );
    }
}
