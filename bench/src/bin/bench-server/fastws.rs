//! fastwebsockets over hyper's upgrade, as its examples show it.

use std::io;

use bytes::Bytes;
use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload, WebSocketError, upgrade};
use http_body_util::Empty;
use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::hub::Hub;

pub(crate) async fn run(listener: TcpListener) -> io::Result<()> {
    let hub: Hub<Bytes> = Hub::new();
    crate::accept_each(listener, |stream| {
        let hub = hub.clone();
        async move {
            let service = service_fn(move |request| upgrade_request(request, hub.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        }
    })
    .await
}

async fn upgrade_request(
    mut request: Request<Incoming>,
    hub: Hub<Bytes>,
) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let path = request.uri().path().to_owned();
    let (response, upgrading) = upgrade::upgrade(&mut request)?;
    tokio::spawn(async move {
        let ws = upgrading.await?;
        match path.as_str() {
            "/sub" => {
                // Subscribers never send: only write.
                let mut ws = ws;
                let mut queue = hub.subscribe();
                while let Some(message) = queue.recv().await {
                    ws.write_frame(Frame::binary(Payload::Borrowed(&message)))
                        .await?;
                }
            }
            "/pub" => {
                let mut ws = FragmentCollector::new(ws);
                loop {
                    let frame = ws.read_frame().await?;
                    match frame.opcode {
                        OpCode::Close => break,
                        OpCode::Binary | OpCode::Text => {
                            hub.publish(&Bytes::copy_from_slice(&frame.payload));
                        }
                        _ => {}
                    }
                }
            }
            _ => {
                let mut ws = FragmentCollector::new(ws);
                loop {
                    let frame = ws.read_frame().await?;
                    match frame.opcode {
                        OpCode::Close => break,
                        OpCode::Binary | OpCode::Text => ws.write_frame(frame).await?,
                        _ => {}
                    }
                }
            }
        }
        Ok::<_, WebSocketError>(())
    });
    Ok(response)
}
