//! A resource's own settings, which override the server-wide ones. The table at the end
//! of this file is where each `#[ws_resource]` option is defined: its type and which
//! setting it changes.

use std::time::Duration;

use super::{Backpressure, Compression, Handshake, Heartbeat, Limits, Origins, SlowConsumer};

/// Everything that governs a resource's handshakes and connections: the server-wide
/// values, with a resource's own on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResourceSettings {
    pub(crate) limits: Limits,
    pub(crate) backpressure: Backpressure,
    pub(crate) heartbeat: Heartbeat,
    pub(crate) compression: Compression,
    pub(crate) handshake: Handshake,
}

impl ResourceSettings {
    /// The defaults of every setting.
    pub(crate) const DEFAULT: ResourceSettings = ResourceSettings {
        limits: Limits::DEFAULT,
        backpressure: Backpressure::DEFAULT,
        heartbeat: Heartbeat::DEFAULT,
        compression: Compression::DEFAULT,
        handshake: Handshake::DEFAULT,
    };
}

/// Defines [`ResourceConfig`] from the table of options below: a field and a `with_`
/// setter each, and how it applies to [`ResourceSettings`].
macro_rules! resource_options {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident, $setter:ident: $ty:ty => $section:ident.$apply:ident;
    )*) => {
        /// A resource's own settings, as `#[ws_resource]` writes them: every value left out
        /// falls back to the server-wide one (see [`Builder`](crate::Builder)).
        ///
        /// ```
        /// use ws_server::ResourceConfig;
        /// const CONFIG: ResourceConfig = ResourceConfig::new().with_max_frames(16);
        /// # let _ = CONFIG;
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct ResourceConfig {
            $($name: Option<$ty>,)*
        }

        impl ResourceConfig {
            /// No settings of its own.
            pub const fn new() -> ResourceConfig {
                ResourceConfig { $($name: None,)* }
            }

            $(
                $(#[doc = $doc])*
                pub const fn $setter(mut self, value: $ty) -> ResourceConfig {
                    self.$name = Some(value);
                    self
                }

                #[doc = concat!("This resource's own `", stringify!($name), "`, if it sets one.")]
                pub const fn $name(&self) -> Option<$ty> {
                    self.$name
                }
            )*

            /// These settings on top of `settings`.
            pub(crate) fn over(&self, mut settings: ResourceSettings) -> ResourceSettings {
                $(
                    if let Some(value) = self.$name {
                        settings.$section = settings.$section.$apply(value);
                    }
                )*
                settings
            }

            /// Every option's name.
            #[cfg(test)]
            pub(crate) const NAMES: &[&str] = &[$(stringify!($name)),*];
        }
    };
}

resource_options! {
    /// `max_payload = N`: bytes in one frame; see [`Limits::with_max_payload`].
    max_payload, with_max_payload: usize => limits.with_max_payload;
    /// `max_frames = N`: frames in one message; see [`Limits::with_max_frames`].
    max_frames, with_max_frames: usize => limits.with_max_frames;
    /// `max_message = N`: bytes in one message; see [`Limits::with_max_message`].
    max_message, with_max_message: usize => limits.with_max_message;
    /// `max_queue = N`: bytes queued to send; see [`Backpressure::with_max_queue`].
    max_queue, with_max_queue: usize => backpressure.with_max_queue;
    /// `slow_consumer = "close" | "drop" | "wait"`; see [`SlowConsumer`].
    slow_consumer, with_slow_consumer: SlowConsumer => backpressure.with_slow_consumer;
    /// `ping_interval = "30s" | "off"`; see [`Heartbeat::with_ping_interval`].
    ping_interval, with_ping_interval: Option<Duration> => heartbeat.with_ping_interval;
    /// `pong_timeout = "20s"`; see [`Heartbeat::with_pong_timeout`].
    pong_timeout, with_pong_timeout: Duration => heartbeat.with_pong_timeout;
    /// `idle_timeout = "5m" | "off"`; see [`Heartbeat::with_idle_timeout`].
    idle_timeout, with_idle_timeout: Option<Duration> => heartbeat.with_idle_timeout;
    /// `compression = "on" | "off"`; see [`Compression::with_enabled`].
    compression, with_compression: bool => compression.with_enabled;
    /// `compression = "client-takeover"` sets this and the above; see
    /// [`Compression::with_client_context_takeover`].
    client_context_takeover, with_client_context_takeover: bool
        => compression.with_client_context_takeover;
    /// `compress_threshold = N`; see [`Compression::with_threshold`].
    compress_threshold, with_compress_threshold: usize => compression.with_threshold;
    /// `window_bits = N`, 9 to 15; see [`Compression::with_window_bits`].
    window_bits, with_window_bits: u8 => compression.with_window_bits;
    /// `origins = "same-host" | "any" | ["https://app.example.com"]`; see [`Origins`].
    origins, with_origins: Origins => handshake.with_origins;
    /// `protocols = ["chat.v2", "chat.v1"]`; see [`Subprotocols`](crate::Subprotocols).
    protocols, with_protocols: &'static [&'static str] => handshake.with_protocols;
    /// `allow_no_protocol = true`; see
    /// [`Subprotocols::with_allow_none`](crate::Subprotocols::with_allow_none).
    allow_no_protocol, with_allow_no_protocol: bool => handshake.with_allow_no_protocol;
    /// `max_connections = N`: open connections of this resource; see
    /// [`Builder::max_connections`](crate::Builder::max_connections).
    max_connections, with_max_connections: usize => handshake.with_max_connections;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_value_wins_and_the_rest_are_the_server_wide_ones() {
        let server_wide = ResourceSettings {
            limits: Limits::DEFAULT.with_max_payload(1000),
            ..ResourceSettings::DEFAULT
        };
        let settings = ResourceConfig::new()
            .with_max_frames(16)
            .with_protocols(&["chat"])
            .with_allow_no_protocol(true)
            .over(server_wide);
        assert_eq!(settings.limits.max_payload(), 1000);
        assert_eq!(settings.limits.max_frames(), 16);
        assert_eq!(settings.handshake.subprotocols.supported(), ["chat"]);
        assert!(settings.handshake.subprotocols.allow_none());
        assert_eq!(settings.backpressure, Backpressure::DEFAULT);
    }

    #[test]
    fn protocols_keep_the_server_wide_allowance_unless_the_resource_sets_its_own() {
        let server_wide = ResourceSettings {
            handshake: Handshake::DEFAULT.with_allow_no_protocol(true),
            ..ResourceSettings::DEFAULT
        };
        let own = ResourceConfig::new().with_protocols(&["v2"]);
        let subprotocols = own.over(server_wide).handshake.subprotocols;
        assert_eq!(subprotocols.supported(), ["v2"]);
        assert_eq!(subprotocols.select(["x"]), Ok(None));
        let strict = own.with_allow_no_protocol(false).over(server_wide);
        assert!(strict.handshake.subprotocols.select(["x"]).is_err());
    }

    /// The option names of a markdown table whose first column holds `` `name = ...` ``.
    fn names_in_table(text: &str, header: &str) -> Vec<String> {
        let table = text.split(header).nth(1).expect("the table");
        table
            .lines()
            .skip(2)
            .take_while(|line| line.trim_start().starts_with('|') || line.contains("/// |"))
            .filter_map(|line| line.split('`').nth(1))
            .map(|cell| cell.split([' ', '=']).next().unwrap_or_default().to_owned())
            .collect()
    }

    /// README's table and the attribute's docs list every option, and only those: they
    /// cannot drift from this file.
    #[test]
    fn the_docs_tables_list_every_option() {
        // `client_context_takeover` is written as `compression = "client-takeover"`.
        let mut options: Vec<&str> = ResourceConfig::NAMES
            .iter()
            .copied()
            .filter(|name| *name != "client_context_takeover")
            .collect();
        options.sort_unstable();
        let lib = include_str!("../lib.rs");
        let mut tables = vec![("lib.rs", names_in_table(lib, "/// | option | value |"))];
        // The repository's README, outside this package: checked where it is there.
        let readme = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
        if let Ok(readme) = std::fs::read_to_string(readme) {
            tables.push(("README", names_in_table(&readme, "| option | meaning |")));
        }
        for (what, mut names) in tables {
            names.sort_unstable();
            names.dedup();
            assert_eq!(names, options, "the options table of {what}");
        }
    }
}
