// The harness itself: TOTP against RFC 6238's test vectors, and the pages' security headers.

import assert from "node:assert/strict";
import { Authenticator, hotp } from "../lib.mjs";
import { nextStep } from "../totp.mjs";

export const scenarios = {
  async "TOTP codes match RFC 6238 Appendix B (SHA-1)"() {
    const key = Buffer.from("12345678901234567890");
    for (const [t, code] of [
      [59, "94287082"], [1111111109, "07081804"], [1111111111, "14050471"],
      [1234567890, "89005924"], [2000000000, "69279037"], [20000000000, "65353130"],
    ]) {
      assert.equal(hotp(key, Math.floor(t / 30), 8), code, `t=${t}`);
    }
  },

  async "TOTP codes are never reused for an account, nor taken from the step about to expire"() {
    const at = 1_800_000_000_000 + 29_900; // 0.1 s before a boundary
    const now = Math.floor(at / 30_000);
    assert.equal(nextStep(-Infinity, at), now, "the current step, not the previous one");
    assert.equal(nextStep(now, at), now + 1);
    assert.equal(nextStep(now + 1, at), null, "both usable steps taken: wait for the boundary");
    assert.equal(nextStep(now + 1, at + 100), now + 2);
    // Two Authenticators for the same secret share what they handed out.
    const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    const a = new Authenticator(secret);
    const b = new Authenticator(secret.toLowerCase());
    const codes = [await a.code(), await b.code()];
    assert.notEqual(codes[0], codes[1]);
  },

  async "pages are served with a strict CSP that lets the card image load from a blob"(h) {
    for (const page of ["/pages/resident", "/pages/admin", "/pages/access-history"]) {
      const r = await fetch(h.server.url + page);
      assert.equal(r.status, 200, page);
      const csp = r.headers.get("content-security-policy");
      assert.match(csp, /script-src 'self'/, page);
      assert.match(csp, /img-src 'self' data: blob:/, page);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, page);
      assert.equal(r.headers.get("cache-control"), "no-store", page);
    }
    for (const asset of ["common.js", "resident.js", "admin.js", "access-history.js"]) {
      const r = await fetch(`${h.server.url}/pages/assets/${asset}`);
      assert.equal(r.status, 200, asset);
      assert.match(r.headers.get("content-type"), /^text\/javascript/, asset);
    }
  },

  async "the page checks catch what they are meant to catch"(h) {
    const page = await h.page({ name: "self-test" });
    await page.goto(`${h.server.url}/pages/resident`);
    await h.ready(page, "welcome");
    let before = h.problems.length;
    // The page's CSP refuses a foreign image and an inline script; the harness records both.
    await page.evaluate(() => {
      document.body.insertAdjacentHTML("beforeend", '<img alt="x" src="https://example.com/x.png">');
      const s = document.createElement("script");
      s.textContent = "window.__inline = 1";
      document.body.appendChild(s);
    });
    await page.waitForTimeout(300);
    let found = h.problems.splice(before);
    assert.ok(found.some((f) => /CSP/.test(f) && /img-src/.test(f)), found.join("\n"));
    assert.ok(found.some((f) => /CSP/.test(f) && /script-src/.test(f)), found.join("\n"));
    assert.equal(await page.evaluate(() => window.__inline), undefined, "inline script did not run");

    await page.setContent(`<html lang="en"><head><title>t</title></head><body><main>
      <img src="data:,"><button></button><p>⟦missing.key⟧</p>
      <p data-ja="日本語" data-en="">日本語</p><p>日本語のまま</p><p translate="no">山田 花子</p></main></body></html>`);
    before = h.problems.length;
    const violations = await h.axe(page, "self-test");
    await h.checkText(page, "self-test", "en");
    found = h.problems.splice(before);
    assert.ok(violations.some((v) => v.id === "image-alt"));
    for (const re of [/axe critical image-alt/, /axe critical button-name/, /empty <button>/, /unresolved text/, /no en text/, /Japanese text in English page: <p> "日本語のまま"/]) {
      assert.ok(found.some((f) => re.test(f)), `${re} in:\n${found.join("\n")}`);
    }
    assert.ok(!found.some((f) => /山田/.test(f)), "people's own data is left alone");
    await page.context().close();
  },
};
