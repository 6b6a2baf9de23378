//! Resources defined anywhere in the program are found through the link-time table.

use tokio_tungstenite::tungstenite::Message;
use ws_server::{Connection, Handler, Server, Text};

mod lobby {
    use super::*;

    #[ws_server::ws_resource("/lobby")]
    #[derive(Default)]
    pub(crate) struct Lobby;

    impl Handler for Lobby {
        async fn on_text(&mut self, conn: &Connection, text: Text) {
            let _ = conn.send_text(format!("lobby: {text}")).await;
        }
    }
}

mod deeply {
    pub(crate) mod nested {
        use super::super::*;

        #[ws_server::ws_resource("/nested", max_frames = 2)]
        #[derive(Default)]
        pub(crate) struct Nested;

        impl Handler for Nested {
            async fn on_text(&mut self, conn: &Connection, text: Text) {
                let _ = conn.send_text(format!("nested: {text}")).await;
            }
        }
    }
}

#[tokio::test]
async fn every_registered_resource_is_served() {
    use futures_util::{SinkExt, StreamExt};
    let server = Server::builder()
        .registered_routes()
        .bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = server.local_addr().expect("addr");
    tokio::spawn(server.run());
    for (path, prefix) in [("/lobby", "lobby"), ("/nested", "nested")] {
        let (mut client, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
            .await
            .expect("connect");
        client.send(Message::text("hi")).await.expect("send");
        let reply = client.next().await.expect("open").expect("read");
        assert_eq!(reply, Message::text(format!("{prefix}: hi")));
    }
}
