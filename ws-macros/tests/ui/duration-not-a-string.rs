use ws_server::{Handler, ws_resource};

#[ws_resource("/chat", idle_timeout = 30)]
#[derive(Default)]
struct Chat;

impl Handler for Chat {}

fn main() {}
