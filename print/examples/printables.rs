//! Writes the four printables of a sample card into a directory, with the card URL and timings.
//!
//!     cargo run --release -p kyukit-print --example printables -- [--triage] OUT_DIR [NAME]
//!
//! Writes `fridge.png`, `fridge.pdf`, `wallet.png`, `wallet.pdf` and `url.txt`; prints one line per
//! file with its size and render time. NAME defaults to none (the name is not printed). The card
//! is a pointer card (QR version 10), or with `--triage` the largest kind: an issuer and every
//! triage flag (version 11). It is signed with the public RFC 6979 test key, never a real key.

use kyukit_card::{
    Abo, BloodType, CardId, CardQr, Claims, EcLevel, IssuerKey, Rh, TriageCore, TriageFlag,
    card_url, sign,
};
use kyukit_print::{
    PrintCard, fridge_sheet_pdf, fridge_sheet_png, wallet_card_pdf, wallet_card_png,
};
use std::time::Instant;

/// The P-256 private key of RFC 6979 appendix A.2.5: public test material.
const TEST_KEY: [u8; 32] = [
    0xc9, 0xaf, 0xa9, 0xd8, 0x45, 0xba, 0x75, 0x16, 0x6b, 0x5c, 0x21, 0x57, 0x67, 0xb1, 0xd6, 0x93,
    0x4e, 0x50, 0xc3, 0xdb, 0x36, 0xe8, 0x9b, 0x12, 0x7b, 0x8a, 0x62, 0x2b, 0x12, 0x0f, 0x67, 0x21,
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (flags, mut args): (Vec<String>, Vec<String>) =
        std::env::args().skip(1).partition(|a| a.starts_with("--"));
    let triage = match flags.as_slice() {
        [] => false,
        [f] if f == "--triage" => true,
        _ => return Err("usage: printables [--triage] OUT_DIR [NAME]".into()),
    };
    if args.is_empty() || args.len() > 2 {
        return Err("usage: printables [--triage] OUT_DIR [NAME]".into());
    }
    let name = (args.len() == 2).then(|| args.remove(1));
    let out = std::path::PathBuf::from(args.remove(0));
    std::fs::create_dir_all(&out)?;

    let key = IssuerKey::from_secret_bytes(&TEST_KEY)?;
    let claims = Claims {
        card_id: CardId([
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ]),
        issuer: triage.then(|| "jp-082163".to_string()),
        issued_at: Some(1_795_219_200), // 2026-11-21T00:00:00Z
        expires_at: 1_952_985_600,      // 2031-11-21T00:00:00Z
        triage: triage.then(|| TriageCore {
            blood_type: BloodType {
                abo: Abo::AB,
                rh: Rh::Negative,
            },
            flags: TriageFlag::ALL.into_iter().collect(),
        }),
    };
    let url = card_url("https://qq.city.joso.lg.jp/c/", &sign(&claims, &key)?)?;
    let qr = CardQr::encode(&url, EcLevel::Q)?;
    std::fs::write(out.join("url.txt"), &url)?;
    let card = PrintCard {
        qr: &qr,
        name: name.as_deref(),
        municipality_ja: "常総市",
        municipality_en: "Joso City",
        card_ref: "00112233",
        issued_on: "2026-11-21",
        expires_on: "2031-11-21",
    };
    type Render = fn(&PrintCard) -> Result<Vec<u8>, kyukit_print::PrintError>;
    let outputs: [(&str, Render); 4] = [
        ("fridge.png", fridge_sheet_png),
        ("fridge.pdf", fridge_sheet_pdf),
        ("wallet.png", wallet_card_png),
        ("wallet.pdf", wallet_card_pdf),
    ];
    for (file, render) in outputs {
        let start = Instant::now();
        let bytes = render(&card)?;
        let took = start.elapsed();
        std::fs::write(out.join(file), &bytes)?;
        println!(
            "{file}: {} bytes in {:.1} ms",
            bytes.len(),
            took.as_secs_f64() * 1e3
        );
    }
    Ok(())
}
