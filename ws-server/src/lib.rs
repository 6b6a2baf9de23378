//! ws-server (work in progress)
mod config;
mod message;
pub mod proto;
pub use config::{Limits, ResourceConfig};
pub use message::{Message, Text};
pub use proto::CloseCode;
