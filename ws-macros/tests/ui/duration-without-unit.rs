use ws_server::{Handler, ws_resource};

#[ws_resource("/chat", ping_interval = "30")]
#[derive(Default)]
struct Chat;

impl Handler for Chat {}

fn main() {}
