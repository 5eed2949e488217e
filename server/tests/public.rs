//! The public surface of a real server on 127.0.0.1:0: health, JWKS, the bystander card page.

use kyukit_card::{CardId, Claims, KeySet, card_url, sign};
use kyukit_server::clock::FixedClock;
use kyukit_server::config::Config;
use kyukit_server::startup::Application;
use std::path::PathBuf;
use std::sync::Arc;

const NOW: i64 = 1_800_000_000;

struct TestApp {
    base: String,
    data_dir: PathBuf,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn temp_dir() -> PathBuf {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).unwrap();
    std::env::temp_dir().join(format!("kyukit-test-{}", hex::encode(b)))
}

async fn spawn_app() -> TestApp {
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: temp_dir(),
        public_url: "https://qq.city.joso.lg.jp/".into(),
    };
    let app = Application::build(&config, Arc::new(FixedClock(NOW))).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        data_dir: config.data_dir,
    }
}

fn server_key(data_dir: &std::path::Path) -> kyukit_card::IssuerKey {
    let dir = data_dir.join("keys");
    let active = std::fs::read_to_string(dir.join("active")).unwrap();
    kyukit_server::secrets::read_private_key(&dir.join(format!("{}.pem", active.trim()))).unwrap()
}

#[tokio::test]
async fn first_start_serves_health_and_a_p256_jwks() {
    let app = spawn_app().await;
    let health = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
    assert_eq!(health.status(), 200);
    let jwks = reqwest::get(format!("{}/.well-known/jwks.json", app.base))
        .await
        .unwrap();
    assert_eq!(jwks.status(), 200);
    let body = jwks.bytes().await.unwrap();
    let keys = KeySet::from_jwks_json(&body).unwrap();
    assert_eq!(keys.len(), 1);
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["keys"][0]["crv"], "P-256");
    assert!(
        doc["keys"][0].get("d").is_none(),
        "no private member in the JWKS"
    );
    // The key file is owner-only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let kid = keys.iter().next().unwrap().kid();
        let mode = std::fs::metadata(app.data_dir.join("keys").join(format!("{kid}.pem")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn card_page_tells_a_bystander_to_call_119_and_shows_nothing_private() {
    let app = spawn_app().await;
    let key = server_key(&app.data_dir);
    let claims = Claims {
        card_id: CardId([0x5a; 16]),
        issuer: None,
        issued_at: Some(NOW - 10),
        expires_at: NOW + 1000,
        triage: None,
    };
    let url = card_url(
        "https://qq.city.joso.lg.jp/c/",
        &sign(&claims, &key).unwrap(),
    )
    .unwrap();
    let digits = url.rsplit('/').next().unwrap();
    for prefix in ["/C/", "/c/"] {
        let resp = reqwest::get(format!("{}{prefix}{digits}", app.base))
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
        let html = resp.text().await.unwrap();
        assert!(html.contains("tel:119") && html.contains("119番") && html.contains("Call 119"));
        assert!(html.contains("これは救急医療情報キット"));
        assert!(
            !html.contains(&claims.card_id.to_hex()),
            "the card id is not shown"
        );
    }
    // A card signed by another key is not confirmed.
    let forged = card_url(
        "https://qq.city.joso.lg.jp/c/",
        &sign(
            &claims,
            &kyukit_card::IssuerKey::from_secret_bytes(&[3; 32]).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let resp = reqwest::get(format!(
        "{}/C/{}",
        app.base,
        forged.rsplit('/').next().unwrap()
    ))
    .await
    .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(resp.text().await.unwrap().contains("確認できませんでした"));
}

#[tokio::test]
async fn unknown_paths_get_the_json_error_body() {
    let app = spawn_app().await;
    let resp = reqwest::get(format!("{}/api/v1/nope", app.base))
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"error": "not_found", "message": "no such endpoint"})
    );
}

#[tokio::test]
async fn restart_keeps_the_same_key() {
    let app = spawn_app().await;
    let first = reqwest::get(format!("{}/.well-known/jwks.json", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: app.data_dir.clone(),
        public_url: "https://qq.city.joso.lg.jp/".into(),
    };
    let again = Application::build(&config, Arc::new(FixedClock(NOW))).unwrap();
    let base = format!("http://127.0.0.1:{}", again.port());
    tokio::spawn(again.run_until_stopped());
    let second = reqwest::get(format!("{base}/.well-known/jwks.json"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(first, second);
}
