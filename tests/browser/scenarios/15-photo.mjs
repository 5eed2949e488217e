// The photo for identity check (issue 19) in the resident portal: without `photo` consented the
// page says to consent first; with it, the resident chooses a photo (a JPEG with GPS in its EXIF,
// drawn by tests/browser/face.py), sees it, replaces it, and deletes it after a confirmation.
// What the server keeps has no EXIF (checked here by Pillow, the oracle's decoder).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fillForm, ORACLE_PYTHON, ROOT } from "../lib.mjs";

const face = (out, w, h) => execFileSync(ORACLE_PYTHON, [path.join(ROOT, "tests", "browser", "face.py"), out, String(w), String(h)]);

export const scenarios = {
  async "a resident adds, replaces and deletes the photo for identity check"(h) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "kyukit-photo-"));
    const first = path.join(tmp, "face.jpg");
    const second = path.join(tmp, "face-wide.jpg");
    face(first, 900, 1200);
    face(second, 1600, 1200);
    const reg = await h.server.ok("POST", "/api/v1/residents", {
      login_id: "photo.user",
      password: "correct horse battery",
      profile: { family_name: "鬼怒", given_name: "ふみ", date_of_birth: "1939-02-11", sex: "female", address: "茨城県常総市水海道諏訪町3222-3", preferred_language: "ja" },
    });
    const rid = reg.resident_id;
    const page = await h.page({ name: "photo" });
    await page.goto(`${h.server.url}/pages/resident`);
    await h.ready(page, "welcome");
    await fillForm(page.locator("#login-form form"), { login_id: "photo.user", password: "correct horse battery" });
    await page.locator("#login-form button[type=submit]").click();
    await h.ready(page, "home");

    // Not consented yet: the page sends the resident to the consent first.
    await page.click('a[href="#photo"]');
    await h.ready(page, "photo");
    await page.locator("#photo-needs-consent").waitFor();
    assert.equal(await page.locator("#photo-choose").count(), 0);
    await h.capture(page, "resident-photo-needs-consent");

    // Consent with the photo ticked (its own entry in the consent form).
    await page.click("#photo-to-consent");
    await h.ready(page, "consent");
    await fillForm(page.locator("#consent-form form"), { cat_medications: true, cat_photo: true });
    await page.locator("#consent-form form button[type=submit]").click();
    await page.locator("#status", { hasText: "同意を登録しました" }).waitFor();
    const consents = (await h.server.ok("GET", `/api/v1/residents/${rid}/consents`, undefined, reg.token)).consents;
    assert.deepEqual(consents.at(-1).categories, ["medications", "photo"]);

    // Choose a photo: uploaded, shown, re-encoded without its EXIF.
    await page.evaluate(() => {
      location.hash = "photo";
    });
    await h.ready(page, "photo");
    await page.locator("#photo-none").waitFor();
    await h.capture(page, "resident-photo-empty");
    await page.setInputFiles("#photo-file", first);
    await page.locator("#status", { hasText: "写真を登録しました" }).waitFor();
    await page.waitForFunction(() => document.querySelector("#photo-current")?.naturalWidth > 0);
    const size = await page.evaluate(() => [document.querySelector("#photo-current").naturalWidth, document.querySelector("#photo-current").naturalHeight]);
    assert.deepEqual(size, [600, 800]);
    const kept = path.join(tmp, "kept.jpg");
    const served = await fetch(`${h.server.url}/api/v1/residents/${rid}/photo`, { headers: { Authorization: `Bearer ${reg.token}` } });
    assert.equal(served.headers.get("content-type"), "image/jpeg");
    fs.writeFileSync(kept, Buffer.from(await served.arrayBuffer()));
    const exif = execFileSync(ORACLE_PYTHON, ["-c", "import sys\nfrom PIL import Image\nim = Image.open(sys.argv[1])\nprint(len(im.getexif()), 'exif' in im.info)", kept], { encoding: "utf8" }).trim();
    assert.equal(exif, "0 False", "no EXIF kept");
    await h.capture(page, "resident-photo-shown");

    // Replace it with a wide one.
    await page.setInputFiles("#photo-file", second);
    await page.waitForFunction(() => document.querySelector("#photo-current")?.naturalWidth === 800);

    // A file that is not a photo: a clear message, the photo unchanged.
    const bogus = path.join(tmp, "notes.png");
    fs.writeFileSync(bogus, "this is not a picture");
    await page.setInputFiles("#photo-file", bogus);
    const err = page.locator("#photo-body .form-error");
    await err.waitFor();
    assert.match(await err.textContent(), /写真として読み取れませんでした/);
    await h.capture(page, "resident-photo-error");

    // Delete it, after a confirmation.
    await page.click("#photo-delete");
    await page.locator("dialog.ask").waitFor();
    await page.locator("dialog.ask button.danger").click();
    await page.locator("#status", { hasText: "写真を削除しました" }).waitFor();
    await page.locator("#photo-none").waitFor();
    const gone = await h.server.call("GET", `/api/v1/residents/${rid}/photo`, undefined, reg.token);
    assert.equal(gone.status, 404);
  },
};
