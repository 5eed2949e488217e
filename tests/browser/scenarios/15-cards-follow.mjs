// Cards follow data and consent (issue 19), in the resident portal: insulin added after the card
// makes it stale — home, information and card views say so, and one tap makes a new card; a
// consent without medications withdraws the card — the consent view says why, and one tap makes
// a new one.

import assert from "node:assert/strict";
import { fillForm } from "../lib.mjs";

async function open(h, token, view) {
  const page = await h.page({ name: "cards-follow" });
  await page.goto(`${h.server.url}/pages/resident`);
  await page.evaluate((t) => sessionStorage.setItem("kyukit.token", t), token);
  await page.goto(`${h.server.url}/pages/resident#${view}`);
  await h.ready(page, view);
  return page;
}

async function go(page, h, view) {
  await page.evaluate((v) => {
    location.hash = v;
  }, view);
  await h.ready(page, view);
}

const SHARED = ["medications", "allergies", "devices", "blood_type", "advance_directive"];

export const scenarios = {
  async "a card made stale by new insulin, and one withdrawn by a consent change, are said with a one-tap new card"(h) {
    const s = h.server;
    const r = await s.resident("cards.follow");
    const base = `/api/v1/residents/${r.residentId}`;
    await s.ok("POST", `${base}/dataset`, { category: "medications", body: { name: "ワルファリン", anticoagulant: true } }, r.token);
    await s.ok("POST", `${base}/consents`, { categories: SHARED, disaster_use: false, triage_on_card: true, name_on_print: false }, r.token);
    const first = await s.ok("POST", `${base}/cards`, {}, r.token);

    const page = await open(h, r.token, "card");
    assert.equal(await page.locator(".card-notice:visible").count(), 0, "a current card: no notice");

    // Insulin, entered in the page: the information view says at once that the card is out of date.
    await go(page, h, "dataset");
    const sec = page.locator("#cat-medications");
    await sec.locator("button.add").click();
    await fillForm(sec.locator("form"), { name: "インスリン グラルギン", insulin: true });
    await sec.locator("form button[type=submit]").click();
    await page.locator("#dataset-card .card-notice[data-notice=stale]").waitFor();
    await go(page, h, "home");
    assert.match(await page.locator("#home-card").textContent(), /カードの情報が古くなりました/);
    assert.equal(await page.locator("#tile-card").textContent(), "カードが古くなっています");
    await h.capture(page, "resident-card-stale-home");
    await go(page, h, "card");
    assert.match(await page.locator("#cards .card-block").textContent(), /古くなっています/);
    await h.capture(page, "resident-card-stale");

    // One tap: a new card, current, with insulin; the old one revoked as reissued.
    await page.locator("#cards .card-notice button").click();
    await page.locator("#status", { hasText: "新しいカードを作りました" }).waitFor();
    await h.ready(page, "card");
    assert.equal(await page.locator(".card-notice:visible").count(), 0);
    const cards = (await s.ok("GET", `${base}/cards`, undefined, r.token)).cards;
    assert.deepEqual(cards.map((c) => [c.status, c.stale]), [["active", false], ["revoked", false]]);
    assert.equal(cards[1].id, first.id);

    // Consent without medications: the card is withdrawn, and the consent view says why.
    await go(page, h, "consent");
    const f = page.locator("#consent-form form");
    await f.locator("input[name=cat_medications]").uncheck();
    await f.locator("button[type=submit]").click();
    await page.locator("#status", { hasText: "同意を登録しました" }).waitFor();
    const notice = page.locator("#consent-card .card-notice[data-notice=consent_changed]");
    await notice.waitFor();
    assert.match(await notice.textContent(), /同意を変えたので、これまでのカードは使えなくしました/);
    const withdrawn = (await s.ok("GET", `${base}/cards`, undefined, r.token)).cards[0];
    assert.deepEqual([withdrawn.status, withdrawn.revoke_reason], ["revoked", "consent_changed"]);
    await h.capture(page, "resident-card-withdrawn-consent");
    await go(page, h, "card");
    assert.match(await page.locator("#cards").textContent(), /同意の変更/);
    await h.capture(page, "resident-card-withdrawn");

    // One tap from the notice (here, the card view's own "make my card"): the new card has no
    // medication flags.
    await page.locator("#cards button.big").click();
    await page.locator("#status", { hasText: "カードを作りました" }).waitFor();
    const now = (await s.ok("GET", `${base}/cards`, undefined, r.token)).cards[0];
    assert.deepEqual([now.status, now.stale, now.triage], ["active", false, true]);
    assert.equal(await page.locator(".card-notice:visible").count(), 0);
    await page.context().close();
  },
};
