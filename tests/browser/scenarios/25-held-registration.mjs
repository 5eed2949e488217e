// Issue 19, no silent duplicate person: a daughter registers her mother, who registered herself
// already. No second record: the portal says the registration was received and is being checked;
// the city sees both versions side by side in its console and links the daughter as a proxy of the
// existing record; the daughter then sees her mother's record.

import assert from "node:assert/strict";
import { fillForm } from "../lib.mjs";

const MOTHER = {
  family_name: "常総", given_name: "トメ", family_name_kana: "ジョウソウ", given_name_kana: "トメ",
  date_of_birth: "1930-01-15", address: "茨城県常総市新石下2",
};

export const scenarios = {
  async "a daughter registers her already registered mother: held, then linked by the city"(h) {
    const s = h.server;
    const mother = await s.resident("joso.tome", MOTHER);

    const page = await h.page({ name: "held" });
    await page.goto(`${s.url}/pages/resident#register-proxy`);
    await h.ready(page, "register-proxy");
    const form = page.locator("#proxy-form form");
    await fillForm(form, {
      display_name: "常総 花江",
      relation: "family",
      relation_detail: "長女",
      login_id: "joso.hanae",
      password: "daughter password 1",
      password_confirm: "daughter password 1",
      family_name: "常総",
      given_name: "とめ",
      family_name_kana: "じょうそう",
      given_name_kana: "とめ",
      date_of_birth: "1930-01-15",
      sex: "female",
      address: "茨城県常総市新石下２",
      accept_proxy_statement: true,
    });
    await form.locator("button[type=submit]").click();
    await h.ready(page, "home");
    await page.locator('#home-state[data-held="pending"]').waitFor();
    assert.match(await page.locator("#home-title").textContent(), /受け付けました/);
    assert.equal(await page.locator("#view-home .tiles").isVisible(), false, "nothing to fill in yet");
    await h.capture(page, "resident-home-held", { sizes: [{ width: 390, height: 844 }, { width: 1280, height: 800 }] });
    const token = await page.evaluate(() => sessionStorage.getItem("kyukit.token"));
    assert.equal((await s.ok("GET", "/api/v1/me/residents", undefined, token)).residents.length, 0);

    // The city compares and links.
    const admin = await s.adminLogin();
    const console_ = await h.page({ name: "admin-holds" });
    await console_.goto(`${s.url}/pages/admin`);
    await console_.evaluate((t) => sessionStorage.setItem("kyukit.token", t), admin);
    await console_.goto(`${s.url}/pages/admin#reviews`);
    await h.ready(console_, "reviews");
    const row = console_.locator("#hold-list tr", { hasText: "joso.hanae" });
    await row.waitFor();
    assert.match(await row.textContent(), /とめ/);
    assert.match(await row.textContent(), /トメ/);
    await h.capture(console_, "admin-registration-holds");
    await row.locator("button", { hasText: "代理人として結びつける" }).click();
    const d = console_.locator("dialog.ask");
    await d.waitFor();
    await d.locator("button[type=submit]").click();
    await d.waitFor({ state: "detached" });
    await console_.locator("#hold-list", { hasText: "確認待ちの登録はありません" }).waitFor();
    await console_.context().close();

    // The daughter now acts for her mother's one record.
    await page.reload();
    await h.ready(page, "home");
    assert.match(await page.locator("#home-title").textContent(), /常総 トメ/);
    const me = await s.ok("GET", "/api/v1/me/residents", undefined, token);
    assert.deepEqual(me.residents.map((r) => r.id), [mother.residentId]);
    await page.context().close();
  },
};
