// The paramedic PWA: enrol the device (WebCrypto P-256, non-extractable key in IndexedDB), log
// in (signed, with TOTP), read a card (camera QR, Web NFC, the card URL the phone's camera opened,
// or typed), verify it offline against the cached issuer keys and revocation lists, show the
// triage core, fetch the consented dataset online, write the pre-arrival report, ask hospitals and
// follow their answers live (the crew feed, signed, read with fetch streaming).

import { b64url, CardError, cardBytesFrom, cardBytesFromNdef, checkRevocation, importJwks, verifyCard } from "./card.js";
import { generateDeviceKey, publicJwk, signRequest } from "./httpsig.js";
import { bloodText, deviceWord, itemText, medMarks, sexWord } from "./dataset.js";
import { closeHousehold, householdDigits, openHousehold, repaintHousehold } from "./household.js";
import { fmtTime, getLang, initLang, t } from "./i18n.js";
import { net, NetworkError, OFFLINE_COPY } from "./net.js";
import { startScanner } from "./scanner.js";
import * as store from "./store.js";

const $ = (id) => document.getElementById(id);
const TOKEN = "kyukit.field.token";
const LOGIN = "kyukit.field.login";

const S = {
  device: null, // {id, facilityId, label, keyPair}
  token: sessionStorage.getItem(TOKEN),
  loginId: sessionStorage.getItem(LOGIN),
  skew: 0, // server clock − ours, seconds
  verdict: null, // {kind, card?, code?, checked?}
  disclosure: null,
  disclosureError: null,
  // Why the dataset is no longer shown (issue 19): the incident's `dataset.status`, or `expired`
  // once the scan's grant ends. Cleared by the next card.
  datasetGone: null,
  photo: null, // {accessId, url? , error?}: the photo for identity check of this disclosure
  incident: null,
  hospitals: [],
  feed: { running: false, lastEventId: null, abort: null },
  scanner: null,
  datasetPending: false,
};

// ---- small DOM helpers ---------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) el.append(c);
  return el;
}

function show(id, on = true) {
  $(id).hidden = !on;
}

// The message line; given a function, it is worded again when the language changes.
let lastMessage = null;
function message(text, kind = "error") {
  lastMessage = typeof text === "function" ? { text, kind } : null;
  const m = $("msg");
  const s = typeof text === "function" ? text() : text;
  m.textContent = s || "";
  m.className = `msg ${kind}`;
  m.hidden = !s;
}

function rewordMessage() {
  if (lastMessage) message(lastMessage.text, lastMessage.kind);
}

// ---- the API -------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, text) {
    super(text || code);
    this.status = status;
    this.code = code;
  }
}

function noteClock(r) {
  const d = Date.parse(r.headers.get("date") || "");
  if (!Number.isNaN(d)) {
    const skew = Math.round((d - Date.now()) / 1000);
    S.skew = Math.abs(skew) > 5 ? skew : 0;
  }
}

/** A request signed by this device (RFC 9421), with the session when there is one. */
async function signedFetch(method, path, body, opts = {}, retried = false) {
  const url = new URL(path, location.origin);
  const text = body === undefined ? null : JSON.stringify(body);
  const authorization = S.token ? `Bearer ${S.token}` : null;
  const { headers } = await signRequest({
    method,
    url,
    body: text,
    authorization,
    privateKey: S.device.keyPair.privateKey,
    keyid: S.device.id,
    created: Math.floor(Date.now() / 1000) + S.skew,
  });
  if (authorization) headers.Authorization = authorization;
  if (text) headers["Content-Type"] = "application/json";
  const r = await net.fetch(url, { method, headers: { ...headers, ...(opts.headers || {}) }, body: text, cache: "no-store", signal: opts.signal });
  noteClock(r);
  if (r.status === 401 && !retried && r.headers.get("content-type")?.includes("json")) {
    const err = await r.clone().json();
    if (err.error === "signature_expired") return signedFetch(method, path, body, opts, true);
  }
  return r;
}

async function json(r) {
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, body.error || `http_${r.status}`, body.message);
  return body;
}

const signed = async (method, path, body) => json(await signedFetch(method, path, body));

function onAuthError(e) {
  if (e instanceof ApiError && e.status === 401 && ["unauthorized", "session_not_bound"].includes(e.code)) {
    logout(false);
  }
  if (e instanceof ApiError && ["device_revoked", "device_unknown"].includes(e.code)) {
    message(() => `${t("common.error")}: ${e.message}`);
  }
}

const why = (e) => (e instanceof ApiError ? `${e.message} (${e.code})` : e instanceof NetworkError ? t("common.network") : String(e.message || e));

// ---- keys for offline verification ---------------------------------------------------------------

async function refreshKeys() {
  if ((await net.settled()) !== "online") return;
  // The service worker answers these from its cache when the network fails: such a copy is not
  // fresh and must not be stored as if fetched now.
  const fresh = (r) => r.ok && !r.headers.has(OFFLINE_COPY);
  try {
    const r = await net.fetch("/.well-known/jwks.json", { cache: "no-store" });
    if (!fresh(r)) return;
    const jwks = await r.json();
    const lists = {};
    for (const k of jwks.keys || []) {
      const lr = await net.fetch(`/api/v1/revocations/${encodeURIComponent(k.kid)}`, { cache: "no-store" });
      if (!fresh(lr)) return;
      lists[k.kid] = await lr.json();
    }
    const at = Math.floor(Date.now() / 1000);
    await store.put("jwks", { jwks, fetchedAt: at });
    await store.put("revocations", { lists, fetchedAt: at });
  } catch {
    /* offline or server away: keep what is cached */
  }
}

// ---- enrolment and login -------------------------------------------------------------------------

async function enroll(ev) {
  ev.preventDefault();
  const f = ev.target;
  if (net.state() === "offline") return message(() => t("enroll.needOnline"));
  try {
    const keyPair = await generateDeviceKey();
    const label = f.label.value.trim() || null;
    const r = await net.fetch("/api/v1/devices", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code: f.code.value.trim(), public_key: await publicJwk(keyPair), label }),
    });
    const d = await json(r);
    S.device = { id: d.device_id, facilityId: d.facility_id, label: d.label, keyPair };
    await store.put("device", S.device);
    f.reset();
    message(() => t("enroll.done"), "ok");
    await refreshKeys();
    render();
  } catch (e) {
    message(() => `${t("common.error")}: ${why(e)}`);
  }
}

async function login(ev) {
  ev.preventDefault();
  const f = ev.target;
  try {
    const loginId = f.login_id.value.trim();
    const r = await signed("POST", "/api/v1/sessions", {
      login_id: loginId,
      password: f.password.value,
      totp: f.totp.value.trim(),
    });
    S.token = r.token;
    S.loginId = loginId;
    sessionStorage.setItem(TOKEN, r.token);
    sessionStorage.setItem(LOGIN, loginId);
    f.reset();
    message("");
    render();
    startFeed();
    if (S.verdict?.kind === "genuine") fetchDataset();
  } catch (e) {
    message(() => t("login.failed", { why: why(e) }));
    onAuthError(e);
  }
}

async function logout(callServer = true) {
  if (callServer && S.token) {
    net.fetch("/api/v1/sessions/current", { method: "DELETE", headers: { Authorization: `Bearer ${S.token}` } }).catch(() => {});
  }
  S.token = null;
  S.loginId = null;
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(LOGIN);
  S.feed.abort?.abort();
  S.disclosure = null;
  dropPhoto();
  render();
}

async function forget() {
  if (!confirm(t("device.forgetConfirm"))) return;
  await logout();
  await store.del("device");
  S.device = null;
  render();
}

// ---- reading a card ------------------------------------------------------------------------------

function incidentRef() {
  const el = $("incident-ref");
  if (!el.value.trim()) {
    const d = new Date(Date.now() + 9 * 3600 * 1000); // JST
    el.value = `${d.toISOString().slice(0, 16).replace(/[-:T]/g, "")}`;
  }
  return el.value.trim();
}

async function readCard(input, source) {
  stopCamera();
  closeHousehold();
  const household = typeof input === "string" ? householdDigits(input) : null;
  if (household) return readHousehold(household);
  S.disclosure = null;
  S.disclosureError = null;
  S.datasetGone = null;
  dropPhoto();
  S.incident = null;
  show("report", false);
  show("hospitals", false);
  let bytes;
  try {
    bytes = input instanceof Uint8Array ? input : cardBytesFrom(input);
  } catch (e) {
    S.verdict = { kind: "not_card", code: e.code };
    return renderVerdict(true);
  }
  S.verdict = await verifyOffline(bytes);
  if (S.verdict.kind === "unknown_kid_refresh") {
    await refreshKeys(); // a key newer than our copy?
    S.verdict = await verifyOffline(bytes);
    if (S.verdict.kind === "unknown_kid_refresh") S.verdict = { kind: "not_genuine", code: "unknown_kid" };
  }
  S.verdict.bytes = bytes;
  S.verdict.source = source;
  renderVerdict(true);
  if (S.verdict.kind === "genuine") fetchDataset();
}

// A household sticker (household.js): its members; picking one reads that member's card.
function readHousehold(digits) {
  S.verdict = null;
  renderVerdict();
  const env = { signed: signedFetch, jwks: () => store.get("jwks"), loggedIn: () => Boolean(S.token && S.device), online: () => net.state() === "online", incidentRef, pick: (card) => readCard(card, "household") };
  return openHousehold(digits, env);
}

async function verifyOffline(bytes) {
  const rec = await store.get("jwks");
  if (!rec) return { kind: "no_keys" };
  let card;
  try {
    const keys = await importJwks(rec.jwks);
    card = await verifyCard(bytes, keys, Math.floor(Date.now() / 1000) + S.skew);
  } catch (e) {
    const code = e instanceof CardError ? e.code : "malformed";
    if (code === "expired") return { kind: "expired", code };
    if (code === "unknown_kid" && net.state() !== "offline") return { kind: "unknown_kid_refresh" };
    return { kind: "not_genuine", code };
  }
  const lists = await store.get("revocations");
  try {
    const r = checkRevocation(card, lists?.lists?.[card.kid]);
    return { kind: "genuine", card, checked: r.checked, fetchedAt: Math.min(rec.fetchedAt, lists?.fetchedAt ?? rec.fetchedAt) };
  } catch (e) {
    return { kind: e.code === "revoked" ? "revoked" : "not_genuine", code: e.code, card };
  }
}

// Asked once the server is known to answer; if it is not, onNet asks again when it does. One scan
// at a time: each is a disclosure the resident sees in their access history.
async function fetchDataset() {
  const v = S.verdict;
  if (!v || v.kind !== "genuine" || !S.token || !S.device) return renderDataset();
  if (net.state() !== "online" || S.datasetPending) return renderDataset();
  S.datasetPending = true;
  $("dataset").replaceChildren(h("p", { class: "muted", text: t("dataset.fetching") }));
  try {
    S.disclosure = await signed("POST", "/api/v1/scans", { card: b64url(v.bytes), incident_ref: incidentRef() });
    S.disclosureError = null;
    if (S.disclosure.photo) fetchPhoto(S.disclosure.access_id);
  } catch (e) {
    S.disclosure = null;
    // Unreachable: the offline note shows, and the scan is sent again when the server answers.
    S.disclosureError = e instanceof NetworkError ? null : e;
    onAuthError(e);
  } finally {
    S.datasetPending = false;
  }
  renderTriage();
  renderDataset();
}

// The photo for identity check (issue 19): offered only after a scan with `photo` consented; read
// with a signed request within the grant, kept in memory as a blob URL, dropped with the result.
async function fetchPhoto(accessId) {
  dropPhoto();
  S.photo = { accessId, pending: true };
  try {
    const r = await signedFetch("GET", `/api/v1/accesses/${accessId}/photo`);
    if (!r.ok) {
      const body = await r.json().catch(() => ({}));
      throw new ApiError(r.status, body.error || `http_${r.status}`, body.message);
    }
    const blob = await r.blob();
    if (S.photo?.accessId !== accessId) return; // another card was read meanwhile
    S.photo = { accessId, url: URL.createObjectURL(blob) };
  } catch (e) {
    if (S.photo?.accessId !== accessId) return;
    S.photo = { accessId, error: e };
  }
  renderDataset();
}

function dropPhoto() {
  if (S.photo?.url) URL.revokeObjectURL(S.photo.url);
  S.photo = null;
}

function photoBlock(d) {
  if (!d.categories.includes("photo")) return null;
  const body = [h("h3", { text: t("photo.title") })];
  const ph = S.photo?.accessId === d.access_id ? S.photo : null;
  if (!d.photo) body.push(h("p", { class: "muted", text: t("photo.none") }));
  else if (ph?.url) {
    body.push(h("img", { id: "identity-photo", src: ph.url, alt: t("photo.alt"), translate: "no" }));
    body.push(h("p", { class: "photo-note", text: t("photo.note") }));
  } else if (ph?.error) body.push(h("p", { class: "error", text: t("photo.error", { why: why(ph.error) }) }));
  else body.push(h("p", { class: "muted", text: t("common.loading") }));
  return h("div", { class: "photo-check", id: "photo-check" }, ...body);
}

async function startCamera() {
  message("");
  try {
    show("camera");
    S.scanner = await startScanner($("video"));
    $("decoder").textContent = t("scan.decoder", { name: S.scanner.decoderName });
    $("camera").dataset.decoder = S.scanner.decoderName;
    const text = await S.scanner.result;
    if (text) await readCard(text, "camera");
  } catch (e) {
    stopCamera();
    message(() => t("scan.cameraFailed", { why: e.message || e.name }));
  }
}

function stopCamera() {
  S.scanner?.stop();
  S.scanner = null;
  show("camera", false);
}

async function startNfc() {
  try {
    const reader = new globalThis.NDEFReader();
    await reader.scan();
    show("nfc-wait");
    reader.onreading = (e) => {
      show("nfc-wait", false);
      let bytes;
      try {
        bytes = cardBytesFromNdef(e.message.records);
      } catch (err) {
        S.verdict = { kind: "not_card", code: err.code };
        return renderVerdict(true);
      }
      readCard(bytes, "nfc");
    };
  } catch (e) {
    message(() => t("scan.nfcFailed", { why: e.message || e.name }));
  }
}

// ---- the report ----------------------------------------------------------------------------------

const ACTIVATIONS = ["stroke", "stemi", "trauma", "cardiac_arrest", "sepsis", "obstetric", "paediatric", "general"];
const VITALS = [
  ["systolic_bp", "numeric"],
  ["diastolic_bp", "numeric"],
  ["heart_rate", "numeric"],
  ["respiratory_rate", "numeric"],
  ["spo2", "numeric"],
  ["temperature", "decimal"],
  ["glucose", "numeric"],
];
const JCS = ["0", "I-1", "I-2", "I-3", "II-10", "II-20", "II-30", "III-100", "III-200", "III-300"];

function choice(type, name, value, labelKey, labelText) {
  const id = `${name}-${value}`.replace(/[^A-Za-z0-9_-]/g, "_");
  return h(
    "label",
    { class: "choice", for: id },
    h("input", { type, name, value, id }),
    h("span", labelKey ? { "data-i18n": labelKey, text: t(labelKey) } : { text: labelText }),
  );
}

function buildReportForm() {
  const act = $("activation");
  for (const a of ACTIVATIONS) act.append(choice("radio", "activation", a, `act.${a}`));
  act.querySelector("input").required = true;
  const vit = $("vitals");
  for (const [name, mode] of VITALS) {
    vit.append(
      h(
        "label",
        {},
        h("span", { "data-i18n": `vital.${name}`, text: t(`vital.${name}`) }),
        h("input", { name, type: "text", inputmode: mode, pattern: mode === "decimal" ? "[0-9]+([.,][0-9])?" : "[0-9]*", maxlength: "5", autocomplete: "off" }),
      ),
    );
  }
  const jcs = $("jcs");
  for (const level of JCS) jcs.append(choice("radio", "jcs", level, null, level));
  const suf = $("jcs-suffixes");
  for (const s of ["R", "I", "A"]) suf.append(choice("checkbox", "jcs_suffix", s, `jcs.${s}`));
  const gcs = $("gcs");
  for (const [part, max] of [["e", 4], ["v", 5], ["m", 6]]) {
    const row = h("div", { class: "choices small gcs-row", role: "radiogroup", "aria-labelledby": `gcs-${part}-l` });
    row.append(h("span", { id: `gcs-${part}-l`, class: "gcs-label", "data-i18n": `gcs.${part}`, text: t(`gcs.${part}`) }));
    for (let n = 1; n <= max; n++) row.append(choice("radio", `gcs_${part}`, String(n), null, String(n)));
    gcs.append(row);
  }
  gcs.append(h("p", { id: "gcs-total", class: "muted", "aria-live": "polite" }));
  gcs.addEventListener("change", gcsTotal);
}

function gcsTotal() {
  const f = $("report-form");
  const parts = ["e", "v", "m"].map((p) => f.querySelector(`input[name=gcs_${p}]:checked`)?.value);
  $("gcs-total").textContent = parts.every(Boolean) ? t("gcs.total", { n: parts.reduce((a, b) => a + Number(b), 0) }) : "";
}

/** Notes drafted from what is known: the consented dataset, or the card's triage core. */
function draftNotes() {
  const lines = [];
  const d = S.disclosure;
  if (d) {
    for (const it of d.items) {
      const b = it.body;
      switch (it.category) {
        case "medications":
          lines.push(`${t("cat.medications")}: ${[b.name, b.dose, medMarks(b)].filter(Boolean).join(" ")}`);
          break;
        case "allergies":
          lines.push(`${t("cat.allergies")}: ${b.substance}${b.reaction ? ` (${b.reaction})` : ""}`);
          break;
        case "conditions":
          lines.push(`${t("cat.conditions")}: ${b.name}${b.icd10 ? ` [${b.icd10}]` : ""}`);
          break;
        case "devices":
          lines.push(`${t("cat.devices")}: ${deviceWord(b.kind)}${b.description ? ` ${b.description}` : ""}`);
          break;
        case "blood_type":
          lines.push(`${t("cat.blood_type")}: ${bloodText(b)}`);
          break;
        case "advance_directive":
          lines.push(`${t("cat.advance_directive")}: ${t(`ad.${b.status}`)}`);
          break;
        default:
          break;
      }
    }
  } else if (S.verdict?.card?.triage) {
    const tr = S.verdict.card.triage;
    lines.push(`${t("triage.blood")}: ${tr.bloodType}`);
    for (const f of tr.flags) lines.push(flagText(f));
  }
  return lines.join("\n");
}

async function startReport() {
  try {
    S.incident = await signed("POST", "/api/v1/incidents", {
      incident_ref: incidentRef(),
      access_id: S.disclosure?.access_id ?? null,
    });
  } catch (e) {
    onAuthError(e);
    return message(() => `${t("common.error")}: ${why(e)}`);
  }
  const f = $("report-form");
  f.reset();
  f.notes.value = draftNotes();
  gcsTotal();
  renderRecorded();
  renderPatientLine();
  show("report");
  show("hospitals", false);
  $("report").scrollIntoView();
  f.chief_complaint.focus();
}

function num(v, decimal = false) {
  const s = String(v || "").trim().replace(",", ".");
  if (!s) return undefined;
  const n = decimal ? Number.parseFloat(s) : Number.parseInt(s, 10);
  return Number.isFinite(n) ? n : undefined;
}

function readVitals(f) {
  const vitals = {};
  for (const [name, mode] of VITALS) {
    const v = num(f[name].value, mode === "decimal");
    if (v !== undefined) vitals[name] = v;
  }
  return vitals;
}

// The report is a patch (docs/api.md): observation fields are new entries (cleared once saved, the
// server stamps their time); the rest is sent only when it differs from the saved version.
function clearEntries(f) {
  for (const [name] of VITALS) f[name].value = "";
  for (const x of f.querySelectorAll("input[name=jcs], input[name=jcs_suffix], #gcs input")) x.checked = false;
  f.eta_minutes.value = "";
  gcsTotal();
}

const hm = (unix) => fmtTime(unix, { timeStyle: "short" });

// One reading as a line: "21:33  血圧 92/60 · 脈拍 112 · SpO₂ 93" (the short labels of the board).
function readingText(v) {
  const parts = [];
  if (v.systolic_bp != null || v.diastolic_bp != null) parts.push(`${t("ed.k.bp")} ${v.systolic_bp ?? "—"}/${v.diastolic_bp ?? "—"}`);
  for (const n of ["heart_rate", "respiratory_rate", "spo2", "temperature", "glucose"]) if (v[n] != null) parts.push(`${t(`ed.k.${n}`)} ${v[n]}`);
  return `${hm(v.taken_at)}  ${parts.join(" · ")}`;
}

function renderRecorded() {
  const r = S.incident?.report;
  const list = $("vitals-recorded");
  list.replaceChildren(...(r?.vitals_series || []).map((v) => h("li", { "data-taken-at": v.taken_at, text: readingText(v) })));
  const neuro = [r?.jcs && `JCS ${r.jcs.display} (${hm(r.jcs.assessed_at)})`, r?.gcs && `GCS E${r.gcs.e}V${r.gcs.v}M${r.gcs.m} = ${r.gcs.total} (${hm(r.gcs.assessed_at)})`].filter(Boolean);
  $("neuro-recorded").textContent = neuro.length ? t("report.neuroNow", { items: neuro.join(" / ") }) : "";
  $("eta-current").textContent = r?.eta_at ? t("report.etaNow", { time: hm(r.eta_at) }) : "";
  $("add-reading").hidden = !r;
}

async function patchReport(body) {
  S.incident = await signed("POST", `/api/v1/incidents/${S.incident.id}/reports`, { base_version: S.incident.version, ...body });
  clearEntries($("report-form"));
  renderRecorded();
}

// JCS and GCS as chosen on the form (a new assessment each, stamped by the server), or nothing.
function readNeuro(f) {
  const out = {};
  const jcs = f.querySelector("input[name=jcs]:checked")?.value;
  if (jcs) {
    out.jcs = jcs;
    if (jcs !== "0") out.jcs_suffixes = [...f.querySelectorAll("input[name=jcs_suffix]:checked")].map((x) => x.value);
  }
  const g = ["e", "v", "m"].map((p) => f.querySelector(`input[name=gcs_${p}]:checked`)?.value);
  if (g.every(Boolean)) out.gcs = { e: Number(g[0]), v: Number(g[1]), m: Number(g[2]) };
  return out;
}

// One tap: the values typed in the vitals grid (and a JCS/GCS chosen) become a reading stamped
// now by the server; only they are sent (the report is a patch).
async function addReading() {
  const f = $("report-form");
  const vitals = readVitals(f);
  const neuro = readNeuro(f);
  if (!S.incident?.report) return message(() => t("report.needFirst"));
  if (!Object.keys(vitals).length && !Object.keys(neuro).length) return message(() => t("report.noReading"));
  const body = { ...neuro };
  if (Object.keys(vitals).length) body.vitals = vitals;
  try {
    await patchReport(body);
    const r = S.incident.report;
    const at = body.vitals ? r.vitals.taken_at : (body.jcs ? r.jcs : r.gcs).assessed_at;
    message(() => t("report.readingSaved", { time: hm(at) }), "ok");
  } catch (e) {
    onAuthError(e);
    message(() => t("report.failed", { why: why(e) }));
  }
}

async function sendReport(ev) {
  ev.preventDefault();
  const f = ev.target;
  const prev = S.incident.report;
  const body = {};
  const complaint = f.chief_complaint.value.trim();
  if (!prev || complaint !== prev.chief_complaint) body.chief_complaint = complaint;
  const activation = f.querySelector("input[name=activation]:checked")?.value || "general";
  if (!prev || activation !== prev.activation) body.activation = activation;
  const vitals = readVitals(f);
  if (Object.keys(vitals).length) body.vitals = vitals;
  Object.assign(body, readNeuro(f));
  const eta = num(f.eta_minutes.value);
  if (eta !== undefined) body.eta_minutes = eta;
  // The server keeps notes on one line (no control characters): lines become " / ".
  const notes = f.notes.value
    .split(/\r?\n/)
    .map((l) => l.replace(/[\u0000-\u001f\u007f]/g, " ").trim())
    .filter(Boolean)
    .join(" / ");
  if (notes !== (prev?.notes || "")) body.notes = notes || null;
  try {
    if (prev && !Object.keys(body).length) message(() => t("report.unchanged", { n: S.incident.version }), "ok");
    else {
      await patchReport(body);
      message(() => t("report.saved", { n: S.incident.version }), "ok");
    }
    await loadHospitals();
    renderIncident();
    show("hospitals");
    $("hospitals").scrollIntoView();
  } catch (e) {
    onAuthError(e);
    message(() => t("report.failed", { why: why(e) }));
  }
}

async function loadHospitals() {
  try {
    S.hospitals = (await signed("GET", "/api/v1/hospitals")).hospitals;
  } catch (e) {
    onAuthError(e);
    message(() => `${t("common.error")}: ${why(e)}`);
  }
  renderHospitals();
}

async function ask() {
  const ids = [...document.querySelectorAll("input[name=hospital]:checked")].map((x) => x.value);
  if (!ids.length) return message(() => t("hosp.pickOne"));
  try {
    S.incident = await signed("POST", `/api/v1/incidents/${S.incident.id}/inquiries`, { hospitals: ids });
    message(() => t("hosp.asked"), "ok");
    renderIncident();
  } catch (e) {
    onAuthError(e);
    message(() => `${t("common.error")}: ${why(e)}`);
  }
}

async function arrive() {
  try {
    S.incident = await signed("POST", `/api/v1/incidents/${S.incident.id}/arrival`);
    message(() => t("inc.closed"), "ok");
    renderIncident();
  } catch (e) {
    message(() => `${t("common.error")}: ${why(e)}`);
  }
}

// One refresh at a time, and one more after it if events came meanwhile: answers arriving out of
// order must never leave an older state on screen.
const refreshing = { running: false, again: false };
async function refreshIncident() {
  if (!S.incident) return;
  if (refreshing.running) {
    refreshing.again = true;
    return;
  }
  refreshing.running = true;
  try {
    do {
      refreshing.again = false;
      try {
        S.incident = await signed("GET", `/api/v1/incidents/${S.incident.id}`);
        renderIncident();
      } catch (e) {
        onAuthError(e);
      }
    } while (refreshing.again && S.incident);
  } finally {
    refreshing.running = false;
  }
}

// ---- the crew feed (SSE over fetch: signed requests cannot use EventSource) ----------------------

async function startFeed() {
  if (S.feed.running || !S.token || !S.device) return;
  S.feed.running = true;
  renderNet();
  while (S.token && S.device) {
    const ctl = new AbortController();
    S.feed.abort = ctl;
    try {
      const headers = S.feed.lastEventId ? { "Last-Event-ID": S.feed.lastEventId } : {};
      const r = await signedFetch("GET", "/api/v1/crew/feed", undefined, { headers, signal: ctl.signal });
      if (r.status === 401 || r.status === 403) {
        await json(r).catch(onAuthError);
        break;
      }
      if (!r.ok || !r.body) throw new Error(`feed ${r.status}`);
      S.feed.live = true;
      renderNet();
      await readEvents(r.body, onFeedEvent);
    } catch {
      /* dropped: reconnect below */
    }
    S.feed.live = false;
    renderNet();
    if (!S.token) break;
    await new Promise((res) => setTimeout(res, 2000));
  }
  S.feed.running = false;
  S.feed.live = false;
  renderNet();
}

/** Reads a text/event-stream body, calling `on({id, event, data})` per event. */
async function readEvents(body, on) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let at;
    while ((at = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, at);
      buf = buf.slice(at + 2);
      const ev = { id: null, event: "message", data: "" };
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const [k, ...rest] = line.split(":");
        const v = rest.join(":").replace(/^ /, "");
        if (k === "id") ev.id = v;
        else if (k === "event") ev.event = v;
        else if (k === "data") ev.data += v;
      }
      if (ev.id || ev.data) on(ev);
    }
  }
}

function onFeedEvent(ev) {
  if (ev.id) S.feed.lastEventId = ev.id;
  if (ev.event === "session_ended") return logout(false);
  if (ev.event === "reset") {
    // The feed restarted below our Last-Event-ID (a restore, or another deployment): resume from
    // its head and reload the open incident, whatever it missed.
    S.feed.lastEventId = ev.id || null;
    if (S.incident) refreshIncident();
    return;
  }
  let data = {};
  try {
    data = JSON.parse(ev.data);
  } catch {
    return;
  }
  if (S.incident && data.incident_id === S.incident.id) refreshIncident();
}

// ---- rendering -----------------------------------------------------------------------------------

function renderNet() {
  const state = net.state();
  const el = $("net");
  el.dataset.net = state;
  el.textContent = state === "online" && S.feed.live ? `${t("net.online")} · ${t("net.feed")}` : t(`net.${state}`);
  el.className = `net ${{ online: "on", offline: "off" }[state] || "checking"}`;
}

function renderVerdict(focus = false) {
  const v = S.verdict;
  if (!v) return show("result", false);
  show("result");
  const box = $("verdict");
  const kinds = {
    genuine: ["ok", "verdict.genuine"],
    not_genuine: ["bad", "verdict.notGenuine"],
    expired: ["bad", "verdict.expired"],
    revoked: ["bad", "verdict.revoked"],
    not_card: ["bad", "verdict.notCard"],
    no_keys: ["warn", "verdict.noKeys"],
  };
  const [cls, key] = kinds[v.kind] || kinds.not_genuine;
  box.className = `verdict ${cls}`;
  box.dataset.verdict = v.kind;
  const lines = [h("strong", { class: "verdict-head", text: `${cls === "ok" ? "✔" : "✖"} ${t(key)}` })];
  if (v.code && v.kind === "not_genuine") lines.push(h("span", { text: t(`err.${v.code}`) }));
  if (v.card && v.kind === "genuine") {
    lines.push(h("span", { text: t("verdict.expires", { date: fmtTime(v.card.exp, { dateStyle: "medium" }) }) }));
    lines.push(h("span", { class: "muted", text: v.checked ? t("verdict.offlineChecked", { when: fmtTime(v.fetchedAt) }) : t("verdict.revocationUnknown") }));
  }
  box.replaceChildren(...lines.map((l) => h("p", {}, l)));
  if (focus) box.focus();
  renderTriage();
  renderDataset();
}

/** A triage core's lines: blood type and flags (`flags` by name, as the card or the server says). */
function triageLines(bloodType, flags) {
  return [
    h("p", { class: "blood" }, h("span", { text: `${t("triage.blood")} ` }), h("strong", { text: bloodType })),
    flags.length
      ? h("ul", { class: "flags" }, flags.map((f) => h("li", { "data-flag": f, text: flagText(f) })))
      : h("p", { text: t("triage.noFlags") }),
  ];
}

/** A flag's words. The server's JSON names the card's flags as the card library does (the
 * DNAR/ACP bit is `dnar_acp` there, `dnar_or_acp` here); a name this app does not know is shown
 * as it is, never dropped. */
function flagText(f) {
  const key = `flag.${f === "dnar_acp" ? "dnar_or_acp" : f}`;
  const s = t(key);
  return s === `⟦${key}⟧` ? f : s;
}

function renderTriage() {
  const v = S.verdict;
  const el = $("triage");
  if (!v || v.kind !== "genuine") return el.replaceChildren();
  const tr = v.card.triage;
  const onCard = tr ? triageLines(tr.bloodType, tr.flags) : [h("p", { text: t("triage.none") })];
  const d = S.disclosure;
  if (d && d.card_current === false) {
    // The server says the card no longer says what the resident's data say now: its facts, not
    // the card's, and the card's only as what it was.
    const now = d.triage;
    el.replaceChildren(
      h(
        "div",
        { class: "triage stale", id: "triage-core", "data-current": "false" },
        h("h2", { text: t("triage.nowTitle") }),
        h("p", { class: "stale-note", role: "alert", text: t("triage.stale") }),
        ...(now ? triageLines(now.blood_type, now.flags) : [h("p", { text: t("triage.nowNone") })]),
        h("details", { class: "was" }, h("summary", { text: t("triage.cardWas") }), ...onCard),
      ),
    );
    return;
  }
  el.replaceChildren(h("div", { class: "triage", id: "triage-core", "data-current": d ? "true" : "unknown" }, h("h2", { text: t("triage.title") }), ...onCard));
}

function renderDataset() {
  const el = $("dataset");
  const v = S.verdict;
  show("start-report", false);
  if (!v || v.kind !== "genuine") return el.replaceChildren();
  const parts = [h("h2", { text: t("dataset.title") })];
  if (S.disclosure && S.disclosure.expires_at * 1000 <= Date.now()) {
    // The scan's grant is over: the data leaves the screen (the server refuses it too).
    S.disclosure = null;
    S.datasetGone = "expired";
  }
  if (S.disclosure) {
    const d = S.disclosure;
    const p = d.patient;
    parts.push(h("p", { class: "patient" }, h("strong", { translate: "no", text: t("dataset.patient", { name: `${p.family_name} ${p.given_name}`, age: p.age, sex: sexWord(p.sex) }) })));
    parts.push(h("p", { class: "muted", text: `${t("dataset.dob", { dob: p.date_of_birth })} · ${t("dataset.until", { time: fmtTime(d.expires_at) })}` }));
    const photo = photoBlock(d);
    if (photo) parts.push(photo);
    for (const cat of d.categories.filter((c) => c !== "photo")) {
      const items = d.items.filter((i) => i.category === cat);
      parts.push(
        h(
          "div",
          { class: "cat", "data-category": cat },
          h("h3", { text: t(`cat.${cat}`) }),
          items.length ? h("ul", { translate: "no" }, items.map((i) => h("li", { text: itemText(i) }))) : h("p", { class: "muted", text: t("common.none") }),
        ),
      );
    }
  } else if (S.datasetGone) {
    parts.push(h("p", { class: "muted", "data-dataset-gone": S.datasetGone, text: t(`inc.dataset.${S.datasetGone}`) }));
  } else if (S.disclosureError) {
    parts.push(h("p", { class: "error", text: t("dataset.refused", { why: why(S.disclosureError) }) }));
  } else if (net.state() === "offline") {
    parts.push(h("p", { class: "muted", text: t("dataset.offline") }));
  } else if (!S.token) {
    parts.push(h("p", { class: "muted", text: t("dataset.needLogin") }));
  } else {
    parts.push(h("p", { class: "muted", text: t("dataset.fetching") }));
  }
  el.replaceChildren(h("div", { class: "dataset", id: "dataset-body" }, ...parts));
  show("start-report", Boolean(S.token && net.state() === "online" && !S.incident));
}

function renderPatientLine() {
  const el = $("report-patient");
  const p = S.disclosure?.patient;
  el.textContent = p ? t("dataset.patient", { name: `${p.family_name} ${p.given_name}`, age: p.age, sex: sexWord(p.sex) }) : "";
  if (!p && S.datasetGone) el.textContent = t(`inc.dataset.${S.datasetGone}`);
  el.dataset.datasetGone = (!p && S.datasetGone) || "";
}

const DATASET_GONE = ["not_granted", "expired", "withdrawn"];

function hospitalName(ref) {
  return getLang() === "en" ? ref.name_en : ref.name_ja;
}

function renderHospitals() {
  const list = $("hospital-list");
  const checked = new Set([...list.querySelectorAll("input:checked")].map((x) => x.value));
  const asked = new Set((S.incident?.targets || []).map((x) => x.hospital.id));
  list.replaceChildren(
    h("legend", { class: "sr-only", text: t("hosp.title") }),
    ...(S.hospitals.length
      ? S.hospitals.map((hosp) => {
          const id = `hosp-${hosp.id}`;
          return h(
            "label",
            { class: "choice", for: id },
            h("input", { type: "checkbox", name: "hospital", value: hosp.id, id, checked: checked.has(hosp.id), disabled: asked.has(hosp.id) }),
            h("span", {}, h("strong", { translate: "no", text: hospitalName(hosp) }), h("small", { text: ` ${t("hosp.phone", { phone: hosp.phone })}` })),
          );
        })
      : [h("p", { text: t("hosp.none") })]),
  );
}

function renderIncident() {
  const inc = S.incident;
  if (!inc) return;
  if (DATASET_GONE.includes(inc.dataset?.status) && S.datasetGone !== inc.dataset.status) {
    // The server no longer gives this device the resident's data: neither does the screen.
    S.disclosure = null;
    S.datasetGone = inc.dataset.status;
    renderDataset();
    renderPatientLine();
  }
  renderHospitals();
  const dest = $("destination");
  dest.hidden = !inc.destination;
  if (inc.destination) dest.textContent = t("inc.destination", { name: hospitalName(inc.destination) });
  $("targets").replaceChildren(
    ...inc.targets.map((tg) => {
      const st = tg.status;
      const lines = [h("strong", { translate: "no", text: hospitalName(tg.hospital) }), h("span", { class: `st st-${st}`, "data-status": st, text: t(`target.${st}`) })];
      if (tg.acknowledged_at && st === "pending") lines.push(h("span", { class: "st st-ack", "data-ack": "1", text: `✔ ${t("target.acknowledged")}` }));
      else if (tg.acknowledged_at) lines.push(h("span", { class: "muted", "data-ack": "1", text: t("target.acknowledged") }));
      if (tg.escalated_at && !tg.acknowledged_at && st === "pending") {
        const level = tg.escalation > 1 ? ` ${t("target.level", { level: tg.escalation })}` : "";
        lines.push(h("a", { class: "st st-esc", "data-escalation": String(tg.escalation || 1), href: `tel:${tg.hospital.phone}`, text: t("target.escalated", { phone: tg.hospital.phone }) + level }));
      } else if (tg.unanswered_realerts > 0 && tg.acknowledged_at && st === "pending") {
        lines.push(h("a", { class: "st st-esc", "data-escalation": String(tg.escalation), href: `tel:${tg.hospital.phone}`, text: t("target.unanswered", { phone: tg.hospital.phone }) }));
      }
      if (tg.reason) lines.push(h("span", { translate: "no", text: t("target.reason", { reason: tg.reason }) }));
      return h("li", { class: `target t-${st}`, "data-hospital": tg.hospital.id }, ...lines);
    }),
  );
  $("arrive").hidden = !(inc.destination && inc.status !== "arrived");
}

function render() {
  rewordMessage();
  gcsTotal();
  renderNet();
  const enrolled = Boolean(S.device);
  show("enroll", !enrolled);
  show("login", enrolled && !S.token);
  // Logging in needs the server; offline, cards are still checked.
  const offline = net.state() === "offline";
  show("login-form", !offline);
  show("login-offline", offline);
  show("scan", enrolled);
  show("scan-nfc", enrolled && "NDEFReader" in globalThis);
  show("logout", Boolean(S.token));
  show("forget", enrolled);
  $("device-line").textContent = enrolled ? t("device.line", { label: S.device.label || "—", id: S.device.id.slice(0, 8) }) : "";
  $("who").textContent = S.token ? t("login.as", { id: S.loginId || "" }) : "";
  renderVerdict();
  repaintHousehold();
  renderPatientLine();
  renderRecorded();
  if (S.incident) renderIncident();
}

// ---- start ---------------------------------------------------------------------------------------

async function main() {
  buildReportForm();
  initLang(render);
  $("enroll-form").addEventListener("submit", enroll);
  $("login-form").addEventListener("submit", login);
  $("manual-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    readCard(ev.target.card.value, "typed");
  });
  $("scan-camera").addEventListener("click", startCamera);
  $("camera-stop").addEventListener("click", stopCamera);
  $("scan-nfc").addEventListener("click", startNfc);
  $("start-report").addEventListener("click", startReport);
  $("report-form").addEventListener("submit", sendReport);
  $("add-reading").addEventListener("click", addReading);
  $("ask").addEventListener("click", ask);
  $("arrive").addEventListener("click", arrive);
  $("logout").addEventListener("click", () => logout());
  $("forget").addEventListener("click", forget);
  net.onChange(onNet);

  S.device = (await store.get("device").catch(() => null)) || null;
  render();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/pages/field/sw.js", { scope: "/" }).catch(() => {});
  }
  const reachable = net.start(); // not awaited: a card is verified offline, without the server
  // A card handed over by the URL: `#card=<digits>` (the bystander page's link, or the service
  // worker when the phone's camera opened /c/<digits>).
  const params = new URLSearchParams(location.hash.slice(1));
  const card = params.get("card") || (params.get("household") && `${location.origin}/h/${params.get("household")}`);
  if (card && S.device) {
    history.replaceState(null, "", location.pathname + location.search);
    if (params.get("household")) await reachable; // a household is listed by the server
    await readCard(card, "link");
  }
  await reachable;
  await keysRefreshed;
  document.body.dataset.ready = "1";
}

// Whether the server answers changed: what waited for it starts when it does.
let keysRefreshed = Promise.resolve();
function onNet(state) {
  render();
  if (state !== "online") return;
  keysRefreshed = refreshKeys();
  startFeed();
  if (S.verdict?.kind === "genuine" && !S.disclosure && !S.datasetGone) fetchDataset();
}

main();
