#[tokio::main]
async fn main() -> std::io::Result<()> {
    ws_server::serve!("127.0.0.1:9001", "127.0.0.1:9002").await
}
