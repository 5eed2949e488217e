// Only issue 21's steps (auth.mjs), for working on them: node run-auth.mjs. run.mjs runs them too.
import { Checks } from "./lib.mjs";
import { fieldAuth } from "./auth.mjs";

const checks = new Checks();
const browsers = [];
const results = [];
async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push(true);
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    results.push(false);
    console.log(`FAIL ${name}: ${e.stack || e}`);
    for (const b of browsers) for (const c of b.contexts()) for (const p of c.pages()) {
      const msg = await p.textContent("#msg").catch(() => null);
      if (msg) console.log(`     ${p.url()} says: ${msg}`);
    }
    throw e;
  }
}
try {
  await fieldAuth({ step, checks, browsers });
} catch {
  /* recorded */
} finally {
  for (const b of browsers) await b.close().catch(() => {});
}
for (const p of checks.problems) console.log(`  - ${p}`);
results.push(checks.problems.length === 0);
const passed = results.filter(Boolean).length;
console.log(`${passed} passed, ${results.length - passed} failed`);
process.exit(results.every(Boolean) ? 0 : 1);
