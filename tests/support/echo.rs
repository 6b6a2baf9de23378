//! An echo resource with the options a test needs: `echo_resource!(Name, "/path", opts...)`.

/// Defines `$name`, a `#[ws_resource(...)]` that sends every text and binary message back.
#[macro_export]
macro_rules! echo_resource {
    ($name:ident, $($options:tt)*) => {
        #[ws_server::ws_resource($($options)*)]
        #[derive(Default)]
        struct $name;

        impl ws_server::Handler for $name {
            async fn on_text(&mut self, conn: &ws_server::Connection, text: ws_server::Text) {
                let _ = conn.send_text(text).await;
            }

            async fn on_binary(&mut self, conn: &ws_server::Connection, data: ws_server::Bytes) {
                let _ = conn.send_binary(data).await;
            }
        }
    };
}
