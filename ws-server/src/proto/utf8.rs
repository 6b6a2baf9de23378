//! Streaming UTF-8 validation that fails on the first invalid byte.

/// Validates UTF-8 fed in arbitrary pieces (partial frames, fragments), rejecting input as
/// soon as a byte makes it invalid rather than when the message ends.
///
/// A code point split between two pieces is carried over (at most three bytes).
///
/// ```
/// use ws_server::proto::Utf8Validator;
/// let mut v = Utf8Validator::default();
/// let euro = "€".as_bytes(); // e2 82 ac
/// assert!(v.feed(&euro[..1]).is_ok());
/// assert!(v.feed(&euro[1..]).is_ok());
/// assert!(v.finish().is_ok());
///
/// let mut v = Utf8Validator::default();
/// assert!(v.feed(&[0xf4]).is_ok()); // a valid prefix so far
/// assert!(v.feed(&[0x90]).is_err()); // beyond U+10FFFF: rejected at once
/// ```
#[derive(Debug, Default, Clone)]
pub struct Utf8Validator {
    partial: [u8; 4],
    partial_len: usize,
}

/// The input is not valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid utf-8")]
pub struct InvalidUtf8;

impl Utf8Validator {
    /// Forgets any carried-over bytes, for the start of a new message.
    pub fn reset(&mut self) {
        self.partial_len = 0;
    }

    /// Validates the next piece of input.
    ///
    /// # Errors
    /// [`InvalidUtf8`] as soon as the input seen so far cannot be the start of valid UTF-8.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), InvalidUtf8> {
        if self.partial_len > 0 {
            let width = char_width(self.partial[0]);
            let take = (width - self.partial_len).min(input.len());
            self.partial[self.partial_len..self.partial_len + take].copy_from_slice(&input[..take]);
            let len = self.partial_len + take;
            match simdutf8::compat::from_utf8(&self.partial[..len]) {
                Ok(_) => self.partial_len = 0,
                Err(e) if e.error_len().is_none() => {
                    // Still a valid prefix and `input` is used up.
                    self.partial_len = len;
                    return Ok(());
                }
                Err(_) => return Err(InvalidUtf8),
            }
            input = &input[take..];
        }
        match simdutf8::compat::from_utf8(input) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = &input[e.valid_up_to()..];
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = tail.len();
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// Checks that the input did not end in the middle of a code point.
    ///
    /// # Errors
    /// [`InvalidUtf8`] if bytes of an unfinished code point are pending.
    pub fn finish(&self) -> Result<(), InvalidUtf8> {
        if self.partial_len == 0 {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }
}

/// The length of the sequence a valid leading byte starts.
fn char_width(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn byte_by_byte(bytes: &[u8]) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::default();
        for b in bytes {
            v.feed(std::slice::from_ref(b))?;
        }
        v.finish()
    }

    #[test]
    fn agrees_with_std_for_every_split_point() {
        let samples: [&[u8]; 8] = [
            "κόσμε".as_bytes(),
            "Hello-µ@ßöäüàá-UTF-8!!".as_bytes(),
            "\u{10FFFF}\u{FFFF}\u{800}".as_bytes(),
            &[
                0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xf4, 0x90, 0x80,
                0x80,
            ],
            &[0xed, 0xa0, 0x80], // a surrogate
            &[0xc0, 0xaf],       // overlong
            &[0xe2, 0x82],       // truncated at the end
            &[0x61, 0xff, 0x61], // never valid
        ];
        for sample in samples {
            let expected = std::str::from_utf8(sample).is_ok();
            for split in 0..=sample.len() {
                let mut v = Utf8Validator::default();
                let result = v
                    .feed(&sample[..split])
                    .and_then(|()| v.feed(&sample[split..]))
                    .and_then(|()| v.finish());
                assert_eq!(result.is_ok(), expected, "{sample:x?} split at {split}");
            }
            assert_eq!(
                byte_by_byte(sample).is_ok(),
                expected,
                "{sample:x?} byte by byte"
            );
        }
    }

    #[test]
    fn fails_on_the_first_invalid_byte_not_at_the_end() {
        let mut v = Utf8Validator::default();
        v.feed("κόσμε".as_bytes()).expect("valid prefix");
        assert_eq!(v.feed(&[0xf4]), Ok(()));
        assert_eq!(v.feed(&[0x90]), Err(InvalidUtf8));
    }

    #[test]
    fn reset_forgets_a_pending_code_point() {
        let mut v = Utf8Validator::default();
        v.feed(&[0xe2, 0x82]).expect("prefix");
        assert!(v.finish().is_err());
        v.reset();
        assert!(v.finish().is_ok());
    }
}
