// A care manager registers a resident as their proxy: the statement must be accepted, and the
// server records exactly the statement the page showed.

import assert from "node:assert/strict";
import { fillForm } from "../lib.mjs";

export const scenarios = {
  async "a proxy (care manager) registers a resident"(h) {
    const page = await h.page({ name: "proxy" });
    await page.goto(`${h.server.url}/pages/resident#register-proxy`);
    await h.ready(page, "register-proxy");
    await h.capture(page, "resident-register-proxy");

    const form = page.locator("#proxy-form form");
    await fillForm(form, {
      display_name: "鬼怒 ケア子",
      relation: "care_manager",
      relation_detail: "担当ケアマネジャー",
      login_id: "kinu.care",
      password: "care manager pw 1",
      password_confirm: "care manager pw 1",
      family_name: "常総",
      given_name: "太郎",
      date_of_birth: "1936-11-03",
      sex: "male",
      address: "茨城県常総市新石下1",
    });
    // Without accepting the statement: refused by the API, shown next to the checkbox.
    await form.locator("button[type=submit]").click();
    const err = form.locator('[data-field="accept_proxy_statement"] .field-error');
    await err.waitFor();
    assert.match(await err.textContent(), /同意してください/);
    assert.equal(await form.locator('[data-field="given_name"] input').inputValue(), "太郎", "nothing lost");

    const statementShown = await form.locator('.statement p[lang="ja"]').textContent();
    await fillForm(form, { accept_proxy_statement: true });
    await form.locator("button[type=submit]").click();
    await h.ready(page, "home");
    assert.match(await page.locator("#home-title").textContent(), /常総 太郎/);

    const token = await page.evaluate(() => sessionStorage.getItem("kyukit.token"));
    const me = await h.server.ok("GET", "/api/v1/me/residents", undefined, token);
    assert.equal(me.residents.length, 1);
    const rid = me.residents[0].id;
    assert.equal(me.residents[0].date_of_birth, "1936-11-03");
    assert.equal(me.residents[0].sex, "male");

    // What the proxy enters is marked as entered by a proxy.
    await page.click('a[href="#dataset"]');
    await h.ready(page, "dataset");
    const sec = page.locator("#cat-allergies");
    await sec.locator("button.add").click();
    await fillForm(sec.locator("form"), { substance: "卵", severity: "moderate" });
    await sec.locator("form button[type=submit]").click();
    await sec.locator("li.item", { hasText: "代理人が入力" }).waitFor();
    const items = (await h.server.ok("GET", `/api/v1/residents/${rid}/dataset`, undefined, token)).items;
    assert.equal(items[0].provenance, "proxy");

    // The server kept the statement the page showed, verbatim, with the relation.
    const disclosure = await h.server.ok("GET", `/api/v1/residents/${rid}/disclosure`, undefined, token);
    assert.equal(disclosure.proxies.length, 1, JSON.stringify(disclosure.proxies));
    const proxy = disclosure.proxies[0];
    assert.equal(proxy.relation, "care_manager");
    assert.equal(proxy.display_name, "鬼怒 ケア子");
    const recorded = Object.values(proxy).find((v) => typeof v === "string" && v.startsWith("私は"));
    assert.equal(recorded, statementShown, "the statement recorded is the one the page showed");
    await h.capture(page, "resident-home-proxy", { sizes: [{ width: 390, height: 844 }, { width: 1280, height: 800 }] });
    await page.context().close();
  },
};
