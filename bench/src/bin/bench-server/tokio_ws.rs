//! tokio-websockets, as its examples show it.

use std::io;

use tokio::net::{TcpListener, TcpStream};
use tokio_websockets::{Message, ServerBuilder};

use crate::{hub::Hub, stream_server};

pub(crate) async fn run(listener: TcpListener) -> io::Result<()> {
    let hub = Hub::new();
    crate::accept_each(listener, |stream| serve(stream, hub.clone())).await
}

async fn serve(stream: TcpStream, hub: Hub<Message>) -> Result<(), tokio_websockets::Error> {
    let (request, ws) = ServerBuilder::new().accept(stream).await?;
    stream_server::serve(ws, request.uri().path(), hub).await
}
