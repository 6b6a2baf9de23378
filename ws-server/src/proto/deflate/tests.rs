//! Negotiation over RFC 7692's examples and edge cases; compression round trips; the
//! inflater's limit.

use super::{Inflater, compress, negotiate_deflate};
use crate::{Compression, proto::ProtocolError};

fn negotiate(offers: &[&str]) -> Option<String> {
    negotiate_deflate(offers.iter().copied(), &Compression::DEFAULT).map(|(_, response)| response)
}

const BASE: &str = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

#[test]
fn plain_offers_are_accepted() {
    assert_eq!(negotiate(&["permessage-deflate"]).as_deref(), Some(BASE));
    assert_eq!(negotiate(&["PerMessage-Deflate"]).as_deref(), Some(BASE));
    assert_eq!(negotiate(&["x-webkit-deflate-frame"]), None);
    assert_eq!(negotiate(&[]), None);
    assert_eq!(
        negotiate(&["foo, permessage-deflate"]).as_deref(),
        Some(BASE)
    );
}

#[test]
fn the_rfc_examples_negotiate() {
    // RFC 7692 section 7.1.3: client_max_window_bits without a value.
    let (params, response) = negotiate_deflate(
        ["permessage-deflate; client_max_window_bits"],
        &Compression::DEFAULT,
    )
    .unwrap();
    assert_eq!(response, BASE, "15 bits is what the client assumes anyway");
    assert_eq!(params.client_max_window_bits, 15);
    // Two offers, the first with a server window the server accepts.
    let (params, response) = negotiate_deflate(
        ["permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits"],
        &Compression::DEFAULT,
    )
    .unwrap();
    assert_eq!(params.server_max_window_bits, 10);
    assert_eq!(
        response,
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_no_context_takeover"
    );
}

#[test]
fn window_bits_follow_the_smaller_side() {
    let small = Compression::DEFAULT.with_window_bits(11);
    let (params, response) = negotiate_deflate(
        ["permessage-deflate; server_max_window_bits=13; client_max_window_bits=12"],
        &small,
    )
    .unwrap();
    assert_eq!(
        (params.server_max_window_bits, params.client_max_window_bits),
        (11, 11)
    );
    assert!(response.contains("server_max_window_bits=11"));
    assert!(response.contains("client_max_window_bits=11"));
    // A client that did not offer client_max_window_bits cannot be limited.
    let (params, response) = negotiate_deflate(["permessage-deflate"], &small).unwrap();
    assert_eq!(params.client_max_window_bits, 15);
    assert!(!response.contains("client_max_window_bits"));
    // Quoted values are values too.
    let (params, _) = negotiate_deflate(
        ["permessage-deflate; server_max_window_bits=\"12\""],
        &Compression::DEFAULT,
    )
    .unwrap();
    assert_eq!(params.server_max_window_bits, 12);
}

#[test]
fn a_bad_offer_falls_back_to_the_next_one() {
    for bad in [
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits=1x",
        "permessage-deflate; client_max_window_bits=0",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=11",
        "permessage-deflate; unknown_parameter",
        "permessage-deflate; =10",
        // The server cannot compress with an 8-bit window.
        "permessage-deflate; server_max_window_bits=8",
    ] {
        assert_eq!(negotiate(&[bad]), None, "{bad}");
        assert_eq!(
            negotiate(&[&format!("{bad}, permessage-deflate")]).as_deref(),
            Some(BASE),
            "{bad}"
        );
    }
    // An unterminated quote spoils the rest of the header.
    assert_eq!(
        negotiate(&["permessage-deflate; server_max_window_bits=\"10, permessage-deflate"]),
        None
    );
    // Offers may be spread over several header lines.
    assert_eq!(
        negotiate(&["permessage-deflate; bogus", "permessage-deflate"]).as_deref(),
        Some(BASE)
    );
}

#[test]
fn disabled_compression_is_a_server_choice_the_caller_makes() {
    // negotiate_deflate only reads offers; the upgrade skips it when compression is off.
    let takeover = Compression::DEFAULT.with_client_context_takeover(true);
    let (params, response) = negotiate_deflate(["permessage-deflate"], &takeover).unwrap();
    assert!(!params.client_no_context_takeover);
    assert_eq!(response, "permessage-deflate; server_no_context_takeover");
    let (params, _) = negotiate_deflate(
        ["permessage-deflate; client_no_context_takeover"],
        &takeover,
    )
    .unwrap();
    assert!(
        params.client_no_context_takeover,
        "the client's own choice stands"
    );
}

fn round_trip(data: &[u8], bits: u8) -> Vec<u8> {
    let compressed = compress(data, bits, 1);
    let mut inflater = Inflater::new(bits);
    let mut out = Vec::new();
    inflater.inflate(&compressed, &mut out, usize::MAX).unwrap();
    inflater.finish_message(&mut out, usize::MAX).unwrap();
    out
}

#[test]
fn compressed_messages_inflate_back_for_every_window() {
    let text: Vec<u8> = b"the quick brown fox jumps over the lazy dog "
        .iter()
        .copied()
        .cycle()
        .take(100_000)
        .collect();
    let noise: Vec<u8> = (0..70_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for bits in 9..=15 {
        for data in [&b""[..], b"x", &text, &noise] {
            assert_eq!(
                round_trip(data, bits),
                data,
                "{bits} bits, {} bytes",
                data.len()
            );
        }
    }
    assert!(compress(&text, 15, 1).len() < text.len() / 10);
}

#[test]
fn inflating_stops_at_the_limit() {
    // 10 MB of zeros compress to about 10 KB: a decompression bomb for a 1 MB limit.
    let bomb = compress(&vec![0u8; 10_000_000], 15, 9);
    assert!(bomb.len() < 20_000);
    let mut inflater = Inflater::new(15);
    let mut out = Vec::new();
    let result = inflater.inflate(&bomb, &mut out, 1_000_000);
    assert_eq!(
        result,
        Err(ProtocolError::MessageTooLarge { max: 1_000_000 })
    );
    assert!(
        out.capacity() <= 1_000_000 + 32 * 1024 + 1,
        "allocated {}",
        out.capacity()
    );
    // Exactly at the limit is fine.
    let exact = compress(&vec![7u8; 1000], 15, 1);
    let mut out = Vec::new();
    let mut inflater = Inflater::new(15);
    inflater.inflate(&exact, &mut out, 1000).unwrap();
    inflater.finish_message(&mut out, 1000).unwrap();
    assert_eq!(out.len(), 1000);
}

#[test]
fn garbage_is_a_compression_error() {
    let mut inflater = Inflater::new(15);
    let mut out = Vec::new();
    assert_eq!(
        inflater.inflate(&[0xff, 0xff, 0xff, 0xff], &mut out, 1000),
        Err(ProtocolError::BadCompression)
    );
}

#[test]
fn an_eight_bit_client_window_is_inflated() {
    let (params, response) = negotiate_deflate(
        ["permessage-deflate; client_max_window_bits=8"],
        &Compression::DEFAULT,
    )
    .unwrap();
    assert_eq!(params.client_max_window_bits, 8);
    assert!(response.ends_with("client_max_window_bits=8"));
    let data = b"eight bits of window, eight bits of window".repeat(10);
    let compressed = compress(&data, 9, 1);
    let mut inflater = Inflater::new(8);
    let mut out = Vec::new();
    inflater.inflate(&compressed, &mut out, usize::MAX).unwrap();
    inflater.finish_message(&mut out, usize::MAX).unwrap();
    assert_eq!(out, data);
}

/// From the inflater fuzz target: a stream whose end (with the tail the sender left out)
/// inflates one byte under a limit of zero is refused, and nothing past the limit's one
/// byte of slack is allocated.
#[test]
fn an_overflow_by_one_byte_is_refused() {
    let mut inflater = Inflater::new(8);
    let mut out = Vec::new();
    assert_eq!(inflater.inflate(&[0x4a], &mut out, 0), Ok(()));
    assert_eq!(
        inflater.finish_message(&mut out, 0),
        Err(ProtocolError::MessageTooLarge { max: 0 })
    );
    assert!(out.capacity() <= 1);
}
