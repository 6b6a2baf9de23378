//! tokio-tungstenite, as its examples show it.

use std::io;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::{
    accept_hdr_async,
    tungstenite::{
        Message,
        handshake::server::{Request, Response},
    },
};

use crate::hub::Hub;

pub(crate) async fn run(listener: TcpListener) -> io::Result<()> {
    let hub = Hub::new();
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(serve(stream, hub.clone()));
    }
}

// The handshake callback's error type is tungstenite's own.
#[allow(clippy::result_large_err)]
async fn serve(
    stream: TcpStream,
    hub: Hub<Message>,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let mut path = String::new();
    let mut ws = accept_hdr_async(stream, |request: &Request, response: Response| {
        path = request.uri().path().to_owned();
        Ok(response)
    })
    .await?;
    match path.as_str() {
        "/sub" => {
            let mut queue = hub.subscribe();
            loop {
                tokio::select! {
                    incoming = ws.next() => match incoming {
                        Some(Ok(message)) if !message.is_close() => {}
                        _ => return Ok(()),
                    },
                    Some(message) = queue.recv() => {
                        ws.feed(message).await?;
                        while let Ok(message) = queue.try_recv() {
                            ws.feed(message).await?;
                        }
                        ws.flush().await?;
                    }
                }
            }
        }
        "/pub" => {
            while let Some(message) = ws.next().await {
                let message = message?;
                if message.is_binary() || message.is_text() {
                    hub.publish(&message);
                }
            }
            Ok(())
        }
        _ => {
            while let Some(message) = ws.next().await {
                let message = message?;
                if message.is_binary() || message.is_text() {
                    ws.send(message).await?;
                }
            }
            Ok(())
        }
    }
}
