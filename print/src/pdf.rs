//! PDF rendering of a laid-out page with `printpdf`: real (extractable) text in the embedded,
//! subsetted font and the QR as one filled vector path of module runs.
//!
//! The font is subset here (only the glyphs the page uses, with a Unicode cmap) before printpdf
//! sees it, because printpdf subsets only with its `text_layout` feature, which pulls in a whole
//! layout engine; the full 6 MB font would otherwise be embedded in every PDF.

use crate::PrintError;
use crate::font::{FONT_BYTES, Font};
use crate::layout::{Ink, Item, Page};
use allsorts::binary::read::ReadScope;
use allsorts::font_data::FontData;
use allsorts::subset::{CmapTarget, SubsetProfile};
use kyukit_card::CardQr;
use printpdf::{
    Color, FontId, Greyscale, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFont,
    PdfFontHandle, PdfPage, PdfSaveOptions, Point, Polygon, PolygonRing, Pt, TextItem,
    WindingOrder,
};

fn colour(ink: Ink) -> Color {
    Color::Greyscale(Greyscale {
        percent: match ink {
            Ink::Black => 0.0,
            Ink::White => 1.0,
        },
        icc_profile: None,
    })
}

/// An axis-aligned rectangle given top-left in page millimetres (y down) as a PDF path ring.
fn ring(page_h: f32, x: f32, y: f32, w: f32, h: f32) -> PolygonRing {
    let p = |x: f32, y: f32| LinePoint {
        p: Point::new(Mm(x), Mm(page_h - y)),
        bezier: false,
    };
    PolygonRing {
        points: vec![p(x, y), p(x + w, y), p(x + w, y + h), p(x, y + h)],
    }
}

fn fill(rings: Vec<PolygonRing>, ink: Ink) -> [Op; 2] {
    [
        Op::SetFillColor { col: colour(ink) },
        Op::DrawPolygon {
            polygon: Polygon {
                rings,
                mode: PaintMode::Fill,
                winding_order: WindingOrder::NonZero,
            },
        },
    ]
}

/// The embedded font cut down to the glyphs of `items`' texts (plus `.notdef`).
fn subset_font<'i>(
    font: &Font,
    items: impl Iterator<Item = &'i Item>,
) -> Result<Vec<u8>, PrintError> {
    let mut ids: Vec<u16> = items
        .filter_map(|item| match item {
            Item::Text { text, .. } => Some(text.chars()),
            Item::Rect { .. } => None,
        })
        .flatten()
        .filter_map(|c| font.glyph(c).map(|g| g.0))
        .collect();
    ids.push(0);
    ids.sort_unstable();
    ids.dedup();
    let fail = |e: &dyn std::fmt::Display| PrintError::Pdf(format!("font subsetting: {e}"));
    let data = ReadScope::new(FONT_BYTES)
        .read::<FontData<'_>>()
        .map_err(|e| fail(&e))?;
    let provider = data.table_provider(0).map_err(|e| fail(&e))?;
    allsorts::subset::subset(&provider, &ids, &SubsetProfile::Pdf, CmapTarget::Unicode)
        .map_err(|e| fail(&e))
}

/// Writes the page as a one-page PDF titled `title`.
pub(crate) fn render(
    font: &Font,
    page: &Page,
    qr: &CardQr,
    title: &str,
) -> Result<Vec<u8>, PrintError> {
    render_cards(font, &[(page, qr)], title)
}

/// Writes card pages (each with its QR code) as one PDF titled `title`, a page each, in order.
pub(crate) fn render_cards(
    font: &Font,
    pages: &[(&Page, &CardQr)],
    title: &str,
) -> Result<Vec<u8>, PrintError> {
    let (doc, font_id) = document(font, pages.iter().flat_map(|(p, _)| p.items.iter()), title)?;
    let pdf_pages = pages
        .iter()
        .map(|(page, qr)| {
            let mut ops = item_ops(&page.items, page.height_mm, &font_id);
            ops.extend(qr_ops(page, qr));
            PdfPage::new(Mm(page.width_mm), Mm(page.height_mm), ops)
        })
        .collect();
    save(doc, pdf_pages)
}

/// The QR code of a page: one ring per horizontal run of dark modules.
fn qr_ops(page: &Page, qr: &CardQr) -> [Op; 2] {
    let h = page.height_mm;
    let q = page.qr;
    let module = page.px_to_mm(q.module_px);
    let (ox, oy) = (page.px_to_mm(q.x_px), page.px_to_mm(q.y_px));
    let n = q.modules as usize;
    let mut rings = Vec::new();
    for my in 0..n {
        let mut mx = 0;
        while mx < n {
            if !qr.is_dark(mx, my) {
                mx += 1;
                continue;
            }
            let start = mx;
            while mx < n && qr.is_dark(mx, my) {
                mx += 1;
            }
            rings.push(ring(
                h,
                ox + start as f32 * module,
                oy + my as f32 * module,
                (mx - start) as f32 * module,
                module,
            ));
        }
    }
    fill(rings, Ink::Black)
}

/// A document titled `title` with the embedded font, subset to the glyphs of `items`, as `F1`.
fn document<'i>(
    font: &Font,
    items: impl Iterator<Item = &'i Item>,
    title: &str,
) -> Result<(PdfDocument, FontId), PrintError> {
    let subset = subset_font(font, items)?;
    let mut warnings = Vec::new();
    let mut parsed = ParsedFont::from_bytes(&subset, 0, &mut warnings)
        .ok_or_else(|| PrintError::Pdf("cannot parse the subset font".into()))?;
    // ISO 32000-1 9.6.4: a subset font's name carries a six-letter tag.
    parsed.font_name = Some("KYUKIT+IPAexGothic".into());
    let mut doc = PdfDocument::new(title);
    doc.metadata.info.producer = "kyukit-print".into();
    doc.metadata.info.creator = "Kyukit".into();
    // A fixed id keeps the output byte-for-byte reproducible (`add_font` draws a process-wide
    // pseudo-random one).
    let font_id = FontId("F1".into());
    doc.resources
        .fonts
        .map
        .insert(font_id.clone(), PdfFont::new(parsed));
    Ok((doc, font_id))
}

/// The drawing operations of laid-out items on a page `h` millimetres high.
fn item_ops(items: &[Item], h: f32, font_id: &FontId) -> Vec<Op> {
    let mut ops = Vec::new();
    for item in items {
        match item {
            Item::Rect {
                x,
                y,
                w,
                h: rh,
                ink,
            } => {
                ops.extend(fill(vec![ring(h, *x, *y, *w, *rh)], *ink));
            }
            Item::Text {
                x,
                baseline,
                size_pt,
                text,
                ink,
            } => {
                ops.extend([
                    Op::SetFillColor { col: colour(*ink) },
                    Op::StartTextSection,
                    Op::SetFont {
                        font: PdfFontHandle::External(font_id.clone()),
                        size: Pt(*size_pt),
                    },
                    Op::SetTextCursor {
                        pos: Point::new(Mm(*x), Mm(h - baseline)),
                    },
                    Op::ShowText {
                        items: vec![TextItem::Text(text.clone())],
                    },
                    Op::EndTextSection,
                ]);
            }
        }
    }
    ops
}

/// Writes the pages: compressed, tidied, reproducible.
fn save(mut doc: PdfDocument, pages: Vec<PdfPage>) -> Result<Vec<u8>, PrintError> {
    let options = PdfSaveOptions {
        optimize: true,
        subset_fonts: true,
        ..PdfSaveOptions::default()
    };
    let mut save_warnings = Vec::new();
    let mut lo = doc
        .with_pages(pages)
        .to_lopdf_document(&options, &mut save_warnings);
    tidy(&mut lo)?;
    lo.compress();
    let mut out = Vec::new();
    lo.save_to(&mut out)
        .map_err(|e| PrintError::Pdf(format!("writing: {e}")))?;
    Ok(out)
}

/// Writes text-and-rule pages (no QR) of `width_mm` × `height_mm` as one PDF titled `title`.
pub(crate) fn render_pages(
    font: &Font,
    pages: &[Vec<Item>],
    (width_mm, height_mm): (f32, f32),
    title: &str,
) -> Result<Vec<u8>, PrintError> {
    let (doc, font_id) = document(font, pages.iter().flatten(), title)?;
    let pdf_pages = pages
        .iter()
        .map(|items| {
            PdfPage::new(
                Mm(width_mm),
                Mm(height_mm),
                item_ops(items, height_mm, &font_id),
            )
        })
        .collect();
    save(doc, pdf_pages)
}

/// Makes the output reproducible and honest: printpdf writes a pseudo-random trailer `/ID`,
/// 1970 creation dates (it has no clock, and neither do we), an empty `/GTS_PDFXVersion` that
/// readers take for a PDF/X claim, and empty strings for the fields we do not use. All are
/// optional in PDF 1.3, so they are dropped.
fn tidy(doc: &mut lopdf::Document) -> Result<(), PrintError> {
    doc.trailer.remove(b"ID");
    let info = doc
        .trailer
        .get(b"Info")
        .and_then(|o| o.as_reference())
        .map_err(|e| PrintError::Pdf(format!("document info: {e}")))?;
    let dict = doc
        .get_object_mut(info)
        .and_then(|o| o.as_dict_mut())
        .map_err(|e| PrintError::Pdf(format!("document info: {e}")))?;
    for key in [
        "GTS_PDFXVersion",
        "CreationDate",
        "ModDate",
        "Trapped",
        "Identifier",
        "Author",
        "Subject",
        "Keywords",
    ] {
        dict.remove(key.as_bytes());
    }
    Ok(())
}
