//! The identity photo (issue 19, opt-in): a face photo the resident or a proxy uploads so that a
//! paramedic who scanned a card found in a shared home can check it belongs to the person on the
//! floor. Shown only online, only to the scanning paramedic on the scanning device within the
//! scan's grant, only while the consent in force includes `photo` (`service::access::photo`);
//! never on the card, the tag, the printables or FHIR.
//!
//! An upload is decoded under pixel limits (a decompression bomb is refused before its pixels
//! are allocated), turned upright by its EXIF orientation, scaled to at most
//! [`STORED_SIDE`] px and encoded again as a baseline JPEG: what is stored and served is pixels
//! the server encoded itself, so no EXIF, GPS, XMP, ICC or comment of the upload survives.
//!
//! Stored only while consented: uploading needs `photo` in the consent in force, and a consent
//! version without it (a new grant, or 支援中止) deletes the photo in its own transaction
//! ([`drop_unconsented`]).

use super::accounts::Actor;
use super::consent;
use super::residents::for_actor;
use crate::audit::{self, Action, Outcome};
use crate::db::photos::PhotoRow;
use crate::db::{self, Db, DbConnection, Tx};
use crate::domain::{Category, ResidentStatus};
use crate::service::error::DomainError;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The largest upload accepted (bytes).
pub const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;
/// The largest decoded width or height accepted (pixels).
pub const MAX_DECODED_SIDE: u32 = 4096;
/// The longest side of the stored photo (pixels): enough to recognise a face on a phone.
pub const STORED_SIDE: u32 = 800;
/// JPEG quality of the stored photo.
const QUALITY: u8 = 85;

/// The photo's description (no pixels).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PhotoInfo {
    /// Always `image/jpeg`: the server re-encodes every upload.
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    /// Bytes of the stored JPEG.
    pub size: usize,
    /// SHA-256 of the stored JPEG (hex).
    pub sha256: String,
    /// Unix seconds.
    pub updated_at: i64,
}

/// A stored photo: its JPEG bytes and description.
#[derive(Debug, Clone)]
pub struct Photo {
    pub jpeg: Vec<u8>,
    pub info: PhotoInfo,
}

impl From<PhotoRow> for Photo {
    fn from(r: PhotoRow) -> Self {
        Photo {
            info: PhotoInfo {
                content_type: "image/jpeg",
                width: u32::try_from(r.width).unwrap_or(0),
                height: u32::try_from(r.height).unwrap_or(0),
                size: r.jpeg.len(),
                sha256: r.sha256,
                updated_at: r.updated_at,
            },
            jpeg: r.jpeg,
        }
    }
}

/// A normalised upload: a JPEG the server encoded, with its size in pixels.
#[derive(Debug)]
pub struct Normalised {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Checks the declared type, the size and the bytes, decodes under limits, and re-encodes.
/// Refusals: `415 unsupported_media_type` (not image/jpeg or image/png), `413 payload_too_large`,
/// `422 not_an_image` (the bytes are not a decodable image of the declared type),
/// `422 image_too_large` (wider or taller than [`MAX_DECODED_SIDE`] once decoded).
pub fn normalise(content_type: &str, bytes: &[u8]) -> Result<Normalised, DomainError> {
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let (format, magic): (ImageFormat, &[u8]) = match ct.as_str() {
        "image/jpeg" => (ImageFormat::Jpeg, &[0xFF, 0xD8, 0xFF]),
        "image/png" => (ImageFormat::Png, b"\x89PNG\r\n\x1a\n"),
        _ => {
            return Err(DomainError::unsupported_media(
                "unsupported_media_type",
                "send the photo as the request body with Content-Type image/jpeg or image/png",
            ));
        }
    };
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(too_large_body());
    }
    let not_an_image = || {
        DomainError::unprocessable(
            "not_an_image",
            format!("the body is not a readable {ct} image"),
        )
    };
    if !bytes.starts_with(magic) {
        return Err(not_an_image());
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DECODED_SIDE);
    limits.max_image_height = Some(MAX_DECODED_SIDE);
    // The decoded RGBA pixels of the largest image allowed, and some room for the decoder.
    limits.max_alloc = Some(u64::from(MAX_DECODED_SIDE).pow(2) * 4 + (16 << 20));
    let mut reader = ImageReader::with_format(std::io::Cursor::new(bytes), format);
    reader.limits(limits);
    let classify = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => DomainError::unprocessable(
            "image_too_large",
            format!("the image is larger than {MAX_DECODED_SIDE}×{MAX_DECODED_SIDE} pixels"),
        ),
        _ => not_an_image(),
    };
    let mut decoder = reader.into_decoder().map_err(classify)?;
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(classify)?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    if img.width() > STORED_SIDE || img.height() > STORED_SIDE {
        img = img.resize(
            STORED_SIDE,
            STORED_SIDE,
            image::imageops::FilterType::Lanczos3,
        );
    }
    let rgb = flatten(img);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, QUALITY)
        .encode_image(&rgb)
        .map_err(DomainError::internal)?;
    Ok(Normalised {
        width: rgb.width(),
        height: rgb.height(),
        jpeg,
    })
}

/// `413 payload_too_large` for a body over [`MAX_PHOTO_BYTES`].
pub fn too_large_body() -> DomainError {
    DomainError::too_large(
        "payload_too_large",
        format!(
            "a photo is at most {} MB ({MAX_PHOTO_BYTES} bytes)",
            MAX_PHOTO_BYTES >> 20
        ),
    )
}

/// RGB pixels; transparent parts of a PNG on white (a JPEG has no alpha).
fn flatten(img: DynamicImage) -> image::RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over = |c: u8| {
            let (c, a) = (u16::from(c), u16::from(a));
            u8::try_from((c * a + 255 * (255 - a) + 127) / 255).unwrap_or(255)
        };
        image::Rgb([over(r), over(g), over(b)])
    })
}

fn not_consented() -> DomainError {
    DomainError::conflict(
        "photo_not_consented",
        "consent to showing the photo (the `photo` category) first; without it no photo is kept",
    )
}

/// Stores (or replaces) the resident's photo. `photo` must be in the consent in force.
pub fn upload(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    content_type: &str,
    bytes: &[u8],
    now: i64,
) -> Result<PhotoInfo, DomainError> {
    // Before any database work: a refused upload writes nothing.
    db.read(|c| for_actor(c, actor, resident_id).map(drop))?;
    let n = normalise(content_type, bytes)?;
    db.write(|c| {
        let (resident, _) = for_actor(c, actor, resident_id)?;
        if resident.status != ResidentStatus::Active {
            return Err(DomainError::conflict(
                "withdrawn",
                "support is stopped (支援中止) for this record; give consent again first",
            ));
        }
        let consented = consent::current(c, resident_id)?
            .is_some_and(|k| k.categories.contains(&Category::Photo));
        if !consented {
            return Err(not_consented());
        }
        let row = PhotoRow {
            resident_id: resident_id.to_string(),
            municipality_id: actor.municipality_id.clone(),
            sha256: hex::encode(Sha256::digest(&n.jpeg)),
            width: i32::try_from(n.width).map_err(DomainError::internal)?,
            height: i32::try_from(n.height).map_err(DomainError::internal)?,
            jpeg: n.jpeg,
            uploaded_by: actor.account_id.clone(),
            updated_at: now,
        };
        db::photos::upsert(c, &row)?;
        let event = actor
            .event(Action::WritePhoto, Outcome::Ok)
            .about(resident_id)
            .detail(format!("stored {}x{}", row.width, row.height));
        audit::append(c, &actor.municipality_id, &event, now);
        Ok(Photo::from(row).info)
    })
}

/// The resident's own photo, for the resident and their proxies.
pub fn own(db: &Db, actor: &Actor, resident_id: &str) -> Result<Photo, DomainError> {
    db.read(|c| {
        for_actor(c, actor, resident_id)?;
        db::photos::photo(c, &actor.municipality_id, resident_id)?
            .map(Photo::from)
            .ok_or_else(no_photo)
    })
}

pub(crate) fn no_photo() -> DomainError {
    DomainError::not_found("no photo is on file for this resident").with_code("no_photo")
}

/// Deletes the resident's photo (`404 no_photo` if there is none).
pub fn delete(db: &Db, actor: &Actor, resident_id: &str, now: i64) -> Result<(), DomainError> {
    db.write(|c| {
        for_actor(c, actor, resident_id)?;
        if db::photos::delete(c, resident_id)? == 0 {
            return Err(no_photo());
        }
        let event = actor
            .event(Action::WritePhoto, Outcome::Ok)
            .about(resident_id)
            .detail("deleted");
        audit::append(c, &actor.municipality_id, &event, now);
        Ok(())
    })
}

/// In a consent transaction: a version whose categories lack `photo` deletes the photo (audited).
pub(crate) fn drop_unconsented(
    c: &mut Tx<'_>,
    actor: &Actor,
    resident_id: &str,
    categories: &[Category],
    now: i64,
) -> Result<(), DomainError> {
    if categories.contains(&Category::Photo) || db::photos::delete(c, resident_id)? == 0 {
        return Ok(());
    }
    let event = actor
        .event(Action::WritePhoto, Outcome::Ok)
        .about(resident_id)
        .detail("deleted: consent to photo withdrawn");
    audit::append(c, &actor.municipality_id, &event, now);
    Ok(())
}

/// Whether a disclosure of these categories (of an access of this kind) offers the photo.
pub(crate) fn offered(
    c: &mut DbConnection,
    muni: &str,
    resident_id: &str,
    kind: crate::domain::AccessKind,
    categories: &[Category],
) -> Result<bool, DomainError> {
    Ok(kind == crate::domain::AccessKind::Scan
        && categories.contains(&Category::Photo)
        && db::photos::exists(c, muni, resident_id)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_pixel(w, h, image::Rgba([200, 10, 10, 128]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_png_becomes_a_small_jpeg() {
        let n = normalise("image/png", &png(1600, 900)).unwrap();
        assert_eq!((n.width, n.height), (800, 450));
        assert!(n.jpeg.starts_with(&[0xFF, 0xD8, 0xFF]));
        let back = image::load_from_memory_with_format(&n.jpeg, ImageFormat::Jpeg).unwrap();
        assert_eq!((back.width(), back.height()), (800, 450));
        // Half-transparent red over white: light red, not dark.
        let p = back.to_rgb8().get_pixel(400, 200).0;
        assert!(p[0] > 200 && p[1] > 100, "{p:?}");
    }

    #[test]
    fn refusals_are_named() {
        let code = |ct: &str, b: &[u8]| normalise(ct, b).unwrap_err().code();
        assert_eq!(code("text/plain", b"hello"), "unsupported_media_type");
        assert_eq!(code("image/jpeg", b"hello"), "not_an_image");
        assert_eq!(code("image/jpeg", &png(10, 10)), "not_an_image");
        assert_eq!(code("image/png", &png(4097, 1)), "image_too_large");
        assert_eq!(
            code("image/png", &vec![0; MAX_PHOTO_BYTES + 1]),
            "payload_too_large"
        );
    }
}
