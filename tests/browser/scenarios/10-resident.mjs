// A resident registers, fills in the dataset, consents, makes the card and sees its QR code in the
// page (decoded by zxing-cpp to the card's URL), prints, reads the access history and withdraws.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { control, fillForm, SIZES } from "../lib.mjs";

const PHONE_AND_DESKTOP = [SIZES[0], SIZES[2]];

async function token(page) {
  return page.evaluate(() => sessionStorage.getItem("kyukit.token"));
}

async function residentId(h, page) {
  const me = await h.server.ok("GET", "/api/v1/me/residents", undefined, await token(page));
  return me.residents[0].id;
}

async function addItem(page, category, values) {
  const sec = page.locator(`#cat-${category}`);
  const before = await sec.locator("li.item").count();
  await sec.locator("button.add").click();
  const f = sec.locator("form");
  await fillForm(f, values);
  await f.locator("button[type=submit]").click();
  await sec.locator("li.item").nth(before).waitFor();
}

async function hash(page, h, view) {
  await page.evaluate((v) => {
    location.hash = v;
  }, view);
  await h.ready(page, view);
}

export const scenarios = {
  async "a resident registers, fills in the dataset, consents and sees the card image in the page"(h) {
    const page = await h.page({ name: "resident" });
    await page.goto(`${h.server.url}/pages/resident`);
    await h.ready(page, "welcome");
    assert.equal(await page.locator("#logout").isVisible(), false, "no logout before login");
    assert.equal(await page.locator("section.view:visible").count(), 1, "one view at a time");
    await h.capture(page, "resident-welcome");

    await page.click('a[href="#register"]');
    await h.ready(page, "register");
    await h.capture(page, "resident-register");

    // A mistake: the API's error appears next to its field, in the reader's language, and
    // nothing typed is lost.
    const form = page.locator("#register-form form");
    await fillForm(form, {
      login_id: "hanako.joso",
      password: "short",
      password_confirm: "short",
      family_name: "常総",
      given_name: "花子",
      family_name_kana: "じょうそう",
      given_name_kana: "はなこ",
      date_of_birth: "1941-05-03",
      sex: "female",
      address: "茨城県常総市水海道諏訪町3222-3",
      district: "水海道",
      phone: "0297-23-2111",
    });
    await form.locator("button[type=submit]").click();
    const pwError = form.locator('[data-field="password"] .field-error');
    await pwError.waitFor();
    assert.equal(await pwError.textContent(), "パスワードは10文字以上（128文字まで）にしてください。");
    assert.equal(await control(form, "password").getAttribute("aria-invalid"), "true");
    assert.equal(await control(form, "family_name").inputValue(), "常総", "the name is kept");
    assert.equal(await control(form, "address").inputValue(), "茨城県常総市水海道諏訪町3222-3");
    assert.equal(await form.locator('select[name="date_of_birth_year"]').inputValue(), "1941");
    await h.capture(page, "resident-register-error", { sizes: PHONE_AND_DESKTOP });

    // Different passwords are caught before anything is sent.
    await fillForm(form, { password: "hanako password 1", password_confirm: "hanako password 2" });
    await form.locator("button[type=submit]").click();
    await form.locator('[data-field="password_confirm"] .field-error').waitFor();

    await fillForm(form, { password_confirm: "hanako password 1" });
    await form.locator("button[type=submit]").click();
    await h.ready(page, "home");
    assert.match(await page.locator("#home-title").textContent(), /常総 花子/);
    assert.match(await page.locator("#status").textContent(), /登録しました/);
    const rid = await residentId(h, page);
    const profile = await h.server.ok("GET", `/api/v1/residents/${rid}`, undefined, await token(page));
    assert.equal(profile.date_of_birth, "1941-05-03");
    assert.equal(profile.family_name_kana, "じょうそう");
    assert.equal(profile.district, "水海道");
    assert.equal(profile.preferred_language, "ja");

    // The profile: corrected, the rest kept.
    await page.click('a[href="#profile"]');
    await h.ready(page, "profile");
    const pf = page.locator("#profile-form form");
    assert.equal(await control(pf, "address").inputValue(), "茨城県常総市水海道諏訪町3222-3");
    await fillForm(pf, { phone: "0297-23-9999", given_name_kana: "" });
    await pf.locator("button[type=submit]").click();
    await page.locator("#status", { hasText: "保存しました" }).waitFor();
    const updated = await h.server.ok("GET", `/api/v1/residents/${rid}`, undefined, await token(page));
    assert.equal(updated.phone, "0297-23-9999");
    assert.equal(updated.given_name_kana, null);
    assert.equal(updated.date_of_birth, "1941-05-03");
    await h.capture(page, "resident-profile", { sizes: PHONE_AND_DESKTOP });

    // The dataset.
    await page.click("#view-profile a.back");
    await h.ready(page, "home");
    await page.click('a[href="#dataset"]');
    await h.ready(page, "dataset");
    await addItem(page, "medications", { name: "ワーファリン錠1mg", dose: "1錠", frequency: "朝食後", anticoagulant: true });
    await addItem(page, "allergies", { substance: "ペニシリン", reaction: "じんましん・呼吸が苦しい", severity: "anaphylaxis" });
    await addItem(page, "blood_type", { abo: "A", rh: "+" });
    assert.equal(await page.locator("#cat-blood_type button.add").count(), 0, "one blood type only");
    await addItem(page, "devices", { kind: "pacemaker", description: "2019年 植込み" });
    await addItem(page, "advance_directive", { status: "acp", document_location: "冷蔵庫の横の棚" });
    // Issue 19: an ACP is not a DNAR order. The page of a resident with only an ACP says ACP and
    // nowhere DNAR; the blood thinner is marked.
    const datasetText = await page.locator("main").innerText();
    assert.doesNotMatch(datasetText, /DNAR/i, datasetText);
    assert.match(await page.locator("#cat-advance_directive .items").innerText(), /人生会議（ACP）/);
    assert.ok(await page.locator("#cat-medications .badge", { hasText: "血液をサラサラにする薬" }).isVisible());

    // The session ends while a form is being filled (the 15-minute idle timeout): a login dialog
    // opens over the page, and what was typed is still there afterwards.
    const team = page.locator("#cat-care_team");
    await team.locator("button.add").click();
    await fillForm(team.locator("form"), { primary_doctor: "水海道 一郎", primary_hospital: "きぬ医師会病院", hospital_phone: "0297-23-0000" });
    await h.server.ok("DELETE", "/api/v1/sessions/current", undefined, await token(page));
    await team.locator("form button[type=submit]").click();
    const again = page.locator("dialog.ask");
    await again.waitFor();
    await fillForm(again, { login_id: "hanako.joso", password: "wrong password 1" });
    await again.locator("button[type=submit]").click();
    await again.locator('[data-field="password"] .field-error', { hasText: "違います" }).waitFor();
    await fillForm(again, { password: "hanako password 1" });
    await again.locator("button[type=submit]").click();
    await again.waitFor({ state: "detached" });
    await page.locator("#status", { hasText: "ログインしました" }).waitFor();
    assert.equal(await control(team.locator("form"), "primary_hospital").inputValue(), "きぬ医師会病院", "nothing typed is lost");
    await team.locator("form button[type=submit]").click();
    await team.locator("li.item").first().waitFor();

    // A wrong phone number: shown next to the phone field; the name and relation stay.
    const contacts = page.locator("#cat-emergency_contacts");
    await contacts.locator("button.add").click();
    const cf = contacts.locator("form");
    await fillForm(cf, { name: "常総 一郎", relation: "長男", phone: "いちいち" });
    await cf.locator("button[type=submit]").click();
    const phoneError = cf.locator('[data-field="phone"] .field-error');
    await phoneError.waitFor();
    assert.match(await phoneError.textContent(), /電話番号/);
    assert.equal(await control(cf, "name").inputValue(), "常総 一郎");
    await fillForm(cf, { phone: "090-1234-5678" });
    await cf.locator("button[type=submit]").click();
    await contacts.locator("li.item").first().waitFor();

    // Change an entry, and delete one (with a confirmation).
    const med = page.locator("#cat-medications li.item").first();
    await med.locator("button", { hasText: "変更する" }).click();
    await fillForm(page.locator("#cat-medications li.item form"), { dose: "2錠" });
    await page.locator("#cat-medications li.item form button[type=submit]").click();
    await page.locator("#cat-medications li.item", { hasText: "2錠" }).waitFor();
    await addItem(page, "conditions", { name: "心房細動", since: "2015-04-01" });
    await page.locator("#cat-conditions li.item button", { hasText: "削除する" }).click();
    const dialog = page.locator("dialog.ask");
    await dialog.waitFor();
    await dialog.locator("button.danger").click();
    await page.locator("#cat-conditions li.empty").waitFor();

    const items = (await h.server.ok("GET", `/api/v1/residents/${rid}/dataset`, undefined, await token(page))).items;
    const by = (c) => items.filter((i) => i.category === c);
    assert.equal(items.length, 7, JSON.stringify(items));
    assert.deepEqual(by("medications")[0].body, { name: "ワーファリン錠1mg", dose: "2錠", frequency: "朝食後", code: null, anticoagulant: true, insulin: false });
    assert.equal(by("allergies")[0].body.severity, "anaphylaxis");
    assert.deepEqual(by("blood_type")[0].body, { abo: "A", rh: "+" });
    assert.equal(by("emergency_contacts")[0].body.phone, "090-1234-5678");
    assert.equal(by("conditions").length, 0);
    assert.equal(by("medications")[0].provenance, "self");
    await page.evaluate(() => window.scrollTo(0, 0));
    await h.capture(page, "resident-dataset");

    // Consent: nothing is chosen for the resident; "select all", plus disaster-time use.
    await hash(page, h, "consent");
    await h.capture(page, "resident-consent");
    const consentForm = page.locator("#consent-form form");
    assert.equal(await control(consentForm, "cat_medications").isChecked(), false, "no category is pre-selected");
    await consentForm.locator("button", { hasText: "すべて選ぶ" }).click();
    // Telling the family (issue 27): off at first; the hospital's name only with the notice.
    assert.equal(await control(consentForm, "notify_family").isChecked(), false, "the family is not told unless chosen");
    assert.equal(await control(consentForm, "family_hospital_name").isDisabled(), true, "the hospital's name needs the notice");
    assert.match(await consentForm.textContent(), /救急隊がカードを読んだとき、登録したご家族/);
    await fillForm(consentForm, { disaster_use: true, name_on_print: true, notify_family: true });
    assert.equal(await control(consentForm, "family_hospital_name").isDisabled(), false);
    await fillForm(consentForm, { family_hospital_name: true });
    await consentForm.locator("button[type=submit]").click();
    await page.locator("#consent-current", { hasText: "1回目" }).waitFor();
    const consents = (await h.server.ok("GET", `/api/v1/residents/${rid}/consents`, undefined, await token(page))).consents;
    assert.equal(consents.length, 1);
    assert.equal(consents[0].status, "granted");
    assert.equal(consents[0].categories.length, 8);
    assert.equal(consents[0].disaster_use, true);
    assert.equal(consents[0].triage_on_card, true);
    assert.equal(consents[0].name_on_print, true);
    assert.equal(consents[0].given_by, "self");
    assert.equal(consents[0].notify_family, true);
    assert.equal(consents[0].family_hospital_name, true);
    assert.match(await page.textContent("#consent-family"), /家族への通知: する（受け入れた病院の名前も知らせます）/);
    assert.equal(await control(page.locator("#consent-form form"), "notify_family").isChecked(), true, "the form shows the state in force");
    await h.capture(page, "resident-consent-family");

    // The card: made, shown in the page from an authenticated blob, and it is the card's URL.
    await hash(page, h, "card");
    await page.locator("#cards button.big").click();
    await page.waitForFunction(() => {
      const i = document.querySelector("img.qr");
      return i && i.complete && i.naturalWidth > 0;
    });
    const img = page.locator("img.qr");
    const natural = await img.evaluate((i) => ({ w: i.naturalWidth, h: i.naturalHeight, src: i.src }));
    assert.ok(natural.w > 0 && natural.w === natural.h, JSON.stringify(natural));
    assert.match(natural.src, /^blob:/);
    const cards = (await h.server.ok("GET", `/api/v1/residents/${rid}/cards`, undefined, await token(page))).cards;
    assert.equal(cards.length, 1);
    assert.equal(cards[0].triage, true);
    await page.setViewportSize(SIZES[2]);
    const shot = path.join(os.tmpdir(), `kyukit-card-${process.pid}.png`);
    await img.screenshot({ path: shot });
    const decoded = h.decodeQr(shot);
    fs.rmSync(shot);
    assert.equal(decoded.toLowerCase(), cards[0].url.toLowerCase(), "the QR code in the page is the card's URL");
    assert.match(cards[0].url, /^https:\/\/qq\.city\.joso\.lg\.jp\/c\/\d+$/i);
    await h.capture(page, "resident-card");

    // Printing: the PNG printable goes to the print area; the PDF downloads.
    await page.locator("button", { hasText: "冷蔵庫に貼る用紙を印刷" }).click();
    await page.waitForFunction(() => document.getElementById("print-area").dataset.ready === "fridge-sheet");
    const sheet = await page.locator("#print-area img").evaluate((i) => i.naturalWidth);
    assert.ok(sheet > 1000, `fridge sheet ${sheet} px wide`);
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.locator("button", { hasText: "財布用をPDFで保存" }).click(),
    ]);
    const pdf = fs.readFileSync(await download.path());
    assert.equal(pdf.subarray(0, 5).toString(), "%PDF-");
    assert.equal(download.suggestedFilename(), "kyukit-wallet-card.pdf");

    // Home now shows every step done.
    await hash(page, h, "home");
    assert.equal(await page.locator("#steps li.done").count(), 3);
    await h.capture(page, "resident-home");

    // A paramedic scans the card (the real field client, a signed request) and sees what was
    // consented; the resident sees that scan in the access history.
    const medic = await h.server.paramedic();
    const scan = medic.scan(cards[0].url, "INC-2026-0001").json();
    assert.equal(scan.kind, "scan");
    assert.ok(scan.items.some((i) => i.category === "medications" && i.body.anticoagulant), JSON.stringify(scan.items));

    // The access history, from the home page's tile (same tab, same session).
    await page.click('a[href="/pages/access-history"]');
    await page.locator("#history table").first().waitFor();
    const history = await page.locator("#history").textContent();
    for (const what of ["救急情報の表示（カード）", "救急隊員（常総消防 水海道分署）", "カードの読み取り", "カードの発行", "情報の登録・変更", "同意の登録", "登録"]) {
      assert.ok(history.includes(what), `${what} in the access history`);
    }
    // Grouped: one section for today (Japan time), and the dataset entries typed one after the
    // other are one line with their count.
    const days = page.locator("#history .history-day");
    assert.equal(await days.count(), 1, "everything happened today");
    assert.match(await days.locator("h3").textContent(), /（今日）$/);
    const writes = page.locator("#history tr", { hasText: "情報の登録・変更" });
    assert.equal(await writes.count(), 1, "consecutive writes are one line");
    const n = Number((await writes.locator(".count").textContent()).match(/（(\d+)回）/)[1]);
    const raw = (await h.server.ok("GET", `/api/v1/residents/${rid}/access-history`, undefined, await token(page))).entries;
    assert.equal(n, raw.filter((e) => e.action === "dataset.write").length, "the count is every write");
    await h.capture(page, "access-history");

    // Withdrawal (支援中止), with a confirmation.
    await page.goto(`${h.server.url}/pages/resident#withdraw`);
    await h.ready(page, "withdraw");
    await h.capture(page, "resident-withdraw");
    const wf = page.locator("#withdraw-body form");
    await fillForm(wf, { reason: "施設に入所するため" });
    await wf.locator("button.danger").click();
    const confirm = page.locator("dialog.ask");
    await confirm.waitFor();
    await confirm.locator("button.secondary").click(); // cancel first: nothing happens
    await confirm.waitFor({ state: "detached" });
    assert.equal((await h.server.ok("GET", `/api/v1/residents/${rid}`, undefined, await token(page))).status, "active");
    await wf.locator("button.danger").click();
    await confirm.locator("button.danger").click();
    await page.locator("#status", { hasText: "支援中止しました" }).waitFor();
    assert.match(await page.locator("#status").textContent(), /カード1枚/);
    const after = await h.server.ok("GET", `/api/v1/residents/${rid}`, undefined, await token(page));
    assert.equal(after.status, "withdrawn");
    const revoked = (await h.server.ok("GET", `/api/v1/residents/${rid}/cards`, undefined, await token(page))).cards;
    assert.ok(revoked.every((c) => c.status === "revoked"), JSON.stringify(revoked));
    await h.capture(page, "resident-withdrawn", { sizes: PHONE_AND_DESKTOP });

    await page.goto(`${h.server.url}/pages/access-history`);
    await page.locator("#history table").first().waitFor();
    assert.ok((await page.locator("#history").textContent()).includes("支援中止"));

    // After 支援中止 the card no longer works for the paramedic.
    const refused = medic.scan(cards[0].url, "INC-2026-0002");
    assert.equal(refused.ok, false);
    assert.match(refused.stderr, /card_revoked|consent_withdrawn/);
    await page.context().close();
  },

  async "the language choice is remembered across pages and reloads"(h) {
    const page = await h.page({ name: "language" });
    await page.goto(`${h.server.url}/pages/resident`);
    await h.ready(page, "welcome");
    assert.equal(await page.evaluate(() => document.documentElement.lang), "ja", "Japanese by default");
    assert.equal(await page.locator("h1:visible").textContent(), "わたしの救急情報");
    await page.click("#lang");
    await page.waitForFunction(() => document.documentElement.lang === "en");
    assert.equal(await page.locator("h1:visible").textContent(), "My emergency information");
    // A form being filled keeps what was typed when the language changes.
    await page.click('a[href="#register"]');
    await h.ready(page, "register");
    await control(page.locator("#register-form"), "family_name").fill("Smith");
    await page.click("#lang");
    await page.click("#lang");
    assert.equal(await control(page.locator("#register-form"), "family_name").inputValue(), "Smith");
    await page.reload();
    await h.ready(page, "register");
    assert.equal(await page.evaluate(() => document.documentElement.lang), "en");
    await page.goto(`${h.server.url}/pages/access-history`);
    assert.equal(await page.evaluate(() => document.documentElement.lang), "en");
    assert.equal(await page.locator("h1").textContent(), "Who viewed my information");
    await page.goto(`${h.server.url}/pages/directory`);
    assert.equal(await page.evaluate(() => document.documentElement.lang), "en", "the server-rendered page follows too");
    assert.ok(await page.locator("#overview h2 span", { hasText: "What Kyukit is" }).isVisible());
    assert.ok(!(await page.locator("#overview h2 span", { hasText: "救急キットとは" }).isVisible()), "only English shows");
    await page.click("a.lang-switch");
    await page.waitForURL(/lang=ja/);
    assert.equal(await page.evaluate(() => document.documentElement.lang), "ja");
    await page.goto(`${h.server.url}/pages/admin`);
    await h.ready(page, "login");
    assert.equal(await page.evaluate(() => document.documentElement.lang), "ja");
    await page.context().close();
  },
};
