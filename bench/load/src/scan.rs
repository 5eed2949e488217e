//! The scan load: each request is a signed `POST /api/v1/scans` of a random card from the next
//! device in round-robin order, with a unique incident reference.

use crate::load::{Op, OpResult, Rng};
use crate::setup::World;
use kyukit_field::{ACCEPT_JSON, Client};
use reqwest::Method;
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug)]
pub struct Scans {
    clients: Arc<[Client]>,
    cards: Arc<[String]>,
    next_device: AtomicUsize,
}

impl Scans {
    pub fn new(world: &World) -> Self {
        Scans {
            clients: world.clients.clone().into(),
            cards: world.cards.clone().into(),
            next_device: AtomicUsize::new(0),
        }
    }
}

impl Op for Scans {
    fn prepare(
        &self,
        task: usize,
        seq: u64,
        rng: &mut Rng,
    ) -> Pin<Box<dyn Future<Output = OpResult> + Send + 'static>> {
        let d = self.next_device.fetch_add(1, Ordering::Relaxed) % self.clients.len().max(1);
        let (Some(client), Some(card)) = (
            self.clients.get(d),
            self.cards.get(rng.below(self.cards.len())),
        ) else {
            return Box::pin(async { Err(("setup".into(), "empty world".into())) });
        };
        let body = json!({"card": card, "incident_ref": format!("BENCH-{task}-{seq}")});
        // Signing (client CPU) happens here, before the clock starts: latency is the server's
        // answer.
        let prepared = client.prepare_signed(
            Method::POST,
            "/api/v1/scans",
            Some(&body),
            Some(ACCEPT_JSON),
        );
        let clients = self.clients.clone();
        Box::pin(async move {
            let req = prepared.map_err(|e| (e.code().to_string(), e.to_string()))?;
            let client = clients
                .get(d)
                .ok_or_else(|| ("setup".to_string(), "no device".to_string()))?;
            let resp = client
                .send_prepared(&req)
                .await
                .map_err(|e| (e.code().to_string(), e.to_string()))?;
            expect(resp, 201).await
        })
    }
}

/// Reads the answer; `Ok(())` if its status is `want`, else the error key and a message.
pub async fn expect(resp: reqwest::Response, want: u16) -> OpResult {
    let status = resp.status().as_u16();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| ("transport".to_string(), e.to_string()))?;
    if status == want {
        return Ok(());
    }
    let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
    let code = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(Value::as_str)
        .unwrap_or("-");
    let message = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
    Err((format!("{status} {code}"), message))
}
