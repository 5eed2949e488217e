//! The identity photo (issue 19), end to end on SQLite and PostgreSQL: kept only while `photo` is
//! consented; shown only to the paramedic who scanned, on the scanning device, within the grant;
//! every view and every refusal in the resident's access history; served without the upload's
//! metadata; refused uploads write nothing. (The independent EXIF check: tests/oracle/test_photo.py.)

use kyukit_field::Client;
use kyukit_tests::field::*;
use kyukit_tests::*;
use reqwest::Method;

/// A JPEG of `w`×`h` with an EXIF segment (APP1, with a GPS IFD pointer) and a comment, each
/// carrying a marker text that must never be served.
fn jpeg_with_metadata(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut plain = std::io::Cursor::new(Vec::new());
    img.write_to(&mut plain, image::ImageFormat::Jpeg)
        .expect("encode");
    let plain = plain.into_inner();
    // TIFF header (little endian), IFD0 with one entry: GPSInfo (0x8825) → offset 26, where a GPS
    // IFD with GPSLatitudeRef "N" sits; then the marker text.
    let mut tiff = b"II*\x00\x08\x00\x00\x00".to_vec();
    tiff.extend_from_slice(&[1, 0, 0x25, 0x88, 4, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0, 0, 0, 0]);
    tiff.extend_from_slice(&[1, 0, 1, 0, 2, 0, 2, 0, 0, 0, b'N', 0, 0, 0, 0, 0, 0, 0]);
    tiff.extend_from_slice(b"GPS-SECRET-36.0239N-139.9935E");
    let mut exif = b"Exif\x00\x00".to_vec();
    exif.extend_from_slice(&tiff);
    let segment = |marker: u8, body: &[u8]| {
        let len = u16::try_from(body.len() + 2).unwrap().to_be_bytes();
        [&[0xFF, marker][..], &len, body].concat()
    };
    [
        &plain[..2],
        &segment(0xE1, &exif),
        &segment(0xFE, b"COMMENT-SECRET home address"),
        &plain[2..],
    ]
    .concat()
}

/// A PNG whose header declares `w`×`h` pixels (its data is a stub: the limits refuse it first).
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let crc = crc32(&ihdr);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc.to_be_bytes());
    png.extend_from_slice(&[0, 0, 0, 0]);
    png.extend_from_slice(b"IDAT");
    png.extend_from_slice(&crc32(b"IDAT").to_be_bytes());
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

async fn put_photo(app: &TestApp, w: &FieldWorld, ct: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .put(app.url(&format!("/api/v1/residents/{}/photo", w.rid)))
        .bearer_auth(&w.resident_token)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .expect("request")
}

async fn error_of(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.expect("error body");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    (status, v["error"].as_str().unwrap_or_default().to_string())
}

async fn consent(app: &TestApp, w: &FieldWorld, categories: &[&str]) {
    let r = app
        .post(
            &format!("/api/v1/residents/{}/consents", w.rid),
            Some(&w.resident_token),
            json!({"categories": categories, "disaster_use": false, "triage_on_card": true, "name_on_print": false}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

async fn photo_of(c: &Client, access_id: &str) -> reqwest::Response {
    c.signed(
        Method::GET,
        &format!("/api/v1/accesses/{access_id}/photo"),
        None,
        None,
    )
    .await
    .expect("sent")
}

/// The photo rows in the database (a refused upload must leave none behind).
fn photo_rows(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use kyukit_server::db::schema::resident_photos;
    let db = app.db();
    let mut c = db.conn().expect("conn");
    let c: &mut kyukit_server::db::DbConnection = &mut c;
    resident_photos::table.count().get_result(c).expect("count")
}

/// The photo events of the resident's access history: (action, outcome, purpose).
async fn photo_history(app: &TestApp, w: &FieldWorld) -> Vec<(String, String)> {
    access_history(app, w).await["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "record.photo")
        .map(|e| {
            (
                e["outcome"].as_str().unwrap_or_default().to_string(),
                e["facility_id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn resident_login(app: &TestApp, login_id: &str) -> String {
    let r = app
        .post(
            "/api/v1/sessions",
            None,
            json!({"login_id": login_id, "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

fn with_photo() -> Vec<&'static str> {
    let mut c = SHARED.to_vec();
    c.push("photo");
    c
}

both_backends!(
    photo_for_the_scanning_paramedic_only_while_consented,
    |app: TestApp| async move {
        let mut w = world(&app).await;
        let mut medic = medic_client(&app, &w).await;
        let upload = jpeg_with_metadata(1200, 1600);

        // Without `photo` in the consent: no upload, no photo offered, a paramedic refused.
        let (status, code) =
            error_of(put_photo(&app, &w, "image/jpeg", upload.clone()).await).await;
        assert_eq!((status, code.as_str()), (409, "photo_not_consented"));
        assert_eq!(photo_rows(&app), 0);
        let d = medic.scan(&w.card_url, "R8-P-1").await.expect("scan");
        assert_eq!(d["photo"], false, "{d}");
        let unconsented = d["access_id"].as_str().unwrap().to_string();
        let (status, code) = error_of(photo_of(&medic, &unconsented).await).await;
        assert_eq!((status, code.as_str()), (403, "photo_not_consented"));
        assert_eq!(
            photo_history(&app, &w).await,
            vec![("denied".to_string(), w.fire_id.clone())],
            "the refusal is in the resident's access history"
        );

        // Consented: uploaded, re-encoded (≤ 800 px, upright size kept), no metadata.
        consent(&app, &w, &with_photo()).await;
        let r = put_photo(&app, &w, "image/jpeg", upload.clone()).await;
        assert_eq!(r.status(), StatusCode::OK);
        let info: Value = r.json().await.unwrap();
        assert_eq!(
            (info["width"].as_u64(), info["height"].as_u64()),
            (Some(600), Some(800))
        );
        assert_eq!(info["content_type"], "image/jpeg");
        let own = app
            .get(
                &format!("/api/v1/residents/{}/photo", w.rid),
                Some(&w.resident_token),
            )
            .await;
        assert_eq!(own.status(), StatusCode::OK);
        let own = own.bytes().await.unwrap().to_vec();
        // Disclosure on request (RULES R13) names the photo held.
        let held = |token: String| {
            let path = format!("/api/v1/residents/{}/disclosure", w.rid);
            let app = &app;
            async move {
                app.get(&path, Some(&token))
                    .await
                    .json::<Value>()
                    .await
                    .unwrap()
            }
        };
        let d = held(w.resident_token.clone()).await;
        assert_eq!(d["photo"]["width"], 600, "{}", d["photo"]);

        // An access granted before `photo` was consented never shows it.
        let (status, code) = error_of(photo_of(&medic, &unconsented).await).await;
        assert_eq!((status, code.as_str()), (403, "photo_not_consented"));

        // A new scan offers it; the scanning paramedic gets exactly the stored JPEG.
        let d = medic.scan(&w.card_url, "R8-P-2").await.expect("scan");
        assert_eq!(d["photo"], true, "{d}");
        let aid = d["access_id"].as_str().unwrap().to_string();
        let r = photo_of(&medic, &aid).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "image/jpeg");
        assert_eq!(r.headers()["cache-control"], "no-store");
        let served = r.bytes().await.unwrap().to_vec();
        assert_eq!(served, own);
        for secret in [&b"Exif"[..], b"GPS-SECRET", b"COMMENT-SECRET"] {
            assert!(
                !served.windows(secret.len()).any(|w| w == secret),
                "{} served",
                String::from_utf8_lossy(secret)
            );
        }
        assert!(
            !served.windows(2).any(|m| m == [0xFF, 0xE1]),
            "an APP1 segment is served"
        );
        let img = image::load_from_memory_with_format(&served, image::ImageFormat::Jpeg).unwrap();
        assert_eq!((img.width(), img.height()), (600, 800));
        let history = photo_history(&app, &w).await;
        assert_eq!(history.len(), 3, "{history:?}");
        assert_eq!(history[0], ("ok".to_string(), w.fire_id.clone()));

        // Never in the FHIR Bundle (its Consent names the `photo` category, the scope consented
        // to; no image, no link to one).
        let fhir = medic.access_fhir(&aid).await.expect("fhir").to_string();
        for absent in [
            "\"Media\"",
            "\"Binary\"",
            "/photo",
            "/9j/",
            "image/jpeg",
            "\"photo\":",
        ] {
            assert!(!fhir.contains(absent), "{absent} in {fhir}");
        }

        // Another paramedic, or the same paramedic on another device: no such access.
        add_staff(&app, &w.admin, &w.fire_id, "medic2", "paramedic").await;
        let mut other = enrolled_client(&app, &w.admin, &w.fire_id).await;
        medic_login(&app, &mut other, "medic2")
            .await
            .expect("login");
        let (status, code) = error_of(photo_of(&other, &aid).await).await;
        assert_eq!((status, code.as_str()), (404, "not_found"));
        let same_medic_other_device = medic_client(&app, &w).await;
        let (status, code) = error_of(photo_of(&same_medic_other_device, &aid).await).await;
        assert_eq!((status, code.as_str()), (404, "not_found"));

        // After the grant: refused, and on record.
        app.clock
            .advance(kyukit_server::service::access::SCAN_GRANT_SECS);
        // (Idle sessions ended long before the grant: both log in again.)
        medic_login(&app, &mut medic, "medic1")
            .await
            .expect("login");
        w.resident_token = resident_login(&app, "hanako").await;
        let (status, code) = error_of(photo_of(&medic, &aid).await).await;
        assert_eq!((status, code.as_str()), (403, "access_expired"));
        let history = photo_history(&app, &w).await;
        assert_eq!(history[0].0, "denied");

        // Withdrawing `photo`: deleted at once, in the consent's transaction.
        let d = medic.scan(&w.card_url, "R8-P-3").await.expect("scan");
        let fresh = d["access_id"].as_str().unwrap().to_string();
        consent(&app, &w, &SHARED).await;
        assert_eq!(photo_rows(&app), 0);
        let (status, code) = error_of(photo_of(&medic, &fresh).await).await;
        assert_eq!((status, code.as_str()), (403, "photo_not_consented"));
        let gone = app
            .get(
                &format!("/api/v1/residents/{}/photo", w.rid),
                Some(&w.resident_token),
            )
            .await;
        assert_eq!(error_of(gone).await, (404, "no_photo".to_string()));
        let d = medic.scan(&w.card_url, "R8-P-4").await.expect("scan");
        assert_eq!(d["photo"], false);
        assert!(held(w.resident_token.clone()).await["photo"].is_null());
        assert!(
            audit_events(&app).iter().any(|e| e.action == "photo.write"
                && e.detail.as_deref() == Some("deleted: consent to photo withdrawn")),
            "the deletion is audited"
        );
    }
);

both_backends!(
    refused_uploads_write_nothing_and_delete_works,
    |app: TestApp| async move {
        let w = world(&app).await;
        consent(&app, &w, &with_photo()).await;
        let writes = || {
            audit_events(&app)
                .iter()
                .filter(|e| e.action == "photo.write")
                .count()
        };

        let twenty_mb = [&[0xFF, 0xD8, 0xFF][..], &vec![0u8; 20 << 20]].concat();
        let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
            ("image/jpeg", twenty_mb, 413, "payload_too_large"),
            (
                "text/plain",
                b"hello, not a photo".to_vec(),
                415,
                "unsupported_media_type",
            ),
            (
                "application/pdf",
                b"%PDF-1.7".to_vec(),
                415,
                "unsupported_media_type",
            ),
            (
                "image/jpeg",
                b"\xFF\xD8\xFFnot really a jpeg".to_vec(),
                422,
                "not_an_image",
            ),
            ("image/png", jpeg_with_metadata(8, 8), 422, "not_an_image"),
            (
                "image/png",
                png_header_only(30_000, 30_000),
                422,
                "image_too_large",
            ),
        ];
        for (ct, body, status, code) in cases.iter().cloned() {
            let r = put_photo(&app, &w, ct, body).await;
            assert_eq!(error_of(r).await, (status, code.to_string()), "{ct}");
        }
        assert_eq!(photo_rows(&app), 0);
        assert_eq!(writes(), 0, "a refused upload is not a write");

        // A good photo; then refused replacements leave it as it was.
        let r = put_photo(&app, &w, "image/jpeg", jpeg_with_metadata(300, 200)).await;
        assert_eq!(r.status(), StatusCode::OK);
        let path = format!("/api/v1/residents/{}/photo", w.rid);
        let before = app
            .get(&path, Some(&w.resident_token))
            .await
            .bytes()
            .await
            .unwrap();
        for (ct, body, status, code) in cases {
            let r = put_photo(&app, &w, ct, body).await;
            assert_eq!(error_of(r).await, (status, code.to_string()), "{ct}");
        }
        let after = app
            .get(&path, Some(&w.resident_token))
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(before, after);
        assert_eq!(writes(), 1);

        // Nobody else's session reads or deletes it.
        let (_, stranger) = register_resident(&app, "stranger").await;
        assert_eq!(
            app.get(&path, Some(&stranger)).await.status(),
            StatusCode::NOT_FOUND
        );
        let r = app.send(Method::DELETE, &path, Some(&stranger), None).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(photo_rows(&app), 1);

        // Deleted by the resident; a second delete has nothing to delete.
        let r = app
            .send(Method::DELETE, &path, Some(&w.resident_token), None)
            .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(photo_rows(&app), 0);
        let r = app
            .send(Method::DELETE, &path, Some(&w.resident_token), None)
            .await;
        assert_eq!(error_of(r).await, (404, "no_photo".to_string()));
        assert_eq!(writes(), 2);
    }
);
