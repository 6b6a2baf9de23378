//! tokio-tungstenite, as its examples show it.

use std::io;

use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::{
    accept_hdr_async,
    tungstenite::{
        Message,
        handshake::server::{Request, Response},
    },
};

use crate::{hub::Hub, stream_server};

pub(crate) async fn run(listener: TcpListener) -> io::Result<()> {
    let hub = Hub::new();
    crate::accept_each(listener, |stream| serve(stream, hub.clone())).await
}

// The handshake callback's error type is tungstenite's own.
#[allow(clippy::result_large_err)]
async fn serve(
    stream: TcpStream,
    hub: Hub<Message>,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let mut path = String::new();
    let ws = accept_hdr_async(stream, |request: &Request, response: Response| {
        path = request.uri().path().to_owned();
        Ok(response)
    })
    .await?;
    stream_server::serve(ws, &path, hub).await
}
