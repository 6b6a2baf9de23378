use ws_server::Handler;

#[derive(Default)]
struct Chat;

impl Handler for Chat {}

fn main() {}
