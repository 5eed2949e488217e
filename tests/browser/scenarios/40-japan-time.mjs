// Issue 19: dates and times shown to people are Japan time; the API keeps UTC. A server whose
// clock starts at 07:50 JST on 7 December 2026 (22:50 UTC on the 6th: `kyukit serve
// --test-clock-start`), a browser whose own time zone is UTC: the dataset item's date, the card
// page, the printables (PDF text by pdftotext), the disclosure export and the access history all
// say 7 December; the API's times are the UTC instants.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Server, SIZES } from "../lib.mjs";

const START = "2026-12-06T22:50:00Z"; // 07:50 on 7 December in Japan
const START_UNIX = Date.parse(START) / 1000;

/** A calendar day YYYY-MM-DD of a Unix time in a time zone (the test's own reckoning). */
const ymd = (unix, timeZone) => new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(unix * 1000));

function pdfText(bytes) {
  const file = path.join(os.tmpdir(), `kyukit-jst-${process.pid}-${Math.random().toString(36).slice(2)}.pdf`);
  fs.writeFileSync(file, bytes);
  try {
    return execFileSync("pdftotext", ["-layout", file, "-"], { encoding: "utf8" });
  } finally {
    fs.rmSync(file);
  }
}

async function getPdf(s, p, token) {
  const r = await fetch(s.url + p, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200, `${p} → ${r.status}`);
  return Buffer.from(await r.arrayBuffer());
}

export const scenarios = {
  async "at 07:50 in Japan (22:50 UTC the day before) every date a person reads is the Japanese date"(h) {
    const s = await Server.start({ args: ["--test-clock-start", START] });
    try {
      const r = await s.resident("asa.hayai", { family_name: "早起", given_name: "朝子" });
      const base = `/api/v1/residents/${r.residentId}`;
      // The item's "checked" date defaults to today: today in Japan.
      const item = await s.ok("POST", `${base}/dataset`, { category: "allergies", body: { substance: "ペニシリン", severity: "anaphylaxis" } }, r.token);
      assert.equal(item.last_verified, "2026-12-07", "today in Japan, not the UTC date");
      // A resident may enter today's Japanese date, though it is still the 6th in UTC.
      const med = await s.ok("POST", `${base}/dataset`, { category: "medications", body: { name: "ワルファリン", anticoagulant: true }, last_verified: "2026-12-07" }, r.token);
      assert.equal(med.last_verified, "2026-12-07");
      await s.ok("POST", `${base}/consents`, { categories: ["medications", "allergies"], disaster_use: false, triage_on_card: true, name_on_print: true }, r.token);
      const card = await s.ok("POST", `${base}/cards`, {}, r.token);
      // The API keeps UTC instants: the server's clock is where the test put it.
      assert.ok(card.issued_at >= START_UNIX && card.issued_at < START_UNIX + 600, `issued_at ${card.issued_at}`);
      assert.equal(ymd(card.issued_at, "UTC"), "2026-12-06", "the test is at a time when the UTC date is the day before");
      const issued = ymd(card.issued_at, "Asia/Tokyo");
      const expires = ymd(card.expires_at, "Asia/Tokyo");
      assert.equal(issued, "2026-12-07");
      const [ey, em, ed] = expires.split("-").map(Number);

      // The browser's own zone is UTC: the pages must not lean on it.
      const page = await h.page({ name: "japan-time", viewport: SIZES[0], contextOptions: { timezoneId: "UTC" } });
      await page.clock.install({ time: new Date(START) });
      await page.goto(`${s.url}/pages/resident`);
      await h.ready(page, "welcome");
      await page.evaluate((t) => sessionStorage.setItem("kyukit.token", t), r.token);
      await page.goto(`${s.url}/pages/resident#dataset`);
      await h.ready(page, "dataset");
      const dataset = await page.locator("#cat-allergies").textContent();
      assert.match(dataset, /確認日: 2026年12月7日/, dataset);
      await h.capture(page, "japan-time-dataset", { sizes: [SIZES[0]] });

      await page.evaluate(() => {
        location.hash = "card";
      });
      await h.ready(page, "card");
      const cardText = await page.locator("#cards").textContent();
      assert.match(cardText, /作った日\s*2026年12月7日/, cardText);
      assert.match(cardText, new RegExp(`有効期限\\s*${ey}年${em}月${ed}日`), cardText);
      await h.capture(page, "japan-time-card", { sizes: [SIZES[0]] });

      // The printables say the same days as the page.
      for (const doc of ["fridge-sheet", "wallet-card"]) {
        const text = pdfText(await getPdf(s, `${base}/cards/${card.id}/print/${doc}.pdf`, r.token));
        assert.match(text, new RegExp(`交付日 Issued\\s+${issued}`), `${doc}: ${text}`);
        assert.match(text, new RegExp(`有効期限 Expires\\s+${expires}`), `${doc}: ${text}`);
      }
      // The disclosure export: times in Japan time, labelled.
      const disclosure = pdfText(await getPdf(s, `${base}/disclosure.pdf`, r.token));
      assert.match(disclosure, /2026-12-07 07:5\d JST/, disclosure);
      assert.doesNotMatch(disclosure, /2026-12-06/, "nothing on the export is the UTC date");

      // The access history: the Japanese date and time.
      await page.goto(`${s.url}/pages/access-history`);
      await page.locator("#history table").first().waitFor();
      const history = await page.locator("#history").textContent();
      // Grouped by Japan day: the day's heading, then the times.
      assert.match(await page.locator("#history .history-day h3").first().textContent(), /2026年12月7日/, history);
      assert.match(history, /7:5\d/, history);
      assert.doesNotMatch(history, /2026年12月6日/);
      assert.match(history, /時刻（日本時間）/);
      await h.capture(page, "japan-time-access-history", { sizes: [SIZES[0]] });
      await page.context().close();
    } finally {
      await s.stop();
    }
  },
};
