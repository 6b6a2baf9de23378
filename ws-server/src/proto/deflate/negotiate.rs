//! Negotiating permessage-deflate (RFC 7692 section 7.1): reading the client's offers in
//! `Sec-WebSocket-Extensions` and writing the server's answer.

use super::DeflateParams;
use crate::Compression;

/// The extension's registered name.
const NAME: &str = "permessage-deflate";

/// Picks the first acceptable permessage-deflate offer among the values of every
/// `Sec-WebSocket-Extensions` header, in order. Returns the agreed parameters and the
/// response header value, or `None` (no compression) if no offer is acceptable.
///
/// An offer is unacceptable if a parameter is unknown, repeated or has an invalid value,
/// or if it demands an 8-bit server window, which zlib cannot compress with.
///
/// ```
/// use ws_server::{Compression, proto::negotiate_deflate};
///
/// let offer = "permessage-deflate; client_max_window_bits, permessage-deflate";
/// let (params, response) = negotiate_deflate([offer], &Compression::DEFAULT).unwrap();
/// assert_eq!(params.client_max_window_bits, 15);
/// assert_eq!(
///     response,
///     "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
/// );
/// ```
pub fn negotiate_deflate<'a>(
    headers: impl IntoIterator<Item = &'a str>,
    config: &Compression,
) -> Option<(DeflateParams, String)> {
    headers
        .into_iter()
        .flat_map(|value| split_outside_quotes(value, ','))
        .filter_map(parse_extension)
        .filter(|(name, _)| name.eq_ignore_ascii_case(NAME))
        .find_map(|(_, params)| accept(&params?, config))
}

/// One extension of the list: its name, and its parameters (`None` if malformed).
type Extension<'a> = (&'a str, Option<Vec<(&'a str, Option<String>)>>);

fn parse_extension(element: &str) -> Option<Extension<'_>> {
    let mut parts = split_outside_quotes(element, ';');
    let name = parts.next()?.trim();
    if name.is_empty() {
        // An empty list element, allowed by the `#` rule.
        return None;
    }
    if !is_token(name) {
        return Some((name, None));
    }
    let params = parts.map(parse_param).collect::<Option<Vec<_>>>();
    Some((name, params))
}

/// `key` or `key=value`, where the value is a token or a quoted string.
fn parse_param(param: &str) -> Option<(&str, Option<String>)> {
    let (key, value) = match param.split_once('=') {
        Some((key, value)) => (key.trim(), Some(value.trim())),
        None => (param.trim(), None),
    };
    if !is_token(key) {
        return None;
    }
    let value = match value {
        None => None,
        Some(value) if value.starts_with('"') => Some(unquote(value)?),
        Some(value) if is_token(value) => Some(value.to_owned()),
        Some(_) => return None,
    };
    Some((key, value))
}

/// The content of a quoted string, with its escapes resolved.
fn unquote(quoted: &str) -> Option<String> {
    let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Splits at `separator`, except inside quoted strings.
fn split_outside_quotes(text: &str, separator: char) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        let mut quoted = false;
        let mut escaped = false;
        for (i, c) in text.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                c if c == separator && !quoted => {
                    rest = Some(&text[i + 1..]);
                    return Some(&text[..i]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(text)
    })
}

/// A window size parameter: a decimal 8 to 15 without leading zeros.
fn window_bits(value: &str) -> Option<u8> {
    if value.starts_with('0') || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok().filter(|bits| (8..=15).contains(bits))
}

/// Accepts one offer if its parameters are valid and compatible with `config`.
fn accept(
    params: &[(&str, Option<String>)],
    config: &Compression,
) -> Option<(DeflateParams, String)> {
    let mut client_no_context_takeover = false;
    let mut server_window: Option<u8> = None;
    let mut client_window: Option<Option<u8>> = None;
    for (i, (key, value)) in params.iter().enumerate() {
        if params[..i].iter().any(|(seen, _)| seen == key) {
            return None;
        }
        match (*key, value.as_deref()) {
            // Granted whatever the offer says: see below.
            ("server_no_context_takeover", None) => {}
            ("client_no_context_takeover", None) => client_no_context_takeover = true,
            ("server_max_window_bits", Some(value)) => server_window = Some(window_bits(value)?),
            ("client_max_window_bits", None) => client_window = Some(None),
            ("client_max_window_bits", Some(value)) => {
                client_window = Some(Some(window_bits(value)?));
            }
            _ => return None,
        }
    }
    let mut response = String::from(NAME);
    // The server resets its compressor after every message (a compressor is then shared
    // by all connections and a broadcast compressed once), so it always says so.
    response.push_str("; server_no_context_takeover");
    let mut server_max_window_bits = config.window_bits();
    if let Some(requested) = server_window {
        if requested < 9 {
            return None;
        }
        server_max_window_bits = server_max_window_bits.min(requested);
        response.push_str(&format!(
            "; server_max_window_bits={server_max_window_bits}"
        ));
    }
    let client_no_context_takeover =
        client_no_context_takeover || !config.client_context_takeover();
    if client_no_context_takeover {
        response.push_str("; client_no_context_takeover");
    }
    let client_max_window_bits = match client_window {
        // Without the parameter in the offer the client may not be limited.
        None => 15,
        Some(offered) => {
            let bits = config.client_window_bits().min(offered.unwrap_or(15));
            if bits < 15 || offered.is_some() {
                response.push_str(&format!("; client_max_window_bits={bits}"));
            }
            bits
        }
    };
    let params = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover,
        server_max_window_bits,
        client_max_window_bits,
    };
    Some((params, response))
}
