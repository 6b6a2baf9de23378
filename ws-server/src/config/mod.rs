//! Settings: limits on what a peer may send, the outbound queue's bound and policy, and the
//! heartbeat; per resource and server-wide.

mod backpressure;
mod compression;
mod handshake;
mod heartbeat;
mod limits;
mod resource;
mod shutdown;

pub use backpressure::{Backpressure, SlowConsumer};
pub use compression::Compression;
pub(crate) use handshake::Handshake;
pub use handshake::{NoCommonProtocol, Origins, Subprotocols};
pub use heartbeat::Heartbeat;
pub use limits::Limits;
pub use resource::ResourceConfig;
pub(crate) use resource::ResourceSettings;
pub use shutdown::ShutdownMode;
