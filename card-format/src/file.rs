//! What a card file is, and the card in it.
//!
//! People hand a verifier or a field client whatever they have: a photo or screenshot of the QR
//! code (PNG, JPEG), the NDEF message read from the tag, the raw COSE bytes, a text file with the
//! card URL — or the wrong file. [`identify`] tells these apart by their first bytes (magic
//! numbers, then the card encodings' own structure), so an error can name what the file actually
//! is ("a PDF, not a card"); [`read_card_file`] reads the card out of it. Reading a QR code from an
//! image needs the `qr-decode` feature (rqrr and the `image` crate's PNG and JPEG decoders); the
//! rest of the crate does not pull them in. Everything here works on bytes in memory: no I/O.

use crate::CardError;
use crate::cose::decode_unverified;
use crate::ndef::parse_ndef;
use crate::url::parse_card_url;
use thiserror::Error;

/// Largest image [`read_card_file`] decodes, in pixels per side (a 48-megapixel photo is ≈ 8000).
pub const MAX_IMAGE_SIDE: u32 = 10_000;

/// What a file is, judged from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A PNG image (a QR code, a screenshot, a photo).
    Png,
    /// A JPEG image (usually a photo of the card).
    Jpeg,
    /// An NDEF message (what the card's NFC tag holds).
    Ndef,
    /// Raw COSE_Sign1 bytes (CBOR tag 18).
    Cose,
    /// Text holding a URL (what the QR code or the tag's URI record carries).
    UrlText,
    Pdf,
    Gif,
    Webp,
    Bmp,
    Tiff,
    Heic,
    Svg,
    /// A ZIP archive (also .docx, .xlsx, .odt …).
    Zip,
    Gzip,
    /// JSON text (e.g. a JWKS given where the card was meant).
    Json,
    /// Text that is none of the above.
    Text,
    Empty,
    /// Binary data of no kind recognised here.
    Unknown,
}

impl FileKind {
    /// How to name it in a sentence: "a PNG image", "a PDF", "raw COSE bytes" …
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::Png => "a PNG image",
            FileKind::Jpeg => "a JPEG image",
            FileKind::Ndef => "an NDEF message",
            FileKind::Cose => "raw COSE bytes",
            FileKind::UrlText => "a URL",
            FileKind::Pdf => "a PDF",
            FileKind::Gif => "a GIF image",
            FileKind::Webp => "a WebP image",
            FileKind::Bmp => "a BMP image",
            FileKind::Tiff => "a TIFF image",
            FileKind::Heic => "a HEIC/AVIF image",
            FileKind::Svg => "an SVG image",
            FileKind::Zip => "a ZIP archive",
            FileKind::Gzip => "a gzip file",
            FileKind::Json => "a JSON document",
            FileKind::Text => "a text file",
            FileKind::Empty => "an empty file",
            FileKind::Unknown => "binary data of an unknown kind",
        }
    }

    /// True for the kinds a card can be read from (with `qr-decode` for the images).
    pub fn may_hold_card(self) -> bool {
        matches!(
            self,
            FileKind::Png | FileKind::Jpeg | FileKind::Ndef | FileKind::Cose | FileKind::UrlText
        )
    }
}

/// Why no card could be read from a file. `Display` completes the sentence "<file> is …", e.g.
/// "a PDF, not a card" or "a PNG image with no readable QR code".
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FileError {
    /// The file is not any encoding of a card.
    #[error("{}, not a card (expected a QR image (PNG or JPEG), an NDEF message, raw COSE bytes or a card URL)", .0.describe())]
    NotACard(FileKind),
    /// An image in which no QR code could be found or read.
    #[error("{} with no readable QR code", .0.describe())]
    NoQrCode(FileKind),
    /// An image that could not be decoded at all.
    #[error("{kind} that cannot be decoded ({why})", kind = .0.describe(), why = .1)]
    BadImage(FileKind, String),
    /// QR images need the `qr-decode` feature, which this build lacks.
    #[error("{}, and this build cannot read QR codes from images", .0.describe())]
    NoImageSupport(FileKind),
    /// A card encoding whose content is not a well-formed card.
    #[error("{kind} that does not hold a card: {why}", kind = .0.describe(), why = .1)]
    Card(FileKind, CardError),
}

/// A card read out of a file (not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFile {
    pub kind: FileKind,
    /// The card URL, when the encoding carries one (QR image, NDEF message, URL text).
    pub url: Option<String>,
    /// The card's COSE_Sign1 bytes.
    pub cose: Vec<u8>,
}

fn starts_with_ci(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// Looks like text: valid UTF-8 without control characters other than white space.
fn as_text(bytes: &[u8]) -> Option<&str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).ok()?;
    text.chars()
        .all(|c| !c.is_control() || c.is_whitespace())
        .then_some(text)
}

/// An NDEF message's first record header: message begin set, not chunked, a TNF a record can have.
fn ndef_like(bytes: &[u8]) -> bool {
    match bytes {
        [header, _type_len, ..] => {
            header & 0x80 != 0 && header & 0x20 == 0 && (1..=6).contains(&(header & 0x07))
        }
        _ => false,
    }
}

/// What `bytes` are: magic numbers first, then a well-formed card's COSE or NDEF structure, then
/// text. Cheap; decodes nothing but the (small) card encodings.
pub fn identify(bytes: &[u8]) -> FileKind {
    let magic: [(&[u8], FileKind); 9] = [
        (b"\x89PNG\r\n\x1a\n", FileKind::Png),
        (b"\xFF\xD8\xFF", FileKind::Jpeg),
        (b"%PDF-", FileKind::Pdf),
        (b"GIF87a", FileKind::Gif),
        (b"GIF89a", FileKind::Gif),
        (b"II*\0", FileKind::Tiff),
        (b"MM\0*", FileKind::Tiff),
        (b"PK\x03\x04", FileKind::Zip),
        (b"\x1F\x8B", FileKind::Gzip),
    ];
    if bytes.is_empty() {
        return FileKind::Empty;
    }
    if let Some((_, kind)) = magic.iter().find(|(m, _)| bytes.starts_with(m)) {
        return *kind;
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return FileKind::Webp;
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return FileKind::Heic;
    }
    // The card encodings, by their structure (a COSE card can happen to be valid UTF-8). A
    // damaged COSE card still opens with CBOR tag 18 and a four-element array.
    if decode_unverified(bytes).is_ok() || bytes.starts_with(b"\xD2\x84") {
        return FileKind::Cose;
    }
    if parse_ndef(bytes).is_ok() {
        return FileKind::Ndef;
    }
    if let Some(text) = as_text(bytes) {
        let t = text.trim_start();
        return if starts_with_ci(t, "https://") || starts_with_ci(t, "http://") {
            FileKind::UrlText
        } else if t.starts_with('{') || t.starts_with('[') {
            FileKind::Json
        } else if t.starts_with("<svg") || (t.starts_with("<?xml") && t.contains("<svg")) {
            FileKind::Svg
        } else {
            FileKind::Text
        };
    }
    if bytes.starts_with(b"BM") && bytes.len() >= 26 {
        return FileKind::Bmp;
    }
    // A damaged NDEF message still opens with a record header.
    if ndef_like(bytes) {
        return FileKind::Ndef;
    }
    FileKind::Unknown
}

/// Reads the card out of a file's bytes, whatever encoding [`identify`] finds: the QR code of a PNG
/// or JPEG image (feature `qr-decode`), an NDEF message, raw COSE bytes or a card URL. The card is
/// only parsed, not verified: pass [`CardFile::cose`] to [`crate::verify`].
pub fn read_card_file(bytes: &[u8]) -> Result<CardFile, FileError> {
    let kind = identify(bytes);
    let card_err = |e: CardError| FileError::Card(kind, e);
    let (url, cose) = match kind {
        FileKind::Png | FileKind::Jpeg => {
            let text = decode_qr_image(bytes)?;
            let text = text.trim();
            (
                Some(text.to_string()),
                parse_card_url(text).map_err(card_err)?.cose,
            )
        }
        FileKind::Ndef => {
            let card = parse_ndef(bytes).map_err(card_err)?;
            (Some(card.url), card.cose)
        }
        FileKind::Cose => (None, bytes.to_vec()),
        FileKind::UrlText => {
            let text = as_text(bytes).unwrap_or_default().trim();
            (
                Some(text.to_string()),
                parse_card_url(text).map_err(card_err)?.cose,
            )
        }
        other => return Err(FileError::NotACard(other)),
    };
    // Parsed here so that a damaged card is reported with the file it came in; verification
    // checks it again, with the signature.
    decode_unverified(&cose).map_err(card_err)?;
    Ok(CardFile { kind, url, cose })
}

/// The text of the first QR code in a PNG or JPEG image that decodes (rqrr). Images larger than
/// [`MAX_IMAGE_SIDE`] pixels per side are refused before they are decoded. A photo whose code
/// does not read as it is (grey paper, blur from scaling) is tried once more binarised at its
/// Otsu threshold.
#[cfg(feature = "qr-decode")]
pub fn decode_qr_image(bytes: &[u8]) -> Result<String, FileError> {
    let kind = identify(bytes);
    let format = match kind {
        FileKind::Png => image::ImageFormat::Png,
        FileKind::Jpeg => image::ImageFormat::Jpeg,
        other => return Err(FileError::NotACard(other)),
    };
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| FileError::BadImage(kind, e.to_string()))?
        .to_luma8();
    let first_text = |img: image::GrayImage| {
        let mut prepared = rqrr::PreparedImage::prepare(img);
        prepared
            .detect_grids()
            .iter()
            .find_map(|g| g.decode().ok().map(|(_, text)| text))
    };
    if let Some(text) = first_text(img.clone()) {
        return Ok(text);
    }
    first_text(binarise(img)).ok_or(FileError::NoQrCode(kind))
}

/// Black and white at the threshold that best separates the image's two classes of grey (Otsu).
#[cfg(feature = "qr-decode")]
fn binarise(mut img: image::GrayImage) -> image::GrayImage {
    let mut hist = [0u64; 256];
    for p in img.pixels() {
        hist[usize::from(p.0[0])] += 1;
    }
    let total: u64 = hist.iter().sum();
    let sum_all: f64 = (0u32..)
        .zip(hist)
        .map(|(i, h)| f64::from(i) * h as f64)
        .sum();
    let (mut sum_below, mut below, mut best, mut threshold) = (0.0f64, 0u64, 0.0f64, 128u8);
    for (t, h) in (0u8..=255).zip(hist) {
        below += h;
        if below == 0 {
            continue;
        }
        let above = total - below;
        if above == 0 {
            break;
        }
        sum_below += f64::from(t) * h as f64;
        let mean_below = sum_below / below as f64;
        let mean_above = (sum_all - sum_below) / above as f64;
        let between = below as f64 * above as f64 * (mean_below - mean_above).powi(2);
        if between > best {
            best = between;
            threshold = t;
        }
    }
    for p in img.pixels_mut() {
        p.0[0] = if p.0[0] > threshold { 255 } else { 0 };
    }
    img
}

/// Without the `qr-decode` feature, images are recognised but not read.
#[cfg(not(feature = "qr-decode"))]
pub fn decode_qr_image(bytes: &[u8]) -> Result<String, FileError> {
    let kind = identify(bytes);
    Err(match kind {
        FileKind::Png | FileKind::Jpeg => FileError::NoImageSupport(kind),
        other => FileError::NotACard(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CardId, CardQr, Claims, EcLevel, IssuerKey, build_ndef, card_url, sign};

    fn card() -> (String, Vec<u8>) {
        let key = IssuerKey::from_secret_bytes(&[3u8; 32]).unwrap();
        let claims = Claims {
            card_id: CardId([7u8; 16]),
            issuer: None,
            issued_at: Some(1_767_225_600),
            expires_at: 1_924_992_000,
            triage: None,
        };
        let cose = sign(&claims, &key).unwrap();
        (
            card_url("https://qq.city.joso.lg.jp/c/", &cose).unwrap(),
            cose,
        )
    }

    #[test]
    fn identifies_card_encodings_and_common_files() {
        let (url, cose) = card();
        let ndef = build_ndef(&url, &cose).unwrap();
        let png = CardQr::encode(&url, EcLevel::Q)
            .unwrap()
            .to_png(4, 4)
            .unwrap();
        for (bytes, kind) in [
            (png.as_slice(), FileKind::Png),
            (b"\xFF\xD8\xFF\xE0\0\x10JFIF".as_slice(), FileKind::Jpeg),
            (ndef.as_slice(), FileKind::Ndef),
            (cose.as_slice(), FileKind::Cose),
            (url.as_bytes(), FileKind::UrlText),
            (format!("\u{feff}  {url}\n").as_bytes(), FileKind::UrlText),
            (b"%PDF-1.7\n%\xE2\xE3".as_slice(), FileKind::Pdf),
            (b"GIF89a\x01\0".as_slice(), FileKind::Gif),
            (b"RIFF\x10\0\0\0WEBPVP8 ".as_slice(), FileKind::Webp),
            (b"\0\0\0\x20ftypheic\0\0".as_slice(), FileKind::Heic),
            (b"PK\x03\x04\x14\0".as_slice(), FileKind::Zip),
            (b"{\"keys\": []}".as_slice(), FileKind::Json),
            (
                b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>".as_slice(),
                FileKind::Svg,
            ),
            (b"hello\n".as_slice(), FileKind::Text),
            (b"".as_slice(), FileKind::Empty),
            (b"\0\x01\x02\x03".as_slice(), FileKind::Unknown),
            // Damaged encodings keep their kind, so the error says what is wrong with them.
            (&cose[..cose.len() - 3], FileKind::Cose),
            (&ndef[..ndef.len() - 3], FileKind::Ndef),
        ] {
            assert_eq!(
                identify(bytes),
                kind,
                "{:02x?}",
                &bytes[..bytes.len().min(8)]
            );
        }
    }

    #[test]
    fn reads_the_card_out_of_each_encoding() {
        let (url, cose) = card();
        let ndef = build_ndef(&url, &cose).unwrap();
        let from_ndef = read_card_file(&ndef).unwrap();
        assert_eq!((from_ndef.kind, &from_ndef.cose), (FileKind::Ndef, &cose));
        // The tag's URI record carries the URL as the QR code does (base upper-cased).
        assert!(from_ndef.url.unwrap().eq_ignore_ascii_case(&url));
        let from_cose = read_card_file(&cose).unwrap();
        assert_eq!((from_cose.url, &from_cose.cose), (None, &cose));
        let from_text = read_card_file(format!("{url}\r\n").as_bytes()).unwrap();
        assert_eq!(from_text.url.as_deref(), Some(url.as_str()));
        assert_eq!(from_text.cose, cose);
    }

    #[test]
    fn errors_name_what_the_file_is() {
        let (url, cose) = card();
        let e = read_card_file(b"%PDF-1.4 ...").unwrap_err();
        assert_eq!(e, FileError::NotACard(FileKind::Pdf));
        assert!(e.to_string().starts_with("a PDF, not a card"), "{e}");
        let e = read_card_file(b"https://example.org/").unwrap_err();
        assert!(matches!(e, FileError::Card(FileKind::UrlText, _)), "{e}");
        assert!(
            e.to_string()
                .starts_with("a URL that does not hold a card: "),
            "{e}"
        );
        let e = read_card_file(&cose[..cose.len() - 3]).unwrap_err();
        assert!(matches!(e, FileError::Card(FileKind::Cose, _)), "{e}");
        let ndef = build_ndef(&url, &cose).unwrap();
        let e = read_card_file(&ndef[..ndef.len() - 3]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("an NDEF message that does not hold a card: "),
            "{e}"
        );
    }

    #[cfg(feature = "qr-decode")]
    #[test]
    fn reads_qr_codes_from_png_and_jpeg() {
        let (url, cose) = card();
        let qr = CardQr::encode(&url, EcLevel::Q).unwrap();
        let c = read_card_file(&qr.to_png(6, 4).unwrap()).unwrap();
        assert_eq!((c.kind, &c.cose), (FileKind::Png, &cose));
        assert!(c.url.unwrap().eq_ignore_ascii_case(&url));

        let mut jpeg = Vec::new();
        let img = image::DynamicImage::ImageLuma8(qr.to_image(6, 4).unwrap());
        img.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
            &mut jpeg, 70,
        ))
        .unwrap();
        let c = read_card_file(&jpeg).unwrap();
        assert_eq!((c.kind, &c.cose), (FileKind::Jpeg, &cose));

        // Photo-like: grey paper and a resize by a non-integer factor. rqrr misses some of these
        // as they are; binarised, every one reads.
        let mut missed_plain = 0;
        for (px, grey, scale) in [(4, 160, 11), (6, 205, 11), (5, 205, 13), (7, 160, 17)] {
            let code = qr.to_image(px, 4).unwrap();
            let mut paper = image::GrayImage::from_pixel(
                code.width() + 180,
                code.height() + 120,
                image::Luma([grey]),
            );
            image::imageops::overlay(&mut paper, &code, 90, 60);
            let photo = image::imageops::resize(
                &paper,
                paper.width() * scale / 10,
                paper.height() * scale / 10,
                image::imageops::FilterType::Triangle,
            );
            let mut plain = rqrr::PreparedImage::prepare(photo.clone());
            if plain.detect_grids().iter().all(|g| g.decode().is_err()) {
                missed_plain += 1;
            }
            let mut png = Vec::new();
            image::DynamicImage::ImageLuma8(photo)
                .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                .unwrap();
            assert_eq!(
                read_card_file(&png).unwrap().cose,
                cose,
                "{px} {grey} {scale}"
            );
        }
        assert!(missed_plain > 0, "the binarised retry was never needed");

        // A blank image: no QR code. A truncated PNG: not decodable.
        let mut blank = Vec::new();
        image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(64, 64, image::Luma([255])))
            .write_to(
                &mut std::io::Cursor::new(&mut blank),
                image::ImageFormat::Png,
            )
            .unwrap();
        let e = read_card_file(&blank).unwrap_err();
        assert_eq!(e.to_string(), "a PNG image with no readable QR code");
        let e = read_card_file(&qr.to_png(6, 4).unwrap()[..100]).unwrap_err();
        assert!(matches!(e, FileError::BadImage(FileKind::Png, _)), "{e}");
        // A QR code that is not a card URL.
        let other = CardQr::encode("https://example.org/c/123456", EcLevel::Q).unwrap();
        let e = read_card_file(&other.to_png(6, 4).unwrap()).unwrap_err();
        assert!(matches!(e, FileError::Card(FileKind::Png, _)), "{e}");
    }
}
