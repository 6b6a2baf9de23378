//! ws-server inside an axum app, on one port: a health check, a JSON route, the chat page
//! and the `/chat` and `/echo` WebSocket resources, behind tower-http's trace layer.
//!
//! ```text
//! cargo run --release --example axum [-- --addr 127.0.0.1:9001]
//! ```
//!
//! Ctrl-C stops axum, then closes every WebSocket with 1001.

#[path = "../common/mod.rs"]
mod common;
#[path = "../echo/resource.rs"]
mod resource;
#[allow(dead_code)] // The page is served through axum here, not as a fallback.
#[path = "../chat/room.rs"]
mod room;

use std::net::SocketAddr;

use axum::{Json, Router, extract::State, routing::get};
use tower_http::trace::TraceLayer;
use ws_server::{Server, ServerHandle};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    common::init_logging();
    // Every #[ws_resource] of the program, as one tower service.
    let ws = Server::builder().registered_routes().into_service()?;
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/stats", get(stats))
        .with_state(ws.handle())
        .route_service("/chat", ws.clone())
        .route_service("/echo", ws.clone())
        .merge(room::page())
        .layer(TraceLayer::new_for_http());
    let listener = tokio::net::TcpListener::bind(common::addr()).await?;
    tracing::info!(addr = %listener.local_addr()?, "axum app listening");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    // The WebSockets outlive axum's connections: close them with 1001, run every on_close.
    ws.handle().shutdown().await;
    Ok(())
}

/// How many WebSockets are open, by resource.
async fn stats(State(server): State<ServerHandle>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "connections": server.connection_count(),
        "chat": server.connections_at("/chat").len(),
        "echo": server.connections_at("/echo").len(),
    }))
}
