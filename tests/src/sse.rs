//! A Server-Sent Events reader for tests: reads a streaming response event by event.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub id: Option<i64>,
    pub event: String,
    pub data: serde_json::Value,
}

#[derive(Debug)]
pub struct Sse {
    resp: reqwest::Response,
    buf: String,
    pub last_id: Option<i64>,
}

impl Sse {
    /// Wraps a `200 text/event-stream` response (panics otherwise, with the body).
    pub async fn new(resp: reqwest::Response) -> Sse {
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if status != reqwest::StatusCode::OK || !ct.starts_with("text/event-stream") {
            panic!(
                "not an event stream: {status} {ct} {}",
                resp.text().await.unwrap_or_default()
            );
        }
        Sse {
            resp,
            buf: String::new(),
            last_id: None,
        }
    }

    /// The next event (comments and the retry hint skipped), or `None` if none arrives within
    /// `wait` or the stream ends.
    pub async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::from("message"), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                    }
                }
                if data.is_empty() {
                    continue; // a comment or the retry hint
                }
                if id.is_some() {
                    self.last_id = id;
                }
                let data = serde_json::from_str(&data).expect("event data is JSON");
                return Some(SseEvent { id, event, data });
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk()).await;
            match chunk {
                Ok(Ok(Some(bytes))) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// The next event of kind `kind` (others skipped), within `wait`.
    pub async fn next_of(&mut self, kind: &str, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let e = self.next(left).await?;
            if e.event == kind {
                return Some(e);
            }
        }
    }
}
