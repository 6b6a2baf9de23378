//! The echo, subscriber and publisher loops for peers whose sockets are a `Stream` and a
//! `Sink` of messages (tokio-tungstenite and tokio-websockets), written once.

use futures_util::{Sink, SinkExt, Stream, StreamExt};

use crate::hub::Hub;

/// How a peer's message type tells data from control.
pub(crate) trait PeerMessage: Clone + Send + 'static {
    /// Text or binary.
    fn is_data(&self) -> bool;
    /// A close frame.
    fn is_close(&self) -> bool;
}

impl PeerMessage for tokio_tungstenite::tungstenite::Message {
    fn is_data(&self) -> bool {
        self.is_binary() || self.is_text()
    }

    fn is_close(&self) -> bool {
        self.is_close()
    }
}

impl PeerMessage for tokio_websockets::Message {
    fn is_data(&self) -> bool {
        self.is_binary() || self.is_text()
    }

    fn is_close(&self) -> bool {
        self.is_close()
    }
}

/// Serves one upgraded connection at `path`: `/sub` receives what `/pub` sends, anything
/// else echoes. Subscribers' queued messages are fed together and flushed once.
pub(crate) async fn serve<M, E, S>(mut ws: S, path: &str, hub: Hub<M>) -> Result<(), E>
where
    M: PeerMessage,
    S: Stream<Item = Result<M, E>> + Sink<M, Error = E> + Unpin,
{
    match path {
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
                if message.is_data() {
                    hub.publish(&message);
                }
            }
            Ok(())
        }
        _ => {
            while let Some(message) = ws.next().await {
                let message = message?;
                if message.is_data() {
                    ws.send(message).await?;
                }
            }
            Ok(())
        }
    }
}
