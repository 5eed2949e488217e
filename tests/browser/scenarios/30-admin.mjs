// The city administrator's console: TOTP login, approving and rejecting facility applications,
// issuing a paramedic ID and an enrollment code (used by the real field client), reviewing a
// break-glass search, revoking the device (its next signed request is refused), suspending and
// reinstating a facility, disasters, notices (seen on the public directory), keys and audit head.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { control, fillForm, hotp, base32Decode, SIZES } from "../lib.mjs";

async function nav(page, h, view) {
  await page.click(`nav#nav a[href="#${view}"]`);
  await h.ready(page, view);
}

/** Confirms the open dialog, after filling its fields. */
async function confirmDialog(page, values = {}) {
  const d = page.locator("dialog.ask");
  await d.waitFor();
  await fillForm(d, values);
  await d.locator("button[type=submit]").click();
  await d.waitFor({ state: "detached" });
}

async function devicesOf(page, h, facilityId) {
  await page.evaluate((id) => {
    location.hash = `devices?facility=${id}`;
  }, facilityId);
  await h.ready(page, "devices");
  assert.equal(await page.locator("#device-facility-select").inputValue(), facilityId);
}

const APPLICATION = {
  kind: "fire_department",
  name_ja: "常総広域消防本部",
  name_en: "Joso Regional Fire Department",
  address: "茨城県常総市水海道森下町4400",
  phone: "0297-23-0119",
  contact_email: "shoubou@example.jp",
  system_manager: { name: "消防 管理子", phone: "0297-23-0120" },
  listed: true,
};

export const scenarios = {
  async "the city approves a facility, issues a paramedic ID and a device code, reviews a break-glass search and revokes the device"(h) {
    const s = h.server;
    const applied = await s.ok("POST", "/api/v1/facility-applications", APPLICATION);
    const spam = await s.ok("POST", "/api/v1/facility-applications", { ...APPLICATION, kind: "pharmacy", name_ja: "架空薬局", name_en: "Fictitious Pharmacy", contact_email: "x@example.jp", listed: false });

    const page = await h.page({ name: "admin" });
    await page.goto(`${s.url}/pages/admin`);
    await h.ready(page, "login");
    assert.equal(await page.locator("nav#nav").isVisible(), false, "no menu before login");
    assert.equal(await page.locator("#logout").isVisible(), false);
    await h.capture(page, "admin-login");

    // A wrong code: the error is next to the code field, the rest is kept.
    const form = page.locator("#login-form form");
    const valid = new Set([-1, 0, 1].map((d) => hotp(base32Decode(s.admin.secret), Math.floor(Date.now() / 30000) + d)));
    let wrong = "123456";
    while (valid.has(wrong)) wrong = String((Number(wrong) + 1) % 1e6).padStart(6, "0");
    await fillForm(form, { login_id: s.admin.loginId, password: s.admin.password, totp: wrong });
    await form.locator("button[type=submit]").click();
    const codeError = form.locator('[data-field="totp"] .field-error');
    await codeError.waitFor();
    assert.match(await codeError.textContent(), /確認コード/);
    assert.equal(await control(form, "login_id").inputValue(), "admin");

    await fillForm(form, { totp: await s.adminAuth.code() });
    await form.locator("button[type=submit]").click();
    await h.ready(page, "facilities");
    assert.equal(await page.locator("nav#nav").isVisible(), true);
    const row = page.locator("#applications tr", { hasText: "常総広域消防本部" });
    await row.waitFor();
    assert.match(await row.textContent(), /shoubou@example\.jp/);
    await h.capture(page, "admin-facilities-pending");

    await row.locator("button", { hasText: "承認" }).click();
    await confirmDialog(page, { reason: "書類確認済み" });
    await page.locator("#status", { hasText: "承認しました" }).waitFor();
    // Rejecting needs a reason, which the applicant then reads with their status token.
    await page.locator("#applications tr", { hasText: "架空薬局" }).locator("button", { hasText: "却下" }).click();
    await page.locator("dialog.ask button[type=submit]").click();
    await page.locator('dialog.ask [data-field="reason"] .field-error').waitFor();
    await confirmDialog(page, { reason: "所在が確認できないため" });
    await page.locator("#applications", { hasText: "処理待ちの申請はありません" }).waitFor();
    const token = await s.adminToken();
    const status = await s.ok("GET", `/api/v1/facility-applications/${applied.application_id}?token=${applied.status_token}`);
    assert.equal(status.status, "approved");
    const rejected = await s.ok("GET", `/api/v1/facility-applications/${spam.application_id}?token=${spam.status_token}`);
    assert.equal(rejected.status, "rejected");
    assert.equal(rejected.reason, "所在が確認できないため");
    const facility = (await s.ok("GET", "/api/v1/facilities", undefined, token)).facilities.find((f) => f.name_ja === "常総広域消防本部");
    assert.equal(facility.status, "active");
    assert.equal(facility.id, status.facility_id);
    await h.capture(page, "admin-facilities");

    // A paramedic ID for the new facility, issued here: its second factor is shown once.
    await nav(page, h, "users");
    const sf = page.locator("#staff-form form");
    await fillForm(sf, { facility_id: facility.id, role: "paramedic", display_name: "救急 一郎", profession: "paramedic", login_id: "kyukyu.ichiro", password: "paramedic password 1" });
    await sf.locator("button[type=submit]").click();
    await page.locator("#staff-result code", { hasText: /^kyukyu\.ichiro$/ }).waitFor();
    const secret = (await page.locator("#staff-result code").nth(1).textContent()).trim();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    // The authenticator URI as a QR code to scan (issue 26), decoded by zxing-cpp.
    const totpShot = path.join(os.tmpdir(), `kyukit-totp-qr-${process.pid}.png`);
    await page.locator("#totp-qr").screenshot({ path: totpShot });
    const uri = (await page.locator("#staff-result code").nth(2).textContent()).trim();
    assert.equal(h.decodeQr(totpShot), uri, "the QR code is the otpauth URI");
    fs.rmSync(totpShot);
    await page.locator("#account-list tr", { hasText: "kyukyu.ichiro" }).waitFor();
    // No action the server would refuse: nothing is offered on the administrator's own ID.
    const own = page.locator("#account-list tr", { has: page.locator("code", { hasText: /^admin$/ }) });
    await own.locator(".self-account").waitFor();
    assert.equal(await own.locator("button").count(), 0, "no 停止/再開/再発行 on one's own ID");
    await h.capture(page, "admin-users");

    // An enrollment code issued here enrolls a device with the real field client, and the
    // paramedic logs in on it with the second factor the console showed.
    await devicesOf(page, h, facility.id);
    const cf = page.locator("#code-form form");
    await fillForm(cf, { label: "救急1号車タブレット" });
    await cf.locator("button[type=submit]").click();
    const code = (await page.locator("#code-result code.big-code").textContent()).trim();
    const codeShot = path.join(os.tmpdir(), `kyukit-code-qr-${process.pid}.png`);
    await page.locator("#code-qr").screenshot({ path: codeShot });
    assert.equal(h.decodeQr(codeShot), code, "the QR code is the enrollment code");
    fs.rmSync(codeShot);
    const medic = await s.paramedic({ facilityId: facility.id, credentials: { loginId: "kyukyu.ichiro", password: "paramedic password 1", secret }, code, label: "救急1号車タブレット" });
    assert.equal(medic.enrolled.facility_id, facility.id);

    // A break-glass search (no card) by that paramedic; the city reviews it here.
    const bg = await s.consentingResident("kinu.ichiro", { family_name: "鬼怒", given_name: "一郎", date_of_birth: "1938-02-11" });
    const reason = "意識がなく、カードが見つからないため";
    const search = { familyName: "鬼怒", givenName: "一郎", dateOfBirth: "1938-02-11", reason };
    assert.equal(medic.breakGlass(search).json().kind, "break_glass");
    await nav(page, h, "reviews");
    const rrow = page.locator("#review-list tr", { hasText: reason });
    await rrow.waitFor();
    assert.match(await rrow.textContent(), /常総広域消防本部/);
    // Who searched, on which device, for whom (issue 26).
    for (const word of ["救急 一郎", "kyukyu.ichiro", "救急1号車タブレット", "鬼怒 一郎", "1938-02-11"]) {
      assert.ok((await rrow.textContent()).includes(word), `${word} in the review row`);
    }
    await h.capture(page, "admin-reviews");
    await rrow.locator("button", { hasText: "妥当" }).click();
    await confirmDialog(page, { note: "出動記録と一致" });
    await page.locator("#review-list", { hasText: "確認待ちはありません" }).waitFor();
    assert.equal((await s.ok("GET", "/api/v1/reviews/break-glass", undefined, token)).accesses.length, 0);
    const bgHistory = (await s.ok("GET", `/api/v1/residents/${bg.residentId}/access-history`, undefined, bg.token)).entries;
    assert.ok(bgHistory.some((e) => e.action === "break_glass.review"), JSON.stringify(bgHistory));

    // The device is revoked here; its next signed request is refused.
    await devicesOf(page, h, facility.id);
    const dev = page.locator("#device-list tr", { hasText: "救急1号車タブレット" });
    await dev.locator(".badge", { hasText: "有効" }).waitFor();
    await dev.locator("button", { hasText: "失効させる" }).click();
    // The reason is required: the dialog says so and stays open.
    await page.locator("dialog.ask button[type=submit]").click();
    await page.locator('dialog.ask [data-field="reason"] .field-error').waitFor();
    await confirmDialog(page, { reason: "紛失したため" });
    await page.locator("#status", { hasText: "端末を失効させました" }).waitFor();
    await page.locator("#device-list tr", { hasText: "紛失したため" }).waitFor();
    const devices = (await s.ok("GET", `/api/v1/facilities/${facility.id}/devices`, undefined, token)).devices;
    assert.equal(devices.length, 1);
    assert.equal(devices[0].status, "revoked");
    assert.equal(devices[0].revoke_reason, "紛失したため");
    const refused = medic.breakGlass(search);
    assert.equal(refused.ok, false);
    assert.match(refused.stderr, /device_revoked/);
    await h.capture(page, "admin-devices");

    // Suspending the facility, then reinstating it.
    await nav(page, h, "facilities");
    const frow = () => page.locator("#facility-list tr", { hasText: "常総広域消防本部" });
    await frow().locator("button", { hasText: "停止" }).click();
    await confirmDialog(page, { reason: "監査のため一時停止" });
    await frow().locator(".badge", { hasText: "停止中" }).waitFor();
    await frow().locator("button", { hasText: "再開" }).click();
    await confirmDialog(page, { reason: "監査終了" });
    await frow().locator(".badge", { hasText: "参加中" }).waitFor();
    assert.equal((await s.ok("GET", "/api/v1/facilities", undefined, token)).facilities.find((f) => f.id === facility.id).status, "active");
    await page.context().close();
  },

  async "the city declares and ends a disaster, publishes and withdraws a notice, and sees the keys"(h) {
    const s = h.server;
    const token = await s.adminLogin();
    const page = await h.page({ name: "admin" });
    await page.goto(`${s.url}/pages/admin`);
    // The session can be handed to the page (sessionStorage is per tab) to skip a second login.
    await page.evaluate((t) => sessionStorage.setItem("kyukit.token", t), token);
    await page.goto(`${s.url}/pages/admin#disasters`);
    await h.ready(page, "disasters");

    const df = page.locator("#disaster-form form");
    await fillForm(df, { districts: "水海道、石下", reason: "鬼怒川の氾濫" });
    await df.locator("button[type=submit]").click();
    await confirmDialog(page);
    const drow = () => page.locator("#disaster-list tr", { hasText: "鬼怒川の氾濫" }).first();
    await drow().locator(".badge", { hasText: "宣言中" }).waitFor();
    const decl = (await s.ok("GET", "/api/v1/disasters", undefined, token)).declarations[0];
    assert.deepEqual(decl.districts, ["水海道", "石下"]);
    assert.equal(decl.active, true);
    assert.ok(Math.abs(decl.ends_at - decl.starts_at - 3 * 86400) < 120, "three days by default");
    await h.capture(page, "admin-disasters");
    await drow().locator("button", { hasText: "延長" }).click();
    await confirmDialog(page);
    await page.locator("#status", { hasText: "延長しました" }).waitFor();
    let list = (await s.ok("GET", "/api/v1/disasters", undefined, token)).declarations;
    assert.equal(list.length, 2);
    assert.equal(list[0].renewed_from, decl.id);
    assert.ok(list[0].ends_at > decl.ends_at);
    await drow().locator("button", { hasText: "終了" }).click();
    await confirmDialog(page);
    await page.locator("#status", { hasText: "災害宣言を終了しました" }).waitFor();
    list = (await s.ok("GET", "/api/v1/disasters", undefined, token)).declarations;
    assert.deepEqual(list.map((x) => x.status).sort(), ["ended", "renewed"]);

    // A notice, published here and shown on the public page, then withdrawn.
    await nav(page, h, "notices");
    const nf = page.locator("#notice-form form");
    await fillForm(nf, { kind: "service_change", title_ja: "印刷機能を追加しました", title_en: "Printing added", body_ja: "冷蔵庫用の用紙を印刷できます。", body_en: "You can print the fridge sheet." });
    await nf.locator("button[type=submit]").click();
    await page.locator("#notice-list tr", { hasText: "印刷機能を追加しました" }).waitFor();
    await h.capture(page, "admin-notices");

    const pub = await h.page({ name: "directory" });
    await pub.goto(`${s.url}/pages/directory`);
    assert.ok(await pub.locator("h3", { hasText: "印刷機能を追加しました" }).isVisible());
    assert.ok(await pub.locator("td", { hasText: "常総広域消防本部" }).isVisible(), "the approved facility asked to be listed");
    await h.capture(pub, "directory");

    await page.locator("#notice-list tr", { hasText: "印刷機能を追加しました" }).locator("button", { hasText: "取り下げ" }).click();
    await confirmDialog(page);
    await page.locator("#notice-list", { hasText: "掲載中のお知らせはありません" }).waitFor();
    await pub.reload();
    assert.equal(await pub.locator("h3", { hasText: "印刷機能を追加しました" }).count(), 0);
    await pub.context().close();

    // Keys and the audit head, as the API has them.
    await nav(page, h, "keys");
    const jwks = await (await fetch(`${s.url}/.well-known/jwks.json`)).json();
    assert.ok(jwks.keys.length >= 1);
    for (const k of jwks.keys) await page.locator("#key-list tr", { hasText: k.kid }).locator(".badge", { hasText: "使用中" }).waitFor();
    const head = await s.ok("GET", "/api/v1/audit/head", undefined, token);
    const shownSeq = Number(await page.locator("#audit-head dd code").first().textContent());
    const shownHash = (await page.locator("#audit-head dd code").nth(1).textContent()).trim();
    assert.match(shownHash, /^[0-9a-f]{64}$/);
    assert.ok(shownSeq > 0 && shownSeq <= head.seq, `${shownSeq} vs ${head.seq}`);
    assert.match(await page.locator("#audit-head").textContent(), new RegExp(`kyukit audit verify --head ${shownSeq}:${shownHash}`));
    await h.capture(page, "admin-keys");
    await page.setViewportSize(SIZES[0]);

    // Logging out ends the session on the server.
    await page.click("#logout");
    await h.ready(page, "login");
    assert.equal((await s.call("GET", "/api/v1/audit/head", undefined, token)).status, 401);
    await page.context().close();
  },
};
