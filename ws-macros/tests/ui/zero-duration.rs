use ws_server::{Handler, ws_resource};

#[ws_resource("/chat", idle_timeout = "0s")]
#[derive(Default)]
struct Chat;

impl Handler for Chat {}

fn main() {}
