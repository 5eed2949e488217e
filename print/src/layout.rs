//! Page layout of the fridge sheet and the wallet card, shared by the PNG and PDF renderers.
//!
//! A layout is a list of filled rectangles and single-line texts in millimetres (origin top left,
//! y down) plus the QR symbol's placement in whole device pixels at the page's raster resolution,
//! so the PNG gets crisp integer-pixel modules and the PDF draws the very same geometry as vectors.
//! Texts are fitted to their width by shrinking (down to a per-text minimum) and wrapping; if the
//! page still overflows, all preferred sizes are scaled down and the layout is tried again.

use crate::font::{Font, MM_PER_PT};
use crate::text::{Fit, fit as fit_text};
use crate::{PrintCard, PrintError};

/// Light modules around the symbol (ISO/IEC 18004 minimum).
pub(crate) const QUIET_ZONE: u32 = 4;

/// Fill colour of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ink {
    Black,
    White,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    /// One line of text: `x` is its left edge, `baseline` its baseline (mm).
    Text {
        x: f32,
        baseline: f32,
        size_pt: f32,
        text: String,
        ink: Ink,
    },
    /// A filled rectangle (mm).
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        ink: Ink,
    },
}

/// Where the QR symbol goes: top-left corner of the symbol itself (the quiet zone lies around it)
/// and the module size, in device pixels at [`Page::dpi`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QrPlacement {
    pub x_px: u32,
    pub y_px: u32,
    pub module_px: u32,
    /// Modules per side (without quiet zone).
    pub modules: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Page {
    pub width_mm: f32,
    pub height_mm: f32,
    pub width_px: u32,
    pub height_px: u32,
    pub dpi: f32,
    pub qr: QrPlacement,
    pub items: Vec<Item>,
}

impl Page {
    pub fn px_to_mm(&self, px: u32) -> f32 {
        px as f32 * 25.4 / self.dpi
    }
    /// Symbol side without quiet zone, mm.
    #[cfg(test)]
    pub fn qr_symbol_mm(&self) -> f32 {
        self.px_to_mm(self.qr.modules * self.qr.module_px)
    }
    /// The QR symbol with its quiet zone (x, y, side), mm.
    #[cfg(test)]
    pub fn qr_box_mm(&self) -> (f32, f32, f32) {
        let q = QUIET_ZONE * self.qr.module_px;
        (
            self.px_to_mm(self.qr.x_px - q),
            self.px_to_mm(self.qr.y_px - q),
            self.px_to_mm((self.qr.modules + 2 * QUIET_ZONE) * self.qr.module_px),
        )
    }
}

pub(crate) fn mm_to_px(mm: f32, dpi: f32) -> f32 {
    mm * dpi / 25.4
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Center,
}

/// A column that texts and rules are stacked into from the top.
pub(crate) struct Flow<'f> {
    font: &'f Font,
    pub(crate) x0: f32,
    pub(crate) x1: f32,
    pub(crate) y: f32,
    pub(crate) items: Vec<Item>,
}

impl<'f> Flow<'f> {
    pub(crate) fn new(font: &'f Font, x0: f32, x1: f32, y: f32) -> Self {
        Flow {
            font,
            x0,
            x1,
            y,
            items: Vec::new(),
        }
    }

    pub(crate) fn gap(&mut self, mm: f32) {
        self.y += mm;
    }

    pub(crate) fn rule(&mut self, thickness: f32) {
        self.items.push(Item::Rect {
            x: self.x0,
            y: self.y,
            w: self.x1 - self.x0,
            h: thickness,
            ink: Ink::Black,
        });
        self.y += thickness;
    }

    /// Sets `text` fitted to the column width; lines are `1 + leading` em apart.
    pub(crate) fn text(
        &mut self,
        field: &'static str,
        text: &str,
        limits: Fit,
        align: Align,
        ink: Ink,
    ) -> Result<(), PrintError> {
        const LEADING: f32 = 0.3;
        let width = self.x1 - self.x0;
        let fitted = fit_text(self.font, field, text, limits, width)?;
        let em = fitted.size_pt * MM_PER_PT;
        for (i, line) in fitted.lines.iter().enumerate() {
            self.y += if i == 0 {
                self.font.ascent * em
            } else {
                (self.font.ascent + self.font.descent + LEADING) * em
            };
            let w = self.font.width_mm(line, fitted.size_pt);
            let x = match align {
                Align::Left => self.x0,
                Align::Center => self.x0 + (width - w) / 2.0,
            };
            self.items.push(Item::Text {
                x,
                baseline: self.y,
                size_pt: fitted.size_pt,
                text: line.clone(),
                ink,
            });
        }
        self.y += self.font.descent * em;
        Ok(())
    }

    /// Limits under which all of `texts` come out at one size: the smallest of their fitted sizes.
    pub(crate) fn common(
        &self,
        field: &'static str,
        texts: &[&str],
        limits: Fit,
    ) -> Result<Fit, PrintError> {
        let width = self.x1 - self.x0;
        let mut max_pt = limits.max_pt;
        for text in texts {
            max_pt = max_pt.min(fit_text(self.font, field, text, limits, width)?.size_pt);
        }
        Ok(Fit { max_pt, ..limits })
    }

    /// Moves everything down by `dy`.
    pub(crate) fn shift(&mut self, dy: f32) {
        self.y += dy;
        for item in &mut self.items {
            match item {
                Item::Text { baseline, .. } => *baseline += dy,
                Item::Rect { y, .. } => *y += dy,
            }
        }
    }

    /// A title in white on a black band across the column: `pad` above the Japanese line, 2 mm
    /// between the lines, `pad - 1` below the English one (all times `s`); the texts are inset 6 mm.
    pub(crate) fn band(
        &mut self,
        (ja, en): (&str, &str),
        (ja_pt, en_pt): (f32, f32),
        pad: f32,
        s: f32,
    ) -> Result<(), PrintError> {
        let (x0, x1, band_top) = (self.x0, self.x1, self.y);
        self.gap(pad * s);
        self.x0 += 6.0;
        self.x1 -= 6.0;
        self.text(
            "title",
            ja,
            fit(ja_pt * s, 24.0, 1),
            Align::Center,
            Ink::White,
        )?;
        self.gap(2.0 * s);
        self.text(
            "title",
            en,
            fit(en_pt * s, 12.0, 1),
            Align::Center,
            Ink::White,
        )?;
        self.gap((pad - 1.0) * s);
        self.x0 = x0;
        self.x1 = x1;
        self.items.insert(
            0,
            Item::Rect {
                x: x0,
                y: band_top,
                w: x1 - x0,
                h: self.y - band_top,
                ink: Ink::Black,
            },
        );
        Ok(())
    }
}

pub(crate) fn fit(max_pt: f32, min_pt: f32, max_lines: usize) -> Fit {
    Fit {
        max_pt,
        min_pt: min_pt.min(max_pt),
        max_lines,
    }
}

/// The fixed wording (Japanese first, then English).
mod copy {
    pub const TITLE_JA: &str = "救急医療情報キット";
    pub const TITLE_EN: &str = "Emergency information card";
    pub const NAME_LABEL: &str = "氏名 / Name";
    pub const PARAMEDICS_JA: &str = "救急隊の方へ：このQRコードを読み取ってください。";
    pub const PARAMEDICS_EN: &str = "Paramedics: scan this code.";
    pub const FAMILY_JA: &str = "ご家族・近くの方へ：具合が悪いときはすぐに119番へ。";
    pub const FAMILY_EN: &str = "Family and bystanders: if they are unwell, call 119 now.";
    pub const FRIDGE_JA: &str = "冷蔵庫の扉に貼ってください";
    pub const FRIDGE_EN: &str = "Keep this on the fridge door.";
    pub const ISSUED: &str = "交付日 Issued";
    pub const EXPIRES: &str = "有効期限 Expires";
    pub const REF: &str = "番号 Ref";
}

/// Preferred text sizes are multiplied by these, in turn, until the page fits.
const SCALES: [f32; 6] = [1.0, 0.92, 0.84, 0.76, 0.68, 0.6];

pub(crate) fn first_fit(
    mut attempt: impl FnMut(f32) -> Result<Page, PrintError>,
) -> Result<Page, PrintError> {
    let mut last = PrintError::TextTooLong { field: "page" };
    for s in SCALES {
        match attempt(s) {
            Ok(page) => return Ok(page),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn municipality(card: &PrintCard) -> String {
    format!(
        "{}　{}",
        card.municipality_ja.trim(),
        card.municipality_en.trim()
    )
}

/// A4 portrait at 150 dpi.
pub(crate) mod fridge {
    pub const WIDTH_MM: f32 = 210.0;
    pub const HEIGHT_MM: f32 = 297.0;
    pub const WIDTH_PX: u32 = 1240;
    pub const HEIGHT_PX: u32 = 1754;
    pub const DPI: f32 = 150.0;
    pub const MARGIN_MM: f32 = 14.0;
    /// The QR symbol (without quiet zone) is at least this wide.
    pub const MIN_QR_MM: f32 = 80.0;
    /// The QR symbol with its quiet zone is at most this wide.
    pub const MAX_QR_BOX_MM: f32 = 125.0;
}

/// ID-1 (85.6 × 54 mm) at 300 dpi.
pub(crate) mod wallet {
    pub const WIDTH_MM: f32 = 85.6;
    pub const HEIGHT_MM: f32 = 54.0;
    pub const WIDTH_PX: u32 = 1011;
    pub const HEIGHT_PX: u32 = 638;
    pub const DPI: f32 = 300.0;
    pub const MARGIN_MM: f32 = 3.0;
    pub const MIN_QR_MM: f32 = 35.0;
    /// The text column beside the QR is at least this wide.
    pub const MIN_TEXT_MM: f32 = 37.5;
    /// Gap between the card's left edge and the QR quiet zone.
    pub const QR_LEFT_MM: f32 = 1.0;
}

pub(crate) fn fridge_sheet(
    font: &Font,
    card: &PrintCard,
    modules: u32,
) -> Result<Page, PrintError> {
    first_fit(|s| fridge_at(font, card, modules, s))
}

fn fridge_at(font: &Font, card: &PrintCard, modules: u32, s: f32) -> Result<Page, PrintError> {
    use fridge::*;
    let (x0, x1) = (MARGIN_MM, WIDTH_MM - MARGIN_MM);
    let mut top = Flow::new(font, x0, x1, MARGIN_MM);

    // Header: white on a black band.
    top.band((copy::TITLE_JA, copy::TITLE_EN), (44.0, 20.0), 5.0, s)?;
    top.gap(5.0 * s);
    top.text(
        "municipality",
        &municipality(card),
        fit(24.0 * s, 12.0, 2),
        Align::Center,
        Ink::Black,
    )?;
    if let Some(name) = card.name {
        top.gap(5.0 * s);
        top.text(
            "name",
            copy::NAME_LABEL,
            fit(13.0 * s, 10.0, 1),
            Align::Center,
            Ink::Black,
        )?;
        top.gap(1.5 * s);
        top.text(
            "name",
            name,
            fit(32.0 * s, 14.0, 2),
            Align::Center,
            Ink::Black,
        )?;
    }

    // Bottom block, laid out from y = 0 and then moved to sit on the bottom margin.
    let mut bottom = Flow::new(font, x0, x1, 0.0);
    bottom.rule(0.8);
    bottom.gap(5.0 * s);
    let instructions = [
        (copy::PARAMEDICS_JA, copy::PARAMEDICS_EN),
        (copy::FAMILY_JA, copy::FAMILY_EN),
    ];
    let ja_fit = bottom.common(
        "instructions",
        &[instructions[0].0, instructions[1].0],
        fit(21.0 * s, 12.0, 2),
    )?;
    let en_fit = bottom.common(
        "instructions",
        &[instructions[0].1, instructions[1].1],
        fit(16.0 * s, 10.0, 2),
    )?;
    for (i, (ja, en)) in instructions.into_iter().enumerate() {
        if i > 0 {
            bottom.gap(5.0 * s);
        }
        bottom.text("instructions", ja, ja_fit, Align::Center, Ink::Black)?;
        bottom.gap(1.5 * s);
        bottom.text("instructions", en, en_fit, Align::Center, Ink::Black)?;
    }
    bottom.gap(5.0 * s);
    bottom.rule(0.8);
    bottom.gap(4.0 * s);
    bottom.text(
        "instructions",
        copy::FRIDGE_JA,
        fit(17.0 * s, 11.0, 1),
        Align::Center,
        Ink::Black,
    )?;
    bottom.gap(1.0 * s);
    bottom.text(
        "instructions",
        copy::FRIDGE_EN,
        fit(13.0 * s, 9.0, 1),
        Align::Center,
        Ink::Black,
    )?;
    bottom.gap(4.0 * s);
    let dates = format!(
        "{} {}　{} {}　{} {}",
        copy::ISSUED,
        card.issued_on.trim(),
        copy::EXPIRES,
        card.expires_on.trim(),
        copy::REF,
        card.card_ref.trim()
    );
    bottom.text(
        "dates",
        &dates,
        fit(10.0, 7.0, 2),
        Align::Center,
        Ink::Black,
    )?;
    a4_with_qr(top, bottom, modules, MAX_QR_BOX_MM)
}

/// An A4 portrait page (the `fridge` geometry) of a `top` flow, a `bottom` flow laid out from
/// y = 0 and moved here to sit on the bottom margin, and between them the QR, centred, as large as
/// the space and `max_box_mm` (with its quiet zone) allow and at least `MIN_QR_MM` wide.
pub(crate) fn a4_with_qr(
    top: Flow,
    mut bottom: Flow,
    modules: u32,
    max_box_mm: f32,
) -> Result<Page, PrintError> {
    use fridge::*;
    let x1 = WIDTH_MM - MARGIN_MM;
    let bottom_top = HEIGHT_MM - MARGIN_MM - bottom.y;
    bottom.shift(bottom_top);

    let gap = 5.0;
    let space_h = bottom_top - top.y - 2.0 * gap;
    let box_mm = space_h.min(x1 - MARGIN_MM).min(max_box_mm);
    let box_px = mm_to_px(box_mm, DPI).floor().max(0.0) as u32;
    let module_px = box_px / (modules + 2 * QUIET_ZONE);
    if module_px == 0 || mm_to_px(MIN_QR_MM, DPI) > (modules * module_px) as f32 {
        return Err(PrintError::QrTooDense);
    }
    let side_px = (modules + 2 * QUIET_ZONE) * module_px;
    let side_mm = side_px as f32 * 25.4 / DPI;
    let box_x = (WIDTH_PX - side_px) / 2;
    let box_y = mm_to_px(top.y + gap + (space_h - side_mm) / 2.0, DPI).round() as u32;
    let qr = QrPlacement {
        x_px: box_x + QUIET_ZONE * module_px,
        y_px: box_y + QUIET_ZONE * module_px,
        module_px,
        modules,
    };
    let mut items = top.items;
    items.extend(bottom.items);
    Ok(Page {
        width_mm: WIDTH_MM,
        height_mm: HEIGHT_MM,
        width_px: WIDTH_PX,
        height_px: HEIGHT_PX,
        dpi: DPI,
        qr,
        items,
    })
}

pub(crate) fn wallet_card(font: &Font, card: &PrintCard, modules: u32) -> Result<Page, PrintError> {
    use wallet::*;
    // The QR first: as large as the card height and the text column allow, at least MIN_QR_MM.
    let total = modules + 2 * QUIET_ZONE;
    let left_px = mm_to_px(QR_LEFT_MM, DPI).round() as u32;
    let limit_px = HEIGHT_PX.min(WIDTH_PX - left_px - mm_to_px(MIN_TEXT_MM, DPI).ceil() as u32);
    let mut module_px = limit_px / total;
    let min_symbol_px = mm_to_px(MIN_QR_MM, DPI);
    if ((modules * module_px) as f32) < min_symbol_px {
        module_px = (min_symbol_px / modules as f32).ceil() as u32;
    }
    let side_px = total * module_px;
    if module_px == 0 || side_px > HEIGHT_PX || side_px + left_px >= WIDTH_PX {
        return Err(PrintError::QrTooDense);
    }
    let qr = QrPlacement {
        x_px: left_px + QUIET_ZONE * module_px,
        y_px: (HEIGHT_PX - side_px) / 2 + QUIET_ZONE * module_px,
        module_px,
        modules,
    };
    let column_x0 = (left_px + side_px) as f32 * 25.4 / DPI;
    first_fit(|s| wallet_at(font, card, qr, column_x0, s))
}

fn wallet_at(
    font: &Font,
    card: &PrintCard,
    qr: QrPlacement,
    x0: f32,
    s: f32,
) -> Result<Page, PrintError> {
    use wallet::*;
    let x1 = WIDTH_MM - MARGIN_MM;
    let mut top = Flow::new(font, x0, x1, MARGIN_MM);
    top.text(
        "title",
        copy::TITLE_JA,
        fit(14.0 * s, 7.0, 1),
        Align::Left,
        Ink::Black,
    )?;
    top.gap(0.6 * s);
    top.text(
        "title",
        copy::TITLE_EN,
        fit(7.5 * s, 5.0, 1),
        Align::Left,
        Ink::Black,
    )?;
    top.gap(1.0 * s);
    top.rule(0.35);
    top.gap(1.0 * s);
    top.text(
        "municipality",
        &municipality(card),
        fit(8.0 * s, 5.0, 2),
        Align::Left,
        Ink::Black,
    )?;
    if let Some(name) = card.name {
        top.gap(1.6 * s);
        top.text(
            "name",
            copy::NAME_LABEL,
            fit(5.5 * s, 5.0, 1),
            Align::Left,
            Ink::Black,
        )?;
        top.gap(0.5 * s);
        top.text("name", name, fit(11.0 * s, 6.0, 3), Align::Left, Ink::Black)?;
    }
    let instructions = [
        (copy::PARAMEDICS_JA, copy::PARAMEDICS_EN),
        (copy::FAMILY_JA, copy::FAMILY_EN),
    ];
    let ja_fit = top.common(
        "instructions",
        &[instructions[0].0, instructions[1].0],
        fit(7.0 * s, 5.0, 3),
    )?;
    let en_fit = top.common(
        "instructions",
        &[instructions[0].1, instructions[1].1],
        fit(6.0 * s, 5.0, 3),
    )?;
    for (ja, en) in instructions {
        top.gap(1.6 * s);
        top.text("instructions", ja, ja_fit, Align::Left, Ink::Black)?;
        top.gap(0.5 * s);
        top.text("instructions", en, en_fit, Align::Left, Ink::Black)?;
    }

    let mut bottom = Flow::new(font, x0, x1, 0.0);
    let footer = [
        (
            "dates",
            format!("{} {}", copy::ISSUED, card.issued_on.trim()),
        ),
        (
            "dates",
            format!("{} {}", copy::EXPIRES, card.expires_on.trim()),
        ),
        (
            "card_ref",
            format!("{} {}", copy::REF, card.card_ref.trim()),
        ),
    ];
    for (i, (field, text)) in footer.iter().enumerate() {
        if i > 0 {
            bottom.gap(0.3);
        }
        bottom.text(field, text, fit(5.5 * s, 5.0, 1), Align::Left, Ink::Black)?;
    }
    let bottom_top = HEIGHT_MM - MARGIN_MM - bottom.y;
    if top.y + 1.2 > bottom_top {
        return Err(PrintError::TextTooLong { field: "page" });
    }
    bottom.shift(bottom_top);
    let mut items = top.items;
    items.extend(bottom.items);
    Ok(Page {
        width_mm: WIDTH_MM,
        height_mm: HEIGHT_MM,
        width_px: WIDTH_PX,
        height_px: HEIGHT_PX,
        dpi: DPI,
        qr,
        items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kyukit_card::{CardQr, EcLevel};

    fn qr() -> CardQr {
        let url = format!("HTTPS://QQ.CITY.JOSO.LG.JP/C/{}", "1234567890".repeat(32));
        CardQr::encode(&url, EcLevel::Q).unwrap()
    }

    fn card<'a>(qr: &'a CardQr, name: Option<&'a str>) -> PrintCard<'a> {
        PrintCard {
            qr,
            name,
            municipality_ja: "常総市",
            municipality_en: "Joso City",
            card_ref: "00112233",
            issued_on: "2026-11-21",
            expires_on: "2031-11-21",
        }
    }

    /// Bounding box (x0, y0, x1, y1) of an item, mm.
    fn bounds(font: &Font, item: &Item) -> (f32, f32, f32, f32) {
        match item {
            Item::Text {
                x,
                baseline,
                size_pt,
                text,
                ..
            } => {
                let em = size_pt * MM_PER_PT;
                (
                    *x,
                    baseline - font.ascent * em,
                    x + font.width_mm(text, *size_pt),
                    baseline + font.descent * em,
                )
            }
            Item::Rect { x, y, w, h, .. } => (*x, *y, x + w, y + h),
        }
    }

    /// Everything inside the page margins, nothing over the QR or its quiet zone, no two items
    /// overlapping (texts on black bands aside).
    fn check_page(font: &Font, page: &Page, margin: f32) {
        let (qx, qy, qs) = page.qr_box_mm();
        assert!(qx >= 0.0 && qy >= 0.0 && qx + qs <= page.width_mm && qy + qs <= page.height_mm);
        let boxes: Vec<_> = page.items.iter().map(|i| (i, bounds(font, i))).collect();
        let eps = 0.01;
        for (item, (x0, y0, x1, y1)) in &boxes {
            assert!(
                *x0 >= margin - eps
                    && *y0 >= margin - eps
                    && *x1 <= page.width_mm - margin + eps
                    && *y1 <= page.height_mm - margin + eps,
                "outside the margins: {item:?}"
            );
            let clear = *x1 <= qx || *x0 >= qx + qs || *y1 <= qy || *y0 >= qy + qs;
            assert!(clear, "over the QR quiet zone: {item:?}");
        }
        let texts: Vec<_> = boxes
            .iter()
            .filter(|(i, _)| matches!(i, Item::Text { .. }))
            .collect();
        for (n, (a, (ax0, ay0, ax1, ay1))) in texts.iter().enumerate() {
            for (b, (bx0, by0, bx1, by1)) in &texts[n + 1..] {
                let apart = ax1 <= bx0 || bx1 <= ax0 || ay1 <= by0 || by1 <= ay0;
                assert!(apart, "texts overlap: {a:?} and {b:?}");
            }
        }
    }

    #[test]
    fn both_layouts_fit_with_and_without_long_names() {
        let font = Font::load().unwrap();
        let qr = qr();
        let names = [
            None,
            Some("山田 花子"),
            Some("寿限無寿限無五劫の擦り切れ海砂利水魚の水行末雲来末風来末食う寝る処に住む処やぶ"),
            Some("Maria Fernanda Rodrigues da Silva Santos"),
            Some("Wolfeschlegelsteinhausenbergerdorffvoralt"),
        ];
        for name in names {
            let c = card(&qr, name);
            let page = fridge_sheet(&font, &c, qr.width() as u32).unwrap();
            check_page(&font, &page, fridge::MARGIN_MM);
            assert!(page.qr_symbol_mm() >= fridge::MIN_QR_MM);
            let page = wallet_card(&font, &c, qr.width() as u32).unwrap();
            check_page(&font, &page, 0.0);
            assert!(page.qr_symbol_mm() >= wallet::MIN_QR_MM);
            let (qx, ..) = page.qr_box_mm();
            for item in &page.items {
                let (x0, y0, x1, y1) = bounds(&font, item);
                let m = wallet::MARGIN_MM - 0.01;
                assert!(x1 <= page.width_mm - m && y0 >= m && y1 <= page.height_mm - m);
                assert!(x0 > qx, "text left of the QR: {item:?}");
            }
        }
    }

    #[test]
    fn qr_is_big_enough_for_every_qr_version() {
        let font = Font::load().unwrap();
        let qr = qr();
        let c = card(&qr, Some("山田 花子"));
        for version in 1..=40u32 {
            let modules = 17 + 4 * version;
            let page = fridge_sheet(&font, &c, modules).unwrap();
            check_page(&font, &page, fridge::MARGIN_MM);
            assert!(page.qr_symbol_mm() >= fridge::MIN_QR_MM, "v{version}");
            assert!(page.qr_box_mm().2 <= fridge::MAX_QR_BOX_MM + 0.01);
            let page = wallet_card(&font, &c, modules).unwrap();
            check_page(&font, &page, 0.0);
            assert!(page.qr_symbol_mm() >= wallet::MIN_QR_MM, "v{version}");
        }
    }

    #[test]
    fn wallet_qr_is_as_large_as_the_text_column_allows() {
        let font = Font::load().unwrap();
        let qr = qr();
        let page = wallet_card(&font, &card(&qr, None), qr.width() as u32).unwrap();
        let (qx, _, side) = page.qr_box_mm();
        let one_more = side + page.px_to_mm(qr.width() as u32 + 2 * QUIET_ZONE);
        assert!(
            qx + one_more > wallet::WIDTH_MM - wallet::MIN_TEXT_MM || one_more > wallet::HEIGHT_MM
        );
    }

    #[test]
    fn the_name_is_only_laid_out_when_given() {
        let font = Font::load().unwrap();
        let qr = qr();
        let texts = |page: &Page| -> Vec<String> {
            page.items
                .iter()
                .filter_map(|i| match i {
                    Item::Text { text, .. } => Some(text.clone()),
                    _ => None,
                })
                .collect()
        };
        for layout in [fridge_sheet, wallet_card] {
            let without = texts(&layout(&font, &card(&qr, None), qr.width() as u32).unwrap());
            let with =
                texts(&layout(&font, &card(&qr, Some("山田 花子")), qr.width() as u32).unwrap());
            assert!(
                !without
                    .iter()
                    .any(|t| t.contains("氏名") || t.contains("山田"))
            );
            assert!(with.iter().any(|t| t == "山田 花子"));
            assert!(with.iter().any(|t| t == copy::NAME_LABEL));
        }
    }
}
