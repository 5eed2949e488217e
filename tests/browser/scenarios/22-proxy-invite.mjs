// Issue 27, proxies added later, in the portal: the resident makes an invite code (shown once,
// with its link), her daughter opens the link, reads the proxy statement and registers with the
// code; she acts for her mother (her home shows her); the mother removes her after a
// confirmation, and from then on the daughter gets 404 for her mother's record.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fillForm } from "../lib.mjs";

export const scenarios = {
  async "a resident invites her daughter as proxy, who accepts, acts, and is removed"(h) {
    const reg = await h.server.ok("POST", "/api/v1/residents", {
      login_id: "invite.mother",
      password: "correct horse battery",
      profile: { family_name: "鬼怒", given_name: "はる", date_of_birth: "1940-05-05", sex: "female", address: "茨城県常総市水海道諏訪町3222-3", preferred_language: "ja" },
    });
    const rid = reg.resident_id;
    const mother = await h.page({ name: "invite-mother" });
    await mother.goto(`${h.server.url}/pages/resident`);
    await h.ready(mother, "welcome");
    await fillForm(mother.locator("#login-form form"), { login_id: "invite.mother", password: "correct horse battery" });
    await mother.locator("#login-form button[type=submit]").click();
    await h.ready(mother, "home");
    await mother.click('a[href="#family"]');
    await h.ready(mother, "family");
    assert.match(await mother.textContent("#proxy-list"), /代理人はいません/);
    await h.capture(mother, "resident-family-empty");

    const f = mother.locator("#family-body form");
    await fillForm(f, { relation: "family", relation_detail: "長女" });
    await f.locator("button[type=submit]").click();
    await mother.locator("#invite-code").waitFor();
    const code = (await mother.textContent("#invite-code")).trim();
    const link = await mother.getAttribute("#invite-link", "href");
    assert.match(code, /^[A-Z2-7]{4}(-[A-Z2-7]{1,4})+$/);
    assert.ok(link.endsWith(`#accept=${code}`), link);
    // The same link as a QR code, for the daughter's phone camera (drawn by the server).
    const qrShot = path.join(os.tmpdir(), `kyukit-invite-qr-${process.pid}.png`);
    await mother.locator("#invite-qr").screenshot({ path: qrShot });
    // It holds the server's public address (what phones reach), as card URLs do.
    assert.equal(h.decodeQr(qrShot), `https://qq.city.joso.lg.jp/pages/resident#accept=${code}`, "the QR code is the invite link");
    fs.rmSync(qrShot, { force: true });
    await h.capture(mother, "resident-family-invite");

    // The daughter opens the link in her own browser and registers with the code.
    const daughter = await h.page({ name: "invite-daughter" });
    await daughter.goto(link);
    await h.ready(daughter, "accept");
    const shown = await daughter.textContent('#proxy-statement p[lang="ja"]');
    await h.capture(daughter, "resident-accept-invite");
    const af = daughter.locator("#accept-body form");
    await fillForm(af, { display_name: "鬼怒 なつ", login_id: "invite.daughter", password: "daughter password 1", accept_proxy_statement: true });
    await af.locator("button[type=submit]").click();
    await h.ready(daughter, "home");
    assert.match(await daughter.textContent("#home-title"), /鬼怒 はる/);
    const dtoken = await daughter.evaluate(() => sessionStorage.getItem("kyukit.token"));
    const proxies = await h.server.ok("GET", `/api/v1/residents/${rid}/proxies`, undefined, dtoken);
    assert.equal(proxies.proxies.length, 1);
    assert.equal(proxies.proxies[0].consent_statement, shown, "the statement recorded is the one shown");

    // The mother sees her and removes her, after a confirmation.
    await mother.click('#view-family a.back');
    await h.ready(mother, "home");
    await mother.click('a[href="#family"]');
    await h.ready(mother, "family");
    const item = mother.locator("#proxy-list li.proxy", { hasText: "鬼怒 なつ" });
    await item.waitFor();
    assert.match(await item.textContent(), /家族・長女/);
    await h.capture(mother, "resident-family-list");
    await item.locator("button.danger").click();
    const dialog = mother.locator("dialog.ask");
    await dialog.waitFor();
    await dialog.locator("button.danger").click();
    await mother.locator("#proxy-list", { hasText: "代理人はいません" }).waitFor();

    // From now on the daughter acts for nobody: 404.
    const r = await h.server.call("GET", `/api/v1/residents/${rid}`, undefined, dtoken);
    assert.equal(r.status, 404);
    await mother.context().close();
    await daughter.context().close();
  },
};
