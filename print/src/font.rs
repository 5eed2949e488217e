//! The embedded Japanese font (IPAexGothic) and the text measurements both renderers share.
//!
//! Layout measures text with the font's own advance widths (no kerning, no shaping), which is
//! exactly what the PNG rasteriser draws and what a PDF viewer draws from the embedded font's
//! widths, so the two outputs agree. Japanese needs no shaping; the font has proportional Latin.

use crate::PrintError;
use ab_glyph::{Font as _, FontRef, GlyphId};

/// IPAexGothic 004.01 (IPA Font License v1.0, see `assets/fonts/`).
pub(crate) static FONT_BYTES: &[u8] = include_bytes!("../assets/fonts/ipaexg.ttf");

/// Millimetres per point.
pub(crate) const MM_PER_PT: f32 = 25.4 / 72.0;

/// The parsed font with its vertical metrics in em units.
pub(crate) struct Font {
    face: FontRef<'static>,
    units_per_em: f32,
    /// Ascent above and descent below the baseline, in em (both positive).
    pub ascent: f32,
    pub descent: f32,
}

impl std::fmt::Debug for Font {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Font")
            .field("units_per_em", &self.units_per_em)
            .finish_non_exhaustive()
    }
}

impl Font {
    pub fn load() -> Result<Self, PrintError> {
        let face = FontRef::try_from_slice(FONT_BYTES)
            .map_err(|e| PrintError::Font(format!("embedded font: {e}")))?;
        let units_per_em = face
            .units_per_em()
            .ok_or_else(|| PrintError::Font("embedded font has no units per em".into()))?;
        Ok(Font {
            ascent: face.ascent_unscaled() / units_per_em,
            descent: -face.descent_unscaled() / units_per_em,
            face,
            units_per_em,
        })
    }

    pub fn face(&self) -> &FontRef<'static> {
        &self.face
    }

    pub fn units_per_em(&self) -> f32 {
        self.units_per_em
    }

    /// The glyph for `c`, or `None` if the font does not have one.
    pub fn glyph(&self, c: char) -> Option<GlyphId> {
        let id = self.face.glyph_id(c);
        (id.0 != 0).then_some(id)
    }

    /// Advance of `c` in em (0 for characters without a glyph; callers validate first).
    pub fn advance_em(&self, c: char) -> f32 {
        self.glyph(c)
            .map(|id| self.face.h_advance_unscaled(id) / self.units_per_em)
            .unwrap_or(0.0)
    }

    /// Width of `text` in millimetres at `size_pt`.
    pub fn width_mm(&self, text: &str, size_pt: f32) -> f32 {
        text.chars().map(|c| self.advance_em(c)).sum::<f32>() * size_pt * MM_PER_PT
    }

    /// Checks that `text` can be printed: no control characters and every character in the font.
    pub fn check(&self, field: &'static str, text: &str) -> Result<(), PrintError> {
        for ch in text.chars() {
            if ch.is_control() {
                return Err(PrintError::ControlCharacter { field });
            }
            if self.glyph(ch).is_none() {
                return Err(PrintError::MissingGlyph { field, ch });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_japanese_names_and_rejects_what_it_cannot_draw() {
        let font = Font::load().unwrap();
        for text in [
            "救急医療情報キット",
            "山田 花子",
            "髙橋 﨑",
            "Ｑｕｉｎｎ",
            "José Müller",
        ] {
            font.check("t", text).unwrap();
        }
        assert!(matches!(
            font.check("name", "😀"),
            Err(PrintError::MissingGlyph {
                field: "name",
                ch: '😀'
            })
        ));
        assert!(matches!(
            font.check("name", "a\nb"),
            Err(PrintError::ControlCharacter { field: "name" })
        ));
        // A full-width character is one em; Latin is narrower.
        assert!((font.advance_em('山') - 1.0).abs() < 1e-3);
        assert!(font.advance_em('i') < 0.5);
        assert!(font.ascent > 0.7 && font.descent > 0.05);
    }
}
