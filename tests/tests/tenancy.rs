//! Tenancy proof (issue 22): two municipalities on one server. B (the server's default) has the
//! authorization matrix's whole world: admin, residents, a proxy, fire department, hospitals,
//! devices, cards, stickers, incidents, applications, notices. A (Kasama, created as the operator
//! creates one) has its own admin, fire department, hospital, paramedic and resident with a card.
//! A's city admin calls every route of the OpenAPI document with B's object ids: each is refused
//! or answers nothing of B, and B's rows are unchanged. A's paramedic scanning B's card is
//! refused `untrusted_issuer`, audited on both chains, and B's resident sees it in their access
//! history. Both audit chains verify.

use super::authorization::{self, A};
use kyukit_tests::field::*;
use kyukit_tests::tenancy::*;
use kyukit_tests::*;
use reqwest::Method;

const A_CODE: &str = "082171";

both_backends!(
    a_city_admin_of_one_municipality_reaches_nothing_of_another,
    |app: TestApp| async move {
        let other = spawn_app(Backend::Sqlite).await.unwrap();
        let w = authorization::build(&app, &other).await;
        let db = app.db();
        let b = app.municipality_id(&db);

        // A: a second municipality, its admin, fire department, hospital, paramedic, resident.
        let a = create_municipality(&app, A_CODE, "笠間市", "Kasama City");
        assert_ne!(a, b);
        let a_admin = admin_of(&app, &a, A_CODE, "admin-kasama").await;
        let a_fire = create_facility(&app, &a_admin, "fire_department", "笠間市消防本部").await;
        let a_hosp = create_facility(&app, &a_admin, "hospital", "笠間市立病院").await;
        add_staff(&app, &a_admin, &a_fire, "medic-kasama", "paramedic").await;
        add_staff(&app, &a_admin, &a_hosp, "ed-kasama", "ed_staff").await;
        // The same login id as B's first resident: login ids are unique per municipality.
        let (a_rid, _a_token, a_card) =
            resident_in(&app, A_CODE, "hanako", "ロキソプロフェン", &["medications"]).await;
        // A's cards carry A's own card URL base.
        let a_url = a_card["url"].as_str().unwrap().to_ascii_lowercase();
        assert!(
            a_url.starts_with("https://qq.m082171.example.jp/c/"),
            "{a_url}"
        );
        let mut a_medic = enrolled_client(&app, &a_admin, &a_fire).await;
        medic_login(&app, &mut a_medic, "medic-kasama")
            .await
            .expect("A's paramedic logs in (the device says the municipality)");
        let d = a_medic
            .scan(a_card["url"].as_str().unwrap(), "K-1")
            .await
            .expect("A's paramedic scans A's card");
        assert_eq!(d["patient"]["id"], a_rid.as_str());
        assert_eq!(d["items"][0]["body"]["name"], "ロキソプロフェン");

        // Each `hanako` logs into their own municipality.
        for (query, rid) in [
            ("", w.ids["rid"].clone()),
            (&*format!("?municipality={A_CODE}"), a_rid.clone()),
        ] {
            let r = app
                .post(
                    &format!("/api/v1/sessions{query}"),
                    None,
                    json!({"login_id": "hanako", "password": "correct horse battery"}),
                )
                .await;
            assert_eq!(r.status(), StatusCode::CREATED);
            let token = json_of(r).await["token"].as_str().unwrap().to_string();
            let mine = json_of(app.get("/api/v1/me/residents", Some(&token)).await).await;
            assert_eq!(mine["residents"].as_array().unwrap().len(), 1, "{mine}");
            assert_eq!(mine["residents"][0]["id"], rid.as_str(), "{mine}");
        }
        let r = app
            .post(
                "/api/v1/sessions?municipality=999999",
                None,
                json!({"login_id": "hanako", "password": "correct horse battery"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(json_of(r).await["error"], "municipality_unknown");

        // The deployment's JWKS and trust list carry both municipalities' keys.
        let jwks = json_of(app.get("/.well-known/jwks.json", None).await).await;
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids.len(), 2, "{jwks}");
        assert!(kids.contains(&w.ids["kid"].as_str()));

        // A's admin × every route, with B's ids.
        let before = counts_of(&app, &b);
        assert!(
            before.iter().any(|(t, n)| t == "residents" && *n >= 3),
            "{before:?}"
        );
        let mut b_values: Vec<String> = w.ids.values().cloned().collect();
        b_values.extend([
            w.r3.clone(),
            w.r3_card.clone(),
            w.r3_item.clone(),
            b.clone(),
        ]);
        b_values.retain(|v| v.len() >= 16);
        let (mut refused, mut answered, mut public) = (0, 0, 0);
        let mut leaks = Vec::new();
        for (method, path) in authorization::routes() {
            // Ending A's own session would only make the rest 401s (staff.rs covers it).
            if method == "DELETE" && path == "/api/v1/sessions/current" {
                continue;
            }
            let url = authorization::concrete(&w, A::CityAdmin, &path);
            let now = app.clock.now_for_tests();
            let body = authorization::body(&w, &method, &path, now);
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let r = app.send(m, &url, Some(&a_admin), body).await;
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            if [401, 403, 404].contains(&status) {
                refused += 1;
                continue;
            }
            // Public routes are everyone's by design (B's directory, bystander pages, keys).
            if authorization::rule(&method, &path).contains(&A::Anonymous) {
                public += 1;
                continue;
            }
            answered += 1;
            if let Some(v) = b_values.iter().find(|v| text.contains(v.as_str())) {
                leaks.push(format!("{method} {url} → {status} carries B's {v}"));
            }
        }
        eprintln!(
            "tenancy: {refused} refused, {answered} answered without B's data checked, {public} public"
        );
        assert!(refused >= 40, "{refused} refused");
        assert!(
            leaks.is_empty(),
            "{} leaks:\n{}",
            leaks.len(),
            leaks.join("\n")
        );
        assert_eq!(counts_of(&app, &b), before, "A's admin changed B's rows");

        // A's paramedic scans B's card: A's fire department does not serve B.
        let err = a_medic
            .scan(&w.ids["card_url"], "K-2")
            .await
            .expect_err("B's card is refused to A's paramedic");
        match err {
            kyukit_field::Error::Http { status, error, .. } => {
                assert_eq!((status, error.as_str()), (403, "untrusted_issuer"))
            }
            e => panic!("{e}"),
        }
        let path = format!("/api/v1/residents/{}/access-history", w.ids["rid"]);
        let h = json_of(app.get(&path, Some(&w.tokens[&A::Resident])).await).await;
        let tried: Vec<&Value> = h["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["action"] == "record.scan" && e["outcome"] == "denied" && e["role"] == "paramedic"
            })
            .collect();
        assert_eq!(tried.len(), 1, "{h}");
        assert_eq!(tried[0]["facility_id"], a_fire.as_str());
        assert_eq!(tried[0]["facility_name"], "笠間市消防本部");
        assert_eq!(tried[0]["role"], "paramedic");
        // On A's chain too (without B's resident).
        let a_denied = audit_events(&app)
            .into_iter()
            .filter(|e| e.municipality_id == a && e.detail.as_deref() == Some("untrusted_issuer"))
            .collect::<Vec<_>>();
        assert_eq!(a_denied.len(), 1);
        assert_eq!(a_denied[0].resident_id, None);
        assert_eq!(
            counts_of(&app, &b),
            before,
            "a refused scan changed B's rows"
        );

        assert!(verify_chain(&app, &a) > 5);
        assert!(verify_chain(&app, &b) > 50);
    }
);
