//! Packing bytes as decimal digits for the QR numeric mode.
//!
//! Bytes are taken in chunks of 7 (56 bits), each written as exactly 17 decimal digits
//! (2^56 < 10^17). A final chunk of n < 7 bytes is written as `TAIL_DIGITS[n]` digits, the fewest that
//! can hold 2^(8n) values. QR numeric mode stores 3 digits in 10 bits, so a byte costs
//! 17/7 × 10/3 ≈ 8.10 bits: as dense as byte mode, but every character is URL-safe.

use crate::CardError;

const CHUNK_BYTES: usize = 7;
const CHUNK_DIGITS: usize = 17;
/// Digits for a final chunk of n bytes (index n).
const TAIL_DIGITS: [usize; CHUNK_BYTES] = [0, 3, 5, 8, 10, 13, 15];

/// Number of digits `bytes_to_digits` produces for `len` bytes.
pub fn digits_len(len: usize) -> usize {
    (len / CHUNK_BYTES) * CHUNK_DIGITS + TAIL_DIGITS[len % CHUNK_BYTES]
}

/// Writes `bytes` as decimal digits (ASCII `0`–`9`).
pub fn bytes_to_digits(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(digits_len(bytes.len()));
    for chunk in bytes.chunks(CHUNK_BYTES) {
        let value = chunk.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let width = if chunk.len() == CHUNK_BYTES {
            CHUNK_DIGITS
        } else {
            TAIL_DIGITS[chunk.len()]
        };
        push_padded(&mut out, value, width);
    }
    out
}

fn push_padded(out: &mut String, value: u64, width: usize) {
    let mut buf = [b'0'; CHUNK_DIGITS];
    let mut v = value;
    for slot in buf[..width].iter_mut().rev() {
        // `v % 10` is < 10, so the cast cannot truncate.
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend(buf[..width].iter().map(|b| char::from(*b)));
}

/// Reads digits written by [`bytes_to_digits`]. Rejects non-digits, impossible lengths and chunk
/// values that do not fit their byte count, so every byte string has exactly one digit form.
pub fn digits_to_bytes(digits: &str) -> Result<Vec<u8>, CardError> {
    let d = digits.as_bytes();
    if !d.iter().all(u8::is_ascii_digit) {
        return Err(CardError::encoding(
            "card digits contain a non-digit character",
        ));
    }
    let full = d.len() / CHUNK_DIGITS;
    let rem = d.len() % CHUNK_DIGITS;
    let tail_bytes = TAIL_DIGITS.iter().position(|&n| n == rem).ok_or_else(|| {
        CardError::encoding(format!("{} digits is not a valid card length", d.len()))
    })?;
    let mut out = Vec::with_capacity(full * CHUNK_BYTES + tail_bytes);
    for (i, chunk) in d.chunks(CHUNK_DIGITS).enumerate() {
        let nbytes = if i < full { CHUNK_BYTES } else { tail_bytes };
        let value = chunk
            .iter()
            .fold(0u64, |acc, c| acc * 10 + u64::from(c - b'0'));
        if value >> (8 * nbytes) != 0 {
            return Err(CardError::encoding("card digits out of range"));
        }
        out.extend_from_slice(&value.to_be_bytes()[8 - nbytes..]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tail_widths_are_minimal() {
        for (n, &w) in TAIL_DIGITS.iter().enumerate().skip(1) {
            let max = (1u128 << (8 * n)) - 1;
            assert!(max < 10u128.pow(w as u32), "{n} bytes fit {w} digits");
            assert!(max >= 10u128.pow(w as u32 - 1), "{n} bytes need {w} digits");
        }
        assert!((1u128 << 56) <= 10u128.pow(17));
    }

    #[test]
    fn known_values() {
        assert_eq!(bytes_to_digits(&[]), "");
        assert_eq!(bytes_to_digits(&[0xff]), "255");
        assert_eq!(bytes_to_digits(&[0, 1]), "00001");
        assert_eq!(bytes_to_digits(&[0xff; 7]), "72057594037927935");
        assert_eq!(digits_to_bytes("72057594037927935").unwrap(), vec![0xff; 7]);
    }

    #[test]
    fn rejects_bad_digits() {
        assert!(digits_to_bytes("256").is_err(), "256 does not fit one byte");
        assert!(
            digits_to_bytes("12").is_err(),
            "2 digits is no valid length"
        );
        assert!(digits_to_bytes("12a").is_err());
        assert!(
            digits_to_bytes("72057594037927936").is_err(),
            "2^56 does not fit 7 bytes"
        );
        assert!(digits_to_bytes("99999999999999999").is_err());
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let d = bytes_to_digits(&bytes);
            prop_assert_eq!(d.len(), digits_len(bytes.len()));
            prop_assert_eq!(digits_to_bytes(&d).unwrap(), bytes);
        }
    }
}
