use ws_server::{Handler, ws_resource};

#[ws_resource("/chat", origins = [42])]
#[derive(Default)]
struct Chat;

impl Handler for Chat {}

fn main() {}
