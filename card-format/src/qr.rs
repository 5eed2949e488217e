//! QR encoding and rendering of a card URL.
//!
//! The URL is written as two segments: the base in alphanumeric mode (or byte mode if it is not
//! alphanumeric) and the card digits in numeric mode. `qrcodegen` (Nayuki's reference implementation)
//! picks the smallest version that holds them at the requested error-correction level, raises the level
//! as far as that version allows (spare capacity becomes damage tolerance) and chooses the mask by the
//! standard's penalty rules. Rendering is done here so that module size and quiet zone are both
//! configurable.

use crate::CardError;
use crate::url::is_qr_alphanumeric;
use image::{GrayImage, Luma};
use qrcodegen::{DataTooLong, QrCode, QrCodeEcc, QrSegment, QrSegmentMode, Version};
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
    fn to_qr(self) -> QrCodeEcc {
        match self {
            EcLevel::L => QrCodeEcc::Low,
            EcLevel::M => QrCodeEcc::Medium,
            EcLevel::Q => QrCodeEcc::Quartile,
            EcLevel::H => QrCodeEcc::High,
        }
    }
    fn from_qr(ecc: QrCodeEcc) -> Self {
        match ecc {
            QrCodeEcc::Low => EcLevel::L,
            QrCodeEcc::Medium => EcLevel::M,
            QrCodeEcc::Quartile => EcLevel::Q,
            QrCodeEcc::High => EcLevel::H,
        }
    }
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
    /// Data bits used (mode indicators, character counts and data) and the symbol's data capacity.
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

/// Bits the segments take in `version`: 4-bit mode indicator, character count (ISO/IEC 18004
/// table 3), data.
fn segment_bits(segs: &[QrSegment], version: Version) -> usize {
    let band = match version.value() {
        1..=9 => 0,
        10..=26 => 1,
        _ => 2,
    };
    let count_bits = |mode: QrSegmentMode| match mode {
        QrSegmentMode::Numeric => [10, 12, 14][band],
        QrSegmentMode::Alphanumeric => [9, 11, 13][band],
        QrSegmentMode::Byte => [8, 16, 16][band],
        QrSegmentMode::Kanji => [8, 10, 12][band],
        QrSegmentMode::Eci => 0,
    };
    segs.iter()
        .map(|s| 4 + count_bits(s.mode()) + s.data().len())
        .sum()
}

/// Data capacity in bits of (version, level): asked of qrcodegen by over-filling that exact version.
fn capacity_bits(version: Version, ecl: QrCodeEcc) -> usize {
    let huge = [QrSegment::make_bytes(&[0u8; 3000])];
    match QrCode::encode_segments_advanced(&huge, ecl, version, version, None, false) {
        Err(DataTooLong::DataOverCapacity(_, capacity)) => capacity,
        _ => 0,
    }
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
        let base = if alnum {
            QrSegment::make_alphanumeric(prefix)
        } else {
            QrSegment::make_bytes(prefix.as_bytes())
        };
        let segs = [base, QrSegment::make_numeric(digits)];
        let code = QrCode::encode_segments_advanced(
            &segs,
            min_ec.to_qr(),
            Version::MIN,
            Version::MAX,
            None,
            true,
        )
        .map_err(|_| CardError::encoding("card URL too long for any QR version"))?;
        let layout = QrLayout {
            version: code.version().value(),
            ec_level: EcLevel::from_qr(code.error_correction_level()),
            modules: usize::try_from(code.size()).unwrap_or(0),
            prefix_mode: if segs[0].mode() == QrSegmentMode::Alphanumeric {
                "alphanumeric"
            } else {
                "byte"
            },
            prefix_chars: prefix.len(),
            digits: digits.len(),
            data_bits: segment_bits(&segs, code.version()),
            capacity_bits: capacity_bits(code.version(), code.error_correction_level()),
        };
        Ok(CardQr { code, layout })
    }

    pub fn layout(&self) -> &QrLayout {
        &self.layout
    }

    /// Modules per side, without quiet zone.
    pub fn width(&self) -> usize {
        self.layout.modules
    }

    /// Whether the module at column `x`, row `y` is dark.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        match (i32::try_from(x), i32::try_from(y)) {
            (Ok(x), Ok(y)) => self.code.get_module(x, y),
            _ => false,
        }
    }

    fn check_render(module_px: u32, quiet_zone: u32) -> Result<(), CardError> {
        if !(1..=MAX_MODULE_PX).contains(&module_px) || quiet_zone > MAX_QUIET_ZONE {
            return Err(CardError::encoding(format!(
                "module size must be 1–{MAX_MODULE_PX} px, quiet zone 0–{MAX_QUIET_ZONE} modules"
            )));
        }
        Ok(())
    }

    /// Renders a PNG: `module_px` pixels per module, `quiet_zone` light modules around
    /// (ISO/IEC 18004 asks for at least 4). One bit per pixel (black and white greyscale), rows
    /// filtered `Up`: a QR code's pixel rows repeat `module_px` times, so the file is a few KiB
    /// and quick to write (an 8-bit image was ≈ 80 KiB at 8 px per module).
    pub fn to_png(&self, module_px: u32, quiet_zone: u32) -> Result<Vec<u8>, CardError> {
        Self::check_render(module_px, quiet_zone)?;
        let n = self.width();
        let side = (n as u32 + 2 * quiet_zone) * module_px;
        let stride = side.div_ceil(8) as usize;
        // One row of pixels per row of modules, repeated `module_px` times. 1 = white.
        let mut data = Vec::with_capacity(stride * side as usize);
        let mut row = vec![0u8; stride];
        let light_row = {
            let mut r = vec![0xffu8; stride];
            clear_padding(&mut r, side);
            r
        };
        for _ in 0..quiet_zone * module_px {
            data.extend_from_slice(&light_row);
        }
        for my in 0..n {
            row.copy_from_slice(&light_row);
            for mx in 0..n {
                if !self.is_dark(mx, my) {
                    continue;
                }
                let x0 = (mx as u32 + quiet_zone) * module_px;
                for px in x0..x0 + module_px {
                    if let Some(byte) = row.get_mut((px / 8) as usize) {
                        *byte &= !(0x80 >> (px % 8));
                    }
                }
            }
            for _ in 0..module_px {
                data.extend_from_slice(&row);
            }
        }
        for _ in 0..quiet_zone * module_px {
            data.extend_from_slice(&light_row);
        }
        let png_err = |e: png::EncodingError| CardError::encoding(format!("PNG: {e}"));
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, side, side);
            encoder.set_color(png::ColorType::Grayscale);
            encoder.set_depth(png::BitDepth::One);
            encoder.set_compression(png::Compression::Fast);
            encoder.set_filter(png::Filter::Up);
            let mut writer = encoder.write_header().map_err(png_err)?;
            writer.write_image_data(&data).map_err(png_err)?;
            writer.finish().map_err(png_err)?;
        }
        Ok(out)
    }

    /// Renders to an in-memory greyscale image (black modules on white).
    pub fn to_image(&self, module_px: u32, quiet_zone: u32) -> Result<GrayImage, CardError> {
        Self::check_render(module_px, quiet_zone)?;
        let n = self.width();
        let side = (n as u32 + 2 * quiet_zone) * module_px;
        let mut img = GrayImage::from_pixel(side, side, Luma([255]));
        for my in 0..n {
            for mx in 0..n {
                if !self.is_dark(mx, my) {
                    continue;
                }
                let (x0, y0) = (
                    (mx as u32 + quiet_zone) * module_px,
                    (my as u32 + quiet_zone) * module_px,
                );
                for py in y0..y0 + module_px {
                    for px in x0..x0 + module_px {
                        img.put_pixel(px, py, Luma([0]));
                    }
                }
            }
        }
        Ok(img)
    }

    /// Renders an SVG: one path of horizontal runs, in module units scaled to `module_px`.
    pub fn to_svg(&self, module_px: u32, quiet_zone: u32) -> Result<String, CardError> {
        Self::check_render(module_px, quiet_zone)?;
        let n = self.width();
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

/// Zeroes the bits past `width` pixels in the last byte of a 1-bit row (PNG leaves them
/// unspecified; zero keeps the output deterministic).
fn clear_padding(row: &mut [u8], width: u32) {
    let used = width % 8;
    if used != 0
        && let Some(last) = row.last_mut()
    {
        *last &= 0xffu8 << (8 - used);
    }
}
