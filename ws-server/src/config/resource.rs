//! A resource's own settings, which override the server-wide ones.

use std::time::Duration;

use super::{Backpressure, Compression, Heartbeat, Limits, Origins, SlowConsumer, Subprotocols};

/// A resource's own settings, as `#[ws_resource]` writes them: every value left out falls
/// back to the server-wide one.
///
/// ```
/// use ws_server::{Limits, ResourceConfig};
/// const CONFIG: ResourceConfig = ResourceConfig::new().max_frames(16);
/// let server_wide = Limits::DEFAULT.max_payload(1000);
/// let limits = CONFIG.limits(server_wide);
/// assert_eq!((limits.max_payload_len(), limits.max_frame_count()), (1000, 16));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResourceConfig {
    max_payload: Option<usize>,
    max_frames: Option<usize>,
    max_message: Option<usize>,
    max_queue: Option<usize>,
    slow_consumer: Option<SlowConsumer>,
    ping_interval: Option<Option<Duration>>,
    pong_timeout: Option<Duration>,
    idle_timeout: Option<Option<Duration>>,
    compression: Option<bool>,
    client_context_takeover: Option<bool>,
    compress_threshold: Option<usize>,
    window_bits: Option<u8>,
    origins: Option<Origins>,
    protocols: Option<&'static [&'static str]>,
    allow_no_protocol: Option<bool>,
    max_connections: Option<usize>,
}

impl ResourceConfig {
    /// No settings of its own.
    pub const fn new() -> ResourceConfig {
        ResourceConfig {
            max_payload: None,
            max_frames: None,
            max_message: None,
            max_queue: None,
            slow_consumer: None,
            ping_interval: None,
            pong_timeout: None,
            idle_timeout: None,
            compression: None,
            client_context_takeover: None,
            compress_threshold: None,
            window_bits: None,
            origins: None,
            protocols: None,
            allow_no_protocol: None,
            max_connections: None,
        }
    }

    /// Sets which browser origins may connect to this resource.
    pub const fn origins(mut self, origins: Origins) -> ResourceConfig {
        self.origins = Some(origins);
        self
    }

    /// Sets the subprotocols this resource speaks, most preferred first.
    pub const fn protocols(mut self, protocols: &'static [&'static str]) -> ResourceConfig {
        self.protocols = Some(protocols);
        self
    }

    /// Lets clients offering only unsupported subprotocols connect without one.
    pub const fn allow_no_protocol(mut self, allowed: bool) -> ResourceConfig {
        self.allow_no_protocol = Some(allowed);
        self
    }

    /// Caps the open connections of this resource.
    pub const fn max_connections(mut self, connections: usize) -> ResourceConfig {
        self.max_connections = Some(connections);
        self
    }

    /// The origin policy in force: this resource's, else `server_wide`.
    pub const fn origin_policy(&self, server_wide: Origins) -> Origins {
        match self.origins {
            Some(origins) => origins,
            None => server_wide,
        }
    }

    /// The subprotocols in force: this resource's values, else `server_wide`'s.
    pub const fn subprotocols(&self, server_wide: Subprotocols) -> Subprotocols {
        let mut protocols = match self.protocols {
            Some(list) => Subprotocols::new(list).allow_none(server_wide.allows_none()),
            None => server_wide,
        };
        if let Some(allowed) = self.allow_no_protocol {
            protocols = protocols.allow_none(allowed);
        }
        protocols
    }

    /// This resource's cap on open connections, if it sets one.
    pub const fn connection_limit(&self) -> Option<usize> {
        self.max_connections
    }

    /// Turns permessage-deflate on or off for this resource.
    pub const fn compression(mut self, enabled: bool) -> ResourceConfig {
        self.compression = Some(enabled);
        self
    }

    /// Lets clients of this resource keep their compression context between messages.
    pub const fn client_context_takeover(mut self, allowed: bool) -> ResourceConfig {
        self.client_context_takeover = Some(allowed);
        self
    }

    /// Sets the size under which this resource's messages go uncompressed.
    pub const fn compress_threshold(mut self, bytes: usize) -> ResourceConfig {
        self.compress_threshold = Some(bytes);
        self
    }

    /// Sets the compression window of this resource, in bits (9 to 15).
    pub const fn window_bits(mut self, bits: u8) -> ResourceConfig {
        self.window_bits = Some(bits);
        self
    }

    /// The compression settings in force: this resource's values, else `server_wide`'s.
    pub const fn compression_settings(&self, server_wide: Compression) -> Compression {
        let mut compression = server_wide;
        if let Some(enabled) = self.compression {
            compression = compression.enabled(enabled);
        }
        if let Some(allowed) = self.client_context_takeover {
            compression = compression.client_context_takeover(allowed);
        }
        if let Some(bytes) = self.compress_threshold {
            compression = compression.threshold(bytes);
        }
        if let Some(bits) = self.window_bits {
            compression = compression.window_bits(bits);
        }
        compression
    }

    /// Sets the frame payload limit of this resource.
    pub const fn max_payload(mut self, bytes: usize) -> ResourceConfig {
        self.max_payload = Some(bytes);
        self
    }

    /// Sets the frames-per-message limit of this resource.
    pub const fn max_frames(mut self, frames: usize) -> ResourceConfig {
        self.max_frames = Some(frames);
        self
    }

    /// Sets the message size limit of this resource.
    pub const fn max_message(mut self, bytes: usize) -> ResourceConfig {
        self.max_message = Some(bytes);
        self
    }

    /// Sets the outbound queue bound of this resource.
    pub const fn max_queue(mut self, bytes: usize) -> ResourceConfig {
        self.max_queue = Some(bytes);
        self
    }

    /// Sets the slow-consumer policy of this resource.
    pub const fn slow_consumer(mut self, policy: SlowConsumer) -> ResourceConfig {
        self.slow_consumer = Some(policy);
        self
    }

    /// Sets the ping interval of this resource (`None`: no pings).
    pub const fn ping_interval(mut self, interval: Option<Duration>) -> ResourceConfig {
        self.ping_interval = Some(interval);
        self
    }

    /// Sets the pong deadline of this resource.
    pub const fn pong_timeout(mut self, timeout: Duration) -> ResourceConfig {
        self.pong_timeout = Some(timeout);
        self
    }

    /// Sets the idle timeout of this resource (`None`: no limit).
    pub const fn idle_timeout(mut self, timeout: Option<Duration>) -> ResourceConfig {
        self.idle_timeout = Some(timeout);
        self
    }

    /// The limits in force: this resource's values, else `server_wide`'s.
    pub const fn limits(&self, server_wide: Limits) -> Limits {
        let mut limits = server_wide;
        if let Some(bytes) = self.max_payload {
            limits = limits.max_payload(bytes);
        }
        if let Some(frames) = self.max_frames {
            limits = limits.max_frames(frames);
        }
        if let Some(bytes) = self.max_message {
            limits = limits.max_message(bytes);
        }
        limits
    }

    /// The outbound queue settings in force: this resource's values, else `server_wide`'s.
    pub const fn backpressure(&self, server_wide: Backpressure) -> Backpressure {
        let mut backpressure = server_wide;
        if let Some(bytes) = self.max_queue {
            backpressure = backpressure.max_queue(bytes);
        }
        if let Some(policy) = self.slow_consumer {
            backpressure = backpressure.policy(policy);
        }
        backpressure
    }

    /// The heartbeat in force: this resource's values, else `server_wide`'s.
    pub const fn heartbeat(&self, server_wide: Heartbeat) -> Heartbeat {
        let mut heartbeat = server_wide;
        if let Some(interval) = self.ping_interval {
            heartbeat = heartbeat.ping_interval(interval);
        }
        if let Some(timeout) = self.pong_timeout {
            heartbeat = heartbeat.pong_timeout(timeout);
        }
        if let Some(timeout) = self.idle_timeout {
            heartbeat = heartbeat.idle_timeout(timeout);
        }
        heartbeat
    }
}
