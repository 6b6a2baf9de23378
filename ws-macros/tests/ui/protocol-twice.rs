use ws_server::{Handler, ws_resource};

#[ws_resource("/chat", protocols = ["chat.v1", "chat.v1"])]
#[derive(Default)]
struct Chat;

impl Handler for Chat {}

fn main() {}
