// The paramedic PWA: enrol the device (WebCrypto P-256, non-extractable key in IndexedDB), log
// in (signed, with TOTP), read a card (camera QR, Web NFC, the card URL the phone's camera opened,
// or typed), verify it offline against the cached issuer keys and revocation lists, show the
// triage core, fetch the consented dataset online, write the pre-arrival report, ask hospitals and
// follow their answers live (the crew feed, signed, read with fetch streaming).

import { b64url, CardError, cardBytesFrom, cardBytesFromNdef, checkRevocation, importJwks, verifyCard } from "./card.js";
import { ApiError, json, session, signed, signedFetch } from "./api.js";
import { renderEscalations, unlockAudio } from "./alerts.js";
import { $, h, show, telLink } from "./dom.js";
import { codeText, netText } from "./errors.js";
import { criticalBlock, itemNode, whoBlock } from "./firstscreen.js";
import { bloodText, deviceWord, itemText, medMarks, sexWord } from "./dataset.js";
import { closeHousehold, householdDigits, openHousehold, repaintHousehold } from "./household.js";
import { fmtTime, getLang, initLang, t } from "./i18n.js";
import { net, NetworkError, OFFLINE_COPY } from "./net.js";
import * as outbox from "./outbox.js";
import { buildReportForm, clearDraft, clearEntries, gcsTotal, loadDraft, num, readNeuro, readVitals, restoreForm, saveDraft } from "./reportform.js";
import { startScanner } from "./scanner.js";
import * as store from "./store.js";
import { initNoCard } from "./nocard.js";
import { initSession, loadSession } from "./session.js";
import { loadUnlock } from "./webauthn.js";
import { paintTrustWarning, refreshTrustList, trustRefusal } from "./trust.js";

// The app's state; `session` (api.js) holds the device, the session token and the clock offset.
const S = Object.assign(session, {
  token: null, // the session, kept in IndexedDB for every tab of this device (session.js)
  loginId: null,
  webauthn: null, // the screen-lock unlock registered on this device (webauthn.js)
  patientExtra: null, // a patient without a card: the crew's estimates for the first report (nocard.js)
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
});

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

function onAuthError(e) {
  if (e instanceof ApiError && e.status === 401 && ["unauthorized", "session_not_bound"].includes(e.code)) {
    logout(false);
  }
  if (e instanceof ApiError && ["device_revoked", "device_unknown"].includes(e.code)) {
    message(() => `${t("common.error")}: ${e.message}`);
  }
}

// An error in words with what to do next (errors.js): the server's code translated, or why the
// server could not be asked (offline, or no server).
const why = (e) => (e instanceof ApiError ? codeText(e.code) : e instanceof NetworkError ? netText(net.state()) : String(e.message || e));

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
    await refreshTrustList({ fetch: (p, o) => net.fetch(p, o), store, pinned: S.device?.trustKey, now: at + S.skew, fresh });
  } catch {
    /* offline or server away: keep what is cached */
  }
  paintTrustWarning($("trust-warning"), store, S.device?.trustKey, Math.floor(Date.now() / 1000) + S.skew, t);
}

// Enrolment, login (password + TOTP or the screen lock), logout: session.js. The pieces of this
// file the other modules use:
const ctx = {
  S, $, h, show, message, t, render, signed, json, why, onAuthError, refreshKeys, startFeed, fetchDataset,
  renderVerdict, incidentRef, startReport, sexWord, dropPhoto,
  // A session's end drops the report draft (medical data); forgetting the device drops the outbox.
  onLogout: () => {
    S.incident = null;
    clearDraft(); // medical data: the draft ends with the session (the outbox keeps what was sent)
    show("report", false);
    show("hospitals", false);
  },
  onForget: () => outbox.clear(),
};
let logout = async () => {};

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
  S.patientExtra = null;
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
  // The trust list first (trust.js): an issuer it lacks or a key it marks compromised is refused.
  const refused = await trustRefusal(bytes, store, S.device?.trustKey, Math.floor(Date.now() / 1000) + S.skew);
  // A key the kept list does not know yet (a rotation since): fetch the list again first, as for an unknown kid.
  if (refused) return refused.code === "unknown_issuer_key" && !net.unreachable() ? { kind: "unknown_kid_refresh" } : refused;
  const rec = await store.get("jwks");
  if (!rec) return { kind: "no_keys" };
  let card;
  try {
    const keys = await importJwks(rec.jwks);
    card = await verifyCard(bytes, keys, Math.floor(Date.now() / 1000) + S.skew);
  } catch (e) {
    const code = e instanceof CardError ? e.code : "malformed";
    if (code === "expired") return { kind: "expired", code };
    if (code === "unknown_kid" && !net.unreachable()) return { kind: "unknown_kid_refresh" };
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
    // The thumbnail is on the first screen (#identity-photo); here it is large enough to compare.
    body.push(h("img", { class: "photo-large", src: ph.url, alt: t("photo.alt"), translate: "no" }));
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

// Opening the incident goes through the outbox: sent now, or queued while the server cannot be
// reached (the report can be written meanwhile).
async function startReport() {
  try {
    const out = await outbox.openIncident(incidentRef(), S.disclosure?.access_id ?? null);
    S.incident = out.incident;
    S.reportQueued = false;
    if (out.queued) message(() => t("report.startQueued"), "ok");
    else message("");
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
  saveDraft(S.incident, S.loginId);
}

// The report is a patch (docs/api.md): observation fields are new entries (cleared once saved, the
// server stamps their time); the rest is sent only when it differs from the saved version.
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

// A report patch through the outbox (its own idempotency key): sent now, or queued. Either way
// the observations typed are now on their way and leave the form; so does the draft.
async function patchReport(body) {
  const out = await outbox.change(S.incident, { kind: "report", patch: body });
  if (out.incident) S.incident = out.incident;
  else S.reportQueued = true;
  clearEntries($("report-form"));
  clearDraft();
  renderRecorded();
  return out;
}

// One tap: the values typed in the vitals grid (and a JCS/GCS chosen) become a reading stamped
// now by the server; only they are sent (the report is a patch).
async function addReading() {
  const f = $("report-form");
  const vitals = readVitals(f);
  const neuro = readNeuro(f);
  if (!S.incident?.report && !S.reportQueued) return message(() => t("report.needFirst"));
  if (!Object.keys(vitals).length && !Object.keys(neuro).length) return message(() => t("report.noReading"));
  const body = { ...neuro };
  if (Object.keys(vitals).length) body.vitals = vitals;
  try {
    if ((await patchReport(body)).queued) return message(() => t("report.queued"), "ok");
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
  if (!prev && S.patientExtra) Object.assign(body, S.patientExtra.fields);
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
      const out = await patchReport(body);
      message(() => (out.queued ? t("report.queued") : t("report.saved", { n: S.incident.version })), "ok");
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

// The hospitals (public facility data) are kept on the device, so an inquiry can be queued while
// the server cannot be reached.
async function loadHospitals() {
  try {
    S.hospitals = (await signed("GET", "/api/v1/hospitals")).hospitals;
    S.hospitalsAt = null;
    store.put("hospitals", { hospitals: S.hospitals, at: Math.floor(Date.now() / 1000) }).catch(() => {});
  } catch (e) {
    const kept = e instanceof NetworkError ? await store.get("hospitals").catch(() => null) : null;
    if (kept) {
      S.hospitals = kept.hospitals;
      S.hospitalsAt = kept.at;
    } else if (!(e instanceof NetworkError)) {
      onAuthError(e);
      message(() => `${t("common.error")}: ${why(e)}`);
    }
  }
  renderHospitals();
}

async function ask() {
  const ids = [...document.querySelectorAll("input[name=hospital]:checked")].map((x) => x.value);
  if (!ids.length) return message(() => t("hosp.pickOne"));
  try {
    const out = await outbox.change(S.incident, { kind: "inquiry", hospitals: ids });
    if (out.queued) return message(() => t("hosp.queued"), "ok");
    S.incident = out.incident;
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
  if (!S.incident?.id) return;
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
  el.className = `net ${{ online: "on", offline: "off", no_server: "off" }[state] || "checking"}`;
}

// The queue of changes waiting for the server (outbox.js): its count in the header, each change
// with its state below.
function renderOutbox({ entries = [], sending = null } = {}) {
  const mine = entries.filter((e) => e.loginId === S.loginId || !S.loginId);
  const count = mine.reduce((n, e) => n + (e.incidentId ? 0 : 1) + e.steps.length, 0);
  const badge = $("outbox-count");
  badge.hidden = !count;
  badge.textContent = t("outbox.count", { n: count });
  badge.dataset.count = String(count);
  show("outbox", count > 0);
  $("outbox-lead").textContent = t("outbox.lead");
  const items = [];
  for (const e of mine) {
    const state = e.state === "failed" ? "failed" : sending === e.id ? "sending" : "queued";
    const stateText = state === "failed" ? t("outbox.failed", { why: codeText(e.error?.code) }) : t(`outbox.${state}`);
    const what = [];
    if (!e.incidentId && e.open) what.push(t("outbox.open", { ref: e.open.incident_ref }));
    for (const st of e.steps) what.push(st.kind === "report" ? t("outbox.report", { summary: st.patch.chief_complaint || Object.keys(st.patch).join(", ") }) : t("outbox.inquiry", { n: st.hospitals.length }));
    items.push(
      h(
        "li",
        { "data-state": state, "data-entry": e.id },
        h("p", { translate: "no", text: what.join(" / ") }),
        h("p", { class: "state", text: stateText }),
        state === "failed" ? h("button", { type: "button", class: "danger", text: t("outbox.discard"), onclick: () => confirm(t("outbox.discardConfirm")) && outbox.discard(e.id) }) : null,
      ),
    );
  }
  $("outbox-list").replaceChildren(...items);
}
let lastOutbox = {};
function onOutbox(ev) {
  lastOutbox = ev;
  // A queued change reached the server: the crew's incident is now the server's.
  if (ev.sent && S.incident && (S.incident.local === ev.entryId || S.incident.id === ev.sent.id)) {
    S.incident = ev.sent;
    renderRecorded();
    renderIncident();
  }
  renderOutbox(ev);
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
    break_glass: ["warn", "verdict.breakGlass"], // found by name and birth date (nocard.js)
  };
  const [cls, key] = kinds[v.kind] || kinds.not_genuine;
  box.className = `verdict ${cls}${cls === "ok" ? " compact" : ""}`;
  box.dataset.verdict = v.kind;
  const mark = { ok: "✔", warn: "!" }[cls] || "✖";
  const lines = [h("strong", { class: "verdict-head", text: `${mark} ${t(key)}` })];
  if (v.kind === "break_glass") lines.push(h("span", { text: t("bg.review") }));
  if (v.code && v.kind === "not_genuine") lines.push(h("span", { text: t(`err.${v.code}`) }));
  if (v.card && v.kind === "genuine") {
    // One line: the first screen is for the patient.
    const checked = v.checked ? t("verdict.checkedShort", { when: fmtTime(v.fetchedAt) }) : t("verdict.revocationUnknown");
    lines.push(h("span", { class: "muted", text: `${t("verdict.expires", { date: fmtTime(v.card.exp, { dateStyle: "medium" }) })} · ${checked}` }));
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
  if (v?.kind === "break_glass" && S.disclosure?.triage) {
    const now = S.disclosure.triage;
    return el.replaceChildren(h("div", { class: "triage", id: "triage-core", "data-current": "true" }, h("h2", { text: t("triage.nowTitle") }), ...triageLines(now.blood_type, now.flags)));
  }
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
  $("first").replaceChildren();
  if (!v || !["genuine", "break_glass"].includes(v.kind)) return el.replaceChildren();
  const parts = [h("h2", { text: t("dataset.title") })];
  if (S.disclosure && S.disclosure.expires_at * 1000 <= Date.now()) {
    // The scan's grant is over: the data leaves the screen (the server refuses it too).
    S.disclosure = null;
    S.datasetGone = "expired";
  }
  if (S.disclosure) {
    const d = S.disclosure;
    // First: who, then what changes treatment (firstscreen.js); the full dataset follows.
    const ph = S.photo?.accessId === d.access_id ? S.photo : null;
    $("first").replaceChildren(whoBlock(d, d.photo ? ph : null, null), criticalBlock(d));
    parts.push(h("p", { class: "muted", text: t("dataset.until", { time: fmtTime(d.expires_at) }) }));
    const photo = photoBlock(d);
    if (photo) parts.push(photo);
    for (const cat of d.categories.filter((c) => c !== "photo")) {
      const items = d.items.filter((i) => i.category === cat);
      parts.push(
        h(
          "div",
          { class: "cat", "data-category": cat },
          h("h3", { text: t(`cat.${cat}`) }),
          items.length ? h("ul", { translate: "no" }, items.map(itemNode)) : h("p", { class: "muted", text: t("common.none") }),
        ),
      );
    }
  } else if (S.datasetGone) {
    parts.push(h("p", { class: "muted", "data-dataset-gone": S.datasetGone, text: t(`inc.dataset.${S.datasetGone}`) }));
  } else if (S.disclosureError) {
    parts.push(h("p", { class: "error", text: t("dataset.refused", { why: why(S.disclosureError) }) }));
  } else if (net.unreachable()) {
    parts.push(h("p", { class: "muted", text: t(net.state() === "offline" ? "dataset.offline" : "dataset.noServer") }));
  } else if (!S.token) {
    parts.push(h("p", { class: "muted", text: t("dataset.needLogin") }));
  } else {
    parts.push(h("p", { class: "muted", text: t("dataset.fetching") }));
  }
  el.replaceChildren(h("div", { class: "dataset", id: "dataset-body" }, ...parts));
  // Without the server too: the report waits in the outbox until it answers.
  show("start-report", Boolean(S.token && !S.incident));
}

function renderPatientLine() {
  const el = $("report-patient");
  const p = S.disclosure?.patient;
  el.textContent = p ? t("dataset.patient", { name: `${p.family_name} ${p.given_name}`, age: p.age, sex: sexWord(p.sex) }) : "";
  if (!p && S.datasetGone) el.textContent = t(`inc.dataset.${S.datasetGone}`);
  if (!p && S.patientExtra?.line) el.textContent = S.patientExtra.line(); // no card (nocard.js)
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
  const nodes = [
    h("legend", { class: "sr-only", text: t("hosp.title") }),
    ...(S.hospitals.length
      ? S.hospitals.map((hosp) => {
          const id = `hosp-${hosp.id}`;
          return [
            h(
              "label",
              { class: "choice", for: id },
              h("input", { type: "checkbox", name: "hospital", value: hosp.id, id, checked: checked.has(hosp.id), disabled: asked.has(hosp.id) }),
              h("span", {}, h("strong", { translate: "no", text: hospitalName(hosp) })),
            ),
            h("p", { class: "hosp-phone" }, telLink(hosp.phone, t("hosp.phone", { phone: hosp.phone }))),
          ];
        })
      : [h("p", { text: t("hosp.none") })]),
    S.hospitalsAt ? h("p", { class: "muted", text: t("hosp.cached", { when: fmtTime(S.hospitalsAt) }) }) : null,
  ];
  list.replaceChildren(...nodes.flat().filter(Boolean));
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
  renderEscalations(inc, hospitalName);
}

function render() {
  rewordMessage();
  gcsTotal();
  renderNet();
  const enrolled = Boolean(S.device);
  show("enroll", !enrolled);
  show("login", enrolled && !S.token);
  show("unlock", enrolled && !S.token && Boolean(S.webauthn) && !net.unreachable());
  show("nocard-start", Boolean(S.token));
  show("bg", Boolean(S.token));
  if (!S.token) show("webauthn-offer", false);
  // Logging in needs the server; without it, cards are still checked.
  const away = net.unreachable();
  show("login-form", !away);
  show("login-offline", away);
  $("login-offline").textContent = t(net.state() === "no_server" ? "login.noServer" : "login.offline");
  show("scan", enrolled);
  show("scan-nfc", enrolled && "NDEFReader" in globalThis);
  show("logout", Boolean(S.token));
  show("settings", enrolled);
  $("device-line").textContent = enrolled ? t("device.line", { label: S.device.label || "—", id: S.device.id.slice(0, 8) }) : "";
  $("who").textContent = S.token ? t("login.as", { id: S.loginId || "" }) : "";
  paintTrustWarning($("trust-warning"), store, S.device?.trustKey, Math.floor(Date.now() / 1000) + S.skew, t);
  renderVerdict();
  repaintHousehold();
  renderPatientLine();
  renderRecorded();
  if (S.incident) renderIncident();
  renderOutbox(lastOutbox);
}

// ---- start ---------------------------------------------------------------------------------------

async function main() {
  buildReportForm();
  initLang(render);
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
  // Nothing typed is lost by a reload: the draft follows every keystroke (reportform.js).
  const keep = () => S.incident && saveDraft(S.incident, S.loginId);
  $("report-form").addEventListener("input", keep);
  $("report-form").addEventListener("change", keep);
  unlockAudio();
  net.onChange(onNet);
  outbox.onChange(onOutbox);

  S.device = (await store.get("device").catch(() => null)) || null;
  // A session opened in another tab of this browser (the camera app's, say) is this one's too.
  Object.assign(S, (await loadSession(S.device)) || {});
  S.webauthn = await loadUnlock(S.device);
  ({ logout } = initSession(ctx));
  initNoCard(ctx);
  await restoreDraft();
  render();
  outbox.start();
  if (S.token) startFeed();
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

// A report being written when the page went away (a reload, the phone's camera, a crash): back,
// for the same paramedic in this tab's session; a draft without a session is dropped.
async function restoreDraft() {
  const d = await loadDraft();
  if (!d) return;
  if (!S.token || !S.device || d.loginId !== S.loginId) return clearDraft();
  S.incident = d.incident;
  S.reportQueued = Boolean(d.incident?.local);
  restoreForm(d.form);
  show("report");
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
