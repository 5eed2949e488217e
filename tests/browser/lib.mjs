// The browser test harness: a real `kyukit serve` (debug binary, fresh data directory, SQLite, a
// random free port), Debian's Chromium driven by playwright-core, TOTP codes (RFC 6238) for staff
// logins, the JSON API for setting up what a scenario needs, screenshots at phone and desktop sizes
// in both languages (target/screenshots/pages/), axe-core, and a check that no text is left
// untranslated, unresolved or empty.
//
// Paramedic devices are the real field client (`kyukit-field`, RFC 9421 signed requests).
//
// Scenarios (scenarios/*.mjs) get one `Harness`; see run.mjs. To add a camera-driven page later,
// launch a second browser with `h.launch(["--use-fake-device-for-media-stream",
// "--use-file-for-fake-video-capture=<file.y4m>"])`.

import { spawn, spawnSync, execFileSync, execSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { Authenticator } from "./totp.mjs";

export { Authenticator, base32Decode, hotp, totp } from "./totp.mjs";

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, "../..");
// Outputs go under target/ (ignored), never over tracked files.
export const SCREENSHOTS = path.join(ROOT, "target", "screenshots", "pages");
export const KYUKIT = process.env.KYUKIT_BIN || path.join(ROOT, "target", "debug", "kyukit");
export const KYUKIT_FIELD = process.env.KYUKIT_FIELD_BIN || path.join(ROOT, "target", "debug", "kyukit-field");
export const ORACLE_PYTHON = path.join(ROOT, "target", "oracle-venv", "bin", "python");

/** Phone (390×844, 360×640) and desktop (1280×800) viewports. */
export const SIZES = [
  { width: 390, height: 844 },
  { width: 360, height: 640 },
  { width: 1280, height: 800 },
];
export const LANGS = ["ja", "en"];

export const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"];

// ---------------------------------------------------------------------------------------------
// The server

export class Server {
  static async start({ env = {}, args = [] } = {}) {
    if (!fs.existsSync(KYUKIT)) throw new Error(`${KYUKIT} is missing: cargo build -p kyukit-server --bin kyukit`);
    const s = new Server();
    s.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kyukit-browser-"));
    s.env = { ...process.env, KYUKIT_DATA_DIR: s.dataDir, KYUKIT_PUBLIC_URL: "https://qq.city.joso.lg.jp/", KYUKIT_LOG: "warn", ...env };
    delete s.env.DATABASE_URL; // SQLite in the data directory
    s.adminPassword = "city admin password 1";
    s.admin = await s.createStaff({ loginId: "admin", name: "市役所 管理者" });
    await s.spawn(args);
    s.adminAuth = new Authenticator(s.admin.secret);
    return s;
  }

  /** Stops the process and serves the same data directory again with `args` (e.g. another clock). */
  async restart(args = []) {
    if (this.proc && this.proc.exitCode === null) {
      this.proc.kill("SIGTERM");
      await new Promise((r) => this.proc.once("exit", r));
    }
    this._adminToken = null;
    await this.spawn(args);
  }

  async spawn(args) {
    const s = this;
    s.proc = spawn(KYUKIT, ["serve", "--listen", "127.0.0.1:0", ...args], { env: s.env, stdio: ["ignore", "pipe", "pipe"] });
    s.log = "";
    s.proc.stderr.on("data", (d) => {
      s.log += d;
    });
    s.url = await new Promise((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`kyukit serve did not start:\n${out}\n${s.log}`)), 60_000);
      s.proc.stdout.on("data", (d) => {
        out += d;
        const m = /health:\s+(http:\/\/[^/\s]+)\/healthz/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      s.proc.on("exit", (code) => reject(new Error(`kyukit serve exited (${code}):\n${out}\n${s.log}`)));
    });
  }

  /** `kyukit admin create`: a staff account; returns its TOTP secret (printed once). */
  async createStaff({ loginId, name, role = "city_admin", facility = null, password = this.adminPassword }) {
    const args = ["admin", "create", "--login-id", loginId, "--name", name, "--role", role];
    if (facility) args.push("--facility", facility);
    const out = execFileSync(KYUKIT, args, { env: { ...this.env, KYUKIT_ADMIN_PASSWORD: password }, encoding: "utf8" });
    const secret = /secret: ([A-Z2-7]+)/.exec(out)?.[1];
    if (!secret) throw new Error(`no TOTP secret in: ${out}`);
    return { loginId, password, secret };
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null) {
      this.proc.kill("SIGTERM");
      await new Promise((r) => this.proc.once("exit", r));
    }
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** A JSON API call; resolves to {status, body}. */
  async call(method, p, body, token) {
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(this.url + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: r.status, body: json };
  }

  /** Like call, but throws unless the status is 2xx. */
  async ok(method, p, body, token) {
    const r = await this.call(method, p, body, token);
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${p} → ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /** A new city administrator's session (password + the next unused TOTP step). */
  async adminLogin() {
    const r = await this.ok("POST", "/api/v1/sessions", { login_id: this.admin.loginId, password: this.admin.password, totp: await this.adminAuth.code() });
    return r.token;
  }

  /** The harness's own city administrator session, for setting things up through the API. */
  async adminToken() {
    if (!this._adminToken) this._adminToken = await this.adminLogin();
    return this._adminToken;
  }

  /** A resident registered through the API; returns {token, residentId, loginId, password}. */
  async resident(loginId, profile = {}) {
    const password = "resident password 1";
    const r = await this.ok("POST", "/api/v1/residents", {
      login_id: loginId,
      password,
      profile: { family_name: "常総", given_name: "花子", date_of_birth: "1941-05-03", sex: "female", address: "茨城県常総市水海道諏訪町1", district: "水海道", preferred_language: "ja", ...profile },
    });
    return { token: r.token, residentId: r.resident_id, loginId, password };
  }

  /** A consenting resident made through the API (for paramedics to find). */
  async consentingResident(loginId, profile = {}) {
    const r = await this.resident(loginId, profile);
    await this.ok("POST", `/api/v1/residents/${r.residentId}/consents`, { categories: ["medications", "allergies", "blood_type", "emergency_contacts"], disaster_use: true, triage_on_card: true, name_on_print: false }, r.token);
    return r;
  }

  /**
   * A paramedic on an enrolled device, through the real field client (`kyukit-field`: device key,
   * RFC 9421 signed requests). `facilityId` defaults to a fire department made for the purpose;
   * `credentials` ({loginId, password, secret}) default to a paramedic ID made through the API;
   * `code` defaults to a fresh enrollment code.
   */
  async paramedic({ facilityId = null, credentials = null, code = null, label = "救急1号車タブレット" } = {}) {
    const token = await this.adminToken();
    if (!facilityId) {
      const f = await this.ok("POST", "/api/v1/facilities", { kind: "fire_department", name_ja: "常総消防 水海道分署", name_en: "Joso Fire, Mitsukaido station", address: "茨城県常総市水海道天満町1", phone: "0297-22-0119" }, token);
      facilityId = f.id;
    }
    if (!credentials) {
      const n = (this._medics = (this._medics || 0) + 1);
      const password = "paramedic password 1";
      const st = await this.ok("POST", `/api/v1/facilities/${facilityId}/staff`, { login_id: `medic${n}`, password, role: "paramedic", display_name: `救急 隊員${n}`, profession: "paramedic" }, token);
      credentials = { loginId: st.login_id, password, secret: st.totp.secret };
    }
    if (!code) code = (await this.ok("POST", `/api/v1/facilities/${facilityId}/enrollment-codes`, { label }, token)).code;
    const device = new FieldDevice(this, credentials);
    device.enrolled = device.run(["enroll", "--server", this.url, "--code", code, "--key-file", device.keyFile, "--label", label]).json();
    device.run(["login", "--state", device.stateFile, "--login-id", credentials.loginId, "--totp", await device.auth.code()], { KYUKIT_PASSWORD: credentials.password }).json();
    device.facilityId = facilityId;
    return device;
  }
}

/** An enrolled device driven by the `kyukit-field` CLI. */
export class FieldDevice {
  constructor(server, credentials) {
    if (!fs.existsSync(KYUKIT_FIELD)) throw new Error(`${KYUKIT_FIELD} is missing: cargo build -p kyukit-field --bin kyukit-field`);
    this.server = server;
    this.credentials = credentials;
    this.auth = new Authenticator(credentials.secret);
    this.dir = fs.mkdtempSync(path.join(server.dataDir, "device-"));
    this.keyFile = path.join(this.dir, "device.pem");
    this.stateFile = path.join(this.dir, "device.json");
  }

  /** Runs the CLI; `.ok` (exit 0), `.stderr`, `.json()` (throws unless it succeeded). */
  run(args, env = {}) {
    const r = spawnSync(KYUKIT_FIELD, args, { env: { ...process.env, ...env }, encoding: "utf8", timeout: 30_000 });
    return {
      ok: r.status === 0,
      status: r.status,
      stderr: r.stderr,
      json() {
        if (r.status !== 0) throw new Error(`kyukit-field ${args[0]} failed (${r.status}): ${r.stderr}`);
        return JSON.parse(r.stdout);
      },
    };
  }

  scan(card, incident = "INC-0001") {
    return this.run(["scan", "--state", this.stateFile, "--card", card, "--incident", incident]);
  }

  breakGlass({ familyName, givenName, dateOfBirth, reason, incident = "INC-0002" }) {
    return this.run(["break-glass", "--state", this.stateFile, "--family-name", familyName, "--given-name", givenName, "--date-of-birth", dateOfBirth, "--reason", reason, "--incident", incident]);
  }
}

// ---------------------------------------------------------------------------------------------
// The browser

export function chromiumPath() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  return execSync("which chromium", { encoding: "utf8" }).trim();
}

export async function launch(extraArgs = []) {
  return chromium.launch({ executablePath: chromiumPath(), args: [...CHROMIUM_FLAGS, ...extraArgs], headless: true });
}

const AXE_SOURCE = fs.readFileSync(path.join(HERE, "node_modules", "axe-core", "axe.min.js"), "utf8");

/**
 * One scenario's harness: the server, the browser, and the checks every page gets. Problems found
 * by the checks (axe, text, CSP, script errors) are collected and fail the run at the end.
 */
export class Harness {
  static async start(opts = {}) {
    const h = new Harness();
    h.server = await Server.start(opts.server);
    h.browser = await launch(opts.chromiumArgs || []);
    h.problems = [];
    h.shots = [];
    h.axeRuns = 0;
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    return h;
  }

  async stop() {
    await this.browser?.close();
    await this.server?.stop();
  }

  problem(where, what) {
    this.problems.push(`${where}: ${what}`);
  }

  /**
   * A fresh browser context (its own storage) with one page, in the harness's browser or in
   * `browser` (e.g. one from `launch([...fake camera flags])`).
   */
  async page({ lang = "ja", viewport = SIZES[2], name = "page", contextOptions = {}, browser = this.browser } = {}) {
    const context = await browser.newContext({ viewport, locale: lang === "ja" ? "ja-JP" : "en-GB", timezoneId: "Asia/Tokyo", acceptDownloads: true, ...contextOptions });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on("pageerror", (e) => this.problem(name, `script error: ${e.message}`));
    page.on("console", (m) => {
      const t = m.text();
      if (m.type() === "error" && !/Failed to load resource/.test(t)) this.problem(name, `console error: ${t}`);
      if (/Content Security Policy|Refused to/.test(t)) this.problem(name, `CSP: ${t}`);
    });
    page.on("dialog", (d) => d.accept()); // window.print and similar must not block
    await context.addInitScript((l) => {
      if (!localStorage.getItem("kyukit.lang")) localStorage.setItem("kyukit.lang", l);
    }, lang);
    return page;
  }

  /** Waits until the page says which view it finished rendering. */
  async ready(page, view) {
    await page.waitForFunction((v) => document.body.dataset.ready === v, view);
  }

  /** Switches the page's language with its own ja/en button (the user's way). */
  async setLang(page, lang) {
    const current = await page.evaluate(() => document.documentElement.lang);
    if (current === lang) return;
    if ((await page.locator("#lang").evaluate((e) => e.tagName)) === "A") {
      // Server-rendered pages switch with a link.
      await Promise.all([page.waitForURL(new RegExp(`lang=${lang}`)), page.click("#lang")]);
      await page.waitForLoadState("load");
    } else {
      await page.click("#lang");
    }
    await page.waitForFunction((l) => document.documentElement.lang === l, lang);
  }

  /**
   * Every check for one page state: for each language, the text check and axe-core; for each
   * size and language, a full-page screenshot target/screenshots/pages/<name>-<lang>-<w>x<h>.png. The
   * page ends in the language it started in.
   */
  async capture(page, name, { sizes = SIZES } = {}) {
    const start = await page.evaluate(() => document.documentElement.lang);
    const viewport = page.viewportSize();
    for (const lang of LANGS) {
      await this.setLang(page, lang);
      await this.checkText(page, `${name} [${lang}]`, lang);
      await this.axe(page, `${name} [${lang}]`);
      for (const size of sizes) {
        await page.setViewportSize(size);
        await page.evaluate(() => document.fonts.ready);
        const file = path.join(SCREENSHOTS, `${name}-${lang}-${size.width}x${size.height}.png`);
        await page.screenshot({ path: file, fullPage: true, animations: "disabled", caret: "hide" });
        this.shots.push(file);
      }
      // axe again on a phone: layout-dependent rules (target size, reflow, scrolling regions).
      await page.setViewportSize(SIZES[1]);
      await this.axe(page, `${name} [${lang}, ${SIZES[1].width}px]`);
    }
    await page.setViewportSize(viewport);
    await this.setLang(page, start);
  }

  /** axe-core (WCAG 2.x A/AA and best practices): any serious or critical violation is a problem. */
  async axe(page, where) {
    this.axeRuns++;
    // Injected through the DevTools protocol, which the page's CSP does not govern; the page itself
    // still runs under its strict CSP (violations are reported as problems).
    if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE_SOURCE);
    const result = await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ["violations"] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
    });
    for (const v of result) {
      if (v.impact === "serious" || v.impact === "critical") this.problem(where, `axe ${v.impact} ${v.id} (${v.help}) at ${v.nodes.join(", ")}`);
    }
    return result;
  }

  /**
   * The text check: nothing visible is an unresolved key (⟦…⟧, {{…}}, "undefined", "null",
   * "NaN", "[object …]"); every bilingual element shows its text in the current language; labels,
   * buttons, headings, links, options, table headers and legends are not empty; in English, no
   * Japanese is visible except people's own data (translate="no") and text marked lang="ja".
   */
  async checkText(page, where, lang) {
    const found = await page.evaluate((lang) => {
      const bad = [];
      const visible = (el) => {
        if (!el.getClientRects().length) return false;
        const s = getComputedStyle(el);
        return s.visibility !== "hidden" && s.display !== "none";
      };
      const snippet = (el) => `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}${el.className ? `.${String(el.className).split(" ")[0]}` : ""}> "${(el.textContent || "").trim().slice(0, 60)}"`;
      if (document.documentElement.lang !== lang) bad.push(`html lang is ${document.documentElement.lang}`);
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      const jp = /[\u3040-\u30ff\u3400-\u9fff\uff01-\uff60]/;
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const el = n.parentElement;
        if (!el || !visible(el) || el.closest("script, style, template, [hidden]")) continue;
        const t = n.textContent;
        if (/⟦|⟧|\{\{|\}\}|\bundefined\b|\bNaN\b|\[object /.test(t) || /^\s*null\s*$/.test(t)) bad.push(`unresolved text in ${snippet(el)}`);
        // 支援中止 is the municipal term for withdrawal: English text keeps it in parentheses.
        if (lang === "en" && jp.test(t.replace(/支援中止/g, "")) && !el.closest('[translate="no"], [lang="ja"]')) {
          bad.push(`Japanese text in English page: ${snippet(el)}`);
        }
      }
      for (const el of document.querySelectorAll("[data-ja]")) {
        if (!visible(el) || el.closest("[hidden]")) continue;
        const want = el.dataset[lang];
        if (!want || !want.trim()) bad.push(`no ${lang} text for ${snippet(el)}`);
        else if (el.textContent !== want) bad.push(`${snippet(el)} shows "${el.textContent.slice(0, 40)}", not its ${lang} text`);
      }
      for (const el of document.querySelectorAll("button, label, h1, h2, h3, th, legend, summary, a, option, dt, figcaption, title")) {
        if (el.tagName !== "OPTION" && el.tagName !== "TITLE" && (!visible(el) || el.closest("[hidden]"))) continue;
        if (el.tagName === "OPTION" && el.closest("[hidden]")) continue;
        const name = (el.textContent || "").trim() || el.getAttribute("aria-label") || "";
        if (!name) bad.push(`empty ${snippet(el)}`);
      }
      for (const el of document.querySelectorAll("p, td, dd, li")) {
        if (!visible(el) || el.closest("[hidden]")) continue;
        if (!(el.textContent || "").trim() && !el.querySelector("img, input, select, button, textarea")) bad.push(`empty ${snippet(el)}`);
      }
      if (!document.title.trim()) bad.push("empty <title>");
      return bad;
    }, lang);
    for (const f of found) this.problem(where, f);
  }

  /** Decodes a QR code in a PNG with zxing-cpp (an independent decoder, the Python oracle). */
  decodeQr(pngFile) {
    if (!fs.existsSync(ORACLE_PYTHON)) throw new Error(`${ORACLE_PYTHON} is missing: tests/run.sh creates it (the oracle step) before this suite`);
    const script = "import sys, zxingcpp\nfrom PIL import Image\nrs = zxingcpp.read_barcodes(Image.open(sys.argv[1]))\nprint('\\n'.join(r.text for r in rs if r.format == zxingcpp.BarcodeFormat.QRCode))";
    return execFileSync(ORACLE_PYTHON, ["-c", script, pngFile], { encoding: "utf8" }).trim();
  }
}

/** The control of a form field by its API name (`data-field`), within `scope`. */
export const control = (scope, name) => scope.locator(`[data-field="${name}"]`).locator("input, select, textarea").first();

/** Fills fields by API name: strings into inputs and selects, booleans into checkboxes. */
export async function fillForm(scope, values) {
  for (const [name, v] of Object.entries(values)) {
    if (name === "date_of_birth") {
      const [y, m, d] = v.split("-");
      const box = scope.locator('[data-field="date_of_birth"]');
      await box.locator('select[name$="_year"]').selectOption(y);
      await box.locator('select[name$="_month"]').selectOption(m);
      await box.locator('select[name$="_day"]').selectOption(d);
      continue;
    }
    const c = control(scope, name);
    const tag = await c.evaluate((e) => `${e.tagName}:${e.type}`);
    if (tag.startsWith("SELECT")) await c.selectOption(v);
    else if (tag === "INPUT:checkbox") await c.setChecked(v);
    else await c.fill(v);
  }
}
