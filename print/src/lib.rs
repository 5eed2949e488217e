//! Kyukit printables: the fridge sheet and the wallet card (PNG and PDF), with Japanese text.
//!
//! A resident's card is printed twice: an A4 sheet for the fridge door and an ID-1 (credit-card
//! size) card for the wallet. Both carry, Japanese first and English second: the title
//! 「救急医療情報キット」 / "Emergency information card", the municipality, the card's QR code,
//! one instruction for paramedics and one for family and bystanders, the resident's name only if
//! they chose to print it, and the issue and expiry dates with a short card reference. Nothing
//! medical is ever printed; the QR code is the only way to the card's content.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use kyukit_card::{CardQr, EcLevel};
//! use kyukit_print::{PrintCard, fridge_sheet_pdf, wallet_card_png};
//! let qr = CardQr::encode("https://qq.city.joso.lg.jp/c/1234567890", EcLevel::Q)?;
//! let card = PrintCard {
//!     qr: &qr,
//!     name: Some("山田 花子"),
//!     municipality_ja: "常総市",
//!     municipality_en: "Joso City",
//!     card_ref: "00112233",
//!     issued_on: "2026-11-21",
//!     expires_on: "2031-11-21",
//! };
//! let pdf: Vec<u8> = fridge_sheet_pdf(&card)?; // A4, vector QR, text as text
//! let png: Vec<u8> = wallet_card_png(&card)?;  // 1011 × 638 px, 300 dpi
//! # Ok(()) }
//! ```
//!
//! | function             | page                    | raster                  | QR symbol        |
//! |----------------------|-------------------------|-------------------------|------------------|
//! | [`fridge_sheet_png`] | A4 portrait             | 1240 × 1754 px, 150 dpi | ≥ 80 mm wide     |
//! | [`fridge_sheet_pdf`] | A4 portrait (210×297mm) | vector                  | same as the PNG  |
//! | [`wallet_card_png`]  | ID-1 (85.6 × 54 mm)     | 1011 × 638 px, 300 dpi  | ≥ 35 mm, largest that leaves a 37.5 mm text column |
//! | [`wallet_card_pdf`]  | ID-1 page size          | vector                  | same as the PNG  |
//!
//! The QR symbol always has a 4-module quiet zone and whole-pixel modules in the PNG; the PDF
//! draws the same geometry as vectors. Texts shrink (to a legible minimum) and wrap to fit; a
//! text that still does not fit, a character the embedded font lacks, or a control character is
//! an error, never a silently damaged card. A name that is empty or only spaces counts as no name.
//!
//! [`disclosure_pdf`] prints a resident's disclosure (RULES R13: everything held and every recorded
//! use) as a paginated A4 text document; it never refuses a character, printing 〓 for one the font
//! lacks.
//!
//! Text is set in IPAexGothic (IPA Font License v1.0, `assets/fonts/`), compiled in. The crate
//! does no I/O and reads no clock: dates arrive formatted, and the same input gives the same bytes.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod disclosure;
mod font;
mod household;
mod layout;
mod letter;
mod pdf;
mod raster;
mod text;

pub use disclosure::{DisclosureDoc, DisclosureSection, MAX_PAGES as DISCLOSURE_MAX_PAGES};
use font::Font;
use kyukit_card::CardQr;
use layout::Page;
pub use letter::{MAX_LETTERS as REMINDER_MAX_LETTERS, ReminderLetter, ReminderLetters};

/// What goes on a printed card. All strings are printed as given (trimmed).
#[derive(Debug, Clone, Copy)]
pub struct PrintCard<'a> {
    /// The card's QR code, already encoded from the card URL.
    pub qr: &'a CardQr,
    /// The resident's name, only if they chose to print it (kanji, kana or Latin; up to about
    /// 40 characters fit on both layouts).
    pub name: Option<&'a str>,
    /// Municipality in Japanese, e.g. 「常総市」.
    pub municipality_ja: &'a str,
    /// Municipality in English, e.g. "Joso City".
    pub municipality_en: &'a str,
    /// Short human reference printed small, e.g. the first 8 hex digits of the card id.
    pub card_ref: &'a str,
    /// Issue date, already formatted by the caller (e.g. "2026-11-21").
    pub issued_on: &'a str,
    /// Expiry date, already formatted by the caller.
    pub expires_on: &'a str,
}

/// Why a card could not be printed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrintError {
    /// The embedded font has no glyph for a character (it would print as a blank box).
    #[error("{field}: the character {ch:?} (U+{:04X}) is not in the print font", u32::from(*.ch))]
    MissingGlyph { field: &'static str, ch: char },
    /// Line breaks, tabs and other control characters are not accepted.
    #[error("{field}: control characters cannot be printed")]
    ControlCharacter { field: &'static str },
    /// The text does not fit even at the smallest size allowed for it.
    #[error("{field}: too long to fit on the card")]
    TextTooLong { field: &'static str },
    /// The QR code has too many modules to print at the minimum size.
    #[error("the QR code is too dense to print at the required size")]
    QrTooDense,
    #[error("font: {0}")]
    Font(String),
    #[error("PNG encoding: {0}")]
    Png(String),
    #[error("PDF: {0}")]
    Pdf(String),
}

/// Longest text accepted for any field, in characters (bounds the layout work).
const MAX_FIELD_CHARS: usize = 120;

/// Checks every field and returns the card with its name normalised (blank → `None`).
fn checked<'a>(font: &Font, card: &PrintCard<'a>) -> Result<PrintCard<'a>, PrintError> {
    let name = card.name.map(str::trim).filter(|n| !n.is_empty());
    let fields = [
        ("name", name.unwrap_or("")),
        ("municipality_ja", card.municipality_ja),
        ("municipality_en", card.municipality_en),
        ("card_ref", card.card_ref),
        ("issued_on", card.issued_on),
        ("expires_on", card.expires_on),
    ];
    for (field, text) in fields {
        if text.chars().count() > MAX_FIELD_CHARS {
            return Err(PrintError::TextTooLong { field });
        }
        font.check(field, text)?;
    }
    Ok(PrintCard { name, ..*card })
}

fn modules(card: &PrintCard) -> Result<u32, PrintError> {
    u32::try_from(card.qr.width()).map_err(|_| PrintError::QrTooDense)
}

fn fridge_page(font: &Font, card: &PrintCard) -> Result<Page, PrintError> {
    let card = checked(font, card)?;
    layout::fridge_sheet(font, &card, modules(&card)?)
}

fn wallet_page(font: &Font, card: &PrintCard) -> Result<Page, PrintError> {
    let card = checked(font, card)?;
    layout::wallet_card(font, &card, modules(&card)?)
}

fn png(
    make: fn(&Font, &PrintCard) -> Result<Page, PrintError>,
    card: &PrintCard,
) -> Result<Vec<u8>, PrintError> {
    let font = Font::load()?;
    let page = make(&font, card)?;
    raster::encode_png(&raster::render(&font, &page, card.qr), page.dpi)
}

fn pdf(
    make: fn(&Font, &PrintCard) -> Result<Page, PrintError>,
    card: &PrintCard,
) -> Result<Vec<u8>, PrintError> {
    let font = Font::load()?;
    let page = make(&font, card)?;
    let title = format!("救急医療情報キット {}", card.municipality_ja.trim());
    pdf::render(&font, &page, card.qr, &title)
}

/// The fridge sheet as a greyscale PNG: A4 portrait at 150 dpi (1240 × 1754 px).
pub fn fridge_sheet_png(card: &PrintCard) -> Result<Vec<u8>, PrintError> {
    png(fridge_page, card)
}

/// The fridge sheet as a one-page A4 portrait PDF with a vector QR code.
pub fn fridge_sheet_pdf(card: &PrintCard) -> Result<Vec<u8>, PrintError> {
    pdf(fridge_page, card)
}

/// The wallet card as a greyscale PNG: ID-1 (85.6 × 54 mm) at 300 dpi (1011 × 638 px).
pub fn wallet_card_png(card: &PrintCard) -> Result<Vec<u8>, PrintError> {
    png(wallet_page, card)
}

/// The wallet card as a one-page PDF of ID-1 size (85.6 × 54 mm) with a vector QR code.
pub fn wallet_card_pdf(card: &PrintCard) -> Result<Vec<u8>, PrintError> {
    pdf(wallet_page, card)
}

/// Whether a card prints on both layouts: the checks [`fridge_sheet_pdf`] and [`wallet_card_pdf`]
/// make (the font has every character, every text fits), without drawing it.
pub fn printable(card: &PrintCard) -> Result<(), PrintError> {
    let font = Font::load()?;
    fridge_page(&font, card)?;
    wallet_page(&font, card)?;
    Ok(())
}

/// Most cards in one batch PDF (bounds the memory a batch takes).
pub const BATCH_MAX_CARDS: usize = 5_000;

fn batch_pdf(
    make: fn(&Font, &PrintCard) -> Result<Page, PrintError>,
    cards: &[PrintCard],
    title: &str,
) -> Result<Vec<u8>, PrintError> {
    if cards.is_empty() || cards.len() > BATCH_MAX_CARDS {
        return Err(PrintError::TextTooLong { field: "batch" });
    }
    let font = Font::load()?;
    let pages = cards
        .iter()
        .map(|c| make(&font, c))
        .collect::<Result<Vec<_>, _>>()?;
    let with_qr: Vec<(&Page, &CardQr)> = pages.iter().zip(cards.iter().map(|c| c.qr)).collect();
    pdf::render_cards(&font, &with_qr, title)
}

/// Many fridge sheets as one A4 PDF, a sheet a page in the order given (a city's batch for
/// mailing, issue 26). The pages are those of [`fridge_sheet_pdf`]; the title is `title`. An empty
/// batch or one over [`BATCH_MAX_CARDS`] is refused ([`PrintError::TextTooLong`], field `batch`).
pub fn fridge_sheets_pdf(cards: &[PrintCard], title: &str) -> Result<Vec<u8>, PrintError> {
    batch_pdf(fridge_page, cards, title)
}

/// Many wallet cards as one PDF of ID-1 pages, a card a page in the order given.
pub fn wallet_cards_pdf(cards: &[PrintCard], title: &str) -> Result<Vec<u8>, PrintError> {
    batch_pdf(wallet_page, cards, title)
}

/// A resident's disclosure (RULES R13) as an A4 portrait PDF of as many pages as it takes:
/// the title block, then each section's heading and lines, with "page / pages" footers. Text is
/// real (extractable) text in the embedded font. Characters the font lacks print as 〓 and control
/// characters as spaces; only a document of more than [`DISCLOSURE_MAX_PAGES`] pages is refused
/// ([`PrintError::TextTooLong`] with field `disclosure`). The same input gives the same bytes.
pub fn disclosure_pdf(doc: &DisclosureDoc) -> Result<Vec<u8>, PrintError> {
    let font = Font::load()?;
    let pages = disclosure::layout(&font, doc)?;
    let title = format!("保有個人データの開示 {}", doc.municipality_ja.trim());
    pdf::render_pages(
        &font,
        &pages,
        (disclosure::WIDTH_MM, disclosure::HEIGHT_MM),
        &title,
    )
}

/// The household sticker (issue 27) as a one-page A4 portrait PDF: 「玄関 / Household」, the
/// sticker's QR code as large as fits, what it is for, and a short reference (e.g. the first 8
/// hex digits of the household id). No names: the sticker carries no personal data.
pub fn household_sticker_pdf(qr: &CardQr, reference: &str) -> Result<Vec<u8>, PrintError> {
    let font = Font::load()?;
    font.check("ref", reference)?;
    let modules = u32::try_from(qr.width()).map_err(|_| PrintError::QrTooDense)?;
    let page = household::sticker_page(&font, modules, reference)?;
    pdf::render(&font, &page, qr, "玄関ステッカー Household sticker")
}

/// The household sticker as a greyscale PNG (A4 at 150 dpi), the same page as the PDF.
pub fn household_sticker_png(qr: &CardQr, reference: &str) -> Result<Vec<u8>, PrintError> {
    let font = Font::load()?;
    font.check("ref", reference)?;
    let modules = u32::try_from(qr.width()).map_err(|_| PrintError::QrTooDense)?;
    let page = household::sticker_page(&font, modules, reference)?;
    raster::encode_png(&raster::render(&font, &page, qr), page.dpi)
}

/// Re-confirmation reminder letters (issue 26) as one A4 PDF, a letter a page in the order given:
/// the addressee, the date and municipality, the request in Japanese and English, the dates of
/// the last confirmation and of the due date, and where to confirm. Nothing medical is printed.
/// No letters, or more than [`REMINDER_MAX_LETTERS`], is refused ([`PrintError::TextTooLong`],
/// field `letters`). The same input gives the same bytes.
pub fn reminder_letters_pdf(letters: &ReminderLetters) -> Result<Vec<u8>, PrintError> {
    let font = Font::load()?;
    let pages = letter::layout(&font, letters)?;
    let title = format!(
        "登録内容のご確認のお願い {}",
        letters.municipality_ja.trim()
    );
    pdf::render_pages(
        &font,
        &pages,
        (disclosure::WIDTH_MM, disclosure::HEIGHT_MM),
        &title,
    )
}
