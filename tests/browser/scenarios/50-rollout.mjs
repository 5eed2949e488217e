// Issue 26, a city rolls it out: the yearly re-confirmation (a record made 400 days ago on a
// server whose clock started then, served again with the real clock: the portal asks, one tap
// clears it; the console lists it by district and makes the reminder letters, read back with
// pdftotext) and the console's upload of a paper-kit register (a dry run listing the broken row
// with its line, column and reason, then the import with its progress bar and report).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Server, fillForm } from "../lib.mjs";

function pdfText(bytes) {
  const file = path.join(os.tmpdir(), `kyukit-letters-${process.pid}-${Math.random().toString(36).slice(2)}.pdf`);
  fs.writeFileSync(file, bytes);
  try {
    return execFileSync("pdftotext", ["-layout", file, "-"], { encoding: "utf8" });
  } finally {
    fs.rmSync(file);
  }
}

async function adminConsole(h, s, name) {
  const page = await h.page({ name });
  await page.goto(`${s.url}/pages/admin`);
  await h.ready(page, "login");
  const form = page.locator("#login-form form");
  await fillForm(form, { login_id: s.admin.loginId, password: s.admin.password, totp: await s.adminAuth.code() });
  await form.locator("button[type=submit]").click();
  await h.ready(page, "facilities");
  await page.click('nav#nav a[href="#residents"]');
  await h.ready(page, "residents");
  return page;
}

const REGISTER = [
  "form_number,consent_date,consent_by,family_name,given_name,date_of_birth,sex,address,family_name_kana,given_name_kana,district,phone,medications,conditions,allergies",
  "K-100001,2025-08-21,本人,佐藤,幸子,1932-08-25,女,茨城県常総市水海道町1-1-4,サトウ,サチコ,水海道,0297-59-8090,,てんかん,",
  "K-100002,2025-08-18,self,飯塚,太郎,1958-13-40,male,茨城県常総市石下町1-2-8,イイヅカ,タロウ,石下,0297-68-5747,,慢性心不全,",
  "K-100003,2025-05-19,本人,小林,博,1957-11-07,male,茨城県常総市菅原町1-3-19,コバヤシ,ヒロシ,菅原,,アムロジピン 5mg,心房細動,ペニシリン:anaphylaxis",
].join("\n") + "\n";

export const scenarios = {
  async "a record past its yearly check: the portal asks and one tap clears it; the console lists it and prints the letters"(h) {
    const past = new Date(Date.now() - 400 * 86_400_000).toISOString();
    const s = await Server.start({ args: ["--test-clock-start", past] });
    try {
      const r = await s.resident("kousin.taro", { family_name: "更新", given_name: "太郎", address: "茨城県常総市水海道森下町2-3", district: "水海道" });
      await s.ok("POST", `/api/v1/residents/${r.residentId}/consents`, { categories: ["medications"], disaster_use: false, triage_on_card: true, name_on_print: false }, r.token);
      await s.restart([]); // now: 400 days later

      const page = await h.page({ name: "reconfirm-portal" });
      await page.goto(`${s.url}/pages/resident`);
      await h.ready(page, "welcome");
      const login = page.locator("#login-form form");
      await fillForm(login, { login_id: r.loginId, password: r.password });
      await login.locator("button[type=submit]").click();
      await h.ready(page, "home");
      await page.locator('#reconfirm[data-stale="yes"] #reconfirm-ok').waitFor();
      assert.match(await page.locator("#reconfirm").textContent(), /登録内容の確認をお願いします/);
      await h.capture(page, "resident-reconfirm-prompt");

      const con = await adminConsole(h, s, "reconfirm-console");
      const row = con.locator("#stale-table tr", { hasText: "更新 太郎" });
      await row.waitFor();
      assert.match(await row.textContent(), /水海道森下町2-3/);
      assert.match(await con.locator("#stale-district").textContent(), /水海道 \(1\)/);
      await con.click("#stale-letters");
      await con.locator("#letters-link").waitFor();
      await h.capture(con, "admin-residents-stale");
      const pdf = await fetch(`${s.url}/api/v1/reconfirmations/letters.pdf`, { headers: { Authorization: `Bearer ${await s.adminToken()}` } });
      assert.equal(pdf.status, 200);
      const text = pdfText(Buffer.from(await pdf.arrayBuffer()));
      assert.match(text, /更新 太郎/);
      assert.match(text, /登録内容のご確認のお願い/);

      await page.click("#reconfirm-ok");
      await page.locator('#reconfirm[data-stale="no"] .notice', { hasText: "確認しました" }).waitFor();
      await h.capture(page, "resident-reconfirmed");
      await con.click('nav#nav a[href="#reviews"]');
      await h.ready(con, "reviews");
      await con.click('nav#nav a[href="#residents"]');
      await h.ready(con, "residents");
      await con.locator("#stale-list .notice", { hasText: "ありません" }).waitFor();
    } finally {
      await s.stop();
    }
  },

  async "the console imports a register: a dry run reports the broken row by line and column, then the import"(h) {
    const s = h.server;
    const file = path.join(os.tmpdir(), `kyukit-register-${process.pid}.csv`);
    fs.writeFileSync(file, REGISTER);
    try {
      const page = await adminConsole(h, s, "import-console");
      await h.capture(page, "admin-residents");
      await page.setInputFiles("#import-file", file);
      await page.click("#import-check");
      const report = page.locator('#import-report[data-dry-run="yes"]');
      await report.waitFor();
      const err = page.locator("#import-errors tbody tr");
      assert.equal(await err.count(), 1);
      const cells = await err.first().locator("td").allTextContents();
      assert.equal(cells[0], "3");
      assert.equal(cells[1], "date_of_birth");
      assert.match(await report.textContent(), /取り込める行: 2/);
      assert.equal(await page.locator("#import-run").isEnabled(), true);
      await h.capture(page, "admin-import-dry-run");

      await page.click("#import-run");
      const done = page.locator('#import-report[data-dry-run="no"]');
      await done.waitFor();
      assert.match(await done.textContent(), /取り込んだ行: 2/);
      assert.equal(await page.locator(".progress progress").evaluate((p) => p.value === p.max), true);
      await h.capture(page, "admin-import-done");
      // A second dry run of the same file: nothing new.
      await page.click("#import-check");
      await page.locator('#import-report[data-dry-run="yes"]', { hasText: "登録済み（取り込まない）: 2" }).waitFor();
    } finally {
      fs.rmSync(file, { force: true });
    }
  },

  async "registration shows every problem at once with focus on the first, the empty login id"(h) {
    const s = h.server;
    const page = await h.page({ name: "register-errors" });
    await page.goto(`${s.url}/pages/resident#register`);
    await h.ready(page, "register");
    const f = page.locator("#register-form form");
    await f.locator("button[type=submit]").click();
    await f.locator(".form-error:not([hidden])").waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.name), "login_id", "focus on the empty login id");
    const shown = async () => (await f.locator(".field-error:not([hidden])").evaluateAll((es) => es.map((e) => e.closest("[data-field]").dataset.field)));
    assert.deepEqual(await shown(), ["login_id", "password", "password_confirm", "family_name", "given_name", "date_of_birth", "address"]);
    await h.capture(page, "resident-register-errors");
    // Typed wrong: all of them at once again, nothing sent.
    await fillForm(f, { login_id: "山田", password: "short", password_confirm: "other", family_name: "山田", given_name: "花子", date_of_birth: "1941-04-03", address: "茨城県常総市", phone: "電話" });
    await f.locator("button[type=submit]").click();
    await page.waitForFunction(() => document.activeElement?.name === "login_id");
    assert.deepEqual(await shown(), ["login_id", "password", "password_confirm", "phone"]);
  },

  async "a withdrawn resident's card page says what happened and lists the revoked cards"(h) {
    const s = h.server;
    const r = await s.consentingResident("yameta.hito", { family_name: "中止", given_name: "花子", address: "茨城県常総市水海道諏訪町9" });
    const card = await s.ok("POST", `/api/v1/residents/${r.residentId}/cards`, {}, r.token);
    await s.ok("POST", `/api/v1/residents/${r.residentId}/withdrawal`, { reason: "施設に入所したため" }, r.token);
    const page = await h.page({ name: "withdrawn-card" });
    await page.goto(`${s.url}/pages/resident`);
    await h.ready(page, "welcome");
    const login = page.locator("#login-form form");
    await fillForm(login, { login_id: r.loginId, password: r.password });
    await login.locator("button[type=submit]").click();
    await h.ready(page, "home");
    await page.evaluate(() => { location.hash = "card"; });
    await h.ready(page, "card");
    assert.match(await page.locator("#withdrawn").textContent(), /支援中止しました/);
    const items = page.locator("#revoked-cards li");
    assert.equal(await items.count(), 1);
    assert.match(await items.first().textContent(), new RegExp(card.id.slice(0, 8)));
    assert.match(await items.first().textContent(), /支援中止：「施設に入所したため」/);
    assert.doesNotMatch(await items.first().textContent(), /consent withdrawn/);
    assert.equal(await page.locator("#cards", { hasText: "先に" }).count(), 0, "not 'first choose consent'");
    await h.capture(page, "resident-card-withdrawn");

    // Restarted (consent again, a new card): the old card is among "cards no longer valid", its
    // reason in words — the withdrawal with the person's own words — never the server's code.
    await s.ok("POST", `/api/v1/residents/${r.residentId}/consents`, { categories: ["medications", "allergies"], disaster_use: false, triage_on_card: false, name_on_print: false }, r.token);
    await s.ok("POST", `/api/v1/residents/${r.residentId}/cards`, {}, r.token);
    await page.reload();
    await h.ready(page, "card");
    await page.locator("#cards details summary").click();
    const old = page.locator("#old-cards li");
    assert.equal(await old.count(), 1);
    const text = await old.first().textContent();
    assert.match(text, new RegExp(`カード ${card.id.slice(0, 8)}: .*に無効化（支援中止：「施設に入所したため」）`));
    assert.doesNotMatch(text, /consent|withdrawn/);
    await h.capture(page, "resident-card-old-cards");
  },
};
