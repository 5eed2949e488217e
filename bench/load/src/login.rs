//! The login load: each request is a resident's password login (`POST /api/v1/sessions`), a
//! random resident of the world each time. Every login hashes the password (argon2id), writes a
//! session and a `login.ok` audit event; it is CPU bound by design.

use crate::load::{Op, OpResult, Rng};
use crate::scan::expect;
use crate::setup::{RESIDENT_PASSWORD, World};
use serde_json::json;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

#[derive(Debug)]
pub struct Logins {
    http: reqwest::Client,
    url: String,
    logins: Arc<[String]>,
}

impl Logins {
    pub fn new(world: &World, http: &reqwest::Client, base: &str) -> Self {
        Logins {
            http: http.clone(),
            url: format!("{base}/api/v1/sessions"),
            logins: world.residents.iter().map(|r| r.1.clone()).collect(),
        }
    }
}

impl Op for Logins {
    fn prepare(
        &self,
        _task: usize,
        _seq: u64,
        rng: &mut Rng,
    ) -> Pin<Box<dyn Future<Output = OpResult> + Send + 'static>> {
        let login_id = self
            .logins
            .get(rng.below(self.logins.len()))
            .cloned()
            .unwrap_or_default();
        let req = self
            .http
            .post(&self.url)
            .json(&json!({"login_id": login_id, "password": RESIDENT_PASSWORD}));
        Box::pin(async move {
            let resp = req
                .send()
                .await
                .map_err(|e| ("transport".to_string(), e.to_string()))?;
            expect(resp, 201).await
        })
    }
}
