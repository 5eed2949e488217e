// The emergency department's board: staff log in (password + TOTP), see incoming inquiries live
// (the hospital feed, Server-Sent Events read with fetch so the session can go in an
// Authorization header — EventSource cannot send one — resuming with Last-Event-ID), hear and see
// new ones (sound, system notification), acknowledge, accept or decline with a reason, watch the
// ETA count down; escalated inquiries stand out. Web Push: the subscribe button registers this
// browser with the server's VAPID key (ed-sw.js shows the alerts).
// Issue 25: each card carries the latest vitals (with the previous value as a trend), JCS and GCS
// in type readable across the room, abnormal values highlighted (vitals.js; docs/ed-board.md); an
// inquiry another hospital took stays an hour as "他院で決定"; the last 24 hours' arrivals are
// listed for the handover (`GET /api/v1/hospital/board`).

import { ageBandWord, itemText, sexWord } from "./dataset.js";
import { fmtTime, getLang, initLang, t } from "./i18n.js";
import { net, NetworkError } from "./net.js";
import { gcsLevel, jcsLevel, vitalLevel } from "./vitals.js";

const $ = (id) => document.getElementById(id);
const TOKEN = "kyukit.ed.token";
const SOUND = "kyukit.ed.sound";
const PUSH_ID = "kyukit.ed.push";

const S = {
  token: sessionStorage.getItem(TOKEN),
  list: [],
  board: { summaries: new Map(), elsewhere: [], arrivals: [] },
  open: new Map(), // incident id → detail (or null while loading)
  declining: new Set(),
  reasons: new Map(), // incident id → decline reason being typed
  known: new Set(), // "id:status" already alerted
  feed: { running: false, live: false, lastEventId: null, abort: null },
  sound: localStorage.getItem(SOUND) !== "off",
  audio: null,
  swReg: null,
  push: { available: null, subscribed: false },
  loadTimer: null,
};

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

class ApiError extends Error {
  constructor(status, code, text) {
    super(text || code);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (S.token) headers.Authorization = `Bearer ${S.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // The board's municipality for a login (`/pages/ed?municipality=CODE`); a session carries its own.
  const code = new URLSearchParams(location.search).get("municipality");
  const url = code && method === "POST" && path === "/api/v1/sessions" ? `${path}?municipality=${encodeURIComponent(code)}` : path;
  const r = await net.fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  if (r.status === 204) return null;
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    if (r.status === 401 && path !== "/api/v1/sessions") logout(false);
    throw new ApiError(r.status, data.error || `http_${r.status}`, data.message);
  }
  return data;
}

const why = (e) => (e instanceof ApiError ? `${e.message} (${e.code})` : e instanceof NetworkError ? t("common.network") : String(e.message || e));

// ---- session -------------------------------------------------------------------------------------

async function login(ev) {
  ev.preventDefault();
  unlockAudio(); // a user gesture: the alert sound may play from now on
  const f = ev.target;
  try {
    const r = await api("POST", "/api/v1/sessions", { login_id: f.login_id.value.trim(), password: f.password.value, totp: f.totp.value.trim() });
    S.token = r.token;
    sessionStorage.setItem(TOKEN, r.token);
    f.reset();
    message("");
    render();
    await load(true);
    startFeed();
  } catch (e) {
    message(() => t("login.failed", { why: why(e) }));
  }
}

function logout(callServer = true) {
  if (callServer && S.token) net.fetch("/api/v1/sessions/current", { method: "DELETE", headers: { Authorization: `Bearer ${S.token}` } }).catch(() => {});
  S.token = null;
  sessionStorage.removeItem(TOKEN);
  S.feed.abort?.abort();
  S.list = [];
  S.board = { summaries: new Map(), elsewhere: [], arrivals: [] };
  S.open.clear();
  render();
}

// ---- the list and the feed -----------------------------------------------------------------------

// One load at a time, and one more after it if asked meanwhile (no stale list wins a race).
const loading = { running: false, again: false };
async function load(initial = false) {
  if (!S.token) return;
  if (loading.running) {
    loading.again = true;
    return;
  }
  loading.running = true;
  try {
    do {
      loading.again = false;
      await loadOnce(initial);
    } while (loading.again && S.token);
  } finally {
    loading.running = false;
  }
}

async function loadOnce(initial) {
  try {
    const [list, board] = await Promise.all([api("GET", "/api/v1/hospital/incidents"), api("GET", "/api/v1/hospital/board")]);
    S.list = list;
    S.board = { summaries: new Map(board.summaries.map((x) => [x.incident_id, x])), elsewhere: board.elsewhere, arrivals: board.arrivals };
  } catch (e) {
    return message(() => `${t("common.error")}: ${why(e)}`);
  }
  for (const inc of S.list) {
    const key = `${inc.id}:${inc.target.status}:${inc.target.escalated_at ? "esc" : ""}:${inc.target.escalation || 0}`;
    const fresh = !S.known.has(key);
    S.known.add(key);
    // New, escalated again, or re-alerted while acknowledged but unanswered: ring again.
    const needsAttention = inc.target.status === "pending" && (!inc.target.acknowledged_at || inc.target.unanswered_realerts > 0);
    if (!initial && fresh && needsAttention) alertNew(inc);
  }
  for (const id of S.open.keys()) if (S.open.get(id)) loadDetail(id);
  renderList();
}

function scheduleLoad() {
  clearTimeout(S.loadTimer);
  S.loadTimer = setTimeout(() => load(), 80);
}

async function startFeed() {
  if (S.feed.running || !S.token) return;
  S.feed.running = true;
  while (S.token) {
    const ctl = new AbortController();
    S.feed.abort = ctl;
    try {
      const headers = { Authorization: `Bearer ${S.token}` };
      if (S.feed.lastEventId) headers["Last-Event-ID"] = S.feed.lastEventId;
      const r = await net.fetch("/api/v1/hospital/feed", { headers, signal: ctl.signal, cache: "no-store" });
      if (r.status === 401) {
        logout(false);
        break;
      }
      if (!r.ok || !r.body) throw new Error(`feed ${r.status}`);
      S.feed.live = true;
      renderNet();
      if (S.feed.lastEventId) scheduleLoad(); // events missed while away are replayed; refresh anyway
      await readEvents(r.body, onEvent);
    } catch {
      /* dropped: reconnect */
    }
    S.feed.live = false;
    renderNet();
    if (!S.token) break;
    await new Promise((res) => setTimeout(res, 2000));
  }
  S.feed.running = false;
}

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

function onEvent(ev) {
  if (ev.id) S.feed.lastEventId = ev.id;
  if (ev.event === "session_ended") return logout(false);
  if (ev.event === "reset") {
    // The server's feed is behind our Last-Event-ID (restored from a backup, or another
    // deployment): what we show may be gone. Resume from its head and reload everything now.
    S.feed.lastEventId = ev.id || null;
    return load();
  }
  scheduleLoad();
}

// ---- actions -------------------------------------------------------------------------------------

async function act(id, what, body) {
  try {
    await api("POST", `/api/v1/hospital/incidents/${id}/${what}`, body);
    S.declining.delete(id);
    S.reasons.delete(id);
    message("");
    await load();
  } catch (e) {
    message(() => `${t("common.error")}: ${why(e)}`);
    await load();
  }
}

async function loadDetail(id) {
  try {
    const d = await api("GET", `/api/v1/hospital/incidents/${id}`);
    if (S.open.has(id)) S.open.set(id, d);
  } catch (e) {
    S.open.delete(id);
    message(() => `${t("common.error")}: ${why(e)}`);
  }
  renderList();
}

function toggleDetail(id) {
  if (S.open.has(id)) S.open.delete(id);
  else {
    S.open.set(id, null);
    loadDetail(id);
  }
  renderList();
}

// ---- alerts: sound, system notification, Web Push ------------------------------------------------

function unlockAudio() {
  if (!S.audio) {
    const Ctx = globalThis.AudioContext || globalThis.webkitAudioContext;
    if (Ctx) S.audio = new Ctx();
  }
  S.audio?.resume?.().catch(() => {});
}

function beep() {
  if (!S.sound || !S.audio) return;
  const ctx = S.audio;
  for (const [at, freq] of [[0, 880], [0.25, 660], [0.5, 880]]) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = freq;
    gain.gain.value = 0.2;
    osc.connect(gain).connect(ctx.destination);
    osc.start(ctx.currentTime + at);
    osc.stop(ctx.currentTime + at + 0.18);
  }
  document.body.dataset.alerted = String(Date.now());
}

function alertNew(inc) {
  beep();
  if ("Notification" in globalThis && Notification.permission === "granted") {
    const title = t("ed.newInquiry");
    const body = t("ed.notifyBody", { activation: inc.activation ? t(`act.${inc.activation}`) : "", age: ageBandWord(inc.age_band) });
    const opts = { body, tag: `incident-${inc.id}`, data: { incident_id: inc.id } };
    if (S.swReg) S.swReg.showNotification(title, opts).catch(() => {});
    else new Notification(title, opts);
  }
}

async function toggleNotify() {
  if (!("Notification" in globalThis)) return;
  await Notification.requestPermission();
  renderTools();
}

function urlB64ToBytes(s) {
  const pad = "=".repeat((4 - (s.length % 4)) % 4);
  const bin = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

async function pushState() {
  if (!("PushManager" in globalThis) || !S.swReg) {
    S.push.available = "unsupported";
    return;
  }
  const r = await net.fetch("/api/v1/push/vapid-public-key", { cache: "no-store" }).catch(() => null);
  if (!r || !r.ok) {
    S.push.available = "server";
    return;
  }
  S.push.key = (await r.json()).public_key;
  S.push.available = "yes";
  const sub = await S.swReg.pushManager.getSubscription();
  S.push.subscribed = Boolean(sub && localStorage.getItem(PUSH_ID));
}

async function togglePush() {
  if (S.push.available !== "yes") return;
  try {
    if (S.push.subscribed) {
      const sid = localStorage.getItem(PUSH_ID);
      if (sid) await api("DELETE", `/api/v1/push/subscriptions/${sid}`).catch(() => null);
      await (await S.swReg.pushManager.getSubscription())?.unsubscribe();
      localStorage.removeItem(PUSH_ID);
      S.push.subscribed = false;
    } else {
      if (Notification.permission !== "granted" && (await Notification.requestPermission()) !== "granted") {
        throw new Error(t("ed.notifyDenied"));
      }
      const sub = await S.swReg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: urlB64ToBytes(S.push.key) });
      const saved = await api("POST", "/api/v1/push/subscriptions", { ...sub.toJSON(), label: "ED board" });
      localStorage.setItem(PUSH_ID, saved.id);
      S.push.subscribed = true;
    }
    $("push-state").textContent = "";
  } catch (e) {
    $("push-state").textContent = t("ed.pushFailed", { why: why(e) });
  }
  renderTools();
}

// ---- rendering -----------------------------------------------------------------------------------

// Logged in, "online" means the live feed is up; before that, that the server answers.
function renderNet() {
  const state = net.state();
  const el = $("net");
  el.dataset.net = state;
  const live = state === "online" && (!S.token || S.feed.live);
  el.textContent = state !== "online" ? t(`net.${state}`) : !S.token ? t("net.online") : S.feed.live ? t("ed.live") : t("ed.reconnecting");
  el.className = `net ${live ? "on" : state === "checking" ? "checking" : "off"}`;
}

function renderTools() {
  const snd = $("sound");
  snd.textContent = S.sound ? t("ed.soundOn") : t("ed.soundOff");
  snd.setAttribute("aria-pressed", String(S.sound));
  const n = $("notify");
  const perm = "Notification" in globalThis ? Notification.permission : "denied";
  n.textContent = perm === "granted" ? t("ed.notifyOn") : perm === "denied" ? t("ed.notifyDenied") : t("ed.notify");
  n.disabled = perm !== "default";
  const p = $("push");
  p.dataset.state = S.push.available || "unknown";
  p.textContent =
    S.push.available === "server" ? t("ed.pushUnavailable") : S.push.available === "unsupported" ? t("ed.pushUnsupported") : S.push.subscribed ? t("ed.pushOn") : t("ed.push");
  p.disabled = S.push.available !== "yes";
}

function hospitalName(ref) {
  return getLang() === "en" ? ref.name_en : ref.name_ja;
}

function etaText(etaAt) {
  if (!etaAt) return t("ed.etaUnknown");
  const left = etaAt - Math.floor(Date.now() / 1000);
  if (left < 0) return t("ed.etaPassed", { m: Math.floor(-left / 60) });
  return t("ed.eta", { m: Math.floor(left / 60), s: String(left % 60).padStart(2, "0") });
}

function tick() {
  for (const el of document.querySelectorAll("[data-eta]")) el.textContent = etaText(Number(el.dataset.eta) || null);
}

function reportBlock(d) {
  const r = d.report;
  if (!r) return h("p", { class: "muted", text: t("ed.noReport") });
  // Each measurement's readings, oldest first, as a trend ending with the latest (its time shown):
  // a reading may carry only some values (e.g. a repeated SpO2).
  const series = r.vitals_series?.length ? r.vitals_series : [r.vitals || {}];
  const rows = ["systolic_bp", "diastolic_bp", "heart_rate", "respiratory_rate", "spo2", "temperature", "glucose"]
    .map((k) => {
      const got = series.filter((x) => x[k] !== null && x[k] !== undefined);
      if (!got.length) return null;
      const last = got[got.length - 1];
      const trend = got.slice(-3).map((x) => String(x[k])).join(" → ");
      return [`vital.${k}`, last.taken_at ? `${trend} (${fmtTime(last.taken_at, { timeStyle: "short" })})` : trend];
    })
    .filter(Boolean);
  const out = [h("h4", { text: `${t("ed.report")} ${t("ed.version", { n: r.version })}` }), h("p", { text: t("ed.complaint", { text: r.chief_complaint }) })];
  if (rows.length) out.push(h("dl", { class: "vitals" }, rows.map(([k, x]) => [h("dt", { text: t(k) }), h("dd", { text: String(x) })])));
  const cons = [];
  if (r.jcs) cons.push(`JCS ${r.jcs.display}`);
  if (r.gcs) cons.push(`GCS E${r.gcs.e}V${r.gcs.v}M${r.gcs.m} = ${r.gcs.total}`);
  if (cons.length) out.push(h("p", { class: "consciousness", text: cons.join(" · ") }));
  if (r.notes) out.push(h("p", { class: "notes", text: t("ed.notes", { text: r.notes }) }));
  if (d.patient) {
    const p = d.patient.patient;
    out.push(h("h4", { text: t("ed.patient") }));
    if (p) out.push(h("p", { text: t("dataset.patient", { name: `${p.family_name} ${p.given_name}`, age: p.age, sex: sexWord(p.sex) }) }));
    if (d.dataset?.until) out.push(h("p", { class: "muted", text: t("ed.datasetUntil", { time: fmtTime(d.dataset.until) }) }));
    for (const cat of d.patient.categories || []) {
      const items = (d.patient.items || []).filter((i) => i.category === cat);
      if (!items.length) continue;
      out.push(h("p", {}, h("strong", { text: `${t(`cat.${cat}`)}: ` }), items.map(itemText).join(" / ")));
    }
  } else if (["not_granted", "expired", "withdrawn"].includes(d.dataset?.status)) {
    // Issue 19: said, not silently missing.
    out.push(h("h4", { text: t("ed.patient") }));
    out.push(h("p", { class: "muted", translate: "yes", "data-dataset-gone": d.dataset.status, text: t(`ed.dataset.${d.dataset.status}`) }));
  }
  return h("div", { class: "detail", translate: "no" }, out);
}

// ---- what a card shows without opening it (issue 25) ---------------------------------------------

const KEYS = [
  ["bp", "systolic_bp"],
  ["heart_rate", "heart_rate"],
  ["respiratory_rate", "respiratory_rate"],
  ["spo2", "spo2"],
  ["temperature", "temperature"],
  ["glucose", "glucose"],
];

const num = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(1));
const hm = (unix) => fmtTime(unix, { timeStyle: "short" });

function tile(key, value, level, extra = []) {
  return h(
    "div",
    { class: `tile${level ? ` lvl-${level}` : ""}`, "data-vital": key, "data-level": level || null },
    h("span", { class: "tile-k", text: t(`ed.k.${key}`) }),
    h("span", { class: "tile-v" }, level ? h("span", { class: "mark", "aria-hidden": "true", text: "!" }) : null, value),
    level ? h("span", { class: "sr-only", text: t(`ed.level.${level}`) }) : null,
    extra,
  );
}

function trend(l) {
  if (!l || l.previous === null || l.previous === undefined || l.previous === l.value) return null;
  return h("span", { class: "tile-p", text: t("ed.prev", { arrow: l.value > l.previous ? "↑" : "↓", v: num(l.previous) }) });
}

/** The key vitals, JCS and GCS of a summary as large tiles; stroke times below. */
function keyBlock(sum, ageBand) {
  if (!sum) return null;
  const v = sum.vitals;
  const tiles = [];
  for (const [key, main] of KEYS) {
    const l = v[main];
    if (!l) continue;
    if (key === "bp") {
      const dia = v.diastolic_bp ? `/${num(v.diastolic_bp.value)}` : "";
      tiles.push(tile(key, `${num(l.value)}${dia}`, vitalLevel("systolic_bp", l.value, ageBand), trend(l)));
    } else {
      tiles.push(tile(key, num(l.value), vitalLevel(main, l.value, ageBand), trend(l)));
    }
  }
  if (sum.jcs) tiles.push(tile("jcs", sum.jcs.display, jcsLevel(sum.jcs)));
  if (sum.gcs) tiles.push(tile("gcs", String(sum.gcs.total), gcsLevel(sum.gcs), h("span", { class: "tile-p", text: `E${sum.gcs.e}V${sum.gcs.v}M${sum.gcs.m}` })));
  const times = Object.values(v)
    .filter(Boolean)
    .map((l) => l.taken_at)
    .filter(Boolean);
  const notes = [];
  if (times.length) notes.push(t("ed.measured", { time: hm(Math.max(...times)), n: sum.readings }));
  const stroke = [];
  if (sum.onset_at) stroke.push(t("ed.onset", { time: hm(sum.onset_at) }));
  if (sum.last_known_well_at) stroke.push(t("ed.lkw", { time: hm(sum.last_known_well_at) }));
  else if (sum.last_known_well_unknown) stroke.push(t("ed.lkwUnknown"));
  return h(
    "div",
    { class: "key" },
    tiles.length ? h("div", { class: "tiles" }, tiles) : h("p", { class: "muted", text: t("ed.noVitals") }),
    stroke.length ? h("p", { class: "stroke", text: stroke.join(" · ") }) : null,
    notes.length ? h("p", { class: "measured", text: notes.join(" · ") }) : null,
  );
}

/** Another hospital accepted this inquiry: said, for an hour, where the card was. */
const ELSEWHERE_SHOWN = 3600;

function elsewhereCard(e) {
  return h(
    "article",
    { class: "inc s-superseded", "data-elsewhere": e.incident_id },
    h(
      "div",
      { class: "inc-head" },
      h("span", { class: `badge act act-${e.activation || "none"}`, text: e.activation ? t(`act.${e.activation}`) : "—" }),
      h("span", { class: "badge status s-superseded", text: t("status.superseded") }),
    ),
    h("p", { class: "elsewhere", text: t("ed.elsewhere", { time: e.decided_at ? hm(e.decided_at) : "—" }) }),
    h("p", { class: "who", text: t("ed.ageSex", { age: ageBandWord(e.age_band), sex: sexWord(e.sex) }) }),
    h("p", { class: "meta", translate: "no", text: `${t("ed.from", { name: hospitalName(e.fire_department) })} · ${t("ed.askedAt", { time: fmtTime(e.asked_at) })}` }),
  );
}

/** The last 24 hours' arrivals, latest first, for the handover. */
function renderArrivals() {
  const list = S.board.arrivals;
  $("arrivals-h").textContent = t("ed.arrivals", { n: list.length });
  $("arrivals-empty").hidden = list.length > 0;
  const rows = [];
  for (const a of list) {
    const sum = a.summary;
    const open = S.open.has(a.incident_id);
    rows.push(
      h(
        "tr",
        { "data-arrival": a.incident_id },
        h("td", { class: "at", text: a.arrived_at ? fmtTime(a.arrived_at) : "—" }),
        h("td", {}, h("span", { class: `badge act act-${a.activation || "none"}`, text: a.activation ? t(`act.${a.activation}`) : "—" })),
        h("td", { translate: "no", text: a.chief_complaint || "—" }),
        h("td", { text: t("ed.ageSex", { age: ageBandWord(a.age_band), sex: sexWord(a.sex) }) }),
        h("td", { class: "vit" }, keyBlock(sum, a.age_band)),
        h("td", { translate: "no", text: `${hospitalName(a.fire_department)} · ${a.incident_ref}` }),
        h(
          "td",
          {},
          h("button", {
            type: "button",
            "data-action": "details",
            "aria-expanded": String(open),
            onclick: () => toggleDetail(a.incident_id),
            text: open ? t("ed.hide") : t("ed.details"),
          }),
        ),
      ),
    );
    if (open) {
      const d = S.open.get(a.incident_id);
      rows.push(h("tr", { class: "arrival-detail" }, h("td", { colspan: "7" }, d ? reportBlock(d) : h("p", { class: "muted", text: t("common.loading") }))));
    }
  }
  $("arrivals-body").replaceChildren(...rows);
  $("arrivals-table").hidden = list.length === 0;
}

function card(inc) {
  const tg = inc.target;
  const escalated = Boolean(tg.escalated_at && !tg.acknowledged_at && tg.status === "pending");
  const classes = ["inc", `act-${inc.activation || "none"}`, `s-${tg.status}`];
  if (escalated) classes.push("escalated");
  if (tg.acknowledged_at) classes.push("acked");
  const actions = [];
  if (!tg.acknowledged_at && ["pending", "assigned"].includes(tg.status)) {
    actions.push(h("button", { type: "button", class: "primary", "data-action": "ack", onclick: () => act(inc.id, "acknowledge"), text: t("ed.ack") }));
  }
  if (tg.status === "pending") {
    actions.push(h("button", { type: "button", class: "accept", "data-action": "accept", onclick: () => act(inc.id, "answer", { decision: "accept" }), text: t("ed.accept") }));
    actions.push(
      h("button", {
        type: "button",
        class: "decline",
        "data-action": "decline",
        "aria-expanded": String(S.declining.has(inc.id)),
        onclick: () => {
          if (S.declining.has(inc.id)) S.declining.delete(inc.id);
          else S.declining.add(inc.id);
          renderList();
        },
        text: t("ed.decline"),
      }),
    );
  }
  actions.push(h("button", { type: "button", "data-action": "details", "aria-expanded": String(S.open.has(inc.id)), onclick: () => toggleDetail(inc.id), text: S.open.has(inc.id) ? t("ed.hide") : t("ed.details") }));
  const parts = [
    h(
      "div",
      { class: "inc-head" },
      h("span", { class: `badge act act-${inc.activation || "none"}`, text: inc.activation ? t(`act.${inc.activation}`) : "—" }),
      h("span", { class: `badge status s-${tg.status}`, text: t(`status.${tg.status}`) }),
      h("span", { class: "eta", "data-eta": inc.eta_at || "", text: etaText(inc.eta_at) }),
    ),
    escalated ? h("p", { class: "esc", role: "alert", "data-escalation": String(tg.escalation || 1), text: `⚠ ${t("ed.escalated", { level: tg.escalation || 1 })}` }) : null,
    !escalated && tg.unanswered_realerts > 0 && tg.status === "pending" ? h("p", { class: "esc", role: "alert", "data-escalation": String(tg.escalation), text: `⚠ ${t("ed.unanswered")}` }) : null,
    h("p", { class: "complaint", translate: "no", text: inc.chief_complaint || "—" }),
    h("p", { class: "who", text: t("ed.ageSex", { age: ageBandWord(inc.age_band), sex: sexWord(inc.sex) }) }),
    keyBlock(S.board.summaries.get(inc.id), inc.age_band),
    h(
      "p",
      { class: "meta", translate: "no" },
      `${t("ed.from", { name: hospitalName(inc.fire_department) })} (${inc.fire_department.phone}) · ${t("ed.askedAt", { time: fmtTime(tg.asked_at) })}${tg.acknowledged_at ? ` · ${t("ed.acknowledgedAt", { time: fmtTime(tg.acknowledged_at) })}` : ""} · ${t("ed.version", { n: inc.version })}`,
    ),
    h("div", { class: "actions" }, actions),
  ];
  if (S.declining.has(inc.id)) {
    // The list is redrawn on every feed event: what was typed is kept in S.reasons.
    const input = h("input", {
      name: "reason",
      required: true,
      maxlength: "200",
      placeholder: t("ed.reasonPh"),
      "data-action": "reason",
      value: S.reasons.get(inc.id) || "",
      oninput: (ev) => S.reasons.set(inc.id, ev.target.value),
    });
    parts.push(
      h(
        "form",
        {
          class: "decline-form",
          onsubmit: (ev) => {
            ev.preventDefault();
            act(inc.id, "answer", { decision: "decline", reason: input.value.trim() });
          },
        },
        h("label", {}, h("span", { text: t("ed.reason") }), input),
        h("button", { type: "submit", class: "decline", text: t("ed.confirmDecline") }),
      ),
    );
  }
  if (S.open.has(inc.id)) parts.push(S.open.get(inc.id) ? reportBlock(S.open.get(inc.id)) : h("p", { class: "muted", text: t("common.loading") }));
  return h("article", { class: classes.join(" "), "data-incident": inc.id, "data-status": tg.status, "data-acknowledged": tg.acknowledged_at ? "1" : "0" }, parts);
}

function renderList() {
  const focused = document.activeElement?.closest?.("[data-incident]")?.dataset.incident;
  const action = document.activeElement?.dataset?.action;
  const now = Math.floor(Date.now() / 1000);
  const gone = S.board.elsewhere.filter((e) => now - (e.decided_at || e.asked_at) < ELSEWHERE_SHOWN);
  $("incoming").replaceChildren(...S.list.map(card), ...gone.map(elsewhereCard));
  $("empty").hidden = S.list.length + gone.length > 0;
  renderArrivals();
  if (focused && action) document.querySelector(`[data-incident="${focused}"] [data-action="${action}"]`)?.focus();
}

function render() {
  rewordMessage();
  $("login").hidden = Boolean(S.token);
  $("board").hidden = !S.token;
  $("arrived").hidden = !S.token;
  renderNet();
  renderTools();
  renderList();
}

async function main() {
  initLang(render);
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", () => logout());
  $("sound").addEventListener("click", () => {
    S.sound = !S.sound;
    localStorage.setItem(SOUND, S.sound ? "on" : "off");
    if (S.sound) unlockAudio();
    renderTools();
  });
  $("notify").addEventListener("click", toggleNotify);
  $("push").addEventListener("click", togglePush);
  setInterval(tick, 1000);
  if ("serviceWorker" in navigator) {
    try {
      S.swReg = await navigator.serviceWorker.register("/pages/field/ed-sw.js", { scope: "/pages/ed" });
      navigator.serviceWorker.addEventListener("message", (ev) => {
        if (ev.data?.type === "push") scheduleLoad();
        if (ev.data?.type === "open" && ev.data.incident_id && !S.open.has(ev.data.incident_id)) toggleDetail(ev.data.incident_id);
      });
    } catch {
      S.swReg = null;
    }
  }
  net.onChange(onNet);
  render();
  await net.start();
  await pushState();
  render();
  if (S.token) {
    await load(true);
    startFeed();
  }
  const want = new URLSearchParams(location.hash.slice(1)).get("incident");
  if (want && S.token && !S.open.has(want)) toggleDetail(want);
  document.body.dataset.ready = "1";
}

// Whether the server answers changed. Back in reach, the list is read again (the feed reconnects
// by itself and replays what it missed).
function onNet(state, prev) {
  renderNet();
  if (state === "online" && (prev === "offline" || prev === "no_server") && S.token) scheduleLoad();
}

main();
