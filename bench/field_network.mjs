// The paramedic PWA on a slow mobile network (issue 21): Debian's Chromium through playwright-core,
// the network emulated by CDP `Network.emulateNetworkConditions` (default 400 ms round trip,
// 400 kbit/s each way) on the page and on the PWA's service worker.
//
//   warm   the app open, logged in, its shell cached: a card is decoded (handed to the app as the
//          camera's decoder does) → the verdict and triage core (offline verification, no network)
//          → the first screen with the server's dataset → the identity photo. p50/p95 over --runs.
//   offline the same with the network off: decode → verdict and triage core.
//   cold   a fresh profile (no cache, no service worker) opens /pages/field: time until the app is
//          usable (the enrolment form ready) and the bytes transferred (page and service worker).
//
//   cargo build --release -p kyukit-server
//   (cd tests/browser/field && npm ci)
//   node bench/field_network.mjs [--runs 20] [--cold-runs 5] [--rtt-ms 400] [--kbps 400] [--json]
//
// The server is target/release/kyukit (KYUKIT_BIN to choose another), on loopback with SQLite and
// the scan rate limits off (the runs scan one card many times). Prints a table, or one JSON object.

import path from "node:path";
import { fileURLToPath } from "node:url";
import fs from "node:fs";
import os from "node:os";
import { createRequire } from "node:module";
import { execFileSync, spawn } from "node:child_process";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..");
const FIELD = path.join(ROOT, "tests", "browser", "field");
if (!process.env.KYUKIT_BIN) {
  const release = path.join(ROOT, "target", "release", "kyukit");
  process.env.KYUKIT_BIN = fs.existsSync(release) ? release : path.join(ROOT, "target", "debug", "kyukit");
}
const { Authenticator, CHROMIUM_FLAGS, chromiumPath, Server, PYTHON } = await import(path.join(FIELD, "lib.mjs"));
const require = createRequire(path.join(FIELD, "package.json")); // the browser suite's node_modules
const { chromium } = require("playwright-core");
// Node 22 has a WebSocket; Node 20 without --experimental-websocket uses playwright-core's own `ws`.
const WebSocketImpl = globalThis.WebSocket ?? require("playwright-core/lib/utilsBundle").ws;

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const RUNS = arg("runs", 20);
const COLD_RUNS = arg("cold-runs", 5);
const RTT = arg("rtt-ms", 400);
const KBPS = arg("kbps", 400);
const JSON_OUT = process.argv.includes("--json");
const CONDITIONS = { offline: false, latency: RTT, downloadThroughput: (KBPS * 1000) / 8, uploadThroughput: (KBPS * 1000) / 8 };

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};
const summary = (xs) => ({ n: xs.length, p50: Math.round(quantile(xs, 0.5)), p95: Math.round(quantile(xs, 0.95)), max: Math.round(Math.max(...xs)) });

// ---- the world -----------------------------------------------------------------------------------

async function world(server) {
  const admin = await server.adminToken();
  const fire = await server.ok("POST", "/api/v1/facilities", { kind: "fire_department", name_ja: "常総広域消防本部", name_en: "Joso Regional Fire HQ", address: "茨城県常総市水海道諏訪町3222-3", phone: "0297-23-0119" }, admin);
  const medicPassword = "paramedic password 1";
  const medic = await server.ok("POST", `/api/v1/facilities/${fire.id}/staff`, { login_id: "medic1", password: medicPassword, role: "paramedic", display_name: "救急隊員" }, admin);
  const code = (await server.ok("POST", `/api/v1/facilities/${fire.id}/enrollment-codes`, { label: "救急1号車" }, admin)).code;
  const reg = await server.ok("POST", "/api/v1/residents", {
    login_id: "hanako",
    password: "correct horse battery",
    profile: { family_name: "山田", given_name: "花子", family_name_kana: "ヤマダ", given_name_kana: "ハナコ", date_of_birth: "1941-04-03", sex: "female", address: "茨城県常総市水海道諏訪町3222-3", district: "水海道", phone: "0297-23-2111", preferred_language: "ja" },
  });
  const { token: rt, resident_id: rid } = reg;
  for (const [category, body] of [
    ["medications", { name: "ワルファリン", dose: "2mg", frequency: "朝1回", anticoagulant: true }],
    ["medications", { name: "インスリン グラルギン", dose: "10単位", frequency: "就寝前", insulin: true }],
    ["medications", { name: "アムロジピン", dose: "5mg", frequency: "朝1回" }],
    ["advance_directive", { status: "acp", document_location: "冷蔵庫の横の棚" }],
    ["conditions", { name: "心房細動", icd10: "I48.9" }],
    ["allergies", { substance: "ペニシリン", reaction: "アナフィラキシー", severity: "anaphylaxis" }],
    ["devices", { kind: "pacemaker", description: "2019年植込み" }],
    ["blood_type", { abo: "A", rh: "+" }],
    ["emergency_contacts", { name: "山田 一郎", relation: "長男", phone: "090-1234-5678" }],
  ]) {
    await server.ok("POST", `/api/v1/residents/${rid}/dataset`, { category, body }, rt);
  }
  await server.ok("POST", `/api/v1/residents/${rid}/consents`, { categories: ["medications", "conditions", "allergies", "devices", "blood_type", "advance_directive", "emergency_contacts", "photo"], disaster_use: false, triage_on_card: true, name_on_print: false }, rt);
  const face = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kyukit-bench-face-")), "face.jpg");
  execFileSync(PYTHON, [path.join(ROOT, "tests", "browser", "face.py"), face]);
  const up = await fetch(`${server.url}/api/v1/residents/${rid}/photo`, { method: "PUT", headers: { Authorization: `Bearer ${rt}`, "Content-Type": "image/jpeg" }, body: fs.readFileSync(face) });
  if (up.status !== 200) throw new Error(`photo upload: ${up.status} ${await up.text()}`);
  const card = await server.ok("POST", `/api/v1/residents/${rid}/cards`, {}, rt);
  return { medic: { login: "medic1", password: medicPassword, auth: new Authenticator(medic.totp.secret) }, code, card, photoBytes: fs.statSync(face).size };
}

// ---- the network, on the page and on its service worker ------------------------------------------

/** Emulates `conditions` on the page (CDP) and counts the bytes it transfers. */
async function throttle(context, page, conditions) {
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", conditions);
  const counter = { bytes: 0, requests: 0 };
  cdp.on("Network.loadingFinished", (e) => {
    counter.bytes += e.encodedDataLength;
    counter.requests += 1;
  });
  return { cdp, counter };
}

/**
 * The service worker's own fetches (the shell it precaches on install) go through its own target,
 * which page-level emulation does not reach. A second, raw CDP connection to the browser
 * auto-attaches (flat sessions, paused on start) to every service worker and emulates the same
 * conditions there before its first fetch, counting its bytes.
 */
async function throttleWorkers(wsUrl, conditions) {
  const counter = { bytes: 0, requests: 0, workers: 0 };
  const ws = new WebSocketImpl(wsUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let id = 1;
  const send = (method, params, sessionId) => ws.send(JSON.stringify({ id: id++, method, params, ...(sessionId ? { sessionId } : {}) }));
  const workers = new Set();
  ws.onmessage = (ev) => {
    const m = JSON.parse(typeof ev.data === "string" ? ev.data : ev.data.toString());
    if (m.method === "Target.attachedToTarget" && m.params.targetInfo.type === "service_worker") {
      const sid = m.params.sessionId;
      workers.add(sid);
      counter.workers += 1;
      send("Network.enable", {}, sid);
      send("Network.emulateNetworkConditions", conditions, sid);
      send("Runtime.runIfWaitingForDebugger", {}, sid);
    } else if (m.method === "Target.attachedToTarget") {
      send("Runtime.runIfWaitingForDebugger", {}, m.params.sessionId);
    } else if (m.method === "Network.loadingFinished" && workers.has(m.sessionId)) {
      counter.bytes += m.params.encodedDataLength;
      counter.requests += 1;
    }
  };
  send("Target.setAutoAttach", { autoAttach: true, waitForDebuggerOnStart: true, flatten: true, filter: [{ type: "service_worker", exclude: false }, { exclude: true }] });
  return { counter, close: () => ws.close() };
}

/** Chromium with a DevTools port (Playwright and the raw worker connection share it). */
async function startChromium() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "kyukit-bench-chromium-"));
  const proc = spawn(chromiumPath(), [...CHROMIUM_FLAGS, "--remote-debugging-port=0", `--user-data-dir=${profile}`, "about:blank"], { stdio: ["ignore", "ignore", "pipe"] });
  const wsUrl = await new Promise((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => reject(new Error(`chromium did not start:\n${err}`)), 60_000);
    proc.stderr.on("data", (d) => {
      err += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on("exit", (code) => reject(new Error(`chromium exited (${code}):\n${err}`)));
  });
  const browser = await chromium.connectOverCDP(wsUrl);
  return {
    browser,
    wsUrl,
    close: async () => {
      await browser.close().catch(() => {});
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once("exit", r));
        proc.kill();
        await exited;
      }
      fs.rmSync(profile, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}

// ---- one decode, timed in the page ---------------------------------------------------------------

/** Hands `url` to the app as a decoded card and times, in the page, what appears. */
function timedDecode(page, url, { online }) {
  return page.evaluate(
    async ({ url, online }) => {
      // Marks what the previous run left, so only what this run renders counts.
      for (const el of document.querySelectorAll("#patient-head .patient, #critical, #identity-photo")) el.dataset.benchOld = "1";
      document.querySelector("#verdict")?.removeAttribute("data-verdict");
      const when = (pred) =>
        new Promise((resolve) => {
          if (pred()) return resolve(performance.now());
          const mo = new MutationObserver(() => {
            if (pred()) {
              mo.disconnect();
              resolve(performance.now());
            }
          });
          mo.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
        });
      const verdict = when(() => document.querySelector("#verdict")?.dataset.verdict === "genuine" && document.querySelector("#triage-core [data-flag]"));
      const dataset = online ? when(() => document.querySelector("#patient-head .patient:not([data-bench-old])") && document.querySelector("#critical:not([data-bench-old])")) : null;
      const photo = online
        ? new Promise((resolve) => {
            const poll = () => {
              const img = document.querySelector("#identity-photo:not([data-bench-old])");
              if (img && img.complete && img.naturalWidth > 0) return resolve(performance.now());
              requestAnimationFrame(poll);
            };
            poll();
          })
        : null;
      const form = document.querySelector("#manual-form");
      form.card.value = url;
      const t0 = performance.now();
      form.requestSubmit();
      const out = { verdict: (await verdict) - t0 };
      if (online) {
        out.dataset = (await dataset) - t0;
        out.photo = (await photo) - t0;
        // The first screen: everything above the fold at 360×640 holds the flags and the patient.
        out.flagsInView = [...document.querySelectorAll("#critical [data-critical]")].every((e) => e.getBoundingClientRect().bottom <= innerHeight);
      }
      return out;
    },
    { url, online },
  );
}

// ---- the run -------------------------------------------------------------------------------------

async function main() {
  const server = await Server.start(["--scans-per-device-per-min", "0", "--scans-per-addr-per-min", "0"]);
  const chrome = await startChromium();
  const browser = chrome.browser;
  const out = { bench: "field_network", binary: process.env.KYUKIT_BIN, conditions: { rtt_ms: RTT, kbps_each_way: KBPS }, runs: RUNS, cold_runs: COLD_RUNS };
  try {
    const w = await world(server);
    out.photo_bytes = w.photoBytes;

    // Cold: a fresh profile each time, throttled from the first byte.
    const cold = { usable: [], bytes: [], page_bytes: [], worker_bytes: [], requests: [] };
    for (let i = 0; i < COLD_RUNS; i++) {
      const workers = await throttleWorkers(chrome.wsUrl, CONDITIONS);
      const context = await browser.newContext({ viewport: { width: 360, height: 640 }, locale: "ja-JP" });
      const page = await context.newPage();
      const { counter } = await throttle(context, page, CONDITIONS);
      const t0 = Date.now();
      await page.goto(`${server.url}/pages/field`);
      await page.waitForSelector("body[data-ready='1']", { timeout: 120_000 });
      await page.waitForSelector("#enroll-form input[name=code]", { state: "visible" });
      cold.usable.push(Date.now() - t0);
      // The service worker's precache finishes after the app is usable: wait for it, then count.
      await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
      await page.waitForFunction(async () => (await caches.keys()).length > 0, null, { timeout: 120_000, polling: 250 });
      cold.page_bytes.push(counter.bytes);
      cold.worker_bytes.push(workers.counter.bytes);
      cold.bytes.push(counter.bytes + workers.counter.bytes);
      cold.requests.push(counter.requests + workers.counter.requests);
      await context.close();
      await workers.close();
    }
    out.cold = { usable_ms: summary(cold.usable), bytes: summary(cold.bytes), page_bytes: summary(cold.page_bytes), worker_bytes: summary(cold.worker_bytes), requests: summary(cold.requests) };

    // Warm: enrol and log in unthrottled, the shell cached; then the network slows.
    const context = await browser.newContext({ viewport: { width: 360, height: 640 }, locale: "ja-JP" });
    const page = await context.newPage();
    await page.goto(`${server.url}/pages/field`);
    await page.waitForSelector("body[data-ready='1']");
    await page.fill("#enroll-form input[name=code]", w.code);
    await page.fill("#enroll-form input[name=label]", "救急1号車タブレット");
    await page.click("#enroll-form button[type=submit]");
    await page.waitForSelector("#login-form input[name=login_id]", { state: "visible" });
    await page.fill("#login-form input[name=login_id]", w.medic.login);
    await page.fill("#login-form input[name=password]", w.medic.password);
    await page.fill("#login-form input[name=totp]", await w.medic.auth.code());
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("#login", { state: "hidden" });
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
    await page.fill("#incident-ref", "BENCH-1");
    const { cdp } = await throttle(context, page, CONDITIONS);
    const warm = { verdict: [], dataset: [], photo: [], flagsInView: 0 };
    for (let i = 0; i < RUNS + 1; i++) {
      const r = await timedDecode(page, w.card.url, { online: true });
      if (i === 0) continue; // the first one warms the connection
      warm.verdict.push(r.verdict);
      warm.dataset.push(r.dataset);
      warm.photo.push(r.photo);
      if (r.flagsInView) warm.flagsInView += 1;
    }
    out.warm = { verdict_ms: summary(warm.verdict), first_screen_ms: summary(warm.dataset), photo_ms: summary(warm.photo), flags_in_first_viewport: `${warm.flagsInView}/${RUNS}` };

    // Offline: the network gone, the card verified on the device.
    await cdp.send("Network.emulateNetworkConditions", { ...CONDITIONS, offline: true });
    await page.waitForFunction(() => document.querySelector("#net")?.dataset.net !== "online", null, { timeout: 60_000 });
    const offline = [];
    for (let i = 0; i < RUNS; i++) offline.push((await timedDecode(page, w.card.url, { online: false })).verdict);
    out.offline = { verdict_ms: summary(offline) };
    await context.close();
  } finally {
    await chrome.close();
    await server.cleanup();
  }
  if (JSON_OUT) {
    console.log(JSON.stringify(out));
    return;
  }
  const row = (name, s, unit = "ms") => console.log(`${name.padEnd(44)} ${String(s.p50).padStart(8)} ${String(s.p95).padStart(8)} ${String(s.max).padStart(8)}  ${unit} (n=${s.n})`);
  console.log(`field app on ${RTT} ms RTT, ${KBPS} kbit/s each way (${out.binary})`);
  console.log(`${"".padEnd(44)} ${"p50".padStart(8)} ${"p95".padStart(8)} ${"max".padStart(8)}`);
  row("cold: open → usable", out.cold.usable_ms);
  row("cold: bytes (page + service worker)", out.cold.bytes, "bytes");
  row("cold: bytes, page", out.cold.page_bytes, "bytes");
  row("cold: bytes, service worker precache", out.cold.worker_bytes, "bytes");
  row("warm: decode → verdict + triage core", out.warm.verdict_ms);
  row("warm: decode → first screen (dataset)", out.warm.first_screen_ms);
  row("warm: decode → identity photo shown", out.warm.photo_ms);
  row("offline: decode → verdict + triage core", out.offline.verdict_ms);
  console.log(`flags inside the first 360×640 viewport: ${out.warm.flags_in_first_viewport}; photo ${out.photo_bytes} bytes`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
