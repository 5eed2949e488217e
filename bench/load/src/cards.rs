//! `kyukit-bench cards`: sign `--count` cards and render each one's QR code to PNG, on every core,
//! with the code the server uses for `POST …/cards` and `GET …/qr.png`: `kyukit_card::sign`
//! (COSE_Sign1, ES256), `card_url`, `CardQr::encode` at level Q and `CardQr::to_png` with the
//! server's defaults (8 px modules, 4-module quiet zone). Half the cards carry a triage core (the
//! larger QR). Prints cards/s, total seconds, bytes and peak RSS.

use kyukit_card::{
    Abo, BloodType, CardId, CardQr, Claims, EcLevel, IssuerKey, Rh, TriageCore, TriageFlag,
    TriageFlags,
};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct CardsArgs {
    /// Cards to sign and render.
    #[arg(long, default_value_t = 100_000)]
    pub count: u64,
    /// Write each PNG to DIR/<nn>/<card id>.png (100 subdirectories) and the URLs to
    /// DIR/urls.tsv.
    #[arg(long, conflicts_with = "no_write")]
    pub out: Option<PathBuf>,
    /// Render in memory only.
    #[arg(long)]
    pub no_write: bool,
    /// Worker threads (default: one per CPU).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Public URL of the municipality's server (card URLs are `<URL>c/<digits>`).
    #[arg(long, default_value = "https://qq.city.joso.lg.jp/")]
    pub public_url: String,
    /// Pixels per module and quiet zone in modules (the server's defaults).
    #[arg(long, default_value_t = 8)]
    pub module_px: u32,
    #[arg(long, default_value_t = 4)]
    pub quiet_zone: u32,
}

/// splitmix64, for card ids (the card library takes ids from its caller).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn claims(i: u64, now: i64) -> Claims {
    let (a, b) = (mix(i), mix(i ^ 0x5555_5555_5555_5555));
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&a.to_be_bytes());
    id[8..].copy_from_slice(&b.to_be_bytes());
    Claims {
        card_id: CardId(id),
        issuer: Some("082112".into()),
        issued_at: Some(now),
        expires_at: now + 5 * 365 * 86_400,
        triage: (i % 2 == 1).then(|| TriageCore {
            blood_type: BloodType {
                abo: Abo::A,
                rh: Rh::Positive,
            },
            flags: TriageFlags::empty()
                .with(TriageFlag::Anticoagulant)
                .with(TriageFlag::SevereAllergy),
        }),
    }
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

pub fn run(args: &CardsArgs) -> Result<(), String> {
    if args.out.is_none() && !args.no_write {
        return Err("say where the PNGs go (--out DIR) or --no-write".into());
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    // A fixed throwaway issuer key (not a real municipality's).
    let key = IssuerKey::from_secret_bytes(&[0x42; 32]).map_err(|e| e.to_string())?;
    let now = 1_795_000_000;
    if let Some(dir) = &args.out {
        for d in 0..100 {
            std::fs::create_dir_all(dir.join(format!("{d:02}")))
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
    }
    let base = format!("{}/c/", args.public_url.trim_end_matches('/'));
    let urls = match &args.out {
        Some(dir) => {
            let path = dir.join("urls.tsv");
            let file =
                std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(Mutex::new(std::io::BufWriter::new(file)))
        }
        None => None,
    };
    let next = AtomicU64::new(0);
    let png_bytes = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<(), String> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= args.count {
                            return Ok(());
                        }
                        let claims = claims(i, now);
                        let cose = kyukit_card::sign(&claims, &key).map_err(|e| e.to_string())?;
                        let url = kyukit_card::card_url(&base, &cose).map_err(|e| e.to_string())?;
                        let qr = CardQr::encode(&url, EcLevel::Q).map_err(|e| e.to_string())?;
                        let png = qr
                            .to_png(args.module_px, args.quiet_zone)
                            .map_err(|e| e.to_string())?;
                        png_bytes.fetch_add(png.len() as u64, Ordering::Relaxed);
                        if let Some(dir) = &args.out {
                            let id = claims.card_id.to_hex();
                            let path = dir
                                .join(format!("{:02}", i % 100))
                                .join(format!("{id}.png"));
                            std::fs::write(&path, &png)
                                .map_err(|e| format!("{}: {e}", path.display()))?;
                        }
                        if let Some(urls) = &urls {
                            let mut w = urls.lock().unwrap_or_else(|p| p.into_inner());
                            writeln!(w, "{:02}/{}.png\t{url}", i % 100, claims.card_id.to_hex())
                                .map_err(|e| format!("urls.tsv: {e}"))?;
                        }
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().map_err(|_| "a worker panicked".to_string())?)
    })?;
    if let Some(urls) = urls {
        urls.into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .flush()
            .map_err(|e| format!("urls.tsv: {e}"))?;
    }
    let secs = started.elapsed().as_secs_f64();
    let bytes = png_bytes.load(Ordering::Relaxed);
    println!(
        "| cards | threads | seconds | cards/s | PNG MiB (mean bytes) | written | peak RSS MiB |\n|--:|--:|--:|--:|--:|---|--:|\n| {} | {threads} | {secs:.1} | {:.0} | {:.1} ({}) | {} | {} |",
        args.count,
        args.count as f64 / secs.max(1e-9),
        bytes as f64 / 1_048_576.0,
        bytes / args.count.max(1),
        args.out
            .as_ref()
            .map_or_else(|| "no".to_string(), |d| d.display().to_string()),
        peak_rss_mib().map_or_else(|| "-".into(), |m| format!("{m:.1}")),
    );
    Ok(())
}
