// A small, self-contained harness for the paramedic PWA and the ED board in real Chromium:
// a `kyukit serve` (debug binary, fresh data directory, SQLite, a random port), the JSON API for
// setting up a world, TOTP codes (RFC 6238), Debian's Chromium through playwright-core (a fake
// camera fed a Y4M video where a scenario needs one), and the checks every page state gets:
// axe-core (no serious or critical violation), the text check (no ⟦key⟧, undefined, NaN …; no
// Japanese left in English outside people's own data) and screenshots at 360×640, 390×844 and
// 1280×800 in both languages under target/screenshots/field/.

import { execFileSync, execSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { Authenticator } from "../totp.mjs";

export { Authenticator };

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, "../../..");
// Outputs go under target/ (ignored), never over tracked files.
export const SCREENSHOTS = path.join(ROOT, "target", "screenshots", "field");
export const KYUKIT = process.env.KYUKIT_BIN || path.join(ROOT, "target", "debug", "kyukit");
export const PYTHON = process.env.ORACLE_PYTHON || path.join(ROOT, "target", "oracle-venv", "bin", "python");
export const SIZES = [
  { width: 360, height: 640 },
  { width: 390, height: 844 },
  { width: 1280, height: 800 },
];
export const LANGS = ["ja", "en"];
export const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"];

// ---- the server ----------------------------------------------------------------------------------

export class Server {
  /** `listen`: the address (default a free port on 127.0.0.1); `env`: more environment. */
  static async start(args = [], { listen = "127.0.0.1:0", env = {} } = {}) {
    if (!fs.existsSync(KYUKIT)) throw new Error(`${KYUKIT} is missing: cargo build -p kyukit-server --bin kyukit`);
    const s = new Server();
    s.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kyukit-field-browser-"));
    s.env = { ...process.env, KYUKIT_DATA_DIR: s.dataDir, KYUKIT_PUBLIC_URL: "https://qq.city.joso.lg.jp/", KYUKIT_LOG: "warn", ...env };
    delete s.env.DATABASE_URL;
    const out = execFileSync(KYUKIT, ["admin", "create", "--login-id", "admin", "--name", "市役所 管理者"], {
      env: { ...s.env, KYUKIT_ADMIN_PASSWORD: "city admin password 1" },
      encoding: "utf8",
    });
    s.adminAuth = new Authenticator(/secret: ([A-Z2-7]+)/.exec(out)[1]);
    s.proc = spawn(KYUKIT, ["serve", "--listen", listen, ...args], { env: s.env, stdio: ["ignore", "pipe", "pipe"] });
    s.log = "";
    s.proc.stderr.on("data", (d) => {
      s.log += d;
    });
    s.url = await new Promise((resolve, reject) => {
      let buf = "";
      const timer = setTimeout(() => reject(new Error(`kyukit serve did not start:\n${buf}\n${s.log}`)), 60_000);
      s.proc.stdout.on("data", (d) => {
        buf += d;
        const m = /health:\s+(http:\/\/[^/\s]+)\/healthz/.exec(buf);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      s.proc.on("exit", (code) => reject(new Error(`kyukit serve exited (${code}):\n${buf}\n${s.log}`)));
    });
    return s;
  }

  /** Stops the process (the data directory stays until `cleanup`); SIGKILL: the server is gone. */
  async kill(signal = "SIGTERM") {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once("exit", r));
      this.proc.kill(signal);
      await exited;
    }
  }

  async cleanup() {
    await this.kill();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  async call(method, p, body, token) {
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(this.url + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const buf = Buffer.from(await r.arrayBuffer());
    let json = null;
    try {
      json = JSON.parse(buf.toString("utf8"));
    } catch {
      json = null;
    }
    return { status: r.status, body: json, bytes: buf };
  }

  async ok(method, p, body, token) {
    const r = await this.call(method, p, body, token);
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${p} → ${r.status} ${JSON.stringify(r.body)}`);
    return r.body ?? r.bytes;
  }

  async adminToken() {
    if (!this._admin) {
      this._admin = (await this.ok("POST", "/api/v1/sessions", { login_id: "admin", password: "city admin password 1", totp: await this.adminAuth.code() })).token;
    }
    return this._admin;
  }
}

// ---- the browser and the checks ------------------------------------------------------------------

export function chromiumPath() {
  return process.env.CHROMIUM || execSync("which chromium", { encoding: "utf8" }).trim();
}

export function launch(extra = []) {
  return chromium.launch({ executablePath: chromiumPath(), args: [...CHROMIUM_FLAGS, ...extra], headless: true });
}

/** Chromium with a fake camera that plays `y4m` (and grants it without asking). */
export function launchWithCamera(y4m) {
  return launch(["--use-fake-device-for-media-stream", `--use-file-for-fake-video-capture=${y4m}`, "--use-fake-ui-for-media-stream"]);
}

const AXE = fs.readFileSync(path.join(HERE, "node_modules", "axe-core", "axe.min.js"), "utf8");

export class Checks {
  constructor() {
    this.problems = [];
    this.shots = 0;
    this.axeRuns = 0;
    // Each run writes its screenshots afresh: none left over from states that no longer exist.
    fs.rmSync(SCREENSHOTS, { recursive: true, force: true });
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
  }

  problem(where, what) {
    this.problems.push(`${where}: ${what}`);
  }

  /** A new context (own storage) and page; script errors and CSP reports become problems. */
  async page(browser, { name, lang = "ja", viewport = SIZES[1], permissions = [] } = {}) {
    const context = await browser.newContext({ viewport, locale: lang === "ja" ? "ja-JP" : "en-GB", timezoneId: "Asia/Tokyo", permissions });
    await context.addInitScript((l) => {
      if (!localStorage.getItem("kyukit.lang")) localStorage.setItem("kyukit.lang", l);
    }, lang);
    const page = await context.newPage();
    this.watch(page, name);
    return { context, page };
  }

  watch(page, name) {
    page.setDefaultTimeout(20_000);
    page.on("pageerror", (e) => this.problem(name, `script error: ${e.message}`));
    page.on("console", (m) => {
      const text = m.text();
      if (/Content Security Policy|Refused to/.test(text)) this.problem(name, `CSP: ${text}`);
      else if (m.type() === "error" && !/Failed to load resource|ERR_INTERNET_DISCONNECTED|net::ERR/.test(text)) this.problem(name, `console error: ${text}`);
    });
    page.on("dialog", (d) => d.accept());
  }

  async setLang(page, lang) {
    if ((await page.evaluate(() => document.documentElement.lang)) === lang) return;
    await page.click(`header [data-lang="${lang}"]`);
    await page.waitForFunction((l) => document.documentElement.lang === l, lang);
  }

  /** Text, axe and screenshots of one page state, in both languages and every size. */
  async capture(page, name) {
    const start = await page.evaluate(() => document.documentElement.lang);
    const viewport = page.viewportSize();
    for (const lang of LANGS) {
      await this.setLang(page, lang);
      await this.text(page, `${name} [${lang}]`, lang);
      for (const size of SIZES) {
        await page.setViewportSize(size);
        await page.evaluate(() => document.fonts.ready);
        await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${lang}-${size.width}x${size.height}.png`), fullPage: true, animations: "disabled", caret: "hide" });
        this.shots++;
        if (size.width !== 390) await this.axe(page, `${name} [${lang} ${size.width}px]`);
      }
    }
    await page.setViewportSize(viewport);
    await this.setLang(page, start);
  }

  async axe(page, where) {
    this.axeRuns++;
    if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE);
    const violations = await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ["violations"] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
    });
    for (const v of violations) {
      if (v.impact === "serious" || v.impact === "critical") this.problem(where, `axe ${v.impact} ${v.id} (${v.help}) at ${v.nodes.join(", ")}`);
    }
  }

  /**
   * Nothing visible is an unresolved key (⟦…⟧), undefined, null, NaN or [object …]; no button,
   * label, heading or legend is empty; in English no Japanese is visible except people's own
   * data (translate="no") and text marked lang="ja"; targets are at least 48 px.
   */
  async text(page, where, lang) {
    const bad = await page.evaluate((lang) => {
      const out = [];
      const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
      if (document.documentElement.lang !== lang) out.push(`html lang is ${document.documentElement.lang}`);
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const el = n.parentElement;
        const s = n.textContent.trim();
        if (!s || !visible(el)) continue;
        if (/⟦|\bundefined\b|\bNaN\b|\[object |\{\w+\}/.test(s) || /^null$|\bnull\b/.test(s)) out.push(`unresolved text "${s.slice(0, 60)}"`);
        if (lang === "en" && /[\u3040-\u30ff\u4e00-\u9fff]/.test(s) && !el.closest('[translate="no"], [lang="ja"]')) out.push(`Japanese in English: "${s.slice(0, 60)}"`);
      }
      for (const el of document.querySelectorAll("button, label, h1, h2, h3, legend, summary, a")) {
        if (visible(el) && !el.textContent.trim() && !el.getAttribute("aria-label")) out.push(`empty <${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}>`);
      }
      for (const el of document.querySelectorAll("button, summary, .choice span, input:not([type=checkbox]):not([type=radio]), a.st-esc, a.tel, a.queue")) {
        if (!visible(el)) continue;
        const r = el.getBoundingClientRect();
        if (r.height < 47.5 || r.width < 47.5) out.push(`target smaller than 48px: <${el.tagName.toLowerCase()}> "${el.textContent.trim().slice(0, 30)}" ${Math.round(r.width)}×${Math.round(r.height)}`);
      }
      return out;
    }, lang);
    for (const b of bad) this.problem(where, b);
  }
}

/** The Y4M video of a QR code (make_y4m.py in target/oracle-venv); returns the decoded text. */
export function y4m({ png = null, text = null, out }) {
  const args = [path.join(HERE, "make_y4m.py"), "--out", out];
  if (png) args.push("--png", png);
  else args.push("--text", text);
  return execFileSync(PYTHON, args, { encoding: "utf8" }).trim();
}
