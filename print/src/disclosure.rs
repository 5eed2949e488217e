//! The disclosure document (RULES R13: a resident may ask what is held about them and how it was
//! used): a title block and headed sections of text lines, set in the embedded font on as many A4
//! portrait pages as it takes, with a running footer ("page / pages").
//!
//! Unlike the card printables, a disclosure must never fail because of what a resident typed: a
//! control character is printed as a space and a character the font lacks as 〓 (the geta mark
//! Japanese typesetting uses for a missing glyph). Only a document longer than [`MAX_PAGES`] is an
//! error.

use crate::PrintError;
use crate::font::{Font, MM_PER_PT};
use crate::layout::{Ink, Item};
use crate::text::wrap;

/// What a disclosure says. All strings are printed as given (see the module docs for characters
/// that cannot be printed); the caller formats dates and translates labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisclosureDoc {
    /// Municipality in Japanese, e.g. 「常総市」.
    pub municipality_ja: String,
    /// Municipality in English, e.g. "Joso City".
    pub municipality_en: String,
    /// The resident the document is about.
    pub resident_name: String,
    /// When the document was made, already formatted (e.g. "2026-11-21 09:00 JST").
    pub generated_at: String,
    /// The sections, in order.
    pub sections: Vec<DisclosureSection>,
}

/// One headed section: a bilingual heading and its lines (each wraps to the page width).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisclosureSection {
    pub heading_ja: String,
    pub heading_en: String,
    /// The lines; an empty section prints 「なし / none」.
    pub lines: Vec<String>,
}

/// Longest document accepted (bounds the work; 1,000 pages hold about 60,000 lines).
pub const MAX_PAGES: usize = 1000;
/// Longer lines are cut (with …) before layout.
const MAX_LINE_CHARS: usize = 2000;

pub(crate) const WIDTH_MM: f32 = 210.0;
pub(crate) const HEIGHT_MM: f32 = 297.0;
const MARGIN_X: f32 = 15.0;
const TOP: f32 = 15.0;
/// Text stops above this line; the footer sits below it.
const BOTTOM: f32 = 280.0;
const FOOTER_BASELINE: f32 = 289.0;

const TITLE_JA: &str = "保有個人データの開示";
const TITLE_EN: &str = "Disclosure of the personal data held";
const INTRO_JA: &str =
    "救急医療情報キット（Kyukit）が保有するあなたの情報と、その利用の記録のすべてです。";
const INTRO_EN: &str =
    "Everything Kyukit holds about you, and every recorded use of it. Times are Japan time.";
const NONE: &str = "なし / none";

/// Printable text: control characters become spaces, characters without a glyph 〓.
pub(crate) fn clean(font: &Font, s: &str) -> String {
    let missing = if font.glyph('〓').is_some() {
        '〓'
    } else {
        '?'
    };
    let mut out: String = s
        .chars()
        .take(MAX_LINE_CHARS)
        .map(|c| {
            if c.is_control() {
                ' '
            } else if c == ' ' || c == '\u{3000}' || font.glyph(c).is_some() {
                c
            } else {
                missing
            }
        })
        .collect();
    if s.chars().nth(MAX_LINE_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Stacks lines into pages.
struct Pager<'f> {
    font: &'f Font,
    pages: Vec<Vec<Item>>,
    items: Vec<Item>,
    y: f32,
}

impl<'f> Pager<'f> {
    fn new(font: &'f Font) -> Self {
        Pager {
            font,
            pages: Vec::new(),
            items: Vec::new(),
            y: TOP,
        }
    }

    fn line_height(&self, size_pt: f32) -> f32 {
        (self.font.ascent + self.font.descent + 0.35) * size_pt * MM_PER_PT
    }

    fn new_page(&mut self) -> Result<(), PrintError> {
        self.pages.push(std::mem::take(&mut self.items));
        if self.pages.len() >= MAX_PAGES {
            return Err(PrintError::TextTooLong {
                field: "disclosure",
            });
        }
        self.y = TOP;
        Ok(())
    }

    /// Starts a new page unless `mm` more fit on this one.
    fn need(&mut self, mm: f32) -> Result<(), PrintError> {
        if self.y + mm > BOTTOM && !self.items.is_empty() {
            self.new_page()?;
        }
        Ok(())
    }

    /// One logical line, wrapped; continuation lines are indented by `indent` mm.
    fn text(&mut self, text: &str, size_pt: f32, indent: f32) -> Result<(), PrintError> {
        let text = clean(self.font, text);
        let h = self.line_height(size_pt);
        let first_width = WIDTH_MM - 2.0 * MARGIN_X;
        let mut lines = wrap(self.font, &text, size_pt, first_width);
        if lines.len() > 1 && indent > 0.0 {
            // Re-wrap the rest at the indented width.
            if let Some(rest) = text.trim().strip_prefix(lines[0].as_str()) {
                let rest = wrap(self.font, rest, size_pt, first_width - indent);
                lines.truncate(1);
                lines.extend(rest);
            }
        }
        for (i, line) in lines.iter().enumerate() {
            self.need(h)?;
            if line.is_empty() {
                self.y += h;
                continue;
            }
            let x = if i == 0 { MARGIN_X } else { MARGIN_X + indent };
            self.items.push(Item::Text {
                x,
                baseline: self.y + self.font.ascent * size_pt * MM_PER_PT,
                size_pt,
                text: line.clone(),
                ink: Ink::Black,
            });
            self.y += h;
        }
        Ok(())
    }

    fn gap(&mut self, mm: f32) {
        self.y += mm;
    }

    fn rule(&mut self, thickness: f32) {
        self.items.push(Item::Rect {
            x: MARGIN_X,
            y: self.y,
            w: WIDTH_MM - 2.0 * MARGIN_X,
            h: thickness,
            ink: Ink::Black,
        });
        self.y += thickness;
    }

    fn finish(mut self) -> Vec<Vec<Item>> {
        if !self.items.is_empty() || self.pages.is_empty() {
            self.pages.push(std::mem::take(&mut self.items));
        }
        self.pages
    }
}

const BODY_PT: f32 = 9.0;
const HEADING_PT: f32 = 12.0;

/// Lays the document out into pages of items (millimetres, y down), footers included.
pub(crate) fn layout(font: &Font, doc: &DisclosureDoc) -> Result<Vec<Vec<Item>>, PrintError> {
    let mut p = Pager::new(font);
    p.text(TITLE_JA, 18.0, 0.0)?;
    p.text(TITLE_EN, 12.0, 0.0)?;
    p.gap(2.0);
    p.rule(0.6);
    p.gap(3.0);
    let municipality = format!(
        "{}　{}",
        doc.municipality_ja.trim(),
        doc.municipality_en.trim()
    );
    p.text(&municipality, 11.0, 0.0)?;
    p.text(
        &format!("本人 / Resident:　{}", doc.resident_name.trim()),
        11.0,
        0.0,
    )?;
    p.text(
        &format!("作成日時 / Generated:　{}", doc.generated_at.trim()),
        BODY_PT,
        0.0,
    )?;
    p.gap(1.5);
    p.text(INTRO_JA, BODY_PT, 0.0)?;
    p.text(INTRO_EN, BODY_PT, 0.0)?;
    for section in &doc.sections {
        p.gap(5.0);
        // Keep a heading with its first lines.
        let keep = p.line_height(HEADING_PT) + 2.0 * p.line_height(BODY_PT) + 2.0;
        p.need(keep)?;
        p.text(
            &format!(
                "{} / {}",
                section.heading_ja.trim(),
                section.heading_en.trim()
            ),
            HEADING_PT,
            0.0,
        )?;
        p.gap(0.5);
        p.rule(0.3);
        p.gap(1.5);
        if section.lines.is_empty() {
            p.text(NONE, BODY_PT, 4.0)?;
        }
        for line in &section.lines {
            p.text(line, BODY_PT, 4.0)?;
            p.gap(0.8);
        }
    }
    let mut pages = p.finish();
    let total = pages.len();
    let left = clean(
        font,
        &format!("{}　{}", doc.municipality_ja.trim(), TITLE_JA),
    );
    for (i, page) in pages.iter_mut().enumerate() {
        let number = format!("{} / {}", i + 1, total);
        let w = font.width_mm(&number, 8.0);
        page.push(Item::Text {
            x: MARGIN_X,
            baseline: FOOTER_BASELINE,
            size_pt: 8.0,
            text: left.clone(),
            ink: Ink::Black,
        });
        page.push(Item::Text {
            x: WIDTH_MM - MARGIN_X - w,
            baseline: FOOTER_BASELINE,
            size_pt: 8.0,
            text: number,
            ink: Ink::Black,
        });
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(pages: &[Vec<Item>]) -> Vec<String> {
        pages
            .iter()
            .flatten()
            .filter_map(|i| match i {
                Item::Text { text, .. } => Some(text.clone()),
                Item::Rect { .. } => None,
            })
            .collect()
    }

    #[test]
    fn unprintable_characters_are_replaced_not_refused() {
        let font = Font::load().unwrap();
        assert_eq!(clean(&font, "山田\n花子😀"), "山田 花子〓");
        let long = "あ".repeat(MAX_LINE_CHARS + 5);
        let cut = clean(&font, &long);
        assert_eq!(cut.chars().count(), MAX_LINE_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn lines_stay_inside_the_page_and_long_documents_paginate() {
        let font = Font::load().unwrap();
        let doc = DisclosureDoc {
            municipality_ja: "常総市".into(),
            municipality_en: "Joso City".into(),
            resident_name: "山田 花子".into(),
            generated_at: "2026-11-21 09:00 JST".into(),
            sections: vec![
                DisclosureSection {
                    heading_ja: "利用履歴".into(),
                    heading_en: "Access history".into(),
                    lines: (0..300)
                        .map(|i| format!("{i}: 2026-11-21 09:00 JST record.scan 救急隊による閲覧 常総広域消防本部 — a long line that has to wrap onto a second line on an A4 page because it is long"))
                        .collect(),
                },
                DisclosureSection {
                    heading_ja: "代理人".into(),
                    heading_en: "Proxies".into(),
                    lines: vec![],
                },
            ],
        };
        let pages = layout(&font, &doc).unwrap();
        assert!(pages.len() > 5, "{} pages", pages.len());
        for page in &pages {
            for item in page {
                if let Item::Text {
                    x,
                    baseline,
                    size_pt,
                    text,
                    ..
                } = item
                {
                    assert!(*baseline <= FOOTER_BASELINE + 0.01, "{text}");
                    assert!(
                        x + font.width_mm(text, *size_pt) <= WIDTH_MM - MARGIN_X + 0.01,
                        "{text}"
                    );
                }
            }
        }
        let all = texts(&pages);
        assert!(all.contains(&format!("1 / {}", pages.len())));
        assert!(all.contains(&format!("{0} / {0}", pages.len())));
        assert!(all.iter().any(|t| t.contains("なし / none")));
        assert!(all.iter().any(|t| t.starts_with("299: ")));
    }
}
