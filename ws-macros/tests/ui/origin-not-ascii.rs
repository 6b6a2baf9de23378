use ws_server::{Handler, ws_resource};

#[ws_resource("/chat", origins = ["https://é.com"])]
#[derive(Default)]
struct Chat;

impl Handler for Chat {}

fn main() {}
