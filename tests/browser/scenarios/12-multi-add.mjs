// Quicker entry on a phone (issue 26): several medicines in one form, one row each, "+ another
// one" without a round trip; every row's problems at once with focus on the first; a blank extra
// row is skipped; the next form suggests the names this record already holds (a <datalist>).

import assert from "node:assert/strict";
import { control, fillForm, SIZES } from "../lib.mjs";

export const scenarios = {
  async "a resident adds three medicines in one form on a phone, with suggestions the next time"(h) {
    const s = h.server;
    // A person of her own: the same name and birth date as another scenario's resident would be
    // held as a possible duplicate (25-held-registration).
    const r = await s.resident("multi.add", { family_name: "鬼怒", given_name: "たか", date_of_birth: "1950-02-03" });
    const base = `/api/v1/residents/${r.residentId}`;
    await s.ok("POST", `${base}/dataset`, { category: "medications", body: { name: "アムロジピン錠5mg", dose: "1錠" } }, r.token);
    const page = await h.page({ name: "multi-add", viewport: SIZES[0] });
    await page.goto(`${s.url}/pages/resident`);
    await page.evaluate((t) => sessionStorage.setItem("kyukit.token", t), r.token);
    await page.goto(`${s.url}/pages/resident#dataset`);
    await h.ready(page, "dataset");

    const sec = page.locator("#cat-medications");
    await sec.locator("button.add").click();
    const f = sec.locator("form");
    // What the record already holds is offered as the medicine's name.
    assert.equal(await control(f, "name").getAttribute("list"), "suggest-medications-name");
    assert.deepEqual(await f.locator("datalist#suggest-medications-name option").evaluateAll((os) => os.map((o) => o.value)), ["アムロジピン錠5mg"]);
    await fillForm(f, { name: "ワーファリン錠1mg", dose: "1錠", anticoagulant: true });
    // Two more rows, in the page: no request is made for a row.
    let requests = 0;
    page.on("request", (q) => { if (q.url().includes("/dataset")) requests += 1; });
    await f.locator("button.more").click();
    await f.locator("button.more").click();
    assert.equal(requests, 0, "adding a row is not a round trip");
    assert.equal(await f.locator("fieldset.item-row").count(), 3);
    assert.equal(await page.evaluate(() => document.activeElement?.name), "name__3", "focus in the new row");
    // The second row has a dose but no name; the third has a wrong code: both said at once.
    await fillForm(f, { dose__2: "2錠", name__3: "メトホルミン", code__3: "x" });
    await f.locator("button[type=submit]").click();
    await f.locator(".form-error:not([hidden])").waitFor();
    const invalid = await f.locator('[aria-invalid="true"]').evaluateAll((els) => els.map((e) => e.name));
    assert.deepEqual(invalid, ["name__2"], "a missing name (the code is checked by the server)");
    assert.equal(await page.evaluate(() => document.activeElement?.name), "name__2");
    assert.match(await f.locator(".form-error").textContent(), /2件目の薬の名前/, "the summary names the row");
    await h.capture(page, "resident-multi-add-errors", { sizes: [SIZES[0], SIZES[2]] });

    // The server refuses the third row's code: the first two are saved and leave the form, the
    // third stays with its error.
    await fillForm(f, { name__2: "ランソプラゾール" });
    await f.locator("button[type=submit]").click();
    const codeError = f.locator('[data-field="code__3"] .field-error');
    await codeError.waitFor();
    assert.match(await codeError.textContent(), /YJコード/);
    assert.equal(await f.locator("fieldset.item-row").count(), 1, "only the row still to save");
    assert.equal(await control(f, "name__3").inputValue(), "メトホルミン", "nothing typed is lost");
    await fillForm(f, { code__3: "" });
    // A blank extra row is skipped.
    await f.locator("button.more").click();
    await f.locator("button[type=submit]").click();
    await page.locator("#status", { hasText: "追加しました" }).waitFor();
    const names = (await s.ok("GET", `${base}/dataset`, undefined, r.token)).items.filter((i) => i.category === "medications").map((i) => i.body.name).sort();
    assert.deepEqual(names, ["アムロジピン錠5mg", "メトホルミン", "ランソプラゾール", "ワーファリン錠1mg"].sort());
    assert.equal(await sec.locator("li.item").count(), 4);

    // The next form suggests every name entered so far.
    await page.locator("#cat-medications button.add").click();
    const next = page.locator("#cat-medications form");
    const offered = await next.locator("datalist#suggest-medications-name option").evaluateAll((os) => os.map((o) => o.value));
    assert.equal(offered.length, 4);
    await next.locator("button.more").click();
    await h.capture(page, "resident-multi-add", { sizes: [SIZES[0], SIZES[2]] });
    await page.context().close();
  },
};
