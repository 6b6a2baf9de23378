use ws_server::{Handler, ws_resource};

#[ws_resource("/chat", protocols = ["chat.v1, chat.v2"])]
#[derive(Default)]
struct Chat;

impl Handler for Chat {}

fn main() {}
