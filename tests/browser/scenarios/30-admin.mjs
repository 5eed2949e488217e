// The city administrator's console: TOTP login, approving a facility application, revoking a
// device, issuing a staff ID, declaring and ending a disaster, publishing a notice (seen on the
// public directory), break-glass reviews, and the key and audit status.

import assert from "node:assert/strict";
import { Authenticator, control, fillForm, hotp, base32Decode } from "../lib.mjs";

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

export const scenarios = {
  async "the city approves a facility application and revokes its device"(h) {
    const s = h.server;
    const applied = await s.ok("POST", "/api/v1/facility-applications", {
      kind: "fire_department",
      name_ja: "常総広域消防本部",
      name_en: "Joso Regional Fire Department",
      address: "茨城県常総市水海道森下町4400",
      phone: "0297-23-0119",
      contact_email: "shoubou@example.jp",
      system_manager: { name: "消防 管理子", phone: "0297-23-0120" },
      listed: true,
    });

    const page = await h.page({ name: "admin" });
    await page.goto(`${s.url}/pages/admin`);
    await h.ready(page, "login");
    await h.capture(page, "admin-login");

    // A wrong code: the error is next to the code field.
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
    const row = page.locator("#applications tr", { hasText: "常総広域消防本部" });
    await row.waitFor();
    assert.match(await row.textContent(), /shoubou@example\.jp/);
    await h.capture(page, "admin-facilities-pending");

    await row.locator("button", { hasText: "承認" }).click();
    await confirmDialog(page, { reason: "書類確認済み" });
    await page.locator("#status", { hasText: "承認しました" }).waitFor();
    await page.locator("#applications", { hasText: "処理待ちの申請はありません" }).waitFor();
    const token = await s.adminToken();
    const status = await s.ok("GET", `/api/v1/facility-applications/${applied.application_id}?token=${applied.status_token}`);
    assert.equal(status.status, "approved");
    const facility = (await s.ok("GET", "/api/v1/facilities", undefined, token)).facilities.find((f) => f.name_ja === "常総広域消防本部");
    assert.equal(facility.status, "active");
    assert.equal(facility.id, status.facility_id);
    await h.capture(page, "admin-facilities");

    // A device of the new facility, enrolled with a key made here; the console revokes it.
    await s.enrollDevice(facility.id, "救急1号車タブレット");
    await page.locator("#facility-list tr", { hasText: "常総広域消防本部" }).locator("a", { hasText: "端末" }).click();
    await h.ready(page, "devices");
    const dev = page.locator("#device-list tr", { hasText: "救急1号車タブレット" });
    await dev.waitFor();
    await h.capture(page, "admin-devices-active", { sizes: [{ width: 1280, height: 800 }] });
    await dev.locator("button", { hasText: "失効させる" }).click();
    // The reason is required: the dialog says so and stays open.
    const d = page.locator("dialog.ask");
    await d.locator("button[type=submit]").click();
    await d.locator('[data-field="reason"] .field-error').waitFor();
    await confirmDialog(page, { reason: "紛失したため" });
    await page.locator("#status", { hasText: "端末を失効させました" }).waitFor();
    await page.locator("#device-list tr", { hasText: "紛失したため" }).waitFor();
    const devices = (await s.ok("GET", `/api/v1/facilities/${facility.id}/devices`, undefined, token)).devices;
    assert.equal(devices.length, 1);
    assert.equal(devices[0].status, "revoked");
    assert.equal(devices[0].revoke_reason, "紛失したため");
    await h.capture(page, "admin-devices");

    // A staff ID for the facility: its second factor is shown once, and it works.
    await nav(page, h, "users");
    const sf = page.locator("#staff-form form");
    await fillForm(sf, { facility_id: facility.id, role: "facility_manager", display_name: "消防 管理子", profession: "paramedic", login_id: "shoubou.kanri", password: "manager password 1" });
    await sf.locator("button[type=submit]").click();
    await page.locator("#staff-result code", { hasText: /^shoubou\.kanri$/ }).waitFor();
    const secret = (await page.locator("#staff-result code").nth(1).textContent()).trim();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    const login = await s.call("POST", "/api/v1/sessions", { login_id: "shoubou.kanri", password: "manager password 1", totp: await new Authenticator(secret).code() });
    assert.equal(login.status, 201, JSON.stringify(login.body));
    await page.locator("#account-list tr", { hasText: "shoubou.kanri" }).waitFor();
    await h.capture(page, "admin-users");

    // A disaster: declared, then ended.
    await nav(page, h, "disasters");
    const df = page.locator("#disaster-form form");
    await fillForm(df, { districts: "水海道、石下", reason: "鬼怒川の氾濫" });
    await df.locator("button[type=submit]").click();
    await confirmDialog(page);
    const drow = page.locator("#disaster-list tr", { hasText: "鬼怒川の氾濫" });
    await drow.locator(".badge", { hasText: "宣言中" }).waitFor();
    const decl = (await s.ok("GET", "/api/v1/disasters", undefined, token)).declarations[0];
    assert.deepEqual(decl.districts, ["水海道", "石下"]);
    assert.equal(decl.active, true);
    assert.ok(Math.abs(decl.ends_at - decl.starts_at - 3 * 86400) < 120, "three days by default");
    await h.capture(page, "admin-disasters");
    await drow.locator("button", { hasText: "終了" }).click();
    await confirmDialog(page);
    await page.locator("#disaster-list tr", { hasText: "鬼怒川の氾濫" }).locator(".badge", { hasText: "終了" }).waitFor();
    assert.equal((await s.ok("GET", "/api/v1/disasters", undefined, token)).declarations[0].status, "ended");

    // A notice, published here and shown on the public page.
    await nav(page, h, "notices");
    const nf = page.locator("#notice-form form");
    await fillForm(nf, { kind: "service_change", title_ja: "印刷機能を追加しました", title_en: "Printing added", body_ja: "冷蔵庫用の用紙を印刷できます。", body_en: "You can print the fridge sheet." });
    await nf.locator("button[type=submit]").click();
    await page.locator("#notice-list tr", { hasText: "印刷機能を追加しました" }).waitFor();
    await h.capture(page, "admin-notices");

    await nav(page, h, "reviews");
    await page.locator("#review-list", { hasText: "確認待ちはありません" }).waitFor();
    await h.capture(page, "admin-reviews", { sizes: [{ width: 390, height: 844 }, { width: 1280, height: 800 }] });

    // Keys and the audit head, as the API has them.
    await nav(page, h, "keys");
    const jwks = await (await fetch(`${s.url}/.well-known/jwks.json`)).json();
    for (const k of jwks.keys) await page.locator("#key-list tr", { hasText: k.kid }).locator(".badge", { hasText: "使用中" }).waitFor();
    const head = await s.ok("GET", "/api/v1/audit/head", undefined, token);
    const shownHash = (await page.locator("#audit-head dd code").nth(1).textContent()).trim();
    assert.match(shownHash, /^[0-9a-f]{64}$/);
    const shownSeq = Number(await page.locator("#audit-head dd code").first().textContent());
    assert.ok(shownSeq > 0 && shownSeq <= head.seq, `${shownSeq} vs ${head.seq}`);
    await h.capture(page, "admin-keys");

    // The public page lists the approved facility (it asked to be listed) and the notice.
    const pub = await h.page({ name: "directory" });
    await pub.goto(`${s.url}/pages/directory`);
    assert.ok(await pub.locator("td", { hasText: "常総広域消防本部" }).isVisible());
    assert.ok(await pub.locator("h3", { hasText: "印刷機能を追加しました" }).isVisible());
    await h.capture(pub, "directory");
    await pub.context().close();

    // Logging out ends the session on the server.
    const adminToken = await page.evaluate(() => sessionStorage.getItem("kyukit.token"));
    await page.click("#logout");
    await h.ready(page, "login");
    assert.equal((await s.call("GET", "/api/v1/audit/head", undefined, adminToken)).status, 401);
    await page.context().close();
  },
};
