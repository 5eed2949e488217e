// The browser suite: `node tests/browser/run.mjs` (after `npm ci` here and `cargo build -p
// kyukit-server --bin kyukit`; tests/run.sh does all of it). One server and one Chromium for the
// whole run; every file in scenarios/ exports `scenarios`, an object of name → async (h) => {},
// run in file order, one at a time. A scenario fails on its own assertions and on any problem the
// harness found while it ran (axe serious/critical, untranslated or empty text, CSP violations,
// script errors). KYUKIT_BROWSER_ONLY=<substring> runs only the matching scenario files.

import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Harness, HERE, ROOT, SCREENSHOTS } from "./lib.mjs";

const only = process.env.KYUKIT_BROWSER_ONLY || "";
const dir = path.join(HERE, "scenarios");
const files = fs.readdirSync(dir).filter((f) => f.endsWith(".mjs") && f.includes(only)).sort();

if (!only) {
  // A full run writes every screenshot afresh: none left over from pages that no longer exist.
  for (const f of fs.existsSync(SCREENSHOTS) ? fs.readdirSync(SCREENSHOTS) : []) {
    if (f.endsWith(".png")) fs.rmSync(path.join(SCREENSHOTS, f));
  }
}

const started = Date.now();
await test("Kyukit pages in Chromium", async (t) => {
  const h = await Harness.start();
  try {
    for (const file of files) {
      const mod = await import(pathToFileURL(path.join(dir, file)).href);
      for (const [name, fn] of Object.entries(mod.scenarios)) {
        await t.test(`${file.replace(/\.mjs$/, "")}: ${name}`, async () => {
          const before = h.problems.length;
          try {
            await fn(h);
          } catch (e) {
            if (process.env.KYUKIT_BROWSER_DEBUG) console.error(h.server.log.slice(-4000));
            throw e;
          }
          assert.deepEqual(h.problems.slice(before), [], "problems found on the pages");
        });
      }
    }
  } finally {
    await h.stop();
    console.log(`# browser suite: ${h.shots.length} screenshots in ${path.relative(ROOT, SCREENSHOTS)}/, ${h.axeRuns} axe-core runs, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
});
