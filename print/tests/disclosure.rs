//! The disclosure PDF (RULES R13): real text a reader can extract, every section, pages that
//! follow one another, and no refusal for characters the font lacks.

use kyukit_print::{DisclosureDoc, DisclosureSection, disclosure_pdf};

fn doc(lines: usize) -> DisclosureDoc {
    DisclosureDoc {
        municipality_ja: "常総市".into(),
        municipality_en: "Joso City".into(),
        resident_name: "山田 花子（ヤマダ ハナコ）".into(),
        generated_at: "2026-11-21 09:00 JST".into(),
        sections: vec![
            DisclosureSection {
                heading_ja: "救急医療情報".into(),
                heading_en: "Emergency dataset".into(),
                lines: vec![
                    "服薬 / medications: name ワルファリン, dose 2mg".into(),
                    "アレルギー / allergies: substance ペニシリン 😀".into(),
                ],
            },
            DisclosureSection {
                heading_ja: "代理人".into(),
                heading_en: "Proxies".into(),
                lines: vec![],
            },
            DisclosureSection {
                heading_ja: "利用履歴".into(),
                heading_en: "Access history".into(),
                lines: (0..lines)
                    .map(|i| format!("#{i} 2026-11-21 09:{:02} JST record.scan ok paramedic 常総広域消防本部", i % 60))
                    .collect(),
            },
        ],
    }
}

fn pdf_text(pdf: &[u8]) -> (usize, String) {
    let doc = printpdf::PdfDocument::parse(pdf, &Default::default(), &mut Vec::new()).unwrap();
    let pages = doc.pages.len();
    (pages, doc.extract_text().concat().join("\n"))
}

#[test]
fn the_disclosure_is_a_pdf_with_the_name_every_section_and_numbered_pages() {
    let pdf = disclosure_pdf(&doc(400)).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let (pages, text) = pdf_text(&pdf);
    assert!(pages > 3, "{pages} pages");
    for expected in [
        "保有個人データの開示",
        "山田 花子",
        "常総市",
        "Joso City",
        "救急医療情報 / Emergency dataset",
        "ワルファリン",
        "代理人 / Proxies",
        "なし / none",
        "利用履歴 / Access history",
        "#0 2026-11-21",
        "#399 2026-11-21",
        "〓",
    ] {
        assert!(text.contains(expected), "{expected:?} missing");
    }
    assert!(text.contains(&format!("{pages} / {pages}")));
    assert!(!text.contains('😀'));
    // Only a subset of the 6 MB font is embedded.
    assert!(pdf.len() < 400_000, "{} bytes", pdf.len());
}

#[test]
fn the_disclosure_is_reproducible_and_an_empty_one_is_one_page() {
    assert_eq!(
        disclosure_pdf(&doc(50)).unwrap(),
        disclosure_pdf(&doc(50)).unwrap()
    );
    let empty = DisclosureDoc::default();
    let (pages, text) = pdf_text(&disclosure_pdf(&empty).unwrap());
    assert_eq!(pages, 1);
    assert!(text.contains("1 / 1"));
}

#[test]
fn pdftotext_reads_it_too_when_installed() {
    let pdf = disclosure_pdf(&doc(10)).unwrap();
    let dir = std::env::temp_dir().join(format!("kyukit-disclosure-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("d.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg("-enc")
        .arg("UTF-8")
        .arg(&path)
        .arg("-")
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(text.contains("山田 花子"), "{text}");
            assert!(text.contains("Emergency dataset"), "{text}");
        }
        _ => eprintln!("pdftotext not installed: skipped (tests/run.sh installs poppler-utils)"),
    }
}
