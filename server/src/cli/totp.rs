//! The staff second factor on the terminal: `kyukit admin create` shows the `otpauth://` URI as a
//! QR code an authenticator app scans, and `kyukit totp --secret …` prints the current code for a
//! secret (for testing and scripted set-ups; people use an authenticator app).

use crate::service::security;
use clap::Args;
use qrcodegen::{QrCode, QrCodeEcc};
use std::fmt::Write as _;

#[derive(Debug, Args)]
pub struct TotpArgs {
    /// The base32 secret `kyukit admin create` (or the staff API) printed.
    #[arg(long, env = "KYUKIT_TOTP_SECRET", hide_env_values = true)]
    secret: String,
    /// The time to compute the code for (RFC 3339); default now.
    #[arg(long)]
    at: Option<String>,
}

pub fn run(args: TotpArgs, now: i64) -> Result<(), String> {
    let at = match &args.at {
        Some(s) => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|e| format!("--at {s}: not an RFC 3339 time ({e})"))?
            .unix_timestamp(),
        None => now,
    };
    let secret: String = args.secret.chars().filter(|c| !c.is_whitespace()).collect();
    let secret = secret.to_ascii_uppercase();
    if data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .is_err()
    {
        return Err("--secret: not a base32 TOTP secret (A–Z, 2–7, no padding)".into());
    }
    let code = security::code_at(&secret, at).map_err(|e| e.to_string())?;
    println!("{code}");
    Ok(())
}

/// `text` as a QR code drawn with Unicode half blocks, two modules per character cell, with the
/// four-module quiet zone ISO/IEC 18004 asks for. Dark modules are spaces and light ones are
/// blocks, and when `ansi` the code is drawn black on white, so a phone reads it on a dark terminal
/// as on a light one.
pub fn terminal_qr(text: &str, ansi: bool) -> Result<String, String> {
    let code = QrCode::encode_text(text, QrCodeEcc::Medium)
        .map_err(|_| "too long for a QR code".to_string())?;
    const QUIET: i32 = 4;
    let size = code.size();
    // Outside the symbol, everything is light.
    let dark = |x: i32, y: i32| code.get_module(x, y);
    let mut out = String::new();
    let mut y = -QUIET;
    while y < size + QUIET {
        if ansi {
            out.push_str("\x1b[30;47m");
        }
        for x in -QUIET..size + QUIET {
            let cell = match (dark(x, y), dark(x, y + 1)) {
                (true, true) => ' ',
                (true, false) => '▄',
                (false, true) => '▀',
                (false, false) => '█',
            };
            out.push(cell);
        }
        if ansi {
            out.push_str("\x1b[0m");
        }
        let _ = writeln!(out);
        y += 2;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The drawn code decodes with an independent decoder (rqrr) to the text it was drawn from.
    #[test]
    fn the_terminal_qr_code_decodes_to_its_text() {
        let uri = security::provisioning_uri("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "admin@city");
        let drawn = terminal_qr(&uri, false).unwrap();
        // Each character is two modules high: light = a block's half, dark = a space's half.
        let rows: Vec<Vec<char>> = drawn.lines().map(|l| l.chars().collect()).collect();
        let width = rows[0].len();
        let scale = 4usize;
        let height = rows.len() * 2;
        let img =
            image::GrayImage::from_fn((width * scale) as u32, (height * scale) as u32, |px, py| {
                let (x, y) = (px as usize / scale, py as usize / scale);
                let c = rows[y / 2][x];
                let top = y % 2 == 0;
                let light = match c {
                    '█' => true,
                    ' ' => false,
                    '▀' => top,
                    '▄' => !top,
                    other => panic!("unexpected {other:?}"),
                };
                image::Luma([if light { 255 } else { 0 }])
            });
        let mut prepared = rqrr::PreparedImage::prepare(img);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, content) = grids[0].decode().unwrap();
        assert_eq!(content, uri);
    }

    #[test]
    fn ansi_colours_frame_each_line() {
        let drawn = terminal_qr("otpauth://totp/x?secret=AAAA", true).unwrap();
        assert!(
            drawn
                .lines()
                .all(|l| l.starts_with("\x1b[30;47m") && l.ends_with("\x1b[0m"))
        );
    }
}
