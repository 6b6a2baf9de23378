//! Arbitrary `Sec-WebSocket-Extensions` values through the permessage-deflate negotiation:
//! an accepted offer must give parameters in range and a valid header value.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ws_server::{Compression, proto::negotiate_deflate};

#[derive(Debug, Arbitrary)]
struct Input {
    window_bits: u8,
    client_window_bits: u8,
    client_takeover: bool,
    headers: Vec<String>,
}

fuzz_target!(|input: Input| {
    let server_bits = 9 + input.window_bits % 7;
    let client_bits = 9 + input.client_window_bits % 7;
    let config = Compression::DEFAULT
        .with_window_bits(server_bits)
        .with_client_window_bits(client_bits)
        .with_client_context_takeover(input.client_takeover);
    let offers = input.headers.iter().map(String::as_str);
    let Some((params, response)) = negotiate_deflate(offers, &config) else {
        return;
    };
    assert!((9..=server_bits).contains(&params.server_max_window_bits));
    assert!((8..=client_bits).contains(&params.client_max_window_bits));
    assert!(params.server_no_context_takeover);
    assert!(input.client_takeover || params.client_no_context_takeover);
    assert!(
        response
            .bytes()
            .all(|byte| byte == b' ' || byte.is_ascii_graphic()),
        "not a header value: {response:?}"
    );
    // The answer, read back as an offer, is acceptable and agrees with itself.
    let (again, _) = negotiate_deflate([response.as_str()], &config).expect("answer re-read");
    assert_eq!(again.server_max_window_bits, params.server_max_window_bits);
});
