//! The HTTP client of a field device: enrollment (unsigned), then RFC 9421 signed requests for the
//! paramedic's login, scans, break-glass searches, access re-reads and logout.

use crate::error::{Error, Result};
use crate::httpsig::{RequestToSign, new_nonce, sign_request};
use crate::key::DeviceKey;
use crate::retry::{Repeat, RetryPolicy, retry_after};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST};
use reqwest::{Method, Url};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `Accept` for the JSON disclosure.
pub const ACCEPT_JSON: &str = "application/json";
/// `Accept` for the IPS-shaped FHIR R4 Bundle.
pub const ACCEPT_FHIR: &str = "application/fhir+json";
/// Longest error or response body read into an error message.
const MAX_ERROR_BODY: usize = 4096;

/// A source of "now" in seconds since the Unix epoch: the `created` of every signature.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The operating system's clock, in seconds since the Unix epoch.
pub fn system_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// The answer to an enrollment (`201` of `POST /api/v1/devices`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolled {
    /// 32 hex characters; the `keyid` of every signature from now on.
    pub device_id: String,
    pub facility_id: String,
    #[serde(default)]
    pub label: Option<String>,
    /// The deployment's trust-list key (a JWK), pinned by the device.
    #[serde(default)]
    pub trust_list_key: Option<kyukit_card::Jwk>,
}

/// A break-glass search: a resident found without a card, identified by name and date of birth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlass {
    pub family_name: String,
    pub given_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Why the crew needs the record without the resident's card.
    pub reason: String,
    pub incident_ref: String,
}

/// A fully built, signed request that can be inspected, altered (to forge one) and sent any
/// number of times (to replay it).
#[derive(Clone)]
pub struct PreparedRequest {
    pub method: Method,
    pub url: Url,
    /// Every header sent, in order, names lower case: `host`, `accept`, `authorization`,
    /// `content-type`, `content-digest`, `signature-input`, `signature` (those that apply).
    pub headers: Vec<(String, String)>,
    /// The exact body bytes (the content digest is over these).
    pub body: Option<Vec<u8>>,
    /// The signature base that was signed.
    pub signature_base: String,
}

impl fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                let v = if n == "authorization" {
                    "Bearer <redacted>"
                } else {
                    v.as_str()
                };
                (n.as_str(), v)
            })
            .collect();
        f.debug_struct("PreparedRequest")
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field("headers", &headers)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

impl PreparedRequest {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Replaces (or adds) header `name`.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.remove_header(name);
        self.headers.push((name.to_ascii_lowercase(), value.into()));
    }

    /// Removes header `name`.
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Sends the request exactly as prepared. Sending it twice is a replay.
    pub async fn send(&self, http: &reqwest::Client) -> Result<reqwest::Response> {
        let mut req = http.request(self.method.clone(), self.url.clone());
        for (name, value) in &self.headers {
            req = req.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &self.body {
            req = req.body(body.clone());
        }
        Ok(req.send().await?)
    }
}

/// Reads a response: its JSON body on success (`Value::Null` for an empty body, e.g. `204`), or
/// [`Error::Http`] with the server's `error` and `message`.
pub async fn read_json(resp: reqwest::Response) -> Result<Value> {
    let status = resp.status();
    let bytes = resp.bytes().await?;
    if !status.is_success() {
        return Err(http_error(status.as_u16(), &bytes));
    }
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::InvalidResponse(format!("HTTP {} with a body that is not JSON: {e}", status))
    })
}

/// The [`Error::Http`] for a refused request with body `body` (`{"error": …, "message": …}`).
pub fn http_error(status: u16, body: &[u8]) -> Error {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => Error::Http {
            status,
            error: b.error,
            message: b.message,
        },
        Err(_) => {
            let text = String::from_utf8_lossy(&body[..body.len().min(MAX_ERROR_BODY)]);
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            Error::Http {
                status,
                error: format!("http_{status}"),
                message: if text.is_empty() {
                    "the server gave no error body".into()
                } else {
                    text
                },
            }
        }
    }
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters).
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A field device talking to one Kyukit server.
#[derive(Clone)]
pub struct Client {
    base_url: String,
    http: reqwest::Client,
    key: DeviceKey,
    device_id: Option<String>,
    session: Option<String>,
    now: Clock,
    retry: RetryPolicy,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("key", &self.key)
            .field("device_id", &self.device_id)
            .field("session", &self.session.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The HTTP client used unless one is given: no redirects (a signed request is never re-sent
/// elsewhere), 30 s timeout.
pub fn default_http() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("kyukit-field/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

impl Client {
    /// A client for the server at `base_url` (`http://` or `https://`, optionally with a path
    /// prefix; no query or fragment), signing with `key`, on the system clock.
    pub fn new(base_url: &str, key: DeviceKey) -> Result<Self> {
        let trimmed = base_url.trim().trim_end_matches('/');
        let parsed = Url::parse(trimmed)
            .map_err(|e| Error::Usage(format!("server URL {base_url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https")
            || parsed.host_str().is_none()
            || parsed.query().is_some()
            || parsed.fragment().is_some()
            || !parsed.username().is_empty()
            || parsed.password().is_some()
        {
            return Err(Error::Usage(format!(
                "server URL {base_url:?} must be http(s)://host[:port][/prefix] without query, fragment or credentials"
            )));
        }
        Ok(Client {
            base_url: trimmed.to_string(),
            http: default_http()?,
            key,
            device_id: None,
            session: None,
            now: Arc::new(system_now),
            retry: RetryPolicy::default(),
        })
    }

    /// Uses `http` for every request (e.g. one with other timeouts).
    pub fn with_http(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// How the crew's signed requests are sent again after a `503` or a lost connection
    /// ([`crate::retry`]; [`RetryPolicy::NONE`]: never).
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Takes "now" from `clock` (e.g. a test's fixed server clock) instead of the system clock.
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.now = Arc::new(clock);
        self
    }

    /// Sets the device id of an already enrolled device.
    pub fn with_device_id(mut self, device_id: impl Into<String>) -> Self {
        self.device_id = Some(device_id.into());
        self
    }

    /// Sets the session token of an earlier login.
    pub fn with_session(mut self, token: impl Into<String>) -> Self {
        self.session = Some(token.into().trim().to_string());
        self
    }

    pub fn set_device_id(&mut self, device_id: Option<String>) {
        self.device_id = device_id;
    }

    pub fn set_session(&mut self, token: Option<String>) {
        self.session = token.map(|t| t.trim().to_string());
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn key(&self) -> &DeviceKey {
        &self.key
    }

    pub fn device_id(&self) -> Option<&str> {
        self.device_id.as_deref()
    }

    /// The session token of the paramedic's login (a bearer secret).
    pub fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// "Now" by this client's clock.
    pub fn now(&self) -> i64 {
        (self.now)()
    }

    fn url(&self, path_and_query: &str) -> Result<Url> {
        if !path_and_query.starts_with('/') {
            return Err(Error::Usage(format!(
                "request path {path_and_query:?} must start with /"
            )));
        }
        let mut url = Url::parse(&format!("{}{path_and_query}", self.base_url))
            .map_err(|e| Error::Usage(format!("request URL: {e}")))?;
        url.set_fragment(None);
        if url.query() == Some("") {
            url.set_query(None);
        }
        Ok(url)
    }

    /// Enrolls this device with a one-time enrollment code (`POST /api/v1/devices`, unsigned: the
    /// code is the credential). Remembers the device id.
    pub async fn enroll(&mut self, code: &str, label: Option<&str>) -> Result<Enrolled> {
        let mut body = json!({
            "code": code,
            "public_key": self.key.public_jwk(),
        });
        if let Some(l) = label {
            body["label"] = Value::String(l.to_string());
        }
        let resp = self
            .http
            .post(self.url("/api/v1/devices")?)
            .header(ACCEPT, ACCEPT_JSON)
            .json(&body)
            .send()
            .await?;
        let value = read_json(resp).await?;
        let enrolled: Enrolled = serde_json::from_value(value)
            .map_err(|e| Error::InvalidResponse(format!("enrollment answer: {e}")))?;
        if enrolled.device_id.is_empty() {
            return Err(Error::InvalidResponse("empty device_id".into()));
        }
        self.device_id = Some(enrolled.device_id.clone());
        Ok(enrolled)
    }

    /// Builds a signed request with an explicit `Authorization` value (`None`: no header). For
    /// tests that forge requests; normal code uses [`Client::prepare_signed`].
    pub fn prepare_signed_with(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
        accept: Option<&str>,
        authorization: Option<&str>,
    ) -> Result<PreparedRequest> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| Error::Usage(format!("request body: {e}")))?;
        self.prepare_raw(
            method,
            path_and_query,
            body.map(|b| (b, ACCEPT_JSON)),
            accept,
            authorization,
        )
    }

    /// Builds a signed request with a raw body of the given content type (e.g. an attachment).
    pub fn prepare_raw(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<(Vec<u8>, &str)>,
        accept: Option<&str>,
        authorization: Option<&str>,
    ) -> Result<PreparedRequest> {
        let keyid = self.device_id.as_deref().ok_or(Error::NotEnrolled)?;
        let url = self.url(path_and_query)?;
        let (body, content_type) = match body {
            Some((b, ct)) => (Some(b), Some(ct)),
            None => (None, None),
        };
        let nonce = new_nonce()?;
        let signed = sign_request(
            &self.key,
            keyid,
            self.now(),
            &nonce,
            RequestToSign {
                method: method.as_str(),
                url: &url,
                authorization,
                body: body.as_deref(),
            },
        )?;
        let mut headers = vec![(HOST.as_str().to_string(), signed.host)];
        if let Some(a) = accept {
            headers.push((ACCEPT.as_str().to_string(), a.to_string()));
        }
        if let Some(a) = authorization {
            headers.push((AUTHORIZATION.as_str().to_string(), a.trim().to_string()));
        }
        if let Some(ct) = content_type {
            headers.push((CONTENT_TYPE.as_str().to_string(), ct.to_string()));
        }
        if let Some(d) = signed.content_digest {
            headers.push(("content-digest".to_string(), d));
        }
        headers.push(("signature-input".to_string(), signed.signature_input));
        headers.push(("signature".to_string(), signed.signature));
        Ok(PreparedRequest {
            method,
            url,
            headers,
            body,
            signature_base: signed.base,
        })
    }

    /// Sends a signed request with a raw body (with the session), whatever the status.
    pub async fn signed_bytes(
        &self,
        method: Method,
        path_and_query: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<reqwest::Response> {
        let authorization = self.session.as_ref().map(|t| format!("Bearer {t}"));
        self.prepare_raw(
            method,
            path_and_query,
            Some((body, content_type)),
            None,
            authorization.as_deref(),
        )?
        .send(&self.http)
        .await
    }

    /// Builds a signed request (`Authorization: Bearer <session>` when logged in) without sending
    /// it: send it with [`PreparedRequest::send`], as often as a test wants.
    pub fn prepare_signed(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
        accept: Option<&str>,
    ) -> Result<PreparedRequest> {
        let authorization = self.session.as_ref().map(|t| format!("Bearer {t}"));
        self.prepare_signed_with(
            method,
            path_and_query,
            body,
            accept,
            authorization.as_deref(),
        )
    }

    /// Sends a signed request and returns the raw response, whatever its status.
    pub async fn signed(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
        accept: Option<&str>,
    ) -> Result<reqwest::Response> {
        self.prepare_signed(method, path_and_query, body, accept)?
            .send(&self.http)
            .await
    }

    /// Sends a prepared request with this client's HTTP client.
    pub async fn send_prepared(&self, req: &PreparedRequest) -> Result<reqwest::Response> {
        req.send(&self.http).await
    }

    /// A signed request's JSON answer, sent again (re-signed) after a `503` or a lost
    /// connection when that cannot do a change twice ([`crate::retry`]).
    async fn signed_json(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
        accept: &str,
    ) -> Result<Value> {
        if self.session.is_none() {
            return Err(Error::NoSession);
        }
        let repeat = Repeat::of(&method, path_and_query);
        // One key for every attempt of this change.
        let key = match repeat {
            Repeat::Keyed => Some(new_nonce()?),
            _ => None,
        };
        let mut attempt = 0;
        loop {
            let mut req =
                self.prepare_signed(method.clone(), path_and_query, body, Some(accept))?;
            if let Some(k) = &key {
                req.set_header("idempotency-key", k.clone());
            }
            let last = attempt + 1 >= self.retry.attempts.max(1);
            let wait = match req.send(&self.http).await {
                Ok(resp) if !last && repeat.after_status(resp.status().as_u16()) => {
                    self.retry.delay(attempt, retry_after(&resp))
                }
                Ok(resp) => return read_json(resp).await,
                Err(Error::Transport(e)) if !last && repeat.after_transport(&e) => {
                    self.retry.delay(attempt, None)
                }
                Err(e) => return Err(e),
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// The paramedic's login (`POST /api/v1/sessions`), signed by this device and without an
    /// `Authorization` header. Keeps the session token for the following requests.
    pub async fn login(
        &mut self,
        login_id: &str,
        password: &str,
        totp: Option<&str>,
    ) -> Result<()> {
        let mut body = json!({"login_id": login_id, "password": password});
        if let Some(code) = totp {
            body["totp"] = Value::String(code.to_string());
        }
        let resp = self
            .prepare_signed_with(
                Method::POST,
                "/api/v1/sessions",
                Some(&body),
                Some(ACCEPT_JSON),
                None,
            )?
            .send(&self.http)
            .await?;
        let value = read_json(resp).await?;
        let token = value
            .get("token")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::InvalidResponse("login answer has no token".into()))?;
        self.session = Some(token.to_string());
        Ok(())
    }

    async fn scan_as(&self, card: &str, incident_ref: &str, accept: &str) -> Result<Value> {
        let body = json!({"card": card, "incident_ref": incident_ref});
        self.signed_json(Method::POST, "/api/v1/scans", Some(&body), accept)
            .await
    }

    /// A card scan (`POST /api/v1/scans`): `card` is the card URL as read from the QR code or NFC
    /// tag. Returns the disclosure JSON.
    pub async fn scan(&self, card: &str, incident_ref: &str) -> Result<Value> {
        self.scan_as(card, incident_ref, ACCEPT_JSON).await
    }

    /// A card scan answered as an IPS-shaped FHIR R4 Bundle (`Accept: application/fhir+json`).
    pub async fn scan_fhir(&self, card: &str, incident_ref: &str) -> Result<Value> {
        self.scan_as(card, incident_ref, ACCEPT_FHIR).await
    }

    async fn break_glass_as(&self, req: &BreakGlass, accept: &str) -> Result<Value> {
        let body =
            serde_json::to_value(req).map_err(|e| Error::Usage(format!("request body: {e}")))?;
        self.signed_json(Method::POST, "/api/v1/break-glass", Some(&body), accept)
            .await
    }

    /// A break-glass search (`POST /api/v1/break-glass`). Returns the disclosure JSON.
    pub async fn break_glass(&self, req: &BreakGlass) -> Result<Value> {
        self.break_glass_as(req, ACCEPT_JSON).await
    }

    /// A break-glass search answered as a FHIR Bundle.
    pub async fn break_glass_fhir(&self, req: &BreakGlass) -> Result<Value> {
        self.break_glass_as(req, ACCEPT_FHIR).await
    }

    /// Re-reads an access while its grant lasts (`GET /api/v1/accesses/{id}`).
    pub async fn access(&self, access_id: &str) -> Result<Value> {
        let path = format!("/api/v1/accesses/{}", path_segment(access_id));
        self.signed_json(Method::GET, &path, None, ACCEPT_JSON)
            .await
    }

    /// Re-reads an access as a FHIR Bundle.
    pub async fn access_fhir(&self, access_id: &str) -> Result<Value> {
        let path = format!("/api/v1/accesses/{}", path_segment(access_id));
        self.signed_json(Method::GET, &path, None, ACCEPT_FHIR)
            .await
    }

    /// Opens an incident (`POST /api/v1/incidents`), seeded from an access (a scan or break-glass
    /// of this paramedic on this device, within its grant) when given.
    pub async fn open_incident(
        &self,
        incident_ref: &str,
        access_id: Option<&str>,
    ) -> Result<Value> {
        let body = json!({ "incident_ref": incident_ref, "access_id": access_id });
        self.signed_json(Method::POST, "/api/v1/incidents", Some(&body), ACCEPT_JSON)
            .await
    }

    /// Sends a report version (`POST /api/v1/incidents/{id}/reports`); `report` carries
    /// `base_version` and the report fields.
    pub async fn send_report(&self, incident_id: &str, report: &Value) -> Result<Value> {
        let path = format!("/api/v1/incidents/{}/reports", path_segment(incident_id));
        self.signed_json(Method::POST, &path, Some(report), ACCEPT_JSON)
            .await
    }

    /// Asks hospitals (`POST /api/v1/incidents/{id}/inquiries`, 受入照会).
    pub async fn inquire(&self, incident_id: &str, hospitals: &[&str]) -> Result<Value> {
        let path = format!("/api/v1/incidents/{}/inquiries", path_segment(incident_id));
        let body = json!({ "hospitals": hospitals });
        self.signed_json(Method::POST, &path, Some(&body), ACCEPT_JSON)
            .await
    }

    /// Reads the incident (`GET /api/v1/incidents/{id}`), JSON or FHIR (`accept`).
    pub async fn incident(&self, incident_id: &str, accept: &str) -> Result<Value> {
        let path = format!("/api/v1/incidents/{}", path_segment(incident_id));
        self.signed_json(Method::GET, &path, None, accept).await
    }

    /// Sets (or changes) the destination hospital (`POST /api/v1/incidents/{id}/destination`).
    pub async fn set_destination(&self, incident_id: &str, hospital_id: &str) -> Result<Value> {
        let path = format!(
            "/api/v1/incidents/{}/destination",
            path_segment(incident_id)
        );
        let body = json!({ "hospital_id": hospital_id });
        self.signed_json(Method::POST, &path, Some(&body), ACCEPT_JSON)
            .await
    }

    /// Arrived at the destination: closes the incident (`POST /api/v1/incidents/{id}/arrival`).
    pub async fn arrive(&self, incident_id: &str) -> Result<Value> {
        let path = format!("/api/v1/incidents/{}/arrival", path_segment(incident_id));
        self.signed_json(Method::POST, &path, None, ACCEPT_JSON)
            .await
    }

    /// The municipality's active hospitals (`GET /api/v1/hospitals`): the ids an inquiry or a
    /// destination takes.
    pub async fn hospitals(&self) -> Result<Value> {
        self.signed_json(Method::GET, "/api/v1/hospitals", None, ACCEPT_JSON)
            .await
    }

    /// Ends the session (`DELETE /api/v1/sessions/current`) and forgets its token.
    pub async fn logout(&mut self) -> Result<()> {
        self.signed_json(
            Method::DELETE,
            "/api/v1/sessions/current",
            None,
            ACCEPT_JSON,
        )
        .await?;
        self.session = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::httpsig::{covered_components, signature_base, verify_base};
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    fn client() -> Client {
        Client::new("http://127.0.0.1:8080/", DeviceKey::generate().unwrap())
            .unwrap()
            .with_clock(|| 1_795_219_200)
            .with_device_id("0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    }

    /// What the server does: rebuild the base from the request as received, check the signature.
    fn server_side_verify(c: &Client, req: &PreparedRequest) -> bool {
        let input = req.header("signature-input").unwrap();
        let params = input.strip_prefix("kyukit=").unwrap();
        let components = covered_components(
            req.method.as_str(),
            &req.url,
            req.header("authorization"),
            req.header("content-digest"),
        )
        .unwrap();
        let base = signature_base(&components, params);
        assert_eq!(base, req.signature_base);
        if let (Some(body), Some(d)) = (&req.body, req.header("content-digest")) {
            assert_eq!(crate::httpsig::content_digest(body), d);
        }
        let sig = req
            .header("signature")
            .unwrap()
            .strip_prefix("kyukit=:")
            .and_then(|s| s.strip_suffix(':'))
            .unwrap();
        verify_base(
            c.key().verifying_key(),
            &base,
            &STANDARD.decode(sig).unwrap(),
        )
    }

    #[test]
    fn login_request_is_signed_without_authorization() {
        let c = client().with_session("old-token");
        let body = json!({"login_id": "p1", "password": "pw"});
        let req = c
            .prepare_signed_with(
                Method::POST,
                "/api/v1/sessions",
                Some(&body),
                Some(ACCEPT_JSON),
                None,
            )
            .unwrap();
        assert_eq!(req.url.as_str(), "http://127.0.0.1:8080/api/v1/sessions");
        assert_eq!(req.header("host"), Some("127.0.0.1:8080"));
        assert_eq!(req.header("authorization"), None);
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert!(req.signature_base.starts_with(
            "\"@method\": POST\n\"@authority\": 127.0.0.1:8080\n\"@path\": /api/v1/sessions\n\"content-digest\": sha-256=:"
        ));
        assert!(
            req.header("signature-input")
                .unwrap()
                .starts_with("kyukit=(\"@method\" \"@authority\" \"@path\" \"content-digest\");created=1795219200;nonce=\"")
        );
        assert!(
            req.header("signature-input")
                .unwrap()
                .ends_with(";keyid=\"0f1e2d3c4b5a69788796a5b4c3d2e1f0\";alg=\"ecdsa-p256-sha256\"")
        );
        assert!(server_side_verify(&c, &req));
    }

    #[test]
    fn session_requests_cover_authorization_and_fresh_nonces() {
        let c = client().with_session("tok123");
        let body = json!({"card": "https://x/c/1", "incident_ref": "R-1"});
        let a = c
            .prepare_signed(
                Method::POST,
                "/api/v1/scans",
                Some(&body),
                Some(ACCEPT_FHIR),
            )
            .unwrap();
        let b = c
            .prepare_signed(
                Method::POST,
                "/api/v1/scans",
                Some(&body),
                Some(ACCEPT_FHIR),
            )
            .unwrap();
        assert_eq!(a.header("authorization"), Some("Bearer tok123"));
        assert_eq!(a.header("accept"), Some("application/fhir+json"));
        assert!(
            a.signature_base
                .contains("\n\"authorization\": Bearer tok123\n")
        );
        assert_ne!(a.header("signature-input"), b.header("signature-input"));
        assert!(server_side_verify(&c, &a));
        assert!(server_side_verify(&c, &b));
        // Tampering with the body after signing is visible to the server.
        let mut forged = a.clone();
        forged.body = Some(br#"{"card":"https://x/c/2","incident_ref":"R-1"}"#.to_vec());
        assert_ne!(
            crate::httpsig::content_digest(forged.body.as_deref().unwrap()),
            forged.header("content-digest").unwrap()
        );
        // Debug never shows the token.
        assert!(!format!("{a:?}").contains("tok123"));
        assert!(!format!("{c:?}").contains("tok123"));
    }

    #[test]
    fn get_with_query_and_delete_have_no_body() {
        let c = client().with_session("t");
        let g = c
            .prepare_signed(Method::GET, "/api/v1/accesses/abc?lang=en", None, None)
            .unwrap();
        assert!(g.signature_base.contains("\n\"@query\": ?lang=en\n"));
        assert_eq!(g.header("content-digest"), None);
        assert_eq!(g.header("content-type"), None);
        assert!(g.body.is_none());
        assert!(server_side_verify(&c, &g));
        let d = c
            .prepare_signed(Method::DELETE, "/api/v1/sessions/current", None, None)
            .unwrap();
        assert!(d.signature_base.starts_with("\"@method\": DELETE\n"));
        assert!(
            d.header("signature-input")
                .unwrap()
                .starts_with("kyukit=(\"@method\" \"@authority\" \"@path\" \"authorization\");")
        );
        assert!(server_side_verify(&c, &d));
    }

    #[test]
    fn base_url_with_prefix_and_default_port() {
        let c = Client::new(
            "http://Example.org:80/kyukit/",
            DeviceKey::generate().unwrap(),
        )
        .unwrap()
        .with_device_id("d");
        let r = c
            .prepare_signed(Method::GET, "/api/v1/accesses/x", None, None)
            .unwrap();
        assert_eq!(
            r.url.as_str(),
            "http://example.org/kyukit/api/v1/accesses/x"
        );
        assert_eq!(r.header("host"), Some("example.org"));
        assert!(
            r.signature_base
                .contains("\"@authority\": example.org\n\"@path\": /kyukit/api/v1/accesses/x\n")
        );
        for bad in ["ftp://x/", "http://x/?a=1", "http://u:p@x/", "not a url"] {
            assert!(Client::new(bad, c.key().clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn unenrolled_or_logged_out_clients_refuse_locally() {
        let c = Client::new("http://127.0.0.1:1", DeviceKey::generate().unwrap()).unwrap();
        assert!(matches!(
            c.prepare_signed(Method::GET, "/x", None, None),
            Err(Error::NotEnrolled)
        ));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let c = c.with_device_id("d");
        assert!(matches!(
            rt.block_on(c.scan("https://x/c/1", "R")),
            Err(Error::NoSession)
        ));
    }

    #[test]
    fn access_id_is_one_path_segment() {
        assert_eq!(path_segment("0123abcdef"), "0123abcdef");
        assert_eq!(path_segment("../x?y"), "..%2Fx%3Fy");
    }

    #[test]
    fn error_bodies() {
        match http_error(
            401,
            br#"{"error":"replayed_request","message":"seen before"}"#,
        ) {
            Error::Http {
                status,
                error,
                message,
            } => {
                assert_eq!((status, error.as_str()), (401, "replayed_request"));
                assert_eq!(message, "seen before");
            }
            other => panic!("{other:?}"),
        }
        let e = http_error(502, b"<html>Bad\n gateway</html>");
        assert_eq!(e.code(), "http_502");
        assert_eq!(e.message(), "<html>Bad gateway</html>");
        assert!(e.is_refusal());
    }
}
