use ws_server::{Handler, ws_resource};

#[ws_resource("/chat", pong_timeout = "off")]
#[derive(Default)]
struct Chat;

impl Handler for Chat {}

fn main() {}
