// Rebuilds server/assets/field/jsqr.js, the QR decoder the paramedic app falls back to where the
// browser has no BarcodeDetector (desktop Linux and Windows Chromium, Firefox): jsQR (Apache-2.0)
// from npm, pinned in package-lock.json, its UMD bundle wrapped as an ES module. Reproducible:
// the output depends only on the locked package's bytes; its SHA-256 is written in the header.
//   cd tests/browser/field && npm ci && node build-vendor.mjs
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const pkgDir = path.join(here, "node_modules", "jsqr");
const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8"));
const umd = fs.readFileSync(path.join(pkgDir, "dist", "jsQR.js"), "utf8");
const sha = crypto.createHash("sha256").update(umd).digest("hex");
const out = `// jsQR ${pkg.version} (${pkg.license}, https://github.com/cozmo/jsQR), dist/jsQR.js sha256 ${sha}
// wrapped as an ES module by tests/browser/field/build-vendor.mjs — do not edit by hand.
const module = { exports: {} };
const exports = module.exports;
${umd}
const jsQR = module.exports.default || module.exports;
export default jsQR;
`;
const target = path.resolve(here, "../../../server/assets/field/jsqr.js");
fs.writeFileSync(target, out);
console.log(`wrote ${path.relative(process.cwd(), target)} (${out.length} bytes) from jsqr ${pkg.version}`);
