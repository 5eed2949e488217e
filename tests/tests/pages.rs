//! The embedded pages: served with a strict CSP, both languages present, assets reachable. (The
//! pages' behaviour in a browser is tested with Chromium by the web-pages suite.)

use kyukit_tests::*;

both_backends!(
    access_history_page_is_served_bilingual_and_locked_down,
    |app: TestApp| async move {
        let r = app.get("/pages/access-history", None).await;
        assert_eq!(r.status(), 200);
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        let html = r.text().await.unwrap();
        assert!(html.contains("閲覧の記録") && html.contains("Who viewed my information"));
        assert!(html.contains("/pages/assets/access-history.js"));
        let js = app.get("/pages/assets/access-history.js", None).await;
        assert_eq!(js.status(), 200);
        assert!(
            js.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
        let js = js.text().await.unwrap();
        // Every action the server records has a label in both languages.
        for action in [
            "record.scan",
            "record.break_glass",
            "record.read",
            "record.photo",
            "photo.write",
            "dataset.write",
            "consent.withdraw",
        ] {
            assert_eq!(
                js.matches(&format!("\"{action}\"")).count(),
                2,
                "{action} in ja and en"
            );
        }
        assert_eq!(app.get("/pages/assets/pages.css", None).await.status(), 200);
        let missing = app.get("/pages/assets/../Cargo.toml", None).await;
        assert_eq!(missing.status(), 404);
    }
);

/// The page's headers: strict CSP (same-origin scripts, images also from blob: for the card's QR
/// code fetched with the session), nothing cached.
async fn locked_down_page(app: &TestApp, path: &str) -> String {
    let r = app.get(path, None).await;
    assert_eq!(r.status(), 200, "{path}");
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'")
            && csp.contains("img-src 'self' data: blob:")
            && csp.contains("frame-ancestors 'none'")
            && !csp.contains("unsafe-"),
        "{path}: {csp}"
    );
    assert_eq!(r.headers()["cache-control"], "no-store", "{path}");
    r.text().await.unwrap()
}

async fn asset(app: &TestApp, file: &str) -> String {
    let r = app.get(&format!("/pages/assets/{file}"), None).await;
    assert_eq!(r.status(), 200, "{file}");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript"),
        "{file}"
    );
    r.text().await.unwrap()
}

both_backends!(
    resident_portal_and_admin_console_are_served_bilingual,
    |app: TestApp| async move {
        let html = locked_down_page(&app, "/pages/resident").await;
        assert!(html.contains("わたしの救急情報") && html.contains("My emergency information"));
        assert!(html.contains("/pages/assets/resident.js"));
        let js = asset(&app, "resident.js").await;
        assert!(js.contains("from \"./common.js\""));
        // The page shows the proxy statement the server records, verbatim (defined once in
        // proxies.js, for registering a proxy and for accepting an invite).
        assert!(js.contains("PROXY_STATEMENT_JA") && js.contains("from \"./proxies.js\""));
        let proxies = asset(&app, "proxies.js").await;
        assert!(
            proxies.contains(&format!(
                "\"{}\"",
                kyukit_server::service::residents::PROXY_STATEMENT_JA
            )),
            "proxies.js must show PROXY_STATEMENT_JA exactly"
        );
        // A form and a consent explanation for every dataset category (the identity photo's
        // consent entry and page live in photo.js).
        let photo_js = asset(&app, "photo.js").await;
        for category in kyukit_server::service::dataset::CATEGORIES {
            let js = match category {
                kyukit_server::domain::Category::Photo => &photo_js,
                _ => &js,
            };
            assert!(
                js.contains(&format!("key: \"{category}\"")),
                "{category} in resident.js (photo.js)"
            );
        }
        let html = locked_down_page(&app, "/pages/admin").await;
        assert!(html.contains("市の管理画面") && html.contains("Kyukit city console"));
        assert!(html.contains("/pages/assets/admin.js"));
        let js = asset(&app, "admin.js").await;
        // Every call the console makes is to a route the server has.
        for path in [
            "/api/v1/facility-applications",
            "/api/v1/facilities",
            "/api/v1/accounts",
            "/api/v1/disasters",
            "/api/v1/notices",
            "/api/v1/reviews/break-glass",
            "/api/v1/audit/head",
            "/api/v1/revocations/",
        ] {
            assert!(js.contains(path), "{path} in admin.js");
        }
        let common = asset(&app, "common.js").await;
        assert!(
            common.contains("sessionStorage") && !common.contains("localStorage.setItem(TOKEN")
        );
    }
);

both_backends!(
    directory_page_switches_language_without_script,
    |app: TestApp| async move {
        let ja = app.get("/pages/directory", None).await;
        assert!(
            ja.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .starts_with("kyukit_lang=ja;")
        );
        let ja = ja.text().await.unwrap();
        assert!(ja.contains("<html lang=\"ja\" class=\"lang-ja\">"), "{ja}");
        assert!(ja.contains("href=\"?lang=en\""));
        let en = app.get("/pages/directory?lang=en", None).await;
        assert!(
            en.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .starts_with("kyukit_lang=en;")
        );
        let en = en.text().await.unwrap();
        assert!(en.contains("<html lang=\"en\" class=\"lang-en\">"));
        assert!(en.contains("<title>Kyukit participating facilities"));
        // Both languages stay in the document (the stylesheet shows one).
        assert!(en.contains("救急キットとは") && en.contains("What Kyukit is"));
        // The remembered choice: the cookie alone.
        let r = app
            .client
            .get(app.url("/pages/directory"))
            .header("Cookie", "kyukit_lang=en")
            .send()
            .await
            .unwrap();
        assert!(r.text().await.unwrap().contains("<html lang=\"en\""));
        let css = app
            .get("/pages/assets/pages.css", None)
            .await
            .text()
            .await
            .unwrap();
        assert!(css.contains("html.lang-ja .l-en, html.lang-en .l-ja { display: none; }"));
    }
);

both_backends!(
    facility_application_page_is_served_and_linked_from_the_directory,
    |app: TestApp| async move {
        let html = locked_down_page(&app, "/pages/apply").await;
        assert!(
            html.contains("施設の参加申請") && html.contains("Apply for your facility to join")
        );
        assert!(html.contains("/pages/assets/apply.js"));
        let js = asset(&app, "apply.js").await;
        // The page calls the routes the server has, and keeps the token in the fragment.
        assert!(js.contains("\"/api/v1/facility-applications\""));
        assert!(js.contains("/api/v1/facility-applications/${"));
        assert!(js.contains("/pages/apply#id="));
        // The directory points people to the form, not to the API.
        let dir = app
            .get("/pages/directory", None)
            .await
            .text()
            .await
            .unwrap();
        assert!(dir.contains("href=\"/pages/apply\""), "{dir}");
        assert!(!dir.contains("POST /api/v1/facility-applications"));
    }
);
