//! PNG rendering of a laid-out page: anti-aliased text with `ab_glyph`, pixel-exact QR modules.

use crate::PrintError;
use crate::font::{Font, MM_PER_PT};
use crate::layout::{Ink, Item, Page};
use ab_glyph::{Font as _, Glyph, point};
use image::{GrayImage, ImageEncoder, Luma};
use kyukit_card::CardQr;

fn level(ink: Ink) -> u8 {
    match ink {
        Ink::Black => 0,
        Ink::White => 255,
    }
}

/// Draws the page into a greyscale image of `page.width_px × page.height_px`.
pub(crate) fn render(font: &Font, page: &Page, qr: &CardQr) -> GrayImage {
    let mut img = GrayImage::from_pixel(page.width_px, page.height_px, Luma([255]));
    let px_per_mm = page.dpi / 25.4;
    for item in &page.items {
        match item {
            Item::Rect { x, y, w, h, ink } => {
                let x0 = (x * px_per_mm).round().max(0.0) as u32;
                let y0 = (y * px_per_mm).round().max(0.0) as u32;
                let x1 = (((x + w) * px_per_mm).round().max(0.0) as u32).min(page.width_px);
                let y1 = (((y + h) * px_per_mm).round().max(0.0) as u32).min(page.height_px);
                // A hairline never disappears.
                let y1 = y1.max((y0 + 1).min(page.height_px));
                for py in y0..y1 {
                    for px in x0..x1 {
                        img.put_pixel(px, py, Luma([level(*ink)]));
                    }
                }
            }
            Item::Text {
                x,
                baseline,
                size_pt,
                text,
                ink,
            } => draw_text(
                font,
                &mut img,
                x * px_per_mm,
                baseline * px_per_mm,
                size_pt * MM_PER_PT * px_per_mm,
                text,
                level(*ink),
            ),
        }
    }
    let q = page.qr;
    let n = q.modules as usize;
    for my in 0..n {
        for mx in 0..n {
            if !qr.is_dark(mx, my) {
                continue;
            }
            let x0 = q.x_px + mx as u32 * q.module_px;
            let y0 = q.y_px + my as u32 * q.module_px;
            for py in y0..(y0 + q.module_px).min(page.height_px) {
                for px in x0..(x0 + q.module_px).min(page.width_px) {
                    img.put_pixel(px, py, Luma([0]));
                }
            }
        }
    }
    img
}

/// Draws one line of text with its left edge at `x` and baseline at `baseline` (pixels), the
/// em square being `em_px` pixels, blending coverage towards `ink`.
fn draw_text(
    font: &Font,
    img: &mut GrayImage,
    x: f32,
    baseline: f32,
    em_px: f32,
    text: &str,
    ink: u8,
) {
    let face = font.face();
    // ab_glyph scales by ascent − descent (the "height"), not by the em.
    let scale = em_px * face.height_unscaled() / font.units_per_em();
    let (w, h) = img.dimensions();
    let mut pen = x;
    for c in text.chars() {
        let Some(id) = font.glyph(c) else { continue };
        let glyph = Glyph {
            id,
            scale: scale.into(),
            position: point(pen, baseline),
        };
        pen += font.advance_em(c) * em_px;
        let Some(outline) = face.outline_glyph(glyph) else {
            continue; // a space
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let px = bounds.min.x as i64 + i64::from(gx);
            let py = bounds.min.y as i64 + i64::from(gy);
            if px < 0 || py < 0 || px >= i64::from(w) || py >= i64::from(h) {
                return;
            }
            let (px, py) = (px as u32, py as u32);
            let old = f32::from(img.get_pixel(px, py).0[0]);
            let c = coverage.clamp(0.0, 1.0);
            let new = old + (f32::from(ink) - old) * c;
            img.put_pixel(px, py, Luma([new.round() as u8]));
        });
    }
}

/// Encodes a greyscale PNG that records its resolution (a `pHYs` chunk), so that printing it
/// "at actual size" gives A4 or ID-1.
pub(crate) fn encode_png(img: &GrayImage, dpi: f32) -> Result<Vec<u8>, PrintError> {
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut png,
        image::codecs::png::CompressionType::Best,
        image::codecs::png::FilterType::Adaptive,
    )
    .write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::L8,
    )
    .map_err(|e| PrintError::Png(e.to_string()))?;
    with_phys(png, dpi)
}

/// Inserts a `pHYs` chunk (pixels per metre) right after `IHDR`, which is where the PNG
/// specification allows it (before `IDAT`).
fn with_phys(png: Vec<u8>, dpi: f32) -> Result<Vec<u8>, PrintError> {
    // Signature (8 bytes), then IHDR: length, type, 13 bytes of data, CRC.
    const IHDR_END: usize = 8 + 4 + 4 + 13 + 4;
    if png.get(12..16) != Some(b"IHDR".as_slice()) || png.len() < IHDR_END {
        return Err(PrintError::Png("unexpected encoder output".into()));
    }
    let per_metre = (dpi / 0.0254).round() as u32;
    let mut chunk = Vec::with_capacity(21);
    chunk.extend_from_slice(&9u32.to_be_bytes());
    chunk.extend_from_slice(b"pHYs");
    chunk.extend_from_slice(&per_metre.to_be_bytes());
    chunk.extend_from_slice(&per_metre.to_be_bytes());
    chunk.push(1); // unit: metre
    let crc = crc32(&chunk[4..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    let mut out = Vec::with_capacity(png.len() + chunk.len());
    out.extend_from_slice(&png[..IHDR_END]);
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&png[IHDR_END..]);
    Ok(out)
}

/// CRC-32 (ISO 3309, as PNG uses it), bitwise: the data is a handful of bytes.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn png_records_its_resolution_and_still_decodes() {
        let img = GrayImage::from_pixel(3, 2, Luma([7]));
        let png = encode_png(&img, 300.0).unwrap();
        let at = png.windows(4).position(|w| w == b"pHYs").unwrap();
        assert_eq!(at, 33 + 4);
        assert_eq!(png[at + 4..at + 8], 11811u32.to_be_bytes());
        assert_eq!(png[at + 8..at + 12], 11811u32.to_be_bytes());
        assert_eq!(png[at + 12], 1);
        // The image crate checks chunk CRCs.
        let back = image::load_from_memory(&png).unwrap().to_luma8();
        assert_eq!(back, img);
    }
}
