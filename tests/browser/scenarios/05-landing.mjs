// The landing page a person reaches by typing the server's address: `/` redirects to `/pages/`,
// which links every page (each link answers) in Japanese and English at once.

import assert from "node:assert/strict";
import path from "node:path";
import { SCREENSHOTS, SIZES } from "../lib.mjs";

export const scenarios = {
  async "the server's address leads to a landing page whose links all work"(h) {
    const page = await h.page({ name: "landing" });
    const response = await page.goto(`${h.server.url}/`);
    assert.equal(new URL(page.url()).pathname, "/pages/", "/ redirects to the landing page");
    assert.equal(response.status(), 200);
    const links = await page.$$eval("main a[href]", (as) => as.map((a) => a.getAttribute("href")));
    for (const want of ["/pages/resident", "/pages/field", "/pages/ed", "/pages/admin", "/pages/directory", "/pages/access-history", "/api/v1/openapi.json"]) {
      assert.ok(links.includes(want), `links ${want}`);
    }
    for (const href of links) {
      const r = await fetch(h.server.url + href);
      assert.equal(r.status, 200, href);
    }
    // Both languages are on the page; English is marked lang="en" so a screen reader switches.
    assert.match(await page.textContent("main"), /住民・ご家族の方[\s\S]*Residents and family/);
    await h.checkText(page, "landing", "ja");
    await h.axe(page, "landing");
    for (const size of SIZES) {
      await page.setViewportSize(size);
      await page.evaluate(() => document.fonts.ready);
      const file = path.join(SCREENSHOTS, `landing-${size.width}x${size.height}.png`);
      await page.screenshot({ path: file, fullPage: true, animations: "disabled", caret: "hide" });
      h.shots.push(file);
    }
    await page.context().close();
  },
};
