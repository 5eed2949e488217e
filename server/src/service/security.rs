//! Staff second factor (RULES R7): TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, ±1 step
//! of clock drift), computed by the `totp-rs` crate from the injected clock. Each accepted step is
//! recorded so a code is never accepted twice (RFC 6238 §5.2). Also the lockout policy.

use crate::service::error::DomainError;
use totp_rs::{Algorithm, Builder, Totp};

/// Consecutive failed logins (password or second factor) before the account is locked.
pub const LOCK_AFTER_FAILURES: i32 = 5;
/// How long a locked account stays locked.
pub const LOCK_SECS: i64 = 15 * 60;
pub const ISSUER: &str = "Kyukit";

/// A new TOTP secret: 160 random bits (RFC 4226 §4 recommends 160), base32 without padding.
pub fn new_totp_secret() -> Result<String, DomainError> {
    let mut raw = [0u8; 20];
    getrandom::fill(&mut raw).map_err(|e| DomainError::internal(format!("no randomness: {e}")))?;
    Ok(data_encoding::BASE32_NOPAD.encode(&raw))
}

fn totp(secret_b32: &str) -> Result<Totp, DomainError> {
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret_b32.as_bytes())
        .map_err(|_| DomainError::internal("stored TOTP secret is not base32"))?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .build()
        .map_err(|e| DomainError::internal(format!("TOTP: {e:?}")))
}

/// The `otpauth://` URI authenticator apps read (as a QR code or typed).
pub fn provisioning_uri(secret_b32: &str, login_id: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    format!(
        "otpauth://totp/{ISSUER}:{}?secret={secret_b32}&issuer={ISSUER}&algorithm=SHA1&digits=6&period=30",
        enc(login_id)
    )
}

/// The step of a valid code for `now`, if `code` is valid and its step is after `last_step`.
pub fn check_code(
    secret_b32: &str,
    code: &str,
    now: i64,
    last_step: Option<i64>,
) -> Result<Option<i64>, DomainError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let t = totp(secret_b32)?;
    let Some(step) = t.check(&code, u64::try_from(now).unwrap_or(0)) else {
        return Ok(None);
    };
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    Ok(last_step.is_none_or(|last| step > last).then_some(step))
}

/// The current code (for the CLI's self-test and for tests).
pub fn code_at(secret_b32: &str, now: i64) -> Result<String, DomainError> {
    Ok(totp(secret_b32)?
        .generate(u64::try_from(now).unwrap_or(0))
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (8 digits there; the last 6 digits are the 6-digit code,
    /// since both are the same truncated value mod 10^n).
    #[test]
    fn rfc6238_vectors() {
        let secret = data_encoding::BASE32_NOPAD.encode(b"12345678901234567890");
        for (time, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            assert_eq!(code_at(&secret, time).unwrap(), &eight[2..], "t={time}");
        }
    }

    #[test]
    fn codes_are_single_use_and_drift_is_bounded() {
        let s = new_totp_secret().unwrap();
        let now = 1_795_219_200;
        let code = code_at(&s, now).unwrap();
        let step = check_code(&s, &code, now, None).unwrap().unwrap();
        assert_eq!(
            check_code(&s, &code, now, Some(step)).unwrap(),
            None,
            "replayed code"
        );
        assert!(
            check_code(&s, &code, now + 30, None).unwrap().is_some(),
            "one step of drift"
        );
        assert_eq!(
            check_code(&s, &code, now + 90, None).unwrap(),
            None,
            "too old"
        );
        assert_eq!(check_code(&s, "12345", now, None).unwrap(), None);
        assert!(
            provisioning_uri(&s, "medic.1@joso")
                .starts_with("otpauth://totp/Kyukit:medic.1%40joso?secret=")
        );
    }
}
