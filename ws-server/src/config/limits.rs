//! Limits on what a peer may send.

/// The limits a connection enforces on incoming data. Each breach closes the connection
/// with 1009 (too big) before the offending payload is buffered.
///
/// Set per resource in `#[ws_resource("/path", max_payload = N, max_frames = N,
/// max_message = N)]`, or server-wide with [`Builder::limits`](crate::Builder::limits); a
/// resource's own values win.
///
/// Unless set, a frame may carry what `max_message` allows and what compression can add to
/// it: browsers and most clients send a message as one frame, and compressing data that
/// does not compress makes it a little larger.
///
/// ```
/// use ws_server::Limits;
/// let limits = Limits::DEFAULT.with_max_payload(64 * 1024).with_max_frames(16);
/// assert_eq!(limits.max_payload(), 65536);
/// assert_eq!(limits.max_message(), Limits::DEFAULT.max_message());
/// // Unset, the frame limit follows the message limit.
/// let small = Limits::DEFAULT.with_max_message(1 << 16);
/// assert!(small.max_payload() > 1 << 16 && small.max_payload() < 1 << 17);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `None`: derived from `max_message`.
    max_payload: Option<usize>,
    max_frames: usize,
    max_message: usize,
}

impl Limits {
    /// The defaults: messages up to 4 MiB in at most 1024 frames, a frame up to what such
    /// a message takes, compressed or not (4.5 MiB).
    pub const DEFAULT: Limits = Limits {
        max_payload: None,
        max_frames: 1024,
        max_message: 4 << 20,
    };

    /// The largest payload of one frame, in bytes. Default: `max_message`, plus an eighth
    /// and 64 bytes for what compressing data that does not compress adds (deflate's fixed
    /// codes take at most 9 bits a byte).
    pub const fn with_max_payload(mut self, bytes: usize) -> Limits {
        self.max_payload = Some(bytes);
        self
    }

    /// The most frames one message may arrive in, the first frame included. Default 1024.
    pub const fn with_max_frames(mut self, frames: usize) -> Limits {
        self.max_frames = frames;
        self
    }

    /// The largest reassembled message, in bytes. Default 4 MiB.
    pub const fn with_max_message(mut self, bytes: usize) -> Limits {
        self.max_message = bytes;
        self
    }

    /// Whether a message of `len` bytes may arrive as one frame.
    #[inline]
    pub(crate) const fn admits_one_frame_message(&self, len: usize) -> bool {
        len <= self.max_payload() && len <= self.max_message && self.max_frames >= 1
    }

    /// The frame payload limit.
    pub const fn max_payload(&self) -> usize {
        match self.max_payload {
            Some(bytes) => bytes,
            None => self
                .max_message
                .saturating_add(self.max_message / 8)
                .saturating_add(64),
        }
    }

    /// The frames-per-message limit.
    pub const fn max_frames(&self) -> usize {
        self.max_frames
    }

    /// The message size limit.
    pub const fn max_message(&self) -> usize {
        self.max_message
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}
