//! The four printables of real signed cards: sizes, QR codes that decode back to the card URL (from
//! the PNG pixels and from the PDF's own vector paths), the wording, and the name only when given.

use image::GrayImage;
use kyukit_card::{
    Abo, BloodType, CardId, CardQr, Claims, EcLevel, IssuerKey, Rh, TriageCore, TriageFlag,
    card_url, sign,
};
use kyukit_print::{
    PrintCard, PrintError, fridge_sheet_pdf, fridge_sheet_png, wallet_card_pdf, wallet_card_png,
};
use lopdf::Object;

/// The P-256 private key of RFC 6979 appendix A.2.5; public test material, never a real key.
const VECTOR_KEY_HEX: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
const BASE_URL: &str = "https://qq.city.joso.lg.jp/c/";

fn claims(triage: bool) -> Claims {
    Claims {
        card_id: CardId(
            hex::decode("00112233445566778899aabbccddeeff")
                .unwrap()
                .try_into()
                .unwrap(),
        ),
        issuer: triage.then(|| "jp-082163".to_string()),
        issued_at: Some(1_767_225_600),
        expires_at: 1_924_992_000,
        triage: triage.then(|| TriageCore {
            blood_type: BloodType {
                abo: Abo::AB,
                rh: Rh::Negative,
            },
            flags: TriageFlag::ALL.into_iter().collect(),
        }),
    }
}

/// A signed card URL and its QR code: a plain pointer card (version 10) or the largest kind,
/// with an issuer and every triage flag (version 11).
fn sample(triage: bool) -> (String, CardQr) {
    let bytes: [u8; 32] = hex::decode(VECTOR_KEY_HEX).unwrap().try_into().unwrap();
    let key = IssuerKey::from_secret_bytes(&bytes).unwrap();
    let url = card_url(BASE_URL, &sign(&claims(triage), &key).unwrap()).unwrap();
    let qr = CardQr::encode(&url, EcLevel::Q).unwrap();
    (url, qr)
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

type Render = fn(&PrintCard) -> Result<Vec<u8>, PrintError>;
type Expect = fn(&PrintError) -> bool;

const PNGS: [(&str, Render, (u32, u32)); 2] = [
    ("fridge", fridge_sheet_png, (1240, 1754)),
    ("wallet", wallet_card_png, (1011, 638)),
];
/// Page sizes in points: A4 and ID-1.
const PDFS: [(&str, Render, (f32, f32)); 2] = [
    ("fridge", fridge_sheet_pdf, (595.28, 841.89)),
    ("wallet", wallet_card_pdf, (242.65, 153.07)),
];

/// Every QR symbol rqrr finds in the image, decoded.
fn decode_all(img: &GrayImage) -> Vec<String> {
    let mut prepared = rqrr::PreparedImage::prepare(img.clone());
    prepared
        .detect_grids()
        .iter()
        .filter_map(|g| g.decode().ok().map(|(_, text)| text))
        .collect()
}

const NAMES: [Option<&str>; 5] = [
    None,
    Some("山田 花子"),
    Some("やまだ はなこ"),
    Some("寿限無寿限無五劫の擦り切れ海砂利水魚の水行末雲来末風来末食う寝る処に住む処やぶ"),
    Some("Maria Fernanda Rodrigues da Silva Santos"),
];

#[test]
fn pngs_have_the_right_size_and_their_qr_decodes_to_the_card_url() {
    for triage in [false, true] {
        let (url, qr) = sample(triage);
        for name in NAMES {
            for (what, render, size) in PNGS {
                let png = render(&card(&qr, name)).unwrap();
                let img = image::load_from_memory(&png).unwrap().to_luma8();
                assert_eq!(img.dimensions(), size, "{what}");
                assert_eq!(decode_all(&img), vec![url.clone()], "{what}, {name:?}");
            }
        }
    }
}

/// The PDF's page content: filled black paths rasterised at `px_per_pt` (fills of other colours
/// erase), and the MediaBox.
fn rasterise_pdf_paths(pdf: &[u8], px_per_pt: f32) -> (GrayImage, Vec<f32>) {
    let doc = lopdf::Document::load_mem(pdf).unwrap();
    let pages = doc.get_pages();
    assert_eq!(pages.len(), 1, "one page");
    let page_id = pages[&1];
    let page = doc.get_dictionary(page_id).unwrap();
    let media: Vec<f32> = page
        .get(b"MediaBox")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_float().unwrap())
        .collect();
    let (w, h) = (media[2], media[3]);
    let mut img = GrayImage::from_pixel(
        (w * px_per_pt).round() as u32,
        (h * px_per_pt).round() as u32,
        image::Luma([255]),
    );
    let content = doc.get_and_decode_page_content(page_id).unwrap();
    let num = |o: &Object| o.as_float().unwrap();
    let mut grey = 0.0;
    let mut rings: Vec<Vec<(f32, f32)>> = Vec::new();
    for op in content.operations {
        let a = &op.operands;
        match op.operator.as_str() {
            "g" => grey = num(&a[0]),
            "m" => rings.push(vec![(num(&a[0]), num(&a[1]))]),
            "l" => rings.last_mut().unwrap().push((num(&a[0]), num(&a[1]))),
            "re" => {
                let (x, y, rw, rh) = (num(&a[0]), num(&a[1]), num(&a[2]), num(&a[3]));
                rings.push(vec![(x, y), (x + rw, y), (x + rw, y + rh), (x, y + rh)]);
            }
            "c" | "v" | "y" | "cm" => panic!("unexpected {} in our pages", op.operator),
            "f" | "f*" | "F" => {
                for ring in rings.drain(..) {
                    // Every path we draw is an axis-aligned rectangle.
                    assert_eq!(ring.len(), 4);
                    let xs = ring.iter().map(|p| p.0);
                    let ys = ring.iter().map(|p| p.1);
                    let (x0, x1) = (xs.clone().fold(f32::MAX, f32::min), xs.fold(0.0, f32::max));
                    let (y0, y1) = (ys.clone().fold(f32::MAX, f32::min), ys.fold(0.0, f32::max));
                    let level = (grey * 255.0).round() as u8;
                    for py in 0..img.height() {
                        // PDF y grows upwards; pixel centres.
                        let y = h - (py as f32 + 0.5) / px_per_pt;
                        if y < y0 || y > y1 {
                            continue;
                        }
                        for px in 0..img.width() {
                            let x = (px as f32 + 0.5) / px_per_pt;
                            if x >= x0 && x <= x1 {
                                img.put_pixel(px, py, image::Luma([level]));
                            }
                        }
                    }
                }
            }
            "n" => rings.clear(),
            _ => {}
        }
    }
    (img, media)
}

#[test]
fn pdf_pages_have_the_right_size_and_their_vector_qr_decodes_to_the_card_url() {
    for triage in [false, true] {
        let (url, qr) = sample(triage);
        for (what, render, (w, h)) in PDFS {
            let pdf = render(&card(&qr, Some("山田 花子"))).unwrap();
            assert!(pdf.starts_with(b"%PDF-"));
            // 300 dpi for the wallet card, 150 for the sheet: the PNGs' own resolutions.
            let dpi = if what == "wallet" { 300.0 } else { 150.0 };
            let (img, media) = rasterise_pdf_paths(&pdf, dpi / 72.0);
            assert_eq!(media[..2], [0.0, 0.0]);
            assert!(
                (media[2] - w).abs() < 0.05 && (media[3] - h).abs() < 0.05,
                "{what}: {media:?}"
            );
            assert_eq!(decode_all(&img), vec![url.clone()], "{what}");
        }
    }
}

/// The text a PDF viewer would extract (via the ToUnicode map), line by line.
fn pdf_text(pdf: &[u8]) -> String {
    let doc = printpdf::PdfDocument::parse(pdf, &Default::default(), &mut Vec::new()).unwrap();
    doc.extract_text().concat().join("\n")
}

#[test]
fn pdf_text_is_extractable_and_has_the_name_only_when_given() {
    let (_, qr) = sample(false);
    let wording = [
        "救急医療情報キット",
        "Emergency information card",
        "常総市",
        "Joso City",
        "2026-11-21",
        "2031-11-21",
        "00112233",
        "119",
    ];
    for (what, render, _) in PDFS {
        let without = pdf_text(&render(&card(&qr, None)).unwrap());
        let with = pdf_text(&render(&card(&qr, Some("山田 花子"))).unwrap());
        for text in [&without, &with] {
            for w in wording {
                assert!(text.contains(w), "{what}: {w:?} missing from {text:?}");
            }
        }
        let flat = |t: &str| t.replace('\n', "");
        for sentence in [
            "救急隊の方へ：このQRコードを読み取ってください。",
            "ご家族・近くの方へ：具合が悪いときはすぐに119番へ。",
        ] {
            assert!(flat(&with).contains(sentence), "{what}: {sentence}");
        }
        assert!(
            with.contains("山田 花子") && with.contains("氏名"),
            "{what}"
        );
        assert!(
            !without.contains("山田") && !without.contains("氏名"),
            "{what}"
        );
        let fridge_line = without.contains("冷蔵庫の扉に貼ってください")
            && without.contains("Keep this on the fridge door.");
        assert_eq!(fridge_line, what == "fridge");
    }
}

#[test]
fn the_name_changes_the_pngs_and_a_blank_name_is_no_name() {
    let (_, qr) = sample(false);
    for (what, render, _) in PNGS {
        let none = render(&card(&qr, None)).unwrap();
        let blank = render(&card(&qr, Some("  "))).unwrap();
        let hanako = render(&card(&qr, Some("山田 花子"))).unwrap();
        let taro = render(&card(&qr, Some("山田 太郎"))).unwrap();
        assert_eq!(none, blank, "{what}");
        assert_ne!(none, hanako, "{what}");
        assert_ne!(hanako, taro, "{what}");
    }
}

#[test]
fn output_is_reproducible() {
    let (_, qr) = sample(true);
    let c = card(&qr, Some("山田 花子"));
    for render in [
        fridge_sheet_png,
        fridge_sheet_pdf,
        wallet_card_png,
        wallet_card_pdf,
    ] {
        assert_eq!(render(&c).unwrap(), render(&c).unwrap());
    }
}

#[test]
fn pdfs_embed_only_a_subset_of_the_font() {
    let (_, qr) = sample(true);
    for (what, render, _) in PDFS {
        let pdf = render(&card(&qr, Some("山田 花子"))).unwrap();
        // The whole font is 6 MB.
        assert!(pdf.len() < 100_000, "{what}: {} bytes", pdf.len());
        assert!(
            pdf.windows(19)
                .any(|w| w == b"KYUKIT+IPAexGothic/" || w == b"KYUKIT+IPAexGothic "),
            "{what}: subset font name"
        );
    }
}

#[test]
fn unprintable_input_is_an_error_not_a_damaged_card() {
    let (_, qr) = sample(false);
    let long = "山".repeat(121);
    let cases: [(Option<&str>, Expect); 4] = [
        (Some("山田 😀"), |e| {
            matches!(
                e,
                PrintError::MissingGlyph {
                    field: "name",
                    ch: '😀'
                }
            )
        }),
        (Some("山田\n花子"), |e| {
            matches!(e, PrintError::ControlCharacter { field: "name" })
        }),
        (Some(&long), |e| {
            matches!(e, PrintError::TextTooLong { field: "name" })
        }),
        // 80 wide characters fit on neither layout in two lines at the smallest size.
        (Some(&long[..80 * 3]), |e| {
            matches!(e, PrintError::TextTooLong { field: "name" })
        }),
    ];
    for (name, expected) in cases {
        for render in [
            fridge_sheet_png,
            fridge_sheet_pdf,
            wallet_card_png,
            wallet_card_pdf,
        ] {
            let err = render(&card(&qr, name)).unwrap_err();
            assert!(expected(&err), "{name:?}: {err}");
        }
    }
    let mut c = card(&qr, None);
    c.municipality_en = "Jōsō\tCity";
    assert!(matches!(
        fridge_sheet_pdf(&c),
        Err(PrintError::ControlCharacter {
            field: "municipality_en"
        })
    ));
}
