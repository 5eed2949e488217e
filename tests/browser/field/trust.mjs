// The signed trust list in the paramedic PWA (issue 22, docs/card-format.md §10): enrollment pins
// the trust-list key and the app keeps the list it fetched; then the test serves, in place of
// /api/v1/trust-list (Playwright route interception: a test of the client), a list with one byte
// flipped, a list that has expired, and a newer list — signed with the deployment's real
// trust-list key (read from the server's data directory, signed here with Node's crypto) — that
// marks the card's key compromised. The first two are refused with a warning in plain words and
// the last good list kept (the card still verifies); the third is taken, and the card is refused
// with the red verdict. Called by run.mjs before the offline step.

import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { launch } from "./lib.mjs";
import { decodeCbor, sigStructure } from "../../../server/assets/field/card.js";

// A CBOR encoder for card.js's decoded tree (ints, bytes, text, arrays, maps, tags), shortest forms.
function head(major, n) {
  n = BigInt(n);
  const m = major << 5;
  if (n < 24n) return [m | Number(n)];
  const [ai, len] = n < 0x100n ? [24, 1] : n < 0x10000n ? [25, 2] : n < 0x100000000n ? [26, 4] : [27, 8];
  const out = [m | ai];
  for (let i = len - 1; i >= 0; i--) out.push(Number((n >> BigInt(8 * i)) & 0xffn));
  return out;
}
function encode(item) {
  switch (item.t) {
    case "int":
      return item.v >= 0n ? head(0, item.v) : head(1, -1n - item.v);
    case "bytes":
      return [...head(2, item.v.length), ...item.v];
    case "text": {
      const b = new TextEncoder().encode(item.v);
      return [...head(3, b.length), ...b];
    }
    case "array":
      return [...head(4, item.v.length), ...item.v.flatMap(encode)];
    case "map":
      return [...head(5, item.v.length), ...item.v.flatMap(([k, v]) => [...encode(k), ...encode(v)])];
    case "tag":
      return [...head(6, item.tag), ...encode(item.v)];
    default:
      throw new Error(`cannot encode ${item.t}`);
  }
}

/** The served list re-signed with the trust-list key after `change(claims)` edits its claims map. */
function resign(bytes, pem, change) {
  const msg = decodeCbor(bytes);
  const [prot, unprot, payload] = msg.v.v;
  const claims = decodeCbor(payload.v);
  change(claims);
  const newPayload = Uint8Array.from(encode(claims));
  const sig = crypto.sign("sha256", sigStructure(prot.v, newPayload), { key: crypto.createPrivateKey(pem), dsaEncoding: "ieee-p1363" });
  const out = { t: "tag", tag: msg.tag, v: { t: "array", v: [prot, unprot, { t: "bytes", v: newPayload }, { t: "bytes", v: new Uint8Array(sig) }] } };
  return Buffer.from(encode(out));
}

const claim = (claims, label) => claims.v.find(([k]) => k.v === label)[1];

export async function trustSteps({ server, w, step, checks, browsers, enrollAndLogin }) {
  let page;
  let ctx;
  let good;
  let reads = 0;
  const pem = fs.readFileSync(path.join(server.dataDir, "trust-list.pem"), "utf8");
  const digits = w.card.url.replace(/^.*\//, "");
  const kept = () => page.evaluate(async () => {
    const store = await import("/pages/field/store.js");
    const held = await store.get("trust_list");
    return held ? { version: held.version, bytes: Array.from(held.bytes) } : null;
  });
  const serve = async (body) => {
    await ctx.unroute("**/api/v1/trust-list");
    await ctx.route("**/api/v1/trust-list", (r) => r.fulfill({ status: 200, contentType: "application/cose", body }));
  };
  const readCard = async () => {
    // A new load each time (a change of the fragment alone is not one).
    await page.goto(`${server.url}/pages/field?read=${++reads}#card=${digits}`);
    await page.waitForSelector("body[data-ready='1']");
    await page.waitForSelector("#verdict[data-verdict]");
    return page.getAttribute("#verdict", "data-verdict");
  };

  await step("trust list: enrollment pins the key; the list is fetched, verified and kept; no warning", async () => {
    const b = await launch();
    browsers.push(b);
    ({ page } = await checks.page(b, { name: "field-trust" }));
    ctx = page.context();
    await enrollAndLogin(page, w);
    const device = await page.evaluate(async () => (await import("/pages/field/store.js")).get("device"));
    const key = await (await fetch(`${server.url}/api/v1/trust-list/key`)).json();
    assert.equal(device.trustKey.x, key.x, "the trust-list key is pinned at enrollment");
    await page.waitForFunction(async () => Boolean(await (await import("/pages/field/store.js")).get("trust_list")));
    good = await kept();
    const served = new Uint8Array(await (await fetch(`${server.url}/api/v1/trust-list`)).arrayBuffer());
    assert.equal(BigInt(good.version), claim(decodeCbor(decodeCbor(served).v.v[2].v), -65540n).v);
    assert.equal(await page.isVisible("#trust-warning"), false);
    assert.equal(await readCard(), "genuine");
  });

  await step("trust list: a tampered list is refused — a warning in plain words, the last good list kept, the card still verifies", async () => {
    const real = Buffer.from(await (await fetch(`${server.url}/api/v1/trust-list`)).arrayBuffer());
    const bad = Buffer.from(real);
    bad[Math.floor(bad.length / 2)] ^= 0x01;
    await serve(bad);
    await page.reload();
    await page.waitForSelector("body[data-ready='1']");
    await page.waitForSelector("#trust-warning:not([hidden])");
    assert.equal(await page.getAttribute("#trust-warning", "data-code"), "trust_list_bad_signature");
    assert.match(await page.textContent("#trust-warning"), /信頼リスト.*署名が一致しません/);
    assert.deepEqual(await kept(), good, "the last good list is kept");
    assert.equal(await readCard(), "genuine");
    await page.waitForSelector("#trust-warning:not([hidden])");
    await checks.capture(page, "field-trust-tampered");
  });

  await step("trust list: an expired list (signed by the deployment, exp in the past) is refused", async () => {
    const real = new Uint8Array(await (await fetch(`${server.url}/api/v1/trust-list`)).arrayBuffer());
    await serve(resign(real, pem, (c) => {
      const iat = claim(c, 6n).v;
      c.v.find(([k]) => k.v === 4n)[1] = { t: "int", v: iat + 1n };
      c.v.find(([k]) => k.v === 6n)[1] = { t: "int", v: iat - 86400n };
    }));
    await page.reload();
    await page.waitForSelector("body[data-ready='1']");
    await page.waitForSelector("#trust-warning[data-code='trust_list_expired']");
    await checks.setLang(page, "en");
    assert.match(await page.textContent("#trust-warning"), /trust list .* could not be updated: it has expired/);
    await checks.setLang(page, "ja");
    assert.deepEqual(await kept(), good);
  });

  await step("trust list: a newer list marking the card's key compromised is taken; the card is refused (red verdict, plain words)", async () => {
    const real = new Uint8Array(await (await fetch(`${server.url}/api/v1/trust-list`)).arrayBuffer());
    await serve(resign(real, pem, (c) => {
      const version = c.v.find(([k]) => k.v === -65540n);
      version[1] = { t: "int", v: version[1].v + 1n };
      const [issuer] = claim(c, -65542n).v;
      const keys = issuer.v.find(([k]) => k.v === 5n)[1];
      for (const pair of keys.v) pair.v[1] = { t: "text", v: "compromised" };
    }));
    await page.reload();
    await page.waitForSelector("body[data-ready='1']");
    await page.waitForFunction((v) => import("/pages/field/store.js").then(async (s) => (await s.get("trust_list"))?.version === v), good.version + 1);
    assert.equal(await page.isVisible("#trust-warning"), false, "the newer list was taken: no warning");
    assert.equal(await readCard(), "not_genuine");
    assert.match(await page.getAttribute("#verdict", "class"), /\bbad\b/);
    assert.match(await page.textContent("#verdict"), /漏えいのため無効/);
    await checks.capture(page, "field-trust-compromised");
    // An older list (the server's own, now a rollback) is refused and the newer one kept.
    await ctx.unroute("**/api/v1/trust-list");
    await page.goto(`${server.url}/pages/field`);
    await page.waitForSelector("body[data-ready='1']");
    await page.waitForSelector("#trust-warning[data-code='trust_list_rollback']");
    assert.equal((await kept()).version, good.version + 1);
    await ctx.close();
  });
}
