//! QR encoding and rendering of a card URL.
//!
//! The URL is written as two segments: the base in alphanumeric mode (or byte mode if it is not
//! alphanumeric) and the card digits in numeric mode. The smallest version that holds the data at
//! the requested error-correction level is chosen, then the level is raised as far as that version
//! allows, so spare capacity becomes damage tolerance. Rendering is done here rather than by the
//! `qrcode` crate's renderers so that the module size and quiet zone are both configurable.

use crate::CardError;
use crate::url::is_qr_alphanumeric;
use image::{GrayImage, ImageEncoder, Luma};
use qrcode::bits::Bits;
use qrcode::{Color, QrCode, Version};
use serde::Serialize;
use std::fmt::Write as _;

/// QR error-correction level (recovers roughly 7, 15, 25, 30 % of codewords).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum EcLevel {
    L,
    M,
    Q,
    H,
}

impl EcLevel {
    fn to_qr(self) -> qrcode::EcLevel {
        match self {
            EcLevel::L => qrcode::EcLevel::L,
            EcLevel::M => qrcode::EcLevel::M,
            EcLevel::Q => qrcode::EcLevel::Q,
            EcLevel::H => qrcode::EcLevel::H,
        }
    }
    const ALL: [EcLevel; 4] = [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H];
}

/// How a card URL was laid out in a QR symbol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QrLayout {
    /// QR version, 1–40.
    pub version: u8,
    pub ec_level: EcLevel,
    /// Modules per side, without quiet zone.
    pub modules: usize,
    /// `alphanumeric` or `byte`: the mode of the base-URL segment.
    pub prefix_mode: &'static str,
    pub prefix_chars: usize,
    /// Length of the numeric segment.
    pub digits: usize,
    /// Data bits used (mode indicators, counts and data) and the symbol's data capacity in bits.
    pub data_bits: usize,
    pub capacity_bits: usize,
}

/// A QR symbol carrying a card URL.
#[derive(Clone)]
pub struct CardQr {
    code: QrCode,
    layout: QrLayout,
}

impl std::fmt::Debug for CardQr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardQr")
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

/// Largest module size and quiet zone accepted by the renderers (bounds memory).
pub const MAX_MODULE_PX: u32 = 64;
pub const MAX_QUIET_ZONE: u32 = 32;

fn segment_bits(
    version: u8,
    prefix: &str,
    alnum: bool,
    digits: &str,
    ec: EcLevel,
) -> Option<(Bits, usize, usize)> {
    let mut bits = Bits::new(Version::Normal(i16::from(version)));
    let pushed = if alnum {
        bits.push_alphanumeric_data(prefix.as_bytes())
    } else {
        bits.push_byte_data(prefix.as_bytes())
    };
    pushed.ok()?;
    bits.push_numeric_data(digits.as_bytes()).ok()?;
    let used = bits.len();
    let capacity = bits.max_len(ec.to_qr()).ok()?;
    bits.push_terminator(ec.to_qr()).ok()?;
    Some((bits, used, capacity))
}

impl CardQr {
    /// Encodes a card URL at error-correction level `min_ec` or higher in the smallest version.
    pub fn encode(url: &str, min_ec: EcLevel) -> Result<Self, CardError> {
        let cut = url.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (prefix, digits) = url.split_at(cut);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardError::encoding("a card URL ends in the card's digits"));
        }
        let alnum = is_qr_alphanumeric(prefix);
        let (version, fitted) = (1u8..=40)
            .find_map(|v| segment_bits(v, prefix, alnum, digits, min_ec).map(|f| (v, f)))
            .ok_or_else(|| CardError::encoding("card URL too long for any QR version"))?;
        // Raise the error-correction level while the same version still holds the data.
        let (ec, (bits, used, capacity)) = EcLevel::ALL
            .into_iter()
            .filter(|ec| *ec > min_ec)
            .filter_map(|ec| segment_bits(version, prefix, alnum, digits, ec).map(|f| (ec, f)))
            .next_back()
            .unwrap_or((min_ec, fitted));
        let code = QrCode::with_bits(bits, ec.to_qr())
            .map_err(|e| CardError::encoding(format!("QR: {e}")))?;
        let layout = QrLayout {
            version,
            ec_level: ec,
            modules: code.width(),
            prefix_mode: if alnum { "alphanumeric" } else { "byte" },
            prefix_chars: prefix.len(),
            digits: digits.len(),
            data_bits: used,
            capacity_bits: capacity,
        };
        Ok(CardQr { code, layout })
    }

    pub fn layout(&self) -> &QrLayout {
        &self.layout
    }

    /// Modules per side, without quiet zone.
    pub fn width(&self) -> usize {
        self.code.width()
    }

    /// Whether the module at column `x`, row `y` is dark.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        self.code[(x, y)] == Color::Dark
    }

    fn check_render(module_px: u32, quiet_zone: u32) -> Result<(), CardError> {
        if !(1..=MAX_MODULE_PX).contains(&module_px) || quiet_zone > MAX_QUIET_ZONE {
            return Err(CardError::encoding(format!(
                "module size must be 1–{MAX_MODULE_PX} px, quiet zone 0–{MAX_QUIET_ZONE} modules"
            )));
        }
        Ok(())
    }

    /// Renders a greyscale PNG: `module_px` pixels per module, `quiet_zone` light modules around
    /// (ISO/IEC 18004 asks for at least 4).
    pub fn to_png(&self, module_px: u32, quiet_zone: u32) -> Result<Vec<u8>, CardError> {
        let image = self.to_image(module_px, quiet_zone)?;
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new_with_quality(
            &mut out,
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::NoFilter,
        )
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::L8,
        )
        .map_err(|e| CardError::encoding(format!("PNG: {e}")))?;
        Ok(out)
    }

    /// Renders to an in-memory greyscale image (black modules on white).
    pub fn to_image(&self, module_px: u32, quiet_zone: u32) -> Result<GrayImage, CardError> {
        Self::check_render(module_px, quiet_zone)?;
        let n = self.code.width();
        let side = (n as u32 + 2 * quiet_zone) * module_px;
        let mut img = GrayImage::from_pixel(side, side, Luma([255]));
        let colors = self.code.to_colors();
        for (i, c) in colors.iter().enumerate() {
            if *c != Color::Dark {
                continue;
            }
            let (mx, my) = ((i % n) as u32 + quiet_zone, (i / n) as u32 + quiet_zone);
            for py in my * module_px..(my + 1) * module_px {
                for px in mx * module_px..(mx + 1) * module_px {
                    img.put_pixel(px, py, Luma([0]));
                }
            }
        }
        Ok(img)
    }

    /// Renders an SVG: one path of horizontal runs, in module units scaled to `module_px`.
    pub fn to_svg(&self, module_px: u32, quiet_zone: u32) -> Result<String, CardError> {
        Self::check_render(module_px, quiet_zone)?;
        let n = self.code.width();
        let total = n + 2 * quiet_zone as usize;
        let px = total * module_px as usize;
        let mut d = String::new();
        for y in 0..n {
            let mut x = 0;
            while x < n {
                if !self.is_dark(x, y) {
                    x += 1;
                    continue;
                }
                let start = x;
                while x < n && self.is_dark(x, y) {
                    x += 1;
                }
                let q = quiet_zone as usize;
                let _ = write!(
                    d,
                    "M{} {}h{}v1h-{}z",
                    start + q,
                    y + q,
                    x - start,
                    x - start
                );
            }
        }
        Ok(format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{px}\" height=\"{px}\" viewBox=\"0 0 {total} {total}\" shape-rendering=\"crispEdges\">\
<rect width=\"{total}\" height=\"{total}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{d}\"/></svg>\n"
        ))
    }
}
