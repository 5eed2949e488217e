//! Card benchmarks: sign, verify, and sign + URL + QR + PNG (what issuing one printable card costs).
//! Run: `cargo bench -p kyukit-card`. Single-threaded: each number is one core's work.

use criterion::{Criterion, criterion_group, criterion_main};
use kyukit_card::*;
use std::hint::black_box;

fn fixtures() -> (IssuerKey, KeySet, Claims) {
    let key = IssuerKey::from_secret_bytes(&[0x42; 32]).unwrap();
    let keys: KeySet = [key.public().clone()].into_iter().collect();
    let claims = Claims {
        card_id: CardId([7; 16]),
        issuer: None,
        issued_at: Some(1_767_225_600),
        expires_at: 1_924_992_000,
        triage: Some(TriageCore {
            blood_type: BloodType {
                abo: Abo::O,
                rh: Rh::Positive,
            },
            flags: [TriageFlag::Anticoagulant, TriageFlag::Insulin]
                .into_iter()
                .collect(),
        }),
    };
    (key, keys, claims)
}

fn benches(c: &mut Criterion) {
    let (key, keys, claims) = fixtures();
    let cose = sign(&claims, &key).unwrap();
    let url = card_url("https://qq.city.joso.lg.jp/c/", &cose).unwrap();

    c.bench_function("sign", |b| {
        b.iter(|| sign(black_box(&claims), &key).unwrap())
    });
    c.bench_function("verify", |b| {
        b.iter(|| verify(black_box(&cose), &keys, 1_800_000_000).unwrap())
    });
    c.bench_function("qr_encode", |b| {
        b.iter(|| CardQr::encode(black_box(&url), EcLevel::Q).unwrap())
    });
    c.bench_function("qr_encode_png_4px", |b| {
        b.iter(|| {
            CardQr::encode(black_box(&url), EcLevel::Q)
                .unwrap()
                .to_png(4, 4)
                .unwrap()
        })
    });
    c.bench_function("sign_url_qr_png_4px", |b| {
        b.iter(|| {
            let cose = sign(black_box(&claims), &key).unwrap();
            let url = card_url("https://qq.city.joso.lg.jp/c/", &cose).unwrap();
            CardQr::encode(&url, EcLevel::Q)
                .unwrap()
                .to_png(4, 4)
                .unwrap()
        })
    });
    c.bench_function("sign_url_qr_png_8px", |b| {
        b.iter(|| {
            let cose = sign(black_box(&claims), &key).unwrap();
            let url = card_url("https://qq.city.joso.lg.jp/c/", &cose).unwrap();
            CardQr::encode(&url, EcLevel::Q)
                .unwrap()
                .to_png(8, 4)
                .unwrap()
        })
    });
    c.bench_function("ndef_build_parse", |b| {
        b.iter(|| parse_ndef(&build_ndef(black_box(&url), &cose).unwrap()).unwrap())
    });
}

criterion_group! {
    name = card;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(card);
