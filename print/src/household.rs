//! The household sticker (玄関ステッカー, issue 27): A4 portrait for the home's entrance — a black
//! band 「玄関 / Household」, a large QR code, what it is for, and no names: the sticker carries
//! no personal data and neither does its print.

use crate::PrintError;
use crate::font::Font;
use crate::layout::{
    Align, Flow, Ink, Item, Page, QUIET_ZONE, QrPlacement, first_fit, fit, fridge::*, mm_to_px,
};

mod copy {
    pub const TITLE_JA: &str = "玄関　救急医療情報";
    pub const TITLE_EN: &str = "Household — emergency information";
    pub const PARAMEDICS_JA: &str = "救急隊の方へ：このQRコードを読み取ると、この家に住む方の救急医療情報カードが一覧で表示されます。";
    pub const PARAMEDICS_EN: &str =
        "Paramedics: scan this code to list the emergency cards of the people who live here.";
    pub const FAMILY_JA: &str = "ご近所・通りがかりの方へ：具合の悪い方がいたらすぐに119番へ。";
    pub const FAMILY_EN: &str = "Neighbours and bystanders: if someone is unwell, call 119 now.";
    pub const DOOR_JA: &str = "玄関の内側など、救急隊から見える場所に貼ってください";
    pub const DOOR_EN: &str = "Put this where paramedics can see it at the entrance.";
    pub const REF: &str = "番号 Ref";
}

pub(crate) fn sticker_page(font: &Font, modules: u32, reference: &str) -> Result<Page, PrintError> {
    first_fit(|s| at(font, modules, reference, s))
}

fn at(font: &Font, modules: u32, reference: &str, s: f32) -> Result<Page, PrintError> {
    let (x0, x1) = (MARGIN_MM, WIDTH_MM - MARGIN_MM);
    let mut top = Flow::new(font, x0, x1, MARGIN_MM);
    let band_top = top.y;
    top.gap(6.0 * s);
    top.x0 += 6.0;
    top.x1 -= 6.0;
    top.text(
        "title",
        copy::TITLE_JA,
        fit(48.0 * s, 24.0, 1),
        Align::Center,
        Ink::White,
    )?;
    top.gap(2.0 * s);
    top.text(
        "title",
        copy::TITLE_EN,
        fit(22.0 * s, 12.0, 1),
        Align::Center,
        Ink::White,
    )?;
    top.gap(5.0 * s);
    top.x0 = x0;
    top.x1 = x1;
    top.items.insert(
        0,
        Item::Rect {
            x: x0,
            y: band_top,
            w: x1 - x0,
            h: top.y - band_top,
            ink: Ink::Black,
        },
    );

    let mut bottom = Flow::new(font, x0, x1, 0.0);
    bottom.rule(0.8);
    bottom.gap(5.0 * s);
    for (i, (ja, en)) in [
        (copy::PARAMEDICS_JA, copy::PARAMEDICS_EN),
        (copy::FAMILY_JA, copy::FAMILY_EN),
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            bottom.gap(5.0 * s);
        }
        bottom.text(
            "instructions",
            ja,
            fit(19.0 * s, 11.0, 3),
            Align::Center,
            Ink::Black,
        )?;
        bottom.gap(1.5 * s);
        bottom.text(
            "instructions",
            en,
            fit(15.0 * s, 9.0, 2),
            Align::Center,
            Ink::Black,
        )?;
    }
    bottom.gap(5.0 * s);
    bottom.rule(0.8);
    bottom.gap(4.0 * s);
    bottom.text(
        "instructions",
        copy::DOOR_JA,
        fit(15.0 * s, 10.0, 2),
        Align::Center,
        Ink::Black,
    )?;
    bottom.gap(1.0 * s);
    bottom.text(
        "instructions",
        copy::DOOR_EN,
        fit(12.0 * s, 8.0, 1),
        Align::Center,
        Ink::Black,
    )?;
    bottom.gap(3.0 * s);
    let line = format!("{} {}", copy::REF, reference.trim());
    bottom.text("ref", &line, fit(10.0, 7.0, 1), Align::Center, Ink::Black)?;
    let bottom_top = HEIGHT_MM - MARGIN_MM - bottom.y;
    bottom.shift(bottom_top);

    let gap = 5.0;
    let space_h = bottom_top - top.y - 2.0 * gap;
    let box_mm = space_h.min(x1 - x0).min(MAX_QR_BOX_MM + 20.0);
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
