//! permessage-deflate (RFC 7692): negotiation, and the compressor and inflater behind it.

mod compress;
mod inflate;
mod negotiate;

#[cfg(test)]
mod tests;

pub use compress::compress;
pub use inflate::Inflater;
pub use negotiate::negotiate_deflate;

/// The permessage-deflate parameters agreed with one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after each message (always, here).
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message, so the server's inflater can
    /// be dropped between messages.
    pub client_no_context_takeover: bool,
    /// The server's window, in bits (9 to 15).
    pub server_max_window_bits: u8,
    /// The client's window, in bits (8 to 15).
    pub client_max_window_bits: u8,
}

/// The bytes a sync flush ends with, which permessage-deflate leaves out of each message.
pub(crate) const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
