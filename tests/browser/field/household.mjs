// The household sticker in the paramedic PWA (issue 27): 花子 makes a sticker, her daughter (her
// proxy, and her father's) lists her father; the fake camera plays the sticker's QR code; the app
// verifies it and lists both (花子's photo, consented); once the father's consent is withdrawn he
// is not listed; picking 花子 reads her card (the dataset shows); a bystander opening the sticker's
// URL sees only the 119 page. Called by run.mjs before the offline step (which stops the server).

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { launch, launchWithCamera, y4m } from "./lib.mjs";

export async function householdSteps({ server, w, step, checks, browsers, enrollAndLogin, tmp }) {
  let page;
  let hh;
  let father;
  let daughter;

  await step("household: 花子 makes a sticker, her daughter lists her father; the sticker's QR becomes a camera video", async () => {
    const reg = await server.ok("POST", "/api/v1/proxies", {
      login_id: "daughter",
      password: "another long secret",
      display_name: "山田 良子",
      relation: "family",
      accept_proxy_statement: true,
      resident: { family_name: "山田", given_name: "次郎", family_name_kana: "ヤマダ", given_name_kana: "ジロウ", date_of_birth: "1938-08-15", sex: "male", address: "茨城県常総市水海道諏訪町3222-3", district: "水海道", preferred_language: "ja" },
    });
    daughter = reg.token;
    father = reg.resident_id;
    await server.ok("POST", `/api/v1/residents/${father}/consents`, { categories: ["medications"], disaster_use: false, triage_on_card: false, name_on_print: false }, daughter);
    await server.ok("POST", `/api/v1/residents/${father}/cards`, {}, daughter);
    const inv = await server.ok("POST", `/api/v1/residents/${w.rid}/proxy-invites`, { relation: "family" }, w.rt);
    await server.ok("POST", "/api/v1/proxy-invites/accept", { code: inv.code, accept_proxy_statement: true }, daughter);
    hh = await server.ok("POST", "/api/v1/households", { resident_id: w.rid }, w.rt);
    const after = await server.ok("POST", `/api/v1/households/${hh.id}/members`, { resident_id: father }, daughter);
    assert.equal(after.members.length, 2);
    const png = path.join(tmp, "household.png");
    fs.writeFileSync(png, await server.ok("GET", `/api/v1/households/${hh.id}/qr.png`, undefined, w.rt));
    assert.equal(y4m({ png, out: path.join(tmp, "household.y4m") }), hh.url);
  });

  await step("household: the camera reads the sticker, it verifies, both members are listed (photo if consented)", async () => {
    const cam = await launchWithCamera(path.join(tmp, "household.y4m"));
    browsers.push(cam);
    ({ page } = await checks.page(cam, { name: "field-household", permissions: ["camera"] }));
    await enrollAndLogin(page, w);
    await page.fill("#incident-ref", "R8-0500");
    await page.click("#scan-camera");
    await page.waitForSelector("#household-list ul[data-members='2']", { timeout: 30_000 });
    assert.equal(await page.getAttribute("#household .verdict", "data-verdict"), "genuine");
    const text = await page.textContent("#household-list");
    assert.match(text, /山田 花子/);
    assert.match(text, /山田 次郎/);
    assert.doesNotMatch(text, /ワルファリン|ペニシリン/, "no medical data in the list");
    await page.waitForFunction(() => document.querySelector(".member-photo")?.naturalWidth > 0);
    assert.equal(await page.locator(".member-photo").count(), 1, "only 花子 consented to her photo");
    await checks.capture(page, "field-household");
  });

  await step("household: a withdrawn member is not listed; picking 花子 reads her card", async () => {
    await server.ok("POST", `/api/v1/residents/${father}/withdrawal`, {}, daughter);
    await page.click("#scan-camera");
    await page.waitForSelector("#household-list ul[data-members='1']", { timeout: 30_000 });
    assert.doesNotMatch(await page.textContent("#household-list"), /次郎/);
    await page.click("#household-list button[data-member='山田 花子']");
    await page.waitForSelector("#patient-head .patient");
    assert.equal(await page.getAttribute("#verdict", "data-verdict"), "genuine");
    assert.match(await page.textContent("#result"), /ワルファリン/);
    assert.equal(await page.isVisible("#household"), false);
    // The listing and the pick are in her access history.
    const hist = await server.ok("GET", `/api/v1/residents/${w.rid}/access-history`, undefined, w.rt);
    const actions = hist.entries.map((e) => e.action);
    assert.ok(actions.includes("record.household"), actions.join(" "));
    await page.context().close();
  });

  await step("household: a bystander opening the sticker's URL sees only the 119 page", async () => {
    const b = await launch();
    browsers.push(b);
    const ctx = await b.newContext();
    const p = await ctx.newPage();
    await p.goto(`${server.url}/H/${hh.url.split("/").pop()}`);
    const body = await p.textContent("body");
    assert.match(body, /119/);
    assert.doesNotMatch(body, /山田|花子|次郎|ワルファリン|水海道/);
    await ctx.close();
  });
}
