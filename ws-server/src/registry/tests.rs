//! Broadcasts and publishes share one encoded payload between all recipients.

use std::sync::Arc;

use bytes::Bytes;

use super::Members;
use crate::{Backpressure, ConnId, Connection, Request, ServerHandle, hub::Hub};

fn connections(server: &ServerHandle, members: &Arc<Members>, count: u64) -> Vec<Connection> {
    (0..count)
        .map(|id| {
            let (parts, ()) = http::Request::get(members.path())
                .body(())
                .expect("request")
                .into_parts();
            let request = Request::new(parts, ([127, 0, 0, 1], 4000).into(), server.clone());
            let conn = Connection::new(
                ConnId::new(id),
                request,
                members.clone(),
                Backpressure::DEFAULT,
                None,
            );
            members.insert(&conn);
            conn
        })
        .collect()
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
