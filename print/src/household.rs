//! The household sticker (玄関ステッカー, issue 27): A4 portrait for the home's entrance — a black
//! band 「玄関 / Household」, a large QR code, what it is for, and no names: the sticker carries
//! no personal data and neither does its print.

use crate::PrintError;
use crate::font::Font;
use crate::layout::{Align, Flow, Ink, Page, a4_with_qr, first_fit, fit, fridge::*};

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
    top.band((copy::TITLE_JA, copy::TITLE_EN), (48.0, 22.0), 6.0, s)?;

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
    a4_with_qr(top, bottom, modules, MAX_QR_BOX_MM + 20.0)
}
