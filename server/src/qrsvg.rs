//! A QR code of any short text as a small SVG (issue 26: the city console shows a new staff ID's
//! `otpauth://` URI and a device enrollment code as codes to scan, not only as text). The symbol
//! has the four-module quiet zone; one path, black on white, scaled by the page.

use qrcodegen::{QrCode, QrCodeEcc};
use std::fmt::Write as _;

/// `text` as an SVG document (`None` if it is too long for a QR code).
pub fn svg(text: &str) -> Option<String> {
    let code = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    const QUIET: i32 = 4;
    let size = code.size();
    let full = size + 2 * QUIET;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if code.get_module(x, y) {
                let _ = write!(path, "M{},{}h1v1h-1z", x + QUIET, y + QUIET);
            }
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {full} {full}\" shape-rendering=\"crispEdges\"><rect width=\"{full}\" height=\"{full}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_svg_with_a_quiet_zone() {
        let s = super::svg("otpauth://totp/Kyukit:admin?secret=ABC").unwrap();
        assert!(
            s.starts_with("<svg") && s.contains("viewBox=\"0 0 ") && s.contains("M4,4h1v1h-1z")
        );
        assert!(super::svg(&"x".repeat(5000)).is_none());
    }
}
