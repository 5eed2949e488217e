//! The household sticker (issue 27): a resident creates a household and its sticker, a proxy who
//! acts for both adds her father, a paramedic device scanning the sticker lists both (each
//! listing in each member's access history), picking one is an ordinary scan of their card; a
//! withdrawn member is not listed, a member who leaves neither; a forged or revoked sticker is
//! refused, and the bystander page shows nothing private — on SQLite and PostgreSQL.

use kyukit_field::Client;
use kyukit_server::audit;
use kyukit_tests::field::{audit_events, medic_client, world};
use kyukit_tests::*;
use reqwest::Method;

async fn expect(r: reqwest::Response, status: StatusCode, what: &str) -> Value {
    let got = r.status();
    let body = r.text().await.unwrap_or_default();
    assert_eq!(got, status, "{what}: {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

async fn household_scan(medic: &Client, sticker: &str) -> (StatusCode, Value) {
    let body = json!({"sticker": sticker, "incident_ref": "R8-0042"});
    let r = medic
        .signed(Method::POST, "/api/v1/household-scans", Some(&body), None)
        .await
        .expect("sent");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn names(listing: &Value) -> Vec<String> {
    listing["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            format!(
                "{} {}",
                m["family_name"].as_str().unwrap(),
                m["given_name"].as_str().unwrap()
            )
        })
        .collect()
}

fn history_actions(h: &Value) -> Vec<String> {
    h["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["action"].as_str().unwrap_or(""),
                e["outcome"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// The path of a URL (`HTTPS://HOST/H/123` → `/H/123`).
fn path_of(url: &str) -> String {
    let rest = &url[8..];
    rest[rest.find('/').unwrap()..].to_string()
}

both_backends!(
    a_household_sticker_lists_its_consenting_members,
    |app: TestApp| async move {
        let w = world(&app).await;
        let (hanako, me): (String, String) = (w.rid.clone(), w.resident_token.clone());

        // The daughter registers with her father 太郎 (a proxy account with a resident).
        let mut father = resident_body("taro")["profile"].clone();
        father["given_name"] = json!("太郎");
        father["given_name_kana"] = json!("タロウ");
        father["sex"] = json!("male");
        father["date_of_birth"] = json!("1938-08-15");
        let reg = expect(
            app.post(
                "/api/v1/proxies",
                None,
                json!({"login_id": "daughter@joso", "password": "another long secret", "display_name": "山田 良子",
                    "relation": "family", "accept_proxy_statement": true, "resident": father}),
            )
            .await,
            StatusCode::CREATED,
            "daughter registers",
        )
        .await;
        let (d, taro) = (
            reg["token"].as_str().unwrap().to_string(),
            reg["resident_id"].as_str().unwrap().to_string(),
        );
        expect(
            app.post(
                &format!("/api/v1/residents/{taro}/consents"),
                Some(&d),
                json!({"categories": ["medications", "allergies"], "disaster_use": false, "triage_on_card": false, "name_on_print": false}),
            )
            .await,
            StatusCode::CREATED,
            "consent for taro",
        )
        .await;
        expect(
            app.post(
                &format!("/api/v1/residents/{taro}/cards"),
                Some(&d),
                json!({}),
            )
            .await,
            StatusCode::CREATED,
            "card for taro",
        )
        .await;
        // 花子 invites her daughter as proxy.
        let inv = expect(
            app.post(
                &format!("/api/v1/residents/{hanako}/proxy-invites"),
                Some(&me),
                json!({"relation": "family"}),
            )
            .await,
            StatusCode::CREATED,
            "invite",
        )
        .await;
        expect(
            app.post(
                "/api/v1/proxy-invites/accept",
                Some(&d),
                json!({"code": inv["code"], "accept_proxy_statement": true}),
            )
            .await,
            StatusCode::OK,
            "accept",
        )
        .await;

        // 花子 makes the household; she cannot list her husband (she does not act for him).
        let h = expect(
            app.post(
                "/api/v1/households",
                Some(&me),
                json!({"resident_id": hanako}),
            )
            .await,
            StatusCode::CREATED,
            "create",
        )
        .await;
        let hid = h["id"].as_str().unwrap().to_string();
        let url = h["url"].as_str().unwrap().to_string();
        assert!(url.starts_with("HTTPS://") && url.contains("/H/"), "{url}");
        assert_eq!(h["members"].as_array().unwrap().len(), 1);
        expect(
            app.post(
                &format!("/api/v1/households/{hid}/members"),
                Some(&me),
                json!({"resident_id": taro}),
            )
            .await,
            StatusCode::NOT_FOUND,
            "花子 cannot list 太郎",
        )
        .await;
        // The daughter, acting for both, lists her father.
        let h = expect(
            app.post(
                &format!("/api/v1/households/{hid}/members"),
                Some(&d),
                json!({"resident_id": taro}),
            )
            .await,
            StatusCode::OK,
            "daughter lists 太郎",
        )
        .await;
        assert_eq!(h["members"].as_array().unwrap().len(), 2);
        assert!(
            h["members"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["listed"] == true),
            "{h}"
        );
        // Someone who acts for no member does not see the household.
        let (_, stranger) = register_resident(&app, "stranger").await;
        expect(
            app.get(&format!("/api/v1/households/{hid}"), Some(&stranger))
                .await,
            StatusCode::NOT_FOUND,
            "stranger",
        )
        .await;

        // The sticker is a signed pointer with no personal data: a card verifier refuses it.
        let cose = kyukit_card::parse_household_url(&url).expect("household URL");
        let (_, claims) = kyukit_card::decode_household_unverified(&cose).expect("sticker");
        assert_eq!(claims.household_id.to_hex(), hid);
        let text = String::from_utf8_lossy(&cose);
        for word in ["山田", "花子", "太郎", "常総"] {
            assert!(!text.contains(word));
        }

        // The bystander page: 119, nothing private.
        let page = app.get(&path_of(&url), None).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("tel:119") && html.contains("#household="));
        for word in ["山田", "花子", "太郎", "ワルファリン", "水海道"] {
            assert!(!html.contains(word), "{word} on the bystander page");
        }

        // The printable: a PDF, and the QR decodes to the sticker URL.
        let pdf = app
            .get(&format!("/api/v1/households/{hid}/sticker.pdf"), Some(&me))
            .await;
        assert_eq!(pdf.status(), StatusCode::OK);
        let pdf = pdf.bytes().await.unwrap();
        assert!(pdf.starts_with(b"%PDF"));
        let png = app
            .get(&format!("/api/v1/households/{hid}/qr.png"), Some(&me))
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(decode_qr_png(&png), vec![url.clone()]);

        // A paramedic scans the sticker: both members, with their cards.
        let medic = medic_client(&app, &w).await;
        let (status, listing) = household_scan(&medic, &url).await;
        assert_eq!(status, StatusCode::OK, "{listing}");
        let mut listed = names(&listing);
        listed.sort();
        assert_eq!(listed, vec!["山田 太郎", "山田 花子"]);
        let taro_at = names(&listing)
            .iter()
            .position(|n| n == "山田 太郎")
            .unwrap();
        let t = &listing["members"][taro_at];
        assert_eq!(
            (t["age"].as_u64(), t["sex"].as_str()),
            (Some(88), Some("male")),
            "{t}"
        );
        assert!(t["photo_jpeg"].is_null(), "no photo uploaded");
        assert!(
            !listing.to_string().contains("ワルファリン"),
            "no medical data in the list"
        );
        // Picking 太郎 is a scan of his card.
        let card = t["card"].as_str().unwrap();
        let d1 = medic.scan(card, "R8-0042").await.expect("pick 太郎");
        assert_eq!(d1["patient"]["given_name"], "太郎");
        // The card verifier refuses the sticker itself.
        assert!(medic.scan(&url, "R8-0042").await.is_err());

        // Each listing is in each member's access history.
        let hist = |rid: String, token: String| {
            let app = &app;
            async move {
                history_actions(
                    &app.get(
                        &format!("/api/v1/residents/{rid}/access-history"),
                        Some(&token),
                    )
                    .await
                    .json::<Value>()
                    .await
                    .unwrap(),
                )
            }
        };
        let taro_h = hist(taro.clone(), d.clone()).await;
        assert!(
            taro_h.contains(&"record.household:ok".to_string()),
            "{taro_h:?}"
        );
        assert!(taro_h.contains(&"record.scan:ok".to_string()), "{taro_h:?}");
        assert!(
            taro_h.contains(&"household.join:ok".to_string()),
            "{taro_h:?}"
        );
        let hanako_h = hist(hanako.clone(), me.clone()).await;
        assert!(
            hanako_h.contains(&"record.household:ok".to_string()),
            "{hanako_h:?}"
        );
        assert!(
            !hanako_h.contains(&"record.scan:ok".to_string()),
            "花子 was not picked"
        );

        // 太郎's consent is withdrawn (支援中止): he drops out at once.
        expect(
            app.post(
                &format!("/api/v1/residents/{taro}/withdrawal"),
                Some(&d),
                json!({}),
            )
            .await,
            StatusCode::OK,
            "withdraw 太郎",
        )
        .await;
        let (_, listing) = household_scan(&medic, &url).await;
        assert_eq!(names(&listing), vec!["山田 花子"]);
        let h = expect(
            app.get(&format!("/api/v1/households/{hid}"), Some(&me))
                .await,
            StatusCode::OK,
            "get",
        )
        .await;
        let listed_flags: Vec<(String, bool)> = h["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["name"].as_str().unwrap().to_string(),
                    m["listed"].as_bool().unwrap(),
                )
            })
            .collect();
        assert!(
            listed_flags.contains(&("山田 太郎".to_string(), false)),
            "{h}"
        );
        assert!(
            listed_flags.contains(&("山田 花子".to_string(), true)),
            "{h}"
        );

        // 花子 leaves: nobody is listed.
        let r = app
            .send(
                Method::DELETE,
                &format!("/api/v1/households/{hid}/members/{hanako}"),
                Some(&me),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let (status, listing) = household_scan(&medic, &url).await;
        assert_eq!(status, StatusCode::OK);
        assert!(names(&listing).is_empty());
        assert!(
            hist(hanako.clone(), me.clone())
                .await
                .contains(&"household.leave:ok".to_string())
        );

        // A forged sticker (one bit changed) is refused and never reaches the list.
        let mut forged = cose.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        let forged_url = kyukit_card::household_url("https://qq.example.jp/c/", &forged).unwrap();
        let (status, body) = household_scan(&medic, &forged_url).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::FORBIDDEN, Some("sticker_not_genuine"))
        );
        // Offline, on the device (`kyukit-field verify-household`, the issuer's keys kept as a
        // file): the genuine sticker verifies and names its household; the forged one is refused.
        let jwks = app
            .get("/.well-known/jwks.json", None)
            .await
            .bytes()
            .await
            .unwrap();
        let dir = std::env::temp_dir().join(format!("kyukit-sticker-{}", random_hex(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let jwks_file = dir.join("jwks.json");
        std::fs::write(&jwks_file, &jwks).unwrap();
        let offline = |sticker: String| {
            let jwks = jwks_file.to_str().unwrap().to_string();
            tokio::task::spawn_blocking(move || {
                kyukit_field::cli::execute_args([
                    "verify-household",
                    "--jwks",
                    &jwks,
                    "--sticker",
                    &sticker,
                ])
            })
        };
        let pointer = offline(url.clone())
            .await
            .unwrap()
            .expect("genuine sticker");
        assert_eq!(pointer["kind"], "household_sticker");
        assert_eq!(pointer["household_id"], hid.as_str());
        assert!(pointer["iat"].as_i64().is_some());
        let err = offline(forged_url.clone())
            .await
            .unwrap()
            .expect_err("forged");
        assert!(err.is_refusal(), "exit 1: {}", err.message());
        std::fs::remove_dir_all(&dir).unwrap();

        // Revoked (by the daughter, who manages 太郎): refused, and the bystander page says so.
        let r = app
            .send(
                Method::POST,
                &format!("/api/v1/households/{hid}/revoke"),
                Some(&d),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let (status, body) = household_scan(&medic, &url).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::FORBIDDEN, Some("sticker_revoked"))
        );
        assert_eq!(
            app.get(&path_of(&url), None).await.status(),
            StatusCode::NOT_FOUND
        );

        // Refusals are audited; the chain verifies.
        let events = audit_events(&app);
        assert!(events.iter().any(|e| e.action == "record.household"
            && e.outcome == "denied"
            && e.detail.as_deref() == Some("sticker_revoked")));
        let db = app.db();
        let muni = app.municipality_id(&db);
        let mut c = db.conn().unwrap();
        audit::verify(&mut c, &muni, None).expect("the chain verifies");
    }
);
