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
