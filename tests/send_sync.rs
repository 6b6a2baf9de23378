//! The public types can cross tasks and threads, and the server's future can be spawned.

use ws_server::{
    Builder, CloseCode, ConnId, Connection, Limits, Message, Rejection, Request, SendError, Server,
    Text,
};

fn send_sync<T: Send + Sync + 'static>() {}

#[test]
fn public_types_are_send_and_sync() {
    send_sync::<Connection>();
    send_sync::<Request>();
    send_sync::<Text>();
    send_sync::<Message>();
    send_sync::<CloseCode>();
    send_sync::<ConnId>();
    send_sync::<Rejection>();
    send_sync::<SendError>();
    send_sync::<Limits>();
    send_sync::<Builder>();
    send_sync::<Server>();
}

#[test]
fn the_server_future_is_send() {
    fn spawnable<F: std::future::Future + Send + 'static>(_: impl FnOnce() -> F) {}
    spawnable(|| async {
        let server = Server::builder().bind("127.0.0.1:0").await?;
        server.run().await
    });
}
