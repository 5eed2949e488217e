//! `kyukit card sample | verify | inspect`: the card format from the command line.

use crate::clock::{Clock, FixedClock, SystemClock};
use crate::secrets;
use crate::service::cards::RevocationList;
use clap::{Args, Subcommand};
use kyukit_card::{
    BloodType, CardError, CardQr, Claims, EcLevel, KeySet, TriageCore, TriageFlag, TriageFlags,
    build_ndef, card_url, decode_unverified, parse_card_url, parse_ndef, verify,
};
use serde_json::json;
use std::path::{Path, PathBuf};

/// The base URL used when none is given (the `.example` TLD is reserved, RFC 2606).
pub const DEFAULT_BASE_URL: &str = "https://kyukit.example/c/";
/// NTAG215 user memory (504 bytes) less the NDEF TLV wrapper and terminator.
pub const NTAG215_NDEF_MAX: usize = 496;

#[derive(Debug, Subcommand)]
pub enum CardCommand {
    /// Sign a sample card and write card.cose, card.url, card.png, card.svg, card.ndef and jwks.json.
    Sample(SampleArgs),
    /// Verify a card offline against a JWKS; print its claims as JSON (exit 0) or why not (exit 1).
    Verify(VerifyArgs),
    /// Show how a card is laid out: byte and digit counts, QR version and EC level, NDEF size.
    Inspect(InspectArgs),
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Issuer base URL; the card digits are appended.
    #[arg(long, default_value = DEFAULT_BASE_URL)]
    base_url: String,
    /// Include the offline triage core (blood type and flags).
    #[arg(long)]
    triage_core: bool,
    /// Blood type for the triage core: A+, A-, B+, B-, O+, O-, AB+, AB-, with ? for unknown.
    #[arg(long, default_value = "A+", requires = "triage_core")]
    blood_type: String,
    /// Triage flags, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "anticoagulant,implanted_device",
        requires = "triage_core"
    )]
    flags: Vec<String>,
    /// Signing key as PKCS#8 PEM; without it a key is generated and written to OUT/key.pem (0600).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Days until the card expires.
    #[arg(long, default_value_t = 1826, value_parser = clap::value_parser!(u32).range(1..=7305))]
    valid_days: u32,
    /// Pixels per QR module in card.png / card.svg.
    #[arg(long, default_value_t = 8)]
    module_px: u32,
    /// Light modules around the QR symbol (the QR standard asks for at least 4).
    #[arg(long, default_value_t = 4)]
    quiet_zone: u32,
}

#[derive(Debug, Args)]
#[group(id = "input", required = true, multiple = false)]
pub struct CardInput {
    /// Raw COSE bytes.
    #[arg(long, group = "input")]
    cose: Option<PathBuf>,
    /// Card URL.
    #[arg(long, group = "input")]
    url: Option<String>,
    /// PNG image containing the card's QR code.
    #[arg(long, group = "input")]
    png: Option<PathBuf>,
    /// NDEF message bytes.
    #[arg(long, group = "input")]
    ndef: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The issuer's public keys (JWKS).
    #[arg(long)]
    jwks: PathBuf,
    #[command(flatten)]
    input: CardInput,
    /// Verify as of this time (RFC 3339), instead of now.
    #[arg(long, value_parser = parse_rfc3339)]
    now: Option<i64>,
    /// A revocation list served at /api/v1/revocations/{kid}: refuse the card if it is listed or
    /// its key is compromised.
    #[arg(long)]
    revocations: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    input: CardInput,
    /// Base URL to lay out a raw `--cose` card under (ignored for other inputs, which carry their URL).
    #[arg(long, default_value = DEFAULT_BASE_URL)]
    base_url: String,
}

fn parse_rfc3339(s: &str) -> Result<i64, String> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| format!("not an RFC 3339 time: {e}"))
}

pub fn run(cmd: CardCommand) -> Result<(), String> {
    match cmd {
        CardCommand::Sample(a) => sample(a, &SystemClock),
        CardCommand::Verify(a) => {
            let clock: Box<dyn Clock> = match a.now {
                Some(t) => Box::new(FixedClock(t)),
                None => Box::new(SystemClock),
            };
            verify_cmd(a, clock.as_ref())
        }
        CardCommand::Inspect(a) => inspect(a),
    }
}

fn read(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.len() > max {
        return Err(format!(
            "{} is too large ({} bytes, limit {max})",
            path.display(),
            meta.len()
        ));
    }
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn write(dir: &Path, name: &str, data: &[u8]) -> Result<(), String> {
    std::fs::write(dir.join(name), data)
        .map_err(|e| format!("cannot write {}: {e}", dir.join(name).display()))
}

fn parse_blood(s: &str) -> Result<BloodType, String> {
    use kyukit_card::{Abo, Rh};
    let (abo, rh) = match s.strip_suffix(['+', '-', '?']) {
        Some(abo) => (abo, &s[abo.len()..]),
        None => (s, "?"),
    };
    let abo = match abo.to_ascii_uppercase().as_str() {
        "A" => Abo::A,
        "B" => Abo::B,
        "O" => Abo::O,
        "AB" => Abo::AB,
        "?" | "" => Abo::Unknown,
        _ => return Err(format!("unknown blood type {s:?}")),
    };
    let rh = match rh {
        "+" => Rh::Positive,
        "-" => Rh::Negative,
        _ => Rh::Unknown,
    };
    Ok(BloodType { abo, rh })
}

/// A flag an issuer may set today (not the legacy bit 4, "DNAR or ACP", which new cards never carry).
fn parse_flag(s: &str) -> Result<TriageFlag, String> {
    TriageFlag::CURRENT
        .into_iter()
        .find(|f| {
            serde_json::to_value(f)
                .ok()
                .and_then(|v| v.as_str().map(|n| n == s.trim()))
                .unwrap_or(false)
        })
        .ok_or_else(|| format!("unknown triage flag {s:?}"))
}

fn sample(a: SampleArgs, clock: &dyn Clock) -> Result<(), String> {
    std::fs::create_dir_all(&a.out)
        .map_err(|e| format!("cannot create {}: {e}", a.out.display()))?;
    let key = match &a.key {
        Some(path) => secrets::read_private_key(path)
            .map_err(|e| format!("cannot load key {}: {e}", path.display()))?,
        None => {
            let key = secrets::generate_issuer_key()
                .map_err(|e| format!("cannot generate a key: {e}"))?;
            let path = a.out.join("key.pem");
            secrets::write_private_key(&path, &key)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            key
        }
    };
    let triage = if a.triage_core {
        let flags = a
            .flags
            .iter()
            .map(|f| parse_flag(f))
            .collect::<Result<TriageFlags, _>>()?;
        Some(TriageCore {
            blood_type: parse_blood(&a.blood_type)?,
            flags,
        })
    } else {
        None
    };
    let now = clock.now();
    let claims = Claims {
        card_id: secrets::new_card_id().map_err(|e| format!("no randomness: {e}"))?,
        issuer: None,
        issued_at: Some(now),
        expires_at: now + i64::from(a.valid_days) * 86_400,
        triage,
    };
    let e = |e: CardError| e.to_string();
    let cose = kyukit_card::sign(&claims, &key).map_err(e)?;
    let url = card_url(&a.base_url, &cose).map_err(e)?;
    let qr = CardQr::encode(&url, EcLevel::Q).map_err(e)?;
    let ndef = build_ndef(&url, &cose).map_err(e)?;
    let jwks = [key.public().clone()]
        .into_iter()
        .collect::<KeySet>()
        .to_jwks()
        .map_err(e)?;
    write(&a.out, "card.cose", &cose)?;
    write(&a.out, "card.url", url.as_bytes())?;
    write(
        &a.out,
        "card.png",
        &qr.to_png(a.module_px, a.quiet_zone).map_err(e)?,
    )?;
    write(
        &a.out,
        "card.svg",
        qr.to_svg(a.module_px, a.quiet_zone).map_err(e)?.as_bytes(),
    )?;
    write(&a.out, "card.ndef", &ndef)?;
    write(
        &a.out,
        "jwks.json",
        (serde_json::to_string_pretty(&jwks).map_err(|e| e.to_string())? + "\n").as_bytes(),
    )?;
    let summary = json!({
        "out": a.out,
        "kid": key.kid(),
        "cti": claims.card_id,
        "cose_bytes": cose.len(),
        "qr": qr.layout(),
        "ndef_bytes": ndef.len(),
    });
    println!("{summary}");
    Ok(())
}

/// The card bytes from whichever input was given, and the URL they came with (if any).
fn load_card(input: &CardInput) -> Result<(Vec<u8>, Option<String>), String> {
    let e = |e: CardError| e.to_string();
    if let Some(p) = &input.cose {
        return Ok((read(p, 64 * 1024)?, None));
    }
    if let Some(u) = &input.url {
        return Ok((parse_card_url(u).map_err(e)?.cose, Some(u.clone())));
    }
    if let Some(p) = &input.ndef {
        let card = parse_ndef(&read(p, 64 * 1024)?).map_err(e)?;
        return Ok((card.cose, Some(card.url)));
    }
    if let Some(p) = &input.png {
        let (text, _) = decode_png(p)?;
        return Ok((parse_card_url(&text).map_err(e)?.cose, Some(text)));
    }
    Err("no card input given".into())
}

/// Decodes the first QR symbol in a PNG that reads as text; returns the text and its QR metadata.
fn decode_png(path: &Path) -> Result<(String, rqrr::MetaData), String> {
    let bytes = read(path, 32 * 1024 * 1024)?;
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .map_err(|e| format!("{} is not a readable PNG: {e}", path.display()))?
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    prepared
        .detect_grids()
        .iter()
        .find_map(|g| g.decode().ok().map(|(meta, text)| (text, meta)))
        .ok_or_else(|| format!("no readable QR code in {}", path.display()))
}

fn verify_cmd(a: VerifyArgs, clock: &dyn Clock) -> Result<(), String> {
    let jwks = read(&a.jwks, kyukit_card::MAX_JWKS_LEN as u64)?;
    let keys = KeySet::from_jwks_json(&jwks).map_err(|e| format!("{}: {e}", a.jwks.display()))?;
    let (cose, _) = load_card(&a.input)?;
    let card = verify(&cose, &keys, clock.now()).map_err(|e| match e {
        CardError::Expired { exp, now } => format!(
            "card rejected: card expired at {} (checked at {})",
            rfc3339(exp),
            rfc3339(now)
        ),
        e => format!("card rejected: {e}"),
    })?;
    if let Some(path) = &a.revocations {
        let list: RevocationList = serde_json::from_slice(&read(path, 16 * 1024 * 1024)?)
            .map_err(|e| format!("{}: not a revocation list: {e}", path.display()))?;
        list.check(&card)
            .map_err(|why| format!("card rejected: {why}"))?;
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&card).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{t} s after 1970-01-01T00:00:00Z"))
}

fn ec_name(raw: u16) -> &'static str {
    // ISO/IEC 18004 format-information bits: L=01, M=00, Q=11, H=10.
    match raw {
        1 => "L",
        0 => "M",
        3 => "Q",
        _ => "H",
    }
}

fn inspect(a: InspectArgs) -> Result<(), String> {
    let e = |e: CardError| e.to_string();
    let symbol = match &a.input.png {
        Some(p) => {
            let (_, meta) = decode_png(p)?;
            Some(json!({"version": meta.version.0, "ec_level": ec_name(meta.ecc_level)}))
        }
        None => None,
    };
    let (cose, url) = load_card(&a.input)?;
    let url = match url {
        Some(u) => u,
        None => card_url(&a.base_url, &cose).map_err(e)?,
    };
    let qr = CardQr::encode(&url, EcLevel::Q).map_err(e)?;
    let ndef = build_ndef(&url, &cose).map_err(e)?;
    let unverified =
        decode_unverified(&cose).map(|(kid, claims)| json!({"kid": kid, "claims": claims}));
    let out = json!({
        "cose_bytes": cose.len(),
        "url_chars": url.len(),
        "digits": qr.layout().digits,
        "qr": qr.layout(),
        "qr_in_png": symbol,
        "ndef_bytes": ndef.len(),
        "fits_ntag215": ndef.len() <= NTAG215_NDEF_MAX,
        "unverified": match unverified { Ok(v) => v, Err(err) => json!({"error": err.to_string()}) },
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
    );
    Ok(())
}
