// Issue 21 in Chromium, at 360×640, on a server of its own served as http://localhost:<port> (a
// WebAuthn relying party id must be a domain name, not an IP address):
//   - a card URL opened in a new tab of the same browser profile (the camera app's hand-off)
//     shows the dataset without a login form;
//   - a patient without a card: estimated age and sex, onset and last known well; the report
//     reaches the ED board;
//   - break-glass search from the app: the emergency categories, and the access in the city's
//     review queue (admin API);
//   - biometric unlock with Chromium's virtual authenticator (CDP WebAuthn, user verification
//     on): unlock works; after the city revokes the device it does not.
// Run by run.mjs after its own steps (`fieldAuth`).

import assert from "node:assert/strict";
import net from "node:net";
import { Authenticator, launch, Server, SIZES } from "./lib.mjs";

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function world(server) {
  const admin = await server.adminToken();
  const fac = (kind, ja, en, phone) =>
    server.ok("POST", "/api/v1/facilities", { kind, name_ja: ja, name_en: en, address: "茨城県常総市水海道諏訪町3222-3", phone }, admin);
  const fire = await fac("fire_department", "常総広域消防本部", "Joso Regional Fire HQ", "0297-23-0119");
  const hosp = await fac("hospital", "きぬ医師会病院", "Kinu Medical Association Hospital", "0297-23-1111");
  const staff = async (facility, login, role) => {
    const password = `${role} password 1`;
    const r = await server.ok("POST", `/api/v1/facilities/${facility}/staff`, { login_id: login, password, role, display_name: "職員" }, admin);
    return { login, password, auth: new Authenticator(r.totp.secret) };
  };
  const medic = await staff(fire.id, "medic2", "paramedic");
  const ed = await staff(hosp.id, "ed-kinu2", "ed_staff");
  const code = (await server.ok("POST", `/api/v1/facilities/${fire.id}/enrollment-codes`, { label: "救急2号車" }, admin)).code;
  const reg = await server.ok("POST", "/api/v1/residents", {
    login_id: "ume",
    password: "correct horse battery",
    profile: { family_name: "佐藤", given_name: "うめ", family_name_kana: "サトウ", given_name_kana: "ウメ", date_of_birth: "1938-07-21", sex: "female", address: "茨城県常総市新石下4310", district: "石下", phone: "0297-42-1111", preferred_language: "ja" },
  });
  const rid = reg.resident_id;
  for (const [category, body] of [
    ["medications", { name: "インスリン グラルギン", dose: "10単位", frequency: "就寝前", insulin: true }],
    ["allergies", { substance: "ヨード造影剤", reaction: "じんましん", severity: "moderate" }],
    ["conditions", { name: "2型糖尿病", icd10: "E11.9" }],
  ]) {
    await server.ok("POST", `/api/v1/residents/${rid}/dataset`, { category, body }, reg.token);
  }
  await server.ok("POST", `/api/v1/residents/${rid}/consents`, { categories: ["medications", "allergies"], disaster_use: false, triage_on_card: true, name_on_print: false }, reg.token);
  const card = await server.ok("POST", `/api/v1/residents/${rid}/cards`, {}, reg.token);
  return { admin, fire, hosp, medic, ed, code, card, rid };
}

/** Issue 21's steps; `step`, `checks` and `browsers` are run.mjs's. */
export async function fieldAuth({ step, checks, browsers }) {
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const server = await Server.start(["--escalate-after-secs", "600"], { listen: `127.0.0.1:${port}`, env: { KYUKIT_WEBAUTHN_ORIGIN: origin } });
  try {
    const w = await world(server);
    const browser = await launch();
    browsers.push(browser);
    const { page, context } = await checks.page(browser, { name: "field-auth", viewport: SIZES[0] });
    // A platform authenticator that verifies its user (fingerprint or screen lock), for this tab.
    const cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: { protocol: "ctap2", transport: "internal", hasUserVerification: true, isUserVerified: true, hasResidentKey: true },
    });
    const digits = w.card.url.split("/").pop();
    const login = async () => {
      await page.fill("#login-form input[name=login_id]", w.medic.login);
      await page.fill("#login-form input[name=password]", w.medic.password);
      await page.fill("#login-form input[name=totp]", await w.medic.auth.code());
      await page.click("#login-form button[type=submit]");
      await page.waitForSelector("#login", { state: "hidden" });
    };

    await step("issue 21: enrol and log in with password + TOTP; the app offers the screen lock, and registers it", async () => {
      await page.goto(`${origin}/pages/field`);
      await page.waitForSelector("body[data-ready='1']");
      await page.fill("#enroll-form input[name=code]", w.code);
      await page.fill("#enroll-form input[name=label]", "救急2号車スマホ");
      await page.click("#enroll-form button[type=submit]");
      await page.waitForSelector("#login:not([hidden])");
      assert.equal(await page.isVisible("#unlock"), false, "nothing registered yet: no unlock button");
      await login();
      await page.waitForSelector("#webauthn-offer:not([hidden])");
      await checks.capture(page, "field-webauthn-offer");
      await page.click("#webauthn-register");
      await page.waitForSelector("#webauthn-offer", { state: "hidden" });
      assert.match(await page.textContent("#msg"), /登録しました/);
      const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
      assert.equal(credentials.length, 1);
      // The service worker is in charge of the origin (it turns card URLs into the app).
      await page.evaluate(async () => {
        await navigator.serviceWorker.ready;
      });
      await page.waitForFunction(() => Boolean(navigator.serviceWorker.controller));
    });

    await step("issue 21: a card URL opened in a new tab (the camera app's hand-off) shows the dataset without a login form", async () => {
      const tab = await context.newPage();
      checks.watch(tab, "field-new-tab");
      await tab.goto(`${origin}/c/${digits}`);
      await tab.waitForSelector("#verdict[data-verdict]");
      assert.equal(new URL(tab.url()).pathname, "/pages/field");
      assert.equal(await tab.getAttribute("#verdict", "data-verdict"), "genuine");
      await tab.waitForSelector("#dataset-body [data-category=medications]");
      assert.match(await tab.textContent("#dataset-body"), /インスリン/);
      assert.equal(await tab.isVisible("#login-form"), false, "no login form in the new tab");
      assert.equal(await tab.isVisible("#login"), false);
      // The token is in IndexedDB beside the device key, not in this tab's sessionStorage.
      assert.equal(await tab.evaluate(() => sessionStorage.length), 0);
      await checks.capture(tab, "field-new-tab-dataset");
      // Logging out here logs out the other tab too.
      await tab.click("#logout");
      await page.waitForSelector("#login:not([hidden])");
      await tab.close();
      await page.waitForSelector("#unlock:not([hidden])");
    });

    await step("issue 21: unlock with the screen lock (virtual authenticator, user verified) opens a session", async () => {
      await checks.capture(page, "field-unlock");
      await page.click("#unlock");
      await page.waitForSelector("#login", { state: "hidden" });
      assert.match(await page.textContent("#who"), /medic2/);
      const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
      assert.ok(credentials[0].signCount >= 1, "the authenticator signed");
    });

    await step("issue 21: a patient without a card — estimated age, sex, onset and last known well; the report reaches the ED board", async () => {
      const ed = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "ja-JP", timezoneId: "Asia/Tokyo" });
      const board = await ed.newPage();
      checks.watch(board, "ed-board-nocard");
      await board.goto(`${origin}/pages/ed`);
      await board.waitForSelector("body[data-ready='1']");
      await board.fill("#login-form input[name=login_id]", w.ed.login);
      await board.fill("#login-form input[name=password]", w.ed.password);
      await board.fill("#login-form input[name=totp]", await w.ed.auth.code());
      await board.click("#login-form button[type=submit]");
      await board.waitForSelector("#board:not([hidden])");

      await page.click("#nocard-start");
      await page.waitForSelector("#nocard:not([hidden])");
      await page.selectOption("#nocard-form select[name=age_band]", "70s");
      await page.click("label[for=nc-sex-male]");
      await page.fill("#nocard-form input[name=onset]", "08:40");
      await page.fill("#nocard-form input[name=lkw]", "08:30");
      await checks.capture(page, "field-nocard");
      await page.click("#nocard-form button[type=submit]");
      await page.waitForSelector("#report:not([hidden])");
      assert.match(await page.textContent("#report-patient"), /カードなし.*70–79.*男性/);
      await page.fill("#report-form input[name=chief_complaint]", "右半身の麻痺、言葉が出ない");
      await page.click("label[for=activation-stroke]");
      await page.click("#report-form button[type=submit]");
      await page.waitForSelector("#hospitals:not([hidden]) #hospital-list label");
      await page.click(`label[for=hosp-${w.hosp.id}]`);
      await page.click("#ask");
      await board.waitForSelector("[data-incident]", { timeout: 10_000 });
      const card = await board.textContent("[data-incident]");
      assert.match(card, /右半身の麻痺/);
      assert.match(card, /70/);
      await ed.close();
    });

    await step("issue 21: break-glass search from the app shows the emergency categories and is in the city's review queue", async () => {
      await page.click("#bg summary");
      await page.fill("#bg-form input[name=family_name]", "サトウ");
      await page.fill("#bg-form input[name=given_name]", "ウメ");
      await page.fill("#bg-form input[name=date_of_birth]", "1938-07-21");
      await page.fill("#bg-form textarea[name=reason]", "意識がなく、自宅にカードが見当たらない");
      await checks.capture(page, "field-break-glass-form");
      await page.click("#bg-form button[type=submit]");
      await page.waitForSelector("#verdict[data-verdict=break_glass]");
      await page.waitForSelector("#dataset-body [data-category=medications]");
      const text = await page.textContent("#dataset-body");
      assert.match(text, /インスリン/);
      assert.match(text, /ヨード造影剤/);
      assert.doesNotMatch(text, /2型糖尿病/, "not consented: not shown");
      assert.match(await page.textContent("#verdict"), /1時間/);
      await checks.capture(page, "field-break-glass-result");
      const queue = await server.ok("GET", "/api/v1/reviews/break-glass", undefined, w.admin);
      const mine = queue.accesses.filter((a) => a.reason === "意識がなく、自宅にカードが見当たらない");
      assert.equal(mine.length, 1, JSON.stringify(queue));
    });

    await step("issue 21: after the city revokes the device, the screen lock no longer unlocks", async () => {
      await page.click("#logout");
      await page.waitForSelector("#unlock:not([hidden])");
      const device = await page.evaluate(async () => (await (await import("/pages/field/store.js")).get("device")).id);
      await server.ok("POST", `/api/v1/devices/${device}/revoke`, { reason: "lost on scene" }, w.admin);
      await page.click("#unlock");
      await page.waitForFunction(() => /解除できませんでした/.test(document.querySelector("#msg")?.textContent || ""));
      assert.ok(await page.isVisible("#login"), "still locked");
      assert.equal(await page.textContent("#who"), "");
      await checks.capture(page, "field-unlock-revoked");
    });
  } finally {
    await server.cleanup().catch(() => {});
  }
}
