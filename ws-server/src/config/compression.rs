//! permessage-deflate (RFC 7692): whether a resource compresses, and how.

/// Compression settings of a resource: whether permessage-deflate is offered, the window
/// sizes, whether the client may keep its compression context between messages, the size
/// under which messages go out uncompressed, and the compression level.
///
/// The server always resets its compressor after each message (it says
/// `server_no_context_takeover`): one compressor per thread serves every connection, and a
/// broadcast is compressed once per window size. By default it also asks clients to reset
/// theirs (`client_no_context_takeover`), so that an idle connection holds no inflater;
/// [`client_context_takeover`](Compression::client_context_takeover) trades memory (about
/// 40 KiB per connection at 15 bits) for better ratios on client messages.
///
/// Set per resource in `#[ws_resource("/path", compression = "off" | "on" |
/// "client-takeover", compress_threshold = N, window_bits = N)]`, or server-wide with
/// [`Builder::compression`](crate::Builder::compression).
///
/// ```
/// use ws_server::Compression;
/// let compression = Compression::DEFAULT.with_window_bits(12).with_threshold(1024);
/// assert!(compression.enabled());
/// assert_eq!((compression.window_bits(), compression.threshold()), (12, 1024));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    enabled: bool,
    window_bits: u8,
    client_window_bits: u8,
    client_context_takeover: bool,
    threshold: usize,
    level: u8,
}

impl Compression {
    /// The defaults: on, 15-bit windows, no context takeover either way, messages under
    /// 128 bytes uncompressed, level 1 (fast).
    pub const DEFAULT: Compression = Compression {
        enabled: true,
        window_bits: 15,
        client_window_bits: 15,
        client_context_takeover: false,
        threshold: 128,
        level: 1,
    };

    /// No compression: offers are ignored.
    pub const OFF: Compression = Compression {
        enabled: false,
        ..Compression::DEFAULT
    };

    /// Turns compression on or off.
    pub const fn with_enabled(mut self, enabled: bool) -> Compression {
        self.enabled = enabled;
        self
    }

    /// The server's window: 9 to 15 bits (zlib cannot compress with 8); clamped.
    /// The client's window is limited to the same size where the client allows it.
    pub const fn with_window_bits(mut self, bits: u8) -> Compression {
        let bits = clamp(bits, 9);
        self.window_bits = bits;
        self.client_window_bits = bits;
        self
    }

    /// The most the client may use for its window, 8 to 15 bits (where the client lets the
    /// server choose); clamped.
    pub const fn with_client_window_bits(mut self, bits: u8) -> Compression {
        self.client_window_bits = clamp(bits, 8);
        self
    }

    /// Whether clients may keep their compression context between messages (better
    /// ratios, one inflater kept per connection). Default `false`.
    pub const fn with_client_context_takeover(mut self, allowed: bool) -> Compression {
        self.client_context_takeover = allowed;
        self
    }

    /// Messages shorter than this many bytes are sent uncompressed. Default 128.
    pub const fn with_threshold(mut self, bytes: usize) -> Compression {
        self.threshold = bytes;
        self
    }

    /// The zlib compression level, 1 (fast) to 9 (small); clamped. Default 1.
    pub const fn with_level(mut self, level: u8) -> Compression {
        self.level = if level < 1 {
            1
        } else if level > 9 {
            9
        } else {
            level
        };
        self
    }

    /// Whether compression is offered.
    pub const fn enabled(&self) -> bool {
        self.enabled
    }

    /// The server's window size in bits.
    pub const fn window_bits(&self) -> u8 {
        self.window_bits
    }

    /// The client's largest window size in bits.
    pub const fn client_window_bits(&self) -> u8 {
        self.client_window_bits
    }

    /// Whether clients may keep their context.
    pub const fn client_context_takeover(&self) -> bool {
        self.client_context_takeover
    }

    /// The size under which messages go uncompressed.
    pub const fn threshold(&self) -> usize {
        self.threshold
    }

    /// The compression level.
    pub const fn level(&self) -> u8 {
        self.level
    }
}

impl Default for Compression {
    fn default() -> Compression {
        Compression::DEFAULT
    }
}

const fn clamp(bits: u8, min: u8) -> u8 {
    if bits < min {
        min
    } else if bits > 15 {
        15
    } else {
        bits
    }
}
