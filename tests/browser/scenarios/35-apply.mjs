// Issue 26: a facility applies to join from the public directory's link, with the web form (every
// problem shown at once, focus on the first), gets the link to its status page once, and reads
// there, in plain words, that the city is checking — then that it was declined, with the reason.

import assert from "node:assert/strict";
import { control, fillForm } from "../lib.mjs";

export const scenarios = {
  async "a clinic applies with the public form and reads its status in plain words"(h) {
    const s = h.server;
    const page = await h.page({ name: "apply" });
    await page.goto(`${s.url}/pages/directory`);
    await Promise.all([page.waitForURL(/\/pages\/apply$/), page.click("#apply-link")]);
    await h.ready(page, "form");
    await h.capture(page, "apply-form");

    // Several problems at once: each next to its field, all named in the summary, focus on the first.
    const f = page.locator("#apply-form form");
    await fillForm(f, { name_ja: "鬼怒川クリニック", phone: "でんわ", contact_email: "info@clinic" });
    await f.locator("button[type=submit]").click();
    await f.locator(".form-error:not([hidden])").waitFor();
    const invalid = await f.locator('[aria-invalid="true"]').evaluateAll((els) => els.map((e) => e.name));
    for (const name of ["kind", "name_en", "address", "phone", "contact_email", "manager_name", "manager_phone"]) {
      assert.ok(invalid.includes(name), `${name} marked invalid (${invalid})`);
    }
    assert.ok(!invalid.includes("name_ja"));
    assert.equal(await page.evaluate(() => document.activeElement?.name), "kind", "focus on the first problem");
    assert.match(await f.locator('[data-field="phone"] .field-error').textContent(), /電話番号/);
    assert.match(await f.locator('[data-field="contact_email"] .field-error').textContent(), /メールアドレス/);
    assert.equal(await control(f, "name_ja").inputValue(), "鬼怒川クリニック", "nothing typed is lost");
    await h.capture(page, "apply-form-errors");

    await fillForm(f, {
      kind: "clinic", name_en: "Kinugawa Clinic", address: "茨城県常総市水海道宝町2817", phone: "0297-22-1111",
      contact_email: "info@kinugawa-clinic.example.jp", manager_name: "鬼怒 医子", manager_phone: "0297-22-1112", listed: true,
    });
    await f.locator("button[type=submit]").click();
    await page.locator("#status-link").waitFor();
    const link = await page.getAttribute("#status-link", "href");
    assert.match(link, /\/pages\/apply#id=[^&]+&token=[A-Za-z0-9_-]{20,}$/);
    await h.capture(page, "apply-submitted");

    // The application is what was typed.
    const token = await s.adminToken();
    const queue = (await s.ok("GET", "/api/v1/facility-applications", undefined, token)).applications;
    const app = queue.find((a) => a.name_ja === "鬼怒川クリニック");
    assert.equal(app.kind, "clinic");
    assert.equal(app.status, "pending");
    assert.deepEqual(app.system_manager, { name: "鬼怒 医子", phone: "0297-22-1112" });
    assert.equal(app.listed, true);

    await page.click("#view-submitted a.button");
    await h.ready(page, "status");
    const state = page.locator("#application-state");
    assert.equal(await state.getAttribute("data-state"), "pending");
    assert.match(await state.textContent(), /市が確認しています/);
    assert.match(await page.textContent("#status-body"), /診療所/);
    await h.capture(page, "apply-status-pending");

    // The city declines; the same link now says so, with the city's reason.
    await s.ok("POST", `/api/v1/facility-applications/${app.id}/decision`, { decision: "reject", reason: "所在地が確認できませんでした" }, token);
    await page.reload();
    await h.ready(page, "status");
    assert.equal(await state.getAttribute("data-state"), "rejected");
    assert.match(await state.textContent(), /参加は認められませんでした/);
    assert.match(await state.textContent(), /所在地が確認できませんでした/);
    await h.capture(page, "apply-status-rejected");

    // A link with a wrong token shows nothing of the application.
    await page.goto(link.replace(/token=.*/, "token=AAAAAAAAAAAAAAAAAAAAAA"));
    await h.ready(page, "status");
    assert.match(await page.textContent("#status-body"), /申請が見つかりません/);
    assert.doesNotMatch(await page.textContent("#status-body"), /鬼怒川/);
    await page.context().close();
  },
};
